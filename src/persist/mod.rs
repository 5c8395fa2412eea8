//! Persistence drivers: RDB snapshots as the server drives them (`snapshot`: SAVE, BGSAVE, save
//! points, MISCONF), the single fork-child slot and its on-exit dispatch by child kind
//! (`child_slot`), the glue between the server and the RDB codec of `tine_core::rdb`
//! (`rdb_io`: writer options, child progress, startup loading), and the append-only file
//! (`aof`). Forking itself is `crate::fork`'s.
//!
//! This layer never names the server aggregate: it reaches the state it drives through
//! [`PersistHost`], a trait it defines and the server's data half (`commands::Data`)
//! implements. The host hands out split borrows of the pieces ([`Parts`]) so a driver can
//! change, say, the AOF state and the dirty counter at once, and answers the one question persist cannot answer itself: which
//! descriptors (listeners, client sockets, owned by `net`) a fork child must close.

pub(crate) mod aof;
pub(crate) mod child_slot;
pub(crate) mod orphans;
pub(crate) mod rdb_io;
pub(crate) mod snapshot;

use std::os::fd::RawFd;

use crate::config::Config;
use crate::engine::latency::LatencyMonitor;
use aof::AofState;
use rdb_io::Loading;
use snapshot::PersistState;
use tine_core::keyspace::Keyspace;

/// What persistence needs of the server, implemented by `commands::Data`. `Sized +
/// 'static` because the child slot stores on-exit jobs typed by their host.
pub(crate) trait PersistHost: Sized + 'static {
    /// Mutable borrows of every piece persistence drives, split so that they can be used
    /// together.
    fn parts(&mut self) -> Parts<'_, Self>;
    /// The configuration in force.
    fn config(&self) -> &Config;
    /// Snapshot figures and the child slot.
    fn persist_state(&self) -> &PersistState<Self>;
    /// The AOF.
    fn aof_state(&self) -> &AofState;
    /// The descriptors a fork child must close: listening sockets and every client socket
    /// (the client running the command that forks included). They belong to `net`, which
    /// persistence cannot name.
    fn child_fds(&self) -> Vec<RawFd>;
    /// The replication state a snapshot saves as aux fields (repl-stream-db, repl-id,
    /// repl-offset), as Redis's rdbPopulateSaveInfo: None when there is no history to
    /// continue (the replication layer above answers).
    fn repl_info(&self) -> Option<tine_core::rdb::ReplInfo> {
        None
    }
    /// The function libraries' code, one entry per library, as an RDB (FUNCTION2) or an AOF
    /// base (FUNCTION LOAD) holds them. Taken by the parent before a fork, so the child only
    /// writes bytes (the script engine is the commands layer's, which persistence cannot
    /// name).
    fn function_codes(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
    /// Loads libraries read from an RDB or an AOF into the function engine, all or none:
    /// `flush` drops the existing ones first, else `merge` lets a loaded library replace the
    /// one of the same name (DEBUG RELOAD MERGE) and without it that is an error. `Err` is the
    /// reason, in Redis's words.
    fn load_functions(
        &mut self,
        codes: &[Vec<u8>],
        flush: bool,
        merge: bool,
    ) -> Result<(), String> {
        let _ = (codes, flush, merge);
        Ok(())
    }
}

/// Split mutable borrows of the server state persistence drives (see [`PersistHost::parts`]).
pub(crate) struct Parts<'a, H> {
    pub(crate) config: &'a Config,
    pub(crate) dbs: &'a mut Keyspace,
    pub(crate) state: &'a mut PersistState<H>,
    pub(crate) aof: &'a mut AofState,
    /// The startup load in progress, if any.
    pub(crate) loading: &'a mut Option<Loading>,
    /// Changes since the last successful save.
    pub(crate) dirty: &'a mut u64,
    /// Unix time of the last successful save (LASTSAVE).
    pub(crate) lastsave: &'a mut i64,
    /// The latency monitor, which records how long each fork stalled the parent.
    pub(crate) latency: &'a mut LatencyMonitor,
}

/// An in-memory host for unit tests of the drivers: the pieces persistence drives, and no
/// server around them.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub(crate) struct FakeHost {
        pub(crate) config: Config,
        pub(crate) dbs: Keyspace,
        pub(crate) state: PersistState<FakeHost>,
        pub(crate) aof: AofState,
        pub(crate) loading: Option<Loading>,
        pub(crate) dirty: u64,
        pub(crate) lastsave: i64,
        pub(crate) latency: LatencyMonitor,
        /// What test child jobs saw, in order.
        pub(crate) events: Vec<String>,
    }

    impl FakeHost {
        pub(crate) fn new() -> FakeHost {
            let config = Config::default();
            let dbs = Keyspace::new(config.databases.max(1) as usize);
            FakeHost {
                config,
                dbs,
                state: PersistState::default(),
                aof: AofState::default(),
                loading: None,
                dirty: 0,
                lastsave: 0,
                latency: LatencyMonitor::default(),
                events: Vec::new(),
            }
        }
    }

    impl PersistHost for FakeHost {
        fn parts(&mut self) -> Parts<'_, Self> {
            Parts {
                config: &self.config,
                dbs: &mut self.dbs,
                state: &mut self.state,
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
        fn persist_state(&self) -> &PersistState<Self> {
            &self.state
        }
        fn aof_state(&self) -> &AofState {
            &self.aof
        }
        fn child_fds(&self) -> Vec<RawFd> {
            Vec::new()
        }
    }
}
