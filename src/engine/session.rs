//! A client's session: everything about a client that is not its connection — identity and
//! peer address, selected db, protocol version, authentication, the reply buffer and its
//! `add_*` reply methods (RESP2 or RESP3 form, `CLIENT REPLY OFF|SKIP` honoured), the MULTI
//! queue, watched keys, subscriptions, what a blocked client waits for, and the flags CLIENT
//! LIST prints. Command handlers take a `&mut Session`.
//!
//! It lives in engine, below commands and beside the subsystems that keep state per client
//! (blocking, pub/sub), so that none of them names the transport: the connection (socket,
//! query buffer, parser, write position) is `net::connection::Connection`, and the pair is
//! `app::client::Client`. A session with no connection (the AOF replay's) is just a
//! `Session`.
//!
//! Replies are appended to `obuf`; the event loop writes it to the socket after the commands
//! of one read have run, so a pipeline's replies leave in one write.

use std::net::SocketAddr;

use tine_core::protocol::reply;
use tine_core::protocol::{CmdError, Resp};

/// The queued commands of a client inside MULTI.
#[derive(Default)]
pub(crate) struct MultiState {
    pub(crate) commands: Vec<Vec<Vec<u8>>>,
    /// A queued command was rejected: EXEC must abort.
    pub(crate) errored: bool,
    /// The union of the queued commands' flags, and whether every one of them may run on a
    /// stale replica: EXEC is checked with them (write, deny-oom, stale...) when it arrives,
    /// as Redis's mstate.cmd_flags / cmd_inv_flags, so a state change after queueing (a
    /// min-replicas-to-write raised, a lost primary link) aborts it instead of half-running it.
    pub(crate) flags: u32,
    pub(crate) some_not_stale: bool,
}

/// `CLIENT REPLY` modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the reply of the command being run now.
    Skipping,
}

/// The kind of a client for CLIENT LIST's flags and CLIENT KILL TYPE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ClientKind {
    Normal,
    Replica,
    Primary,
    PubSub,
}

/// A client's session state.
pub(crate) struct Session {
    pub(crate) id: u64,
    /// Index in the client table; also the mio token.
    pub(crate) slot: usize,
    /// "ip:port" of the peer (or "/path:0" for unix sockets), as CLIENT LIST prints it.
    pub(crate) addr: String,
    /// "ip:port" of our side.
    pub(crate) laddr: String,
    pub(crate) peer_ip: Option<std::net::IpAddr>,
    pub(crate) is_unix: bool,
    pub(crate) name: Vec<u8>,
    pub(crate) db: usize,
    pub(crate) resp: Resp,
    pub(crate) authenticated: bool,
    /// The ACL user this client runs as.
    pub(crate) user: String,
    /// The ACL epoch `acl_free` was computed at (`engine::acl::Acl::epoch`); 0: never.
    pub(crate) acl_epoch: u64,
    /// The user may run anything: the dispatcher skips the ACL check (valid at `acl_epoch`).
    pub(crate) acl_free: bool,

    /// Replies not yet written to the connection.
    pub(crate) obuf: Vec<u8>,
    pub(crate) reply_mode: ReplyMode,

    /// Close once the pending output is written (QUIT, protocol errors).
    pub(crate) close_after_reply: bool,
    /// Close at the next opportunity without writing more (CLIENT KILL, limits).
    pub(crate) close_asap: bool,
    pub(crate) monitor: bool,
    pub(crate) no_evict: bool,
    pub(crate) kind: ClientKind,
    /// Seconds since the epoch, for CLIENT LIST age and idle, and `timeout`.
    pub(crate) ctime: i64,
    pub(crate) last_interaction: i64,
    /// Full name of the last command ("client|list").
    pub(crate) last_cmd: &'static str,
    /// The replication offset after this client's last command (Redis's `c->woff`): what
    /// WAIT waits for replicas to acknowledge.
    pub(crate) woff: i64,
    /// Error codes (first word) of the errors replied during the command being run,
    /// drained by the command layer into INFO errorstats.
    pub(crate) errors: Vec<&'static str>,
    /// True while commands of this client wait for CLIENT PAUSE to end.
    pub(crate) paused: bool,
    /// Inside MULTI: the queued commands.
    pub(crate) multi: Option<MultiState>,
    /// True while EXEC runs the queue (blocking commands do not block then).
    pub(crate) in_exec: bool,
    /// WATCHed keys: (db, key, had a TTL when watched).
    pub(crate) watched: Vec<(usize, Vec<u8>, bool)>,
    /// A watched key changed: EXEC fails.
    pub(crate) dirty_cas: bool,
    /// Subscribed channels and patterns, and shard channels (SSUBSCRIBE: a namespace of
    /// their own, as in Redis 7.0).
    pub(crate) channels: std::collections::HashSet<Vec<u8>>,
    pub(crate) patterns: Vec<Vec<u8>>,
    pub(crate) shard_channels: std::collections::HashSet<Vec<u8>>,
    /// The parser's `argv` holds a command that was held (by CLIENT PAUSE) and must run
    /// before anything else is parsed.
    pub(crate) held_command: bool,
    /// Set while the client waits in a blocking command (BLPOP...): what it waits for. Its
    /// further commands wait in the query buffer meanwhile (see `super::blocking`).
    pub(crate) blocked: Option<Box<super::blocking::BlockedOn>>,
    /// CLIENT TRACKING on: the mode, redirect and prefixes (`super::tracking`).
    pub(crate) tracking: Option<Box<super::tracking::ClientTracking>>,
}

impl Session {
    /// True while the client holds any subscription (channel, pattern or shard channel): a
    /// RESP2 client is then in the subscribed context.
    pub(crate) fn subscribed(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty())
    }

    pub(crate) fn new(
        id: u64,
        slot: usize,
        is_unix: bool,
        addr: String,
        laddr: String,
        now: i64,
    ) -> Session {
        let peer_ip =
            addr.rsplit_once(':').and_then(|(ip, _)| ip.trim_matches(['[', ']']).parse().ok());
        Session {
            id,
            slot,
            addr,
            laddr,
            peer_ip,
            is_unix,
            name: Vec::new(),
            db: 0,
            resp: Resp::V2,
            authenticated: false,
            user: "default".to_string(),
            acl_epoch: 0,
            acl_free: false,
            obuf: Vec::new(),
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            close_asap: false,
            monitor: false,
            no_evict: false,
            kind: ClientKind::Normal,
            ctime: now,
            last_interaction: now,
            last_cmd: "NULL",
            woff: 0,
            errors: Vec::new(),
            paused: false,
            held_command: false,
            multi: None,
            in_exec: false,
            watched: Vec::new(),
            dirty_cas: false,
            channels: Default::default(),
            patterns: Vec::new(),
            shard_channels: Default::default(),
            blocked: None,
            tracking: None,
        }
    }

    /// Whether the client is local as Redis's islocalClient decides: a unix socket, or a TCP
    /// peer at exactly 127.0.0.1 or ::1 (not the rest of 127.0.0.0/8). Protected mode,
    /// `enable-debug-command local` and `enable-protected-configs local` go by it.
    pub(crate) fn is_local(&self) -> bool {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        self.is_unix
            || matches!(self.peer_ip, Some(IpAddr::V4(ip)) if ip == Ipv4Addr::LOCALHOST)
            || matches!(self.peer_ip, Some(IpAddr::V6(ip)) if ip == Ipv6Addr::LOCALHOST)
    }

    /// Formats a peer address as Redis does ("127.0.0.1:6379", "::1:6379").
    pub(crate) fn format_addr(addr: &SocketAddr) -> String {
        format!("{}:{}", addr.ip(), addr.port())
    }

    /// True when replies should be produced for the current command.
    #[inline]
    fn replying(&self) -> bool {
        self.reply_mode == ReplyMode::On
    }

    /// The output buffer to append a reply to, or `None` when replies are suppressed.
    #[inline]
    pub(crate) fn out(&mut self) -> Option<&mut Vec<u8>> {
        if self.replying() { Some(&mut self.obuf) } else { None }
    }

    pub(crate) fn add_ok(&mut self) {
        if let Some(o) = self.out() {
            o.extend_from_slice(b"+OK\r\n");
        }
    }
    pub(crate) fn add_simple(&mut self, s: &str) {
        if let Some(o) = self.out() {
            reply::simple(o, s);
        }
    }
    /// Replies an error inside a reply the command builds itself (an element of EXEC's
    /// array, a blocked client's end); a command's own error is its handler's `Err`. The code
    /// is recorded for INFO errorstats even when replies are off, as Redis counts them.
    pub(crate) fn add_error(&mut self, e: CmdError) {
        self.errors.push(e.code);
        if let Some(o) = self.out() {
            reply::error(o, &e.text);
        }
    }
    /// `-ERR <msg>`.
    pub(crate) fn add_err(&mut self, msg: &str) {
        self.add_error(CmdError::err(msg));
    }
    pub(crate) fn add_int(&mut self, n: i64) {
        if let Some(o) = self.out() {
            reply::integer(o, n);
        }
    }
    pub(crate) fn add_bulk(&mut self, b: &[u8]) {
        if let Some(o) = self.out() {
            reply::bulk(o, b);
        }
    }
    pub(crate) fn add_bulk_i64(&mut self, n: i64) {
        if let Some(o) = self.out() {
            reply::bulk_i64(o, n);
        }
    }
    pub(crate) fn add_null(&mut self) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::null(o, resp);
        }
    }
    pub(crate) fn add_null_array(&mut self) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::null_array(o, resp);
        }
    }
    pub(crate) fn add_array(&mut self, n: usize) {
        if let Some(o) = self.out() {
            reply::array(o, n);
        }
    }
    pub(crate) fn add_map(&mut self, n: usize) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::map(o, n, resp);
        }
    }
    pub(crate) fn add_set(&mut self, n: usize) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::set(o, n, resp);
        }
    }
    pub(crate) fn add_double(&mut self, v: f64) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::double(o, v, resp);
        }
    }
    pub(crate) fn add_verbatim(&mut self, text: &[u8]) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::verbatim(o, text, resp);
        }
    }
    /// An array of bulk strings.
    pub(crate) fn add_bulk_array<I, B>(&mut self, items: I)
    where
        I: ExactSizeIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        self.add_array(items.len());
        for b in items {
            self.add_bulk(b.as_ref());
        }
    }

    /// The "flags" field of CLIENT LIST.
    pub(crate) fn flags_string(&self) -> String {
        let mut f = String::new();
        match self.kind {
            ClientKind::Replica => f.push('S'),
            ClientKind::Primary => f.push('M'),
            ClientKind::PubSub => f.push('P'),
            ClientKind::Normal => {}
        }
        if self.monitor {
            f.push('O');
        }
        if self.blocked.is_some() {
            f.push('b');
        }
        if let Some(t) = &self.tracking {
            f.push('t');
            if t.broken_redirect {
                f.push('R');
            }
            if t.bcast {
                f.push('B');
            }
        }
        if self.close_after_reply {
            f.push('c');
        }
        if self.close_asap {
            f.push('A');
        }
        if self.is_unix {
            f.push('U');
        }
        if self.no_evict {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }
}
