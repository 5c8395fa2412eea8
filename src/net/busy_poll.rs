//! The busy-poll window: after a poll that found work, the event loop polls without
//! blocking for up to `busy-poll-usec` microseconds before it goes to sleep in the kernel.
//!
//! # Why
//!
//! A server that is quicker than its clients runs out of work between their requests and
//! sleeps in `epoll_wait`. Each sleep is paid twice: the client's next write must wake the
//! server (on a virtual machine an inter-processor interrupt, the dearest part of a loopback
//! round trip), and the scheduler may move the woken server to another core, cold caches
//! and all. Under `redis-benchmark` tine slept five times as often as redis-server (which
//! is slower per request, so its next requests were already waiting) and lost 5-10% of
//! throughput to wakeups. Waiting a few microseconds for the next request, awake, costs
//! less than being woken for it. This is the same trade the kernel's `busy_poll` socket
//! option and polling servers make.
//!
//! # What it costs, and the limits
//!
//! Spinning burns CPU, so the window opens only when the last poll returned events (a busy
//! loop, not an idle server), never while a fork child is alive (on a small machine the
//! child needs that core to finish the snapshot), and never when the loop has a reason to
//! wake sooner anyway. A window that ends without an event is a miss; after
//! [`MAX_MISSES`] misses (plus one per [`HITS_PER_EXTRA_MISS`] windows that caught an
//! event) no window opens until the next cron tick, so a lightly loaded server whose
//! requests arrive far apart spins at most a few windows per tick, while a busy one, whose
//! windows nearly always catch the next request, keeps spinning.
//! `busy-poll-usec 0` turns it off.

use std::time::{Duration, Instant};

use mio::{Events, Poll};

/// Windows that may end without an event between two cron ticks, on an idle server.
pub(crate) const MAX_MISSES: u32 = 4;
/// A busy server may miss once more for every this many windows that caught an event (under
/// redis-benchmark fewer than 1 in 100 windows miss).
pub(crate) const HITS_PER_EXTRA_MISS: u32 = 8;

/// State of the busy-poll window (see the module docs).
#[derive(Default)]
pub(crate) struct BusyPoll {
    /// Windows that ended without an event since the last cron tick.
    misses: u32,
    /// Windows that caught an event since the last cron tick.
    hits: u32,
}

impl BusyPoll {
    /// Cron tick: a new allowance of misses.
    pub(crate) fn reset(&mut self) {
        *self = BusyPoll::default();
    }

    /// How long to poll without blocking before sleeping, given `busy-poll-usec`, whether a
    /// fork child is alive, whether the last poll returned events and how long the loop would
    /// sleep.
    pub(crate) fn window(
        &self,
        busy_poll_usec: i64,
        child_alive: bool,
        last_poll_busy: bool,
        sleep: Duration,
    ) -> Duration {
        let usec = busy_poll_usec as u64;
        if usec == 0
            || !last_poll_busy
            || self.misses >= MAX_MISSES + self.hits / HITS_PER_EXTRA_MISS
            || child_alive
            || sleep.is_zero()
        {
            return Duration::ZERO;
        }
        Duration::from_micros(usec).min(sleep)
    }

    /// Polls without blocking until an event arrives or `window` has passed. Returns true
    /// when `events` holds new events (the caller then skips its blocking poll).
    pub(crate) fn spin(&mut self, poll: &mut Poll, events: &mut Events, window: Duration) -> bool {
        if window.is_zero() {
            return false;
        }
        let until = Instant::now() + window;
        loop {
            if poll.poll(events, Some(Duration::ZERO)).is_ok() && !events.is_empty() {
                self.hits += 1;
                return true;
            }
            if Instant::now() >= until {
                self.misses += 1;
                return false;
            }
            std::hint::spin_loop();
        }
    }
}
