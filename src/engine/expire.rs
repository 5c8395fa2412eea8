//! The active expire cycle: on each cron tick, sample keys that have an expiry in each
//! database and delete those whose time has passed, repeating while more than a quarter of a
//! sample was expired and the tick's time budget lasts — Redis's activeExpireCycle (slow
//! cycle), with the budget growing with `active-expire-effort`.
//!
//! The cycle owns no state: it takes the databases and the settings, and hands each key it
//! deletes to an `ExpireHost` (the top layer), which counts it, announces it and feeds the
//! DEL — what a deletion means beyond the keyspace is not this module's business.

use std::time::{Duration, Instant};

use tine_core::keyspace::Keyspace;

/// What the cycle needs from the layer that owns the databases.
pub(crate) trait ExpireHost {
    fn dbs(&mut self) -> &mut Keyspace;
    /// `key` of database `db` was deleted because its time had passed: count it
    /// (`expired_keys`), publish the "expired" event, feed `DEL key`, in that order.
    fn expired(&mut self, db: usize, key: &[u8]);
}

/// Keys sampled per database per round.
const KEYS_PER_LOOP: usize = 20;
/// Percentage of a cron tick the cycle may use.
const SLOW_TIME_PERC: u64 = 25;

/// One slow cycle. `effort` is `active-expire-effort` (1-10), `hz` the cron frequency that
/// sets the time budget.
pub(crate) fn active_expire_cycle<H: ExpireHost>(host: &mut H, effort: i64, hz: i64, now_ms: i64) {
    let effort = effort.clamp(1, 10) as u64 - 1;
    let per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * effort as usize;
    let budget_us = 1_000_000 * (SLOW_TIME_PERC + 2 * effort) / hz.max(1) as u64 / 100;
    let deadline = Instant::now() + Duration::from_micros(budget_us);
    let mut sample = Vec::with_capacity(per_loop);
    for id in 0..host.dbs().len() {
        loop {
            if host.dbs()[id].expires_len() == 0 || Instant::now() >= deadline {
                break;
            }
            sample.clear();
            host.dbs()[id].sample_expires(per_loop, &mut sample);
            let mut expired = 0;
            for (key, when) in &sample {
                if *when <= now_ms && host.dbs().delete_expired(id, key) {
                    expired += 1;
                    host.expired(id, key);
                }
            }
            if sample.is_empty() || expired * 4 < sample.len() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tine_core::keyspace::{Str, Value};

    /// Databases, and the deletions the cycle reported, in order.
    struct Host {
        dbs: Keyspace,
        expired: Vec<(usize, Vec<u8>)>,
    }

    impl ExpireHost for Host {
        fn dbs(&mut self) -> &mut Keyspace {
            &mut self.dbs
        }
        fn expired(&mut self, db: usize, key: &[u8]) {
            self.expired.push((db, key.to_vec()));
        }
    }

    fn host_with(keys: &[(usize, &str, i64)]) -> Host {
        let mut h = Host { dbs: Keyspace::new(2), expired: Vec::new() };
        for &(db, key, when) in keys {
            h.dbs.set(db, key.as_bytes(), Value::Str(Str::from_bytes(b"v")), false);
            h.dbs.set_expire(db, key.as_bytes(), Some(when));
        }
        h
    }

    #[test]
    fn deletes_and_reports_only_keys_whose_time_has_passed() {
        let mut h = host_with(&[(0, "old", 100), (0, "new", 10_000), (1, "old1", 50)]);
        h.dbs.set(1, b"persistent", Value::Str(Str::from_bytes(b"v")), false);
        active_expire_cycle(&mut h, 1, 10, 1_000);
        h.expired.sort();
        assert_eq!(h.expired, [(0, b"old".to_vec()), (1, b"old1".to_vec())]);
        assert_eq!(h.dbs[0].len(), 1);
        assert_eq!(h.dbs[1].len(), 1);
    }

    #[test]
    fn keeps_sampling_while_most_of_a_sample_was_expired() {
        let keys: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
        let spec: Vec<(usize, &str, i64)> = keys.iter().map(|k| (0, k.as_str(), 1)).collect();
        let mut h = host_with(&spec);
        // A generous budget (hz 1), every key due: one call goes on past its first sample of
        // 65 keys (effort 10). It may stop early on an empty sample from a sparse table, as
        // Redis's does, so the rest goes in later cycles.
        active_expire_cycle(&mut h, 10, 1, 1_000);
        assert!(h.expired.len() > 65, "only {} expired", h.expired.len());
        for _ in 0..100 {
            active_expire_cycle(&mut h, 10, 1, 1_000);
        }
        assert_eq!(h.expired.len(), 200);
        assert_eq!(h.dbs[0].len(), 0);
    }
}
