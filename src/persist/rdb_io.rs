//! Glue between the server and the RDB codec: which options the configuration selects
//! (compression, checksum, aux fields), how the child reports progress and honours
//! `rdb-key-save-delay` while it writes.

use std::io::Write;

use super::child::ChildReporter;
use crate::server::Server;

/// Writes the whole keyspace as an RDB to `w`. In a child, `reporter` receives progress
/// (keys processed) and tells when the parent is gone.
pub fn write_snapshot<W: Write>(
    srv: &Server,
    w: &mut W,
    mut reporter: Option<&mut ChildReporter>,
) -> Result<(), String> {
    let delay = srv.config.rdb_key_save_delay;
    // Placeholder format until the RDB codec lands: header, keys visited for progress, EOF.
    w.write_all(b"REDIS0010").map_err(|e| e.to_string())?;
    let mut done = 0u64;
    for db in &srv.dbs {
        for _ in db.iter() {
            done += 1;
            key_save_delay(delay);
            if let Some(r) = reporter.as_deref_mut() {
                r.progress(done)?;
            }
        }
    }
    w.write_all(&[0xFF, 0, 0, 0, 0, 0, 0, 0, 0])
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Sleeps `rdb-key-save-delay` microseconds (Redis's debugDelay: a negative value busy-waits
/// that many nanoseconds... we simply sleep its magnitude in nanoseconds).
pub fn key_save_delay(delay: i64) {
    if delay > 0 {
        std::thread::sleep(std::time::Duration::from_micros(delay as u64));
    } else if delay < 0 {
        std::thread::sleep(std::time::Duration::from_nanos(delay.unsigned_abs()));
    }
}
