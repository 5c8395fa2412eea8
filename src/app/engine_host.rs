//! The server aggregate as the host of the engine's subsystems: the traits engine defines for
//! what a subsystem needs from above (`engine::feed::FeedHost`, ...) are implemented here, so
//! engine never names `Server` and `server.rs` stays the plain aggregate.

use crate::app::server::Server;
use crate::engine::expire::ExpireHost;
use crate::engine::feed::{Feed, FeedHost};
use crate::persist::aof::{AofFeed, Status};
use tine_core::keyspace::Db;

impl FeedHost for Server {
    type Sink<'a> = AofFeed<'a>;

    #[inline]
    fn feed_state(&mut self) -> &mut Feed {
        &mut self.prop
    }

    #[inline]
    fn feed_and_sink(&mut self) -> (&mut Feed, AofFeed<'_>) {
        let sink = AofFeed {
            aof: &mut self.aof,
            child: self.persist.child.as_ref(),
            timestamps: self.config.aof_timestamp_enabled,
        };
        (&mut self.prop, sink)
    }

    #[inline]
    fn dirty(&self) -> u64 {
        self.dirty
    }

    /// The AOF, on or being turned on (replicas will be the next consumer).
    #[inline]
    fn has_consumer(&self) -> bool {
        self.aof.status != Status::Off
    }

    /// Keys deleted by lazy expiry during the command (found by lookups in `Db`). Those a
    /// database's own lookups deleted are first counted and announced as
    /// `Server::expire_if_needed` does for the rest, so no path can forget `expired_keys` or
    /// the "expired" event; then the feed turns them all into DEL. (Announcing every db's keys
    /// before feeding any is the same output: events go to clients, DELs to the sink.)
    #[inline]
    fn flush_lazy_expired(&mut self) {
        if !tine_core::keyspace::take_lazily_expired() {
            return;
        }
        self.announce_lazily_expired();
        let mut sink = AofFeed {
            aof: &mut self.aof,
            child: self.persist.child.as_ref(),
            timestamps: self.config.aof_timestamp_enabled,
        };
        self.prop.propagate_lazily_expired(&mut self.dbs, &mut sink);
    }
}

impl ExpireHost for Server {
    fn dbs(&mut self) -> &mut [Db] {
        &mut self.dbs
    }

    fn expired(&mut self, db: usize, key: &[u8]) {
        self.stats.expired_keys += 1;
        self.notify(crate::config::custom::notify::EXPIRED, "expired", key, db);
        crate::engine::feed::propagate_now(self, db, vec![b"DEL".to_vec(), key.to_vec()]);
    }
}

impl Server {
    /// Counts and announces the keys a database's own lookups expired (`expired_unreported`)
    /// in the databases that have lazily expired keys to feed.
    #[cold]
    fn announce_lazily_expired(&mut self) {
        for id in 0..self.dbs.len() {
            if self.dbs[id].lazily_expired.is_empty() {
                continue;
            }
            for key in std::mem::take(&mut self.dbs[id].expired_unreported) {
                self.stats.expired_keys += 1;
                self.notify(crate::config::custom::notify::EXPIRED, "expired", &key, id);
            }
        }
    }
}
