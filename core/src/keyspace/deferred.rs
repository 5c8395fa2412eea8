//! Frees deferred while a fork child lives (issue 15, first stage).
//!
//! A free of memory allocated before the fork writes pages the child shares: the allocator's
//! slab metadata, and — through the thread cache, which hands a freed slot out again — the
//! freed slot itself at the next allocation. So while a child exists, what the keyspace drops
//! (an overwritten value, a deleted key's table entry, key and value, an expiry entry, whole
//! tables emptied by FLUSHDB/FLUSHALL or replaced by a load) goes to this list instead of being
//! freed, and is released in steps once the child is gone (`Keyspace::release_deferred`, from
//! cron, within a time budget: never one long stall). A list not yet empty when the next child
//! forks waits for that child too: its memory is shared with it as well.
//!
//! The list itself is allocated after the fork (in the parent's fork arena), so pushing to it
//! copies nothing. Its bytes are estimated as MEMORY USAGE estimates a key (`types::memory`),
//! so that eviction can count a dropped key as freed (allocated minus deferred bytes) and INFO
//! can show them.

use std::time::Instant;

use crate::types::dict::{Detached, Dict, IntoIter};
use crate::types::memory::{alloc_size, key_usage, value_usage};
use crate::types::{Key, StoredKey, Value};

/// Elements sampled to estimate a collection's size (as MEMORY USAGE's default).
const SAMPLES: usize = 5;
/// Entries sampled to estimate the bytes of a whole table handed over.
const TABLE_SAMPLES: usize = 16;
/// Items released between two clock reads.
const BATCH: usize = 64;

/// One thing waiting to be freed.
enum Item {
    /// A value replaced by an overwrite.
    Value(Value),
    /// A deleted key: its table node, key and (unless handed to the caller) value.
    Entry(Detached<StoredKey, Value>),
    /// Whole tables (FLUSHDB, a load's replaced dataset), released entry by entry.
    Tables(Box<Tables>),
}

struct Tables {
    keys: IntoIter<StoredKey, Value>,
    expires: IntoIter<Key, i64>,
    /// Estimated bytes per key, expiry included.
    per_key: usize,
}

impl Tables {
    fn bytes(&self) -> usize {
        self.keys.len() * self.per_key + self.expires.len() * expire_entry_bytes_for(0)
    }
}

/// Bytes of an expiry entry whose key has `n` bytes.
pub(crate) fn expire_entry_bytes_for(n: usize) -> usize {
    alloc_size(n) + alloc_size(Dict::<Key, i64>::entry_size())
}

fn item_bytes(item: &Item) -> usize {
    match item {
        Item::Value(v) => value_usage(v, SAMPLES),
        Item::Entry(e) => {
            key_usage(e.key(), e.value(), Dict::<StoredKey, Value>::entry_size(), SAMPLES)
        }
        Item::Tables(t) => t.bytes(),
    }
}

/// The deferred frees of one database.
#[derive(Default)]
pub(crate) struct Deferred {
    items: Vec<Item>,
    /// Sum of the items' estimated bytes.
    bytes: usize,
}

impl Deferred {
    fn push(&mut self, item: Item) {
        self.bytes += item_bytes(&item);
        self.items.push(item);
    }

    /// An overwritten value; one that owns no heap memory is simply dropped (nothing to free).
    pub(crate) fn value(&mut self, v: Value) {
        if value_usage(&v, 1) > 0 {
            self.push(Item::Value(v));
        }
    }

    pub(crate) fn entry(&mut self, e: Detached<StoredKey, Value>) {
        self.push(Item::Entry(e));
    }

    /// An expiry entry left in its table, marked gone (the keyspace's expire tombstones):
    /// counted here until it is unlinked.
    pub(crate) fn add_expire_tombstone(&mut self, key_len: usize) {
        self.bytes += expire_entry_bytes_for(key_len);
    }

    /// A marked expiry entry was unlinked and freed, or came back to life.
    pub(crate) fn sub_expire_tombstone(&mut self, key_len: usize) {
        self.bytes = self.bytes.saturating_sub(expire_entry_bytes_for(key_len));
    }

    /// Whole tables: their entries are released in steps.
    pub(crate) fn tables(&mut self, mut keys: Dict<StoredKey, Value>, mut expires: Dict<Key, i64>) {
        if keys.is_empty() && expires.is_empty() {
            return;
        }
        let entry = Dict::<StoredKey, Value>::entry_size();
        let mut sampled = Vec::new();
        keys.sample(&mut rand::thread_rng(), TABLE_SAMPLES, &mut sampled);
        let per_key = if sampled.is_empty() {
            0
        } else {
            sampled.iter().map(|(k, v)| key_usage(k, v, entry, SAMPLES)).sum::<usize>()
                / sampled.len()
        };
        drop(sampled);
        let t = Tables { keys: keys.drain(), expires: expires.drain(), per_key };
        self.push(Item::Tables(Box::new(t)));
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Frees items, newest first, until the list is empty or `deadline` passes (checked every
    /// few items; a table hands back a batch of entries at a time). True when empty.
    pub(crate) fn release_until(&mut self, deadline: Instant) -> bool {
        loop {
            for _ in 0..BATCH {
                let Some(item) = self.items.last_mut() else {
                    self.items = Vec::new();
                    return true;
                };
                if let Item::Tables(t) = item {
                    let before = t.bytes();
                    let mut n = 0;
                    while n < BATCH && t.keys.next().is_some() {
                        n += 1;
                    }
                    while n < BATCH && t.expires.next().is_some() {
                        n += 1;
                    }
                    let after = t.bytes();
                    self.bytes = self.bytes.saturating_sub(before - after);
                    if n > 0 {
                        continue;
                    }
                }
                let item = self.items.pop().expect("last_mut was some");
                self.bytes -= item_bytes(&item).min(self.bytes);
                drop(item);
            }
            if Instant::now() >= deadline {
                return self.items.is_empty();
            }
        }
    }
}
