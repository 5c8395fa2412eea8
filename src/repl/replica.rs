//! The replica side of replication: the link to this node's primary from REPLICAOF to the
//! moment it becomes the master client, as Redis 7.0's syncWithMaster / readSyncBulkPayload
//! (replication.c). Everything runs on the event loop without blocking: a non-blocking
//! connect, the handshake (PING, AUTH, REPLCONF listening-port / ip-address / capa, PSYNC) as
//! a state machine fed by readable and writable events, then the full sync's payload in either
//! form (`$<len>` from a disk-based primary, `$EOF:<mark>` from a diskless one): written to a
//! temp file and parsed once complete (`repl-diskless-load disabled`), or streamed as it
//! arrives to a loader thread that parses it into a new keyspace (`swapdb`, `on-empty-db`
//! into an empty dataset) while the old one stays, serving reads when the primary continues
//! the same history (async loading). The old keyspace is replaced only on success.
//!
//! This module owns the socket and the bytes; what a step means for the server (installing
//! the keyspace, the replication id and offset, turning the socket into a client) is the top
//! layer's (`app::replication`), which gets each outcome as a `Step`. The primary's history
//! this node keeps for PSYNC (Redis's cached master) is `cached`.

use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::config::Config;
use crate::config::enums::ReplDisklessLoad;
use tine_core::base::unix_time;
use tine_core::log;
use tine_core::log::Level;
use tine_core::rdb::LoadedRdb;

/// The event loop's token for the master link while it is not a client yet.
pub(crate) const LINK_TOKEN: Token = Token(1002);

/// Length of the EOF mark of a diskless primary's payload (Redis's RDB_EOF_MARK_SIZE).
const EOF_MARK_SIZE: usize = 40;

/// Payloads up to this size are parsed at once on the event loop: as short a stop as Redis's
/// own load, which serves events (and -LOADING) only every 2 MB, so small syncs never refuse
/// a client with -LOADING. Larger ones are parsed on a thread.
const INLINE_LOAD_MAX: u64 = 2 * 1024 * 1024;

/// Bytes read from the link per read(2).
const READ_CHUNK: usize = 16 * 1024;

/// Payload bytes handed to the parser and not parsed yet beyond which the link is not read:
/// the rest waits in the socket, so a slow parse slows the primary down (as Redis's loader,
/// which reads the socket as it parses) instead of piling the payload up in memory.
const PARSER_QUEUE_MAX: usize = 32 * 1024 * 1024;

/// Where the link stands (Redis's repl_state).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum LinkState {
    /// Not a replica.
    None,
    /// To connect at the next cron.
    Connect,
    /// Non-blocking connect in progress.
    Connecting,
    /// PING sent.
    ReceivePing,
    /// AUTH and REPLCONF sent; their replies are read in order.
    Handshake,
    /// PSYNC (or SYNC) sent.
    ReceivePsync,
    /// Receiving the full sync's payload.
    Transfer,
    /// The payload is parsed on a thread.
    Loading,
    /// The link is the master client.
    Connected,
}

/// One reply of the handshake we wait for, in order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Auth,
    Port,
    Ip,
    Capa,
}

/// Where the payload goes while it arrives: a temp file (`repl-diskless-load disabled`), or
/// the loader thread, which parses it as it comes into a new keyspace (diskless load).
enum Sink {
    File {
        path: PathBuf,
        file: std::fs::File,
    },
    /// The channel to the parser, and the bytes in it the parser has not taken yet.
    Parser(mpsc::Sender<Vec<u8>>, Arc<AtomicUsize>),
}

/// The payload as the loader thread reads it: the chunks the event loop received, in order;
/// the channel's end (the transfer finished, or was dropped) is the end of the stream, so a
/// cut transfer is a short read for the parser, whose work is then thrown away.
struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    /// Bytes handed to the parser: where a short read happened (Redis's
    /// loading_loaded_bytes in its report).
    consumed: u64,
    /// Bytes sent and not received yet (`PARSER_QUEUE_MAX`).
    queued: Arc<AtomicUsize>,
}

impl ChannelReader {
    #[cfg(test)]
    fn new(rx: mpsc::Receiver<Vec<u8>>) -> ChannelReader {
        ChannelReader::with_queue(rx, Arc::new(AtomicUsize::new(0)))
    }

    fn with_queue(rx: mpsc::Receiver<Vec<u8>>, queued: Arc<AtomicUsize>) -> ChannelReader {
        ChannelReader { rx, chunk: Vec::new(), pos: 0, consumed: 0, queued }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.queued.fetch_sub(c.len(), Ordering::Relaxed);
                    self.chunk = c;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        self.consumed += n as u64;
        Ok(n)
    }
}

/// A full sync's payload being received.
struct Transfer {
    /// `$<len>` length (None until the preamble is read, or with an EOF mark).
    size: Option<u64>,
    mark: Option<Vec<u8>>,
    preamble_done: bool,
    read: u64,
    /// The last `EOF_MARK_SIZE` bytes received, to spot the mark.
    last: Vec<u8>,
    sink: Sink,
    last_io: i64,
}

/// A payload being parsed on the loader thread.
pub(crate) struct LoadJob {
    thread: Option<std::thread::JoinHandle<Result<LoadedRdb, String>>>,
    /// The result of a payload parsed inline (`INLINE_LOAD_MAX`).
    ready: Option<Result<LoadedRdb, String>>,
    /// The temp file (disabled mode), renamed to `dbfilename` on success, deleted otherwise.
    pub(crate) temp: Option<PathBuf>,
    /// True when clients keep being served the old data meanwhile (swapdb, same history).
    pub(crate) async_loading: bool,
    /// The primary went away before the payload's end: whatever the parser makes of what
    /// arrived, the sync failed (Redis's check of the EOF mark after the load).
    pub(crate) cut: bool,
    cancel: Arc<AtomicBool>,
}

/// What a step of the link asks of the server.
pub(crate) enum Step {
    Nothing,
    /// +CONTINUE: the socket becomes the master client now (with the bytes already read);
    /// `new_replid`: the primary's history has a new id.
    Continue {
        new_replid: Option<String>,
    },
    /// +FULLRESYNC: a full sync begins. The sub-replicas and the cached master stay until
    /// the payload is about to replace the data (`Replica::attach_pending`).
    FullSyncStarted,
    /// The payload arrived and is being parsed (`Replica::load`).
    Loading,
    /// The link failed (logged); it is closed and will be retried.
    Failed,
}

/// The replica side's state (see the module doc).
pub(crate) struct Replica {
    /// The primary, when this node is a replica (Redis's masterhost / masterport).
    pub(crate) master: Option<(String, u16)>,
    pub(crate) state: LinkState,
    sock: Option<TcpStream>,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    expect: Vec<Expect>,
    transfer: Option<Transfer>,
    pub(crate) load: Option<LoadJob>,
    /// The history this node can continue (Redis's cached master): replid and offset.
    pub(crate) cached: Option<(String, i64)>,
    /// +FULLRESYNC's replid and offset (Redis's master_replid / master_initial_offset).
    pub(crate) fullsync: Option<(String, i64)>,
    /// The master client's slot once the link is one.
    pub(crate) master_slot: Option<usize>,
    /// Bytes read from the master client beyond what is applied (`slave_read_repl_offset` is
    /// the applied offset plus these).
    pub(crate) unapplied: i64,
    /// When the link state last changed to down (Redis's repl_down_since; 0: never up).
    pub(crate) down_since: i64,
    /// Last byte received from the primary (handshake, transfer or stream), unix seconds; the
    /// handshake's timeout counts from it, so a primary's newlines keep a slow one alive.
    pub(crate) last_io: i64,
    /// The db the master client starts in (aux `repl-stream-db` of the payload or of the
    /// startup RDB), then the db its stream has selected: what an RDB saved on this replica
    /// records as repl-stream-db.
    pub(crate) stream_db: usize,
    /// Last time the cron's once-a-second work ran (ms).
    pub(crate) last_cron_ms: i64,
    /// The history this node followed before a full sync began: when the primary's is the
    /// same, swapdb serves the old data during the load (async loading).
    prev_replid: Option<String>,
    /// Connect before the next poll rather than at the next cron (REPLICAOF, a lost link),
    /// as Redis connects at once there.
    pub(crate) connect_now: bool,
    /// Whether this node holds no keys, set by the server before each event: with
    /// `repl-diskless-load on-empty-db` the payload goes to the parser only then.
    pub(crate) dataset_empty: bool,
    /// A full sync is about to replace the data with the new primary's (Redis's
    /// replicationAttachToNewMaster): the server disconnects the sub-replicas, which follow
    /// the old history. Redis 7.0 waits for this moment, not +FULLRESYNC, so a full sync that
    /// fails before it (the primary dies mid-transfer) leaves the chain and the cached master
    /// as they were: a disk load at the end of the transfer, a diskless load into the dataset
    /// at its start, a swapdb load once it succeeded (the server's own step).
    pub(crate) attach_pending: bool,
    /// The AOF could not restart after a full sync: the cron tries again.
    pub(crate) aof_restart_pending: bool,
    /// Keys this writable replica's own clients gave an expiry, with a bit per db (0-63) they
    /// were set in (Redis's slaveKeysWithExpire): the replica expires these itself, the
    /// primary's keys only by its DELs. INFO's `slave_expires_tracked_keys`.
    pub(crate) own_expires: std::collections::HashMap<tine_core::keyspace::Key, u64>,
    /// Bytes read from the primary: handshake, payload and stream (INFO
    /// `total_net_repl_input_bytes`; the master client's reads add theirs).
    pub(crate) net_repl_input_bytes: u64,
    /// The primary closed the link after the bytes the last read returned: the next read
    /// reports the end (the poll is edge-triggered, no new event would).
    peer_closed: bool,
    /// The link is left unread while the parser catches up (`parser_full`).
    pub(crate) throttled: bool,
}

impl Default for Replica {
    fn default() -> Replica {
        Replica {
            master: None,
            state: LinkState::None,
            sock: None,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            expect: Vec::new(),
            transfer: None,
            load: None,
            cached: None,
            fullsync: None,
            master_slot: None,
            unapplied: 0,
            down_since: 0,
            last_io: 0,
            stream_db: 0,
            last_cron_ms: 0,
            prev_replid: None,
            connect_now: false,
            dataset_empty: true,
            aof_restart_pending: false,
            own_expires: Default::default(),
            net_repl_input_bytes: 0,
            peer_closed: false,
            throttled: false,
            attach_pending: false,
        }
    }
}

/// A command in RESP (the handshake's own, short: no need for the AOF writer's scratch).
fn resp(args: &[&[u8]]) -> Vec<u8> {
    let argv: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    let mut out = Vec::new();
    crate::persist::aof::writer::cat_command(&mut out, &argv);
    out
}

impl Replica {
    /// This node is a replica (Redis's `server.masterhost != NULL`). The primary side answers
    /// PSYNC/SYNC with -NOMASTERLINK when this is true and `link_up` is false.
    pub(crate) fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    /// The link to the primary is up: the master client exists (Redis's
    /// `repl_state == REPL_STATE_CONNECTED`).
    pub(crate) fn link_up(&self) -> bool {
        self.state == LinkState::Connected
    }

    /// ROLE's state word (Redis's replstateToString).
    pub(crate) fn state_word(&self) -> &'static str {
        match self.state {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::ReceivePing | LinkState::Handshake | LinkState::ReceivePsync => "handshake",
            LinkState::Transfer | LinkState::Loading => "sync",
            LinkState::Connected => "connected",
            LinkState::None => "unknown",
        }
    }

    /// True while the payload is received or loaded (`master_sync_in_progress`).
    pub(crate) fn sync_in_progress(&self) -> bool {
        matches!(self.state, LinkState::Transfer)
    }

    /// Clients get -LOADING while a full sync's payload is parsed, unless the old data is
    /// served meanwhile (async loading).
    pub(crate) fn blocks_clients(&self) -> bool {
        self.load.as_ref().is_some_and(|l| !l.async_loading)
    }

    /// A full sync's payload is being loaded, async or not (Redis's server.loading).
    pub(crate) fn loading(&self) -> bool {
        self.load.is_some()
    }

    pub(crate) fn async_loading(&self) -> bool {
        self.load.as_ref().is_some_and(|l| l.async_loading)
    }

    /// The transfer's figures for INFO: (total or -1, read, last io).
    pub(crate) fn transfer_figures(&self) -> Option<(i64, i64, i64)> {
        let t = self.transfer.as_ref()?;
        let total = match (&t.mark, t.size) {
            (Some(_), _) => 0,
            (None, Some(s)) => s as i64,
            (None, None) => -1,
        };
        Some((total, t.read as i64, t.last_io))
    }

    /// Drops the link (socket, handshake, transfer, load) without touching the master
    /// client, which the server closes itself (Redis's cancelReplicationHandshake).
    /// Dropping the socket closes it, which takes it out of the poll as well.
    pub(crate) fn cancel_handshake(&mut self) {
        self.sock = None;
        self.peer_closed = false;
        self.inbuf.clear();
        self.outbuf.clear();
        self.expect.clear();
        if let Some(t) = self.transfer.take() {
            match t.sink {
                Sink::File { path, .. } => {
                    let _ = std::fs::remove_file(path);
                }
                // The parser gets the end of its stream and gives up; its keyspace is dropped.
                Sink::Parser(..) => log!(
                    Level::Notice,
                    "MASTER <-> REPLICA sync: Discarding temporary DB in background"
                ),
            }
        }
        if let Some(l) = self.load.take() {
            l.cancel.store(true, Ordering::Relaxed);
            // The thread parses memory or a file we are about to delete: let it finish alone.
            if let Some(p) = l.temp {
                let _ = std::fs::remove_file(p);
            }
        }
    }

    fn transfer_to_parser(&self) -> bool {
        self.transfer.as_ref().is_some_and(|t| matches!(t.sink, Sink::Parser(..)))
    }

    /// The parser is behind by `PARSER_QUEUE_MAX`: the link is not read meanwhile. The
    /// server reads it again once `parser_has_room` (before each poll, which comes at least
    /// every 10 ms during a load). The transfer is not idle for `repl-timeout` meanwhile: the
    /// wait is ours, as Redis's load does not time its own transfer out.
    pub(crate) fn parser_full(&mut self) -> bool {
        let Some(t) = self.transfer.as_mut() else { return false };
        let Sink::Parser(_, queued) = &t.sink else { return false };
        let full = queued.load(Ordering::Relaxed) >= PARSER_QUEUE_MAX;
        if full {
            t.last_io = unix_time();
        }
        full
    }

    /// The link was left unread for a full parser that has room again (half drained).
    pub(crate) fn parser_has_room(&self) -> bool {
        self.throttled
            && self.transfer.as_ref().is_some_and(|t| match &t.sink {
                Sink::Parser(_, queued) => queued.load(Ordering::Relaxed) < PARSER_QUEUE_MAX / 2,
                Sink::File { .. } => true,
            })
    }

    /// The primary went away in the middle of a payload streamed to the parser: the parser
    /// gets the end of its stream now and reports the short read it meets, which fails the
    /// sync once it has stopped (Redis reads the socket inside its loader, so the loader logs
    /// the cut). The old data stays meanwhile, still served during an async load.
    fn cut_transfer(&mut self) -> Step {
        self.sock = None;
        self.peer_closed = false;
        self.inbuf.clear();
        self.outbuf.clear();
        self.transfer = None; // the sender: the parser's end of stream
        if let Some(job) = self.load.as_mut() {
            job.cut = true;
        }
        self.state = LinkState::Loading;
        Step::Loading
    }

    /// The payload is about to replace the data: the cached master goes, and the server
    /// disconnects the sub-replicas (see `attach_pending`).
    pub(crate) fn attach(&mut self) {
        if self.cached.take().is_some() {
            log!(Level::Notice, "Discarding previously cached master state.");
        }
        self.attach_pending = true;
    }

    /// The link failed: drop it and come back to CONNECT, the cron retrying.
    fn fail(&mut self) -> Step {
        self.cancel_handshake();
        if self.master.is_some() {
            self.state = LinkState::Connect;
        }
        Step::Failed
    }

    /// Redis's connectWithMaster: the non-blocking connect.
    pub(crate) fn connect(&mut self, registry: &Registry) {
        let Some((host, port)) = self.master.clone() else {
            return;
        };
        log!(Level::Notice, "Connecting to MASTER {}:{}", host, port);
        let addr = (host.as_str(), port).to_socket_addrs().ok().and_then(|mut a| a.next());
        let conn = match addr {
            Some(a) => TcpStream::connect(a),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "Name or service not known")),
        };
        let mut s = match conn {
            Ok(s) => s,
            Err(e) => {
                log!(Level::Warning, "Unable to connect to MASTER: {}", e);
                return;
            }
        };
        if let Err(e) =
            registry.register(&mut s, LINK_TOKEN, Interest::READABLE | Interest::WRITABLE)
        {
            log!(Level::Warning, "Unable to connect to MASTER: {}", e);
            return;
        }
        self.sock = Some(s);
        self.peer_closed = false;
        self.state = LinkState::Connecting;
        self.last_io = unix_time();
        log!(Level::Notice, "MASTER <-> REPLICA sync started");
    }

    /// The socket, to become the master client (after +CONTINUE or a finished load), with the
    /// bytes already read past the handshake or the payload.
    pub(crate) fn take_link(&mut self, registry: &Registry) -> Option<(TcpStream, Vec<u8>)> {
        let mut s = self.sock.take()?;
        let _ = registry.deregister(&mut s);
        self.peer_closed = false;
        self.expect.clear();
        Some((s, std::mem::take(&mut self.inbuf)))
    }

    /// Writes what is queued; false on a write error.
    fn flush(&mut self) -> bool {
        let Some(s) = self.sock.as_mut() else {
            return false;
        };
        while !self.outbuf.is_empty() {
            match s.write(&self.outbuf) {
                Ok(0) => return false,
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }

    fn send(&mut self, bytes: &[u8]) -> bool {
        self.outbuf.extend_from_slice(bytes);
        self.flush()
    }

    /// Reads what the socket has into `inbuf`; Err on EOF or error. True when it stopped at
    /// the 64 MB bound with the socket maybe not drained: the poll is edge-triggered, so the
    /// caller reads again once it has consumed `inbuf`.
    fn fill(&mut self) -> io::Result<bool> {
        let Some(s) = self.sock.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "no link"));
        };
        if self.peer_closed {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection lost"));
        }
        let mut total = 0;
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match s.read(&mut chunk) {
                Ok(0) => {
                    if total > 0 {
                        self.peer_closed = true;
                        return Ok(false);
                    }
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection lost"));
                }
                Ok(n) => {
                    self.inbuf.extend_from_slice(&chunk[..n]);
                    self.net_repl_input_bytes += n as u64;
                    total += n;
                    if self.inbuf.len() > 64 * 1024 * 1024 {
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One line (without CRLF) from `inbuf`, if complete.
    fn line(&mut self) -> Option<String> {
        let end = self.inbuf.iter().position(|&b| b == b'\n')?;
        let mut l: Vec<u8> = self.inbuf.drain(..=end).collect();
        l.pop();
        if l.last() == Some(&b'\r') {
            l.pop();
        }
        Some(String::from_utf8_lossy(&l).into_owned())
    }

    /// An event on the link's token. `my_port`: the port to announce.
    pub(crate) fn on_event(
        &mut self,
        registry: &Registry,
        cfg: &Config,
        my_port: u16,
        writable: bool,
    ) -> Step {
        if self.sock.is_none() {
            return Step::Nothing;
        }
        if self.state == LinkState::Connecting {
            // A refused connect may come as an error event without the writable bit: the
            // socket's pending error is checked either way.
            let s = self.sock.as_ref().expect("checked");
            let err = match s.take_error() {
                Ok(Some(e)) => Some(e),
                Ok(None) => s.peer_addr().err(),
                Err(e) => Some(e),
            };
            if let Some(e) = err {
                if e.kind() == io::ErrorKind::NotConnected {
                    return Step::Nothing; // not finished yet
                }
                log!(Level::Warning, "Error condition on socket for SYNC: {}", e);
                return self.fail();
            }
            log!(Level::Notice, "Non blocking connect for SYNC fired the event.");
            if let Some(s) = self.sock.as_mut() {
                let _ = registry.reregister(s, LINK_TOKEN, Interest::READABLE);
            }
            self.state = LinkState::ReceivePing;
            if !self.send(&resp(&[b"PING"])) {
                log!(Level::Warning, "Unable to send PING to MASTER");
                return self.fail();
            }
            return Step::Nothing;
        }
        if writable && !self.flush() {
            log!(Level::Warning, "I/O error writing to MASTER");
            return self.fail();
        }
        if self.state == LinkState::Loading {
            // The stream that follows waits in the socket until the master client reads it.
            return Step::Nothing;
        }
        // A payload larger than what one read takes is read on until the socket is drained:
        // no new edge would announce what is left, and the primary, its socket full, would
        // wait for us until its repl-timeout.
        let mut started = false;
        self.throttled = false;
        loop {
            if self.state == LinkState::Transfer && self.parser_full() {
                self.throttled = true;
                return if started { Step::FullSyncStarted } else { Step::Nothing };
            }
            let capped = match self.fill() {
                Ok(capped) => capped,
                Err(e) => {
                    if self.state == LinkState::Transfer && self.transfer_to_parser() {
                        return self.cut_transfer();
                    }
                    if self.state == LinkState::Transfer {
                        log!(Level::Warning, "I/O error trying to sync with MASTER: {}", e);
                    } else {
                        log!(
                            Level::Warning,
                            "Master closed the connection during the SYNC handshake: {}",
                            e
                        );
                    }
                    return self.fail();
                }
            };
            self.last_io = unix_time();
            let step = self.advance(cfg, my_port);
            // Read on: more is waiting (the bound), or the end the last read met is to be
            // reported now that what came before it is consumed.
            let again = (capped && self.state == LinkState::Transfer)
                || (self.peer_closed
                    && self.sock.is_some()
                    && !matches!(self.state, LinkState::Loading | LinkState::Connected));
            match step {
                Step::FullSyncStarted if again => started = true,
                Step::Nothing if again => {}
                Step::Nothing if started => return Step::FullSyncStarted,
                other => return other,
            }
        }
    }

    /// Runs the state machine over what `inbuf` holds.
    fn advance(&mut self, cfg: &Config, my_port: u16) -> Step {
        loop {
            match self.state {
                LinkState::ReceivePing => {
                    let Some(l) = self.line() else { return Step::Nothing };
                    // -NOAUTH and -NOPERM mean the master wants the AUTH that follows: fine,
                    // as Redis's syncWithMaster.
                    if l.starts_with('-')
                        && !l.starts_with("-NOAUTH")
                        && !l.starts_with("-NOPERM")
                        && !l.starts_with("-ERR operation not permitted")
                    {
                        log!(Level::Warning, "Error reply to PING from master: '{}'", &l[1..]);
                        return self.fail();
                    }
                    log!(Level::Notice, "Master replied to PING, replication can continue...");
                    let mut out = Vec::new();
                    self.expect.clear();
                    if !cfg.masterauth.is_empty() {
                        let mut args: Vec<&[u8]> = vec![b"AUTH"];
                        if !cfg.masteruser.is_empty() {
                            args.push(cfg.masteruser.as_bytes());
                        }
                        args.push(cfg.masterauth.as_bytes());
                        out.extend(resp(&args));
                        self.expect.push(Expect::Auth);
                    }
                    let port = if cfg.replica_announce_port != 0 {
                        cfg.replica_announce_port.to_string()
                    } else {
                        my_port.to_string()
                    };
                    out.extend(resp(&[b"REPLCONF", b"listening-port", port.as_bytes()]));
                    self.expect.push(Expect::Port);
                    if !cfg.replica_announce_ip.is_empty() {
                        out.extend(resp(&[
                            b"REPLCONF",
                            b"ip-address",
                            cfg.replica_announce_ip.as_bytes(),
                        ]));
                        self.expect.push(Expect::Ip);
                    }
                    out.extend(resp(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]));
                    self.expect.push(Expect::Capa);
                    self.state = LinkState::Handshake;
                    if !self.send(&out) {
                        log!(Level::Warning, "I/O error writing to MASTER");
                        return self.fail();
                    }
                }
                LinkState::Handshake => {
                    let Some(l) = self.line() else { return Step::Nothing };
                    if self.expect.is_empty() {
                        return Step::Nothing;
                    }
                    let what = self.expect.remove(0);
                    if let Some(e) = l.strip_prefix('-') {
                        match what {
                            Expect::Auth => {
                                log!(Level::Warning, "Unable to AUTH to MASTER: {}", e);
                                return self.fail();
                            }
                            Expect::Port => log!(
                                Level::Notice,
                                "(Non critical) Master does not understand REPLCONF listening-port: {}",
                                e
                            ),
                            Expect::Ip => log!(
                                Level::Notice,
                                "(Non critical) Master does not understand REPLCONF ip-address: {}",
                                e
                            ),
                            Expect::Capa => log!(
                                Level::Notice,
                                "(Non critical) Master does not understand REPLCONF capa: {}",
                                e
                            ),
                        }
                    }
                    if self.expect.is_empty() {
                        let cmd = match &self.cached {
                            Some((id, off)) => {
                                let next = (off + 1).to_string();
                                log!(
                                    Level::Notice,
                                    "Trying a partial resynchronization (request {}:{}).",
                                    id,
                                    next
                                );
                                resp(&[b"PSYNC", id.as_bytes(), next.as_bytes()])
                            }
                            None => {
                                log!(
                                    Level::Notice,
                                    "Partial resynchronization not possible (no cached master)"
                                );
                                resp(&[b"PSYNC", b"?", b"-1"])
                            }
                        };
                        self.state = LinkState::ReceivePsync;
                        if !self.send(&cmd) {
                            log!(Level::Warning, "I/O error writing to MASTER");
                            return self.fail();
                        }
                    }
                }
                LinkState::ReceivePsync => {
                    // Newlines the primary sends to keep the link alive come first.
                    while self.inbuf.first() == Some(&b'\n') {
                        self.inbuf.remove(0);
                    }
                    let Some(l) = self.line() else { return Step::Nothing };
                    return self.psync_reply(cfg, &l);
                }
                LinkState::Transfer => return self.read_payload(cfg),
                _ => return Step::Nothing,
            }
        }
    }

    /// Redis's slaveTryPartialResynchronization, reading the reply.
    fn psync_reply(&mut self, cfg: &Config, l: &str) -> Step {
        if let Some(rest) = l.strip_prefix("+FULLRESYNC") {
            let mut parts = rest.split_whitespace();
            let id = parts.next().unwrap_or("");
            let off = parts.next().and_then(|o| o.parse::<i64>().ok());
            match (id.len() == 40, off) {
                (true, Some(off)) => {
                    log!(Level::Notice, "Full resync from master: {}:{}", id, off);
                    self.fullsync = Some((id.to_string(), off));
                }
                _ => {
                    log!(Level::Warning, "Master replied with wrong +FULLRESYNC syntax.");
                    self.fullsync = Some(("?".to_string(), -1));
                }
            }
            // Redis compares the primary's id with its own (server.replid), which a failed
            // full sync leaves as it was: so is the last cached id here. The cached master
            // itself stays until the data is replaced (`attach`).
            if let Some((id, _)) = &self.cached {
                self.prev_replid = Some(id.clone());
            }
            return self.start_transfer(cfg);
        }
        if let Some(rest) = l.strip_prefix("+CONTINUE") {
            log!(Level::Notice, "Successful partial resynchronization with master.");
            let id = rest.trim();
            let new_replid = (id.len() == 40
                && self.cached.as_ref().is_some_and(|(old, _)| old != id))
            .then(|| id.to_string());
            if let Some(id) = &new_replid {
                log!(Level::Warning, "Master replication ID changed to {}", id);
            }
            log!(
                Level::Notice,
                "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization."
            );
            return Step::Continue { new_replid };
        }
        if l.starts_with("-NOMASTERLINK") || l.starts_with("-LOADING") {
            log!(
                Level::Notice,
                "Master is currently unable to PSYNC but should be in the future: {}",
                l
            );
            return self.fail();
        }
        if l.starts_with("-ERR") {
            log!(
                Level::Notice,
                "Master does not support PSYNC or is in error state (reply: {})",
                l
            );
        } else {
            log!(Level::Warning, "Unexpected reply to PSYNC from master: {}", l);
        }
        if self.cached.take().is_some() {
            log!(Level::Notice, "Discarding previously cached master state.");
        }
        // An old primary: plain SYNC, whose payload has no replid or offset.
        if !self.send(&resp(&[b"SYNC"])) {
            log!(Level::Warning, "I/O error writing to MASTER");
            return self.fail();
        }
        self.fullsync = Some(("?".to_string(), -1));
        self.start_transfer(cfg)
    }

    /// Prepares the payload's sink (temp file or memory) and reads what already arrived.
    fn start_transfer(&mut self, cfg: &Config) -> Step {
        // Redis's useDisklessLoad.
        let diskless = match cfg.repl_diskless_load {
            ReplDisklessLoad::Disabled => false,
            ReplDisklessLoad::OnEmptyDb => self.dataset_empty,
            ReplDisklessLoad::SwapDb => true,
        };
        let sink = if !diskless {
            let path = PathBuf::from(format!("temp-{}.{}.rdb", unix_time(), std::process::id()));
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => Sink::File { path, file },
                Err(e) => {
                    log!(
                        Level::Warning,
                        "Opening the temp file needed for MASTER <-> REPLICA synchronization: {}",
                        e
                    );
                    return self.fail();
                }
            }
        } else {
            // Parsed as it arrives, into a new keyspace: the old one serves (async loading)
            // or waits behind -LOADING, and stays if the transfer fails.
            let limits = tine_core::rdb::LoadLimits { skip_expired: false, ..cfg.load_limits() };
            let (tx, rx) = mpsc::channel();
            let queued = Arc::new(AtomicUsize::new(0));
            let mut reader = ChannelReader::with_queue(rx, queued.clone());
            let spawned =
                std::thread::Builder::new().name("tine-repl-load".into()).spawn(move || {
                    tine_core::rdb::read_rdb_from(&mut reader, &limits, tine_core::base::mstime())
                        .map_err(|e| socket_load_error(&e, reader.consumed))
                });
            let thread = match spawned {
                Ok(t) => t,
                Err(e) => {
                    log!(Level::Warning, "Can't start the replica loader thread: {}", e);
                    return self.fail();
                }
            };
            let async_loading = self.same_history(cfg);
            if cfg.repl_diskless_load != ReplDisklessLoad::SwapDb {
                // Loaded into the dataset itself: replaced from the start.
                self.attach();
            }
            log!(Level::Notice, "MASTER <-> REPLICA sync: Loading DB in memory");
            self.load = Some(LoadJob {
                thread: Some(thread),
                ready: None,
                temp: None,
                async_loading,
                cut: false,
                cancel: Arc::new(AtomicBool::new(false)),
            });
            Sink::Parser(tx, queued)
        };
        self.transfer = Some(Transfer {
            size: None,
            mark: None,
            preamble_done: false,
            read: 0,
            last: Vec::new(),
            sink,
            last_io: unix_time(),
        });
        self.state = LinkState::Transfer;
        match self.read_payload(cfg) {
            Step::Nothing => Step::FullSyncStarted,
            // Finished (or failed) at once: the caller handles that step; the full sync's
            // start is implied.
            other => other,
        }
    }

    /// Redis's readSyncBulkPayload, for what `inbuf` holds.
    fn read_payload(&mut self, cfg: &Config) -> Step {
        let Some(t) = self.transfer.as_mut() else {
            return Step::Nothing;
        };
        if !self.inbuf.is_empty() {
            t.last_io = unix_time();
        }
        if !t.preamble_done {
            // Newlines are the primary's keep-alives while it prepares the RDB.
            let skip = self.inbuf.iter().take_while(|&&b| b == b'\n').count();
            self.inbuf.drain(..skip);
            let Some(end) = self.inbuf.iter().position(|&b| b == b'\n') else {
                if self.inbuf.len() > 1024 {
                    log!(Level::Warning, "Bad protocol from MASTER: the preamble line is too long");
                    return self.fail();
                }
                return Step::Nothing;
            };
            let mut line: Vec<u8> = self.inbuf.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            if let Some(e) = text.strip_prefix('-') {
                log!(Level::Warning, "MASTER aborted replication with an error: {}", e);
                return self.fail();
            }
            if !text.starts_with('$') {
                log!(
                    Level::Warning,
                    "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
                    text
                );
                return self.fail();
            }
            let diskless = matches!(t.sink, Sink::Parser(..));
            if let Some(mark) = text.strip_prefix("$EOF:") {
                if mark.len() != EOF_MARK_SIZE {
                    log!(Level::Warning, "Bad protocol from MASTER: wrong EOF mark length");
                    return self.fail();
                }
                t.mark = Some(mark.as_bytes().to_vec());
                log!(
                    Level::Notice,
                    "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {}",
                    if diskless { "to parser" } else { "to disk" }
                );
            } else {
                match text[1..].parse::<u64>() {
                    Ok(n) => {
                        t.size = Some(n);
                        if diskless {
                            log!(
                                Level::Notice,
                                "MASTER <-> REPLICA sync: receiving {} bytes from master to parser",
                                n
                            );
                        } else {
                            log!(
                                Level::Notice,
                                "MASTER <-> REPLICA sync: receiving {} bytes from master to disk",
                                n
                            );
                        }
                    }
                    Err(_) => {
                        log!(
                            Level::Warning,
                            "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
                            text
                        );
                        return self.fail();
                    }
                }
            }
            t.preamble_done = true;
        }
        // The body: with a length, exactly that many bytes (what follows is the stream); with
        // a mark, everything until the last bytes are the mark (the primary sends nothing
        // after it before our first ACK).
        let take = match t.size {
            Some(n) => ((n - t.read) as usize).min(self.inbuf.len()),
            None => self.inbuf.len(),
        };
        if take > 0 {
            let chunk: Vec<u8> = self.inbuf.drain(..take).collect();
            t.read += take as u64;
            if t.mark.is_some() {
                t.last.extend_from_slice(&chunk);
                if t.last.len() > EOF_MARK_SIZE {
                    t.last.drain(..t.last.len() - EOF_MARK_SIZE);
                }
            }
            let written = match &mut t.sink {
                Sink::File { file, .. } => file.write_all(&chunk),
                // A parser that stopped (bad payload) says why once the transfer ends.
                Sink::Parser(tx, queued) => {
                    queued.fetch_add(chunk.len(), Ordering::Relaxed);
                    let _ = tx.send(chunk);
                    Ok(())
                }
            };
            if let Err(e) = written {
                log!(
                    Level::Warning,
                    "Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {}",
                    e
                );
                return self.fail();
            }
        }
        let done = match (&t.mark, t.size) {
            (Some(m), _) => t.last == *m,
            (None, Some(n)) => t.read == n,
            (None, None) => false,
        };
        if !done {
            return Step::Nothing;
        }
        let t = self.transfer.take().expect("checked");
        let mark = t.mark.is_some();
        self.start_load(cfg, t, mark)
    }

    /// The payload is complete: the temp file is synced, then parsed (inline when small, on a
    /// thread otherwise); a payload streamed to the parser only has its end signalled.
    fn start_load(&mut self, cfg: &Config, t: Transfer, mark: bool) -> Step {
        let limits = tine_core::rdb::LoadLimits { skip_expired: false, ..cfg.load_limits() };
        let cancel = Arc::new(AtomicBool::new(false));
        let path = match t.sink {
            Sink::File { path, file } => {
                let synced = if mark {
                    file.set_len(t.read - EOF_MARK_SIZE as u64).and_then(|_| file.sync_all())
                } else {
                    file.sync_all()
                };
                if let Err(e) = synced {
                    log!(
                        Level::Warning,
                        "Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: {}",
                        e
                    );
                    let _ = std::fs::remove_file(&path);
                    return self.fail();
                }
                self.attach();
                path
            }
            Sink::Parser(tx, _) => {
                // The end of the stream (the mark, if any, is past the RDB's own end: the
                // parser never reads it). A small payload is waited for here, as Redis's
                // load answers no one for its first 2 MB.
                drop(tx);
                self.state = LinkState::Loading;
                if let Some(job) = self.load.as_mut() {
                    if t.read <= INLINE_LOAD_MAX {
                        if let Some(h) = job.thread.take() {
                            job.ready = Some(
                                h.join()
                                    .unwrap_or_else(|_| Err("the loader thread panicked".into())),
                            );
                        }
                    }
                }
                return Step::Loading;
            }
        };
        // A disk load: the old data is flushed once it succeeds, no async loading.
        let async_loading = false;
        let temp = Some(path.clone());
        let flag = cancel.clone();
        let parse = move || {
            let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
            if flag.load(Ordering::Relaxed) {
                return Err("cancelled".to_string());
            }
            tine_core::rdb::read_rdb(&bytes, &limits, tine_core::base::mstime())
                .map_err(|e| e.to_string())
        };
        log!(Level::Notice, "MASTER <-> REPLICA sync: Loading DB in memory");
        if t.read <= INLINE_LOAD_MAX {
            let ready = Some(parse());
            self.load =
                Some(LoadJob { thread: None, ready, temp, async_loading, cut: false, cancel });
            self.state = LinkState::Loading;
            return Step::Loading;
        }
        let spawned = std::thread::Builder::new().name("tine-repl-load".into()).spawn(parse);
        let thread = match spawned {
            Ok(t) => t,
            Err(e) => {
                log!(Level::Warning, "Can't start the replica loader thread: {}", e);
                if let Some(p) = temp {
                    let _ = std::fs::remove_file(p);
                }
                return self.fail();
            }
        };
        self.load = Some(LoadJob {
            thread: Some(thread),
            ready: None,
            temp,
            async_loading,
            cut: false,
            cancel,
        });
        self.state = LinkState::Loading;
        Step::Loading
    }

    /// The primary continues the history this node followed: with swapdb the old data keeps
    /// serving reads during the load (async loading, Redis's check of its replid).
    fn same_history(&self, cfg: &Config) -> bool {
        cfg.repl_diskless_load == ReplDisklessLoad::SwapDb
            && self.fullsync.as_ref().is_some_and(|(id, _)| Some(id) == self.prev_replid.as_ref())
    }

    /// The finished load, if the thread is done.
    pub(crate) fn finished_load(&mut self) -> Option<(LoadJob, Result<LoadedRdb, String>)> {
        let job = self.load.as_ref()?;
        let done = job.ready.is_some() || job.thread.as_ref().is_some_and(|t| t.is_finished());
        if !done {
            return None;
        }
        let mut job = self.load.take()?;
        if let Some(result) = job.ready.take() {
            return Some((job, result));
        }
        let thread = job.thread.take()?;
        let result = thread.join().unwrap_or_else(|_| Err("the loader thread panicked".into()));
        Some((job, result))
    }

    /// Once a second (Redis's replicationCron, the replica half): timeouts, reconnection, the
    /// newline keep-alive while loading. Returns true when the link was dropped by a timeout.
    pub(crate) fn cron(&mut self, registry: &Registry, cfg: &Config) -> bool {
        let now = unix_time();
        let timeout = cfg.repl_timeout;
        match self.state {
            LinkState::Connecting
            | LinkState::ReceivePing
            | LinkState::Handshake
            | LinkState::ReceivePsync
                if now - self.last_io > timeout =>
            {
                log!(Level::Warning, "Timeout connecting to the MASTER...");
                self.fail();
                return true;
            }
            LinkState::Transfer
                if now - self.transfer.as_ref().map_or(now, |t| t.last_io) > timeout =>
            {
                log!(
                    Level::Warning,
                    "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value."
                );
                self.fail();
                return true;
            }
            // A long load: the primary must not time us out (Redis sends "\n" while it
            // flushes and loads).
            LinkState::Loading if self.sock.is_some() => {
                self.send(b"\n");
            }
            LinkState::Connect => self.connect(registry),
            _ => {}
        }
        false
    }
}

/// What a failed parse of a streamed payload logs, one line each. A short read is the
/// primary going away, which Redis's loader reports in these words (rdbLoadRio's eoferr and
/// rdbReportError for a socket) and survives; tine has no rdb.c line to name.
fn socket_load_error(e: &tine_core::rdb::RdbError, consumed: u64) -> String {
    match e {
        tine_core::rdb::RdbError::Truncated => format!(
            "Short read or OOM loading DB. Unrecoverable error, aborting now.\n\
             Internal error in RDB reading offset {}, function at rdb.c:0 -> Unexpected EOF \
             reading RDB file. Failure loading rdb format from socket, assuming connection \
             error, resuming operation.",
            consumed
        ),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_reader_gives_the_chunks_in_order_then_the_end() {
        let (tx, rx) = mpsc::channel();
        tx.send(b"REDIS".to_vec()).unwrap();
        tx.send(Vec::new()).unwrap();
        tx.send(b"0010xyz".to_vec()).unwrap();
        drop(tx);
        let mut r = ChannelReader::new(rx);
        let mut all = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all, b"REDIS0010xyz");
    }

    #[test]
    fn a_cut_stream_is_a_short_read_for_the_parser() {
        let (tx, rx) = mpsc::channel();
        tx.send(b"REDIS0010\xfa".to_vec()).unwrap();
        drop(tx);
        let r = ChannelReader::new(rx);
        let got = tine_core::rdb::read_rdb_from(r, &Default::default(), 0);
        assert!(got.is_err());
    }

    #[test]
    fn role_words_as_redis() {
        let mut r = Replica::default();
        let words: Vec<&str> = [
            LinkState::Connect,
            LinkState::Connecting,
            LinkState::ReceivePing,
            LinkState::Handshake,
            LinkState::ReceivePsync,
            LinkState::Transfer,
            LinkState::Connected,
        ]
        .iter()
        .map(|s| {
            r.state = *s;
            r.state_word()
        })
        .collect();
        assert_eq!(
            words,
            ["connect", "connecting", "handshake", "handshake", "handshake", "sync", "connected"]
        );
    }
}
