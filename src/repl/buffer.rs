//! The shared replication buffer, as Redis 7.0 keeps it (replication.c: `replBufBlock`,
//! `feedReplicationBuffer`, `incrementalTrimReplicationBacklog`, `addReplyReplicationBacklog`).
//!
//! # Why one buffer
//!
//! Every replica of a primary receives the same bytes, and the backlog (the history kept for
//! PSYNC partial resynchronization) holds the same bytes again. Before Redis 7.0 each replica
//! had its own output buffer and the backlog was a separate ring: N replicas meant N+1 copies
//! of the stream, a memcpy per replica per write, and a big allocation to free when a slow
//! replica was dropped. Here the stream is stored once, in a list of fixed-size blocks, and
//! every reader is just a *consumer* holding a position in that list:
//!
//! - a replica's position is the next byte to write to its socket; it references the block
//!   that byte is in;
//! - the backlog references the first block, and its history is everything from there to the
//!   end. It is "just another consumer", the one that lets go last.
//!
//! Each block counts the consumers that reference it. Blocks are only ever freed from the
//! front, and only when the backlog is the front block's sole reference and the backlog is
//! longer than `repl-backlog-size` without it. A slow replica therefore keeps the blocks it
//! has not sent alive, and the backlog simply grows over them: memory is not duplicated, and
//! a PSYNC can continue from anywhere a replica could still be sent from. Freeing is
//! incremental (a bound on blocks per call, Redis's 64), so that dropping a replica that was
//! far behind never stalls the event loop.
//!
//! # Offsets
//!
//! As in Redis, `master_repl_offset` counts the bytes of the stream so far, and a byte's
//! offset is 1-based: the first byte ever is offset 1. A block knows the offset of its first
//! byte; the backlog's first byte is `master_repl_offset - histlen + 1` (which is
//! `master_repl_offset + 1` while the backlog is still empty). A PSYNC names the offset of the
//! next byte the replica needs (its own offset + 1), so it can be served when that offset is
//! within `[first byte, master_repl_offset + 1]`.
//!
//! # What is not here
//!
//! Timers (`repl-backlog-ttl`), replication ids, the replicas' connections and their states,
//! and `client-output-buffer-limit` checks live above; this is a pure data structure, with the
//! figures they need.

use std::collections::{BTreeMap, VecDeque};

/// The capacity of one block (Redis's PROTO_REPLY_CHUNK_BYTES). Unlike Redis, an append longer
/// than a block is split over several blocks rather than given one block of its own size:
/// blocks then all have one size, a trim step frees a bounded amount of memory, and a
/// position is found by arithmetic on ids.
pub(crate) const BLOCK_SIZE: usize = 16 * 1024;

/// Blocks freed at most by one trim that runs as a side effect of another operation (Redis's
/// REPL_BACKLOG_TRIM_BLOCKS_PER_CALL). The event loop may call [`ReplBuffer::trim`] with a
/// larger bound before sleeping, as Redis does with ten times this.
pub(crate) const TRIM_BLOCKS_PER_CALL: usize = 64;

/// The smallest backlog (Redis's CONFIG_REPL_BACKLOG_MIN_SIZE): a smaller `repl-backlog-size`
/// is raised to this, as Redis's resizeReplicationBacklog does.
pub(crate) const BACKLOG_MIN_SIZE: i64 = 16 * 1024;

/// What one block costs beside its bytes, counted in `mem_total_replication_buffers` as Redis
/// counts its block header and list node.
const BLOCK_OVERHEAD: usize = std::mem::size_of::<Block>();

/// One block of the stream.
#[derive(Debug)]
struct Block {
    /// Unique and consecutive along the list: the front block's id plus an index finds a
    /// block in O(1) however many were freed before it.
    id: u64,
    /// The repl offset of this block's first byte.
    start: i64,
    /// The bytes; never more than [`BLOCK_SIZE`]. Every block but the last is full.
    data: Vec<u8>,
    /// How many consumers (the backlog, replicas) reference this block.
    refs: u32,
}

impl Block {
    fn new(id: u64, start: i64) -> Block {
        Block { id, start, data: Vec::with_capacity(BLOCK_SIZE), refs: 0 }
    }
    fn len(&self) -> usize {
        self.data.len()
    }
    /// The offset one past this block's last byte.
    fn end(&self) -> i64 {
        self.start + self.data.len() as i64
    }
}

/// A replica reading the buffer. Not `Clone`: a handle is consumed by
/// [`ReplBuffer::remove_replica`], so a removed replica cannot be used again by mistake.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ReplicaId(u64);

/// Where a replica is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    /// At the end of an empty buffer (a backlog just created): no block exists to reference.
    /// The first append moves it to the first byte, as Redis points a replica with no block
    /// at the start of the next feed.
    Waiting,
    /// The next byte to send is `data[pos]` of block `block`. `pos` may equal the block's
    /// length: the block is all sent. The reference moves to the next block when `consumed`
    /// finds one there, as Redis's writeToClient does; until then the replica keeps it.
    At { block: u64, pos: usize },
}

/// The shared replication buffer: the stream once, the backlog and the replicas as positions.
#[derive(Debug)]
pub(crate) struct ReplBuffer {
    blocks: VecDeque<Block>,
    next_block_id: u64,
    /// Bytes of the stream so far (INFO's `master_repl_offset`).
    master_repl_offset: i64,
    /// Whether the backlog exists. While it does and blocks exist, it references the front
    /// block; without it there are no blocks and no replicas.
    backlog: bool,
    /// `repl-backlog-size`, at least [`BACKLOG_MIN_SIZE`].
    backlog_size: i64,
    replicas: BTreeMap<u64, Cursor>,
    next_replica_id: u64,
    /// Bytes allocated for blocks (INFO's `mem_total_replication_buffers`).
    mem: usize,
}

impl ReplBuffer {
    /// An empty buffer without a backlog, the stream at `master_repl_offset` 0.
    pub(crate) fn new(backlog_size: i64) -> ReplBuffer {
        ReplBuffer {
            blocks: VecDeque::new(),
            next_block_id: 0,
            master_repl_offset: 0,
            backlog: false,
            backlog_size: backlog_size.max(BACKLOG_MIN_SIZE),
            replicas: BTreeMap::new(),
            next_replica_id: 0,
            mem: 0,
        }
    }

    // ---- the backlog ----

    /// Creates the backlog, empty, starting after the current offset (Redis's
    /// createReplicationBacklog, done when the first replica attaches, or on a replica after
    /// it synced). Returns false if it already existed. The caller changes the replication id
    /// when Redis does: a new backlog is a new history as far as PSYNC can tell.
    pub(crate) fn create_backlog(&mut self) -> bool {
        if self.backlog {
            return false;
        }
        self.backlog = true;
        true
    }

    /// Frees the backlog and with it the whole buffer (Redis's freeReplicationBacklog, after
    /// `repl-backlog-ttl` without replicas, or when a replica attaches to a new primary).
    /// Refused (false, nothing done) while replicas are attached: they read from the buffer.
    /// The offset stays where it is.
    pub(crate) fn free_backlog(&mut self) -> bool {
        if !self.replicas.is_empty() {
            return false;
        }
        self.backlog = false;
        self.blocks.clear();
        self.mem = 0;
        true
    }

    /// Whether the backlog exists (INFO's `repl_backlog_active`).
    pub(crate) fn has_backlog(&self) -> bool {
        self.backlog
    }

    /// Sets the offset the stream continues from, as a replica does after a full sync (it
    /// takes its primary's offset). Only without a backlog (false otherwise, nothing done):
    /// with one, the offset is the end of the history it holds.
    pub(crate) fn set_master_repl_offset(&mut self, offset: i64) -> bool {
        if self.backlog || offset < 0 {
            return false;
        }
        self.master_repl_offset = offset;
        true
    }

    /// Changes `repl-backlog-size` (raised to [`BACKLOG_MIN_SIZE`]) and trims towards it,
    /// incrementally. A larger size keeps what is there: history is never invented, it only
    /// stops being dropped.
    pub(crate) fn set_backlog_size(&mut self, size: i64) {
        self.backlog_size = size.max(BACKLOG_MIN_SIZE);
        self.trim(TRIM_BLOCKS_PER_CALL);
    }

    /// INFO's `repl_backlog_size`.
    pub(crate) fn backlog_size(&self) -> i64 {
        self.backlog_size
    }

    // ---- the stream ----

    /// Adds bytes to the stream: fills the last block, then new ones, and advances
    /// `master_repl_offset`. Without a backlog nothing is kept and the offset does not move,
    /// as in Redis: no replica reads it and no PSYNC could ask for it.
    pub(crate) fn append(&mut self, bytes: &[u8]) {
        if !self.backlog || bytes.is_empty() {
            return;
        }
        let was_empty = self.blocks.is_empty();
        let mut rest = bytes;
        let mut next_start = self.master_repl_offset + 1;
        while !rest.is_empty() {
            if let Some(tail) = self.blocks.back_mut() {
                let room = BLOCK_SIZE - tail.len();
                if room > 0 {
                    let take = room.min(rest.len());
                    tail.data.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    continue;
                }
                next_start = tail.end();
            }
            self.blocks.push_back(Block::new(self.next_block_id, next_start));
            self.next_block_id += 1;
            self.mem += BLOCK_SIZE + BLOCK_OVERHEAD;
        }
        self.master_repl_offset += bytes.len() as i64;
        if was_empty {
            // The backlog and the replicas waiting at the end now have a first block.
            if let Some(first) = self.blocks.front_mut() {
                first.refs += 1;
                for cursor in self.replicas.values_mut() {
                    if *cursor == Cursor::Waiting {
                        *cursor = Cursor::At { block: first.id, pos: 0 };
                        first.refs += 1;
                    }
                }
            }
        }
        self.trim(TRIM_BLOCKS_PER_CALL);
    }

    /// Frees at most `max_blocks` blocks from the front (Redis's
    /// incrementalTrimReplicationBacklog): while the backlog is longer than
    /// `repl-backlog-size`, the front block is referenced by the backlog only, and the backlog
    /// would still hold at least `repl-backlog-size` without it. The last block is never
    /// freed. Returns how many blocks were freed.
    pub(crate) fn trim(&mut self, max_blocks: usize) -> usize {
        let mut freed = 0;
        while self.backlog && freed < max_blocks && self.blocks.len() > 1 {
            let histlen = self.backlog_histlen();
            let Some(front) = self.blocks.front() else { break };
            if histlen <= self.backlog_size
                || front.refs != 1
                || histlen - front.len() as i64 <= self.backlog_size
            {
                break;
            }
            self.blocks.pop_front();
            if let Some(next) = self.blocks.front_mut() {
                next.refs += 1; // the backlog moves on
            }
            self.mem -= BLOCK_SIZE + BLOCK_OVERHEAD;
            freed += 1;
        }
        freed
    }

    // ---- figures ----

    /// Bytes of the stream so far (INFO's `master_repl_offset`).
    pub(crate) fn master_repl_offset(&self) -> i64 {
        self.master_repl_offset
    }

    /// Bytes of history the backlog holds (INFO's `repl_backlog_histlen`; 0 without one).
    pub(crate) fn backlog_histlen(&self) -> i64 {
        match self.blocks.front() {
            Some(front) if self.backlog => self.master_repl_offset - front.start + 1,
            _ => 0,
        }
    }

    /// The offset of the backlog's first byte (INFO's `repl_backlog_first_byte_offset`):
    /// `master_repl_offset - histlen + 1`, so `master_repl_offset + 1` for an empty backlog,
    /// and 0 without one, as Redis prints.
    pub(crate) fn backlog_first_byte_offset(&self) -> i64 {
        if self.backlog { self.master_repl_offset - self.backlog_histlen() + 1 } else { 0 }
    }

    /// Bytes allocated for the buffer (INFO's `mem_total_replication_buffers`).
    pub(crate) fn mem_total_replication_buffers(&self) -> usize {
        self.mem
    }

    /// The buffer's memory split between the backlog and the replicas, as Redis's
    /// getMemoryOverheadData does: the backlog is charged up to `repl-backlog-size` and only
    /// the excess, with replicas attached, counts as replicas' memory (`mem_clients_slaves`).
    /// Returns `(backlog, replicas)`.
    pub(crate) fn memory_split(&self) -> (usize, usize) {
        let size = usize::try_from(self.backlog_size).unwrap_or(usize::MAX);
        if !self.replicas.is_empty() && self.mem > size {
            (size, self.mem - size)
        } else {
            (self.mem, 0)
        }
    }

    /// Replicas attached.
    #[allow(dead_code, reason = "the buffer's own tests count its readers")]
    pub(crate) fn replica_count(&self) -> usize {
        self.replicas.len()
    }

    // ---- replicas ----

    /// Attaches a replica at the end of the stream: it will be sent what is appended from now
    /// on. For a full sync, call this at the snapshot's point (the fork), so that the bytes
    /// written while the snapshot is produced and transferred wait here for it. None without
    /// a backlog (create it first, as Redis does for the first replica).
    pub(crate) fn add_replica_at_end(&mut self) -> Option<ReplicaId> {
        self.add_replica_at(self.master_repl_offset + 1)
    }

    /// Attaches a replica continuing from `psync_offset`, the offset of the next byte it needs
    /// (what PSYNC sends: its own offset + 1), as Redis's addReplyReplicationBacklog does.
    /// None if there is no backlog or the offset is outside
    /// `[repl_backlog_first_byte_offset, master_repl_offset + 1]`: a full sync is needed.
    pub(crate) fn add_replica_at(&mut self, psync_offset: i64) -> Option<ReplicaId> {
        if !self.backlog
            || psync_offset < self.backlog_first_byte_offset()
            || psync_offset > self.master_repl_offset + 1
        {
            return None;
        }
        let cursor = if self.blocks.is_empty() {
            Cursor::Waiting
        } else {
            // The first block whose end reaches the offset; blocks are in offset order, so a
            // binary search stands in for Redis's rax index of every 64th block.
            let mut i = self.blocks.partition_point(|b| b.end() < psync_offset);
            let mut pos = usize::try_from(psync_offset - self.blocks.get(i)?.start).ok()?;
            if pos == self.blocks.get(i)?.len() && i + 1 < self.blocks.len() {
                i += 1;
                pos = 0;
            }
            let block = self.blocks.get_mut(i)?;
            block.refs += 1;
            Cursor::At { block: block.id, pos }
        };
        Some(self.insert_replica(cursor))
    }

    /// Attaches a replica at another one's position (Redis's copyReplicaOutputBuffer: a
    /// second replica joining a full sync whose snapshot is already being produced). It costs
    /// a reference, not a copy. None if `other` is not attached here.
    pub(crate) fn add_replica_like(&mut self, other: &ReplicaId) -> Option<ReplicaId> {
        let cursor = *self.replicas.get(&other.0)?;
        if let Cursor::At { block, .. } = cursor {
            let i = self.index_of(block)?;
            self.blocks[i].refs += 1;
        }
        Some(self.insert_replica(cursor))
    }

    fn insert_replica(&mut self, cursor: Cursor) -> ReplicaId {
        let id = self.next_replica_id;
        self.next_replica_id += 1;
        self.replicas.insert(id, cursor);
        ReplicaId(id)
    }

    /// Detaches a replica: its reference goes, and the blocks only it kept become free to
    /// trim (a bounded number of them now, the rest by later trims).
    pub(crate) fn remove_replica(&mut self, id: ReplicaId) {
        if let Some(Cursor::At { block, .. }) = self.replicas.remove(&id.0) {
            if let Some(i) = self.index_of(block) {
                self.blocks[i].refs -= 1;
            }
        }
        self.trim(TRIM_BLOCKS_PER_CALL);
    }

    /// The next bytes to write to the replica's socket, straight out of the shared block
    /// (no copy), or None when it has everything (or is not attached here).
    pub(crate) fn next_chunk(&self, id: &ReplicaId) -> Option<&[u8]> {
        self.pending(id).next()
    }

    /// All the bytes the replica has still to be sent, block by block (for a vectored write).
    pub(crate) fn pending(&self, id: &ReplicaId) -> impl Iterator<Item = &[u8]> {
        let (first, pos) = self.position(id).unwrap_or((self.blocks.len(), 0));
        self.blocks
            .range(first..)
            .enumerate()
            .map(move |(k, b)| {
                let from = if k == 0 { pos } else { 0 };
                b.data.get(from..).unwrap_or(&[])
            })
            .filter(|chunk| !chunk.is_empty())
    }

    /// Records that `n` more bytes were written to the replica's socket. Its position moves
    /// on, and each block it leaves loses its reference (then a bounded trim runs). False,
    /// and nothing done, if `n` is more than it had pending or it is not attached here.
    pub(crate) fn consumed(&mut self, id: &ReplicaId, n: usize) -> bool {
        let Some(lag) = self.replica_lag_bytes(id) else { return false };
        if n as u64 > lag as u64 {
            return false;
        }
        if n == 0 {
            return true;
        }
        let Some((mut i, mut pos)) = self.position(id) else { return false };
        let mut left = n;
        loop {
            let len = self.blocks[i].len();
            let take = left.min(len - pos);
            pos += take;
            left -= take;
            // Leaving a block fully sent, when there is a next one: move the reference on.
            if pos == len && i + 1 < self.blocks.len() {
                self.blocks[i].refs -= 1;
                self.blocks[i + 1].refs += 1;
                i += 1;
                pos = 0;
            } else if take == 0 {
                break; // cannot happen after the lag check; never loop forever
            }
            if left == 0 {
                break;
            }
        }
        let block = self.blocks[i].id;
        self.replicas.insert(id.0, Cursor::At { block, pos });
        self.trim(TRIM_BLOCKS_PER_CALL);
        true
    }

    /// The offset of the last byte handed to the replica (so `master_repl_offset` when it is
    /// up to date). None if not attached here.
    pub(crate) fn replica_offset(&self, id: &ReplicaId) -> Option<i64> {
        match *self.replicas.get(&id.0)? {
            Cursor::Waiting => Some(self.master_repl_offset),
            Cursor::At { block, pos } => {
                let i = self.index_of(block)?;
                Some(self.blocks[i].start + pos as i64 - 1)
            }
        }
    }

    /// Bytes of the stream the replica has still to be sent.
    pub(crate) fn replica_lag_bytes(&self, id: &ReplicaId) -> Option<i64> {
        Some(self.master_repl_offset - self.replica_offset(id)?)
    }

    /// The replica's output buffer size as Redis's getClientOutputBufferMemoryUsage reports
    /// it for `client-output-buffer-limit replica`: the memory of the blocks from the one it
    /// is on to the last, which it alone would keep alive were there no backlog.
    pub(crate) fn replica_buffer_memory(&self, id: &ReplicaId) -> Option<usize> {
        match self.position(id) {
            Some((i, _)) => Some((self.blocks.len() - i) * (BLOCK_SIZE + BLOCK_OVERHEAD)),
            None => self.replicas.get(&id.0).map(|_| 0),
        }
    }

    /// The replica's block index and position in it; None if waiting or not attached.
    fn position(&self, id: &ReplicaId) -> Option<(usize, usize)> {
        match *self.replicas.get(&id.0)? {
            Cursor::Waiting => None,
            Cursor::At { block, pos } => Some((self.index_of(block)?, pos)),
        }
    }

    fn index_of(&self, block: u64) -> Option<usize> {
        let front = self.blocks.front()?;
        let i = usize::try_from(block.checked_sub(front.id)?).ok()?;
        (i < self.blocks.len()).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks every invariant the buffer relies on.
    fn check(buf: &ReplBuffer) {
        let n = buf.blocks.len();
        assert_eq!(buf.mem, n * (BLOCK_SIZE + BLOCK_OVERHEAD));
        if !buf.backlog {
            assert!(buf.blocks.is_empty());
            assert!(buf.replicas.is_empty());
        }
        let mut refs = vec![0u32; n];
        if buf.backlog && n > 0 {
            refs[0] += 1;
        }
        for cursor in buf.replicas.values() {
            match *cursor {
                Cursor::Waiting => assert!(buf.blocks.is_empty()),
                Cursor::At { block, pos } => {
                    let i = buf.index_of(block).expect("replica on a live block");
                    assert!(pos <= buf.blocks[i].len());
                    refs[i] += 1;
                }
            }
        }
        for (i, b) in buf.blocks.iter().enumerate() {
            assert_eq!(b.refs, refs[i], "block {i} refcount");
            assert!(!b.data.is_empty() && b.len() <= BLOCK_SIZE);
            if i + 1 < n {
                assert_eq!(b.len(), BLOCK_SIZE, "only the last block may be partial");
                assert_eq!(buf.blocks[i + 1].start, b.end());
                assert_eq!(buf.blocks[i + 1].id, b.id + 1);
            } else {
                assert_eq!(b.end(), buf.master_repl_offset + 1);
            }
        }
    }

    fn pending_bytes(buf: &ReplBuffer, id: &ReplicaId) -> Vec<u8> {
        let mut out = Vec::new();
        buf.pending(id).for_each(|c| out.extend_from_slice(c));
        out
    }

    fn held_bytes(buf: &ReplBuffer) -> Vec<u8> {
        let mut out = Vec::new();
        buf.blocks.iter().for_each(|b| out.extend_from_slice(&b.data));
        out
    }

    /// Bytes that say where they are: byte at offset `o` is `o % 251`.
    fn stream(from_offset: i64, len: usize) -> Vec<u8> {
        (0..len as i64).map(|k| ((from_offset + k) % 251) as u8).collect()
    }

    fn with_backlog(size: i64) -> ReplBuffer {
        let mut buf = ReplBuffer::new(size);
        assert!(buf.create_backlog());
        buf
    }

    #[test]
    fn append_across_block_boundaries() {
        let mut buf = with_backlog(1 << 20);
        buf.append(&stream(1, 10));
        assert_eq!(buf.blocks.len(), 1);
        buf.append(&stream(11, BLOCK_SIZE)); // fills the first block, spills into a second
        assert_eq!(buf.blocks.len(), 2);
        assert_eq!(buf.blocks[1].start, BLOCK_SIZE as i64 + 1);
        assert_eq!(buf.blocks[1].len(), 10);
        buf.append(&stream(11 + BLOCK_SIZE as i64, 3 * BLOCK_SIZE)); // several blocks at once
        assert_eq!(buf.blocks.len(), 5);
        let total = 10 + 4 * BLOCK_SIZE;
        assert_eq!(buf.master_repl_offset(), total as i64);
        assert_eq!(buf.backlog_histlen(), total as i64);
        assert_eq!(buf.backlog_first_byte_offset(), 1);
        assert_eq!(held_bytes(&buf), stream(1, total));
        buf.append(b"");
        assert_eq!(buf.master_repl_offset(), total as i64);
        check(&buf);
    }

    #[test]
    fn nothing_kept_without_backlog() {
        let mut buf = ReplBuffer::new(0);
        assert_eq!(buf.backlog_size(), BACKLOG_MIN_SIZE);
        buf.append(b"lost");
        assert_eq!(buf.master_repl_offset(), 0);
        assert_eq!(buf.mem_total_replication_buffers(), 0);
        assert_eq!(buf.backlog_first_byte_offset(), 0);
        assert!(buf.add_replica_at_end().is_none());
        assert!(buf.set_master_repl_offset(1000));
        assert!(buf.create_backlog());
        assert!(!buf.create_backlog());
        assert!(!buf.set_master_repl_offset(5));
        assert_eq!(buf.backlog_first_byte_offset(), 1001);
        assert_eq!(buf.backlog_histlen(), 0);
        buf.append(b"abc");
        assert_eq!(buf.master_repl_offset(), 1003);
        assert_eq!(buf.backlog_first_byte_offset(), 1001);
        assert_eq!(buf.backlog_histlen(), 3);
        check(&buf);
    }

    #[test]
    fn replicas_at_different_speeds_see_the_same_bytes() {
        let mut buf = with_backlog(1 << 20);
        let fast = buf.add_replica_at_end().unwrap();
        let slow = buf.add_replica_at_end().unwrap();
        assert_eq!(buf.next_chunk(&fast), None);
        let total = 3 * BLOCK_SIZE + 123;
        let data = stream(1, total);
        let mut got_fast = Vec::new();
        let mut got_slow = Vec::new();
        for piece in data.chunks(1000) {
            buf.append(piece);
            // The fast one drains everything each time, the slow one 300 bytes.
            while let Some(chunk) = buf.next_chunk(&fast) {
                let n = chunk.len();
                got_fast.extend_from_slice(chunk);
                assert!(buf.consumed(&fast, n));
            }
            if let Some(chunk) = buf.next_chunk(&slow) {
                let n = chunk.len().min(300);
                got_slow.extend_from_slice(&chunk[..n]);
                assert!(buf.consumed(&slow, n));
            }
            check(&buf);
        }
        assert_eq!(buf.replica_lag_bytes(&fast), Some(0));
        assert_eq!(buf.replica_lag_bytes(&slow), Some((total - got_slow.len()) as i64));
        got_slow.extend(pending_bytes(&buf, &slow));
        assert_eq!(got_fast, data);
        assert_eq!(got_slow, data);
        assert!(!buf.consumed(&slow, total + 1), "more than pending is refused");
        check(&buf);
    }

    #[test]
    fn blocks_freed_only_when_slowest_consumer_and_backlog_let_go() {
        let mut buf = with_backlog(BACKLOG_MIN_SIZE); // one block's worth of history
        let slow = buf.add_replica_at_end().unwrap();
        buf.append(&stream(1, 10 * BLOCK_SIZE));
        // The slow replica has sent nothing: all ten blocks stay, and the backlog grows
        // over them past its size.
        assert_eq!(buf.blocks.len(), 10);
        assert_eq!(buf.backlog_histlen(), 10 * BLOCK_SIZE as i64);
        assert_eq!(buf.replica_buffer_memory(&slow), Some(10 * (BLOCK_SIZE + BLOCK_OVERHEAD)));
        // It sends four blocks: those four go, the backlog keeps the rest.
        assert!(buf.consumed(&slow, 4 * BLOCK_SIZE));
        check(&buf);
        assert_eq!(buf.blocks.len(), 6);
        assert_eq!(buf.backlog_first_byte_offset(), 4 * BLOCK_SIZE as i64 + 1);
        // Once it is gone, the backlog alone keeps what its size asks. As in Redis, a block
        // is freed only if the backlog would still be longer than its size without it, so
        // with a size of one block, two stay.
        buf.remove_replica(slow);
        check(&buf);
        assert_eq!(buf.blocks.len(), 2);
        assert_eq!(buf.backlog_histlen(), 2 * BLOCK_SIZE as i64);
        buf.append(b"x");
        check(&buf);
        assert_eq!(buf.blocks.len(), 2);
        assert_eq!(buf.backlog_histlen(), BLOCK_SIZE as i64 + 1);
        buf.append(&stream(1, BLOCK_SIZE));
        assert_eq!(buf.blocks.len(), 2);
        assert_eq!(buf.backlog_histlen(), BLOCK_SIZE as i64 + 1);
        check(&buf);
    }

    /// A replica that sent a full last block stays on it (as in Redis) until the next append
    /// gives it a block to move to; then it reads on from the new block.
    #[test]
    fn replica_at_end_of_full_block_moves_on() {
        let mut buf = with_backlog(1 << 20);
        buf.append(&stream(1, BLOCK_SIZE));
        let r = buf.add_replica_at_end().unwrap();
        assert_eq!(buf.next_chunk(&r), None);
        assert_eq!(buf.replica_lag_bytes(&r), Some(0));
        buf.append(&stream(BLOCK_SIZE as i64 + 1, 5));
        check(&buf);
        assert_eq!(buf.next_chunk(&r), Some(&stream(BLOCK_SIZE as i64 + 1, 5)[..]));
        assert!(buf.consumed(&r, 2));
        check(&buf);
        assert_eq!(buf.blocks[0].refs, 1, "only the backlog is left on the first block");
        assert_eq!(pending_bytes(&buf, &r), stream(BLOCK_SIZE as i64 + 3, 3));
        buf.remove_replica(r);
        check(&buf);
    }

    #[test]
    fn trimming_is_incremental() {
        let mut buf = with_backlog(BACKLOG_MIN_SIZE);
        let r = buf.add_replica_at_end().unwrap();
        buf.append(&stream(1, 200 * BLOCK_SIZE));
        buf.remove_replica(r); // frees at most TRIM_BLOCKS_PER_CALL blocks
        assert_eq!(buf.blocks.len(), 200 - TRIM_BLOCKS_PER_CALL);
        check(&buf);
        assert_eq!(buf.trim(10), 10);
        assert_eq!(buf.trim(usize::MAX), 200 - TRIM_BLOCKS_PER_CALL - 10 - 2);
        assert_eq!(buf.trim(usize::MAX), 0);
        assert_eq!(buf.blocks.len(), 2);
        check(&buf);
    }

    #[test]
    fn psync_lookup_inside_at_edges_and_outside() {
        let mut buf = with_backlog(2 * BLOCK_SIZE as i64);
        // Empty backlog: only "everything after the current offset" can continue.
        assert!(buf.add_replica_at(0).is_none());
        let r = buf.add_replica_at(1).unwrap();
        assert!(buf.add_replica_at(2).is_none());
        buf.append(&stream(1, 5));
        assert_eq!(pending_bytes(&buf, &r), stream(1, 5));
        assert!(buf.consumed(&r, 5));
        buf.remove_replica(r);

        buf.append(&stream(6, 5 * BLOCK_SIZE));
        let end = buf.master_repl_offset();
        let first = buf.backlog_first_byte_offset();
        assert!(first > 1, "trimmed");
        assert_eq!(first, end - buf.backlog_histlen() + 1);
        for off in [first - 1, end + 2, 0, -5, i64::MIN, i64::MAX] {
            assert!(buf.add_replica_at(off).is_none(), "offset {off}");
        }
        let boundary = buf.blocks[1].start;
        for off in [first, first + 1, boundary - 1, boundary, boundary + 1, end, end + 1] {
            let id = buf.add_replica_at(off).unwrap();
            assert_eq!(buf.replica_offset(&id), Some(off - 1));
            assert_eq!(buf.replica_lag_bytes(&id), Some(end + 1 - off));
            assert_eq!(pending_bytes(&buf, &id), stream(off, (end + 1 - off) as usize));
            check(&buf);
            buf.remove_replica(id);
        }
        check(&buf);
    }

    #[test]
    fn backlog_size_change_trims() {
        let mut buf = with_backlog(10 * BLOCK_SIZE as i64);
        buf.append(&stream(1, 8 * BLOCK_SIZE + 7));
        assert_eq!(buf.blocks.len(), 9);
        buf.set_backlog_size(3 * BLOCK_SIZE as i64);
        check(&buf);
        // Keeps at least the size: three full blocks plus the partial last one.
        assert_eq!(buf.blocks.len(), 4);
        assert_eq!(buf.backlog_histlen(), 3 * BLOCK_SIZE as i64 + 7);
        assert_eq!(buf.backlog_first_byte_offset(), 5 * BLOCK_SIZE as i64 + 1);
        // Growing keeps the history; it fills up with later appends.
        buf.set_backlog_size(100 * BLOCK_SIZE as i64);
        assert_eq!(buf.blocks.len(), 4);
        buf.set_backlog_size(1);
        assert_eq!(buf.backlog_size(), BACKLOG_MIN_SIZE);
        check(&buf);
    }

    #[test]
    fn memory_figures() {
        let mut buf = with_backlog(BACKLOG_MIN_SIZE);
        assert_eq!(buf.mem_total_replication_buffers(), 0);
        buf.append(b"a");
        let per_block = BLOCK_SIZE + BLOCK_OVERHEAD;
        assert_eq!(buf.mem_total_replication_buffers(), per_block);
        assert_eq!(buf.memory_split(), (per_block, 0));
        let r = buf.add_replica_at_end().unwrap();
        buf.append(&stream(2, 3 * BLOCK_SIZE));
        assert_eq!(buf.mem_total_replication_buffers(), 4 * per_block);
        // With a replica, what exceeds the backlog size is the replicas' memory.
        let size = BACKLOG_MIN_SIZE as usize;
        assert_eq!(buf.memory_split(), (size, 4 * per_block - size));
        assert!(!buf.free_backlog(), "refused while a replica reads");
        buf.remove_replica(r);
        assert_eq!(buf.mem_total_replication_buffers(), 2 * per_block);
        assert!(buf.free_backlog());
        assert_eq!(buf.mem_total_replication_buffers(), 0);
        assert!(!buf.has_backlog());
        assert_eq!(buf.backlog_histlen(), 0);
        assert_eq!(buf.master_repl_offset(), 1 + 3 * BLOCK_SIZE as i64, "offset kept");
        check(&buf);
    }

    #[test]
    fn replica_like_another_shares_its_position() {
        let mut buf = with_backlog(1 << 20);
        let a = buf.add_replica_at_end().unwrap();
        let b = buf.add_replica_like(&a).unwrap();
        buf.append(&stream(1, BLOCK_SIZE + 10));
        assert!(buf.consumed(&a, 100));
        let c = buf.add_replica_like(&a).unwrap();
        check(&buf);
        assert_eq!(pending_bytes(&buf, &b), stream(1, BLOCK_SIZE + 10));
        assert_eq!(pending_bytes(&buf, &c), stream(101, BLOCK_SIZE - 90));
        buf.remove_replica(a);
        buf.remove_replica(b);
        buf.remove_replica(c);
        check(&buf);
    }

    /// xorshift64*: a seeded, dependency-free generator for the model test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            if n == 0 { 0 } else { self.next() % n }
        }
    }

    /// Random operations against a naive model: the whole stream in one Vec, each replica as
    /// the offset of its last byte sent, and the least history the backlog must still hold.
    #[test]
    fn matches_a_naive_model() {
        for seed in 1..=8u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut buf =
                ReplBuffer::new(BACKLOG_MIN_SIZE + rng.below(6 * BLOCK_SIZE as u64) as i64);
            let mut model: Vec<u8> = Vec::new(); // model[o - 1] is the byte at offset o
            // With a backlog: the least it may hold. Trimming keeps at least the backlog size
            // of what was appended; a smaller size lowers that, a larger one invents nothing.
            let mut floor: Option<i64> = None;
            let mut replicas: Vec<(ReplicaId, i64)> = Vec::new();
            for step in 0..500 {
                match rng.below(100) {
                    0..=34 => {
                        let len = if rng.below(10) == 0 {
                            rng.below(4 * BLOCK_SIZE as u64)
                        } else {
                            rng.below(3000)
                        } as usize;
                        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                        buf.append(&bytes);
                        if let Some(f) = &mut floor {
                            model.extend_from_slice(&bytes);
                            *f = (*f + len as i64).min(buf.backlog_size());
                        }
                    }
                    35..=44 => {
                        let got = buf.add_replica_at_end();
                        assert_eq!(got.is_some(), floor.is_some());
                        if let Some(id) = got {
                            replicas.push((id, model.len() as i64));
                        }
                    }
                    45..=54 => {
                        let end = model.len() as i64;
                        let off = end + 2 - rng.below(end as u64 + 4) as i64;
                        let first = buf.backlog_first_byte_offset();
                        let ok = floor.is_some() && off >= first && off <= end + 1;
                        let got = buf.add_replica_at(off);
                        assert_eq!(got.is_some(), ok, "psync {off} first {first} end {end}");
                        if let Some(id) = got {
                            replicas.push((id, off - 1));
                        }
                    }
                    55..=79 if !replicas.is_empty() => {
                        let k = rng.below(replicas.len() as u64) as usize;
                        let (id, sent) = &mut replicas[k];
                        let lag = model.len() as i64 - *sent;
                        assert_eq!(buf.replica_lag_bytes(id), Some(lag));
                        if rng.below(20) == 0 {
                            assert!(!buf.consumed(id, lag as usize + 1));
                        } else {
                            let n = rng.below(lag as u64 + 1) as usize;
                            assert!(buf.consumed(id, n));
                            *sent += n as i64;
                        }
                    }
                    80..=87 if !replicas.is_empty() => {
                        let k = rng.below(replicas.len() as u64) as usize;
                        let (id, _) = replicas.swap_remove(k);
                        buf.remove_replica(id);
                    }
                    88..=91 => {
                        buf.set_backlog_size(rng.below(8 * BLOCK_SIZE as u64) as i64);
                        if let Some(f) = &mut floor {
                            *f = (*f).min(buf.backlog_size());
                        }
                    }
                    92..=94 => {
                        buf.trim(rng.below(4) as usize);
                    }
                    95..=97 => {
                        if floor.is_none() {
                            assert!(buf.create_backlog());
                            floor = Some(0);
                        }
                    }
                    _ => {
                        let freed = buf.free_backlog();
                        assert_eq!(freed, replicas.is_empty());
                        if freed {
                            // The offset stays; appends are skipped until a new backlog.
                            floor = None;
                        }
                    }
                }
                check(&buf);
                assert_eq!(buf.master_repl_offset(), model.len() as i64);
                assert_eq!(buf.has_backlog(), floor.is_some());
                let histlen = buf.backlog_histlen();
                if let Some(f) = floor {
                    assert!(histlen >= f, "histlen {histlen} below {f}");
                    let first = buf.backlog_first_byte_offset();
                    assert_eq!(first, model.len() as i64 - histlen + 1);
                    if step % 20 == 0 {
                        assert_eq!(held_bytes(&buf), &model[(first - 1) as usize..]);
                    }
                } else {
                    assert_eq!((histlen, buf.backlog_first_byte_offset()), (0, 0));
                }
                for (id, sent) in &replicas {
                    assert_eq!(buf.replica_offset(id), Some(*sent));
                    let pending: usize = buf.pending(id).map(<[u8]>::len).sum();
                    assert_eq!(pending as i64, model.len() as i64 - *sent);
                    if step % 20 == 0 {
                        assert_eq!(pending_bytes(&buf, id), &model[*sent as usize..]);
                        let next = buf.next_chunk(id).unwrap_or(&[]);
                        assert!(model[*sent as usize..].starts_with(next));
                    }
                }
            }
            // Once every replica is gone and trimming has run, the backlog is within one
            // block of its size.
            for (id, _) in replicas.drain(..) {
                buf.remove_replica(id);
            }
            buf.trim(usize::MAX);
            check(&buf);
            if buf.blocks.len() > 1 {
                let front = buf.blocks[0].len() as i64;
                assert!(buf.backlog_histlen() - front <= buf.backlog_size());
            }
        }
    }
}
