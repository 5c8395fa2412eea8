//! REPLICAOF / SLAVEOF: turning this node into a replica of another (Redis's
//! replicationSetMaster) or back into a primary (replicationUnsetMaster), and the same change
//! made by `replicaof` in the configuration at startup. The link itself is
//! `crate::repl::replica`'s; the event loop connects it before its next poll.

use super::{Argv, CmdResult};
use crate::commands::Ctx;
use crate::commands::data::Data;
use crate::engine::session::{ClientKind, Session};
use crate::repl::replica::LinkState;
use tine_core::keyspace::Expiry;
use tine_core::log;
use tine_core::log::Level;
use tine_core::protocol::CmdError;

/// The -UNBLOCKED text Redis's disconnectAllBlockedClients gives clients blocked on keys.
const UNBLOCKED_ROLE_CHANGE: &str = "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n";

/// REPLICAOF host port | NO ONE
pub(crate) fn replicaof(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let now = tine_core::base::unix_time();
    if argv[1].eq_ignore_ascii_case(b"no") && argv[2].eq_ignore_ascii_case(b"one") {
        if srv.data.replica.is_replica() {
            unset_master(srv);
            log!(
                Level::Notice,
                "MASTER MODE enabled (user request from '{}')",
                srv.server.client_info(c, now)
            );
        }
        c.add_ok();
        return Ok(());
    }
    if c.kind == ClientKind::Replica {
        return Err(CmdError::err("Command is not valid when client is a replica."));
    }
    let port = match tine_core::base::parse_i64(&argv[2]) {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => return Err(CmdError::err("Invalid master port")),
    };
    let host = String::from_utf8_lossy(&argv[1]).into_owned();
    if let Some((h, p)) = &srv.data.replica.master {
        if h.eq_ignore_ascii_case(&host) && *p == port {
            log!(
                Level::Notice,
                "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed."
            );
            c.add_simple("OK Already connected to specified master");
            return Ok(());
        }
    }
    set_master(srv, host.clone(), port);
    log!(
        Level::Notice,
        "REPLICAOF {}:{} enabled (user request from '{}')",
        host,
        port,
        srv.server.client_info(c, now)
    );
    c.add_ok();
    Ok(())
}

/// Redis's replicationSetMaster: follow `host:port` from now on.
pub(crate) fn set_master(srv: &mut Ctx<'_>, host: String, port: u16) {
    let was_master = !srv.data.replica.is_replica();
    log::set_role(log::ROLE_REPLICA);
    // The current master client goes (its history cached for PSYNC with the new primary, as
    // Redis's freeClient of the master does).
    cache_and_drop_master_client(srv);
    disconnect_blocked_clients(srv);
    // Sub-replicas stay (Redis 7.0): they may continue with us; they are disconnected when
    // the new primary changes the history (a new replid, or a full sync's load).
    srv.data.replica.cancel_handshake();
    if was_master {
        // Our own history may be the new primary's: PSYNC can continue it.
        srv.data.replica.cached = None;
        log!(
            Level::Notice,
            "Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer."
        );
        cache_myself(srv.data);
    }
    mark_replica(srv.data, host, port);
    srv.data.replica.connect_now = true;
}

/// The data-only half of becoming a replica, also what `replicaof` at startup does: the
/// link is to connect, lazy expiry follows the primary, the stream is the primary's.
pub(crate) fn mark_replica(data: &mut Data, host: String, port: u16) {
    log::set_role(log::ROLE_REPLICA);
    // What CONFIG REWRITE writes back, as Redis's rewriteConfigReplicaOfOption.
    data.config.replicaof = format!("{} {}", host, port);
    data.replica.master = Some((host, port));
    data.replica.state = LinkState::Connect;
    data.keyspace.set_expiry(Expiry::Hide);
    data.repl_stream.proxying = true;
}

/// Redis's replicationCacheMasterUsingMyself: this node's own history, to continue with
/// PSYNC (after REPLICAOF on a primary, or at startup from the RDB's repl-id/repl-offset).
pub(crate) fn cache_myself(data: &mut Data) {
    let id = data.repl.replid().to_string();
    data.replica.cached = Some((id, data.repl_buf.master_repl_offset()));
}

/// Redis's replicationUnsetMaster: a replica becomes a primary (REPLICAOF NO ONE).
pub(crate) fn unset_master(srv: &mut Ctx<'_>) {
    if !srv.data.replica.is_replica() {
        return;
    }
    srv.data.replica.master = None;
    srv.data.config.replicaof.clear();
    log::set_role(log::ROLE_PRIMARY);
    drop_master_client(srv);
    srv.data.replica.cached = None;
    srv.data.replica.cancel_handshake();
    // The history followed so far becomes the second one, so former siblings can continue
    // from this node with +CONTINUE.
    let offset = srv.data.repl_buf.master_repl_offset();
    srv.data.repl.shift_replid(offset);
    log!(
        Level::Notice,
        "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
        srv.data.repl.replid2(),
        srv.data.repl.second_replid_offset(),
        srv.data.repl.replid()
    );
    disconnect_replicas(srv);
    srv.data.replica.state = LinkState::None;
    srv.data.replica.down_since = 0;
    srv.data.repl_stream.proxying = false;
    srv.data.repl_stream.force_select();
    srv.data.keyspace.set_expiry(Expiry::Delete);
    // A primary expires every key itself.
    srv.data.replica.own_expires.clear();
}

/// Caches the master client's history (replid, applied offset) and closes it.
fn cache_and_drop_master_client(srv: &mut Ctx<'_>) {
    if srv.data.replica.master_slot.is_some() {
        cache_myself(srv.data);
    }
    drop_master_client(srv);
}

fn drop_master_client(srv: &mut Ctx<'_>) {
    // Forgotten first, so that its closing is not taken for a lost link to reconnect.
    srv.data.replica.master_slot = None;
    srv.data.replica.unapplied = 0;
    srv.server.for_each_session(&mut |s| {
        if s.kind == ClientKind::Primary {
            s.close_asap = true;
        }
    });
}

/// Sub-replicas reconnect (they learn the new history with PSYNC), as Redis's disconnectSlaves.
fn disconnect_replicas(srv: &mut Ctx<'_>) {
    srv.server.for_each_session(&mut |s| {
        if s.kind == ClientKind::Replica {
            s.close_asap = true;
        }
    });
}

/// Clients blocked on keys get -UNBLOCKED and are closed, as Redis's
/// disconnectAllBlockedClients: what they wait for may never come on a replica.
fn disconnect_blocked_clients(srv: &mut Ctx<'_>) {
    let mut slots = Vec::new();
    srv.server.for_each_session(&mut |s| {
        if s.blocked.is_some() {
            s.obuf.extend_from_slice(UNBLOCKED_ROLE_CHANGE.as_bytes());
            s.errors.push("UNBLOCKED");
            s.close_after_reply = true;
            slots.push(s.slot);
        }
    });
    for slot in slots {
        srv.note_pending_write(slot);
    }
}
