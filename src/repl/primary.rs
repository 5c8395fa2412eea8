//! The primary side of replication: the links to this node's replicas and the full syncs that
//! feed them (Redis's replication.c, master half).
//!
//! A replica is a client that sent SYNC or PSYNC (`commands::replication`); from then on its
//! connection carries, in order: its reply buffer (the `+FULLRESYNC` / `+CONTINUE` line, the
//! "\n" keep-alives while it waits), then during a full sync the RDB payload, then the
//! replication stream, read straight out of the shared replication buffer (`buffer`) at the
//! link's position. The event loop (`app::event_loop`) does the writing; this file keeps what
//! it needs: each link's state, its position in the stream, its place in the RDB transfer, its
//! acknowledged offset.
//!
//! Full syncs run in the single fork-child slot, in one of two kinds:
//! - disk: a BGSAVE child with [`SyncJob`] as its on-exit job, which runs the BGSAVE's own
//!   bookkeeping and then hands the file to every replica that waited for it ([`DiskBulk`]);
//! - diskless: a `tine-rdb-to-rep` child ([`start_diskless_child`]) writing the RDB in the
//!   EOF-marker format into a pipe; the parent reads the pipe only when every replica has
//!   taken the last chunk ([`Diskless`]), so a slow replica slows the child rather than growing
//!   the parent's memory, and it can be timed out.
//!
//! Either way the replica's position in the stream is taken at the fork (`add_replica_at_end`),
//! so the writes made while the snapshot is produced and transferred wait in the shared
//! buffer, once, however many replicas wait.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};

use crate::config::Config;
use crate::fork::{self, ChildError, ChildExit, ChildKind, ParentPipes, RunningChild};
use crate::net::connection::Stream;
use crate::persist::PersistHost;
use crate::persist::child_slot::{self, ChildJob};
use crate::persist::snapshot::BgsaveJob;
use crate::repl::buffer::{ReplBuffer, ReplicaId};
use tine_core::keyspace::Db;
use tine_core::log;
use tine_core::log::Level;

/// Bytes read from the RDB pipe at a time (Redis's PROTO_IOBUF_LEN).
const PIPE_CHUNK: usize = 16 * 1024;
/// Bytes of the RDB file read at a time to send to a replica.
const FILE_CHUNK: usize = 16 * 1024;

/// Where a replica is in its sync (Redis's SLAVE_STATE_*; INFO's `state=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum LinkState {
    /// Waiting for a child to be started for it (the diskless delay, or the slot is busy).
    WaitBgsaveStart,
    /// Its snapshot is being produced (disk) or streamed through the pipe (diskless).
    WaitBgsaveEnd,
    /// Disk: the file is being sent.
    SendBulk,
    /// Receiving the stream.
    Online,
}

impl LinkState {
    /// INFO's `state=` word.
    pub(crate) fn info_name(self) -> &'static str {
        match self {
            LinkState::WaitBgsaveStart | LinkState::WaitBgsaveEnd => "wait_bgsave",
            LinkState::SendBulk => "send_bulk",
            LinkState::Online => "online",
        }
    }
}

/// What a client said with REPLCONF before it asked to sync (kept by client id).
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplConf {
    pub(crate) listening_port: u16,
    pub(crate) ip: Option<String>,
    pub(crate) capa_eof: bool,
    pub(crate) capa_psync2: bool,
    pub(crate) rdb_only: bool,
    pub(crate) rdb_filter_functions: bool,
}

/// A disk-based RDB being sent to one replica: the `$<len>\r\n` preamble, then the file.
pub(crate) struct DiskBulk {
    file: File,
    preamble: Vec<u8>,
    pre_pos: usize,
    buf: Vec<u8>,
    buf_pos: usize,
    left: u64,
}

impl DiskBulk {
    /// Opens the RDB file a BGSAVE just wrote, for one replica.
    pub(crate) fn open(path: &std::path::Path) -> io::Result<DiskBulk> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(DiskBulk {
            file,
            preamble: format!("${}\r\n", len).into_bytes(),
            pre_pos: 0,
            buf: Vec::new(),
            buf_pos: 0,
            left: len,
        })
    }

    /// Writes as much as the socket takes. Ok(true) once the whole file is sent.
    fn write_to(&mut self, s: &mut Stream, written: &mut usize) -> io::Result<bool> {
        while self.pre_pos < self.preamble.len() {
            let n = write_some(s, &self.preamble[self.pre_pos..])?;
            if n == 0 {
                return Ok(false);
            }
            self.pre_pos += n;
            *written += n;
        }
        loop {
            if self.buf_pos == self.buf.len() {
                if self.left == 0 {
                    return Ok(true);
                }
                self.buf.resize(FILE_CHUNK.min(self.left as usize), 0);
                self.file.read_exact(&mut self.buf)?;
                self.left -= self.buf.len() as u64;
                self.buf_pos = 0;
            }
            let n = write_some(s, &self.buf[self.buf_pos..])?;
            if n == 0 {
                return Ok(false);
            }
            self.buf_pos += n;
            *written += n;
        }
    }
}

/// One replica of this node.
pub(crate) struct ReplicaLink {
    /// Its client's slot and id (slots are reused, ids are not).
    pub(crate) slot: usize,
    pub(crate) client_id: u64,
    pub(crate) state: LinkState,
    pub(crate) conf: ReplConf,
    /// Plain SYNC (Redis's CLIENT_PRE_PSYNC): no +FULLRESYNC line, and no ACKs expected.
    pub(crate) pre_psync: bool,
    /// Its position in the shared buffer, once it has one (at the fork of its full sync, or
    /// at once for a partial resync).
    pub(crate) reader: Option<ReplicaId>,
    /// The offset its snapshot stands at (what +FULLRESYNC said).
    pub(crate) psync_initial_offset: i64,
    /// Served by the diskless child (else by the disk one), while WaitBgsaveEnd.
    pub(crate) diskless: bool,
    /// Its last REPLCONF ACK offset and when it came (unix seconds).
    pub(crate) ack_off: i64,
    pub(crate) ack_time: i64,
    /// The peer's address, for INFO when it announced no ip.
    pub(crate) peer_ip: String,
    /// Name for the log: "ip:port" as Redis's replicationGetSlaveName.
    pub(crate) name: String,
    /// A diskless replica is online once its child succeeded, but gets the stream only after
    /// its first ACK (it has loaded the RDB then), as Redis's repl_start_cmd_stream_on_ack.
    pub(crate) stream_on_ack: bool,
    bulk: Option<DiskBulk>,
    /// Bytes of the diskless transfer's current chunk written to this replica.
    pipe_pos: usize,
    /// While its socket is full during a transfer: when a write last made progress (ms), as
    /// Redis's repl_last_partial_write. A replica stalled for `repl-timeout` is dropped; one
    /// that simply waits for a slow child is not.
    pub(crate) stalled_since: Option<i64>,
    /// Since when (ms) it is over the soft output buffer limit.
    pub(crate) soft_limit_since: Option<i64>,
    /// Set by a failed sync or a limit: the top layer closes the client.
    pub(crate) close: bool,
}

impl ReplicaLink {
    pub(crate) fn new(slot: usize, client_id: u64, conf: ReplConf, peer_ip: String) -> Self {
        let ip = conf.ip.clone().unwrap_or_else(|| peer_ip.clone());
        let name = format!("{}:{}", ip, conf.listening_port);
        ReplicaLink {
            slot,
            client_id,
            state: LinkState::WaitBgsaveStart,
            conf,
            pre_psync: false,
            reader: None,
            psync_initial_offset: 0,
            diskless: false,
            ack_off: 0,
            ack_time: tine_core::base::unix_time(),
            peer_ip,
            name,
            stream_on_ack: false,
            bulk: None,
            pipe_pos: 0,
            stalled_since: None,
            soft_limit_since: None,
            close: false,
        }
    }

    /// The ip INFO and ROLE show: the announced one, else the peer's.
    pub(crate) fn ip(&self) -> &str {
        self.conf.ip.as_deref().unwrap_or(&self.peer_ip)
    }
}

/// The diskless transfer in progress: the parent's pipe ends and the chunk being fanned out.
pub(crate) struct Diskless {
    pipes: Option<ParentPipes>,
    buf: Vec<u8>,
    len: usize,
    /// The read end is registered with the poller (the top layer does it).
    pub(crate) registered: bool,
}

impl Diskless {
    /// The RDB pipe's read end, to register with the poller (None once it reached EOF).
    pub(crate) fn pipe_fd(&self) -> Option<RawFd> {
        self.pipes.as_ref().map(|p| p.rdb_read.as_raw_fd())
    }
}

/// A client blocked in WAIT: its slot and id, the offset it waits for, how many replicas.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitEntry {
    pub(crate) slot: usize,
    pub(crate) id: u64,
    pub(crate) offset: i64,
    pub(crate) numreplicas: i64,
}

/// The primary side's counters in INFO stats.
#[derive(Default)]
pub(crate) struct SyncStats {
    pub(crate) full: u64,
    pub(crate) partial_ok: u64,
    pub(crate) partial_err: u64,
    pub(crate) net_repl_output_bytes: u64,
}

/// The primary side's state (see the module doc).
#[derive(Default)]
pub(crate) struct Primary {
    pub(crate) links: Vec<ReplicaLink>,
    /// REPLCONF settings of clients that have not synced yet, by client id.
    pub(crate) confs: std::collections::HashMap<u64, ReplConf>,
    pub(crate) diskless: Option<Diskless>,
    /// INFO stats (CONFIG RESETSTAT clears them).
    pub(crate) stats: SyncStats,
    /// Since when (unix seconds) no replica is attached (`repl-backlog-ttl`).
    pub(crate) no_replicas_since: i64,
    /// The last second the once-a-second work ran, and how many times it ran.
    pub(crate) last_cron_sec: i64,
    pub(crate) cron_loops: u64,
    /// Clients blocked in WAIT.
    pub(crate) waiting: Vec<WaitEntry>,
    /// A WAIT asked replicas for their offset: REPLCONF GETACK goes out before the next poll.
    pub(crate) get_ack: bool,
}

impl Primary {
    pub(crate) fn link(&self, slot: usize) -> Option<&ReplicaLink> {
        self.links.iter().find(|l| l.slot == slot)
    }
    pub(crate) fn link_mut(&mut self, slot: usize) -> Option<&mut ReplicaLink> {
        self.links.iter_mut().find(|l| l.slot == slot)
    }

    /// Replicas whose acknowledged offset is at least `offset` (WAIT's count).
    pub(crate) fn acked(&self, offset: i64) -> i64 {
        self.links.iter().filter(|l| l.state == LinkState::Online && l.ack_off >= offset).count()
            as i64
    }

    /// True when every replica acknowledged `offset` (Redis's isReadyToShutdown: a replica
    /// still in its full sync has acknowledged nothing, so it is waited for too).
    pub(crate) fn all_acked(&self, offset: i64) -> bool {
        self.links.iter().all(|l| l.ack_off == offset)
    }

    /// Logs, as Redis's finishShutdown, each replica that has not acknowledged `offset` and
    /// how many have.
    pub(crate) fn log_lagging_at_shutdown(&self, offset: i64, now: i64) {
        let mut lagging = 0;
        for l in self.links.iter().filter(|l| l.ack_off != offset) {
            lagging += 1;
            let lag = if l.state == LinkState::Online { now - l.ack_time } else { 0 };
            log!(
                Level::Warning,
                "Lagging replica {} reported offset {} behind master, lag={}, state={}.",
                l.name,
                offset - l.ack_off,
                lag,
                l.state.info_name()
            );
        }
        if !self.links.is_empty() {
            log!(
                Level::Notice,
                "{} of {} replicas are in sync when shutting down.",
                self.links.len() - lagging,
                self.links.len()
            );
        }
    }

    /// Online replicas that acknowledged within `max_lag` seconds (Redis's
    /// repl_good_slaves_count, for `min-replicas-to-write`).
    pub(crate) fn good_replicas(&self, max_lag: i64, now: i64) -> i64 {
        self.links
            .iter()
            .filter(|l| l.state == LinkState::Online && now - l.ack_time <= max_lag)
            .count() as i64
    }

    /// Slots to write to before the next poll: a file to send, a stream with bytes for them.
    pub(crate) fn slots_to_write(&self, buf: &ReplBuffer, out: &mut Vec<usize>) {
        for l in &self.links {
            let wants = match l.state {
                LinkState::SendBulk => true,
                LinkState::Online => {
                    !l.stream_on_ack
                        && l.reader.as_ref().is_some_and(|r| buf.next_chunk(r).is_some())
                }
                _ => false,
            };
            if wants {
                out.push(l.slot);
            }
        }
    }

    /// Forgets a closing client: its link and position in the buffer, its REPLCONF settings.
    /// Returns the sync child to stop because this was the last replica it served: a diskless
    /// child while it still streams (once its pipe is read to EOF it exits by itself), or a
    /// disk one when `no_save_points` (with save points the file still serves persistence;
    /// Redis kills it only then too).
    pub(crate) fn client_closed(
        &mut self,
        buf: &mut ReplBuffer,
        slot: usize,
        id: u64,
        no_save_points: bool,
    ) -> Option<ChildActivity> {
        self.confs.remove(&id);
        let i = self.links.iter().position(|l| l.slot == slot && l.client_id == id)?;
        let link = self.links.remove(i);
        if let Some(r) = link.reader {
            buf.remove_replica(r);
        }
        if self.links.is_empty() {
            self.no_replicas_since = tine_core::base::unix_time();
        }
        if link.state != LinkState::WaitBgsaveEnd {
            return None;
        }
        let others = self
            .links
            .iter()
            .any(|l| l.state == LinkState::WaitBgsaveEnd && l.diskless == link.diskless);
        if others {
            return None;
        }
        if link.diskless {
            self.diskless
                .as_ref()
                .is_some_and(|d| d.pipes.is_some())
                .then_some(ChildActivity::Sockets)
        } else {
            no_save_points.then_some(ChildActivity::Disk)
        }
    }
}

/// What the child slot holds, as a full sync sees it (Redis's rdb_child_type).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ChildActivity {
    None,
    /// A BGSAVE to disk (for replicas or not).
    Disk,
    /// A diskless sync child.
    Sockets,
    /// An AOF rewrite.
    Other,
}

/// What runs in the child slot now.
pub(crate) fn child_activity<H: PersistHost>(h: &H) -> ChildActivity {
    match h.persist_state().child.as_ref().map(|c| c.kind) {
        None => ChildActivity::None,
        Some(ChildKind::RdbToFile) => ChildActivity::Disk,
        Some(ChildKind::RdbToReplicas) => ChildActivity::Sockets,
        Some(ChildKind::AofRewrite) => ChildActivity::Other,
    }
}

/// What the replication layer asks of the server's data half: persistence's host, plus the
/// primary's state. Implemented by `commands::Data`.
pub(crate) trait ReplHost: PersistHost {
    fn primary(&mut self) -> &mut Primary;
}

/// Writes what the socket takes; 0 when it would block.
fn write_some(s: &mut Stream, b: &[u8]) -> io::Result<usize> {
    loop {
        match s.write(b) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What writing a link's payload came to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Written {
    /// Nothing more to write now.
    Done,
    /// The socket is full.
    Blocked,
    /// A disk-based file finished: the link just went online (or, rdb-only, must close).
    BulkDone,
}

/// Writes the payload that follows a replica's reply buffer (already empty): the RDB file,
/// the diskless chunk, or the stream. `now_ms` stamps progress for the timeouts.
pub(crate) fn write_payload(
    p: &mut Primary,
    buf: &mut ReplBuffer,
    slot: usize,
    s: &mut Stream,
    now_ms: i64,
) -> io::Result<Written> {
    let Primary { links, diskless, stats, .. } = p;
    let Some(link) = links.iter_mut().find(|l| l.slot == slot) else {
        return Ok(Written::Done);
    };
    let mut written = 0usize;
    let result = match link.state {
        LinkState::SendBulk => match link.bulk.as_mut() {
            Some(b) => {
                if b.write_to(s, &mut written)? {
                    link.bulk = None;
                    Ok(Written::BulkDone)
                } else {
                    Ok(Written::Blocked)
                }
            }
            None => Ok(Written::Done),
        },
        LinkState::WaitBgsaveEnd if link.diskless => match diskless.as_ref() {
            Some(d) => {
                let mut r = Written::Done;
                while link.pipe_pos < d.len {
                    let n = write_some(s, &d.buf[link.pipe_pos..d.len])?;
                    if n == 0 {
                        r = Written::Blocked;
                        break;
                    }
                    link.pipe_pos += n;
                    written += n;
                }
                Ok(r)
            }
            None => Ok(Written::Done),
        },
        LinkState::Online if !link.stream_on_ack => {
            let Some(reader) = link.reader.as_ref() else {
                return Ok(Written::Done);
            };
            let mut r = Written::Done;
            while let Some(chunk) = buf.next_chunk(reader) {
                let n = write_some(s, chunk)?;
                if n == 0 {
                    r = Written::Blocked;
                    break;
                }
                buf.consumed(reader, n);
                written += n;
            }
            Ok(r)
        }
        _ => Ok(Written::Done),
    };
    match result {
        Ok(Written::Blocked) => {
            if written > 0 || link.stalled_since.is_none() {
                link.stalled_since = Some(now_ms);
            }
        }
        _ => link.stalled_since = None,
    }
    stats.net_repl_output_bytes += written as u64;
    result
}

/// The diskless transfer: true while some replica has not taken the whole current chunk.
fn chunk_pending(p: &Primary) -> bool {
    let Some(d) = p.diskless.as_ref() else {
        return false;
    };
    p.links.iter().any(|l| l.state == LinkState::WaitBgsaveEnd && l.diskless && l.pipe_pos < d.len)
}

/// True while the replica in `slot` has not taken the whole current diskless chunk.
pub(crate) fn chunk_pending_for(p: &Primary, slot: usize) -> bool {
    let Some(d) = p.diskless.as_ref() else {
        return false;
    };
    p.links.iter().any(|l| {
        l.slot == slot && l.state == LinkState::WaitBgsaveEnd && l.diskless && l.pipe_pos < d.len
    })
}

/// What reading the RDB pipe gave.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PipeRead {
    /// A new chunk, to fan out to the replicas.
    Chunk,
    /// Nothing now: the pipe is empty, or replicas still have the last chunk to take.
    Nothing,
    /// The child's RDB is all read: the safe-to-exit pipe is closed, the child may exit.
    Eof,
}

/// Reads the next chunk of the RDB pipe, only when every replica took the last one (Redis's
/// rdbPipeReadHandler): a replica that reads slowly holds the child back, not the parent's
/// memory.
pub(crate) fn read_pipe(p: &mut Primary) -> PipeRead {
    if chunk_pending(p) {
        return PipeRead::Nothing;
    }
    let Primary { links, diskless, .. } = p;
    let Some(d) = diskless.as_mut() else {
        return PipeRead::Nothing;
    };
    let Some(pipes) = d.pipes.as_mut() else {
        return PipeRead::Nothing;
    };
    d.buf.resize(PIPE_CHUNK, 0);
    loop {
        match pipes.rdb_read.read(&mut d.buf) {
            Ok(0) => {
                let up = links
                    .iter()
                    .filter(|l| l.state == LinkState::WaitBgsaveEnd && l.diskless)
                    .count();
                log!(
                    Level::Notice,
                    "Diskless rdb transfer, done reading from pipe, {} replicas still up.",
                    up
                );
                // Closing our write end of the safe-to-exit pipe lets the child exit: every
                // byte it wrote has left the pipe for the replicas' sockets.
                d.pipes = None;
                d.len = 0;
                return PipeRead::Eof;
            }
            Ok(n) => {
                d.len = n;
                for l in links.iter_mut() {
                    l.pipe_pos = 0;
                }
                return PipeRead::Chunk;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return PipeRead::Nothing,
            Err(e) => {
                log!(
                    Level::Warning,
                    "Diskless rdb transfer, read error sending DB to replicas: {}",
                    e
                );
                d.pipes = None;
                d.len = 0;
                return PipeRead::Eof;
            }
        }
    }
}

/// The slots of the replicas the diskless transfer feeds.
pub(crate) fn diskless_slots(p: &Primary) -> Vec<usize> {
    p.links
        .iter()
        .filter(|l| l.state == LinkState::WaitBgsaveEnd && l.diskless)
        .map(|l| l.slot)
        .collect()
}

/// Forks the diskless child (Redis's rdbSaveToSlavesSockets): it writes `$EOF:<mark>\r\n`,
/// the RDB and the mark into the RDB pipe, then waits on the safe-to-exit pipe. The parent's
/// ends go to [`Primary::diskless`]; the caller occupies the slot with [`SyncJob`].
/// `functions_only`: the replicas asked for functions and no data (`rdb-filter-only
/// functions`): the RDB holds the libraries and no database.
pub(crate) fn start_diskless_child<H: ReplHost>(
    h: &mut H,
    repl: Option<tine_core::rdb::ReplInfo>,
    functions_only: bool,
) -> io::Result<RunningChild> {
    let pipes = fork::RdbPipes::new()?;
    let mut close = h.child_fds();
    close.extend(pipes.child_closes());
    let (rdb_write, exit_read) = pipes.child_ends();
    // The libraries' code as plain bytes, taken before the fork.
    let functions = h.function_codes();
    let p = h.parts();
    let oom = fork::OomScore::from_config(p.config);
    let mark = tine_core::base::random_hex(40);
    let ch = {
        let (config, dbs): (&Config, &[Db]) = (p.config, if functions_only { &[] } else { p.dbs });
        fork::start(ChildKind::RdbToReplicas, &close, oom, |reporter| {
            diskless_body(config, dbs, reporter, rdb_write, exit_read, &mark, repl, functions)
        })?
    };
    let keys = p.dbs.total_keys();
    let mut ch = ch;
    ch.keys_total = keys;
    let parent = pipes.into_parent()?;
    h.primary().diskless =
        Some(Diskless { pipes: Some(parent), buf: Vec::new(), len: 0, registered: false });
    child_slot::record_fork(h, ch.fork_usec);
    Ok(ch)
}

/// The diskless child's work. Runs in the child only.
#[allow(clippy::too_many_arguments)]
fn diskless_body(
    config: &Config,
    dbs: &[Db],
    reporter: &mut fork::ChildReporter,
    rdb_write: RawFd,
    exit_read: RawFd,
    mark: &str,
    repl: Option<tine_core::rdb::ReplInfo>,
    functions: Vec<Vec<u8>>,
) -> Result<(), ChildError> {
    // The pipe is the parent's descriptor copy: never closed here (the child leaves with
    // `_exit`), so the File is not dropped.
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: `rdb_write` is this child's open write end of the RDB pipe; ManuallyDrop keeps
    // the File from closing it.
    let file = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(rdb_write) });
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, &*file);
    let io_err =
        |e: io::Error| ChildError::Failed(format!("Write error sending DB to replicas: {}", e));
    w.write_all(format!("$EOF:{}\r\n", mark).as_bytes()).map_err(io_err)?;
    crate::persist::rdb_io::write_snapshot(
        config,
        dbs,
        &mut w,
        Some(&mut *reporter),
        repl,
        functions,
    )
    .map_err(ChildError::Failed)?;
    w.write_all(mark.as_bytes()).map_err(io_err)?;
    w.flush().map_err(io_err)?;
    drop(w);
    // The parent reads the pipe to EOF before it lets us go: close our write end first.
    // SAFETY: closing this child's own write end of the RDB pipe, used by nothing after this.
    unsafe { libc::close(rdb_write) };
    reporter.log_cow("RDB");
    fork::wait_safe_to_exit(exit_read);
    Ok(())
}

/// The on-exit job of a full-sync child, disk or diskless (Redis's
/// backgroundSaveDoneHandler for replication and updateSlavesWaitingBgsave).
pub(crate) struct SyncJob {
    pub(crate) diskless: bool,
}

impl<H: ReplHost> ChildJob<H> for SyncJob {
    fn on_exit(self: Box<Self>, h: &mut H, child: RunningChild, exit: ChildExit) {
        let ok = exit.success();
        let on_purpose = child.killed_on_purpose;
        if self.diskless {
            match exit {
                ChildExit::Exited(0) => {
                    log!(Level::Notice, "Background RDB transfer terminated with success")
                }
                ChildExit::Exited(_) => log!(Level::Warning, "Background transfer error"),
                ChildExit::Signaled(sig) => {
                    log!(Level::Warning, "Background transfer terminated by signal {}", sig)
                }
            }
            if ok {
                h.parts().state.rdb_last_cow_size = child.report.cow_bytes;
            }
            h.primary().diskless = None;
        } else {
            Box::new(BgsaveJob).on_exit(h, child, exit);
        }
        let path = std::path::PathBuf::from(&h.config().dbfilename);
        let p = h.primary();
        for l in p.links.iter_mut().filter(|l| l.state == LinkState::WaitBgsaveEnd) {
            if l.diskless != self.diskless {
                continue;
            }
            if !ok {
                if !on_purpose {
                    log!(Level::Warning, "SYNC failed. BGSAVE child returned an error");
                }
                l.close = true;
                continue;
            }
            if self.diskless {
                if l.conf.rdb_only {
                    log!(
                        Level::Notice,
                        "RDB transfer completed, rdb only replica ({}) should be disconnected asap",
                        l.name
                    );
                    l.close = true;
                    continue;
                }
                log!(
                    Level::Notice,
                    "Streamed RDB transfer with replica {} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming",
                    l.name
                );
                l.state = LinkState::Online;
                l.stream_on_ack = true;
                l.ack_time = tine_core::base::unix_time();
            } else {
                match DiskBulk::open(&path) {
                    Ok(b) => {
                        l.bulk = Some(b);
                        l.state = LinkState::SendBulk;
                    }
                    Err(e) => {
                        log!(Level::Warning, "SYNC failed. Can't open/stat DB after BGSAVE: {}", e);
                        l.close = true;
                    }
                }
            }
        }
    }
}

/// Puts a replica online once its disk-based file is sent (Redis's putSlaveOnline), or
/// marks an rdb-only one for closing. True if it went online.
pub(crate) fn bulk_done(p: &mut Primary, slot: usize) -> bool {
    let Some(l) = p.link_mut(slot) else {
        return false;
    };
    if l.conf.rdb_only {
        log!(
            Level::Notice,
            "RDB transfer completed, rdb only replica ({}) should be disconnected asap",
            l.name
        );
        l.close = true;
        return false;
    }
    l.state = LinkState::Online;
    l.ack_time = tine_core::base::unix_time();
    log!(Level::Notice, "Synchronization with replica {} succeeded", l.name);
    true
}

/// Parses the `replica` (or `slave`) class of `client-output-buffer-limit`: hard, soft bytes
/// and soft seconds. A hard limit below `repl-backlog-size` counts as the backlog's size, as
/// in Redis's checkClientOutputBufferLimits: a replica's output is the backlog's own blocks,
/// and a partial resync the backlog allows must not be cut by the limit.
pub(crate) fn replica_output_limits(config: &Config) -> (u64, u64, i64) {
    let words: Vec<&str> = config.client_output_buffer_limit.split_whitespace().collect();
    let mut found = (256 << 20, 64 << 20, 60);
    for w in words.chunks(4) {
        if w.len() == 4 && (w[0] == "slave" || w[0] == "replica") {
            // CONFIG keeps the value normalized to bytes.
            let mem = |s: &str| s.parse::<u64>().unwrap_or(0);
            found = (mem(w[1]), mem(w[2]), w[3].parse().unwrap_or(0));
        }
    }
    let backlog = config.repl_backlog_size.max(0) as u64;
    if found.0 > 0 && found.0 < backlog {
        found.0 = backlog;
    }
    found
}

/// Checks a replica's output against `client-output-buffer-limit replica` (Redis's
/// checkClientOutputBufferLimits): true when it must be closed.
pub(crate) fn over_output_limit(
    l: &mut ReplicaLink,
    buf: &ReplBuffer,
    limits: (u64, u64, i64),
    now_ms: i64,
) -> bool {
    let Some(r) = l.reader.as_ref() else {
        return false;
    };
    let used = buf.replica_buffer_memory(r).unwrap_or(0) as u64;
    let (hard, soft, soft_secs) = limits;
    if hard > 0 && used >= hard {
        return true;
    }
    if soft > 0 && used >= soft {
        let since = *l.soft_limit_since.get_or_insert(now_ms);
        return now_ms - since > soft_secs * 1000;
    }
    l.soft_limit_since = None;
    false
}

/// Redis's rdbPopulateSaveInfo on a primary: the stream's db, replid and offset, when a
/// backlog exists (a history a restarted node or a replica can continue).
pub(crate) fn save_info(
    buf: &ReplBuffer,
    state: &crate::repl::state::ReplState,
    seldb: Option<usize>,
) -> Option<tine_core::rdb::ReplInfo> {
    if !buf.has_backlog() {
        return None;
    }
    Some(tine_core::rdb::ReplInfo {
        stream_db: seldb.unwrap_or(0) as i64,
        id: state.replid().to_string(),
        offset: buf.master_repl_offset(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(slot: usize, state: LinkState, diskless: bool) -> ReplicaLink {
        let mut l =
            ReplicaLink::new(slot, slot as u64 + 100, ReplConf::default(), "10.0.0.1".into());
        l.state = state;
        l.diskless = diskless;
        l
    }

    #[test]
    fn the_replica_class_of_the_output_limits_is_read_from_the_normalized_value() {
        let mut c = Config::default();
        assert_eq!(replica_output_limits(&c), (268435456, 67108864, 60));
        c.repl_backlog_size = 100;
        c.client_output_buffer_limit = "normal 0 0 0 slave 1000 500 3 pubsub 1 1 1".into();
        assert_eq!(replica_output_limits(&c), (1000, 500, 3));
        // A hard limit below the backlog's size is the backlog's size; no hard limit stays.
        c.repl_backlog_size = 1 << 20;
        assert_eq!(replica_output_limits(&c), (1 << 20, 500, 3));
        c.client_output_buffer_limit = "slave 0 500 3".into();
        assert_eq!(replica_output_limits(&c), (0, 500, 3));
    }

    #[test]
    fn output_limits_hard_at_once_soft_after_its_seconds() {
        let mut buf = ReplBuffer::new(1 << 20);
        assert!(buf.create_backlog());
        let mut l = link(1, LinkState::Online, false);
        l.reader = buf.add_replica_at_end();
        buf.append(&vec![b'x'; 40_000]);
        let used = buf.replica_buffer_memory(l.reader.as_ref().unwrap()).unwrap() as u64;
        assert!(over_output_limit(&mut l, &buf, (used, 0, 0), 0));
        assert!(!over_output_limit(&mut l, &buf, (0, used, 2), 1000));
        assert!(!over_output_limit(&mut l, &buf, (0, used, 2), 2500));
        assert!(over_output_limit(&mut l, &buf, (0, used, 2), 3001));
        assert!(!over_output_limit(&mut l, &buf, (0, used + 1, 2), 4000));
        assert_eq!(l.soft_limit_since, None);
        buf.remove_replica(l.reader.take().unwrap());
    }

    #[test]
    fn wait_counts_online_replicas_at_the_offset_and_min_replicas_their_lag() {
        let mut a = link(1, LinkState::Online, false);
        a.ack_off = 100;
        a.ack_time = 50;
        let mut b = link(2, LinkState::Online, false);
        b.ack_off = 80;
        b.ack_time = 58;
        let mut c = link(3, LinkState::WaitBgsaveEnd, true);
        c.ack_off = 500;
        let p = Primary { links: vec![a, b, c], ..Primary::default() };
        assert_eq!(p.acked(80), 2);
        assert_eq!(p.acked(90), 1);
        assert_eq!(p.acked(501), 0);
        assert_eq!(p.good_replicas(10, 60), 2);
        assert_eq!(p.good_replicas(5, 60), 1);
    }

    #[test]
    fn the_last_replica_of_a_child_stops_it_but_not_while_others_wait() {
        let mut buf = ReplBuffer::new(1 << 20);
        let links = vec![
            link(1, LinkState::WaitBgsaveEnd, false),
            link(2, LinkState::WaitBgsaveEnd, false),
            link(3, LinkState::Online, false),
        ];
        let mut p = Primary { links, ..Primary::default() };
        assert_eq!(p.client_closed(&mut buf, 1, 101, true), None);
        // The link's id must match: a reused slot is another client.
        assert_eq!(p.client_closed(&mut buf, 2, 999, true), None);
        assert_eq!(p.client_closed(&mut buf, 2, 102, false), None, "save points need the file");
        p.links.push(link(4, LinkState::WaitBgsaveEnd, false));
        assert_eq!(p.client_closed(&mut buf, 4, 104, true), Some(ChildActivity::Disk));
        assert_eq!(p.client_closed(&mut buf, 3, 103, true), None);
        assert!(p.links.is_empty());
        // Diskless: only while the pipe is still read.
        p.links.push(link(5, LinkState::WaitBgsaveEnd, true));
        assert_eq!(p.client_closed(&mut buf, 5, 105, true), None, "no transfer running");
    }
}
