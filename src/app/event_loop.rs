//! The event loop: one thread, one mio `Poll`. It owns the listeners and the poller, accepts
//! connections, reads requests, hands complete commands (their arguments and the client's session) to `commands::call`, writes replies,
//! delivers signals, and runs the cron `hz` times a second.
//!
//! Flow of one readable event: read until the socket would block (bounded per event so one
//! busy client cannot starve the others) -> parse and run every complete command -> queue the
//! client in `pending_writes`. Once every ready event of this poll has been handled,
//! `before_sleep` writes each queued client's replies in one write, as Redis's
//! `handleClientsWithPendingWrites` does; no writable event is waited for. Writing at the end
//! of the batch rather than after each client matters on loopback: every write wakes the
//! peer, and a burst of writes finds a pipelining peer (redis-benchmark, a client pool)
//! already awake, where one write per client served woke it again and again (that doubled
//! the kernel time per request under `redis-benchmark -P 16`). Only when the socket does not
//! take everything is the client registered for writable events, and it is registered back
//! to read-only once its output drains. Output produced for other clients (MONITOR, pub/sub,
//! unblocking) goes through the same queue.
//!
//! A long command can hand control back to the loop while it runs
//! (`process_events_while_blocked`, Redis's processEventsWhileBlocked, reached through
//! `commands::Ctx::yield_to_event_loop` and `app::server_ops::Running`): a few rounds of a
//! poll that does not wait, with the same accept, read, run and write as above. The running
//! client is out of its slot meanwhile, so it is not served: what it sends is read once its
//! command ends. Other clients' commands meet `Data::busy` in the dispatcher and get -BUSY
//! (unless flagged `allow_busy`), so none of them can yield in turn. A SIGTERM or SIGINT is
//! only noted there (`Data::shutdown`), and the shutdown runs once the command ends, as in
//! Redis; a child's end is reaped then too. A SHUTDOWN NOSAVE served in there exits at once.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Events, Interest, Poll, Token};

use crate::net::busy_poll::BusyPoll;
use signal_hook::consts::{SIGCHLD, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::app::client::{Client, ConnFigures};
use crate::app::server::{Server, ShutdownRequest};
use crate::app::server_ops::Running;
use crate::commands::{self, Ctx, Outcome};
use crate::engine::session::{ClientKind, Session};
use crate::net::connection::Stream;
use crate::net::listen::{ListenSpec, Listener, Listeners};
use tine_core::log::Level;
use tine_core::protocol::request::{Limits, Parsed};
use tine_core::{base, log};

/// Tokens below this are the loop's own (listeners, signals); clients are `CLIENT_BASE + slot`.
pub(crate) const CLIENT_BASE: usize = 1024;
const SIGNAL_TOKEN: Token = Token(1000);
/// The read end of a diskless sync's RDB pipe (`repl::primary`).
const RDB_PIPE_TOKEN: Token = Token(1001);
/// Bytes read per read(2) call.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes read from one client per event before others get their turn.
const READ_BUDGET: usize = 1024 * 1024;

/// What a poll reported for one token, kept in `EventLoop::ready` until handled.
#[derive(Clone, Copy)]
struct Ready {
    token: Token,
    readable: bool,
    /// The peer shut its side, or the socket failed.
    closed: bool,
    writable: bool,
}

impl Ready {
    fn of(ev: &Event) -> Ready {
        let closed = ev.is_read_closed() || ev.is_error();
        Ready {
            token: ev.token(),
            readable: ev.is_readable() || closed,
            closed,
            writable: ev.is_writable(),
        }
    }
}

/// The event loop and what it owns.
pub(crate) struct EventLoop {
    poll: Poll,
    listeners: Listeners,
    signals: Signals,
    /// Clients to read again before polling: their read was cut short by the per-event
    /// budget, or they sent something while their command yielded (with whether the peer
    /// closed its side).
    pending_reads: Vec<(usize, bool)>,
    /// Number of SIGINT/SIGTERM received (a second one while shutting down exits at once).
    shutdown_signals: u32,
    /// Polls awake for a moment before sleeping, while busy (`busy-poll-usec`).
    busy_poll: BusyPoll,
    /// True while a command yields to the loop (`process_events_while_blocked`).
    nested: bool,
    /// The event buffer of `process_events_while_blocked` (the main loop's is `run`'s).
    nested_events: Option<Events>,
    /// True while the diskless transfer is being pumped (`pump_diskless`), so that a write
    /// that finishes a chunk does not pump again from inside.
    pumping: bool,
    /// Events polled and not handled yet. A queue beside the loop, not the poll's buffer,
    /// because a command that yields runs in the middle of a batch: the events after its own
    /// are handled by the nested loop (the poll is edge-triggered and would not report them
    /// again), and the rest of the batch is what remains here when it ends.
    ready: VecDeque<Ready>,
}

impl EventLoop {
    /// Binds the configured addresses and sets up signal delivery.
    pub(crate) fn new(srv: &mut Server<'_>) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let listeners = Listeners::bind(&listen_spec(&srv.data.config), poll.registry())?;
        srv.data.tcp_port = listeners.port;
        srv.data.listener_fds = listeners.raw_fds();
        let mut signals = Signals::new([SIGTERM, SIGINT, SIGCHLD])?;
        poll.registry().register(&mut signals, SIGNAL_TOKEN, Interest::READABLE)?;
        crate::app::shutdown::install_insist_handler();
        Ok(EventLoop {
            poll,
            listeners,
            signals,
            shutdown_signals: 0,
            pending_reads: Vec::new(),
            busy_poll: BusyPoll::default(),
            nested: false,
            nested_events: None,
            pumping: false,
            ready: VecDeque::new(),
        })
    }

    /// The poll's registry (the replica's master link registers there).
    pub(crate) fn registry(&self) -> &mio::Registry {
        self.poll.registry()
    }

    /// Runs until a shutdown completes.
    pub(crate) fn run(&mut self, srv: &mut Server<'_>) {
        let mut events = Events::with_capacity(1024);
        let mut next_cron = Instant::now();
        loop {
            self.before_sleep(srv);
            if srv.data.exit_requested {
                return;
            }
            if crate::app::shutdown::before_poll(srv) {
                return;
            }
            let now = Instant::now();
            let timeout = if srv.data.loading.is_some() || srv.data.replica.load.is_some() {
                Duration::from_millis(10)
            } else if srv.data.pending_input.is_empty() && self.pending_reads.is_empty() {
                let cron_in = next_cron.saturating_duration_since(now);
                // Wake up for the soonest blocked client's deadline.
                match srv.data.blocking.next_deadline() {
                    Some(d) => {
                        let in_ms = (d - base::mstime()).max(0) as u64;
                        cron_in.min(Duration::from_millis(in_ms))
                    }
                    None => cron_in,
                }
            } else {
                Duration::ZERO
            };
            let window = self.busy_poll.window(
                srv.data.config.busy_poll_usec,
                srv.data.persist.child.is_some(),
                !events.is_empty(),
                timeout,
            );
            if !self.busy_poll.spin(&mut self.poll, &mut events, window) {
                if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                    if e.kind() != io::ErrorKind::Interrupted {
                        log!(Level::Warning, "Event loop poll failed: {}", e);
                    }
                }
            }
            self.handle_events(srv, &events);
            if Instant::now() >= next_cron {
                self.cron(srv);
                let period = Duration::from_micros(1_000_000 / srv.effective_hz() as u64);
                next_cron = Instant::now() + period;
            }
        }
    }

    /// Queues what a poll reported and handles the queue (`ready`) in order; returns how
    /// many events were handled.
    fn handle_events(&mut self, srv: &mut Server<'_>, events: &Events) -> usize {
        self.ready.extend(events.iter().map(Ready::of));
        let mut handled = 0;
        while let Some(r) = self.ready.pop_front() {
            self.handle_event(srv, r);
            handled += 1;
        }
        handled
    }

    /// One ready event: a signal, a client's socket, a listener.
    fn handle_event(&mut self, srv: &mut Server<'_>, r: Ready) {
        if r.token == SIGNAL_TOKEN {
            self.handle_signals(srv);
        } else if r.token == RDB_PIPE_TOKEN {
            self.pump_diskless(srv);
        } else if r.token.0 >= CLIENT_BASE {
            let slot = r.token.0 - CLIENT_BASE;
            if self.nested && srv.clients.get_mut(slot).is_none() {
                // The client whose command yields: its socket is read once the command ends
                // (no new edge would announce what is waiting there).
                if r.readable {
                    self.defer_read(slot, r.closed);
                }
                return;
            }
            if r.readable {
                self.handle_readable(srv, slot, r.closed);
            }
            if r.writable {
                self.handle_writable(srv, slot);
            }
        } else if r.token == crate::repl::replica::LINK_TOKEN {
            crate::app::replication::on_link_event(self, srv, r.writable);
        } else {
            self.accept(srv, r.token);
        }
    }

    /// Queues a client to be read before the next poll.
    pub(crate) fn defer_read(&mut self, slot: usize, peer_closed: bool) {
        match self.pending_reads.iter_mut().find(|r| r.0 == slot) {
            Some(r) => r.1 |= peer_closed,
            None => self.pending_reads.push((slot, peer_closed)),
        }
    }

    /// Redis's processEventsWhileBlocked, for a command that yields (see the module doc):
    /// up to four rounds of a poll that does not wait, each followed by the work of
    /// `before_sleep` that serves clients (held reads and input, the AOF write, replies,
    /// closing). Returns the number of events and held clients handled. Never nests: a
    /// command run in here is refused as busy before it could yield.
    pub(crate) fn process_events_while_blocked(&mut self, srv: &mut Server<'_>) -> usize {
        if self.nested {
            return 0;
        }
        self.nested = true;
        let mut events = self.nested_events.take().unwrap_or_else(|| Events::with_capacity(256));
        let mut handled = self.serve_pending(srv);
        for _ in 0..4 {
            if let Err(e) = self.poll.poll(&mut events, Some(Duration::ZERO)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log!(Level::Warning, "Event loop poll failed: {}", e);
                }
            }
            let mut round = self.handle_events(srv, &events);
            round += self.serve_pending(srv);
            if srv.data.exit_requested {
                // SHUTDOWN NOSAVE, allowed while busy, has done its preparation: exit now, as
                // Redis's shutdownCommand does, the yielding command never to return.
                std::process::exit(0);
            }
            handled += round;
            if round == 0 {
                break;
            }
        }
        self.nested_events = Some(events);
        self.nested = false;
        handled
    }

    /// Work done before every poll: held input, queued output, closing clients, rebinding.
    fn before_sleep(&mut self, srv: &mut Server<'_>) {
        if srv.data.loading.is_some() {
            if let Err(e) = crate::persist::rdb_io::poll_loading(srv.data) {
                log!(Level::Warning, "Fatal error loading the DB: {}. Exiting.", e);
                crate::app::shutdown::remove_pidfile(srv.data);
                std::process::exit(1);
            }
        }
        if srv.data.blocking.next_deadline().is_some() {
            crate::engine::blocking::handle_timeouts(&mut srv.ctx(), base::mstime());
        }
        // CONFIG SET maxmemory below what is used: evict now, announcing and propagating each
        // key, whatever the outcome (a failure only means later writes get OOM).
        if std::mem::take(&mut srv.data.evict_requested)
            && srv.data.busy.is_none()
            && !(srv.data.replica.is_replica() && srv.data.config.replica_ignore_maxmemory)
        {
            crate::engine::evict::perform_evictions(&mut srv.ctx());
        }
        self.replication_before_sleep(srv);
        crate::commands::tracking::before_sleep(&mut srv.ctx());
        self.serve_pending(srv);
        crate::app::replication::before_sleep(self, srv);
        if srv.data.rebind_requested {
            srv.data.rebind_requested = false;
            match Listeners::bind(&listen_spec(&srv.data.config), self.poll.registry()) {
                Ok(new) => {
                    self.listeners.deregister(self.poll.registry());
                    self.listeners = new;
                    srv.data.tcp_port = self.listeners.port;
                    srv.data.listener_fds = self.listeners.raw_fds();
                }
                Err(e) => log!(Level::Warning, "Failed to bind after configuration change: {}", e),
            }
        }
    }

    /// Serves what is held for clients: reads cut short, input to process again, then the
    /// AOF write, queued replies and clients to close. While a command yields, what concerns
    /// its client (out of its slot) is kept for after. Returns the reads and inputs handled.
    fn serve_pending(&mut self, srv: &mut Server<'_>) -> usize {
        let mut handled = 0;
        for (slot, peer_closed) in std::mem::take(&mut self.pending_reads) {
            if self.nested && srv.clients.get_mut(slot).is_none() {
                self.defer_read(slot, peer_closed);
                continue;
            }
            handled += 1;
            self.handle_readable(srv, slot, peer_closed);
        }
        let pending = std::mem::take(&mut srv.data.pending_input);
        for slot in pending {
            if self.nested && srv.clients.get_mut(slot).is_none() {
                srv.data.pending_input.push(slot);
                continue;
            }
            handled += 1;
            self.process_input(srv, slot);
        }
        // The AOF is written (and fsynced with appendfsync always) before any reply leaves,
        // as Redis's beforeSleep calls flushAppendOnlyFile before handleClientsWithPendingWrites.
        if crate::persist::aof::flush(srv.data, false).is_err() {
            crate::app::shutdown::exit_on_aof_fatal(srv.data);
        }
        let mut writes = std::mem::take(&mut srv.data.pending_writes);
        for slot in writes.drain(..) {
            self.write_or_register(srv, slot);
        }
        if srv.data.pending_writes.is_empty() {
            srv.data.pending_writes = writes; // keep the capacity for the next batch
        }
        let to_close: Vec<usize> =
            srv.clients.iter().filter(|c| c.session.close_asap).map(|c| c.session.slot).collect();
        for slot in to_close {
            self.close_client(srv, slot);
        }
        handled
    }

    fn handle_signals(&mut self, srv: &mut Server<'_>) {
        let received: Vec<i32> = self.signals.pending().collect();
        for sig in received {
            if sig == SIGCHLD {
                // Not while a command yields: the child's end changes persistence state under
                // it. The cron's waitpid (the safety net) reaps it once the command ends.
                if !self.nested {
                    crate::persist::snapshot::check_children_done(srv.data);
                }
                continue;
            }
            let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
            self.shutdown_signals += 1;
            if self.shutdown_signals > 1 && srv.data.shutdown.is_some() {
                log!(Level::Warning, "You insist... exiting now.");
                crate::app::shutdown::remove_pidfile(srv.data);
                std::process::exit(1);
            }
            log!(Level::Warning, "Received {} scheduling shutdown...", name);
            let directive = if sig == SIGINT {
                srv.data.config.shutdown_on_sigint.as_str()
            } else {
                srv.data.config.shutdown_on_sigterm.as_str()
            };
            srv.data.shutdown = Some(ShutdownRequest::from_directive(directive));
        }
    }

    fn accept(&mut self, srv: &mut Server<'_>, token: Token) {
        loop {
            let Some(listener) = self.listeners.get_mut(token) else {
                return;
            };
            let accepted = match listener {
                Listener::Tcp(l) => l.accept().map(|(s, peer)| {
                    let laddr =
                        s.local_addr().map(|a| Session::format_addr(&a)).unwrap_or_default();
                    let _ = s.set_nodelay(true);
                    if srv.data.config.tcp_keepalive > 0 {
                        // As Redis's anetKeepAlive: probes start after the configured idle
                        // time, then every third of it, and three unanswered ones drop the peer.
                        let idle = srv.data.config.tcp_keepalive as u64;
                        let ka = socket2::TcpKeepalive::new()
                            .with_time(Duration::from_secs(idle))
                            .with_interval(Duration::from_secs((idle / 3).max(1)))
                            .with_retries(3);
                        let _ = socket2::SockRef::from(&s).set_tcp_keepalive(&ka);
                    }
                    (Stream::Tcp(s), Session::format_addr(&peer), laddr)
                }),
                Listener::Unix(l, path) => {
                    let path = path.clone();
                    l.accept().map(|(s, _)| (Stream::Unix(s), format!("{}:0", path), path))
                }
            };
            match accepted {
                Ok((stream, addr, laddr)) => self.register_client(srv, stream, addr, laddr),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log!(Level::Warning, "Accepting client connection: {}", e);
                    return;
                }
            }
        }
    }

    fn register_client(
        &mut self,
        srv: &mut Server<'_>,
        mut stream: Stream,
        addr: String,
        laddr: String,
    ) {
        srv.data.stats.total_connections_received += 1;
        if srv.clients.len() >= srv.data.config.maxclients as usize {
            srv.data.stats.rejected_connections += 1;
            let _ = stream.write(b"-ERR max number of clients reached\r\n");
            return;
        }
        let slot = srv.clients.vacant_slot();
        let now = base::unix_time();
        let mut c = Box::new(Client::new(srv.data.next_client_id, slot, stream, addr, laddr, now));
        srv.data.next_client_id += 1;
        if protected_mode_denies(srv, &c) {
            srv.data.stats.rejected_connections += 1;
            let _ = c.conn.stream.write(PROTECTED_MODE_DENIED.as_bytes());
            srv.add_client(c);
            srv.remove_client(slot);
            return;
        }
        c.session.authenticated = !commands::auth_required(&srv.ctx());
        let token = Token(CLIENT_BASE + slot);
        let registered = match &mut c.conn.stream {
            Stream::Tcp(s) => self.poll.registry().register(s, token, Interest::READABLE),
            Stream::Unix(s) => self.poll.registry().register(s, token, Interest::READABLE),
        };
        if let Err(e) = registered {
            log!(Level::Warning, "Error registering fd event for the new client: {}", e);
            srv.add_client(c);
            srv.remove_client(slot);
            return;
        }
        log!(Level::Verbose, "Accepted {}", c.session.addr);
        srv.add_client(c);
    }

    /// Reads what the client sent. `peer_closed`: the event said the peer shut its side, so we
    /// read on to the end of the stream instead of stopping at a short read.
    fn handle_readable(&mut self, srv: &mut Server<'_>, slot: usize, peer_closed: bool) {
        let Some(c) = srv.clients.get_mut(slot) else {
            return;
        };
        let mut read_total = 0usize;
        let mut closed = false;
        // Under maxmemory, input is read 16 KB at a time as Redis reads it: read-ahead counts
        // as used memory, and a pipelined burst held whole made eviction delete keys to hold
        // commands not parsed yet.
        let budget = if srv.data.config.maxmemory > 0 { READ_CHUNK } else { READ_BUDGET };
        loop {
            let want = c.conn.parser.expected_bulk().unwrap_or(0).clamp(READ_CHUNK, READ_BUDGET);
            let spare = c.conn.qbuf.spare(want);
            let asked = spare.len().min(budget.max(want));
            match c.conn.stream.read(&mut spare[..asked]) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    c.conn.qbuf.filled(n);
                    read_total += n;
                    if read_total >= budget {
                        // More may be waiting and no new edge will announce it: read again
                        // before the next poll (other clients get their turn first).
                        self.pending_reads.push((slot, false));
                        break;
                    }
                    // A short read drained the socket: the next arrival (or the peer's FIN)
                    // is a new edge, unless the FIN came with this one.
                    if n < asked && !peer_closed {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log!(Level::Verbose, "Reading from client: {}", e);
                    closed = true;
                    break;
                }
            }
        }
        if read_total > 0 {
            // The primary's stream counts apart, as Redis's stat_net_repl_input_bytes.
            if c.session.kind == ClientKind::Primary {
                srv.data.replica.net_repl_input_bytes += read_total as u64;
            } else {
                srv.data.stats.total_net_input_bytes += read_total as u64;
            }
            srv.data.stats.total_reads_processed += 1;
            c.session.last_interaction = base::unix_time();
            let qlen = c.conn.qbuf.len() - c.conn.qpos;
            c.conn.qbuf_peak = c.conn.qbuf_peak.max(c.conn.qbuf.len());
            srv.data.recent_max_input = srv.data.recent_max_input.max(qlen);
            if qlen as i64 > srv.data.config.client_query_buffer_limit {
                log!(
                    Level::Warning,
                    "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                    c.session.id,
                    c.session.addr,
                    String::from_utf8_lossy(
                        &c.conn.qbuf.data()[c.conn.qpos..c.conn.qpos + qlen.min(64)]
                    )
                );
                self.close_client(srv, slot);
                return;
            }
            self.process_input(srv, slot);
        }
        if closed {
            let Some(c) = srv.clients.get_mut(slot) else {
                return;
            };
            log!(
                Level::Verbose,
                "Client closed connection id={} addr={}",
                c.session.id,
                c.session.addr
            );
            if c.has_pending_output() {
                // The peer may have shut only its sending side (`echo PING | nc -N`) and still
                // wait for the replies to what it sent: close once they are written (or the
                // write fails), as Redis, whose beforeSleep writes them before it reads the
                // end of the stream. Its input is all processed: nothing more will run.
                c.session.close_after_reply = true;
                srv.note_pending_write(slot);
            } else {
                self.close_client(srv, slot);
            }
        }
    }

    /// Parses and runs every complete command in the client's query buffer, then queues the replies for before_sleep.
    fn process_input(&mut self, srv: &mut Server<'_>, slot: usize) {
        let Some(mut c) = srv.clients.take(slot) else {
            return;
        };
        if c.session.kind == ClientKind::Primary {
            crate::app::replication::process_master_input(self, srv, &mut c);
            srv.clients.put_back(c);
            srv.note_pending_write(slot);
            return;
        }
        loop {
            if c.session.close_after_reply
                || c.session.close_asap
                || c.session.paused
                || c.session.blocked.is_some()
            {
                break;
            }
            // A command held by CLIENT PAUSE runs first, from the arguments it kept.
            if c.session.held_command {
                c.session.held_command = false;
                if run_command(self, srv, &mut c) == Outcome::Held {
                    c.session.held_command = true;
                    break;
                }
                continue;
            }
            let limits = Limits {
                max_bulk_len: srv.data.config.proto_max_bulk_len,
                authenticated: c.session.authenticated,
            };
            match c.conn.parser.next(c.conn.qbuf.data(), &mut c.conn.qpos, limits) {
                Parsed::Command => {
                    if run_command(self, srv, &mut c) == Outcome::Held {
                        c.session.held_command = true;
                        break;
                    }
                }
                Parsed::Incomplete => break,
                Parsed::Error(e) => {
                    let msg = e.message();
                    log!(
                        Level::Verbose,
                        "{} from client: id={} addr={}",
                        msg,
                        c.session.id,
                        c.session.addr
                    );
                    c.session.add_err(&msg);
                    for code in std::mem::take(&mut c.session.errors) {
                        srv.data.stats.count_error(code);
                    }
                    c.session.close_after_reply = true;
                    break;
                }
            }
        }
        // Drop consumed bytes; keep the partial command at the front. A big bulk arriving in
        // pieces is not moved on every read: the parser holds its position.
        if c.conn.qpos == c.conn.qbuf.len()
            || (c.conn.qpos > 0 && !c.conn.parser.in_progress())
            || c.conn.qpos > 64 * 1024
        {
            c.conn.qbuf.consume(c.conn.qpos);
            c.conn.qpos = 0;
        }
        srv.clients.put_back(c);
        // Written in before_sleep, after the AOF write (so a reply never leaves before its
        // command is in the AOF) and together with every other client served in this batch.
        srv.note_pending_write(slot);
    }

    /// Writes a client's pending output; registers for writable events if the socket is full,
    /// closes the client if it asked to be closed after its reply.
    fn write_or_register(&mut self, srv: &mut Server<'_>, slot: usize) {
        if crate::persist::aof::has_pending(srv.data)
            && crate::persist::aof::flush(srv.data, false).is_err()
        {
            crate::app::shutdown::exit_on_aof_fatal(srv.data);
        }
        let Some(c) = srv.clients.get_mut(slot) else {
            return;
        };
        let is_replica = c.session.kind == ClientKind::Replica;
        // A replica being closed (CLIENT KILL, even inside a MULTI) is sent nothing more, as
        // Redis skips CLOSE_ASAP clients: what it missed is a resync's, not this link's.
        if is_replica && c.session.close_asap {
            return;
        }
        if c.has_pending_output() || is_replica {
            let before = c.pending_output();
            let mut result = c.flush();
            let written = before - c.pending_output();
            srv.data.stats.total_net_output_bytes += written as u64;
            srv.data.recent_max_output = srv.data.recent_max_output.max(before);
            if is_replica && matches!(result, Ok(true)) && !c.session.close_after_reply {
                result = self.write_replica_payload(srv, slot);
            }
            let Some(c) = srv.clients.get_mut(slot) else {
                return;
            };
            match result {
                Ok(true) => {
                    srv.data.stats.total_writes_processed += 1;
                    if c.conn.want_write {
                        c.conn.want_write = false;
                        let _ = self.reregister(slot, Interest::READABLE, srv);
                    }
                }
                Ok(false) => {
                    if !c.conn.want_write {
                        c.conn.want_write = true;
                        let _ = self.reregister(slot, Interest::READABLE | Interest::WRITABLE, srv);
                    }
                    return;
                }
                Err(e) => {
                    log!(Level::Verbose, "Error writing to client: {}", e);
                    self.close_client(srv, slot);
                    return;
                }
            }
        }
        if let Some(c) = srv.clients.get_mut(slot) {
            if c.session.close_after_reply && !c.has_pending_output() {
                self.close_client(srv, slot);
            }
        }
    }

    fn reregister(
        &mut self,
        slot: usize,
        interest: Interest,
        srv: &mut Server<'_>,
    ) -> io::Result<()> {
        let Some(c) = srv.clients.get_mut(slot) else {
            return Ok(());
        };
        let token = Token(CLIENT_BASE + slot);
        match &mut c.conn.stream {
            Stream::Tcp(s) => self.poll.registry().reregister(s, token, interest),
            Stream::Unix(s) => self.poll.registry().reregister(s, token, interest),
        }
    }

    fn handle_writable(&mut self, srv: &mut Server<'_>, slot: usize) {
        self.write_or_register(srv, slot);
    }

    /// Writes what follows a replica's reply buffer (`repl::primary::write_payload`): its RDB
    /// file, its share of the diskless chunk, or the stream. Ok(true) when nothing is left
    /// to write now.
    fn write_replica_payload(&mut self, srv: &mut Server<'_>, slot: usize) -> io::Result<bool> {
        use crate::repl::primary::{self, Written};
        let Some(c) = srv.clients.get_mut(slot) else {
            return Ok(true);
        };
        let now_ms = base::mstime();
        let d = &mut *srv.data;
        let written = primary::write_payload(
            &mut d.primary,
            &mut d.repl_buf,
            slot,
            &mut c.conn.stream,
            now_ms,
        );
        match written {
            Ok(Written::Blocked) => Ok(false),
            Ok(Written::BulkDone) => {
                if primary::bulk_done(&mut srv.data.primary, slot) {
                    // Online: the stream since the fork follows at once.
                    return self.write_replica_payload(srv, slot);
                }
                if let Some(c) = srv.clients.get_mut(slot) {
                    c.session.close_after_reply = true;
                }
                Ok(true)
            }
            Ok(Written::Done) => {
                let diskless = srv.data.primary.link(slot).is_some_and(|l| {
                    l.diskless && l.state == crate::repl::primary::LinkState::WaitBgsaveEnd
                });
                if diskless && !self.pumping {
                    self.pump_diskless(srv);
                    // The pump may have left this replica part of the next chunk (its socket
                    // full again): its writer must keep waiting for writable, or the pipe
                    // is never read again and the child blocks until repl-timeout.
                    if primary::chunk_pending_for(&srv.data.primary, slot) {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Err(e) => {
                if let Some(l) = srv.data.primary.link(slot) {
                    if l.state == crate::repl::primary::LinkState::Online {
                        log!(Level::Verbose, "Error writing to client: {}", e);
                    } else {
                        log!(
                            Level::Warning,
                            "Diskless rdb transfer, write error sending DB to replica: {}",
                            e
                        );
                    }
                }
                Err(e)
            }
        }
    }

    /// Fans the diskless child's RDB out to its replicas: reads a chunk of the pipe once every
    /// replica took the previous one, writes it to each (those whose socket is full wait for
    /// a writable event), and so on until the pipe is empty or a replica lags (Redis's
    /// rdbPipeReadHandler and rdbPipeWriteHandler).
    fn pump_diskless(&mut self, srv: &mut Server<'_>) {
        use crate::repl::primary::{self, PipeRead};
        if self.pumping {
            return;
        }
        self.pumping = true;
        while primary::read_pipe(&mut srv.data.primary) == PipeRead::Chunk {
            for slot in primary::diskless_slots(&srv.data.primary) {
                self.write_or_register(srv, slot);
            }
        }
        self.pumping = false;
    }

    /// The replication work before every poll: WAIT, syncs to start, links to close (the
    /// command layer's half), the diskless pipe to register, replicas with bytes to write.
    fn replication_before_sleep(&mut self, srv: &mut Server<'_>) {
        crate::commands::replication::before_sleep(&mut srv.ctx());
        let d = &mut *srv.data;
        if let Some(t) = d.primary.diskless.as_mut() {
            if !t.registered {
                if let Some(fd) = t.pipe_fd() {
                    t.registered = true;
                    let mut src = mio::unix::SourceFd(&fd);
                    if let Err(e) =
                        self.poll.registry().register(&mut src, RDB_PIPE_TOKEN, Interest::READABLE)
                    {
                        log!(
                            Level::Warning,
                            "Can't register the RDB pipe with the event loop: {}",
                            e
                        );
                    }
                    self.pump_diskless(srv);
                }
            }
        }
        let d = &mut *srv.data;
        if !d.primary.links.is_empty() {
            d.primary.slots_to_write(&d.repl_buf, &mut d.pending_writes);
        }
        // Blocks the replicas let go of are freed a few at a time as they go; the rest here,
        // ten times the per-call bound, as Redis's beforeSleep.
        if d.repl_buf.has_backlog() {
            d.repl_buf.trim(crate::repl::buffer::TRIM_BLOCKS_PER_CALL * 10);
        }
    }

    /// Removes a client: deregisters and closes its socket, forgets it everywhere.
    pub(crate) fn close_client(&mut self, srv: &mut Server<'_>, slot: usize) {
        crate::app::replication::master_lost(srv, slot);
        let Some(mut c) = srv.remove_client(slot) else {
            return;
        };
        if c.session.kind == ClientKind::Replica {
            if let Some(l) = srv.data.primary.link(slot) {
                log!(Level::Warning, "Connection with replica {} lost.", l.name);
            }
        }
        let d = &mut *srv.data;
        let no_save_points = d.config.save_points().is_empty();
        match d.primary.client_closed(&mut d.repl_buf, slot, c.session.id, no_save_points) {
            Some(crate::repl::primary::ChildActivity::Sockets) => {
                log!(
                    Level::Warning,
                    "Diskless rdb transfer, last replica dropped, killing fork child."
                );
                if let Some(ch) = d.persist.child.as_mut() {
                    if ch.kind == crate::fork::ChildKind::RdbToReplicas {
                        ch.kill_on_purpose();
                    }
                }
                if let Some(t) = d.primary.diskless.as_mut() {
                    if let Some(fd) = t.pipe_fd() {
                        let _ = self.poll.registry().deregister(&mut mio::unix::SourceFd(&fd));
                    }
                }
                d.primary.diskless = None;
            }
            Some(crate::repl::primary::ChildActivity::Disk) => {
                // No save point needs the file: stop the child rather than let it dirty
                // copy-on-write pages for nobody (seed 001).
                if let Some(ch) = d.persist.child.as_mut() {
                    if ch.kind == crate::fork::ChildKind::RdbToFile {
                        log!(
                            Level::Notice,
                            "Background saving for replication stopped: no replica waits for it"
                        );
                        ch.kill_on_purpose();
                    }
                }
            }
            _ => {}
        }
        let _ = match &mut c.conn.stream {
            Stream::Tcp(s) => self.poll.registry().deregister(s),
            Stream::Unix(s) => self.poll.registry().deregister(s),
        };
        srv.forget_client(&mut c);
        // A replica that left a diskless transfer may have been the one holding the next
        // chunk back; the pipe's readable edge came and went while it lagged, so read on now
        // for the others (else the child waits on a full pipe forever).
        if srv.data.primary.diskless.as_ref().is_some_and(|d| d.pipe_fd().is_some()) {
            self.pump_diskless(srv);
        }
    }

    /// Housekeeping `hz` times a second.
    fn cron(&mut self, srv: &mut Server<'_>) {
        if srv.data.cron_paused {
            return;
        }
        srv.data.cronloops += 1;
        self.busy_poll.reset();
        let now_ms = base::mstime();
        srv.data.stats.sample(now_ms);
        srv.paused(now_ms);
        crate::app::server::cron(srv, now_ms);
        crate::app::replication::cron(self, srv, now_ms);
        crate::commands::replication::cron(&mut srv.ctx(), now_ms);
        crate::engine::blocking::handle_timeouts(&mut srv.ctx(), now_ms);
        crate::commands::tracking::cron(&mut srv.ctx());
        // Idle clients (timeout), as Redis's clientsCronHandleTimeout.
        if srv.data.config.timeout > 0 {
            let now = now_ms / 1000;
            let idle: Vec<usize> = srv
                .clients
                .iter()
                .filter(|c| {
                    c.session.kind == ClientKind::Normal
                        && !c.session.monitor
                        && !c.session.paused
                        && c.session.blocked.is_none()
                        && now - c.session.last_interaction > srv.data.config.timeout
                })
                .map(|c| c.session.slot)
                .collect();
            for slot in idle {
                log!(Level::Verbose, "Closing idle client");
                self.close_client(srv, slot);
            }
        }
    }
}

/// The reply a protected-mode server gives a non-local client, in Redis 7.0.15's words (its
/// typo "Setup a an" included).
const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Argument slots a client's parser keeps between commands.
const MAX_KEPT_ARGS: usize = 1024;

/// Runs the command whose arguments are in the client's parser: they are taken out for the
/// call (and kept there if CLIENT PAUSE holds the command), and the connection's figures are
/// recorded for CLIENT LIST/INFO, since the client is out of its slot meanwhile. The command's
/// context reaches the event loop (`Running`), so that it may yield to it.
#[inline]
pub(crate) fn run_command(ev: &mut EventLoop, srv: &mut Server<'_>, c: &mut Client) -> Outcome {
    let mut argv = std::mem::take(&mut c.conn.parser.argv);
    srv.clients.running = ConnFigures::of(&c.conn);
    let replica_out = (c.session.kind == ClientKind::Replica).then(|| c.pending_output());
    let mut server = Running { clients: &mut *srv.clients, ev };
    let outcome = commands::call(&mut Ctx::new(srv.data, &mut server), &mut c.session, &argv);
    // A replica's link is for the stream, not replies: one its command made is not sent, and
    // the replica is dropped (Redis's logInvalidUseAndFreeClientAsync).
    if replica_out.is_some_and(|before| c.pending_output() > before) {
        let info = crate::app::client::info_line(
            &c.session,
            &ConnFigures::of(&c.conn),
            tine_core::base::unix_time(),
        );
        log!(
            Level::Warning,
            "Replica generated a reply to command '{}', disconnecting it: {}",
            c.session.last_cmd,
            info
        );
        c.session.close_asap = true;
    }
    if outcome != Outcome::Held {
        // Keep the vector's allocation for the next command, unless a command with many
        // arguments grew it: that would hold megabytes per client (as Redis frees argv).
        if argv.capacity() > MAX_KEPT_ARGS {
            argv = Vec::new();
        } else {
            argv.clear();
        }
    }
    c.conn.parser.argv = argv;
    outcome
}

/// Redis 7.0 refuses a client that is not local (`Session::is_local`) when protected mode is
/// on and the default user has no password, whatever `bind` says.
fn protected_mode_denies(srv: &Server<'_>, c: &Client) -> bool {
    srv.data.config.protected_mode
        && srv.data.config.requirepass.is_empty()
        && !c.session.is_local()
}

/// What the configuration says to listen on, for `net::listen`.
fn listen_spec(config: &crate::config::Config) -> ListenSpec {
    ListenSpec {
        bind: config.bind_addrs(),
        port: config.port,
        tcp_backlog: config.tcp_backlog,
        unixsocket: config.unixsocket.clone(),
        unixsocketperm: config.unixsocketperm,
    }
}
