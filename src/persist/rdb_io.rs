//! Glue between the server and the RDB codec: the options the configuration selects
//! (compression, checksum, aux fields), progress reporting and `rdb-key-save-delay` while a
//! child writes, and loading a file into the server at startup or for DEBUG RELOAD.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::PersistHost;
use super::aof::AofError;
use crate::config::Config;
use crate::fork::ChildReporter;
use tine_core::keyspace::Db;
use tine_core::log;
use tine_core::log::Level;
use tine_core::rdb::reader::{SliceSource, Source, read_rdb_source};
use tine_core::rdb::{self, LoadedRdb, RdbError, RdbOptions};

/// The writer options the configuration selects.
pub(crate) fn options(config: &Config) -> RdbOptions {
    RdbOptions {
        compression: config.rdbcompression,
        checksum: config.rdbchecksum,
        used_mem: crate::engine::memory::memory_figures().allocated,
        ..RdbOptions::default()
    }
}

/// Writes the whole keyspace as an RDB to `w`. In a child, `reporter` receives progress (keys
/// processed); if the parent is gone the child exits at once, without publishing the file.
/// `repl` is the replication state saved as aux fields (`PersistHost::repl_info`),
/// `functions` the function libraries' code (`PersistHost::function_codes`), both taken by
/// the parent before it forks.
pub(crate) fn write_snapshot<W: Write>(
    config: &Config,
    dbs: &[Db],
    w: &mut W,
    mut reporter: Option<&mut ChildReporter>,
    repl: Option<rdb::ReplInfo>,
    functions: Vec<Vec<u8>>,
) -> Result<(), String> {
    let delay = config.rdb_key_save_delay;
    let opts = RdbOptions { repl, functions, ..options(config) };
    rdb::write_rdb(w, dbs, &opts, |done| {
        tine_core::base::debug_delay(delay);
        if let Some(r) = reporter.as_deref_mut() {
            if r.progress(done).is_err() {
                r.exit_parent_gone();
            }
        }
    })
    .map_err(|e| e.to_string())
}

/// Why a load failed. The text (`Display`) is what the log line or DEBUG RELOAD's error reply
/// says, in Redis's words.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The file exists but could not be read.
    Open { path: std::path::PathBuf, err: std::io::Error },
    /// The file is not a valid RDB.
    Rdb(RdbError),
    /// The loader thread could not be started.
    Thread(std::io::Error),
    /// The loader thread panicked.
    Panicked,
    /// The AOF could not be loaded or opened (already logged in Redis's words).
    Aof(AofError),
    /// A function library in the file failed to load (it does not compile, or it clashes
    /// with one already there): the reason, in Redis's words.
    Functions(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Open { path, err } => {
                write!(f, "Error opening {} for loading: {}", path.display(), err)
            }
            LoadError::Rdb(e) => e.fmt(f),
            LoadError::Thread(e) => write!(f, "can't start the loader thread: {}", e),
            LoadError::Panicked => f.write_str("the loader thread panicked"),
            LoadError::Aof(e) => e.fmt(f),
            LoadError::Functions(e) => write!(f, "Failed loading library, {}", e),
        }
    }
}

impl From<AofError> for LoadError {
    fn from(e: AofError) -> LoadError {
        LoadError::Aof(e)
    }
}

/// What loading a file found.
pub(crate) enum LoadOutcome {
    NoFile,
    Loaded,
}

/// Loads `path` into the server's databases and function engine (DEBUG RELOAD). `flush`:
/// replacing what is there (the caller has emptied the keyspace); else added to it, and
/// `merge` lets a loaded key or library replace one of the same name, which is an error
/// without it (DEBUG RELOAD's NOFLUSH and MERGE). A missing file is not an error; a damaged
/// one is, and leaves the server's data untouched.
pub(crate) fn load_file<H: PersistHost>(
    h: &mut H,
    path: &Path,
    flush: bool,
    merge: bool,
) -> Result<LoadOutcome, LoadError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LoadOutcome::NoFile),
        Err(err) => return Err(LoadError::Open { path: path.to_path_buf(), err }),
    };
    let started = Instant::now();
    // Expired keys are loaded, then dropped by `install` (a primary's, by name).
    let limits = rdb::LoadLimits { skip_expired: false, ..h.config().load_limits() };
    let loaded =
        rdb::read_rdb(&data, &limits, tine_core::base::mstime()).map_err(LoadError::Rdb)?;
    if flush {
        install(h, loaded)?;
    } else {
        merge_into(h, loaded, merge)?;
    }
    log!(Level::Notice, "DB loaded from disk: {:.3} seconds", started.elapsed().as_secs_f64());
    Ok(LoadOutcome::Loaded)
}

/// Adds a loaded RDB to the server's data (DEBUG RELOAD NOFLUSH): its libraries, then its
/// keys, each replacing one of the same name when `merge` (Redis's RDBFLAGS_ALLOW_DUP). A
/// duplicate without `merge` fails the load before anything changed (Redis stops there, or
/// for a key aborts the server).
fn merge_into<H: PersistHost>(
    h: &mut H,
    mut loaded: LoadedRdb,
    merge: bool,
) -> Result<(), LoadError> {
    let now = tine_core::base::mstime();
    if h.config().replicaof.is_empty() {
        drop_expired(&mut loaded, now);
    }
    if !merge {
        let p = h.parts();
        for db in 0..loaded.dbs.len().min(p.dbs.len()) {
            if let Some((k, _)) = loaded.dbs[db].iter().find(|(k, _)| p.dbs[db].peek(k).is_some()) {
                return Err(LoadError::Rdb(RdbError::DuplicateKey { db, key: k.to_vec() }));
            }
        }
    }
    h.load_functions(&loaded.functions, false, merge).map_err(|e| {
        log!(Level::Warning, "Failed loading library, {}", e);
        LoadError::Functions(e)
    })?;
    let p = h.parts();
    for db in 0..loaded.dbs.len().min(p.dbs.len()) {
        let keys: Vec<tine_core::keyspace::Key> =
            loaded.dbs[db].iter().map(|(k, _)| k.to_vec().into()).collect();
        for k in keys {
            let when = loaded.dbs[db].expire_of(&k);
            if let Some(v) = loaded.dbs.remove(db, &k) {
                p.dbs.set(db, &k, v, false);
                if when.is_some() {
                    p.dbs.set_expire(db, &k, when);
                }
            }
        }
    }
    Ok(())
}

/// A load running on a background thread at startup. The thread parses the file into a new,
/// separate keyspace — it never touches the live one — and the event loop installs it when the
/// thread is done; meanwhile clients get -LOADING, as Redis answers while it loads.
pub(crate) struct Loading {
    pub(crate) started_unix: i64,
    pub(crate) started: Instant,
    pub(crate) total_bytes: u64,
    /// Bytes parsed so far, updated by the loader thread.
    pub(crate) loaded_bytes: Arc<AtomicU64>,
    pub(crate) thread: std::thread::JoinHandle<Result<LoadedRdb, LoadError>>,
    /// True when this is the AOF being loaded (`persist::aof::loader`), not dump.rdb.
    pub(crate) aof: bool,
}

impl Loading {
    pub(crate) fn loaded(&self) -> u64 {
        self.loaded_bytes.load(Ordering::Relaxed)
    }
}

/// A `Source` over bytes in memory that publishes how far it has read.
struct ProgressSource<'a> {
    inner: SliceSource<'a>,
    progress: Arc<AtomicU64>,
}

impl Source for ProgressSource<'_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        self.inner.read_exact(buf)?;
        self.progress.store(self.inner.position() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn remaining(&self) -> Option<usize> {
        self.inner.remaining()
    }
    fn checksum(&mut self) -> u64 {
        self.inner.checksum()
    }
}

/// Starts loading `path` in the background; `Ok(None)` when there is no file.
pub(crate) fn start_loading<H: PersistHost>(
    h: &H,
    path: &Path,
) -> Result<Option<Loading>, LoadError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(LoadError::Open { path: path.to_path_buf(), err }),
    };
    // Expired keys are loaded, then dropped by `install` (a primary's, by name).
    let limits = rdb::LoadLimits { skip_expired: false, ..h.config().load_limits() };
    let progress = Arc::new(AtomicU64::new(0));
    let total_bytes = data.len() as u64;
    let thread_progress = progress.clone();
    let thread = std::thread::Builder::new()
        .name("tine-loader".into())
        .spawn(move || {
            let mut src =
                ProgressSource { inner: SliceSource::new(&data), progress: thread_progress };
            read_rdb_source(&mut src, &limits, tine_core::base::mstime()).map_err(LoadError::Rdb)
        })
        .map_err(LoadError::Thread)?;
    log!(Level::Notice, "Loading RDB produced by version {}", crate::REDIS_VERSION);
    Ok(Some(Loading {
        started_unix: tine_core::base::unix_time(),
        started: Instant::now(),
        total_bytes,
        loaded_bytes: progress,
        thread,
        aof: false,
    }))
}

/// Called from the event loop: when the loader thread is done, installs what it loaded.
/// A damaged file is fatal at startup, as in Redis: the error is returned for the caller to
/// log and exit with.
pub(crate) fn poll_loading<H: PersistHost>(h: &mut H) -> Result<(), LoadError> {
    let slot = h.parts().loading;
    if !slot.as_ref().is_some_and(|l| l.thread.is_finished()) {
        return Ok(());
    }
    let loading = slot.take().expect("checked");
    let result = loading.thread.join().map_err(|_| LoadError::Panicked)?;
    let loaded = result?;
    if loading.aof {
        install_dbs(h, loaded)?;
        log!(
            Level::Notice,
            "DB loaded from append only file: {:.3} seconds",
            loading.started.elapsed().as_secs_f64()
        );
        return Ok(crate::persist::aof::loaded(h)?);
    }
    install(h, loaded)?;
    log!(
        Level::Notice,
        "DB loaded from disk: {:.3} seconds",
        loading.started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Replaces the server's databases with a loaded RDB's. A primary (no `replicaof`) drops the
/// keys whose time has passed, as Redis's rdbLoad on a master; a replica keeps them for its
/// primary's DELs.
fn install<H: PersistHost>(h: &mut H, mut loaded: LoadedRdb) -> Result<(), LoadError> {
    let mut expired_keys = Vec::new();
    if h.config().replicaof.is_empty() {
        expired_keys = drop_expired(&mut loaded, tine_core::base::mstime());
    }
    let (keys, expired) = (loaded.keys_loaded, loaded.keys_expired);
    install_dbs(h, loaded)?;
    let st = h.parts().state;
    if st.loaded_repl_info.is_some() {
        st.loaded_expired = expired_keys;
    }
    log!(Level::Notice, "Done loading RDB, keys loaded: {}, keys expired: {}.", keys, expired);
    Ok(())
}

/// Removes the keys of `loaded` whose expiry is before `now_ms`, counting them as expired
/// rather than loaded; returns them, (db, key), db by db.
fn drop_expired(loaded: &mut LoadedRdb, now_ms: i64) -> Vec<(usize, tine_core::keyspace::Key)> {
    let mut gone = Vec::new();
    for db in 0..loaded.dbs.len() {
        let due: Vec<tine_core::keyspace::Key> = loaded.dbs[db]
            .iter_expires()
            .filter(|(_, when)| **when < now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            if loaded.dbs.remove(db, &k).is_some() {
                loaded.keys_loaded -= 1;
                loaded.keys_expired += 1;
                gone.push((db, k));
            }
        }
    }
    gone
}

/// Replaces the server's databases and function libraries with loaded ones, without
/// logging but for a library that fails to load: then nothing is installed, the reason is
/// logged as Redis logs it, and the load fails.
pub(crate) fn install_dbs<H: PersistHost>(h: &mut H, loaded: LoadedRdb) -> Result<(), LoadError> {
    h.load_functions(&loaded.functions, true, false).map_err(|e| {
        log!(Level::Warning, "Failed loading library, {}", e);
        LoadError::Functions(e)
    })?;
    let p = h.parts();
    let aux_int = |name: &str| loaded.aux(name).and_then(tine_core::base::parse_i64);
    if let (Some(id), Some(off)) = (loaded.aux("repl-id"), aux_int("repl-offset")) {
        if id.len() == 40 {
            let db = aux_int("repl-stream-db").unwrap_or(0);
            p.state.loaded_repl_info = Some((String::from_utf8_lossy(id).into_owned(), off, db));
        }
    }
    p.dbs.install(loaded.dbs);
    p.state.rdb_last_load_keys_loaded = loaded.keys_loaded;
    p.state.rdb_last_load_keys_expired = loaded.keys_expired;
    Ok(())
}
