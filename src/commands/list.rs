//! List commands: pushes and pops at both ends (LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP,
//! LMPOP), moves between lists (LMOVE, RPOPLPUSH), reads (LLEN, LRANGE, LINDEX, LPOS) and
//! edits (LSET, LINSERT, LREM, LTRIM), and the blocking forms (BLPOP, BRPOP, BLMPOP, BLMOVE,
//! BRPOPLPUSH) built on `crate::engine::blocking`.
//!
//! Replies, errors and the order in which arguments are checked follow Redis 7.0's t_list.c:
//! every argument is validated before the keyspace changes, and a list that becomes empty is
//! deleted in the same command (a key never holds an empty list). New lists take their node
//! size from `list-max-listpack-size`.
//!
//! A blocking command that cannot be served at once blocks through
//! `blocking::block_for_keys` with one of the `serve_*` functions below as its retry: when one
//! of its keys is created, the retry pops from that key and replies, or leaves the client
//! waiting when the key is not a list.

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::config::custom::notify;
use crate::engine::blocking::{self, Served};
use crate::engine::session::Session;
use tine_core::base::parse_i64;
use tine_core::keyspace::Value;
use tine_core::types::list::List;
use tine_core::types::listpack::Entry;

/// Largest element a list takes: a listpack node is at most 4 GiB (Redis 7.0 would store a
/// bigger one in a "plain" node; tine refuses it rather than fail later).
const MAX_ELEMENT_SIZE: usize = u32::MAX as usize - 64;

/// An element longer than `MAX_ELEMENT_SIZE`.
const ELEMENT_TOO_LARGE: CmdError = CmdError::new("ERR", "ERR Element too large");

/// Which end of a list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    Head,
    Tail,
}

/// LEFT / RIGHT, case-insensitively (Redis's getListPositionFromObjectOrReply); a syntax
/// error otherwise.
fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(End::Head)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(End::Tail)
    } else {
        Err(err::SYNTAX)
    }
}

/// Parses an integer argument; Redis's generic error when it is not one.
fn parse_int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(err::NOT_INTEGER)
}

/// Parses an integer in `min..=max`; "ERR `msg`" for anything else (Redis's
/// getRangeLongFromObjectOrReply with a message).
fn parse_ranged(arg: &[u8], min: i64, max: i64, msg: &str) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Some(v) if v >= min && v <= max => Ok(v),
        _ => Err(CmdError::err(msg)),
    }
}

/// The node fill new lists get (`list-max-listpack-size`).
fn new_list(srv: &Ctx<'_>) -> List {
    List::new(srv.data.config.list_max_listpack_size.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
}

/// Replies one list element as a bulk string.
fn reply_entry(c: &mut Session, e: Entry<'_>) {
    match e {
        Entry::Str(s) => c.add_bulk(s),
        Entry::Int(n) => c.add_bulk_i64(n),
    }
}

/// The list at `key` for reading: Ok(None) when missing, Err(WRONGTYPE) when not a list.
fn read_list<'a>(
    srv: &'a mut Ctx<'_>,
    c: &Session,
    key: &[u8],
) -> Result<Option<&'a List>, CmdError> {
    match srv.lookup_read(c.db, key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The list at `key` for writing: Ok(None) when missing, Err(WRONGTYPE) when not a list.
fn write_list<'a>(
    srv: &'a mut Ctx<'_>,
    c: &Session,
    key: &[u8],
) -> Result<Option<&'a mut List>, CmdError> {
    match srv.lookup_write(c.db, key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// Deletes `key` if it holds an empty list.
fn delete_if_empty(srv: &mut Ctx<'_>, db: usize, key: &[u8]) {
    if let Some(Value::List(l)) = srv.data.keyspace[db].peek(key) {
        if l.is_empty() {
            srv.data.keyspace.delete(db, key);
        }
    }
}

fn pop(l: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Head => l.pop_front(),
        End::Tail => l.pop_back(),
    }
}

fn push(l: &mut List, end: End, v: &[u8]) {
    match end {
        End::Head => l.push_front(v),
        End::Tail => l.push_back(v),
    }
}

// ----- pushes -----

fn push_generic(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    end: End,
    only_existing: bool,
) -> CmdResult {
    if argv[2..].iter().any(|e| e.len() > MAX_ELEMENT_SIZE) {
        return Err(ELEMENT_TOO_LARGE);
    }
    let key = &argv[1];
    let len = match write_list(srv, c, key)? {
        Some(l) => {
            for e in &argv[2..] {
                push(l, end, e);
            }
            l.len()
        }
        None if only_existing => {
            c.add_int(0);
            return Ok(());
        }
        None => {
            let mut l = new_list(srv);
            for e in &argv[2..] {
                push(&mut l, end, e);
            }
            let len = l.len();
            srv.data.keyspace.insert_new(c.db, key.as_slice().into(), Value::List(Box::new(l)));
            len
        }
    };
    srv.data.dirty += (argv.len() - 2) as u64;
    c.add_int(len as i64);
    Ok(())
}

pub(crate) fn lpush(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    push_generic(srv, c, argv, End::Head, false)
}

pub(crate) fn rpush(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    push_generic(srv, c, argv, End::Tail, false)
}

pub(crate) fn lpushx(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    push_generic(srv, c, argv, End::Head, true)
}

pub(crate) fn rpushx(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    push_generic(srv, c, argv, End::Tail, true)
}

// ----- pops -----

/// Pops up to `count` elements from `l` and replies them as an array; returns how many.
fn pop_range_reply(l: &mut List, c: &mut Session, end: End, count: i64) -> usize {
    let n = (count.max(0) as u64).min(l.len() as u64) as usize;
    c.add_array(n);
    for _ in 0..n {
        let v = pop(l, end).expect("counted");
        c.add_bulk(&v);
    }
    n
}

/// After popping `popped` elements from the list at `key`: deletes it if `emptied`, counts
/// the changes.
fn popped(srv: &mut Ctx<'_>, db: usize, key: &[u8], popped: usize, emptied: bool, end: End) {
    if emptied {
        srv.data.keyspace.delete(db, key);
    }
    srv.data.dirty += popped as u64;
    if popped > 0 {
        let event = if end == End::Head { "lpop" } else { "rpop" };
        srv.notify(notify::LIST, event, key, db);
        if emptied {
            srv.notify(notify::GENERIC, "del", key, db);
        }
    }
}

fn pop_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::owned(
            "ERR",
            format!(
                "ERR wrong number of arguments for '{}' command",
                tine_core::base::lower(&argv[0])
            ),
        ));
    }
    let count = match argv.get(2) {
        Some(a) => Some(parse_ranged(a, 0, i64::MAX, "value is out of range, must be positive")?),
        None => None,
    };
    let key = &argv[1];
    let db = c.db;
    let Some(l) = write_list(srv, c, key)? else {
        match count {
            Some(_) => c.add_null_array(),
            None => c.add_null(),
        }
        return Ok(());
    };
    let n = match count {
        Some(n) => pop_range_reply(l, c, end, n),
        None => {
            let v = pop(l, end).expect("lists are never empty");
            c.add_bulk(&v);
            1
        }
    };
    let emptied = l.is_empty();
    popped(srv, db, key, n, emptied, end);
    Ok(())
}

pub(crate) fn lpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    pop_generic(srv, c, argv, End::Head)
}

pub(crate) fn rpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    pop_generic(srv, c, argv, End::Tail)
}

// ----- reads -----

pub(crate) fn llen(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let n = read_list(srv, c, &argv[1])?.map_or(0, |l| l.len());
    c.add_int(n as i64);
    Ok(())
}

pub(crate) fn lindex(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let Some(l) = read_list(srv, c, &argv[1])? else {
        c.add_null();
        return Ok(());
    };
    let index = parse_int(&argv[2])?;
    match l.get(index) {
        Some(e) => reply_entry(c, e),
        None => c.add_null(),
    }
    Ok(())
}

/// Redis's clamping of a start/stop range against a list of `len` elements: `None` when the
/// range is empty, else (first index, count).
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut stop = if stop < 0 { llen + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= llen {
        return None;
    }
    if stop >= llen {
        stop = llen - 1;
    }
    Some((start as usize, (stop - start + 1) as usize))
}

pub(crate) fn lrange(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let start = parse_int(&argv[2])?;
    let stop = parse_int(&argv[3])?;
    let Some(l) = read_list(srv, c, &argv[1])? else {
        c.add_array(0);
        return Ok(());
    };
    match clamp_range(start, stop, l.len()) {
        None => c.add_array(0),
        Some((first, n)) => {
            c.add_array(n);
            for e in l.iter_from(first as i64).take(n) {
                reply_entry(c, e);
            }
        }
    }
    Ok(())
}

pub(crate) fn lpos(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let ele = &argv[2];
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = &argv[j];
        let more = j + 1 < argv.len();
        if opt.eq_ignore_ascii_case(b"rank") && more {
            j += 1;
            let r = parse_int(&argv[j])?;
            if r == 0 {
                return Err(CmdError::new(
                    "ERR",
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
            rank = r;
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            j += 1;
            count = Some(parse_ranged(&argv[j], 0, i64::MAX, "COUNT can't be negative")?);
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            j += 1;
            maxlen = parse_ranged(&argv[j], 0, i64::MAX, "MAXLEN can't be negative")?;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    // A negative rank searches from the tail. Redis negates with C's wrap-around, so
    // i64::MIN stays negative and then matches from the first hit.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let Some(l) = read_list(srv, c, &argv[1])? else {
        match count {
            Some(_) => c.add_array(0),
            None => c.add_null(),
        }
        return Ok(());
    };
    let len = l.len();
    let limit =
        if maxlen == 0 { usize::MAX } else { usize::try_from(maxlen).unwrap_or(usize::MAX) };
    let mut found: Vec<i64> = Vec::new();
    let mut matches: i64 = 0;
    let want = count.map(|n| if n == 0 { i64::MAX } else { n });
    let mut check = |i: usize, e: Entry<'_>| -> bool {
        if e.eq_bytes(ele) {
            matches += 1;
            if matches >= rank {
                found.push(if from_tail { (len - 1 - i) as i64 } else { i as i64 });
                return match want {
                    Some(w) => found.len() as i64 >= w,
                    None => true,
                };
            }
        }
        false
    };
    if from_tail {
        for (i, e) in l.iter().rev().enumerate().take(limit) {
            if check(i, e) {
                break;
            }
        }
    } else {
        for (i, e) in l.iter().enumerate().take(limit) {
            if check(i, e) {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            c.add_array(found.len());
            for i in found {
                c.add_int(i);
            }
        }
        None => match found.first() {
            Some(&i) => c.add_int(i),
            None => c.add_null(),
        },
    }
    Ok(())
}

// ----- edits -----

pub(crate) fn lset(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let l = write_list(srv, c, &argv[1])?.ok_or(err::NO_SUCH_KEY)?;
    let index = parse_int(&argv[2])?;
    if argv[3].len() > MAX_ELEMENT_SIZE {
        return Err(ELEMENT_TOO_LARGE);
    }
    if !l.set(index, &argv[3]) {
        return Err(err::INDEX_OUT_OF_RANGE);
    }
    srv.data.dirty += 1;
    c.add_ok();
    Ok(())
}

pub(crate) fn linsert(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let after = if argv[2].eq_ignore_ascii_case(b"after") {
        true
    } else if argv[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Err(err::SYNTAX);
    };
    if argv[4].len() > MAX_ELEMENT_SIZE {
        return Err(ELEMENT_TOO_LARGE);
    }
    let Some(l) = write_list(srv, c, &argv[1])? else {
        c.add_int(0);
        return Ok(());
    };
    let Some(at) = l.iter().position(|e| e.eq_bytes(&argv[3])) else {
        c.add_int(-1);
        return Ok(());
    };
    l.insert_at(if after { at + 1 } else { at }, &argv[4]);
    let len = l.len();
    srv.data.dirty += 1;
    c.add_int(len as i64);
    Ok(())
}

pub(crate) fn lrem(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let count = parse_int(&argv[2])?;
    let db = c.db;
    let Some(l) = write_list(srv, c, &argv[1])? else {
        c.add_int(0);
        return Ok(());
    };
    let ele = &argv[3];
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
    };
    // Indexes of the elements to remove, in list order.
    let mut hits: Vec<usize> = if count < 0 {
        let len = l.len();
        let mut v: Vec<usize> = l
            .iter()
            .rev()
            .enumerate()
            .filter(|(_, e)| e.eq_bytes(ele))
            .map(|(i, _)| len - 1 - i)
            .take(limit)
            .collect();
        v.reverse();
        v
    } else {
        l.iter().enumerate().filter(|(_, e)| e.eq_bytes(ele)).map(|(i, _)| i).take(limit).collect()
    };
    let removed = hits.len();
    if removed > 32 {
        // Many hits: rebuild once instead of deleting one by one.
        let mut kept = List::new(l.fill());
        let mut next_hit = hits.iter().copied().peekable();
        let mut ib = [0u8; tine_core::types::listpack::LP_INTBUF_SIZE];
        for (i, e) in l.iter().enumerate() {
            if next_hit.peek() == Some(&i) {
                next_hit.next();
                continue;
            }
            kept.push_back(e.as_bytes(&mut ib));
        }
        *l = kept;
    } else {
        while let Some(i) = hits.pop() {
            l.remove_range(i as i64, 1);
        }
    }
    delete_if_empty(srv, db, &argv[1]);
    srv.data.dirty += removed as u64;
    c.add_int(removed as i64);
    Ok(())
}

pub(crate) fn ltrim(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let start = parse_int(&argv[2])?;
    let stop = parse_int(&argv[3])?;
    let db = c.db;
    let Some(l) = write_list(srv, c, &argv[1])? else {
        c.add_ok();
        return Ok(());
    };
    let len = l.len();
    let (left, right) = match clamp_range(start, stop, len) {
        None => (len, 0),
        Some((first, n)) => (first, len - first - n),
    };
    if left > 0 {
        l.remove_range(0, left);
    }
    if right > 0 {
        l.remove_range(-(right as i64), right);
    }
    delete_if_empty(srv, db, &argv[1]);
    srv.data.dirty += (left + right) as u64;
    c.add_ok();
    Ok(())
}

// ----- moves -----

/// Moves one element from `src` to `dst` (Redis's lmoveGenericCommand without the reply):
/// both types are checked before anything changes (Err(WRONGTYPE) when either is not a
/// list); when `src == dst` the element rotates within the same list. Ok(None) when the
/// source is missing, else the element moved.
fn move_element(
    srv: &mut Ctx<'_>,
    c: &Session,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, CmdError> {
    let db = c.db;
    if write_list(srv, c, src)?.is_none() {
        return Ok(None);
    }
    if src != dst {
        write_list(srv, c, dst)?;
    }
    let now = srv.data.now_ms;
    let Some(Value::List(l)) = srv.data.keyspace.get_mut(db, src, now) else {
        return Ok(None);
    };
    let v = pop(l, from).expect("lists are never empty");
    // Redis publishes the push on the destination before the pop on the source.
    let (pop_event, push_event) = (
        if from == End::Head { "lpop" } else { "rpop" },
        if to == End::Head { "lpush" } else { "rpush" },
    );
    if src == dst {
        push(l, to, &v);
        srv.notify(notify::LIST, push_event, dst, db);
        srv.notify(notify::LIST, pop_event, src, db);
    } else {
        match srv.data.keyspace.get_mut(db, dst, now) {
            Some(Value::List(d)) => push(d, to, &v),
            _ => {
                let mut d = new_list(srv);
                push(&mut d, to, &v);
                srv.data.keyspace.insert_new(db, dst.into(), Value::List(Box::new(d)));
            }
        }
        let emptied =
            matches!(srv.data.keyspace[db].peek(src), Some(Value::List(l)) if l.is_empty());
        delete_if_empty(srv, db, src);
        srv.notify(notify::LIST, push_event, dst, db);
        srv.notify(notify::LIST, pop_event, src, db);
        if emptied {
            srv.notify(notify::GENERIC, "del", src, db);
        }
    }
    srv.data.dirty += 1;
    Ok(Some(v))
}

/// Moves one element and replies it (a null bulk when the source is missing).
fn lmove_reply(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> CmdResult {
    match move_element(srv, c, src, dst, from, to)? {
        None => c.add_null(),
        Some(v) => c.add_bulk(&v),
    }
    Ok(())
}

pub(crate) fn lmove(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    lmove_reply(srv, c, &argv[1], &argv[2], from, to)
}

pub(crate) fn rpoplpush(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    lmove_reply(srv, c, &argv[1], &argv[2], End::Tail, End::Head)
}

// ----- LMPOP / BLMPOP -----

/// The parsed arguments of LMPOP/BLMPOP: the keys' range in argv, the end, the count.
struct Mpop {
    first_key: usize,
    numkeys: usize,
    end: End,
    count: i64,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT n]` starting at `numkeys_at`, as Redis's
/// lmpopGenericCommand; Err is the error to reply.
fn parse_mpop(argv: &Argv, numkeys_at: usize) -> Result<Mpop, CmdError> {
    let numkeys = parse_ranged(&argv[numkeys_at], 1, i64::MAX, "numkeys should be greater than 0")?;
    let where_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_at + 1))
        .filter(|&w| w < argv.len())
        .ok_or(err::SYNTAX)?;
    let end = parse_end(&argv[where_at])?;
    let mut count: Option<i64> = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        if count.is_none() && argv[j].eq_ignore_ascii_case(b"count") && j + 1 < argv.len() {
            j += 1;
            count = Some(parse_ranged(&argv[j], 1, i64::MAX, "count should be greater than 0")?);
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    Ok(Mpop {
        first_key: numkeys_at + 1,
        numkeys: numkeys as usize,
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first non-empty list among the keys, replying `[key, [elements]]`. Returns
/// Ok(false) (after replying nothing) when every key is missing, Ok(true) when it replied,
/// Err(WRONGTYPE) (nothing replied) when a key before the first list is not a list.
fn mpop_first(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    keys: &[Vec<u8>],
    end: End,
    count: i64,
) -> Result<bool, CmdError> {
    let db = c.db;
    for key in keys {
        match write_list(srv, c, key)? {
            None => continue,
            Some(l) => {
                c.add_array(2);
                c.add_bulk(key);
                let n = pop_range_reply(l, c, end, count);
                let emptied = l.is_empty();
                popped(srv, db, key, n, emptied, end);
                // As what it did: LPOP/RPOP key <popped>, as Redis 7.0 propagates it.
                srv.propagate_as(crate::engine::feed::argv(&[
                    pop_name(end),
                    key,
                    n.to_string().as_bytes(),
                ]));
                return Ok(true);
            }
        }
    }
    Ok(false)
}

pub(crate) fn lmpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let m = parse_mpop(argv, 1)?;
    let keys = &argv[m.first_key..m.first_key + m.numkeys];
    if !mpop_first(srv, c, keys, m.end, m.count)? {
        c.add_null_array();
    }
    Ok(())
}

pub(crate) fn blmpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let m = parse_mpop(argv, 2)?;
    let deadline = blocking::parse_timeout(srv, &argv[1])?;
    let keys = &argv[m.first_key..m.first_key + m.numkeys];
    if mpop_first(srv, c, keys, m.end, m.count)? {
        return Ok(());
    }
    if !blocking::may_block(c) {
        c.add_null_array();
        return Ok(());
    }
    blocking::block_for_keys(srv, c, keys, deadline, argv, super::retry::BLMPOP);
    Ok(())
}

pub(crate) fn serve_blmpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, key: &[u8]) -> Served {
    if !matches!(srv.data.keyspace[c.db].peek(key), Some(Value::List(_))) {
        return Served::KeepWaiting;
    }
    // Validated when it blocked, so this parse does not fail; a retry replies its own errors.
    let m = match parse_mpop(argv, 2) {
        Ok(m) => m,
        Err(e) => {
            c.add_error(e);
            return Served::Done;
        }
    };
    if let Err(e) = mpop_first(srv, c, &[key.to_vec()], m.end, m.count) {
        c.add_error(e);
    }
    Served::Done
}

// ----- BLPOP / BRPOP -----

/// The pop command a blocking or multi-key pop is propagated as.
fn pop_name(end: End) -> &'static [u8] {
    match end {
        End::Head => b"LPOP",
        End::Tail => b"RPOP",
    }
}

/// The word for an end, as LMOVE takes it.
fn end_word(end: End) -> &'static [u8] {
    match end {
        End::Head => b"left",
        End::Tail => b"right",
    }
}

fn bpop_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, end: End) -> CmdResult {
    let deadline = blocking::parse_timeout(srv, &argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    let db = c.db;
    for key in keys {
        match write_list(srv, c, key)? {
            None => continue,
            Some(l) => {
                let v = pop(l, end).expect("lists are never empty");
                let emptied = l.is_empty();
                c.add_array(2);
                c.add_bulk(key);
                c.add_bulk(&v);
                popped(srv, db, key, 1, emptied, end);
                srv.propagate_as(crate::engine::feed::argv(&[pop_name(end), key]));
                return Ok(());
            }
        }
    }
    if !blocking::may_block(c) {
        c.add_null_array();
        return Ok(());
    }
    blocking::block_for_keys(srv, c, keys, deadline, argv, super::retry::BPOP);
    Ok(())
}

pub(crate) fn blpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    bpop_generic(srv, c, argv, End::Head)
}

pub(crate) fn brpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    bpop_generic(srv, c, argv, End::Tail)
}

pub(crate) fn serve_bpop(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, key: &[u8]) -> Served {
    let end = if argv[0].eq_ignore_ascii_case(b"brpop") { End::Tail } else { End::Head };
    let db = c.db;
    let now = srv.data.now_ms;
    let Some(Value::List(l)) = srv.data.keyspace.get_mut(db, key, now) else {
        return Served::KeepWaiting;
    };
    let Some(v) = pop(l, end) else {
        return Served::KeepWaiting;
    };
    let emptied = l.is_empty();
    c.add_array(2);
    c.add_bulk(key);
    c.add_bulk(&v);
    popped(srv, db, key, 1, emptied, end);
    srv.propagate_as(crate::engine::feed::argv(&[pop_name(end), key]));
    Served::Done
}

// ----- BLMOVE / BRPOPLPUSH -----

fn bmove_generic(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    from: End,
    to: End,
    timeout: &[u8],
) -> CmdResult {
    let deadline = blocking::parse_timeout(srv, timeout)?;
    if write_list(srv, c, &argv[1])?.is_some() {
        // The dataset is unchanged when this fails, so there is nothing to propagate.
        lmove_reply(srv, c, &argv[1], &argv[2], from, to)?;
        // Served at once: propagated as the non-blocking form.
        if argv[0].eq_ignore_ascii_case(b"brpoplpush") {
            srv.propagate_as(crate::engine::feed::argv(&[b"RPOPLPUSH", &argv[1], &argv[2]]));
        } else {
            srv.propagate_as(crate::engine::feed::argv(&[
                b"LMOVE", &argv[1], &argv[2], &argv[3], &argv[4],
            ]));
        }
    } else if !blocking::may_block(c) {
        // Redis answers a null bulk here, not the null array of a timeout.
        c.add_null();
    } else {
        blocking::block_for_keys(srv, c, &argv[1..2], deadline, argv, super::retry::BMOVE);
    }
    Ok(())
}

pub(crate) fn blmove(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    bmove_generic(srv, c, argv, from, to, &argv[5])
}

pub(crate) fn brpoplpush(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    bmove_generic(srv, c, argv, End::Tail, End::Head, &argv[3])
}

/// Serves BLMOVE / BRPOPLPUSH from its ready source. A destination of the wrong type ends the
/// wait with WRONGTYPE and leaves the source untouched, as Redis 7.0 does.
pub(crate) fn serve_bmove(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, key: &[u8]) -> Served {
    if !matches!(srv.data.keyspace[c.db].peek(key), Some(Value::List(_))) {
        return Served::KeepWaiting;
    }
    let (from, to) = if argv[0].eq_ignore_ascii_case(b"blmove") {
        let end = |a: &[u8]| {
            if a.eq_ignore_ascii_case(b"left") { End::Head } else { End::Tail }
        };
        (end(&argv[3]), end(&argv[4]))
    } else {
        (End::Tail, End::Head)
    };
    // A retry replies its own errors (a destination that is not a list).
    if let Err(e) = lmove_reply(srv, c, key, &argv[2], from, to) {
        c.add_error(e);
    }
    // As Redis's serveClientBlockedOnList: BRPOPLPUSH goes out as RPOPLPUSH, BLMOVE as LMOVE.
    if argv[0].eq_ignore_ascii_case(b"brpoplpush") {
        srv.propagate_as(crate::engine::feed::argv(&[b"RPOPLPUSH", key, &argv[2]]));
    } else {
        srv.propagate_as(crate::engine::feed::argv(&[
            b"LMOVE",
            key,
            &argv[2],
            end_word(from),
            end_word(to),
        ]));
    }
    Served::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_as_redis() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 3)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 3)));
        assert_eq!(clamp_range(1, 1, 3), Some((1, 1)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(-1, -1, 3), Some((2, 1)));
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 3), Some((0, 3)));
        assert_eq!(clamp_range(i64::MAX, i64::MIN, 3), None);
    }
}
