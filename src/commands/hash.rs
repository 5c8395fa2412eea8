//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HLEN, HEXISTS, HGETALL, HKEYS, HVALS,
//! HINCRBY, HINCRBYFLOAT, HSTRLEN, HRANDFIELD and HSCAN — Redis 7.0's replies, errors and
//! orders of checks.
//!
//! Values are `db::hash::Hash` (listpack or table), whose `insert` applies Redis's encoding
//! conversions with the limits read from the config on every call (`hash-max-listpack-*`).
//! Every argument is validated before anything changes; hashes left empty are deleted.

use super::set::{add_entry, choose_distinct, parse_random_count};
use super::set::{parse_scan_options, reply_scan};
use super::{Argv, CmdError, CmdResult, err, keys::scan_cursor};
use crate::commands::Ctx;
use crate::engine::session::Session;
use tine_core::base::{self, glob_match, parse_i64};
use tine_core::keyspace::Value;
use tine_core::protocol::Resp;
use tine_core::types::hash::{Hash, Limits};
use tine_core::types::listpack::Entry;

fn limits(srv: &Ctx<'_>) -> Limits {
    Limits {
        max_entries: usize::try_from(srv.data.config.hash_max_listpack_entries).unwrap_or(0),
        max_value: usize::try_from(srv.data.config.hash_max_listpack_value).unwrap_or(0),
    }
}

/// The hash at `key` in `db` for reading: `Ok(None)` when missing, WRONGTYPE when not a hash.
fn read_hash<'a>(
    srv: &'a mut Ctx<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a Hash>, CmdError> {
    match srv.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The hash at `key` in `db` for writing: `Ok(None)` when missing, WRONGTYPE when not a hash.
fn write_hash<'a>(
    srv: &'a mut Ctx<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a mut Hash>, CmdError> {
    match srv.lookup_write(db, key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// Runs `f` on the hash at `key` in `db`, creating an empty one when missing (kept only if
/// `f` left something in it). WRONGTYPE, without running `f`, when the key is not a hash.
fn with_hash_or_create<R>(
    srv: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    f: impl FnOnce(&mut Hash) -> R,
) -> Result<R, CmdError> {
    match write_hash(srv, db, key)? {
        Some(h) => Ok(f(h)),
        None => {
            let mut h = Hash::new();
            let r = f(&mut h);
            if !h.is_empty() {
                srv.data.keyspace.insert_new(db, key.into(), Value::Hash(Box::new(h)));
            }
            Ok(r)
        }
    }
}

/// HSET and HMSET: pairs after the key. Returns the number of new fields, or the error.
fn hset_generic(srv: &mut Ctx<'_>, db: usize, argv: &Argv, name: &str) -> Result<i64, CmdError> {
    if argv.len() % 2 == 1 {
        return Err(CmdError::err(&format!("wrong number of arguments for '{}' command", name)));
    }
    let lim = limits(srv);
    let pairs = &argv[2..];
    let created = with_hash_or_create(srv, db, &argv[1], |h| {
        h.prepare_for(pairs.iter().map(|a| a.as_slice()), lim);
        pairs.chunks_exact(2).filter(|p| h.insert(&p[0], &p[1], lim)).count() as i64
    })?;
    srv.data.dirty += (pairs.len() / 2) as u64;
    Ok(created)
}

pub(crate) fn hset(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let n = hset_generic(srv, c.db, argv, "hset")?;
    c.add_int(n);
    Ok(())
}

pub(crate) fn hmset(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    hset_generic(srv, c.db, argv, "hmset")?;
    c.add_ok();
    Ok(())
}

pub(crate) fn hsetnx(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let lim = limits(srv);
    let (field, value) = (&argv[2], &argv[3]);
    let set = with_hash_or_create(srv, c.db, &argv[1], |h| {
        if h.contains(field) {
            return false;
        }
        h.prepare_for([field.as_slice(), value.as_slice()].into_iter(), lim);
        h.insert(field, value, lim)
    })?;
    srv.data.dirty += set as u64;
    c.add_int(set as i64);
    Ok(())
}

fn add_value(c: &mut Session, v: Option<Entry<'_>>) {
    match v {
        Some(e) => add_entry(c, e),
        None => c.add_null(),
    }
}

pub(crate) fn hget(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let h = read_hash(srv, c.db, &argv[1])?;
    add_value(c, h.and_then(|h| h.get(&argv[2])));
    Ok(())
}

pub(crate) fn hmget(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let h = read_hash(srv, c.db, &argv[1])?;
    c.add_array(argv.len() - 2);
    for f in &argv[2..] {
        add_value(c, h.and_then(|h| h.get(f)));
    }
    Ok(())
}

pub(crate) fn hdel(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let key = &argv[1];
    let deleted = match write_hash(srv, c.db, key)? {
        None => 0,
        Some(h) => {
            let mut n = 0;
            for f in &argv[2..] {
                if h.remove(f) {
                    n += 1;
                    if h.is_empty() {
                        break;
                    }
                }
            }
            if h.is_empty() {
                srv.data.keyspace.delete(c.db, key);
            }
            n
        }
    };
    srv.data.dirty += deleted as u64;
    c.add_int(deleted);
    Ok(())
}

pub(crate) fn hlen(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let h = read_hash(srv, c.db, &argv[1])?;
    c.add_int(h.map_or(0, |h| h.len()) as i64);
    Ok(())
}

pub(crate) fn hexists(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let h = read_hash(srv, c.db, &argv[1])?;
    c.add_int(h.is_some_and(|h| h.contains(&argv[2])) as i64);
    Ok(())
}

pub(crate) fn hstrlen(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let h = read_hash(srv, c.db, &argv[1])?;
    let len = h.and_then(|h| h.get(&argv[2])).map_or(0, |v| v.str_len());
    c.add_int(len as i64);
    Ok(())
}

/// What HGETALL, HKEYS and HVALS reply.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Fields,
    Values,
    Both,
}

fn reply_all(srv: &mut Ctx<'_>, c: &mut Session, key: &[u8], part: Part) -> CmdResult {
    let h = read_hash(srv, c.db, key)?;
    let n = h.map_or(0, |h| h.len());
    if part == Part::Both {
        c.add_map(n);
    } else {
        c.add_array(n);
    }
    let Some(h) = h else {
        return Ok(());
    };
    for (f, v) in h.iter() {
        if part != Part::Values {
            add_entry(c, f);
        }
        if part != Part::Fields {
            add_entry(c, v);
        }
    }
    Ok(())
}

pub(crate) fn hgetall(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    reply_all(srv, c, &argv[1], Part::Both)
}

pub(crate) fn hkeys(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    reply_all(srv, c, &argv[1], Part::Fields)
}

pub(crate) fn hvals(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    reply_all(srv, c, &argv[1], Part::Values)
}

/// The current value of `field` for HINCRBY/HINCRBYFLOAT: `Ok(None)` when the key or field is
/// missing, WRONGTYPE when the key is not a hash.
fn current_value(
    srv: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    field: &[u8],
) -> Result<Option<Vec<u8>>, CmdError> {
    let h = write_hash(srv, db, key)?;
    Ok(h.and_then(|h| h.get(field)).map(|v| v.to_vec()))
}

/// Writes the new value of an increment (creating the hash when missing); WRONGTYPE cannot
/// happen here, `current_value` having checked the key.
fn store_value(srv: &mut Ctx<'_>, db: usize, key: &[u8], field: &[u8], value: &[u8]) -> CmdResult {
    let lim = limits(srv);
    with_hash_or_create(srv, db, key, |h| h.insert(field, value, lim))?;
    srv.data.dirty += 1;
    Ok(())
}

pub(crate) fn hincrby(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let (key, field) = (&argv[1], &argv[2]);
    let Some(by) = parse_i64(&argv[3]) else {
        return Err(err::NOT_INTEGER);
    };
    let cur = match current_value(srv, c.db, key, field)? {
        None => 0,
        Some(v) => match parse_i64(&v) {
            Some(n) => n,
            None => return Err(CmdError::new("ERR", "ERR hash value is not an integer")),
        },
    };
    let Some(new) = cur.checked_add(by) else {
        return Err(err::OVERFLOW);
    };
    store_value(srv, c.db, key, field, itoa::Buffer::new().format(new).as_bytes())?;
    c.add_int(new);
    Ok(())
}

/// HINCRBYFLOAT in Redis's `long double` (`base::longdouble`), as INCRBYFLOAT.
pub(crate) fn hincrbyfloat(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    use tine_core::base::longdouble::LongDouble;
    let (key, field) = (&argv[1], &argv[2]);
    let Some(by) = LongDouble::parse(&argv[3]) else {
        return Err(err::NOT_FLOAT);
    };
    if !by.is_finite() {
        return Err(CmdError::new("ERR", "ERR value is NaN or Infinity"));
    }
    let cur = match current_value(srv, c.db, key, field)? {
        None => LongDouble::ZERO,
        Some(v) => match LongDouble::parse(&v) {
            Some(n) => n,
            None => return Err(CmdError::new("ERR", "ERR hash value is not a float")),
        },
    };
    let Some(text) = (cur + by).to_human() else {
        return Err(CmdError::new("ERR", "ERR increment would produce NaN or Infinity"));
    };
    store_value(srv, c.db, key, field, text.as_bytes())?;
    // Propagated as its result, so replicas and the AOF do not redo float arithmetic.
    srv.propagate_as(crate::engine::feed::argv(&[b"HSET", key, field, text.as_bytes()]));
    c.add_bulk(text.as_bytes());
    Ok(())
}

/// Replies (field, value) pairs for HRANDFIELD: fields only, or with values — a flat array in
/// RESP2, an array of 2-element arrays in RESP3.
fn reply_random_pairs<'a>(
    c: &mut Session,
    n: usize,
    pairs: impl Iterator<Item = (Entry<'a>, Entry<'a>)>,
    with_values: bool,
) {
    let resp3 = c.resp == Resp::V3;
    if with_values && !resp3 {
        c.add_array(n.saturating_mul(2));
    } else {
        c.add_array(n);
    }
    for (f, v) in pairs {
        if with_values && resp3 {
            c.add_array(2);
        }
        add_entry(c, f);
        if with_values {
            add_entry(c, v);
        }
    }
}

/// HRANDFIELD key [count [WITHVALUES]]
pub(crate) fn hrandfield(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut rng = rand::thread_rng();
    if argv.len() == 2 {
        match read_hash(srv, c.db, &argv[1])? {
            None => c.add_null(),
            Some(h) => add_value(c, h.random_pair(&mut rng).map(|(f, _)| f)),
        }
        return Ok(());
    }
    let (signed, count, distinct) = parse_random_count(&argv[2])?;
    if argv.len() > 4 || (argv.len() == 4 && base::lower(&argv[3]) != "withvalues") {
        return Err(err::SYNTAX);
    }
    let with_values = argv.len() == 4;
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&signed) {
        return Err(CmdError::new("ERR", "ERR value is out of range"));
    }
    let Some(h) = read_hash(srv, c.db, &argv[1])? else {
        c.add_array(0);
        return Ok(());
    };
    if count == 0 {
        c.add_array(0);
        return Ok(());
    }
    if !distinct {
        // Repetitions allowed: independent picks.
        let picks = (0..count).filter_map(|_| h.random_pair(&mut rng));
        reply_random_pairs(c, count as usize, picks, with_values);
        return Ok(());
    }
    let size = h.len() as u64;
    if count >= size {
        reply_random_pairs(c, h.len(), h.iter(), with_values);
        return Ok(());
    }
    let chosen: Vec<(Vec<u8>, Vec<u8>)> = if count * 3 > size {
        let all = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        choose_distinct(all, count as usize, &mut rng)
    } else {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        while (out.len() as u64) < count {
            if let Some((f, v)) = h.random_pair(&mut rng) {
                let f = f.to_vec();
                if seen.insert(f.clone()) {
                    out.push((f, v.to_vec()));
                }
            }
        }
        out
    };
    let pairs = chosen.iter().map(|(f, v)| (Entry::Str(f.as_slice()), Entry::Str(v.as_slice())));
    reply_random_pairs(c, chosen.len(), pairs, with_values);
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub(crate) fn hscan(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut cursor = scan_cursor(&argv[2])?;
    let Some(h) = read_hash(srv, c.db, &argv[1])? else {
        reply_scan(c, 0, &[]);
        return Ok(());
    };
    let (pattern, count) = parse_scan_options(&argv[3..])?;
    // Fields and values alternate; COUNT counts both, as Redis's list of replies does.
    let mut items: Vec<Vec<u8>> = Vec::new();
    match h {
        Hash::Listpack(_) => {
            for (f, v) in h.iter() {
                items.push(f.to_vec());
                items.push(v.to_vec());
            }
            cursor = 0;
        }
        Hash::Table(t) => {
            let mut budget = count.saturating_mul(10);
            loop {
                cursor = t.scan(cursor, |fv, _| {
                    items.push(fv.field().to_vec());
                    items.push(fv.value().to_vec());
                });
                if cursor == 0 || budget == 0 || items.len() >= count {
                    break;
                }
                budget -= 1;
            }
        }
    }
    if let Some(p) = pattern {
        let mut kept = Vec::with_capacity(items.len());
        let mut it = items.into_iter();
        while let (Some(f), Some(v)) = (it.next(), it.next()) {
            if glob_match(p, &f, false) {
                kept.push(f);
                kept.push(v);
            }
        }
        items = kept;
    }
    reply_scan(c, cursor, &items);
    Ok(())
}
