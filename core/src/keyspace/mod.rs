//! The keyspace: numbered databases, each a table of keys to values plus a table of expiry
//! times, and the operations commands use on them (lookup with lazy expiry, set, delete).
//!
//! The keyspace knows no sockets, files or children. What it knows of forks is a policy the
//! server sets (`set_fork_active`): while a child exists, lookups write nothing to shared
//! pages and the tables do not resize all at once.

use crate::types::dict::{Dict, ResizePolicy};
use crate::types::digest::{self, Digest};

thread_local! {
    /// How many keys this thread's databases have expired on lookup since the last
    /// `take_lazily_expired`: the server drains `Db::lazily_expired` after every command, and
    /// with this it need not look at all 16 databases to find there is nothing (3% of a
    /// pipelined PING). Per thread, as the databases are: the main loop's, or the AOF loader's.
    static LAZILY_EXPIRED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// True when some database of this thread expired a key on lookup since the last call; resets.
pub fn take_lazily_expired() -> bool {
    LAZILY_EXPIRED.replace(0) > 0
}

pub use crate::types::{Key, StoredKey, Str, Value};

/// One database.
pub struct Db {
    pub id: usize,
    keys: Dict<StoredKey, Value>,
    expires: Dict<Key, i64>,
    /// True while a fork child exists: reads then update no access metadata.
    fork_active: bool,
    /// Clients WATCHing keys of this database: key -> their slots.
    watchers: std::collections::HashMap<Key, Vec<usize>>,
    /// Slots of watchers whose keys changed; the server collects them after each command and
    /// fails their EXEC. Every mutation below goes through `touch`, so no command can forget.
    pub touched_watchers: Vec<usize>,
    /// Keys some client is blocked on, with how many clients wait for each (Redis's
    /// `blocking_keys`; who waits is `crate::blocking`'s business).
    blocking_keys: std::collections::HashMap<Key, u32>,
    /// Watched keys created (or signalled) since the server last served blocked clients
    /// (Redis's `ready_keys`), in signal order, without duplicates.
    ready: Vec<Key>,
    /// Keys lookups deleted because their time had passed, for the propagation feed to turn
    /// into `DEL` (drained after every command by `crate::propagate`).
    pub lazily_expired: Vec<Key>,
    /// The subset of `lazily_expired` that this database's own lookups (`get`, `get_mut`,
    /// `get_or_create`) deleted, rather than `Server::expire_if_needed`: the server has yet to
    /// count them in `expired_keys` and publish their "expired" events (drained with them).
    pub expired_unreported: Vec<Key>,
}

impl Db {
    pub fn new(id: usize) -> Db {
        Db {
            id,
            keys: Dict::new(),
            expires: Dict::new(),
            fork_active: false,
            watchers: Default::default(),
            touched_watchers: Vec::new(),
            blocking_keys: std::collections::HashMap::new(),
            ready: Vec::new(),
            lazily_expired: Vec::new(),
            expired_unreported: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// The expiry time (ms since the epoch) of a key, if it has one.
    pub fn expire_of(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        matches!(self.expire_of(key), Some(t) if t <= now_ms)
    }

    /// Deletes the key if its time has passed; true when it did.
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: i64) -> bool {
        if self.is_expired(key, now_ms) {
            self.remove(key);
            self.lazily_expired.push(key.into());
            LAZILY_EXPIRED.set(LAZILY_EXPIRED.get() + 1);
            true
        } else {
            false
        }
    }

    /// `expire_if_needed` for this database's own lookups: what it deletes is left for the
    /// server to count and announce (see `expired_unreported`).
    fn expire_found(&mut self, key: &[u8], now_ms: i64) {
        if self.expire_if_needed(key, now_ms) {
            self.expired_unreported.push(key.into());
        }
    }

    /// Looks a key up for reading, deleting it first if it has expired.
    pub fn get(&mut self, key: &[u8], now_ms: i64) -> Option<&Value> {
        self.expire_found(key, now_ms);
        self.keys.get(key)
    }

    /// Looks a key up for a command's read and records the access (LRU/LFU), unless a fork
    /// child exists: then nothing is written.
    pub fn get_accessed(&mut self, key: &[u8]) -> Option<&Value> {
        if self.fork_active {
            return self.keys.get(key);
        }
        let (k, v) = self.keys.get_key_value_mut(key)?;
        k.touch();
        Some(v)
    }

    /// Looks a key up for writing, deleting it first if it has expired.
    pub fn get_mut(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        self.expire_found(key, now_ms);
        self.touch(key);
        let (k, v) = self.keys.get_key_value_mut(key)?;
        k.touch();
        Some(v)
    }

    /// Looks a key up for writing, creating it with `make()` when missing (one hash lookup for
    /// counters and other read-modify-write commands). The flag says whether it was created.
    pub fn get_or_create(
        &mut self,
        key: &[u8],
        now_ms: i64,
        make: impl FnOnce() -> Value,
    ) -> (&mut Value, bool) {
        self.expire_found(key, now_ms);
        self.touch(key);
        // No ready-key signal: clients block on lists and sorted sets, which this never creates.
        self.keys.get_or_insert_by(key, || StoredKey::new(key), make)
    }

    /// MEMORY USAGE of a key (see `memory`), without expiring or touching it.
    pub fn memory_usage(&self, key: &[u8], samples: usize) -> Option<usize> {
        let (k, v) = self.keys.get_key_value(key)?;
        Some(crate::types::memory::key_usage(k, v, Dict::<StoredKey, Value>::entry_size(), samples))
    }

    /// The access metadata of a key (OBJECT IDLETIME/FREQ, eviction).
    pub fn access_meta(&self, key: &[u8]) -> Option<u32> {
        self.keys.get_key_value(key).map(|(k, _)| k.meta())
    }

    /// Looks a key up without expiring it (DEBUG, SCAN filters, digest).
    pub fn peek(&self, key: &[u8]) -> Option<&Value> {
        self.keys.get(key)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: i64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Sets a key's value, dropping any expiry unless `keep_ttl`.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        self.touch(key);
        if !keep_ttl && !self.expires.is_empty() {
            self.expires.remove(key);
        }
        let old = self.keys.upsert(key, value, || StoredKey::new(key), |k| k.touch());
        if old.is_none() {
            self.signal_key_as_ready(key);
        }
    }

    /// Adds a key known not to exist.
    pub fn insert_new(&mut self, key: Key, value: Value) {
        self.touch(&key);
        if !self.blocking_keys.is_empty() {
            self.signal_key_as_ready(&key);
        }
        self.keys.insert(StoredKey::new(&key), value);
    }

    // ----- keys clients are blocked on (see `crate::blocking`) -----
    //
    // Creating a key that a client waits for marks it "ready", whatever command created it
    // (a push, RENAME, MOVE, RESTORE...): a key a client blocks on is missing or empty when it
    // blocks, so creation is the event that can unblock it, as in Redis's dbAdd.

    /// Notes one more client blocked on `key`.
    pub fn watch_key(&mut self, key: &[u8]) {
        match self.blocking_keys.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                self.blocking_keys.insert(key.into(), 1);
            }
        }
    }

    /// Notes one client less blocked on `key`.
    pub fn unwatch_key(&mut self, key: &[u8]) {
        if let Some(n) = self.blocking_keys.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.blocking_keys.remove(key);
            }
        }
    }

    /// Marks `key` ready if a client is blocked on it (Redis's signalKeyAsReady).
    pub fn signal_key_as_ready(&mut self, key: &[u8]) {
        if self.blocking_keys.is_empty() || !self.blocking_keys.contains_key(key) {
            return;
        }
        if !self.ready.iter().any(|k| &k[..] == key) {
            self.ready.push(key.into());
        }
    }

    /// Marks ready every key clients block on that holds a value (after SWAPDB changed what the keys
    /// hold, as Redis's scanDatabaseForReadyKeys).
    pub fn signal_blocking_keys(&mut self) {
        let present: Vec<Key> = self
            .blocking_keys
            .keys()
            .filter(|k| self.keys.get(&k[..]).is_some())
            .cloned()
            .collect();
        for k in present {
            self.signal_key_as_ready(&k);
        }
    }

    pub fn has_ready_keys(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The keys marked ready since the last call, in signal order.
    pub fn take_ready_keys(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.ready)
    }

    /// Sets or clears a key's expiry. The key must exist.
    pub fn set_expire(&mut self, key: &[u8], when_ms: Option<i64>) {
        self.touch(key);
        match when_ms {
            Some(t) => {
                if let Some(e) = self.expires.get_mut(key) {
                    *e = t;
                } else {
                    self.expires.insert(key.into(), t);
                }
            }
            None => {
                self.expires.remove(key);
            }
        }
    }

    /// Removes a key; returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let (_, v) = self.keys.remove(key)?;
        self.touch(key);
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(v)
    }

    pub fn clear(&mut self) -> usize {
        self.touch_all_watched();
        let n = self.keys.len();
        self.keys = Dict::new();
        self.expires = Dict::new();
        n
    }

    /// Every key and value (not expiring anything).
    pub fn iter(&self) -> impl Iterator<Item = (&StoredKey, &Value)> {
        self.keys.iter()
    }

    /// Keys with an expiry, and their times.
    pub fn iter_expires(&self) -> impl Iterator<Item = (&Key, &i64)> {
        self.expires.iter()
    }

    /// A random key (not checking expiry).
    pub fn random_key(&self) -> Option<&StoredKey> {
        self.keys.random_entry(&mut rand::thread_rng()).map(|(k, _)| k)
    }

    /// One SCAN step over the keys: calls `f` for the keys of the visited bucket(s) and
    /// returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, f: impl FnMut(&StoredKey, &Value)) -> u64 {
        self.keys.scan(cursor, f)
    }

    /// While a fork child exists the tables must not resize all at once (copy-on-write).
    pub fn set_fork_active(&mut self, active: bool) {
        self.fork_active = active;
        let p = if active { ResizePolicy::Avoid } else { ResizePolicy::Enable };
        self.keys.set_resize_policy(p);
        self.expires.set_resize_policy(p);
    }

    /// Incremental rehashing from cron, within a time budget.
    pub fn rehash_for(&mut self, budget: std::time::Duration) {
        self.keys.rehash_for(budget);
        self.expires.rehash_for(budget);
    }

    /// Shrinks tables that became sparse (cron).
    pub fn shrink_if_sparse(&mut self) {
        self.keys.shrink_to_fit_if_sparse();
        self.expires.shrink_to_fit_if_sparse();
    }

    /// Samples up to `count` keys, for eviction.
    pub fn sample_keys(&self, count: usize) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        self.keys.sample(&mut rand::thread_rng(), count, &mut v);
        v.into_iter().map(|(k, _)| k.to_vec()).collect()
    }

    /// Samples up to `count` keys with an expiry, for the active expire cycle.
    pub fn sample_expires(&self, count: usize, out: &mut Vec<(Key, i64)>) {
        let mut v = Vec::new();
        self.expires.sample(&mut rand::thread_rng(), count, &mut v);
        out.extend(v.into_iter().map(|(k, t)| (k.clone(), *t)));
    }

    /// Swaps contents with another database (SWAPDB); ids stay.
    pub fn swap_contents(&mut self, other: &mut Db) {
        // Watched keys that exist on either side change value.
        let mine: Vec<Key> =
            self.watchers.keys().filter(|k| other.keys.contains_key(&k[..])).cloned().collect();
        let theirs: Vec<Key> =
            other.watchers.keys().filter(|k| self.keys.contains_key(&k[..])).cloned().collect();
        self.touch_all_watched();
        other.touch_all_watched();
        for k in mine {
            self.touch(&k);
        }
        for k in theirs {
            other.touch(&k);
        }
        std::mem::swap(&mut self.keys, &mut other.keys);
        std::mem::swap(&mut self.expires, &mut other.expires);
    }

    /// Records that `key` changed, for the clients WATCHing it.
    #[inline]
    fn touch(&mut self, key: &[u8]) {
        if !self.watchers.is_empty() {
            if let Some(slots) = self.watchers.get(key) {
                self.touched_watchers.extend_from_slice(slots);
            }
        }
    }

    /// Every watched key that exists counts as changed (FLUSHDB, FLUSHALL, SWAPDB).
    fn touch_all_watched(&mut self) {
        let existing: Vec<usize> = self
            .watchers
            .iter()
            .filter(|(k, _)| self.keys.contains_key(&k[..]))
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        self.touched_watchers.extend(existing);
    }

    /// WATCH: the client in `slot` watches `key`.
    pub fn watch(&mut self, key: &[u8], slot: usize) {
        let v = self.watchers.entry(key.into()).or_default();
        if !v.contains(&slot) {
            v.push(slot);
        }
    }

    /// Stops `slot` watching `key`.
    pub fn unwatch(&mut self, key: &[u8], slot: usize) {
        if let Some(v) = self.watchers.get_mut(key) {
            v.retain(|&s| s != slot);
            if v.is_empty() {
                self.watchers.remove(key);
            }
        }
    }
}

/// The digest of a whole keyspace: all zeros when it is empty.
pub fn dataset_digest(dbs: &[Db]) -> Digest {
    let mut fin = [0u8; 20];
    for db in dbs {
        if db.is_empty() {
            continue;
        }
        digest::mix(&mut fin, &(db.id as u32).to_be_bytes());
        for (key, value) in db.iter() {
            let mut d = [0u8; 20];
            digest::mix(&mut d, key);
            // The key digest continues from the key mix: type, value, expire.
            let vd = {
                digest::mix(&mut d, &value.type_number().to_be_bytes());
                value.mix_into_digest(&mut d);
                if db.expire_of(key).is_some() {
                    digest::xor(&mut d, b"!!expire!!");
                }
                d
            };
            digest::xor(&mut fin, &vd);
        }
    }
    fin
}

#[cfg(test)]
mod hash_quality_tests {
    use std::hash::BuildHasher;

    #[test]
    fn keyspace_hash_spreads_similar_keys() {
        let h = crate::types::dict::SipBuildHasher::new();
        let n = 1 << 16;
        let mut buckets = vec![0u32; n];
        for i in 0..n {
            let k = format!("key:{i}");
            let v = h.hash_one(k.as_bytes());
            buckets[(v as usize) & (n - 1)] += 1;
        }
        let max = *buckets.iter().max().unwrap();
        let empty = buckets.iter().filter(|&&b| b == 0).count();
        eprintln!("max chain {max}, empty {empty} of {n}");
        assert!(max < 12, "max chain {max}");
    }
}
