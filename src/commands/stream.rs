//! Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID, XREAD, the consumer
//! groups (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO — Redis 7.0's
//! replies, errors, orders of checks and propagation.
//!
//! The stream itself is `tine_core::types::stream::Stream`. What is propagated follows Redis:
//! XADD with the ID it generated, approximate trims (`~`) as the exact trim that happened
//! (`=` with the resulting length or first ID), and the consumer-group effects of XREADGROUP,
//! XCLAIM and XAUTOCLAIM as `XCLAIM ... FORCE JUSTID LASTID` and `XGROUP SETID ... ENTRIESREAD`
//! (the commands themselves are not propagated; XREADGROUP sends SETID, and XGROUP
//! CREATECONSUMER for a consumer it created, only under NOACK, as Redis 7.0.15). Blocking XREAD/XREADGROUP wait on the common
//! machinery (`engine::blocking`); the IDs a client waits after are resolved when it blocks
//! (`$` becomes the stream's last ID in the stored arguments).

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::config::custom::notify;
use crate::engine::blocking::{self, Served};
use crate::engine::feed::FeedHost;
use crate::engine::session::{ClientKind, Session};
use tine_core::base::{self, parse_i64};
use tine_core::keyspace::Value;
use tine_core::protocol::Resp;
use tine_core::types::listpack::Entry;
use tine_core::types::stream::{
    Group, INVALID_ENTRIES_READ, Nack, Stream, StreamEntry, StreamId, Trim,
};

const INVALID_ID: CmdError =
    CmdError::new("ERR", "ERR Invalid stream ID specified as stream command argument");
const INVALID_START: CmdError = CmdError::new("ERR", "ERR invalid start ID for the interval");
const INVALID_END: CmdError = CmdError::new("ERR", "ERR invalid end ID for the interval");

/// How many entries a blocked XREAD without COUNT gets (Redis's XREAD_BLOCKED_DEFAULT_COUNT).
const XREAD_BLOCKED_DEFAULT_COUNT: usize = 1000;

// ----- helpers ---------------------------------------------------------------------------------

/// Redis's string2ull: a strict i64 when it is one (negative refused), else C's strtoull
/// (leading spaces, a sign, digits to the end, no overflow).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = tine_core::types::listpack::string_to_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &d in &s[i..] {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's streamGenericParseIDOrReply: `-`, `+` (refused when `strict`), `<ms>`, `<ms>-<seq>`
/// and, with `seq_star`, `<ms>-*` (the flag says whether the sequence was given).
fn parse_id_ext(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 127 {
        return Err(INVALID_ID);
    }
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(INVALID_ID);
        }
        return Ok((if arg == b"-" { StreamId::MIN } else { StreamId::MAX }, true));
    }
    let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
        Some(p) => (&arg[..p], Some(&arg[p + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms).ok_or(INVALID_ID)?;
    match seq {
        Some(b"*") if seq_star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, string2ull(s).ok_or(INVALID_ID)?), true)),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id_ext(arg, missing_seq, false, false).map(|r| r.0)
}

fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id_ext(arg, missing_seq, true, false).map(|r| r.0)
}

/// An interval bound: `(` makes it exclusive (a strict ID then). Returns (id, exclusive).
fn parse_interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_strict_id(&arg[1..], missing_seq)?, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

fn parse_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval_id(arg, 0)?;
    if ex { id.incr().ok_or(INVALID_START) } else { Ok(id) }
}

fn parse_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval_id(arg, u64::MAX)?;
    if ex { id.decr().ok_or(INVALID_END) } else { Ok(id) }
}

fn parse_ll(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(err::NOT_INTEGER)
}

fn parse_ll_or(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::new("ERR", msg))
}

/// An error whose text quotes arguments as Redis's `%s` does (CR and LF become spaces).
fn err_fmt(code: &'static str, parts: &[&[u8]]) -> CmdError {
    let mut t = Vec::new();
    for p in parts {
        t.extend(p.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    }
    CmdError::bytes(code, t)
}

fn nogroup_key_or_group(key: &[u8], group: &[u8], tail: &[u8]) -> CmdError {
    err_fmt(
        "NOGROUP",
        &[b"NOGROUP No such key '", key, b"' or consumer group '", group, b"'", tail],
    )
}

fn nogroup_for_key(key: &[u8], group: &[u8]) -> CmdError {
    err_fmt(
        "NOGROUP",
        &[b"NOGROUP No such consumer group '", group, b"' for key name '", key, b"'"],
    )
}

fn subcommand_syntax(argv: &Argv) -> CmdError {
    let cmd = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
    let mut sub = argv[1].clone();
    sub.truncate(128);
    err_fmt(
        "ERR",
        &[
            b"ERR unknown subcommand or wrong number of arguments for '",
            &sub,
            format!("'. Try {} HELP.", cmd).as_bytes(),
        ],
    )
}

fn add_lp(c: &mut Session, e: &Entry<'_>) {
    match e {
        Entry::Str(s) => c.add_bulk(s),
        Entry::Int(n) => c.add_bulk_i64(*n),
    }
}

fn add_id(c: &mut Session, id: StreamId) {
    c.add_bulk(&id.to_bytes());
}

/// One entry: `[id, [field, value, ...]]`.
fn add_entry(c: &mut Session, e: &StreamEntry<'_>) {
    c.add_array(2);
    add_id(c, e.id);
    c.add_array(e.fields.len() * 2);
    for (f, v) in &e.fields {
        add_lp(c, f);
        add_lp(c, v);
    }
}

fn add_entries(c: &mut Session, entries: &[StreamEntry<'_>]) {
    c.add_array(entries.len());
    for e in entries {
        add_entry(c, e);
    }
}

/// The stream at `key` for reading: `Ok(None)` when missing, WRONGTYPE when not a stream.
fn read_stream<'a>(
    srv: &'a mut Ctx<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a Stream>, CmdError> {
    match srv.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The stream at `key` for writing.
fn write_stream<'a>(
    srv: &'a mut Ctx<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a mut Stream>, CmdError> {
    match srv.lookup_write(db, key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The stream at `key` for writing, once its existence and type were checked.
fn stream_mut<'a>(srv: &'a mut Ctx<'_>, db: usize, key: &[u8]) -> &'a mut Stream {
    match srv.data.keyspace.get_mut(db, key, srv.data.now_ms) {
        Some(Value::Stream(s)) => s,
        _ => unreachable!("stream checked before"),
    }
}

/// The primary's link and the AOF replay: approximate trims arrive rewritten, LIMIT is not
/// enforced (Redis's mustObeyClient).
fn must_obey(c: &Session) -> bool {
    c.kind == ClientKind::Primary || c.slot == usize::MAX
}

fn node_limits(srv: &Ctx<'_>) -> (u64, u64) {
    (
        u64::try_from(srv.data.config.stream_node_max_bytes).unwrap_or(0),
        u64::try_from(srv.data.config.stream_node_max_entries).unwrap_or(0),
    )
}

// ----- XADD / XTRIM arguments --------------------------------------------------------------------

#[derive(Default)]
struct AddTrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Position of the threshold argument.
    trim_idx: usize,
    no_mkstream: bool,
    /// Explicit ID: (id, sequence given).
    id: Option<(StreamId, bool)>,
    /// Position of the ID (XADD).
    id_pos: usize,
}

fn parse_add_trim(
    srv: &Ctx<'_>,
    c: &Session,
    argv: &Argv,
    xadd: bool,
) -> Result<AddTrimArgs, CmdError> {
    const BOTH: CmdError = CmdError::new(
        "ERR",
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
    );
    let mut a = AddTrimArgs::default();
    let mut limit_given = false;
    let mut limit: i64 = 0;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i];
        let lower = base::lower(opt);
        if xadd && opt.as_slice() == b"*" {
            break;
        } else if (lower == "maxlen" || lower == "minid") && more > 0 {
            if a.trim.is_some() {
                return Err(BOTH);
            }
            a.approx = false;
            let next = &argv[i + 1];
            if more >= 2 && next.as_slice() == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next.as_slice() == b"=" {
                i += 1;
            }
            if lower == "maxlen" {
                let n = parse_ll(&argv[i + 1])?;
                if n < 0 {
                    return Err(CmdError::new("ERR", "ERR The MAXLEN argument must be >= 0."));
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                a.trim = Some(Trim::MinId(parse_strict_id(&argv[i + 1], 0)?));
            }
            i += 1;
            a.trim_idx = i;
        } else if lower == "limit" && more > 0 {
            limit = parse_ll(&argv[i + 1])?;
            if limit < 0 {
                return Err(CmdError::new("ERR", "ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && lower == "nomkstream" {
            a.no_mkstream = true;
        } else if xadd {
            a.id = Some(parse_id_ext(opt, 0, true, true)?);
            break;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    a.id_pos = i;
    if limit != 0 && a.trim.is_none() {
        return Err(CmdError::new(
            "ERR",
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.is_none() {
        return Err(CmdError::new(
            "ERR",
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if must_obey(c) {
        a.limit = 0;
    } else if limit_given {
        if !a.approx {
            return Err(CmdError::new(
                "ERR",
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        a.limit = limit as u64;
    } else if a.approx {
        let l = 100 * srv.data.config.stream_node_max_entries;
        a.limit = if l <= 0 { 10000 } else { l.min(1_000_000) as u64 };
    }
    Ok(a)
}

/// After an approximate trim the propagated command says exactly what happened: `=` and the
/// resulting length (MAXLEN) or first ID (MINID).
fn rewrite_trim(argv: &mut [Vec<u8>], a: &AddTrimArgs, s: &Stream) {
    argv[a.trim_idx - 1] = b"=".to_vec();
    argv[a.trim_idx] = match a.trim {
        Some(Trim::MaxLen(_)) => s.length.to_string().into_bytes(),
        _ => s.first_id_with_tombstones().to_bytes(),
    };
}

// ----- XADD, XRANGE, XLEN, XDEL, XTRIM, XSETID -----------------------------------------------

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
pub(crate) fn xadd(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let a = parse_add_trim(srv, c, argv, true)?;
    let field_pos = a.id_pos + 1;
    if argv.len() < field_pos + 2 || (argv.len() - field_pos) % 2 == 1 {
        return Err(CmdError::err("wrong number of arguments for 'xadd' command"));
    }
    if let Some((id, true)) = a.id {
        if id == StreamId::MIN {
            return Err(CmdError::new(
                "ERR",
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let db = c.db;
    let key = &argv[1];
    let now = srv.data.now_ms;
    if write_stream(srv, db, key)?.is_none() {
        if a.no_mkstream {
            c.add_null();
            return Ok(());
        }
        srv.data.keyspace.insert_new(db, key.as_slice().into(), Value::Stream(Box::default()));
    }
    let (max_bytes, max_entries) = node_limits(srv);
    let s = stream_mut(srv, db, key);
    if s.last_id == StreamId::MAX {
        return Err(CmdError::new(
            "ERR",
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    const NOT_GREATER: CmdError = CmdError::new(
        "ERR",
        "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    );
    let id = match a.id {
        Some((id, true)) => id,
        Some((id, false)) => {
            if s.last_id.ms == id.ms {
                if s.last_id.seq == u64::MAX {
                    // Redis 7.0 fails here without setting errno: its generic message.
                    return Err(CmdError::new("ERR", "ERR Elements are too large to be stored"));
                }
                StreamId::new(id.ms, s.last_id.seq + 1)
            } else {
                id
            }
        }
        None => {
            let ms = u64::try_from(now).unwrap_or(0);
            if ms > s.last_id.ms {
                StreamId::new(ms, 0)
            } else {
                s.last_id.incr().unwrap_or(StreamId::MAX)
            }
        }
    };
    if id <= s.last_id {
        return Err(NOT_GREATER);
    }
    if let Err(e) = s.append(id, &argv[field_pos..], max_bytes, max_entries) {
        return Err(CmdError::new("ERR", e.0));
    }
    let mut trimmed = 0;
    let mut rewritten: Option<Vec<Vec<u8>>> = None;
    if let Some(how) = a.trim {
        trimmed = s.trim(how, a.approx, a.limit);
        if a.approx {
            let mut v = argv.to_vec();
            rewrite_trim(&mut v, &a, s);
            rewritten = Some(v);
        }
    }
    c.add_bulk(&id.to_bytes());
    srv.data.dirty += 1;
    srv.notify(notify::STREAM, "xadd", key, db);
    if trimmed > 0 {
        srv.notify(notify::STREAM, "xtrim", key, db);
    }
    if !matches!(a.id, Some((_, true))) || rewritten.is_some() {
        let mut v = rewritten.unwrap_or_else(|| argv.to_vec());
        v[a.id_pos] = id.to_bytes();
        srv.propagate_as(v);
    }
    srv.data.keyspace.signal_key_as_ready(db, key);
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub(crate) fn xtrim(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let a = parse_add_trim(srv, c, argv, false)?;
    let db = c.db;
    let key = &argv[1];
    let Some(s) = write_stream(srv, db, key)? else {
        c.add_int(0);
        return Ok(());
    };
    let deleted = s.trim(a.trim.expect("checked"), a.approx, a.limit);
    let mut rewritten = None;
    if deleted > 0 && a.approx {
        let mut v = argv.to_vec();
        rewrite_trim(&mut v, &a, s);
        rewritten = Some(v);
    }
    if deleted > 0 {
        srv.notify(notify::STREAM, "xtrim", key, db);
        srv.data.dirty += deleted;
        if let Some(v) = rewritten {
            srv.propagate_as(v);
        }
    }
    c.add_int(deleted as i64);
    Ok(())
}

fn xrange_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (&argv[3], &argv[2]) } else { (&argv[2], &argv[3]) };
    let start = parse_start(start_arg)?;
    let end = parse_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if base::lower(&argv[j]) == "count" && j + 1 < argv.len() {
            count = parse_ll(&argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let Some(s) = read_stream(srv, c.db, &argv[1])? else {
        c.add_array(0);
        return Ok(());
    };
    if count == 0 {
        c.add_null_array();
        return Ok(());
    }
    let entries = s.range(start, end, rev, if count < 0 { 0 } else { count as usize });
    add_entries(c, &entries);
    Ok(())
}

/// XRANGE key start end [COUNT count]
pub(crate) fn xrange(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    xrange_generic(srv, c, argv, false)
}

/// XREVRANGE key end start [COUNT count]
pub(crate) fn xrevrange(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    xrange_generic(srv, c, argv, true)
}

/// XLEN key
pub(crate) fn xlen(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let n = read_stream(srv, c.db, &argv[1])?.map_or(0, |s| s.length);
    c.add_int(n as i64);
    Ok(())
}

/// XDEL key id [id ...]
pub(crate) fn xdel(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let db = c.db;
    let key = &argv[1];
    if write_stream(srv, db, key)?.is_none() {
        c.add_int(0);
        return Ok(());
    }
    let ids = argv[2..].iter().map(|a| parse_strict_id(a, 0)).collect::<Result<Vec<_>, _>>()?;
    let s = stream_mut(srv, db, key);
    let deleted = ids.into_iter().filter(|&id| s.xdel(id)).count();
    if deleted > 0 {
        srv.notify(notify::STREAM, "xdel", key, db);
        srv.data.dirty += deleted as u64;
    }
    c.add_int(deleted as i64);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
pub(crate) fn xsetid(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let id = parse_strict_id(&argv[2], 0)?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = base::lower(&argv[i]);
        if opt == "entriesadded" && more > 0 {
            entries_added = parse_ll(&argv[i + 1])?;
            if entries_added < 0 {
                return Err(CmdError::new("ERR", "ERR entries_added must be positive"));
            }
            i += 2;
        } else if opt == "maxdeletedid" && more > 0 {
            max_xdel = parse_strict_id(&argv[i + 1], 0)?;
            if id < max_xdel {
                return Err(CmdError::new(
                    "ERR",
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let db = c.db;
    let key = &argv[1];
    let Some(s) = write_stream(srv, db, key)? else {
        return Err(err::NO_SUCH_KEY);
    };
    if id < s.max_deleted_entry_id {
        return Err(CmdError::new(
            "ERR",
            "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
        ));
    }
    if s.length > 0 {
        let maxid = s.edge_id(false).unwrap_or(StreamId::MIN);
        if id < maxid {
            return Err(CmdError::new(
                "ERR",
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.length > entries_added as u64 {
            return Err(CmdError::new(
                "ERR",
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if max_xdel != StreamId::MIN {
        s.max_deleted_entry_id = max_xdel;
    }
    srv.notify(notify::STREAM, "xsetid", key, db);
    srv.data.dirty += 1;
    c.add_ok();
    Ok(())
}

// ----- consumer groups: propagation helpers ---------------------------------------------------

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`: a pending
/// entry's state, as replicas and the AOF get it.
fn xclaim_op(key: &[u8], group: &[u8], g: &Group, id: &[u8], n: &Nack) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        n.consumer.to_vec(),
        b"0".to_vec(),
        id.to_vec(),
        b"TIME".to_vec(),
        n.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        n.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        g.last_id.to_bytes(),
    ]
}

/// `XGROUP SETID key group last ENTRIESREAD n`.
fn setid_op(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.to_bytes(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

/// `XGROUP CREATECONSUMER key group consumer`: a consumer XREADGROUP created.
fn createconsumer_op(key: &[u8], group: &[u8], consumer: &[u8]) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"CREATECONSUMER".to_vec(),
        key.to_vec(),
        group.to_vec(),
        consumer.to_vec(),
    ]
}

/// Looks a consumer up (refreshing its seen time) or creates it; true when created.
fn touch_consumer(g: &mut Group, name: &[u8], now: i64) -> bool {
    let (cons, created) = g.consumer_or_create(name, now);
    cons.seen_time = now;
    created
}

// ----- XGROUP ------------------------------------------------------------------------------------

fn parse_group_id(arg: &[u8], s: Option<&Stream>, strict: bool) -> Result<StreamId, CmdError> {
    if arg == b"$" {
        return Ok(s.map_or(StreamId::MIN, |s| s.last_id));
    }
    if strict { parse_strict_id(arg, 0) } else { parse_id(arg, 0) }
}

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER ..., as Redis's xgroupCommand
/// (each subcommand has its own row; they share the checks).
fn xgroup_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let sub = base::lower(&argv[1]);
    let db = c.db;
    let key = &argv[2];
    let gname = &argv[3];
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    if sub == "create" || sub == "setid" {
        let mut i = 5;
        while i < argv.len() {
            let opt = base::lower(&argv[i]);
            if sub == "create" && opt == "mkstream" {
                mkstream = true;
                i += 1;
            } else if opt == "entriesread" && i + 1 < argv.len() {
                entries_read = parse_ll(&argv[i + 1])?;
                if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                    return Err(CmdError::new(
                        "ERR",
                        "ERR value for ENTRIESREAD must be positive or -1",
                    ));
                }
                i += 2;
            } else {
                return Err(subcommand_syntax(argv));
            }
        }
    }
    let exists = write_stream(srv, db, key)?.is_some();
    if !mkstream {
        if !exists {
            return Err(CmdError::new(
                "ERR",
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        let has_group = stream_mut(srv, db, key).groups.contains_key(gname.as_slice());
        if !has_group && matches!(sub.as_str(), "setid" | "createconsumer" | "delconsumer") {
            return Err(nogroup_for_key(key, gname));
        }
    }
    let now = srv.data.now_ms;
    match sub.as_str() {
        "create" if (5..=8).contains(&argv.len()) => {
            let s = if exists { Some(&*stream_mut(srv, db, key)) } else { None };
            let id = parse_group_id(&argv[4], s, true)?;
            if !exists {
                srv.data.keyspace.insert_new(
                    db,
                    key.as_slice().into(),
                    Value::Stream(Box::default()),
                );
            }
            let s = stream_mut(srv, db, key);
            if s.groups.contains_key(gname.as_slice()) {
                return Err(CmdError::new(
                    "BUSYGROUP",
                    "BUSYGROUP Consumer Group name already exists",
                ));
            }
            s.groups.insert(gname.as_slice().into(), Group::new(id, entries_read));
            c.add_ok();
            srv.data.dirty += 1;
            srv.notify(notify::STREAM, "xgroup-create", key, db);
        }
        "setid" if argv.len() == 5 || argv.len() == 7 => {
            let s = stream_mut(srv, db, key);
            let id = parse_group_id(&argv[4], Some(s), false)?;
            let g = s.groups.get_mut(gname.as_slice()).expect("checked");
            g.last_id = id;
            g.entries_read = entries_read;
            c.add_ok();
            srv.data.dirty += 1;
            srv.notify(notify::STREAM, "xgroup-setid", key, db);
        }
        "destroy" if argv.len() == 4 => {
            let s = stream_mut(srv, db, key);
            if s.groups.remove(gname.as_slice()).is_some() {
                c.add_int(1);
                srv.data.dirty += 1;
                srv.notify(notify::STREAM, "xgroup-destroy", key, db);
                // Clients blocked in XREADGROUP on this group get -NOGROUP.
                srv.data.keyspace.signal_key_as_ready(db, key);
            } else {
                c.add_int(0);
            }
        }
        "createconsumer" if argv.len() == 5 => {
            let s = stream_mut(srv, db, key);
            let g = s.groups.get_mut(gname.as_slice()).expect("checked");
            let created = if g.consumers.contains_key(argv[4].as_slice()) {
                false
            } else {
                g.consumer_or_create(&argv[4], now);
                true
            };
            c.add_int(i64::from(created));
            if created {
                srv.data.dirty += 1;
                srv.notify(notify::STREAM, "xgroup-createconsumer", key, db);
            }
        }
        "delconsumer" if argv.len() == 5 => {
            let s = stream_mut(srv, db, key);
            let g = s.groups.get_mut(gname.as_slice()).expect("checked");
            match g.delete_consumer(&argv[4]) {
                None => c.add_int(0),
                Some(pending) => {
                    c.add_int(pending as i64);
                    srv.data.dirty += 1;
                    srv.notify(notify::STREAM, "xgroup-delconsumer", key, db);
                }
            }
        }
        _ => return Err(subcommand_syntax(argv)),
    }
    Ok(())
}

pub(crate) fn xgroup_create(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    xgroup_generic(srv, c, argv)
}
pub(crate) fn xgroup_setid(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    xgroup_generic(srv, c, argv)
}
pub(crate) fn xgroup_destroy(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    xgroup_generic(srv, c, argv)
}
pub(crate) fn xgroup_createconsumer(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    xgroup_generic(srv, c, argv)
}
pub(crate) fn xgroup_delconsumer(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    xgroup_generic(srv, c, argv)
}

pub(crate) fn xgroup_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    super::reply_help(
        c,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

// ----- XACK, XPENDING, XCLAIM, XAUTOCLAIM ------------------------------------------------------

/// XACK key group id [id ...]
pub(crate) fn xack(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let db = c.db;
    let key = &argv[1];
    let has_group = match read_stream(srv, db, key)? {
        Some(s) => s.groups.contains_key(argv[2].as_slice()),
        None => false,
    };
    if !has_group {
        c.add_int(0);
        return Ok(());
    }
    let ids = argv[3..].iter().map(|a| parse_strict_id(a, 0)).collect::<Result<Vec<_>, _>>()?;
    let s = stream_mut(srv, db, key);
    let g = s.groups.get_mut(argv[2].as_slice()).expect("checked");
    let acked = ids.into_iter().filter(|&id| g.ack(id)).count();
    srv.data.dirty += acked as u64;
    c.add_int(acked as i64);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub(crate) fn xpending(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let justinfo = argv.len() == 3;
    if argv.len() != 3 && (argv.len() < 6 || argv.len() > 9) {
        return Err(err::SYNTAX);
    }
    let (key, gname) = (&argv[1], &argv[2]);
    let mut minidle = 0i64;
    let mut range = (StreamId::MIN, StreamId::MAX, 0i64);
    let mut consumer: Option<&Vec<u8>> = None;
    if argv.len() >= 6 {
        let mut at = 3;
        if base::lower(&argv[3]) == "idle" {
            minidle = parse_ll(&argv[4])?;
            if argv.len() < 8 {
                return Err(err::SYNTAX);
            }
            at += 2;
        }
        let count = parse_ll(&argv[at + 2])?.max(0);
        let start = parse_start(&argv[at])?;
        let end = parse_end(&argv[at + 1])?;
        range = (start, end, count);
        consumer = argv.get(at + 3);
    }
    let now = srv.data.now_ms;
    let Some(s) = read_stream(srv, c.db, key)? else {
        return Err(nogroup_key_or_group(key, gname, b""));
    };
    let Some(g) = s.groups.get(gname.as_slice()) else {
        return Err(nogroup_key_or_group(key, gname, b""));
    };
    if justinfo {
        c.add_array(4);
        c.add_int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(&first), Some(&last)) => {
                add_id(c, first);
                add_id(c, last);
                let with: Vec<_> = g.consumers.iter().filter(|(_, k)| !k.pel.is_empty()).collect();
                c.add_array(with.len());
                for (name, k) in with {
                    c.add_array(2);
                    c.add_bulk(name);
                    c.add_bulk_i64(k.pel.len() as i64);
                }
            }
            _ => {
                c.add_null();
                c.add_null();
                c.add_null_array();
            }
        }
        return Ok(());
    }
    let (start, end, mut count) = range;
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name.as_slice()) {
            None => {
                c.add_array(0);
                return Ok(());
            }
            Some(k) => k.pel.range(start..).copied().collect(),
        },
        None => g.pel.range(start..).map(|(k, _)| *k).collect(),
    };
    let mut rows = Vec::new();
    for id in ids {
        if count == 0 || id > end {
            break;
        }
        let n = &g.pel[&id];
        if minidle != 0 && now - n.delivery_time < minidle {
            continue;
        }
        count -= 1;
        rows.push((id, n));
    }
    c.add_array(rows.len());
    for (id, n) in rows {
        c.add_array(4);
        add_id(c, id);
        c.add_bulk(&n.consumer);
        c.add_int((now - n.delivery_time).max(0));
        c.add_int(n.delivery_count as i64);
    }
    Ok(())
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
/// [FORCE] [JUSTID] [LASTID id]
pub(crate) fn xclaim(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let db = c.db;
    let (key, gname, cname) = (&argv[1], &argv[2], &argv[3]);
    let has_group = match read_stream(srv, db, key)? {
        Some(s) => s.groups.contains_key(gname.as_slice()),
        None => false,
    };
    if !has_group {
        return Err(nogroup_key_or_group(key, gname, b""));
    }
    let minidle = parse_ll_or(&argv[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_strict_id(&argv[j], 0) {
            Ok(id) => ids.push((id, j)),
            Err(_) => break,
        }
        j += 1;
    }
    let now = srv.data.now_ms;
    let (mut force, mut justid) = (false, false);
    let mut retrycount: i64 = -1;
    let mut deliverytime: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = base::lower(&argv[j]);
        match opt.as_str() {
            "force" => force = true,
            "justid" => justid = true,
            "idle" if more > 0 => {
                j += 1;
                let v = parse_ll_or(&argv[j], "ERR Invalid IDLE option argument for XCLAIM")?;
                deliverytime = now.wrapping_sub(v);
            }
            "time" if more > 0 => {
                j += 1;
                deliverytime =
                    parse_ll_or(&argv[j], "ERR Invalid TIME option argument for XCLAIM")?;
            }
            "retrycount" if more > 0 => {
                j += 1;
                retrycount =
                    parse_ll_or(&argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")?;
            }
            "lastid" if more > 0 => {
                j += 1;
                last_id = parse_strict_id(&argv[j], 0)?;
            }
            _ => {
                return Err(err_fmt("ERR", &[b"ERR Unrecognized XCLAIM option '", &argv[j], b"'"]));
            }
        }
        j += 1;
    }
    if deliverytime != -1 {
        if deliverytime < 0 || deliverytime > now {
            deliverytime = now;
        }
    } else {
        deliverytime = now;
    }
    let propagate = srv.has_consumer();
    let s = stream_mut(srv, db, key);
    let mut propagate_last_id = false;
    {
        let g = s.groups.get_mut(gname.as_slice()).expect("checked");
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
    }
    let mut ops = Vec::new();
    let mut replies: Vec<StreamId> = Vec::new();
    let mut dirty = 0u64;
    let mut created_consumer = false;
    let mut consumer_touched = false;
    for (id, at) in ids {
        let exists = s.contains(id);
        let g = s.groups.get_mut(gname.as_slice()).expect("checked");
        if !exists {
            if g.pel.contains_key(&id) {
                let n = g.pel[&id].clone();
                if propagate {
                    ops.push(xclaim_op(key, gname, g, &argv[at], &n));
                }
                propagate_last_id = false;
                dirty += 1;
                g.ack(id);
            }
            continue;
        }
        let forced_new = force && !g.pel.contains_key(&id);
        if forced_new {
            g.pel.insert(
                id,
                Nack { delivery_time: now, delivery_count: 1, consumer: Box::from(&b""[..]) },
            );
        }
        let Some(n) = g.pel.get(&id) else { continue };
        if !forced_new && minidle != 0 && now - n.delivery_time < minidle {
            continue;
        }
        if !consumer_touched {
            consumer_touched = true;
            created_consumer = touch_consumer(g, cname, now);
        }
        let n = g.hand_over(id, cname);
        n.delivery_time = deliverytime;
        if retrycount >= 0 {
            n.delivery_count = retrycount as u64;
        } else if !justid {
            n.delivery_count += 1;
        }
        let n = g.pel[&id].clone();
        if propagate {
            ops.push(xclaim_op(key, gname, g, &argv[at], &n));
        }
        propagate_last_id = false;
        dirty += 1;
        replies.push(id);
    }
    if propagate_last_id {
        let g = &s.groups[gname.as_slice()];
        if propagate {
            ops.push(setid_op(key, gname, g));
        }
        dirty += 1;
    }
    c.add_array(replies.len());
    for id in replies {
        if justid {
            add_id(c, id);
        } else {
            match s.get(id) {
                Some(e) => add_entry(c, &e),
                None => c.add_null(),
            }
        }
    }
    if created_consumer {
        dirty += 1;
        srv.notify(notify::STREAM, "xgroup-createconsumer", key, db);
    }
    srv.data.dirty += dirty;
    srv.propagate_many(ops);
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub(crate) fn xautoclaim(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let db = c.db;
    let (key, gname, cname) = (&argv[1], &argv[2], &argv[3]);
    let minidle =
        parse_ll_or(&argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = parse_start(&argv[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = base::lower(&argv[j]);
        if opt == "count" && more > 0 {
            let max_count = i64::MAX / 16;
            count = match parse_i64(&argv[j + 1]) {
                Some(n) if (1..=max_count).contains(&n) => n,
                _ => return Err(CmdError::new("ERR", "ERR COUNT must be > 0")),
            };
            j += 1;
        } else if opt == "justid" {
            justid = true;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    let has_group = match read_stream(srv, db, key)? {
        Some(s) => s.groups.contains_key(gname.as_slice()),
        None => false,
    };
    if !has_group {
        return Err(nogroup_key_or_group(key, gname, b""));
    }
    let now = srv.data.now_ms;
    let propagate = srv.has_consumer();
    let s = stream_mut(srv, db, key);
    let mut attempts = count.saturating_mul(10);
    let candidates: Vec<StreamId> = {
        let g = &s.groups[gname.as_slice()];
        g.pel.range(start..).map(|(k, _)| *k).collect()
    };
    let mut ops = Vec::new();
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut dirty = 0u64;
    let mut created_consumer = false;
    let mut consumer_touched = false;
    let mut last_examined: Option<StreamId> = None;
    for id in candidates {
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        last_examined = Some(id);
        let exists = s.contains(id);
        let g = s.groups.get_mut(gname.as_slice()).expect("checked");
        if !exists {
            let n = g.pel[&id].clone();
            if propagate {
                ops.push(xclaim_op(key, gname, g, &id.to_bytes(), &n));
            }
            dirty += 1;
            g.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        if minidle != 0 && now - g.pel[&id].delivery_time < minidle {
            continue;
        }
        if !consumer_touched {
            consumer_touched = true;
            created_consumer = touch_consumer(g, cname, now);
        }
        let n = g.hand_over(id, cname);
        n.delivery_time = now;
        if !justid {
            n.delivery_count += 1;
        }
        let n = g.pel[&id].clone();
        if propagate {
            ops.push(xclaim_op(key, gname, g, &id.to_bytes(), &n));
        }
        dirty += 1;
        claimed.push(id);
        count -= 1;
    }
    let g = &s.groups[gname.as_slice()];
    let next = match last_examined {
        Some(l) => g.pel.range((std::ops::Bound::Excluded(l), std::ops::Bound::Unbounded)).next(),
        None => g.pel.range(start..).next(),
    }
    .map_or(StreamId::MIN, |(k, _)| *k);
    c.add_array(3);
    add_id(c, next);
    c.add_array(claimed.len());
    for id in claimed {
        if justid {
            add_id(c, id);
        } else {
            match s.get(id) {
                Some(e) => add_entry(c, &e),
                None => c.add_null(),
            }
        }
    }
    c.add_array(deleted.len());
    for id in deleted {
        add_id(c, id);
    }
    if created_consumer {
        dirty += 1;
        srv.notify(notify::STREAM, "xgroup-createconsumer", key, db);
    }
    srv.data.dirty += dirty;
    srv.propagate_many(ops);
    Ok(())
}

// ----- XREAD / XREADGROUP ----------------------------------------------------------------------

/// Parsed XREAD/XREADGROUP arguments.
struct ReadArgs {
    /// -1: no BLOCK; otherwise the absolute deadline (0: forever).
    block: Option<i64>,
    count: usize,
    group: Option<(Vec<u8>, Vec<u8>)>,
    noack: bool,
    /// Position of the first key.
    streams_at: usize,
    nkeys: usize,
}

fn parse_read(srv: &Ctx<'_>, argv: &Argv, readgroup: bool) -> Result<ReadArgs, CmdError> {
    let mut a =
        ReadArgs { block: None, count: 0, group: None, noack: false, streams_at: 0, nkeys: 0 };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let opt = base::lower(&argv[i]);
        if opt == "block" && more > 0 {
            if srv.data.scripting.running.is_some() {
                // Redis refuses BLOCK from a script (Lua or a function) outright, before
                // reading the timeout, in the command's own spelling.
                return Err(CmdError::err_echo(
                    "",
                    &argv[0],
                    None,
                    " command is not allowed with BLOCK option from scripts",
                ));
            }
            i += 1;
            let ms = parse_ll_or(&argv[i], "ERR timeout is not an integer or out of range")?;
            if ms < 0 {
                return Err(CmdError::new("ERR", "ERR timeout is negative"));
            }
            let deadline = if ms > 0 {
                srv.data
                    .now_ms
                    .checked_add(ms)
                    .ok_or(CmdError::new("ERR", "ERR timeout is out of range"))?
            } else {
                0
            };
            a.block = Some(deadline);
        } else if opt == "count" && more > 0 {
            i += 1;
            a.count = parse_ll(&argv[i])?.max(0) as usize;
        } else if opt == "streams" && more > 0 {
            a.streams_at = i + 1;
            let n = argv.len() - a.streams_at;
            if n % 2 != 0 {
                let (name, sym) = if readgroup { ("XREADGROUP", '>') } else { ("XREAD", '$') };
                return Err(CmdError::err(&format!(
                    "Unbalanced {} list of streams: for each stream key an ID or '{}' must be specified.",
                    name, sym
                )));
            }
            a.nkeys = n / 2;
            break;
        } else if opt == "group" && more >= 2 {
            if !readgroup {
                return Err(CmdError::new(
                    "ERR",
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.group = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 2;
        } else if opt == "noack" {
            if !readgroup {
                return Err(CmdError::new(
                    "ERR",
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.noack = true;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if a.streams_at == 0 {
        return Err(err::SYNTAX);
    }
    if readgroup && a.group.is_none() {
        return Err(CmdError::new("ERR", "ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(a)
}

/// What one stream of an XREADGROUP gives: entries from `start` (new ones, which go to the
/// PEL) or the consumer's own history. Replies the entries array and collects propagation.
#[allow(clippy::too_many_arguments)]
fn serve_group(
    s: &mut Stream,
    c: &mut Session,
    key: &[u8],
    gname: &[u8],
    cname: &[u8],
    start: StreamId,
    count: usize,
    noack: bool,
    history: bool,
    now: i64,
    propagate: bool,
    ops: &mut Vec<Vec<Vec<u8>>>,
) {
    if history {
        let g = s.groups.get(gname).expect("checked");
        let ids: Vec<StreamId> = g.consumers[cname].pel.range(start..).copied().collect();
        let ids: Vec<StreamId> =
            if count > 0 { ids.into_iter().take(count).collect() } else { ids };
        c.add_array(ids.len());
        let mut delivered = Vec::new();
        for id in ids {
            match s.get(id) {
                Some(e) => {
                    add_entry(c, &e);
                    delivered.push(id);
                }
                None => {
                    c.add_array(2);
                    add_id(c, id);
                    c.add_null_array();
                }
            }
        }
        let g = s.groups.get_mut(gname).expect("checked");
        for id in delivered {
            if let Some(n) = g.pel.get_mut(&id) {
                n.delivery_time = now;
                n.delivery_count += 1;
            }
        }
        return;
    }
    // The groups are taken out while the entries (borrowed from the nodes) are replied.
    let mut groups = std::mem::take(&mut s.groups);
    let g = groups.get_mut(gname).expect("checked");
    let entries = s.range(start, StreamId::MAX, false, count);
    let mut propagate_last_id = false;
    c.add_array(entries.len());
    for e in &entries {
        let id = e.id;
        if id > g.last_id {
            if g.entries_read != INVALID_ENTRIES_READ && !s.range_has_tombstones(Some(id), None) {
                g.entries_read = g.entries_read.wrapping_add(1);
            } else if s.entries_added > 0 {
                g.entries_read = s.estimate_distance_from_first_ever_entry(id);
            }
            g.last_id = id;
            // Without NOACK the XCLAIMs' LASTID carries the group's last ID.
            propagate_last_id = noack;
        }
        add_entry(c, e);
        if !noack {
            let fresh = Nack { delivery_time: now, delivery_count: 1, consumer: cname.into() };
            if let Some(old) = g.pel.insert(id, fresh) {
                if let Some(k) = g.consumers.get_mut(&old.consumer) {
                    k.pel.remove(&id);
                }
            }
            g.consumers.get_mut(cname).expect("created").pel.insert(id);
            if propagate {
                ops.push(xclaim_op(key, gname, g, &id.to_bytes(), &g.pel[&id]));
            }
        }
    }
    if propagate_last_id && propagate {
        ops.push(setid_op(key, gname, g));
    }
    drop(entries);
    s.groups = groups;
}

fn xread_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, readgroup: bool) -> CmdResult {
    let a = parse_read(srv, argv, readgroup)?;
    let db = c.db;
    let keys = &argv[a.streams_at..a.streams_at + a.nkeys];
    let id_args = &argv[a.streams_at + a.nkeys..];
    // Resolve the IDs (None: ">") and check the keys and groups, in order.
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(a.nkeys);
    for (key, arg) in keys.iter().zip(id_args) {
        let s = read_stream(srv, db, key)?;
        if let Some((g, _)) = &a.group {
            if !s.is_some_and(|s| s.groups.contains_key(g.as_slice())) {
                return Err(nogroup_key_or_group(key, g, b" in XREADGROUP with GROUP option"));
            }
        }
        if arg.as_slice() == b"$" {
            if readgroup {
                return Err(CmdError::new(
                    "ERR",
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            ids.push(Some(s.map_or(StreamId::MIN, |s| s.last_id)));
            continue;
        }
        if arg.as_slice() == b">" {
            if !readgroup {
                return Err(CmdError::new(
                    "ERR",
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            ids.push(None);
            continue;
        }
        ids.push(Some(parse_strict_id(arg, 0)?));
    }
    let now = srv.data.now_ms;
    let dirty_before = srv.data.dirty;
    // Building the XCLAIMs costs: only when the AOF or replicas take them.
    let propagate = srv.has_consumer();
    let mut ops = Vec::new();
    let mut served = 0usize;
    let mut header_at = None;
    for (i, key) in keys.iter().enumerate() {
        let Some(s) = read_stream(srv, db, key)? else { continue };
        let mut history = false;
        let gt = match (&a.group, ids[i]) {
            (Some(_), Some(id)) => {
                history = true;
                Some(id)
            }
            (Some((g, _)), None) => {
                let last = s.groups[g.as_slice()].last_id;
                match s.edge_id(false) {
                    Some(maxid) if s.length > 0 && maxid > last => Some(last),
                    _ => None,
                }
            }
            (None, Some(id)) => match s.edge_id(false) {
                Some(maxid) if s.length > 0 && maxid > id => Some(id),
                _ => None,
            },
            (None, None) => None,
        };
        let Some(gt) = gt else { continue };
        served += 1;
        if served == 1 {
            header_at = Some(c.obuf.len());
        }
        if c.resp == Resp::V2 {
            c.add_array(2);
        }
        c.add_bulk(key);
        let start = gt.incr().unwrap_or(StreamId::MAX);
        match &a.group {
            None => {
                let s = read_stream(srv, db, key)?.expect("exists");
                let entries = s.range(start, StreamId::MAX, false, a.count);
                add_entries(c, &entries);
            }
            Some((g, cname)) => {
                let s = stream_mut(srv, db, key);
                let grp = s.groups.get_mut(g.as_slice()).expect("checked");
                let created = touch_consumer(grp, cname, now);
                // Redis 7.0 tells replicas about an implicitly created consumer only under
                // NOACK: otherwise the XCLAIMs of its entries create it there (and a consumer
                // that got nothing is not propagated at all).
                if created && a.noack && propagate {
                    ops.push(createconsumer_op(key, g, cname));
                }
                serve_group(
                    s, c, key, g, cname, start, a.count, a.noack, history, now, propagate, &mut ops,
                );
                srv.data.dirty += 1;
                if created {
                    srv.data.dirty += 1;
                    srv.notify(notify::STREAM, "xgroup-createconsumer", key, db);
                }
            }
        }
    }
    if served > 0 {
        // The map/array header goes before the per-key replies written above.
        let mut head = Vec::new();
        let at = header_at.expect("set with the first");
        if c.resp == Resp::V2 {
            tine_core::protocol::reply::array(&mut head, served);
        } else {
            tine_core::protocol::reply::map(&mut head, served, Resp::V3);
        }
        if c.out().is_some() && at <= c.obuf.len() {
            c.obuf.splice(at..at, head);
        }
        if srv.data.dirty > dirty_before {
            srv.propagate_many(ops);
        }
        return Ok(());
    }
    if srv.data.dirty > dirty_before {
        srv.propagate_many(ops);
    }
    let Some(deadline) = a.block else {
        c.add_null_array();
        return Ok(());
    };
    if !blocking::may_block(c) {
        c.add_null_array();
        return Ok(());
    }
    // Block with the IDs resolved now: `$` becomes the last ID it stands for.
    let mut stored = argv.to_vec();
    for (i, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            stored[a.streams_at + a.nkeys + i] = id.to_bytes();
        }
    }
    if readgroup {
        blocking::block_for_stream_keys(srv, c, keys, deadline, &stored, super::retry::XREADGROUP);
    } else {
        blocking::block_for_keys(srv, c, keys, deadline, &stored, super::retry::XREAD);
    }
    Ok(())
}

/// XREAD [COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...]
pub(crate) fn xread(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    xread_generic(srv, c, argv, false)
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key ... id ...
pub(crate) fn xreadgroup(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    xread_generic(srv, c, argv, true)
}

/// Serves a client blocked in XREAD/XREADGROUP once `key` is ready (Redis's
/// serveClientsBlockedOnStreamKey): new entries after its ID (the group's last ID for `>`).
fn serve_read(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    key: &[u8],
    readgroup: bool,
) -> Served {
    let Ok(a) = parse_read(srv, argv, readgroup) else {
        return Served::KeepWaiting;
    };
    let db = c.db;
    let keys = &argv[a.streams_at..a.streams_at + a.nkeys];
    let Some(i) = keys.iter().position(|k| k.as_slice() == key) else {
        return Served::KeepWaiting;
    };
    let id_arg = &argv[a.streams_at + a.nkeys + i];
    let now = srv.data.now_ms;
    let Some(Value::Stream(s)) = srv.data.keyspace[db].peek(key) else {
        if readgroup {
            c.add_error(CmdError::new("UNBLOCKED", "UNBLOCKED the stream key no longer exists"));
            return Served::Done;
        }
        return Served::KeepWaiting;
    };
    let gt = match &a.group {
        Some((g, _)) => match s.groups.get(g.as_slice()) {
            None => {
                c.add_error(CmdError::new(
                    "NOGROUP",
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                ));
                return Served::Done;
            }
            Some(grp) => grp.last_id,
        },
        None => match parse_strict_id(id_arg, 0) {
            Ok(id) => id,
            Err(_) => return Served::KeepWaiting,
        },
    };
    if s.last_id <= gt {
        return Served::KeepWaiting;
    }
    let start = gt.incr().unwrap_or(StreamId::MAX);
    let count = if a.count > 0 { a.count } else { XREAD_BLOCKED_DEFAULT_COUNT };
    if c.resp == Resp::V2 {
        c.add_array(1);
        c.add_array(2);
    } else {
        c.add_map(1);
    }
    c.add_bulk(key);
    match &a.group {
        None => {
            let entries = s.range(start, StreamId::MAX, false, count);
            add_entries(c, &entries);
        }
        Some((g, cname)) => {
            let propagate = srv.has_consumer();
            let mut ops = Vec::new();
            let s = stream_mut(srv, db, key);
            let grp = s.groups.get_mut(g.as_slice()).expect("checked");
            let created = touch_consumer(grp, cname, now);
            if created && a.noack && propagate {
                ops.push(createconsumer_op(key, g, cname));
            }
            serve_group(
                s, c, key, g, cname, start, count, a.noack, false, now, propagate, &mut ops,
            );
            srv.data.dirty += 1;
            if created {
                srv.data.dirty += 1;
                srv.notify(notify::STREAM, "xgroup-createconsumer", key, db);
            }
            srv.propagate_many(ops);
        }
    }
    Served::Done
}

pub(crate) fn serve_xread(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, key: &[u8]) -> Served {
    serve_read(srv, c, argv, key, false)
}

pub(crate) fn serve_xreadgroup(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    key: &[u8],
) -> Served {
    serve_read(srv, c, argv, key, true)
}

// ----- XINFO -------------------------------------------------------------------------------------

fn info_stream<'a>(srv: &'a mut Ctx<'_>, c: &Session, key: &[u8]) -> Result<&'a Stream, CmdError> {
    match read_stream(srv, c.db, key)? {
        Some(s) => Ok(s),
        None => Err(err::NO_SUCH_KEY),
    }
}

fn add_opt_int(c: &mut Session, v: Option<i64>) {
    match v {
        Some(n) => c.add_int(n),
        None => c.add_null(),
    }
}

/// XINFO CONSUMERS key group
pub(crate) fn xinfo_consumers(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let now = srv.data.now_ms;
    let s = info_stream(srv, c, &argv[2])?;
    let Some(g) = s.groups.get(argv[3].as_slice()) else {
        return Err(nogroup_for_key(&argv[2], &argv[3]));
    };
    c.add_array(g.consumers.len());
    for (name, k) in &g.consumers {
        c.add_map(3);
        c.add_bulk(b"name");
        c.add_bulk(name);
        c.add_bulk(b"pending");
        c.add_int(k.pel.len() as i64);
        c.add_bulk(b"idle");
        c.add_int((now - k.seen_time).max(0));
    }
    Ok(())
}

/// XINFO GROUPS key
pub(crate) fn xinfo_groups(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let s = info_stream(srv, c, &argv[2])?;
    c.add_array(s.groups.len());
    for (name, g) in &s.groups {
        c.add_map(6);
        c.add_bulk(b"name");
        c.add_bulk(name);
        c.add_bulk(b"consumers");
        c.add_int(g.consumers.len() as i64);
        c.add_bulk(b"pending");
        c.add_int(g.pel.len() as i64);
        c.add_bulk(b"last-delivered-id");
        add_id(c, g.last_id);
        c.add_bulk(b"entries-read");
        add_opt_int(c, (g.entries_read != INVALID_ENTRIES_READ).then_some(g.entries_read));
        c.add_bulk(b"lag");
        add_opt_int(c, s.group_lag(g));
    }
    Ok(())
}

/// XINFO STREAM key [FULL [COUNT count]]
pub(crate) fn xinfo_stream(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut full = false;
    let mut count: i64 = 10;
    if argv.len() > 3 {
        if base::lower(&argv[3]) != "full" {
            return Err(subcommand_syntax(argv));
        }
        full = true;
        if argv.len() == 6 && base::lower(&argv[4]) == "count" {
            count = parse_ll(&argv[5])?;
            if count < 0 {
                count = 10;
            }
        } else if argv.len() > 4 {
            return Err(subcommand_syntax(argv));
        }
    }
    let s = info_stream(srv, c, &argv[2])?;
    c.add_map(if full { 9 } else { 10 });
    c.add_bulk(b"length");
    c.add_int(s.length as i64);
    c.add_bulk(b"radix-tree-keys");
    c.add_int(s.node_count() as i64);
    c.add_bulk(b"radix-tree-nodes");
    c.add_int(s.rax_node_count() as i64);
    c.add_bulk(b"last-generated-id");
    add_id(c, s.last_id);
    c.add_bulk(b"max-deleted-entry-id");
    add_id(c, s.max_deleted_entry_id);
    c.add_bulk(b"entries-added");
    c.add_int(s.entries_added as i64);
    c.add_bulk(b"recorded-first-entry-id");
    add_id(c, s.first_id);
    if !full {
        c.add_bulk(b"groups");
        c.add_int(s.groups.len() as i64);
        c.add_bulk(b"first-entry");
        match s.range(StreamId::MIN, StreamId::MAX, false, 1).first() {
            Some(e) => add_entry(c, e),
            None => c.add_null(),
        }
        c.add_bulk(b"last-entry");
        match s.range(StreamId::MIN, StreamId::MAX, true, 1).first() {
            Some(e) => add_entry(c, e),
            None => c.add_null(),
        }
        return Ok(());
    }
    let limit = count as usize;
    c.add_bulk(b"entries");
    add_entries(c, &s.range(StreamId::MIN, StreamId::MAX, false, limit));
    c.add_bulk(b"groups");
    c.add_array(s.groups.len());
    let take = |n: usize| if limit == 0 { n } else { n.min(limit) };
    for (name, g) in &s.groups {
        c.add_map(7);
        c.add_bulk(b"name");
        c.add_bulk(name);
        c.add_bulk(b"last-delivered-id");
        add_id(c, g.last_id);
        c.add_bulk(b"entries-read");
        add_opt_int(c, (g.entries_read != INVALID_ENTRIES_READ).then_some(g.entries_read));
        c.add_bulk(b"lag");
        add_opt_int(c, s.group_lag(g));
        c.add_bulk(b"pel-count");
        c.add_int(g.pel.len() as i64);
        c.add_bulk(b"pending");
        c.add_array(take(g.pel.len()));
        for (id, n) in g.pel.iter().take(take(g.pel.len())) {
            c.add_array(4);
            add_id(c, *id);
            c.add_bulk(&n.consumer);
            c.add_int(n.delivery_time);
            c.add_int(n.delivery_count as i64);
        }
        c.add_bulk(b"consumers");
        c.add_array(g.consumers.len());
        for (cname, k) in &g.consumers {
            c.add_map(4);
            c.add_bulk(b"name");
            c.add_bulk(cname);
            c.add_bulk(b"seen-time");
            c.add_int(k.seen_time);
            c.add_bulk(b"pel-count");
            c.add_int(k.pel.len() as i64);
            c.add_bulk(b"pending");
            c.add_array(take(k.pel.len()));
            for id in k.pel.iter().take(take(k.pel.len())) {
                let n = &g.pel[id];
                c.add_array(3);
                add_id(c, *id);
                c.add_int(n.delivery_time);
                c.add_int(n.delivery_count as i64);
            }
        }
    }
    Ok(())
}

pub(crate) fn xinfo_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    super::reply_help(
        c,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis() {
        assert_eq!(parse_id(b"5", 7).unwrap(), StreamId::new(5, 7));
        assert_eq!(parse_id(b"5-3", 7).unwrap(), StreamId::new(5, 3));
        assert_eq!(parse_id(b"-", 7).unwrap(), StreamId::MIN);
        assert_eq!(parse_id(b"+", 7).unwrap(), StreamId::MAX);
        assert!(parse_strict_id(b"+", 0).is_err());
        assert!(parse_id(b"5-", 0).is_err());
        assert!(parse_id(b"-1", 0).is_err());
        assert!(parse_id(b"a", 0).is_err());
        assert_eq!(parse_id(b"18446744073709551615-1", 0).unwrap().ms, u64::MAX);
        assert!(parse_id(b"18446744073709551616", 0).is_err());
        assert_eq!(parse_id_ext(b"5-*", 0, true, true).unwrap(), (StreamId::new(5, 0), false));
        assert!(parse_strict_id(b"5-*", 0).is_err());
        assert_eq!(parse_start(b"(5-1").unwrap(), StreamId::new(5, 2));
        assert_eq!(parse_end(b"(5-0").unwrap(), StreamId::new(4, u64::MAX));
        assert!(parse_end(b"(0-0").is_err());
    }
}
