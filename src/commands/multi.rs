//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Between MULTI and EXEC a client's commands are checked (existence, arity) and queued, each
//! answered `+QUEUED`; a command that fails those checks flags the transaction, and EXEC then
//! answers EXECABORT without running anything. EXEC runs the queue back to back — nothing
//! else runs in between, the event loop being single-threaded — and replies an array of the
//! commands' replies.
//!
//! WATCH is optimistic locking: the keyspace records which clients watch which keys, and every
//! mutation of a watched key (through `Db`'s mutating methods, so no command can forget) marks
//! those clients; their EXEC then replies a null array. A watched key that expires between
//! WATCH and EXEC counts as changed, as in Redis 7.0.

use super::{Argv, CmdError, CmdResult};
use crate::commands::Ctx;
use crate::engine::session::MultiState;
use crate::engine::session::Session;

const EXECABORT: CmdError =
    CmdError::new("EXECABORT", "EXECABORT Transaction discarded because of previous errors.");

pub(crate) fn multi(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    if c.multi.is_some() {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    c.multi = Some(MultiState::default());
    c.add_ok();
    Ok(())
}

pub(crate) fn discard(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    if c.multi.is_none() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    c.multi = None;
    unwatch_all(srv, c);
    c.add_ok();
    Ok(())
}

pub(crate) fn exec(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let Some(state) = c.multi.take() else {
        return Err(CmdError::err("EXEC without MULTI"));
    };
    if state.errored {
        unwatch_all(srv, c);
        return Err(EXECABORT);
    }
    let now = srv.data.now_ms;
    let expired_watch = c.watched.iter().any(|(db, key, had_ttl)| {
        *had_ttl && srv.data.dbs[*db].expire_of(key).is_some_and(|t| t <= now)
    });
    if c.dirty_cas || expired_watch {
        unwatch_all(srv, c);
        c.add_null_array();
        return Ok(());
    }
    unwatch_all(srv, c);
    c.add_array(state.commands.len());
    c.in_exec = true;
    for argv in &state.commands {
        super::call_argv(srv, c, argv);
    }
    c.in_exec = false;
    Ok(())
}

pub(crate) fn watch(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if c.multi.is_some() {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    for key in &argv[1..] {
        if c.watched.iter().any(|(db, k, _)| *db == c.db && k.as_slice() == key.as_slice()) {
            continue;
        }
        let d = &mut srv.data.dbs[c.db];
        let had_ttl = d.expire_of(key).is_some_and(|t| t > srv.data.now_ms);
        d.watch(key, c.slot);
        c.watched.push((c.db, key.clone(), had_ttl));
        srv.data.watched_keys += 1;
    }
    c.add_ok();
    Ok(())
}

pub(crate) fn unwatch(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    unwatch_all(srv, c);
    c.add_ok();
    Ok(())
}

/// Forgets every key the client watches and clears its "changed" mark.
pub(crate) fn unwatch_all(srv: &mut Ctx<'_>, c: &mut Session) {
    for (db, key, _) in c.watched.drain(..) {
        srv.data.dbs[db].unwatch(&key, c.slot);
        srv.data.watched_keys -= 1;
    }
    c.dirty_cas = false;
}

/// After a command: marks the clients whose watched keys it changed.
pub(crate) fn collect_touched(srv: &mut Ctx<'_>, current: &mut Session) {
    for db in 0..srv.data.dbs.len() {
        if srv.data.dbs[db].touched_watchers.is_empty() {
            continue;
        }
        let slots = std::mem::take(&mut srv.data.dbs[db].touched_watchers);
        for slot in slots {
            if slot == current.slot {
                current.dirty_cas = true;
            } else if let Some((other, _)) = srv.server.session(slot) {
                other.dirty_cas = true;
            }
        }
    }
}
