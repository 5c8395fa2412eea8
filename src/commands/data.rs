//! The server's state but its client table: configuration, databases, clock, statistics and
//! command statistics, the slow log, pub/sub, blocking queues, the propagation feed, the AOF,
//! the persist child slot, latency samples, CLIENT PAUSE, MONITOR slots, the figures INFO
//! reports. The commands layer defines it so that handlers are given it (in `Ctx`) without
//! naming the top layer's `Server`, which holds it as its `data` half beside the client table
//! (connections belong to `net`, which this layer may not name), so the two halves can be
//! borrowed apart. It is also persistence's host (`PersistHost for Data`, at the end): all a
//! save, a rewrite or a child's on-exit job drives is here, the sockets a fork child must
//! close included (`client_fds`, kept by the top as clients come and go).

use crate::config::Config;
use crate::engine::stats::{CommandStats, SlowLogEntry, Stats};
use tine_core::keyspace::Keyspace;

/// CLIENT PAUSE state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PauseKind {
    /// Only commands that may write are held.
    Write,
    All,
}

/// How SHUTDOWN / SIGTERM asked the server to stop.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ShutdownRequest {
    pub(crate) nosave: bool,
    pub(crate) save: bool,
    pub(crate) now: bool,
    pub(crate) force: bool,
}

/// What a command that hands control back to the event loop while it runs
/// (`Ctx::yield_to_event_loop`) is busy with: it decides the -BUSY text other clients get, as
/// Redis tells an EVAL from an FCALL from a module command.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[allow(dead_code, reason = "no module command yields: tine has no modules")]
pub(crate) enum BusyKind {
    /// EVAL/EVALSHA (and DEBUG YIELD): "You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    Script,
    /// FCALL: "You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    Function,
    /// A module command that yields.
    Module,
}

/// The data path's state (see the module doc).
pub(crate) struct Data {
    pub(crate) config: Config,
    pub(crate) keyspace: Keyspace,
    pub(crate) stats: Stats,
    pub(crate) cmd_stats: Vec<CommandStats>,
    /// Changes since the last successful save.
    pub(crate) dirty: u64,
    /// Channels and patterns clients subscribe to.
    pub(crate) pubsub: crate::engine::pubsub::PubSub,
    /// `notify-keyspace-events` parsed (0: off).
    pub(crate) notify_flags: u32,
    /// Keys WATCHed by all clients (0 lets commands skip the touched-key collection).
    pub(crate) watched_keys: usize,
    /// The startup load in progress, if any (clients get -LOADING meanwhile).
    pub(crate) loading: Option<crate::persist::rdb_io::Loading>,
    /// Eviction candidates kept between rounds (see `evict`).
    pub(crate) eviction_pool: crate::engine::evict::EvictionPool,
    /// The time the running command started, in ms: one clock reading per command, so a
    /// command sees one consistent "now" (Redis's cmd_time_snapshot).
    pub(crate) now_ms: i64,
    /// Clients blocked on keys (BLPOP and friends): queues, deadlines, count.
    pub(crate) blocking: crate::engine::blocking::Blocking,
    /// The propagation feed's state for the running command (`crate::engine::feed`).
    pub(crate) prop: crate::engine::feed::Feed,
    /// The append-only file (`crate::persist::aof`).
    pub(crate) aof: crate::persist::aof::AofState,
    /// True while replaying the AOF: `now_ms` stays as the loader set it, so nothing expires
    /// during the replay (Redis expires nothing while loading).
    pub(crate) clock_frozen: bool,
    pub(crate) config_file: Option<std::path::PathBuf>,
    pub(crate) executable: String,
    pub(crate) next_client_id: u64,
    pub(crate) slowlog: std::collections::VecDeque<SlowLogEntry>,
    /// MIGRATE's cached connections to its targets.
    pub(crate) migrate_sockets: super::migrate::Sockets,
    pub(crate) slowlog_next_id: u64,
    /// ACL users and the ACL LOG (`engine::acl`).
    pub(crate) acl: crate::engine::acl::Acl,
    /// Slots of clients in MONITOR mode.
    pub(crate) monitors: Vec<usize>,
    /// Slots of clients with output to write before the next poll.
    pub(crate) pending_writes: Vec<usize>,
    /// Slots of clients whose buffered input must be processed again (after a pause ends,
    /// or when a read was cut short for fairness).
    pub(crate) pending_input: Vec<usize>,
    pub(crate) pause: Option<(PauseKind, i64)>,
    pub(crate) shutdown: Option<ShutdownRequest>,
    /// A shutdown waiting for its replicas to catch up (`replication::ShutdownWait`).
    pub(crate) shutdown_wait: Option<super::replication::ShutdownWait>,
    /// DEBUG PAUSE-CRON: the cron (and the shutdown a signal asked for) is held.
    pub(crate) cron_paused: bool,
    /// A SHUTDOWN command completed its preparation: the event loop returns.
    pub(crate) exit_requested: bool,
    /// Set while a command lets the event loop serve other clients in the middle of its run
    /// (`Ctx::yield_to_event_loop`): they get -BUSY unless their command is flagged
    /// `allow_busy`, and none of them can yield in turn.
    pub(crate) busy: Option<BusyKind>,
    pub(crate) lastsave: i64,
    pub(crate) start_time: std::time::Instant,
    pub(crate) run_id: String,
    /// The replication identity and offset (INFO replication, ROLE, PSYNC).
    pub(crate) repl: crate::repl::state::ReplState,
    /// The replication stream: backlog and replicas' output, and `master_repl_offset`.
    pub(crate) repl_buf: crate::repl::buffer::ReplBuffer,
    /// What replays AOF commands (the top layer's `app::aof_replay`), for DEBUG LOADAOF;
    /// `None` where there is none (the AOF replay's own data half, tests).
    pub(crate) aof_executor: Option<crate::persist::aof::loader::ExecutorFactory>,
    /// The replication stream's own state: its selected db (`crate::repl::feed`).
    pub(crate) repl_stream: crate::repl::feed::ReplStream,
    /// The primary side: replicas' links, full syncs, WAIT (`crate::repl::primary`).
    pub(crate) primary: crate::repl::primary::Primary,
    /// The replica side: the primary this node follows, the link's state, the cached master
    /// (`crate::repl::replica`).
    pub(crate) replica: crate::repl::replica::Replica,
    pub(crate) hz: i64,
    pub(crate) cronloops: u64,
    /// The listening port actually bound (for INFO and the log).
    pub(crate) tcp_port: u16,
    pub(crate) debug_active_expire: bool,
    /// Peak of used_memory.
    pub(crate) peak_memory: u64,
    /// used_memory when the server was ready, before loading data (Redis's
    /// initial_memory_usage): INFO's used_memory_startup, MEMORY STATS' startup.allocated.
    pub(crate) startup_memory: u64,
    /// Largest recent query and output buffers, for INFO clients.
    pub(crate) recent_max_input: usize,
    pub(crate) recent_max_output: usize,
    /// Set when CONFIG SET changed bind/port: the event loop rebinds.
    pub(crate) rebind_requested: bool,
    /// Set when CONFIG SET lowered `maxmemory`: CONFIG SET evicts before it replies.
    pub(crate) evict_requested: bool,
    /// Listening sockets' descriptors (a fork child closes them first thing).
    pub(crate) listener_fds: Vec<i32>,
    /// LATENCY's samples (`latency-monitor-threshold`).
    pub(crate) latency: crate::engine::latency::LatencyMonitor,
    /// Snapshot and child-process state.
    pub(crate) persist: crate::persist::snapshot::PersistState<Data>,
    /// The sockets of connected clients by slot, which a fork child closes (the client table
    /// itself is the top layer's).
    pub(crate) client_fds: Vec<(usize, std::os::fd::RawFd)>,
    /// EVAL's Lua VM, script cache and running script (`commands::scripting`).
    pub(crate) scripting: crate::commands::scripting::Scripting,
    /// Client-side caching: the tracking and prefix tables (`commands::tracking`).
    pub(crate) tracking: crate::engine::tracking::Tracking,
}

impl Data {
    pub(crate) fn new(mut config: Config) -> Data {
        // As Redis, which stores the clamped value: CONFIG GET hz and INFO show it.
        config.hz = config.hz.clamp(1, 500);
        let notify_flags = config.notify_keyspace_events.bits();
        let mut dbs = Keyspace::new(config.databases.max(1) as usize);
        dbs.track_created(notify_flags & crate::config::custom::notify::NEW != 0);
        dbs.set_lazy_policy(config.lazy_policy());
        dbs.lazyfree().set_after_free(|flushed| {
            crate::engine::memory::flush_thread_cache();
            if flushed {
                crate::engine::memory::purge();
            }
        });
        let hz = config.hz;
        let repl_buf = crate::repl::buffer::ReplBuffer::new(config.repl_backlog_size);
        let now = tine_core::base::unix_time();
        Data {
            config,
            keyspace: dbs,
            dirty: 0,
            now_ms: tine_core::base::mstime(),
            clock_frozen: false,
            stats: Stats::default(),
            cmd_stats: crate::commands::new_stats(),
            pubsub: Default::default(),
            notify_flags,
            watched_keys: 0,
            blocking: Default::default(),
            prop: Default::default(),
            aof: Default::default(),
            loading: None,
            eviction_pool: Default::default(),
            hz,
            config_file: None,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            next_client_id: 1,
            slowlog: Default::default(),
            migrate_sockets: Default::default(),
            slowlog_next_id: 0,
            acl: crate::engine::acl::Acl::new(super::registry().all.len()),
            monitors: Vec::new(),
            pending_writes: Vec::new(),
            pending_input: Vec::new(),
            pause: None,
            shutdown: None,
            shutdown_wait: None,
            cron_paused: false,
            exit_requested: false,
            busy: None,
            lastsave: now,
            start_time: std::time::Instant::now(),
            run_id: tine_core::base::random_hex(40),
            repl: Default::default(),
            repl_buf,
            repl_stream: Default::default(),
            aof_executor: None,
            primary: crate::repl::primary::Primary { no_replicas_since: now, ..Default::default() },
            replica: Default::default(),
            cronloops: 0,
            tcp_port: 0,
            debug_active_expire: true,
            peak_memory: 0,
            startup_memory: 0,
            recent_max_input: 0,
            recent_max_output: 0,
            rebind_requested: false,
            evict_requested: false,
            listener_fds: Vec::new(),
            persist: Default::default(),
            latency: Default::default(),
            client_fds: Vec::new(),
            scripting: Default::default(),
            tracking: Default::default(),
        }
    }
}

/// Persistence's host is the data half: everything a save, a rewrite or a child's on-exit
/// job drives lives here, so the persist commands need nothing of the top layer.
impl crate::persist::PersistHost for Data {
    fn parts(&mut self) -> crate::persist::Parts<'_, Self> {
        crate::persist::Parts {
            config: &self.config,
            dbs: &mut self.keyspace,
            state: &mut self.persist,
            aof: &mut self.aof,
            loading: &mut self.loading,
            dirty: &mut self.dirty,
            lastsave: &mut self.lastsave,
            latency: &mut self.latency,
        }
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn persist_state(&self) -> &crate::persist::snapshot::PersistState<Self> {
        &self.persist
    }

    fn aof_state(&self) -> &crate::persist::aof::AofState {
        &self.aof
    }

    /// Listeners and client sockets, the client running the command that forks included.
    fn child_fds(&self) -> Vec<std::os::fd::RawFd> {
        let mut fds: Vec<std::os::fd::RawFd> = self.listener_fds.clone();
        fds.extend(self.client_fds.iter().map(|&(_, fd)| fd));
        fds
    }

    /// The aux fields of a primary with a backlog (Redis's rdbPopulateSaveInfo).
    /// As Redis's rdbPopulateSaveInfo: on a replica, the db its primary's stream has
    /// selected (a sub-replica loading this RDB continues that stream); on a primary, the
    /// db its own stream last selected.
    fn repl_info(&self) -> Option<tine_core::rdb::ReplInfo> {
        let seldb = if self.replica.is_replica() {
            Some(self.replica.stream_db)
        } else {
            self.repl_stream.seldb
        };
        crate::repl::primary::save_info(&self.repl_buf, &self.repl, seldb)
    }

    fn function_codes(&self) -> Vec<Vec<u8>> {
        self.scripting.functions.codes()
    }

    fn load_functions(
        &mut self,
        codes: &[Vec<u8>],
        flush: bool,
        merge: bool,
    ) -> Result<(), String> {
        crate::commands::scripting::function::load_from_persistence(self, codes, flush, merge)
    }
}

/// The replication layer's host: persistence's, plus the primary's state.
impl crate::repl::primary::ReplHost for Data {
    fn primary(&mut self) -> &mut crate::repl::primary::Primary {
        &mut self.primary
    }
}
