//! The propagation feed: what a write command turns into for the AOF and the replicas.
//! There is ONE feed; both consumers read the same stream of commands, in Redis 7.0's shape.
//!
//! # How a command is propagated
//!
//! `commands::call_argv` notes the server's dirty counter before running a handler. When the
//! handler changed something (dirty grew), the command is added to the current *execution
//! unit*: as its arguments, or as what the handler asked instead with [`Feed::propagate_as`] /
//! [`Feed::propagate_many`] / [`Feed::propagate_none`] (the server's methods of those names
//! delegate here). Non-deterministic or
//! time-relative commands use that to propagate their effect, as Redis 7.0 does:
//!
//! | command | propagated as |
//! |---|---|
//! | EXPIRE/PEXPIRE/EXPIREAT, GETEX EX/PX/EXAT | `PEXPIREAT key <ms>` (`DEL key` when already past) |
//! | SET ... EX/PX/EXAT, SETEX, PSETEX | `SET key value PXAT <ms>` |
//! | GETEX PERSIST | `PERSIST key` |
//! | GETSET | `SET key value`; GETDEL: `DEL key` |
//! | INCRBYFLOAT | `SET key <new value> KEEPTTL` (HINCRBYFLOAT: `HSET key field <value>`) |
//! | BLPOP/BRPOP, LMPOP/BLMPOP | `LPOP`/`RPOP key [count]` |
//! | BLMOVE (BRPOPLPUSH served after blocking) | `LMOVE src dst <from> <to>`; BRPOPLPUSH served at once: `RPOPLPUSH` |
//! | SPOP | `SREM key member` per member (`DEL key` when the set empties) |
//! | ZMPOP/BZMPOP/BZPOPMIN... | `ZPOPMIN`/`ZPOPMAX key [count]` |
//!
//! A unit is one top-level command, with the blocked clients it served (`call` runs
//! `serve_ready_keys` inside it), or a whole EXEC. When the unit ends (`end_unit`) its
//! commands are fed out: wrapped in `MULTI` ... `EXEC` when there is more than one, as Redis
//! 7.0's propagatePendingCommands does. A SELECT is emitted by each consumer when the db
//! changes. Deletions that are not a command's own doing — lazy expiry found by a lookup,
//! the active expire cycle — are fed at once as `DEL key` (`propagate_now`), outside any
//! unit, as Redis 7.0 propagates them.
//!
//! The feed never blocks and never touches the disk itself: it hands each finished command to
//! a `FeedSink`, with the [`Targets`] it goes to — the AOF's half appends to its in-memory
//! buffer (`persist::aof::AofFeed`), which the event loop writes before replying; the
//! replicas' half to the shared replication buffer (`repl::feed::ReplFeed`).
//!
//! # Why a state, a sink and a host
//!
//! [`Feed`] owns the unit, the replacement and the nesting depth and knows nothing of the
//! server: what it needs from above — the dirty counter, whether anything consumes the feed,
//! the keys lazy expiry deleted, the sink itself — is the `FeedHost` trait, which the command
//! context implements (`commands/ctx.rs`). The free functions (`before_command`,
//! `after_command`, `end_unit`, `propagate_now`) are generic over it, so the per-command
//! path stays monomorphic and inlined, as it was when it took the server directly.

use tine_core::keyspace::Keyspace;

/// One command to propagate: where it goes, the db it applies to and its arguments.
pub(crate) type Op = (Targets, usize, Vec<Vec<u8>>);

/// Which consumers of the feed receive a command: the AOF, the replicas (the replication
/// stream, backlog included), or both. Almost everything goes to both; the exceptions are
/// why this exists: a replica applying its primary's stream feeds its own AOF only (its
/// replicas get the primary's bytes as they came, so the stream stays byte-identical down a
/// chain), PING and REPLCONF GETACK go to replicas only, and a script may route its effects
/// (`redis.set_repl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Targets {
    pub(crate) aof: bool,
    pub(crate) replicas: bool,
}

impl Targets {
    pub(crate) const ALL: Targets = Targets { aof: true, replicas: true };
    pub(crate) const AOF: Targets = Targets { aof: true, replicas: false };
    pub(crate) const REPLICAS: Targets = Targets { aof: false, replicas: true };
    pub(crate) const NONE: Targets = Targets { aof: false, replicas: false };
}

impl Default for Targets {
    fn default() -> Targets {
        Targets::ALL
    }
}

/// What the running command asked to propagate instead of its own arguments.
pub(crate) type Replacement = Option<Vec<Vec<Vec<u8>>>>;

/// What `before_command` notes and `after_command` needs back: the dirty counter before
/// the handler ran, and the replacement of the command it runs inside (EXEC), set aside.
pub(crate) type Before = (u64, Replacement);

/// The consumers of the feed: receive each finished command, in order, with the targets it
/// goes to. Each consumer emits SELECT itself when `db` differs from the last one it saw,
/// since each tracks its own db.
pub(crate) trait FeedSink {
    fn feed(&mut self, to: Targets, db: usize, argv: &[Vec<u8>]);
}

/// What the feed needs from the layer that owns it (the server aggregate): the feed's own
/// state, the dirty counter, the sink, and the lazily expired keys to turn into DEL.
pub(crate) trait FeedHost {
    type Sink<'a>: FeedSink
    where
        Self: 'a;
    fn feed_state(&mut self) -> &mut Feed;
    /// The feed's state and the sink, borrowed together.
    fn feed_and_sink(&mut self) -> (&mut Feed, Self::Sink<'_>);
    /// Redis's `server.dirty`: changes made so far.
    fn dirty(&self) -> u64;
    /// True when something consumes the feed. Without a consumer nothing is copied: the
    /// write path pays nothing for propagation.
    fn has_consumer(&self) -> bool;
    /// Counts and announces the keys lazy expiry deleted, then feeds them as DEL (with
    /// [`Feed::propagate_lazily_expired`]). Cheap when there are none.
    fn flush_lazy_expired(&mut self);
}

/// The state of the feed for the command being run.
#[derive(Default)]
pub(crate) struct Feed {
    /// Commands of the current execution unit, in order.
    unit: Vec<Op>,
    /// What the running command asked to propagate instead of its own arguments (`Some(vec![])`
    /// propagates nothing).
    replacement: Replacement,
    /// Nesting of `call_argv` (EXEC runs its queue through it).
    depth: u32,
    /// The running command is propagated even if it changed nothing (Redis's
    /// forceCommandPropagation: FLUSHALL and FLUSHDB of empty databases).
    forced: bool,
    /// Where a forced command goes, when only some consumers want it (PUBLISH: replicas).
    forced_to: Option<Targets>,
    /// Set while replaying the AOF: nothing is fed.
    pub(crate) disabled: bool,
    /// Where the commands recorded from now on go (see [`Targets`]): all consumers, but the
    /// AOF only while a replica applies its primary's stream.
    pub(crate) targets: Targets,
}

impl Feed {
    /// The running command propagates `argv` instead of its own arguments.
    pub(crate) fn propagate_as(&mut self, argv: Vec<Vec<u8>>) {
        self.replacement = Some(vec![argv]);
    }

    /// The running command propagates these commands (in its db) instead of its own.
    pub(crate) fn propagate_many(&mut self, ops: Vec<Vec<Vec<u8>>>) {
        self.replacement = Some(ops);
    }

    /// The running command is propagated whether or not it changed the dataset.
    pub(crate) fn force_propagation(&mut self) {
        self.forced = true;
    }

    /// The running command is propagated, to these consumers only, whether or not it changed
    /// the dataset (Redis's forceCommandPropagation with PROPAGATE_REPL: PUBLISH, SPUBLISH).
    pub(crate) fn force_propagation_to(&mut self, to: Targets) {
        self.forced = true;
        self.forced_to = Some(to);
    }

    /// The running command propagates nothing even though it changed the dataset.
    #[cfg(test)]
    pub(crate) fn propagate_none(&mut self) {
        self.replacement = Some(Vec::new());
    }

    /// Adds a command to the current unit, before the running command's own.
    #[cfg(test)]
    pub(crate) fn also_propagate(&mut self, db: usize, argv: Vec<Vec<u8>>) {
        self.unit.push((self.targets, db, argv));
    }

    /// True while a command runs inside another (EXEC's queue).
    #[cfg(test)]
    pub(crate) fn nested(&self) -> bool {
        self.depth > 0
    }

    /// A command starts: sets the outer command's replacement aside.
    #[inline]
    fn enter(&mut self, dirty: u64) -> Before {
        self.depth += 1;
        (dirty, self.replacement.take())
    }

    /// A command ended: restores the outer command's replacement, returns its own.
    #[inline]
    fn leave(&mut self, outer: Replacement) -> Replacement {
        self.depth -= 1;
        std::mem::replace(&mut self.replacement, outer)
    }

    /// Adds a command that changed the dataset to the unit: its replacement or its arguments.
    fn record(
        &mut self,
        db: usize,
        argv: &[Vec<u8>],
        replacement: Replacement,
        only: Option<Targets>,
    ) {
        let to = match only {
            Some(o) => Targets {
                aof: self.targets.aof && o.aof,
                replicas: self.targets.replicas && o.replicas,
            },
            None => self.targets,
        };
        // A script's writes under `redis.set_repl(REPL_NONE)` go nowhere: not even into the
        // unit, so they do not make it a MULTI/EXEC (Redis's alsoPropagate drops them).
        if to == Targets::NONE {
            return;
        }
        match replacement {
            Some(ops) => {
                for op in ops {
                    self.unit.push((to, db, op));
                }
            }
            None => self.unit.push((to, db, argv.to_vec())),
        }
    }

    /// Ends the execution unit: feeds its commands, wrapped in MULTI/EXEC when more than one.
    pub(crate) fn end_unit(&mut self, sink: &mut impl FeedSink) {
        if self.unit.is_empty() {
            return;
        }
        let unit = std::mem::take(&mut self.unit);
        if self.disabled {
            return;
        }
        if unit.len() > 1 {
            // MULTI and EXEC go wherever any of the unit's commands go.
            let to = unit.iter().fold(Targets::NONE, |t, (o, _, _)| Targets {
                aof: t.aof || o.aof,
                replicas: t.replicas || o.replicas,
            });
            // MULTI in the first command's db, EXEC in the last one's: no SELECT comes between
            // the last command and EXEC (Redis feeds both without a db of their own).
            let (first, last) = (unit[0].1, unit[unit.len() - 1].1);
            sink.feed(to, first, &[b"MULTI".to_vec()]);
            for (to, db, argv) in &unit {
                sink.feed(*to, *db, argv);
            }
            sink.feed(to, last, &[b"EXEC".to_vec()]);
        } else {
            let (to, db, argv) = &unit[0];
            sink.feed(*to, *db, argv);
        }
    }

    /// Feeds one command at once, outside any unit (expiry deletions).
    pub(crate) fn propagate_now(&mut self, sink: &mut impl FeedSink, db: usize, argv: &[Vec<u8>]) {
        if self.disabled {
            return;
        }
        sink.feed(self.targets, db, argv);
    }

    /// Feeds the keys lazy expiry deleted (the keyspace outbox's expired keys) as `DEL key`,
    /// in the order they expired.
    pub(crate) fn propagate_lazily_expired(
        &mut self,
        dbs: &mut Keyspace,
        sink: &mut impl FeedSink,
    ) {
        for (id, k) in dbs.take_expired() {
            self.propagate_now(sink, id, &[b"DEL".to_vec(), k.into_vec()]);
        }
    }
}

/// Builds an argv from byte slices.
pub(crate) fn argv(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// Called by `call_argv` before a handler runs: returns the dirty counter to compare with.
#[inline]
pub(crate) fn before_command<H: FeedHost>(host: &mut H) -> Before {
    let dirty = host.dirty();
    host.feed_state().enter(dirty)
}

/// Called by `call_argv` after the handler: adds the command (or its replacement) to the unit
/// when it changed the dataset. `exec` is never propagated itself: its commands are.
#[inline]
pub(crate) fn after_command<H: FeedHost>(
    host: &mut H,
    db: usize,
    argv: &[Vec<u8>],
    before: Before,
    propagate_self: bool,
) {
    let (dirty_before, outer_replacement) = before;
    let replacement = host.feed_state().leave(outer_replacement);
    let forced = std::mem::take(&mut host.feed_state().forced);
    let only = host.feed_state().forced_to.take();
    host.flush_lazy_expired();
    if host.feed_state().disabled
        || !propagate_self
        || (host.dirty() <= dirty_before && !forced)
        || !host.has_consumer()
    {
        return;
    }
    host.feed_state().record(db, argv, replacement, only);
}

/// Ends the execution unit: feeds its commands, wrapped in MULTI/EXEC when more than one.
#[inline]
pub(crate) fn end_unit<H: FeedHost>(host: &mut H) {
    host.flush_lazy_expired();
    if host.feed_state().unit.is_empty() {
        return;
    }
    let (feed, mut sink) = host.feed_and_sink();
    feed.end_unit(&mut sink);
}

/// Feeds one command at once, outside any unit (expiry deletions).
pub(crate) fn propagate_now<H: FeedHost>(host: &mut H, db: usize, argv: Vec<Vec<u8>>) {
    let (feed, mut sink) = host.feed_and_sink();
    feed.propagate_now(&mut sink, db, &argv);
}

#[cfg(test)]
mod tests {
    //! The feed's output against a recording sink: what a consumer receives for single
    //! commands, units, replacements, EXEC's nesting, and while disabled.

    use super::*;

    /// A host with a dirty counter and a sink that records what it is fed.
    #[derive(Default)]
    struct Host {
        feed: Feed,
        dirty: u64,
        off: bool,
        fed: Vec<(usize, Vec<Vec<u8>>)>,
        dbs: Keyspace,
    }

    struct Recorder<'a>(&'a mut Vec<(usize, Vec<Vec<u8>>)>);

    impl FeedSink for Recorder<'_> {
        fn feed(&mut self, to: Targets, db: usize, argv: &[Vec<u8>]) {
            if to != Targets::NONE {
                self.0.push((db, argv.to_vec()));
            }
        }
    }

    impl FeedHost for Host {
        type Sink<'a> = Recorder<'a>;
        fn feed_state(&mut self) -> &mut Feed {
            &mut self.feed
        }
        fn feed_and_sink(&mut self) -> (&mut Feed, Recorder<'_>) {
            (&mut self.feed, Recorder(&mut self.fed))
        }
        fn dirty(&self) -> u64 {
            self.dirty
        }
        fn has_consumer(&self) -> bool {
            !self.off
        }
        fn flush_lazy_expired(&mut self) {
            let mut sink = Recorder(&mut self.fed);
            self.feed.propagate_lazily_expired(&mut self.dbs, &mut sink);
        }
    }

    fn args(s: &str) -> Vec<Vec<u8>> {
        s.split(' ').map(|w| w.as_bytes().to_vec()).collect()
    }

    /// Runs one command in `db` as `call_argv` does; `handler` may write (bump dirty) and ask
    /// for a replacement.
    fn run(h: &mut Host, db: usize, cmd: &str, handler: impl FnOnce(&mut Host)) {
        let before = before_command(h);
        handler(h);
        after_command(h, db, &args(cmd), before, cmd != "EXEC");
    }

    fn write(h: &mut Host) {
        h.dirty += 1;
    }

    fn fed(h: &Host) -> Vec<(usize, String)> {
        h.fed
            .iter()
            .map(|(db, a)| {
                let words: Vec<String> =
                    a.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect();
                (*db, words.join(" "))
            })
            .collect()
    }

    fn pairs(v: &[(usize, &str)]) -> Vec<(usize, String)> {
        v.iter().map(|(d, s)| (*d, s.to_string())).collect()
    }

    #[test]
    fn a_write_is_fed_as_itself_when_its_unit_ends() {
        let mut h = Host::default();
        run(&mut h, 3, "SET k v", write);
        assert!(h.fed.is_empty(), "nothing leaves before the unit ends");
        end_unit(&mut h);
        assert_eq!(fed(&h), pairs(&[(3, "SET k v")]));
    }

    #[test]
    fn a_read_or_a_write_that_changed_nothing_is_not_fed() {
        let mut h = Host::default();
        run(&mut h, 0, "GET k", |_| {});
        end_unit(&mut h);
        assert!(h.fed.is_empty());
    }

    #[test]
    fn nothing_is_recorded_without_a_consumer() {
        let mut h = Host { off: true, ..Host::default() };
        run(&mut h, 0, "SET k v", write);
        end_unit(&mut h);
        assert!(h.fed.is_empty());
    }

    #[test]
    fn select_is_left_to_the_consumer_which_gets_each_commands_db() {
        let mut h = Host::default();
        run(&mut h, 0, "SET a 1", write);
        end_unit(&mut h);
        run(&mut h, 5, "SET b 2", write);
        end_unit(&mut h);
        assert_eq!(fed(&h), pairs(&[(0, "SET a 1"), (5, "SET b 2")]));
    }

    #[test]
    fn a_unit_of_several_commands_is_wrapped_in_multi_exec_in_the_first_db() {
        // A push that served a blocked client: the push, then the client's pop, one unit.
        let mut h = Host::default();
        run(&mut h, 2, "LPUSH l x", write);
        run(&mut h, 2, "BLPOP l 0", |h| {
            write(h);
            h.feed.propagate_as(args("LPOP l"));
        });
        end_unit(&mut h);
        assert_eq!(fed(&h), pairs(&[(2, "MULTI"), (2, "LPUSH l x"), (2, "LPOP l"), (2, "EXEC")]));
    }

    #[test]
    fn replacements_many_none_and_also_propagate() {
        let mut h = Host::default();
        run(&mut h, 0, "SPOP s 2", |h| {
            write(h);
            h.feed.propagate_many(vec![args("SREM s a"), args("SREM s b")]);
        });
        end_unit(&mut h);
        run(&mut h, 0, "SET k v", |h| {
            write(h);
            h.feed.propagate_none();
        });
        end_unit(&mut h);
        run(&mut h, 1, "INCR n", |h| {
            write(h);
            h.feed.also_propagate(1, args("DEL other"));
        });
        end_unit(&mut h);
        assert_eq!(
            fed(&h),
            pairs(&[
                (0, "MULTI"),
                (0, "SREM s a"),
                (0, "SREM s b"),
                (0, "EXEC"),
                (1, "MULTI"),
                (1, "DEL other"),
                (1, "INCR n"),
                (1, "EXEC"),
            ])
        );
    }

    #[test]
    fn exec_feeds_its_commands_not_itself_and_keeps_each_replacement_to_its_command() {
        let mut h = Host::default();
        let outer = before_command(&mut h);
        // A replacement asked before the queue runs belongs to EXEC, not to its commands.
        h.feed.propagate_none();
        assert!(h.feed.nested());
        run(&mut h, 0, "SET a 1", write);
        run(&mut h, 0, "GETSET a 2", |h| {
            write(h);
            h.feed.propagate_as(args("SET a 2"));
        });
        run(&mut h, 0, "SET b 3", write);
        after_command(&mut h, 0, &args("EXEC"), outer, false);
        assert!(!h.feed.nested());
        end_unit(&mut h);
        assert_eq!(
            fed(&h),
            pairs(&[(0, "MULTI"), (0, "SET a 1"), (0, "SET a 2"), (0, "SET b 3"), (0, "EXEC")])
        );
    }

    #[test]
    fn nothing_is_fed_while_disabled_and_the_unit_is_dropped() {
        let mut h = Host::default();
        h.feed.disabled = true;
        run(&mut h, 0, "SET k v", write);
        end_unit(&mut h);
        propagate_now(&mut h, 0, args("DEL k"));
        h.feed.disabled = false;
        end_unit(&mut h);
        assert!(h.fed.is_empty());
    }

    #[test]
    fn each_command_keeps_the_targets_in_force_when_it_ran_and_multi_goes_to_all_of_them() {
        struct Routes(Vec<(Targets, String)>);
        impl FeedSink for Routes {
            fn feed(&mut self, to: Targets, _db: usize, argv: &[Vec<u8>]) {
                self.0.push((to, String::from_utf8_lossy(&argv[0]).into_owned()));
            }
        }
        let mut h = Host::default();
        h.feed.targets = Targets::AOF;
        run(&mut h, 0, "SET a 1", write);
        h.feed.targets = Targets::REPLICAS;
        run(&mut h, 0, "PING", write);
        h.feed.targets = Targets::ALL;
        let mut routes = Routes(Vec::new());
        h.feed.end_unit(&mut routes);
        assert_eq!(
            routes.0,
            vec![
                (Targets::ALL, "MULTI".to_string()),
                (Targets::AOF, "SET".to_string()),
                (Targets::REPLICAS, "PING".to_string()),
                (Targets::ALL, "EXEC".to_string()),
            ]
        );
    }

    #[test]
    fn commands_routed_nowhere_are_not_part_of_the_unit() {
        // A script's write under redis.set_repl(REPL_NONE) beside one that goes everywhere:
        // one command fed, not a MULTI/EXEC of one.
        let mut h = Host::default();
        h.feed.targets = Targets::NONE;
        run(&mut h, 0, "SET hidden 1", write);
        h.feed.targets = Targets::ALL;
        run(&mut h, 0, "SET shown 1", write);
        end_unit(&mut h);
        assert_eq!(fed(&h), pairs(&[(0, "SET shown 1")]));
    }

    #[test]
    fn a_forced_command_is_fed_without_a_change_and_the_force_ends_with_it() {
        let mut h = Host::default();
        run(&mut h, 0, "FLUSHDB", |h| h.feed.force_propagation());
        end_unit(&mut h);
        run(&mut h, 0, "GET k", |_| {});
        end_unit(&mut h);
        assert_eq!(fed(&h), pairs(&[(0, "FLUSHDB")]));
    }

    #[test]
    fn multi_takes_the_first_commands_db_and_exec_the_last_ones() {
        struct Dbs(Vec<(usize, String)>);
        impl FeedSink for Dbs {
            fn feed(&mut self, _to: Targets, db: usize, argv: &[Vec<u8>]) {
                self.0.push((db, String::from_utf8_lossy(&argv[0]).into_owned()));
            }
        }
        let mut h = Host { dbs: Keyspace::new(4), ..Host::default() };
        run(&mut h, 1, "SET a 1", write);
        run(&mut h, 3, "SET b 2", write);
        let mut dbs = Dbs(Vec::new());
        h.feed.end_unit(&mut dbs);
        let want = [(1, "MULTI"), (1, "SET"), (3, "SET"), (3, "EXEC")];
        assert_eq!(dbs.0, want.map(|(d, c)| (d, c.to_string())).to_vec());
    }

    #[test]
    fn expiry_deletions_are_fed_at_once_outside_the_unit() {
        let mut h = Host { dbs: Keyspace::new(3), ..Host::default() };
        run(&mut h, 0, "SET k v", write);
        propagate_now(&mut h, 1, args("DEL gone"));
        let v = tine_core::keyspace::Value::Str(tine_core::keyspace::Str::from_bytes(b"v"));
        h.dbs.set(2, b"old", v, false);
        h.dbs.set_expire(2, b"old", Some(1));
        assert!(h.dbs.lookup(2, b"old", 2).is_none());
        end_unit(&mut h);
        assert_eq!(fed(&h), pairs(&[(1, "DEL gone"), (2, "DEL old"), (0, "SET k v")]));
    }
}
