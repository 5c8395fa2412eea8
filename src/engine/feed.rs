//! The propagation feed: what a write command turns into for the AOF (and, later, replicas).
//! There is ONE feed; both consumers read the same stream of commands, in Redis 7.0's shape.
//!
//! # How a command is propagated
//!
//! `command::call_argv` notes `Server::dirty` before running a handler. When the handler
//! changed something (dirty grew), the command is added to the current *execution unit*: as
//! its arguments, or as what the handler asked instead with [`Server::propagate_as`] /
//! [`Server::propagate_many`] / [`Server::propagate_none`]. Non-deterministic or
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
//! `serve_ready_keys` inside it), or a whole EXEC. When the unit ends ([`end_unit`]) its
//! commands are fed out: wrapped in `MULTI` ... `EXEC` when there is more than one, as Redis
//! 7.0's propagatePendingCommands does. A SELECT is emitted by each consumer when the db
//! changes. Deletions that are not a command's own doing — lazy expiry found by a lookup,
//! the active expire cycle — are fed at once as `DEL key` ([`propagate_now`]), outside any
//! unit, as Redis 7.0 propagates them.
//!
//! The feed never blocks and never touches the disk itself: the AOF consumer appends to its
//! in-memory buffer (`persist::aof::feed`), which the event loop writes before replying.

use crate::app::server::Server;

/// One command to propagate: the db it applies to and its arguments.
pub type Op = (usize, Vec<Vec<u8>>);

/// The state of the feed for the command being run.
#[derive(Default)]
pub struct Propagation {
    /// Commands of the current execution unit, in order.
    unit: Vec<Op>,
    /// What the running command asked to propagate instead of its own arguments (`Some(vec![])`
    /// propagates nothing).
    replacement: Option<Vec<Vec<Vec<u8>>>>,
    /// Nesting of `call_argv` (EXEC runs its queue through it).
    depth: u32,
    /// Set while replaying the AOF: nothing is fed.
    pub disabled: bool,
}

impl Server {
    /// The running command propagates `argv` instead of its own arguments.
    pub fn propagate_as(&mut self, argv: Vec<Vec<u8>>) {
        self.prop.replacement = Some(vec![argv]);
    }

    /// The running command propagates these commands (in its db) instead of its own.
    pub fn propagate_many(&mut self, ops: Vec<Vec<Vec<u8>>>) {
        self.prop.replacement = Some(ops);
    }

    /// The running command propagates nothing even though it changed the dataset.
    pub fn propagate_none(&mut self) {
        self.prop.replacement = Some(Vec::new());
    }

    /// Adds a command to the current unit, before the running command's own.
    pub fn also_propagate(&mut self, db: usize, argv: Vec<Vec<u8>>) {
        self.prop.unit.push((db, argv));
    }
}

/// Builds an argv from byte slices.
pub fn argv(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// Called by `call_argv` before a handler runs: returns the dirty counter to compare with.
pub fn before_command(srv: &mut Server) -> (u64, Option<Vec<Vec<Vec<u8>>>>) {
    srv.prop.depth += 1;
    (srv.dirty, srv.prop.replacement.take())
}

/// Called by `call_argv` after the handler: adds the command (or its replacement) to the unit
/// when it changed the dataset. `exec` is never propagated itself: its commands are.
pub fn after_command(
    srv: &mut Server,
    db: usize,
    argv: &[Vec<u8>],
    before: (u64, Option<Vec<Vec<Vec<u8>>>>),
    propagate_self: bool,
) {
    let (dirty_before, outer_replacement) = before;
    srv.prop.depth -= 1;
    let replacement = std::mem::replace(&mut srv.prop.replacement, outer_replacement);
    flush_lazy_expired(srv);
    if srv.prop.disabled || !propagate_self || srv.dirty <= dirty_before || !has_consumer(srv) {
        return;
    }
    match replacement {
        Some(ops) => {
            for op in ops {
                srv.prop.unit.push((db, op));
            }
        }
        None => srv.prop.unit.push((db, argv.to_vec())),
    }
}

/// Feeds keys deleted by lazy expiry during the command (found by lookups in `Db`). Those a
/// database's own lookups deleted are first counted and announced as `Server::expire_if_needed`
/// does for the rest, so no path can forget `expired_keys` or the "expired" event.
fn flush_lazy_expired(srv: &mut Server) {
    if !tine_core::keyspace::take_lazily_expired() {
        return;
    }
    for id in 0..srv.dbs.len() {
        if srv.dbs[id].lazily_expired.is_empty() {
            continue;
        }
        for key in std::mem::take(&mut srv.dbs[id].expired_unreported) {
            srv.stats.expired_keys += 1;
            srv.notify(crate::config::custom::notify::EXPIRED, "expired", &key, id);
        }
        let keys = std::mem::take(&mut srv.dbs[id].lazily_expired);
        for k in keys {
            propagate_now(srv, id, vec![b"DEL".to_vec(), k.into_vec()]);
        }
    }
}

/// True when something consumes the feed (the AOF, on or being turned on). Without a consumer
/// nothing is copied: the write path pays nothing for propagation.
pub fn has_consumer(srv: &Server) -> bool {
    srv.aof.status != crate::persist::aof::Status::Off
}

/// True while a command runs inside another (EXEC's queue).
pub fn nested(srv: &Server) -> bool {
    srv.prop.depth > 0
}

/// Ends the execution unit: feeds its commands, wrapped in MULTI/EXEC when more than one.
pub fn end_unit(srv: &mut Server) {
    flush_lazy_expired(srv);
    if srv.prop.unit.is_empty() {
        return;
    }
    let unit = std::mem::take(&mut srv.prop.unit);
    if srv.prop.disabled {
        return;
    }
    if unit.len() > 1 {
        let db = unit[0].0;
        feed(srv, db, &[b"MULTI".to_vec()]);
        for (db, argv) in &unit {
            feed(srv, *db, argv);
        }
        feed(srv, db, &[b"EXEC".to_vec()]);
    } else {
        let (db, argv) = &unit[0];
        feed(srv, *db, argv);
    }
}

/// Feeds one command at once, outside any unit (expiry deletions).
pub fn propagate_now(srv: &mut Server, db: usize, argv: Vec<Vec<u8>>) {
    if srv.prop.disabled {
        return;
    }
    feed(srv, db, &argv);
}

/// The consumers of the feed.
fn feed(srv: &mut Server, db: usize, argv: &[Vec<u8>]) {
    crate::persist::aof::feed(srv, db, argv);
}
