//! `maxmemory` and eviction, as Redis's evict.c: before running a command, when used memory
//! is above `maxmemory`, keys are evicted by `maxmemory-policy` until it is not; if nothing
//! can be evicted, commands flagged `denyoom` are refused with OOM.
//!
//! The LRU, LFU and TTL policies are approximated as Redis approximates them: each round
//! samples `maxmemory-samples` keys from every database (all keys, or only keys with an expiry
//! for the `volatile-*` policies), scores them (idle time, inverse access frequency, or how
//! soon they expire) and merges them into a 16-entry pool of the best candidates kept across
//! rounds; the best candidate that still exists is evicted. The random policies pick a random
//! key. Access data comes from `tine_core::types::access` (3 bytes beside each key). Evicting honours
//! `maxmemory-eviction-tenacity`: a round of evictions stops after a time budget, and the next
//! command continues.
//!
//! The pool is this module's state; the databases, the settings and what an eviction means
//! beyond the keyspace (counted, dirty, announced) come from an `EvictHost`, the top layer.

use crate::engine::memory::used_memory;
use std::time::{Duration, Instant};

use crate::config::Config;
use tine_core::keyspace::Keyspace;
use tine_core::types::access;

/// What eviction needs from the layer that owns the databases.
pub(crate) trait EvictHost {
    fn config(&self) -> &Config;
    /// True while the startup load runs: nothing is evicted then.
    fn loading(&self) -> bool;
    /// The databases and the pool, borrowed together.
    fn evict_parts(&mut self) -> (&mut Keyspace, &mut EvictionPool);
    /// `key` of `db` was evicted: count it (`evicted_keys`), mark the dataset dirty and
    /// publish the "evicted" event.
    fn evicted(&mut self, db: usize, key: &[u8]);
}

/// Redis's OOM error.
pub(crate) const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// Candidates kept across rounds (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;

/// One candidate: a key of a database with its score (higher is evicted first).
#[derive(Clone)]
struct Candidate {
    score: u64,
    db: usize,
    key: Vec<u8>,
}

/// The eviction pool, kept in the server between calls.
#[derive(Default)]
pub(crate) struct EvictionPool {
    best: Vec<Candidate>,
}

impl EvictionPool {
    fn offer(&mut self, c: Candidate) {
        if self.best.iter().any(|b| b.db == c.db && b.key == c.key) {
            return;
        }
        if self.best.len() >= POOL_SIZE {
            let worst = self
                .best
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.score)
                .map(|(i, b)| (i, b.score));
            match worst {
                Some((i, s)) if s < c.score => {
                    self.best.swap_remove(i);
                }
                _ => return,
            }
        }
        self.best.push(c);
    }

    fn take_best(&mut self) -> Option<Candidate> {
        let (i, _) = self.best.iter().enumerate().max_by_key(|(_, b)| b.score)?;
        Some(self.best.swap_remove(i))
    }
}

/// Elements sampled to estimate an evicted key's size (MEMORY USAGE's default).
const ESTIMATE_SAMPLES: usize = 5;

/// Frees memory until used memory is at most `maxmemory`. Returns false when that could not
/// be done (nothing evictable, or `noeviction`): the caller refuses denyoom commands.
pub(crate) fn perform_evictions<H: EvictHost>(srv: &mut H) -> bool {
    let max = srv.config().maxmemory;
    if max == 0 || srv.loading() {
        return true;
    }
    // A key dropped while a fork child lives is freed only once the child is gone (the
    // keyspace's deferred frees): it counts as freed now, or eviction would delete keys for
    // the whole save.
    let not_counted = |dbs: &Keyspace| dbs.deferred_bytes();
    let mut used = used_memory().saturating_sub(not_counted(srv.evict_parts().0));
    if used <= max {
        return true;
    }
    // Over the limit: measure again without what the thread cache holds (freed, yet counted
    // as used), or the keys freed by the last round would be evicted for again and again.
    crate::engine::memory::flush_thread_cache();
    used = used_memory().saturating_sub(not_counted(srv.evict_parts().0));
    if used <= max {
        return true;
    }
    let policy = srv.config().maxmemory_policy;
    if !policy.evicts() {
        return false;
    }
    // Redis's tenacity: 10 (default) is 500 us, scaling up steeply; 100 means no limit.
    let tenacity = srv.config().maxmemory_eviction_tenacity.clamp(0, 100);
    let budget = if tenacity >= 100 {
        None
    } else {
        let us = 50.0 * 1.15f64.powi(tenacity as i32).max(1.0);
        Some(Duration::from_micros(us as u64 * 10))
    };
    let started = Instant::now();
    let samples = srv.config().maxmemory_samples.max(1) as usize;
    let lazy = srv.config().lazyfree_lazy_eviction;
    // As Redis, keys go until what they freed covers the excess, measured across each
    // deletion alone (the allocator's thread cache flushed, or a freed allocation kept there
    // would still count as used). What the deletions make other parts use meanwhile (the
    // DELs fed to the AOF and replicas, client-side caching's invalidation messages) is not
    // counted against them, as in Redis: it is freed once written, and counting it made
    // eviction feed on itself (ten tracking clients emptied the database). A key freed later
    // (on the lazy-free thread, or after a fork child ends) counts its estimated size
    // (MEMORY USAGE's). The next command measures again.
    let to_free = used - max;
    let mut freed = 0u64;
    let measure = || {
        crate::engine::memory::flush_thread_cache();
        used_memory()
    };
    while freed < to_free {
        let (dbs, pool) = srv.evict_parts();
        let Some((db, key)) = pick_victim(dbs, pool, policy, samples) else {
            return false;
        };
        let later = lazy || dbs.fork_active();
        let estimate = if later {
            dbs[db].memory_usage(&key, ESTIMATE_SAMPLES).unwrap_or(0) as u64
        } else {
            0
        };
        let before = measure();
        dbs.delete_with(db, &key, lazy);
        freed += before.saturating_sub(measure()).max(estimate).max(1);
        srv.evicted(db, &key);
        if budget.is_some_and(|b| started.elapsed() > b) {
            // Time is up for this command; the next one continues. Like Redis's
            // EVICT_RUNNING, this is not a failure: the command runs.
            return true;
        }
    }
    true
}

/// Chooses the next key to evict under `policy`.
fn pick_victim(
    dbs: &mut Keyspace,
    pool: &mut EvictionPool,
    policy: crate::config::MaxmemoryPolicy,
    samples: usize,
) -> Option<(usize, Vec<u8>)> {
    let volatile = policy.is_volatile();
    if policy.is_random() {
        let mut rng = rand::thread_rng();
        let n = dbs.len();
        let start = rand::Rng::gen_range(&mut rng, 0..n);
        for i in 0..n {
            let db = (start + i) % n;
            let d = &dbs[db];
            let key = if volatile {
                // A one-key sample can come back empty from a sparse table; Redis's
                // dictGetRandomKey keeps looking, so do we (bounded).
                let mut s = Vec::new();
                for _ in 0..1000 {
                    if d.expires_len() == 0 || !s.is_empty() {
                        break;
                    }
                    d.sample_expires(1, &mut s);
                }
                s.into_iter().next().map(|(k, _)| k.to_vec())
            } else {
                d.random_key().map(|k| k.to_vec())
            };
            if let Some(k) = key {
                return Some((db, k));
            }
        }
        return None;
    }
    // Sampling can miss every key of a sparse table in one round; Redis samples again
    // while there are candidates at all (its `while (bestkey == NULL)`), so do we, bounded.
    for _ in 0..100 {
        let candidates: usize =
            dbs.iter().map(|d| if volatile { d.expires_len() } else { d.len() }).sum();
        if candidates == 0 {
            return None;
        }
        if let Some(found) = pool_round(dbs, pool, policy, volatile, samples) {
            return Some(found);
        }
    }
    None
}

/// One round of the pool policies: sample every database into the pool, then take the best
/// candidate that still exists.
fn pool_round(
    dbs: &mut Keyspace,
    pool: &mut EvictionPool,
    policy: crate::config::MaxmemoryPolicy,
    volatile: bool,
    samples: usize,
) -> Option<(usize, Vec<u8>)> {
    for (db, d) in dbs.iter().enumerate() {
        let mut keys: Vec<(Vec<u8>, Option<i64>)> = Vec::new();
        if volatile {
            let mut s = Vec::new();
            d.sample_expires(samples, &mut s);
            keys.extend(s.into_iter().map(|(k, t)| (k.to_vec(), Some(t))));
        } else {
            keys.extend(d.sample_keys(samples).into_iter().map(|k| (k, None)));
        }
        for (key, expire) in keys {
            let score = if policy.is_ttl() {
                u64::MAX - expire.unwrap_or(i64::MAX).max(0) as u64
            } else {
                let Some(meta) = d.access_meta(&key) else {
                    continue;
                };
                if policy.is_lfu() {
                    255 - access::lfu_decr_and_return(meta) as u64
                } else {
                    access::idle_ms(meta)
                }
            };
            pool.offer(Candidate { score, db, key });
        }
    }
    while let Some(c) = pool.take_best() {
        if dbs[c.db].peek(&c.key).is_some() {
            return Some((c.db, c.key));
        }
    }
    None
}
