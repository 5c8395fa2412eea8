//! Lazy free: big values and whole emptied databases are dropped on a background thread, as
//! Redis's lazyfree.c hands them to its bio thread, so that UNLINK, FLUSHALL ASYNC and the
//! `lazyfree-lazy-*` directives return at once however big the value.
//!
//! Only what is costly to free goes there: the effort of a value is estimated as Redis's
//! lazyfreeGetFreeEffort does (quicklist nodes, table or skiplist entries, stream nodes and
//! groups times the first group's PEL, 1 for everything held in one allocation), and a value
//! whose effort is at most `THRESHOLD` is dropped where it is, which is cheaper than sending
//! it. INFO shows the objects waiting (`lazyfree_pending_objects`) and those freed so far
//! (`lazyfreed_objects`, reset by CONFIG RESETSTAT), counted as Redis counts them: one per
//! value, the number of keys for a database.
//!
//! The thread starts on first use, so a server (or a test, or a fuzzer) that never frees a big
//! value lazily has none. While a fork child exists, nothing is sent here: the keyspace defers
//! those frees until the child is gone (`deferred`), since freeing memory the child shares
//! copies its pages whichever thread does it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, OnceLock};

use crate::types::dict::Dict;
use crate::types::hash::Hash;
use crate::types::set::Set;
use crate::types::zset::ZSet;
use crate::types::{Key, StoredKey, Value};

/// Above this effort a value is freed on the thread (Redis's LAZYFREE_THRESHOLD).
pub const THRESHOLD: usize = 64;

/// What the thread frees.
enum Job {
    Value(Value),
    /// A database's tables, and the number of objects they count as.
    Tables(Dict<StoredKey, Value>, Dict<Key, i64>, u64),
}

#[derive(Default)]
struct Shared {
    /// Objects sent and not yet freed.
    pending: AtomicU64,
    /// Objects freed since start or the last CONFIG RESETSTAT.
    freed: AtomicU64,
    /// The thread's queue, once it is started; `None` inside when it could not be.
    tx: OnceLock<Option<Sender<Job>>>,
    /// Run by the thread after each job, told whether it freed a flushed database: the
    /// server's allocator upkeep (its thread cache handed back, so INFO's used memory drops;
    /// pages returned to the OS after a flush, as a synchronous FLUSHALL purges).
    after_free: OnceLock<fn(bool)>,
}

/// A handle on the lazy-free thread, shared by every database (clones are the same thread
/// and counters).
#[derive(Clone, Default)]
pub struct LazyFree {
    shared: Arc<Shared>,
}

/// The work of freeing `v`, as Redis's lazyfreeGetFreeEffort estimates it.
pub fn effort(v: &Value) -> usize {
    match v {
        Value::List(l) => l.node_count(),
        Value::Set(s) => match &**s {
            Set::Table(_) => s.len(),
            _ => 1,
        },
        Value::ZSet(z) => match &**z {
            ZSet::Skiplist(_) => z.len(),
            _ => 1,
        },
        Value::Hash(h) => match &**h {
            Hash::Table(_) => h.len(),
            _ => 1,
        },
        Value::Stream(s) => {
            // Every node is an allocation, and so is every group and its PEL's entries; the
            // first group's PEL stands for all (constant time, as Redis).
            let nodes = s.rax_node_count() as usize;
            let groups = s.groups.len();
            let pel = s.groups.values().next().map_or(0, |g| g.pel.len());
            nodes + groups * (1 + pel)
        }
        Value::Str(_) => 1,
    }
}

impl LazyFree {
    /// Frees `v`: on the thread when its effort is above `THRESHOLD`, here otherwise.
    pub fn free(&self, v: Value) {
        if effort(&v) > THRESHOLD {
            self.send(Job::Value(v), 1);
        }
    }

    /// Frees a database's emptied tables on the thread, counted as their number of keys.
    pub fn free_tables(&self, keys: Dict<StoredKey, Value>, expires: Dict<Key, i64>) {
        if keys.is_empty() && expires.is_empty() {
            return;
        }
        let n = keys.len() as u64;
        self.send(Job::Tables(keys, expires, n), n);
    }

    /// What the thread runs after each job (see `Shared::after_free`; set once, by the
    /// server, which knows the allocator).
    pub fn set_after_free(&self, hook: fn(bool)) {
        let _ = self.shared.after_free.set(hook);
    }

    /// Objects waiting to be freed (INFO `lazyfree_pending_objects`).
    pub fn pending(&self) -> u64 {
        self.shared.pending.load(Ordering::Relaxed)
    }

    /// Objects freed (INFO `lazyfreed_objects`).
    pub fn freed(&self) -> u64 {
        self.shared.freed.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.shared.freed.store(0, Ordering::Relaxed);
    }

    /// Hands a job to the thread, starting it the first time; if it cannot be started (or
    /// is gone), the job is freed here: slower, never lost or leaked.
    fn send(&self, job: Job, objects: u64) {
        let tx = self.shared.tx.get_or_init(|| self.start());
        let Some(tx) = tx else {
            drop(job);
            return;
        };
        self.shared.pending.fetch_add(objects, Ordering::Relaxed);
        if let Err(mpsc::SendError(job)) = tx.send(job) {
            self.shared.pending.fetch_sub(objects, Ordering::Relaxed);
            drop(job);
        }
    }

    fn start(&self) -> Option<Sender<Job>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new().name("lazyfree".into()).spawn(move || {
            for job in rx {
                let (n, tables) = match job {
                    Job::Value(v) => {
                        drop(v);
                        (1, false)
                    }
                    Job::Tables(keys, expires, n) => {
                        drop(keys);
                        drop(expires);
                        (n, true)
                    }
                };
                if let Some(hook) = shared.after_free.get() {
                    hook(tables);
                }
                shared.pending.fetch_sub(n, Ordering::Relaxed);
                shared.freed.fetch_add(n, Ordering::Relaxed);
            }
        });
        spawned.ok().map(|_| tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Str;

    fn big_set(n: usize) -> Value {
        let mut s = Set::new();
        for i in 0..n {
            s.insert(format!("member:{i}").as_bytes(), 512);
        }
        Value::Set(Box::new(s))
    }

    fn wait_idle(lf: &LazyFree) {
        for _ in 0..1000 {
            if lf.pending() == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("lazy free never finished");
    }

    #[test]
    fn small_values_are_freed_in_place_and_big_ones_on_the_thread() {
        let lf = LazyFree::default();
        lf.free(Value::Str(Str::Int(1)));
        lf.free(big_set(10));
        assert_eq!(lf.freed(), 0);
        assert!(lf.shared.tx.get().is_none(), "no thread for small values");
        assert_eq!(effort(&big_set(100)), 100);
        lf.free(big_set(100));
        wait_idle(&lf);
        assert_eq!(lf.freed(), 1);
        lf.reset_stats();
        assert_eq!(lf.freed(), 0);
    }

    #[test]
    fn tables_count_as_their_keys() {
        let lf = LazyFree::default();
        let mut keys: Dict<StoredKey, Value> = Dict::new();
        for i in 0..10 {
            keys.insert(StoredKey::new(format!("k{i}").as_bytes()), Value::Str(Str::Int(i)));
        }
        lf.free_tables(keys, Dict::new());
        wait_idle(&lf);
        assert_eq!(lf.freed(), 10);
    }
}
