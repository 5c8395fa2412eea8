//! The MEMORY command (USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP) and the accounting
//! behind it and INFO memory's overhead lines: what the server spends beside the dataset
//! (memory at startup, replication buffers, clients, script caches, the key tables), as Redis's
//! getMemoryOverheadData, so `used_memory_dataset` is the data and not everything.
//!
//! The key tables' overhead is counted from tine's own layout (entry nodes and bucket arrays
//! of `tine_core`'s dict), not Redis's sizes: the figure says what tine spends.

use super::reply_help;
use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::engine::memory::{MemoryFigures, memory_figures};
use crate::engine::session::Session;
use tine_core::base;
use tine_core::keyspace::{Key, StoredKey, Value};
use tine_core::types::dict::Dict;

/// One database's table overhead (only databases with keys are listed, as Redis does).
pub(crate) struct DbOverhead {
    pub(crate) db: usize,
    pub(crate) main: u64,
    pub(crate) expires: u64,
}

/// What the server spends beside the dataset, and the figures derived from it.
pub(crate) struct Overhead {
    pub(crate) mem: MemoryFigures,
    pub(crate) peak: u64,
    pub(crate) startup: u64,
    pub(crate) repl_backlog: u64,
    pub(crate) clients_replicas: u64,
    pub(crate) clients_normal: u64,
    pub(crate) aof_buffer: u64,
    pub(crate) lua_caches: u64,
    pub(crate) functions_caches: u64,
    pub(crate) dbs: Vec<DbOverhead>,
    pub(crate) total: u64,
    pub(crate) keys: u64,
    pub(crate) replicas: u64,
    pub(crate) normal_clients: u64,
    pub(crate) cached_scripts: u64,
}

impl Overhead {
    /// The dataset: used memory that is not overhead.
    pub(crate) fn dataset(&self) -> u64 {
        self.mem.allocated.saturating_sub(self.total)
    }

    /// Used memory above what the server used at startup (at least 1, as Redis's net_usage).
    fn net_usage(&self) -> u64 {
        self.mem.allocated.saturating_sub(self.startup).max(1)
    }

    /// The dataset as a percentage of the memory used above startup (Redis computes it in
    /// single precision, and so does this, so the digits match in kind).
    pub(crate) fn dataset_perc(&self) -> f32 {
        self.dataset() as f32 * 100.0 / self.net_usage() as f32
    }

    fn peak_perc(&self) -> f32 {
        self.mem.allocated as f32 * 100.0 / self.peak.max(1) as f32
    }

    fn bytes_per_key(&self) -> u64 {
        if self.keys == 0 { 0 } else { self.net_usage() / self.keys }
    }

    fn allocator_frag(&self) -> (f32, i64) {
        over(self.mem.active, self.mem.allocated)
    }

    fn allocator_rss(&self) -> (f32, i64) {
        over(self.mem.resident, self.mem.active)
    }

    fn rss_extra(&self) -> (f32, i64) {
        over(self.mem.rss, self.mem.resident)
    }

    fn total_frag(&self) -> (f32, i64) {
        over(self.mem.rss, self.mem.allocated)
    }
}

/// How much `outer` exceeds `inner`: the ratio (single precision, as Redis's floats) and the
/// difference in bytes.
fn over(outer: u64, inner: u64) -> (f32, i64) {
    (outer as f32 / inner.max(1) as f32, outer as i64 - inner as i64)
}

/// The overhead figures now; also refreshes the peak, as INFO does.
pub(crate) fn overhead(srv: &mut Ctx<'_>) -> Overhead {
    let mem = memory_figures();
    srv.data.peak_memory = srv.data.peak_memory.max(mem.allocated);
    let (repl_backlog, clients_replicas) = srv.data.repl_buf.memory_split();
    let replicas = srv.data.primary.links.len() as u64;
    let normal_clients = (srv.server.connected() as u64).saturating_sub(replicas);
    let clients_normal = srv.server.clients_memory() as u64;
    let sc = &srv.data.scripting;
    let lua_caches = sc.scripts_bytes as u64;
    let functions_caches = sc.functions.code_bytes() as u64;
    let cached_scripts = sc.cached() as u64;
    let main_entry = Dict::<StoredKey, Value>::entry_size() as u64;
    let expires_entry = Dict::<Key, i64>::entry_size() as u64;
    let startup = srv.data.startup_memory;
    let mut total = startup
        + repl_backlog as u64
        + clients_replicas as u64
        + clients_normal
        + lua_caches
        + functions_caches;
    let mut dbs = Vec::new();
    let mut keys = 0u64;
    for (i, db) in srv.data.keyspace.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let (main_buckets, expires_buckets) = db.table_sizes();
        let main = db.len() as u64 * main_entry + main_buckets as u64 * 8;
        let expires = db.expires_len() as u64 * expires_entry + expires_buckets as u64 * 8;
        total += main + expires;
        keys += db.len() as u64;
        dbs.push(DbOverhead { db: i, main, expires });
    }
    Overhead {
        mem,
        peak: srv.data.peak_memory,
        startup,
        repl_backlog: repl_backlog as u64,
        clients_replicas: clients_replicas as u64,
        clients_normal,
        aof_buffer: 0,
        lua_caches,
        functions_caches,
        dbs,
        total,
        keys,
        replicas,
        normal_clients,
        cached_scripts,
    }
}

/// MEMORY USAGE key [SAMPLES count]: the key's estimated bytes (`db::memory`), nil when it
/// does not exist. Nested values are sampled `count` times (default 5, 0 = all).
pub(crate) fn memory_usage(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut samples = 5usize;
    let mut opts = argv[3..].chunks(2);
    for opt in &mut opts {
        match opt {
            [name, count] if name.eq_ignore_ascii_case(b"samples") => {
                match base::parse_i64(count) {
                    Some(n) if n >= 0 => samples = n as usize,
                    Some(_) => return Err(err::SYNTAX),
                    None => return Err(err::NOT_INTEGER),
                }
            }
            _ => return Err(err::SYNTAX),
        }
    }
    // As Redis: a plain lookup, no expiry, no keyspace statistics.
    match srv.data.keyspace[c.db].memory_usage(&argv[2], samples) {
        Some(n) => c.add_int(n as i64),
        None => c.add_null(),
    }
    Ok(())
}

/// MEMORY STATS: the overhead figures as a map, in Redis 7.0's order and names.
pub(crate) fn memory_stats(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let o = overhead(srv);
    c.add_map(27 + o.dbs.len());
    let int = |c: &mut Session, name: &str, v: i64| {
        c.add_bulk(name.as_bytes());
        c.add_int(v);
    };
    let float = |c: &mut Session, name: &str, v: f32| {
        c.add_bulk(name.as_bytes());
        c.add_double(v as f64);
    };
    int(c, "peak.allocated", o.peak as i64);
    int(c, "total.allocated", o.mem.allocated as i64);
    int(c, "startup.allocated", o.startup as i64);
    int(c, "replication.backlog", o.repl_backlog as i64);
    int(c, "clients.slaves", o.clients_replicas as i64);
    int(c, "clients.normal", o.clients_normal as i64);
    int(c, "cluster.links", 0);
    int(c, "aof.buffer", o.aof_buffer as i64);
    int(c, "lua.caches", o.lua_caches as i64);
    int(c, "functions.caches", o.functions_caches as i64);
    for d in &o.dbs {
        c.add_bulk(format!("db.{}", d.db).as_bytes());
        c.add_map(3);
        int(c, "overhead.hashtable.main", d.main as i64);
        int(c, "overhead.hashtable.expires", d.expires as i64);
        int(c, "overhead.hashtable.slot-to-keys", 0);
    }
    int(c, "overhead.total", o.total as i64);
    int(c, "keys.count", o.keys as i64);
    int(c, "keys.bytes-per-key", o.bytes_per_key() as i64);
    int(c, "dataset.bytes", o.dataset() as i64);
    float(c, "dataset.percentage", o.dataset_perc());
    float(c, "peak.percentage", o.peak_perc());
    int(c, "allocator.allocated", o.mem.allocated as i64);
    int(c, "allocator.active", o.mem.active as i64);
    int(c, "allocator.resident", o.mem.resident as i64);
    let (ratio, bytes) = o.allocator_frag();
    float(c, "allocator-fragmentation.ratio", ratio);
    int(c, "allocator-fragmentation.bytes", bytes);
    let (ratio, bytes) = o.allocator_rss();
    float(c, "allocator-rss.ratio", ratio);
    int(c, "allocator-rss.bytes", bytes);
    let (ratio, bytes) = o.rss_extra();
    float(c, "rss-overhead.ratio", ratio);
    int(c, "rss-overhead.bytes", bytes);
    let (ratio, bytes) = o.total_frag();
    float(c, "fragmentation", ratio);
    int(c, "fragmentation.bytes", bytes);
    Ok(())
}

/// MEMORY DOCTOR: Redis's report, by Redis's rules and in its words.
pub(crate) fn memory_doctor(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let o = overhead(srv);
    c.add_verbatim(doctor_report(&o).as_bytes());
    Ok(())
}

const TEN_MB: i64 = 10 << 20;

/// The findings of MEMORY DOCTOR (Redis's getMemoryDoctorReport's thresholds).
fn doctor_report(o: &Overhead) -> String {
    if o.mem.allocated < 5 << 20 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string();
    }
    let high = |(ratio, bytes): (f32, i64), limit: f32| ratio > limit && bytes > TEN_MB;
    let mut found: Vec<String> = Vec::new();
    if o.peak as f32 / o.mem.allocated as f32 > 1.5 {
        found.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n".into());
    }
    if high(o.total_frag(), 1.4) {
        found.push(format!(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"{}\".\n\n", allocator_name()));
    }
    if high(o.allocator_frag(), 1.1) {
        found.push(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n".into());
    }
    if high(o.allocator_rss(), 1.1) {
        found.push(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n".into());
    }
    if high(o.rss_extra(), 1.1) {
        found.push(" * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n".into());
    }
    if o.replicas > 0 && o.clients_replicas / o.replicas > 10 << 20 {
        found.push(" * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n".into());
    }
    if o.normal_clients > 0 && o.clients_normal / o.normal_clients > 200 << 10 {
        found.push(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n".into());
    }
    if o.cached_scripts > 1000 {
        found.push(" * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n".into());
    }
    if found.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string();
    }
    let mut s =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    for f in found {
        s.push_str(&f);
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

/// The allocator's name as INFO's mem_allocator says it.
fn allocator_name() -> &'static str {
    if cfg!(feature = "jemalloc") { "jemalloc" } else { "libc" }
}

/// MEMORY MALLOC-STATS: the allocator's own statistics report.
pub(crate) fn memory_malloc_stats(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let text = crate::engine::memory::malloc_stats()
        .unwrap_or_else(|| "Stats not supported for the current allocator".to_string());
    c.add_verbatim(text.as_bytes());
    Ok(())
}

/// MEMORY PURGE: every arena's dirty pages back to the OS, as Redis's (jemalloc_purge).
pub(crate) fn memory_purge(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    if !crate::engine::memory::purge() {
        return Err(CmdError::err("Error purging dirty pages"));
    }
    c.add_ok();
    Ok(())
}

pub(crate) fn memory_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    reply_help(
        c,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(allocated: u64, peak: u64) -> Overhead {
        Overhead {
            mem: MemoryFigures {
                allocated,
                active: allocated,
                resident: allocated,
                rss: allocated,
            },
            peak,
            startup: 0,
            repl_backlog: 0,
            clients_replicas: 0,
            clients_normal: 0,
            aof_buffer: 0,
            lua_caches: 0,
            functions_caches: 0,
            dbs: vec![],
            total: 0,
            keys: 0,
            replicas: 0,
            normal_clients: 1,
            cached_scripts: 0,
        }
    }

    #[test]
    fn doctor_speaks_as_redis() {
        assert!(
            doctor_report(&figures(1 << 20, 1 << 20)).starts_with("Hi Sam, this instance is empty")
        );
        assert!(
            doctor_report(&figures(100 << 20, 100 << 20)).starts_with("Hi Sam, I can't find any")
        );
        let r = doctor_report(&figures(100 << 20, 200 << 20));
        assert!(r.starts_with("Sam, I detected a few issues"), "{r}");
        assert!(r.contains(" * Peak memory:") && r.ends_with("I want to help you.\n"));
    }
}
