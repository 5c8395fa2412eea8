//! The replica side's glue to the event loop and the server: what each step of the master
//! link (`repl::replica`) means for the server. It connects the link before a poll when
//! REPLICAOF or a lost link asks, feeds it its events (token `LINK_TOKEN`), installs a full
//! sync's keyspace and takes the primary's replication id and offset, turns the link into the
//! master client, runs the master client's commands (replies discarded, REPLCONF GETACK
//! answered, every applied byte proxied into this node's own replication buffer), and once a
//! second sends REPLCONF ACK and checks `repl-timeout`, as Redis's replicationCron.

use mio::{Interest, Token};

use crate::app::client::Client;
use crate::app::event_loop::{CLIENT_BASE, EventLoop, run_command};
use crate::app::server::Server;
use crate::engine::feed::Targets;
use crate::engine::session::{ClientKind, Session};
use crate::net::connection::Stream;
use crate::repl::feed::ReplFeed;
use crate::repl::replica::{LinkState, Step};
use tine_core::keyspace::Expiry;
use tine_core::log;
use tine_core::log::Level;
use tine_core::protocol::request::{Limits, Parsed};

/// Before every poll: a pending connect, a finished load, the replication info a startup
/// load found.
pub(crate) fn before_sleep(ev: &mut EventLoop, srv: &mut Server<'_>) {
    if let Some((id, offset, db)) = srv.data.persist.loaded_repl_info.take() {
        restore_repl_info(srv, id, offset, db);
        srv.data.persist.loaded_expired = Vec::new();
    }
    let r = &mut srv.data.replica;
    if r.connect_now {
        r.connect_now = false;
        if r.state == LinkState::Connect {
            r.connect(ev.registry());
        }
    }
    // The parser caught up with a payload left in the socket: read on.
    if srv.data.replica.parser_has_room() {
        on_link_event(ev, srv, false);
    }
    if let Some((job, result)) = srv.data.replica.finished_load() {
        finish_load(ev, srv, job, result);
    }
    track_own_expires(srv);
}

/// Notes the keys this replica's own clients gave an expiry (the keyspace reports them while
/// lazy expiry hides, Redis's rememberSlaveKeyWithExpire); only a writable replica has them.
fn track_own_expires(srv: &mut Server<'_>) {
    let noted = srv.data.keyspace.take_own_expires();
    if noted.is_empty() || !srv.data.replica.is_replica() {
        return;
    }
    for (db, key) in noted {
        // Redis's bitmap holds 64 dbs; keys of the others are left to the primary.
        if db < 64 {
            *srv.data.replica.own_expires.entry(key).or_insert(0) |= 1 << db;
        }
    }
}

/// Expires the keys this replica's own clients gave an expiry (Redis's expireSlaveKeys, run
/// with the cron): deleted when due (counted, announced, a DEL in this node's AOF), forgotten
/// when gone or persistent, kept otherwise; within about a millisecond per call.
fn expire_own_keys(srv: &mut Server<'_>, now_ms: i64) {
    if srv.data.replica.own_expires.is_empty() {
        return;
    }
    let start = std::time::Instant::now();
    let keys: Vec<(tine_core::keyspace::Key, u64)> =
        srv.data.replica.own_expires.iter().map(|(k, &dbs)| (k.clone(), dbs)).collect();
    for (i, (key, dbs)) in keys.into_iter().enumerate() {
        let mut left = 0u64;
        for db in (0..64usize).filter(|&d| dbs & (1 << d) != 0) {
            let Some(when) = srv.data.keyspace.get(db).and_then(|d| d.expire_of(&key)) else {
                continue;
            };
            if when <= now_ms {
                srv.data.keyspace.delete(db, &key);
                crate::engine::expire::ExpireHost::expired(&mut srv.ctx(), db, &key);
            } else {
                left |= 1 << db;
            }
        }
        if left == 0 {
            srv.data.replica.own_expires.remove(&key);
        } else {
            srv.data.replica.own_expires.insert(key, left);
        }
        if i % 64 == 63 && start.elapsed() > std::time::Duration::from_millis(1) {
            break;
        }
    }
}

/// Redis 7.0 at startup (loadDataFromDisk): an RDB with repl-id / repl-offset gives this node
/// its history back, so a replica continues with PSYNC (its cached master is itself) and a
/// primary keeps it as its second id for the replicas that followed it.
fn restore_repl_info(srv: &mut Server<'_>, id: String, offset: i64, db: i64) {
    let d = &mut *srv.data;
    // Older Redis versions saved a repl-stream-db of -1 by mistake: no history then, as Redis.
    if db < 0 || d.repl_buf.has_backlog() || !d.repl_buf.set_master_repl_offset(offset) {
        return;
    }
    d.repl.set_replid(&id);
    if d.replica.is_replica() {
        crate::commands::replicaof::cache_myself(d);
        d.replica.stream_db = (db as usize).min(d.keyspace.len() - 1);
    } else {
        // A primary keeps the restored history as its second one, with a backlog starting
        // after it (Redis 7.0's loadDataFromDisk for a master: replicas that followed it
        // continue).
        d.repl.shift_replid(offset);
        d.repl_buf.create_backlog();
        // The keys the load dropped as expired are still on those replicas: a DEL for each
        // opens the new backlog, as Redis's rdbLoad with RDBFLAGS_FEED_REPL (so a replica
        // that continues deletes them, and one too far behind resyncs in full).
        let del: &[u8] = if d.config.lazyfree_lazy_expire { b"UNLINK" } else { b"DEL" };
        let mut feed = ReplFeed { buf: &mut d.repl_buf, stream: &mut d.repl_stream };
        for (db, key) in std::mem::take(&mut d.persist.loaded_expired) {
            feed.feed(db, &[del.to_vec(), key.to_vec()]);
        }
    }
}

/// An event on the link's socket.
pub(crate) fn on_link_event(ev: &mut EventLoop, srv: &mut Server<'_>, writable: bool) {
    let port = srv.data.tcp_port;
    srv.data.replica.dataset_empty = srv.data.keyspace.total_keys() == 0;
    let step = srv.data.replica.on_event(ev.registry(), &srv.data.config, port, writable);
    if std::mem::take(&mut srv.data.replica.attach_pending) {
        disconnect_replicas(srv);
    }
    handle_step(ev, srv, step);
    // A small payload parsed inline is installed before any other client is served.
    if let Some((job, result)) = srv.data.replica.finished_load() {
        finish_load(ev, srv, job, result);
    }
}

fn handle_step(ev: &mut EventLoop, srv: &mut Server<'_>, step: Step) {
    match step {
        Step::Nothing | Step::Loading | Step::Failed | Step::FullSyncStarted => {}
        Step::Continue { new_replid } => {
            let d = &mut *srv.data;
            if let Some(new) = new_replid {
                // The old id stays valid up to here for our own sub-replicas.
                let old = d.repl.replid().to_string();
                let next = d.repl_buf.master_repl_offset() + 1;
                d.repl.set_replid2(&old, next);
                d.repl.set_replid(&new);
                if let Some(c) = d.replica.cached.as_mut() {
                    c.0 = new;
                }
                disconnect_replicas(srv);
            }
            srv.data.repl_buf.create_backlog();
            srv.data.replica.cached = None;
            become_master_client(ev, srv);
        }
    }
}

/// Sub-replicas must resync (a full sync begins, or the history changed id).
fn disconnect_replicas(srv: &mut Server<'_>) {
    for c in srv.clients.iter_mut() {
        if c.session.kind == ClientKind::Replica {
            c.session.close_asap = true;
        }
    }
}

/// The payload is parsed: install it and take the primary's history, or give up the link.
fn finish_load(
    ev: &mut EventLoop,
    srv: &mut Server<'_>,
    job: crate::repl::replica::LoadJob,
    result: Result<tine_core::rdb::LoadedRdb, String>,
) {
    let disk = job.temp.is_some();
    let swapdb = !disk
        && srv.data.config.repl_diskless_load == crate::config::enums::ReplDisklessLoad::SwapDb;
    // A payload cut short that still parsed (its end was past the RDB's, the mark) failed
    // all the same, as Redis's check of the EOF mark.
    let result = match result {
        Ok(_) if job.cut => Err("Replication stream EOF marker is broken".to_string()),
        r => r,
    };
    let loaded = match result {
        Ok(l) => l,
        Err(e) => {
            for line in e.lines() {
                log!(Level::Warning, "{}", line);
            }
            log!(
                Level::Warning,
                "Failed trying to load the MASTER synchronization DB from {}, check server logs.",
                if disk { "disk" } else { "socket" }
            );
            if swapdb {
                log!(
                    Level::Notice,
                    "MASTER <-> REPLICA sync: Discarding temporary DB in background"
                );
            }
            if let Some(p) = &job.temp {
                let _ = std::fs::remove_file(p);
            }
            srv.data.replica.cancel_handshake();
            srv.data.replica.state = LinkState::Connect;
            return;
        }
    };
    if let Some(temp) = &job.temp {
        let dest = crate::persist::snapshot::rdb_path(srv.data);
        if let Err(e) = std::fs::rename(temp, &dest) {
            log!(
                Level::Warning,
                "Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {}",
                dest.display(),
                e
            );
            let _ = std::fs::remove_file(temp);
            srv.data.replica.cancel_handshake();
            srv.data.replica.state = LinkState::Connect;
            return;
        }
    }
    // The libraries replace ours (Redis empties the function engine with the data), after the
    // file is in place as Redis loads it; one that fails to load fails the sync, ours kept.
    {
        use crate::persist::PersistHost;
        if let Err(e) = srv.data.load_functions(&loaded.functions, true, false) {
            log!(Level::Warning, "Failed loading library, {}", e);
            log!(
                Level::Warning,
                "Failed trying to load the MASTER synchronization DB from {}, check server logs.",
                if disk { "disk" } else { "socket" }
            );
            srv.data.replica.cancel_handshake();
            srv.data.replica.state = LinkState::Connect;
            return;
        }
    }
    if swapdb {
        log!(Level::Notice, "MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
    } else {
        log!(Level::Notice, "MASTER <-> REPLICA sync: Flushing old data");
    }
    let d = &mut *srv.data;
    let (keys, expired) = (loaded.keys_loaded, loaded.keys_expired);
    let stream_db = loaded
        .aux("repl-stream-db")
        .and_then(tine_core::base::parse_i64)
        .filter(|&n| n >= 0 && (n as usize) < d.keyspace.len())
        .unwrap_or(0) as usize;
    let old = d.keyspace.install(loaded.dbs);
    // Keys of the replaced dataset (Redis's emptyData flushes slaveKeysWithExpire).
    d.replica.own_expires.clear();
    // Freeing a large dataset takes a while: not on the event loop.
    let freed = std::thread::Builder::new().name("tine-repl-free".into()).spawn(move || drop(old));
    if freed.is_err() {
        log!(Level::Warning, "Can't start the thread that frees the old dataset: freed inline");
    }
    d.persist.rdb_last_load_keys_loaded = keys;
    d.persist.rdb_last_load_keys_expired = expired;
    d.dirty += 1;
    log!(Level::Notice, "Done loading RDB, keys loaded: {}, keys expired: {}.", keys, expired);
    if swapdb {
        log!(Level::Notice, "MASTER <-> REPLICA sync: Discarding old DB in background");
    }
    // Sub-replicas follow the history this load replaced: they resync with us (Redis's
    // replicationAttachToNewMaster; a swapdb load attaches only now, on success).
    srv.data.replica.attach();
    srv.data.replica.attach_pending = false;
    // Closed now, not at the end of the event: their hold on the replication buffer must go
    // before the backlog is made again at the new offset.
    let subs: Vec<usize> = srv
        .clients
        .iter()
        .filter(|c| c.session.kind == ClientKind::Replica)
        .map(|c| c.session.slot)
        .collect();
    for slot in subs {
        ev.close_client(srv, slot);
    }
    let d = &mut *srv.data;
    // The primary's history from +FULLRESYNC: its id, its offset, and a backlog of our own
    // (PSYNC2: a replica keeps one, to serve its sub-replicas and a promotion).
    let (id, offset) = d.replica.fullsync.take().unwrap_or_else(|| ("?".to_string(), -1));
    if !d.repl_buf.free_backlog() {
        log!(Level::Warning, "Replication backlog kept: sub-replicas still attached");
    }
    if id.len() == 40 {
        d.repl.set_replid(&id);
    } else {
        d.repl.change_replid();
    }
    d.repl.clear_replid2();
    d.repl_buf.set_master_repl_offset(offset.max(0));
    d.repl_buf.create_backlog();
    d.replica.stream_db = stream_db;
    // The AOF holds the old dataset and none of the loaded one: a rewrite starts it again
    // from what was loaded (Redis's stop/restart of the AOF around a full sync).
    if d.aof.status != crate::persist::aof::Status::Off {
        crate::persist::aof::stop_append_only(d);
        restart_aof(d);
    }
    become_master_client(ev, srv);
    if srv.data.replica.master_slot.is_some() {
        // The primary streams nothing after a diskless payload before our first ACK.
        send_ack(srv);
        log!(Level::Notice, "MASTER <-> REPLICA sync: Finished with success");
    }
}

/// Redis's restartAOFAfterSYNC: retried once a second (cron) until it starts.
fn restart_aof(d: &mut crate::commands::data::Data) {
    d.replica.aof_restart_pending = crate::persist::aof::start_append_only(d).is_err();
    if d.replica.aof_restart_pending {
        log!(
            Level::Warning,
            "Failed enabling the AOF after successful master synchronization! Trying it again in one second."
        );
    }
}

/// The link becomes the master client (Redis's replicationCreateMasterClient).
fn become_master_client(ev: &mut EventLoop, srv: &mut Server<'_>) {
    let Some((sock, leftover)) = srv.data.replica.take_link(ev.registry()) else {
        srv.data.replica.state = LinkState::Connect;
        return;
    };
    let addr = sock.peer_addr().map(|a| Session::format_addr(&a)).unwrap_or_default();
    let laddr = sock.local_addr().map(|a| Session::format_addr(&a)).unwrap_or_default();
    let _ = sock.set_nodelay(!srv.data.config.repl_disable_tcp_nodelay);
    let slot = srv.clients.vacant_slot();
    let now = tine_core::base::unix_time();
    let mut c =
        Box::new(Client::new(srv.data.next_client_id, slot, Stream::Tcp(sock), addr, laddr, now));
    srv.data.next_client_id += 1;
    c.session.kind = ClientKind::Primary;
    c.session.authenticated = true;
    c.session.db = srv.data.replica.stream_db;
    if !leftover.is_empty() {
        let spare = c.conn.qbuf.spare(leftover.len());
        spare[..leftover.len()].copy_from_slice(&leftover);
        c.conn.qbuf.filled(leftover.len());
    }
    let token = Token(CLIENT_BASE + slot);
    let registered = match &mut c.conn.stream {
        Stream::Tcp(s) => ev.registry().register(s, token, Interest::READABLE),
        Stream::Unix(s) => ev.registry().register(s, token, Interest::READABLE),
    };
    srv.add_client(c);
    if let Err(e) = registered {
        log!(Level::Warning, "Error registering the master link: {}", e);
        srv.remove_client(slot);
        srv.data.replica.state = LinkState::Connect;
        return;
    }
    let r = &mut srv.data.replica;
    r.master_slot = Some(slot);
    r.state = LinkState::Connected;
    r.down_since = 0;
    r.unapplied = 0;
    r.last_io = now;
    // What arrived with the last handshake or payload bytes, and what waits in the socket
    // (no new edge will announce it), are read and run before the next poll.
    srv.data.pending_input.push(slot);
    ev.defer_read(slot, false);
}

/// True for REPLCONF GETACK, which the master client's input path answers itself.
fn is_getack(argv: &[Vec<u8>]) -> bool {
    argv.len() >= 2
        && argv[0].eq_ignore_ascii_case(b"replconf")
        && argv[1].eq_ignore_ascii_case(b"getack")
}

/// REPLCONF ACK <applied offset> to the primary (Redis's replicationSendAck).
fn send_ack(srv: &mut Server<'_>) {
    let Some(slot) = srv.data.replica.master_slot else {
        return;
    };
    let off = srv.data.repl_buf.master_repl_offset().to_string();
    let argv = vec![b"REPLCONF".to_vec(), b"ACK".to_vec(), off.into_bytes()];
    if let Some(c) = srv.clients.get_mut(slot) {
        crate::persist::aof::writer::cat_command(&mut c.session.obuf, &argv);
        srv.data.pending_writes.push(slot);
    }
}

/// Runs the master client's commands (Redis's processInputBuffer for CLIENT_MASTER, then
/// commandProcessed): replies are discarded, writes are allowed on a read-only replica and go
/// to this node's AOF only, expired keys are there for them, and each applied command's bytes
/// (a whole transaction once EXEC ran) are appended verbatim to this node's replication
/// buffer, which moves `master_repl_offset` (the applied offset, Redis's reploff).
pub(crate) fn process_master_input(ev: &mut EventLoop, srv: &mut Server<'_>, c: &mut Client) {
    // Everything before `applied` is applied (and proxied); the buffer is compacted to it
    // after every call, so it starts at 0.
    let mut applied = 0;
    loop {
        if c.session.close_asap || c.session.close_after_reply {
            break;
        }
        let limits =
            Limits { max_bulk_len: srv.data.config.proto_max_bulk_len, authenticated: true };
        match c.conn.parser.next(c.conn.qbuf.data(), &mut c.conn.qpos, limits) {
            Parsed::Command => {
                if is_getack(&c.conn.parser.argv) {
                    c.conn.parser.argv.clear();
                    let off = srv.data.repl_buf.master_repl_offset().to_string();
                    let argv = vec![b"REPLCONF".to_vec(), b"ACK".to_vec(), off.into_bytes()];
                    crate::persist::aof::writer::cat_command(&mut c.session.obuf, &argv);
                } else {
                    let mark = c.session.obuf.len();
                    srv.data.prop.targets = Targets::AOF;
                    srv.data.keyspace.set_expiry(Expiry::Keep);
                    run_command(ev, srv, c);
                    srv.data.keyspace.set_expiry(Expiry::Hide);
                    srv.data.prop.targets = Targets::ALL;
                    if c.session.obuf.get(mark) == Some(&b'-') {
                        // The datasets may now differ: say so, as Redis's afterErrorReply.
                        let reply = String::from_utf8_lossy(&c.session.obuf[mark + 1..]);
                        log!(
                            Level::Warning,
                            "== CRITICAL == This replica is sending an error to its master: '{}' after processing the command '{}'",
                            reply.trim_end(),
                            c.session.last_cmd
                        );
                    }
                    c.session.obuf.truncate(mark);
                    c.session.paused = false;
                }
                if c.session.multi.is_none() {
                    let bytes = &c.conn.qbuf.data()[applied..c.conn.qpos];
                    srv.data.repl_buf.append(bytes);
                    applied = c.conn.qpos;
                }
            }
            Parsed::Incomplete => break,
            Parsed::Error(e) => {
                log!(
                    Level::Warning,
                    "Protocol error ({}) from client: id={} addr={}. Closing the master link.",
                    e.message(),
                    c.session.id,
                    c.session.addr
                );
                c.session.close_asap = true;
                break;
            }
        }
    }
    // Drop what is applied; keep the rest (a transaction waiting for its EXEC, a partial
    // command) at the front.
    c.conn.qbuf.consume(applied);
    c.conn.qpos -= applied;
    srv.data.replica.unapplied = c.conn.qbuf.len() as i64;
    // The db the primary's stream has selected: an RDB saved now records it as
    // repl-stream-db (Redis's rdbPopulateSaveInfo on a replica).
    srv.data.replica.stream_db = c.session.db;
    srv.data.replica.last_io = c.session.last_interaction;
}

/// The master client is gone (EOF, error, timeout, CLIENT KILL): cache its history for PSYNC
/// and reconnect at once (Redis's replicationCacheMaster and
/// replicationHandleMasterDisconnection).
pub(crate) fn master_lost(srv: &mut Server<'_>, slot: usize) {
    if srv.data.replica.master_slot != Some(slot) {
        return;
    }
    log!(Level::Warning, "Connection with master lost.");
    log!(Level::Notice, "Caching the disconnected master state.");
    crate::commands::replicaof::cache_myself(srv.data);
    let r = &mut srv.data.replica;
    r.master_slot = None;
    r.unapplied = 0;
    r.down_since = tine_core::base::unix_time();
    if let Some((host, port)) = &r.master {
        r.state = LinkState::Connect;
        log!(Level::Notice, "Reconnecting to MASTER {}:{}", host, port);
        r.connect_now = true;
    }
}

/// Once a second: the link's timeouts and reconnection, REPLCONF ACK, the master timeout.
pub(crate) fn cron(ev: &mut EventLoop, srv: &mut Server<'_>, now_ms: i64) {
    if srv.data.replica.is_replica() && srv.data.debug_active_expire {
        expire_own_keys(srv, now_ms);
    }
    if now_ms - srv.data.replica.last_cron_ms < 1000 {
        return;
    }
    srv.data.replica.last_cron_ms = now_ms;
    // Not while the startup load runs: its RDB may hold the history to continue (Redis loads
    // before it connects).
    if !srv.data.replica.is_replica() || srv.data.loading.is_some() {
        return;
    }
    srv.data.replica.cron(ev.registry(), &srv.data.config);
    if srv.data.replica.aof_restart_pending {
        restart_aof(srv.data);
    }
    let Some(slot) = srv.data.replica.master_slot else {
        return;
    };
    let idle = match srv.clients.get_mut(slot) {
        Some(c) => tine_core::base::unix_time() - c.session.last_interaction,
        None => return,
    };
    if idle > srv.data.config.repl_timeout {
        log!(Level::Warning, "MASTER timeout: no data nor PING received...");
        ev.close_client(srv, slot);
        return;
    }
    send_ack(srv);
}
