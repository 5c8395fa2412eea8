//! The sorted set type: a listpack of member/score pairs in score order while small
//! (`zset-max-listpack-entries`, `zset-max-listpack-value`), a skiplist plus member index once
//! it grows — Redis 7.0's encodings. Sorted set commands live in `command/zset.rs`.
//!
//! CONTRACT used by other modules (RDB, digest, DEBUG, commands): `len`, `encoding`, `iter`
//! ((member, score) in score order), `as_listpack`, `new`.

use super::listpack::{Entry, Listpack};
use super::skiplist::SortedSet;

pub enum ZSet {
    Listpack(Listpack),
    Skiplist(SortedSet),
}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet::Listpack(Listpack::new())
    }
    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.len() / 2,
            ZSet::Skiplist(s) => s.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }
    pub fn as_listpack(&self) -> Option<&Listpack> {
        match self {
            ZSet::Listpack(lp) => Some(lp),
            _ => None,
        }
    }
    /// Every (member, score), lowest score first.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Entry<'_>, f64)> + '_> {
        match self {
            ZSet::Listpack(lp) => {
                let mut it = lp.iter();
                Box::new(std::iter::from_fn(move || {
                    let m = it.next()?;
                    let s = it.next()?;
                    Some((m, entry_to_score(&s)))
                }))
            }
            ZSet::Skiplist(s) => Box::new(s.iter().map(|(m, sc)| (Entry::Str(m), sc))),
        }
    }
}

/// A score stored in a listpack entry (an integer, or a string in `%.17g` form).
pub fn entry_to_score(e: &Entry<'_>) -> f64 {
    match e {
        Entry::Int(i) => *i as f64,
        Entry::Str(s) => crate::util::parse_f64(s).unwrap_or(0.0),
    }
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}
