//! A client's connection, transport only: its socket, query buffer with read position and
//! request parser, the peak query-buffer size, how much of the reply buffer has been
//! written, and whether the socket waits for writability.
//!
//! The reply buffer itself belongs to the session (`engine::session::Session::obuf`), since
//! commands append to it; `flush` takes it as an argument. The pair of connection and session
//! is `app::client::Client`: net names no layer above it.

use std::io::{self, Read, Write};

use mio::net::{TcpStream, UnixStream};

use tine_core::protocol::request::RequestParser;

/// The socket of a client.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    pub(crate) fn raw_fd(&self) -> i32 {
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
pub(crate) struct QueryBuf {
    buf: Vec<u8>,
    end: usize,
}

impl QueryBuf {
    /// Room for at least `want` more bytes, to read into.
    pub(crate) fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.buf.len() - self.end < want {
            self.buf.resize(self.end + want, 0);
        }
        &mut self.buf[self.end..]
    }
    /// Marks `n` bytes of the spare room as data.
    pub(crate) fn filled(&mut self, n: usize) {
        self.end += n;
    }
    /// The data.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[..self.end]
    }
    pub(crate) fn len(&self) -> usize {
        self.end
    }
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }
    /// Drops the first `n` bytes (consumed commands), keeping the rest at the front.
    pub(crate) fn consume(&mut self, n: usize) {
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

/// The transport half of a client.
pub(crate) struct Connection {
    pub(crate) stream: Stream,
    pub(crate) qbuf: QueryBuf,
    /// Read position in `qbuf`: bytes before it are consumed.
    pub(crate) qpos: usize,
    pub(crate) parser: RequestParser,
    /// Peak query buffer size seen since the last cron sample.
    pub(crate) qbuf_peak: usize,
    /// Bytes of the session's reply buffer already written to the socket.
    pub(crate) opos: usize,
    /// True while the socket is registered for writable events.
    pub(crate) want_write: bool,
}

impl Connection {
    pub(crate) fn new(stream: Stream) -> Connection {
        Connection {
            stream,
            qbuf: QueryBuf::default(),
            qpos: 0,
            parser: RequestParser::new(),
            qbuf_peak: 0,
            opos: 0,
            want_write: false,
        }
    }

    /// True for a unix-socket connection.
    pub(crate) fn is_unix(&self) -> bool {
        matches!(self.stream, Stream::Unix(_))
    }

    /// Writes pending output of `obuf` until the socket would block. Returns Ok(true) when
    /// everything was written.
    pub(crate) fn flush(&mut self, obuf: &mut Vec<u8>) -> io::Result<bool> {
        while self.opos < obuf.len() {
            match self.stream.write(&obuf[self.opos..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "write returned 0")),
                Ok(n) => self.opos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        obuf.clear();
        self.opos = 0;
        // Give back what a burst of replies grew the buffer to (Redis frees its reply list
        // once written and shrinks its own buffer when idle). Kept grown, ten clients'
        // buffers held hundreds of KB that eviction then freed keys for, round after round
        // (client-side caching's invalidations under maxmemory).
        if obuf.capacity() > 16 * 1024 {
            *obuf = Vec::new();
        }
        Ok(true)
    }
}
