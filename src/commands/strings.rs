//! String commands: GET, SET and its variants, counters, ranges.

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::config::custom::notify;
use crate::engine::session::Session;
use tine_core::base::longdouble::LongDouble;
use tine_core::base::{self, parse_i64};
use tine_core::keyspace::{Str, Value};

/// Largest string SETRANGE/APPEND may build (Redis checks proto-max-bulk-len): the error
/// when `len` is over it.
fn check_string_length(srv: &Ctx<'_>, len: u64) -> CmdResult {
    if len > srv.data.config.proto_max_bulk_len as u64 {
        return Err(err::STRING_TOO_LONG);
    }
    Ok(())
}

/// The string at `key` in `db` (None if missing), or WRONGTYPE.
fn get_str<'a>(srv: &'a mut Ctx<'_>, db: usize, key: &[u8]) -> Result<Option<&'a Str>, CmdError> {
    match srv.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// Like `get_str` for commands that write the key (INCR, APPEND, SETRANGE, ...): Redis
/// looks those up with lookupKeyWrite, which counts no keyspace hit or miss.
fn get_str_for_write<'a>(
    srv: &'a mut Ctx<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a Str>, CmdError> {
    match srv.lookup_read_nostats(db, key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn reply_str(c: &mut Session, s: Option<&Str>) {
    match s {
        Some(s) => {
            let mut b = itoa::Buffer::new();
            c.add_bulk(s.bytes(&mut b));
        }
        None => c.add_null(),
    }
}

pub(crate) fn get(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = get_str(srv, c.db, &argv[1])?;
    reply_str(c, s);
    Ok(())
}

/// How a SET-like command sets the expiry.
#[derive(Clone, Copy, PartialEq)]
enum Expiry {
    Keep,
    None,
    At(i64),
}

/// Parses an expire amount in `unit_ms` (1000 for seconds) as absolute or relative: the
/// absolute time in ms, or the error.
fn parse_expire(
    srv: &Ctx<'_>,
    arg: &[u8],
    unit_ms: i64,
    absolute: bool,
    cmd: &str,
) -> Result<i64, CmdError> {
    let Some(n) = parse_i64(arg) else {
        return Err(err::NOT_INTEGER);
    };
    let ms = n.checked_mul(unit_ms);
    let when = ms.and_then(|ms| if absolute { Some(ms) } else { ms.checked_add(srv.data.now_ms) });
    match when {
        Some(w) if n > 0 => Ok(w),
        _ => Err(CmdError::err(&format!("invalid expire time in '{}' command", cmd))),
    }
}

/// Stores a string, applying an expiry choice.
fn store(srv: &mut Ctx<'_>, db: usize, key: &[u8], value: Str, expiry: Expiry) {
    // As Redis's setKey (lookupKeyWrite first): a key already past its expiry is deleted
    // (counted, announced, propagated as DEL) before the new value goes in, so KEEPTTL never
    // keeps a time that has passed. Free when the db has no expiring key.
    srv.expire_if_needed(db, key);
    let (ks, dbi) = (&mut srv.data.keyspace, db);
    ks.set(dbi, key, Value::Str(value), expiry == Expiry::Keep);
    if let Expiry::At(t) = expiry {
        ks.set_expire(dbi, key, Some(t));
    }
    srv.data.dirty += 1;
    srv.notify(notify::STRING, "set", key, db);
    if let Expiry::At(_) = expiry {
        srv.notify(notify::GENERIC, "expire", key, db);
    }
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
pub(crate) fn set(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let (mut nx, mut xx, mut get, mut expiry) = (false, false, false, Expiry::None);
    // The expiry option given so far: Redis accepts the same one again (the last wins), not
    // another.
    let mut expire_opt: Option<String> = None;
    let mut pending: Option<(&Vec<u8>, i64, bool)> = None;
    let mut i = 3;
    while i < argv.len() {
        let opt = base::lower(&argv[i]);
        let next = argv.get(i + 1);
        match opt.as_str() {
            "nx" if !xx => nx = true,
            "xx" if !nx => xx = true,
            "get" => get = true,
            "keepttl" if expire_opt.as_ref().is_none_or(|o| *o == opt) => {
                expiry = Expiry::Keep;
                expire_opt = Some(opt);
            }
            "ex" | "px" | "exat" | "pxat"
                if expire_opt.as_ref().is_none_or(|o| *o == opt) && next.is_some() =>
            {
                let unit = if opt == "ex" || opt == "exat" { 1000 } else { 1 };
                pending = Some((next.unwrap(), unit, opt.ends_with("at")));
                expire_opt = Some(opt);
                i += 1;
            }
            _ => return Err(err::SYNTAX),
        }
        i += 1;
    }
    // The time is checked once every option is read: a syntax error wins (Redis 7.0).
    if let Some((arg, unit, absolute)) = pending {
        expiry = Expiry::At(parse_expire(srv, arg, unit, absolute, "set")?);
    }
    let key = &argv[1];
    let exists;
    if get {
        let old = get_str(srv, c.db, key)?;
        exists = old.is_some();
        reply_str(c, old);
    } else if nx || xx {
        exists = srv.lookup_read_nostats(c.db, key).is_some();
    } else {
        exists = false; // not needed: the key is set either way
    }
    if (nx && exists) || (xx && !exists) {
        if !get {
            c.add_null();
        }
        return Ok(());
    }
    store(srv, c.db, key, Str::from_bytes(&argv[2]), expiry);
    // A relative or second-based expiry is propagated as the absolute ms it stood for.
    if let Expiry::At(t) = expiry {
        srv.propagate_as(crate::engine::feed::argv(&[
            b"SET",
            key,
            &argv[2],
            b"PXAT",
            t.to_string().as_bytes(),
        ]));
    } else if get {
        // The GET option is not propagated, as Redis 7.0.
        let p: Vec<Vec<u8>> = argv
            .iter()
            .enumerate()
            .filter(|(i, a)| *i < 3 || !a.eq_ignore_ascii_case(b"get"))
            .map(|(_, a)| a.clone())
            .collect();
        srv.propagate_as(p);
    }
    if !get {
        c.add_ok();
    }
    Ok(())
}

pub(crate) fn setnx(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if srv.lookup_read_nostats(c.db, &argv[1]).is_some() {
        c.add_int(0);
    } else {
        store(srv, c.db, &argv[1], Str::from_bytes(&argv[2]), Expiry::None);
        c.add_int(1);
    }
    Ok(())
}

fn setex_generic(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    unit: i64,
    name: &str,
) -> CmdResult {
    let t = parse_expire(srv, &argv[2], unit, false, name)?;
    store(srv, c.db, &argv[1], Str::from_bytes(&argv[3]), Expiry::At(t));
    srv.propagate_as(crate::engine::feed::argv(&[
        b"SET",
        &argv[1],
        &argv[3],
        b"PXAT",
        t.to_string().as_bytes(),
    ]));
    c.add_ok();
    Ok(())
}

pub(crate) fn setex(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    setex_generic(srv, c, argv, 1000, "setex")
}

pub(crate) fn psetex(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    setex_generic(srv, c, argv, 1, "psetex")
}

pub(crate) fn getset(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let old = get_str(srv, c.db, &argv[1])?;
    reply_str(c, old);
    store(srv, c.db, &argv[1], Str::from_bytes(&argv[2]), Expiry::None);
    srv.propagate_as(crate::engine::feed::argv(&[b"SET", &argv[1], &argv[2]]));
    Ok(())
}

pub(crate) fn getdel(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let old = get_str(srv, c.db, &argv[1])?;
    let found = old.is_some();
    reply_str(c, old);
    if found {
        srv.data.keyspace.delete(c.db, &argv[1]);
        srv.propagate_as(crate::engine::feed::argv(&[b"DEL", &argv[1]]));
        srv.data.dirty += 1;
        srv.notify(notify::GENERIC, "del", &argv[1], c.db);
    }
    Ok(())
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]
pub(crate) fn getex(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    enum Change {
        None,
        Persist,
        At(i64),
    }
    let mut change = Change::None;
    let mut pending: Option<(&Vec<u8>, i64, bool)> = None;
    // As SET: the same option may come again, another may not.
    let mut given: Option<String> = None;
    let mut i = 2;
    while i < argv.len() {
        let opt = base::lower(&argv[i]);
        let next = argv.get(i + 1);
        match opt.as_str() {
            "persist" if given.as_ref().is_none_or(|o| *o == opt) => {
                change = Change::Persist;
                given = Some(opt);
            }
            "ex" | "px" | "exat" | "pxat"
                if given.as_ref().is_none_or(|o| *o == opt) && next.is_some() =>
            {
                let unit = if opt == "ex" || opt == "exat" { 1000 } else { 1 };
                pending = Some((next.unwrap(), unit, opt.ends_with("at")));
                change = Change::At(0);
                given = Some(opt);
                i += 1;
            }
            _ => return Err(err::SYNTAX),
        }
        i += 1;
    }
    // Redis 7.0's order: options, then the key (missing: nil whatever the time), then the
    // time's validity, and only then the reply.
    if get_str(srv, c.db, &argv[1])?.is_none() {
        c.add_null();
        return Ok(());
    }
    if let Some((arg, unit, absolute)) = pending {
        change = Change::At(parse_expire(srv, arg, unit, absolute, "getex")?);
    }
    let val = srv.data.keyspace[c.db].peek(&argv[1]);
    if let Some(Value::Str(s)) = val {
        let mut b = itoa::Buffer::new();
        c.add_bulk(s.bytes(&mut b));
    }
    let now = srv.data.now_ms;
    let (ks, dbi) = (&mut srv.data.keyspace, c.db);
    match change {
        Change::None => {}
        Change::Persist => {
            if ks[dbi].expire_of(&argv[1]).is_some() {
                ks.set_expire(dbi, &argv[1], None);
                srv.propagate_as(crate::engine::feed::argv(&[b"PERSIST", &argv[1]]));
                srv.data.dirty += 1;
                srv.notify(notify::GENERIC, "persist", &argv[1], c.db);
            }
        }
        Change::At(t) => {
            let event = if t <= now {
                ks.delete(dbi, &argv[1]);
                srv.propagate_as(crate::engine::feed::argv(&[b"DEL", &argv[1]]));
                "del"
            } else {
                ks.set_expire(dbi, &argv[1], Some(t));
                srv.propagate_as(crate::engine::feed::argv(&[
                    b"PEXPIREAT",
                    &argv[1],
                    t.to_string().as_bytes(),
                ]));
                "expire"
            };
            srv.data.dirty += 1;
            srv.notify(notify::GENERIC, event, &argv[1], c.db);
        }
    }
    Ok(())
}

pub(crate) fn mget(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    c.add_array(argv.len() - 1);
    for key in &argv[1..] {
        match srv.lookup_read(c.db, key) {
            Some(Value::Str(s)) => {
                let mut b = itoa::Buffer::new();
                c.add_bulk(s.bytes(&mut b));
            }
            _ => c.add_null(),
        }
    }
    Ok(())
}

pub(crate) fn mset(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(CmdError::new("ERR", "ERR wrong number of arguments for 'mset' command"));
    }
    for pair in argv[1..].chunks(2) {
        store(srv, c.db, &pair[0], Str::from_bytes(&pair[1]), Expiry::None);
    }
    c.add_ok();
    Ok(())
}

pub(crate) fn msetnx(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(CmdError::new("ERR", "ERR wrong number of arguments for 'msetnx' command"));
    }
    if argv[1..].chunks(2).any(|p| srv.lookup_read_nostats(c.db, &p[0]).is_some()) {
        c.add_int(0);
        return Ok(());
    }
    for pair in argv[1..].chunks(2) {
        store(srv, c.db, &pair[0], Str::from_bytes(&pair[1]), Expiry::None);
    }
    c.add_int(1);
    Ok(())
}

pub(crate) fn strlen(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = get_str(srv, c.db, &argv[1])?;
    let n = s.map(|s| s.len()).unwrap_or(0);
    c.add_int(n as i64);
    Ok(())
}

pub(crate) fn append(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let old = get_str_for_write(srv, c.db, &argv[1])?;
    // Appending to a missing key stores the argument as SET would (Redis dbAdds the
    // argument object: "int" or "embstr"); only a real append yields "raw".
    let created = old.is_none();
    let mut v = old.map(|s| s.to_vec()).unwrap_or_default();
    check_string_length(srv, (v.len() + argv[2].len()) as u64)?;
    v.extend_from_slice(&argv[2]);
    let len = v.len();
    let value = if created { Str::from_bytes(&v) } else { Str::from_modified(v) };
    let (ks, dbi) = (&mut srv.data.keyspace, c.db);
    ks.set(dbi, &argv[1], Value::Str(value), true);
    srv.data.dirty += 1;
    srv.notify(notify::STRING, "append", &argv[1], c.db);
    c.add_int(len as i64);
    Ok(())
}

/// Redis's range arithmetic for GETRANGE: negative from the end, clamped.
pub(crate) fn getrange(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let (Some(mut start), Some(mut end)) = (parse_i64(&argv[2]), parse_i64(&argv[3])) else {
        return Err(err::NOT_INTEGER);
    };
    let s = get_str(srv, c.db, &argv[1])?;
    let mut buf = itoa::Buffer::new();
    let bytes: &[u8] = match s {
        Some(s) => s.bytes(&mut buf),
        None => b"",
    };
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        c.add_bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    end = end.min(len - 1);
    if start > end || len == 0 {
        c.add_bulk(b"");
        return Ok(());
    }
    let out = bytes[start as usize..=end as usize].to_vec();
    c.add_bulk(&out);
    Ok(())
}

pub(crate) fn setrange(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let Some(offset) = parse_i64(&argv[2]) else {
        return Err(err::NOT_INTEGER);
    };
    if offset < 0 {
        return Err(CmdError::new("ERR", "ERR offset is out of range"));
    }
    let old = get_str_for_write(srv, c.db, &argv[1])?;
    let mut v = old.map(|s| s.to_vec()).unwrap_or_default();
    let patch = &argv[3];
    if patch.is_empty() {
        c.add_int(v.len() as i64);
        return Ok(());
    }
    let need = offset as u64 + patch.len() as u64;
    check_string_length(srv, need)?;
    if v.len() < need as usize {
        v.resize(need as usize, 0);
    }
    v[offset as usize..need as usize].copy_from_slice(patch);
    let len = v.len();
    srv.data.keyspace.set(c.db, &argv[1], Value::Str(Str::from_modified(v)), true);
    srv.data.dirty += 1;
    srv.notify(notify::STRING, "setrange", &argv[1], c.db);
    c.add_int(len as i64);
    Ok(())
}

fn incr_by(srv: &mut Ctx<'_>, c: &mut Session, key: &[u8], by: i64) -> CmdResult {
    // One lookup: the counter is updated in place (INCR is the hottest write of many workloads).
    let db = c.db;
    srv.expire_if_needed(db, key);
    let now = srv.data.now_ms;
    let (value, created) =
        srv.data.keyspace.get_or_create(db, key, now, || Value::Str(Str::from_i64(0)));
    let new = match (value, created) {
        (Value::Str(s), _) => {
            let Some(cur) = s.as_i64() else {
                return Err(err::NOT_INTEGER);
            };
            let Some(new) = cur.checked_add(by) else {
                return Err(err::OVERFLOW);
            };
            *s = Str::from_i64(new);
            new
        }
        (_, _) => return Err(err::WRONGTYPE),
    };
    srv.data.dirty += 1;
    srv.notify(notify::STRING, "incrby", key, db);
    c.add_int(new);
    Ok(())
}

pub(crate) fn incr(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    incr_by(srv, c, &argv[1], 1)
}

pub(crate) fn decr(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    incr_by(srv, c, &argv[1], -1)
}

pub(crate) fn incrby(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match parse_i64(&argv[2]) {
        Some(n) => incr_by(srv, c, &argv[1], n),
        None => Err(err::NOT_INTEGER),
    }
}

pub(crate) fn decrby(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match parse_i64(&argv[2]) {
        Some(n) if n != i64::MIN => incr_by(srv, c, &argv[1], -n),
        Some(_) => Err(CmdError::err("decrement would overflow")),
        None => Err(err::NOT_INTEGER),
    }
}

/// INCRBYFLOAT in Redis's `long double` (`base::longdouble`): the same digits as
/// redis-server, and its range (to about 1.2e4932).
pub(crate) fn incrbyfloat(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    // Redis checks the key's type before reading the increment.
    let old = get_str_for_write(srv, c.db, &argv[1])?;
    let cur = match old {
        None => LongDouble::ZERO,
        Some(s) => match LongDouble::parse(&s.to_vec()) {
            Some(v) => v,
            None => return Err(err::NOT_FLOAT),
        },
    };
    let Some(by) = LongDouble::parse(&argv[2]) else {
        return Err(err::NOT_FLOAT);
    };
    let Some(text) = (cur + by).to_human() else {
        return Err(CmdError::new("ERR", "ERR increment would produce NaN or Infinity"));
    };
    // Redis stores the result as a plain string object, never int-encoded.
    srv.data.keyspace.set(c.db, &argv[1], Value::Str(Str::from_text(text.as_bytes())), true);
    // Float formatting may differ between machines: the result is propagated, not the step.
    srv.propagate_as(crate::engine::feed::argv(&[b"SET", &argv[1], text.as_bytes(), b"KEEPTTL"]));
    srv.data.dirty += 1;
    srv.notify(notify::STRING, "incrbyfloat", &argv[1], c.db);
    c.add_bulk(text.as_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Bit operations

/// Largest bit offset: strings are at most 512 MiB (Redis's checkBitOffset with the default
/// proto-max-bulk-len). The offset, or the error.
fn parse_bit_offset(srv: &Ctx<'_>, arg: &[u8]) -> Result<u64, CmdError> {
    let max_bits = (srv.data.config.proto_max_bulk_len as u64) * 8;
    match parse_i64(arg) {
        Some(n) if n >= 0 && (n as u64) < max_bits => Ok(n as u64),
        _ => Err(CmdError::new("ERR", "ERR bit offset is not an integer or out of range")),
    }
}

pub(crate) fn setbit(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let offset = parse_bit_offset(srv, &argv[2])?;
    let on = match argv[3].as_slice() {
        b"0" => false,
        b"1" => true,
        _ => return Err(CmdError::new("ERR", "ERR bit is not an integer or out of range")),
    };
    let old = get_str(srv, c.db, &argv[1])?;
    let existed = old.is_some();
    // Redis makes the string raw (dbUnshareStringValue) even when nothing changes.
    let raw = old.is_some_and(|s| s.encoding() == "raw");
    let mut v = old.map(|s| s.to_vec()).unwrap_or_default();
    let byte = (offset >> 3) as usize;
    // Created or grown: a change even when the bit stays as it was (Redis 7.0).
    let grown = !existed || v.len() <= byte;
    if v.len() <= byte {
        v.resize(byte + 1, 0);
    }
    let mask = 1u8 << (7 - (offset & 7));
    let was = v[byte] & mask != 0;
    if grown || was != on {
        if on {
            v[byte] |= mask;
        } else {
            v[byte] &= !mask;
        }
        srv.data.keyspace.set(c.db, &argv[1], Value::Str(Str::from_modified(v)), true);
        srv.data.dirty += 1;
        srv.notify(notify::STRING, "setbit", &argv[1], c.db);
    } else if !raw {
        srv.data.keyspace.set(c.db, &argv[1], Value::Str(Str::from_modified(v)), true);
    }
    c.add_int(was as i64);
    Ok(())
}

pub(crate) fn getbit(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let offset = parse_bit_offset(srv, &argv[2])?;
    let s = get_str(srv, c.db, &argv[1])?;
    let mut b = itoa::Buffer::new();
    let bytes: &[u8] = s.map(|s| s.bytes(&mut b)).unwrap_or(b"");
    let byte = (offset >> 3) as usize;
    let bit = bytes.get(byte).map(|v| v & (1 << (7 - (offset & 7))) != 0).unwrap_or(false);
    c.add_int(bit as i64);
    Ok(())
}

/// Resolves a [start, end] range (negative from the end) over `len` units; `None` when empty.
fn resolve_range(mut start: i64, mut end: i64, len: i64) -> Option<(i64, i64)> {
    if start < 0 {
        start = (len + start).max(0);
    }
    if end < 0 {
        end = (len + end).max(0);
    }
    end = end.min(len - 1);
    if start > end || len == 0 { None } else { Some((start, end)) }
}

/// Parses the optional `start end [BYTE|BIT]` of BITCOUNT/BITPOS from `args`, in Redis
/// 7.0's order: BITCOUNT reads start, end, then the unit; BITPOS reads start, the unit, then
/// end (`unit_before_end`). Returns (start, end if given, bit units), or the first error.
fn parse_bit_range(
    args: &[Vec<u8>],
    end_required: bool,
    unit_before_end: bool,
) -> Result<(i64, Option<i64>, bool), CmdError> {
    if args.is_empty() {
        return Ok((0, None, false));
    }
    if (end_required && args.len() == 1) || args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let Some(start) = parse_i64(&args[0]) else {
        return Err(err::NOT_INTEGER);
    };
    let parse_unit = || match args.get(2).map(|a| base::lower(a)) {
        None => Ok(false),
        Some(u) if u == "byte" => Ok(false),
        Some(u) if u == "bit" => Ok(true),
        Some(_) => Err(err::SYNTAX),
    };
    let mut bits = false;
    if unit_before_end {
        bits = parse_unit()?;
    }
    let end = match args.get(1) {
        Some(a) => match parse_i64(a) {
            Some(n) => Some(n),
            None => return Err(err::NOT_INTEGER),
        },
        None => None,
    };
    if !unit_before_end {
        bits = parse_unit()?;
    }
    Ok((start, end, bits))
}

fn count_bits(bytes: &[u8], first_bit: u64, last_bit: u64) -> u64 {
    let mut n = 0u64;
    let (fb, lb) = ((first_bit >> 3) as usize, (last_bit >> 3) as usize);
    for (i, &b) in bytes[fb..=lb].iter().enumerate() {
        let idx = fb + i;
        let mut v = b;
        if idx == fb {
            v &= 0xFF >> (first_bit & 7);
        }
        if idx == lb {
            v &= 0xFF << (7 - (last_bit & 7));
        }
        n += v.count_ones() as u64;
    }
    n
}

pub(crate) fn bitcount(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    // Redis 7.0 looks the key up before parsing the range: a missing key is 0 and a wrong
    // type WRONGTYPE whatever the other arguments.
    let Some(s) = get_str(srv, c.db, &argv[1])? else {
        c.add_int(0);
        return Ok(());
    };
    let mut b = itoa::Buffer::new();
    let bytes: &[u8] = s.bytes(&mut b);
    // Both negative with start past end: 0, checked before the unit is read (Redis 7.0).
    if argv.len() == 4 || argv.len() == 5 {
        if let (Some(s), Some(e)) = (parse_i64(&argv[2]), parse_i64(&argv[3])) {
            if s < 0 && e < 0 && s > e {
                c.add_int(0);
                return Ok(());
            }
        }
    }
    let (start, end, bits) = parse_bit_range(&argv[2..], true, false)?;
    let units = if bits { bytes.len() as i64 * 8 } else { bytes.len() as i64 };
    let count = if argv.len() == 2 {
        bytes.iter().map(|b| b.count_ones() as u64).sum()
    } else {
        match resolve_range(start, end.unwrap_or(-1), units) {
            None => 0,
            Some((s, e)) if bits => count_bits(bytes, s as u64, e as u64),
            Some((s, e)) => {
                bytes[s as usize..=e as usize].iter().map(|b| b.count_ones() as u64).sum()
            }
        }
    };
    c.add_int(count as i64);
    Ok(())
}

pub(crate) fn bitpos(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    // Redis 7.0's order: the bit (an integer, then 0 or 1), the key (missing: an infinite
    // run of zeros; wrong type), and only then the range.
    let want = match parse_i64(&argv[2]) {
        None => return Err(err::NOT_INTEGER),
        Some(0) => false,
        Some(1) => true,
        Some(_) => return Err(CmdError::new("ERR", "ERR The bit argument must be 1 or 0.")),
    };
    let Some(s) = get_str(srv, c.db, &argv[1])? else {
        c.add_int(if want { -1 } else { 0 });
        return Ok(());
    };
    let mut b = itoa::Buffer::new();
    let bytes = s.bytes(&mut b);
    let (start, end, bits) = parse_bit_range(&argv[3..], false, true)?;
    let total_bits = bytes.len() as i64 * 8;
    let units = if bits { total_bits } else { bytes.len() as i64 };
    let end_given = end.is_some();
    let Some((s_u, e_u)) = resolve_range(start, end.unwrap_or(-1), units) else {
        c.add_int(-1);
        return Ok(());
    };
    let (first, last) = if bits { (s_u, e_u) } else { (s_u * 8, e_u * 8 + 7) };
    for pos in first..=last {
        let bit = bytes[(pos >> 3) as usize] & (1 << (7 - (pos & 7))) != 0;
        if bit == want {
            c.add_int(pos);
            return Ok(());
        }
    }
    // Looking for a clear bit past the end of the string finds the first bit after it,
    // unless an explicit end was given (Redis's bitposCommand).
    if !want && !end_given {
        c.add_int(last + 1);
    } else {
        c.add_int(-1);
    }
    Ok(())
}

pub(crate) fn bitop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match base::lower(&argv[1]).as_str() {
        "and" => Op::And,
        "or" => Op::Or,
        "xor" => Op::Xor,
        "not" => Op::Not,
        _ => return Err(err::SYNTAX),
    };
    if op == Op::Not && argv.len() != 4 {
        return Err(CmdError::new("ERR", "ERR BITOP NOT must be called with a single source key."));
    }
    let mut sources: Vec<Vec<u8>> = Vec::new();
    for key in &argv[3..] {
        let v = get_str(srv, c.db, key)?;
        sources.push(v.map(|s| s.to_vec()).unwrap_or_default());
    }
    let maxlen = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; maxlen];
    for (i, byte) in out.iter_mut().enumerate() {
        let at = |s: &Vec<u8>| s.get(i).copied().unwrap_or(0);
        *byte = match op {
            Op::Not => !at(&sources[0]),
            Op::And => sources.iter().fold(0xFF, |a, s| a & at(s)),
            Op::Or => sources.iter().fold(0, |a, s| a | at(s)),
            Op::Xor => sources.iter().fold(0, |a, s| a ^ at(s)),
        };
    }
    let (ks, dbi) = (&mut srv.data.keyspace, c.db);
    let event = if out.is_empty() {
        ks.delete(dbi, &argv[2]).then_some("del")
    } else {
        ks.set(dbi, &argv[2], Value::Str(Str::from_modified(out.clone())), false);
        Some("set")
    };
    srv.data.dirty += 1;
    if let Some(e) = event {
        let class = if e == "del" { notify::GENERIC } else { notify::STRING };
        srv.notify(class, e, &argv[2], c.db);
    }
    c.add_int(out.len() as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// LCS

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub(crate) fn lcs(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    // Redis looks both keys up and checks their types before reading any option.
    let mut vals = Vec::new();
    let mut wrong_type = false;
    for key in &argv[1..3] {
        match srv.lookup_read(c.db, key) {
            None => vals.push(Vec::new()),
            Some(Value::Str(s)) => vals.push(s.to_vec()),
            Some(_) => wrong_type = true,
        }
    }
    if wrong_type {
        return Err(CmdError::new("ERR", "ERR The specified keys must contain string values"));
    }
    let (mut want_len, mut want_idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < argv.len() {
        match base::lower(&argv[i]).as_str() {
            "len" => want_len = true,
            "idx" => want_idx = true,
            "withmatchlen" => with_len = true,
            "minmatchlen" if i + 1 < argv.len() => {
                match parse_i64(&argv[i + 1]) {
                    Some(n) => min_len = n.max(0),
                    None => return Err(err::NOT_INTEGER),
                }
                i += 1;
            }
            _ => return Err(err::SYNTAX),
        }
        i += 1;
    }
    if want_len && want_idx {
        return Err(CmdError::new(
            "ERR",
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (a, b) = (&vals[0], &vals[1]);
    // Dynamic programming table of LCS lengths, (len(a)+1) x (len(b)+1).
    let (n, m) = (a.len(), b.len());
    let cells = (n + 1).checked_mul(m + 1);
    let Some(cells) = cells.filter(|&x| x <= 1 << 31) else {
        return Err(CmdError::new(
            "ERR",
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    };
    let mut dp = vec![0u32; cells];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in 1..=n {
        for j in 1..=m {
            dp[at(i, j)] = if a[i - 1] == b[j - 1] {
                dp[at(i - 1, j - 1)] + 1
            } else {
                dp[at(i - 1, j)].max(dp[at(i, j - 1)])
            };
        }
    }
    let total = dp[at(n, m)] as usize;
    // Walk back, collecting the string and the matching ranges (from the end, as Redis).
    let mut result = vec![0u8; total];
    let mut ranges: Vec<((usize, usize), (usize, usize))> = Vec::new();
    let (mut i, mut j, mut idx) = (n, m, total);
    let mut current: Option<((usize, usize), (usize, usize))> = None;
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            idx -= 1;
            result[idx] = a[i - 1];
            current = match current {
                Some(((as_, ae), (bs, be))) if as_ == i && bs == j => {
                    Some(((i - 1, ae), (j - 1, be)))
                }
                other => {
                    if let Some(r) = other {
                        ranges.push(r);
                    }
                    Some(((i - 1, i - 1), (j - 1, j - 1)))
                }
            };
            i -= 1;
            j -= 1;
        } else if dp[at(i - 1, j)] > dp[at(i, j - 1)] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    if let Some(r) = current {
        ranges.push(r);
    }
    if want_len {
        c.add_int(total as i64);
        return Ok(());
    }
    if !want_idx {
        c.add_bulk(&result);
        return Ok(());
    }
    let kept: Vec<_> =
        ranges.into_iter().filter(|((s, e), _)| (e - s + 1) as i64 >= min_len).collect();
    c.add_map(2);
    c.add_bulk(b"matches");
    c.add_array(kept.len());
    for ((as_, ae), (bs, be)) in kept {
        c.add_array(if with_len { 3 } else { 2 });
        c.add_array(2);
        c.add_int(as_ as i64);
        c.add_int(ae as i64);
        c.add_array(2);
        c.add_int(bs as i64);
        c.add_int(be as i64);
        if with_len {
            c.add_int((ae - as_ + 1) as i64);
        }
    }
    c.add_bulk(b"len");
    c.add_int(total as i64);
    Ok(())
}
