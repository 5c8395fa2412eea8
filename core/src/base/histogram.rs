//! The per-command latency histogram behind INFO latencystats and LATENCY HISTOGRAM, with the
//! bucket layout of the HdrHistogram Redis 7.0 uses (lowest trackable value 1, highest
//! 1,000,000,000, two significant figures), so that a percentile or a bucket reports the very
//! number Redis reports for the same samples: values are nanoseconds and a percentile is the
//! highest value equivalent to its bucket (1 us recorded reads back as 1.003 us).
//!
//! Layout: 256 sub-buckets per bucket (the smallest power of two above 2 * 10^2); bucket 0
//! counts values 0..256 one by one, bucket k >= 1 counts 128..256 sub-buckets of width 2^k.
//! The counts live in one flat array indexed as HdrHistogram indexes them, 3,072 of them for
//! this range (24 KiB, allocated for a command the first time it runs).

/// Sub-buckets per bucket, and half of it (what each bucket after the first adds).
const SUB_BUCKETS: u64 = 256;
const HALF: usize = 128;
/// log2(HALF).
const HALF_MAGNITUDE: u32 = 7;
/// The range Redis tracks (LATENCY_HISTOGRAM_MIN_VALUE / MAX_VALUE, nanoseconds).
pub const MIN_VALUE: u64 = 1;
pub const MAX_VALUE: u64 = 1_000_000_000;
/// Buckets needed to cover MAX_VALUE: the first whose range ends above it.
const BUCKETS: usize = {
    let mut smallest_untrackable = SUB_BUCKETS;
    let mut n = 1;
    while smallest_untrackable <= MAX_VALUE {
        smallest_untrackable <<= 1;
        n += 1;
    }
    n
};
const COUNTS: usize = (BUCKETS + 1) * HALF;

/// A histogram of latencies in nanoseconds.
#[derive(Clone)]
pub struct LatencyHistogram {
    counts: Box<[u64; COUNTS]>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram { counts: Box::new([0; COUNTS]), total: 0 }
    }
}

/// The bucket and sub-bucket of a value.
fn bucket_of(v: u64) -> (u32, u64) {
    let msb = 63 - (v | (SUB_BUCKETS - 1)).leading_zeros();
    let bucket = msb - HALF_MAGNITUDE;
    (bucket, v >> bucket)
}

fn index_of(v: u64) -> usize {
    let (bucket, sub) = bucket_of(v);
    ((bucket as usize + 1) << HALF_MAGNITUDE) + sub as usize - HALF
}

/// The lowest value counted at `index`.
fn value_at_index(index: usize) -> u64 {
    let mut bucket = (index >> HALF_MAGNITUDE) as i64 - 1;
    let mut sub = (index & (HALF - 1)) + HALF;
    if bucket < 0 {
        sub -= HALF;
        bucket = 0;
    }
    (sub as u64) << bucket
}

/// The highest value counted together with `v` (HdrHistogram's highest_equivalent_value).
pub fn highest_equivalent(v: u64) -> u64 {
    let (bucket, sub) = bucket_of(v);
    let lowest = sub << bucket;
    lowest + (1u64 << bucket) - 1
}

impl LatencyHistogram {
    /// Records one sample, clamped to the tracked range as Redis clamps it.
    #[inline]
    pub fn record(&mut self, nanos: u64) {
        let v = nanos.clamp(MIN_VALUE, MAX_VALUE);
        self.counts[index_of(v)] += 1;
        self.total += 1;
    }

    /// Samples recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value at `percentile` (0..=100), as hdr_value_at_percentile: the highest
    /// equivalent value of the bucket where the cumulative count reaches that share (the
    /// lowest, for percentile 0). 0 when empty.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let requested = percentile.min(100.0);
        let at = (((requested / 100.0) * self.total as f64) + 0.5) as u64;
        let at = at.max(1);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= at {
                let v = value_at_index(i);
                return if percentile == 0.0 { v } else { highest_equivalent(v) };
            }
        }
        0
    }

    /// LATENCY HISTOGRAM's buckets: at 1024 ns, then doubling (HdrHistogram's logarithmic
    /// iteration), the highest value of each level and the samples at or below it, up to the
    /// level that holds the largest sample.
    pub fn log_buckets(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if self.total == 0 {
            return out;
        }
        let mut level: u64 = 1024;
        let mut idx = 0;
        let mut cumulative = 0;
        loop {
            let top = highest_equivalent(level);
            while idx < COUNTS && value_at_index(idx) <= top {
                cumulative += self.counts[idx];
                idx += 1;
            }
            out.push((top, cumulative));
            if cumulative >= self.total || idx >= COUNTS {
                return out;
            }
            level <<= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_redis_reports_them() {
        // Figures redis-server 7.0 printed for commands that took 1, 2, 4, 8 and 100 us.
        for (us, shown) in [(1, 1003), (2, 2007), (4, 4015), (8, 8031), (100, 100_351)] {
            let mut h = LatencyHistogram::default();
            h.record(us * 1000);
            assert_eq!(h.value_at_percentile(50.0), shown, "{} us", us);
        }
        let mut h = LatencyHistogram::default();
        h.record(0);
        assert_eq!(h.value_at_percentile(99.9), 1);
    }

    #[test]
    fn percentiles_and_buckets() {
        let mut h = LatencyHistogram::default();
        for _ in 0..99 {
            h.record(1000);
        }
        h.record(66_000);
        assert_eq!(h.value_at_percentile(50.0), 1003);
        assert_eq!(h.value_at_percentile(100.0), highest_equivalent(66_000));
        assert_eq!(h.value_at_percentile(0.0), 1000);
        let micros: Vec<(u64, u64)> =
            h.log_buckets().into_iter().map(|(v, n)| (v / 1000, n)).collect();
        assert_eq!(micros.first(), Some(&(1, 99)));
        assert_eq!(micros.last(), Some(&(66, 100)));
        assert_eq!(h.total(), 100);
        h.record(u64::MAX);
        assert_eq!(h.value_at_percentile(100.0), highest_equivalent(MAX_VALUE));
    }
}
