//! Generic keyspace commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, the EXPIRE family, TTL,
//! FLUSHDB/FLUSHALL, SWAPDB, MOVE, OBJECT.

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::config::custom::notify;
use crate::engine::session::Session;
use tine_core::base::{self, glob_match, parse_i64};
use tine_core::keyspace::Value;

/// DEL: big values are freed on the lazy-free thread when `lazyfree-lazy-user-del` says so.
pub(crate) fn del(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let lazy = srv.data.config.lazyfree_lazy_user_del;
    delete_keys(srv, c, argv, lazy)
}

/// UNLINK: DEL whose big values are always freed on the lazy-free thread.
pub(crate) fn unlink(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    delete_keys(srv, c, argv, true)
}

fn delete_keys(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, lazy: bool) -> CmdResult {
    let mut n = 0;
    for key in &argv[1..] {
        if srv.expire_if_needed(c.db, key) {
            continue;
        }
        if srv.data.keyspace.delete_with(c.db, key, lazy) {
            n += 1;
            srv.notify(notify::GENERIC, "del", key, c.db);
        }
    }
    srv.data.dirty += n as u64;
    c.add_int(n);
    Ok(())
}

pub(crate) fn exists(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut n = 0;
    for key in &argv[1..] {
        if srv.lookup_read_notouch(c.db, key, true).is_some() {
            n += 1;
        }
    }
    c.add_int(n);
    Ok(())
}

/// TOUCH: EXISTS that is an access (Redis's lookupKeyRead): the keys' LRU/LFU data moves.
pub(crate) fn touch(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut n = 0;
    for key in &argv[1..] {
        if srv.lookup_read(c.db, key).is_some() {
            n += 1;
        }
    }
    c.add_int(n);
    Ok(())
}

pub(crate) fn type_(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let t = srv.lookup_read_notouch(c.db, &argv[1], true).map(|v| v.type_name()).unwrap_or("none");
    c.add_simple(t);
    Ok(())
}

pub(crate) fn keys(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let pattern = &argv[1];
    let all = pattern.as_slice() == b"*";
    let now = srv.data.now_ms;
    let d = &srv.data.keyspace[c.db];
    let found: Vec<Vec<u8>> = d
        .iter()
        .filter(|(k, _)| all || glob_match(pattern, k, false))
        .filter(|(k, _)| !matches!(d.expire_of(k), Some(t) if t <= now))
        .map(|(k, _)| k.to_vec())
        .collect();
    c.add_bulk_array(found.iter());
    Ok(())
}

const INVALID_CURSOR: CmdError = CmdError::new("ERR", "ERR invalid cursor");

/// Parses a SCAN cursor as Redis's `parseScanCursorOrReply` does with `strtoul`: optional
/// '+' or '-' (which negates modulo 2^64, so "-1" is the largest cursor), decimal digits, the
/// whole argument consumed ("" is cursor 0), no leading space, no overflow. Err is "invalid
/// cursor".
pub(crate) fn scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    strtoul_cursor(arg).ok_or(INVALID_CURSOR)
}

fn strtoul_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod cursor_tests {
    use super::strtoul_cursor;

    #[test]
    fn cursor_parses_like_strtoul() {
        assert_eq!(strtoul_cursor(b"0"), Some(0));
        assert_eq!(strtoul_cursor(b""), Some(0));
        assert_eq!(strtoul_cursor(b"+5"), Some(5));
        assert_eq!(strtoul_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(strtoul_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(strtoul_cursor(b"18446744073709551616"), None);
        assert_eq!(strtoul_cursor(b" 1"), None);
        assert_eq!(strtoul_cursor(b"1x"), None);
        assert_eq!(strtoul_cursor(b"-"), None);
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub(crate) fn scan(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut cursor = scan_cursor(&argv[1])?;
    let mut pattern: Option<&[u8]> = None;
    let mut count: i64 = 10;
    let mut type_filter: Option<String> = None;
    let mut i = 2;
    while i < argv.len() {
        let opt = base::lower(&argv[i]);
        if i + 1 >= argv.len() {
            return Err(err::SYNTAX);
        }
        match opt.as_str() {
            "match" => pattern = Some(&argv[i + 1]),
            "count" => match parse_i64(&argv[i + 1]) {
                Some(n) if n >= 1 => count = n,
                Some(_) => return Err(err::SYNTAX),
                None => return Err(err::NOT_INTEGER),
            },
            "type" => type_filter = Some(base::lower(&argv[i + 1])),
            _ => return Err(err::SYNTAX),
        }
        i += 2;
    }
    let d = &srv.data.keyspace[c.db];
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut iterations = count * 10;
    loop {
        cursor = d.scan(cursor, |k, _| {
            if pattern.is_some_and(|p| !glob_match(p, k, false)) {
                return;
            }
            found.push(k.to_vec());
        });
        iterations -= 1;
        if cursor == 0 || found.len() as i64 >= count || iterations <= 0 {
            break;
        }
    }
    // As Redis 7.0's scanGenericCommand: with TYPE, each key is looked up
    // (lookupKeyReadWithFlags NOTOUCH: a key past its time is deleted and its TYPE is "none",
    // hits and misses are counted); keys past their time that passed the filters are deleted
    // (expireIfNeeded), not just left out.
    found.retain(|k| {
        if let Some(t) = type_filter.as_deref() {
            let ty = srv.lookup_read_notouch(c.db, k, true).map_or("none", |v| v.type_name());
            if ty != t {
                return false;
            }
        }
        !srv.expire_if_needed(c.db, k)
    });
    c.add_array(2);
    c.add_bulk(cursor.to_string().as_bytes());
    c.add_bulk_array(found.iter());
    Ok(())
}

pub(crate) fn randomkey(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    // A few tries to skip expired keys, as Redis's dbRandomKey: each one found is deleted,
    // counted and announced ("expired").
    for _ in 0..100 {
        let Some(k) = srv.data.keyspace[c.db].random_key().map(|k| k.to_vec()) else {
            break;
        };
        if srv.expire_if_needed(c.db, &k) {
            continue;
        }
        c.add_bulk(&k);
        return Ok(());
    }
    c.add_null();
    Ok(())
}

fn rename_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, nx: bool) -> CmdResult {
    let (src, dst) = (&argv[1], &argv[2]);
    let now = srv.data.now_ms;
    let (ks, dbi) = (&mut srv.data.keyspace, c.db);
    if ks.lookup(dbi, src, now).is_none() {
        return Err(err::NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            c.add_int(0);
        } else {
            c.add_ok();
        }
        return Ok(());
    }
    if nx && ks.contains(dbi, dst, now) {
        c.add_int(0);
        return Ok(());
    }
    let expire = ks[dbi].expire_of(src);
    let value = ks.remove(dbi, src).expect("checked above");
    ks.delete(dbi, dst);
    ks.set(dbi, dst, value, false);
    if expire.is_some() {
        ks.set_expire(dbi, dst, expire);
    }
    srv.data.dirty += 1;
    srv.notify(notify::GENERIC, "rename_from", src, c.db);
    srv.notify(notify::GENERIC, "rename_to", dst, c.db);
    if nx {
        c.add_int(1);
    } else {
        c.add_ok();
    }
    Ok(())
}

pub(crate) fn rename(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    rename_generic(srv, c, argv, false)
}

pub(crate) fn renamenx(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    rename_generic(srv, c, argv, true)
}

/// The EXPIRE family: `unit_ms` 1000 or 1, `absolute` for the *AT forms.
fn expire_generic(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    unit_ms: i64,
    absolute: bool,
) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &argv[3..] {
        match base::lower(a).as_str() {
            "nx" => nx = true,
            "xx" => xx = true,
            "gt" => gt = true,
            "lt" => lt = true,
            _ => {
                return Err(CmdError::err_echo("Unsupported option ", a, None, ""));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::err("GT and LT options at the same time are not compatible"));
    }
    // The time is read after the flags, as Redis 7.0 does: a flag error wins.
    let Some(n) = parse_i64(&argv[2]) else {
        return Err(err::NOT_INTEGER);
    };
    let name = base::lower(&argv[0]);
    let when = n
        .checked_mul(unit_ms)
        .and_then(|ms| if absolute { Some(ms) } else { ms.checked_add(srv.data.now_ms) });
    let Some(when) = when else {
        return Err(CmdError::err(&format!("invalid expire time in '{}' command", name)));
    };
    let now = srv.data.now_ms;
    let (ks, dbi) = (&mut srv.data.keyspace, c.db);
    if ks.lookup(dbi, &argv[1], now).is_none() {
        c.add_int(0);
        return Ok(());
    }
    let current = ks[dbi].expire_of(&argv[1]);
    let ok = match current {
        None => !(xx || gt),
        Some(t) => !nx && !(gt && when <= t) && !(lt && when >= t),
    };
    if !ok {
        c.add_int(0);
        return Ok(());
    }
    let event = if when <= now {
        ks.delete(dbi, &argv[1]);
        "del"
    } else {
        ks.set_expire(dbi, &argv[1], Some(when));
        "expire"
    };
    // Propagated as its effect: an absolute PEXPIREAT, or the DEL of a time already past.
    if event == "del" {
        srv.propagate_as(crate::engine::feed::argv(&[b"DEL", &argv[1]]));
    } else {
        srv.propagate_as(crate::engine::feed::argv(&[
            b"PEXPIREAT",
            &argv[1],
            when.to_string().as_bytes(),
        ]));
    }
    srv.data.dirty += 1;
    srv.notify(notify::GENERIC, event, &argv[1], c.db);
    c.add_int(1);
    Ok(())
}

pub(crate) fn expire(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    expire_generic(srv, c, argv, 1000, false)
}
pub(crate) fn pexpire(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    expire_generic(srv, c, argv, 1, false)
}
pub(crate) fn expireat(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    expire_generic(srv, c, argv, 1000, true)
}
pub(crate) fn pexpireat(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    expire_generic(srv, c, argv, 1, true)
}

/// TTL-like replies: -2 missing, -1 no expiry, else the figure from `f(expire_at_ms, now)`.
fn ttl_generic(srv: &mut Ctx<'_>, c: &mut Session, key: &[u8], f: impl Fn(i64, i64) -> i64) {
    let now = srv.data.now_ms;
    if srv.lookup_read_notouch(c.db, key, true).is_none() {
        c.add_int(-2);
        return;
    }
    match srv.data.keyspace[c.db].expire_of(key) {
        None => c.add_int(-1),
        Some(t) => c.add_int(f(t, now)),
    }
}

pub(crate) fn ttl(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    ttl_generic(srv, c, &argv[1], |t, now| ((t - now).max(0) + 500) / 1000);
    Ok(())
}
pub(crate) fn pttl(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    ttl_generic(srv, c, &argv[1], |t, now| (t - now).max(0));
    Ok(())
}
pub(crate) fn expiretime(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    ttl_generic(srv, c, &argv[1], |t, _| t / 1000);
    Ok(())
}
pub(crate) fn pexpiretime(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    ttl_generic(srv, c, &argv[1], |t, _| t);
    Ok(())
}

pub(crate) fn persist(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let now = srv.data.now_ms;
    let (ks, dbi) = (&mut srv.data.keyspace, c.db);
    if ks.lookup(dbi, &argv[1], now).is_some() && ks[dbi].expire_of(&argv[1]).is_some() {
        ks.set_expire(dbi, &argv[1], None);
        srv.data.dirty += 1;
        srv.notify(notify::GENERIC, "persist", &argv[1], c.db);
        c.add_int(1);
    } else {
        c.add_int(0);
    }
    Ok(())
}

/// Checks the optional ASYNC|SYNC of FLUSHDB/FLUSHALL: Err is a syntax error.
///
/// Every flush here frees the values before replying, ASYNC included (tine has no lazy-free
/// thread), so every flush then purges jemalloc's dirty pages, as Redis does after a
/// synchronous one: the dataset is gone, and without the purge its pages would stay resident
/// until they decay, or for good on an idle server without jemalloc's background thread.
/// (Redis skips the purge after ASYNC only because its pages are not freed yet then.)
/// FLUSHDB/FLUSHALL's mode: true to free on the lazy-free thread (ASYNC, or no mode with
/// `lazyfree-lazy-user-flush yes`).
fn flush_is_lazy(srv: &Ctx<'_>, argv: &Argv) -> Result<bool, CmdError> {
    match argv.get(1).map(|a| base::lower(a)) {
        None => Ok(srv.data.config.lazyfree_lazy_user_flush),
        Some(m) if m == "async" && argv.len() == 2 => Ok(true),
        Some(m) if m == "sync" && argv.len() == 2 => Ok(false),
        _ => Err(err::SYNTAX),
    }
}

pub(crate) fn flushdb(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let lazy = flush_is_lazy(srv, argv)?;
    let n = srv.data.keyspace.clear_with(c.db, lazy);
    srv.data.dirty += n as u64;
    // An empty db changes nothing, but FLUSHDB is propagated all the same (as Redis forces it).
    srv.data.prop.force_propagation();
    c.add_ok();
    // Not while a fork child lives: a purge of pages it shares copies them (issue 15).
    if !srv.data.keyspace.fork_active() {
        crate::engine::memory::purge();
    }
    Ok(())
}

pub(crate) fn flushall(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let lazy = flush_is_lazy(srv, argv)?;
    let n = srv.data.keyspace.clear_all_with(lazy);
    srv.data.dirty += n as u64 + 1;
    crate::persist::snapshot::flushall_reset_rdb(&mut *srv.data);
    // The save made with save points resets the dirty counter, and empty databases change
    // nothing: FLUSHALL reaches the AOF and the replicas all the same, as Redis forces it.
    srv.data.prop.force_propagation();
    c.add_ok();
    // Not while a fork child lives: a purge of pages it shares copies them (issue 15).
    if !srv.data.keyspace.fork_active() {
        crate::engine::memory::purge();
    }
    Ok(())
}

/// MOVE's target database: Redis reads it with getIntFromObjectOrReply, so anything that is
/// not a 32-bit integer is "value is not an integer or out of range".
fn parse_db_index(srv: &Ctx<'_>, arg: &[u8]) -> Result<usize, CmdError> {
    match parse_i64(arg).filter(|&i| i32::try_from(i).is_ok()) {
        None => Err(err::NOT_INTEGER),
        Some(i) if i < 0 || i as usize >= srv.data.keyspace.len() => Err(err::DB_INDEX),
        Some(i) => Ok(i as usize),
    }
}

const SAME_OBJECT: CmdError =
    CmdError::new("ERR", "ERR source and destination objects are the same");

pub(crate) fn swapdb(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let (Some(a), Some(b)) = (parse_i64(&argv[1]), parse_i64(&argv[2])) else {
        return Err(CmdError::err("invalid first DB index"));
    };
    let n = srv.data.keyspace.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(err::DB_INDEX);
    }
    if a != b {
        let (lo, hi) = (a.min(b) as usize, a.max(b) as usize);
        srv.data.keyspace.swap(lo, hi);
        srv.data.dirty += 1;
    }
    c.add_ok();
    Ok(())
}

pub(crate) fn move_(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let dst = parse_db_index(srv, &argv[2])?;
    if dst == c.db {
        return Err(SAME_OBJECT);
    }
    if srv.lookup_read_nostats(c.db, &argv[1]).is_none()
        || srv.lookup_read_nostats(dst, &argv[1]).is_some()
    {
        c.add_int(0);
        return Ok(());
    }
    let expire = srv.data.keyspace[c.db].expire_of(&argv[1]);
    let v = srv.data.keyspace.remove(c.db, &argv[1]).expect("checked");
    srv.data.keyspace.set(dst, &argv[1], v, false);
    if expire.is_some() {
        srv.data.keyspace.set_expire(dst, &argv[1], expire);
    }
    srv.data.dirty += 1;
    srv.notify(notify::GENERIC, "move_from", &argv[1], c.db);
    srv.notify(notify::GENERIC, "move_to", &argv[1], dst);
    c.add_int(1);
    Ok(())
}

pub(crate) fn object_encoding(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match srv.lookup_read_notouch(c.db, &argv[2], false) {
        Some(v) => {
            let e = v.encoding();
            c.add_bulk(e.as_bytes());
        }
        None => c.add_null(),
    }
    Ok(())
}

pub(crate) fn object_refcount(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match srv.lookup_read_notouch(c.db, &argv[2], false) {
        // Redis shares small integers (refcount INT_MAX); tine never shares values.
        Some(_) => c.add_int(1),
        None => c.add_null(),
    }
    Ok(())
}

pub(crate) fn object_idletime(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if srv.lookup_read_notouch(c.db, &argv[2], false).is_none() {
        c.add_null();
        return Ok(());
    }
    if srv.data.config.maxmemory_policy.is_lfu() {
        return Err(CmdError::err(
            "An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    let meta = srv.data.keyspace[c.db].access_meta(&argv[2]).unwrap_or(0);
    c.add_int((tine_core::types::access::idle_ms(meta) / 1000) as i64);
    Ok(())
}

pub(crate) fn object_freq(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if srv.lookup_read_notouch(c.db, &argv[2], false).is_none() {
        c.add_null();
        return Ok(());
    }
    if !srv.data.config.maxmemory_policy.is_lfu() {
        return Err(CmdError::err(
            "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    let meta = srv.data.keyspace[c.db].access_meta(&argv[2]).unwrap_or(0);
    c.add_int(tine_core::types::access::lfu_decr_and_return(meta) as i64);
    Ok(())
}

pub(crate) fn object_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    super::reply_help(
        c,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}

/// COPY source destination [DB destination-db] [REPLACE]. The value is deep-copied through
/// the DUMP codec, which keeps its encoding as Redis's COPY does.
pub(crate) fn copy(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut dst_db = c.db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        match base::lower(&argv[i]).as_str() {
            "replace" => replace = true,
            "db" if i + 1 < argv.len() => {
                match parse_i64(&argv[i + 1]) {
                    Some(n) if n >= 0 && (n as usize) < srv.data.keyspace.len() => {
                        dst_db = n as usize
                    }
                    Some(_) => return Err(err::DB_INDEX),
                    None => return Err(err::NOT_INTEGER),
                }
                i += 1;
            }
            _ => return Err(err::SYNTAX),
        }
        i += 1;
    }
    let (src, dst) = (&argv[1], &argv[2]);
    if dst_db == c.db && src == dst {
        return Err(SAME_OBJECT);
    }
    // Strings are cloned as they are: Redis's dupStringObject keeps "raw", "embstr" or "int",
    // which a trip through the DUMP codec would not.
    let (payload, string) = match srv.lookup_read(c.db, src) {
        None => {
            c.add_int(0);
            return Ok(());
        }
        Some(Value::Str(s)) => (Vec::new(), Some(s.clone())),
        Some(v) => (tine_core::rdb::dump::dump_payload(v, false), None),
    };
    let expire = srv.data.keyspace[c.db].expire_of(src);
    srv.expire_if_needed(dst_db, dst);
    if srv.data.keyspace[dst_db].peek(dst).is_some() && !replace {
        c.add_int(0);
        return Ok(());
    }
    let limits = srv.data.config.load_limits();
    let value = match string {
        Some(s) => Value::Str(s),
        None => match tine_core::rdb::dump::restore_payload(&payload, &limits) {
            Ok(v) => v,
            Err(e) => return Err(CmdError::err(&format!("COPY failed: {}", e))),
        },
    };
    let (ks, dbi) = (&mut srv.data.keyspace, dst_db);
    ks.delete(dbi, dst);
    ks.set(dbi, dst, value, false);
    if expire.is_some() {
        ks.set_expire(dbi, dst, expire);
    }
    srv.data.dirty += 1;
    srv.notify(notify::GENERIC, "copy_to", dst, dst_db);
    c.add_int(1);
    Ok(())
}
