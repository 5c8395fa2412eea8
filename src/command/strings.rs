//! String commands: GET, SET and its variants, counters, ranges.

use super::{Argv, err};
use crate::db::{Str, Value};
use crate::net::client::Client;
use crate::server::Server;
use crate::util::{self, parse_f64, parse_i64};

/// Largest string SETRANGE/APPEND may build (Redis checks proto-max-bulk-len).
fn check_string_length(srv: &Server, c: &mut Client, len: u64) -> bool {
    if len > srv.config.proto_max_bulk_len as u64 {
        c.add_error(err::STRING_TOO_LONG);
        return false;
    }
    true
}

/// The string at `key` (None if missing), or Err after replying WRONGTYPE.
fn get_str<'a>(srv: &'a mut Server, c: &mut Client, key: &[u8]) -> Result<Option<&'a Str>, ()> {
    match srv.lookup_read(c.db, key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => {
            c.add_error(err::WRONGTYPE);
            Err(())
        }
    }
}

/// Like `get_str` for commands that write the key (INCR, APPEND, SETRANGE, ...): Redis
/// looks those up with lookupKeyWrite, which counts no keyspace hit or miss.
fn get_str_for_write<'a>(
    srv: &'a mut Server,
    c: &mut Client,
    key: &[u8],
) -> Result<Option<&'a Str>, ()> {
    match srv.lookup_read_nostats(c.db, key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => {
            c.add_error(err::WRONGTYPE);
            Err(())
        }
    }
}

fn reply_str(c: &mut Client, s: Option<&Str>) {
    match s {
        Some(s) => {
            let mut b = itoa::Buffer::new();
            c.add_bulk(s.bytes(&mut b));
        }
        None => c.add_null(),
    }
}

pub fn get(srv: &mut Server, c: &mut Client, argv: &Argv) {
    if let Ok(s) = get_str(srv, c, &argv[1]) {
        reply_str(c, s);
    }
}

/// How a SET-like command sets the expiry.
#[derive(Clone, Copy, PartialEq)]
enum Expiry {
    Keep,
    None,
    At(i64),
}

/// Parses an expire amount in `unit_ms` (1000 for seconds) as absolute or relative; `None`
/// after replying the error.
fn parse_expire(
    srv: &Server,
    c: &mut Client,
    arg: &[u8],
    unit_ms: i64,
    absolute: bool,
    cmd: &str,
) -> Option<i64> {
    let Some(n) = parse_i64(arg) else {
        c.add_error(err::NOT_INTEGER);
        return None;
    };
    let ms = n.checked_mul(unit_ms);
    let when = ms.and_then(|ms| {
        if absolute {
            Some(ms)
        } else {
            ms.checked_add(srv.now_ms)
        }
    });
    match when {
        Some(w) if n > 0 => Some(w),
        _ => {
            c.add_err(&format!("invalid expire time in '{}' command", cmd));
            None
        }
    }
}

/// Stores a string, applying an expiry choice.
fn store(srv: &mut Server, db: usize, key: &[u8], value: Str, expiry: Expiry) {
    let d = &mut srv.dbs[db];
    d.set(key, Value::Str(value), expiry == Expiry::Keep);
    if let Expiry::At(t) = expiry {
        d.set_expire(key, Some(t));
    }
    srv.dirty += 1;
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
pub fn set(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let (mut nx, mut xx, mut get, mut expiry) = (false, false, false, Expiry::None);
    let mut expire_given = false;
    let mut i = 3;
    while i < argv.len() {
        let opt = util::lower(&argv[i]);
        let next = argv.get(i + 1);
        match opt.as_str() {
            "nx" if !xx => nx = true,
            "xx" if !nx => xx = true,
            "get" => get = true,
            "keepttl" if !expire_given => {
                expire_given = true;
                expiry = Expiry::Keep;
            }
            "ex" | "px" | "exat" | "pxat" if !expire_given && next.is_some() => {
                let unit = if opt == "ex" || opt == "exat" {
                    1000
                } else {
                    1
                };
                let absolute = opt.ends_with("at");
                let Some(t) = parse_expire(srv, c, next.unwrap(), unit, absolute, "set") else {
                    return;
                };
                expiry = Expiry::At(t);
                expire_given = true;
                i += 1;
            }
            _ => {
                c.add_error(err::SYNTAX);
                return;
            }
        }
        i += 1;
    }
    let key = &argv[1];
    let exists;
    if get {
        match get_str(srv, c, key) {
            Err(()) => return,
            Ok(old) => {
                exists = old.is_some();
                reply_str(c, old);
            }
        }
    } else {
        exists = srv.dbs[c.db].contains(key, srv.now_ms);
    }
    if (nx && exists) || (xx && !exists) {
        if !get {
            c.add_null();
        }
        return;
    }
    store(srv, c.db, key, Str::from_bytes(&argv[2]), expiry);
    if !get {
        c.add_ok();
    }
}

pub fn setnx(srv: &mut Server, c: &mut Client, argv: &Argv) {
    if srv.dbs[c.db].contains(&argv[1], srv.now_ms) {
        c.add_int(0);
    } else {
        store(srv, c.db, &argv[1], Str::from_bytes(&argv[2]), Expiry::None);
        c.add_int(1);
    }
}

fn setex_generic(srv: &mut Server, c: &mut Client, argv: &Argv, unit: i64, name: &str) {
    let Some(t) = parse_expire(srv, c, &argv[2], unit, false, name) else {
        return;
    };
    store(
        srv,
        c.db,
        &argv[1],
        Str::from_bytes(&argv[3]),
        Expiry::At(t),
    );
    c.add_ok();
}

pub fn setex(srv: &mut Server, c: &mut Client, argv: &Argv) {
    setex_generic(srv, c, argv, 1000, "setex");
}

pub fn psetex(srv: &mut Server, c: &mut Client, argv: &Argv) {
    setex_generic(srv, c, argv, 1, "psetex");
}

pub fn getset(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let Ok(old) = get_str(srv, c, &argv[1]) else {
        return;
    };
    reply_str(c, old);
    store(srv, c.db, &argv[1], Str::from_bytes(&argv[2]), Expiry::None);
}

pub fn getdel(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let Ok(old) = get_str(srv, c, &argv[1]) else {
        return;
    };
    let found = old.is_some();
    reply_str(c, old);
    if found {
        srv.dbs[c.db].remove(&argv[1]);
        srv.dirty += 1;
    }
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]
pub fn getex(srv: &mut Server, c: &mut Client, argv: &Argv) {
    enum Change {
        None,
        Persist,
        At(i64),
    }
    let mut change = Change::None;
    let mut i = 2;
    while i < argv.len() {
        let opt = util::lower(&argv[i]);
        let next = argv.get(i + 1);
        match opt.as_str() {
            "persist" if matches!(change, Change::None) => change = Change::Persist,
            "ex" | "px" | "exat" | "pxat" if matches!(change, Change::None) && next.is_some() => {
                let unit = if opt == "ex" || opt == "exat" {
                    1000
                } else {
                    1
                };
                let Some(t) =
                    parse_expire(srv, c, next.unwrap(), unit, opt.ends_with("at"), "getex")
                else {
                    return;
                };
                change = Change::At(t);
                i += 1;
            }
            _ => {
                c.add_error(err::SYNTAX);
                return;
            }
        }
        i += 1;
    }
    let Ok(val) = get_str(srv, c, &argv[1]) else {
        return;
    };
    let found = val.is_some();
    reply_str(c, val);
    if !found {
        return;
    }
    let now = srv.now_ms;
    let d = &mut srv.dbs[c.db];
    match change {
        Change::None => {}
        Change::Persist => {
            if d.expire_of(&argv[1]).is_some() {
                d.set_expire(&argv[1], None);
                srv.dirty += 1;
            }
        }
        Change::At(t) => {
            if t <= now {
                d.remove(&argv[1]);
            } else {
                d.set_expire(&argv[1], Some(t));
            }
            srv.dirty += 1;
        }
    }
}

pub fn mget(srv: &mut Server, c: &mut Client, argv: &Argv) {
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
}

pub fn mset(srv: &mut Server, c: &mut Client, argv: &Argv) {
    if argv.len() % 2 == 0 {
        c.add_err("wrong number of arguments for 'mset' command");
        return;
    }
    for pair in argv[1..].chunks(2) {
        store(srv, c.db, &pair[0], Str::from_bytes(&pair[1]), Expiry::None);
    }
    c.add_ok();
}

pub fn msetnx(srv: &mut Server, c: &mut Client, argv: &Argv) {
    if argv.len() % 2 == 0 {
        c.add_err("wrong number of arguments for 'msetnx' command");
        return;
    }
    let now = srv.now_ms;
    if argv[1..]
        .chunks(2)
        .any(|p| srv.dbs[c.db].contains(&p[0], now))
    {
        c.add_int(0);
        return;
    }
    for pair in argv[1..].chunks(2) {
        store(srv, c.db, &pair[0], Str::from_bytes(&pair[1]), Expiry::None);
    }
    c.add_int(1);
}

pub fn strlen(srv: &mut Server, c: &mut Client, argv: &Argv) {
    if let Ok(s) = get_str(srv, c, &argv[1]) {
        let n = s.map(|s| s.len()).unwrap_or(0);
        c.add_int(n as i64);
    }
}

pub fn append(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let Ok(old) = get_str_for_write(srv, c, &argv[1]) else {
        return;
    };
    let mut v = old.map(|s| s.to_vec()).unwrap_or_default();
    if !check_string_length(srv, c, (v.len() + argv[2].len()) as u64) {
        return;
    }
    v.extend_from_slice(&argv[2]);
    let len = v.len();
    let d = &mut srv.dbs[c.db];
    d.set(&argv[1], Value::Str(Str::from_modified(v)), true);
    srv.dirty += 1;
    c.add_int(len as i64);
}

/// Redis's range arithmetic for GETRANGE: negative from the end, clamped.
pub fn getrange(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let (Some(mut start), Some(mut end)) = (parse_i64(&argv[2]), parse_i64(&argv[3])) else {
        c.add_error(err::NOT_INTEGER);
        return;
    };
    let Ok(s) = get_str(srv, c, &argv[1]) else {
        return;
    };
    let mut buf = itoa::Buffer::new();
    let bytes: &[u8] = match s {
        Some(s) => s.bytes(&mut buf),
        None => b"",
    };
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        c.add_bulk(b"");
        return;
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
        return;
    }
    let out = bytes[start as usize..=end as usize].to_vec();
    c.add_bulk(&out);
}

pub fn setrange(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let Some(offset) = parse_i64(&argv[2]) else {
        c.add_error(err::NOT_INTEGER);
        return;
    };
    if offset < 0 {
        c.add_err("offset is out of range");
        return;
    }
    let Ok(old) = get_str_for_write(srv, c, &argv[1]) else {
        return;
    };
    let mut v = old.map(|s| s.to_vec()).unwrap_or_default();
    let patch = &argv[3];
    if patch.is_empty() {
        c.add_int(v.len() as i64);
        return;
    }
    let need = offset as u64 + patch.len() as u64;
    if !check_string_length(srv, c, need) {
        return;
    }
    if v.len() < need as usize {
        v.resize(need as usize, 0);
    }
    v[offset as usize..need as usize].copy_from_slice(patch);
    let len = v.len();
    srv.dbs[c.db].set(&argv[1], Value::Str(Str::from_modified(v)), true);
    srv.dirty += 1;
    c.add_int(len as i64);
}

fn incr_by(srv: &mut Server, c: &mut Client, key: &[u8], by: i64) {
    let Ok(old) = get_str_for_write(srv, c, key) else {
        return;
    };
    let cur = match old {
        None => 0,
        Some(s) => match s.as_i64() {
            Some(n) => n,
            None => {
                c.add_error(err::NOT_INTEGER);
                return;
            }
        },
    };
    let Some(new) = cur.checked_add(by) else {
        c.add_error(err::OVERFLOW);
        return;
    };
    srv.dbs[c.db].set(key, Value::Str(Str::from_i64(new)), true);
    srv.dirty += 1;
    c.add_int(new);
}

pub fn incr(srv: &mut Server, c: &mut Client, argv: &Argv) {
    incr_by(srv, c, &argv[1], 1);
}

pub fn decr(srv: &mut Server, c: &mut Client, argv: &Argv) {
    incr_by(srv, c, &argv[1], -1);
}

pub fn incrby(srv: &mut Server, c: &mut Client, argv: &Argv) {
    match parse_i64(&argv[2]) {
        Some(n) => incr_by(srv, c, &argv[1], n),
        None => c.add_error(err::NOT_INTEGER),
    }
}

pub fn decrby(srv: &mut Server, c: &mut Client, argv: &Argv) {
    match parse_i64(&argv[2]) {
        Some(n) if n != i64::MIN => incr_by(srv, c, &argv[1], -n),
        Some(_) => c.add_err("decrement would overflow"),
        None => c.add_error(err::NOT_INTEGER),
    }
}

pub fn incrbyfloat(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let Some(by) = parse_f64(&argv[2]) else {
        c.add_error(err::NOT_FLOAT);
        return;
    };
    let Ok(old) = get_str_for_write(srv, c, &argv[1]) else {
        return;
    };
    let cur = match old {
        None => 0.0,
        Some(s) => match parse_f64(&s.to_vec()) {
            Some(v) => v,
            None => {
                c.add_error(err::NOT_FLOAT);
                return;
            }
        },
    };
    let new = cur + by;
    let Some(text) = util::format_human_float(new) else {
        c.add_err("increment would produce NaN or Infinity");
        return;
    };
    srv.dbs[c.db].set(&argv[1], Value::Str(Str::from_bytes(text.as_bytes())), true);
    srv.dirty += 1;
    c.add_bulk(text.as_bytes());
}
