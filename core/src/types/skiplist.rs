//! The "skiplist" encoding of a sorted set (Redis's `OBJ_ENCODING_SKIPLIST`).
//!
//! # Structure
//!
//! A [`SortedSet`] is two indexes over the same elements:
//!
//! * a **skiplist** ordered by `(score, member)`, with a *span* on every
//!   forward link (how many level-0 steps the link jumps over), so that the
//!   rank of an element, the element at a rank, and the first/last element of a
//!   score or lex range are all found in expected `O(log n)`;
//! * a **hash table** `member -> node`, so that `ZSCORE`-style lookups and the
//!   "does it exist" check of `ZADD` are `O(1)`.
//!
//! ## Memory layout
//!
//! Links are `u32` node ids, not pointers (`NIL` = none). Nodes are kept in
//! one arena per *level class* (a node of level `L` lives in class `L - 1`),
//! so every record of a class has the same size and sits inline in a flat
//! `Vec<u64>`: `L + 1` words
//!
//! | word      | contents                                            |
//! |-----------|-----------------------------------------------------|
//! | 0         | score (`f64` bits; never NaN)                       |
//! | 1         | `backward` (low 32 bits), level-0 `forward` (high)  |
//! | 1 + i     | level-`i` `forward` (low), level-`i` `span` (high)  |
//!
//! The level-0 span is always 1 and is not stored. A node id is
//! `class << 27 | slot`, so the level is known from the id alone. The
//! member lives in a parallel `Vec<Box<[u8]>>` of the class and is only read
//! on score ties (and by hash lookups), so a skiplist search touches one
//! cache line per step, as Redis's pointer-based nodes do. Freed slots are
//! chained per class through their level-0 forward field and reused.
//!
//! The hash table is a `hashbrown::HashTable<u32>` holding only node ids
//! (4 bytes + 1 control byte per bucket); it hashes and compares by looking
//! the member up through the id, so the member is stored once.
//!
//! Per-member cost (64-bit, glibc malloc, member of up to 24 bytes):
//! 16 bytes of record at level 1 (about 18.7 on average, since `p = 0.25`
//! gives 1.33 levels per node), 16 bytes of `Box<[u8]>`, a 32-byte malloc
//! chunk for the member bytes (glibc's minimum chunk, which holds 24 bytes),
//! and 5 bytes per hash bucket divided by the load factor (5.7 to 11.4
//! bytes): about **72 to 78 bytes**, plus any member bytes beyond 24.
//! Measured by `tests::memory_per_member` with 1,000,000 members
//! `member:<n>` and random scores: **77.6 bytes of RSS per member** (73.9
//! bytes requested from the allocator, which includes arena `Vec` capacity
//! that was never touched). Redis 7.0.15 (jemalloc) on the same data:
//! 109.9 bytes of `used_memory` and 117.1 bytes of RSS per member.
//!
//! The header node is not in an arena: `head` is a fixed array of 32 levels
//! and the accessors treat the pseudo-id `HEAD` specially, so the
//! algorithms read like Redis's `t_zset.c` (`update[]`, `rank[]`).
//! Dropping never recurses: all nodes are owned flatly by the arena `Vec`s.
//! No `unsafe` is used (except in the test-only counting allocator).
//!
//! # Ordering rules (exactly Redis's `zslInsert`)
//!
//! * Elements are ordered by score ascending (`f64`, never NaN; `-inf` and
//!   `+inf` are valid). Score comparison uses IEEE `<`/`==`, so `-0.0` and
//!   `0.0` compare **equal** (the stored value keeps its sign).
//! * Equal scores are ordered by the member bytes, compared like `memcmp`
//!   with the shorter string first when one is a prefix of the other (this is
//!   Rust's `Ord` for `[u8]`, and Redis's `sdscmp`).
//! * Members are unique; scores need not be.
//! * Ranks are 0-based and ascending. Lex ranges (`ZRANGEBYLEX` & co.) only
//!   make sense when all scores are equal; otherwise, as in Redis, the result
//!   is unspecified (but memory-safe and terminating).
//!
//! Capacity: at most 2^27 - 2 nodes per level class (about 134 million
//! members at level 1, so roughly 178 million members in all); spans are
//! `u32`.

use hashbrown::{DefaultHashBuilder, HashTable};
use rand::Rng;
use std::cmp::Ordering;
use std::fmt;
use std::hash::BuildHasher;

/// Maximum skiplist level (as Redis's `ZSKIPLIST_MAXLEVEL`).
pub const MAX_LEVEL: usize = 32;

/// "No node".
const NIL: u32 = u32::MAX;
/// Pseudo-index of the header node (its levels live in `SortedSet::head`).
const HEAD: u32 = u32::MAX - 1;

type Path = [u32; MAX_LEVEL];

/// A score interval as parsed by `ZRANGEBYSCORE` & co.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_exclusive: bool,
    pub max: f64,
    pub max_exclusive: bool,
}

/// One end of a lex interval (`-`, `+`, `[x`, `(x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

/// A lex interval as parsed by `ZRANGEBYLEX` & co.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

#[derive(Clone, Copy)]
struct Level {
    fwd: u32,
    span: u32,
}

/// Node ids are `class << SLOT_BITS | slot` where `class = level - 1`.
const SLOT_BITS: u32 = 27;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// Largest usable slot per class (keeps every id below `HEAD`).
const MAX_SLOT: usize = SLOT_MASK as usize - 2;

#[inline]
fn split(x: u32) -> (usize, usize) {
    ((x >> SLOT_BITS) as usize, (x & SLOT_MASK) as usize)
}

/// Fixed-size node records of one level class (`level = class + 1`),
/// `class + 2` words each:
/// `[score bits][backward | fwd0 << 32][fwd_i | span_i << 32 for i in 1..level]`,
/// plus the members in a parallel vector.
#[derive(Clone, Default)]
struct Class {
    words: Vec<u64>,
    members: Vec<Box<[u8]>>,
    /// Free slots are chained through their `fwd0` field.
    free_head: u32,
}

/// The skiplist + hash table sorted set. See the module docs.
#[derive(Clone)]
pub struct SortedSet {
    classes: Vec<Class>,
    head: [Level; MAX_LEVEL],
    tail: u32,
    /// Number of levels in use (>= 1).
    level: usize,
    len: usize,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
    rng_state: u64,
}

impl Default for SortedSet {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SortedSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|(m, s)| (String::from_utf8_lossy(m), s))).finish()
    }
}

impl SortedSet {
    /// An empty set; level generation is seeded randomly.
    pub fn new() -> Self {
        Self::with_seed(rand::random())
    }

    /// An empty set whose level generator is seeded with `seed`
    /// (deterministic structure, for tests and reproducible benchmarks).
    pub fn with_seed(seed: u64) -> Self {
        SortedSet {
            classes: Vec::new(),
            head: [Level { fwd: NIL, span: 0 }; MAX_LEVEL],
            tail: NIL,
            level: 1,
            len: 0,
            table: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            rng_state: seed,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes everything and releases the memory.
    pub fn clear(&mut self) {
        let seed = self.rng_state;
        *self = Self::with_seed(seed);
    }

    /// Releases spare capacity of the hash table and of the node arenas
    /// (call after large deletions). Free slots inside an arena stay and
    /// are reused by later inserts.
    pub fn shrink_to_fit(&mut self) {
        if self.len == 0 {
            self.clear();
            return;
        }
        let classes = &self.classes;
        let hasher = &self.hasher;
        self.table.shrink_to_fit(|&i| {
            let (c, s) = split(i);
            hasher.hash_one(&*classes[c].members[s])
        });
        for c in &mut self.classes {
            c.words.shrink_to_fit();
            c.members.shrink_to_fit();
        }
    }

    /// Approximate heap bytes owned by the set (O(n): walks the members).
    /// Counts requested sizes, not allocator overhead.
    pub fn heap_size(&self) -> usize {
        let mut total = self.classes.capacity() * std::mem::size_of::<Class>();
        for c in &self.classes {
            total += c.words.capacity() * 8
                + c.members.capacity() * std::mem::size_of::<Box<[u8]>>()
                + c.members.iter().map(|m| m.len()).sum::<usize>();
        }
        let cap = self.table.capacity();
        let buckets = if cap == 0 {
            0
        } else if cap < 8 {
            (cap + 1).next_power_of_two()
        } else {
            (cap * 8 / 7).next_power_of_two()
        };
        total + buckets * (std::mem::size_of::<u32>() + 1)
    }

    // ----- low-level accessors -------------------------------------------

    /// Record base: (class, index of the record's first word).
    #[inline]
    fn rec(x: u32) -> (usize, usize) {
        let (c, s) = split(x);
        (c, s * (c + 2))
    }

    #[inline]
    fn score_of(&self, x: u32) -> f64 {
        let (c, b) = Self::rec(x);
        f64::from_bits(self.classes[c].words[b])
    }

    #[inline]
    fn set_score(&mut self, x: u32, v: f64) {
        let (c, b) = Self::rec(x);
        self.classes[c].words[b] = v.to_bits();
    }

    #[inline]
    fn member_of(&self, x: u32) -> &[u8] {
        let (c, s) = split(x);
        &self.classes[c].members[s]
    }

    #[inline]
    fn level_of(x: u32) -> usize {
        split(x).0 + 1
    }

    #[inline]
    fn backward(&self, x: u32) -> u32 {
        let (c, b) = Self::rec(x);
        self.classes[c].words[b + 1] as u32
    }

    #[inline]
    fn set_backward(&mut self, x: u32, v: u32) {
        let (c, b) = Self::rec(x);
        let w = &mut self.classes[c].words[b + 1];
        *w = (*w & !0xffff_ffff) | v as u64;
    }

    #[inline]
    fn fwd(&self, x: u32, i: usize) -> u32 {
        if x == HEAD {
            return self.head[i].fwd;
        }
        let (c, b) = Self::rec(x);
        let w = self.classes[c].words[b + 1 + i];
        if i == 0 { (w >> 32) as u32 } else { w as u32 }
    }

    /// Level-0 spans of nodes are implicitly 1 and not stored (the only
    /// level-0 span that could differ is the one of a link to NIL, which is
    /// never read as a distance).
    #[inline]
    fn span(&self, x: u32, i: usize) -> u32 {
        if x == HEAD {
            self.head[i].span
        } else if i == 0 {
            1
        } else {
            let (c, b) = Self::rec(x);
            (self.classes[c].words[b + 1 + i] >> 32) as u32
        }
    }

    #[inline]
    fn set_fwd(&mut self, x: u32, i: usize, v: u32) {
        if x == HEAD {
            self.head[i].fwd = v;
            return;
        }
        let (c, b) = Self::rec(x);
        let w = &mut self.classes[c].words[b + 1 + i];
        if i == 0 {
            *w = (*w & 0xffff_ffff) | (v as u64) << 32;
        } else {
            *w = (*w & !0xffff_ffff) | v as u64;
        }
    }

    #[inline]
    fn set_span(&mut self, x: u32, i: usize, v: u32) {
        if x == HEAD {
            self.head[i].span = v;
        } else if i != 0 {
            let (c, b) = Self::rec(x);
            let w = &mut self.classes[c].words[b + 1 + i];
            *w = (*w & 0xffff_ffff) | (v as u64) << 32;
        }
    }

    /// `x < (score, member)` in skiplist order (the member is only read on
    /// a score tie).
    #[inline]
    fn key_lt(&self, x: u32, score: f64, member: &[u8]) -> bool {
        let s = self.score_of(x);
        s < score || (s == score && self.member_of(x) < member)
    }

    /// `x > (score, member)` in skiplist order.
    #[inline]
    fn key_gt(&self, x: u32, score: f64, member: &[u8]) -> bool {
        let s = self.score_of(x);
        s > score || (s == score && self.member_of(x) > member)
    }

    #[inline]
    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    fn lookup(&self, member: &[u8]) -> Option<u32> {
        let h = self.hash(member);
        self.table.find(h, |&i| self.member_of(i) == member).copied()
    }

    fn random_level(&mut self) -> usize {
        // splitmix64; each pair of trailing zero bits is one "coin" with
        // p = 0.25, giving Redis's level distribution capped at 32.
        self.rng_state = self.rng_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (1 + z.trailing_zeros() as usize / 2).min(MAX_LEVEL)
    }

    /// A new unlinked node (all links NIL, spans 0).
    fn alloc_node(&mut self, member: &[u8], score: f64, level: usize) -> u32 {
        let c = level - 1;
        while self.classes.len() <= c {
            self.classes.push(Class { free_head: NIL, ..Class::default() });
        }
        let stride = c + 2;
        let class = &mut self.classes[c];
        let slot = if class.free_head != NIL {
            let x = class.free_head;
            let s = split(x).1;
            class.free_head = (class.words[s * stride + 1] >> 32) as u32;
            class.members[s] = member.into();
            s
        } else {
            let s = class.members.len();
            assert!(s <= MAX_SLOT, "sorted set too large");
            class.members.push(member.into());
            class.words.resize(class.words.len() + stride, 0);
            s
        };
        let b = slot * stride;
        class.words[b] = score.to_bits();
        class.words[b + 1] = (NIL as u64) << 32 | NIL as u64;
        for w in &mut class.words[b + 2..b + stride] {
            *w = NIL as u64;
        }
        ((c as u32) << SLOT_BITS) | slot as u32
    }

    /// Returns an unlinked node's slot to its class's free list and drops
    /// its member.
    fn free_node(&mut self, x: u32) {
        let (c, s) = split(x);
        let (_, b) = Self::rec(x);
        let class = &mut self.classes[c];
        class.members[s] = Box::default();
        class.words[b + 1] = (class.free_head as u64) << 32 | NIL as u64;
        class.free_head = x;
    }

    // ----- skiplist core (after Redis's t_zset.c) ---------------------------

    /// For each level, the last node strictly before `(score, member)` and
    /// its rank (number of level-0 steps from the header).
    fn find_path(&self, score: f64, member: &[u8]) -> (Path, Path) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let nx = self.fwd(x, i);
                if nx != NIL && self.key_lt(nx, score, member) {
                    rank[i] += self.span(x, i);
                    x = nx;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Walks the longest prefix of the list whose nodes satisfy `pred`
    /// (`pred` must be monotone: true, then false). Returns the prefix
    /// length and, per level, the last node of the prefix (or HEAD).
    fn prefix_walk(&self, pred: impl Fn(u32) -> bool) -> (usize, Path) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let nx = self.fwd(x, i);
                if nx != NIL && pred(nx) {
                    rank += self.span(x, i) as usize;
                    x = nx;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (rank, update)
    }

    /// Like `prefix_walk` for the prefix of the first `count` nodes; also
    /// returns the last node of that prefix.
    fn rank_walk(&self, count: usize) -> (u32, Path) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut traversed = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let nx = self.fwd(x, i);
                let s = self.span(x, i) as usize;
                if nx != NIL && traversed + s <= count {
                    traversed += s;
                    x = nx;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (x, update)
    }

    /// Links the (already allocated, unlinked) node `x` after the path
    /// `update` (zslInsert's second half).
    fn link(&mut self, x: u32, update: &mut Path, rank: &mut Path) {
        let level = Self::level_of(x);
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.head[i].span = self.len as u32;
            }
            self.level = level;
        }
        for i in 0..level {
            let u = update[i];
            let uf = self.fwd(u, i);
            self.set_fwd(x, i, uf);
            self.set_fwd(u, i, x);
            let us = self.span(u, i);
            let d = rank[0] - rank[i];
            self.set_span(x, i, us - d);
            self.set_span(u, i, d + 1);
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            let s = self.span(u, i) + 1;
            self.set_span(u, i, s);
        }
        let back = if update[0] == HEAD { NIL } else { update[0] };
        self.set_backward(x, back);
        let next = self.fwd(x, 0);
        if next != NIL {
            self.set_backward(next, x);
        } else {
            self.tail = x;
        }
        self.len += 1;
    }

    /// Unlinks `x` given the path of nodes before it (zslDeleteNode).
    /// The node's record and member are left intact.
    fn unlink(&mut self, x: u32, update: &Path) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if self.fwd(u, i) == x {
                let s = self.span(u, i) + self.span(x, i) - 1;
                let f = self.fwd(x, i);
                self.set_span(u, i, s);
                self.set_fwd(u, i, f);
            } else {
                let s = self.span(u, i) - 1;
                self.set_span(u, i, s);
            }
        }
        let next = self.fwd(x, 0);
        let back = self.backward(x);
        if next != NIL {
            self.set_backward(next, back);
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.head[self.level - 1].fwd == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Unlinks and frees `x`, removes it from the hash table and reports it.
    fn delete_node(&mut self, x: u32, update: &Path, cb: &mut impl FnMut(&[u8], f64)) {
        self.unlink(x, update);
        let h = self.hash(self.member_of(x));
        match self.table.find_entry(h, |&i| i == x) {
            Ok(e) => {
                e.remove();
            }
            Err(_) => unreachable!("node missing from hash table"),
        }
        let (c, s) = split(x);
        let member = std::mem::take(&mut self.classes[c].members[s]);
        cb(&member, self.score_of(x));
        drop(member);
        self.free_node(x);
    }

    /// Deletes consecutive nodes starting after `update[0]` while
    /// `keep(self, node, removed_so_far)` holds.
    fn delete_run(
        &mut self,
        update: &Path,
        keep: impl Fn(&Self, u32, usize) -> bool,
        cb: &mut impl FnMut(&[u8], f64),
    ) -> usize {
        let mut removed = 0;
        let mut x = self.fwd(update[0], 0);
        while x != NIL && keep(self, x, removed) {
            let next = self.fwd(x, 0);
            self.delete_node(x, update, cb);
            removed += 1;
            x = next;
        }
        removed
    }

    /// Changes the score of node `x`, moving it only if its position changes
    /// (zslUpdateScore). The node keeps its id, so the hash table is
    /// untouched.
    fn set_score_of(&mut self, x: u32, new: f64) {
        let member = self.member_of(x);
        let (prev, next) = (self.backward(x), self.fwd(x, 0));
        let prev_ok = prev == NIL || self.key_lt(prev, new, member);
        let next_ok = next == NIL || self.key_gt(next, new, member);
        if prev_ok && next_ok {
            self.set_score(x, new);
            return;
        }
        let (update, _) = self.find_path(self.score_of(x), member);
        debug_assert_eq!(self.fwd(update[0], 0), x);
        self.unlink(x, &update);
        self.set_score(x, new);
        // x is unlinked, so the search below never visits it.
        let (mut update, mut rank) = self.find_path(new, self.member_of(x));
        self.link(x, &mut update, &mut rank);
    }

    // ----- public API: single elements ------------------------------------

    /// Adds `member` with `score`, or updates its score. Returns `true` if
    /// the member is new. Panics if `score` is NaN.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        self.insert_or_update(member, score).is_none()
    }

    /// Adds `member` or updates its score; returns the previous score if it
    /// existed. Panics if `score` is NaN.
    pub fn insert_or_update(&mut self, member: &[u8], score: f64) -> Option<f64> {
        assert!(!score.is_nan(), "NaN score");
        let h = self.hash(member);
        if let Some(&x) = self.table.find(h, |&i| self.member_of(i) == member) {
            let old = self.score_of(x);
            self.set_score_of(x, score);
            return Some(old);
        }
        let (mut update, mut rank) = self.find_path(score, member);
        let level = self.random_level();
        let x = self.alloc_node(member, score, level);
        self.link(x, &mut update, &mut rank);
        let classes = &self.classes;
        let hasher = &self.hasher;
        self.table.insert_unique(h, x, |&i| {
            let (c, s) = split(i);
            hasher.hash_one(&*classes[c].members[s])
        });
        None
    }

    /// Sets the score of an existing member; returns the old score, or
    /// `None` (and does nothing) if the member does not exist. Moves the
    /// node only if its position changes. Panics if `score` is NaN.
    pub fn update_score(&mut self, member: &[u8], score: f64) -> Option<f64> {
        assert!(!score.is_nan(), "NaN score");
        let x = self.lookup(member)?;
        let old = self.score_of(x);
        self.set_score_of(x, score);
        Some(old)
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.lookup(member).map(|x| self.score_of(x))
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.lookup(member).is_some()
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let h = self.hash(member);
        let classes = &self.classes;
        let found = self.table.find_entry(h, |&i| {
            let (c, s) = split(i);
            &*classes[c].members[s] == member
        });
        let x = match found {
            Ok(e) => e.remove().0,
            Err(_) => return None,
        };
        let score = self.score_of(x);
        let (update, _) = self.find_path(score, member);
        debug_assert_eq!(self.fwd(update[0], 0), x);
        self.unlink(x, &update);
        self.free_node(x);
        Some(score)
    }

    /// 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let target = self.lookup(member)?;
        let score = self.score_of(target);
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let nx = self.fwd(x, i);
                if nx != NIL && (nx == target || self.key_lt(nx, score, member)) {
                    rank += self.span(x, i) as usize;
                    x = nx;
                } else {
                    break;
                }
            }
            if x == target {
                return Some(rank - 1);
            }
        }
        unreachable!("member in hash table but not in skiplist")
    }

    fn node_at_rank(&self, rank: usize) -> u32 {
        if rank >= self.len {
            return NIL;
        }
        if rank == self.len - 1 {
            return self.tail;
        }
        self.rank_walk(rank + 1).0
    }

    /// The element at 0-based ascending `rank`.
    pub fn by_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        let x = self.node_at_rank(rank);
        (x != NIL).then(|| (self.member_of(x), self.score_of(x)))
    }

    /// A uniformly random element (ZRANDMEMBER-style).
    pub fn random_member<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&[u8], f64)> {
        if self.len == 0 {
            return None;
        }
        self.by_rank(rng.gen_range(0..self.len))
    }

    // ----- iteration --------------------------------------------------------

    /// Ascending iteration over all elements.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from_rank(0)
    }

    /// Ascending iteration starting at 0-based rank `start` (empty if
    /// `start >= len`).
    pub fn iter_from_rank(&self, start: usize) -> Iter<'_> {
        let cur = self.node_at_rank(start);
        let remaining = self.len.saturating_sub(start);
        Iter { set: self, cur, remaining }
    }

    /// Descending iteration starting at the element of *ascending* 0-based
    /// rank `start` and going towards rank 0 (for ZREVRANGE index `r` use
    /// `len - 1 - r`). Empty if `start >= len`.
    pub fn iter_rev_from_rank(&self, start: usize) -> RevIter<'_> {
        let cur = self.node_at_rank(start);
        let remaining = if cur == NIL { 0 } else { start + 1 };
        RevIter { set: self, cur, remaining }
    }

    /// Descending iteration over all elements.
    pub fn iter_rev(&self) -> RevIter<'_> {
        RevIter { set: self, cur: self.tail, remaining: self.len }
    }

    // ----- score ranges -----------------------------------------------------

    /// zslIsInRange: could any element be in `r`?
    fn any_in_score_range(&self, r: &ScoreRange) -> bool {
        if !score_range_nonempty(r) || self.tail == NIL {
            return false;
        }
        score_gte_min(self.score_of(self.tail), r)
            && score_lte_max(self.score_of(self.head[0].fwd), r)
    }

    /// Rank of the first element whose score is in `r`.
    pub fn first_in_score_range(&self, r: &ScoreRange) -> Option<usize> {
        if !self.any_in_score_range(r) {
            return None;
        }
        let (k, update) = self.prefix_walk(|x| !score_gte_min(self.score_of(x), r));
        let x = self.fwd(update[0], 0);
        (x != NIL && score_lte_max(self.score_of(x), r)).then_some(k)
    }

    /// Rank of the last element whose score is in `r`.
    pub fn last_in_score_range(&self, r: &ScoreRange) -> Option<usize> {
        if !self.any_in_score_range(r) {
            return None;
        }
        let (k, update) = self.prefix_walk(|x| score_lte_max(self.score_of(x), r));
        (k > 0 && score_gte_min(self.score_of(update[0]), r)).then(|| k - 1)
    }

    /// Number of elements whose score is in `r` (O(log n)).
    pub fn count_in_score_range(&self, r: &ScoreRange) -> usize {
        match (self.first_in_score_range(r), self.last_in_score_range(r)) {
            (Some(a), Some(b)) => b + 1 - a,
            _ => 0,
        }
    }

    // ----- lex ranges -------------------------------------------------------

    fn any_in_lex_range(&self, r: &LexRange) -> bool {
        if !lex_range_nonempty(r) || self.tail == NIL {
            return false;
        }
        lex_gte_min(self.member_of(self.tail), &r.min)
            && lex_lte_max(self.member_of(self.head[0].fwd), &r.max)
    }

    /// Rank of the first element whose member is in `r` (all scores equal).
    pub fn first_in_lex_range(&self, r: &LexRange) -> Option<usize> {
        if !self.any_in_lex_range(r) {
            return None;
        }
        let (k, update) = self.prefix_walk(|x| !lex_gte_min(self.member_of(x), &r.min));
        let x = self.fwd(update[0], 0);
        (x != NIL && lex_lte_max(self.member_of(x), &r.max)).then_some(k)
    }

    /// Rank of the last element whose member is in `r` (all scores equal).
    pub fn last_in_lex_range(&self, r: &LexRange) -> Option<usize> {
        if !self.any_in_lex_range(r) {
            return None;
        }
        let (k, update) = self.prefix_walk(|x| lex_lte_max(self.member_of(x), &r.max));
        (k > 0 && lex_gte_min(self.member_of(update[0]), &r.min)).then(|| k - 1)
    }

    /// Number of elements whose member is in `r` (all scores equal).
    pub fn count_in_lex_range(&self, r: &LexRange) -> usize {
        match (self.first_in_lex_range(r), self.last_in_lex_range(r)) {
            (Some(a), Some(b)) => b + 1 - a,
            _ => 0,
        }
    }

    // ----- range removal ----------------------------------------------------

    /// Removes the elements with 0-based ranks `start..=end` (`end` is
    /// clamped to `len - 1`). Returns how many were removed.
    pub fn remove_range_by_rank(&mut self, start: usize, end: usize) -> usize {
        self.remove_range_by_rank_with(start, end, |_, _| {})
    }

    /// [`remove_range_by_rank`](Self::remove_range_by_rank), passing each
    /// removed element to `cb` in ascending order.
    pub fn remove_range_by_rank_with(
        &mut self,
        start: usize,
        end: usize,
        mut cb: impl FnMut(&[u8], f64),
    ) -> usize {
        if start >= self.len || start > end {
            return 0;
        }
        let count = end.min(self.len - 1) - start + 1;
        let (_, update) = self.rank_walk(start);
        self.delete_run(&update, |_, _, removed| removed < count, &mut cb)
    }

    /// Removes the elements whose score is in `r`; returns how many.
    pub fn remove_range_by_score(&mut self, r: &ScoreRange) -> usize {
        self.remove_range_by_score_with(r, |_, _| {})
    }

    /// [`remove_range_by_score`](Self::remove_range_by_score), passing each
    /// removed element to `cb` in ascending order.
    pub fn remove_range_by_score_with(
        &mut self,
        r: &ScoreRange,
        mut cb: impl FnMut(&[u8], f64),
    ) -> usize {
        if !self.any_in_score_range(r) {
            return 0;
        }
        let (_, update) = self.prefix_walk(|x| !score_gte_min(self.score_of(x), r));
        self.delete_run(&update, |s, x, _| score_lte_max(s.score_of(x), r), &mut cb)
    }

    /// Removes the elements whose member is in `r`; returns how many.
    pub fn remove_range_by_lex(&mut self, r: &LexRange) -> usize {
        self.remove_range_by_lex_with(r, |_, _| {})
    }

    /// [`remove_range_by_lex`](Self::remove_range_by_lex), passing each
    /// removed element to `cb` in ascending order.
    pub fn remove_range_by_lex_with(
        &mut self,
        r: &LexRange,
        mut cb: impl FnMut(&[u8], f64),
    ) -> usize {
        if !self.any_in_lex_range(r) {
            return 0;
        }
        let (_, update) = self.prefix_walk(|x| !lex_gte_min(self.member_of(x), &r.min));
        self.delete_run(&update, |s, x, _| lex_lte_max(s.member_of(x), &r.max), &mut cb)
    }

    // ----- test support -----------------------------------------------------

    /// Number of node slots in all arenas (live + free).
    #[cfg(test)]
    fn slots(&self) -> usize {
        self.classes.iter().map(|c| c.members.len()).sum()
    }

    /// Verifies every structural invariant; panics on violation.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        use std::collections::HashMap;
        let mut pos: HashMap<u32, usize> = HashMap::new();
        pos.insert(HEAD, 0);
        let mut x = self.head[0].fwd;
        let mut prev = NIL;
        let mut r = 0;
        while x != NIL {
            r += 1;
            assert!(!self.score_of(x).is_nan());
            assert!(Self::level_of(x) <= self.level);
            assert_eq!(self.backward(x), prev, "backward link");
            if prev != NIL {
                assert!(self.key_lt(prev, self.score_of(x), self.member_of(x)), "order");
            }
            assert_eq!(self.lookup(self.member_of(x)), Some(x), "hash lookup");
            pos.insert(x, r);
            prev = x;
            x = self.fwd(x, 0);
        }
        assert_eq!(r, self.len, "len");
        assert_eq!(self.tail, prev, "tail");
        assert_eq!(self.table.len(), self.len, "table len");
        for i in 0..MAX_LEVEL {
            if i >= self.level {
                assert_eq!(self.head[i].fwd, NIL, "unused head level {i}");
                continue;
            }
            if self.len > 0 {
                assert_ne!(self.head[i].fwd, NIL, "empty level {i} below self.level");
            }
            let mut x = HEAD;
            loop {
                let nx = self.fwd(x, i);
                if nx == NIL {
                    if x != HEAD && i > 0 {
                        assert_eq!(self.span(x, i) as usize, self.len - pos[&x], "NIL span");
                    }
                    break;
                }
                assert!(Self::level_of(nx) > i);
                assert_eq!(self.span(x, i) as usize, pos[&nx] - pos[&x], "span lvl {i}");
                x = nx;
            }
        }
        let mut free = 0;
        for (c, class) in self.classes.iter().enumerate() {
            assert_eq!(class.words.len(), class.members.len() * (c + 2));
            let mut f = class.free_head;
            while f != NIL {
                free += 1;
                assert_eq!(split(f).0, c);
                assert!(self.member_of(f).is_empty());
                assert!(!pos.contains_key(&f));
                f = self.fwd(f, 0);
            }
        }
        assert_eq!(free + self.len, self.slots(), "free list");
    }
}

/// Ascending iterator yielding `(member, score)`.
pub struct Iter<'a> {
    set: &'a SortedSet,
    cur: u32,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        if self.cur == NIL {
            return None;
        }
        let x = self.cur;
        self.cur = self.set.fwd(x, 0);
        self.remaining -= 1;
        Some((self.set.member_of(x), self.set.score_of(x)))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Descending iterator yielding `(member, score)`.
pub struct RevIter<'a> {
    set: &'a SortedSet,
    cur: u32,
    remaining: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        if self.cur == NIL {
            return None;
        }
        let x = self.cur;
        self.cur = self.set.backward(x);
        self.remaining -= 1;
        Some((self.set.member_of(x), self.set.score_of(x)))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for RevIter<'_> {}

impl<'a> IntoIterator for &'a SortedSet {
    type Item = (&'a [u8], f64);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

// ----- range helpers (pure) -------------------------------------------------

/// `value` is not below the range's minimum (zslValueGteMin).
pub fn score_gte_min(value: f64, r: &ScoreRange) -> bool {
    if r.min_exclusive { value > r.min } else { value >= r.min }
}

/// `value` is not above the range's maximum (zslValueLteMax).
pub fn score_lte_max(value: f64, r: &ScoreRange) -> bool {
    if r.max_exclusive { value < r.max } else { value <= r.max }
}

/// `value` lies in `r`.
pub fn score_in_range(value: f64, r: &ScoreRange) -> bool {
    score_gte_min(value, r) && score_lte_max(value, r)
}

/// False when `r` can contain nothing (min > max, or min == max with an
/// exclusive end).
pub fn score_range_nonempty(r: &ScoreRange) -> bool {
    !(r.min > r.max || (r.min == r.max && (r.min_exclusive || r.max_exclusive)))
}

/// `member` is not below `min`.
pub fn lex_gte_min(member: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::NegInf => true,
        LexBound::PosInf => false,
        LexBound::Inclusive(v) => member >= v.as_slice(),
        LexBound::Exclusive(v) => member > v.as_slice(),
    }
}

/// `member` is not above `max`.
pub fn lex_lte_max(member: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::NegInf => false,
        LexBound::PosInf => true,
        LexBound::Inclusive(v) => member <= v.as_slice(),
        LexBound::Exclusive(v) => member < v.as_slice(),
    }
}

/// `member` lies in `r`.
pub fn lex_in_range(member: &[u8], r: &LexRange) -> bool {
    lex_gte_min(member, &r.min) && lex_lte_max(member, &r.max)
}

/// Redis's sdscmplex over bounds: `-` < any string < `+`.
fn lex_bound_cmp(a: &LexBound, b: &LexBound) -> Ordering {
    use LexBound::*;
    match (a, b) {
        (NegInf, NegInf) | (PosInf, PosInf) => Ordering::Equal,
        (NegInf, _) | (_, PosInf) => Ordering::Less,
        (PosInf, _) | (_, NegInf) => Ordering::Greater,
        (Inclusive(x) | Exclusive(x), Inclusive(y) | Exclusive(y)) => x.cmp(y),
    }
}

/// `-` and `+` count as exclusive, as in Redis.
fn lex_bound_exclusive(b: &LexBound) -> bool {
    !matches!(b, LexBound::Inclusive(_))
}

/// False when `r` can contain nothing (zslIsInLexRange's first test).
pub fn lex_range_nonempty(r: &LexRange) -> bool {
    match lex_bound_cmp(&r.min, &r.max) {
        Ordering::Greater => false,
        Ordering::Equal => !(lex_bound_exclusive(&r.min) || lex_bound_exclusive(&r.max)),
        Ordering::Less => true,
    }
}

/// `strtod` followed by Redis's "whole string consumed, not NaN" check.
/// Accepts what Rust's float parser accepts (decimal, exponent, `inf`,
/// `+inf`, `-inf`, `infinity`, any case) after optional leading whitespace.
/// Like Redis, the empty string parses as 0. Not supported (rejected):
/// C99 hex floats such as `0x1p3`.
fn parse_strtod(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0); // strtod consumed nothing and *eptr == '\0'
    }
    let start =
        s.iter().position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))?;
    let v: f64 = std::str::from_utf8(&s[start..]).ok()?.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

fn parse_score_bound(s: &[u8]) -> Result<(f64, bool), ()> {
    match s.first() {
        Some(b'(') => parse_strtod(&s[1..]).map(|v| (v, true)).ok_or(()),
        _ => parse_strtod(s).map(|v| (v, false)).ok_or(()),
    }
}

#[allow(clippy::result_unit_err)] // the command layer maps Err to its own error reply
/// Parses `ZRANGEBYSCORE`-style bounds: `1.5`, `(1.5`, `-inf`, `+inf`,
/// `inf`, ... (zslParseRange). Errors if either is not a valid float or NaN.
/// Note: a valid but empty range (min > max) is `Ok`.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, ()> {
    let (min, min_exclusive) = parse_score_bound(min)?;
    let (max, max_exclusive) = parse_score_bound(max)?;
    Ok(ScoreRange { min, min_exclusive, max, max_exclusive })
}

fn parse_lex_bound(s: &[u8]) -> Result<LexBound, ()> {
    match s {
        [b'+'] => Ok(LexBound::PosInf),
        [b'-'] => Ok(LexBound::NegInf),
        [b'(', rest @ ..] => Ok(LexBound::Exclusive(rest.to_vec())),
        [b'[', rest @ ..] => Ok(LexBound::Inclusive(rest.to_vec())),
        _ => Err(()),
    }
}

#[allow(clippy::result_unit_err)]
/// Parses `ZRANGEBYLEX`-style bounds: `-`, `+`, `[a`, `(a`
/// (zslParseLexRange). Anything else is an error.
pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, ()> {
    Ok(LexRange { min: parse_lex_bound(min)?, max: parse_lex_bound(max)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    const INF: f64 = f64::INFINITY;
    const NEG_INF: f64 = f64::NEG_INFINITY;

    // ----- counting allocator (test builds only) ---------------------------

    thread_local! {
        /// Net requested heap bytes allocated by this thread.
        static NET: Cell<isize> = const { Cell::new(0) };
        /// Same, estimated as glibc malloc chunk sizes.
        static CHUNKS: Cell<isize> = const { Cell::new(0) };
    }

    fn glibc_chunk(size: usize) -> isize {
        if size >= 128 * 1024 {
            ((size + 16 + 4095) & !4095) as isize // mmapped chunk
        } else {
            ((size + 8 + 15) & !15).max(32) as isize
        }
    }

    fn account(size: usize, sign: isize) {
        let _ = NET.try_with(|c| c.set(c.get() + sign * size as isize));
        let _ = CHUNKS.try_with(|c| c.set(c.get() + sign * glibc_chunk(size)));
    }

    struct Counting;

    // SAFETY: a pure pass-through to the system allocator; the bookkeeping
    // only touches const-initialised thread-locals (no allocation, no
    // destructor), so it cannot re-enter the allocator.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            // SAFETY: forwarded with the caller's guarantees.
            let p = unsafe { System.alloc(l) };
            if !p.is_null() {
                account(l.size(), 1);
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.dealloc(p, l) };
            account(l.size(), -1);
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            // SAFETY: forwarded with the caller's guarantees.
            let q = unsafe { System.realloc(p, l, new) };
            if !q.is_null() {
                account(l.size(), -1);
                account(new, 1);
            }
            q
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    fn rss_bytes() -> Option<usize> {
        let s = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: usize = s.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }

    // ----- helpers -----------------------------------------------------------

    fn sr(min: f64, minex: bool, max: f64, maxex: bool) -> ScoreRange {
        ScoreRange { min, min_exclusive: minex, max, max_exclusive: maxex }
    }

    fn lr(min: &str, max: &str) -> LexRange {
        parse_lex_range(min.as_bytes(), max.as_bytes()).unwrap()
    }

    fn members(z: &SortedSet) -> Vec<Vec<u8>> {
        z.iter().map(|(m, _)| m.to_vec()).collect()
    }

    type Model = Vec<(f64, Vec<u8>)>;

    fn key_cmp(e: &(f64, Vec<u8>), score: f64, member: &[u8]) -> Ordering {
        e.0.partial_cmp(&score).unwrap().then_with(|| e.1.as_slice().cmp(member))
    }

    fn model_remove(model: &mut Model, member: &[u8]) -> Option<f64> {
        let i = model.iter().position(|e| e.1 == member)?;
        Some(model.remove(i).0)
    }

    fn model_insert(model: &mut Model, member: &[u8], score: f64) -> Option<f64> {
        let old = model_remove(model, member);
        let i = model.partition_point(|e| key_cmp(e, score, member) == Ordering::Less);
        model.insert(i, (score, member.to_vec()));
        old
    }

    fn gen_score(rng: &mut StdRng) -> f64 {
        match rng.gen_range(0..12) {
            0 => NEG_INF,
            1 => INF,
            2 => -0.0,
            3 => 0.0,
            4..=7 => rng.gen_range(-5..=5) as f64,
            _ => rng.gen_range(-100.0..100.0),
        }
    }

    fn gen_member(rng: &mut StdRng, universe: usize) -> Vec<u8> {
        if rng.gen_bool(0.25) {
            let len = rng.gen_range(0..=3);
            (0..len).map(|_| [0u8, b'a', b'b', 0xff][rng.gen_range(0..4)]).collect()
        } else {
            format!("m{}", rng.gen_range(0..universe)).into_bytes()
        }
    }

    fn gen_score_range(rng: &mut StdRng) -> ScoreRange {
        let (mut a, mut b) = (gen_score(rng), gen_score(rng));
        if a > b && rng.gen_bool(0.8) {
            std::mem::swap(&mut a, &mut b);
        }
        sr(a, rng.gen_bool(0.3), b, rng.gen_bool(0.3))
    }

    fn gen_lex_bound(rng: &mut StdRng, universe: usize) -> LexBound {
        match rng.gen_range(0..8) {
            0 => LexBound::NegInf,
            1 => LexBound::PosInf,
            2..=4 => LexBound::Inclusive(gen_member(rng, universe)),
            _ => LexBound::Exclusive(gen_member(rng, universe)),
        }
    }

    fn gen_lex_range(rng: &mut StdRng, universe: usize) -> LexRange {
        let (mut a, mut b) = (gen_lex_bound(rng, universe), gen_lex_bound(rng, universe));
        if lex_bound_cmp(&a, &b) == Ordering::Greater && rng.gen_bool(0.8) {
            std::mem::swap(&mut a, &mut b);
        }
        LexRange { min: a, max: b }
    }

    /// (first, last, count) of the model elements satisfying `f`
    /// (which must select a contiguous block).
    fn model_block(
        model: &Model,
        f: impl Fn(&(f64, Vec<u8>)) -> bool,
    ) -> (Option<usize>, Option<usize>, usize) {
        let first = model.iter().position(&f);
        let last = model.iter().rposition(&f);
        let count = model.iter().filter(|e| f(e)).count();
        if let (Some(a), Some(b)) = (first, last) {
            assert_eq!(b + 1 - a, count, "model block not contiguous");
        }
        (first, last, count)
    }

    fn check_against_model(z: &SortedSet, model: &Model, rng: &mut StdRng, full: bool) {
        assert_eq!(z.len(), model.len());
        if !model.is_empty() {
            let i = rng.gen_range(0..model.len());
            let (s, m) = &model[i];
            assert_eq!(z.rank(m), Some(i));
            assert_eq!(z.score(m).map(f64::to_bits), Some(s.to_bits()));
            let (bm, bs) = z.by_rank(i).unwrap();
            assert_eq!((bm, bs.to_bits()), (m.as_slice(), s.to_bits()));
        }
        assert_eq!(z.by_rank(model.len()), None);
        if full {
            z.check_invariants();
            let got: Model = z.iter().map(|(m, s)| (s, m.to_vec())).collect();
            assert_eq!(got.len(), model.len());
            for (g, e) in got.iter().zip(model) {
                assert_eq!((g.0.to_bits(), &g.1), (e.0.to_bits(), &e.1));
            }
            let start = rng.gen_range(0..=model.len());
            let fwd: Vec<Vec<u8>> = z.iter_from_rank(start).map(|(m, _)| m.to_vec()).collect();
            let exp: Vec<Vec<u8>> =
                model[start.min(model.len())..].iter().map(|e| e.1.clone()).collect();
            assert_eq!(fwd, exp);
            let it = z.iter_rev_from_rank(start);
            let n = it.len();
            let rev: Vec<Vec<u8>> = it.map(|(m, _)| m.to_vec()).collect();
            assert_eq!(rev.len(), n);
            let exp: Vec<Vec<u8>> = if start < model.len() {
                model[..=start].iter().rev().map(|e| e.1.clone()).collect()
            } else {
                vec![]
            };
            assert_eq!(rev, exp);
            let all_rev: Vec<Vec<u8>> = z.iter_rev().map(|(m, _)| m.to_vec()).collect();
            let exp: Vec<Vec<u8>> = model.iter().rev().map(|e| e.1.clone()).collect();
            assert_eq!(all_rev, exp);
        }
    }

    // ----- model tests -------------------------------------------------------

    #[test]
    fn model_random_ops() {
        let mut rng = StdRng::seed_from_u64(0x5eed_0001);
        let mut z = SortedSet::with_seed(42);
        let mut model: Model = Vec::new();
        let universe = 3000;
        let mut max_len = 0;
        for op in 0..50_000 {
            match rng.gen_range(0..100) {
                0..=44 => {
                    let m = gen_member(&mut rng, universe);
                    let s = gen_score(&mut rng);
                    let old = model_insert(&mut model, &m, s);
                    assert_eq!(z.insert_or_update(&m, s).map(f64::to_bits), old.map(f64::to_bits));
                }
                45..=59 => {
                    // update an existing member, often by a small delta (in-place path)
                    if let Some((old_s, m)) =
                        model.get(rng.gen_range(0..model.len().max(1))).cloned()
                    {
                        let s = if rng.gen_bool(0.5) && old_s.is_finite() {
                            old_s + rng.gen_range(-0.001..0.001)
                        } else {
                            gen_score(&mut rng)
                        };
                        model_insert(&mut model, &m, s);
                        assert_eq!(z.update_score(&m, s).map(f64::to_bits), Some(old_s.to_bits()));
                    }
                    let m = gen_member(&mut rng, universe);
                    if !model.iter().any(|e| e.1 == m) {
                        assert_eq!(z.update_score(&m, 1.0), None);
                    }
                }
                60..=74 => {
                    let m = if !model.is_empty() && rng.gen_bool(0.7) {
                        model[rng.gen_range(0..model.len())].1.clone()
                    } else {
                        gen_member(&mut rng, universe)
                    };
                    let exp = model_remove(&mut model, &m);
                    assert_eq!(z.remove(&m).map(f64::to_bits), exp.map(f64::to_bits));
                    assert!(!z.contains(&m));
                }
                75..=93 => {
                    let r = gen_score_range(&mut rng);
                    let (first, last, count) = model_block(&model, |e| score_in_range(e.0, &r));
                    assert_eq!(z.first_in_score_range(&r), first, "{r:?}");
                    assert_eq!(z.last_in_score_range(&r), last, "{r:?}");
                    assert_eq!(z.count_in_score_range(&r), count, "{r:?}");
                }
                94 => {
                    // narrow score-range removal
                    let min = gen_score(&mut rng);
                    let r = sr(
                        min,
                        rng.gen_bool(0.5),
                        min + rng.gen_range(0.0..0.5),
                        rng.gen_bool(0.5),
                    );
                    let exp: Model =
                        model.iter().filter(|e| score_in_range(e.0, &r)).cloned().collect();
                    model.retain(|e| !score_in_range(e.0, &r));
                    let mut got: Model = Vec::new();
                    let n = z.remove_range_by_score_with(&r, |m, s| got.push((s, m.to_vec())));
                    assert_eq!(n, exp.len());
                    assert_eq!(got, exp);
                }
                95..=97 => {
                    let start = rng.gen_range(0..model.len() + 3);
                    let end = (start + rng.gen_range(0..6)).wrapping_sub(1); // may be usize::MAX (clamped)
                    let exp: Model = if start < model.len() && start <= end {
                        model.drain(start..=end.min(model.len() - 1)).collect()
                    } else {
                        vec![]
                    };
                    let mut got: Model = Vec::new();
                    let n =
                        z.remove_range_by_rank_with(start, end, |m, s| got.push((s, m.to_vec())));
                    assert_eq!(n, exp.len());
                    assert_eq!(got, exp);
                }
                _ => {
                    if let Some(i) = (!model.is_empty()).then(|| rng.gen_range(0..model.len())) {
                        let m = model[i].1.clone();
                        assert_eq!(z.rank(&m), Some(i));
                    }
                    let m = gen_member(&mut rng, universe);
                    let exp = model.iter().position(|e| e.1 == m);
                    assert_eq!(z.rank(&m), exp);
                }
            }
            max_len = max_len.max(model.len());
            check_against_model(&z, &model, &mut rng, op % 1000 == 999);
        }
        check_against_model(&z, &model, &mut rng, true);
        println!("model test: final len {}, max len {max_len}, levels {}", z.len(), z.level);
        assert!(max_len > 500, "model test should reach a non-trivial size ({max_len})");
    }

    #[test]
    fn model_lex_ops() {
        let mut rng = StdRng::seed_from_u64(0x5eed_0002);
        let mut z = SortedSet::with_seed(7);
        let mut model: Model = Vec::new();
        let universe = 600;
        for op in 0..20_000 {
            match rng.gen_range(0..100) {
                0..=49 => {
                    let m = gen_member(&mut rng, universe);
                    // -0.0 and 0.0 are equal scores: lex order must still hold
                    let s = if rng.gen_bool(0.5) { 0.0 } else { -0.0 };
                    let old = model_insert(&mut model, &m, s);
                    assert_eq!(z.insert_or_update(&m, s).map(f64::to_bits), old.map(f64::to_bits));
                }
                50..=74 => {
                    let m = gen_member(&mut rng, universe);
                    assert_eq!(
                        z.remove(&m).map(f64::to_bits),
                        model_remove(&mut model, &m).map(f64::to_bits)
                    );
                }
                75..=95 => {
                    let r = gen_lex_range(&mut rng, universe);
                    let (first, last, count) = model_block(&model, |e| lex_in_range(&e.1, &r));
                    let (first, last, count) =
                        if lex_range_nonempty(&r) { (first, last, count) } else { (None, None, 0) };
                    assert_eq!(z.first_in_lex_range(&r), first, "{r:?}");
                    assert_eq!(z.last_in_lex_range(&r), last, "{r:?}");
                    assert_eq!(z.count_in_lex_range(&r), count, "{r:?}");
                }
                _ => {
                    let r = gen_lex_range(&mut rng, universe);
                    let sel = |e: &(f64, Vec<u8>)| lex_range_nonempty(&r) && lex_in_range(&e.1, &r);
                    let exp: Model = model.iter().filter(|e| sel(e)).cloned().collect();
                    model.retain(|e| !sel(e));
                    let mut got: Model = Vec::new();
                    let n = z.remove_range_by_lex_with(&r, |m, s| got.push((s, m.to_vec())));
                    assert_eq!(n, exp.len(), "{r:?}");
                    assert_eq!(got.len(), exp.len());
                    for (g, e) in got.iter().zip(&exp) {
                        assert_eq!((g.0.to_bits(), &g.1), (e.0.to_bits(), &e.1));
                    }
                }
            }
            check_against_model(&z, &model, &mut rng, op % 1000 == 999);
        }
        check_against_model(&z, &model, &mut rng, true);
    }

    // ----- edge cases --------------------------------------------------------

    #[test]
    fn equal_scores_ordered_by_member_bytes() {
        let mut z = SortedSet::new();
        for m in ["b", "a", "ab", "", "a\0", "\u{7f}", "B"] {
            assert!(z.insert(m.as_bytes(), 1.0));
        }
        let got = members(&z);
        let exp: Vec<Vec<u8>> = ["", "B", "a", "a\0", "ab", "b", "\u{7f}"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(got, exp);
        assert!(!z.insert(b"a", 1.0));
        assert_eq!(z.len(), 7);
        let small: SortedSet = {
            let mut t = SortedSet::new();
            t.insert(b"x", 1.5);
            t
        };
        assert_eq!(format!("{small:?}"), r#"[("x", 1.5)]"#);
        assert!(z.insert(&[0xff], 0.5));
        assert_eq!(z.rank(&[0xff]), Some(0));
        z.check_invariants();
    }

    #[test]
    fn infinite_scores() {
        let mut z = SortedSet::new();
        z.insert(b"pinf", INF);
        z.insert(b"ninf", NEG_INF);
        z.insert(b"zero", 0.0);
        z.insert(b"pinf2", INF);
        assert_eq!(
            members(&z),
            vec![b"ninf".to_vec(), b"zero".to_vec(), b"pinf".to_vec(), b"pinf2".to_vec()]
        );
        let all = parse_score_range(b"-inf", b"+inf").unwrap();
        assert_eq!(z.count_in_score_range(&all), 4);
        let r = parse_score_range(b"(-inf", b"(inf").unwrap();
        assert_eq!(z.count_in_score_range(&r), 1);
        assert_eq!(z.first_in_score_range(&r), Some(1));
        let r = parse_score_range(b"inf", b"inf").unwrap();
        assert_eq!((z.first_in_score_range(&r), z.last_in_score_range(&r)), (Some(2), Some(3)));
        let r = parse_score_range(b"(inf", b"+inf").unwrap();
        assert_eq!(z.count_in_score_range(&r), 0);
        assert_eq!(z.update_score(b"ninf", INF), Some(NEG_INF));
        assert_eq!(
            members(&z),
            vec![b"zero".to_vec(), b"ninf".to_vec(), b"pinf".to_vec(), b"pinf2".to_vec()]
        );
        assert_eq!(z.remove_range_by_score(&parse_score_range(b"inf", b"inf").unwrap()), 3);
        assert_eq!(z.len(), 1);
        z.check_invariants();
    }

    #[test]
    fn negative_zero_equals_zero() {
        let mut z = SortedSet::new();
        z.insert(b"b", 0.0);
        z.insert(b"a", -0.0);
        z.insert(b"c", -0.0);
        assert_eq!(members(&z), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert!(z.score(b"a").unwrap().is_sign_negative()); // stored as given
        assert_eq!(z.count_in_score_range(&sr(0.0, false, 0.0, false)), 3);
        assert_eq!(z.count_in_score_range(&sr(-0.0, false, -0.0, false)), 3);
        assert_eq!(z.count_in_score_range(&sr(0.0, true, 1.0, false)), 0);
        assert_eq!(z.count_in_score_range(&sr(-1.0, false, -0.0, true)), 0);
        // -0.0 -> 0.0 does not move the node
        assert_eq!(z.update_score(b"c", 0.0).map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(members(&z), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        z.check_invariants();
    }

    #[test]
    fn score_range_edges() {
        let mut z = SortedSet::new();
        for i in 0..10 {
            z.insert(format!("m{i}").as_bytes(), i as f64);
        }
        let q = |min: &str, max: &str| {
            let r = parse_score_range(min.as_bytes(), max.as_bytes()).unwrap();
            (z.first_in_score_range(&r), z.last_in_score_range(&r), z.count_in_score_range(&r))
        };
        assert_eq!(q("2", "5"), (Some(2), Some(5), 4));
        assert_eq!(q("(2", "5"), (Some(3), Some(5), 3));
        assert_eq!(q("2", "(5"), (Some(2), Some(4), 3));
        assert_eq!(q("(2", "(5"), (Some(3), Some(4), 2));
        assert_eq!(q("(2", "(3"), (None, None, 0));
        assert_eq!(q("3", "3"), (Some(3), Some(3), 1));
        assert_eq!(q("(3", "3"), (None, None, 0));
        assert_eq!(q("3", "(3"), (None, None, 0));
        assert_eq!(q("5", "2"), (None, None, 0)); // min > max
        assert_eq!(q("2.5", "2.7"), (None, None, 0)); // gap
        assert_eq!(q("-5", "-1"), (None, None, 0)); // below
        assert_eq!(q("10", "+inf"), (None, None, 0)); // above
        assert_eq!(q("-inf", "0"), (Some(0), Some(0), 1));
        assert_eq!(q("9", "inf"), (Some(9), Some(9), 1));
        assert_eq!(q("-inf", "+inf"), (Some(0), Some(9), 10));
        assert_eq!(z.remove_range_by_score(&parse_score_range(b"5", b"2").unwrap()), 0);
        assert_eq!(z.remove_range_by_score(&parse_score_range(b"(2", b"(3").unwrap()), 0);
        assert_eq!(z.remove_range_by_score(&parse_score_range(b"(2", b"4").unwrap()), 2);
        assert_eq!(z.len(), 8);
        z.check_invariants();
        let empty = SortedSet::new();
        let r = sr(NEG_INF, false, INF, false);
        assert_eq!(empty.first_in_score_range(&r), None);
        assert_eq!(empty.last_in_score_range(&r), None);
        assert_eq!(empty.count_in_score_range(&r), 0);
    }

    #[test]
    fn lex_range_edges() {
        let mut z = SortedSet::new();
        for m in ["a", "b", "c", "d", "e", "ee", "f"] {
            z.insert(m.as_bytes(), 0.0);
        }
        let q = |min: &str, max: &str| {
            let r = lr(min, max);
            (z.first_in_lex_range(&r), z.last_in_lex_range(&r), z.count_in_lex_range(&r))
        };
        assert_eq!(q("-", "+"), (Some(0), Some(6), 7));
        assert_eq!(q("[b", "[e"), (Some(1), Some(4), 4));
        assert_eq!(q("(b", "(e"), (Some(2), Some(3), 2));
        assert_eq!(q("[e", "(f"), (Some(4), Some(5), 2));
        assert_eq!(q("(e", "+"), (Some(5), Some(6), 2));
        assert_eq!(q("[c", "[c"), (Some(2), Some(2), 1));
        assert_eq!(q("(c", "[c"), (None, None, 0));
        assert_eq!(q("[d", "[b"), (None, None, 0)); // min > max
        assert_eq!(q("+", "-"), (None, None, 0));
        assert_eq!(q("+", "+"), (None, None, 0));
        assert_eq!(q("-", "-"), (None, None, 0));
        assert_eq!(q("[", "(a"), (None, None, 0)); // empty string bound
        assert_eq!(q("[", "[a"), (Some(0), Some(0), 1));
        assert_eq!(q("(f", "+"), (None, None, 0));
        assert_eq!(q("[g", "+"), (None, None, 0));
        assert_eq!(q("-", "(a"), (None, None, 0));
        assert_eq!(q("[bb", "[cc"), (Some(2), Some(2), 1));
        assert_eq!(z.remove_range_by_lex(&lr("[b", "(e")), 3);
        assert_eq!(members(&z), vec![b"a".to_vec(), b"e".to_vec(), b"ee".to_vec(), b"f".to_vec()]);
        assert_eq!(z.remove_range_by_lex(&lr("[d", "[b")), 0);
        assert_eq!(z.remove_range_by_lex(&lr("-", "+")), 4);
        assert!(z.is_empty());
        z.check_invariants();
    }

    #[test]
    fn parse_ranges() {
        let p = |a: &str, b: &str| parse_score_range(a.as_bytes(), b.as_bytes());
        assert_eq!(p("1.5", "(2"), Ok(sr(1.5, false, 2.0, true)));
        assert_eq!(p("-inf", "+inf"), Ok(sr(NEG_INF, false, INF, false)));
        assert_eq!(p("(-inf", "inf"), Ok(sr(NEG_INF, true, INF, false)));
        assert_eq!(p("-INF", "Infinity"), Ok(sr(NEG_INF, false, INF, false)));
        assert_eq!(p("1e3", "(-2.5e-1"), Ok(sr(1000.0, false, -0.25, true)));
        assert_eq!(p(" 1", "+5"), Ok(sr(1.0, false, 5.0, false)));
        assert_eq!(p("5", "1"), Ok(sr(5.0, false, 1.0, false))); // empty but valid
        assert_eq!(p("", "("), Ok(sr(0.0, false, 0.0, true))); // Redis's strtod quirk
        for bad in ["nan", "(nan", "1 ", "abc", "1.5x", "((1", "[1", " ", "1e", "."] {
            assert_eq!(p(bad, "1"), Err(()), "{bad:?}");
            assert_eq!(p("1", bad), Err(()), "{bad:?}");
        }
        assert_eq!(parse_score_range(&[0xff], b"1"), Err(()));

        let l = |a: &str, b: &str| parse_lex_range(a.as_bytes(), b.as_bytes());
        assert_eq!(l("-", "+"), Ok(LexRange { min: LexBound::NegInf, max: LexBound::PosInf }));
        assert_eq!(
            l("[a", "(b"),
            Ok(LexRange {
                min: LexBound::Inclusive(b"a".to_vec()),
                max: LexBound::Exclusive(b"b".to_vec())
            })
        );
        assert_eq!(
            l("[", "("),
            Ok(LexRange { min: LexBound::Inclusive(vec![]), max: LexBound::Exclusive(vec![]) })
        );
        assert_eq!(
            l("(+", "[-"),
            Ok(LexRange {
                min: LexBound::Exclusive(b"+".to_vec()),
                max: LexBound::Inclusive(b"-".to_vec())
            })
        );
        for bad in ["", "a", "+a", "-a", "++", "{a"] {
            assert_eq!(l(bad, "+"), Err(()), "{bad:?}");
            assert_eq!(l("-", bad), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn single_value_range_tests() {
        let r = sr(1.0, true, 2.0, false);
        assert!(!score_in_range(1.0, &r));
        assert!(score_in_range(1.5, &r));
        assert!(score_in_range(2.0, &r));
        assert!(!score_in_range(2.5, &r));
        assert!(score_in_range(-0.0, &sr(0.0, false, 0.0, false)));
        assert!(!score_range_nonempty(&sr(2.0, false, 1.0, false)));
        assert!(!score_range_nonempty(&sr(1.0, true, 1.0, false)));
        assert!(score_range_nonempty(&sr(1.0, false, 1.0, false)));
        let r = lr("(a", "[c");
        assert!(!lex_in_range(b"a", &r));
        assert!(lex_in_range(b"a\0", &r));
        assert!(lex_in_range(b"c", &r));
        assert!(!lex_in_range(b"c\0", &r));
        assert!(lex_in_range(b"", &lr("-", "+")));
        assert!(!lex_in_range(b"", &lr("+", "+")));
        assert!(!lex_range_nonempty(&lr("+", "+")));
        assert!(!lex_range_nonempty(&lr("[a", "(a")));
        assert!(lex_range_nonempty(&lr("[a", "[a")));
    }

    #[test]
    fn ranks_iteration_and_rank_removal() {
        let mut z = SortedSet::with_seed(1);
        assert_eq!(z.by_rank(0), None);
        assert_eq!(z.iter_from_rank(0).count(), 0);
        assert_eq!(z.iter_rev_from_rank(0).count(), 0);
        assert_eq!(z.rank(b"x"), None);
        assert_eq!(z.remove_range_by_rank(0, 10), 0);
        for i in 0..1000 {
            z.insert(format!("{i:04}").as_bytes(), (i / 10) as f64);
        }
        for i in (0..1000).step_by(37) {
            let m = format!("{i:04}");
            assert_eq!(z.rank(m.as_bytes()), Some(i));
            assert_eq!(z.by_rank(i), Some((m.as_bytes(), (i / 10) as f64)));
        }
        assert_eq!(z.iter_from_rank(995).len(), 5);
        assert_eq!(z.iter_rev_from_rank(4).map(|(_, s)| s).collect::<Vec<_>>(), vec![0.0; 5]);
        assert_eq!(z.iter_from_rank(1000).count(), 0);
        assert_eq!(z.remove_range_by_rank(5, 4), 0);
        assert_eq!(z.remove_range_by_rank(1000, 2000), 0);
        assert_eq!(z.remove_range_by_rank(990, usize::MAX), 10); // clamped
        assert_eq!(z.remove_range_by_rank(0, 0), 1);
        assert_eq!(z.by_rank(0).unwrap().0, b"0001");
        let mut seen = vec![];
        assert_eq!(z.remove_range_by_rank_with(10, 12, |m, _| seen.push(m.to_vec())), 3);
        assert_eq!(seen, vec![b"0011".to_vec(), b"0012".to_vec(), b"0013".to_vec()]);
        assert_eq!(z.len(), 986);
        z.check_invariants();
        let copy = z.clone();
        copy.check_invariants();
        assert!(copy.iter().eq(z.iter()));
        z.clear();
        assert!(z.is_empty());
        assert_eq!(z.iter().count(), 0);
        z.insert(b"again", 1.0);
        z.check_invariants();
    }

    #[test]
    fn update_in_place_and_moves() {
        let mut z = SortedSet::with_seed(3);
        for i in 0..100 {
            z.insert(format!("m{i:03}").as_bytes(), i as f64);
        }
        // in place: between neighbours
        assert_eq!(z.update_score(b"m050", 50.5), Some(50.0));
        assert_eq!(z.rank(b"m050"), Some(50));
        // move forward / backward / to the ends
        z.update_score(b"m050", 75.5);
        assert_eq!(z.rank(b"m050"), Some(75));
        z.update_score(b"m050", -1.0);
        assert_eq!(z.rank(b"m050"), Some(0));
        z.update_score(b"m050", 1e9);
        assert_eq!(z.rank(b"m050"), Some(99));
        // equal score, member order decides
        z.update_score(b"m050", 10.0);
        assert_eq!(z.rank(b"m050"), Some(11));
        assert_eq!(z.rank(b"m010"), Some(10));
        z.check_invariants();
        // free-list reuse
        for i in 0..100 {
            z.remove(format!("m{i:03}").as_bytes());
        }
        assert!(z.is_empty());
        z.check_invariants();
        for i in 0..100 {
            z.insert(format!("n{i}").as_bytes(), 0.0);
        }
        // free slots are reused per level class, so only a few new slots appear
        assert!(z.slots() < 130, "{}", z.slots());
        z.check_invariants();
        z.shrink_to_fit();
        z.check_invariants();
    }

    #[test]
    fn random_member_covers_all() {
        let mut z = SortedSet::new();
        let mut rng = StdRng::seed_from_u64(9);
        assert_eq!(z.random_member(&mut rng), None);
        for i in 0..20 {
            z.insert(&[i], i as f64);
        }
        let mut seen = [false; 20];
        for _ in 0..2000 {
            let (m, s) = z.random_member(&mut rng).unwrap();
            assert_eq!(m[0] as f64, s);
            seen[m[0] as usize] = true;
        }
        assert!(seen.iter().all(|&b| b));
    }

    #[test]
    fn level_distribution_matches_p_quarter() {
        let mut z = SortedSet::with_seed(123);
        let mut counts = [0usize; MAX_LEVEL + 1];
        for _ in 0..400_000 {
            counts[z.random_level()] += 1;
        }
        // P(level >= 2) = 1/4, P(level >= 3) = 1/16
        let ge2: usize = counts[2..].iter().sum();
        let ge3: usize = counts[3..].iter().sum();
        assert!((ge2 as f64 / 400_000.0 - 0.25).abs() < 0.01, "{ge2}");
        assert!((ge3 as f64 / 400_000.0 - 0.0625).abs() < 0.005, "{ge3}");
    }

    #[test]
    fn drop_large_set_does_not_recurse() {
        let mut z = SortedSet::new();
        for i in 0..200_000u32 {
            z.insert(&i.to_be_bytes(), 0.0);
        }
        assert_eq!(z.len(), 200_000);
        z.check_invariants();
        drop(z); // a recursive drop of a 200k-long chain would overflow the test thread's stack
    }

    /// Per-member memory with 1,000,000 members ("member:<n>", random
    /// scores). Run with
    /// `cargo test --release memory_per_member -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn memory_per_member() {
        const N: usize = 1_000_000;
        let mut rng = StdRng::seed_from_u64(11);
        let net0 = NET.with(Cell::get);
        let chunks0 = CHUNKS.with(Cell::get);
        let rss0 = rss_bytes();
        let mut z = SortedSet::new();
        let mut buf = Vec::with_capacity(32);
        let t0 = std::time::Instant::now();
        for i in 0..N {
            buf.clear();
            buf.extend_from_slice(format!("member:{i}").as_bytes());
            z.insert(&buf, rng.gen_range(0.0..1e6));
        }
        let insert_time = t0.elapsed();
        let net = (NET.with(Cell::get) - net0) as f64 / N as f64;
        let chunks = (CHUNKS.with(Cell::get) - chunks0) as f64 / N as f64;
        let rss = match (rss0, rss_bytes()) {
            (Some(a), Some(b)) => format!("{:.1}", (b as f64 - a as f64) / N as f64),
            _ => "n/a".into(),
        };
        let est = z.heap_size() as f64 / N as f64;
        println!(
            "per-member bytes for {N} members: requested {net:.1}, glibc chunks (est.) {chunks:.1}, \
             RSS delta {rss}, heap_size() {est:.1}; {N} inserts took {insert_time:?}"
        );
        assert!(chunks < 100.0, "per-member memory regression: {chunks}");
        z.check_invariants();
    }
}

#[cfg(test)]
mod bench {
    use super::*;
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    use std::time::Instant;

    /// Rough throughput numbers; run with
    /// `cargo test --release bench_ops -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_ops() {
        const N: usize = 1_000_000;
        let mut rng = StdRng::seed_from_u64(5);
        let keys: Vec<Vec<u8>> = (0..N).map(|i| format!("member:{i}").into_bytes()).collect();
        let scores: Vec<f64> = (0..N).map(|_| rng.gen_range(0.0..1e6)).collect();
        let mut z = SortedSet::with_seed(1);
        let t = Instant::now();
        for (k, &s) in keys.iter().zip(&scores) {
            z.insert(k, s);
        }
        let per = |t: Instant| t.elapsed().as_nanos() as f64 / N as f64;
        println!("insert random scores: {:.0} ns/op", per(t));
        let mut order: Vec<usize> = (0..N).collect();
        order.shuffle(&mut rng);
        let t = Instant::now();
        let mut acc = 0usize;
        for &i in &order {
            acc += z.rank(&keys[i]).unwrap();
        }
        println!("rank: {:.0} ns/op ({acc})", per(t));
        let t = Instant::now();
        let mut accf = 0.0;
        for &i in &order {
            accf += z.score(&keys[i]).unwrap();
        }
        println!("score: {:.0} ns/op ({accf})", per(t));
        let t = Instant::now();
        for &i in &order {
            z.update_score(&keys[i], scores[i] + 1e-7);
        }
        println!("update in place: {:.0} ns/op", per(t));
        let t = Instant::now();
        for &i in &order {
            acc += z.by_rank(i).unwrap().0.len();
        }
        println!("by_rank: {:.0} ns/op ({acc})", per(t));
        let t = Instant::now();
        for &i in &order {
            z.remove(&keys[i]);
        }
        println!("remove: {:.0} ns/op", per(t));
        let mut z = SortedSet::with_seed(1);
        let t = Instant::now();
        for (i, k) in keys.iter().enumerate() {
            z.insert(k, i as f64);
        }
        println!("insert ascending scores: {:.0} ns/op", per(t));
    }
}
