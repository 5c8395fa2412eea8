//! `Dict<K, V, S>`: tine's keyspace hash table, built to live inside a process
//! that snapshots itself with `fork()`.
//!
//! # Shape
//!
//! A chained hash table with **two** bucket arrays, `ht[0]` and `ht[1]`, exactly
//! like Redis's `dict.c`. Bucket counts are powers of two, so a bucket index is
//! `hash & (size - 1)`. Every entry is its own heap node
//! (`Box<Entry { key, value, next }>`), and a bucket is the head pointer of a
//! singly linked chain of such nodes.
//!
//! # Why incremental rehashing
//!
//! A keyspace can hold tens of millions of keys. Moving all of them into a
//! bigger array in one go would stall the (single threaded) server for a long
//! time, and would write every page of the table at once — which, while a
//! snapshot child exists, means the kernel copies every one of those pages.
//! So a resize only *allocates* the new array in `ht[1]` and records
//! `rehash_idx = 0`. After that, every write-path operation (`insert`,
//! `get_mut`, `get_or_insert_with`, `remove`) moves one bucket of `ht[0]`
//! (visiting at most 10 empty buckets), and the owner's cron calls
//! [`Dict::rehash_for`] with a small time budget. While rehashing, lookups probe
//! both arrays, new keys go only to `ht[1]`, and when `ht[0]` is empty the
//! arrays swap. Since entries are individual nodes, moving a bucket only
//! relinks pointers: no key or value is ever copied or moved in memory.
//!
//! # Why the SCAN cursor is reverse-binary
//!
//! `scan` is stateless on the server side: the client holds only a `u64`
//! cursor, and the table may grow or shrink between calls. The cursor is a
//! bucket index whose bits are incremented from the *most significant* masked
//! bit downwards (reverse the bits, add one, reverse back). For a table of
//! size `2^n`, bucket `b` of the small table corresponds to buckets
//! `b, b + 2^n, b + 2*2^n, ...` of a bigger table (the ones sharing its low `n`
//! bits). Visiting low bits in reverse-binary order means that all buckets
//! sharing a low-bit prefix are visited consecutively, so when the table
//! doubles (or halves) between two calls, the buckets already visited in the
//! old size map exactly onto a set of buckets already visited in the new size.
//! Hence every element present for the whole scan is returned at least once
//! (possibly more than once after a shrink). While rehashing, one call visits
//! the cursor's bucket in the smaller array and *all* buckets of the larger
//! array that expand from it, which keeps the same guarantee mid-rehash.
//!
//! # Copy-on-write rules
//!
//! After `fork()`, parent and child share every page; the first write to a page
//! by the parent copies it (4 KiB or more of RSS per touched page). This table
//! therefore follows three rules:
//!
//! 1. **Read paths write nothing.** `get`, `get_key_value`, `contains_key`,
//!    `iter`, `scan`, `random_entry` and `sample` take `&self` and never do a
//!    rehash step (Redis does a rehash step on lookup; we do not, because
//!    moving a bucket dirties the pages of the old bucket, the new bucket and
//!    every node relinked).
//! 2. **No resizing while a child exists** ([`ResizePolicy::Avoid`], Redis's
//!    `dict_can_resize = DICT_RESIZE_AVOID`): growth happens only when the
//!    load factor exceeds [`FORCE_RESIZE_RATIO`] (5, `dict_force_resize_ratio`),
//!    shrinking never happens, and an in-progress rehash is paused unless the
//!    table it is draining into or from is overloaded beyond that ratio
//!    (`len > 5 * min(size0, size1)`), like Redis 7's `dictRehash` check.
//! 3. **Nodes never move.** Relinking pointers dirties only the `next` fields
//!    and bucket slots involved, never the key/value bytes.
//!
//! # Memory (64-bit)
//!
//! * `Dict` itself: two `(Box<[bucket]>, used)` pairs (48 bytes), the rehash
//!   index (8), the policy (1, padded to 8) and the hasher state (16 for the
//!   default [`SipBuildHasher`]): 80 bytes.
//! * Per bucket: 8 bytes (`Option<Box<_>>` is a single nullable pointer).
//!   With load factor between 0.5 and 1 this is 8–16 bytes per entry, plus
//!   transiently the second array while rehashing.
//! * Per entry: one allocation of `size_of::<K>() + size_of::<V>() + 8` bytes
//!   (the `next` pointer) plus the allocator's per-allocation overhead/size-class
//!   rounding. For `K = Box<[u8]>` (16 bytes) that is `24 + size_of::<V>()`,
//!   not counting the key bytes' own allocation. The hash is *not* stored in
//!   the node (like Redis): a rehash recomputes it.
//!
//! # Hashing
//!
//! The default hasher is SipHash-1-2, the reduced-round SipHash Redis's
//! `siphash.c` uses for its dicts (Rust's std uses 1-3), keyed with a 128-bit
//! seed drawn once per process from `rand`. An attacker who does not know the
//! seed cannot craft keys that collide, so chains stay short. Every lookup of a
//! new key and every entry a rehash moves is hashed, so one round fewer per
//! 8 bytes shows in write throughput. Any other `BuildHasher` can be plugged in
//! as `S`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::Rng;

/// Smallest non-empty bucket array (Redis: `DICT_HT_INITIAL_SIZE`).
pub const INITIAL_SIZE: usize = 4;
/// With [`ResizePolicy::Avoid`], grow only when `len > FORCE_RESIZE_RATIO * buckets`
/// (Redis: `dict_force_resize_ratio`).
pub const FORCE_RESIZE_RATIO: usize = 5;
/// `shrink_to_fit_if_sparse` shrinks when fewer than this percent of buckets
/// would be used (Redis: `HASHTABLE_MIN_FILL`).
pub const MIN_FILL_PERCENT: usize = 10;

/// Empty buckets a single rehash step may skip per bucket it is asked to move.
const EMPTY_VISITS_PER_STEP: usize = 10;
/// Buckets moved between two clock reads in [`Dict::rehash_for`].
const REHASH_BATCH: usize = 100;
/// Buckets moved by each write operation while rehashing (Redis moves one; see `rehash_step`).
const REHASH_STEP_BUCKETS: usize = 4;
/// Entries sampled by [`Dict::random_entry`] (Redis: `GETFAIR_NUM_ENTRIES`).
const FAIR_SAMPLE: usize = 20;
/// Random probes before [`Dict::random_entry`] falls back to a linear walk.
const RANDOM_PROBES: usize = 64;

// ---------------------------------------------------------------------------
// Hashing: keyed SipHash-c-d
// ---------------------------------------------------------------------------

/// Streaming SipHash with `C` compression and `D` finalisation rounds.
#[derive(Clone, Debug)]
pub struct SipHasher<const C: usize, const D: usize> {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    /// Up to 7 pending message bytes, little-endian.
    tail: u64,
    ntail: usize,
    length: usize,
}

/// SipHash-1-2, the default hash function of [`Dict`] (as Redis's).
pub type SipHasher12 = SipHasher<1, 2>;

impl<const C: usize, const D: usize> SipHasher<C, D> {
    /// A hasher keyed with the 128-bit key `(k0, k1)`.
    pub fn new_with_keys(k0: u64, k1: u64) -> Self {
        SipHasher {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    #[inline(always)]
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13);
        v[1] ^= v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16);
        v[3] ^= v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21);
        v[3] ^= v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17);
        v[1] ^= v[2];
        v[2] = v[2].rotate_left(32);
    }

    #[inline(always)]
    fn compress(&mut self, m: u64) {
        let mut v = [self.v0, self.v1, self.v2, self.v3];
        v[3] ^= m;
        for _ in 0..C {
            Self::round(&mut v);
        }
        v[0] ^= m;
        [self.v0, self.v1, self.v2, self.v3] = v;
    }
}

impl<const C: usize, const D: usize> Hasher for SipHasher<C, D> {
    /// The length prefix `Hash for [u8]` writes before the bytes: at the start of a message
    /// it is one whole word, compressed without the byte-wise tail handling of `write`.
    /// The result is the same as `write(&n.to_le_bytes())`.
    #[inline]
    fn write_usize(&mut self, n: usize) {
        if self.ntail == 0 && usize::BITS == 64 {
            self.length = self.length.wrapping_add(8);
            self.compress(n as u64);
        } else {
            self.write(&n.to_le_bytes());
        }
    }

    fn write(&mut self, msg: &[u8]) {
        self.length = self.length.wrapping_add(msg.len());
        let mut rest = msg;
        if self.ntail != 0 {
            let fill = (8 - self.ntail).min(rest.len());
            for (j, &b) in rest[..fill].iter().enumerate() {
                self.tail |= (b as u64) << (8 * (self.ntail + j));
            }
            self.ntail += fill;
            rest = &rest[fill..];
            if self.ntail < 8 {
                return;
            }
            let m = self.tail;
            self.compress(m);
            self.tail = 0;
            self.ntail = 0;
        }
        let chunks = rest.chunks_exact(8);
        let rem = chunks.remainder();
        for c in chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.compress(u64::from_le_bytes(w));
        }
        for (j, &b) in rem.iter().enumerate() {
            self.tail |= (b as u64) << (8 * j);
        }
        self.ntail = rem.len();
    }

    fn finish(&self) -> u64 {
        let b = ((self.length as u64 & 0xff) << 56) | self.tail;
        let mut v = [self.v0, self.v1, self.v2, self.v3];
        v[3] ^= b;
        for _ in 0..C {
            Self::round(&mut v);
        }
        v[0] ^= b;
        v[2] ^= 0xff;
        for _ in 0..D {
            Self::round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

/// Per-process random 128-bit key, drawn on first use (a fork child inherits it,
/// which is what we want: hashes stay valid in the snapshot).
fn process_seed() -> (u64, u64) {
    static SEED: OnceLock<(u64, u64)> = OnceLock::new();
    *SEED.get_or_init(rand::random)
}

/// `BuildHasher` for [`SipHasher12`] keyed with the per-process random seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipBuildHasher {
    k0: u64,
    k1: u64,
}

impl SipBuildHasher {
    /// Keyed with the per-process random seed.
    pub fn new() -> Self {
        let (k0, k1) = process_seed();
        SipBuildHasher { k0, k1 }
    }
    /// Keyed with an explicit seed (tests, reproducible benchmarks).
    pub fn with_keys(k0: u64, k1: u64) -> Self {
        SipBuildHasher { k0, k1 }
    }
}

impl Default for SipBuildHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl BuildHasher for SipBuildHasher {
    type Hasher = SipHasher12;
    #[inline]
    fn build_hasher(&self) -> SipHasher12 {
        SipHasher12::new_with_keys(self.k0, self.k1)
    }
}

// ---------------------------------------------------------------------------
// Table internals
// ---------------------------------------------------------------------------

struct Entry<K, V> {
    key: K,
    value: V,
    next: Link<K, V>,
}

type Link<K, V> = Option<Box<Entry<K, V>>>;

/// Drops a chain node by node, so a long chain cannot overflow the stack
/// through the recursive drop of `Box<Entry>`'s `next` field.
fn drop_chain<K, V>(mut link: Link<K, V>) {
    while let Some(mut e) = link {
        link = e.next.take();
    }
}

/// A uniformly random entry of the chain starting at `e`.
fn pick_in_chain<'a, K, V, R: Rng + ?Sized>(e: &'a Entry<K, V>, rng: &mut R) -> (&'a K, &'a V) {
    let mut n = 0usize;
    let mut cur = Some(e);
    while let Some(x) = cur {
        n += 1;
        cur = x.next.as_deref();
    }
    let mut x = e;
    for _ in 0..rng.gen_range(0..n) {
        x = x.next.as_deref().expect("chain length counted");
    }
    (&x.key, &x.value)
}

/// One bucket array. `buckets.len()` is 0 or a power of two.
struct Table<K, V> {
    buckets: Box<[Link<K, V>]>,
    used: usize,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table { buckets: Box::new([]), used: 0 }
    }
}

impl<K, V> Drop for Table<K, V> {
    fn drop(&mut self) {
        for b in self.buckets.iter_mut() {
            drop_chain(b.take());
        }
    }
}

/// Chain figures of one bucket array, as Redis's DEBUG HTSTATS reports them.
pub struct TableStats {
    pub size: usize,
    pub used: usize,
    /// Non-empty buckets.
    pub slots: usize,
    pub max_chain: usize,
    /// Sum of the chain lengths (the entries counted by walking).
    pub total_chain: usize,
    /// Buckets by chain length; the last slot counts every longer chain too (Redis's
    /// DICT_STATS_VECTLEN).
    pub chains: [usize; 50],
}

impl<K, V> Table<K, V> {
    fn stats(&self) -> TableStats {
        let mut st = TableStats {
            size: self.size(),
            used: self.used,
            slots: 0,
            max_chain: 0,
            total_chain: 0,
            chains: [0; 50],
        };
        for b in self.buckets.iter() {
            let mut len = 0;
            let mut at = b.as_deref();
            while let Some(e) = at {
                len += 1;
                at = e.next.as_deref();
            }
            st.chains[len.min(49)] += 1;
            if len > 0 {
                st.slots += 1;
                st.max_chain = st.max_chain.max(len);
                st.total_chain += len;
            }
        }
        st
    }

    fn with_size(size: usize) -> Self {
        debug_assert!(size.is_power_of_two());
        let buckets: Vec<Link<K, V>> = std::iter::repeat_with(|| None).take(size).collect();
        Table { buckets: buckets.into_boxed_slice(), used: 0 }
    }

    #[inline]
    fn size(&self) -> usize {
        self.buckets.len()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The entries of the chain hash `h` falls in, head first.
    #[inline]
    fn chain(&self, h: u64) -> impl Iterator<Item = &Entry<K, V>> {
        let head = if self.buckets.is_empty() {
            None
        } else {
            self.buckets[h as usize & self.mask()].as_deref()
        };
        std::iter::successors(head, |e| e.next.as_deref())
    }

    fn find<Q>(&self, h: u64, key: &Q) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.chain(h).find(|e| e.key.borrow() == key)
    }

    /// How many links into its chain `key` sits, if present. With [`Table::nth_mut`] this
    /// gives a mutable lookup (also one that callers return conditionally) without
    /// comparing keys twice.
    fn depth_of<Q>(&self, h: u64, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.chain(h).position(|e| e.key.borrow() == key)
    }

    /// The entry `depth` links into the chain of hash `h`, as [`Table::depth_of`] found it.
    fn nth_mut(&mut self, h: u64, depth: usize) -> &mut Entry<K, V> {
        let mask = self.mask();
        let mut e = self.buckets[h as usize & mask].as_deref_mut().expect("located entry");
        for _ in 0..depth {
            e = e.next.as_deref_mut().expect("located entry");
        }
        e
    }

    /// Takes `key`'s node out of its chain, its allocation intact.
    fn unlink<Q>(&mut self, h: u64, key: &Q) -> Option<Box<Entry<K, V>>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut link = &mut self.buckets[h as usize & mask];
        while link.as_ref().is_some_and(|e| e.key.borrow() != key) {
            link = &mut link.as_mut().expect("checked above").next;
        }
        let mut e = link.take()?;
        *link = e.next.take();
        self.used -= 1;
        Some(e)
    }
}

// ---------------------------------------------------------------------------
// Dict
// ---------------------------------------------------------------------------

/// Whether the table may resize freely (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ResizePolicy {
    /// Normal operation: grow at load factor 1, shrink on request.
    #[default]
    Enable,
    /// A fork child exists: grow only past load factor [`FORCE_RESIZE_RATIO`],
    /// never shrink, pause rehashing unless overloaded.
    Avoid,
}

/// Chained hash table with two bucket arrays and incremental rehashing.
pub struct Dict<K, V, S = SipBuildHasher> {
    ht: [Table<K, V>; 2],
    /// Next bucket of `ht[0]` to move; meaningful only while rehashing
    /// (`ht[1]` non-empty).
    rehash_idx: usize,
    policy: ResizePolicy,
    hash_builder: S,
}

impl<K, V> Dict<K, V, SipBuildHasher> {
    /// An empty table; allocates nothing until the first insert.
    pub fn new() -> Self {
        Self::with_hasher(SipBuildHasher::new())
    }

    /// A table with room for `n` entries before it has to grow.
    pub fn with_capacity(n: usize) -> Self {
        Self::with_capacity_and_hasher(n, SipBuildHasher::new())
    }
}

impl<K, V, S: Default> Default for Dict<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

/// Next power of two `>= max(n, INITIAL_SIZE)`, saturating at the largest one.
fn table_size_for(n: usize) -> usize {
    n.max(INITIAL_SIZE).checked_next_power_of_two().unwrap_or(1 << (usize::BITS - 1))
}

impl<K, V, S> Dict<K, V, S> {
    /// An empty table using `hash_builder`.
    pub fn with_hasher(hash_builder: S) -> Self {
        Dict {
            ht: [Table::default(), Table::default()],
            rehash_idx: 0,
            policy: ResizePolicy::Enable,
            hash_builder,
        }
    }

    /// A table with room for `n` entries, using `hash_builder`.
    pub fn with_capacity_and_hasher(n: usize, hash_builder: S) -> Self {
        let mut d = Self::with_hasher(hash_builder);
        if n > 0 {
            d.ht[0] = Table::with_size(table_size_for(n));
        }
        d
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.ht[0].used + self.ht[1].used
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether an incremental rehash is in progress.
    #[inline]
    /// The main array's figures and, while rehashing, its target's (DEBUG HTSTATS).
    pub fn stats(&self) -> Vec<TableStats> {
        let n = if self.is_rehashing() { 2 } else { 1 };
        self.ht[..n].iter().map(Table::stats).collect()
    }

    pub fn is_rehashing(&self) -> bool {
        !self.ht[1].buckets.is_empty()
    }

    /// Bytes of one entry node (key, value and chain link), for memory accounting.
    pub fn entry_size() -> usize {
        std::mem::size_of::<Entry<K, V>>()
    }

    /// Total bucket count of both arrays (8 bytes each), for memory accounting.
    pub fn buckets(&self) -> usize {
        self.ht[0].size() + self.ht[1].size()
    }

    pub fn resize_policy(&self) -> ResizePolicy {
        self.policy
    }

    /// Set [`ResizePolicy::Avoid`] while a fork child exists, `Enable` after.
    pub fn set_resize_policy(&mut self, p: ResizePolicy) {
        self.policy = p;
    }

    pub fn hasher(&self) -> &S {
        &self.hash_builder
    }

    /// Removes everything and frees both arrays (iteratively, see `Drop`).
    pub fn clear(&mut self) {
        self.ht = [Table::default(), Table::default()];
        self.rehash_idx = 0;
    }

    /// Iterates over all entries of both arrays, in no particular order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            tables: [&self.ht[0].buckets, &self.ht[1].buckets],
            t: 0,
            idx: 0,
            cur: None,
            remaining: self.len(),
        }
    }

    /// Removes and yields all entries; the table is empty (and unallocated)
    /// right away, and entries not consumed are dropped with the iterator.
    pub fn drain(&mut self) -> IntoIter<K, V> {
        let len = self.len();
        let tables = std::mem::take(&mut self.ht);
        self.rehash_idx = 0;
        IntoIter { tables, t: 0, idx: 0, chain: None, remaining: len }
    }

    /// Is a rehash step allowed under the current policy?
    fn rehash_allowed(&self) -> bool {
        match self.policy {
            ResizePolicy::Enable => true,
            ResizePolicy::Avoid => {
                let small = self.ht[0].size().min(self.ht[1].size());
                self.len() > FORCE_RESIZE_RATIO.saturating_mul(small)
            }
        }
    }

    // ----- SCAN ---------------------------------------------------------

    /// Redis's `dictScan`: calls `f` for every entry of one bucket (while
    /// rehashing: the cursor's bucket in the smaller array and all the buckets
    /// of the larger array that expand from it) and returns the next cursor,
    /// 0 when the scan is complete. Start with cursor 0. Every entry present
    /// during the whole scan is reported at least once, even if the table is
    /// resized between calls; some may be reported more than once.
    pub fn scan<F: FnMut(&K, &V)>(&self, cursor: u64, mut f: F) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let emit = |b: &Link<K, V>, f: &mut F| {
            let mut cur = b.as_deref();
            while let Some(e) = cur {
                f(&e.key, &e.value);
                cur = e.next.as_deref();
            }
        };
        let mut v = cursor;
        if !self.is_rehashing() {
            let t0 = &self.ht[0];
            let m0 = t0.mask() as u64;
            emit(&t0.buckets[(v & m0) as usize], &mut f);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (t0, t1) = if self.ht[0].size() > self.ht[1].size() {
                (&self.ht[1], &self.ht[0])
            } else {
                (&self.ht[0], &self.ht[1])
            };
            let m0 = t0.mask() as u64;
            let m1 = t1.mask() as u64;
            emit(&t0.buckets[(v & m0) as usize], &mut f);
            loop {
                emit(&t1.buckets[(v & m1) as usize], &mut f);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    // ----- random sampling ---------------------------------------------

    /// Bucket slot `h` in the concatenation `ht[0] ++ ht[1]`.
    fn slot(&self, h: usize) -> &Link<K, V> {
        let s0 = self.ht[0].size();
        if h < s0 { &self.ht[0].buckets[h] } else { &self.ht[1].buckets[h - s0] }
    }

    /// Redis's `dictGetRandomKey`: a random non-empty bucket, then a random
    /// entry of its chain. After `RANDOM_PROBES` misses (sparse table) it
    /// walks linearly from a random slot, so it always terminates.
    fn random_entry_unfair<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        // Buckets of ht[0] below rehash_idx are known to be empty.
        let start = if self.is_rehashing() { self.rehash_idx } else { 0 };
        let total = self.buckets() - start;
        for _ in 0..RANDOM_PROBES {
            let h = start + rng.gen_range(0..total);
            if let Some(e) = self.slot(h).as_deref() {
                return Some(pick_in_chain(e, rng));
            }
        }
        let off = rng.gen_range(0..total);
        for i in 0..total {
            let h = start + (off + i) % total;
            if let Some(e) = self.slot(h).as_deref() {
                return Some(pick_in_chain(e, rng));
            }
        }
        None
    }

    /// A random entry, fair-ish like Redis's `dictGetFairRandomKey`: samples up
    /// to 20 entries from a random contiguous run of buckets and picks one of
    /// them uniformly, which mostly removes the bias towards entries in short
    /// chains. Always terminates, also on very sparse tables. Writes nothing.
    pub fn random_entry<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        let mut buf = Vec::with_capacity(FAIR_SAMPLE);
        self.sample(rng, FAIR_SAMPLE, &mut buf);
        if buf.is_empty() {
            return self.random_entry_unfair(rng);
        }
        Some(buf[rng.gen_range(0..buf.len())])
    }

    /// Redis's `dictGetSomeKeys`: appends to `out` up to `count` entries found
    /// by walking consecutive buckets (of both arrays while rehashing) from a
    /// random start, jumping elsewhere after runs of empty buckets, for at most
    /// `10 * count` steps. Entries are distinct unless the walk wraps around a
    /// small table. May return fewer than `count`. Writes nothing to the table.
    pub fn sample<'a, R: Rng + ?Sized>(
        &'a self,
        rng: &mut R,
        count: usize,
        out: &mut Vec<(&'a K, &'a V)>,
    ) {
        let count = count.min(self.len());
        if count == 0 {
            return;
        }
        let rehashing = self.is_rehashing();
        let tables = if rehashing { 2 } else { 1 };
        let s1 = self.ht[1].size();
        let max_mask = self.ht[0].size().max(s1) - 1;
        let mut maxsteps = count.saturating_mul(10);
        let mut i = rng.next_u64() as usize & max_mask;
        let mut empty_len = 0usize;
        let mut stored = 0usize;
        while stored < count && maxsteps > 0 {
            maxsteps -= 1;
            for j in 0..tables {
                // Buckets of ht[0] below rehash_idx are empty: skip them, and
                // if ht[1] cannot hold index i either, jump to rehash_idx.
                if rehashing && j == 0 && i < self.rehash_idx {
                    if i >= s1 {
                        i = self.rehash_idx;
                    } else {
                        continue;
                    }
                }
                let t = &self.ht[j];
                if i >= t.size() {
                    continue;
                }
                match t.buckets[i].as_deref() {
                    None => {
                        empty_len += 1;
                        if empty_len >= 5 && empty_len > count {
                            i = rng.next_u64() as usize & max_mask;
                            empty_len = 0;
                        }
                    }
                    Some(mut e) => {
                        empty_len = 0;
                        loop {
                            out.push((&e.key, &e.value));
                            stored += 1;
                            if stored == count {
                                return;
                            }
                            match e.next.as_deref() {
                                Some(n) => e = n,
                                None => break,
                            }
                        }
                    }
                }
            }
            i = (i + 1) & max_mask;
        }
    }
}

impl<K, V, S> Dict<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hash_builder.hash_one(key)
    }

    /// Moves up to `n` buckets from `ht[0]` to `ht[1]` (visiting at most
    /// `10 * n` empty buckets). Returns true if rehashing is still in progress
    /// *and* allowed to continue under the current policy.
    fn rehash(&mut self, n: usize) -> bool {
        if !self.is_rehashing() || !self.rehash_allowed() {
            return false;
        }
        let Dict { ht, rehash_idx, hash_builder, .. } = self;
        let [t0, t1] = ht;
        let mask1 = t1.mask();
        let mut empty_visits = n.saturating_mul(EMPTY_VISITS_PER_STEP);
        let mut n = n;
        while n > 0 && t0.used != 0 {
            n -= 1;
            while t0.buckets[*rehash_idx].is_none() {
                *rehash_idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    return true;
                }
            }
            let mut chain = t0.buckets[*rehash_idx].take();
            while let Some(mut e) = chain {
                chain = e.next.take();
                let slot = &mut t1.buckets[hash_builder.hash_one(&e.key) as usize & mask1];
                e.next = slot.take();
                *slot = Some(e);
                t0.used -= 1;
                t1.used += 1;
            }
            *rehash_idx += 1;
        }
        if t0.used == 0 {
            // Done: ht[1] becomes ht[0]; the old (all-empty) array is freed.
            *t0 = std::mem::take(t1);
            *rehash_idx = 0;
            return false;
        }
        true
    }

    #[inline]
    fn rehash_step(&mut self) {
        if self.is_rehashing() {
            // Four buckets per operation, where Redis moves one: while both tables exist every
            // miss (each insert of a new key) probes both, and a chain walk is a cache miss per
            // node. Finishing the move sooner measured ~10-20% faster pipelined SET/INCR of
            // new keys; the work per operation stays bounded.
            self.rehash(REHASH_STEP_BUCKETS);
        }
    }

    /// Cron hook: rehash in batches of 100 buckets until done or `budget`
    /// elapsed (at least one batch). Returns whether still rehashing.
    /// Respects the resize policy (paused under `Avoid` unless overloaded).
    pub fn rehash_for(&mut self, budget: Duration) -> bool {
        let start = Instant::now();
        while self.rehash(REHASH_BATCH) {
            if start.elapsed() >= budget {
                break;
            }
        }
        self.is_rehashing()
    }

    /// Starts resizing to the next power of two `>= max(n, 4)`. No-op while
    /// rehashing, if `n < len`, or if the size would not change.
    fn resize(&mut self, n: usize) {
        if self.is_rehashing() || n < self.ht[0].used {
            return;
        }
        let size = table_size_for(n);
        if size == self.ht[0].size() {
            return;
        }
        if self.ht[0].size() == 0 {
            self.ht[0] = Table::with_size(size);
            return;
        }
        self.ht[1] = Table::with_size(size);
        self.rehash_idx = 0;
    }

    /// Redis's `dictExpand`: makes room for `n` entries at once (a load that knows its key
    /// count from RESIZEDB), so the table does not double its way up while they arrive.
    /// Nothing happens while a rehash runs or when `n` is not above the current count.
    pub fn expand(&mut self, n: usize) {
        if n > self.len() {
            self.resize(n);
        }
    }

    /// Redis's `_dictExpandIfNeeded`, called before adding a new key.
    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let size = self.ht[0].size();
        if size == 0 {
            self.resize(INITIAL_SIZE);
            return;
        }
        let used = self.ht[0].used;
        let grow = match self.policy {
            ResizePolicy::Enable => used >= size,
            ResizePolicy::Avoid => used > FORCE_RESIZE_RATIO.saturating_mul(size),
        };
        if grow {
            self.resize(used + 1);
        }
    }

    /// Cron hook (Redis's `htNeedsResize` + `dictResize`): if fewer than 10% of
    /// the buckets would be used and the table is bigger than 4 buckets, start
    /// shrinking to the next power of two `>= len`. Does nothing while
    /// rehashing or under [`ResizePolicy::Avoid`].
    pub fn shrink_to_fit_if_sparse(&mut self) {
        if self.policy == ResizePolicy::Avoid || self.is_rehashing() {
            return;
        }
        let size = self.ht[0].size();
        let used = self.ht[0].used;
        if size > INITIAL_SIZE && used.saturating_mul(100) / size < MIN_FILL_PERCENT {
            self.resize(used);
        }
    }

    fn find<Q>(&self, key: &Q) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        self.ht[0]
            .find(h, key)
            .or_else(|| if self.is_rehashing() { self.ht[1].find(h, key) } else { None })
    }

    fn find_mut_hashed<Q>(&mut self, h: u64, key: &Q) -> Option<&mut Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let (t, depth) = self.locate(h, key)?;
        Some(self.ht[t].nth_mut(h, depth))
    }

    /// Where `key` is: its table and depth in the chain. For callers that return a mutable
    /// borrow conditionally (insert if absent): the borrow checker cannot yet let a function
    /// return the borrow of a first lookup and use `self` again when it found nothing (NLL
    /// problem case 3), so they locate immutably, comparing keys, and then follow the chain
    /// to that depth with [`Table::nth_mut`], without comparing again. A second full lookup
    /// cost an INCR on an existing key a second round of `memcmp` on cold key allocations (a
    /// quarter of its time under redis-benchmark).
    fn locate<Q>(&self, h: u64, key: &Q) -> Option<(usize, usize)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if let Some(depth) = self.ht[0].depth_of(h, key) {
            Some((0, depth))
        } else if self.is_rehashing() {
            Some((1, self.ht[1].depth_of(h, key)?))
        } else {
            None
        }
    }

    /// Links a new node at the head of its bucket (in `ht[1]` while
    /// rehashing). The caller has checked the key is absent and called
    /// `expand_if_needed`.
    fn insert_new(&mut self, h: u64, key: K, value: V) -> &mut V {
        let t = &mut self.ht[if self.is_rehashing() { 1 } else { 0 }];
        let mask = t.mask();
        let slot = &mut t.buckets[h as usize & mask];
        let next = slot.take();
        let e = slot.insert(Box::new(Entry { key, value, next }));
        t.used += 1;
        &mut e.value
    }

    /// Looks `key` up. Takes `&self` and writes nothing (no rehash step).
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key).map(|e| &e.value)
    }

    /// Like [`get`](Self::get), also returning the stored key.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key).map(|e| (&e.key, &e.value))
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key).is_some()
    }

    /// Mutable lookup; does one rehash step (it is a write path anyway).
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value_mut(key).map(|(_, v)| v)
    }

    /// The stored key and value, both mutable. The caller must not change anything in the
    /// key that its hash or equality depend on (the keyspace updates access metadata kept
    /// beside the key bytes, which neither covers).
    pub fn get_key_value_mut<Q>(&mut self, key: &Q) -> Option<(&mut K, &mut V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.rehash_step();
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        self.find_mut_hashed(h, key).map(|e| (&mut e.key, &mut e.value))
    }

    /// Inserts or replaces. On replace the existing key is kept, the new `key`
    /// is dropped and the old value returned.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.rehash_step();
        let h = self.hash(&key);
        if let Some(e) = self.find_mut_hashed(h, &key) {
            return Some(std::mem::replace(&mut e.value, value));
        }
        self.expand_if_needed();
        self.insert_new(h, key, value);
        None
    }

    /// The value of `key`, inserting `make_key()` with `make_value()` first when absent; the
    /// flag says whether it was inserted. One hash computation.
    pub fn get_or_insert_by<Q, F, G>(
        &mut self,
        key: &Q,
        make_key: F,
        make_value: G,
    ) -> (&mut V, bool)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        F: FnOnce() -> K,
        G: FnOnce() -> V,
    {
        self.rehash_step();
        let h = self.hash(key);
        if let Some((t, depth)) = self.locate(h, key) {
            return (&mut self.ht[t].nth_mut(h, depth).value, false);
        }
        self.expand_if_needed();
        (self.insert_new(h, make_key(), make_value()), true)
    }

    /// Sets the value of `key` with one hash computation: an existing entry gets `value` (and
    /// `on_existing` may update metadata beside its key) and the old value is returned; a
    /// missing key is inserted as `make_key()`, built only then.
    pub fn upsert<Q, F, G>(&mut self, key: &Q, value: V, make_key: F, on_existing: G) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        F: FnOnce() -> K,
        G: FnOnce(&mut K),
    {
        self.rehash_step();
        let h = self.hash(key);
        if let Some(e) = self.find_mut_hashed(h, key) {
            on_existing(&mut e.key);
            return Some(std::mem::replace(&mut e.value, value));
        }
        self.expand_if_needed();
        self.insert_new(h, make_key(), value);
        None
    }

    /// Returns the value for `key`, inserting `f()` first if absent (the
    /// passed `key` is dropped if one is already present).
    pub fn get_or_insert_with<F: FnOnce() -> V>(&mut self, key: K, f: F) -> &mut V {
        self.rehash_step();
        let h = self.hash(&key);
        if let Some((t, depth)) = self.locate(h, &key) {
            return &mut self.ht[t].nth_mut(h, depth).value;
        }
        self.expand_if_needed();
        self.insert_new(h, key, f())
    }

    /// Removes `key`, returning the stored key and value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_detached(key).map(Detached::into_parts)
    }
}

/// An entry taken out of a [`Dict`] with its node allocation kept ([`Dict::remove_detached`]):
/// whoever holds it decides when the node, key and value are freed (the keyspace defers frees
/// while a fork child shares the memory).
pub struct Detached<K, V>(Box<Entry<K, V>>);

impl<K, V> Detached<K, V> {
    pub fn key(&self) -> &K {
        &self.0.key
    }

    pub fn value(&self) -> &V {
        &self.0.value
    }

    /// The key and value, the node freed.
    pub fn into_parts(self) -> (K, V) {
        let Entry { key, value, .. } = *self.0;
        (key, value)
    }

    /// Swaps the value out for `with`, keeping the node and its key detached.
    pub fn replace_value(&mut self, with: V) -> V {
        std::mem::replace(&mut self.0.value, with)
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> Dict<K, V, S> {
    /// Removes `key` as [`remove`](Self::remove) does, but hands back the node itself
    /// instead of freeing it.
    pub fn remove_detached<Q>(&mut self, key: &Q) -> Option<Detached<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.rehash_step();
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        let rehashing = self.is_rehashing();
        let [t0, t1] = &mut self.ht;
        t0.unlink(h, key).or_else(|| if rehashing { t1.unlink(h, key) } else { None }).map(Detached)
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for Dict<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher + Default> FromIterator<(K, V)> for Dict<K, V, S> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut d = Self::default();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

// ---------------------------------------------------------------------------
// Iterators
// ---------------------------------------------------------------------------

/// Borrowing iterator over all entries; see [`Dict::iter`].
pub struct Iter<'a, K, V> {
    tables: [&'a [Link<K, V>]; 2],
    t: usize,
    idx: usize,
    cur: Option<&'a Entry<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.cur {
                self.cur = e.next.as_deref();
                self.remaining -= 1;
                return Some((&e.key, &e.value));
            }
            if self.remaining == 0 || self.t >= 2 {
                return None;
            }
            let buckets = self.tables[self.t];
            if self.idx >= buckets.len() {
                self.t += 1;
                self.idx = 0;
                continue;
            }
            self.cur = buckets[self.idx].as_deref();
            self.idx += 1;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

impl<'a, K, V, S> IntoIterator for &'a Dict<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

/// Owning iterator; see [`Dict::drain`] and `Dict::into_iter`.
pub struct IntoIter<K, V> {
    tables: [Table<K, V>; 2],
    t: usize,
    idx: usize,
    chain: Link<K, V>,
    remaining: usize,
}

impl<K, V> Iterator for IntoIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(mut e) = self.chain.take() {
                self.chain = e.next.take();
                self.remaining -= 1;
                let Entry { key, value, .. } = *e;
                return Some((key, value));
            }
            if self.remaining == 0 || self.t >= 2 {
                return None;
            }
            let table = &mut self.tables[self.t];
            if self.idx >= table.buckets.len() {
                self.t += 1;
                self.idx = 0;
                continue;
            }
            self.chain = table.buckets[self.idx].take();
            self.idx += 1;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for IntoIter<K, V> {}

impl<K, V> Drop for IntoIter<K, V> {
    fn drop(&mut self) {
        // The tables drop their chains iteratively; the chain in flight too.
        drop_chain(self.chain.take());
    }
}

impl<K, V, S> IntoIterator for Dict<K, V, S> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;
    fn into_iter(mut self) -> IntoIter<K, V> {
        self.drain()
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngCore, SeedableRng};
    use std::collections::{HashMap, HashSet};

    fn key(i: u64) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    impl<K, V, S> Dict<K, V, S> {
        /// Test-only: sizes of both arrays and the rehash index.
        fn state(&self) -> (usize, usize, usize) {
            (self.ht[0].size(), self.ht[1].size(), self.rehash_idx)
        }
        /// Test-only: longest chain.
        fn max_chain(&self) -> usize {
            let mut best = 0;
            for t in &self.ht {
                for b in t.buckets.iter() {
                    let mut n = 0;
                    let mut cur = b.as_deref();
                    while let Some(e) = cur {
                        n += 1;
                        cur = e.next.as_deref();
                    }
                    best = best.max(n);
                }
            }
            best
        }
        /// Test-only: push into bucket 0 of ht[0] without any check, to build
        /// pathological chains quickly.
        fn push_unchecked_bucket0(&mut self, key: K, value: V) {
            if self.ht[0].size() == 0 {
                self.ht[0] = Table::with_size(INITIAL_SIZE);
            }
            let slot = &mut self.ht[0].buckets[0];
            let next = slot.take();
            *slot = Some(Box::new(Entry { key, value, next }));
            self.ht[0].used += 1;
        }
    }

    #[test]
    fn siphash24_reference_vector() {
        // SipHash paper, appendix A: key 00..0f, message 00..0e.
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0u8..15).collect();
        let mut h = SipHasher::<2, 4>::new_with_keys(k0, k1);
        h.write(&msg);
        assert_eq!(h.finish(), 0xa129_ca61_49be_45e5);
    }

    #[test]
    #[allow(deprecated)]
    fn siphash_streaming_matches_std() {
        let mut rng = StdRng::seed_from_u64(7);
        for len in 0..70usize {
            let msg: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
            let (k0, k1) = (rng.next_u64(), rng.next_u64());
            let mut reference = std::hash::SipHasher::new_with_keys(k0, k1);
            reference.write(&msg);
            let want = reference.finish();
            // Same message split into random pieces.
            let mut ours = SipHasher::<2, 4>::new_with_keys(k0, k1);
            let mut rest = &msg[..];
            while !rest.is_empty() {
                let n = rng.gen_range(0..=rest.len().min(11));
                ours.write(&rest[..n]);
                rest = &rest[n..];
            }
            assert_eq!(ours.finish(), want, "len {len}");
            // SipHash-1-2 is split-invariant too.
            let mut a = SipHasher12::new_with_keys(k0, k1);
            a.write(&msg);
            let mut b = SipHasher12::new_with_keys(k0, k1);
            for byte in &msg {
                b.write(std::slice::from_ref(byte));
            }
            assert_eq!(a.finish(), b.finish());
            // The word-at-a-time length prefix hashes as its bytes would, at any offset.
            for lead in [0, 3, 8] {
                let mut words = SipHasher12::new_with_keys(k0, k1);
                let mut bytes = SipHasher12::new_with_keys(k0, k1);
                words.write(&msg[..lead.min(len)]);
                bytes.write(&msg[..lead.min(len)]);
                words.write_usize(len);
                bytes.write(&len.to_le_bytes());
                words.write(&msg);
                bytes.write(&msg);
                assert_eq!(words.finish(), bytes.finish(), "len {len} lead {lead}");
            }
        }
    }

    #[test]
    fn hasher_is_keyed() {
        let a = SipBuildHasher::with_keys(1, 2);
        let b = SipBuildHasher::with_keys(1, 3);
        assert_ne!(a.hash_one(b"hello".as_slice()), b.hash_one(b"hello".as_slice()));
        assert_eq!(a.hash_one(b"hello".as_slice()), a.hash_one(b"hello".as_slice()));
        // Per-process seed is stable across builders, and borrowed forms agree.
        let s = SipBuildHasher::new();
        assert_eq!(s, SipBuildHasher::new());
        let v: Vec<u8> = b"abc".to_vec();
        let bx: Box<[u8]> = v.clone().into_boxed_slice();
        assert_eq!(s.hash_one(&v), s.hash_one(b"abc".as_slice()));
        assert_eq!(s.hash_one(&bx), s.hash_one(b"abc".as_slice()));
    }

    #[test]
    fn basic_insert_get_remove_replace() {
        let mut d: Dict<Box<[u8]>, u32> = Dict::new();
        assert!(d.is_empty());
        assert_eq!(d.buckets(), 0);
        assert_eq!(d.get(b"a".as_slice()), None);
        assert_eq!(d.remove(b"a".as_slice()), None);
        assert_eq!(d.insert(Box::from(&b"a"[..]), 1), None);
        assert_eq!(d.insert(Box::from(&b"b"[..]), 2), None);
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(b"a".as_slice()), Some(&1));
        assert!(d.contains_key(b"b".as_slice()));
        assert_eq!(d.insert(Box::from(&b"a"[..]), 10), Some(1));
        assert_eq!(d.len(), 2);
        *d.get_mut(b"b".as_slice()).unwrap() += 5;
        assert_eq!(d.get(b"b".as_slice()), Some(&7));
        assert_eq!(*d.get_or_insert_with(Box::from(&b"c"[..]), || 3), 3);
        *d.get_or_insert_with(Box::from(&b"c"[..]), || 99) += 1;
        assert_eq!(d.get(b"c".as_slice()), Some(&4));
        let (k, v) = d.remove(b"a".as_slice()).unwrap();
        assert_eq!((&*k, v), (&b"a"[..], 10));
        assert_eq!(d.get(b"a".as_slice()), None);
        assert_eq!(d.len(), 2);
        let mut all: Vec<_> = d.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
        all.sort();
        assert_eq!(all, vec![(b"b".to_vec(), 7), (b"c".to_vec(), 4)]);
        d.clear();
        assert!(d.is_empty());
        assert_eq!(d.buckets(), 0);
        d.insert(Box::from(&b"z"[..]), 0);
        assert_eq!(d.len(), 1);
        let f = format!("{d:?}");
        assert!(f.contains("122"), "{f}");
    }

    /// Key whose identity is `id`; `tag` tells which instance is stored.
    #[derive(Debug)]
    struct Tagged {
        id: u32,
        tag: u32,
    }
    impl PartialEq for Tagged {
        fn eq(&self, o: &Self) -> bool {
            self.id == o.id
        }
    }
    impl Eq for Tagged {}
    impl Hash for Tagged {
        fn hash<H: Hasher>(&self, h: &mut H) {
            self.id.hash(h)
        }
    }

    #[test]
    fn replace_keeps_existing_key() {
        let mut d: Dict<Tagged, &str> = Dict::new();
        d.insert(Tagged { id: 1, tag: 1 }, "first");
        assert_eq!(d.insert(Tagged { id: 1, tag: 2 }, "second"), Some("first"));
        let (k, v) = d.get_key_value(&Tagged { id: 1, tag: 0 }).unwrap();
        assert_eq!((k.tag, *v), (1, "second"));
        d.get_or_insert_with(Tagged { id: 1, tag: 3 }, || "third");
        let (k, v) = d.get_key_value(&Tagged { id: 1, tag: 0 }).unwrap();
        assert_eq!((k.tag, *v), (1, "second"));
    }

    #[test]
    fn with_capacity_does_not_grow_until_full() {
        let mut d: Dict<u64, u64> = Dict::with_capacity(100);
        assert_eq!(d.buckets(), 128);
        for i in 0..128 {
            d.insert(i, i);
        }
        assert!(!d.is_rehashing());
        assert_eq!(d.buckets(), 128);
        d.insert(128, 128);
        assert!(d.is_rehashing());
        assert_eq!(d.state().1, 256);
    }

    /// 100k random operations checked against std's HashMap, with phases that
    /// grow and shrink the table many times, policy toggles and cron calls.
    #[test]
    fn model_check_against_hashmap() {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let mut d: Dict<Vec<u8>, u64> = Dict::new();
        let mut m: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut rehashing_ops = 0usize;
        let mut grows = 0usize;
        let mut shrinks = 0usize;
        let mut last = d.state();
        let mut sweep = 0u64;
        for op in 0..100_000u64 {
            // 4 phases of 25k ops: grow big, shrink, grow with Avoid, shrink.
            let phase = op / 12_500 % 4;
            let growing = phase % 2 == 0;
            let space = if phase == 2 { 2_000 } else { 20_000 };
            if op % 12_500 == 0 {
                d.set_resize_policy(if phase == 2 {
                    ResizePolicy::Avoid
                } else {
                    ResizePolicy::Enable
                });
            }
            let k = key(rng.gen_range(0..space));
            // (insert, remove, get, get_mut) thresholds; the rest is get_or_insert_with.
            let (ins, rem, get, get_mut) = if growing { (50, 65, 80, 85) } else { (5, 80, 90, 95) };
            let r = rng.gen_range(0..100);
            if r < ins {
                assert_eq!(d.insert(k.clone(), op), m.insert(k, op));
            } else if r < rem {
                let got = d.remove(k.as_slice());
                let want = m.remove_entry(&k);
                assert_eq!(got, want);
                if !growing {
                    // Sweep the key space so the table really empties.
                    for _ in 0..3 {
                        let k = key(sweep);
                        sweep = (sweep + 1) % space;
                        assert_eq!(d.remove(k.as_slice()), m.remove_entry(&k));
                    }
                }
            } else if r < get {
                assert_eq!(d.get(k.as_slice()), m.get(&k));
                assert_eq!(d.contains_key(k.as_slice()), m.contains_key(&k));
            } else if r < get_mut {
                let a = d.get_mut(k.as_slice()).map(|v| {
                    *v += 1;
                    *v
                });
                let b = m.get_mut(&k).map(|v| {
                    *v += 1;
                    *v
                });
                assert_eq!(a, b);
            } else {
                let a = *d.get_or_insert_with(k.clone(), || op);
                let b = *m.entry(k).or_insert(op);
                assert_eq!(a, b);
            }
            if op % 1000 == 999 {
                d.shrink_to_fit_if_sparse();
            }
            if op % 5000 == 4999 {
                d.rehash_for(Duration::from_micros(50));
            }
            assert_eq!(d.len(), m.len());
            if d.is_rehashing() {
                rehashing_ops += 1;
            }
            let now = d.state();
            if now.1 != 0 && last.1 == 0 {
                if now.1 > now.0 {
                    grows += 1;
                } else {
                    shrinks += 1;
                }
            }
            last = now;
        }
        assert!(rehashing_ops > 1000, "{rehashing_ops}");
        assert!(grows >= 10 && shrinks >= 2, "grows {grows} shrinks {shrinks}");
        // Every lookup agrees, for present and absent keys.
        for i in 0..20_000 {
            let k = key(i);
            assert_eq!(d.get(k.as_slice()), m.get(&k));
        }
        let mut got: Vec<_> = d.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let mut want: Vec<_> = m.into_iter().collect();
        got.sort();
        want.sort();
        assert_eq!(got.len(), d.iter().len());
        assert_eq!(got, want);
        // Load factor stays sane under Enable.
        assert!(d.max_chain() < 16, "{}", d.max_chain());
        let drained: Vec<_> = d.drain().collect();
        assert_eq!(drained.len(), want.len());
        assert!(d.is_empty());
    }

    #[test]
    fn get_does_not_advance_rehashing() {
        let mut d: Dict<Vec<u8>, u64> = Dict::new();
        let mut i = 0;
        while !(d.is_rehashing() && d.state().0 >= 1024) {
            d.insert(key(i), i);
            i += 1;
        }
        let before = d.state();
        let mut rng = StdRng::seed_from_u64(1);
        for j in 0..i * 2 {
            assert_eq!(d.get(key(j).as_slice()), if j < i { Some(&j) } else { None });
            assert!(d.contains_key(key(j % i).as_slice()));
            let _ = d.get_key_value(key(j).as_slice());
        }
        let _ = d.iter().count();
        let _ = d.scan(0, |_, _| {});
        let _ = d.random_entry(&mut rng);
        let mut out = Vec::new();
        d.sample(&mut rng, 10, &mut out);
        assert_eq!(d.state(), before);
        // Write paths do advance it.
        d.get_mut(key(0).as_slice());
        assert_ne!(d.state(), before);
        let mid = d.state();
        d.remove(b"absent".as_slice());
        assert_ne!(d.state(), mid);
        assert!(!d.rehash_for(Duration::from_secs(10)));
        assert!(!d.is_rehashing());
        for j in 0..i {
            assert_eq!(d.get(key(j).as_slice()), Some(&j));
        }
    }

    #[test]
    fn avoid_policy_limits_growth_and_pauses_rehash() {
        let mut d: Dict<u64, u64> = Dict::new();
        d.set_resize_policy(ResizePolicy::Avoid);
        // First insert still allocates the initial 4 buckets.
        for i in 0..21 {
            d.insert(i, i);
        }
        assert_eq!(d.state(), (4, 0, 0), "load 21/4 <= 5 must not grow");
        d.insert(21, 21); // 21 > 5*4 at check time -> grow
        assert!(d.is_rehashing());
        assert_eq!(d.state().1, 32);
        while d.is_rehashing() {
            d.insert(1000, 0); // write path; rehash allowed since 22 > 5*4
        }
        assert_eq!(d.buckets(), 32);
        // No shrink under Avoid, even when very sparse.
        for i in 0..22 {
            d.remove(&i);
        }
        d.remove(&1000);
        d.insert(7, 7);
        d.shrink_to_fit_if_sparse();
        assert_eq!(d.buckets(), 32);
        d.set_resize_policy(ResizePolicy::Enable);
        d.shrink_to_fit_if_sparse();
        assert!(d.is_rehashing());
        assert!(!d.rehash_for(Duration::from_secs(1)));
        assert_eq!(d.buckets(), 4);

        // A growth started before the fork pauses while the child exists.
        let mut d: Dict<u64, u64> = Dict::new();
        let mut i = 0;
        while d.state().1 != 128 {
            d.insert(i, i);
            i += 1;
        }
        d.insert(i, i); // one more step so rehash_idx > 0
        i += 1;
        let (s0, s1, _) = d.state();
        assert_eq!((s0, s1), (64, 128));
        d.set_resize_policy(ResizePolicy::Avoid);
        let paused = d.state();
        for _ in 0..100 {
            d.get_mut(&0);
        }
        assert!(d.rehash_for(Duration::from_millis(1)));
        assert_eq!(d.state(), paused);
        // ... until the old table is overloaded past the force ratio.
        while d.len() <= 5 * 64 {
            d.insert(i, i);
            i += 1;
        }
        assert!(!d.rehash_for(Duration::from_secs(1)));
        for j in 0..i {
            assert_eq!(d.get(&j), Some(&j));
        }
        d.set_resize_policy(ResizePolicy::Enable);
    }

    /// Scans while inserting and deleting other keys between calls, so the
    /// table grows and shrinks (and is often mid-rehash) during the scan.
    fn scan_with_churn(seed: u64) -> (usize, usize, usize) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut d: Dict<Vec<u8>, u64> = Dict::new();
        let stable: Vec<Vec<u8>> = (0..300).map(|i| format!("stable:{i}").into_bytes()).collect();
        for (i, k) in stable.iter().enumerate() {
            d.insert(k.clone(), i as u64);
        }
        let mut extras: Vec<Vec<u8>> = Vec::new();
        let mut next_extra = 0u64;
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let (mut calls, mut mid_grow, mut mid_shrink) = (0usize, 0usize, 0usize);
        let mut cursor = 0u64;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.clone());
            });
            calls += 1;
            assert!(calls < 1_000_000, "scan does not terminate");
            if cursor == 0 {
                break;
            }
            // Alternate growth and shrink phases of 40 calls.
            if calls / 40 % 2 == 0 {
                for _ in 0..rng.gen_range(0..120) {
                    let k = format!("extra:{next_extra}").into_bytes();
                    next_extra += 1;
                    d.insert(k.clone(), 0);
                    extras.push(k);
                }
            } else {
                for _ in 0..rng.gen_range(0..200) {
                    if extras.is_empty() {
                        break;
                    }
                    let idx = rng.gen_range(0..extras.len());
                    let k = extras.swap_remove(idx);
                    assert!(d.remove(k.as_slice()).is_some());
                }
                d.shrink_to_fit_if_sparse();
            }
            if rng.gen_ratio(1, 10) {
                d.rehash_for(Duration::ZERO);
            }
            let (s0, s1, _) = d.state();
            if s1 > s0 {
                mid_grow += 1;
            } else if s1 != 0 {
                mid_shrink += 1;
            }
        }
        for k in &stable {
            assert!(
                seen.contains(k),
                "seed {seed}: stable key {:?} never returned",
                String::from_utf8_lossy(k)
            );
        }
        (calls, mid_grow, mid_shrink)
    }

    #[test]
    fn scan_guarantee_across_grow_and_shrink() {
        let (mut grow, mut shrink) = (0, 0);
        for seed in 0..40 {
            let (_calls, g, s) = scan_with_churn(seed);
            grow += g;
            shrink += s;
        }
        assert!(grow > 100, "scan calls made mid-growth: {grow}");
        assert!(shrink > 20, "scan calls made mid-shrink: {shrink}");
    }

    #[test]
    fn scan_static_table_returns_each_entry_once() {
        // Both a settled table and one frozen mid-rehash (growth and shrink).
        let mut d: Dict<u64, u64> = Dict::new();
        for i in 0..1000 {
            d.insert(i, i);
        }
        let check = |d: &Dict<u64, u64>| {
            let mut counts: HashMap<u64, usize> = HashMap::new();
            let mut c = 0;
            loop {
                c = d.scan(c, |k, _| *counts.entry(*k).or_default() += 1);
                if c == 0 {
                    break;
                }
            }
            assert_eq!(counts.len(), d.len());
            assert!(counts.values().all(|&n| n == 1));
        };
        d.rehash_for(Duration::from_secs(1));
        check(&d);
        let mut i = 1000;
        while !d.is_rehashing() {
            d.insert(i, i);
            i += 1;
        }
        d.insert(i, i);
        let (s0, s1, idx) = d.state();
        assert!(s1 > s0 && idx > 0);
        check(&d);
        d.rehash_for(Duration::from_secs(1));
        for j in 0..i - 10 {
            d.remove(&j);
        }
        d.shrink_to_fit_if_sparse();
        d.remove(&(i - 5));
        let (s0, s1, idx) = d.state();
        assert!(s1 != 0 && s1 < s0 && idx > 0);
        check(&d);
        let empty: Dict<u64, u64> = Dict::new();
        assert_eq!(empty.scan(0, |_, _| panic!()), 0);
    }

    #[test]
    fn random_entry_on_sparse_table_terminates() {
        let mut rng = StdRng::seed_from_u64(3);
        let empty: Dict<u64, u64> = Dict::new();
        assert!(empty.random_entry(&mut rng).is_none());
        let mut d: Dict<u64, u64> = Dict::with_capacity(1 << 20);
        d.insert(42, 1);
        for _ in 0..50 {
            assert_eq!(d.random_entry(&mut rng), Some((&42, &1)));
        }
        // Sparse *and* mid-rehash (shrinking), with the only key anywhere.
        let mut d: Dict<u64, u64> = Dict::new();
        for i in 0..100_000 {
            d.insert(i, i);
        }
        d.rehash_for(Duration::from_secs(5));
        for i in 1..100_000 {
            d.remove(&i);
        }
        d.shrink_to_fit_if_sparse();
        assert!(d.is_rehashing());
        for _ in 0..50 {
            assert_eq!(d.random_entry(&mut rng), Some((&0, &0)));
            assert_eq!(d.random_entry_unfair(&mut rng), Some((&0, &0)));
        }
    }

    #[test]
    fn random_entry_covers_small_table() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut d: Dict<u64, u64> = Dict::new();
        for i in 0..50 {
            d.insert(i, i);
        }
        let mut hits: HashMap<u64, usize> = HashMap::new();
        for _ in 0..20_000 {
            let (k, _) = d.random_entry(&mut rng).unwrap();
            *hits.entry(*k).or_default() += 1;
        }
        assert_eq!(hits.len(), 50);
        // Fair-ish: nobody is picked more than 4x the mean (400).
        assert!(hits.values().all(|&n| n < 1600 && n > 50), "{hits:?}");
    }

    #[test]
    fn sample_returns_distinct_entries() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut d: Dict<u64, u64> = Dict::new();
        for i in 0..10_000 {
            d.insert(i, i * 2);
        }
        // Entries found by one contiguous walk are distinct; a jump after a
        // run of empty buckets may land on buckets already walked (Redis
        // accepts that too), so only nearly all of them must be distinct.
        let (mut total, mut distinct) = (0, 0);
        for _ in 0..200 {
            let mut out = Vec::new();
            d.sample(&mut rng, 16, &mut out);
            assert!(!out.is_empty() && out.len() <= 16);
            let keys: HashSet<u64> = out.iter().map(|(k, _)| **k).collect();
            total += out.len();
            distinct += keys.len();
            assert!(out.iter().all(|(k, v)| **v == **k * 2));
        }
        assert!(total >= 200 * 15, "{total}");
        assert!(distinct * 100 >= total * 95, "{distinct}/{total}");
        // Mid-rehash: samples come from both arrays.
        let mut i = 10_000;
        while !d.is_rehashing() {
            d.insert(i, i * 2);
            i += 1;
        }
        for _ in 0..50 {
            d.insert(i, i * 2);
            i += 1;
        }
        let mut out = Vec::new();
        d.sample(&mut rng, 100, &mut out);
        let keys: HashSet<u64> = out.iter().map(|(k, _)| **k).collect();
        assert!(keys.len() >= 80, "{}", keys.len());
        // Asking for more than len gives at most len.
        let mut small: Dict<u64, u64> = Dict::new();
        small.insert(1, 1);
        small.insert(2, 2);
        let mut out = Vec::new();
        small.sample(&mut rng, 10, &mut out);
        assert!(out.len() <= 2);
    }

    #[test]
    fn drop_of_huge_table_and_long_chain_is_iterative() {
        // Run on a thread with a small stack so a recursive drop would crash.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let mut d: Dict<u64, u64> = Dict::new();
                for i in 0..1_000_000 {
                    d.insert(i, i);
                }
                assert_eq!(d.len(), 1_000_000);
                drop(d);
                // One chain of 1M nodes.
                let mut d: Dict<u64, u64> = Dict::new();
                for i in 0..1_000_000 {
                    d.push_unchecked_bucket0(i, i);
                }
                assert_eq!(d.max_chain(), 1_000_000);
                drop(d);
                let mut d: Dict<u64, u64> = Dict::new();
                for i in 0..1_000_000 {
                    d.push_unchecked_bucket0(i, i);
                }
                d.clear();
                for i in 0..1_000_000 {
                    d.push_unchecked_bucket0(i, i);
                }
                let mut it = d.into_iter();
                assert_eq!(it.next(), Some((999_999, 999_999)));
                drop(it); // drops the in-flight chain of 999_999 nodes
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn memory_layout_matches_docs() {
        use std::mem::size_of;
        assert_eq!(size_of::<Dict<Box<[u8]>, u64>>(), 80);
        assert_eq!(size_of::<Link<Box<[u8]>, u64>>(), 8);
        // key (16) + value (8) + next (8)
        assert_eq!(size_of::<Entry<Box<[u8]>, u64>>(), 32);
        let mut d: Dict<u64, u64> = Dict::with_hasher(SipBuildHasher::with_keys(1, 2));
        for i in 0..1000 {
            d.insert(i, i);
        }
        d.rehash_for(Duration::from_secs(1));
        assert_eq!(d.buckets(), 1024);
        for i in 0..1000 {
            d.remove(&i);
        }
        d.insert(1, 1);
        d.shrink_to_fit_if_sparse();
        d.rehash_for(Duration::from_secs(1));
        assert_eq!(d.buckets(), INITIAL_SIZE);
    }

    #[test]
    fn drain_and_into_iter_mid_rehash() {
        let mut d: Dict<u64, String> = (0..1000u64).map(|i| (i, i.to_string())).collect();
        let mut i = 1000;
        while !d.is_rehashing() {
            d.insert(i, i.to_string());
            i += 1;
        }
        let n = d.len();
        assert_eq!(d.iter().len(), n);
        let mut keys: Vec<u64> = d
            .drain()
            .map(|(k, v)| {
                assert_eq!(k.to_string(), v);
                k
            })
            .collect();
        keys.sort();
        assert_eq!(keys, (0..i).collect::<Vec<_>>());
        assert!(d.is_empty() && !d.is_rehashing() && d.buckets() == 0);
        d.insert(1, "1".into());
        assert_eq!(d.into_iter().collect::<Vec<_>>(), vec![(1, "1".to_string())]);
    }
}
