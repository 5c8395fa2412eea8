//! A connected client as the top layer holds it: the pair of its connection (transport,
//! `net::connection::Connection`) and its session (what commands see,
//! `engine::session::Session`). Only the event loop and the client table work on the pair;
//! commands get the session alone.
//!
//! The figures of a connection that CLIENT LIST and CLIENT INFO print (query buffer, socket,
//! write interest) are read here, as `ConnFigures`: for the clients in their slots from their
//! connections, and for the client whose command is running (taken out of its slot) from the
//! copy the event loop records before each command (`Clients::running`).

use std::io;

use crate::engine::session::Session;
use crate::net::connection::{Connection, Stream};

/// A connected client: connection and session.
pub(crate) struct Client {
    pub(crate) conn: Connection,
    pub(crate) session: Session,
}

impl Client {
    pub(crate) fn new(
        id: u64,
        slot: usize,
        stream: Stream,
        addr: String,
        laddr: String,
        now: i64,
    ) -> Client {
        let conn = Connection::new(stream);
        let session = Session::new(id, slot, conn.is_unix(), addr, laddr, now);
        Client { conn, session }
    }

    pub(crate) fn has_pending_output(&self) -> bool {
        self.conn.opos < self.session.obuf.len()
    }

    /// Bytes of output not yet written.
    pub(crate) fn pending_output(&self) -> usize {
        self.session.obuf.len() - self.conn.opos
    }

    /// Writes pending output until the socket would block. Returns Ok(true) when everything
    /// was written.
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
        self.conn.flush(&mut self.session.obuf)
    }
}

/// What CLIENT LIST prints of a connection.
#[derive(Clone, Copy, Default)]
pub(crate) struct ConnFigures {
    pub(crate) fd: i32,
    /// Unread bytes of the query buffer.
    pub(crate) qbuf: usize,
    pub(crate) qbuf_free: usize,
    pub(crate) qbuf_capacity: usize,
    /// Bytes of the arguments held in the parser.
    pub(crate) argv_mem: usize,
    /// Bytes of the reply buffer already written.
    pub(crate) opos: usize,
    pub(crate) want_write: bool,
}

impl ConnFigures {
    #[inline]
    pub(crate) fn of(c: &Connection) -> ConnFigures {
        ConnFigures {
            fd: c.stream.raw_fd(),
            // The whole buffer, commands already parsed from it included, as Redis's
            // sdslen(querybuf): it trims the buffer only after running what it parsed, so a
            // client's own CLIENT LIST shows its command (qbuf=26).
            qbuf: c.qbuf.len(),
            qbuf_free: c.qbuf.capacity().saturating_sub(c.qbuf.len()),
            qbuf_capacity: c.qbuf.capacity(),
            argv_mem: c.parser.argv.iter().map(|a| a.len()).sum::<usize>(),
            opos: c.opos,
            want_write: c.want_write,
        }
    }
}

/// One CLIENT LIST line, fields as Redis 7.0 prints them.
pub(crate) fn info_line(s: &Session, f: &ConnFigures, now: i64) -> String {
    let pending = s.obuf.len() - f.opos;
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp={} obl={} oll=0 omem={} tot-mem={} events={} cmd={} user={} redir={} resp={}",
        s.id,
        s.addr,
        s.laddr,
        f.fd,
        String::from_utf8_lossy(&s.name),
        now - s.ctime,
        now - s.last_interaction,
        s.flags_string(),
        s.db,
        s.channels.len(),
        s.patterns.len(),
        s.shard_channels.len(),
        f.qbuf,
        f.qbuf_free,
        f.argv_mem,
        s.obuf.capacity(),
        s.obuf.len(),
        pending,
        pending,
        f.qbuf_capacity + s.obuf.capacity() + std::mem::size_of::<Client>(),
        if f.want_write { "rw" } else { "r" },
        s.last_cmd,
        s.user,
        s.tracking.as_ref().map_or(-1, |t| t.redirect as i64),
        s.resp as u8
    )
}
