//! DUMP and RESTORE: one value serialized as Redis 7.0's payload (`persist::rdb::dump`), so
//! keys move between tine and Redis (MIGRATE-style tooling, redis-cli --rdb users).

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::engine::session::Session;
use tine_core::base::{self, parse_i64};
use tine_core::log;
use tine_core::log::Level;
use tine_core::rdb::RdbError;
use tine_core::rdb::dump::{dump_payload, restore_payload};

pub(crate) const BUSYKEY: CmdError =
    CmdError::new("BUSYKEY", "BUSYKEY Target key name already exists.");
pub(crate) const BAD_PAYLOAD: CmdError =
    CmdError::new("ERR", "ERR DUMP payload version or checksum are wrong");
pub(crate) const BAD_DATA: CmdError = CmdError::new("ERR", "ERR Bad data format");

/// `DEBUG SET-SKIP-CHECKSUM-VALIDATION`: RESTORE does not check payloads' CRC (process-wide,
/// as Redis's server.skip_checksum_validation; the suite's corrupt-dump tests use it).
static SKIP_CHECKSUM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn set_skip_checksum_validation(on: bool) {
    SKIP_CHECKSUM.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// A RESTORE payload's value: the footer's version and CRC checked (the CRC not while
/// checksum validation is skipped), then the value decoded and validated.
fn restore_checked(
    p: &[u8],
    limits: &tine_core::rdb::LoadLimits,
) -> Result<tine_core::types::value::Value, RdbError> {
    if !SKIP_CHECKSUM.load(std::sync::atomic::Ordering::Relaxed) || p.len() < 10 {
        return restore_payload(p, limits);
    }
    // The payload with its CRC made right: the version is still checked as usual.
    let mut fixed = p.to_vec();
    let at = fixed.len() - 8;
    let crc = tine_core::rdb::crc64::crc64(&fixed[..at]);
    fixed[at..].copy_from_slice(&crc.to_le_bytes());
    restore_payload(&fixed, limits)
}
pub(crate) const BAD_TTL: CmdError = CmdError::new("ERR", "ERR Invalid TTL value, must be >= 0");
pub(crate) const BAD_IDLETIME: CmdError =
    CmdError::new("ERR", "ERR Invalid IDLETIME value, must be >= 0");
pub(crate) const BAD_FREQ: CmdError =
    CmdError::new("ERR", "ERR Invalid FREQ value, must be >= 0 and <= 255");

/// DUMP key
pub(crate) fn dump(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let compression = srv.data.config.rdbcompression;
    match srv.lookup_read(c.db, &argv[1]) {
        None => c.add_null(),
        Some(v) => {
            let p = dump_payload(v, compression);
            c.add_bulk(&p);
        }
    }
    Ok(())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
pub(crate) fn restore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut replace = false;
    let mut absttl = false;
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut j = 4;
    while j < argv.len() {
        let more = argv.len() - j - 1;
        match base::lower(&argv[j]).as_str() {
            "replace" => replace = true,
            "absttl" => absttl = true,
            "idletime" if more >= 1 && freq.is_none() => {
                let n = parse_i64(&argv[j + 1]).ok_or(err::NOT_INTEGER)?;
                if n < 0 {
                    return Err(BAD_IDLETIME);
                }
                idle = Some(n);
                j += 1;
            }
            "freq" if more >= 1 && idle.is_none() => {
                let n = parse_i64(&argv[j + 1]).ok_or(err::NOT_INTEGER)?;
                if !(0..=255).contains(&n) {
                    return Err(BAD_FREQ);
                }
                freq = Some(n);
                j += 1;
            }
            _ => return Err(err::SYNTAX),
        }
        j += 1;
    }
    let key = &argv[1];
    if !replace && srv.lookup_write(c.db, key).is_some() {
        return Err(BUSYKEY);
    }
    let mut ttl = parse_i64(&argv[2]).ok_or(err::NOT_INTEGER)?;
    if ttl < 0 {
        return Err(BAD_TTL);
    }
    let limits = srv.data.config.load_limits();
    let value = match restore_checked(&argv[3], &limits) {
        Ok(v) => v,
        Err(RdbError::BadPayloadFooter) => return Err(BAD_PAYLOAD),
        Err(e) => {
            // Redis's rdbReportError in a RESTORE: logged at verbose level, the server stays.
            log!(
                Level::Verbose,
                "Internal error in RDB reading offset 0, function at rdb.c:0 -> {}",
                e
            );
            return Err(BAD_DATA);
        }
    };
    let now = srv.data.now_ms;
    let (ks, dbi) = (&mut srv.data.keyspace, c.db);
    let deleted = replace && ks.delete(dbi, key);
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(now);
    }
    if ttl != 0 && ttl <= now {
        // Already expired: the key is not created (an old one REPLACE removed stays removed).
        if deleted {
            srv.data.dirty += 1;
            srv.propagate_as(crate::engine::feed::argv(&[b"DEL", key]));
        }
        c.add_ok();
        return Ok(());
    }
    ks.insert_new(dbi, key.as_slice().into(), value);
    if ttl != 0 {
        ks.set_expire(dbi, key, Some(ttl));
        if !absttl {
            // A relative TTL is propagated as the absolute time it stood for.
            let mut p = argv.to_vec();
            p[2] = ttl.to_string().into_bytes();
            p.push(b"ABSTTL".to_vec());
            srv.propagate_as(p);
        }
    }
    if let Some(meta) = tine_core::types::access::from_idle_or_freq(idle, freq) {
        srv.data.keyspace.set_access_meta(c.db, key, meta);
    }
    srv.data.dirty += 1;
    c.add_ok();
    Ok(())
}
