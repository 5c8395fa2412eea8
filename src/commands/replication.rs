//! The primary's replication commands and the work that drives its replicas from the command
//! layer (where sessions are reachable): SYNC, PSYNC, REPLCONF (Redis's syncCommand and
//! replconfCommand), starting full syncs in the child slot (startBgsaveForReplication), the
//! once-a-second replication cron (pings, keep-alives, timeouts, backlog TTL, output limits),
//! and WAIT's wake-ups. The links themselves and the sync children are `repl::primary`'s.

use super::data::{PauseKind, ShutdownRequest};
use super::{Argv, CmdError, CmdResult, Ctx};
use crate::engine::blocking::EndWait;
use crate::engine::session::{ClientKind, Session};
use crate::repl::feed::ReplFeed;
use crate::repl::primary::{self, ChildActivity, LinkState, ReplicaLink, SyncJob};
use tine_core::base;
use tine_core::log;
use tine_core::log::Level;

/// A replica of a replica must refuse to sync while its own primary link is down
/// (-NOMASTERLINK), as Redis's syncCommand.
pub(crate) fn master_link_is_down(data: &super::data::Data) -> bool {
    data.replica.is_replica() && !data.replica.link_up()
}

/// SYNC: the old protocol's full sync (no +FULLRESYNC line, no ACKs).
pub(crate) fn sync(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    sync_command(srv, c, argv)
}

/// PSYNC <replid> <offset>: continue from the backlog if it can, else a full sync.
pub(crate) fn psync(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    sync_command(srv, c, argv)
}

fn sync_command(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    // Already a replica: ignore, as Redis does.
    if c.kind == ClientKind::Replica {
        return Ok(());
    }
    if master_link_is_down(srv.data) {
        return Err(CmdError::new(
            "NOMASTERLINK",
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    if !c.obuf.is_empty() {
        return Err(CmdError::err("SYNC and PSYNC are invalid with pending output"));
    }
    let psync = base::lower(&argv[0]) == "psync";
    let conf = srv.data.primary.confs.remove(&c.id).unwrap_or_default();
    if conf.rdb_filter_functions && !conf.capa_eof {
        return Err(CmdError::err("Filtered replica requires EOF capability"));
    }
    let mut link = ReplicaLink::new(c.slot, c.id, conf, peer_ip(&c.addr));
    log!(Level::Notice, "Replica {} asks for synchronization", link.name);

    if psync {
        let replid = String::from_utf8_lossy(&argv[1]).into_owned();
        // An offset that is not a number is refused (Redis 7.0 used to start a full sync
        // and reply an error as well); the client stays what it was, its REPLCONFs kept.
        let Some(offset) = base::parse_i64(&argv[2]) else {
            log!(
                Level::Warning,
                "Replica {} asks for synchronization but with a wrong offset",
                link.name
            );
            srv.data.primary.confs.insert(c.id, link.conf);
            return Err(super::err::NOT_INTEGER);
        };
        if try_partial(srv, c, &mut link, &replid, offset) {
            c.kind = ClientKind::Replica;
            srv.data.primary.links.push(link);
            return Ok(());
        }
        if replid != "?" {
            srv.data.primary.stats.partial_err += 1;
        }
    } else {
        link.pre_psync = true;
    }
    // A full sync.
    srv.data.primary.stats.full += 1;
    c.kind = ClientKind::Replica;
    let rdb_only = link.conf.rdb_only;
    srv.data.primary.links.push(link);
    if !rdb_only && !srv.data.repl_buf.has_backlog() {
        create_backlog(srv);
    }
    let d = &mut *srv.data;
    let capa_eof = d.primary.link(c.slot).is_some_and(|l| l.conf.capa_eof);
    match primary::child_activity(d) {
        ChildActivity::Disk => {
            // A BGSAVE for replication runs: join it if another replica with the same
            // capabilities waits for it, sharing its position in the stream (Redis's
            // copyReplicaOutputBuffer). A BGSAVE started for another reason has no such
            // replica: wait for the next one.
            let me = c.slot;
            let other = d
                .primary
                .links
                .iter()
                .find(|l| {
                    l.slot != me
                        && l.state == LinkState::WaitBgsaveEnd
                        && !l.diskless
                        && l.conf.capa_eof == capa_eof
                        && l.conf.rdb_only == rdb_only
                })
                .map(|l| {
                    (
                        l.reader.as_ref().and_then(|r| d.repl_buf.add_replica_like(r)),
                        l.psync_initial_offset,
                    )
                });
            match other {
                Some((reader, offset)) => {
                    let replid = d.repl.replid().to_string();
                    let l = d.primary.link_mut(me).expect("just added");
                    l.reader = reader;
                    l.psync_initial_offset = offset;
                    l.state = LinkState::WaitBgsaveEnd;
                    if !l.pre_psync {
                        c.add_simple(&format!("FULLRESYNC {} {}", replid, offset));
                    }
                    log!(Level::Notice, "Waiting for end of BGSAVE for SYNC");
                }
                None => log!(
                    Level::Notice,
                    "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC"
                ),
            }
        }
        ChildActivity::Sockets => {
            log!(
                Level::Notice,
                "Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC"
            )
        }
        ChildActivity::Other => log!(
            Level::Notice,
            "No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed"
        ),
        ChildActivity::None => {
            if d.config.repl_diskless_sync && capa_eof && d.config.repl_diskless_sync_delay > 0 {
                log!(Level::Notice, "Delay next BGSAVE for diskless SYNC");
            } else {
                start_bgsave_for_replication(srv, Some(c));
            }
        }
    }
    Ok(())
}

/// The ip of "ip:port" (IPv6 "[..]:port" too).
fn peer_ip(addr: &str) -> String {
    match addr.rfind(':') {
        Some(i) => addr[..i].trim_start_matches('[').trim_end_matches(']').to_string(),
        None => addr.to_string(),
    }
}

/// Redis's masterTryPartialResynchronization: +CONTINUE and the backlog from `offset`.
fn try_partial(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    link: &mut ReplicaLink,
    replid: &str,
    offset: i64,
) -> bool {
    let d = &mut *srv.data;
    if !d.repl.shares_history(replid, offset) {
        if replid != "?" {
            if replid != d.repl.replid() && replid != d.repl.replid2() {
                log!(
                    Level::Notice,
                    "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{}', my replication IDs are '{}' and '{}')",
                    replid,
                    d.repl.replid(),
                    d.repl.replid2()
                );
            } else {
                log!(
                    Level::Notice,
                    "Partial resynchronization not accepted: Requested offset for second ID was {}, but I can reply up to {}",
                    offset,
                    d.repl.second_replid_offset()
                );
            }
        } else {
            log!(Level::Notice, "Full resync requested by replica {}", link.name);
        }
        return false;
    }
    let Some(reader) = d.repl_buf.add_replica_at(offset) else {
        log!(
            Level::Notice,
            "Unable to partial resync with replica {} for lack of backlog (Replica request was: {}).",
            link.name,
            offset
        );
        if offset > d.repl_buf.master_repl_offset() {
            log!(
                Level::Warning,
                "Warning: replica {} tried to PSYNC with an offset that is greater than the master replication offset.",
                link.name
            );
        }
        return false;
    };
    let pending = d.repl_buf.master_repl_offset() - offset + 1;
    link.reader = Some(reader);
    link.state = LinkState::Online;
    link.ack_off = offset - 1;
    if link.conf.capa_psync2 {
        c.add_simple(&format!("CONTINUE {}", d.repl.replid()));
    } else {
        c.add_simple("CONTINUE");
    }
    d.primary.stats.partial_ok += 1;
    log!(
        Level::Notice,
        "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {}.",
        link.name,
        pending,
        offset
    );
    true
}

/// The first replica of a node without history: a backlog, and a new replication id (the
/// history it starts is new as far as PSYNC can tell), as Redis's syncCommand.
fn create_backlog(srv: &mut Ctx<'_>) {
    let d = &mut *srv.data;
    d.repl.change_replid();
    d.repl.clear_replid2();
    d.repl_buf.create_backlog();
    log!(
        Level::Notice,
        "Replication backlog created, my new replication IDs are '{}' and '{}'",
        d.repl.replid(),
        d.repl.replid2()
    );
}

/// Starts a full sync child for the replicas waiting for one (Redis's
/// startBgsaveForReplication): diskless when configured and every waiting replica can read the
/// EOF-marker format, else to disk. Each waiting replica gets its position in the stream at
/// this point and its +FULLRESYNC line. `running` is the client whose command started it (out
/// of the client table).
pub(crate) fn start_bgsave_for_replication(srv: &mut Ctx<'_>, mut running: Option<&mut Session>) {
    let d = &mut *srv.data;
    if d.persist.child.is_some() {
        return;
    }
    // One snapshot serves replicas asking for the same content: the first waiting one's
    // (a functions-only RDB, `rdb-filter-only functions`, or the whole dataset); the others
    // wait for the next fork, as Redis's slave_req.
    let Some(filtered) = d
        .primary
        .links
        .iter()
        .find(|l| l.state == LinkState::WaitBgsaveStart)
        .map(|l| l.conf.rdb_filter_functions)
    else {
        return;
    };
    let joins = |l: &ReplicaLink| {
        l.state == LinkState::WaitBgsaveStart && l.conf.rdb_filter_functions == filtered
    };
    let waiting: Vec<usize> = d.primary.links.iter().filter(|l| joins(l)).map(|l| l.slot).collect();
    let all_eof = d.primary.links.iter().filter(|l| joins(l)).all(|l| l.conf.capa_eof);
    // A filtered snapshot is never a file others could use: always through the pipe.
    let diskless = (d.config.repl_diskless_sync || filtered) && all_eof;
    log!(
        Level::Notice,
        "Starting BGSAVE for SYNC with target: {}",
        if diskless { "replicas sockets" } else { "disk" }
    );
    // The stream after the snapshot starts with a SELECT (Redis resets slaveseldb to -1).
    d.repl_stream.force_select();
    let offset = d.repl_buf.master_repl_offset();
    let replid = d.repl.replid().to_string();
    let started = if diskless {
        // The stream was just reset to select again: its db is 0 in the aux fields, as
        // Redis's slaveseldb -1. No backlog (an rdb-only client): no repl aux fields.
        let info = primary::save_info(&d.repl_buf, &d.repl, None);
        match primary::start_diskless_child(d, info, filtered) {
            Ok(ch) => {
                log!(Level::Notice, "Background RDB transfer started by pid {}", ch.pid);
                crate::persist::child_slot::occupy(d, ch, Box::new(SyncJob { diskless: true }));
                Ok(())
            }
            Err(e) => {
                log!(Level::Warning, "Can't save in background: fork: {}", base::strerror(&e));
                Err(())
            }
        }
    } else {
        crate::persist::snapshot::bgsave_with_job(d, Box::new(SyncJob { diskless: false }))
            .map_err(|_| ())
    };
    for slot in waiting {
        let d = &mut *srv.data;
        let Some(l) = d.primary.link_mut(slot) else {
            continue;
        };
        let line = if started.is_ok() {
            l.state = LinkState::WaitBgsaveEnd;
            l.diskless = diskless;
            l.psync_initial_offset = offset;
            l.reader = d.repl_buf.add_replica_at_end();
            if l.pre_psync { None } else { Some(format!("+FULLRESYNC {} {}\r\n", replid, offset)) }
        } else {
            l.close = true;
            Some("-ERR BGSAVE failed, replication can't continue\r\n".to_string())
        };
        if started.is_err() {
            log!(Level::Warning, "BGSAVE for replication failed");
        }
        let Some(line) = line else {
            continue;
        };
        match running.as_deref_mut().filter(|s| s.slot == slot) {
            Some(s) => s.obuf.extend_from_slice(line.as_bytes()),
            None => {
                if let Some((s, _)) = srv.server.session(slot) {
                    s.obuf.extend_from_slice(line.as_bytes());
                    srv.data.pending_writes.push(slot);
                }
            }
        }
    }
}

/// REPLCONF <option> <value> ...
pub(crate) fn replconf(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(super::err::SYNTAX);
    }
    let mut conf = srv.data.primary.confs.get(&c.id).cloned().unwrap_or_default();
    for pair in argv[1..].chunks(2) {
        let opt = base::lower(&pair[0]);
        let val = &pair[1];
        match opt.as_str() {
            "listening-port" => match base::parse_i64(val).filter(|p| (0..=65535).contains(p)) {
                Some(p) => conf.listening_port = p as u16,
                None => return Err(super::err::NOT_INTEGER),
            },
            "ip-address" => {
                // Redis's NET_HOST_STR_LEN.
                if val.len() >= 256 {
                    return Err(CmdError::err(&format!(
                        "REPLCONF ip-address provided by replica instance is too long: {} bytes",
                        val.len()
                    )));
                }
                conf.ip = Some(String::from_utf8_lossy(val).into_owned());
            }
            "capa" => match base::lower(val).as_str() {
                "eof" => conf.capa_eof = true,
                "psync2" => conf.capa_psync2 = true,
                _ => {}
            },
            "ack" | "fack" => {
                // From a replica only, and never replied to (its output is the stream).
                if c.kind != ClientKind::Replica {
                    return Ok(());
                }
                if opt == "ack" {
                    if let Some(off) = base::parse_i64(val) {
                        replica_acked(srv, c.slot, off);
                    }
                }
                return Ok(());
            }
            "getack" => {
                // Only a replica answers GETACK (to its primary); nothing to do here.
                return Ok(());
            }
            "rdb-only" => match base::parse_i64(val) {
                Some(0) => conf.rdb_only = false,
                Some(1) => conf.rdb_only = true,
                Some(_) => {
                    return Err(CmdError::err("value is out of range, value must between 0 and 1"));
                }
                None => return Err(super::err::NOT_INTEGER),
            },
            "rdb-filter-only" => {
                let filters = String::from_utf8_lossy(val).to_ascii_lowercase();
                for f in filters.split_whitespace() {
                    if f != "functions" {
                        return Err(CmdError::err(&format!(
                            "Unsupported rdb-filter-only option: {}",
                            f
                        )));
                    }
                }
                conf.rdb_filter_functions = filters.contains("functions");
            }
            _ => {
                return Err(CmdError::err(&format!(
                    "Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(&pair[0])
                )));
            }
        }
    }
    if c.kind != ClientKind::Replica {
        srv.data.primary.confs.insert(c.id, conf);
    }
    c.add_ok();
    Ok(())
}

/// REPLCONF ACK from the replica in `slot`: its offset and the time, and the stream starts
/// for a diskless replica waiting for its first ACK.
fn replica_acked(srv: &mut Ctx<'_>, slot: usize, off: i64) {
    let d = &mut *srv.data;
    let Some(l) = d.primary.link_mut(slot) else {
        return;
    };
    if off > l.ack_off {
        l.ack_off = off;
    }
    l.ack_time = base::unix_time();
    if l.state == LinkState::Online && l.stream_on_ack {
        l.stream_on_ack = false;
        log!(Level::Notice, "Synchronization with replica {} succeeded", l.name);
        d.pending_writes.push(slot);
    }
}

/// Before every poll: GETACK for WAIT, WAIT's wake-ups, full syncs to start, links to close.
pub(crate) fn before_sleep(srv: &mut Ctx<'_>) {
    if srv.data.primary.links.is_empty() && srv.data.primary.waiting.is_empty() {
        return;
    }
    if std::mem::take(&mut srv.data.primary.get_ack) && !srv.data.primary.links.is_empty() {
        let argv = [b"REPLCONF".to_vec(), b"GETACK".to_vec(), b"*".to_vec()];
        let d = &mut *srv.data;
        ReplFeed { buf: &mut d.repl_buf, stream: &mut d.repl_stream }.feed_in_current_db(&argv);
    }
    process_waits(srv);
    close_marked(srv);
    maybe_start_sync(srv);
}

/// Closes the clients of links marked for closing (failed syncs, limits, rdb-only done).
fn close_marked(srv: &mut Ctx<'_>) {
    let marked: Vec<usize> =
        srv.data.primary.links.iter().filter(|l| l.close).map(|l| l.slot).collect();
    for slot in marked {
        if let Some((s, _)) = srv.server.session(slot) {
            if !s.close_after_reply {
                s.close_after_reply = true;
                srv.data.pending_writes.push(slot);
            }
        }
    }
}

/// Starts a full sync for waiting replicas when the slot is free: at once for disk, after
/// `repl-diskless-sync-delay` (or when `repl-diskless-sync-max-replicas` wait) for diskless
/// (Redis's replicationStartPendingFork).
fn maybe_start_sync(srv: &mut Ctx<'_>) {
    let d = &*srv.data;
    if d.persist.child.is_some() {
        return;
    }
    let waiting: Vec<&ReplicaLink> =
        d.primary.links.iter().filter(|l| l.state == LinkState::WaitBgsaveStart).collect();
    if waiting.is_empty() {
        return;
    }
    let diskless = d.config.repl_diskless_sync && waiting.iter().all(|l| l.conf.capa_eof);
    if diskless {
        let now = base::unix_time();
        let max_idle = waiting.iter().map(|l| now - l.ack_time).max().unwrap_or(0);
        let max = d.config.repl_diskless_sync_max_replicas;
        let enough = max > 0 && waiting.len() as i64 >= max;
        if max_idle < d.config.repl_diskless_sync_delay && !enough {
            return;
        }
    }
    start_bgsave_for_replication(srv, None);
}

/// Ends the WAITs whose replicas acknowledged enough (Redis's processClientsWaitingReplicas),
/// replying the count; a WAIT whose time is up is ended by the blocking machinery, which
/// replies the count too (`TimeoutReply::ReplicaAcks`). Forgets entries whose client is gone
/// or no longer blocked.
pub(crate) fn process_waits(srv: &mut Ctx<'_>) {
    if srv.data.primary.waiting.is_empty() {
        return;
    }
    let entries = std::mem::take(&mut srv.data.primary.waiting);
    let mut keep = Vec::with_capacity(entries.len());
    for w in entries {
        if srv.data.primary.acked(w.offset) >= w.numreplicas {
            srv.server.end_wait(srv.data, Some(w.slot), w.id, EndWait::Timeout);
        } else if srv
            .server
            .session(w.slot)
            .is_some_and(|(s, _)| s.id == w.id && s.blocked.is_some())
        {
            keep.push(w);
        }
    }
    keep.append(&mut srv.data.primary.waiting);
    srv.data.primary.waiting = keep;
}

/// Once a second (Redis's replicationCron, primary half): PING into the stream every
/// `repl-ping-replica-period`, "\n" to replicas waiting for their RDB, replicas timed out,
/// output buffer limits, the backlog freed after `repl-backlog-ttl` without replicas.
pub(crate) fn cron(srv: &mut Ctx<'_>, now_ms: i64) {
    let now = now_ms / 1000;
    if srv.data.primary.last_cron_sec == now {
        check_output_limits(srv, now_ms);
        return;
    }
    srv.data.primary.last_cron_sec = now;
    srv.data.primary.cron_loops += 1;
    let loops = srv.data.primary.cron_loops;
    let d = &mut *srv.data;
    let period = d.config.repl_ping_replica_period.max(1) as u64;
    if loops % period == 0 && !d.primary.links.is_empty() {
        let argv = [b"PING".to_vec()];
        ReplFeed { buf: &mut d.repl_buf, stream: &mut d.repl_stream }.feed_in_current_db(&argv);
    }
    // Keep-alives for replicas waiting for their snapshot to start (or a disk one to end).
    let presync: Vec<usize> = d
        .primary
        .links
        .iter()
        .filter(|l| {
            l.state == LinkState::WaitBgsaveStart
                || (l.state == LinkState::WaitBgsaveEnd && !l.diskless)
        })
        .map(|l| l.slot)
        .collect();
    for slot in presync {
        if let Some((s, _)) = srv.server.session(slot) {
            s.obuf.push(b'\n');
            srv.data.pending_writes.push(slot);
        }
    }
    let d = &mut *srv.data;
    let timeout = d.config.repl_timeout;
    for l in d.primary.links.iter_mut() {
        if l.close {
            continue;
        }
        let streaming = l.state == LinkState::Online && !l.pre_psync && !l.conf.rdb_only;
        if streaming && now - l.ack_time > timeout {
            log!(Level::Warning, "Disconnecting timedout replica (streaming sync): {}", l.name);
            l.close = true;
        } else if matches!(l.state, LinkState::WaitBgsaveEnd | LinkState::SendBulk)
            && l.stalled_since.is_some_and(|t| now_ms - t > timeout * 1000)
        {
            log!(Level::Warning, "Disconnecting timedout replica (full sync): {}", l.name);
            l.close = true;
        }
    }
    if d.primary.links.is_empty()
        && d.config.repl_backlog_ttl > 0
        && d.repl_buf.has_backlog()
        && master_is_self(d)
        && now - d.primary.no_replicas_since > d.config.repl_backlog_ttl
    {
        d.repl.change_replid();
        d.repl.clear_replid2();
        d.repl_buf.free_backlog();
        log!(
            Level::Notice,
            "Replication backlog freed after {} seconds without connected replicas.",
            d.config.repl_backlog_ttl
        );
    }
    check_output_limits(srv, now_ms);
    close_marked(srv);
    process_waits(srv);
    maybe_start_sync(srv);
}

/// True on a primary: `repl-backlog-ttl` frees the backlog only there (a replica keeps it,
/// as Redis), and `min-replicas-to-write` applies only there.
pub(crate) fn master_is_self(data: &super::data::Data) -> bool {
    !data.replica.is_replica()
}

fn check_output_limits(srv: &mut Ctx<'_>, now_ms: i64) {
    let d = &mut *srv.data;
    if d.primary.links.is_empty() {
        return;
    }
    let limits = primary::replica_output_limits(&d.config);
    for l in d.primary.links.iter_mut() {
        if !l.close && primary::over_output_limit(l, &d.repl_buf, limits, now_ms) {
            log!(
                Level::Warning,
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                l.client_id,
                l.name
            );
            l.close = true;
        }
    }
}

/// `min-replicas-to-write`: true when writes must be refused with -NOREPLICAS.
pub(crate) fn not_enough_good_replicas(data: &super::data::Data) -> bool {
    let c = &data.config;
    c.min_replicas_to_write > 0
        && c.min_replicas_max_lag > 0
        && master_is_self(data)
        && data.primary.good_replicas(c.min_replicas_max_lag, base::unix_time())
            < c.min_replicas_to_write
}

/// Redis's -NOREPLICAS.
pub(crate) const NOREPLICAS: CmdError =
    CmdError::new("NOREPLICAS", "NOREPLICAS Not enough good replicas to write.");

/// A shutdown waiting for its replicas to catch up (Redis 7.0's `shutdown_mstime` and the
/// clients blocked in SHUTDOWN): writes are paused meanwhile, and the top layer ends it before
/// a poll once every replica acknowledged the whole stream or the time is up
/// (`app::shutdown::before_poll`).
pub(crate) struct ShutdownWait {
    /// When it stops waiting (ms), `shutdown-timeout` after it began.
    pub(crate) deadline_ms: i64,
    /// What the shutdown was asked to do (SHUTDOWN's flags, or the signal's directive).
    pub(crate) req: ShutdownRequest,
    /// Clients blocked in SHUTDOWN, by slot and id: an error ends their wait if the shutdown
    /// fails or is aborted; otherwise the process exits under them.
    pub(crate) blocked: Vec<(usize, u64)>,
}

/// Redis's prepareForShutdown test: a shutdown without NOW waits (up to `shutdown-timeout`,
/// unless that is 0) while some replica has not acknowledged the whole stream.
pub(crate) fn shutdown_must_wait(data: &super::data::Data, req: &ShutdownRequest) -> bool {
    !req.now && data.config.shutdown_timeout != 0 && !replicas_in_sync(data)
}

/// Every replica acknowledged `master_repl_offset` (Redis's isReadyToShutdown).
pub(crate) fn replicas_in_sync(data: &super::data::Data) -> bool {
    data.primary.all_acked(data.repl_buf.master_repl_offset())
}

/// Begins waiting for the replicas (Redis's prepareForShutdown when it returns early): writes
/// are paused, and unless clients were already paused the replicas are asked for their offset
/// at once.
pub(crate) fn begin_shutdown_wait(data: &mut super::data::Data, req: ShutdownRequest) {
    let now = base::mstime();
    let paused = data.pause.is_some_and(|(_, until)| until > now);
    if !paused && !data.primary.links.is_empty() {
        let argv = [b"REPLCONF".to_vec(), b"GETACK".to_vec(), b"*".to_vec()];
        ReplFeed { buf: &mut data.repl_buf, stream: &mut data.repl_stream }
            .feed_in_current_db(&argv);
    }
    // A CLIENT PAUSE ALL running now holds everything until its end, then the shutdown's
    // write pause takes over (`Ctx::end_pause`); anything else becomes a write pause that
    // lasts as long as the wait.
    data.pause = match data.pause {
        Some((PauseKind::All, until)) if until > now => Some((PauseKind::All, until)),
        _ => Some((PauseKind::Write, i64::MAX)),
    };
    let timeout = data.config.shutdown_timeout.saturating_mul(1000);
    data.shutdown_wait =
        Some(ShutdownWait { deadline_ms: now.saturating_add(timeout), req, blocked: Vec::new() });
    log!(Level::Notice, "Waiting for replicas before shutting down.");
}

/// SHUTDOWN's part in the wait (Redis's shutdownCommand blocking its client): when a wait is
/// running, or this shutdown must wait, the client blocks until it ends. Returns false when
/// the shutdown may go ahead at once.
pub(crate) fn shutdown_blocks(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    req: ShutdownRequest,
) -> bool {
    if srv.data.shutdown_wait.is_none() {
        if !shutdown_must_wait(srv.data, &req) {
            return false;
        }
        log!(Level::Warning, "User requested shutdown...");
        begin_shutdown_wait(srv.data, req);
    }
    crate::engine::blocking::block_for_keys(
        srv,
        c,
        &[],
        0,
        argv,
        crate::engine::blocking::Retry::NONE,
    );
    if let Some(w) = srv.data.shutdown_wait.as_mut() {
        w.blocked.push((c.slot, c.id));
    }
    true
}

/// SHUTDOWN ABORT (Redis's abortShutdown): cancels a wait for replicas, or a signal's shutdown
/// not begun yet. False when there is none.
pub(crate) fn abort_shutdown(srv: &mut Ctx<'_>) -> bool {
    if srv.data.shutdown_wait.is_none() && srv.data.shutdown.is_none() {
        return false;
    }
    cancel_shutdown(srv);
    log!(Level::Notice, "Shutdown manually aborted.");
    true
}

/// Ends a shutdown that will not happen (Redis's cancelShutdown): the clients blocked in
/// SHUTDOWN get an error, and writes resume (a CLIENT PAUSE ALL that was running keeps its
/// time).
pub(crate) fn cancel_shutdown(srv: &mut Ctx<'_>) {
    srv.data.shutdown = None;
    let Some(w) = srv.data.shutdown_wait.take() else {
        return;
    };
    for (slot, id) in w.blocked {
        let Ctx { data, server } = srv;
        let Some((s, _)) = server.session(slot) else {
            continue;
        };
        if s.id != id || s.blocked.is_none() {
            continue;
        }
        data.blocking.detach(&mut data.keyspace, s);
        s.add_err("Errors trying to SHUTDOWN. Check logs.");
        data.pending_writes.push(slot);
        data.pending_input.push(slot);
    }
    let now = base::mstime();
    match srv.data.pause {
        Some((PauseKind::All, until)) if until != i64::MAX && until > now => {}
        Some(_) => srv.end_pause(),
        None => {}
    }
}

/// INFO's `shutdown_in_milliseconds`, while a shutdown waits for replicas.
pub(crate) fn shutdown_in_ms(data: &super::data::Data) -> Option<i64> {
    data.shutdown_wait.as_ref().map(|w| w.deadline_ms - base::mstime())
}
