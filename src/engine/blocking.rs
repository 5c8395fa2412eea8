//! Blocking commands: clients that wait for keys (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP,
//! BZPOPMIN, BZPOPMAX, BZMPOP) or for replicas (WAIT) — who waits for which key, in which
//! order, until when, and how a waiting client is served. This file is the one place for that
//! machinery; the commands' own semantics stay in their families (`commands::list`,
//! `commands::zset`), handed in as retry functions.
//!
//! # How it works (Redis 7.0's design)
//!
//! 1. A blocking command first tries to do its work at once. When it cannot (every key is
//!    missing or empty) it calls [`block_for_keys`]: the client is queued, in arrival order, on
//!    each of its keys (`(db, key) -> FIFO of clients`), the database is told the key is
//!    watched ([`tine_core::keyspace::Db::watch_key`]), the deadline (if any) goes into a sorted set, and
//!    the command's arguments and a *retry* function are stored on the client
//!    (the client's `blocked`). The client gets no reply yet.
//! 2. While blocked, the event loop still reads the client's socket (so a disconnect is seen
//!    and [`forget_client`] drops it from the queues), but runs none of its further commands:
//!    they stay in the query buffer (the event loop's `process_input`, in `app::event_loop`,
//!    stops at a blocked client).
//! 3. Any write that *creates* a watched key marks it ready inside the keyspace
//!    (`Db::signal_key_as_ready`, called by `Db::set`/`Db::insert_new`, as Redis's dbAdd);
//!    SWAPDB marks every watched key that holds a value in both databases
//!    ([`signal_swapped_dbs`]). Only creation needs a signal: a client only blocks on a key
//!    that is missing or empty, and empty lists/sets are deleted, so a key becomes poppable
//!    again only by being created.
//! 4. After each top-level command (`commands::call`, so after EXEC as a whole, never in the
//!    middle of a transaction) [`serve_ready_keys`] runs before anything else is replied to:
//!    for every ready key, the clients queued on it are retried in FIFO order — the retry
//!    function re-runs the pop against that key. It returns [`Served::Done`] after replying
//!    (the client is unblocked, its reply written and its queued commands run next) or
//!    [`Served::KeepWaiting`] when the key does not hold what it waits for (deleted, or
//!    retyped: a blocked BLPOP is not told WRONGTYPE when its key becomes a string, it keeps
//!    waiting, as in Redis). Serving may create other watched keys (BLMOVE pushes to its
//!    destination); the loop repeats until no key is ready.
//!    Statistics of a blocking command (calls, usec, failed calls) are counted when it
//!    completes, with the time of its attempts and not of its wait, as Redis does.
//! 5. Deadlines are checked before every poll and on each cron tick ([`handle_timeouts`]);
//!    the poll never sleeps past the nearest one ([`Blocking::next_deadline`]). A timed-out
//!    client gets Redis's null array (`*-1`, RESP3 `_`), which every key-blocking command of
//!    Redis 7.0 replies on timeout, BLMOVE and BRPOPLPUSH included.
//!
//! # Adding a blocking command (the shape BZPOPMIN follows in `commands::zset`)
//!
//! ```ignore
//! pub fn bzpopmin(srv: &mut Server, c: &mut Client, argv: &Argv) {
//!     let Some(deadline) = blocking::parse_timeout(srv, c, argv.last().unwrap()) else { return };
//!     // ... try every key; reply and return if one is a non-empty zset, WRONGTYPE if not a zset
//!     if !blocking::may_block(c) { c.add_null_array(); return; }
//!     blocking::block_for_keys(srv, c, &argv[1..argv.len() - 1], deadline, argv, serve_bzpopmin);
//! }
//! /// Called with the ready key: pop from it and reply, or say the client keeps waiting.
//! fn serve_bzpopmin(srv: &mut Server, c: &mut Client, argv: &Argv, key: &[u8]) -> Served {
//!     match srv.dbs[c.db].get_mut(key, srv.now_ms) {
//!         Some(Value::ZSet(z)) => { /* pop, reply, delete the key if empty */ Served::Done }
//!         _ => Served::KeepWaiting,
//!     }
//! }
//! ```
//!
//! Nothing else is needed: key creation by ZADD already signals, the timeout reply is the same.
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

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use crate::app::server::Server;
use crate::commands::Argv;
use crate::net::client::Client;
use tine_core::keyspace::Key;

/// What a retry function did for a blocked client.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Served {
    /// It replied: unblock the client.
    Done,
    /// The key does not hold what the client waits for: keep it blocked, in its place.
    KeepWaiting,
}

/// Serves a blocked client from one ready key: `argv` is the command it blocked with (already
/// validated), `key` the ready key (one of its keys, in the client's db).
pub type Retry = fn(&mut Server, &mut Client, &Argv, &[u8]) -> Served;

/// What a blocked client waits for; stored on the client while it is blocked.
pub struct BlockedOn {
    pub db: usize,
    /// Its keys, without duplicates, in argument order.
    pub keys: Vec<Key>,
    /// Absolute deadline in ms, 0 for none.
    pub deadline_ms: i64,
    /// The command it blocked with.
    pub argv: Vec<Vec<u8>>,
    pub retry: Retry,
    /// What it gets when its time runs out (or CLIENT UNBLOCK ends the wait).
    pub on_timeout: TimeoutReply,
}

/// The reply to a blocked client whose wait ends without being served.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimeoutReply {
    /// The blocking list and sorted-set commands: a null array.
    NullArray,
    /// WAIT: the number of replicas that acknowledged, which without replication is 0.
    ReplicaAcks,
}

impl TimeoutReply {
    fn send(self, c: &mut Client) {
        match self {
            TimeoutReply::NullArray => c.add_null_array(),
            TimeoutReply::ReplicaAcks => c.add_int(0),
        }
    }
}

/// A queued client: its slot in the client table and its id (slots are reused).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Waiter {
    slot: usize,
    id: u64,
}

/// The server-wide blocking state.
#[derive(Default)]
pub struct Blocking {
    /// db -> key -> clients waiting for it, oldest first.
    queues: HashMap<usize, HashMap<Key, VecDeque<Waiter>>>,
    /// (deadline ms, client id, slot) of blocked clients with a timeout, soonest first.
    deadlines: BTreeSet<(i64, u64, usize)>,
    /// Number of blocked clients (INFO `blocked_clients`).
    pub blocked_clients: usize,
}

impl Blocking {
    /// The soonest deadline of a blocked client, for the poll timeout.
    pub fn next_deadline(&self) -> Option<i64> {
        self.deadlines.first().map(|&(d, _, _)| d)
    }

    /// Blocked clients with a deadline (INFO `clients_in_timeout_table`).
    pub fn in_timeout_table(&self) -> usize {
        self.deadlines.len()
    }

    /// Number of clients queued on `key` of `db` (tests, introspection).
    pub fn waiting_on(&self, db: usize, key: &[u8]) -> usize {
        self.queues.get(&db).and_then(|m| m.get(key)).map_or(0, |q| q.len())
    }
}

/// Parses a blocking timeout in seconds as Redis 7.0's getTimeoutFromObjectOrReply does and
/// returns the absolute deadline in ms (0 = wait forever), or `None` after replying the error.
/// Fractions round up to the next millisecond; a deadline beyond the clock's range waits
/// forever (as Redis, whose timeout table is unsigned).
pub fn parse_timeout(srv: &Server, c: &mut Client, arg: &[u8]) -> Option<i64> {
    let Some(ms) = timeout_ms(arg) else {
        c.add_err("timeout is not a float or out of range");
        return None;
    };
    if ms < 0 {
        c.add_err("timeout is negative");
        return None;
    }
    if ms == 0 {
        return Some(0);
    }
    Some(srv.now_ms.checked_add(ms).unwrap_or(i64::MAX))
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
pub fn may_block(c: &Client) -> bool {
    // Inside EXEC a blocking command answers as on timeout (Redis's CLIENT_DENY_BLOCKING).
    !c.in_exec
}

/// Blocks client `c` (the one running its command) on `keys` of its db until `deadline_ms`
/// (0 = forever). `argv` is kept and handed to `retry` when a key becomes ready.
pub fn block_for_keys(
    srv: &mut Server,
    c: &mut Client,
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
    let queues = srv.blocking.queues.entry(db).or_default();
    for k in &unique {
        match queues.get_mut(&k[..]) {
            Some(q) => q.push_back(me),
            None => {
                queues.insert(k.clone(), VecDeque::from([me]));
            }
        }
        srv.dbs[db].watch_key(k);
    }
    if deadline_ms != 0 {
        srv.blocking.deadlines.insert((deadline_ms, me.id, me.slot));
    }
    srv.blocking.blocked_clients += 1;
    c.blocked = Some(Box::new(BlockedOn {
        db,
        keys: unique,
        deadline_ms,
        argv: argv.to_vec(),
        retry,
        on_timeout: TimeoutReply::NullArray,
    }));
}

/// Blocks client `c` in WAIT until `deadline_ms` (0 = forever). No replica exists to
/// acknowledge, so only the deadline, CLIENT UNBLOCK or a disconnect end the wait, as on a
/// Redis master whose replicas are gone.
pub fn block_for_replicas(srv: &mut Server, c: &mut Client, deadline_ms: i64, argv: &Argv) {
    block_for_keys(srv, c, &[], deadline_ms, argv, |_, _, _, _| Served::KeepWaiting);
    if let Some(b) = c.blocked.as_mut() {
        b.on_timeout = TimeoutReply::ReplicaAcks;
    }
}

/// Removes a client from every queue and the deadline set; returns what it was blocked on.
fn detach(srv: &mut Server, c: &mut Client) -> Option<Box<BlockedOn>> {
    let b = c.blocked.take()?;
    if let Some(queues) = srv.blocking.queues.get_mut(&b.db) {
        for k in &b.keys {
            if let Some(q) = queues.get_mut(&k[..]) {
                q.retain(|w| w.id != c.id);
                if q.is_empty() {
                    queues.remove(&k[..]);
                }
            }
            srv.dbs[b.db].unwatch_key(k);
        }
    }
    if b.deadline_ms != 0 {
        srv.blocking.deadlines.remove(&(b.deadline_ms, c.id, c.slot));
    }
    srv.blocking.blocked_clients -= 1;
    Some(b)
}

/// Unblocks a client that got its reply: statistics of its command (counted when it completes,
/// as Redis does, with `usec` spent serving it), then its output is written and its queued
/// commands run.
fn finish(srv: &mut Server, c: &mut Client, usec: u64) {
    let Some(b) = detach(srv, c) else {
        return;
    };
    if let Some(r) = crate::commands::registry().lookup(&b.argv[0]) {
        let stats = &mut srv.cmd_stats[r.id];
        stats.calls += 1;
        stats.usec += usec;
        if !c.errors.is_empty() {
            stats.failed_calls += 1;
        }
    }
    crate::commands::finish_errors(srv, c);
    srv.note_pending_write(c.slot);
    srv.pending_input.push(c.slot);
}

/// CLIENT UNBLOCK: ends the wait of the client `id` if it is blocked in a blocking command,
/// with the reply a timeout gives or, with `error`, Redis's -UNBLOCKED error. False when no
/// such client is blocked.
pub fn unblock(srv: &mut Server, id: u64, error: bool) -> bool {
    let Some(slot) = srv.clients.iter().find(|c| c.id == id && c.blocked.is_some()).map(|c| c.slot)
    else {
        return false;
    };
    let Some(mut c) = srv.clients.take(slot) else {
        return false;
    };
    if error {
        c.add_error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else if let Some(b) = c.blocked.as_ref() {
        b.on_timeout.send(&mut c);
    }
    finish(srv, &mut c, 0);
    srv.clients.put_back(c);
    true
}

/// Drops a disconnecting client from the blocking state without replying.
pub fn forget_client(srv: &mut Server, c: &mut Client) {
    detach(srv, c);
}

/// After SWAPDB: the keys of both databases changed under their waiting clients.
pub fn signal_swapped_dbs(srv: &mut Server, a: usize, b: usize) {
    srv.dbs[a].signal_blocking_keys();
    srv.dbs[b].signal_blocking_keys();
}

/// Serves the clients blocked on keys marked ready, until no key is ready (Redis's
/// handleClientsBlockedOnKeys). Runs after every top-level command.
pub fn serve_ready_keys(srv: &mut Server) {
    if srv.blocking.blocked_clients == 0 {
        return;
    }
    loop {
        let mut batch: Vec<(usize, Key)> = Vec::new();
        for (i, db) in srv.dbs.iter_mut().enumerate() {
            if db.has_ready_keys() {
                batch.extend(db.take_ready_keys().into_iter().map(|k| (i, k)));
            }
        }
        if batch.is_empty() {
            return;
        }
        for (db, key) in batch {
            serve_key(srv, db, &key);
        }
    }
}

/// Retries the clients queued on one ready key, oldest first, while the key exists.
fn serve_key(srv: &mut Server, db: usize, key: &[u8]) {
    let waiters: Vec<Waiter> = match srv.blocking.queues.get(&db).and_then(|m| m.get(key)) {
        Some(q) => q.iter().copied().collect(),
        None => return,
    };
    for w in waiters {
        srv.now_ms = tine_core::base::mstime();
        if srv.dbs[db].get(key, srv.now_ms).is_none() {
            return;
        }
        // The client running the current command is out of its slot; it cannot be blocked.
        let Some(mut c) = srv.clients.take(w.slot) else {
            continue;
        };
        let ready = c.id == w.id && c.blocked.as_ref().is_some_and(|b| b.db == db);
        if ready {
            // A blocked client runs no command, so its selected db is still `db`.
            let b = c.blocked.as_mut().expect("checked");
            let argv = std::mem::take(&mut b.argv);
            let retry = b.retry;
            let start = Instant::now();
            // What the retry changed is propagated as what it says (LPOP, LMOVE...).
            let before = crate::engine::feed::before_command(srv);
            let served = retry(srv, &mut c, &argv, key);
            crate::engine::feed::after_command(srv, db, &argv, before, true);
            crate::engine::feed::end_unit(srv);
            let usec = start.elapsed().as_micros() as u64;
            if let Some(b) = c.blocked.as_mut() {
                b.argv = argv;
            }
            if served == Served::Done {
                finish(srv, &mut c, usec);
            }
        }
        srv.clients.put_back(c);
    }
}

/// Replies to the blocked clients whose deadline has passed (null array) and unblocks them.
pub fn handle_timeouts(srv: &mut Server, now_ms: i64) {
    while let Some(&(deadline, id, slot)) = srv.blocking.deadlines.first() {
        if deadline > now_ms {
            return;
        }
        let Some(mut c) = srv.clients.take(slot) else {
            srv.blocking.deadlines.remove(&(deadline, id, slot));
            continue;
        };
        if c.id == id
            && let Some(on_timeout) = c.blocked.as_ref().map(|b| b.on_timeout)
        {
            on_timeout.send(&mut c);
            finish(srv, &mut c, 0);
        } else {
            srv.blocking.deadlines.remove(&(deadline, id, slot));
        }
        srv.clients.put_back(c);
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
}
