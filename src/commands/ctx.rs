//! The command context: what a handler is given instead of the server aggregate.
//!
//! `Ctx` is two borrows: the data half (`commands::Data`: keyspace, config, clock, stats,
//! feed, AOF, pub/sub, blocking queues, the persist child slot...) and the rest of the server
//! behind `ServerOps`, a trait this layer defines and the top layer implements on its client
//! table. Building one is copying those pointers; the data path (lookups, writes, the feed,
//! notifications with no one to deliver to) touches only `data` and never goes through `dyn`.
//! What needs the other clients' connections goes through `ServerOps`: delivering to another
//! client, serving or ending a blocked client's wait, CLIENT LIST/KILL, the figures INFO
//! reads of the client table, the two top-layer actions CONFIG SET's effects and SHUTDOWN,
//! and handing control back to the event loop while a long command runs
//! (`process_events_while_blocked`, through `Ctx::yield_to_event_loop`).
//!
//! The plan was a narrow `ServerOps` over a big top half (slow log, latency, persistence,
//! shutdown...). It is the other way round here, because only the client table holds what
//! this layer may not name (connections are `net`'s): everything else is plain state, so it
//! sits in `Data`, and persistence's host is `Data` itself (`PersistHost for Data`), so the
//! persist commands and the feed's AOF sink need no trait call at all.
//!
//! The engine's host traits (`FeedHost`, `PubSubHost`, `BlockingHost`, `EvictHost`,
//! `ExpireHost`) are implemented here for `Ctx`, so the engine's subsystems run against a
//! context too; the top layer builds one (`Server::ctx`) for its own calls (cron, timeouts).

use crate::commands::data::{BusyKind, Data, ShutdownRequest};
use crate::config::custom::notify;
use crate::engine::blocking::{Blocking, BlockingHost, EndWait, Waiter};
use crate::engine::evict::{EvictHost, EvictionPool};
use crate::engine::expire::ExpireHost;
use crate::engine::feed::{Feed, FeedHost, FeedSink, Targets};
use crate::engine::pubsub::{PubSub, PubSubHost};
use crate::engine::session::Session;
use crate::persist::aof::{AofFeed, Status};
use crate::repl::feed::ReplFeed;
use tine_core::keyspace::{Keyspace, Value};
use tine_core::protocol::CmdError;

/// What commands need of the server beyond the data half, implemented by the top layer on its
/// client table. The client running the command is out of the table (its session is the
/// handler's `&mut Session`), so "other clients" below means every connected client but it.
pub(crate) trait ServerOps {
    /// The session of the connected client in `slot`, and how many bytes of its reply buffer
    /// are already written; `None` when no client is there (or it is the running one).
    fn session(&mut self, slot: usize) -> Option<(&mut Session, usize)>;
    /// Runs `f` on the session of every other client.
    fn for_each_session(&mut self, f: &mut dyn FnMut(&mut Session));
    /// Connected clients, the running one included.
    fn connected(&self) -> usize;
    /// Query and reply buffers' capacity over the other clients (INFO's mem_clients_normal).
    fn clients_memory(&self) -> usize;
    /// CLIENT LIST's lines, in id order, for the clients `keep` accepts; `running` is the
    /// caller, shown with the connection figures recorded for its command.
    fn client_list(&self, running: &Session, now: i64, keep: &dyn Fn(&Session) -> bool) -> String;
    /// CLIENT INFO's line for the running client.
    fn client_info(&self, running: &Session, now: i64) -> String;
    /// CONFIG SET, all or nothing, with its effects; the error is the whole reply line.
    fn config_set(&mut self, data: &mut Data, pairs: &[(&str, &str)]) -> Result<(), CmdError>;
    /// The shutdown sequence; true when the server may exit.
    fn shutdown(&mut self, data: &mut Data, req: ShutdownRequest) -> bool;
    /// `BlockingHost::serve`: runs the retry of the client `w` names, if still waiting.
    fn serve(&mut self, data: &mut Data, db: usize, key: &[u8], w: Waiter);
    /// `BlockingHost::end_wait`.
    fn end_wait(&mut self, data: &mut Data, slot: Option<usize>, id: u64, how: EndWait) -> bool;
    /// Redis's processEventsWhileBlocked: serves the event loop once without waiting (accepts
    /// connections, reads and runs other clients' commands, writes replies, notes signals)
    /// while the running command keeps its place; returns the number of events handled. Call
    /// it through `Ctx::yield_to_event_loop`, which marks the server busy. The default does
    /// nothing: contexts with no event loop behind them (the AOF replay, tests, a blocked
    /// client's retry) cannot yield.
    fn process_events_while_blocked(&mut self, _data: &mut Data) -> usize {
        0
    }
}

/// A handler's context (see the module doc).
pub(crate) struct Ctx<'a> {
    pub(crate) data: &'a mut Data,
    pub(crate) server: &'a mut dyn ServerOps,
}

impl<'a> Ctx<'a> {
    #[inline]
    pub(crate) fn new(data: &'a mut Data, server: &'a mut dyn ServerOps) -> Ctx<'a> {
        Ctx { data, server }
    }

    /// Lets the event loop serve other clients in the middle of a long command (a slow
    /// script, a long load), as Redis's processEventsWhileBlocked: the server is busy with
    /// `kind` meanwhile, so they get -BUSY for every command not flagged `allow_busy`. A
    /// command run in there cannot yield in turn (the server is already busy): 0 is returned
    /// and nothing is served, so yields never nest. Returns the number of events handled.
    pub(crate) fn yield_to_event_loop(&mut self, kind: BusyKind) -> usize {
        if self.data.busy.is_some() {
            return 0;
        }
        self.data.busy = Some(kind);
        let n = self.server.process_events_while_blocked(self.data);
        self.data.busy = None;
        n
    }

    /// Looks a key up for a read command (Redis's lookupKeyRead): expires it if due, counts a
    /// keyspace hit or miss, publishes "keymiss" on a miss, records the access (LRU/LFU).
    #[inline]
    pub(crate) fn lookup_read(&mut self, db: usize, key: &[u8]) -> Option<&Value> {
        if self.read_miss_announced(db, key, true) {
            return None;
        }
        let v = self.data.keyspace.get_accessed(db, key);
        self.data.stats.count_lookup(v.is_some());
        v
    }

    /// A read that is not an access (Redis's LOOKUP_NOTOUCH: EXISTS, TYPE, TTL...): counted
    /// and announced like `lookup_read`, but the key's LRU/LFU data is left alone. With
    /// `notify_miss` false a miss is not announced (LOOKUP_NONOTIFY: OBJECT).
    #[inline]
    pub(crate) fn lookup_read_notouch(
        &mut self,
        db: usize,
        key: &[u8],
        notify_miss: bool,
    ) -> Option<&Value> {
        if self.read_miss_announced(db, key, notify_miss) {
            return None;
        }
        let v = self.data.keyspace[db].peek(key);
        self.data.stats.count_lookup(v.is_some());
        v
    }

    /// The start of a read lookup: lazy expiry, then, only when someone listens for "keymiss"
    /// events, a first look so that a miss can be counted and announced (after the "expired"
    /// event, as Redis orders them) before the caller borrows the value. True when it did;
    /// otherwise the caller looks up once and counts.
    #[inline]
    fn read_miss_announced(&mut self, db: usize, key: &[u8], notify_miss: bool) -> bool {
        // On a replica an expired key stays in place but reads as missing (`Expiry::Hide`).
        let hidden = self.expire_if_needed(db, key)
            && self.data.keyspace.expiry() == tine_core::keyspace::Expiry::Hide;
        let listening = notify_miss && self.data.notify_flags & notify::KEY_MISS != 0;
        if !hidden && (!listening || self.data.keyspace[db].peek(key).is_some()) {
            return false;
        }
        self.data.stats.count_lookup(false);
        if listening {
            self.notify(notify::KEY_MISS, "keymiss", key, db);
        }
        true
    }

    /// Looks a key up (expiring it if due) without counting hits or misses: the reads of
    /// commands that write (Redis's lookupKeyWrite: SET NX, INCR, MOVE...).
    #[inline]
    pub(crate) fn lookup_read_nostats(&mut self, db: usize, key: &[u8]) -> Option<&Value> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        self.data.keyspace[db].peek(key)
    }

    /// Deletes `key` if its time has passed: counts it and publishes the "expired" event.
    /// True when the key is to be treated as missing. On a replica nothing is deleted (the
    /// primary's DEL will come, Redis's expireIfNeeded): an expired key is only reported as
    /// missing to the replica's own clients, and is present for its primary's commands.
    #[inline]
    pub(crate) fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        use tine_core::keyspace::Expiry;
        match self.data.keyspace.expiry() {
            Expiry::Delete => {}
            Expiry::Hide => return self.data.keyspace.is_expired(db, key, self.data.now_ms),
            Expiry::Keep => return false,
        }
        if self.data.keyspace.expire_if_needed(db, key, self.data.now_ms) {
            self.data.stats.expired_keys += 1;
            self.notify(notify::EXPIRED, "expired", key, db);
            true
        } else {
            false
        }
    }

    /// Looks a key up for writing (expiring it if due).
    #[inline]
    pub(crate) fn lookup_write(&mut self, db: usize, key: &[u8]) -> Option<&mut Value> {
        self.expire_if_needed(db, key);
        self.data.keyspace.get_mut(db, key, self.data.now_ms)
    }

    /// Publishes a keyspace notification (see `pubsub::notify`).
    #[inline]
    pub(crate) fn notify(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        if self.data.notify_flags != 0 {
            // Keys the command created come first, as Redis's dbAdd announces them then.
            self.announce_created();
            crate::engine::pubsub::notify(self, class, event, key, db);
        }
    }

    /// The "new" events of keys created since the last announcement (only collected while
    /// the `n` class is on).
    #[inline]
    pub(crate) fn announce_created(&mut self) {
        for (db, key) in self.data.keyspace.take_created() {
            crate::engine::pubsub::notify(self, notify::NEW, "new", &key, db);
        }
    }

    /// The running command propagates `argv` instead of its own arguments
    /// (`Feed::propagate_as`).
    #[inline]
    pub(crate) fn propagate_as(&mut self, argv: Vec<Vec<u8>>) {
        self.data.prop.propagate_as(argv);
    }

    /// The running command propagates these commands (in its db) instead of its own.
    pub(crate) fn propagate_many(&mut self, ops: Vec<Vec<Vec<u8>>>) {
        self.data.prop.propagate_many(ops);
    }

    /// Marks a client as having output to write before the next poll.
    #[inline]
    pub(crate) fn note_pending_write(&mut self, slot: usize) {
        self.data.pending_writes.push(slot);
    }

    /// True when commands that may write are held by CLIENT PAUSE.
    #[inline]
    pub(crate) fn paused(&mut self, now_ms: i64) -> Option<crate::commands::data::PauseKind> {
        match self.data.pause {
            Some((kind, until)) if now_ms < until => Some(kind),
            Some(_) => {
                self.end_pause();
                None
            }
            None => None,
        }
    }

    /// Ends a CLIENT PAUSE and queues the held clients for processing. A shutdown waiting for
    /// replicas keeps writes paused (Redis's pause purposes: CLIENT UNPAUSE ends only its own).
    pub(crate) fn end_pause(&mut self) {
        self.data.pause = self
            .data
            .shutdown_wait
            .as_ref()
            .map(|_| (crate::commands::data::PauseKind::Write, i64::MAX));
        let pending = &mut self.data.pending_input;
        self.server.for_each_session(&mut |s| {
            if s.paused {
                s.paused = false;
                pending.push(s.slot);
            }
        });
    }

    /// Forgets a client that is going away: subscriptions, watched keys, blocked state,
    /// MONITOR, queued input.
    pub(crate) fn forget_session(&mut self, s: &mut Session) {
        crate::engine::pubsub::forget_client(self, s);
        crate::commands::tracking::forget_client(self, s);
        crate::commands::multi::unwatch_all(self, s);
        if s.blocked.is_some() {
            crate::engine::blocking::forget_client(self, s);
        }
        if s.monitor {
            self.data.monitors.retain(|&m| m != s.slot);
        }
        self.data.pending_input.retain(|&m| m != s.slot);
    }

    /// Unblocks a client that got its reply: statistics of its command (counted when it
    /// completes, as Redis does, with `usec` spent serving it), then its output is written
    /// and its queued commands run.
    pub(crate) fn finish_blocked(&mut self, c: &mut Session, usec: u64) {
        let Some(b) = self.data.blocking.detach(&mut self.data.keyspace, c) else {
            return;
        };
        if let Some(r) = crate::commands::registry().lookup(&b.argv[0]) {
            let stats = &mut self.data.cmd_stats[r.id];
            stats.record_call(usec, self.data.config.latency_tracking);
            if !c.errors.is_empty() {
                stats.failed_calls += 1;
            }
        }
        crate::commands::finish_errors(self, c);
        crate::commands::tracking::after_blocked(self, c);
        self.note_pending_write(c.slot);
        self.data.pending_input.push(c.slot);
    }

    /// Counts and announces the keys plain lookups expired (the outbox's unreported ones).
    #[cold]
    fn announce_lazily_expired(&mut self) {
        for (id, key) in self.data.keyspace.take_unreported() {
            self.data.stats.expired_keys += 1;
            self.notify(notify::EXPIRED, "expired", &key, id);
        }
    }

    /// The feed's sink (the AOF and the replication stream), borrowed beside the feed.
    #[inline]
    fn feed_parts(&mut self) -> (&mut Feed, &mut Keyspace, Sinks<'_>) {
        let d = &mut *self.data;
        let sink = Sinks {
            aof: AofFeed {
                aof: &mut d.aof,
                child: d.persist.child.as_ref(),
                timestamps: d.config.aof_timestamp_enabled,
            },
            repl: ReplFeed { buf: &mut d.repl_buf, stream: &mut d.repl_stream },
        };
        (&mut d.prop, &mut d.keyspace, sink)
    }
}

/// The feed's two consumers, each command handed to those its targets name.
pub(crate) struct Sinks<'a> {
    aof: AofFeed<'a>,
    repl: ReplFeed<'a>,
}

impl FeedSink for Sinks<'_> {
    #[inline]
    fn feed(&mut self, to: Targets, db: usize, argv: &[Vec<u8>]) {
        if to.aof {
            self.aof.feed(db, argv);
        }
        if to.replicas {
            self.repl.feed(db, argv);
        }
    }
}

impl FeedHost for Ctx<'_> {
    type Sink<'s>
        = Sinks<'s>
    where
        Self: 's;

    #[inline]
    fn feed_state(&mut self) -> &mut Feed {
        &mut self.data.prop
    }

    #[inline]
    fn feed_and_sink(&mut self) -> (&mut Feed, Sinks<'_>) {
        let (feed, _, sink) = self.feed_parts();
        (feed, sink)
    }

    #[inline]
    fn dirty(&self) -> u64 {
        self.data.dirty
    }

    /// The AOF, on or being turned on, or the replication backlog (which exists while
    /// replicas are attached, and after, for their partial resyncs).
    #[inline]
    fn has_consumer(&self) -> bool {
        self.data.aof.status != Status::Off || self.data.repl_buf.has_backlog()
    }

    /// Keys deleted by lazy expiry during the command (the keyspace outbox's expired keys).
    /// Those plain lookups deleted are first counted and announced as `Ctx::expire_if_needed`
    /// does for the rest, so no path can forget `expired_keys` or the "expired" event; then
    /// the feed turns them all into DEL. (Announcing every key before feeding any is the same
    /// output: events go to clients, DELs to the sink.)
    #[inline]
    fn flush_lazy_expired(&mut self) {
        if !self.data.keyspace.has_expired() {
            return;
        }
        self.announce_lazily_expired();
        let (feed, dbs, mut sink) = self.feed_parts();
        feed.propagate_lazily_expired(dbs, &mut sink);
    }
}

impl EvictHost for Ctx<'_> {
    fn config(&self) -> &crate::config::Config {
        &self.data.config
    }

    fn loading(&self) -> bool {
        self.data.loading.is_some()
    }

    fn evict_parts(&mut self) -> (&mut Keyspace, &mut EvictionPool) {
        (&mut self.data.keyspace, &mut self.data.eviction_pool)
    }

    fn evicted(&mut self, db: usize, key: &[u8]) {
        self.data.stats.evicted_keys += 1;
        self.data.dirty += 1;
        self.notify(notify::EVICTED, "evicted", key, db);
        crate::commands::tracking::evicted(self);
        // Replicas evict nothing themselves (replica-ignore-maxmemory) and the AOF must not
        // bring the key back: the deletion goes to both at once, as Redis's
        // propagateDeletion (UNLINK when eviction frees lazily).
        let del: &[u8] = if self.data.config.lazyfree_lazy_eviction { b"UNLINK" } else { b"DEL" };
        crate::engine::feed::propagate_now(self, db, vec![del.to_vec(), key.to_vec()]);
    }
}

impl PubSubHost for Ctx<'_> {
    fn pubsub(&mut self) -> &mut PubSub {
        &mut self.data.pubsub
    }

    fn notify_flags(&self) -> u32 {
        self.data.notify_flags
    }

    fn deliver(&mut self, slot: usize, write: impl FnOnce(&mut Session)) -> bool {
        let Some((s, written)) = self.server.session(slot) else {
            return false;
        };
        write(s);
        let pending = s.obuf.len() - written;
        crate::engine::pubsub::enforce_pubsub_limit(
            &self.data.config.client_output_buffer_limit,
            s,
            pending,
        );
        self.data.pending_writes.push(slot);
        true
    }
}

impl ExpireHost for Ctx<'_> {
    fn dbs(&mut self) -> &mut Keyspace {
        &mut self.data.keyspace
    }

    fn expired(&mut self, db: usize, key: &[u8]) {
        self.data.stats.expired_keys += 1;
        self.notify(notify::EXPIRED, "expired", key, db);
        crate::engine::feed::propagate_now(self, db, vec![b"DEL".to_vec(), key.to_vec()]);
    }
}

impl BlockingHost for Ctx<'_> {
    fn blocking(&mut self) -> &mut Blocking {
        &mut self.data.blocking
    }

    fn dbs(&mut self) -> &mut Keyspace {
        &mut self.data.keyspace
    }

    fn blocking_and_dbs(&mut self) -> (&mut Blocking, &mut Keyspace) {
        (&mut self.data.blocking, &mut self.data.keyspace)
    }

    fn now_ms(&self) -> i64 {
        self.data.now_ms
    }

    fn key_exists(&mut self, db: usize, key: &[u8]) -> bool {
        self.data.now_ms = tine_core::base::mstime();
        self.data.keyspace.lookup(db, key, self.data.now_ms).is_some()
    }

    fn serve(&mut self, db: usize, key: &[u8], w: Waiter) {
        self.server.serve(self.data, db, key, w);
    }

    fn end_wait(&mut self, slot: Option<usize>, id: u64, how: EndWait) -> bool {
        self.server.end_wait(self.data, slot, id, how)
    }
}

/// The server of a context with no other client: nothing to deliver to, no one blocked, no
/// listeners. The AOF replay runs its commands against it (Redis's client with no
/// connection), and so do the dispatcher's unit tests. CONFIG SET stages the values without
/// applying their effects (the top layer's), and SHUTDOWN is refused.
pub(crate) struct NoClients;

impl ServerOps for NoClients {
    fn session(&mut self, _slot: usize) -> Option<(&mut Session, usize)> {
        None
    }
    fn for_each_session(&mut self, _f: &mut dyn FnMut(&mut Session)) {}
    fn connected(&self) -> usize {
        1
    }
    fn clients_memory(&self) -> usize {
        0
    }
    fn client_list(
        &self,
        _running: &Session,
        _now: i64,
        _keep: &dyn Fn(&Session) -> bool,
    ) -> String {
        String::new()
    }
    fn client_info(&self, _running: &Session, _now: i64) -> String {
        String::new()
    }
    fn config_set(&mut self, data: &mut Data, pairs: &[(&str, &str)]) -> Result<(), CmdError> {
        data.config.set_many(pairs).map(|_| ()).map_err(|e| e.to_cmd_error())
    }
    fn shutdown(&mut self, _data: &mut Data, _req: ShutdownRequest) -> bool {
        false
    }
    fn serve(&mut self, _data: &mut Data, _db: usize, _key: &[u8], _w: Waiter) {}
    fn end_wait(&mut self, _d: &mut Data, _slot: Option<usize>, _id: u64, _how: EndWait) -> bool {
        false
    }
}
