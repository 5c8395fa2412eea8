//! The hash type: a listpack of field/value pairs while small (at most
//! `hash-max-listpack-entries` pairs, every field and value at most `hash-max-listpack-value`
//! bytes), a hash table once it grows — as Redis 7.0, which never converts back. Hash commands
//! live in `command/hash.rs`.
//!
//! The table form is a [`Dict`] keyed by [`FieldValue`]: the field and its value in ONE
//! record, hashed and compared by the field only, so tables are searched with `&[u8]`. A pair
//! whose field and value together fit in [`PAIR_INLINE`] bytes lives inside the table node
//! (40 bytes; with the chain pointer one 48-byte allocation), longer pairs get one extra
//! allocation holding both. Redis spends a `dictEntry` (32 bytes with jemalloc's rounding)
//! plus two sds strings per field. Since the value is part of the key record, changing a value
//! replaces the record (remove + insert into the same bucket), which keeps SCAN's guarantee.
//!
//! CONTRACT used by other modules (RDB, digest, DEBUG, commands): `len`, `encoding`, `iter`
//! (pairs as listpack entries), `as_listpack`, `from_listpack`, `new`, `insert`.

use std::borrow::Borrow;
use std::hash::{Hash as StdHash, Hasher};

use super::dict::Dict;
use super::listpack::{Entry, Listpack};

/// Field and value bytes together up to this many are stored inside the table node.
pub const PAIR_INLINE: usize = 37;

/// A field and its value in one record; hashes and compares as the field's bytes.
pub enum FieldValue {
    Inline { field_len: u8, value_len: u8, buf: [u8; PAIR_INLINE] },
    Heap { field_len: usize, bytes: Box<[u8]> },
}

impl FieldValue {
    pub fn new(field: &[u8], value: &[u8]) -> FieldValue {
        let total = field.len() + value.len();
        if total <= PAIR_INLINE {
            let mut buf = [0u8; PAIR_INLINE];
            buf[..field.len()].copy_from_slice(field);
            buf[field.len()..total].copy_from_slice(value);
            FieldValue::Inline { field_len: field.len() as u8, value_len: value.len() as u8, buf }
        } else {
            let mut bytes = Vec::with_capacity(total);
            bytes.extend_from_slice(field);
            bytes.extend_from_slice(value);
            FieldValue::Heap { field_len: field.len(), bytes: bytes.into_boxed_slice() }
        }
    }

    pub fn field(&self) -> &[u8] {
        match self {
            FieldValue::Inline { field_len, buf, .. } => &buf[..*field_len as usize],
            FieldValue::Heap { field_len, bytes } => &bytes[..*field_len],
        }
    }

    pub fn value(&self) -> &[u8] {
        match self {
            FieldValue::Inline { field_len, value_len, buf } => {
                &buf[*field_len as usize..*field_len as usize + *value_len as usize]
            }
            FieldValue::Heap { field_len, bytes } => &bytes[*field_len..],
        }
    }
}

impl Borrow<[u8]> for FieldValue {
    fn borrow(&self) -> &[u8] {
        self.field()
    }
}

impl StdHash for FieldValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.field().hash(state)
    }
}

impl PartialEq for FieldValue {
    fn eq(&self, other: &Self) -> bool {
        self.field() == other.field()
    }
}

impl Eq for FieldValue {}

impl std::fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}={:?}",
            String::from_utf8_lossy(self.field()),
            String::from_utf8_lossy(self.value())
        )
    }
}

/// The table form of a hash.
pub type HashTable = Dict<FieldValue, ()>;

/// The encoding limits, from the config (`hash-max-listpack-entries`, `-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_entries: 512, max_value: 64 }
    }
}

/// A hash value.
pub enum Hash {
    Listpack(Listpack),
    Table(Box<HashTable>),
}

/// A value read from a hash: borrowed bytes or a listpack integer.
pub type HashValue<'a> = Entry<'a>;

impl Hash {
    pub fn new() -> Hash {
        Hash::Listpack(Listpack::new())
    }

    /// A hash holding a listpack of field/value pairs as is (RDB loading).
    pub fn from_listpack(lp: Listpack) -> Hash {
        Hash::Listpack(lp)
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.len() / 2,
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// The listpack, when that is the encoding (RDB writes it as is).
    pub fn as_listpack(&self) -> Option<&Listpack> {
        match self {
            Hash::Listpack(lp) => Some(lp),
            _ => None,
        }
    }

    /// The table, when that is the encoding.
    pub fn as_table(&self) -> Option<&HashTable> {
        match self {
            Hash::Table(t) => Some(t),
            _ => None,
        }
    }

    /// Every (field, value) pair: listpacks in insertion order, tables in bucket order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Entry<'_>, Entry<'_>)> + '_> {
        match self {
            Hash::Listpack(lp) => {
                let mut it = lp.iter();
                Box::new(std::iter::from_fn(move || Some((it.next()?, it.next()?))))
            }
            Hash::Table(t) => {
                Box::new(t.iter().map(|(fv, _)| (Entry::Str(fv.field()), Entry::Str(fv.value()))))
            }
        }
    }

    /// Byte offset of the value of `field` in a listpack.
    fn listpack_value_pos(lp: &Listpack, field: &[u8]) -> Option<usize> {
        let first = lp.first()?;
        let fpos = lp.find_from(first, field, 1)?;
        lp.next(fpos)
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<HashValue<'_>> {
        match self {
            Hash::Listpack(lp) => Self::listpack_value_pos(lp, field).map(|p| lp.entry_at(p)),
            Hash::Table(t) => t.get_key_value(field).map(|(fv, _)| Entry::Str(fv.value())),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => lp.first().and_then(|p| lp.find_from(p, field, 1)).is_some(),
            Hash::Table(t) => t.contains_key(field),
        }
    }

    /// Converts a listpack to a table presized for its pairs (Redis's `hashTypeConvert`).
    pub fn convert_to_table(&mut self) {
        if let Hash::Listpack(lp) = self {
            let mut t: HashTable = Dict::with_capacity(lp.len() / 2);
            let (mut fb, mut vb) =
                (super::listpack::IntBuf::default(), super::listpack::IntBuf::default());
            let mut it = lp.iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                t.insert(FieldValue::new(f.as_bytes(&mut fb), v.as_bytes(&mut vb)), ());
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// Before writing pairs of these lengths: converts a listpack that could not hold them
    /// (Redis's `hashTypeTryConversion`: a field or value longer than the limit, or a listpack
    /// that would grow past its safe size).
    pub fn prepare_for<'a>(&mut self, items: impl Iterator<Item = &'a [u8]>, limits: Limits) {
        if let Hash::Listpack(lp) = self {
            let mut sum = 0usize;
            let mut convert = false;
            for it in items {
                if it.len() > limits.max_value {
                    convert = true;
                    break;
                }
                sum = sum.saturating_add(it.len());
            }
            if convert || !lp.safe_to_add(sum) {
                self.convert_to_table();
            }
        }
    }

    /// Sets `field` to `value`; true when the field is new. Converts as Redis's `hashTypeSet`:
    /// before, when the field or value is too long for a listpack; after, when there are more
    /// pairs than `max_entries`.
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if let Hash::Listpack(_) = self {
            if field.len() > limits.max_value || value.len() > limits.max_value {
                self.convert_to_table();
            }
        }
        match self {
            Hash::Listpack(lp) => {
                let new = match Self::listpack_value_pos(lp, field) {
                    Some(vpos) => {
                        lp.replace_at(vpos, value);
                        false
                    }
                    None => {
                        lp.push_back(field);
                        lp.push_back(value);
                        true
                    }
                };
                if lp.len() / 2 > limits.max_entries {
                    self.convert_to_table();
                }
                new
            }
            Hash::Table(t) => {
                let existed = t.remove(field).is_some();
                t.insert(FieldValue::new(field, value), ());
                !existed
            }
        }
    }

    /// Removes `field`; true when it was there. Tables shrink when they become sparse, as
    /// Redis's `hashTypeDelete` does.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => {
                let Some(fpos) = lp.first().and_then(|p| lp.find_from(p, field, 1)) else {
                    return false;
                };
                lp.delete_range_at(fpos, 2);
                true
            }
            Hash::Table(t) => {
                let removed = t.remove(field).is_some();
                if removed {
                    t.shrink_to_fit_if_sparse();
                }
                removed
            }
        }
    }

    /// The pair at position `i` of a listpack hash (random picks).
    pub fn listpack_pair(lp: &Listpack, i: usize) -> Option<(Entry<'_>, Entry<'_>)> {
        let f = lp.seek((2 * i) as i64)?;
        let v = lp.next(f)?;
        Some((lp.entry_at(f), lp.entry_at(v)))
    }

    /// A random pair (fair-ish for tables, uniform for listpacks), `None` when empty.
    pub fn random_pair<R: rand::Rng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Option<(Entry<'_>, Entry<'_>)> {
        match self {
            Hash::Listpack(lp) => {
                let n = lp.len() / 2;
                if n == 0 {
                    return None;
                }
                Self::listpack_pair(lp, rng.gen_range(0..n))
            }
            Hash::Table(t) => {
                t.random_entry(rng).map(|(fv, _)| (Entry::Str(fv.field()), Entry::Str(fv.value())))
            }
        }
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::SplitMix64 as Rng;
    use std::collections::BTreeMap;

    #[test]
    fn pair_record_is_40_bytes() {
        assert_eq!(std::mem::size_of::<FieldValue>(), 40);
        let p = FieldValue::new(b"field:123456", b"value:123456");
        assert!(matches!(p, FieldValue::Inline { .. }));
        assert_eq!(p.field(), b"field:123456");
        assert_eq!(p.value(), b"value:123456");
        let long = FieldValue::new(&[b'f'; 30], &[b'v'; 30]);
        assert!(matches!(long, FieldValue::Heap { .. }));
        assert_eq!(long.field(), &[b'f'; 30]);
        assert_eq!(long.value(), &[b'v'; 30]);
        let empty = FieldValue::new(b"", b"");
        assert_eq!(empty.field(), b"");
        assert_eq!(empty.value(), b"");
    }

    fn to_map(h: &Hash) -> BTreeMap<Vec<u8>, Vec<u8>> {
        h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    #[test]
    fn conversions_follow_redis_rules() {
        let limits = Limits { max_entries: 4, max_value: 8 };
        let mut h = Hash::new();
        for i in 0..4 {
            assert!(h.insert(i.to_string().as_bytes(), b"v", limits));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.insert(b"0", b"w", limits));
        assert_eq!(h.get(b"0").unwrap().to_vec(), b"w");
        assert!(h.insert(b"4", b"v", limits));
        assert_eq!(h.encoding(), "hashtable");
        // Never converts back.
        for i in 0..4 {
            assert!(h.remove(i.to_string().as_bytes()));
        }
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.insert(b"f", b"123456789", limits);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.prepare_for([b"a".as_slice(), b"123456789".as_slice()].into_iter(), limits);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn random_model_check() {
        let mut rng = Rng::new(11);
        for round in 0..10 {
            let limits = Limits { max_entries: 16 + round * 8, max_value: 16 };
            let mut h = Hash::new();
            let mut model = BTreeMap::new();
            for _ in 0..3000 {
                let f = format!("f{}", rng.below(120)).into_bytes();
                let v = if rng.chance(50) {
                    rng.below(1000).to_string().into_bytes()
                } else {
                    vec![b'x'; rng.below(20) as usize]
                };
                if rng.chance(65) {
                    assert_eq!(h.insert(&f, &v, limits), model.insert(f, v).is_none());
                } else {
                    assert_eq!(h.remove(&f), model.remove(&f).is_some());
                }
                assert_eq!(h.len(), model.len());
            }
            assert_eq!(to_map(&h), model);
            for (f, v) in &model {
                assert_eq!(h.get(f).unwrap().to_vec(), *v);
            }
            assert!(h.get(b"nope").is_none());
        }
    }
}
