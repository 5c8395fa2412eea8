//! The active expire cycle: on each cron tick, sample keys that have an expiry in each
//! database and delete those whose time has passed, repeating while more than a quarter of a
//! sample was expired and the tick's time budget lasts — Redis's activeExpireCycle (slow
//! cycle), with the budget growing with `active-expire-effort`.

use std::time::{Duration, Instant};

use crate::app::server::Server;

/// Keys sampled per database per round.
const KEYS_PER_LOOP: usize = 20;
/// Percentage of a cron tick the cycle may use.
const SLOW_TIME_PERC: u64 = 25;

pub fn active_expire_cycle(srv: &mut Server, now_ms: i64) {
    if !srv.debug_active_expire {
        return;
    }
    let effort = srv.config.active_expire_effort.clamp(1, 10) as u64 - 1;
    let per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * effort as usize;
    let budget_us = 1_000_000 * (SLOW_TIME_PERC + 2 * effort) / srv.hz.max(1) as u64 / 100;
    let deadline = Instant::now() + Duration::from_micros(budget_us);
    let mut sample = Vec::with_capacity(per_loop);
    for id in 0..srv.dbs.len() {
        loop {
            if srv.dbs[id].expires_len() == 0 || Instant::now() >= deadline {
                break;
            }
            sample.clear();
            srv.dbs[id].sample_expires(per_loop, &mut sample);
            let mut expired = 0;
            for (key, when) in &sample {
                if *when <= now_ms && srv.dbs[id].remove(key).is_some() {
                    expired += 1;
                    srv.notify(crate::config::custom::notify::EXPIRED, "expired", key, id);
                    crate::engine::feed::propagate_now(
                        srv,
                        id,
                        vec![b"DEL".to_vec(), key.to_vec()],
                    );
                }
            }
            srv.stats.expired_keys += expired as u64;
            if sample.is_empty() || expired * 4 < sample.len() {
                break;
            }
        }
    }
}
