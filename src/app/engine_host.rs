//! The server aggregate as the host of the engine's subsystems: the traits engine defines for
//! what a subsystem needs from above (`engine::feed::FeedHost`, ...) are implemented here, so
//! engine never names `Server` and `server.rs` stays the plain aggregate.

use crate::app::server::Server;
use std::time::Instant;

use crate::engine::blocking::{Blocking, BlockingHost, EndWait, Served, Waiter};
use crate::engine::evict::{EvictHost, EvictionPool};
use crate::engine::expire::ExpireHost;
use crate::engine::feed::{Feed, FeedHost};
use crate::engine::pubsub::{PubSub, PubSubHost};
use crate::engine::session::Session;
use crate::persist::aof::{AofFeed, Status};
use tine_core::keyspace::Db;

impl FeedHost for Server {
    type Sink<'a> = AofFeed<'a>;

    #[inline]
    fn feed_state(&mut self) -> &mut Feed {
        &mut self.data.prop
    }

    #[inline]
    fn feed_and_sink(&mut self) -> (&mut Feed, AofFeed<'_>) {
        let sink = AofFeed {
            aof: &mut self.data.aof,
            child: self.data.persist.child.as_ref(),
            timestamps: self.data.config.aof_timestamp_enabled,
        };
        (&mut self.data.prop, sink)
    }

    #[inline]
    fn dirty(&self) -> u64 {
        self.data.dirty
    }

    /// The AOF, on or being turned on (replicas will be the next consumer).
    #[inline]
    fn has_consumer(&self) -> bool {
        self.data.aof.status != Status::Off
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
            aof: &mut self.data.aof,
            child: self.data.persist.child.as_ref(),
            timestamps: self.data.config.aof_timestamp_enabled,
        };
        self.data.prop.propagate_lazily_expired(&mut self.data.dbs, &mut sink);
    }
}

impl EvictHost for Server {
    fn config(&self) -> &crate::config::Config {
        &self.data.config
    }

    fn loading(&self) -> bool {
        self.data.loading.is_some()
    }

    fn evict_parts(&mut self) -> (&mut [Db], &mut EvictionPool) {
        (&mut self.data.dbs, &mut self.data.eviction_pool)
    }

    fn evicted(&mut self, db: usize, key: &[u8]) {
        self.data.stats.evicted_keys += 1;
        self.data.dirty += 1;
        self.notify(crate::config::custom::notify::EVICTED, "evicted", key, db);
    }
}

impl PubSubHost for Server {
    fn pubsub(&mut self) -> &mut PubSub {
        &mut self.data.pubsub
    }

    fn notify_flags(&self) -> u32 {
        self.data.notify_flags
    }

    fn deliver(&mut self, slot: usize, write: impl FnOnce(&mut Session)) -> bool {
        let Some(c) = self.clients.get_mut(slot) else {
            return false;
        };
        write(&mut c.session);
        let pending = c.pending_output();
        crate::engine::pubsub::enforce_pubsub_limit(
            &self.data.config.client_output_buffer_limit,
            &mut c.session,
            pending,
        );
        self.note_pending_write(slot);
        true
    }
}

impl ExpireHost for Server {
    fn dbs(&mut self) -> &mut [Db] {
        &mut self.data.dbs
    }

    fn expired(&mut self, db: usize, key: &[u8]) {
        self.data.stats.expired_keys += 1;
        self.notify(crate::config::custom::notify::EXPIRED, "expired", key, db);
        crate::engine::feed::propagate_now(self, db, vec![b"DEL".to_vec(), key.to_vec()]);
    }
}

impl BlockingHost for Server {
    fn blocking(&mut self) -> &mut Blocking {
        &mut self.data.blocking
    }

    fn dbs(&mut self) -> &mut [Db] {
        &mut self.data.dbs
    }

    fn blocking_and_dbs(&mut self) -> (&mut Blocking, &mut [Db]) {
        (&mut self.data.blocking, &mut self.data.dbs)
    }

    fn now_ms(&self) -> i64 {
        self.data.now_ms
    }

    fn key_exists(&mut self, db: usize, key: &[u8]) -> bool {
        self.data.now_ms = tine_core::base::mstime();
        self.data.dbs[db].get(key, self.data.now_ms).is_some()
    }

    fn serve(&mut self, db: usize, key: &[u8], w: Waiter) {
        // The client running the current command is out of its slot; it cannot be blocked.
        let Some(mut taken) = self.clients.take(w.slot) else {
            return;
        };
        let c = &mut taken.session;
        let ready = c.id == w.id && c.blocked.as_ref().is_some_and(|b| b.db == db);
        if ready {
            // A blocked client runs no command, so its selected db is still `db`.
            let b = c.blocked.as_mut().expect("checked");
            let argv = std::mem::take(&mut b.argv);
            let retry = b.retry;
            let start = Instant::now();
            // What the retry changed is propagated as what it says (LPOP, LMOVE...).
            let before = crate::engine::feed::before_command(self);
            let served = match crate::commands::RETRIES.get(retry.0 as usize) {
                Some(retry) => retry(self, c, &argv, key),
                None => Served::KeepWaiting,
            };
            crate::engine::feed::after_command(self, db, &argv, before, true);
            crate::engine::feed::end_unit(self);
            let usec = start.elapsed().as_micros() as u64;
            if let Some(b) = c.blocked.as_mut() {
                b.argv = argv;
            }
            if served == Served::Done {
                self.finish_blocked(c, usec);
            }
        }
        self.clients.put_back(taken);
    }

    fn end_wait(&mut self, slot: Option<usize>, id: u64, how: EndWait) -> bool {
        let slot = match slot {
            Some(slot) => slot,
            None => match self
                .clients
                .iter()
                .map(|c| &c.session)
                .find(|c| c.id == id && c.blocked.is_some())
            {
                Some(c) => c.slot,
                None => return false,
            },
        };
        let Some(mut taken) = self.clients.take(slot) else {
            return false;
        };
        let c = &mut taken.session;
        let on_timeout = match c.blocked.as_ref() {
            Some(b) if c.id == id => Some(b.on_timeout),
            _ => None,
        };
        if let Some(on_timeout) = on_timeout {
            match how {
                EndWait::Error => c.add_error("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
                EndWait::Timeout => on_timeout.send(c),
            }
            self.finish_blocked(c, 0);
        }
        self.clients.put_back(taken);
        on_timeout.is_some()
    }
}

impl Server {
    /// Unblocks a client that got its reply: statistics of its command (counted when it
    /// completes, as Redis does, with `usec` spent serving it), then its output is written
    /// and its queued commands run.
    fn finish_blocked(&mut self, c: &mut Session, usec: u64) {
        let Some(b) = self.data.blocking.detach(&mut self.data.dbs, c) else {
            return;
        };
        if let Some(r) = crate::commands::registry().lookup(&b.argv[0]) {
            let stats = &mut self.data.cmd_stats[r.id];
            stats.calls += 1;
            stats.usec += usec;
            if !c.errors.is_empty() {
                stats.failed_calls += 1;
            }
        }
        crate::commands::finish_errors(self, c);
        self.note_pending_write(c.slot);
        self.data.pending_input.push(c.slot);
    }

    /// Counts and announces the keys a database's own lookups expired (`expired_unreported`)
    /// in the databases that have lazily expired keys to feed.
    #[cold]
    fn announce_lazily_expired(&mut self) {
        for id in 0..self.data.dbs.len() {
            if self.data.dbs[id].lazily_expired.is_empty() {
                continue;
            }
            for key in std::mem::take(&mut self.data.dbs[id].expired_unreported) {
                self.data.stats.expired_keys += 1;
                self.notify(crate::config::custom::notify::EXPIRED, "expired", &key, id);
            }
        }
    }
}
