//! Loading the AOF at startup (Redis's loadAppendOnlyFiles / loadSingleAppendOnlyFile).
//!
//! The files the manifest lists are loaded in order: the base, then each incr file. A file
//! that starts with `REDIS` is an RDB (a `.base.rdb`, or an old single-file AOF with an RDB
//! preamble) and is read with the RDB reader — keeping keys whose time has passed, since a
//! later command may still PERSIST them, as Redis does for AOF preambles; what follows is
//! commands in RESP, replayed one by one through an [`AofExecutor`]: the command dispatcher,
//! which this layer cannot name, injected by the top layer as a factory.
//!
//! All of it runs on a background thread: the executor is built there and owns a private
//! keyspace, which is installed in the real one when the load is done
//! (`rdb_io::poll_loading`); meanwhile clients get -LOADING. The executor's clock is frozen at
//! 0 so that nothing expires during the replay, and it propagates nothing.
//!
//! Bad input never panics. A command cut short at the end of the last file (a crash during a
//! write) is dropped and the file truncated to the last whole command, with Redis's warnings,
//! when `aof-load-truncated yes` (the default); otherwise, and for any other damage, the load
//! fails with a log line naming the file (and the offset), and the server exits with code 1.
//! An incomplete MULTI at the end is reverted the same way. Bytes that cannot begin a command
//! are a format error even at the very end of the file (Redis reads lines with fgets, which
//! returns a last line without its newline): they are not a crash's leftovers, and a file is
//! never truncated but to drop a command cut short at the end of the last file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::AofError;
use super::manifest::{AofInfo, Manifest};
use crate::config::Config;
use crate::persist::rdb_io::LoadError;
use tine_core::keyspace::Keyspace;
use tine_core::log;
use tine_core::log::Level;
use tine_core::rdb::reader::{SliceSource, Source, read_rdb_source};
use tine_core::rdb::{LoadedRdb, RdbError};

/// Longest line the loader reads for a `*<argc>` or `$<len>` header or an annotation
/// (Redis's AOF_ANNOTATION_LINE_MAX_LEN).
const LINE_MAX: usize = 1024;

/// How loading one file ended (Redis's AOF_OK, AOF_TRUNCATED...).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FileStatus {
    Ok,
    Truncated,
    Empty,
    NotExist,
    Failed,
}

/// Why a replay stopped.
pub(crate) enum Stop {
    /// The data ended inside a command.
    Eof,
    /// Not the AOF format, at this offset.
    Format(usize),
    /// A command tine does not know.
    Unknown(String),
}

/// The command named by an AOF entry does not exist; nothing ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnknownCommand;

/// What replays the AOF's commands into a private keyspace (Redis replays through a client
/// with no connection). Built and used on the loader thread only.
pub(crate) trait AofExecutor {
    /// Runs one command's `argv` against the executor's keyspace, as the server would (its
    /// error replies, if any, are dropped, as Redis's loader drops them).
    fn execute(&mut self, argv: &[Vec<u8>]) -> Result<(), UnknownCommand>;
    /// True while a MULTI is open: commands queued and not yet EXECed.
    fn in_multi(&self) -> bool;
    /// The executor's keyspace: an RDB preamble replaces it, and it is what the load yields.
    fn dbs_mut(&mut self) -> &mut Keyspace;
    /// Loads an RDB preamble's function libraries into the executor's function engine, so
    /// the commands after it (FUNCTION DELETE, FCALL...) see them. `Err`: the reason.
    fn load_functions(&mut self, codes: &[Vec<u8>]) -> Result<(), String> {
        let _ = codes;
        Ok(())
    }
    /// The executor's libraries' code at the end of the load: what the load yields beside
    /// the keyspace (the main thread compiles them again in its own engine).
    fn function_codes(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

/// Builds the executor on the loader thread (a plain function, so the job can cross threads).
pub(crate) type ExecutorFactory = fn(&Config) -> Box<dyn AofExecutor>;

/// What the loader needs from the main thread, owned.
pub(crate) struct Job {
    pub(crate) config: Config,
    pub(crate) dir: PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) progress: Arc<AtomicU64>,
    pub(crate) executor: ExecutorFactory,
}

/// The files to load and their total size; `Err` when one is missing (fatal).
pub(crate) fn sizes(dir: &Path, m: &Manifest) -> Result<(u64, u64), String> {
    let mut total = 0;
    let mut base = 0;
    for f in m.files_to_load() {
        let md = std::fs::metadata(dir.join(&f.name)).map_err(|e| {
            let msg = format!("Unable to obtain the AOF file {} length. stat: {}", f.name, e);
            log!(Level::Warning, "{}", msg);
            msg
        })?;
        if f.kind == super::manifest::FileType::Base {
            base = md.len();
        }
        total += md.len();
    }
    Ok((base, total))
}

/// Loads every file of the manifest into a fresh keyspace. Runs on the loader thread.
pub(crate) fn load_all(job: Job) -> Result<LoadedRdb, LoadError> {
    let mut exec = (job.executor)(&job.config);
    let files = job.manifest.files_to_load();
    let total_num = files.len();
    let mut done_bytes = 0u64;
    for (i, f) in files.iter().enumerate() {
        let last_file = i + 1 == total_num;
        let start = Instant::now();
        let status = load_file(exec.as_mut(), &job, f, done_bytes, last_file);
        let kind = if f.kind == super::manifest::FileType::Base { "base" } else { "incr" };
        if status == FileStatus::Ok || (status == FileStatus::Truncated && last_file) {
            log!(
                Level::Notice,
                "DB loaded from {} file {}: {:.3} seconds",
                kind,
                f.name,
                start.elapsed().as_secs_f64()
            );
        }
        match status {
            FileStatus::Truncated if !last_file => {
                log!(Level::Warning, "Fatal error: the truncated file is not the last file");
                let e = format!("the truncated file {} is not the last file", f.name);
                return Err(AofError(e).into());
            }
            FileStatus::Failed => {
                return Err(AofError(format!("can't load the AOF file {}", f.name)).into());
            }
            FileStatus::NotExist => {
                return Err(AofError(format!("the AOF file {} doesn't exist", f.name)).into());
            }
            _ => {}
        }
        done_bytes += std::fs::metadata(job.dir.join(&f.name)).map(|m| m.len()).unwrap_or(0);
        job.progress.store(done_bytes, Ordering::Relaxed);
    }
    let n = exec.dbs_mut().len();
    let dbs = std::mem::replace(exec.dbs_mut(), Keyspace::new(n));
    let keys = dbs.total_keys();
    Ok(LoadedRdb {
        version: 10,
        dbs,
        aux: Vec::new(),
        functions: exec.function_codes(),
        keys_loaded: keys,
        keys_expired: 0,
        empty_keys_skipped: 0,
        stored_checksum: 0,
    })
}

/// A `Source` over the file's bytes that publishes how far it has read.
struct ProgressSource<'a> {
    inner: SliceSource<'a>,
    progress: &'a AtomicU64,
    offset: u64,
}

impl Source for ProgressSource<'_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        self.inner.read_exact(buf)?;
        self.progress.store(self.offset + self.inner.position() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn remaining(&self) -> Option<usize> {
        self.inner.remaining()
    }
    fn checksum(&mut self) -> u64 {
        self.inner.checksum()
    }
}

/// Loads one file through `exec` (Redis's loadSingleAppendOnlyFile). `last_file`: the last
/// file the manifest lists, the only one a crash can have left cut short.
fn load_file(
    exec: &mut dyn AofExecutor,
    job: &Job,
    f: &AofInfo,
    offset: u64,
    last_file: bool,
) -> FileStatus {
    let path = job.dir.join(&f.name);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            log!(Level::Warning, "The append log file {} doesn't exist: {}", f.name, e);
            return FileStatus::NotExist;
        }
        Err(e) => {
            log!(
                Level::Warning,
                "Fatal error: can't open the append log file {} for reading: {}",
                f.name,
                e
            );
            return FileStatus::Failed;
        }
    };
    if data.is_empty() {
        return FileStatus::Empty;
    }
    let mut pos = 0usize;
    if data.starts_with(b"REDIS") {
        let old_style = f.name == job.config.appendfilename;
        if old_style {
            log!(Level::Notice, "Reading RDB preamble from AOF file...");
        } else {
            log!(Level::Notice, "Reading RDB base file on AOF loading...");
        }
        let mut limits = job.config.load_limits();
        limits.skip_expired = false;
        let mut src =
            ProgressSource { inner: SliceSource::new(&data), progress: &job.progress, offset };
        match read_rdb_source(&mut src, &limits, i64::MIN) {
            Ok(loaded) => {
                log!(
                    Level::Notice,
                    "Done loading RDB, keys loaded: {}, keys expired: {}.",
                    loaded.keys_loaded,
                    loaded.keys_expired
                );
                exec.dbs_mut().install(loaded.dbs);
                if let Err(e) = exec.load_functions(&loaded.functions) {
                    log!(Level::Warning, "Failed loading library, {}", e);
                    log!(
                        Level::Warning,
                        "Error reading the RDB {} of the AOF file {}, AOF loading aborted",
                        if old_style { "preamble" } else { "base file" },
                        f.name
                    );
                    return FileStatus::Failed;
                }
                pos = src.inner.position();
                if old_style {
                    log!(Level::Notice, "Reading the remaining AOF tail...");
                }
            }
            Err(e) => {
                if old_style {
                    log!(
                        Level::Warning,
                        "Error reading the RDB preamble of the AOF file {}, AOF loading aborted",
                        f.name
                    );
                } else {
                    log!(
                        Level::Warning,
                        "Error reading the RDB base file {}, AOF loading aborted",
                        f.name
                    );
                }
                log!(Level::Warning, "RDB error: {}", e);
                return FileStatus::Failed;
            }
        }
    }
    let (stop, valid_up_to) = replay(exec, job, &f.name, &data, pos, offset);
    match stop {
        None => FileStatus::Ok,
        Some(Stop::Unknown(name)) => {
            log!(
                Level::Warning,
                "Unknown command '{}' reading the append only file {}",
                name,
                f.name
            );
            FileStatus::Failed
        }
        Some(Stop::Format(at)) => {
            log!(
                Level::Warning,
                "Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                f.name
            );
            log!(
                Level::Warning,
                "The bad data is at offset {} of {} (last valid command ends at offset {})",
                at,
                f.name,
                valid_up_to
            );
            FileStatus::Failed
        }
        Some(Stop::Eof) if job.config.aof_load_truncated && !last_file => {
            // Redis truncates this file too before it refuses to go on; the load fails either
            // way (load_all), so the file is left as it is for the operator.
            log!(
                Level::Warning,
                "!!! Warning: short read while loading the AOF file {}!!!",
                f.name
            );
            FileStatus::Truncated
        }
        Some(Stop::Eof) => {
            if job.config.aof_load_truncated {
                log!(
                    Level::Warning,
                    "!!! Warning: short read while loading the AOF file {}!!!",
                    f.name
                );
                log!(
                    Level::Warning,
                    "!!! Truncating the AOF {} at offset {} !!!",
                    f.name,
                    valid_up_to
                );
                match truncate(&path, valid_up_to as u64) {
                    Ok(()) => {
                        log!(
                            Level::Warning,
                            "AOF {} loaded anyway because aof-load-truncated is enabled",
                            f.name
                        );
                        return FileStatus::Truncated;
                    }
                    Err(e) => {
                        log!(Level::Warning, "Error truncating the AOF file {}: {}", f.name, e)
                    }
                }
            }
            log!(
                Level::Warning,
                "Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                f.name
            );
            FileStatus::Failed
        }
    }
}

fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()
}

/// One line up to and including '\n', as fgets reads it with Redis's buffer: `None` only when
/// no byte is left. Bytes at the end of the data without a newline are a line too, so that
/// garbage at the end of a file is judged as a header (a format error), not taken for a
/// command cut short.
fn line(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = &data[pos..];
    if rest.is_empty() {
        return None;
    }
    // A line longer than the buffer: fgets returns it in pieces; the next piece is not a
    // header, which makes it a format error, as in Redis.
    let limit = rest.len().min(LINE_MAX - 1);
    match rest[..limit].iter().position(|&b| b == b'\n') {
        Some(i) => Some((&rest[..i + 1], pos + i + 1)),
        None => Some((&rest[..limit], pos + limit)),
    }
}

/// Redis's atoi/strtol on a header: leading digits after an optional sign.
fn header_number(b: &[u8]) -> i64 {
    let s = std::str::from_utf8(b).unwrap_or("");
    let s = s.trim_start();
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut n: i64 = 0;
    for ch in rest.chars() {
        match ch.to_digit(10) {
            Some(d) => n = n.saturating_mul(10).saturating_add(d as i64),
            None => break,
        }
    }
    if neg { -n } else { n }
}

/// Replays commands from `pos`. Returns how it stopped (`None`: clean end of file) and the
/// offset just past the last whole command (minus an unfinished MULTI).
pub(crate) fn replay(
    exec: &mut dyn AofExecutor,
    job: &Job,
    name: &str,
    data: &[u8],
    mut pos: usize,
    offset: u64,
) -> (Option<Stop>, usize) {
    let mut valid_up_to = pos;
    let mut valid_before_multi = pos;
    let delay = job.config.key_load_delay;
    let mut loops = 0u64;
    loop {
        loops += 1;
        if loops % 1024 == 0 {
            job.progress.store(offset + pos as u64, Ordering::Relaxed);
        }
        if pos >= data.len() {
            break;
        }
        let Some((hdr, next)) = line(data, pos) else {
            return (Some(Stop::Eof), valid_up_to);
        };
        if hdr[0] == b'#' {
            pos = next;
            continue;
        }
        if hdr[0] != b'*' {
            return (Some(Stop::Format(pos)), valid_up_to);
        }
        if hdr.len() == 1 {
            // A lone '*' at the very end: the write of a command stopped after its first byte.
            return (Some(Stop::Eof), valid_up_to);
        }
        let argc = header_number(&hdr[1..]);
        if argc < 1 {
            return (Some(Stop::Format(pos)), valid_up_to);
        }
        let start = pos;
        pos = next;
        let mut argv: Vec<Vec<u8>> = Vec::with_capacity((argc as usize).min(1024));
        for _ in 0..argc {
            let Some((h, n)) = line(data, pos) else {
                return (Some(Stop::Eof), valid_up_to);
            };
            if h[0] != b'$' {
                return (Some(Stop::Format(pos)), valid_up_to);
            }
            let len = header_number(&h[1..]);
            if len < 0 {
                return (Some(Stop::Format(pos)), valid_up_to);
            }
            let len = len as usize;
            pos = n;
            if data.len() - pos < len {
                return (Some(Stop::Eof), valid_up_to);
            }
            argv.push(data[pos..pos + len].to_vec());
            pos += len;
            if data.len() - pos < 2 {
                return (Some(Stop::Eof), valid_up_to);
            }
            pos += 2;
        }
        if exec.execute(&argv).is_err() {
            return (Some(Stop::Unknown(String::from_utf8_lossy(&argv[0]).into())), valid_up_to);
        }
        if argv[0].eq_ignore_ascii_case(b"multi") {
            valid_before_multi = start;
        }
        valid_up_to = pos;
        tine_core::base::debug_delay(delay);
    }
    if exec.in_multi() {
        log!(Level::Warning, "Revert incomplete MULTI/EXEC transaction in AOF file {}", name);
        return (Some(Stop::Eof), valid_before_multi);
    }
    (None, valid_up_to)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it is asked to run; knows every command but `NOSUCH`; tracks MULTI.
    struct FakeExec {
        ran: Vec<Vec<Vec<u8>>>,
        multi: bool,
        dbs: Keyspace,
    }

    impl AofExecutor for FakeExec {
        fn execute(&mut self, argv: &[Vec<u8>]) -> Result<(), UnknownCommand> {
            if argv[0].eq_ignore_ascii_case(b"nosuch") {
                return Err(UnknownCommand);
            }
            if argv[0].eq_ignore_ascii_case(b"multi") {
                self.multi = true;
            } else if argv[0].eq_ignore_ascii_case(b"exec") {
                self.multi = false;
            }
            self.ran.push(argv.to_vec());
            Ok(())
        }
        fn in_multi(&self) -> bool {
            self.multi
        }
        fn dbs_mut(&mut self) -> &mut Keyspace {
            &mut self.dbs
        }
    }

    fn fake(_: &Config) -> Box<dyn AofExecutor> {
        Box::new(FakeExec { ran: Vec::new(), multi: false, dbs: Keyspace::new(1) })
    }

    fn job() -> Job {
        Job {
            config: Config::default(),
            dir: PathBuf::from("."),
            manifest: Manifest::default(),
            progress: Arc::new(AtomicU64::new(0)),
            executor: fake,
        }
    }

    fn run(data: &[u8]) -> (Option<Stop>, usize, FakeExec) {
        let mut exec = FakeExec { ran: Vec::new(), multi: false, dbs: Keyspace::new(1) };
        let (stop, valid) = replay(&mut exec, &job(), "t.aof", data, 0, 0);
        (stop, valid, exec)
    }

    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";

    #[test]
    fn commands_and_annotations_replay_in_order() {
        let data =
            [b"#TS:1700000000\r\n".as_slice(), SET, b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"].concat();
        let (stop, valid, exec) = run(&data);
        assert!(stop.is_none());
        assert_eq!(valid, data.len());
        assert_eq!(
            exec.ran,
            vec![
                vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()],
                vec![b"DEL".to_vec(), b"k".to_vec()],
            ]
        );
    }

    #[test]
    fn an_unknown_command_stops_the_load() {
        let data = [SET, b"*1\r\n$6\r\nNOSUCH\r\n"].concat();
        let (stop, valid, exec) = run(&data);
        assert!(matches!(stop, Some(Stop::Unknown(n)) if n == "NOSUCH"));
        assert_eq!(valid, SET.len());
        assert_eq!(exec.ran.len(), 1);
    }

    #[test]
    fn a_command_cut_short_ends_at_the_last_whole_one() {
        let data = [SET, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab".as_slice()].concat();
        let (stop, valid, exec) = run(&data);
        assert!(matches!(stop, Some(Stop::Eof)));
        assert_eq!(valid, SET.len());
        assert_eq!(exec.ran.len(), 1);
    }

    #[test]
    fn an_unfinished_multi_is_reverted_to_before_it() {
        let data = [SET, b"*1\r\n$5\r\nMULTI\r\n".as_slice(), SET].concat();
        let (stop, valid, _) = run(&data);
        assert!(matches!(stop, Some(Stop::Eof)));
        assert_eq!(valid, SET.len());
    }

    #[test]
    fn garbage_is_a_format_error_at_its_offset() {
        let data = [SET, b"hello\r\n".as_slice()].concat();
        let (stop, valid, _) = run(&data);
        assert!(matches!(stop, Some(Stop::Format(at)) if at == SET.len()));
        assert_eq!(valid, SET.len());
    }

    #[test]
    fn garbage_at_the_very_end_is_a_format_error_not_a_cut() {
        for tail in [b"hello".as_slice(), b"*abc", b"*3\r\n$3\r\nSET\r\nxyz", b"\r\n"] {
            let data = [SET, tail].concat();
            let (stop, valid, exec) = run(&data);
            assert!(
                matches!(stop, Some(Stop::Format(_))),
                "tail {:?}",
                String::from_utf8_lossy(tail)
            );
            assert_eq!(valid, SET.len());
            assert_eq!(exec.ran.len(), 1);
        }
    }

    #[test]
    fn a_command_cut_after_any_byte_is_a_cut() {
        let next = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r";
        for n in 1..next.len() {
            let data = [SET, &next[..n]].concat();
            let (stop, valid, _) = run(&data);
            assert!(matches!(stop, Some(Stop::Eof)), "cut after {} bytes", n);
            assert_eq!(valid, SET.len());
        }
    }

    #[test]
    fn an_annotation_without_newline_at_the_end_is_skipped() {
        let data = [SET, b"#TS:1700000000".as_slice()].concat();
        let (stop, valid, _) = run(&data);
        assert!(stop.is_none());
        assert_eq!(valid, SET.len());
    }

    #[test]
    fn load_all_yields_the_executors_keyspace() {
        let dir = std::env::temp_dir().join(format!("tine-loader-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut m = Manifest::default();
        let name = m.new_incr("appendonly.aof");
        std::fs::write(dir.join(&name), SET).unwrap();
        let mut j = job();
        j.dir = dir.clone();
        j.manifest = m;
        let loaded = load_all(j).expect("loads");
        assert_eq!(loaded.dbs.len(), 1);
        assert_eq!(loaded.keys_loaded, 0, "the fake executor stores nothing");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
