//! The latency monitor, as Redis's `latency.c`: with `latency-monitor-threshold` set to N ms,
//! every operation of a monitored kind that takes N ms or more is recorded as a sample of its
//! event: `command` (a slow command), `fast-command` (a command flagged fast), `fork` (the
//! fork of a BGSAVE or BGREWRITEAOF child — the parent's stall while the kernel copies its
//! page tables, the figure INFO reports as `latest_fork_usec`).
//!
//! Each event keeps the last [`SAMPLES_PER_EVENT`] samples in a ring, one per second at most
//! (a second sample in the same second keeps the larger latency), and the largest latency
//! ever seen. LATENCY LATEST, HISTORY and RESET read and clear them; 0 turns recording off.

use std::collections::BTreeMap;

/// Samples kept per event (Redis's LATENCY_TS_LEN).
pub(crate) const SAMPLES_PER_EVENT: usize = 160;

/// One second's worst latency for an event.
#[derive(Clone, Copy, Default)]
pub(crate) struct Sample {
    /// Unix time in seconds; 0 for a slot not used yet.
    pub(crate) time: i64,
    /// Milliseconds.
    pub(crate) latency: u64,
}

/// An event's samples: a ring, `next` the slot the next new second goes to.
pub(crate) struct Series {
    next: usize,
    pub(crate) max: u64,
    samples: [Sample; SAMPLES_PER_EVENT],
}

impl Series {
    fn new() -> Series {
        Series { next: 0, max: 0, samples: [Sample::default(); SAMPLES_PER_EVENT] }
    }

    /// The most recent sample.
    pub(crate) fn latest(&self) -> Sample {
        self.samples[(self.next + SAMPLES_PER_EVENT - 1) % SAMPLES_PER_EVENT]
    }

    /// The samples, oldest first.
    pub(crate) fn history(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..SAMPLES_PER_EVENT)
            .map(move |j| self.samples[(self.next + j) % SAMPLES_PER_EVENT])
            .filter(|s| s.time != 0)
    }
}

/// Every event's series (INFO has none of it; LATENCY reads it).
#[derive(Default)]
pub(crate) struct LatencyMonitor {
    events: BTreeMap<&'static str, Series>,
}

impl LatencyMonitor {
    /// Records `ms` for `event` at `now_secs` if monitoring is on (`threshold_ms` > 0) and the
    /// latency reaches the threshold (Redis's latencyAddSampleIfNeeded).
    pub(crate) fn add_if_needed(
        &mut self,
        threshold_ms: i64,
        event: &'static str,
        ms: u64,
        now_secs: i64,
    ) {
        if threshold_ms > 0 && ms >= threshold_ms as u64 {
            self.add(event, ms, now_secs);
        }
    }

    fn add(&mut self, event: &'static str, ms: u64, now_secs: i64) {
        let series = self.events.entry(event).or_insert_with(Series::new);
        series.max = series.max.max(ms);
        let prev = (series.next + SAMPLES_PER_EVENT - 1) % SAMPLES_PER_EVENT;
        if series.samples[prev].time == now_secs {
            let s = &mut series.samples[prev];
            s.latency = s.latency.max(ms);
            return;
        }
        series.samples[series.next] = Sample { time: now_secs, latency: ms };
        series.next = (series.next + 1) % SAMPLES_PER_EVENT;
    }

    /// Every event with samples.
    pub(crate) fn events(&self) -> impl Iterator<Item = (&'static str, &Series)> {
        self.events.iter().map(|(e, s)| (*e, s))
    }

    pub(crate) fn series(&self, event: &[u8]) -> Option<&Series> {
        self.events.iter().find(|(e, _)| e.as_bytes() == event).map(|(_, s)| s)
    }

    /// Forgets the named events (all when `events` is empty); returns how many it forgot.
    pub(crate) fn reset(&mut self, events: &[Vec<u8>]) -> usize {
        if events.is_empty() {
            let n = self.events.len();
            self.events.clear();
            return n;
        }
        let before = self.events.len();
        self.events.retain(|e, _| !events.iter().any(|x| x.as_slice() == e.as_bytes()));
        before - self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeping_the_worst() {
        let mut m = LatencyMonitor::default();
        m.add_if_needed(0, "command", 500, 10); // monitoring off
        assert_eq!(m.events().count(), 0);
        m.add_if_needed(5, "command", 4, 10); // under the threshold
        assert_eq!(m.events().count(), 0);
        m.add_if_needed(5, "command", 50, 10);
        m.add_if_needed(5, "command", 30, 10);
        m.add_if_needed(5, "command", 70, 10);
        m.add_if_needed(5, "command", 20, 11);
        let s = m.series(b"command").unwrap();
        assert_eq!(s.max, 70);
        assert_eq!(s.latest().latency, 20);
        let h: Vec<(i64, u64)> = s.history().map(|s| (s.time, s.latency)).collect();
        assert_eq!(h, [(10, 70), (11, 20)]);
        for t in 0..200 {
            m.add_if_needed(5, "fork", 6, 100 + t);
        }
        let h: Vec<i64> = m.series(b"fork").unwrap().history().map(|s| s.time).collect();
        assert_eq!(h.len(), SAMPLES_PER_EVENT);
        assert_eq!((h[0], h[SAMPLES_PER_EVENT - 1]), (140, 299));
        assert_eq!(m.reset(&[b"nope".to_vec(), b"fork".to_vec()]), 1);
        assert_eq!(m.reset(&[]), 1);
    }
}
