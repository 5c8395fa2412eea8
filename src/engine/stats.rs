//! The server's counters: INFO stats (with errorstats by error code and the instantaneous
//! rates), the per-command counters of INFO commandstats (indexed by the command table's ids,
//! which this layer need not know: a plain vector), and the slow log's entries. They are the
//! engine's because they are plain state any layer above may count into; the dispatcher
//! (`commands`) decides what is counted, INFO how it is shown.

use std::collections::HashMap;

/// Counters behind INFO stats.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) total_connections_received: u64,
    pub(crate) total_commands_processed: u64,
    pub(crate) rejected_connections: u64,
    pub(crate) total_net_input_bytes: u64,
    pub(crate) total_net_output_bytes: u64,
    pub(crate) expired_keys: u64,
    pub(crate) evicted_keys: u64,
    pub(crate) keyspace_hits: u64,
    pub(crate) keyspace_misses: u64,
    pub(crate) total_error_replies: u64,
    pub(crate) unexpected_error_replies: u64,
    pub(crate) total_reads_processed: u64,
    pub(crate) total_writes_processed: u64,
    /// Error code -> count, for INFO errorstats.
    pub(crate) errors: HashMap<String, u64>,
    /// Samples for instantaneous_ops_per_sec and the kbps figures: (ms, commands, in, out).
    pub(crate) ops_samples: [(i64, u64, u64, u64); 16],
    pub(crate) ops_sample_idx: usize,
    pub(crate) last_sample: (i64, u64, u64, u64),
}

impl Stats {
    /// One error reply, under its code, for INFO errorstats.
    pub(crate) fn count_error(&mut self, code: &str) {
        self.total_error_replies += 1;
        match self.errors.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(code.to_string(), 1);
            }
        }
    }

    /// A read lookup's outcome: keyspace_hits or keyspace_misses.
    pub(crate) fn count_lookup(&mut self, found: bool) {
        if found {
            self.keyspace_hits += 1;
        } else {
            self.keyspace_misses += 1;
        }
    }

    /// Records a sample every 100 ms, as Redis's trackInstantaneousMetric.
    pub(crate) fn sample(&mut self, now_ms: i64) {
        let (t0, c0, i0, o0) = self.last_sample;
        if now_ms - t0 < 100 {
            return;
        }
        let dt = (now_ms - t0).max(1) as f64;
        let per_sec = |a: u64, b: u64| (((a - b) as f64) * 1000.0 / dt) as u64;
        self.ops_samples[self.ops_sample_idx % 16] = (
            now_ms,
            per_sec(self.total_commands_processed, c0),
            per_sec(self.total_net_input_bytes, i0),
            per_sec(self.total_net_output_bytes, o0),
        );
        self.ops_sample_idx += 1;
        self.last_sample = (
            now_ms,
            self.total_commands_processed,
            self.total_net_input_bytes,
            self.total_net_output_bytes,
        );
    }

    /// Mean of the samples: (ops/s, input bytes/s, output bytes/s).
    pub(crate) fn instantaneous(&self) -> (u64, u64, u64) {
        let n = self.ops_sample_idx.clamp(1, 16) as u64;
        let taken = &self.ops_samples[..self.ops_sample_idx.min(16)];
        let sum = taken.iter().fold((0, 0, 0), |a, s| (a.0 + s.1, a.1 + s.2, a.2 + s.3));
        (sum.0 / n, sum.1 / n, sum.2 / n)
    }
}

/// An entry of the slow log.
pub(crate) struct SlowLogEntry {
    pub(crate) id: u64,
    pub(crate) time: i64,
    pub(crate) duration_us: i64,
    pub(crate) argv: Vec<Vec<u8>>,
    pub(crate) peer: String,
    pub(crate) name: Vec<u8>,
}

/// Per-command counters for INFO commandstats.
#[derive(Default, Clone)]
pub(crate) struct CommandStats {
    pub(crate) calls: u64,
    pub(crate) usec: u64,
    pub(crate) rejected_calls: u64,
    pub(crate) failed_calls: u64,
    /// Latencies for INFO latencystats and LATENCY HISTOGRAM (`latency-tracking yes`),
    /// allocated when the command first runs with tracking on.
    pub(crate) latency: Option<tine_core::base::histogram::LatencyHistogram>,
}

impl CommandStats {
    /// Counts one completed call that took `usec` (Redis's call() and updateStatsOnUnblock).
    #[inline]
    pub(crate) fn record_call(&mut self, usec: u64, tracking: bool) {
        self.calls += 1;
        self.usec += usec;
        if tracking {
            self.latency.get_or_insert_with(Default::default).record(usec.saturating_mul(1000));
        }
    }
}
