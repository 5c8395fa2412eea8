//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE,
//! the SINTER/SUNION/SDIFF families (with STORE variants and SINTERCARD) and SSCAN — Redis 7.0's
//! replies, errors and orders of checks.
//!
//! Values are `db::set::Set` (intset or table). Sets left empty by a command are deleted.
//! Combined results are built as a new `Set` (starting as an intset, converting as members
//! demand, as Redis's `sunionDiffGenericCommand` does), so a stored result gets the encoding
//! Redis would give it. Also holds the HSCAN/SSCAN option parser shared with `hash.rs`.

use super::{Argv, CmdError, CmdResult, err, keys::scan_cursor};
use crate::commands::Ctx;
use crate::engine::session::Session;
use tine_core::base::{self, glob_match, parse_i64};
use tine_core::keyspace::Value;
use tine_core::types::listpack::{Entry, IntBuf};
use tine_core::types::set::Set;

/// `getPositiveLongFromObjectOrReply`'s default message (SPOP count).
const ERR_NOT_POSITIVE: CmdError =
    CmdError::new("ERR", "ERR value is out of range, must be positive");
/// `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`'s message (SRANDMEMBER, HRANDFIELD).
pub(super) const ERR_COUNT_RANGE: CmdError = CmdError::new(
    "ERR",
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);

fn max_intset_entries(srv: &Ctx<'_>) -> usize {
    usize::try_from(srv.data.config.set_max_intset_entries).unwrap_or(0)
}

/// The set at `key` in `db` for reading: `Ok(None)` when missing, WRONGTYPE when not a set.
fn read_set<'a>(srv: &'a mut Ctx<'_>, db: usize, key: &[u8]) -> Result<Option<&'a Set>, CmdError> {
    match srv.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The set at `key` in `db` for writing: `Ok(None)` when missing, WRONGTYPE when not a set.
fn write_set<'a>(
    srv: &'a mut Ctx<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a mut Set>, CmdError> {
    match srv.lookup_write(db, key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// Replies one member.
pub(super) fn add_entry(c: &mut Session, e: Entry<'_>) {
    match e {
        Entry::Int(v) => c.add_bulk_i64(v),
        Entry::Str(s) => c.add_bulk(s),
    }
}

/// Replies a whole set as a RESP3 set (array in RESP2), in the set's own order.
fn reply_set(c: &mut Session, s: &Set) {
    c.add_set(s.len());
    for e in s.iter() {
        add_entry(c, e);
    }
}

/// Replies members already collected, as a RESP3 set.
fn reply_members(c: &mut Session, members: &[Vec<u8>]) {
    c.add_set(members.len());
    for m in members {
        c.add_bulk(m);
    }
}

pub(crate) fn sadd(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let max = max_intset_entries(srv);
    let key = &argv[1];
    let added = match write_set(srv, c.db, key)? {
        Some(s) => argv[2..].iter().filter(|m| s.insert(m, max)).count(),
        None => {
            let mut s = Set::new();
            let n = argv[2..].iter().filter(|m| s.insert(m, max)).count();
            srv.data.keyspace.insert_new(c.db, key.as_slice().into(), Value::Set(Box::new(s)));
            n
        }
    };
    srv.data.dirty += added as u64;
    c.add_int(added as i64);
    Ok(())
}

pub(crate) fn srem(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let key = &argv[1];
    let removed = match write_set(srv, c.db, key)? {
        None => 0,
        Some(s) => {
            let mut n = 0;
            for m in &argv[2..] {
                if s.remove(m) {
                    n += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            if s.is_empty() {
                srv.data.keyspace.delete(c.db, key);
            }
            n
        }
    };
    srv.data.dirty += removed as u64;
    c.add_int(removed);
    Ok(())
}

pub(crate) fn smembers(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match read_set(srv, c.db, &argv[1])? {
        None => c.add_set(0),
        Some(s) => reply_set(c, s),
    }
    Ok(())
}

pub(crate) fn sismember(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = read_set(srv, c.db, &argv[1])?;
    let found = s.is_some_and(|s| s.contains(&argv[2]));
    c.add_int(found as i64);
    Ok(())
}

pub(crate) fn smismember(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = read_set(srv, c.db, &argv[1])?;
    let found: Vec<bool> = argv[2..].iter().map(|m| s.is_some_and(|s| s.contains(m))).collect();
    c.add_array(found.len());
    for f in found {
        c.add_int(f as i64);
    }
    Ok(())
}

pub(crate) fn scard(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = read_set(srv, c.db, &argv[1])?;
    c.add_int(s.map_or(0, |s| s.len()) as i64);
    Ok(())
}

/// SPOP key [count]
pub(crate) fn spop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(err::SYNTAX);
    }
    if argv.len() == 3 {
        return spop_with_count(srv, c, argv);
    }
    let key = &argv[1];
    let mut rng = rand::thread_rng();
    match write_set(srv, c.db, key)? {
        None => c.add_null(),
        Some(s) => {
            let m = s.pop_random(&mut rng);
            if s.is_empty() {
                srv.data.keyspace.delete(c.db, key);
            }
            match m {
                Some(m) => {
                    srv.data.dirty += 1;
                    // Propagated as its effect: SREM of the member popped (Redis 7.0).
                    srv.propagate_as(crate::engine::feed::argv(&[b"SREM", key, &m]));
                    c.add_bulk(&m);
                }
                None => c.add_null(),
            }
        }
    }
    Ok(())
}

fn spop_with_count(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let count = match parse_i64(&argv[2]) {
        Some(n) if n >= 0 => n as u64,
        _ => return Err(ERR_NOT_POSITIVE),
    };
    let key = &argv[1];
    let max = max_intset_entries(srv);
    let mut rng = rand::thread_rng();
    let Some(s) = write_set(srv, c.db, key)? else {
        c.add_set(0);
        return Ok(());
    };
    if count == 0 {
        c.add_set(0);
        return Ok(());
    }
    let size = s.len() as u64;
    if count >= size {
        // The whole set, then the key goes.
        reply_set(c, s);
        srv.data.keyspace.delete(c.db, key);
        srv.data.dirty += 1;
        srv.propagate_as(crate::engine::feed::argv(&[b"DEL", key]));
        return Ok(());
    }
    let remaining = size - count;
    let popped: Vec<Vec<u8>> = if remaining * 5 > count {
        // Few to pop: pop them one by one.
        (0..count).filter_map(|_| s.pop_random(&mut rng)).collect()
    } else {
        // Most of the set goes: move the few survivors to a new set and reply with what is
        // left of the old one (Redis's CASE 3). Like Redis's `setTypeCreate`, the new set
        // starts as an intset: a table of integers can come back as an intset here.
        let mut keep = Set::new();
        for _ in 0..remaining {
            if let Some(m) = s.pop_random(&mut rng) {
                keep.insert(&m, max);
            }
        }
        std::mem::swap(s, &mut keep);
        keep.members()
    };
    srv.data.dirty += popped.len() as u64;
    // Propagated as SREMs of what was popped, at most 1024 members each (Redis 7.0).
    let srems = popped
        .chunks(1024)
        .map(|chunk| {
            let mut a = vec![b"SREM".to_vec(), key.to_vec()];
            a.extend(chunk.iter().cloned());
            a
        })
        .collect();
    srv.propagate_many(srems);
    reply_members(c, &popped);
    Ok(())
}

/// Parses SRANDMEMBER/HRANDFIELD's count: (the count, how many, distinct?), or the error.
pub(super) fn parse_random_count(arg: &[u8]) -> Result<(i64, u64, bool), CmdError> {
    match parse_i64(arg) {
        None => Err(err::NOT_INTEGER),
        Some(i64::MIN) => Err(ERR_COUNT_RANGE),
        Some(n) if n >= 0 => Ok((n, n as u64, true)),
        Some(n) => Ok((n, n.unsigned_abs(), false)),
    }
}

/// Keeps `count` of the distinct items in `all` (which it consumes), dropping random others.
pub(super) fn choose_distinct<T, R: rand::Rng + ?Sized>(
    mut all: Vec<T>,
    count: usize,
    rng: &mut R,
) -> Vec<T> {
    while all.len() > count {
        let i = rng.gen_range(0..all.len());
        all.swap_remove(i);
    }
    all
}

/// SRANDMEMBER key [count]
pub(crate) fn srandmember(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(err::SYNTAX);
    }
    let mut rng = rand::thread_rng();
    if argv.len() == 2 {
        match read_set(srv, c.db, &argv[1])? {
            None => c.add_null(),
            Some(s) => match s.random_member(&mut rng) {
                Some(m) => c.add_bulk(&m),
                None => c.add_null(),
            },
        }
        return Ok(());
    }
    let (_, count, distinct) = parse_random_count(&argv[2])?;
    let Some(s) = read_set(srv, c.db, &argv[1])? else {
        c.add_array(0);
        return Ok(());
    };
    if count == 0 {
        c.add_array(0);
        return Ok(());
    }
    if !distinct {
        // Repetitions allowed: independent picks. Not preallocated: the count is the user's.
        c.add_array(count as usize);
        for _ in 0..count {
            match s.random_member(&mut rng) {
                Some(m) => c.add_bulk(&m),
                None => c.add_null(),
            }
        }
        return Ok(());
    }
    let size = s.len() as u64;
    if count >= size {
        c.add_array(s.len());
        for e in s.iter() {
            add_entry(c, e);
        }
        return Ok(());
    }
    let chosen: Vec<Vec<u8>> = if count * 3 > size {
        // A big part of the set: copy it and drop random members (Redis's CASE 3).
        choose_distinct(s.members(), count as usize, &mut rng)
    } else {
        // A small part: pick at random until enough distinct ones (CASE 4).
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        while (out.len() as u64) < count {
            if let Some(m) = s.random_member(&mut rng) {
                if seen.insert(m.clone()) {
                    out.push(m);
                }
            }
        }
        out
    };
    c.add_array(chosen.len());
    for m in &chosen {
        c.add_bulk(m);
    }
    Ok(())
}

/// SMOVE source destination member
pub(crate) fn smove(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let db = c.db;
    let max = max_intset_entries(srv);
    // Types first: the source must exist and be a set, the destination be a set if it exists.
    let src_kind = srv.lookup_write(db, src).map(|v| matches!(v, Value::Set(_)));
    let dst_kind = srv.lookup_write(db, dst).map(|v| matches!(v, Value::Set(_)));
    match (src_kind, dst_kind) {
        (None, _) => {
            c.add_int(0);
            return Ok(());
        }
        (Some(false), _) | (_, Some(false)) => return Err(err::WRONGTYPE),
        _ => {}
    }
    if src == dst {
        let found =
            matches!(srv.data.keyspace[db].peek(src), Some(Value::Set(s)) if s.contains(member));
        c.add_int(found as i64);
        return Ok(());
    }
    let Some(s) = write_set(srv, db, src)? else {
        return Ok(());
    };
    if !s.remove(member) {
        c.add_int(0);
        return Ok(());
    }
    let emptied = s.is_empty();
    if emptied {
        srv.data.keyspace.delete(db, src);
    }
    srv.data.dirty += 1;
    srv.notify(crate::config::custom::notify::SET, "srem", src, db);
    if emptied {
        srv.notify(crate::config::custom::notify::GENERIC, "del", src, db);
    }
    let added = match write_set(srv, db, dst)? {
        Some(d) => d.insert(member, max),
        None => {
            let mut d = Set::new();
            d.insert(member, max);
            srv.data.keyspace.insert_new(db, dst.as_slice().into(), Value::Set(Box::new(d)));
            true
        }
    };
    if added {
        srv.data.dirty += 1;
        srv.notify(crate::config::custom::notify::SET, "sadd", dst, db);
    }
    c.add_int(1);
    Ok(())
}

/// Type-checks every key in `db` (expiring them as needed): which keys exist, or WRONGTYPE
/// at the first that is not a set.
fn check_set_keys(srv: &mut Ctx<'_>, db: usize, keys: &[Vec<u8>]) -> Result<Vec<bool>, CmdError> {
    let mut exists = Vec::with_capacity(keys.len());
    for k in keys {
        match srv.lookup_read(db, k) {
            None => exists.push(false),
            Some(Value::Set(_)) => exists.push(true),
            Some(_) => return Err(err::WRONGTYPE),
        }
    }
    Ok(exists)
}

/// The sets at `keys` (already checked), `None` for missing ones.
fn peek_sets<'a>(srv: &'a Ctx<'_>, db: usize, keys: &[Vec<u8>]) -> Vec<Option<&'a Set>> {
    keys.iter()
        .map(|k| match srv.data.keyspace[db].peek(k) {
            Some(Value::Set(s)) => Some(&**s),
            _ => None,
        })
        .collect()
}

/// The intersection of `keys` in `db` as a new set, stopping at `limit` members (0: no
/// limit). `Ok(None)` when one of the keys is missing (the result is empty).
fn intersect(
    srv: &mut Ctx<'_>,
    db: usize,
    keys: &[Vec<u8>],
    limit: usize,
) -> Result<Option<Set>, CmdError> {
    let exists = check_set_keys(srv, db, keys)?;
    if exists.iter().any(|e| !e) {
        return Ok(None);
    }
    let max = max_intset_entries(srv);
    let mut sets: Vec<&Set> = peek_sets(srv, db, keys).into_iter().flatten().collect();
    sets.sort_by_key(|s| s.len());
    let mut out = Set::new();
    let mut ib = IntBuf::default();
    for e in sets[0].iter() {
        let m = e.as_bytes(&mut ib);
        if sets[1..].iter().all(|s| s.contains(m)) {
            out.insert(m, max);
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    Ok(Some(out))
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Diff,
}

/// The union or difference of `keys` in `db` as a new set.
fn union_diff(srv: &mut Ctx<'_>, db: usize, keys: &[Vec<u8>], op: SetOp) -> Result<Set, CmdError> {
    check_set_keys(srv, db, keys)?;
    let max = max_intset_entries(srv);
    let sets = peek_sets(srv, db, keys);
    let mut out = Set::new();
    let mut ib = IntBuf::default();
    match op {
        SetOp::Union => {
            for s in sets.iter().flatten() {
                for e in s.iter() {
                    out.insert(e.as_bytes(&mut ib), max);
                }
            }
        }
        SetOp::Diff => {
            if let Some(Some(first)) = sets.first() {
                for e in first.iter() {
                    let m = e.as_bytes(&mut ib);
                    if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                        out.insert(m, max);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Stores a computed set at `dst` (deleting `dst` when it is empty) and replies its size.
fn store_result(srv: &mut Ctx<'_>, c: &mut Session, dst: &[u8], result: Option<Set>) {
    let db = c.db;
    match result {
        Some(s) if !s.is_empty() => {
            let n = s.len();
            srv.data.keyspace.set(db, dst, Value::Set(Box::new(s)), false);
            srv.data.dirty += 1;
            c.add_int(n as i64);
        }
        _ => {
            if srv.data.keyspace.delete(db, dst) {
                srv.data.dirty += 1;
            }
            c.add_int(0);
        }
    }
}

pub(crate) fn sinter(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match intersect(srv, c.db, &argv[1..], 0)? {
        None => c.add_set(0),
        Some(s) => reply_set(c, &s),
    }
    Ok(())
}

pub(crate) fn sinterstore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let r = intersect(srv, c.db, &argv[2..], 0)?;
    store_result(srv, c, &argv[1], r);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub(crate) fn sintercard(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let numkeys = match parse_i64(&argv[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::new("ERR", "ERR numkeys should be greater than 0")),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return Err(CmdError::new(
            "ERR",
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut i = keys_end;
    while i < argv.len() {
        if base::lower(&argv[i]) == "limit" && i + 1 < argv.len() {
            match parse_i64(&argv[i + 1]) {
                Some(n) if n >= 0 => limit = usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(CmdError::new("ERR", "ERR LIMIT can't be negative")),
            }
            i += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    match intersect(srv, c.db, &argv[2..keys_end], limit)? {
        None => c.add_int(0),
        Some(s) => c.add_int(s.len() as i64),
    }
    Ok(())
}

pub(crate) fn sunion(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = union_diff(srv, c.db, &argv[1..], SetOp::Union)?;
    reply_set(c, &s);
    Ok(())
}

pub(crate) fn sunionstore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = union_diff(srv, c.db, &argv[2..], SetOp::Union)?;
    store_result(srv, c, &argv[1], Some(s));
    Ok(())
}

pub(crate) fn sdiff(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = union_diff(srv, c.db, &argv[1..], SetOp::Diff)?;
    reply_set(c, &s);
    Ok(())
}

pub(crate) fn sdiffstore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = union_diff(srv, c.db, &argv[2..], SetOp::Diff)?;
    store_result(srv, c, &argv[1], Some(s));
    Ok(())
}

/// HSCAN/SSCAN options after the cursor: (MATCH pattern, COUNT), or the error.
pub(super) fn parse_scan_options(args: &[Vec<u8>]) -> Result<(Option<&[u8]>, usize), CmdError> {
    let mut pattern = None;
    let mut count = 10usize;
    let mut i = 0;
    while i < args.len() {
        let opt = base::lower(&args[i]);
        if opt == "count" && i + 1 < args.len() {
            match parse_i64(&args[i + 1]) {
                None => return Err(err::NOT_INTEGER),
                Some(n) if n < 1 => return Err(err::SYNTAX),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if opt == "match" && i + 1 < args.len() {
            let p = args[i + 1].as_slice();
            pattern = if p == b"*" { None } else { Some(p) };
        } else {
            return Err(err::SYNTAX);
        }
        i += 2;
    }
    Ok((pattern, count))
}

/// Replies `*2 cursor [items]` with items as bulk strings.
pub(super) fn reply_scan(c: &mut Session, cursor: u64, items: &[Vec<u8>]) {
    c.add_array(2);
    c.add_bulk(itoa::Buffer::new().format(cursor).as_bytes());
    c.add_array(items.len());
    for it in items {
        c.add_bulk(it);
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub(crate) fn sscan(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut cursor = scan_cursor(&argv[2])?;
    let Some(s) = read_set(srv, c.db, &argv[1])? else {
        reply_scan(c, 0, &[]);
        return Ok(());
    };
    let (pattern, count) = parse_scan_options(&argv[3..])?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    match s {
        Set::Intset(_) => {
            items = s.members();
            cursor = 0;
        }
        Set::Table(t) => {
            let mut budget = count.saturating_mul(10);
            loop {
                cursor = t.scan(cursor, |m, _| items.push(m.as_bytes().to_vec()));
                if cursor == 0 || budget == 0 || items.len() >= count {
                    break;
                }
                budget -= 1;
            }
        }
    }
    if let Some(p) = pattern {
        items.retain(|m| glob_match(p, m, false));
    }
    reply_scan(c, cursor, &items);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_distinct_keeps_count_distinct() {
        let mut rng = rand::thread_rng();
        let v: Vec<u32> = (0..100).collect();
        let got = choose_distinct(v, 40, &mut rng);
        assert_eq!(got.len(), 40);
        let set: std::collections::HashSet<_> = got.iter().collect();
        assert_eq!(set.len(), 40);
    }
}
