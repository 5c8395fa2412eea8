//! The server's state: configuration, databases, clients, statistics and the housekeeping
//! that runs on every cron tick. The event loop (`app::event_loop`) drives it; commands
//! (`commands`) read and change it; the engine's subsystems reach it through the host traits
//! implemented in `app::engine_host`. It holds no socket handles of its own besides the clients' — listeners and
//! the poller belong to the event loop.

use crate::app::client::{Client, ConnFigures};
pub use crate::commands::data::{
    Data, PauseKind, ShutdownRequest, SlowLogEntry, Stats, random_hex,
};
use crate::config::Config;

/// The clients (connection and session, `app::client::Client`), indexed by slot (the mio
/// token). The client whose command is running is taken out of its slot for the duration, so
/// a command holds the server and its `&mut Session` at once. The sockets a fork child must
/// close are kept apart, in `Data::client_fds` (see `Server::add_client`), so that persistence
/// finds them in the data half, the running client's included.
#[derive(Default)]
pub struct Clients {
    slots: Vec<Option<Box<Client>>>,
    free: Vec<usize>,
    count: usize,
    /// The connection figures of the client whose command is running (out of its slot),
    /// recorded by the event loop before each command, for CLIENT LIST and CLIENT INFO.
    pub(crate) running: ConnFigures,
}

impl Clients {
    /// Reserves a slot for a new client.
    pub fn vacant_slot(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        })
    }
    pub fn insert(&mut self, c: Box<Client>) {
        let slot = c.session.slot;
        debug_assert!(self.slots[slot].is_none());
        self.slots[slot] = Some(c);
        self.count += 1;
    }
    /// Removes a client for good, freeing its slot.
    pub fn remove(&mut self, slot: usize) -> Option<Box<Client>> {
        let c = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        self.count -= 1;
        Some(c)
    }
    /// Takes a client out to run its commands; `put_back` returns it.
    pub fn take(&mut self, slot: usize) -> Option<Box<Client>> {
        self.slots.get_mut(slot)?.take()
    }
    pub fn put_back(&mut self, c: Box<Client>) {
        let slot = c.session.slot;
        self.slots[slot] = Some(c);
    }
    pub fn get_mut(&mut self, slot: usize) -> Option<&mut Client> {
        self.slots.get_mut(slot)?.as_deref_mut()
    }
    /// Connected clients, the one currently taken out included.
    pub fn len(&self) -> usize {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The clients in their slots (not the one taken out).
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.slots.iter().filter_map(|s| s.as_deref())
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Client> {
        self.slots.iter_mut().filter_map(|s| s.as_deref_mut())
    }
}

/// The whole server state.
pub struct Server {
    /// The data path: what commands change (`commands::Data`).
    pub data: Data,
    pub clients: Clients,
}

impl Server {
    pub fn new(config: Config) -> Server {
        tine_core::types::access::update(
            tine_core::base::mstime(),
            config.maxmemory_policy.is_lfu(),
            config.lfu_log_factor,
            config.lfu_decay_time,
        );
        Server { data: Data::new(config), clients: Clients::default() }
    }

    /// Adds a connected client to the table, and its socket to those a fork child closes
    /// (`Data::client_fds`).
    pub fn add_client(&mut self, c: Box<Client>) {
        self.data.client_fds.push((c.session.slot, c.conn.stream.raw_fd()));
        self.clients.insert(c);
    }

    /// Removes a client for good (see `Clients::remove`), and its socket from `client_fds`.
    pub fn remove_client(&mut self, slot: usize) -> Option<Box<Client>> {
        let c = self.clients.remove(slot)?;
        self.data.client_fds.retain(|&(s, _)| s != slot);
        Some(c)
    }

    /// Marks a client as having output to write before the next poll.
    pub fn note_pending_write(&mut self, slot: usize) {
        self.data.pending_writes.push(slot);
    }

    /// True when commands that may write are held by CLIENT PAUSE.
    pub fn paused(&mut self, now_ms: i64) -> Option<PauseKind> {
        match self.data.pause {
            Some((kind, until)) if now_ms < until => Some(kind),
            Some(_) => {
                self.end_pause();
                None
            }
            None => None,
        }
    }

    /// Ends a CLIENT PAUSE and queues the held clients for processing.
    pub fn end_pause(&mut self) {
        self.data.pause = None;
        for c in self.clients.iter_mut() {
            if c.session.paused {
                c.session.paused = false;
                self.data.pending_input.push(c.session.slot);
            }
        }
    }

    /// Effective hz for this tick (dynamic-hz raises it with many clients, as Redis does).
    pub fn effective_hz(&self) -> i64 {
        let mut hz = self.data.config.hz.clamp(1, 500);
        if self.data.config.dynamic_hz {
            let mut clients = self.clients.len() as i64;
            while clients / hz > 200 && hz < 500 {
                hz *= 2;
                clients /= 2;
            }
            hz = hz.min(500);
        }
        hz
    }

    /// Looks a key up for a read command (Redis's lookupKeyRead): expires it if due, counts a
    /// keyspace hit or miss, publishes "keymiss" on a miss, records the access (LRU/LFU).
    pub fn lookup_read(&mut self, db: usize, key: &[u8]) -> Option<&tine_core::keyspace::Value> {
        if self.read_miss_announced(db, key, true) {
            return None;
        }
        let v = self.data.dbs[db].get_accessed(key);
        self.data.stats.count_lookup(v.is_some());
        v
    }

    /// A read that is not an access (Redis's LOOKUP_NOTOUCH: EXISTS, TYPE, TTL...): counted
    /// and announced like `lookup_read`, but the key's LRU/LFU data is left alone. With
    /// `notify_miss` false a miss is not announced (LOOKUP_NONOTIFY: OBJECT).
    pub fn lookup_read_notouch(
        &mut self,
        db: usize,
        key: &[u8],
        notify_miss: bool,
    ) -> Option<&tine_core::keyspace::Value> {
        if self.read_miss_announced(db, key, notify_miss) {
            return None;
        }
        let v = self.data.dbs[db].peek(key);
        self.data.stats.count_lookup(v.is_some());
        v
    }

    /// The start of a read lookup: lazy expiry, then, only when someone listens for "keymiss"
    /// events, a first look so that a miss can be counted and announced (after the "expired"
    /// event, as Redis orders them) before the caller borrows the value. True when it did;
    /// otherwise the caller looks up once and counts.
    fn read_miss_announced(&mut self, db: usize, key: &[u8], notify_miss: bool) -> bool {
        self.expire_if_needed(db, key);
        let listening = self.data.notify_flags & crate::config::custom::notify::KEY_MISS != 0;
        if !(notify_miss && listening) || self.data.dbs[db].peek(key).is_some() {
            return false;
        }
        self.data.stats.count_lookup(false);
        self.notify(crate::config::custom::notify::KEY_MISS, "keymiss", key, db);
        true
    }

    /// Looks a key up (expiring it if due) without counting hits or misses: the reads of
    /// commands that write (Redis's lookupKeyWrite: SET NX, INCR, MOVE...).
    pub fn lookup_read_nostats(
        &mut self,
        db: usize,
        key: &[u8],
    ) -> Option<&tine_core::keyspace::Value> {
        self.expire_if_needed(db, key);
        self.data.dbs[db].peek(key)
    }

    /// Deletes `key` if its time has passed: counts it and publishes the "expired" event.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        if self.data.dbs[db].expire_if_needed(key, self.data.now_ms) {
            self.data.stats.expired_keys += 1;
            self.notify(crate::config::custom::notify::EXPIRED, "expired", key, db);
            true
        } else {
            false
        }
    }

    /// Looks a key up for writing (expiring it if due).
    pub fn lookup_write(
        &mut self,
        db: usize,
        key: &[u8],
    ) -> Option<&mut tine_core::keyspace::Value> {
        self.expire_if_needed(db, key);
        self.data.dbs[db].get_mut(key, self.data.now_ms)
    }

    /// Tells the keyspace whether a fork child exists: while one does, tables do not resize
    /// all at once (copy-on-write discipline).
    pub fn set_fork_active(&mut self, active: bool) {
        for db in self.data.dbs.iter_mut() {
            db.set_fork_active(active);
        }
    }

    /// Publishes a keyspace notification (see `pubsub::notify`).
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        if self.data.notify_flags != 0 {
            crate::engine::pubsub::notify(self, class, event, key, db);
        }
    }

    /// Forgets a client that is going away: subscriptions, watched keys, MONITOR.
    pub fn forget_client(&mut self, c: &mut Client) {
        crate::engine::pubsub::forget_client(self, &c.session);
        crate::commands::multi::unwatch_all(self, &mut c.session);
        if c.session.blocked.is_some() {
            crate::engine::blocking::forget_client(self, &mut c.session);
        }
        if c.session.monitor {
            self.data.monitors.retain(|&s| s != c.session.slot);
        }
        self.data.pending_input.retain(|&s| s != c.session.slot);
    }

    /// The running command propagates `argv` instead of its own arguments
    /// (`Feed::propagate_as`; kept here so command handlers need not change).
    pub fn propagate_as(&mut self, argv: Vec<Vec<u8>>) {
        self.data.prop.propagate_as(argv);
    }

    /// The running command propagates these commands (in its db) instead of its own.
    pub fn propagate_many(&mut self, ops: Vec<Vec<Vec<u8>>>) {
        self.data.prop.propagate_many(ops);
    }

    /// The running command propagates nothing even though it changed the dataset.
    pub fn propagate_none(&mut self) {
        self.data.prop.propagate_none();
    }

    /// Adds a command to the current unit, before the running command's own.
    pub fn also_propagate(&mut self, db: usize, argv: Vec<Vec<u8>>) {
        self.data.prop.also_propagate(db, argv);
    }

    /// Total keys in all databases.
    pub fn total_keys(&self) -> usize {
        self.data.dbs.iter().map(|d| d.len()).sum()
    }
}

/// Server housekeeping on every cron tick: memory peak, hz, incremental rehashing.
pub fn cron(srv: &mut Server, now_ms: i64) {
    srv.data.now_ms = now_ms;
    tine_core::types::access::update(
        now_ms,
        srv.data.config.maxmemory_policy.is_lfu(),
        srv.data.config.lfu_log_factor,
        srv.data.config.lfu_decay_time,
    );
    srv.data.hz = srv.effective_hz();
    if srv.data.cronloops % 10 == 0 {
        let m = crate::engine::memory::memory_figures();
        srv.data.peak_memory = srv.data.peak_memory.max(m.allocated);
    }
    if srv.data.config.activerehashing {
        for db in srv.data.dbs.iter_mut() {
            db.rehash_for(std::time::Duration::from_millis(1));
        }
    }
    if srv.data.cronloops % 10 == 0 {
        for db in srv.data.dbs.iter_mut() {
            db.shrink_if_sparse();
        }
    }
    if srv.data.debug_active_expire {
        let (effort, hz) = (srv.data.config.active_expire_effort, srv.data.hz);
        crate::engine::expire::active_expire_cycle(srv, effort, hz, now_ms);
    }
    crate::persist::snapshot::cron(&mut srv.data, now_ms / 1000);
    if crate::persist::aof::cron(&mut srv.data, now_ms / 1000).is_err() {
        crate::app::shutdown::exit_on_aof_fatal(srv);
    }
}
