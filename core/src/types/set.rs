//! The set type: an intset while every member is an integer (Redis's `string2ll` rules) and
//! there are at most `set-max-intset-entries`, a hash table otherwise — Redis 7.0's encodings
//! (7.0 has no listpack sets). A set never converts back to an intset. Set commands live in
//! `command/set.rs`.
//!
//! The table form is a [`Dict`] of [`Member`]s with no value: `Dict` gives SSCAN Redis's
//! reverse-binary cursor guarantee and fair random sampling for SPOP/SRANDMEMBER. To stay
//! lean, a member of up to [`MEMBER_INLINE`] bytes lives inside the table node itself (24
//! bytes; with the chain pointer the node is one 32-byte allocation), and only longer members
//! get a second allocation of exactly their bytes. Redis spends a 24-byte `dictEntry` (32 with
//! jemalloc's rounding) plus an sds string per member.
//!
//! CONTRACT used by other modules (RDB, digest, DEBUG, commands): `len`, `encoding`, `iter`
//! (members as listpack entries), `as_intset`, `from_intset`, `new`, `insert`.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use super::dict::Dict;
use super::intset::IntSet;
use super::listpack::Entry;
use crate::base::parse_i64;

/// Members up to this many bytes are stored inside the table node.
pub const MEMBER_INLINE: usize = 22;

/// A byte string stored inline when short, in one exact-size heap allocation otherwise.
/// Hashes and compares as the `[u8]` it holds, so tables keyed by it are searched with `&[u8]`.
#[derive(Clone)]
pub enum Member {
    Inline { len: u8, buf: [u8; MEMBER_INLINE] },
    Heap(Box<[u8]>),
}

impl Member {
    pub fn new(b: &[u8]) -> Member {
        if b.len() <= MEMBER_INLINE {
            let mut buf = [0u8; MEMBER_INLINE];
            buf[..b.len()].copy_from_slice(b);
            Member::Inline { len: b.len() as u8, buf }
        } else {
            Member::Heap(b.into())
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Member::Inline { len, buf } => &buf[..*len as usize],
            Member::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for Member {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for Member {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialEq for Member {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Member {}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// The table form of a set.
pub type SetTable = Dict<Member, ()>;

/// A set value.
pub enum Set {
    Intset(IntSet),
    Table(Box<SetTable>),
}

impl Set {
    pub fn new() -> Set {
        Set::Intset(IntSet::new())
    }

    /// A set holding an intset as is (RDB loading).
    pub fn from_intset(s: IntSet) -> Set {
        Set::Intset(s)
    }

    /// An empty set already in table form, with room for `n` members (SUNIONSTORE of big
    /// sets, conversion).
    pub fn new_table(n: usize) -> Set {
        Set::Table(Box::new(Dict::with_capacity(n)))
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(s) => s.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// The intset, when that is the encoding (RDB writes it as is).
    pub fn as_intset(&self) -> Option<&IntSet> {
        match self {
            Set::Intset(s) => Some(s),
            _ => None,
        }
    }

    /// The table, when that is the encoding.
    pub fn as_table(&self) -> Option<&SetTable> {
        match self {
            Set::Table(t) => Some(t),
            _ => None,
        }
    }

    /// Every member: intsets in ascending order, tables in bucket order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Entry<'_>> + '_> {
        match self {
            Set::Intset(s) => Box::new(s.iter().map(Entry::Int)),
            Set::Table(t) => Box::new(t.iter().map(|(m, _)| Entry::Str(m.as_bytes()))),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Intset(s) => parse_i64(member).is_some_and(|v| s.contains(v)),
            Set::Table(t) => t.contains_key(member),
        }
    }

    /// Converts an intset to a table presized for its members (as Redis's `setTypeConvert`).
    fn convert_to_table(&mut self) {
        if let Set::Intset(s) = self {
            let mut t: SetTable = Dict::with_capacity(s.len());
            let mut ib = super::listpack::IntBuf::default();
            for v in s.iter() {
                let n = super::listpack::write_i64(v, &mut ib);
                t.insert(Member::new(&ib[..n]), ());
            }
            *self = Set::Table(Box::new(t));
        }
    }

    /// Adds a member; true when it was not there. An intset becomes a table when the member
    /// is not an integer or the set grows past `max_intset_entries`.
    pub fn insert(&mut self, member: &[u8], max_intset_entries: usize) -> bool {
        if let Set::Intset(s) = self {
            if let Some(v) = parse_i64(member) {
                if !s.insert(v) {
                    return false;
                }
                if s.len() > max_intset_entries {
                    self.convert_to_table();
                }
                return true;
            }
            self.convert_to_table();
        }
        let Set::Table(t) = self else { unreachable!("converted above") };
        // A long member already present would cost an allocation for nothing: look first.
        if member.len() > MEMBER_INLINE && t.contains_key(member) {
            return false;
        }
        t.insert(Member::new(member), ()).is_none()
    }

    /// Removes a member; true when it was there. Tables shrink when they become sparse, as
    /// Redis's `setTypeRemove` does.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Intset(s) => parse_i64(member).is_some_and(|v| s.remove(v)),
            Set::Table(t) => {
                let removed = t.remove(member).is_some();
                if removed {
                    t.shrink_to_fit_if_sparse();
                }
                removed
            }
        }
    }

    /// A random member (fair-ish for tables, uniform for intsets), `None` when empty.
    pub fn random_member<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<Vec<u8>> {
        match self {
            Set::Intset(s) => s
                .random(|| rng.next_u64())
                .map(|v| itoa::Buffer::new().format(v).as_bytes().to_vec()),
            Set::Table(t) => t.random_entry(rng).map(|(m, _)| m.as_bytes().to_vec()),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random<R: rand::Rng + ?Sized>(&mut self, rng: &mut R) -> Option<Vec<u8>> {
        let m = self.random_member(rng)?;
        self.remove(&m);
        Some(m)
    }

    /// Every member as owned bytes.
    pub fn members(&self) -> Vec<Vec<u8>> {
        self.iter().map(|e| e.to_vec()).collect()
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::SplitMix64 as Rng;
    use std::collections::BTreeSet;

    #[test]
    fn member_is_24_bytes_and_node_fits_32() {
        assert_eq!(std::mem::size_of::<Member>(), 24);
        let m = Member::new(b"member:123456");
        assert!(matches!(m, Member::Inline { .. }));
        assert_eq!(m.as_bytes(), b"member:123456");
        let long = Member::new(&[b'x'; 23]);
        assert!(matches!(long, Member::Heap(_)));
        assert_eq!(long.as_bytes(), &[b'x'; 23]);
        assert_eq!(Member::new(b""), Member::new(b""));
    }

    #[test]
    fn encodings_follow_redis_rules() {
        let mut s = Set::new();
        assert!(s.insert(b"1", 512));
        assert!(!s.insert(b"1", 512));
        assert_eq!(s.encoding(), "intset");
        // Not string2ll integers: leading zero, plus sign, spaces.
        let mut t = Set::new();
        t.insert(b"01", 512);
        assert_eq!(t.encoding(), "hashtable");
        let mut t = Set::new();
        for i in 0..3 {
            t.insert(i.to_string().as_bytes(), 2);
        }
        assert_eq!(t.encoding(), "hashtable");
        assert_eq!(t.len(), 3);
        for i in 0..3 {
            assert!(t.contains(i.to_string().as_bytes()));
        }
        // Never converts back.
        t.remove(b"0");
        t.remove(b"1");
        assert_eq!(t.encoding(), "hashtable");
        s.insert(b"abc", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"abc"));
    }

    #[test]
    fn random_model_check() {
        let mut rng = Rng::new(7);
        let mut thread = rand::thread_rng();
        for round in 0..20 {
            let mut s = Set::new();
            let mut model = BTreeSet::new();
            let ints_only = round % 2 == 0;
            for _ in 0..2000 {
                let n = rng.below(300);
                let m = if ints_only || rng.chance(70) {
                    (n as i64 - 150).to_string().into_bytes()
                } else {
                    format!("m{}", n).into_bytes()
                };
                match rng.below(10) {
                    0..=5 => assert_eq!(s.insert(&m, 128), model.insert(m.clone())),
                    6..=8 => assert_eq!(s.remove(&m), model.remove(&m)),
                    _ => {
                        if let Some(p) = s.pop_random(&mut thread) {
                            assert!(model.remove(&p));
                        }
                    }
                }
                assert_eq!(s.len(), model.len());
            }
            let got: BTreeSet<Vec<u8>> = s.members().into_iter().collect();
            assert_eq!(got, model);
            if s.encoding() == "intset" {
                let v: Vec<i64> = s.as_intset().unwrap().iter().collect();
                assert!(v.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}
