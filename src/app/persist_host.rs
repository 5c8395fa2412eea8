//! The server aggregate as persistence's host: `persist` defines what it needs of the server
//! (`persist::PersistHost`) and this file answers it, so the persist layer never names
//! `Server`. Kept apart from `server.rs` so that the aggregate's file stays about the
//! aggregate.

use std::os::fd::RawFd;

use crate::app::server::Server;
use crate::config::Config;
use crate::persist::aof::AofState;
use crate::persist::snapshot::PersistState;
use crate::persist::{Parts, PersistHost};
use tine_core::keyspace::Db;

impl PersistHost for Server {
    fn parts(&mut self) -> Parts<'_, Self> {
        Parts {
            config: &self.data.config,
            dbs: &mut self.data.dbs,
            state: &mut self.persist,
            aof: &mut self.data.aof,
            loading: &mut self.data.loading,
            dirty: &mut self.data.dirty,
            lastsave: &mut self.lastsave,
            latency: &mut self.latency,
        }
    }

    fn config(&self) -> &Config {
        &self.data.config
    }

    fn dbs(&self) -> &[Db] {
        &self.data.dbs
    }

    fn persist_state(&self) -> &PersistState<Self> {
        &self.persist
    }

    fn aof_state(&self) -> &AofState {
        &self.data.aof
    }

    /// Listeners and client sockets, the client running the command that forks included.
    fn child_fds(&self) -> Vec<RawFd> {
        let mut fds: Vec<RawFd> = self.listener_fds.clone();
        fds.extend(self.clients.raw_fds());
        fds
    }
}
