//! The stream type, in Redis 7.0's layout: entries live in listpacks ("nodes") kept in order
//! of each node's master ID (Redis uses a radix tree keyed by the 128-bit big-endian ID;
//! tine keeps (master ID, listpack) pairs in a ring buffer searched by binary search, see
//! `NodeMap`: the same order and per-node heap blocks, so the same copy-on-write behaviour —
//! appending dirties the last node only — and less overhead per node than either a rax or a
//! B-tree). Consumer groups, their pending entries lists (PEL) and consumers sit beside.
//!
//! # A node's listpack, byte for byte as Redis writes it
//!
//! ```text
//! master entry: count | deleted | num-fields | field_1 ... field_N | 0
//! each entry:   flags | ms-diff | seq-diff | [num-fields | f_1 v_1 ... f_M v_M] or [v_1 ... v_N]
//!               | lp-count
//! ```
//!
//! `count` is the number of live entries, `deleted` of those flagged deleted. An entry whose
//! fields are the master fields, in order, has the SAMEFIELDS flag and stores values only.
//! IDs are stored as differences from the master ID (the node's key). `lp-count` is the number
//! of listpack elements of the entry before it (for walking backwards). Keeping this exact
//! layout means RDB files and DUMP payloads carry the nodes as they are, both ways.
//!
//! Everything that reads a node assumes it was checked (`validate_node`): nodes built here
//! are valid by construction, nodes loaded from RDB/RESTORE are validated before use.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::listpack::{Entry, Listpack};

/// The entry was deleted (kept as a tombstone until its node goes).
pub const FLAG_DELETED: i64 = 1;
/// The entry has the master entry's fields, and stores its values only.
pub const FLAG_SAMEFIELDS: i64 = 2;

/// Redis's STREAM_LISTPACK_MAX_SIZE: a node never grows past this, nor an entry.
pub const STREAM_LISTPACK_MAX_SIZE: u64 = 1 << 30;

/// Redis's SCG_INVALID_ENTRIES_READ: a group's entries-read is unknown.
pub const INVALID_ENTRIES_READ: i64 = -1;

/// A stream entry ID: milliseconds and a sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, `None` past the last possible one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            return Some(StreamId { ms: self.ms + 1, seq: 0 });
        }
        Some(StreamId { ms: self.ms, seq: self.seq + 1 })
    }

    /// The previous ID, `None` before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            return Some(StreamId { ms: self.ms - 1, seq: u64::MAX });
        }
        Some(StreamId { ms: self.ms, seq: self.seq - 1 })
    }

    /// "<ms>-<seq>", as replies show it.
    pub fn to_bytes(self) -> Vec<u8> {
        format!("{}-{}", self.ms, self.seq).into_bytes()
    }

    /// The 128-bit big-endian form (rax keys, RDB PEL entries).
    pub fn encode(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// Reads the 128-bit big-endian form; `None` unless exactly 16 bytes.
    pub fn decode(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        let ms = u64::from_be_bytes(b[..8].try_into().ok()?);
        let seq = u64::from_be_bytes(b[8..].try_into().ok()?);
        Some(StreamId { ms, seq })
    }
}

/// One entry read from a node: its ID and its field/value pairs (borrowed from the node).
#[derive(Clone, Debug)]
pub struct StreamEntry<'a> {
    pub id: StreamId,
    pub fields: Vec<(Entry<'a>, Entry<'a>)>,
}

/// A pending entry: delivered to a consumer of a group and not acknowledged yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    /// Last delivery, unix ms.
    pub delivery_time: i64,
    pub delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: Box<[u8]>,
}

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Consumer {
    /// Last time it was active (read, claimed), unix ms.
    pub seen_time: i64,
    /// The IDs of its pending entries (each also in the group's PEL).
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The last ID delivered to the group.
    pub last_id: StreamId,
    /// Entries the group read (Redis 7.0's logical counter), or `INVALID_ENTRIES_READ`.
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name, in byte order (XINFO CONSUMERS's order).
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }

    /// The consumer `name`, created when missing (seen now); the flag says it was created.
    pub fn consumer_or_create(&mut self, name: &[u8], now_ms: i64) -> (&mut Consumer, bool) {
        if !self.consumers.contains_key(name) {
            self.consumers
                .insert(name.into(), Consumer { seen_time: now_ms, pel: BTreeSet::new() });
            return (self.consumers.get_mut(name).expect("just inserted"), true);
        }
        (self.consumers.get_mut(name).expect("checked"), false)
    }

    /// Removes a consumer and its pending entries from the group PEL; returns how many it
    /// had pending, `None` when there is no such consumer.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Makes the pending entry `id` belong to consumer `to` (which must exist): out of its
    /// old owner's PEL, into `to`'s (XCLAIM, XAUTOCLAIM). Returns the entry, for its
    /// delivery time and count.
    pub fn hand_over(&mut self, id: StreamId, to: &[u8]) -> &mut Nack {
        let n = self.pel.get_mut(&id).expect("a pending entry");
        if *n.consumer != *to {
            if let Some(k) = self.consumers.get_mut(&n.consumer) {
                k.pel.remove(&id);
            }
            n.consumer = to.into();
            self.consumers.get_mut(to).expect("an existing consumer").pel.insert(id);
        }
        n
    }

    /// Acknowledges `id`: removes it from the group PEL and its consumer's; true when it
    /// was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }
}

/// Why a listpack is not a valid stream node, or a stream not a valid whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

/// How XADD/XTRIM trim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// The nodes in master-ID order. Entries are only ever appended at the end and trimmed from
/// the front, so a ring buffer of (master ID, listpack) pairs holds them with one slot each
/// (a B-tree's half-full leaves cost twice that, more than Redis's rax) and finds a node by
/// binary search. Appending writes the last slot only; a node emptied in the middle by XDEL
/// is the one case that moves slots.
#[derive(Clone, Debug, Default)]
struct NodeMap {
    v: VecDeque<(StreamId, Listpack)>,
}

impl NodeMap {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// Index of the last node whose master ID is <= `id`.
    fn le_index(&self, id: StreamId) -> Option<usize> {
        self.v.partition_point(|(k, _)| *k <= id).checked_sub(1)
    }

    /// Adds a node; `master` is normally greater than every key (else it is put in order,
    /// replacing an equal key).
    fn insert(&mut self, master: StreamId, lp: Listpack) {
        // Grow by an eighth, not by doubling: a stream that stops growing keeps at most
        // 1/8 of its slots unused (about jemalloc's size-class spacing) instead of up to half,
        // which kept the index above Redis's rax. Still geometric, so appends stay O(1).
        if self.v.len() == self.v.capacity() {
            self.v.reserve_exact((self.v.len() / 8).max(4));
        }
        match self.v.back() {
            None => self.v.push_back((master, lp)),
            Some((k, _)) if *k < master => self.v.push_back((master, lp)),
            _ => {
                let i = self.v.partition_point(|(k, _)| *k < master);
                if i < self.v.len() && self.v[i].0 == master {
                    self.v[i].1 = lp;
                } else {
                    self.v.insert(i, (master, lp));
                }
            }
        }
    }

    fn remove_at(&mut self, i: usize) {
        if i == 0 {
            self.v.pop_front();
        } else {
            self.v.remove(i);
        }
        let cap = self.v.capacity();
        if cap > 64 && self.v.len() * 4 < cap {
            self.v.shrink_to(self.v.len() * 2);
        }
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = (&StreamId, &Listpack)> {
        self.v.iter().map(|(k, lp)| (k, lp))
    }
}

/// The stream value.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    nodes: NodeMap,
    /// Live entries.
    pub length: u64,
    /// The greatest ID ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live entry's ID (0-0 when empty).
    pub first_id: StreamId,
    /// The greatest ID deleted so far.
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name, in byte order.
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

/// The parsed header of a node: master fields and where its first entry starts.
struct Master<'a> {
    id: StreamId,
    count: i64,
    deleted: i64,
    fields: Vec<Entry<'a>>,
    /// Byte offset of the first entry (None when none follows the master entry).
    first: Option<usize>,
}

fn int_at(lp: &Listpack, p: usize) -> i64 {
    lp.entry_at(p).as_i64().unwrap_or(0)
}

fn next(lp: &Listpack, p: Option<usize>) -> Option<usize> {
    p.and_then(|p| lp.next(p))
}

fn master(id: StreamId, lp: &Listpack) -> Master<'_> {
    let mut p = lp.first();
    let count = p.map_or(0, |p| int_at(lp, p));
    p = next(lp, p);
    let deleted = p.map_or(0, |p| int_at(lp, p));
    p = next(lp, p);
    let n = p.map_or(0, |p| int_at(lp, p));
    let mut fields = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        p = next(lp, p);
        if let Some(q) = p {
            fields.push(lp.entry_at(q));
        }
    }
    p = next(lp, p); // the zero terminator
    Master { id, count, deleted, fields, first: next(lp, p) }
}

/// One entry of a node, decoded: its flags, ID, where its flags are, where the next starts.
struct Raw<'a> {
    flags: i64,
    flags_pos: usize,
    id: StreamId,
    fields: Vec<(Entry<'a>, Entry<'a>)>,
    next: Option<usize>,
}

fn add_delta(base: u64, delta: i64) -> u64 {
    base.wrapping_add(delta as u64)
}

/// Decodes the entry whose flags are at `p`; fields are decoded only with `want_fields`.
fn raw_at<'a>(lp: &'a Listpack, m: &Master<'a>, p: usize, want_fields: bool) -> Raw<'a> {
    let flags = int_at(lp, p);
    let mut q = lp.next(p);
    let msd = q.map_or(0, |q| int_at(lp, q));
    q = next(lp, q);
    let seqd = q.map_or(0, |q| int_at(lp, q));
    let id = StreamId { ms: add_delta(m.id.ms, msd), seq: add_delta(m.id.seq, seqd) };
    let mut fields = Vec::new();
    if flags & FLAG_SAMEFIELDS != 0 {
        if want_fields {
            fields.reserve(m.fields.len());
        }
        for f in &m.fields {
            q = next(lp, q);
            if want_fields {
                if let Some(v) = q {
                    fields.push((*f, lp.entry_at(v)));
                }
            }
        }
    } else {
        q = next(lp, q);
        let n = q.map_or(0, |q| int_at(lp, q));
        for _ in 0..n {
            q = next(lp, q);
            let f = q;
            q = next(lp, q);
            if want_fields {
                if let (Some(f), Some(v)) = (f, q) {
                    fields.push((lp.entry_at(f), lp.entry_at(v)));
                }
            }
        }
    }
    q = next(lp, q); // lp-count
    Raw { flags, flags_pos: p, id, fields, next: next(lp, q) }
}

/// The entries of a node (live ones only unless `all`), in order.
fn node_entries<'a>(id: StreamId, lp: &'a Listpack, want_fields: bool) -> Vec<Raw<'a>> {
    let m = master(id, lp);
    let mut out = Vec::with_capacity((m.count + m.deleted).max(0) as usize);
    let mut p = m.first;
    while let Some(pos) = p {
        let r = raw_at(lp, &m, pos, want_fields);
        p = r.next;
        out.push(r);
    }
    out
}

/// Checks that `lp` is a well-formed stream node (Redis's streamValidateListpackIntegrity,
/// plus: IDs increase within the node and are not below `master`, and `count` is the
/// number of live entries). Returns the node's (first, last) live IDs, if any.
pub fn validate_node(
    master_id: StreamId,
    lp: &Listpack,
) -> Result<(u64, Option<(StreamId, StreamId)>), Invalid> {
    const BAD: Invalid = Invalid("Stream listpack integrity check failed");
    let int = |p: Option<usize>| -> Result<(i64, Option<usize>), Invalid> {
        let p = p.ok_or(BAD)?;
        match lp.entry_at(p) {
            Entry::Int(v) => Ok((v, lp.next(p))),
            Entry::Str(s) => match super::listpack::string_to_i64(s) {
                Some(v) => Ok((v, lp.next(p))),
                None => Err(BAD),
            },
        }
    };
    let skip = |p: Option<usize>| -> Result<Option<usize>, Invalid> { Ok(lp.next(p.ok_or(BAD)?)) };
    if lp.is_empty() {
        return Err(Invalid("Empty listpack inside stream"));
    }
    let (count, p) = int(lp.first())?;
    let (deleted, p) = int(p)?;
    let (nfields, mut p) = int(p)?;
    if count < 0 || deleted < 0 || nfields < 0 || nfields > lp.len() as i64 {
        return Err(BAD);
    }
    for _ in 0..nfields {
        p = skip(p)?;
    }
    let (zero, mut p) = int(p)?;
    if zero != 0 {
        return Err(BAD);
    }
    let total = count.checked_add(deleted).ok_or(BAD)?;
    if total == 0 || total > lp.len() as i64 {
        return Err(BAD);
    }
    let mut live = 0u64;
    let mut prev: Option<StreamId> = None;
    let mut edges: Option<(StreamId, StreamId)> = None;
    for _ in 0..total {
        let (flags, q) = int(p)?;
        let (msd, q) = int(q)?;
        let (seqd, mut q) = int(q)?;
        if !(0..=3).contains(&flags) {
            return Err(BAD);
        }
        let id = StreamId { ms: add_delta(master_id.ms, msd), seq: add_delta(master_id.seq, seqd) };
        if id < master_id || prev.is_some_and(|pr| id <= pr) {
            return Err(BAD);
        }
        prev = Some(id);
        let mut fields = nfields;
        let mut extra = 3;
        if flags & FLAG_SAMEFIELDS == 0 {
            let (n, q2) = int(q)?;
            if n < 0 || n > lp.len() as i64 {
                return Err(BAD);
            }
            q = q2;
            fields = n;
            for _ in 0..n {
                q = skip(q)?;
            }
            extra += n + 1;
        }
        for _ in 0..fields {
            q = skip(q)?;
        }
        let (lp_count, q) = int(q)?;
        if lp_count != fields + extra {
            return Err(BAD);
        }
        p = q;
        if flags & FLAG_DELETED == 0 {
            live += 1;
            edges = Some(match edges {
                None => (id, id),
                Some((f, _)) => (f, id),
            });
        }
    }
    if p.is_some() || live != count as u64 {
        return Err(BAD);
    }
    Ok((live, edges))
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The number of nodes Redis's rax would have with these nodes' keys (16-byte big-endian
    /// master IDs) inserted in order, as XINFO STREAM's `radix-tree-nodes` reports. It
    /// follows raxInsert: keys are appended in increasing order, so only the rightmost path
    /// of the tree changes; each key splits that path where it leaves its predecessor (a
    /// compressed node cut in two or replaced by a branching node, plus a node for the rest
    /// of the cut one) and adds its own tail (a compressed node or single-char node for the
    /// remaining bytes, and the empty key node). Streams are built and loaded by inserting in
    /// order; raxRemove re-compresses what a deletion leaves, and the count after front trims
    /// and XDEL-emptied nodes matched redis-server's in every randomized comparison
    /// (tests/streams.rs), so it is computed from the keys present. O(nodes), no allocation
    /// beyond a 34-slot path.
    pub fn rax_node_count(&self) -> u64 {
        /// A node of the rightmost path: its first byte's depth and how many bytes it holds
        /// (0: the key node at depth 16; a branching node holds its rightmost byte).
        #[derive(Clone, Copy)]
        struct PathNode {
            depth: usize,
            len: usize,
            compressed: bool,
        }
        let mut path: Vec<PathNode> = Vec::with_capacity(34);
        let mut count = 1u64; // the empty root
        let mut prev: Option<[u8; 16]> = None;
        let tail = |path: &mut Vec<PathNode>, from: usize| -> u64 {
            // Bytes `from..16` of the new key below a branching byte at `from - 1`.
            let rest = 16 - from;
            match rest {
                0 => {}
                1 => path.push(PathNode { depth: from, len: 1, compressed: false }),
                _ => path.push(PathNode { depth: from, len: rest, compressed: true }),
            }
            path.push(PathNode { depth: 16, len: 0, compressed: false });
            if rest == 0 { 1 } else { 2 }
        };
        for (k, _) in self.nodes.iter() {
            let key = k.encode();
            let Some(before) = prev.replace(key) else {
                // Into the empty root: it takes all 16 bytes, then the key node.
                path.push(PathNode { depth: 0, len: 16, compressed: true });
                path.push(PathNode { depth: 16, len: 0, compressed: false });
                count = 2;
                continue;
            };
            let p = before.iter().zip(&key).take_while(|(a, b)| a == b).count();
            if p >= 16 {
                continue;
            }
            let at = path
                .iter()
                .position(|n| n.depth <= p && p < n.depth + n.len.max(1))
                .expect("every depth below 16 is on the path");
            let n = path[at];
            path.truncate(at);
            if n.compressed {
                let j = p - n.depth;
                if j > 0 {
                    // Cut: the first j bytes stay, a branching node follows.
                    path.push(PathNode { depth: n.depth, len: j, compressed: j > 1 });
                    count += 1;
                }
                if n.len - j - 1 > 0 {
                    count += 1; // what followed the mismatching byte
                }
            }
            path.push(PathNode { depth: p, len: 1, compressed: false });
            count += tail(&mut path, p + 1);
        }
        count
    }

    /// Number of nodes (XINFO STREAM's radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes, in ID order: (master ID, listpack) — what RDB saves.
    pub fn nodes(&self) -> impl Iterator<Item = (&StreamId, &Listpack)> {
        self.nodes.iter()
    }

    /// Adds a node loaded from RDB (validated by the caller with `validate_node`).
    pub fn push_loaded_node(&mut self, master: StreamId, lp: Listpack) {
        self.nodes.insert(master, lp);
    }

    /// Appends an entry; `id` must be greater than `last_id` (the caller checks), `fields` are
    /// field, value pairs (flat). Node limits as `stream-node-max-bytes`/`-entries` (0: none).
    /// Err when the entry is too large for a listpack.
    pub fn append(
        &mut self,
        id: StreamId,
        fields: &[Vec<u8>],
        max_bytes: u64,
        max_entries: u64,
    ) -> Result<(), Invalid> {
        let totelelen: usize = fields.iter().map(|f| f.len()).sum();
        let mut new_node = true;
        let node_max = if max_bytes == 0 || max_bytes > STREAM_LISTPACK_MAX_SIZE {
            STREAM_LISTPACK_MAX_SIZE
        } else {
            max_bytes
        };
        if let Some((_, lp)) = self.nodes.v.back() {
            new_node = false;
            if (lp.bytes_len() + totelelen) as u64 >= node_max {
                new_node = true;
            } else if max_entries > 0 {
                let mut p = lp.first();
                let count = p.map_or(0, |p| int_at(lp, p));
                p = next(lp, p);
                let deleted = p.map_or(0, |p| int_at(lp, p));
                if (count + deleted) as u64 >= max_entries {
                    new_node = true;
                }
            }
        }
        if totelelen > STREAM_LISTPACK_MAX_SIZE as usize {
            return Err(Invalid("ERR Elements are too large to be stored"));
        }
        let numfields = (fields.len() / 2) as i64;
        if new_node {
            // The node that was last will not grow any more: give back its growth slack.
            if let Some((_, last)) = self.nodes.v.back_mut() {
                last.shrink_to_fit();
            }
            let mut lp = Listpack::new();
            lp.push_int(1);
            lp.push_int(0);
            lp.push_int(numfields);
            for pair in fields.chunks_exact(2) {
                lp.push_back(&pair[0]);
            }
            lp.push_int(0);
            self.nodes.insert(id, lp);
        }
        let (master_id, lp) = self.nodes.v.back_mut().expect("a node exists");
        let master_id = *master_id;
        let mut flags = 0;
        if !new_node {
            // Bump the live count, and see whether the fields are the master's.
            let p = lp.first().expect("master entry");
            let count = int_at(lp, p);
            lp.replace_at(p, (count + 1).to_string().as_bytes());
            let m = master(master_id, lp);
            if m.fields.len() == fields.len() / 2
                && m.fields.iter().zip(fields.chunks_exact(2)).all(|(f, pair)| f.eq_bytes(&pair[0]))
            {
                flags |= FLAG_SAMEFIELDS;
            }
        } else {
            flags |= FLAG_SAMEFIELDS;
        }
        lp.push_int(flags);
        lp.push_int(id.ms.wrapping_sub(master_id.ms) as i64);
        lp.push_int(id.seq.wrapping_sub(master_id.seq) as i64);
        if flags & FLAG_SAMEFIELDS == 0 {
            lp.push_int(numfields);
        }
        for pair in fields.chunks_exact(2) {
            if flags & FLAG_SAMEFIELDS == 0 {
                lp.push_back(&pair[0]);
            }
            lp.push_back(&pair[1]);
        }
        let mut lp_count = numfields + 3;
        if flags & FLAG_SAMEFIELDS == 0 {
            lp_count += numfields + 1;
        }
        lp.push_int(lp_count);
        self.length += 1;
        // A restored payload may carry any count: wrap as Redis's C arithmetic does, never panic.
        self.entries_added = self.entries_added.wrapping_add(1);
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(())
    }

    /// Calls `f` on each live entry with `start <= id <= end`, in order (backwards with
    /// `rev`), until it returns false.
    pub fn for_each_in<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(StreamEntry<'a>) -> bool,
    ) {
        if start > end {
            return;
        }
        if !rev {
            let first = self.nodes.le_index(start).unwrap_or(0);
            for (k, lp) in self.nodes.v.range(first..) {
                if *k > end {
                    return;
                }
                for r in node_entries(*k, lp, true) {
                    if r.flags & FLAG_DELETED != 0 || r.id < start {
                        continue;
                    }
                    if r.id > end {
                        return;
                    }
                    if !f(StreamEntry { id: r.id, fields: r.fields }) {
                        return;
                    }
                }
            }
        } else {
            let Some(last) = self.nodes.le_index(end) else {
                return;
            };
            for (k, lp) in self.nodes.v.range(..=last).rev() {
                let entries = node_entries(*k, lp, true);
                for r in entries.into_iter().rev() {
                    if r.flags & FLAG_DELETED != 0 || r.id > end {
                        continue;
                    }
                    if r.id < start {
                        return;
                    }
                    if !f(StreamEntry { id: r.id, fields: r.fields }) {
                        return;
                    }
                }
                if *k <= start {
                    return;
                }
            }
        }
    }

    /// Up to `count` (0: all) live entries in `start..=end`.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        count: usize,
    ) -> Vec<StreamEntry<'_>> {
        let mut out = Vec::new();
        self.for_each_in(start, end, rev, |e| {
            out.push(e);
            count == 0 || out.len() < count
        });
        out
    }

    /// The entry `id`, if live.
    pub fn get(&self, id: StreamId) -> Option<StreamEntry<'_>> {
        self.range(id, id, false, 1).pop()
    }

    /// True when `id` is a live entry.
    pub fn contains(&self, id: StreamId) -> bool {
        let Some((k, lp)) = self.nodes.le_index(id).map(|i| &self.nodes.v[i]) else {
            return false;
        };
        node_entries(*k, lp, false).iter().any(|r| r.id == id && r.flags & FLAG_DELETED == 0)
    }

    /// The first (or last) live entry's ID.
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        let mut id = None;
        if first {
            self.for_each_in(StreamId::MIN, StreamId::MAX, false, |e| {
                id = Some(e.id);
                false
            });
        } else {
            self.for_each_in(StreamId::MIN, StreamId::MAX, true, |e| {
                id = Some(e.id);
                false
            });
        }
        id
    }

    /// Flags entry `id` deleted (removing its node when it was the node's last live entry).
    /// True when it was a live entry. Does not touch first_id/max_deleted (callers do).
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(i) = self.nodes.le_index(id) else {
            return false;
        };
        let (k, lp) = &mut self.nodes.v[i];
        let k = *k;
        let Some((pos, flags)) = node_entries(k, lp, false)
            .iter()
            .find(|r| r.id == id && r.flags & FLAG_DELETED == 0)
            .map(|r| (r.flags_pos, r.flags))
        else {
            return false;
        };
        let p = lp.first().expect("master entry");
        let count = int_at(lp, p);
        if count <= 1 {
            self.nodes.remove_at(i);
        } else {
            lp.replace_at(pos, (flags | FLAG_DELETED).to_string().as_bytes());
            lp.replace_at(p, (count - 1).to_string().as_bytes());
            let d = lp.next(p).expect("deleted count");
            let deleted = int_at(lp, d);
            lp.replace_at(d, (deleted + 1).to_string().as_bytes());
        }
        self.length -= 1;
        true
    }

    /// Deletes `id` as XDEL does: updates max-deleted-entry-id and first-id.
    pub fn xdel(&mut self, id: StreamId) -> bool {
        if !self.delete(id) {
            return false;
        }
        if id > self.max_deleted_entry_id {
            self.max_deleted_entry_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.edge_id(true).unwrap_or(StreamId::MIN);
        }
        true
    }

    /// Trims as Redis's streamTrim: whole nodes first; with `approx` only whole nodes; at most
    /// `limit` entries (0: no limit). Returns the number of entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        match how {
            Trim::MaxLen(max) if self.length <= max => return 0,
            _ => {}
        }
        loop {
            if limit > 0 && deleted >= limit {
                break;
            }
            let Some((k, lp)) = self.nodes.v.front() else {
                break;
            };
            let k = *k;
            let (m_count, m_deleted) = {
                let m = master(k, lp);
                (m.count, m.deleted)
            };
            let entries = m_count as u64;
            if limit > 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => {
                    let last = node_entries(k, lp, false).last().map(|r| r.id).unwrap_or(k);
                    last < min
                }
            };
            if remove_node {
                self.nodes.remove_at(0);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            // Flag entries of this node deleted until the condition holds.
            let raws: Vec<(StreamId, i64, usize)> =
                node_entries(k, lp, false).iter().map(|r| (r.id, r.flags, r.flags_pos)).collect();
            let mut from_lp = 0i64;
            let mut marks = Vec::new();
            for (id, flags, pos) in raws {
                let stop = match how {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                if flags & FLAG_DELETED == 0 {
                    marks.push((pos, flags | FLAG_DELETED));
                    from_lp += 1;
                    self.length -= 1;
                }
            }
            let lp = &mut self.nodes.v[0].1;
            // Replacing a small flag integer keeps every entry's size: positions hold.
            for (pos, flags) in marks {
                lp.replace_at(pos, flags.to_string().as_bytes());
            }
            deleted += from_lp as u64;
            let p = lp.first().expect("master entry");
            lp.replace_at(p, (m_count - from_lp).to_string().as_bytes());
            let d = lp.next(p).expect("deleted count");
            lp.replace_at(d, (m_deleted + from_lp).to_string().as_bytes());
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else {
            self.first_id = self.edge_id(true).unwrap_or(StreamId::MIN);
        }
        deleted
    }

    /// The first entry's ID, deleted ones included (Redis's streamGetEdgeID without skipping
    /// tombstones), or the greatest ID for an empty stream: what MINID ~ propagates as.
    pub fn first_id_with_tombstones(&self) -> StreamId {
        match self.nodes.v.front() {
            Some((k, lp)) => node_entries(*k, lp, false).first().map_or(StreamId::MAX, |r| r.id),
            None => StreamId::MAX,
        }
    }

    /// The first ID of the first node (its master ID) — approximate trims propagate the first
    /// live entry's ID instead, see `edge_id`.
    pub fn first_node_id(&self) -> Option<StreamId> {
        self.nodes.v.front().map(|(k, _)| *k)
    }

    /// Redis's streamRangeHasTombstones: might a deleted entry lie in `start..=end`?
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_entry_id == StreamId::MIN {
            return false;
        }
        if self.first_id > self.max_deleted_entry_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_entry_id && self.max_deleted_entry_id <= end
    }

    /// Redis's streamEstimateDistanceFromFirstEverEntry: the entries-read counter of a group
    /// at `id`, or `INVALID_ENTRIES_READ` when it cannot be known.
    pub fn estimate_distance_from_first_ever_entry(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id < self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted_entry_id == StreamId::MIN || self.max_deleted_entry_id < self.first_id {
            if id < self.first_id {
                return self.entries_added.wrapping_sub(self.length) as i64;
            } else if id == self.first_id {
                return self.entries_added.wrapping_sub(self.length).wrapping_add(1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// The lag of a group (XINFO GROUPS), `None` for nil.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some((self.entries_added as i64).wrapping_sub(g.entries_read));
        }
        let read = self.estimate_distance_from_first_ever_entry(g.last_id);
        if read != INVALID_ENTRIES_READ {
            return Some((self.entries_added as i64).wrapping_sub(read));
        }
        None
    }

    /// Bytes the nodes take (MEMORY USAGE).
    pub fn node_bytes(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes.v.iter().map(|(_, lp)| lp.allocated_bytes())
    }

    /// Recomputes first_id from the nodes (after loading).
    pub fn refresh_first_id(&mut self) {
        self.first_id = self.edge_id(true).unwrap_or(StreamId::MIN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fv(pairs: &[(&str, &str)]) -> Vec<Vec<u8>> {
        pairs.iter().flat_map(|(f, v)| [f.as_bytes().to_vec(), v.as_bytes().to_vec()]).collect()
    }

    #[test]
    fn append_range_delete_trim() {
        let mut s = Stream::new();
        for i in 1..=250u64 {
            let f = if i % 3 == 0 { fv(&[("a", "1"), ("b", "x")]) } else { fv(&[("a", "2")]) };
            s.append(StreamId::new(i, 0), &f, 4096, 100).unwrap();
        }
        assert_eq!(s.len(), 250);
        assert_eq!(s.node_count(), 3);
        for (k, lp) in s.nodes() {
            validate_node(*k, lp).unwrap();
        }
        let r = s.range(StreamId::new(99, 0), StreamId::new(102, 0), false, 0);
        assert_eq!(r.iter().map(|e| e.id.ms).collect::<Vec<_>>(), [99, 100, 101, 102]);
        assert_eq!(r[0].fields.len(), 2);
        let r = s.range(StreamId::new(99, 0), StreamId::new(102, 0), true, 2);
        assert_eq!(r.iter().map(|e| e.id.ms).collect::<Vec<_>>(), [102, 101]);
        assert!(s.xdel(StreamId::new(1, 0)));
        assert!(!s.xdel(StreamId::new(1, 0)));
        assert_eq!(s.first_id, StreamId::new(2, 0));
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 99);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.first_id, StreamId::new(131, 0));
        for (k, lp) in s.nodes() {
            validate_node(*k, lp).unwrap();
        }
        assert_eq!(s.trim(Trim::MinId(StreamId::new(200, 0)), false, 0), 69);
        assert_eq!(s.edge_id(true), Some(StreamId::new(200, 0)));
        assert_eq!(s.edge_id(false), Some(StreamId::new(250, 0)));
    }

    /// The node index grows by an eighth: a stream of any size leaves at most about 1/8 of
    /// its slots unused (doubling left up to half, which put tine above Redis's memory).
    #[test]
    fn node_index_slack_is_an_eighth() {
        let mut s = Stream::new();
        let f = fv(&[("f", "v")]);
        for n in 1..=5000u64 {
            s.append(StreamId::new(n, 0), &f, 4096, 1).unwrap();
            let (len, cap) = (s.nodes.v.len(), s.nodes.v.capacity());
            assert_eq!(len as u64, n);
            assert!(cap <= len + len / 8 + 4, "{len} nodes in {cap} slots");
        }
    }
}
