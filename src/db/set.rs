//! The set type: an intset while every member is an integer and there are at most
//! `set-max-intset-entries`, a hash table otherwise — Redis 7.0's encodings (7.0 has no
//! listpack sets). Set commands live in `command/set.rs`.
//!
//! CONTRACT used by other modules (RDB, digest, DEBUG, commands): `len`, `encoding`, `iter`
//! (members as listpack entries), `as_intset`, `new`.

use super::intset::IntSet;
use super::listpack::Entry;

/// A set value. (Representation of the table form is the set module's to choose.)
pub enum Set {
    Intset(IntSet),
    Table(super::dict::Dict<Box<[u8]>, ()>),
}

impl Set {
    pub fn new() -> Set {
        Set::Intset(IntSet::new())
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
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }
    pub fn as_intset(&self) -> Option<&IntSet> {
        match self {
            Set::Intset(s) => Some(s),
            _ => None,
        }
    }
    /// Every member.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Entry<'_>> + '_> {
        match self {
            Set::Intset(s) => Box::new(s.iter().map(Entry::Int)),
            Set::Table(t) => Box::new(t.iter().map(|(m, _)| Entry::Str(m))),
        }
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}
