//! The hash type: a listpack of field/value pairs while small (`hash-max-listpack-entries`,
//! `hash-max-listpack-value`), a hash table once it grows — as Redis 7.0, which never converts
//! back. Hash commands live in `command/hash.rs`.
//!
//! CONTRACT used by other modules (RDB, digest, DEBUG, commands): `len`, `encoding`, `iter`
//! (pairs as listpack entries), `as_listpack`, `from_listpack`, `new`, `insert`.

use super::listpack::{Entry, Listpack};

/// A hash value. (Representation of the table form is the hash module's to choose.)
pub enum Hash {
    Listpack(Listpack),
    Table(super::dict::Dict<Box<[u8]>, Box<[u8]>>),
}

impl Hash {
    pub fn new() -> Hash {
        Hash::Listpack(Listpack::new())
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
    /// Every (field, value) pair.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Entry<'_>, Entry<'_>)> + '_> {
        match self {
            Hash::Listpack(lp) => {
                let mut it = lp.iter();
                Box::new(std::iter::from_fn(move || Some((it.next()?, it.next()?))))
            }
            Hash::Table(t) => Box::new(t.iter().map(|(f, v)| (Entry::Str(f), Entry::Str(v)))),
        }
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}
