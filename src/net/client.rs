//! One connected client: its socket, query buffer and request parser, reply buffer, and the
//! session state commands read and change (selected db, protocol version, name, flags).
//!
//! The session part is still on this struct, so transport names two engine types: the MULTI
//! queue (`engine::session::MultiState`) and what a blocked client waits for
//! (`engine::blocking::BlockedOn`). DESIGN.md puts the session in engine and keeps net to the
//! connection; that split changes the client type every command handler takes, so it is left
//! for a step of its own.
//!
//! Replies are appended to `obuf` by the `add_*` methods, which pick the RESP2 or RESP3 form
//! and honour `CLIENT REPLY OFF|SKIP`. The event loop writes `obuf` to the socket after the
//! commands of one read have run, so a pipeline's replies leave in one write.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpStream, UnixStream};

use tine_core::protocol::Resp;
use tine_core::protocol::reply;
use tine_core::protocol::request::RequestParser;

/// The socket of a client.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    pub fn raw_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// A client's query buffer. The bytes up to `end` are data; the rest is spare room that stays
/// initialized, so reading into it never re-zeroes memory (a `Vec::resize` per read would
/// memset the whole read chunk on every event).
#[derive(Default)]
pub struct QueryBuf {
    buf: Vec<u8>,
    end: usize,
}

impl QueryBuf {
    /// Room for at least `want` more bytes, to read into.
    pub fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.buf.len() - self.end < want {
            self.buf.resize(self.end + want, 0);
        }
        &mut self.buf[self.end..]
    }
    /// Marks `n` bytes of the spare room as data.
    pub fn filled(&mut self, n: usize) {
        self.end += n;
    }
    /// The data.
    pub fn data(&self) -> &[u8] {
        &self.buf[..self.end]
    }
    pub fn len(&self) -> usize {
        self.end
    }
    pub fn is_empty(&self) -> bool {
        self.end == 0
    }
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }
    /// Drops the first `n` bytes (consumed commands), keeping the rest at the front.
    pub fn consume(&mut self, n: usize) {
        if n >= self.end {
            self.end = 0;
            // Give back a buffer that grew for a big request.
            if self.buf.len() > 256 * 1024 {
                self.buf = Vec::new();
            }
        } else if n > 0 {
            self.buf.copy_within(n..self.end, 0);
            self.end -= n;
        }
    }
}

/// `CLIENT REPLY` modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the reply of the command being run now.
    Skipping,
}

/// The kind of a client for CLIENT LIST's flags and CLIENT KILL TYPE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientKind {
    Normal,
    Replica,
    Primary,
    PubSub,
}

/// A connected client.
pub struct Client {
    pub id: u64,
    /// Index in the client table; also the mio token.
    pub slot: usize,
    pub stream: Stream,
    /// "ip:port" of the peer (or "/path:0" for unix sockets), as CLIENT LIST prints it.
    pub addr: String,
    /// "ip:port" of our side.
    pub laddr: String,
    pub peer_ip: Option<std::net::IpAddr>,
    pub is_unix: bool,
    pub name: Vec<u8>,
    pub db: usize,
    pub resp: Resp,
    pub authenticated: bool,

    pub qbuf: QueryBuf,
    /// Read position in `qbuf`: bytes before it are consumed.
    pub qpos: usize,
    pub parser: RequestParser,
    /// Peak query buffer size seen since the last cron sample.
    pub qbuf_peak: usize,

    pub obuf: Vec<u8>,
    /// Bytes of `obuf` already written to the socket.
    pub opos: usize,
    pub reply_mode: ReplyMode,
    /// True while the socket is registered for writable events.
    pub want_write: bool,

    /// Close once the pending output is written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Close at the next opportunity without writing more (CLIENT KILL, limits).
    pub close_asap: bool,
    pub monitor: bool,
    pub no_evict: bool,
    pub kind: ClientKind,
    /// Seconds since the epoch, for CLIENT LIST age and idle, and `timeout`.
    pub ctime: i64,
    pub last_interaction: i64,
    /// Full name of the last command ("client|list").
    pub last_cmd: &'static str,
    /// Error codes (first word) of the errors replied during the command being run,
    /// drained by the command layer into INFO errorstats.
    pub errors: Vec<String>,
    /// True while commands of this client wait for CLIENT PAUSE to end.
    pub paused: bool,
    /// Inside MULTI: the queued commands.
    pub multi: Option<crate::engine::session::MultiState>,
    /// True while EXEC runs the queue (blocking commands do not block then).
    pub in_exec: bool,
    /// WATCHed keys: (db, key, had a TTL when watched).
    pub watched: Vec<(usize, Vec<u8>, bool)>,
    /// A watched key changed: EXEC fails.
    pub dirty_cas: bool,
    /// Subscribed channels and patterns.
    pub channels: std::collections::HashSet<Vec<u8>>,
    pub patterns: Vec<Vec<u8>>,
    /// The parser's `argv` holds a command that was held (by CLIENT PAUSE) and must run
    /// before anything else is parsed.
    pub held_command: bool,
    /// Set while the client waits in a blocking command (BLPOP...): what it waits for. Its
    /// further commands wait in the query buffer meanwhile (see `crate::engine::blocking`).
    pub blocked: Option<Box<crate::engine::blocking::BlockedOn>>,
}

impl Client {
    pub fn new(
        id: u64,
        slot: usize,
        stream: Stream,
        addr: String,
        laddr: String,
        now: i64,
    ) -> Client {
        let is_unix = matches!(stream, Stream::Unix(_));
        let peer_ip =
            addr.rsplit_once(':').and_then(|(ip, _)| ip.trim_matches(['[', ']']).parse().ok());
        Client {
            id,
            slot,
            stream,
            addr,
            laddr,
            peer_ip,
            is_unix,
            name: Vec::new(),
            db: 0,
            resp: Resp::V2,
            authenticated: false,
            qbuf: QueryBuf::default(),
            qpos: 0,
            parser: RequestParser::new(),
            qbuf_peak: 0,
            obuf: Vec::new(),
            opos: 0,
            reply_mode: ReplyMode::On,
            want_write: false,
            close_after_reply: false,
            close_asap: false,
            monitor: false,
            no_evict: false,
            kind: ClientKind::Normal,
            ctime: now,
            last_interaction: now,
            last_cmd: "NULL",
            errors: Vec::new(),
            paused: false,
            held_command: false,
            multi: None,
            in_exec: false,
            watched: Vec::new(),
            dirty_cas: false,
            channels: Default::default(),
            patterns: Vec::new(),
            blocked: None,
        }
    }

    /// Formats a peer address as Redis does ("127.0.0.1:6379", "::1:6379").
    pub fn format_addr(addr: &SocketAddr) -> String {
        format!("{}:{}", addr.ip(), addr.port())
    }

    /// True when replies should be produced for the current command.
    #[inline]
    fn replying(&self) -> bool {
        self.reply_mode == ReplyMode::On
    }

    /// The output buffer to append a reply to, or `None` when replies are suppressed.
    #[inline]
    pub fn out(&mut self) -> Option<&mut Vec<u8>> {
        if self.replying() { Some(&mut self.obuf) } else { None }
    }

    pub fn has_pending_output(&self) -> bool {
        self.opos < self.obuf.len()
    }

    pub fn add_ok(&mut self) {
        if let Some(o) = self.out() {
            o.extend_from_slice(b"+OK\r\n");
        }
    }
    pub fn add_simple(&mut self, s: &str) {
        if let Some(o) = self.out() {
            reply::simple(o, s);
        }
    }
    /// Replies an error; `msg` starts with its code ("ERR ...", "WRONGTYPE ..."). The code is
    /// recorded for INFO errorstats even when replies are off, as Redis counts them.
    pub fn add_error(&mut self, msg: &str) {
        let code = msg.split(' ').next().unwrap_or("ERR").to_string();
        self.errors.push(code);
        if let Some(o) = self.out() {
            reply::error(o, msg);
        }
    }
    /// `-ERR <msg>`.
    pub fn add_err(&mut self, msg: &str) {
        self.add_error(&format!("ERR {}", msg));
    }
    pub fn add_int(&mut self, n: i64) {
        if let Some(o) = self.out() {
            reply::integer(o, n);
        }
    }
    pub fn add_bulk(&mut self, b: &[u8]) {
        if let Some(o) = self.out() {
            reply::bulk(o, b);
        }
    }
    pub fn add_bulk_i64(&mut self, n: i64) {
        if let Some(o) = self.out() {
            reply::bulk_i64(o, n);
        }
    }
    pub fn add_null(&mut self) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::null(o, resp);
        }
    }
    pub fn add_null_array(&mut self) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::null_array(o, resp);
        }
    }
    pub fn add_array(&mut self, n: usize) {
        if let Some(o) = self.out() {
            reply::array(o, n);
        }
    }
    pub fn add_map(&mut self, n: usize) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::map(o, n, resp);
        }
    }
    pub fn add_set(&mut self, n: usize) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::set(o, n, resp);
        }
    }
    pub fn add_push(&mut self, n: usize) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::push(o, n, resp);
        }
    }
    pub fn add_double(&mut self, v: f64) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::double(o, v, resp);
        }
    }
    pub fn add_bool(&mut self, v: bool) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::boolean(o, v, resp);
        }
    }
    pub fn add_verbatim(&mut self, text: &[u8]) {
        let resp = self.resp;
        if let Some(o) = self.out() {
            reply::verbatim(o, text, resp);
        }
    }
    /// An array of bulk strings.
    pub fn add_bulk_array<I, B>(&mut self, items: I)
    where
        I: ExactSizeIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        self.add_array(items.len());
        for b in items {
            self.add_bulk(b.as_ref());
        }
    }

    /// Writes pending output until the socket would block. Returns Ok(true) when everything
    /// was written.
    pub fn flush(&mut self) -> io::Result<bool> {
        while self.opos < self.obuf.len() {
            match self.stream.write(&self.obuf[self.opos..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "write returned 0")),
                Ok(n) => self.opos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.obuf.clear();
        self.opos = 0;
        // Give back memory after a big reply, keep a small buffer for the next ones.
        if self.obuf.capacity() > 64 * 1024 {
            self.obuf = Vec::with_capacity(16 * 1024);
        }
        Ok(true)
    }

    /// Bytes of output not yet written.
    pub fn pending_output(&self) -> usize {
        self.obuf.len() - self.opos
    }

    /// The "flags" field of CLIENT LIST.
    pub fn flags_string(&self) -> String {
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
