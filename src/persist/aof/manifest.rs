//! The AOF manifest: which files make up the append-only file, as Redis 7.0's multi-part AOF.
//!
//! The AOF lives in `appenddirname` (default `appendonlydir`) inside `dir`, as:
//!
//! - at most one BASE file, `<appendfilename>.<seq>.base.rdb` (an RDB, with
//!   `aof-use-rdb-preamble yes`) or `.base.aof` (commands): the dataset at the last rewrite;
//! - INCR files, `<appendfilename>.<seq>.incr.aof`: the commands written since, in order (more
//!   than one when a rewrite started, or failed, after the last success);
//! - HISTORY files: a previous base and incr files, superseded by a rewrite and deleted soon.
//!
//! The manifest `<appendfilename>.manifest` lists them, one per line, in Redis's format:
//! `file <name> seq <n> type <b|h|i>\n`, the base first, then history, then incr files. A name
//! needing quotes is written as Redis's sdscatrepr does. Lines starting with `#` are comments.
//! The manifest is replaced atomically: written to `temp-<manifest>`, fsynced, renamed, and the
//! directory fsynced, so a crash leaves either the old or the new one.

use std::io::Write;
use std::path::Path;

/// Manifest keywords.
pub(crate) const KEY_FILE_NAME: &str = "file";
pub(crate) const KEY_FILE_SEQ: &str = "seq";
pub(crate) const KEY_FILE_TYPE: &str = "type";
/// File name parts.
pub(crate) const BASE_FILE_SUFFIX: &str = ".base";
pub(crate) const INCR_FILE_SUFFIX: &str = ".incr";
pub(crate) const RDB_FORMAT_SUFFIX: &str = ".rdb";
pub(crate) const AOF_FORMAT_SUFFIX: &str = ".aof";
pub(crate) const MANIFEST_NAME_SUFFIX: &str = ".manifest";
pub(crate) const TEMP_FILE_NAME_PREFIX: &str = "temp-";
/// Longest manifest line Redis reads.
pub(crate) const MANIFEST_MAX_LINE: usize = 1024;

/// The type of a file in the manifest.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FileType {
    Base,
    Incr,
    History,
}

impl FileType {
    pub(crate) fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::Incr => 'i',
            FileType::History => 'h',
        }
    }
}

/// One file of the AOF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AofInfo {
    pub(crate) name: String,
    pub(crate) seq: i64,
    pub(crate) kind: FileType,
}

/// The manifest: the files of the AOF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) base: Option<AofInfo>,
    pub(crate) incr: Vec<AofInfo>,
    pub(crate) history: Vec<AofInfo>,
    pub(crate) curr_base_seq: i64,
    pub(crate) curr_incr_seq: i64,
}

/// Why a manifest could not be read (Redis's texts).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ManifestError {
    /// The line (trimmed) where the error is, with its number.
    pub(crate) line: Option<(usize, String)>,
    pub(crate) reason: &'static str,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.line {
            Some((n, l)) => {
                write!(f, "Reading the manifest file, at line {}: '{}': {}", n, l, self.reason)
            }
            None => write!(f, "{}", self.reason),
        }
    }
}

/// The manifest's file name for `appendfilename`.
pub(crate) fn manifest_name(aof_filename: &str) -> String {
    format!("{}{}", aof_filename, MANIFEST_NAME_SUFFIX)
}

/// The temp name the manifest is written under before the rename.
pub(crate) fn temp_manifest_name(aof_filename: &str) -> String {
    format!("{}{}{}", TEMP_FILE_NAME_PREFIX, aof_filename, MANIFEST_NAME_SUFFIX)
}

impl Manifest {
    /// Parses a manifest, as Redis's aofLoadManifestFromFile (strict: any bad line is an error).
    pub(crate) fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut maxseq = 0i64;
        let mut linenum = 0usize;
        let err = |n: usize, l: &str, reason: &'static str| ManifestError {
            line: Some((n, l.to_string())),
            reason,
        };
        if text.is_empty() {
            return Err(ManifestError { line: None, reason: "Found an empty AOF manifest" });
        }
        let mut rest = text;
        while !rest.is_empty() {
            let (raw, after, has_nl) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..], true),
                None => (rest, &rest[rest.len()..], false),
            };
            rest = after;
            linenum += 1;
            if raw.first() == Some(&b'#') {
                continue;
            }
            let line = String::from_utf8_lossy(raw).to_string();
            if !has_nl || raw.len() > MANIFEST_MAX_LINE {
                return Err(err(
                    linenum,
                    line.trim(),
                    "The AOF manifest file contains too long line",
                ));
            }
            let trimmed = line.trim_matches([' ', '\t', '\r', '\n']);
            // tine names its files from `appendfilename`, which is text: a line that is not
            // UTF-8 could only be read mangled (a file name then naming another file).
            if std::str::from_utf8(raw).is_err() {
                return Err(err(linenum, trimmed, "Invalid AOF manifest file format"));
            }
            if trimmed.is_empty() {
                return Err(err(linenum, trimmed, "Invalid AOF manifest file format"));
            }
            let words = match tine_core::base::quote::split_args(trimmed.as_bytes()) {
                Ok(w) if w.len() >= 6 && w.len() % 2 == 0 => w,
                _ => return Err(err(linenum, trimmed, "Invalid AOF manifest file format")),
            };
            let (mut name, mut seq, mut kind) = (None, 0i64, None);
            for pair in words.chunks(2) {
                let key = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
                let value = &pair[1];
                match key.as_str() {
                    KEY_FILE_NAME => {
                        let n = String::from_utf8_lossy(value).to_string();
                        if n.contains('/') {
                            return Err(err(
                                linenum,
                                trimmed,
                                "File can't be a path, just a filename",
                            ));
                        }
                        name = Some(n);
                    }
                    KEY_FILE_SEQ => seq = atoll(value),
                    KEY_FILE_TYPE => kind = value.first().copied(),
                    _ => {}
                }
            }
            let (Some(name), Some(kind)) = (name, kind) else {
                return Err(err(linenum, trimmed, "Invalid AOF manifest file format"));
            };
            if seq == 0 || name.is_empty() {
                return Err(err(linenum, trimmed, "Invalid AOF manifest file format"));
            }
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return Err(err(linenum, trimmed, "Found duplicate base file information"));
                    }
                    m.base = Some(AofInfo { name, seq, kind: FileType::Base });
                    m.curr_base_seq = seq;
                }
                b'h' => m.history.push(AofInfo { name, seq, kind: FileType::History }),
                b'i' => {
                    if seq <= maxseq {
                        return Err(err(linenum, trimmed, "Found a non-monotonic sequence number"));
                    }
                    m.incr.push(AofInfo { name, seq, kind: FileType::Incr });
                    m.curr_incr_seq = seq;
                    maxseq = seq;
                }
                _ => return Err(err(linenum, trimmed, "Unknown AOF file type")),
            }
        }
        if linenum == 0 {
            return Err(ManifestError { line: None, reason: "Found an empty AOF manifest" });
        }
        Ok(m)
    }

    /// The manifest as text: base, history, incr files (Redis's getAofManifestAsString).
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        let all = self.base.iter().chain(self.history.iter()).chain(self.incr.iter());
        for ai in all {
            let name = if needs_repr(&ai.name) {
                tine_core::base::quote::repr_arg(ai.name.as_bytes())
            } else {
                ai.name.clone()
            };
            out.push_str(&format!(
                "{} {} {} {} {} {}\n",
                KEY_FILE_NAME,
                name,
                KEY_FILE_SEQ,
                ai.seq,
                KEY_FILE_TYPE,
                ai.kind.letter()
            ));
        }
        out
    }

    /// A new base name; the previous base (if any) becomes history (Redis's
    /// getNewBaseFileNameAndMarkPreAsHistory).
    pub(crate) fn new_base(&mut self, aof_filename: &str, rdb_preamble: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileType::History;
            self.history.insert(0, old);
        }
        self.curr_base_seq += 1;
        let fmt = if rdb_preamble { RDB_FORMAT_SUFFIX } else { AOF_FORMAT_SUFFIX };
        let name = format!("{}.{}{}{}", aof_filename, self.curr_base_seq, BASE_FILE_SUFFIX, fmt);
        self.base =
            Some(AofInfo { name: name.clone(), seq: self.curr_base_seq, kind: FileType::Base });
        name
    }

    /// A new incr file at the end of the list (Redis's getNewIncrAofName).
    pub(crate) fn new_incr(&mut self, aof_filename: &str) -> String {
        self.curr_incr_seq += 1;
        let name = format!(
            "{}.{}{}{}",
            aof_filename, self.curr_incr_seq, INCR_FILE_SUFFIX, AOF_FORMAT_SUFFIX
        );
        self.incr.push(AofInfo {
            name: name.clone(),
            seq: self.curr_incr_seq,
            kind: FileType::Incr,
        });
        name
    }

    /// The last incr file, created if there is none (Redis's getLastIncrAofName).
    pub(crate) fn last_incr(&mut self, aof_filename: &str) -> String {
        match self.incr.last() {
            Some(ai) => ai.name.clone(),
            None => self.new_incr(aof_filename),
        }
    }

    /// After a rewrite: every incr file but the last one (being written, when `keep_last`)
    /// becomes history (Redis's markRewrittenIncrAofAsHistory).
    pub(crate) fn mark_rewritten_incr_as_history(&mut self, keep_last: bool) {
        let keep = if keep_last { self.incr.pop() } else { None };
        let old: Vec<AofInfo> = std::mem::take(&mut self.incr);
        for mut ai in old.into_iter().rev() {
            ai.kind = FileType::History;
            self.history.insert(0, ai);
        }
        self.incr.extend(keep);
    }

    /// The base and incr files, in loading order.
    pub(crate) fn files_to_load(&self) -> Vec<AofInfo> {
        self.base.iter().chain(self.incr.iter()).cloned().collect()
    }

    /// Writes the manifest into `dir` atomically: temp file, fsync, rename, fsync the dir.
    pub(crate) fn persist(&self, dir: &Path, aof_filename: &str) -> Result<(), String> {
        let name = manifest_name(aof_filename);
        let tmp_name = temp_manifest_name(aof_filename);
        let path = dir.join(&name);
        let tmp = dir.join(&tmp_name);
        let mut f = std::fs::File::create(&tmp)
            .map_err(|e| format!("Can't open the AOF manifest file {}: {}", tmp_name, e))?;
        f.write_all(self.to_text().as_bytes()).map_err(|e| {
            format!("Error trying to write the temporary AOF manifest file {}: {}", tmp_name, e)
        })?;
        f.sync_all()
            .map_err(|e| format!("Fail to fsync the temp AOF file {}: {}.", tmp_name, e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| {
            format!(
                "Error trying to rename the temporary AOF manifest file {} into {}: {}",
                tmp_name, name, e
            )
        })?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("Fail to fsync AOF directory {}: {}.", path.display(), e))
    }
}

/// Redis's atoll: leading digits with an optional sign, 0 when none.
fn atoll(b: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n: i64 = digits
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |a, c| a.saturating_mul(10).saturating_add(c.to_digit(10).unwrap() as i64));
    if neg { -n } else { n }
}

/// Redis's sdsneedsrepr: a name with spaces, quotes or unprintable bytes is quoted.
fn needs_repr(s: &str) -> bool {
    s.bytes().any(|b| {
        matches!(b, b'\\' | b'"' | b'\n' | b'\r' | b'\t' | 7 | 8 | b' ' | b'\'')
            || !(32..=126).contains(&b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_redis_format() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.curr_base_seq, 2);
        assert_eq!(m.curr_incr_seq, 2);
        assert_eq!(m.to_text(), text);
    }

    #[test]
    fn new_files_as_redis_names_them() {
        let mut m = Manifest::default();
        assert_eq!(m.new_base("appendonly.aof", true), "appendonly.aof.1.base.rdb");
        assert_eq!(m.last_incr("appendonly.aof"), "appendonly.aof.1.incr.aof");
        assert_eq!(
            m.to_text(),
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        m.new_incr("appendonly.aof");
        m.new_base("appendonly.aof", false);
        m.mark_rewritten_incr_as_history(true);
        assert_eq!(
            m.to_text(),
            "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
    }

    #[test]
    fn bad_manifests_are_errors() {
        assert!(Manifest::parse(b"").is_err());
        assert!(Manifest::parse(b"file a seq 1\n").is_err());
        assert!(Manifest::parse(b"file a seq 1 type x\n").is_err());
        assert!(Manifest::parse(b"file a/b seq 1 type b\n").is_err());
        assert!(Manifest::parse(b"file a seq 2 type i\nfile b seq 1 type i\n").is_err());
        assert!(Manifest::parse(b"file a seq 1 type b\nfile b seq 2 type b\n").is_err());
        assert!(Manifest::parse(b"file a seq 1 type b").is_err());
        assert!(Manifest::parse(b"\xff\xfe garbage\n").is_err());
        assert!(Manifest::parse(b"# comment\nfile a seq 1 type b\n").is_ok());
    }
}
