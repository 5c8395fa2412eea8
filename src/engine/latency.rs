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

/// What LATENCY DOCTOR weighs beside the samples (Redis reads these from its server struct).
pub(crate) struct DoctorContext {
    pub(crate) threshold_ms: i64,
    pub(crate) slowlog_log_slower_than: i64,
    pub(crate) hz: i64,
    pub(crate) appendfsync_always: bool,
    /// GB copied per second by the latest fork (Redis's stat_fork_rate), if there was one.
    pub(crate) fork_rate: Option<f64>,
    pub(crate) now_secs: i64,
}

/// One event's figures (Redis's analyzeLatencyForEvent): samples, average and mean absolute
/// deviation in ms, and the seconds since its oldest sample (at least 1).
fn analyze(series: &Series, now_secs: i64) -> (usize, u64, u64, i64) {
    let samples: Vec<Sample> = series.history().collect();
    if samples.is_empty() {
        return (0, 0, 0, 0);
    }
    let n = samples.len() as u64;
    let avg = samples.iter().map(|s| s.latency).sum::<u64>() / n;
    let mad = samples.iter().map(|s| s.latency.abs_diff(avg)).sum::<u64>() / n;
    let oldest = samples.iter().map(|s| s.time).min().unwrap_or(now_secs);
    (samples.len(), avg, mad, (now_secs - oldest).max(1))
}

impl LatencyMonitor {
    /// LATENCY DOCTOR: Redis 7.0's createLatencyReport, its rules and its words.
    pub(crate) fn doctor(&self, cx: &DoctorContext) -> String {
        if self.events.is_empty() && cx.threshold_ms == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
        }
        if self.events.is_empty() {
            return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".into();
        }
        #[derive(Default)]
        struct Advise {
            better_vm: bool,
            slowlog_enabled: bool,
            slowlog_tuning: bool,
            slowlog_inspect: bool,
            scheduler: bool,
            relax_fsync: bool,
            hz: bool,
            large_objects: bool,
        }
        let mut a = Advise::default();
        let mut advices = 0;
        let mut report = String::from(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
        );
        for (i, (event, series)) in self.events.iter().enumerate() {
            let (n, avg, mad, period) = analyze(series, cx.now_secs);
            report.push_str(&format!(
                "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
                i + 1,
                event,
                n,
                avg,
                mad,
                period as f64 / n.max(1) as f64,
                series.max
            ));
            match *event {
                "fork" => {
                    let rate = cx.fork_rate.unwrap_or(0.0);
                    let quality = if rate < 10.0 {
                        "terrible"
                    } else if rate < 25.0 {
                        "poor"
                    } else if rate < 100.0 {
                        "good"
                    } else {
                        "excellent"
                    };
                    if rate < 25.0 {
                        a.better_vm = true;
                        advices += 1;
                    }
                    report.push_str(&format!(" Fork rate is {rate:.2} GB/sec ({quality})."));
                }
                "command" => {
                    if cx.slowlog_log_slower_than < 0 {
                        a.slowlog_enabled = true;
                        advices += 1;
                    } else if cx.slowlog_log_slower_than / 1000 > cx.threshold_ms {
                        a.slowlog_tuning = true;
                        advices += 1;
                    }
                    a.slowlog_inspect = true;
                    a.large_objects = true;
                    advices += 2;
                }
                "fast-command" => {
                    a.scheduler = true;
                    advices += 1;
                }
                "aof-fsync-always" => {
                    a.relax_fsync = true;
                    advices += 1;
                }
                "expire-cycle" => {
                    a.hz = true;
                    a.large_objects = true;
                    advices += 2;
                }
                "eviction-cycle" => {
                    a.large_objects = true;
                    advices += 1;
                }
                _ => {}
            }
            report.push('\n');
        }
        if advices == 0 {
            report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
            return report;
        }
        report.push_str("\nI have a few advices for you:\n\n");
        let threshold_us = cx.threshold_ms * 1000;
        if a.better_vm {
            report.push_str("- If you are using a virtual machine, consider upgrading it with a faster one using a hypervisor that provides less latency during fork() calls. Xen is known to have poor fork() performance. Even in the context of the same VM provider, certain kinds of instances can execute fork faster than others.\n");
        }
        if a.slowlog_enabled {
            report.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {threshold_us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n"));
        }
        if a.slowlog_tuning {
            report.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {threshold_us}'.\n"));
        }
        if a.slowlog_inspect {
            report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        }
        if a.scheduler {
            report.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
        }
        if a.relax_fsync && cx.appendfsync_always {
            report.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
        }
        if a.hz && cx.hz < 100 {
            report.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
        }
        if a.large_objects {
            report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctor_speaks_as_redis() {
        let mut cx = DoctorContext {
            threshold_ms: 0,
            slowlog_log_slower_than: 10000,
            hz: 10,
            appendfsync_always: false,
            fork_rate: None,
            now_secs: 100,
        };
        let mut m = LatencyMonitor::default();
        assert!(m.doctor(&cx).starts_with("I'm sorry, Dave, I can't do that."));
        cx.threshold_ms = 100;
        assert!(m.doctor(&cx).starts_with("Dave, no latency spike was observed"));
        m.add_if_needed(100, "command", 202, 99);
        let r = m.doctor(&cx);
        assert!(r.contains("1. command: 1 latency spikes (average 202ms, mean deviation 0ms, period 1.00 sec). Worst all time event 202ms.\n"), "{r}");
        assert!(r.contains("I have a few advices for you:\n\n- Check your Slow Log"), "{r}");
        assert!(r.ends_with("multiple smaller objects.\n"), "{r}");
    }

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
