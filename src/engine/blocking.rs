//! Blocking commands: clients that wait for keys (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP,
//! BZPOPMIN, BZPOPMAX, BZMPOP, XREAD, XREADGROUP) or for replicas (WAIT) — who waits for which key, in which
//! order, until when, and how a waiting client is served. This file is the one place for that
//! machinery; the commands' own semantics stay in their families (`commands::list`,
//! `commands::zset`), handed in as retry functions.
//!
//! # How it works (Redis 7.0's design)
//!
//! 1. A blocking command first tries to do its work at once. When it cannot (every key is
//!    missing or empty) it calls `block_for_keys`: the client is queued, in arrival order, on
//!    each of its keys (`(db, key) -> FIFO of clients`), the database is told the key is
//!    watched ([`tine_core::keyspace::Keyspace::block_on`]), the deadline (if any) goes into a sorted set, and
//!    the command's arguments and a *retry* function are stored on the client
//!    (the client's `blocked`). The client gets no reply yet.
//! 2. While blocked, the event loop still reads the client's socket (so a disconnect is seen
//!    and `forget_client` drops it from the queues), but runs none of its further commands:
//!    they stay in the query buffer (the event loop's `process_input`, in `app::event_loop`,
//!    stops at a blocked client).
//! 3. Any write that *creates* a watched key marks it ready inside the keyspace
//!    (the keyspace's outbox, written by `Keyspace::set`/`insert_new`, as Redis's dbAdd);
//!    SWAPDB marks every watched key that holds a value in both databases
//!    (`signal_swapped_dbs`). Only creation needs a signal: a client only blocks on a key
//!    that is missing or empty, and empty lists/sets are deleted, so a key becomes poppable
//!    again only by being created.
//! 4. After each top-level command (`commands::call`, so after EXEC as a whole, never in the
//!    middle of a transaction) `serve_ready_keys` runs before anything else is replied to:
//!    for every ready key, the clients queued on it are retried in FIFO order — the retry
//!    function re-runs the pop against that key. It returns [`Served::Done`] after replying
//!    (the client is unblocked, its reply written and its queued commands run next) or
//!    [`Served::KeepWaiting`] when the key does not hold what it waits for (deleted, or
//!    retyped: a blocked BLPOP is not told WRONGTYPE when its key becomes a string, it keeps
//!    waiting, as in Redis). Serving may create other watched keys (BLMOVE pushes to its
//!    destination); the loop repeats until no key is ready.
//!    Statistics of a blocking command (calls, usec, failed calls) are counted when it
//!    completes, with the time of its attempts and not of its wait, as Redis does.
//! 5. Deadlines are checked before every poll and on each cron tick (`handle_timeouts`);
//!    the poll never sleeps past the nearest one ([`Blocking::next_deadline`]). A timed-out
//!    client gets Redis's null array (`*-1`, RESP3 `_`), which every key-blocking command of
//!    Redis 7.0 replies on timeout, BLMOVE and BRPOPLPUSH included.
//!
//! # Adding a blocking command (the shape BZPOPMIN follows in `commands::zset`)
//!
//! ```ignore
//! pub fn bzpopmin(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
//!     let deadline = blocking::parse_timeout(srv, argv.last().unwrap())?;
//!     // ... try every key; reply and return if one is a non-empty zset, Err(WRONGTYPE) if not
//!     if !blocking::may_block(c) { c.add_null_array(); return Ok(()); }
//!     blocking::block_for_keys(srv, c, &argv[1..argv.len() - 1], deadline, argv, retry::BZPOPMIN);
//!     Ok(())
//! }
//! /// Called with the ready key: pop from it and reply, or say the client keeps waiting.
//! fn serve_bzpopmin(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, key: &[u8]) -> Served {
//!     match srv.data.keyspace.get_mut(c.db, key, srv.data.now_ms) {
//!         Some(Value::ZSet(z)) => { /* pop, reply, delete the key if empty */ Served::Done }
//!         _ => Served::KeepWaiting,
//!     }
//! }
//! ```
//!
//! and `serve_bzpopmin` gets a number in the command layer's retry table (`commands::retry`,
//! `commands::RETRIES`). Nothing else is needed: key creation by ZADD already signals, the
//! timeout reply is the same.
//!
//! # Transactions and scripts
//!
//! [`may_block`] answers false for a client executing EXEC's queue (Redis's
//! CLIENT_DENY_BLOCKING): the command then replies as on timeout instead of blocking. Scripts,
//! when they exist, must be treated the same way.
//!
//! # Propagation (AOF, replicas)
//!
//! A retry function feeds what it did as the non-blocking command (a served BLPOP as LPOP,
//! BLMOVE as LMOVE, BLMPOP as LPOP/RPOP with a count: `engine::feed`'s table), and a
//! blocking command that blocks propagates nothing. A client served here is its own unit of
//! the feed, run through `feed::before_command`/`after_command`/`end_unit` as `call` does.
//!
//! # Differences from Redis worth knowing
//!
//! * Ready keys are served database by database (in signal order within one database);
//!   Redis keeps one server-wide list. Only a command writing to several databases at once
//!   (SWAPDB, later EXEC) can tell the difference.
//! * A client that is skipped on a ready key (it waits for another type) keeps its place in
//!   the queue; Redis 7.0 moves it to the back.
//! * Streams: XADD signals its key ready even when the key existed (new entries, not a new
//!   key, is what XREAD waits for), XGROUP DESTROY too; and XREADGROUP clients
//!   (`block_for_stream_keys`) are also retried when their key stops being a stream, after
//!   any command, so they get Redis's -UNBLOCKED error at once.

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::session::Session;
use tine_core::keyspace::{Key, Keyspace};
use tine_core::protocol::CmdError;

/// A command's arguments (the command layer's `Argv`).
type Argv = [Vec<u8>];

/// What blocking needs from the layer that owns the clients and the databases (the command
/// context, `commands/ctx.rs`, which asks the top's client table): the queues and the
/// databases, and the two things only it can do with a client — run its retry (a command, with the dispatcher's statistics and
/// the feed) and end its wait with a reply. Serving and timing out are generic over it, so
/// they are tested here with a host that records what it is asked.
pub(crate) trait BlockingHost {
    fn blocking(&mut self) -> &mut Blocking;
    fn dbs(&mut self) -> &mut Keyspace;
    /// The queues and the databases, borrowed together.
    fn blocking_and_dbs(&mut self) -> (&mut Blocking, &mut Keyspace);
    /// The running command's clock (deadlines are absolute).
    fn now_ms(&self) -> i64;
    /// True when `key` of `db` still exists (read with a fresh clock, as a retry runs with
    /// one): serving a ready key stops when a served client consumed it.
    fn key_exists(&mut self, db: usize, key: &[u8]) -> bool;
    /// Retries the client `w` on the ready `key` of `db`, if it is still that client blocked
    /// in `db`: one unit of the feed; when served it is unblocked (statistics, output,
    /// queued commands).
    fn serve(&mut self, db: usize, key: &[u8], w: Waiter);
    /// Ends the wait of the blocked client `id` (at `slot` when known) with `how`'s reply,
    /// unblocking it. False when no such client is blocked there.
    fn end_wait(&mut self, slot: Option<usize>, id: u64, how: EndWait) -> bool;
}

/// How a wait ends without being served.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum EndWait {
    /// The deadline passed, or CLIENT UNBLOCK TIMEOUT: the command's timeout reply.
    Timeout,
    /// CLIENT UNBLOCK ERROR: Redis's -UNBLOCKED error.
    Error,
}

/// What a retry function did for a blocked client.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Served {
    /// It replied: unblock the client.
    Done,
    /// The key does not hold what the client waits for: keep it blocked, in its place.
    KeepWaiting,
}

/// Serves a blocked client from one ready key: `argv` is the command it blocked with (already
/// validated), `key` the ready key (one of its keys, in the client's db).
///
/// A retry is a command-layer function, stored on the client while it waits; engine does not
/// name that layer, so it stores the function's number in the command layer's retry table
/// (`commands::RETRIES`) and the host runs it (`BlockingHost::serve`). Engine never looks
/// inside.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Retry(pub u8);

impl Retry {
    /// No retry: WAIT blocks on no key, so it is never served by one (a host serving it
    /// anyway keeps the client waiting).
    pub(crate) const NONE: Retry = Retry(u8::MAX);
}

/// What a blocked client waits for; stored on the client while it is blocked.
pub(crate) struct BlockedOn {
    pub(crate) db: usize,
    /// Its keys, without duplicates, in argument order.
    pub(crate) keys: Vec<Key>,
    /// Absolute deadline in ms, 0 for none.
    pub(crate) deadline_ms: i64,
    /// The command it blocked with.
    pub(crate) argv: Vec<Vec<u8>>,
    pub(crate) retry: Retry,
    /// What it gets when its time runs out (or CLIENT UNBLOCK ends the wait).
    pub(crate) on_timeout: TimeoutReply,
}

/// The reply to a blocked client whose wait ends without being served.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TimeoutReply {
    /// The blocking list and sorted-set commands: a null array.
    NullArray,
    /// WAIT: the number of replicas that acknowledged this offset (counted by the replication
    /// layer above, which ends the wait; `send` alone can only say 0).
    ReplicaAcks(i64),
}

impl TimeoutReply {
    pub(crate) fn send(self, c: &mut Session) {
        match self {
            TimeoutReply::NullArray => c.add_null_array(),
            TimeoutReply::ReplicaAcks(_) => c.add_int(0),
        }
    }
}

/// A queued client: its slot in the client table and its id (slots are reused).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Waiter {
    pub(crate) slot: usize,
    pub(crate) id: u64,
}

/// The server-wide blocking state.
#[derive(Default)]
pub(crate) struct Blocking {
    /// Clients blocked in XREADGROUP, (db, key, client) per key: they are served (with an
    /// error) when their key stops being a stream, not only when it is written (Redis's
    /// unblockDeletedStreamReadgroupClients).
    needs_stream: Vec<(usize, Key, Waiter)>,
    /// db -> key -> clients waiting for it, oldest first.
    queues: HashMap<usize, HashMap<Key, VecDeque<Waiter>>>,
    /// (deadline ms, client id, slot) of blocked clients with a timeout, soonest first.
    deadlines: BTreeSet<(i64, u64, usize)>,
    /// Number of blocked clients (INFO `blocked_clients`).
    pub(crate) blocked_clients: usize,
}

impl Blocking {
    /// The soonest deadline of a blocked client, for the poll timeout.
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.deadlines.first().map(|&(d, _, _)| d)
    }

    /// Blocked clients with a deadline (INFO `clients_in_timeout_table`).
    pub(crate) fn in_timeout_table(&self) -> usize {
        self.deadlines.len()
    }

    /// Number of clients queued on `key` of `db` (tests, introspection).
    #[cfg(test)]
    pub(crate) fn waiting_on(&self, db: usize, key: &[u8]) -> usize {
        self.queues.get(&db).and_then(|m| m.get(key)).map_or(0, |q| q.len())
    }

    /// Queues `me` at the back of each of `keys` (no duplicates) of `db`, tells the database
    /// the keys are waited for, and notes the deadline (0: none).
    fn enqueue(
        &mut self,
        dbs: &mut Keyspace,
        db: usize,
        keys: &[Key],
        me: Waiter,
        deadline_ms: i64,
    ) {
        let queues = self.queues.entry(db).or_default();
        for k in keys {
            match queues.get_mut(&k[..]) {
                Some(q) => q.push_back(me),
                None => {
                    queues.insert(k.clone(), VecDeque::from([me]));
                }
            }
            dbs.block_on(db, k);
        }
        if deadline_ms != 0 {
            self.deadlines.insert((deadline_ms, me.id, me.slot));
        }
        self.blocked_clients += 1;
    }

    /// Takes `me` out of the queues of `keys` and the deadline set; the others keep their
    /// places.
    fn dequeue(
        &mut self,
        dbs: &mut Keyspace,
        db: usize,
        keys: &[Key],
        me: Waiter,
        deadline_ms: i64,
    ) {
        if let Some(queues) = self.queues.get_mut(&db) {
            for k in keys {
                if let Some(q) = queues.get_mut(&k[..]) {
                    q.retain(|w| w.id != me.id);
                    if q.is_empty() {
                        queues.remove(&k[..]);
                    }
                }
                dbs.unblock_on(db, k);
            }
        }
        if deadline_ms != 0 {
            self.deadlines.remove(&(deadline_ms, me.id, me.slot));
        }
        if !self.needs_stream.is_empty() {
            self.needs_stream.retain(|(_, _, w)| w.id != me.id);
        }
        self.blocked_clients -= 1;
    }

    /// Removes client `c` from every queue and the deadline set; returns what it was blocked
    /// on (`None` when it was not blocked).
    pub(crate) fn detach(&mut self, dbs: &mut Keyspace, c: &mut Session) -> Option<Box<BlockedOn>> {
        let b = c.blocked.take()?;
        let me = Waiter { slot: c.slot, id: c.id };
        self.dequeue(dbs, b.db, &b.keys, me, b.deadline_ms);
        Some(b)
    }
}

/// Parses a blocking timeout in seconds as Redis 7.0's getTimeoutFromObjectOrReply does and
/// returns the absolute deadline in ms (0 = wait forever), or the error to reply.
/// Fractions round up to the next millisecond; a deadline beyond the clock's range waits
/// forever (as Redis, whose timeout table is unsigned).
pub(crate) fn parse_timeout<H: BlockingHost>(srv: &H, arg: &[u8]) -> Result<i64, CmdError> {
    let Some(ms) = timeout_ms(arg) else {
        return Err(CmdError::new("ERR", "ERR timeout is not a float or out of range"));
    };
    if ms < 0 {
        return Err(CmdError::new("ERR", "ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(0);
    }
    Ok(srv.now_ms().checked_add(ms).unwrap_or(i64::MAX))
}

/// Seconds as text -> ms, rounded up (C's `(long long)ceill(x * 1000)`): `None` when it is not a
/// number; a value outside i64 becomes i64::MIN, as the C conversion yields on x86-64. Plain
/// decimals are converted exactly (Redis uses an 80-bit long double, which holds every
/// decimal an f64 would round); exponent forms go through f64.
fn timeout_ms(arg: &[u8]) -> Option<i64> {
    if let Some(ms) = decimal_seconds_to_ms(arg) {
        return Some(ms);
    }
    if arg.len() > 5 * 1024 {
        return None;
    }
    let v = tine_core::base::parse_f64(arg)? * 1000.0;
    if v == 0.0 {
        // Below f64's range ("1e-400") but not below a long double's: a positive value
        // still rounds up to 1 ms.
        let mantissa = arg.split(|&b| b == b'e' || b == b'E').next().unwrap_or(b"");
        let positive = arg[0] != b'-';
        let nonzero = mantissa.iter().any(|&b| (b'1'..=b'9').contains(&b));
        return Some(i64::from(positive && nonzero));
    }
    let v = v.ceil();
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v) {
        Some(v as i64)
    } else {
        Some(i64::MIN)
    }
}

/// Exact conversion of `[+-]digits[.digits]` seconds to ms rounded up; `None` for other forms.
fn decimal_seconds_to_ms(arg: &[u8]) -> Option<i64> {
    let (neg, rest) = match arg.first()? {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    let (int, frac) = match rest.iter().position(|&b| b == b'.') {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    // Beyond i64 as ms either way: saturate (the caller maps it to "negative").
    let mut whole: i128 = 0;
    for &d in int {
        whole = (whole * 10 + (d - b'0') as i128).min(i128::from(i64::MAX) * 10);
    }
    let mut ms = whole * 1000;
    for i in 0..3 {
        ms += frac.get(i).map_or(0, |&d| (d - b'0') as i128) * 10i128.pow(2 - i as u32);
    }
    let rest_nonzero = frac.iter().skip(3).any(|&d| d != b'0');
    if neg {
        // ceil of a negative value truncates toward zero.
        ms = -ms;
    } else if rest_nonzero {
        ms += 1;
    }
    Some(i64::try_from(ms).unwrap_or(i64::MIN))
}

/// May this client block now? Not while EXEC runs its queue (and, later, not in a script): the
/// caller then replies as on timeout.
pub(crate) fn may_block(c: &Session) -> bool {
    // Inside EXEC a blocking command answers as on timeout (Redis's CLIENT_DENY_BLOCKING).
    !c.in_exec
}

/// Blocks client `c` (the one running its command) on `keys` of its db until `deadline_ms`
/// (0 = forever). `argv` is kept and handed to `retry` when a key becomes ready.
pub(crate) fn block_for_keys<H: BlockingHost>(
    srv: &mut H,
    c: &mut Session,
    keys: &[Vec<u8>],
    deadline_ms: i64,
    argv: &Argv,
    retry: Retry,
) {
    debug_assert!(c.blocked.is_none(), "client blocked twice");
    let db = c.db;
    let me = Waiter { slot: c.slot, id: c.id };
    let mut unique: Vec<Key> = Vec::with_capacity(keys.len());
    for k in keys {
        if unique.iter().any(|u| &u[..] == k.as_slice()) {
            continue;
        }
        unique.push(k.as_slice().into());
    }
    let (blocking, dbs) = srv.blocking_and_dbs();
    blocking.enqueue(dbs, db, &unique, me, deadline_ms);
    c.blocked = Some(Box::new(BlockedOn {
        db,
        keys: unique,
        deadline_ms,
        argv: argv.to_vec(),
        retry,
        on_timeout: TimeoutReply::NullArray,
    }));
}

/// Blocks client `c` as `block_for_keys` does, and also ends its wait (through `retry`) when
/// one of its keys stops holding a stream: XREADGROUP, whose group goes with the key.
pub(crate) fn block_for_stream_keys<H: BlockingHost>(
    srv: &mut H,
    c: &mut Session,
    keys: &[Vec<u8>],
    deadline_ms: i64,
    argv: &Argv,
    retry: Retry,
) {
    block_for_keys(srv, c, keys, deadline_ms, argv, retry);
    let me = Waiter { slot: c.slot, id: c.id };
    let db = c.db;
    if let Some(b) = c.blocked.as_ref() {
        for k in &b.keys {
            srv.blocking().needs_stream.push((db, k.clone(), me));
        }
    }
}

/// Blocks client `c` in WAIT until `deadline_ms` (0 = forever) for replicas to acknowledge
/// `offset`. The replication layer ends the wait when enough did; the deadline, CLIENT
/// UNBLOCK or a disconnect end it otherwise.
pub(crate) fn block_for_replicas<H: BlockingHost>(
    srv: &mut H,
    c: &mut Session,
    deadline_ms: i64,
    argv: &Argv,
    offset: i64,
) {
    block_for_keys(srv, c, &[], deadline_ms, argv, Retry::NONE);
    if let Some(b) = c.blocked.as_mut() {
        b.on_timeout = TimeoutReply::ReplicaAcks(offset);
    }
}

/// CLIENT UNBLOCK: ends the wait of the client `id` if it is blocked in a blocking command,
/// with the reply a timeout gives or, with `error`, Redis's -UNBLOCKED error. False when no
/// such client is blocked.
pub(crate) fn unblock<H: BlockingHost>(host: &mut H, id: u64, error: bool) -> bool {
    host.end_wait(None, id, if error { EndWait::Error } else { EndWait::Timeout })
}

/// Drops a disconnecting client from the blocking state without replying.
pub(crate) fn forget_client<H: BlockingHost>(srv: &mut H, c: &mut Session) {
    let (blocking, dbs) = srv.blocking_and_dbs();
    blocking.detach(dbs, c);
}

/// Serves the clients blocked on keys marked ready, until no key is ready (Redis's
/// handleClientsBlockedOnKeys). Runs after every top-level command.
pub(crate) fn serve_ready_keys<H: BlockingHost>(host: &mut H) {
    if host.blocking().blocked_clients == 0 {
        return;
    }
    if !host.blocking().needs_stream.is_empty() {
        serve_gone_streams(host);
    }
    loop {
        if !host.dbs().has_ready() {
            return;
        }
        let batch = host.dbs().take_ready();
        for (db, key) in batch {
            serve_key(host, db, &key);
        }
    }
}

/// Retries the XREADGROUP clients whose key no longer holds a stream (deleted, retyped,
/// flushed, swapped away): their retry answers the error.
fn serve_gone_streams<H: BlockingHost>(host: &mut H) {
    let gone: Vec<(usize, Key, Waiter)> = {
        let (blocking, dbs) = host.blocking_and_dbs();
        blocking
            .needs_stream
            .iter()
            .filter(|(db, k, _)| {
                !matches!(dbs[*db].peek(k), Some(tine_core::keyspace::Value::Stream(_)))
            })
            .cloned()
            .collect()
    };
    for (db, key, w) in gone {
        host.serve(db, &key, w);
    }
}

/// Retries the clients queued on one ready key, oldest first, while the key exists.
fn serve_key<H: BlockingHost>(host: &mut H, db: usize, key: &[u8]) {
    let waiters: Vec<Waiter> = match host.blocking().queues.get(&db).and_then(|m| m.get(key)) {
        Some(q) => q.iter().copied().collect(),
        None => return,
    };
    for w in waiters {
        if !host.key_exists(db, key) {
            return;
        }
        host.serve(db, key, w);
    }
}

/// Replies to the blocked clients whose deadline has passed (their timeout reply) and
/// unblocks them, soonest first.
pub(crate) fn handle_timeouts<H: BlockingHost>(host: &mut H, now_ms: i64) {
    while let Some(&(deadline, id, slot)) = host.blocking().deadlines.first() {
        if deadline > now_ms {
            return;
        }
        if !host.end_wait(Some(slot), id, EndWait::Timeout) {
            // Not that client, or not blocked any more: a stale entry.
            host.blocking().deadlines.remove(&(deadline, id, slot));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_as_redis_parses_them() {
        assert_eq!(timeout_ms(b"0"), Some(0));
        assert_eq!(timeout_ms(b"1"), Some(1000));
        assert_eq!(timeout_ms(b"+1"), Some(1000));
        assert_eq!(timeout_ms(b".5"), Some(500));
        assert_eq!(timeout_ms(b"1."), Some(1000));
        assert_eq!(timeout_ms(b"0.0001"), Some(1));
        assert_eq!(timeout_ms(b"0.0010"), Some(1));
        assert_eq!(timeout_ms(b"0.0011"), Some(2));
        assert_eq!(timeout_ms(b"-0"), Some(0));
        assert_eq!(timeout_ms(b"-0.0001"), Some(0));
        assert_eq!(timeout_ms(b"-1"), Some(-1000));
        assert_eq!(timeout_ms(b"1e-400"), Some(1));
        assert_eq!(timeout_ms(b"2e0"), Some(2000));
        assert_eq!(timeout_ms(b"9223372036854775.807"), Some(9_223_372_036_854_775_807));
        assert_eq!(timeout_ms(b"9223372036854775.808"), Some(i64::MIN));
        assert_eq!(timeout_ms(b"99999999999999999999999999999"), Some(i64::MIN));
        assert_eq!(timeout_ms(b"1e16"), Some(i64::MIN));
        assert_eq!(timeout_ms(b"inf"), Some(i64::MIN));
        assert_eq!(timeout_ms(b"-inf"), Some(i64::MIN));
        assert_eq!(timeout_ms(b"nan"), None);
        assert_eq!(timeout_ms(b"x"), None);
        assert_eq!(timeout_ms(b"1e"), None);
        assert_eq!(timeout_ms(b" 1"), None);
        assert_eq!(timeout_ms(b"."), None);
        assert_eq!(timeout_ms(b"-"), None);
        assert_eq!(timeout_ms(b""), None);
    }

    /// A host that records what blocking asks of it; `serve` serves (pops the key's one
    /// element, deleting it) the clients in `serves`, and the others keep waiting.
    struct Host {
        blocking: Blocking,
        dbs: Keyspace,
        /// (waiter, its keys, its deadline) of the blocked clients.
        blocked: Vec<(Waiter, Vec<Key>, i64)>,
        serves: Vec<u64>,
        served: Vec<(u64, Vec<u8>)>,
        ended: Vec<(u64, EndWait)>,
    }

    impl Host {
        fn new() -> Host {
            Host {
                blocking: Blocking::default(),
                dbs: Keyspace::new(2),
                blocked: Vec::new(),
                serves: Vec::new(),
                served: Vec::new(),
                ended: Vec::new(),
            }
        }

        fn block(&mut self, id: u64, keys: &[&str], deadline_ms: i64) {
            let w = Waiter { slot: id as usize, id };
            let keys: Vec<Key> = keys.iter().map(|k| k.as_bytes().into()).collect();
            self.blocking.enqueue(&mut self.dbs, 0, &keys, w, deadline_ms);
            self.blocked.push((w, keys, deadline_ms));
        }

        fn unblock(&mut self, id: u64) -> bool {
            let Some(i) = self.blocked.iter().position(|b| b.0.id == id) else {
                return false;
            };
            let (w, keys, deadline) = self.blocked.remove(i);
            self.blocking.dequeue(&mut self.dbs, 0, &keys, w, deadline);
            true
        }

        /// A write that creates `key`, as a command would.
        fn create(&mut self, key: &str) {
            let v = tine_core::keyspace::Value::Str(tine_core::keyspace::Str::from_bytes(b"x"));
            self.dbs.set(0, key.as_bytes(), v, false);
        }
    }

    impl BlockingHost for Host {
        fn blocking(&mut self) -> &mut Blocking {
            &mut self.blocking
        }
        fn dbs(&mut self) -> &mut Keyspace {
            &mut self.dbs
        }
        fn blocking_and_dbs(&mut self) -> (&mut Blocking, &mut Keyspace) {
            (&mut self.blocking, &mut self.dbs)
        }
        fn now_ms(&self) -> i64 {
            0
        }
        fn key_exists(&mut self, db: usize, key: &[u8]) -> bool {
            self.dbs.lookup(db, key, 0).is_some()
        }
        fn serve(&mut self, db: usize, key: &[u8], w: Waiter) {
            if self.serves.contains(&w.id) {
                self.served.push((w.id, key.to_vec()));
                self.dbs.delete(db, key);
                self.unblock(w.id);
            }
        }
        fn end_wait(&mut self, _slot: Option<usize>, id: u64, how: EndWait) -> bool {
            let found = self.unblock(id);
            if found {
                self.ended.push((id, how));
            }
            found
        }
    }

    fn served(h: &Host) -> Vec<(u64, &str)> {
        h.served.iter().map(|(id, k)| (*id, std::str::from_utf8(k).unwrap())).collect()
    }

    #[test]
    fn ready_keys_are_served_after_the_command_not_when_written() {
        let mut h = Host::new();
        h.serves = vec![1];
        h.block(1, &["k"], 0);
        h.create("k");
        assert!(h.served.is_empty(), "the write itself serves no one");
        assert_eq!(h.blocking.blocked_clients, 1);
        serve_ready_keys(&mut h);
        assert_eq!(served(&h), [(1, "k")]);
        assert_eq!(h.blocking.blocked_clients, 0);
        assert_eq!(h.blocking.waiting_on(0, b"k"), 0);
    }

    #[test]
    fn clients_are_served_first_come_first_served_per_key() {
        let mut h = Host::new();
        h.serves = vec![1, 2, 3];
        h.block(2, &["k"], 0);
        h.block(1, &["other", "k"], 0);
        h.block(3, &["k"], 0);
        // Each creation of `k` serves one client (its pop deletes the key): the oldest.
        for _ in 0..3 {
            h.create("k");
            serve_ready_keys(&mut h);
        }
        assert_eq!(served(&h), [(2, "k"), (1, "k"), (3, "k")]);
        assert_eq!(h.blocking.waiting_on(0, b"other"), 0, "served on one key, gone from all");
    }

    #[test]
    fn a_client_that_keeps_waiting_keeps_its_place() {
        let mut h = Host::new();
        h.serves = vec![2];
        h.block(1, &["k"], 0);
        h.block(2, &["k"], 0);
        h.create("k");
        serve_ready_keys(&mut h);
        assert_eq!(served(&h), [(2, "k")]);
        h.serves = vec![1];
        h.create("k");
        serve_ready_keys(&mut h);
        assert_eq!(served(&h), [(2, "k"), (1, "k")]);
    }

    #[test]
    fn nothing_is_served_when_no_client_is_blocked_or_no_key_is_ready() {
        let mut h = Host::new();
        h.create("k");
        serve_ready_keys(&mut h);
        h.serves = vec![1];
        h.block(1, &["k2"], 0);
        serve_ready_keys(&mut h);
        assert!(h.served.is_empty());
    }

    #[test]
    fn timeouts_end_waits_soonest_first_and_only_when_due() {
        let mut h = Host::new();
        h.block(1, &["a"], 300);
        h.block(2, &["b"], 100);
        h.block(3, &["c"], 0);
        h.block(4, &["d"], 200);
        assert_eq!(h.blocking.next_deadline(), Some(100));
        assert_eq!(h.blocking.in_timeout_table(), 3);
        handle_timeouts(&mut h, 99);
        assert!(h.ended.is_empty());
        handle_timeouts(&mut h, 250);
        assert_eq!(h.ended, [(2, EndWait::Timeout), (4, EndWait::Timeout)]);
        assert_eq!(h.blocking.next_deadline(), Some(300));
        assert_eq!(h.blocking.blocked_clients, 2);
        handle_timeouts(&mut h, i64::MAX);
        assert_eq!(h.ended.len(), 3, "a client without a deadline waits on");
        assert_eq!(h.blocking.next_deadline(), None);
    }

    #[test]
    fn a_stale_deadline_is_dropped() {
        let mut h = Host::new();
        h.block(1, &["a"], 100);
        // The host no longer knows the client (it went away without being forgotten).
        h.blocked.clear();
        handle_timeouts(&mut h, 100);
        assert!(h.ended.is_empty());
        assert_eq!(h.blocking.next_deadline(), None);
    }
}
