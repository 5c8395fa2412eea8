//! Glue between the server and the RDB codec: the options the configuration selects
//! (compression, checksum, aux fields), progress reporting and `rdb-key-save-delay` while a
//! child writes, and loading a file into the server at startup or for DEBUG RELOAD.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use super::child::{self, ChildReporter};
use super::rdb::{self, LoadLimits, RdbOptions};
use crate::log;
use crate::log::Level;
use crate::server::Server;

/// The writer options the configuration selects.
pub fn options(srv: &Server) -> RdbOptions {
    RdbOptions {
        compression: srv.config.rdbcompression,
        checksum: srv.config.rdbchecksum,
        used_mem: crate::command::admin::memory_figures().allocated,
        ..RdbOptions::default()
    }
}

/// Writes the whole keyspace as an RDB to `w`. In a child, `reporter` receives progress (keys
/// processed); if the parent is gone the child exits at once, without publishing the file.
pub fn write_snapshot<W: Write>(
    srv: &Server,
    w: &mut W,
    mut reporter: Option<&mut ChildReporter>,
) -> Result<(), String> {
    let delay = srv.config.rdb_key_save_delay;
    let opts = options(srv);
    rdb::write_rdb(w, &srv.dbs, &opts, |done| {
        key_save_delay(delay);
        if let Some(r) = reporter.as_deref_mut() {
            if r.progress(done).is_err() {
                child::exit_parent_gone();
            }
        }
    })
    .map_err(|e| e.to_string())
}

/// Sleeps `rdb-key-save-delay` microseconds per key (a negative value: that many nanoseconds),
/// Redis's knob for stretching a save in tests.
pub fn key_save_delay(delay: i64) {
    if delay > 0 {
        std::thread::sleep(std::time::Duration::from_micros(delay as u64));
    } else if delay < 0 {
        std::thread::sleep(std::time::Duration::from_nanos(delay.unsigned_abs()));
    }
}

/// What loading a file found.
pub enum LoadOutcome {
    NoFile,
    Loaded { keys: u64, expired: u64 },
}

/// Loads `path` into the server's databases, replacing them. A missing file is not an error;
/// a damaged one is, and leaves the server's data untouched.
pub fn load_file(srv: &mut Server, path: &Path) -> Result<LoadOutcome, String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LoadOutcome::NoFile),
        Err(e) => {
            return Err(format!(
                "Error opening {} for loading: {}",
                path.display(),
                e
            ));
        }
    };
    let started = Instant::now();
    let limits = LoadLimits::from_config(&srv.config);
    let loaded = rdb::read_rdb(&data, &limits, crate::util::mstime()).map_err(|e| e.to_string())?;
    let mut dbs = loaded.dbs;
    dbs.resize_with(srv.dbs.len(), || crate::db::Db::new(0));
    for (i, db) in dbs.iter_mut().enumerate() {
        db.id = i;
    }
    srv.dbs = dbs;
    srv.persist.rdb_last_load_keys_loaded = loaded.keys_loaded;
    srv.persist.rdb_last_load_keys_expired = loaded.keys_expired;
    log!(
        Level::Notice,
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        loaded.keys_loaded,
        loaded.keys_expired
    );
    log!(
        Level::Notice,
        "DB loaded from disk: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(LoadOutcome::Loaded {
        keys: loaded.keys_loaded,
        expired: loaded.keys_expired,
    })
}
