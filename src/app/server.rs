//! The server aggregate: the data half (`commands::Data`: configuration, databases,
//! statistics, persistence...) beside the client table (`Clients`, connections and sessions),
//! and the housekeeping that runs on every cron tick. The event loop (`app::event_loop`)
//! drives it; commands run against a context built from it (`Server::ctx`: the data half and
//! the client table as `commands::ServerOps`). It holds no socket handles of its own besides
//! the clients' — listeners and the poller belong to the event loop.
//!
//! `Server` is two borrows, not two owned fields: startup owns the halves, and a command that
//! hands control back to the event loop (`ServerOps::process_events_while_blocked`) holds the
//! data half in its context, so the loop then runs on a `Server` built from that borrow and
//! the client table.

use crate::app::client::{Client, ConnFigures};
pub(crate) use crate::commands::data::{Data, PauseKind, ShutdownRequest};
use crate::config::Config;

/// The clients (connection and session, `app::client::Client`), indexed by slot (the mio
/// token). The client whose command is running is taken out of its slot for the duration, so
/// a command holds the server and its `&mut Session` at once. The sockets a fork child must
/// close are kept apart, in `Data::client_fds` (see `Server::add_client`), so that persistence
/// finds them in the data half, the running client's included.
#[derive(Default)]
pub(crate) struct Clients {
    slots: Vec<Option<Box<Client>>>,
    free: Vec<usize>,
    count: usize,
    /// The connection figures of the client whose command is running (out of its slot),
    /// recorded by the event loop before each command, for CLIENT LIST and CLIENT INFO.
    pub(crate) running: ConnFigures,
}

impl Clients {
    /// Reserves a slot for a new client.
    pub(crate) fn vacant_slot(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        })
    }
    pub(crate) fn insert(&mut self, c: Box<Client>) {
        let slot = c.session.slot;
        debug_assert!(self.slots[slot].is_none());
        self.slots[slot] = Some(c);
        self.count += 1;
    }
    /// Removes a client for good, freeing its slot.
    pub(crate) fn remove(&mut self, slot: usize) -> Option<Box<Client>> {
        let c = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        self.count -= 1;
        Some(c)
    }
    /// Takes a client out to run its commands; `put_back` returns it.
    pub(crate) fn take(&mut self, slot: usize) -> Option<Box<Client>> {
        self.slots.get_mut(slot)?.take()
    }
    pub(crate) fn put_back(&mut self, c: Box<Client>) {
        let slot = c.session.slot;
        self.slots[slot] = Some(c);
    }
    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut Client> {
        self.slots.get_mut(slot)?.as_deref_mut()
    }
    /// Connected clients, the one currently taken out included.
    pub(crate) fn len(&self) -> usize {
        self.count
    }
    /// The clients in their slots (not the one taken out).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Client> {
        self.slots.iter().filter_map(|s| s.as_deref())
    }
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Client> {
        self.slots.iter_mut().filter_map(|s| s.as_deref_mut())
    }
}

/// The whole server state (see the module doc).
pub(crate) struct Server<'a> {
    /// The data path: what commands change (`commands::Data`).
    pub(crate) data: &'a mut Data,
    pub(crate) clients: &'a mut Clients,
}

/// The data half of a new server; its LRU/LFU clock starts now.
pub(crate) fn new_data(config: Config) -> Data {
    tine_core::types::access::update(
        tine_core::base::mstime(),
        config.maxmemory_policy.is_lfu(),
        config.lfu_log_factor,
        config.lfu_decay_time,
    );
    let mut data = Data::new(config);
    data.aof_executor = Some(crate::app::aof_replay::new_executor);
    data
}

impl Server<'_> {
    /// Adds a connected client to the table, and its socket to those a fork child closes
    /// (`Data::client_fds`).
    pub(crate) fn add_client(&mut self, c: Box<Client>) {
        self.data.client_fds.push((c.session.slot, c.conn.stream.raw_fd()));
        self.clients.insert(c);
    }

    /// Removes a client for good (see `Clients::remove`), and its socket from `client_fds`.
    pub(crate) fn remove_client(&mut self, slot: usize) -> Option<Box<Client>> {
        let c = self.clients.remove(slot)?;
        self.data.client_fds.retain(|&(s, _)| s != slot);
        Some(c)
    }

    /// The command context over this server: the data half and the client table as
    /// `ServerOps` (two borrows, no allocation).
    #[inline]
    pub(crate) fn ctx(&mut self) -> crate::commands::Ctx<'_> {
        crate::commands::Ctx::new(self.data, self.clients)
    }

    /// Marks a client as having output to write before the next poll.
    pub(crate) fn note_pending_write(&mut self, slot: usize) {
        self.data.pending_writes.push(slot);
    }

    /// True when commands that may write are held by CLIENT PAUSE (`Ctx::paused`).
    pub(crate) fn paused(&mut self, now_ms: i64) -> Option<PauseKind> {
        self.ctx().paused(now_ms)
    }

    /// Effective hz for this tick (dynamic-hz raises it with many clients, as Redis does).
    pub(crate) fn effective_hz(&self) -> i64 {
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

    /// Forgets a client that is going away: subscriptions, watched keys, MONITOR.
    pub(crate) fn forget_client(&mut self, c: &mut Client) {
        self.ctx().forget_session(&mut c.session);
    }
}

/// Server housekeeping on every cron tick: memory peak, hz, incremental rehashing.
pub(crate) fn cron(srv: &mut Server<'_>, now_ms: i64) {
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
        for db in 0..srv.data.keyspace.len() {
            srv.data.keyspace.rehash_for(db, std::time::Duration::from_millis(1));
        }
    }
    if srv.data.cronloops % 10 == 0 {
        srv.data.keyspace.shrink_if_sparse();
        // MIGRATE's connections unused for 10 s are closed (Redis: once a second).
        srv.data.migrate_sockets.close_idle(tine_core::base::unix_time());
    }
    // What the keyspace dropped while a fork child lived is freed once it is gone, a
    // millisecond a tick (issue 15: frees of shared memory copy pages).
    if srv.data.keyspace.has_deferred() {
        srv.data.keyspace.release_deferred(std::time::Duration::from_millis(1));
    }
    // A replica expires nothing itself: its primary's DELs do (Redis's activeExpireCycle runs
    // on masters only). Keys a writable replica gave a TTL itself are not tracked apart as
    // Redis 7.0's slaveKeysWithExpire: they expire when read-written or by the primary.
    if srv.data.debug_active_expire && !srv.data.replica.is_replica() {
        let (effort, hz) = (srv.data.config.active_expire_effort, srv.data.hz);
        let started = std::time::Instant::now();
        crate::engine::expire::active_expire_cycle(&mut srv.ctx(), effort, hz, now_ms);
        // As Redis: a slow cycle (a big key freed) is an `expire-cycle` latency event.
        let ms = started.elapsed().as_millis() as u64;
        let threshold = srv.data.config.latency_monitor_threshold;
        srv.data.latency.add_if_needed(threshold, "expire-cycle", ms, now_ms / 1000);
    }
    crate::persist::snapshot::cron(srv.data, now_ms / 1000);
    if crate::persist::aof::cron(srv.data, now_ms / 1000).is_err() {
        crate::app::shutdown::exit_on_aof_fatal(srv.data);
    }
}
