//! One scenario on one server: load the data set, start the fork child (BGSAVE or
//! BGREWRITEAOF, stretched with `rdb-key-save-delay`), drive the workload while a sampler
//! records memory every interval, wait for the child to end, and gather the figures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::load::{self, Layout};
use super::procfs;
use super::resp::{Conn, Reply, info_i64, info_u64};
use super::server::Server;
use super::workload::{self, Workload};

/// The fork work to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkKind {
    Bgsave,
    Bgrewriteaof,
}

impl ForkKind {
    pub fn parse(s: &str) -> Result<ForkKind, String> {
        match s.to_ascii_lowercase().as_str() {
            "bgsave" => Ok(ForkKind::Bgsave),
            "bgrewriteaof" | "aof" => Ok(ForkKind::Bgrewriteaof),
            _ => Err(format!("--fork {:?}: bgsave or bgrewriteaof", s)),
        }
    }

    pub fn command(self) -> &'static str {
        match self {
            ForkKind::Bgsave => "BGSAVE",
            ForkKind::Bgrewriteaof => "BGREWRITEAOF",
        }
    }

    fn in_progress_field(self) -> &'static str {
        match self {
            ForkKind::Bgsave => "rdb_bgsave_in_progress",
            ForkKind::Bgrewriteaof => "aof_rewrite_in_progress",
        }
    }

    fn last_cow_field(self) -> &'static str {
        match self {
            ForkKind::Bgsave => "rdb_last_cow_size",
            ForkKind::Bgrewriteaof => "aof_last_cow_size",
        }
    }
}

/// How far to stretch the child.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stretch {
    /// Leave rdb-key-save-delay as the server has it.
    Keep,
    /// Set it to this many microseconds per key.
    Fixed(i64),
    /// Pick a delay so the child outlives the workload (about 1.5 times its planned length
    /// plus a second), allowing for the sleep overhead measured on this machine.
    Auto,
}

/// Everything about a scenario but the server.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub layout: Layout,
    /// Load the data set (otherwise measure what the server holds).
    pub load: bool,
    /// FLUSHALL first (always for servers the tool started).
    pub flush: bool,
    pub fork: ForkKind,
    pub stretch: Stretch,
    pub workload: Workload,
    /// Wait this long after the fork before the workload starts.
    pub warmup: Duration,
    pub interval: Duration,
    /// Give up waiting for the child after this long.
    pub child_timeout: Duration,
    pub quiet: bool,
}

/// One sample.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Seconds since the fork command was sent.
    pub t: f64,
    pub parent_rss: Option<u64>,
    pub child_pid: Option<u32>,
    pub child: Option<procfs::Rollup>,
    /// INFO current_cow_size.
    pub info_cow: Option<u64>,
    pub keys_processed: Option<u64>,
    /// Workload operations completed so far.
    pub ops: u64,
}

/// What one run found.
#[derive(Clone, Debug, Default)]
pub struct RunResult {
    pub label: String,
    pub version: String,
    pub fork_command: String,
    pub keys: u64,
    pub used_memory: u64,
    pub used_memory_rss: u64,
    pub load_seconds: f64,
    pub key_save_delay_us: Option<i64>,
    pub fork_usec: Option<u64>,
    pub child_pid: Option<u32>,
    /// From the fork command to the child's end (seconds).
    pub child_seconds: Option<f64>,
    pub ops_total: u64,
    pub ops_during_child: u64,
    pub ops_seconds: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// rdb_last_cow_size / aof_last_cow_size after the child ended.
    pub cow_info: Option<u64>,
    /// Private_Dirty of the child at its first sample (the fork's own cost, before the load).
    pub cow_proc_first: Option<u64>,
    /// Private_Dirty of the child at its last sample.
    pub cow_proc_last: Option<u64>,
    /// Workload operations done between that sample and the child's end.
    pub ops_after_last_sample: u64,
    pub cow_proc_peak: Option<u64>,
    pub cow_info_peak: Option<u64>,
    /// max over samples of parent RSS + child private (clean + dirty) bytes.
    pub peak_pair_bytes: Option<u64>,
    pub parent_rss_before: Option<u64>,
    pub status: String,
    pub samples: Vec<Sample>,
    pub notes: Vec<String>,
}

const PAGE: u64 = 4096;

impl RunResult {
    /// Final COW bytes per write during the child's life (INFO's figure, /proc's without it).
    pub fn cow_per_write(&self) -> Option<f64> {
        let cow = self.cow_info.or(self.cow_proc_last)?;
        (self.ops_during_child > 0).then(|| cow as f64 / self.ops_during_child as f64)
    }

    /// How much the child's Private_Dirty grew from its first sample to its last: the COW the
    /// workload caused, without what the child dirtied by itself at its start.
    pub fn cow_growth(&self) -> Option<u64> {
        Some(self.cow_proc_last?.saturating_sub(self.cow_proc_first?))
    }

    /// Fork latency per GB of used_memory (microseconds).
    pub fn fork_usec_per_gb(&self) -> Option<f64> {
        let us = self.fork_usec? as f64;
        (self.used_memory > 0).then(|| us / (self.used_memory as f64 / 1e9))
    }

    /// Whether INFO's final COW and /proc's last sample agree within a page per key written
    /// between them, and in words why not.
    pub fn agreement(&self) -> (bool, String) {
        match (self.cow_info, self.cow_proc_last) {
            (Some(i), Some(p)) => {
                let diff = i.abs_diff(p);
                // One page per write after the last sample, plus one page of slack for the
                // child's own last buffers.
                let allowed = PAGE * (self.ops_after_last_sample + 1);
                if diff <= allowed {
                    (
                        true,
                        format!(
                            "agree: |INFO - /proc| = {} <= {} ({} writes after the last sample, a page each, + 1 page)",
                            human(diff),
                            human(allowed),
                            self.ops_after_last_sample
                        ),
                    )
                } else {
                    (
                        false,
                        format!(
                            "differ by {} (> {} allowed for {} writes after the last /proc sample): \
                             the server's figure is read by the child at its end, /proc's up to one \
                             interval before; the child's own last allocations (buffers flushed, file \
                             closed) and writes the parent did in between fall in that gap",
                            human(diff),
                            human(allowed),
                            self.ops_after_last_sample
                        ),
                    )
                }
            }
            (None, _) => (false, "the server reported no final COW figure".into()),
            (_, None) if !procfs::HAVE_SMAPS => (
                false,
                "this OS has no /proc/<pid>/smaps_rollup: only the server's own figure is shown"
                    .into(),
            ),
            (_, None) => (
                false,
                "no /proc sample of the child (not on this machine, or it ended before the first sample)"
                    .into(),
            ),
        }
    }
}

/// Human-readable bytes.
pub fn human(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{} B", b)
    }
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

/// The cost of one `sleep(1 µs)` on this machine, in microseconds (timer slack makes it
/// tens of microseconds on Linux); servers pay about the same per key.
pub fn sleep_cost_us() -> f64 {
    static COST: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *COST.get_or_init(measure_sleep_cost)
}

fn measure_sleep_cost() -> f64 {
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        std::thread::sleep(Duration::from_micros(1));
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// The rdb-key-save-delay (µs per key) that makes a save of `keys` keys outlast the
/// workload: about 1.5 times its planned length plus a second, less the sleep overhead.
pub fn auto_delay(sc: &Scenario, keys: u64) -> i64 {
    let planned = sc.workload.ops as f64 / sc.workload.rate.max(0.001) + sc.warmup.as_secs_f64();
    let target_us = (planned * 1.5 + 1.0) * 1e6;
    let per_key = target_us / keys.max(1) as f64 - sleep_cost_us();
    (per_key.round() as i64).max(1)
}

/// Runs `sc` on `srv`.
pub fn run(srv: &Server, sc: &Scenario) -> Result<RunResult, String> {
    let mut r = RunResult {
        label: srv.label.clone(),
        version: srv.version.clone(),
        fork_command: sc.fork.command().into(),
        ..Default::default()
    };
    let mut c = srv.conn()?;

    if sc.flush {
        c.cmd(&["FLUSHALL"]).map_err(io)?;
    }
    if sc.load {
        let info = load::load(&mut c, &sc.layout, &format!("loading {}", srv.label), sc.quiet)?;
        r.load_seconds = info.seconds;
        if !info.used_populate && sc.layout.counts[0] > 0 {
            r.notes.push("DEBUG POPULATE refused: strings loaded with pipelined SET".into());
        }
    }
    let dbsize = c.cmd(&["DBSIZE"]).map_err(io)?;
    r.keys = match dbsize {
        Reply::Int(n) => n as u64,
        _ => 0,
    };

    // Wait for any child already running (a save point, an earlier run).
    wait_no_child(&mut c, sc.fork, Duration::from_secs(120))?;

    // Stretch the child.
    let old_delay = config_get(&mut c, "rdb-key-save-delay");
    let delay = match sc.stretch {
        Stretch::Keep => None,
        Stretch::Fixed(d) => Some(d),
        Stretch::Auto => Some(auto_delay(sc, r.keys)),
    };
    if let Some(d) = delay {
        let reply = c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", &d.to_string()]).map_err(io)?;
        if reply.is_error() {
            r.notes.push(format!(
                "CONFIG SET rdb-key-save-delay refused ({}): the child is not stretched",
                reply.text()
            ));
        } else {
            r.key_save_delay_us = Some(d);
        }
    }
    let result = measure(srv, sc, &mut c, &mut r);
    if delay.is_some() {
        if let Some(old) = old_delay {
            let _ = c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", &old]);
        }
    }
    result?;
    Ok(r)
}

fn config_get(c: &mut Conn, name: &str) -> Option<String> {
    match c.cmd(&["CONFIG", "GET", name]).ok()? {
        Reply::Array(Some(items)) if items.len() == 2 => Some(items[1].text()),
        _ => None,
    }
}

fn wait_no_child(c: &mut Conn, kind: ForkKind, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let p = c.info("persistence").map_err(io)?;
        let busy = info_u64(&p, "rdb_bgsave_in_progress") == Some(1)
            || info_u64(&p, "aof_rewrite_in_progress") == Some(1);
        if !busy {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "a fork child was already running and did not end within {:?} ({})",
                limit,
                kind.command()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The child's pid: INFO's `rdb_bgsave_child_pid` (tine), else the server's only child.
fn find_child(c: &mut Conn, server_pid: Option<u32>) -> Option<u32> {
    if let Ok(p) = c.info("persistence") {
        if let Some(pid) = info_i64(&p, "rdb_bgsave_child_pid").filter(|&p| p > 0) {
            return Some(pid as u32);
        }
    }
    let kids = procfs::children_of(server_pid?);
    (kids.len() == 1).then(|| kids[0])
}

fn measure(srv: &Server, sc: &Scenario, c: &mut Conn, r: &mut RunResult) -> Result<(), String> {
    let stats = c.info("stats").map_err(io)?;
    let forks_before = info_u64(&stats, "total_forks").unwrap_or(0);
    let mem = c.info("memory").map_err(io)?;
    r.used_memory = info_u64(&mem, "used_memory").unwrap_or(0);
    r.used_memory_rss = info_u64(&mem, "used_memory_rss").unwrap_or(0);
    r.parent_rss_before = srv.pid.and_then(procfs::rss);

    let ops = Arc::new(AtomicU64::new(0));
    let stop_sampler = Arc::new(AtomicBool::new(false));
    let child_pid = Arc::new(Mutex::new(None::<u32>));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));

    // The fork.
    let t0 = Instant::now();
    let reply = c.cmd(&[sc.fork.command()]).map_err(io)?;
    if reply.is_error() {
        return Err(format!(
            "{} answered -{} (this server cannot do that fork work)",
            sc.fork.command(),
            reply.text()
        ));
    }
    let text = reply.text();
    if text.contains("scheduled") {
        r.notes.push(format!("{} was scheduled, not started at once: {}", sc.fork.command(), text));
    }

    // The sampler, on its own connection.
    let sampler = {
        let mut sc_conn = srv.conn()?;
        let (ops, stop, child_pid, samples) =
            (ops.clone(), stop_sampler.clone(), child_pid.clone(), samples.clone());
        let server_pid = srv.pid;
        let interval = sc.interval;
        std::thread::spawn(move || {
            let mut next = t0;
            loop {
                let info = sc_conn.info("persistence").unwrap_or_default();
                let mut pid = *child_pid.lock().unwrap();
                if pid.is_none() {
                    pid = info_i64(&info, "rdb_bgsave_child_pid")
                        .filter(|&p| p > 0)
                        .map(|p| p as u32);
                }
                let s = Sample {
                    t: t0.elapsed().as_secs_f64(),
                    parent_rss: server_pid.and_then(procfs::rss),
                    child_pid: pid.filter(|&p| procfs::alive(p)),
                    child: pid.and_then(procfs::rollup),
                    info_cow: info_u64(&info, "current_cow_size"),
                    keys_processed: info_u64(&info, "current_save_keys_processed"),
                    ops: ops.load(Ordering::Relaxed),
                };
                samples.lock().unwrap().push(s);
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                next += interval;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        })
    };

    // Find the child and the fork's latency.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pid = None;
    while Instant::now() < deadline {
        let st = c.info("stats").map_err(io)?;
        let forked = info_u64(&st, "total_forks").unwrap_or(0) > forks_before;
        if forked {
            r.fork_usec = info_u64(&st, "latest_fork_usec");
            pid = find_child(c, srv.pid);
            if pid.is_some() || srv.pid.is_none() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if r.fork_usec.is_none() {
        stop_sampler.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        return Err(format!("no fork within 10 s of {}", sc.fork.command()));
    }
    if pid.is_none() && srv.pid.is_some() {
        r.notes.push("the child was not found (it may have ended at once)".into());
    }
    *child_pid.lock().unwrap() = pid;
    r.child_pid = pid;

    // The workload.
    std::thread::sleep(sc.warmup);
    let stop_work = Arc::new(AtomicBool::new(false));
    let worker = {
        let (host, port, layout, w, ops, stop) = (
            srv.host.clone(),
            srv.port,
            sc.layout.clone(),
            sc.workload.clone(),
            ops.clone(),
            stop_work.clone(),
        );
        std::thread::spawn(move || workload::run(&host, port, &layout, &w, ops, stop))
    };

    // Wait for the child's end: /proc every few ms when we have its pid, INFO otherwise.
    let deadline = Instant::now() + sc.child_timeout;
    let mut ended = None;
    loop {
        let gone = match pid {
            Some(p) => !procfs::alive(p),
            None => {
                let p = c.info("persistence").map_err(io)?;
                info_u64(&p, sc.fork.in_progress_field()) != Some(1)
            }
        };
        if gone {
            ended = Some((t0.elapsed().as_secs_f64(), ops.load(Ordering::Relaxed)));
            break;
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(if pid.is_some() { 2 } else { 20 }));
    }
    let outcome = worker.join().map_err(|_| "the workload thread panicked".to_string())?;
    let outcome = outcome?;
    r.ops_total = outcome.ops;
    r.ops_seconds = outcome.seconds;
    r.errors = outcome.errors;
    r.first_error = outcome.first_error;

    // The server learns of the end a little after the process is gone: wait for INFO.
    let settle = Instant::now() + Duration::from_secs(10);
    let mut persistence = HashMap::new();
    while Instant::now() < settle {
        persistence = c.info("persistence").map_err(io)?;
        if info_u64(&persistence, sc.fork.in_progress_field()) != Some(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    stop_sampler.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    r.samples = std::mem::take(&mut *samples.lock().unwrap());

    match ended {
        Some((t, o)) => {
            r.child_seconds = Some(t);
            r.ops_during_child = o;
        }
        None => {
            stop_work.store(true, Ordering::Relaxed);
            return Err(format!(
                "the child did not end within {:?}; raise --child-timeout or lower --keys",
                sc.child_timeout
            ));
        }
    }
    if r.ops_during_child < r.ops_total {
        r.notes.push(format!(
            "the child ended before the workload did: {} of {} operations happened during its life \
             (lower --rate/--writes or raise --key-save-delay)",
            r.ops_during_child, r.ops_total
        ));
    }
    r.cow_info = info_u64(&persistence, sc.fork.last_cow_field());
    r.status = match sc.fork {
        ForkKind::Bgsave => persistence.get("rdb_last_bgsave_status"),
        ForkKind::Bgrewriteaof => persistence.get("aof_last_bgrewrite_status"),
    }
    .cloned()
    .unwrap_or_else(|| "unknown".into());

    let with_child: Vec<&Sample> = r.samples.iter().filter(|s| s.child.is_some()).collect();
    r.cow_proc_first = with_child.first().and_then(|s| s.child.map(|c| c.private_dirty));
    if let Some(last) = with_child.last() {
        r.cow_proc_last = last.child.map(|c| c.private_dirty);
        r.ops_after_last_sample = r.ops_during_child.saturating_sub(last.ops);
    }
    r.cow_proc_peak = with_child.iter().filter_map(|s| s.child.map(|c| c.private_dirty)).max();
    r.cow_info_peak = r.samples.iter().filter_map(|s| s.info_cow).max();
    r.peak_pair_bytes = r
        .samples
        .iter()
        .filter_map(|s| {
            Some(s.parent_rss? + s.child.map(|c| c.private_dirty + c.private_clean).unwrap_or(0))
        })
        .max();
    if !procfs::HAVE_SMAPS {
        r.notes.push(
            "no /proc on this OS: the child's Private_Dirty and Pss are not available; \
             COW figures are the server's own (INFO)"
                .into(),
        );
    } else if srv.pid.is_none() {
        r.notes.push("the server is not on this machine: no /proc figures".into());
    }
    Ok(())
}
