//! Loading the AOF at startup (Redis's loadAppendOnlyFiles / loadSingleAppendOnlyFile).
//!
//! The files the manifest lists are loaded in order: the base, then each incr file. A file
//! that starts with `REDIS` is an RDB (a `.base.rdb`, or an old single-file AOF with an RDB
//! preamble) and is read with the RDB reader — keeping keys whose time has passed, since a
//! later command may still PERSIST them, as Redis does for AOF preambles; what follows is
//! commands in RESP, replayed one by one through the normal command path
//! (`command::call_argv`) with a fake client.
//!
//! All of it runs on a background thread, on a private `Server` whose keyspace is installed in
//! the real one when the load is done (`rdb_io::poll_loading`); meanwhile clients get
//! -LOADING. The private server's clock is frozen at 0 so that nothing expires during the
//! replay, and its propagation feed is off.
//!
//! Bad input never panics. A command cut short at the end of the last file (a crash during a
//! write) is dropped and the file truncated to the last whole command, with Redis's warnings,
//! when `aof-load-truncated yes` (the default); otherwise, and for any other damage, the load
//! fails with a log line naming the file (and the offset), and the server exits with code 1.
//! An incomplete MULTI at the end is reverted the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::manifest::{AofInfo, Manifest};
use crate::app::server::Server;
use crate::config::Config;
use tine_core::log;
use tine_core::log::Level;
use tine_core::rdb::reader::{SliceSource, Source, read_rdb_source};
use tine_core::rdb::{LoadedRdb, RdbError};

/// Longest line the loader reads for a `*<argc>` or `$<len>` header or an annotation
/// (Redis's AOF_ANNOTATION_LINE_MAX_LEN).
const LINE_MAX: usize = 1024;

/// How loading one file ended (Redis's AOF_OK, AOF_TRUNCATED...).
#[derive(Debug, PartialEq, Eq)]
pub enum FileStatus {
    Ok,
    Truncated,
    Empty,
    NotExist,
    Failed,
}

/// Why a replay stopped.
enum Stop {
    /// The data ended inside a command.
    Eof,
    /// Not the AOF format, at this offset.
    Format(usize),
    /// A command tine does not know.
    Unknown(String),
}

/// What the loader needs from the main thread, owned.
pub struct Job {
    pub config: Config,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub progress: Arc<AtomicU64>,
}

/// The files to load and their total size; `Err` when one is missing (fatal).
pub fn sizes(dir: &Path, m: &Manifest) -> Result<(u64, u64), String> {
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
pub fn load_all(job: Job) -> Result<LoadedRdb, String> {
    let mut srv = Server::new(job.config.clone());
    srv.clock_frozen = true;
    srv.now_ms = 0;
    srv.prop.disabled = true;
    let files = job.manifest.files_to_load();
    let total_num = files.len();
    let mut done_bytes = 0u64;
    for (i, f) in files.iter().enumerate() {
        let last_file = i + 1 == total_num;
        let start = Instant::now();
        let status = load_file(&mut srv, &job, f, done_bytes);
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
                return Err(format!("the truncated file {} is not the last file", f.name));
            }
            FileStatus::Failed => return Err(format!("can't load the AOF file {}", f.name)),
            FileStatus::NotExist => return Err(format!("the AOF file {} doesn't exist", f.name)),
            _ => {}
        }
        done_bytes += std::fs::metadata(job.dir.join(&f.name)).map(|m| m.len()).unwrap_or(0);
        job.progress.store(done_bytes, Ordering::Relaxed);
    }
    let keys = srv.total_keys() as u64;
    let dbs = std::mem::take(&mut srv.dbs);
    Ok(LoadedRdb {
        version: 10,
        dbs,
        aux: Vec::new(),
        functions: Vec::new(),
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

/// Loads one file into `srv` (Redis's loadSingleAppendOnlyFile).
fn load_file(srv: &mut Server, job: &Job, f: &AofInfo, offset: u64) -> FileStatus {
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
                let mut dbs = loaded.dbs;
                dbs.resize_with(srv.dbs.len(), || tine_core::keyspace::Db::new(0));
                for (i, db) in dbs.iter_mut().enumerate() {
                    db.id = i;
                }
                srv.dbs = dbs;
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
    let (stop, valid_up_to) = replay(srv, job, &f.name, &data, pos, offset);
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

/// One line up to and including '\n' (fgets with Redis's buffer): `None` at end of data
/// without a newline.
fn line(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = &data[pos..];
    let limit = rest.len().min(LINE_MAX - 1);
    match rest[..limit].iter().position(|&b| b == b'\n') {
        Some(i) => Some((&rest[..i + 1], pos + i + 1)),
        // A line longer than the buffer: fgets returns it in pieces; the next piece is not a
        // header, which makes it a format error, as in Redis.
        None if limit == LINE_MAX - 1 => Some((&rest[..limit], pos + limit)),
        None => None,
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
fn replay(
    srv: &mut Server,
    job: &Job,
    name: &str,
    data: &[u8],
    mut pos: usize,
    offset: u64,
) -> (Option<Stop>, usize) {
    let (a, b) = mio::net::UnixStream::pair().expect("socketpair for the AOF client");
    drop(b);
    let mut fake = crate::net::client::Client::new(
        0,
        usize::MAX,
        crate::net::client::Stream::Unix(a),
        String::new(),
        String::new(),
        tine_core::base::unix_time(),
    );
    fake.authenticated = true;
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
        let reg = crate::commands::registry();
        let Some(cmd) = reg.lookup(&argv[0]) else {
            return (Some(Stop::Unknown(String::from_utf8_lossy(&argv[0]).into())), valid_up_to);
        };
        if cmd.cmd.name == "multi" {
            valid_before_multi = start;
        }
        crate::commands::call_argv(srv, &mut fake, &argv);
        crate::engine::feed::end_unit(srv);
        fake.obuf.clear();
        fake.opos = 0;
        fake.errors.clear();
        valid_up_to = pos;
        tine_core::base::debug_delay(delay);
    }
    if fake.multi.is_some() {
        log!(Level::Warning, "Revert incomplete MULTI/EXEC transaction in AOF file {}", name);
        return (Some(Stop::Eof), valid_before_multi);
    }
    (None, valid_up_to)
}
