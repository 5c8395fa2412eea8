//! Reading redis.conf files and the `redis-server` command line the way
//! Redis 7.0 does (`loadServerConfig`, `loadServerConfigFromString` in
//! config.c and the argument loop of `main` in server.c).
//!
//! What this module does, and what it leaves to the caller:
//!
//! * The text is split on `\n` only; each line is trimmed of ` \t\r\n` at
//!   both ends (this trimmed text is what Redis echoes in its fatal error, and
//!   what [`ConfigLine::raw`] holds). Lines that are then empty or start with
//!   `#` are skipped. The rest is split with [`split_args`]; a split error is
//!   fatal ("Unbalanced quotes in configuration line"). A line that splits
//!   into nothing (only `\v`/`\f`) is skipped. `args[0]` is lower-cased
//!   (ASCII), as Redis's `sdstolower` does in the C locale.
//! * `include <path>` is handled here and does not appear in the result: the
//!   file's lines take the place of the include line. As in Redis, an included
//!   file is parsed on its own, so line numbers in errors count from its own
//!   first line. `include` with other than one argument is the fatal "Bad
//!   directive or wrong number of arguments".
//! * A path with `*`, `?` or `[` in it is a glob (any path component may hold
//!   wildcards; `\` escapes, and a leading `.` must be matched explicitly, as
//!   with glob(3)). Matches are read in sorted order (bytewise; Redis's glob
//!   sorts with the locale's collation, which is the same under the C
//!   locale). A glob that matches nothing is silently ignored; a file it
//!   matched that then cannot be opened is fatal. Like Redis, the contents of
//!   all matched files are concatenated *before* being parsed: a file that
//!   lacks a final newline runs its last line into the next file's first
//!   line, and line numbers continue across the files. [`ConfigLine::line_no`]
//!   is that Redis number; [`ConfigLine::file`] / [`ConfigLine::file_line_no`]
//!   say where the line really is.
//! * A path without wildcards that cannot be opened is fatal (Redis logs
//!   "Fatal error, can't open config file '<path>': <reason>"). A directory
//!   reads as empty, as `fopen`+`fgets` on Linux do.
//! * Relative include paths are relative to the process's working directory,
//!   as in Redis. Redis's `dir` directive `chdir`s the moment it is read, so a
//!   relative include after `dir X` is looked up in X: this module mirrors
//!   that by tracking `dir` lines (relative `dir`s are joined onto the previous
//!   one) without changing the process's directory.
//! * Redis has no limit on include nesting (a cycle crashes it). Here nesting
//!   deeper than [`MAX_INCLUDE_DEPTH`] is a fatal error at the include line.
//! * Nothing else is validated: unknown directives and wrong argument counts
//!   are the caller's to report, with [`format_fatal`].
//!
//! The command line: `redis-server [configfile] [--name value ...] [-]`.
//! [`parse_command_line`] builds the same "options" text as Redis: each
//! `--name` starts a new line holding `name` (raw, without the dashes),
//! followed by every following argument written with `sdscatrepr` (always
//! double-quoted), each followed by a space. A `--x` argument right after a
//! `--name` that has no value yet is taken as that option's *value*, not as a
//! new option (`--port --x` gives `port "--x" `) — except after `--save` (an
//! empty `""` value is supplied) and `--sentinel` (no value needed). A bare `-`
//! as the first or last argument means "also read config from stdin"; this
//! module does not read stdin: the caller passes what it read to
//! [`load_server_config`]. Redis then parses, as one text: the config file's
//! contents, then stdin's, then `"\n"` and the options text (only when there
//! was at least one command-line argument), which is what
//! [`load_server_config`] does. `-v`/`--version`, `-h`/`--help`,
//! `--test-memory` and `--check-system` as the first argument are reported as
//! [`CommandLineError`]s for the caller to act on.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tine_core::base::quote::{repr_arg, split_args};

/// Deepest allowed include nesting (the top file is depth 0).
pub(crate) const MAX_INCLUDE_DEPTH: usize = 16;

/// The message Redis gives for an unknown directive or a wrong argument count.
pub(crate) const BAD_DIRECTIVE: &str = "Bad directive or wrong number of arguments";
/// The message Redis gives for a line [`split_args`] rejects.
pub(crate) const UNBALANCED_QUOTES: &str = "Unbalanced quotes in configuration line";

/// One directive line of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigLine {
    /// The file the line is in (`<command line>`, `<stdin>` or the origin
    /// given to [`parse_config_str`] for text that is not from a file).
    pub(crate) file: PathBuf,
    /// The line number Redis reports: 1-based within the text that was
    /// parsed in one go (a file, or the concatenation of a glob's files, or
    /// file + stdin + command-line options).
    pub(crate) line_no: usize,
    /// 1-based line number inside `file`.
    pub(crate) file_line_no: usize,
    /// The line, trimmed of ` \t\r\n`, as Redis prints it (invalid UTF-8 is
    /// replaced).
    pub(crate) raw: String,
    /// The arguments; `args[0]` is the directive name, lower-cased.
    pub(crate) args: Vec<Vec<u8>>,
}

impl ConfigLine {
    /// The directive name (`args[0]`) as text.
    pub(crate) fn name(&self) -> String {
        self.args.first().map(|a| String::from_utf8_lossy(a).into_owned()).unwrap_or_default()
    }

    /// The arguments after the name, as text (invalid UTF-8 replaced).
    pub(crate) fn values_lossy(&self) -> Vec<String> {
        self.args.iter().skip(1).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }
}

/// Formats Redis's fatal configuration error for `line`. `product` replaces
/// "Redis 7.0.15" in the banner (e.g. "tine"). The text starts with a newline
/// and ends with one, exactly as Redis writes it to stderr.
pub(crate) fn format_fatal(product: &str, line: &ConfigLine, msg: &str) -> String {
    fatal_text(product, Some((line.line_no, &line.raw)), msg)
}

fn fatal_text(product: &str, at: Option<(usize, &str)>, msg: &str) -> String {
    let mut s = format!("\n*** FATAL CONFIG FILE ERROR ({product}) ***\n");
    if let Some((n, raw)) = at {
        s.push_str(&format!("Reading the configuration file, at line {n}\n"));
        s.push_str(&format!(">>> '{raw}'\n"));
    }
    s.push_str(msg);
    s.push('\n');
    s
}

/// Why a configuration could not be read.
#[derive(Debug)]
pub(crate) enum ConfigFileError {
    /// A fatal error at a line (bad quoting, bad `include`, nesting too deep).
    /// `line.args` is empty when the line could not be split.
    Line { line: ConfigLine, message: String },
    /// A file that had to be read could not be opened or read.
    Open { path: PathBuf, error: io::Error },
}

impl ConfigFileError {
    /// The text Redis would print for this error, with `product` in place of
    /// "Redis <version>". For [`ConfigFileError::Open`] that is the message
    /// part of Redis's log line (the caller adds its log prefix).
    pub(crate) fn fatal_message(&self, product: &str) -> String {
        match self {
            ConfigFileError::Line { line, message } => format_fatal(product, line, message),
            ConfigFileError::Open { path, error } => format!(
                "Fatal error, can't open config file '{}': {}",
                path.display(),
                strerror_like(error)
            ),
        }
    }
}

/// `io::Error`'s text without Rust's " (os error N)" suffix, which is what
/// C's `strerror` gives for OS errors.
fn strerror_like(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigFileError::Line { line, message } => write!(
                f,
                "{}:{}: {} (>>> '{}')",
                line.file.display(),
                line.file_line_no,
                message,
                line.raw
            ),
            ConfigFileError::Open { .. } => f.write_str(&self.fatal_message("")),
        }
    }
}

impl std::error::Error for ConfigFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigFileError::Open { error, .. } => Some(error),
            ConfigFileError::Line { .. } => None,
        }
    }
}

/// A piece of text and where it came from.
struct Segment {
    file: PathBuf,
    bytes: Vec<u8>,
}

struct Loader {
    /// Where relative paths are looked up (tracks `dir` lines).
    cwd: PathBuf,
}

fn has_wildcard(p: &[u8]) -> bool {
    p.iter().any(|&b| b == b'*' || b == b'?' || b == b'[')
}

#[cfg(unix)]
fn bytes_to_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
fn bytes_to_path(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

#[cfg(unix)]
fn path_to_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_to_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

fn read_file_bytes(path: &Path) -> Result<Vec<u8>, ConfigFileError> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => return Ok(Vec::new()),
        _ => {}
    }
    fs::read(path).map_err(|error| ConfigFileError::Open { path: path.to_path_buf(), error })
}

impl Loader {
    fn new() -> Self {
        Loader { cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")) }
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.cwd.join(p) }
    }

    /// `loadServerConfig`'s file part: the segments for a path or pattern.
    fn read_path(&self, spec: &[u8]) -> Result<Vec<Segment>, ConfigFileError> {
        if has_wildcard(spec) {
            let pattern = self.resolve(&bytes_to_path(spec));
            let mut out = Vec::new();
            for file in glob(&path_to_bytes(&pattern)) {
                let bytes = read_file_bytes(&file)?;
                out.push(Segment { file, bytes });
            }
            Ok(out)
        } else {
            let file = self.resolve(&bytes_to_path(spec));
            let bytes = read_file_bytes(&file)?;
            Ok(vec![Segment { file, bytes }])
        }
    }

    /// `loadServerConfigFromString`, on the concatenation of `segments`.
    fn parse(
        &mut self,
        segments: &[Segment],
        depth: usize,
        out: &mut Vec<ConfigLine>,
    ) -> Result<(), ConfigFileError> {
        let mut text = Vec::new();
        let mut starts = Vec::with_capacity(segments.len());
        for s in segments {
            starts.push(text.len());
            text.extend_from_slice(&s.bytes);
        }
        let default_file = segments.first().map(|s| s.file.clone()).unwrap_or_default();

        let mut offset = 0usize;
        let mut seg = 0usize; // segment the current line starts in
        let mut seg_line = 0usize; // lines started so far in that segment
        for (i, piece) in text.split(|&b| b == b'\n').enumerate() {
            let start = offset;
            offset += piece.len() + 1;
            // Advance to the last segment starting at or before this line
            // (skipping empty segments).
            let mut moved = false;
            while seg + 1 < starts.len() && starts[seg + 1] <= start && start < text.len() {
                seg += 1;
                moved = true;
            }
            if moved || i == 0 {
                // Lines of this segment already begun in earlier segments'
                // text (a file without a final newline) still count.
                let from = starts.get(seg).copied().unwrap_or(0).min(start);
                seg_line = 1 + text[from..start].iter().filter(|&&b| b == b'\n').count();
            } else {
                seg_line += 1;
            }

            let trimmed = trim(piece);
            if trimmed.is_empty() || trimmed[0] == b'#' {
                continue;
            }
            let mut line = ConfigLine {
                file: segments
                    .get(seg)
                    .map(|s| s.file.clone())
                    .unwrap_or_else(|| default_file.clone()),
                line_no: i + 1,
                file_line_no: seg_line,
                raw: String::from_utf8_lossy(trimmed).into_owned(),
                args: Vec::new(),
            };
            let mut args = match split_args(trimmed) {
                Ok(a) => a,
                Err(_) => {
                    return Err(ConfigFileError::Line {
                        line,
                        message: UNBALANCED_QUOTES.to_string(),
                    });
                }
            };
            if args.is_empty() {
                continue;
            }
            args[0].make_ascii_lowercase();
            line.args = args;

            match line.args[0].as_slice() {
                b"include" => {
                    if line.args.len() != 2 {
                        return Err(ConfigFileError::Line {
                            line,
                            message: BAD_DIRECTIVE.to_string(),
                        });
                    }
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(ConfigFileError::Line {
                            line,
                            message: format!(
                                "Include nesting deeper than {MAX_INCLUDE_DEPTH} levels (include cycle?)"
                            ),
                        });
                    }
                    let included = self.read_path(&line.args[1])?;
                    self.parse(&included, depth + 1, out)?;
                }
                b"dir" if line.args.len() == 2 => {
                    self.cwd = self.resolve(&bytes_to_path(&line.args[1]));
                    out.push(line);
                }
                _ => out.push(line),
            }
        }
        Ok(())
    }
}

/// Trims ` \t\r\n` from both ends, as Redis's `sdstrim(line, " \t\r\n")`.
fn trim(b: &[u8]) -> &[u8] {
    let is_t = |c: &u8| matches!(*c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !is_t(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_t(c)).map(|i| i + 1).unwrap_or(start);
    &b[start..end.max(start)]
}

/// Reads a configuration file (or every file a glob pattern matches),
/// expanding includes. Relative paths are relative to the working directory.
#[cfg(test)]
pub(crate) fn read_config(path: &Path) -> Result<Vec<ConfigLine>, ConfigFileError> {
    load_server_config(Some(path), None, None)
}

/// Parses configuration text; `origin` names it in [`ConfigLine::file`].
/// Includes are expanded relative to the working directory.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn parse_config_str(
    text: &str,
    origin: &str,
) -> Result<Vec<ConfigLine>, ConfigFileError> {
    let mut out = Vec::new();
    let seg = Segment { file: PathBuf::from(origin), bytes: text.as_bytes().to_vec() };
    Loader::new().parse(&[seg], 0, &mut out)?;
    Ok(out)
}

/// Redis's `loadServerConfig`: the file (or glob) if any, then `stdin`'s
/// text if given, then, if `options` is given, `"\n"` and the options text,
/// all parsed as one text. Pass `options` (from [`parse_command_line`]) only
/// when the server was given at least one argument, as Redis does.
pub(crate) fn load_server_config(
    file: Option<&Path>,
    stdin: Option<&[u8]>,
    options: Option<&str>,
) -> Result<Vec<ConfigLine>, ConfigFileError> {
    let mut loader = Loader::new();
    let mut segments = match file {
        Some(p) => loader.read_path(&path_to_bytes(p))?,
        None => Vec::new(),
    };
    if let Some(s) = stdin {
        segments.push(Segment { file: PathBuf::from("<stdin>"), bytes: s.to_vec() });
    }
    if let Some(o) = options {
        let file = PathBuf::from("<command line>");
        segments.push(Segment { file: file.clone(), bytes: b"\n".to_vec() });
        segments.push(Segment { file, bytes: o.as_bytes().to_vec() });
    }
    let mut out = Vec::new();
    loader.parse(&segments, 0, &mut out)?;
    Ok(out)
}

/// What `redis-server`'s arguments say about configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CommandLine {
    /// The config file (first argument, when it does not start with `-`), as
    /// given: Redis makes it absolute against the working directory.
    pub(crate) config_file: Option<String>,
    /// A bare `-` was the first or last argument: read config from stdin.
    pub(crate) config_from_stdin: bool,
    /// The options text Redis appends (after a `"\n"`) to the file's text.
    pub(crate) options: String,
}

/// First-argument flags that are not configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommandLineError {
    /// `-v` or `--version`.
    Version,
    /// `-h` or `--help`.
    Help,
    /// `--test-memory [megabytes]`.
    TestMemory,
    /// `--check-system`.
    CheckSystem,
}

impl fmt::Display for CommandLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandLineError::Version => "--version requested",
            CommandLineError::Help => "--help requested",
            CommandLineError::TestMemory => "--test-memory requested",
            CommandLineError::CheckSystem => "--check-system requested",
        })
    }
}

impl std::error::Error for CommandLineError {}

/// Parses `redis-server`'s arguments (`args` excludes the program name).
pub(crate) fn parse_command_line(args: &[String]) -> Result<CommandLine, CommandLineError> {
    let mut cl = CommandLine::default();
    let Some(first) = args.first() else {
        return Ok(cl);
    };
    match first.as_str() {
        "-v" | "--version" => return Err(CommandLineError::Version),
        "-h" | "--help" => return Err(CommandLineError::Help),
        "--test-memory" => return Err(CommandLineError::TestMemory),
        "--check-system" => return Err(CommandLineError::CheckSystem),
        _ => {}
    }
    let mut j = 0;
    if !first.starts_with('-') {
        cl.config_file = Some(first.clone());
        j = 1;
    }
    let last = args.len() - 1;
    let mut handled_last = true;
    let opts = &mut cl.options;
    while j < args.len() {
        let a = args[j].as_str();
        if a == "-" && (j == 0 || j == last) {
            cl.config_from_stdin = true;
        } else if handled_last && a.starts_with("--") {
            if !opts.is_empty() {
                opts.push('\n');
            }
            opts.push_str(&a[2..]);
            opts.push(' ');
            // "--port" alone splits into one token; "--port 6380" into two.
            let single = matches!(split_args(a.as_bytes()), Ok(v) if v.len() == 1);
            if single {
                handled_last = false;
                let next_is_option = j != last && args[j + 1].starts_with("--");
                if a.eq_ignore_ascii_case("--save") {
                    if next_is_option {
                        opts.push_str("\"\"");
                        handled_last = true;
                    } else if j == last {
                        opts.push_str("\"\"");
                    }
                } else if a.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    handled_last = true;
                }
            } else {
                handled_last = true;
            }
        } else {
            opts.push_str(&repr_arg(a.as_bytes()));
            opts.push(' ');
            handled_last = true;
        }
        j += 1;
    }
    Ok(cl)
}

/// The options text Redis builds from `redis-server`'s arguments (`args`
/// excludes the program name). The config file name and a stdin `-` are not
/// part of it: see [`parse_command_line`], which returns those too. Reading
/// stdin is left to the caller.
#[cfg(test)]
pub(crate) fn args_to_config_text(args: &[String]) -> Result<String, CommandLineError> {
    parse_command_line(args).map(|c| c.options)
}

// ---------------------------------------------------------------------------
// Glob expansion (glob(3) with no flags: sorted, `\` escapes, no match for a
// leading `.` unless explicit, nothing returned when nothing matches).

fn glob(pattern: &[u8]) -> Vec<PathBuf> {
    let absolute = pattern.first() == Some(&b'/');
    let comps: Vec<&[u8]> = pattern.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    let mut current: Vec<Vec<u8>> = vec![if absolute { b"/".to_vec() } else { Vec::new() }];
    for (idx, comp) in comps.iter().enumerate() {
        let is_last = idx + 1 == comps.len();
        let mut next = Vec::new();
        for base in &current {
            let join = |name: &[u8]| {
                let mut p = base.clone();
                if !p.is_empty() && p.last() != Some(&b'/') {
                    p.push(b'/');
                }
                p.extend_from_slice(name);
                p
            };
            if has_wildcard(comp) {
                let dir = if base.is_empty() { PathBuf::from(".") } else { bytes_to_path(base) };
                let Ok(rd) = fs::read_dir(&dir) else { continue };
                for e in rd.flatten() {
                    let name = path_to_bytes(Path::new(&e.file_name()));
                    if fnmatch(comp, &name) {
                        let p = join(&name);
                        if is_last || bytes_to_path(&p).is_dir() {
                            next.push(p);
                        }
                    }
                }
            } else {
                let lit = unescape(comp);
                let p = join(&lit);
                if bytes_to_path(&p).symlink_metadata().is_ok() {
                    next.push(p);
                }
            }
        }
        current = next;
    }
    current.sort();
    current.into_iter().map(|p| bytes_to_path(&p)).collect()
}

fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            i += 1;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Shell-style matching of one path component.
fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    match_from(pat, name)
}

fn match_from(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                b'?' => Some(p + 1),
                b'[' => match match_class(pat, p, name[n]) {
                    Some((true, after)) => Some(after),
                    Some((false, _)) => None,
                    // No closing bracket: '[' is literal.
                    None => (name[n] == b'[').then_some(p + 1),
                },
                b'\\' if p + 1 < pat.len() => (name[n] == pat[p + 1]).then_some(p + 2),
                c => (name[n] == c).then_some(p + 1),
            }
        } else {
            None
        };
        match step {
            Some(np) => {
                p = np;
                n += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the bracket expression at `pat[start]` (`[`).
/// Returns (matched, index after `]`), or None if the bracket is unclosed.
fn match_class(pat: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < pat.len() && (pat[i] == b'!' || pat[i] == b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        if pat[i] == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let mut lo = pat[i];
        if lo == b'\\' && i + 1 < pat.len() {
            i += 1;
            lo = pat[i];
        }
        if i + 2 < pat.len() && pat[i + 1] == b'-' && pat[i + 2] != b']' {
            let hi = pat[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(lines: &[ConfigLine]) -> Vec<String> {
        lines.iter().map(|l| l.raw.clone()).collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn skips_comments_blank_and_trims() {
        let text = "# comment\n\n   \t\nPORT 6379  \r\n  # indented comment\n\x0b\nSave \"\" \nbind 127.0.0.1 -::1";
        let lines = parse_config_str(text, "t.conf").unwrap();
        assert_eq!(names(&lines), ["PORT 6379", "Save \"\"", "bind 127.0.0.1 -::1"]);
        assert_eq!(lines[0].args, vec![b"port".to_vec(), b"6379".to_vec()]);
        assert_eq!(lines[0].line_no, 4);
        assert_eq!(lines[1].name(), "save");
        assert_eq!(lines[1].args[1], b"");
        assert_eq!(lines[2].line_no, 8);
        assert_eq!(lines[2].values_lossy(), ["127.0.0.1", "-::1"]);
        assert_eq!(lines[2].file, PathBuf::from("t.conf"));
    }

    #[test]
    fn fatal_format_matches_redis() {
        let err = parse_config_str("port 1\nfoo \"bar\n", "x").unwrap_err();
        assert_eq!(
            err.fatal_message("Redis 7.0.15"),
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> 'foo \"bar'\nUnbalanced quotes in configuration line\n"
        );
        let lines = parse_config_str("\n  foo bar  \n", "x").unwrap();
        assert_eq!(
            format_fatal("tine", &lines[0], BAD_DIRECTIVE),
            "\n*** FATAL CONFIG FILE ERROR (tine) ***\nReading the configuration file, at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments\n"
        );
    }

    #[test]
    fn include_expands_in_place_with_own_numbering() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        fs::write(&inc, "# c\nmaxmemory 1mb\n").unwrap();
        let main = dir.path().join("main.conf");
        fs::write(&main, format!("port 1\nINCLUDE {}\nport 2\n", inc.display())).unwrap();
        let lines = read_config(&main).unwrap();
        assert_eq!(names(&lines), ["port 1", "maxmemory 1mb", "port 2"]);
        assert_eq!((lines[1].line_no, lines[1].file.clone()), (2, inc.clone()));
        assert_eq!((lines[2].line_no, lines[2].file.clone()), (3, main.clone()));

        // include with a wrong argument count is a bad directive.
        let err = parse_config_str("include a b", "x").unwrap_err();
        assert!(err.fatal_message("tine").ends_with(&format!("{BAD_DIRECTIVE}\n")));

        // A missing file is fatal, with Redis's wording.
        let err = parse_config_str(&format!("include {}/nope.conf", dir.path().display()), "x")
            .unwrap_err();
        assert_eq!(
            err.fatal_message("tine"),
            format!(
                "Fatal error, can't open config file '{}/nope.conf': No such file or directory",
                dir.path().display()
            )
        );

        // Errors inside an included file count lines from that file.
        fs::write(&inc, "\n\nbad 'quote\n").unwrap();
        match read_config(&main).unwrap_err() {
            ConfigFileError::Line { line, message } => {
                assert_eq!(
                    (line.line_no, line.file, message.as_str()),
                    (3, inc, UNBALANCED_QUOTES)
                );
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn include_cycle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.conf");
        let b = dir.path().join("b.conf");
        fs::write(&a, format!("port 1\ninclude {}\n", b.display())).unwrap();
        fs::write(&b, format!("include {}\n", a.display())).unwrap();
        let err = read_config(&a).unwrap_err();
        assert!(err.to_string().contains("Include nesting"), "{err}");
    }

    #[test]
    fn glob_includes_sorted_concatenated_and_empty_ok() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("conf.d");
        fs::create_dir(&d).unwrap();
        let main = dir.path().join("main.conf");
        fs::write(&main, format!("include {}/*.conf\nport 9\n", d.display())).unwrap();
        // No match: silently nothing.
        assert_eq!(names(&read_config(&main).unwrap()), ["port 9"]);

        fs::write(d.join("b.conf"), "b 1\nb 2\n").unwrap();
        fs::write(d.join("a.conf"), "a 1\na 2").unwrap(); // no final newline
        fs::write(d.join("c.txt"), "c 1\n").unwrap();
        fs::write(d.join(".hidden.conf"), "h 1\n").unwrap();
        let lines = read_config(&main).unwrap();
        // a.conf's last line runs into b.conf's first, as in Redis.
        assert_eq!(names(&lines), ["a 1", "a 2b 1", "b 2", "port 9"]);
        assert_eq!(lines[1].line_no, 2);
        assert_eq!(lines[1].file, d.join("a.conf"));
        assert_eq!((lines[2].line_no, lines[2].file_line_no), (3, 2));
        assert_eq!(lines[2].file, d.join("b.conf"));

        // ? and [] and wildcard directories.
        fs::write(&main, format!("include {}/conf.?/[ab].conf\n", dir.path().display())).unwrap();
        assert_eq!(names(&read_config(&main).unwrap()), ["a 1", "a 2b 1", "b 2"]);
        fs::write(&main, format!("include {}/*/[!a]*\n", dir.path().display())).unwrap();
        assert_eq!(names(&read_config(&main).unwrap()), ["b 1", "b 2", "c 1"]);
    }

    #[test]
    fn relative_include_follows_dir() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("rel.conf"), "appendonly yes\n").unwrap();
        let text = format!("dir {}\ninclude rel.conf\n", dir.path().display());
        let lines = parse_config_str(&text, "x").unwrap();
        assert_eq!(names(&lines)[1], "appendonly yes");
    }

    #[test]
    fn fnmatch_basics() {
        assert!(fnmatch(b"*.conf", b"a.conf"));
        assert!(!fnmatch(b"*.conf", b".a.conf"));
        assert!(fnmatch(b".*", b".a"));
        assert!(fnmatch(b"a?c", b"abc"));
        assert!(fnmatch(b"[a-c]x", b"bx"));
        assert!(!fnmatch(b"[!a-c]x", b"bx"));
        assert!(fnmatch(b"[]]", b"]"));
        assert!(fnmatch(b"a\\*", b"a*"));
        assert!(!fnmatch(b"a\\*", b"ab"));
        assert!(fnmatch(b"[x", b"[x"));
        assert!(fnmatch(b"*a*b*", b"xxaxxbxx"));
        assert!(!fnmatch(b"*a*b", b"xxaxxbxx"));
    }

    #[test]
    fn command_line_like_redis() {
        let cl =
            parse_command_line(&s(&["/etc/redis.conf", "--port", "6380", "--bind", "a", "b", "-"]))
                .unwrap();
        assert_eq!(cl.config_file.as_deref(), Some("/etc/redis.conf"));
        assert!(cl.config_from_stdin);
        assert_eq!(cl.options, "port \"6380\" \nbind \"a\" \"b\" ");

        // Observed with redis-server 7.0.15: `--port --bogus` gives line `port "--bogus"`.
        assert_eq!(args_to_config_text(&s(&["--port", "--bogus"])).unwrap(), "port \"--bogus\" ");
        // `--save` with no value, before another option or last.
        assert_eq!(
            args_to_config_text(&s(&["--save", "--port", "1"])).unwrap(),
            "save \"\"\nport \"1\" "
        );
        assert_eq!(
            args_to_config_text(&s(&["--port", "1", "--save"])).unwrap(),
            "port \"1\" \nsave \"\""
        );
        assert_eq!(
            args_to_config_text(&s(&["--sentinel", "--port", "1"])).unwrap(),
            "sentinel \nport \"1\" "
        );
        // Name and value in one argument.
        assert_eq!(args_to_config_text(&s(&["--port 7 --x"])).unwrap(), "port 7 --x ");
        // Values are repr-quoted.
        assert_eq!(
            args_to_config_text(&s(&["--requirepass", "a b\"c"])).unwrap(),
            "requirepass \"a b\\\"c\" "
        );
        // `-` in the middle is a value; first argument `-` is stdin.
        assert_eq!(
            args_to_config_text(&s(&["--x", "-", "--y", "1"])).unwrap(),
            "x \"-\" \ny \"1\" "
        );
        let cl = parse_command_line(&s(&["-", "--port", "1"])).unwrap();
        assert!(cl.config_from_stdin && cl.config_file.is_none());
        assert_eq!(parse_command_line(&s(&["--version"])), Err(CommandLineError::Version));
        assert_eq!(parse_command_line(&s(&["-h"])), Err(CommandLineError::Help));
        assert_eq!(parse_command_line(&[]).unwrap(), CommandLine::default());
    }

    #[test]
    fn load_server_config_line_numbers_like_redis() {
        // redis-server 7.0.15: `redis-server --port 1 --bogus` reports line 3 'bogus'.
        let cl = parse_command_line(&s(&["--port", "1", "--bogus"])).unwrap();
        let lines = load_server_config(None, None, Some(&cl.options)).unwrap();
        assert_eq!(names(&lines), ["port \"1\"", "bogus"]);
        assert_eq!(lines[1].line_no, 3);
        assert_eq!(lines[1].file, PathBuf::from("<command line>"));
        // `printf 'port 5\nbogus' | redis-server -` reports line 2.
        let lines = load_server_config(None, Some(b"port 5\nbogus"), Some("")).unwrap();
        assert_eq!(lines[1].line_no, 2);
        // A file without a final newline, then `--foo`: line 2.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("nonl.conf");
        fs::write(&f, "port 5").unwrap();
        let lines = load_server_config(Some(&f), None, Some("foo ")).unwrap();
        assert_eq!((lines[1].raw.as_str(), lines[1].line_no), ("foo", 2));
    }

    #[test]
    fn debian_redis_conf_parses() {
        let path = Path::new("/etc/redis/redis.conf");
        if !path.exists() {
            eprintln!("skipped: {} is absent", path.display());
            return;
        }
        let lines = read_config(path).unwrap_or_else(|e| panic!("{}", e.fatal_message("tine")));
        println!("{}: {} directive lines", path.display(), lines.len());
        assert!(!lines.is_empty());
        assert!(
            lines.iter().all(|l| !l.args.is_empty() && l.args[0] == l.args[0].to_ascii_lowercase())
        );
    }
}
