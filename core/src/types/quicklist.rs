//! QuickList: Redis 7.0's list encoding — a sequence of listpack nodes.
//!
//! # Structure
//!
//! A list is stored as a run of [`Listpack`] nodes, each holding a slice of
//! the list's elements in order. Redis links the nodes with `prev`/`next`
//! pointers; here they live in a `VecDeque<Listpack>`, which keeps O(1)
//! push/pop of nodes at both ends and cheap node insertion in the middle
//! for the small node counts lists have. The byte content of every node is
//! an ordinary listpack (see [`crate::types::listpack`]), so an RDB
//! `RDB_TYPE_LIST_QUICKLIST_2` payload is written by emitting each node's
//! bytes ([`QuickList::nodes`]) and read back with [`QuickList::from_nodes`].
//!
//! # Node size limit (`list-max-listpack-size`, the *fill* factor)
//!
//! * Negative fill `-1..=-5`: a node's listpack may grow to at most
//!   4096, 8192, 16384, 32768 or 65536 bytes ([`OPTIMIZATION_LEVEL`]).
//!   The default is `-2` (8 KiB).
//! * Positive fill `n`: at most `n` entries per node, and also at most
//!   [`SIZE_SAFETY_LIMIT`] (8192) bytes per node.
//! * Fill is clamped to `-5..=`[`FILL_MAX`] like Redis's `quicklistSetFill`.
//!   Fill `0` (allowed by Redis) puts every element in its own node.
//!
//! Whether an element fits in a node is decided exactly as Redis's
//! `_quicklistNodeAllowInsert` does: estimated new size = node bytes +
//! element length + [`SIZE_ESTIMATE_OVERHEAD`] (8), compared against the
//! limit above. Two adjacent nodes may be merged when
//! `a.bytes + b.bytes - 7` fits (`_quicklistNodeAllowMerge`).
//!
//! # Large elements ("plain" nodes)
//!
//! An element that does not fit any node with others simply ends up alone
//! in a new single-entry listpack node, as in Redis (for elements below
//! Redis's `packed_threshold` of 1 GiB, Redis does the same). Redis 7.0
//! stores elements of [`PACKED_THRESHOLD`] (1 GiB) or more in a *plain*
//! node holding the raw bytes instead of a listpack. Here such an element is
//! also kept in its own single-entry listpack node, nothing else is ever
//! added to that node, and [`is_plain_node`] identifies it so an RDB writer
//! can emit it with container type PLAIN (raw bytes of the element) to match
//! Redis's RDB output.
//!
//! # Not implemented
//!
//! * LZF compression of interior nodes (`list-compress-depth`): nodes are
//!   always stored uncompressed.
//! * Node layout after mid-list inserts and range deletes follows the same
//!   size rules as Redis but is not guaranteed to split/merge nodes at
//!   exactly the same places (any layout is a valid quicklist).
//! * Small adjacent nodes are merged after [`QuickList::remove_range`] and
//!   after splits caused by inserts; pops never merge (neither does Redis).

use std::collections::VecDeque;

use crate::types::listpack::{Entry, Listpack};

/// Max node bytes for fill -1..-5.
pub const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Byte cap for nodes when fill is a positive entry count.
pub const SIZE_SAFETY_LIMIT: usize = 8192;
/// Per-element overhead estimate added when checking whether an element fits.
pub const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Elements of this size or more go into their own ("plain") node.
pub const PACKED_THRESHOLD: usize = 1 << 30;
/// Largest positive fill (Redis: 16-bit signed fill field).
pub const FILL_MAX: i32 = (1 << 15) - 1;
/// Redis's default `list-max-listpack-size`.
pub const DEFAULT_FILL: i32 = -2;

/// Is this node a Redis "plain" node (a single element of at least
/// [`PACKED_THRESHOLD`] bytes)? RDB writers should store such nodes as
/// PLAIN containers with the element's raw bytes.
pub fn is_plain_node(node: &Listpack) -> bool {
    node.len() == 1
        && node.bytes_len() > PACKED_THRESHOLD
        && matches!(node.get(0), Some(Entry::Str(s)) if s.len() >= PACKED_THRESHOLD)
}

fn size_meets_optimization(sz: usize, fill: i32) -> bool {
    if fill >= 0 {
        return false;
    }
    let offset = (-(fill as i64) - 1) as usize;
    match OPTIMIZATION_LEVEL.get(offset) {
        Some(&limit) => sz <= limit,
        None => false,
    }
}

/// Redis's `_quicklistNodeAllowInsert`: may an element of `sz` bytes join `node`?
fn allow_insert(fill: i32, node: &Listpack, sz: usize) -> bool {
    if sz >= PACKED_THRESHOLD || is_plain_node(node) {
        return false;
    }
    let new_sz = node.bytes_len() + sz + SIZE_ESTIMATE_OVERHEAD;
    if size_meets_optimization(new_sz, fill) {
        true
    } else if new_sz > SIZE_SAFETY_LIMIT {
        false
    } else {
        fill > 0 && node.len() < fill as usize
    }
}

/// Redis's `_quicklistNodeAllowMerge`.
fn allow_merge(fill: i32, a: &Listpack, b: &Listpack) -> bool {
    if is_plain_node(a) || is_plain_node(b) {
        return false;
    }
    let merge_sz = a.bytes_len() + b.bytes_len() - 7;
    if size_meets_optimization(merge_sz, fill) {
        true
    } else if merge_sz > SIZE_SAFETY_LIMIT {
        false
    } else {
        fill > 0 && a.len() + b.len() <= fill as usize
    }
}

/// Can a node keep its element count but reach `new_sz` bytes?
fn size_ok(fill: i32, new_sz: usize) -> bool {
    size_meets_optimization(new_sz, fill) || (fill >= 0 && new_sz <= SIZE_SAFETY_LIMIT)
}

fn single(v: &[u8]) -> Listpack {
    let mut lp = Listpack::new();
    lp.push_back(v);
    lp
}

/// A Redis list: listpack nodes in a deque.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuickList {
    nodes: VecDeque<Listpack>,
    len: usize,
    fill: i32,
}

impl Default for QuickList {
    fn default() -> Self {
        QuickList::new(DEFAULT_FILL)
    }
}

impl QuickList {
    /// Empty list with the given `list-max-listpack-size` (clamped to
    /// `-5..=FILL_MAX`).
    pub fn new(fill: i32) -> QuickList {
        QuickList { nodes: VecDeque::new(), len: 0, fill: fill.clamp(-5, FILL_MAX) }
    }

    /// Build from listpack nodes (e.g. loaded from RDB). Empty nodes are
    /// dropped; nodes are kept as they are otherwise.
    pub fn from_nodes(fill: i32, nodes: Vec<Listpack>) -> QuickList {
        let nodes: VecDeque<Listpack> = nodes.into_iter().filter(|n| !n.is_empty()).collect();
        let len = nodes.iter().map(|n| n.len()).sum();
        QuickList { nodes, len, fill: fill.clamp(-5, FILL_MAX) }
    }

    pub fn fill(&self) -> i32 {
        self.fill
    }

    /// Change the fill factor (applies to future inserts).
    pub fn set_fill(&mut self, fill: i32) {
        self.fill = fill.clamp(-5, FILL_MAX);
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes, head to tail (for RDB: write each node's `as_bytes()`).
    pub fn nodes(&self) -> std::collections::vec_deque::Iter<'_, Listpack> {
        self.nodes.iter()
    }

    /// Approximate heap + struct memory used by the list.
    pub fn bytes_used(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.nodes.capacity() * std::mem::size_of::<Listpack>()
            + self.nodes.iter().map(|n| n.allocated_bytes()).sum::<usize>()
    }

    /// Map a possibly negative index to `0..len`.
    fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 { len.checked_add(index)? } else { index };
        if i < 0 || i >= len { None } else { Some(i as usize) }
    }

    /// (node index, offset in node) of element `idx` (< len).
    fn locate(&self, idx: usize) -> (usize, usize) {
        debug_assert!(idx < self.len);
        if idx < self.len / 2 {
            let mut start = 0;
            for (i, n) in self.nodes.iter().enumerate() {
                if idx < start + n.len() {
                    return (i, idx - start);
                }
                start += n.len();
            }
        } else {
            let mut end = self.len;
            for (i, n) in self.nodes.iter().enumerate().rev() {
                let start = end - n.len();
                if idx >= start {
                    return (i, idx - start);
                }
                end = start;
            }
        }
        unreachable!("quicklist: length bookkeeping broken")
    }

    /// Appends `v`. When the tail node is full, it is trimmed to its exact size (it will not
    /// grow again from this end) and `v` starts a new node: a list built by pushes holds no
    /// growth slack but the open end node's.
    pub fn push_back(&mut self, v: &[u8]) {
        match self.nodes.back_mut() {
            Some(t) if allow_insert(self.fill, t, v.len()) => t.push_back(v),
            Some(t) => {
                t.shrink_to_fit();
                self.nodes.push_back(single(v));
            }
            None => self.nodes.push_back(single(v)),
        }
        self.len += 1;
    }

    /// Prepends `v` (a full head node is trimmed as in [`push_back`](Self::push_back)).
    pub fn push_front(&mut self, v: &[u8]) {
        match self.nodes.front_mut() {
            Some(h) if allow_insert(self.fill, h, v.len()) => h.push_front(v),
            Some(h) => {
                h.shrink_to_fit();
                self.nodes.push_front(single(v));
            }
            None => self.nodes.push_front(single(v)),
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let node = self.nodes.front_mut()?;
        let pos = node.first()?;
        let v = node.entry_at(pos).to_vec();
        node.delete_at(pos);
        if node.is_empty() {
            self.nodes.pop_front();
        }
        self.len -= 1;
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let node = self.nodes.back_mut()?;
        let pos = node.last()?;
        let v = node.entry_at(pos).to_vec();
        node.delete_at(pos);
        if node.is_empty() {
            self.nodes.pop_back();
        }
        self.len -= 1;
        Some(v)
    }

    /// Element at `index` (negative = from the tail, -1 is the last).
    pub fn get(&self, index: i64) -> Option<Entry<'_>> {
        let idx = self.resolve(index)?;
        let (i, o) = self.locate(idx);
        self.nodes[i].get(o)
    }

    /// Replace the element at `index`; `false` if out of range.
    pub fn set(&mut self, index: i64, v: &[u8]) -> bool {
        let idx = match self.resolve(index) {
            Some(i) => i,
            None => return false,
        };
        let (i, o) = self.locate(idx);
        let fill = self.fill;
        let node = &mut self.nodes[i];
        let pos = node.seek(o as i64).expect("offset in range");
        if v.len() < PACKED_THRESHOLD && !is_plain_node(node) {
            let new_sz = node.bytes_len() - node.entry_len_at(pos) + Listpack::entry_bytes_for(v);
            if node.len() == 1 || size_ok(fill, new_sz) {
                node.replace_at(pos, v);
                return true;
            }
        }
        // Does not fit in place: delete and re-insert through the normal path.
        node.delete_at(pos);
        if node.is_empty() {
            self.nodes.remove(i);
        }
        self.len -= 1;
        self.insert_at(idx, v);
        true
    }

    /// Insert `v` before the element at `index`; `false` if out of range.
    pub fn insert_before(&mut self, index: i64, v: &[u8]) -> bool {
        match self.resolve(index) {
            Some(idx) => {
                self.insert_at(idx, v);
                true
            }
            None => false,
        }
    }

    /// Insert `v` after the element at `index`; `false` if out of range.
    pub fn insert_after(&mut self, index: i64, v: &[u8]) -> bool {
        match self.resolve(index) {
            Some(idx) => {
                self.insert_at(idx + 1, v);
                true
            }
            None => false,
        }
    }

    /// Insert `v` so that it becomes element `idx` (`idx <= len`).
    ///
    /// # Panics
    /// If `idx > len()`.
    pub fn insert_at(&mut self, idx: usize, v: &[u8]) {
        assert!(idx <= self.len, "quicklist insert index out of range");
        if idx == 0 {
            return self.push_front(v);
        }
        if idx == self.len {
            return self.push_back(v);
        }
        let fill = self.fill;
        let sz = v.len();
        let (i, o) = self.locate(idx);
        if allow_insert(fill, &self.nodes[i], sz) {
            self.nodes[i].insert(o, v);
        } else if o == 0 && i > 0 && allow_insert(fill, &self.nodes[i - 1], sz) {
            self.nodes[i - 1].push_back(v);
        } else if o == 0 {
            self.nodes.insert(i, single(v));
        } else {
            // Split the full node at the insertion point.
            let mut right = self.nodes[i].split_off(o);
            if allow_insert(fill, &self.nodes[i], sz) {
                self.nodes[i].push_back(v);
                self.nodes.insert(i + 1, right);
            } else if allow_insert(fill, &right, sz) {
                right.push_front(v);
                self.nodes.insert(i + 1, right);
            } else {
                self.nodes.insert(i + 1, single(v));
                self.nodes.insert(i + 2, right);
            }
            self.try_merge(i + 1);
            self.try_merge(i);
        }
        self.len += 1;
    }

    /// Merge node `i` with node `i + 1` if the fill rules allow it.
    fn try_merge(&mut self, i: usize) -> bool {
        if i + 1 >= self.nodes.len() || !allow_merge(self.fill, &self.nodes[i], &self.nodes[i + 1])
        {
            return false;
        }
        let b = self.nodes.remove(i + 1).expect("checked");
        self.nodes[i].append(&b);
        true
    }

    /// Delete up to `count` elements starting at `start` (negative = from
    /// the tail). Returns the number removed (0 if `start` is out of range).
    pub fn remove_range(&mut self, start: i64, count: usize) -> usize {
        let s = match self.resolve(start) {
            Some(s) => s,
            None => return 0,
        };
        let n = count.min(self.len - s);
        if n == 0 {
            return 0;
        }
        let (first, mut o) = self.locate(s);
        let mut i = first;
        let mut left = n;
        while left > 0 {
            let nl = self.nodes[i].len();
            let take = left.min(nl - o);
            if take == nl {
                self.nodes.remove(i);
            } else {
                self.nodes[i].delete_range(o, take);
                i += 1;
            }
            left -= take;
            o = 0;
        }
        self.len -= n;
        // Nodes around the hole may now be small enough to merge.
        self.try_merge(first);
        if first > 0 {
            self.try_merge(first - 1);
        }
        n
    }

    /// Remove all elements.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.len = 0;
    }

    /// Head-to-tail iterator (double-ended: `.rev()` works).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Entry<'_>> + '_ {
        self.nodes.iter().flat_map(|n| n.iter())
    }

    /// Tail-to-head iterator.
    pub fn iter_rev(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.iter().rev()
    }

    /// Head-to-tail iterator starting at `index` (negative = from the
    /// tail); empty if out of range.
    pub fn iter_from(&self, index: i64) -> impl Iterator<Item = Entry<'_>> + '_ {
        let (i, o) = match self.resolve(index) {
            Some(idx) => self.locate(idx),
            None => (self.nodes.len(), 0),
        };
        let rest = (i + 1).min(self.nodes.len());
        self.nodes
            .get(i)
            .map(|n| n.iter().skip(o))
            .into_iter()
            .flatten()
            .chain(self.nodes.range(rest..).flat_map(|n| n.iter()))
    }

    /// Tail-to-head iterator starting at `index` and moving towards the head.
    pub fn iter_rev_from(&self, index: i64) -> impl Iterator<Item = Entry<'_>> + '_ {
        let (i, o, upto) = match self.resolve(index) {
            Some(idx) => {
                let (i, o) = self.locate(idx);
                (i, o, i)
            }
            None => (self.nodes.len(), 0, 0),
        };
        let first = self.nodes.get(i).map(|n| n.iter().rev().skip(n.len() - 1 - o));
        first
            .into_iter()
            .flatten()
            .chain(self.nodes.range(..upto).rev().flat_map(|n| n.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::SplitMix64 as Rng;

    fn to_vecs(ql: &QuickList) -> Vec<Vec<u8>> {
        ql.iter().map(|e| e.to_vec()).collect()
    }

    /// Structural invariants + full comparison with the model.
    fn check(ql: &QuickList, model: &[Vec<u8>]) {
        assert_eq!(ql.len(), model.len());
        assert_eq!(to_vecs(ql), model);
        let mut rev: Vec<Vec<u8>> = ql.iter_rev().map(|e| e.to_vec()).collect();
        rev.reverse();
        assert_eq!(rev, model);
        let mut total = 0;
        for n in ql.nodes() {
            assert!(!n.is_empty(), "empty node");
            total += n.len();
            assert_eq!(Listpack::from_bytes(n.as_bytes().to_vec()).as_ref(), Ok(n));
            if n.len() > 1 {
                if ql.fill < 0 {
                    assert!(n.bytes_len() <= OPTIMIZATION_LEVEL[(-ql.fill - 1) as usize]);
                } else {
                    assert!(n.len() <= ql.fill as usize);
                    assert!(n.bytes_len() <= SIZE_SAFETY_LIMIT);
                }
            }
        }
        assert_eq!(total, model.len());
    }

    #[test]
    fn basic_push_pop() {
        let mut ql = QuickList::new(-2);
        assert_eq!(ql.pop_back(), None);
        for i in 0..1000 {
            ql.push_back(format!("value-{i:05}").as_bytes());
        }
        ql.push_front(b"head");
        assert_eq!(ql.len(), 1001);
        assert!(ql.node_count() > 1);
        assert_eq!(ql.get(0), Some(Entry::Str(b"head")));
        assert_eq!(ql.get(-1), Some(Entry::Str(b"value-00999")));
        assert_eq!(ql.get(500), Some(Entry::Str(b"value-00499")));
        assert_eq!(ql.get(1001), None);
        assert_eq!(ql.get(-1002), None);
        assert_eq!(ql.pop_front(), Some(b"head".to_vec()));
        assert_eq!(ql.pop_back(), Some(b"value-00999".to_vec()));
        for n in ql.nodes() {
            assert!(n.bytes_len() <= 8192);
        }
        // Integers are stored as listpack ints and come back as strings.
        ql.push_back(b"12345");
        assert_eq!(ql.get(-1), Some(Entry::Int(12345)));
        assert_eq!(ql.pop_back(), Some(b"12345".to_vec()));
        assert!(ql.bytes_used() > 8000);
    }

    #[test]
    fn positive_fill_counts() {
        let mut ql = QuickList::new(3);
        for i in 0..10 {
            ql.push_back(i.to_string().as_bytes());
        }
        let sizes: Vec<usize> = ql.nodes().map(|n| n.len()).collect();
        assert_eq!(sizes, vec![3, 3, 3, 1]);
        assert!(ql.insert_before(4, b"x"));
        let m: Vec<Vec<u8>> = ["0", "1", "2", "3", "x", "4", "5", "6", "7", "8", "9"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        check(&ql, &m);
        // Fill 0: one element per node.
        let mut ql0 = QuickList::new(0);
        for _ in 0..5 {
            ql0.push_back(b"a");
        }
        assert_eq!(ql0.node_count(), 5);
    }

    #[test]
    fn large_elements_get_own_node() {
        let mut ql = QuickList::new(-1);
        ql.push_back(b"small");
        let big = vec![b'B'; 10_000];
        ql.push_back(&big);
        ql.push_back(b"after");
        assert_eq!(ql.node_count(), 3);
        assert_eq!(ql.nodes().nth(1).unwrap().len(), 1);
        assert!(!is_plain_node(ql.nodes().nth(1).unwrap()));
        assert_eq!(ql.get(1).unwrap().to_vec(), big);
        assert!(ql.set(0, &big));
        assert!(ql.set(1, b"tiny"));
        assert_eq!(to_vecs(&ql), vec![big.clone(), b"tiny".to_vec(), b"after".to_vec()]);
    }

    #[test]
    fn nodes_round_trip() {
        let mut ql = QuickList::new(-1);
        for i in 0..3000 {
            ql.push_back(format!("element-{i}").as_bytes());
        }
        let nodes: Vec<Listpack> =
            ql.nodes().map(|n| Listpack::from_bytes(n.as_bytes().to_vec()).unwrap()).collect();
        let mut with_empty = nodes.clone();
        with_empty.insert(1, Listpack::new());
        let back = QuickList::from_nodes(-1, with_empty);
        assert_eq!(back, ql);
        assert_eq!(back.node_count(), nodes.len());
    }

    #[test]
    fn iter_from_and_remove_range() {
        let mut ql = QuickList::new(4);
        let mut model = vec![];
        for i in 0..30 {
            ql.push_back(format!("{i}x").as_bytes());
            model.push(format!("{i}x").into_bytes());
        }
        for start in [-31i64, -30, -7, 0, 3, 4, 5, 17, 29, 30] {
            let got: Vec<Vec<u8>> = ql.iter_from(start).map(|e| e.to_vec()).collect();
            let exp: Vec<Vec<u8>> = match ql.resolve(start) {
                Some(s) => model[s..].to_vec(),
                None => vec![],
            };
            assert_eq!(got, exp, "start {start}");
            let got: Vec<Vec<u8>> = ql.iter_rev_from(start).map(|e| e.to_vec()).collect();
            let exp: Vec<Vec<u8>> = match ql.resolve(start) {
                Some(s) => model[..=s].iter().rev().cloned().collect(),
                None => vec![],
            };
            assert_eq!(got, exp, "rev start {start}");
        }
        assert_eq!(ql.remove_range(5, 13), 13);
        model.drain(5..18);
        check(&ql, &model);
        assert_eq!(ql.remove_range(-3, 100), 3);
        model.truncate(model.len() - 3);
        check(&ql, &model);
        assert_eq!(ql.remove_range(100, 1), 0);
        let n = ql.len();
        assert_eq!(ql.remove_range(0, usize::MAX), n);
        assert_eq!(ql.node_count(), 0);
    }

    fn random_value(rng: &mut Rng) -> Vec<u8> {
        match rng.below(20) {
            0 => vec![b'L'; 3000 + rng.below(7000) as usize],
            1..=4 => (rng.next_u64() as i64 >> rng.below(64)).to_string().into_bytes(),
            5 => vec![],
            _ => (0..rng.below(40)).map(|_| b'a' + rng.below(26) as u8).collect(),
        }
    }

    fn model_run(fill: i32, seed: u64, ops: usize) {
        let mut rng = Rng::new(seed);
        let mut ql = QuickList::new(fill);
        let mut model: Vec<Vec<u8>> = Vec::new();
        for step in 0..ops {
            let len = model.len() as i64;
            let rand_index = |rng: &mut Rng| rng.below(2 * len as u64 + 4) as i64 - len - 2;
            let op = rng.below(100);
            if op < 20 {
                let v = random_value(&mut rng);
                ql.push_back(&v);
                model.push(v);
            } else if op < 35 {
                let v = random_value(&mut rng);
                ql.push_front(&v);
                model.insert(0, v);
            } else if op < 43 {
                assert_eq!(
                    ql.pop_front(),
                    if model.is_empty() { None } else { Some(model.remove(0)) }
                );
            } else if op < 51 {
                assert_eq!(ql.pop_back(), model.pop());
            } else if op < 61 {
                let i = rand_index(&mut rng);
                let exp = resolve(len, i).map(|x| model[x].clone());
                assert_eq!(ql.get(i).map(|e| e.to_vec()), exp);
            } else if op < 69 {
                let i = rand_index(&mut rng);
                let v = random_value(&mut rng);
                let ok = ql.set(i, &v);
                match resolve(len, i) {
                    Some(x) => {
                        assert!(ok);
                        model[x] = v;
                    }
                    None => assert!(!ok),
                }
            } else if op < 79 {
                let i = rand_index(&mut rng);
                let v = random_value(&mut rng);
                let after = rng.chance(50);
                let ok = if after { ql.insert_after(i, &v) } else { ql.insert_before(i, &v) };
                match resolve(len, i) {
                    Some(x) => {
                        assert!(ok);
                        model.insert(if after { x + 1 } else { x }, v);
                    }
                    None => assert!(!ok),
                }
            } else if op < 84 {
                let i = rand_index(&mut rng);
                let c = rng.below(40) as usize;
                let n = ql.remove_range(i, c);
                match resolve(len, i) {
                    Some(x) => {
                        let exp = c.min(model.len() - x);
                        assert_eq!(n, exp);
                        model.drain(x..x + exp);
                    }
                    None => assert_eq!(n, 0),
                }
            } else if op < 88 {
                let i = rand_index(&mut rng);
                let take = rng.below(10) as usize;
                let got: Vec<Vec<u8>> = ql.iter_from(i).take(take).map(|e| e.to_vec()).collect();
                let exp: Vec<Vec<u8>> = match resolve(len, i) {
                    Some(x) => model[x..].iter().take(take).cloned().collect(),
                    None => vec![],
                };
                assert_eq!(got, exp);
            } else {
                let v = random_value(&mut rng);
                ql.push_back(&v);
                model.push(v);
            }
            if step % 250 == 0 {
                check(&ql, &model);
            }
        }
        check(&ql, &model);
        let rebuilt = QuickList::from_nodes(fill, ql.nodes().cloned().collect());
        assert_eq!(rebuilt, ql);
    }

    fn resolve(len: i64, i: i64) -> Option<usize> {
        let x = if i < 0 { len + i } else { i };
        if x < 0 || x >= len { None } else { Some(x as usize) }
    }

    #[test]
    fn model_fill_minus2() {
        model_run(-2, 1, 20_000);
    }

    #[test]
    fn model_fill_minus1() {
        model_run(-1, 2, 8_000);
    }

    #[test]
    fn model_fill_positive() {
        model_run(5, 3, 8_000);
        model_run(1, 4, 4_000);
    }

    #[test]
    fn model_fill_clamped() {
        let ql = QuickList::new(-100);
        assert_eq!(ql.fill(), -5);
        model_run(-100, 5, 4_000);
    }
}
