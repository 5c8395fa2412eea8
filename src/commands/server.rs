//! Server commands: TIME, DBSIZE, LASTSAVE, WAIT, ROLE, SHUTDOWN.

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::commands::data::ShutdownRequest;
use crate::engine::session::Session;
use tine_core::base;

pub(crate) fn time(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let us = base::ustime();
    c.add_array(2);
    c.add_bulk_i64(us / 1_000_000);
    c.add_bulk_i64(us % 1_000_000);
    Ok(())
}

pub(crate) fn dbsize(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let n = srv.data.keyspace[c.db].len();
    c.add_int(n as i64);
    Ok(())
}

pub(crate) fn lastsave(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    c.add_int(srv.data.lastsave);
    Ok(())
}

/// WAIT numreplicas timeout: the number of replicas that acknowledged the stream up to this
/// client's last command (`Session::woff`). Answers at once when enough already did, or inside MULTI/EXEC where nothing may block;
/// otherwise blocks until enough acknowledge or the timeout (milliseconds, 0 = forever) and
/// answers the count. Replicas are asked for their offset (REPLCONF GETACK) before the next
/// poll.
pub(crate) fn wait(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let Some(numreplicas) = base::parse_i64(&argv[1]) else {
        return Err(err::NOT_INTEGER);
    };
    let Some(timeout) = base::parse_i64(&argv[2]) else {
        return Err(CmdError::err("timeout is not an integer or out of range"));
    };
    if timeout < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let offset = c.woff;
    let acked = srv.data.primary.acked(offset);
    if acked >= numreplicas || !crate::engine::blocking::may_block(c) {
        c.add_int(acked);
        return Ok(());
    }
    let deadline = if timeout == 0 { 0 } else { srv.data.now_ms.saturating_add(timeout) };
    crate::engine::blocking::block_for_replicas(srv, c, deadline, argv, offset);
    let p = &mut srv.data.primary;
    p.waiting.retain(|w| w.id != c.id);
    p.waiting.push(crate::repl::primary::WaitEntry { slot: c.slot, id: c.id, offset, numreplicas });
    p.get_ack = true;
    Ok(())
}

/// ROLE on a primary: the role, the replication offset (INFO's `master_repl_offset`) and
/// each online replica's ip, port and acknowledged offset. Client libraries ask ROLE to tell a
/// master from a replica.
pub(crate) fn role(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let r = &srv.data.replica;
    if let Some((host, port)) = &r.master {
        // As Redis: the applied offset of the master client, else of the cached master, else -1.
        let offset = if r.master_slot.is_some() {
            srv.data.repl_buf.master_repl_offset()
        } else {
            r.cached.as_ref().map_or(-1, |(_, o)| *o)
        };
        c.add_array(5);
        c.add_bulk(b"slave");
        c.add_bulk(host.as_bytes());
        c.add_int(*port as i64);
        c.add_bulk(r.state_word().as_bytes());
        c.add_int(offset);
        return Ok(());
    }
    c.add_array(3);
    c.add_bulk(b"master");
    c.add_int(srv.data.repl_buf.master_repl_offset());
    let online: Vec<_> = srv
        .data
        .primary
        .links
        .iter()
        .filter(|l| l.state == crate::repl::primary::LinkState::Online)
        .map(|l| (l.ip().to_string(), l.conf.listening_port, l.ack_off))
        .collect();
    c.add_array(online.len());
    for (ip, port, off) in online {
        c.add_array(3);
        c.add_bulk(ip.as_bytes());
        c.add_bulk(port.to_string().as_bytes());
        c.add_bulk(off.to_string().as_bytes());
    }
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
pub(crate) fn shutdown(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut req = ShutdownRequest::default();
    let mut abort = false;
    for a in &argv[1..] {
        match base::lower(a).as_str() {
            "nosave" => req.nosave = true,
            "save" => req.save = true,
            "now" => req.now = true,
            "force" => req.force = true,
            "abort" => abort = true,
            _ => return Err(err::SYNTAX),
        }
    }
    if (abort && argv.len() > 2) || (req.nosave && req.save) {
        return Err(err::SYNTAX);
    }
    if abort {
        if !super::replication::abort_shutdown(srv) {
            return Err(CmdError::err("No shutdown in progress."));
        }
        c.add_ok();
        return Ok(());
    }
    // While a command yields (a slow script), only SHUTDOWN NOSAVE may end the server: a save
    // would write a dataset the command is halfway through changing (Redis's shutdownCommand).
    if let Some(kind) = srv.data.busy.filter(|_| !req.nosave) {
        return Err(err::busy(kind));
    }
    // Replicas behind: the client blocks while they catch up (or joins a wait running).
    if super::replication::shutdown_blocks(srv, c, argv, req) {
        return Ok(());
    }
    if !srv.server.shutdown(srv.data, req) {
        return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
    }
    srv.data.exit_requested = true;
    Ok(())
}
