//! Sorted set commands, with Redis 7.0's arguments, replies and errors: ZADD and ZINCRBY,
//! removal, scores and ranks, the ZRANGE family (rank, score and lex ranges, REV, LIMIT,
//! WITHSCORES, and ZRANGESTORE), range removal, pops (ZPOPMIN/ZPOPMAX/ZMPOP through
//! [`pop_reply`], which the blocking forms will call), the set algebra (ZUNION/ZINTER/ZDIFF,
//! their STORE forms and ZINTERCARD, with plain sets as inputs of score 1), ZRANDMEMBER and
//! ZSCAN.
//!
//! Every handler parses and validates all of its arguments before touching the keyspace, so a
//! bad argument leaves the data as it was. The data structure and its encodings live in
//! `db/zset.rs`; this file only decides what to do and how to reply.

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::engine::session::Session;
use tine_core::base::{self, parse_f64, parse_i64};
use tine_core::keyspace::Value;
use tine_core::protocol::Resp;
use tine_core::types::skiplist::{LexRange, ScoreRange, parse_lex_range, parse_score_range};
use tine_core::types::zset::{Limits, ZSet, element_cmp, score_to_listpack_text};

const MIN_MAX_NOT_FLOAT: CmdError = CmdError::new("ERR", "ERR min or max is not a float");
const MIN_MAX_NOT_LEX: CmdError =
    CmdError::new("ERR", "ERR min or max not valid string range item");
const NAN_RESULT: CmdError = CmdError::new("ERR", "ERR resulting score is not a number (NaN)");
const NOT_POSITIVE: CmdError = CmdError::new("ERR", "ERR value is out of range, must be positive");

/// The listpack limits of the configuration.
fn limits(srv: &Ctx<'_>) -> Limits {
    Limits {
        max_entries: srv.data.config.zset_max_listpack_entries.max(0) as usize,
        max_value: srv.data.config.zset_max_listpack_value.max(0) as usize,
    }
}

/// The zset at `key` for reading (None if missing), or Err(WRONGTYPE).
fn read_zset<'a>(
    srv: &'a mut Ctx<'_>,
    c: &Session,
    key: &[u8],
) -> Result<Option<&'a ZSet>, CmdError> {
    match srv.lookup_read(c.db, key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The zset at `key` for writing (None if missing), or Err(WRONGTYPE).
fn write_zset<'a>(
    srv: &'a mut Ctx<'_>,
    c: &Session,
    key: &[u8],
) -> Result<Option<&'a mut ZSet>, CmdError> {
    match srv.lookup_write(c.db, key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// Deletes `key` if its zset became empty (Redis never keeps empty collections).
fn delete_if_empty(srv: &mut Ctx<'_>, db: usize, key: &[u8]) {
    if matches!(srv.data.keyspace[db].peek(key), Some(Value::ZSet(z)) if z.is_empty()) {
        srv.data.keyspace.delete(db, key);
    }
}

/// Parses a score argument (ZADD, ZINCRBY): a float, `inf` allowed, NaN refused.
fn parse_score(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(err::NOT_FLOAT)
}

fn parse_long(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(err::NOT_INTEGER)
}

/// Redis's getRangeLongFromObjectOrReply with a message for both failures: `e` unless `arg`
/// is an integer of at least 1.
fn parse_positive_with(arg: &[u8], e: CmdError) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Some(v) if v >= 1 => Ok(v),
        _ => Err(e),
    }
}

/// Appends one element of a WITHSCORES-style reply: member then score, nested in a pair for
/// RESP3.
fn add_element(c: &mut Session, member: &[u8], score: f64, withscores: bool) {
    if withscores && c.resp == Resp::V3 {
        c.add_array(2);
    }
    c.add_bulk(member);
    if withscores {
        c.add_double(score);
    }
}

/// The array header of a reply of `n` elements (2n entries in RESP2 with scores).
fn add_elements_header(c: &mut Session, n: usize, withscores: bool) {
    if withscores && c.resp == Resp::V2 {
        c.add_array(2 * n);
    } else {
        c.add_array(n);
    }
}

// ----- ZADD / ZINCRBY ----------------------------------------------------------------------

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub(crate) fn zadd(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    zadd_generic(srv, c, argv, false)
}

/// ZINCRBY key increment member: ZADD INCR, as Redis implements it.
pub(crate) fn zincrby(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    zadd_generic(srv, c, argv, true)
}

fn zadd_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, mut incr: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch) = (false, false, false, false, false);
    let mut at = 2;
    while at < argv.len() {
        match base::lower(&argv[at]).as_str() {
            "nx" => nx = true,
            "xx" => xx = true,
            "gt" => gt = true,
            "lt" => lt = true,
            "ch" => ch = true,
            "incr" => incr = true,
            _ => break,
        }
        at += 1;
    }
    let elements = argv.len() - at;
    if elements % 2 != 0 || elements == 0 {
        return Err(err::SYNTAX);
    }
    let pairs = elements / 2;
    if nx && xx {
        return Err(CmdError::new(
            "ERR",
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CmdError::new(
            "ERR",
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && pairs > 1 {
        return Err(CmdError::new(
            "ERR",
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut scores = Vec::with_capacity(pairs);
    for j in 0..pairs {
        scores.push(parse_score(&argv[at + 2 * j])?);
    }
    let lim = limits(srv);
    let key = &argv[1];
    let db = c.db;
    let existing = write_zset(srv, c, key)?;
    if existing.is_none() {
        if xx {
            if incr {
                c.add_null();
            } else {
                c.add_int(0);
            }
            return Ok(());
        }
        let z = ZSet::new_for(lim, argv[at + 1].len());
        srv.data.keyspace.set(db, key, Value::ZSet(Box::new(z)), false);
    }
    let Some(Value::ZSet(z)) = srv.data.keyspace.get_mut(db, key, srv.data.now_ms) else {
        unreachable!("zset present");
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last_score = 0.0;
    let mut nan = false;
    for (j, &given) in scores.iter().enumerate() {
        let member = &argv[at + 2 * j + 1];
        match z.score(member) {
            Some(cur) => {
                if nx {
                    continue;
                }
                let mut score = given;
                if incr {
                    score += cur;
                    if score.is_nan() {
                        nan = true;
                        break;
                    }
                }
                if (lt && score >= cur) || (gt && score <= cur) {
                    continue;
                }
                last_score = score;
                processed += 1;
                if score != cur {
                    z.set(member, score, lim);
                    updated += 1;
                }
            }
            None => {
                if xx {
                    continue;
                }
                z.set(member, given, lim);
                last_score = given;
                added += 1;
                processed += 1;
            }
        }
    }
    srv.data.dirty += (added + updated) as u64;
    if nan {
        // The key may have been created empty for this command.
        delete_if_empty(srv, db, key);
        return Err(NAN_RESULT);
    }
    if incr {
        if processed > 0 {
            c.add_double(last_score);
        } else {
            c.add_null();
        }
    } else {
        c.add_int(if ch { added + updated } else { added });
    }
    Ok(())
}

// ----- single elements --------------------------------------------------------------------

pub(crate) fn zrem(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let db = c.db;
    let Some(z) = write_zset(srv, c, &argv[1])? else {
        c.add_int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for m in &argv[2..] {
        if z.remove(m).is_some() {
            deleted += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    delete_if_empty(srv, db, &argv[1]);
    srv.data.dirty += deleted as u64;
    c.add_int(deleted);
    Ok(())
}

pub(crate) fn zscore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match read_zset(srv, c, &argv[1])?.and_then(|z| z.score(&argv[2])) {
        Some(s) => c.add_double(s),
        None => c.add_null(),
    }
    Ok(())
}

pub(crate) fn zmscore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let z = read_zset(srv, c, &argv[1])?;
    c.add_array(argv.len() - 2);
    for m in &argv[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => c.add_double(s),
            None => c.add_null(),
        }
    }
    Ok(())
}

pub(crate) fn zcard(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let z = read_zset(srv, c, &argv[1])?;
    c.add_int(z.map_or(0, |z| z.len() as i64));
    Ok(())
}

fn rank_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, rev: bool) -> CmdResult {
    let z = read_zset(srv, c, &argv[1])?;
    match z.and_then(|z| Some((z.len(), z.rank(&argv[2])?.0))) {
        Some((len, r)) => c.add_int(if rev { len - 1 - r } else { r } as i64),
        None => c.add_null(),
    }
    Ok(())
}

pub(crate) fn zrank(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    rank_generic(srv, c, argv, false)
}

pub(crate) fn zrevrank(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    rank_generic(srv, c, argv, true)
}

pub(crate) fn zcount(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let r = parse_score_range(&argv[2], &argv[3]).map_err(|()| MIN_MAX_NOT_FLOAT)?;
    let z = read_zset(srv, c, &argv[1])?;
    let n = z.and_then(|z| z.score_range_ranks(&r)).map_or(0, |(a, b)| b + 1 - a);
    c.add_int(n as i64);
    Ok(())
}

pub(crate) fn zlexcount(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let r = parse_lex_range(&argv[2], &argv[3]).map_err(|()| MIN_MAX_NOT_LEX)?;
    let z = read_zset(srv, c, &argv[1])?;
    let n = z.and_then(|z| z.lex_range_ranks(&r)).map_or(0, |(a, b)| b + 1 - a);
    c.add_int(n as i64);
    Ok(())
}

// ----- the ZRANGE family -------------------------------------------------------------------

/// What a range selects.
enum Selection {
    /// Indexes as given (negative from the end), counted from the top when REV.
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

#[derive(Clone, Copy, PartialEq)]
enum RangeKind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed ZRANGE-family request.
struct RangeRequest {
    selection: Selection,
    rev: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
    withscores: bool,
}

/// Parses `<min> <max> [options]` starting at `argv[first]` (Redis's zrangeGenericCommand
/// steps 1 and 2). `rev` is None when REV may be given as an option (ZRANGE, ZRANGESTORE).
fn parse_range_request(
    argv: &Argv,
    first: usize,
    store: bool,
    mut kind: RangeKind,
    rev: Option<bool>,
) -> Result<RangeRequest, CmdError> {
    let mut reverse = rev.unwrap_or(false);
    let (mut offset, mut limit, mut withscores) = (0i64, -1i64, false);
    let mut j = first + 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let opt = base::lower(&argv[j]);
        if !store && opt == "withscores" {
            withscores = true;
        } else if opt == "limit" && left >= 2 {
            offset = parse_long(&argv[j + 1])?;
            limit = parse_long(&argv[j + 2])?;
            j += 2;
        } else if rev.is_none() && opt == "rev" {
            reverse = true;
        } else if kind == RangeKind::Auto && opt == "bylex" {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && opt == "byscore" {
            kind = RangeKind::Score;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    if limit != -1 && kind == RangeKind::Rank {
        return Err(CmdError::new(
            "ERR",
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == RangeKind::Lex {
        return Err(CmdError::new(
            "ERR",
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (&argv[first], &argv[first + 1]);
    if reverse && kind != RangeKind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let selection = match kind {
        RangeKind::Score => {
            Selection::Score(parse_score_range(min, max).map_err(|()| MIN_MAX_NOT_FLOAT)?)
        }
        RangeKind::Lex => Selection::Lex(parse_lex_range(min, max).map_err(|()| MIN_MAX_NOT_LEX)?),
        _ => Selection::Rank(parse_long(min)?, parse_long(max)?),
    };
    Ok(RangeRequest { selection, rev: reverse, offset, limit, withscores })
}

/// Normalizes Redis rank indexes (negative from the end) to an inclusive window, or None when
/// it is empty.
fn rank_window(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// The ascending ranks `(first, last)` a request selects, visited downwards when `req.rev`.
fn resolve_range(z: &ZSet, req: &RangeRequest) -> Option<(usize, usize)> {
    let len = z.len();
    let (lo, hi) = match &req.selection {
        Selection::Rank(s, e) => {
            let (s, e) = rank_window(*s, *e, len)?;
            return Some(if req.rev { (len - 1 - e, len - 1 - s) } else { (s, e) });
        }
        Selection::Score(r) => z.score_range_ranks(r)?,
        Selection::Lex(r) => z.lex_range_ranks(r)?,
    };
    if req.offset < 0 || req.limit == 0 {
        return None;
    }
    let offset = req.offset as usize;
    if offset > hi - lo {
        return None;
    }
    let span = if req.limit < 0 { usize::MAX } else { req.limit as usize - 1 };
    Some(if req.rev {
        let b = hi - offset;
        (b.saturating_sub(span).max(lo), b)
    } else {
        let a = lo + offset;
        (a, a.saturating_add(span).min(hi))
    })
}

fn range_generic(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    kind: RangeKind,
    rev: Option<bool>,
) -> CmdResult {
    let req = parse_range_request(argv, 2, false, kind, rev)?;
    let Some(z) = read_zset(srv, c, &argv[1])? else {
        c.add_array(0);
        return Ok(());
    };
    match resolve_range(z, &req) {
        None => c.add_array(0),
        Some((a, b)) => {
            add_elements_header(c, b - a + 1, req.withscores);
            z.visit_ranks(a, b, req.rev, |m, s| add_element(c, m, s, req.withscores));
        }
    }
    Ok(())
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub(crate) fn zrange(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    range_generic(srv, c, argv, RangeKind::Auto, None)
}
pub(crate) fn zrevrange(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    range_generic(srv, c, argv, RangeKind::Rank, Some(true))
}
pub(crate) fn zrangebyscore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    range_generic(srv, c, argv, RangeKind::Score, Some(false))
}
pub(crate) fn zrevrangebyscore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    range_generic(srv, c, argv, RangeKind::Score, Some(true))
}
pub(crate) fn zrangebylex(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    range_generic(srv, c, argv, RangeKind::Lex, Some(false))
}
pub(crate) fn zrevrangebylex(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    range_generic(srv, c, argv, RangeKind::Lex, Some(true))
}

/// Stores `pairs` at `dst` (replacing whatever was there, expiry dropped) or deletes `dst`
/// when there are none; replies the count (zrangeResultFinalizeStore, and the STORE forms
/// of the set algebra).
fn store_result(srv: &mut Ctx<'_>, c: &mut Session, dst: &[u8], pairs: Vec<(Vec<u8>, f64)>) {
    let db = c.db;
    let n = pairs.len();
    if n > 0 {
        let z = ZSet::from_pairs(pairs, limits(srv));
        srv.data.keyspace.set(db, dst, Value::ZSet(Box::new(z)), false);
        srv.data.dirty += 1;
    } else if srv.data.keyspace.delete(db, dst) {
        srv.data.dirty += 1;
    }
    c.add_int(n as i64);
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub(crate) fn zrangestore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let req = parse_range_request(argv, 3, true, RangeKind::Auto, None)?;
    let z = read_zset(srv, c, &argv[2])?;
    let mut pairs = Vec::new();
    if let Some((a, b)) = z.and_then(|z| resolve_range(z, &req)) {
        z.expect("resolved").visit_ranks(a, b, false, |m, s| pairs.push((m.to_vec(), s)));
    }
    store_result(srv, c, &argv[1], pairs);
    Ok(())
}

// ----- range removal -----------------------------------------------------------------------

fn remrange_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, kind: RangeKind) -> CmdResult {
    let selection = match kind {
        RangeKind::Score => {
            Selection::Score(parse_score_range(&argv[2], &argv[3]).map_err(|()| MIN_MAX_NOT_FLOAT)?)
        }
        RangeKind::Lex => {
            Selection::Lex(parse_lex_range(&argv[2], &argv[3]).map_err(|()| MIN_MAX_NOT_LEX)?)
        }
        _ => Selection::Rank(parse_long(&argv[2])?, parse_long(&argv[3])?),
    };
    let req = RangeRequest { selection, rev: false, offset: 0, limit: -1, withscores: false };
    let db = c.db;
    let Some(z) = write_zset(srv, c, &argv[1])? else {
        c.add_int(0);
        return Ok(());
    };
    let removed = match resolve_range(z, &req) {
        Some((a, b)) => z.remove_ranks(a, b),
        None => 0,
    };
    delete_if_empty(srv, db, &argv[1]);
    srv.data.dirty += removed as u64;
    c.add_int(removed as i64);
    Ok(())
}

pub(crate) fn zremrangebyrank(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    remrange_generic(srv, c, argv, RangeKind::Rank)
}
pub(crate) fn zremrangebyscore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    remrange_generic(srv, c, argv, RangeKind::Score)
}
pub(crate) fn zremrangebylex(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    remrange_generic(srv, c, argv, RangeKind::Lex)
}

// ----- pops ----------------------------------------------------------------------------------

/// How a pop replies, as Redis's genericZpopCommand arguments.
#[derive(Clone, Copy)]
pub(crate) struct PopReply {
    /// Name the key first (ZMPOP, BZPOPMIN...).
    pub(crate) emit_key: bool,
    /// Elements as [member, score] pairs rather than a flat list.
    pub(crate) nested: bool,
    /// Reply a null array (rather than an empty one) when no key has elements.
    pub(crate) nil_when_empty: bool,
}

/// Pops up to `count` elements (`None`: one element, the plain form) from the first
/// non-empty zset of `keys`, from the high end when `from_max`, and replies. Returns the key
/// popped from, or None when nothing was popped (no key, or a count of 0); Err(WRONGTYPE),
/// with nothing replied, for a key of another type met before the first zset. The blocking
/// commands call this once a key has elements.
pub(crate) fn pop_reply(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    keys: &[Vec<u8>],
    from_max: bool,
    count: Option<usize>,
    how: PopReply,
) -> Result<Option<Vec<u8>>, CmdError> {
    let db = c.db;
    let mut found = None;
    for key in keys {
        if write_zset(srv, c, key)?.is_some() {
            found = Some(key);
            break;
        }
    }
    let Some(key) = found else {
        if how.nil_when_empty {
            c.add_null_array();
        } else {
            c.add_array(0);
        }
        return Ok(None);
    };
    if count == Some(0) {
        c.add_array(0);
        return Ok(None);
    }
    let Some(Value::ZSet(z)) = srv.data.keyspace.get_mut(db, key, srv.data.now_ms) else {
        unreachable!("zset found above");
    };
    let popped = z.pop(count.unwrap_or(1), from_max);
    match (how.emit_key, how.nested) {
        (false, false) => c.add_array(popped.len() * 2),
        (false, true) => c.add_array(popped.len()),
        (true, false) => {
            c.add_array(popped.len() * 2 + 1);
            c.add_bulk(key);
        }
        (true, true) => {
            c.add_array(2);
            c.add_bulk(key);
            c.add_array(popped.len());
        }
    }
    for (m, s) in &popped {
        if how.nested {
            c.add_array(2);
        }
        c.add_bulk(m);
        c.add_double(*s);
    }
    let emptied = matches!(srv.data.keyspace[db].peek(key), Some(Value::ZSet(z)) if z.is_empty());
    delete_if_empty(srv, db, key);
    srv.data.dirty += popped.len() as u64;
    if !popped.is_empty() {
        let event = if from_max { "zpopmax" } else { "zpopmin" };
        srv.notify(crate::config::custom::notify::ZSET, event, key, db);
        if emptied {
            srv.notify(crate::config::custom::notify::GENERIC, "del", key, db);
        }
    }
    Ok(Some(key.clone()))
}

fn zpop_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, from_max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(err::SYNTAX);
    }
    let mut count = None;
    if argv.len() == 3 {
        match parse_i64(&argv[2]) {
            Some(n) if n >= 0 => count = Some(n as usize),
            _ => return Err(NOT_POSITIVE),
        }
    }
    let how = PopReply {
        emit_key: false,
        nested: c.resp == Resp::V3 && count.is_some(),
        nil_when_empty: false,
    };
    pop_reply(srv, c, &argv[1..2], from_max, count, how)?;
    Ok(())
}

pub(crate) fn zpopmin(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    zpop_generic(srv, c, argv, false)
}
pub(crate) fn zpopmax(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    zpop_generic(srv, c, argv, true)
}

/// A parsed `numkeys key... MIN|MAX [COUNT count]` (ZMPOP, and BZMPOP after its timeout).
pub(crate) struct MpopArgs {
    pub(crate) keys: Vec<Vec<u8>>,
    pub(crate) from_max: bool,
    pub(crate) count: usize,
}

/// Parses ZMPOP's arguments from `argv[numkeys_at]` on; Err is the error to reply.
pub(crate) fn parse_mpop(argv: &Argv, numkeys_at: usize) -> Result<MpopArgs, CmdError> {
    const NUMKEYS: CmdError = CmdError::new("ERR", "ERR numkeys should be greater than 0");
    const COUNT: CmdError = CmdError::new("ERR", "ERR count should be greater than 0");
    let numkeys = parse_positive_with(&argv[numkeys_at], NUMKEYS)? as usize;
    let where_at = numkeys_at.saturating_add(numkeys).saturating_add(1);
    if where_at >= argv.len() {
        return Err(err::SYNTAX);
    }
    let from_max = match base::lower(&argv[where_at]).as_str() {
        "min" => false,
        "max" => true,
        _ => return Err(err::SYNTAX),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        if count.is_none() && base::lower(&argv[j]) == "count" && j + 1 < argv.len() {
            j += 1;
            count = Some(parse_positive_with(&argv[j], COUNT)? as usize);
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    Ok(MpopArgs {
        keys: argv[numkeys_at + 1..where_at].to_vec(),
        from_max,
        count: count.unwrap_or(1),
    })
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub(crate) fn zmpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let args = parse_mpop(argv, 1)?;
    let how = PopReply { emit_key: true, nested: true, nil_when_empty: true };
    let dirty_before = srv.data.dirty;
    if let Some(key) = pop_reply(srv, c, &args.keys, args.from_max, Some(args.count), how)? {
        propagate_mpop(srv, &key, args.from_max, dirty_before);
    }
    Ok(())
}

/// (B)ZMPOP is propagated as what it did, ZPOPMIN/ZPOPMAX key <popped> (as Redis 7.0), the
/// popped count being the dirty counter's growth since `dirty_before`.
fn propagate_mpop(srv: &mut Ctx<'_>, key: &[u8], from_max: bool, dirty_before: u64) {
    let popped = srv.data.dirty - dirty_before;
    let cmd: &[u8] = if from_max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    srv.propagate_as(crate::engine::feed::argv(&[cmd, key, popped.to_string().as_bytes()]));
}

// ----- set algebra ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            // inf + -inf: Redis's convention is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// One input of the set algebra: a zset, a plain set (scores 1), or a missing key.
struct Source {
    elements: Vec<(Vec<u8>, f64)>,
    index: Option<hashbrown::HashMap<Vec<u8>, f64>>,
    weight: f64,
}

impl Source {
    fn len(&self) -> usize {
        self.elements.len()
    }
    fn score(&mut self, member: &[u8]) -> Option<f64> {
        let elements = &self.elements;
        self.index.get_or_insert_with(|| elements.iter().cloned().collect()).get(member).copied()
    }
}

/// Reads the inputs of the set algebra; Err(WRONGTYPE) for a key that is neither a zset nor a
/// set.
fn read_sources(srv: &mut Ctx<'_>, c: &Session, keys: &[Vec<u8>]) -> Result<Vec<Source>, CmdError> {
    let mut out = Vec::with_capacity(keys.len());
    let mut ib = tine_core::types::listpack::IntBuf::default();
    for key in keys {
        let elements = match srv.lookup_read(c.db, key) {
            None => Vec::new(),
            Some(Value::ZSet(z)) => {
                z.iter().map(|(m, s)| (m.as_bytes(&mut ib).to_vec(), s)).collect()
            }
            Some(Value::Set(s)) => s.iter().map(|m| (m.as_bytes(&mut ib).to_vec(), 1.0)).collect(),
            Some(_) => return Err(err::WRONGTYPE),
        };
        out.push(Source { elements, index: None, weight: 1.0 });
    }
    Ok(out)
}

/// Computes a union, intersection or difference (zunionInterDiffGenericCommand's core);
/// `limit` stops an intersection early (ZINTERCARD).
fn compute(mut srcs: Vec<Source>, op: SetOp, how: Aggregate, limit: usize) -> Vec<(Vec<u8>, f64)> {
    let weighted = |w: f64, s: f64| {
        let v = w * s;
        if v.is_nan() { 0.0 } else { v }
    };
    match op {
        SetOp::Inter => {
            srcs.sort_by_key(|s| s.len());
            let (first, rest) = srcs.split_first_mut().expect("at least one key");
            let mut out = Vec::new();
            if first.len() == 0 {
                return out;
            }
            'elements: for (m, s) in &first.elements {
                let mut score = weighted(first.weight, *s);
                for other in rest.iter_mut() {
                    let w = other.weight;
                    match other.score(m) {
                        // Not NaN-corrected here, as in Redis: MIN/MAX then ignore a NaN.
                        Some(v) => aggregate(&mut score, v * w, how),
                        None => continue 'elements,
                    }
                }
                out.push((m.clone(), score));
                if limit != 0 && out.len() >= limit {
                    break;
                }
            }
            out
        }
        SetOp::Union => {
            srcs.sort_by_key(|s| s.len());
            let mut acc: hashbrown::HashMap<Vec<u8>, f64> = hashbrown::HashMap::new();
            let mut order = Vec::new();
            for src in &srcs {
                for (m, s) in &src.elements {
                    let v = weighted(src.weight, *s);
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, v, how),
                        None => {
                            acc.insert(m.clone(), v);
                            order.push(m.clone());
                        }
                    }
                }
            }
            order
                .into_iter()
                .map(|m| {
                    let s = acc[&m];
                    (m, s)
                })
                .collect()
        }
        SetOp::Diff => {
            let (first, rest) = srcs.split_first_mut().expect("at least one key");
            let mut out = Vec::new();
            'diff: for (m, s) in &first.elements {
                for other in rest.iter_mut() {
                    if other.len() > 0 && other.score(m).is_some() {
                        continue 'diff;
                    }
                }
                out.push((m.clone(), *s));
            }
            out
        }
    }
}

/// ZUNION/ZINTER/ZDIFF, their STORE forms and ZINTERCARD: `numkeys_at` is where the key count
/// is, `store` whether argv[1] is a destination.
fn algebra_generic(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    op: SetOp,
    store: bool,
    card: bool,
) -> CmdResult {
    let numkeys_at = if store { 2 } else { 1 };
    let setnum = parse_long(&argv[numkeys_at])?;
    if setnum < 1 {
        return Err(CmdError::owned(
            "ERR",
            format!("ERR at least 1 input key is needed for '{}' command", base::lower(&argv[0])),
        ));
    }
    if setnum as u64 > (argv.len() - numkeys_at - 1) as u64 {
        return Err(err::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &argv[numkeys_at + 1..numkeys_at + 1 + setnum];
    let mut srcs = read_sources(srv, c, keys)?;
    let (mut how, mut withscores, mut limit) = (Aggregate::Sum, false, 0usize);
    let mut j = numkeys_at + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let opt = base::lower(&argv[j]);
        if op != SetOp::Diff && !card && remaining > setnum && opt == "weights" {
            j += 1;
            for src in srcs.iter_mut() {
                src.weight = parse_f64(&argv[j])
                    .ok_or(CmdError::new("ERR", "ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card && remaining >= 2 && opt == "aggregate" {
            how = match base::lower(&argv[j + 1]).as_str() {
                "sum" => Aggregate::Sum,
                "min" => Aggregate::Min,
                "max" => Aggregate::Max,
                _ => return Err(err::SYNTAX),
            };
            j += 2;
        } else if !store && !card && opt == "withscores" {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && opt == "limit" {
            match parse_i64(&argv[j + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return Err(CmdError::new("ERR", "ERR LIMIT can't be negative")),
            }
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let mut result = compute(srcs, op, how, if card { limit } else { 0 });
    if card {
        c.add_int(result.len() as i64);
    } else if store {
        store_result(srv, c, &argv[1], result);
    } else {
        result.sort_by(|a, b| element_cmp((&a.0, a.1), (&b.0, b.1)));
        add_elements_header(c, result.len(), withscores);
        for (m, s) in &result {
            add_element(c, m, *s, withscores);
        }
    }
    Ok(())
}

pub(crate) fn zunion(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    algebra_generic(srv, c, argv, SetOp::Union, false, false)
}
pub(crate) fn zinter(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    algebra_generic(srv, c, argv, SetOp::Inter, false, false)
}
pub(crate) fn zdiff(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    algebra_generic(srv, c, argv, SetOp::Diff, false, false)
}
pub(crate) fn zunionstore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    algebra_generic(srv, c, argv, SetOp::Union, true, false)
}
pub(crate) fn zinterstore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    algebra_generic(srv, c, argv, SetOp::Inter, true, false)
}
pub(crate) fn zdiffstore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    algebra_generic(srv, c, argv, SetOp::Diff, true, false)
}
pub(crate) fn zintercard(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    algebra_generic(srv, c, argv, SetOp::Inter, false, true)
}

// ----- ZRANDMEMBER -----------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]
pub(crate) fn zrandmember(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    use rand::Rng;
    use rand::seq::SliceRandom;
    let mut count = None;
    let mut withscores = false;
    if argv.len() >= 3 {
        let l = parse_long(&argv[2])?;
        if l == i64::MIN {
            return Err(CmdError::err(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        if argv.len() > 4 || (argv.len() == 4 && base::lower(&argv[3]) != "withscores") {
            return Err(err::SYNTAX);
        }
        if argv.len() == 4 {
            withscores = true;
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
                return Err(CmdError::new("ERR", "ERR value is out of range"));
            }
        }
        count = Some(l);
    }
    let z = read_zset(srv, c, &argv[1])?;
    let mut rng = rand::thread_rng();
    let Some(l) = count else {
        match z {
            None => c.add_null(),
            Some(z) => {
                let (m, _) = z.at_rank(rng.gen_range(0..z.len())).expect("non-empty");
                c.add_bulk(&m);
            }
        }
        return Ok(());
    };
    let Some(z) = z else {
        c.add_array(0);
        return Ok(());
    };
    let size = z.len();
    let n = l.unsigned_abs() as usize;
    if n == 0 {
        c.add_array(0);
        return Ok(());
    }
    // Repetitions allowed: n independent draws.
    if l < 0 || n == 1 {
        add_elements_header(c, n, withscores);
        for _ in 0..n {
            let (m, s) = z.at_rank(rng.gen_range(0..size)).expect("in range");
            add_element(c, &m, s, withscores);
        }
        return Ok(());
    }
    // Distinct elements: everything, in order, when asking for at least the whole set.
    if n >= size {
        add_elements_header(c, size, withscores);
        z.visit_ranks(0, size - 1, false, |m, s| add_element(c, m, s, withscores));
        return Ok(());
    }
    let ranks: Vec<usize> = if n * 3 > size {
        let mut all: Vec<usize> = (0..size).collect();
        all.shuffle(&mut rng);
        all.truncate(n);
        all
    } else {
        let mut picked = hashbrown::HashSet::with_capacity(n);
        let mut order = Vec::with_capacity(n);
        while order.len() < n {
            let r = rng.gen_range(0..size);
            if picked.insert(r) {
                order.push(r);
            }
        }
        order
    };
    add_elements_header(c, n, withscores);
    for r in ranks {
        let (m, s) = z.at_rank(r).expect("in range");
        add_element(c, &m, s, withscores);
    }
    Ok(())
}

// ----- ZSCAN -----------------------------------------------------------------------------------

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A listpack is returned whole with cursor 0, as Redis does. A skiplist is walked by rank:
/// the cursor is the rank to continue from. Unlike Redis's bucket cursor, removing elements
/// below the cursor between calls can make the scan skip elements that shifted down.
pub(crate) fn zscan(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let cursor = super::keys::scan_cursor(&argv[2])?;
    let Some(z) = read_zset(srv, c, &argv[1])? else {
        c.add_array(2);
        c.add_bulk(b"0");
        c.add_array(0);
        return Ok(());
    };
    let mut pattern: Option<&[u8]> = None;
    let mut count: usize = 10;
    let mut i = 3;
    while i < argv.len() {
        if i + 1 >= argv.len() {
            return Err(err::SYNTAX);
        }
        match base::lower(&argv[i]).as_str() {
            "match" => pattern = Some(&argv[i + 1]),
            "count" => match parse_i64(&argv[i + 1]) {
                Some(n) if n >= 1 => count = n as usize,
                Some(_) => return Err(err::SYNTAX),
                None => return Err(err::NOT_INTEGER),
            },
            _ => return Err(err::SYNTAX),
        }
        i += 2;
    }
    let len = z.len();
    let (start, end, next) = match z {
        ZSet::Listpack(_) => (0, len, 0),
        ZSet::Skiplist(_) => {
            let start = (cursor as usize).min(len);
            let end = start.saturating_add(count).min(len);
            (start, end, if end >= len { 0 } else { end })
        }
    };
    let mut found: Vec<Vec<u8>> = Vec::new();
    if end > start {
        z.visit_ranks(start, end - 1, false, |m, s| {
            if pattern.is_some_and(|p| !base::glob_match(p, m, false)) {
                return;
            }
            found.push(m.to_vec());
            // Redis's d2string: as a listpack stores it, except that -0 keeps its sign (a
            // listpack never holds -0, so this is the stored text for both encodings).
            if s == 0.0 && s.is_sign_negative() {
                found.push(b"-0".to_vec());
            } else {
                let mut buf = [0u8; 32];
                let n = score_to_listpack_text(s, &mut buf);
                found.push(buf[..n].to_vec());
            }
        });
    }
    c.add_array(2);
    c.add_bulk(next.to_string().as_bytes());
    c.add_bulk_array(found.iter());
    Ok(())
}

// ----- blocking pops (see crate::engine::blocking) ---------------------------------------------------

/// The first of `keys` holding a non-empty zset; Err(WRONGTYPE) for a key of another type met
/// first (Redis checks the keys in order).
fn first_nonempty_zset(
    srv: &mut Ctx<'_>,
    c: &Session,
    keys: &[Vec<u8>],
) -> Result<Option<Vec<u8>>, CmdError> {
    for key in keys {
        match srv.lookup_read_nostats(c.db, key) {
            None => continue,
            Some(Value::ZSet(z)) if !z.is_empty() => return Ok(Some(key.clone())),
            Some(Value::ZSet(_)) => continue,
            Some(_) => return Err(err::WRONGTYPE),
        }
    }
    Ok(None)
}

const BZPOP_REPLY: PopReply = PopReply { emit_key: true, nested: false, nil_when_empty: true };
const BZMPOP_REPLY: PopReply = PopReply { emit_key: true, nested: true, nil_when_empty: true };

fn bzpop_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, from_max: bool) -> CmdResult {
    let deadline = crate::engine::blocking::parse_timeout(srv, &argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    match first_nonempty_zset(srv, c, keys)? {
        Some(key) => {
            pop_reply(srv, c, &[key], from_max, None, BZPOP_REPLY)?;
        }
        None => {
            if !crate::engine::blocking::may_block(c) {
                c.add_null_array();
                return Ok(());
            }
            let serve = if from_max { super::retry::BZPOPMAX } else { super::retry::BZPOPMIN };
            crate::engine::blocking::block_for_keys(srv, c, keys, deadline, argv, serve);
        }
    }
    Ok(())
}

/// Serves a client blocked in BZPOPMIN/BZPOPMAX once `key` is ready.
fn serve_bzpop(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    key: &[u8],
    from_max: bool,
) -> crate::engine::blocking::Served {
    match srv.data.keyspace[c.db].peek(key) {
        Some(Value::ZSet(z)) if !z.is_empty() => {
            // A retry replies its own errors.
            if let Err(e) = pop_reply(srv, c, &[key.to_vec()], from_max, None, BZPOP_REPLY) {
                c.add_error(e);
            }
            crate::engine::blocking::Served::Done
        }
        _ => crate::engine::blocking::Served::KeepWaiting,
    }
}

pub(crate) fn serve_bzpopmin(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    _argv: &Argv,
    key: &[u8],
) -> crate::engine::blocking::Served {
    serve_bzpop(srv, c, key, false)
}

pub(crate) fn serve_bzpopmax(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    _argv: &Argv,
    key: &[u8],
) -> crate::engine::blocking::Served {
    serve_bzpop(srv, c, key, true)
}

pub(crate) fn bzpopmin(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    bzpop_generic(srv, c, argv, false)
}

pub(crate) fn bzpopmax(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    bzpop_generic(srv, c, argv, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub(crate) fn bzmpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let args = parse_mpop(argv, 2)?;
    let deadline = crate::engine::blocking::parse_timeout(srv, &argv[1])?;
    match first_nonempty_zset(srv, c, &args.keys)? {
        Some(key) => {
            let dirty_before = srv.data.dirty;
            pop_reply(
                srv,
                c,
                std::slice::from_ref(&key),
                args.from_max,
                Some(args.count),
                BZMPOP_REPLY,
            )?;
            propagate_mpop(srv, &key, args.from_max, dirty_before);
        }
        None => {
            if !crate::engine::blocking::may_block(c) {
                c.add_null_array();
                return Ok(());
            }
            crate::engine::blocking::block_for_keys(
                srv,
                c,
                &args.keys,
                deadline,
                argv,
                super::retry::BZMPOP,
            );
        }
    }
    Ok(())
}

pub(crate) fn serve_bzmpop(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    key: &[u8],
) -> crate::engine::blocking::Served {
    if !matches!(srv.data.keyspace[c.db].peek(key), Some(Value::ZSet(z)) if !z.is_empty()) {
        return crate::engine::blocking::Served::KeepWaiting;
    }
    // Validated when it blocked, so this parse does not fail; a retry replies its own errors.
    let args = match parse_mpop(argv, 2) {
        Ok(args) => args,
        Err(e) => {
            c.add_error(e);
            return crate::engine::blocking::Served::Done;
        }
    };
    let dirty_before = srv.data.dirty;
    match pop_reply(srv, c, &[key.to_vec()], args.from_max, Some(args.count), BZMPOP_REPLY) {
        Ok(_) => propagate_mpop(srv, key, args.from_max, dirty_before),
        Err(e) => c.add_error(e),
    }
    crate::engine::blocking::Served::Done
}
