//! The keyspace: numbered databases, each a table of keys to values plus a table of expiry
//! times, and the only API that looks keys up, inserts and removes them (`Keyspace`), with lazy
//! expiry.
//!
//! What a change means beyond the tables is not acted on here but written to the keyspace's
//! outbox (`Outbox`) as typed events, which the server drains after each command: keys deleted
//! because their time had passed (to propagate as DEL, and, for those found by plain lookups,
//! to count and announce), clients whose WATCHed keys changed, and keys made ready for clients
//! blocked on them. One outbox for all databases, so "anything to do?" is one check, not
//! sixteen (it used to be a thread-local counter).
//!
//! On a replica, lazy expiry follows the primary (`Expiry`, set by the server): an expired key
//! reads as missing to the replica's own clients but is deleted only by the DEL its primary
//! sends, and the primary's own commands see it as present, as on the primary itself until it
//! expires it there; otherwise the datasets diverge.
//!
//! The keyspace knows no sockets, files or children. What it knows of forks is a policy the
//! server sets (`set_fork_active`): while a child exists, lookups (for reading and for
//! writing) write no access metadata, the tables do not resize all at once, and what the
//! keyspace drops is not freed but deferred (`deferred`) until the child is gone, then
//! released in steps from cron (`release_deferred`).
//!
//! Without a child, what is dropped lazily (UNLINK, FLUSHALL ASYNC, and the deletions the
//! `lazyfree-lazy-*` directives make lazy: `LazyPolicy`) goes to the lazy-free thread
//! (`lazyfree`) when it is big enough to be worth it.

mod deferred;
pub mod lazyfree;

use crate::types::dict::{Dict, ResizePolicy};
use crate::types::digest::{self, Digest};

pub use crate::types::{Key, StoredKey, Str, Value};

/// What the keyspace's operations produced for the server to act on (see the module doc).
#[derive(Default)]
pub struct Outbox {
    /// Keys deleted because their time had passed, (db, key) in order: the feed propagates
    /// each as `DEL`.
    expired: Vec<(usize, Key)>,
    /// The subset of `expired` that plain lookups (`lookup`, `get_mut`, `get_or_create`) deleted,
    /// rather than `expire_if_needed`, whose caller counts and announces the key itself: the
    /// server has yet to count these in `expired_keys` and publish their "expired" events.
    unreported: Vec<(usize, Key)>,
    /// Slots of clients WATCHing a key that changed (their EXEC is to fail).
    touched: Vec<usize>,
    /// Keys clients block on that were created or signalled (Redis's `ready_keys`), (db, key)
    /// in signal order, without duplicates.
    ready: Vec<(usize, Key)>,
    /// Keys given an expiry while lazy expiry hides (a writable replica's own clients): the
    /// replica expires those itself (Redis's slaveKeysWithExpire).
    own_expires: Vec<(usize, Key)>,
    /// Keys created by the running command, (db, key), kept only while `track_created` (the
    /// server announces them as "new" keyspace events, as Redis's dbAdd).
    created: Vec<(usize, Key)>,
    track_created: bool,
    /// Keys changed (every `touch`) and flushes, in order, kept only while `track_modified`:
    /// client-side caching (the server's tracking) invalidates them, as Redis's
    /// signalModifiedKey and signalFlushedDb call into tracking.c.
    modified: Vec<Modified>,
    track_modified: bool,
}

/// A change client-side caching must hear of (see `Outbox::modified`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modified {
    /// A key's value changed or the key went away.
    Key(Key),
    /// A key deleted because its time had passed (no client made this change, which matters
    /// to tracking's NOLOOP).
    Expired(Key),
    /// A database was emptied or replaced: every key counts as changed.
    Flush,
}

/// A dataset `Keyspace::install` replaced: its tables, freed when this is dropped.
pub struct Retired(#[allow(dead_code)] Vec<(Dict<StoredKey, Value>, Dict<Key, i64>)>);

/// How lazy expiry treats a key whose time has passed (Redis's expireIfNeeded, which asks
/// whether the server is a replica and whether its primary runs the command).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Expiry {
    /// A primary: the key is deleted when found (and the DEL propagated).
    #[default]
    Delete,
    /// A replica serving its own clients: reads see the key as missing and leave it in place
    /// (no DEL, no `expired_keys`); a write (a writable replica) deletes it, as Redis's
    /// `force_delete_expired` for write lookups.
    Hide,
    /// A replica running its primary's commands: the key is there until the primary's DEL.
    Keep,
}

/// Which deletions the server makes lazy (freed on the lazy-free thread when big), from the
/// `lazyfree-lazy-server-del` and `lazyfree-lazy-expire` directives. UNLINK, FLUSH ASYNC and
/// eviction say it per call (`unlink`, `clear_with`, `delete_with`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct LazyPolicy {
    /// Deletions the server makes for a command (`delete`: RENAME's, SORT STORE's target,
    /// RESTORE REPLACE) and values overwritten (`set`): Redis's dbDelete and dbSetValue.
    pub server_del: bool,
    /// Keys deleted because their time passed.
    pub expire: bool,
}

/// All the databases, and their outbox.
pub struct Keyspace {
    dbs: Vec<Db>,
    out: Outbox,
    expiry: Expiry,
}

/// Read access to the databases (`ks[db].peek(key)`, iteration for saving and the digest);
/// every change goes through `Keyspace`'s methods, so none can skip the outbox.
impl std::ops::Deref for Keyspace {
    type Target = [Db];
    #[inline]
    fn deref(&self) -> &[Db] {
        &self.dbs
    }
}

/// One empty database.
impl Default for Keyspace {
    fn default() -> Keyspace {
        Keyspace::new(1)
    }
}

impl Keyspace {
    /// `n` empty databases (at least one).
    pub fn new(n: usize) -> Keyspace {
        let lazy = lazyfree::LazyFree::default();
        Keyspace {
            dbs: (0..n.max(1)).map(|id| Db::new(id, lazy.clone())).collect(),
            out: Outbox::default(),
            expiry: Expiry::Delete,
        }
    }

    /// Which deletions are lazy from now on (see `LazyPolicy`); kept across `install`.
    pub fn set_lazy_policy(&mut self, policy: LazyPolicy) {
        for db in self.dbs.iter_mut() {
            db.lazy_policy = policy;
        }
    }

    /// The lazy-free thread's counters (INFO, CONFIG RESETSTAT).
    pub fn lazyfree(&self) -> &lazyfree::LazyFree {
        // Every database holds a handle on the same thread and counters.
        &self.dbs[0].lazy
    }

    /// How lazy expiry behaves from now on (see `Expiry`); kept across `install`.
    pub fn set_expiry(&mut self, expiry: Expiry) {
        self.expiry = expiry;
    }

    pub fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// True when the key's time has passed, whatever `Expiry` says (nothing is deleted).
    pub fn is_expired(&self, db: usize, key: &[u8], now_ms: i64) -> bool {
        self.dbs[db].is_expired(key, now_ms)
    }

    /// Replaces every database's contents with `loaded`'s (a load that finished), keeping the
    /// number of databases. While a fork child exists the replaced tables go to the deferred
    /// list, and what is returned is empty. Clients blocked on keys and WATCHing keys stay registered; watched
    /// keys that existed count as changed, and blocked-on keys that now hold a value are ready.
    /// The replaced contents are returned, for the caller to free where it likes (dropping
    /// them at once is the plain case; a replica frees its old dataset on a thread).
    pub fn install(&mut self, loaded: Keyspace) -> Retired {
        let mut src = loaded.dbs.into_iter();
        let mut retired = Vec::with_capacity(self.dbs.len());
        self.note_flush();
        for db in self.dbs.iter_mut() {
            db.touch_all_watched(&mut self.out);
            let (keys, expires) = match src.next() {
                Some(d) => (d.keys, d.expires),
                None => (Dict::new(), Dict::new()),
            };
            db.drop_tombstones();
            let old_keys = std::mem::replace(&mut db.keys, keys);
            let old_expires = std::mem::replace(&mut db.expires, expires);
            if db.fork_active {
                db.deferred.tables(old_keys, old_expires);
            } else {
                retired.push((old_keys, old_expires));
            }
            db.touch_all_watched(&mut self.out);
            db.signal_blocking_keys(&mut self.out);
            let p = if db.fork_active { ResizePolicy::Avoid } else { ResizePolicy::Enable };
            db.keys.set_resize_policy(p);
            db.expires.set_resize_policy(p);
        }
        Retired(retired)
    }

    // ----- lookups -----

    /// Looks a key up for reading, deleting it first if it has expired.
    #[inline]
    pub fn lookup(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&Value> {
        match self.expiry {
            Expiry::Delete => self.dbs[db].get(key, now_ms, &mut self.out),
            Expiry::Hide if self.dbs[db].is_expired(key, now_ms) => None,
            Expiry::Hide | Expiry::Keep => self.dbs[db].keys.get(key),
        }
    }

    /// Looks a key up for a command's read and records the access (LRU/LFU), unless a fork
    /// child exists: then nothing is written. Does not expire (the caller did).
    #[inline]
    pub fn get_accessed(&mut self, db: usize, key: &[u8]) -> Option<&Value> {
        self.dbs[db].get_accessed(key)
    }

    /// Looks a key up for writing, deleting it first if it has expired.
    #[inline]
    pub fn get_mut(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        let now_ms = if self.expiry == Expiry::Keep { i64::MIN } else { now_ms };
        self.dbs[db].get_mut(key, now_ms, &mut self.out)
    }

    /// Looks a key up for writing, creating it with `make()` when missing (one hash lookup for
    /// counters and other read-modify-write commands). The flag says whether it was created.
    #[inline]
    pub fn get_or_create(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: i64,
        make: impl FnOnce() -> Value,
    ) -> (&mut Value, bool) {
        let now_ms = if self.expiry == Expiry::Keep { i64::MIN } else { now_ms };
        self.dbs[db].get_or_create(key, now_ms, make, &mut self.out)
    }

    /// True when the key exists (expiring it first if due).
    pub fn contains(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        self.lookup(db, key, now_ms).is_some()
    }

    /// Deletes the key if its time has passed; true when it did. The caller counts and
    /// announces it (it goes to the outbox for propagation only). Only a primary deletes
    /// (`Expiry::Delete`); on a replica this is false, and `is_expired` says whether the key
    /// is to be hidden.
    #[inline]
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        if self.expiry != Expiry::Delete {
            return false;
        }
        self.dbs[db].expire_if_needed(key, now_ms, &mut self.out)
    }

    // ----- changes -----

    /// Sets a key's value, dropping any expiry unless `keep_ttl`.
    #[inline]
    pub fn set(&mut self, db: usize, key: &[u8], value: Value, keep_ttl: bool) {
        self.dbs[db].set(key, value, keep_ttl, &mut self.out)
    }

    /// Adds a key known not to exist.
    #[inline]
    pub fn insert_new(&mut self, db: usize, key: Key, value: Value) {
        self.dbs[db].insert_new(key, value, &mut self.out)
    }

    /// Adds a key read by a load: one hash and one probe, where a `peek` then `insert_new`
    /// would take two. A key the database already holds is left alone and `false` returned
    /// (the caller refuses the file). A load touches no watcher and wakes no blocked client:
    /// it fills a keyspace nobody sees yet.
    pub fn insert_loaded(&mut self, db: usize, key: &[u8], value: Value) -> bool {
        let (_, inserted) =
            self.dbs[db].keys.get_or_insert_by(key, || StoredKey::new(key), || value);
        inserted
    }

    /// Makes room in one database for `keys` keys and `expires` expiries (RESIZEDB's sizes).
    pub fn expand(&mut self, db: usize, keys: usize, expires: usize) {
        self.dbs[db].keys.expand(keys);
        self.dbs[db].expires.expand(expires);
    }

    /// Sets a key's LRU/LFU metadata (`types::access`), as RESTORE's IDLETIME and FREQ do.
    pub fn set_access_meta(&mut self, db: usize, key: &[u8], meta: u32) {
        self.dbs[db].set_access_meta(key, meta)
    }

    /// Sets or clears a key's expiry. The key must exist. In `Expiry::Hide` (a replica running
    /// its own clients' commands) a key given an expiry is noted for `take_own_expires`.
    pub fn set_expire(&mut self, db: usize, key: &[u8], when_ms: Option<i64>) {
        if when_ms.is_some() && self.expiry == Expiry::Hide {
            self.out.own_expires.push((db, key.into()));
        }
        self.dbs[db].set_expire(key, when_ms, &mut self.out)
    }

    /// Removes a key; returns its value (for the caller to use: to drop a key, `delete` it, so
    /// that its value's free is deferred too while a fork child exists).
    #[inline]
    pub fn remove(&mut self, db: usize, key: &[u8]) -> Option<Value> {
        self.dbs[db].remove(key, &mut self.out)
    }

    /// Removes a key and its value; true when it existed. While a fork child exists nothing
    /// is freed until the child is gone (see `deferred`).
    /// The value goes to the lazy-free thread if `lazyfree-lazy-server-del` says so.
    #[inline]
    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        let lazy = self.dbs[db].lazy_policy.server_del;
        self.dbs[db].delete(key, lazy, &mut self.out)
    }

    /// `delete`, saying whether a big value is freed on the lazy-free thread (eviction, as
    /// `lazyfree-lazy-eviction` says; DEL as `lazyfree-lazy-user-del` says).
    #[inline]
    pub fn delete_with(&mut self, db: usize, key: &[u8], lazy: bool) -> bool {
        self.dbs[db].delete(key, lazy, &mut self.out)
    }

    /// `delete` of a key whose time has passed (active expiry), lazy as
    /// `lazyfree-lazy-expire` says.
    #[inline]
    pub fn delete_expired(&mut self, db: usize, key: &[u8]) -> bool {
        let lazy = self.dbs[db].lazy_policy.expire;
        self.dbs[db].delete(key, lazy, &mut self.out)
    }

    /// UNLINK: `delete` with a big value freed on the lazy-free thread.
    #[inline]
    pub fn unlink(&mut self, db: usize, key: &[u8]) -> bool {
        self.delete_with(db, key, true)
    }

    /// Empties one database; returns how many keys it held.
    pub fn clear(&mut self, db: usize) -> usize {
        self.clear_with(db, false)
    }

    /// Empties one database, its tables freed on the lazy-free thread when `lazy` (FLUSHDB
    /// ASYNC); returns how many keys it held.
    pub fn clear_with(&mut self, db: usize, lazy: bool) -> usize {
        self.note_flush();
        self.dbs[db].clear(lazy, &mut self.out)
    }

    /// Empties every database; returns how many keys they held.
    pub fn clear_all(&mut self) -> usize {
        self.clear_all_with(false)
    }

    /// `clear_all`, lazily when `lazy` (FLUSHALL ASYNC).
    pub fn clear_all_with(&mut self, lazy: bool) -> usize {
        self.note_flush();
        (0..self.dbs.len()).map(|db| self.dbs[db].clear(lazy, &mut self.out)).sum()
    }

    /// One flush, for client-side caching (see `Outbox::modified`).
    fn note_flush(&mut self) {
        if self.out.track_modified {
            self.out.modified.push(Modified::Flush);
        }
    }

    /// SWAPDB: exchanges two databases' contents (ids stay); watched keys that exist on
    /// either side count as changed, and blocked-on keys that now hold a value are ready.
    pub fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let (lo, hi) = (a.min(b), a.max(b));
        let (left, right) = self.dbs.split_at_mut(hi);
        left[lo].swap_contents(&mut right[0], &mut self.out);
        self.dbs[a].signal_blocking_keys(&mut self.out);
        self.dbs[b].signal_blocking_keys(&mut self.out);
    }

    // ----- WATCH and blocked clients -----

    /// WATCH: the client in `slot` watches `key`.
    pub fn watch(&mut self, db: usize, key: &[u8], slot: usize) {
        self.dbs[db].watch(key, slot)
    }

    /// Stops `slot` watching `key`.
    pub fn unwatch(&mut self, db: usize, key: &[u8], slot: usize) {
        self.dbs[db].unwatch(key, slot)
    }

    /// Notes one more client blocked on `key`.
    pub fn block_on(&mut self, db: usize, key: &[u8]) {
        self.dbs[db].watch_key(key)
    }

    /// Notes one client less blocked on `key`.
    pub fn unblock_on(&mut self, db: usize, key: &[u8]) {
        self.dbs[db].unwatch_key(key)
    }

    /// Marks `key` ready if a client is blocked on it (Redis's signalKeyAsReady).
    pub fn signal_key_as_ready(&mut self, db: usize, key: &[u8]) {
        self.dbs[db].signal_key_as_ready(key, &mut self.out)
    }

    /// Whether created keys are collected for `take_created` ("new" keyspace events on).
    pub fn track_created(&mut self, on: bool) {
        self.out.track_created = on;
        if !on {
            self.out.created.clear();
        }
    }

    /// Keys created since the last call, in order (empty unless `track_created`).
    #[inline]
    pub fn take_created(&mut self) -> Vec<(usize, Key)> {
        if self.out.created.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut self.out.created)
    }

    /// Whether changed keys are collected for `take_modified` (client-side caching on).
    pub fn track_modified(&mut self, on: bool) {
        self.out.track_modified = on;
        if !on {
            self.out.modified.clear();
        }
    }

    /// Changes since the last call, in order (empty unless `track_modified`).
    #[inline]
    pub fn take_modified(&mut self) -> Vec<Modified> {
        if self.out.modified.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut self.out.modified)
    }

    // ----- the outbox -----

    /// True when lazy expiry deleted keys since the last `take_expired` (one check: the
    /// common case after a command is that nothing did).
    #[inline]
    pub fn has_expired(&self) -> bool {
        !self.out.expired.is_empty()
    }

    /// The keys lazy expiry deleted, (db, key) in order, for propagation as DEL.
    pub fn take_expired(&mut self) -> Vec<(usize, Key)> {
        std::mem::take(&mut self.out.expired)
    }

    /// The keys a replica's own clients gave an expiry since the last call, (db, key).
    pub fn take_own_expires(&mut self) -> Vec<(usize, Key)> {
        std::mem::take(&mut self.out.own_expires)
    }

    /// The keys plain lookups expired that are yet to be counted and announced.
    pub fn take_unreported(&mut self) -> Vec<(usize, Key)> {
        std::mem::take(&mut self.out.unreported)
    }

    /// True when some WATCHing client's key changed since the last `take_touched`.
    #[inline]
    pub fn has_touched(&self) -> bool {
        !self.out.touched.is_empty()
    }

    /// Slots of clients whose WATCHed keys changed (may repeat).
    pub fn take_touched(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.out.touched)
    }

    /// True when keys were made ready for blocked clients since the last `take_ready`.
    #[inline]
    pub fn has_ready(&self) -> bool {
        !self.out.ready.is_empty()
    }

    /// The keys made ready, (db, key) in signal order.
    pub fn take_ready(&mut self) -> Vec<(usize, Key)> {
        std::mem::take(&mut self.out.ready)
    }

    // ----- maintenance -----

    /// While a fork child exists the tables must not resize all at once (copy-on-write), and
    /// reads write no access metadata.
    pub fn set_fork_active(&mut self, active: bool) {
        for db in self.dbs.iter_mut() {
            db.set_fork_active(active);
        }
    }

    /// Bytes of what the databases dropped while a fork child existed and are yet to free
    /// (estimated as MEMORY USAGE does). Eviction counts them as freed; INFO shows them.
    pub fn deferred_bytes(&self) -> u64 {
        self.dbs.iter().map(|d| d.deferred.bytes() as u64).sum()
    }

    /// True when some database still holds deferred frees.
    pub fn has_deferred(&self) -> bool {
        self.dbs.iter().any(|d| !d.deferred.is_empty() || !d.expire_tombstones.is_empty())
    }

    /// Frees deferred items for at most `budget` (cron), unless a fork child exists (then its
    /// memory may be shared with the child, and it waits). True when nothing is left.
    pub fn release_deferred(&mut self, budget: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + budget;
        for db in self.dbs.iter_mut() {
            if db.fork_active {
                return false;
            }
            while !db.expire_tombstones.is_empty() {
                let done = db.merge_expire_tombstones(256);
                if !done && std::time::Instant::now() >= deadline {
                    return false;
                }
            }
            if !db.deferred.is_empty() && !db.deferred.release_until(deadline) {
                return false;
            }
        }
        true
    }

    /// True while a fork child exists (see `set_fork_active`).
    pub fn fork_active(&self) -> bool {
        self.dbs.first().is_some_and(|d| d.fork_active)
    }

    /// Incremental rehashing of one database from cron, within a time budget.
    pub fn rehash_for(&mut self, db: usize, budget: std::time::Duration) {
        self.dbs[db].rehash_for(budget)
    }

    /// Shrinks the tables that became sparse (cron).
    pub fn shrink_if_sparse(&mut self) {
        for db in self.dbs.iter_mut() {
            db.shrink_if_sparse();
        }
    }

    /// Keys in all databases.
    pub fn total_keys(&self) -> u64 {
        self.dbs.iter().map(|d| d.len() as u64).sum()
    }
}

/// One database.
pub struct Db {
    pub id: usize,
    keys: Dict<StoredKey, Value>,
    expires: Dict<Key, i64>,
    /// True while a fork child exists: lookups then update no access metadata, and frees are
    /// deferred.
    fork_active: bool,
    /// What was dropped while a fork child existed, to free once it is gone.
    deferred: deferred::Deferred,
    /// Which deletions free big values on the lazy-free thread, and the thread.
    lazy_policy: LazyPolicy,
    lazy: lazyfree::LazyFree,
    /// Keys whose expiry entry was removed while a fork child existed: the entry stays in
    /// `expires` (unlinking it would copy the page of its bucket or neighbour) but counts as
    /// gone everywhere (`expire_of`, `expires_len`, `iter_expires`, sampling), and is unlinked
    /// once the child is gone (`merge_expire_tombstones`). Each key here has an entry there.
    expire_tombstones: std::collections::HashSet<Key>,
    /// Clients WATCHing keys of this database: key -> their slots.
    watchers: std::collections::HashMap<Key, Vec<usize>>,
    /// Keys some client is blocked on, with how many clients wait for each (Redis's
    /// `blocking_keys`; who waits is the server's blocking queues' business).
    blocking_keys: std::collections::HashMap<Key, u32>,
}

impl Db {
    fn new(id: usize, lazy: lazyfree::LazyFree) -> Db {
        Db {
            id,
            keys: Dict::new(),
            expires: Dict::new(),
            fork_active: false,
            deferred: Default::default(),
            lazy_policy: LazyPolicy::default(),
            lazy,
            expire_tombstones: Default::default(),
            watchers: Default::default(),
            blocking_keys: std::collections::HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len() - self.expire_tombstones.len()
    }

    /// Buckets of the key table and of the expiry table (DEBUG HTSTATS's sizes, load tests).
    /// The chain figures of the key table and of the expiry table (DEBUG HTSTATS).
    pub fn table_stats(
        &self,
    ) -> (Vec<crate::types::dict::TableStats>, Vec<crate::types::dict::TableStats>) {
        (self.keys.stats(), self.expires.stats())
    }

    pub fn table_sizes(&self) -> (usize, usize) {
        (self.keys.buckets(), self.expires.buckets())
    }

    /// The expiry time (ms since the epoch) of a key, if it has one.
    pub fn expire_of(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        if !self.expire_tombstones.is_empty() && self.expire_tombstones.contains(key) {
            return None;
        }
        self.expires.get(key).copied()
    }

    fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        matches!(self.expire_of(key), Some(t) if t <= now_ms)
    }

    fn expire_if_needed(&mut self, key: &[u8], now_ms: i64, out: &mut Outbox) -> bool {
        if self.is_expired(key, now_ms) {
            self.delete(key, self.lazy_policy.expire, out);
            if let Some(m @ Modified::Key(_)) = out.modified.last_mut() {
                if let Modified::Key(k) = std::mem::replace(m, Modified::Flush) {
                    *m = Modified::Expired(k);
                }
            }
            out.expired.push((self.id, key.into()));
            true
        } else {
            false
        }
    }

    /// `expire_if_needed` for plain lookups: what it deletes is left for the server to count
    /// and announce (see `Outbox::unreported`).
    fn expire_found(&mut self, key: &[u8], now_ms: i64, out: &mut Outbox) {
        if self.expire_if_needed(key, now_ms, out) {
            out.unreported.push((self.id, key.into()));
        }
    }

    fn get(&mut self, key: &[u8], now_ms: i64, out: &mut Outbox) -> Option<&Value> {
        self.expire_found(key, now_ms, out);
        self.keys.get(key)
    }

    fn get_accessed(&mut self, key: &[u8]) -> Option<&Value> {
        if self.fork_active {
            return self.keys.get(key);
        }
        let (k, v) = self.keys.get_key_value_mut(key)?;
        k.touch();
        Some(v)
    }

    fn get_mut(&mut self, key: &[u8], now_ms: i64, out: &mut Outbox) -> Option<&mut Value> {
        self.expire_found(key, now_ms, out);
        self.touch(key, out);
        let (k, v) = self.keys.get_key_value_mut(key)?;
        if !self.fork_active {
            k.touch();
        }
        Some(v)
    }

    fn get_or_create(
        &mut self,
        key: &[u8],
        now_ms: i64,
        make: impl FnOnce() -> Value,
        out: &mut Outbox,
    ) -> (&mut Value, bool) {
        self.expire_found(key, now_ms, out);
        self.touch(key, out);
        // No ready-key signal: clients block on lists and sorted sets, which this never creates.
        let id = self.id;
        let r = self.keys.get_or_insert_by(key, || StoredKey::new(key), make);
        if r.1 && out.track_created {
            out.created.push((id, key.into()));
        }
        r
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

    /// Sets a key's access metadata (RESTORE ... IDLETIME/FREQ). Not an access or a change.
    fn set_access_meta(&mut self, key: &[u8], meta: u32) {
        if let Some((k, _)) = self.keys.get_key_value_mut(key) {
            k.set_meta(meta);
        }
    }

    /// Looks a key up without expiring it (DEBUG, SCAN filters, digest).
    pub fn peek(&self, key: &[u8]) -> Option<&Value> {
        self.keys.get(key)
    }

    fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool, out: &mut Outbox) {
        self.touch(key, out);
        if !keep_ttl && !self.expires.is_empty() {
            self.remove_expire(key);
        }
        // While a child exists the old key's access data is kept (Redis updates none on a
        // lookup then): writing it would copy the key's page.
        let fork_active = self.fork_active;
        let old = self.keys.upsert(
            key,
            value,
            || StoredKey::new(key),
            |k| {
                if !fork_active {
                    k.touch()
                }
            },
        );
        match old {
            None => {
                self.signal_key_as_ready(key, out);
                self.note_created(key, out);
            }
            Some(v) if fork_active => self.deferred.value(v),
            Some(v) if self.lazy_policy.server_del => self.lazy.free(v),
            Some(_) => {}
        }
    }

    fn insert_new(&mut self, key: Key, value: Value, out: &mut Outbox) {
        self.touch(&key, out);
        if !self.blocking_keys.is_empty() {
            self.signal_key_as_ready(&key, out);
        }
        self.note_created(&key, out);
        self.keys.insert(StoredKey::new(&key), value);
    }

    // ----- keys clients are blocked on -----
    //
    // Creating a key that a client waits for marks it "ready", whatever command created it
    // (a push, RENAME, MOVE, RESTORE...): a key a client blocks on is missing or empty when it
    // blocks, so creation is the event that can unblock it, as in Redis's dbAdd.

    fn watch_key(&mut self, key: &[u8]) {
        match self.blocking_keys.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                self.blocking_keys.insert(key.into(), 1);
            }
        }
    }

    fn unwatch_key(&mut self, key: &[u8]) {
        if let Some(n) = self.blocking_keys.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.blocking_keys.remove(key);
            }
        }
    }

    /// A key this database did not hold was added (Redis's dbAdd): noted for the "new"
    /// keyspace event when those are on.
    #[inline]
    fn note_created(&self, key: &[u8], out: &mut Outbox) {
        if out.track_created {
            out.created.push((self.id, key.into()));
        }
    }

    fn signal_key_as_ready(&mut self, key: &[u8], out: &mut Outbox) {
        if self.blocking_keys.is_empty() || !self.blocking_keys.contains_key(key) {
            return;
        }
        let id = self.id;
        if !out.ready.iter().any(|(d, k)| *d == id && &k[..] == key) {
            out.ready.push((id, key.into()));
        }
    }

    /// Marks ready every key clients block on that holds a value (after SWAPDB or a load
    /// changed what the keys hold, as Redis's scanDatabaseForReadyKeys).
    fn signal_blocking_keys(&mut self, out: &mut Outbox) {
        if self.blocking_keys.is_empty() {
            return;
        }
        let present: Vec<Key> = self
            .blocking_keys
            .keys()
            .filter(|k| self.keys.get(&k[..]).is_some())
            .cloned()
            .collect();
        for k in present {
            self.signal_key_as_ready(&k, out);
        }
    }

    fn set_expire(&mut self, key: &[u8], when_ms: Option<i64>, out: &mut Outbox) {
        self.touch(key, out);
        match when_ms {
            Some(t) => {
                self.untombstone(key);
                if let Some(e) = self.expires.get_mut(key) {
                    *e = t;
                } else {
                    self.expires.insert(key.into(), t);
                }
            }
            None => {
                self.remove_expire(key);
            }
        }
    }

    /// Drops a key's expiry entry. While a child exists the entry stays where it is, marked
    /// gone in `expire_tombstones` (see there).
    fn remove_expire(&mut self, key: &[u8]) {
        if self.fork_active {
            if !self.expire_tombstones.contains(key) && self.expires.contains_key(key) {
                self.expire_tombstones.insert(key.into());
                self.deferred.add_expire_tombstone(key.len());
            }
        } else {
            self.untombstone(key);
            self.expires.remove(key);
        }
    }

    /// Takes `key` out of the expire tombstones, if there.
    fn untombstone(&mut self, key: &[u8]) {
        if !self.expire_tombstones.is_empty() && self.expire_tombstones.remove(key) {
            self.deferred.sub_expire_tombstone(key.len());
        }
    }

    /// Forgets every expire tombstone (their table was replaced).
    fn drop_tombstones(&mut self) {
        for k in std::mem::take(&mut self.expire_tombstones) {
            self.deferred.sub_expire_tombstone(k.len());
        }
    }

    /// Unlinks up to `max` expiry entries marked gone while a child existed; true when none
    /// is left. Only without a child (`release_deferred`).
    fn merge_expire_tombstones(&mut self, max: usize) -> bool {
        let batch: Vec<Key> = self.expire_tombstones.iter().take(max).cloned().collect();
        for k in batch {
            self.untombstone(&k);
            self.expires.remove(&k[..]);
        }
        if self.expire_tombstones.is_empty() {
            self.expire_tombstones = Default::default();
            true
        } else {
            false
        }
    }

    fn remove(&mut self, key: &[u8], out: &mut Outbox) -> Option<Value> {
        let v = if self.fork_active {
            let mut e = self.keys.remove_detached(key)?;
            // The caller takes the value; the node and the key wait for the child to end.
            let v = e.replace_value(Value::Str(crate::types::Str::Int(0)));
            self.deferred.entry(e);
            v
        } else {
            self.keys.remove(key)?.1
        };
        self.touch(key, out);
        if !self.expires.is_empty() {
            self.remove_expire(key);
        }
        Some(v)
    }

    /// Deletes a key; its value goes to the lazy-free thread when `lazy` (and big enough).
    fn delete(&mut self, key: &[u8], lazy: bool, out: &mut Outbox) -> bool {
        if !self.fork_active {
            return match self.remove(key, out) {
                Some(v) if lazy => {
                    self.lazy.free(v);
                    true
                }
                Some(_) => true,
                None => false,
            };
        }
        let Some(e) = self.keys.remove_detached(key) else {
            return false;
        };
        self.deferred.entry(e);
        self.touch(key, out);
        if !self.expires.is_empty() {
            self.remove_expire(key);
        }
        true
    }

    fn clear(&mut self, lazy: bool, out: &mut Outbox) -> usize {
        self.touch_all_watched(out);
        let n = self.keys.len();
        self.drop_tombstones();
        let keys = std::mem::take(&mut self.keys);
        let expires = std::mem::take(&mut self.expires);
        if self.fork_active {
            self.deferred.tables(keys, expires);
            self.keys.set_resize_policy(ResizePolicy::Avoid);
            self.expires.set_resize_policy(ResizePolicy::Avoid);
        } else if lazy {
            self.lazy.free_tables(keys, expires);
        }
        n
    }

    /// Every key and value (not expiring anything).
    pub fn iter(&self) -> impl Iterator<Item = (&StoredKey, &Value)> {
        self.keys.iter()
    }

    /// Keys with an expiry, and their times.
    pub fn iter_expires(&self) -> impl Iterator<Item = (&Key, &i64)> {
        self.expires.iter().filter(|(k, _)| !self.expire_tombstones.contains(&k[..]))
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

    fn set_fork_active(&mut self, active: bool) {
        self.fork_active = active;
        let p = if active { ResizePolicy::Avoid } else { ResizePolicy::Enable };
        self.keys.set_resize_policy(p);
        self.expires.set_resize_policy(p);
    }

    fn rehash_for(&mut self, budget: std::time::Duration) {
        self.keys.rehash_for(budget);
        self.expires.rehash_for(budget);
    }

    fn shrink_if_sparse(&mut self) {
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
        let gone = &self.expire_tombstones;
        out.extend(
            v.into_iter()
                .filter(|(k, _)| gone.is_empty() || !gone.contains(&k[..]))
                .map(|(k, t)| (k.clone(), *t)),
        );
    }

    fn swap_contents(&mut self, other: &mut Db, out: &mut Outbox) {
        // Watched keys that exist on either side change value.
        let mine: Vec<Key> =
            self.watchers.keys().filter(|k| other.keys.contains_key(&k[..])).cloned().collect();
        let theirs: Vec<Key> =
            other.watchers.keys().filter(|k| self.keys.contains_key(&k[..])).cloned().collect();
        self.touch_all_watched(out);
        other.touch_all_watched(out);
        for k in mine {
            self.touch(&k, out);
        }
        for k in theirs {
            other.touch(&k, out);
        }
        std::mem::swap(&mut self.keys, &mut other.keys);
        std::mem::swap(&mut self.expires, &mut other.expires);
        // The tombstones go with their table, and their bytes with them.
        let mine = std::mem::take(&mut self.expire_tombstones);
        let theirs = std::mem::take(&mut other.expire_tombstones);
        for k in &mine {
            self.deferred.sub_expire_tombstone(k.len());
            other.deferred.add_expire_tombstone(k.len());
        }
        for k in &theirs {
            other.deferred.sub_expire_tombstone(k.len());
            self.deferred.add_expire_tombstone(k.len());
        }
        self.expire_tombstones = theirs;
        other.expire_tombstones = mine;
    }

    /// Records that `key` changed, for the clients WATCHing it.
    #[inline]
    fn touch(&mut self, key: &[u8], out: &mut Outbox) {
        if out.track_modified {
            out.modified.push(Modified::Key(key.into()));
        }
        if !self.watchers.is_empty() {
            if let Some(slots) = self.watchers.get(key) {
                out.touched.extend_from_slice(slots);
            }
        }
    }

    /// Every watched key that exists counts as changed (FLUSHDB, FLUSHALL, SWAPDB, a load).
    fn touch_all_watched(&mut self, out: &mut Outbox) {
        if self.watchers.is_empty() {
            return;
        }
        let existing = self
            .watchers
            .iter()
            .filter(|(k, _)| self.keys.contains_key(&k[..]))
            .flat_map(|(_, v)| v.iter().copied());
        out.touched.extend(existing);
    }

    fn watch(&mut self, key: &[u8], slot: usize) {
        let v = self.watchers.entry(key.into()).or_default();
        if !v.contains(&slot) {
            v.push(slot);
        }
    }

    fn unwatch(&mut self, key: &[u8], slot: usize) {
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

#[cfg(test)]
mod fork_tests {
    //! The keyspace with a simulated fork child: frees deferred while it lives, released in
    //! steps after, nothing a client sees changed.
    use super::*;
    use std::time::Duration;

    const LONG: Duration = Duration::from_secs(3600);

    fn big(fill: u8) -> Value {
        Value::Str(Str::from_bytes(&[fill; 100]))
    }

    fn key(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    fn filled(n: usize) -> Keyspace {
        let mut ks = Keyspace::new(2);
        for i in 0..n {
            ks.set(0, &key(i), big(b'a'), false);
            ks.set(1, &key(i), big(b'b'), false);
            if i % 3 == 0 {
                ks.set_expire(0, &key(i), Some(i64::MAX / 2));
            }
        }
        ks
    }

    /// The same changes, with or without a child in the middle of them.
    fn changes(ks: &mut Keyspace) {
        for i in (0..1000).step_by(7) {
            ks.set(0, &key(i), big(b'z'), false);
        }
        for i in (1..1000).step_by(11) {
            ks.delete(0, &key(i));
        }
        ks.set(0, b"small", Value::Str(Str::from_bytes(b"12")), false);
        ks.set(0, b"small", Value::Str(Str::from_bytes(b"13")), false);
        let taken = ks.remove(0, &key(2)).expect("key:2 exists");
        ks.insert_new(0, key(5000).into(), taken);
        ks.set_expire(0, &key(3), None);
        ks.set_expire(0, &key(4), Some(i64::MAX / 4));
        ks.clear(1);
    }

    #[test]
    fn frees_wait_for_the_child_and_the_dataset_is_the_same() {
        let mut plain = filled(1000);
        changes(&mut plain);
        let mut ks = filled(1000);
        ks.set_fork_active(true);
        changes(&mut ks);
        let expected = dataset_digest(&plain);
        assert_eq!(dataset_digest(&ks), expected);
        assert_eq!(ks.total_keys(), plain.total_keys());
        assert!(ks.has_deferred());
        let deferred = ks.deferred_bytes();
        // 143 values of 100 bytes (112-byte class), 91 whole keys and a 1000-key table.
        assert!(deferred >= 143 * 112 + 91 * 112 + 1000 * 112, "{deferred}");
        // Nothing is released while the child lives.
        assert!(!ks.release_deferred(LONG));
        assert_eq!(ks.deferred_bytes(), deferred);
        ks.set_fork_active(false);
        assert!(ks.release_deferred(LONG));
        assert!(!ks.has_deferred());
        assert_eq!(ks.deferred_bytes(), 0);
        assert_eq!(dataset_digest(&ks), expected);
        assert_eq!(plain.deferred_bytes(), 0, "no child, nothing deferred");
    }

    #[test]
    fn a_dropped_key_counts_as_freed_by_its_memory_usage() {
        let mut ks = filled(10);
        ks.set_fork_active(true);
        let usage = ks[0].memory_usage(&key(1), 5).unwrap();
        ks.delete(0, &key(1));
        let before = ks.deferred_bytes();
        assert_eq!(before as usize, usage);
        let value_usage = crate::types::memory::value_usage(ks[0].peek(&key(2)).unwrap(), 5);
        ks.set(0, &key(2), big(b'q'), true);
        assert_eq!(ks.deferred_bytes() - before, value_usage as u64);
        // A value without heap memory frees nothing: it is not kept.
        ks.set(0, &key(2), Value::Str(Str::from_bytes(b"1")), true);
        ks.set(0, &key(2), Value::Str(Str::from_bytes(b"2")), true);
        assert_eq!(ks.deferred_bytes() - before, value_usage as u64 + 112);
    }

    #[test]
    fn release_goes_in_steps() {
        let mut ks = filled(5000);
        ks.set_fork_active(true);
        for i in 0..5000 {
            ks.set(0, &key(i), big(b'n'), true);
        }
        ks.clear(1);
        ks.set_fork_active(false);
        let mut steps = 0;
        let mut last = ks.deferred_bytes();
        while !ks.release_deferred(Duration::ZERO) {
            steps += 1;
            let now = ks.deferred_bytes();
            assert!(now < last, "a step released nothing");
            last = now;
            assert!(steps < 10_000);
        }
        assert!(steps > 10, "released in {steps} steps");
        assert_eq!(ks.deferred_bytes(), 0);
    }

    #[test]
    fn expiries_removed_while_forked_are_gone_everywhere_and_unlinked_after() {
        let mut ks = filled(300); // keys 0, 3, 6... have an expiry: 100 of them
        ks.set_fork_active(true);
        ks.set(0, &key(0), big(b'x'), false); // SET drops the TTL
        ks.set_expire(0, &key(3), None); // PERSIST
        ks.delete(0, &key(6)); // DEL
        ks.set_expire(0, &key(9), None);
        ks.set_expire(0, &key(9), Some(77)); // back with a new time
        ks.insert_new(0, key(6).into(), big(b'r')); // re-created without a TTL
        for k in [0, 3, 6] {
            assert_eq!(ks[0].expire_of(&key(k)), None, "key:{k}");
        }
        assert_eq!(ks[0].expire_of(&key(9)), Some(77));
        assert_eq!(ks[0].expires_len(), 97);
        assert_eq!(ks[0].iter_expires().count(), 97);
        let mut sample = Vec::new();
        ks[0].sample_expires(1000, &mut sample);
        assert!(sample.iter().all(|(k, _)| ![key(0), key(3), key(6)].contains(&k.to_vec())));
        assert!(ks.deferred_bytes() > 0);
        let digest = dataset_digest(&ks);
        // SWAPDB carries the marks with their table.
        ks.swap(0, 1);
        assert_eq!(ks[1].expires_len(), 97);
        assert_eq!(ks[1].expire_of(&key(3)), None);
        ks.swap(0, 1);
        // A second child before the merge: the marks stay valid.
        ks.set_fork_active(false);
        ks.set_fork_active(true);
        assert!(!ks.release_deferred(LONG));
        assert_eq!(ks[0].expires_len(), 97);
        ks.set_fork_active(false);
        assert!(ks.release_deferred(LONG));
        assert_eq!(ks.deferred_bytes(), 0);
        assert_eq!(ks[0].expires_len(), 97);
        assert_eq!(dataset_digest(&ks), digest);
        assert_eq!(ks[0].expire_of(&key(3)), None);
        assert_eq!(ks[0].expire_of(&key(9)), Some(77));
    }

    #[test]
    fn writes_while_forked_leave_access_data_alone() {
        let mut ks = filled(10);
        let before = ks[0].access_meta(&key(1)).unwrap();
        crate::types::access::update(1_000_000_000_000, false, 10, 1);
        ks.set_fork_active(true);
        ks.set(0, &key(1), big(b'w'), true);
        let _ = ks.get_mut(0, &key(1), 0);
        assert_eq!(ks[0].access_meta(&key(1)), Some(before));
    }
}

#[cfg(test)]
mod modified_tests {
    //! What the keyspace reports to client-side caching.
    use super::*;

    fn v(b: &[u8]) -> Value {
        Value::Str(Str::from_bytes(b))
    }

    #[test]
    fn changes_are_reported_only_while_asked_and_in_order() {
        let mut ks = Keyspace::new(2);
        ks.set(0, b"a", v(b"1"), false);
        assert!(ks.take_modified().is_empty());
        ks.track_modified(true);
        ks.set(0, b"a", v(b"2"), false);
        ks.set_expire(0, b"b", Some(5));
        ks.set(1, b"b", v(b"1"), false);
        ks.set_expire(1, b"b", Some(5));
        assert!(ks.expire_if_needed(1, b"b", 10));
        ks.clear_all();
        ks.clear(1);
        let got = ks.take_modified();
        assert_eq!(
            got,
            vec![
                Modified::Key(b"a"[..].into()),
                Modified::Key(b"b"[..].into()),
                Modified::Key(b"b"[..].into()),
                Modified::Key(b"b"[..].into()),
                Modified::Expired(b"b"[..].into()),
                Modified::Flush,
                Modified::Flush,
            ]
        );
        ks.track_modified(false);
        ks.set(0, b"a", v(b"3"), false);
        assert!(ks.take_modified().is_empty());
    }
}
