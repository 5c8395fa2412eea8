//! The replication stream as a consumer of the propagation feed (`crate::engine::feed`): each
//! propagated command is appended, in RESP, to the shared replication buffer, with a SELECT
//! when its db differs from the last one the stream selected (Redis's `server.slaveseldb`).
//!
//! The stream is encoded once, whatever the number of replicas: the buffer's blocks are what
//! the backlog and every replica read (`buffer`). Without a backlog nothing consumes the
//! stream and nothing is encoded: a primary with no replica ever attached pays nothing.

use crate::persist::aof::writer;
use crate::repl::buffer::ReplBuffer;

/// What the stream remembers between commands: the db it last selected, and a scratch buffer
/// to encode a command in before it is appended (kept to reuse its allocation).
#[derive(Default)]
pub(crate) struct ReplStream {
    /// The db the stream's last SELECT chose; `None` forces a SELECT before the next command
    /// (after a full sync begins, as Redis resets slaveseldb to -1).
    pub(crate) seldb: Option<usize>,
    scratch: Vec<u8>,
    /// Set while this node is a replica: its stream is its primary's, proxied byte for byte
    /// (`crate::repl::replica`), so nothing it runs itself is fed (Redis's
    /// replicationFeedSlaves returns at once on a replica).
    pub(crate) proxying: bool,
}

impl ReplStream {
    /// The next command is preceded by a SELECT, whatever its db.
    pub(crate) fn force_select(&mut self) {
        self.seldb = None;
    }
}

/// The replication half of the feed's sink: what it borrows to append one command.
pub(crate) struct ReplFeed<'a> {
    pub(crate) buf: &'a mut ReplBuffer,
    pub(crate) stream: &'a mut ReplStream,
}

impl ReplFeed<'_> {
    /// Appends one propagated command to the stream (Redis's replicationFeedSlaves).
    #[inline]
    pub(crate) fn feed(&mut self, db: usize, argv: &[Vec<u8>]) {
        if !self.buf.has_backlog() || self.stream.proxying {
            return;
        }
        let out = &mut self.stream.scratch;
        out.clear();
        if self.stream.seldb != Some(db) {
            writer::cat_select(out, db);
            self.stream.seldb = Some(db);
        }
        writer::cat_command(out, argv);
        self.buf.append(out);
    }

    /// Appends a command that goes to replicas in whatever db the stream has selected (PING,
    /// REPLCONF GETACK): no SELECT precedes it, as Redis feeds them with slaveseldb.
    pub(crate) fn feed_in_current_db(&mut self, argv: &[Vec<u8>]) {
        // Nothing selected yet (a new stream): a SELECT 0 comes first, as Redis's with
        // slaveseldb -1.
        let db = self.stream.seldb.unwrap_or(0);
        self.feed(db, argv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn nothing_is_encoded_without_a_backlog() {
        let mut buf = ReplBuffer::new(1 << 20);
        let mut stream = ReplStream::default();
        ReplFeed { buf: &mut buf, stream: &mut stream }.feed(0, &a(&["SET", "k", "v"]));
        assert_eq!(buf.master_repl_offset(), 0);
        assert_eq!(stream.seldb, None);
    }

    #[test]
    fn commands_are_encoded_once_with_a_select_when_the_db_changes() {
        let mut buf = ReplBuffer::new(1 << 20);
        assert!(buf.create_backlog());
        let reader = buf.add_replica_at_end().unwrap();
        let mut stream = ReplStream::default();
        let mut f = ReplFeed { buf: &mut buf, stream: &mut stream };
        f.feed(0, &a(&["SET", "k", "v"]));
        f.feed(0, &a(&["DEL", "k"]));
        f.feed(3, &a(&["INCR", "n"]));
        f.feed_in_current_db(&a(&["PING"]));
        let got: Vec<u8> = buf.pending(&reader).flatten().copied().collect();
        let want = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
                    *2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n\
                    *2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*1\r\n$4\r\nPING\r\n";
        assert_eq!(String::from_utf8_lossy(&got), want);
        assert_eq!(buf.master_repl_offset(), want.len() as i64);
        buf.remove_replica(reader);
    }
}
