//! The one place where the RDB code builds tine's lists, hashes, sets and sorted sets, or
//! walks them in a way their CONTRACT methods (`len`, `encoding`, `iter`, `as_listpack`,
//! `as_intset`) do not cover. The inner representations are being rewritten on other
//! branches; whoever merges adapts this file and nothing else in `persist/rdb`.
//!
//! The encoding rules are Redis 7.0's `rdbLoadObject` ones (see `reader.rs`), applied with the
//! thresholds of [`LoadLimits`]:
//!
//! * a set read member by member (SET) is an intset while every member is a canonical integer
//!   and the declared count is at most `set-max-intset-entries`; an INTSET blob with more
//!   members than that becomes a table;
//! * a hash read pair by pair (HASH) is a listpack while the declared count is at most
//!   `hash-max-listpack-entries` and every field and value is at most
//!   `hash-max-listpack-value` bytes; a listpack/ziplist blob becomes a table only when it has
//!   too many entries (a zipmap also when an element is too long);
//! * a sorted set read pair by pair (ZSET, ZSET_2) is built as a skiplist and turned into a
//!   listpack afterwards when it has at most `zset-max-listpack-entries` members of at most
//!   `zset-max-listpack-value` bytes; a blob becomes a skiplist when it has too many entries;
//! * a list is a quicklist whose nodes are kept as they come (QUICKLIST_2, QUICKLIST) or which
//!   is filled element by element (LIST, LIST_ZIPLIST).

use std::collections::HashSet;

use super::RdbError;
use super::reader::LoadLimits;
use crate::keyspace::{Str, Value};
use crate::types::dict::Dict;
use crate::types::hash::{FieldValue, Hash, HashTable};
use crate::types::intset::IntSet;
use crate::types::list::List;
use crate::types::listpack::{Entry, IntBuf, LISTPACK_MAX_SAFETY_SIZE, Listpack, string_to_i64};
use crate::types::set::{Member, Set, SetTable};
use crate::types::skiplist::SortedSet;
use crate::types::zset::ZSet;

// ---------------------------------------------------------------------------------------
// Walking (writer)
// ---------------------------------------------------------------------------------------

/// Calls `f` with every (member, score) of a skiplist-encoded sorted set from the highest to
/// the lowest, the order Redis writes ZSET_2 (so that loading inserts at the skiplist head).
/// Returns false when the sorted set is not skiplist-encoded.
pub fn zset_for_each_rev(z: &ZSet, mut f: impl FnMut(&[u8], f64)) -> bool {
    match z {
        ZSet::Skiplist(s) => {
            for (m, sc) in s.iter_rev() {
                f(m, sc);
            }
            true
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------

/// A string value in the form SET would give it (Redis's `tryObjectEncoding` on load).
pub fn string(b: &[u8]) -> Value {
    Value::Str(Str::from_bytes(b))
}

// ---------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------

/// A list from listpack nodes (empty nodes dropped); `None` when no element is left.
pub fn list_from_nodes(limits: &LoadLimits, nodes: Vec<Listpack>) -> Option<Value> {
    let l = List::from_nodes(limits.list_max_listpack_size, nodes);
    if l.is_empty() { None } else { Some(Value::List(Box::new(l))) }
}

/// A list filled element by element.
pub struct ListBuilder(List);

impl ListBuilder {
    pub fn new(limits: &LoadLimits) -> ListBuilder {
        ListBuilder(List::new(limits.list_max_listpack_size))
    }
    pub fn push(&mut self, e: &[u8]) {
        self.0.push_back(e);
    }
    pub fn finish(self) -> Option<Value> {
        if self.0.is_empty() { None } else { Some(Value::List(Box::new(self.0))) }
    }
}

// ---------------------------------------------------------------------------------------
// Sets
// ---------------------------------------------------------------------------------------

fn intset_to_table(is: &IntSet, extra: usize) -> SetTable {
    let mut t = Dict::with_capacity(is.len() + extra);
    for v in is.iter() {
        t.insert(Member::new(itoa::Buffer::new().format(v).as_bytes()), ());
    }
    t
}

/// A set read member by member (RDB_TYPE_SET).
pub struct SetBuilder {
    set: Set,
    cap: usize,
}

impl SetBuilder {
    /// `len` is the declared member count, `cap` the most members the remaining input can
    /// hold (the bound for preallocation).
    pub fn new(limits: &LoadLimits, len: u64, cap: usize) -> SetBuilder {
        let max = limits.set_max_intset_entries.min(1 << 30) as u64;
        let set = if len > max {
            Set::Table(Box::new(Dict::with_capacity(cap)))
        } else {
            Set::Intset(IntSet::new())
        };
        SetBuilder { set, cap }
    }

    pub fn add(&mut self, m: Vec<u8>) -> Result<(), RdbError> {
        const DUP: RdbError = RdbError::DuplicateElement("set members");
        if let Set::Intset(is) = &mut self.set {
            match string_to_i64(&m) {
                Some(v) => {
                    return if is.insert(v) { Ok(()) } else { Err(DUP) };
                }
                None => {
                    let t = intset_to_table(is, self.cap);
                    self.set = Set::Table(Box::new(t));
                }
            }
        }
        if let Set::Table(t) = &mut self.set {
            if t.insert(Member::new(&m), ()).is_some() {
                return Err(DUP);
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Option<Value> {
        if self.set.is_empty() { None } else { Some(Value::Set(Box::new(self.set))) }
    }
}

/// A set from a (validated, non-empty) intset blob.
pub fn set_from_intset(limits: &LoadLimits, is: IntSet) -> Value {
    let set = if is.len() > limits.set_max_intset_entries {
        Set::Table(Box::new(intset_to_table(&is, 0)))
    } else {
        Set::Intset(is)
    };
    Value::Set(Box::new(set))
}

// ---------------------------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------------------------

fn listpack_to_table(lp: &Listpack, extra: usize) -> HashTable {
    let mut t = Dict::with_capacity(lp.len() / 2 + extra);
    let mut it = lp.iter();
    let (mut fb, mut vb) = (IntBuf::default(), IntBuf::default());
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        t.insert(FieldValue::new(f.as_bytes(&mut fb), v.as_bytes(&mut vb)), ());
    }
    t
}

/// A hash read pair by pair (RDB_TYPE_HASH).
pub struct HashBuilder {
    hash: Hash,
    /// Fields seen while the hash is a listpack (a table finds duplicates itself).
    seen: HashSet<Vec<u8>>,
    cap: usize,
    max_value: usize,
}

impl HashBuilder {
    pub fn new(limits: &LoadLimits, len: u64, cap: usize) -> HashBuilder {
        let hash = if len > limits.hash_max_listpack_entries as u64 {
            Hash::Table(Box::new(Dict::with_capacity(cap)))
        } else {
            Hash::Listpack(Listpack::new())
        };
        HashBuilder { hash, seen: HashSet::new(), cap, max_value: limits.hash_max_listpack_value }
    }

    pub fn add(&mut self, f: Vec<u8>, v: Vec<u8>) -> Result<(), RdbError> {
        const DUP: RdbError = RdbError::DuplicateElement("hash fields");
        if let Hash::Listpack(lp) = &mut self.hash {
            if !self.seen.insert(f.clone()) {
                return Err(DUP);
            }
            if f.len() <= self.max_value
                && v.len() <= self.max_value
                && lp.safe_to_add(f.len() + v.len())
            {
                lp.push_back(&f);
                lp.push_back(&v);
                return Ok(());
            }
            let t = listpack_to_table(lp, self.cap);
            self.hash = Hash::Table(Box::new(t));
            self.seen = HashSet::new();
        }
        if let Hash::Table(t) = &mut self.hash {
            if t.insert(FieldValue::new(&f, &v), ()).is_some() {
                return Err(DUP);
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Option<Value> {
        if self.hash.is_empty() { None } else { Some(Value::Hash(Box::new(self.hash))) }
    }
}

/// Checks a pairs listpack (hash or sorted set): an even count and no field twice.
fn check_pairs(lp: &Listpack, what: &'static str) -> Result<(), RdbError> {
    if lp.len() % 2 != 0 {
        return Err(RdbError::OddPairs);
    }
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(lp.len() / 2);
    let mut buf: IntBuf = Default::default();
    for (i, e) in lp.iter().enumerate() {
        if i % 2 == 0 && !seen.insert(e.as_bytes(&mut buf).to_vec()) {
            return Err(RdbError::DuplicateElement(what));
        }
    }
    Ok(())
}

/// A hash from a listpack of field/value pairs (HASH_LISTPACK, or converted from a ziplist or
/// zipmap). `max_elem_len`: for zipmaps, the longest field or value, which also decides the
/// encoding. `None` when empty.
pub fn hash_from_listpack(
    limits: &LoadLimits,
    lp: Listpack,
    max_elem_len: Option<usize>,
) -> Result<Option<Value>, RdbError> {
    check_pairs(&lp, "hash fields")?;
    if lp.is_empty() {
        return Ok(None);
    }
    let too_long = max_elem_len.is_some_and(|m| m > limits.hash_max_listpack_value);
    let hash = if lp.len() / 2 > limits.hash_max_listpack_entries || too_long {
        Hash::Table(Box::new(listpack_to_table(&lp, 0)))
    } else {
        Hash::Listpack(lp)
    };
    Ok(Some(Value::Hash(Box::new(hash))))
}

// ---------------------------------------------------------------------------------------
// Sorted sets
// ---------------------------------------------------------------------------------------

/// A sorted set read pair by pair (RDB_TYPE_ZSET, RDB_TYPE_ZSET_2).
pub struct ZSetBuilder {
    sl: SortedSet,
    max_elem_len: usize,
    total_len: usize,
}

impl Default for ZSetBuilder {
    fn default() -> Self {
        ZSetBuilder::new()
    }
}

impl ZSetBuilder {
    pub fn new() -> ZSetBuilder {
        ZSetBuilder { sl: SortedSet::new(), max_elem_len: 0, total_len: 0 }
    }

    pub fn add(&mut self, m: &[u8], score: f64) -> Result<(), RdbError> {
        if score.is_nan() {
            return Err(RdbError::NanScore);
        }
        self.max_elem_len = self.max_elem_len.max(m.len());
        self.total_len = self.total_len.saturating_add(m.len());
        if !self.sl.insert(m, score) {
            return Err(RdbError::DuplicateElement("zset members"));
        }
        Ok(())
    }

    pub fn finish(self, limits: &LoadLimits) -> Option<Value> {
        if self.sl.is_empty() {
            return None;
        }
        let z = if self.sl.len() <= limits.zset_max_listpack_entries
            && self.max_elem_len <= limits.zset_max_listpack_value
            && self.total_len <= LISTPACK_MAX_SAFETY_SIZE
        {
            let mut lp = Listpack::new();
            for (m, sc) in self.sl.iter() {
                lp.push_back(m);
                lp.push_back(crate::base::format_double(sc).as_bytes());
            }
            ZSet::Listpack(lp)
        } else {
            ZSet::Skiplist(Box::new(self.sl))
        };
        Some(Value::ZSet(Box::new(z)))
    }
}

fn lp_score(e: &Entry<'_>) -> Option<f64> {
    match e {
        Entry::Int(i) => Some(*i as f64),
        Entry::Str(s) => crate::base::parse_f64(s),
    }
}

/// A sorted set from a listpack of member/score pairs in score order (ZSET_LISTPACK, or
/// converted from a ziplist). `None` when empty.
pub fn zset_from_listpack(limits: &LoadLimits, lp: Listpack) -> Result<Option<Value>, RdbError> {
    check_pairs(&lp, "zset members")?;
    if lp.is_empty() {
        return Ok(None);
    }
    // Scores must be numbers and pairs ordered by (score, member): commands rely on it.
    let mut prev: Option<(f64, Vec<u8>)> = None;
    let mut it = lp.iter();
    while let (Some(m), Some(s)) = (it.next(), it.next()) {
        let score = lp_score(&s).ok_or(RdbError::BadZsetListpack)?;
        let m = m.to_vec();
        if let Some((ps, pm)) = &prev {
            if *ps > score || (*ps == score && *pm >= m) {
                return Err(RdbError::BadZsetListpack);
            }
        }
        prev = Some((score, m));
    }
    let z = if lp.len() / 2 > limits.zset_max_listpack_entries {
        let mut sl = SortedSet::new();
        let mut it = lp.iter();
        while let (Some(m), Some(s)) = (it.next(), it.next()) {
            sl.insert(&m.to_vec(), lp_score(&s).unwrap_or(0.0));
        }
        ZSet::Skiplist(Box::new(sl))
    } else {
        ZSet::Listpack(lp)
    };
    Ok(Some(Value::ZSet(Box::new(z))))
}
