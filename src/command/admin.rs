//! Server and introspection commands: INFO, CONFIG, COMMAND, DEBUG, SLOWLOG, MONITOR, TIME,
//! DBSIZE, LASTSAVE, SHUTDOWN.

use std::fmt::Write as _;

use super::{Argv, Keys, err, flag, registry};
use crate::config::{self, Kind};
use crate::db::digest;
use crate::log;
use crate::log::{self as logging, Level};
use crate::net::client::Client;
use crate::server::{Server, ShutdownRequest};
use crate::util::{self, bytes_to_human, parse_i64};

/// Replies a HELP text: "<CMD> <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
/// the lines, and "HELP / Print this help.", as Redis's addReplyHelp.
pub fn reply_help(c: &mut Client, cmd: &str, lines: &[&str]) {
    reply_help_ending(c, cmd, lines, "    Print this help.");
}

/// `reply_help` with another description of HELP itself (CLIENT's says "Prints").
pub fn reply_help_ending(c: &mut Client, cmd: &str, lines: &[&str], help: &str) {
    c.add_array(lines.len() + 3);
    c.add_simple(&format!("{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd));
    for l in lines {
        c.add_simple(l);
    }
    c.add_simple("HELP");
    c.add_simple(help);
}

// ---------------------------------------------------------------------------------------
// Memory figures

/// Allocator statistics: (allocated, active, resident, peak-tracking happens in the server).
pub struct MemoryFigures {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub rss: u64,
}

pub fn memory_figures() -> MemoryFigures {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    MemoryFigures {
        allocated: stats::allocated::read().unwrap_or(0) as u64,
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
        rss: process_rss(),
    }
}

/// Resident set size of this process.
pub fn process_rss() -> u64 {
    #[cfg(target_os = "linux")]
    {
        if let Ok(s) = std::fs::read_to_string("/proc/self/statm") {
            let pages: u64 = s.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
            return pages * page;
        }
        0
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: getrusage fills the struct we own. ru_maxrss is the peak (bytes on macOS):
        // the closest figure without the Mach task API.
        unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut ru);
            ru.ru_maxrss as u64
        }
    }
}

fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    unsafe {
        (libc::sysconf(libc::_SC_PHYS_PAGES) as u64)
            .saturating_mul(libc::sysconf(libc::_SC_PAGESIZE) as u64)
    }
}

// ---------------------------------------------------------------------------------------
// INFO

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats", "latencystats"];

/// INFO [section ...]
pub fn info(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let text = info_text(srv, Some(c), &argv[1..]);
    c.add_verbatim(text.as_bytes());
}

/// Builds the INFO text for the requested sections ("default", "all", "everything" or names).
pub fn info_text(srv: &mut Server, c: Option<&Client>, args: &[Vec<u8>]) -> String {
    let mut wanted: Vec<String> = Vec::new();
    if args.is_empty() {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    for a in args {
        match util::lower(a).as_str() {
            "default" => wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
            "all" | "everything" => {
                wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
                wanted.extend(ALL_EXTRA.iter().map(|s| s.to_string()));
            }
            s => wanted.push(s.to_string()),
        }
    }
    let mut out = String::new();
    let order = [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "module_list",
        "modules",
        "commandstats",
        "errorstats",
        "latencystats",
        "cluster",
        "keyspace",
    ];
    for section in order {
        if !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match section {
            "server" => info_server(srv, &mut out),
            "clients" => info_clients(srv, c, &mut out),
            "memory" => info_memory(srv, &mut out),
            "persistence" => info_persistence(srv, &mut out),
            "stats" => info_stats(srv, &mut out),
            "replication" => info_replication(srv, &mut out),
            "cpu" => info_cpu(&mut out),
            "module_list" | "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => info_commandstats(srv, &mut out),
            "errorstats" => info_errorstats(srv, &mut out),
            "latencystats" => out.push_str("# Latencystats\r\n"),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => info_keyspace(srv, &mut out),
            _ => {}
        }
    }
    out
}

fn line(out: &mut String, k: &str, v: impl std::fmt::Display) {
    let _ = write!(out, "{}:{}\r\n", k, v);
}

fn os_name() -> String {
    // SAFETY: uname fills the struct we own.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) == 0 {
            let f = |a: &[libc::c_char]| {
                std::ffi::CStr::from_ptr(a.as_ptr()).to_string_lossy().into_owned()
            };
            return format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine));
        }
    }
    std::env::consts::OS.to_string()
}

fn info_server(srv: &Server, out: &mut String) {
    let up = srv.start_time.elapsed().as_secs();
    out.push_str("# Server\r\n");
    line(out, "redis_version", crate::REDIS_VERSION);
    line(out, "tine_version", crate::TINE_VERSION);
    line(out, "redis_git_sha1", "00000000");
    line(out, "redis_git_dirty", 0);
    line(out, "redis_build_id", "0");
    line(out, "redis_mode", "standalone");
    line(out, "os", os_name());
    line(out, "arch_bits", 64);
    line(out, "monotonic_clock", "POSIX clock_gettime");
    line(out, "multiplexing_api", if cfg!(target_os = "linux") { "epoll" } else { "kqueue" });
    line(out, "atomicvar_api", "c11-builtin");
    line(out, "gcc_version", "0.0.0");
    line(out, "process_id", std::process::id());
    line(out, "process_supervised", "no");
    line(out, "run_id", &srv.run_id);
    line(out, "tcp_port", srv.tcp_port);
    line(out, "server_time_usec", util::ustime());
    line(out, "uptime_in_seconds", up);
    line(out, "uptime_in_days", up / 86400);
    line(out, "hz", srv.hz);
    line(out, "configured_hz", srv.config.hz);
    line(out, "lru_clock", (util::mstime() / 1000) & ((1 << 24) - 1));
    line(out, "executable", &srv.executable);
    line(
        out,
        "config_file",
        srv.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
    );
    line(out, "io_threads_active", 0);
}

fn info_clients(srv: &Server, _c: Option<&Client>, out: &mut String) {
    out.push_str("# Clients\r\n");
    line(out, "connected_clients", srv.clients.len());
    line(out, "cluster_connections", 0);
    line(out, "maxclients", srv.config.maxclients);
    line(out, "client_recent_max_input_buffer", srv.recent_max_input);
    line(out, "client_recent_max_output_buffer", srv.recent_max_output);
    line(out, "blocked_clients", srv.blocking.blocked_clients);
    line(out, "tracking_clients", 0);
    line(out, "clients_in_timeout_table", srv.blocking.in_timeout_table());
}

fn info_memory(srv: &mut Server, out: &mut String) {
    let m = memory_figures();
    srv.peak_memory = srv.peak_memory.max(m.allocated);
    let peak = srv.peak_memory;
    let sys = total_system_memory();
    out.push_str("# Memory\r\n");
    line(out, "used_memory", m.allocated);
    line(out, "used_memory_human", bytes_to_human(m.allocated));
    line(out, "used_memory_rss", m.rss);
    line(out, "used_memory_rss_human", bytes_to_human(m.rss));
    line(out, "used_memory_peak", peak);
    line(out, "used_memory_peak_human", bytes_to_human(peak));
    line(
        out,
        "used_memory_peak_perc",
        format!("{:.2}%", m.allocated as f64 * 100.0 / peak.max(1) as f64),
    );
    line(out, "used_memory_overhead", 0);
    line(out, "used_memory_startup", 0);
    line(out, "used_memory_dataset", m.allocated);
    line(out, "used_memory_dataset_perc", "100.00%");
    line(out, "allocator_allocated", m.allocated);
    line(out, "allocator_active", m.active);
    line(out, "allocator_resident", m.resident);
    line(out, "total_system_memory", sys);
    line(out, "total_system_memory_human", bytes_to_human(sys));
    line(out, "used_memory_lua", 0);
    line(out, "used_memory_scripts", 0);
    line(out, "maxmemory", srv.config.maxmemory);
    line(out, "maxmemory_human", bytes_to_human(srv.config.maxmemory.max(0) as u64));
    line(out, "maxmemory_policy", srv.config.maxmemory_policy);
    line(
        out,
        "allocator_frag_ratio",
        format!("{:.2}", m.active as f64 / m.allocated.max(1) as f64),
    );
    line(out, "allocator_frag_bytes", m.active.saturating_sub(m.allocated));
    line(out, "allocator_rss_ratio", format!("{:.2}", m.resident as f64 / m.active.max(1) as f64));
    line(out, "allocator_rss_bytes", m.resident.saturating_sub(m.active));
    line(out, "rss_overhead_ratio", format!("{:.2}", m.rss as f64 / m.resident.max(1) as f64));
    line(out, "rss_overhead_bytes", m.rss as i64 - m.resident as i64);
    line(
        out,
        "mem_fragmentation_ratio",
        format!("{:.2}", m.rss as f64 / m.allocated.max(1) as f64),
    );
    line(out, "mem_fragmentation_bytes", m.rss as i64 - m.allocated as i64);
    line(out, "mem_not_counted_for_evict", 0);
    line(out, "mem_replication_backlog", 0);
    line(out, "mem_total_replication_buffers", 0);
    line(out, "mem_clients_slaves", 0);
    line(
        out,
        "mem_clients_normal",
        srv.clients.iter().map(|c| c.qbuf.capacity() + c.obuf.capacity()).sum::<usize>(),
    );
    line(out, "mem_cluster_links", 0);
    line(out, "mem_aof_buffer", 0);
    line(out, "mem_allocator", "jemalloc");
    line(out, "active_defrag_running", 0);
    line(out, "lazyfree_pending_objects", 0);
    line(out, "lazyfreed_objects", 0);
}

fn info_persistence(srv: &mut Server, out: &mut String) {
    use crate::persist::child::ChildKind;
    if let Some(ch) = srv.persist.child.as_mut() {
        ch.drain_reports();
    }
    let p = &srv.persist;
    let ch = p.child.as_ref();
    let rdb_child = ch.filter(|c| c.kind != ChildKind::AofRewrite);
    out.push_str("# Persistence\r\n");
    line(out, "loading", srv.loading.is_some() as u8);
    line(out, "async_loading", 0);
    if let Some(l) = &srv.loading {
        let done = l.loaded();
        let perc = if l.total_bytes > 0 { done as f64 * 100.0 / l.total_bytes as f64 } else { 0.0 };
        let elapsed = l.started.elapsed().as_secs_f64();
        let eta = if done > 0 {
            ((l.total_bytes - done) as f64 * elapsed / done as f64) as u64
        } else {
            1
        };
        line(out, "loading_start_time", l.started_unix);
        line(out, "loading_total_bytes", l.total_bytes);
        line(out, "loading_rdb_used_mem", 0);
        line(out, "loading_loaded_bytes", done);
        line(out, "loading_loaded_perc", format!("{:.2}", perc));
        line(out, "loading_eta_seconds", eta);
    }
    line(out, "current_cow_peak", ch.map(|c| c.cow_peak).unwrap_or(0));
    line(out, "current_cow_size", ch.map(|c| c.report.cow_bytes).unwrap_or(0));
    line(
        out,
        "current_cow_size_age",
        ch.and_then(|c| c.cow_updated).map(|t| t.elapsed().as_secs()).unwrap_or(0),
    );
    let (done, total) = ch.map(|c| (c.report.keys_processed, c.keys_total)).unwrap_or((0, 0));
    line(
        out,
        "current_fork_perc",
        format!("{:.2}", if total > 0 { done as f64 * 100.0 / total as f64 } else { 0.0 }),
    );
    line(out, "current_save_keys_processed", done);
    line(out, "current_save_keys_total", total);
    line(out, "rdb_changes_since_last_save", srv.dirty);
    line(out, "rdb_bgsave_in_progress", rdb_child.is_some() as u8);
    line(out, "rdb_last_save_time", srv.lastsave);
    line(out, "rdb_last_bgsave_status", if p.last_bgsave_ok { "ok" } else { "err" });
    line(out, "rdb_last_bgsave_time_sec", p.last_bgsave_time_sec);
    line(
        out,
        "rdb_current_bgsave_time_sec",
        rdb_child.map(|c| c.started.elapsed().as_secs() as i64).unwrap_or(-1),
    );
    line(out, "rdb_saves", p.rdb_saves);
    line(out, "rdb_last_cow_size", p.rdb_last_cow_size);
    line(out, "rdb_last_load_keys_expired", p.rdb_last_load_keys_expired);
    line(out, "rdb_last_load_keys_loaded", p.rdb_last_load_keys_loaded);
    line(out, "rdb_bgsave_child_pid", p.rdb_child_pid().unwrap_or(-1));
    let mut aof_fields = Vec::new();
    crate::persist::aof::info_fields(srv, &mut aof_fields);
    for (k, v) in &aof_fields {
        line(out, k, v);
    }
    line(out, "module_fork_in_progress", 0);
    line(out, "module_fork_last_cow_size", 0);
    let mut aof_fields = Vec::new();
    crate::persist::aof::info_enabled_fields(srv, &mut aof_fields);
    for (k, v) in &aof_fields {
        line(out, k, v);
    }
}

fn info_stats(srv: &Server, out: &mut String) {
    let s = &srv.stats;
    let (ops, in_bps, out_bps) = s.instantaneous();
    out.push_str("# Stats\r\n");
    line(out, "total_connections_received", s.total_connections_received);
    line(out, "total_commands_processed", s.total_commands_processed);
    line(out, "instantaneous_ops_per_sec", ops);
    line(out, "total_net_input_bytes", s.total_net_input_bytes);
    line(out, "total_net_output_bytes", s.total_net_output_bytes);
    line(out, "total_net_repl_input_bytes", 0);
    line(out, "total_net_repl_output_bytes", 0);
    line(out, "instantaneous_input_kbps", format!("{:.2}", in_bps as f64 / 1024.0));
    line(out, "instantaneous_output_kbps", format!("{:.2}", out_bps as f64 / 1024.0));
    line(out, "instantaneous_input_repl_kbps", "0.00");
    line(out, "instantaneous_output_repl_kbps", "0.00");
    line(out, "rejected_connections", s.rejected_connections);
    line(out, "sync_full", 0);
    line(out, "sync_partial_ok", 0);
    line(out, "sync_partial_err", 0);
    line(out, "expired_keys", s.expired_keys);
    line(out, "expired_stale_perc", "0.00");
    line(out, "expired_time_cap_reached_count", 0);
    line(out, "expire_cycle_cpu_milliseconds", 0);
    line(out, "evicted_keys", s.evicted_keys);
    line(out, "evicted_clients", 0);
    line(out, "total_eviction_exceeded_time", 0);
    line(out, "current_eviction_exceeded_time", 0);
    line(out, "keyspace_hits", s.keyspace_hits);
    line(out, "keyspace_misses", s.keyspace_misses);
    line(out, "pubsub_channels", 0);
    line(out, "pubsub_patterns", 0);
    line(out, "pubsubshard_channels", 0);
    line(out, "latest_fork_usec", srv.persist.latest_fork_usec);
    line(out, "total_forks", srv.persist.total_forks);
    line(out, "migrate_cached_sockets", 0);
    line(out, "slave_expires_tracked_keys", 0);
    line(out, "active_defrag_hits", 0);
    line(out, "active_defrag_misses", 0);
    line(out, "active_defrag_key_hits", 0);
    line(out, "active_defrag_key_misses", 0);
    line(out, "total_active_defrag_time", 0);
    line(out, "current_active_defrag_time", 0);
    line(out, "tracking_total_keys", 0);
    line(out, "tracking_total_items", 0);
    line(out, "tracking_total_prefixes", 0);
    line(out, "unexpected_error_replies", s.unexpected_error_replies);
    line(out, "total_error_replies", s.total_error_replies);
    line(out, "dump_payload_sanitizations", 0);
    line(out, "total_reads_processed", s.total_reads_processed);
    line(out, "total_writes_processed", s.total_writes_processed);
    line(out, "io_threaded_reads_processed", 0);
    line(out, "io_threaded_writes_processed", 0);
    line(out, "reply_buffer_shrinks", 0);
    line(out, "reply_buffer_expands", 0);
}

fn info_replication(srv: &Server, out: &mut String) {
    out.push_str("# Replication\r\n");
    line(out, "role", "master");
    line(out, "connected_slaves", 0);
    line(out, "master_failover_state", "no-failover");
    line(out, "master_replid", &srv.run_id);
    line(out, "master_replid2", "0000000000000000000000000000000000000000");
    line(out, "master_repl_offset", 0);
    line(out, "second_repl_offset", -1);
    line(out, "repl_backlog_active", 0);
    line(out, "repl_backlog_size", srv.config.repl_backlog_size);
    line(out, "repl_backlog_first_byte_offset", 0);
    line(out, "repl_backlog_histlen", 0);
}

fn info_cpu(out: &mut String) {
    // SAFETY: getrusage fills the structs we own.
    let (s, u, cs, cu) = unsafe {
        let mut me: libc::rusage = std::mem::zeroed();
        let mut ch: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut me);
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ch);
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        (t(me.ru_stime), t(me.ru_utime), t(ch.ru_stime), t(ch.ru_utime))
    };
    out.push_str("# CPU\r\n");
    line(out, "used_cpu_sys", format!("{:.6}", s));
    line(out, "used_cpu_user", format!("{:.6}", u));
    line(out, "used_cpu_sys_children", format!("{:.6}", cs));
    line(out, "used_cpu_user_children", format!("{:.6}", cu));
    line(out, "used_cpu_sys_main_thread", format!("{:.6}", s));
    line(out, "used_cpu_user_main_thread", format!("{:.6}", u));
}

fn info_commandstats(srv: &Server, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for r in &registry().all {
        let st = &srv.cmd_stats[r.id];
        if st.calls == 0 && st.rejected_calls == 0 && st.failed_calls == 0 {
            continue;
        }
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            r.full_name,
            st.calls,
            st.usec,
            if st.calls > 0 { st.usec as f64 / st.calls as f64 } else { 0.0 },
            st.rejected_calls,
            st.failed_calls
        );
    }
}

fn info_errorstats(srv: &Server, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    let mut codes: Vec<_> = srv.stats.errors.iter().collect();
    codes.sort();
    for (code, n) in codes {
        let _ = write!(out, "errorstat_{}:count={}\r\n", code, n);
    }
}

fn info_keyspace(srv: &Server, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for db in &srv.dbs {
        if db.is_empty() {
            continue;
        }
        let _ =
            write!(out, "db{}:keys={},expires={},avg_ttl=0\r\n", db.id, db.len(), db.expires_len());
    }
}

// ---------------------------------------------------------------------------------------
// CONFIG

pub fn config_get(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let patterns: Vec<&[u8]> = argv[2..].iter().map(|a| a.as_slice()).collect();
    let pairs = srv.config.get_matching(&patterns);
    c.add_map(pairs.len());
    for (k, v) in pairs {
        c.add_bulk(k.as_bytes());
        c.add_bulk(v.as_bytes());
    }
}

pub fn config_set(srv: &mut Server, c: &mut Client, argv: &Argv) {
    // Redis 7.0 answers an odd number of name/value arguments with a plain syntax error.
    if argv.len() % 2 != 0 {
        c.add_error(err::SYNTAX);
        return;
    }
    let owned: Vec<(String, String)> = argv[2..]
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let before = srv.config.clone();
    match srv.config.set_many(&pairs) {
        Ok(names) => {
            if let Err(e) = apply_config_changes(srv, &names) {
                srv.config = before;
                c.add_err(&format!("CONFIG SET failed {}", e));
                return;
            }
            c.add_ok();
        }
        Err(e) => c.add_error(&e.reply_text()),
    }
}

/// Acts on directives CONFIG SET changed. An error undoes the whole CONFIG SET.
pub fn apply_config_changes(srv: &mut Server, names: &[&'static str]) -> Result<(), String> {
    for name in names {
        match *name {
            "loglevel" => {
                logging::set_level(Level::from_name(srv.config.loglevel).unwrap_or(Level::Notice))
            }
            "hz" => srv.hz = srv.config.hz.clamp(1, 500),
            "notify-keyspace-events" => {
                srv.notify_flags =
                    crate::config::custom::notify::parse(&srv.config.notify_keyspace_events)
                        .unwrap_or(0)
            }
            "bind" | "port" => srv.rebind_requested = true,
            // As Redis: `dir` is where the server lives; saves write `dbfilename` there.
            "dir" => std::env::set_current_dir(&srv.config.dir).map_err(|e| {
                format!("(possibly related to argument 'dir') - {}", util::strerror(&e))
            })?,
            "appendonly" => {
                if srv.config.appendonly {
                    crate::persist::aof::start_append_only(srv)?;
                } else {
                    crate::persist::aof::stop_append_only(srv);
                }
            }
            "appendfsync" => crate::persist::aof::fsync_policy_changed(srv),
            // At once, not at the next cron tick: keys written or read before it would
            // otherwise get LRU-format access data under an LFU policy (and the reverse).
            "maxmemory-policy" | "lfu-log-factor" | "lfu-decay-time" => crate::db::access::update(
                srv.now_ms,
                srv.config.maxmemory_policy.contains("lfu"),
                srv.config.lfu_log_factor,
                srv.config.lfu_decay_time,
            ),
            "requirepass" => {}
            _ => {}
        }
    }
    Ok(())
}

pub fn config_resetstat(srv: &mut Server, c: &mut Client, _argv: &Argv) {
    srv.stats = Default::default();
    srv.cmd_stats = super::new_stats();
    srv.peak_memory = 0;
    c.add_ok();
}

pub fn config_rewrite(srv: &mut Server, c: &mut Client, _argv: &Argv) {
    let Some(path) = srv.config_file.clone() else {
        c.add_err("The server is running without a config file");
        return;
    };
    match rewrite_config_file(&srv.config, &path) {
        Ok(()) => {
            log!(Level::Notice, "CONFIG REWRITE executed with success.");
            c.add_ok();
        }
        Err(e) => {
            log!(Level::Warning, "CONFIG REWRITE failed: {}", e);
            c.add_err(&format!("Rewriting config file: {}", e));
        }
    }
}

/// Formats a memory value as Redis's rewriteConfigFormatMemory: the largest unit that
/// divides it exactly.
fn format_memory(v: i64) -> String {
    const GB: i64 = 1 << 30;
    const MB: i64 = 1 << 20;
    const KB: i64 = 1 << 10;
    if v != 0 && v % GB == 0 {
        format!("{}gb", v / GB)
    } else if v != 0 && v % MB == 0 {
        format!("{}mb", v / MB)
    } else if v != 0 && v % KB == 0 {
        format!("{}kb", v / KB)
    } else {
        v.to_string()
    }
}

/// The lines CONFIG REWRITE writes for one directive.
fn directive_lines(d: &config::Directive, value: &str) -> Vec<String> {
    use crate::config::split::{quote_arg, repr_arg};
    let name = d.name;
    match d.kind {
        Kind::Memory { .. } => {
            vec![format!("{} {}", name, format_memory(value.parse().unwrap_or(0)))]
        }
        Kind::Str => vec![format!("{} {}", name, repr_arg(value.as_bytes()))],
        Kind::Custom(_) => match name {
            "save" => {
                if value.is_empty() {
                    vec!["save \"\"".into()]
                } else {
                    let nums: Vec<&str> = value.split_whitespace().collect();
                    nums.chunks(2).map(|p| format!("save {} {}", p[0], p[1])).collect()
                }
            }
            "client-output-buffer-limit" => {
                let parts: Vec<&str> = value.split_whitespace().collect();
                parts
                    .chunks(4)
                    .map(|g| {
                        let class = if g[0] == "slave" { "replica" } else { g[0] };
                        format!(
                            "{} {} {} {} {}",
                            name,
                            class,
                            format_memory(g[1].parse().unwrap_or(0)),
                            format_memory(g[2].parse().unwrap_or(0)),
                            g[3]
                        )
                    })
                    .collect()
            }
            "bind" | "oom-score-adj-values" | "latency-tracking-info-percentiles" => {
                vec![format!("{} {}", name, value)]
            }
            "replicaof" => {
                if value.is_empty() {
                    vec![]
                } else {
                    vec![format!("{} {}", name, value)]
                }
            }
            _ => vec![format!("{} {}", name, repr_arg(value.as_bytes()))],
        },
        _ => vec![format!("{} {}", name, quote_arg(value.as_bytes()))],
    }
}

/// Rewrites the config file to hold the running configuration, keeping comments and the lines
/// tine does not own.
pub fn rewrite_config_file(cfg: &config::Config, path: &std::path::Path) -> std::io::Result<()> {
    let original = std::fs::read_to_string(path).ok();
    let defaults = config::Config::default();
    let mut desired = Vec::new();
    for d in config::DIRECTIVES {
        let value = (d.get)(cfg);
        let is_default = value == (d.get)(&defaults);
        desired.push((d.name.to_string(), directive_lines(d, &value), is_default));
    }
    let text = config::rewrite::rewrite_config(original.as_deref(), &desired);
    config::rewrite::write_atomically(path, &text)
}

pub fn config_help(_srv: &mut Server, c: &mut Client, _argv: &Argv) {
    reply_help(
        c,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// COMMAND

fn reply_command_info(c: &mut Client, r: &super::Resolved) {
    let cmd = r.cmd;
    let (first, last, step) = match cmd.keys {
        Keys::None => (0, 0, 0),
        Keys::Range(f, l, s) => (f, l, s),
        Keys::NumKeys { .. } => (0, 0, 0),
    };
    c.add_array(10);
    c.add_bulk(r.full_name.as_bytes());
    c.add_int(cmd.arity as i64);
    let flags: Vec<&str> =
        flag::NAMES.iter().filter(|(_, b)| r.flags & b != 0).map(|(n, _)| *n).collect();
    c.add_set(flags.len());
    for f in flags {
        c.add_simple(f);
    }
    c.add_int(first as i64);
    c.add_int(last as i64);
    c.add_int(step as i64);
    let cats: Vec<String> = cmd.acl.split_whitespace().map(|a| format!("@{}", a)).collect();
    c.add_set(cats.len());
    for a in cats {
        c.add_simple(&a);
    }
    // Redis replies tips and key specs as sets, and no subcommands as an empty set (a
    // difference only RESP3 shows).
    c.add_set(0); // tips
    c.add_set(0); // key specs
    let reg = registry();
    let subs: Vec<&super::Resolved> = {
        let mut v: Vec<_> = r.subs.values().map(|&i| &reg.all[i]).collect();
        v.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        v
    };
    if subs.is_empty() {
        c.add_set(0);
    } else {
        c.add_array(subs.len());
    }
    for s in subs {
        reply_command_info(c, s);
    }
}

/// COMMAND with no subcommand: every command's info.
pub fn command(_srv: &mut Server, c: &mut Client, _argv: &Argv) {
    let reg = registry();
    let tops: Vec<_> = reg.top_level().collect();
    c.add_array(tops.len());
    for r in tops {
        reply_command_info(c, r);
    }
}

pub fn command_count(_srv: &mut Server, c: &mut Client, _argv: &Argv) {
    c.add_int(registry().top_level().count() as i64);
}

pub fn command_info(_srv: &mut Server, c: &mut Client, argv: &Argv) {
    let reg = registry();
    if argv.len() == 2 {
        return command(_srv, c, argv);
    }
    c.add_array(argv.len() - 2);
    for name in &argv[2..] {
        match reg.lookup_full(name) {
            Some(r) => reply_command_info(c, r),
            None => c.add_null_array(),
        }
    }
}

pub fn command_list(_srv: &mut Server, c: &mut Client, argv: &Argv) {
    let reg = registry();
    let mut names: Vec<&str> = reg.all.iter().map(|r| r.full_name.as_str()).collect();
    if argv.len() == 5 && util::lower(&argv[2]) == "filterby" {
        let kind = util::lower(&argv[3]);
        // MODULE matches nothing (tine loads no modules); an unknown filter is a syntax
        // error, as in Redis.
        if !matches!(kind.as_str(), "pattern" | "aclcat" | "module") {
            c.add_error(err::SYNTAX);
            return;
        }
        let val = &argv[4];
        names = reg
            .all
            .iter()
            .filter(|r| match kind.as_str() {
                "pattern" => util::glob_match(val, r.full_name.as_bytes(), true),
                "aclcat" => {
                    r.cmd.acl.split_whitespace().any(|a| a.as_bytes().eq_ignore_ascii_case(val))
                }
                _ => false,
            })
            .map(|r| r.full_name.as_str())
            .collect();
    } else if argv.len() != 2 {
        c.add_error(err::SYNTAX);
        return;
    }
    c.add_array(names.len());
    for n in names {
        c.add_bulk(n.as_bytes());
    }
}

pub fn command_docs(_srv: &mut Server, c: &mut Client, argv: &Argv) {
    let reg = registry();
    let list: Vec<&super::Resolved> = if argv.len() == 2 {
        reg.top_level().collect()
    } else {
        argv[2..].iter().filter_map(|n| reg.lookup_full(n)).collect()
    };
    c.add_map(list.len());
    for r in list {
        c.add_bulk(r.full_name.as_bytes());
        c.add_map(3);
        c.add_bulk(b"summary");
        c.add_bulk(r.cmd.summary.as_bytes());
        c.add_bulk(b"since");
        c.add_bulk(r.cmd.since.as_bytes());
        c.add_bulk(b"group");
        c.add_bulk(r.cmd.group.as_bytes());
    }
}

pub fn command_getkeys(_srv: &mut Server, c: &mut Client, argv: &Argv) {
    let reg = registry();
    let args = &argv[2..];
    let Some(r) = reg.lookup(&args[0]) else {
        c.add_err("Invalid command specified");
        return;
    };
    let arity = r.cmd.arity;
    if (arity > 0 && args.len() as i32 != arity) || (args.len() as i32) < -arity {
        c.add_err("Invalid number of arguments specified for command");
        return;
    }
    match super::key_positions(r.cmd, args) {
        Ok(pos) if pos.is_empty() => c.add_err("The command has no key arguments"),
        Ok(pos) => {
            c.add_array(pos.len());
            for p in pos {
                c.add_bulk(&args[p]);
            }
        }
        Err(e) => c.add_err(e),
    }
}

pub fn command_help(_srv: &mut Server, c: &mut Client, _argv: &Argv) {
    reply_help(
        c,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// DEBUG

/// Redis's words for a DEBUG refused by `enable-debug-command`.
pub const DEBUG_NOT_ALLOWED: &str = "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Whether `enable-debug-command` lets this client run DEBUG (checked by dispatch).
pub fn debug_allowed(srv: &Server, c: &Client) -> bool {
    match srv.config.enable_debug_command {
        "yes" => true,
        "local" => c.is_unix || c.peer_ip.is_some_and(|ip| ip.is_loopback()),
        _ => false,
    }
}

pub fn debug(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let sub = util::lower(&argv[1]);
    match sub.as_str() {
        "help" => reply_help(
            c,
            "DEBUG",
            &[
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "OBJECT <key>",
                "    Show low level info about the key and associated value.",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> string keys named key:<num>.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not accessed.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        ),
        "sleep" if argv.len() == 3 => {
            let secs = util::parse_f64(&argv[2]).unwrap_or(0.0).max(0.0);
            std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            c.add_ok();
        }
        "digest" if argv.len() == 2 => {
            let d = digest::dataset_digest(&srv.dbs);
            c.add_simple(&digest::to_hex(&d));
        }
        "digest-value" => {
            c.add_array(argv.len() - 2);
            for key in &argv[2..] {
                let db = &srv.dbs[c.db];
                let d = match db.peek(key) {
                    Some(v) => digest::value_digest(v, db.expire_of(key).is_some()),
                    None => [0u8; 20],
                };
                c.add_simple(&digest::to_hex(&d));
            }
        }
        "populate" if (3..=5).contains(&argv.len()) => {
            // Redis's getPositiveLongFromObjectOrReply: one message for both failures.
            let Some(count) = parse_i64(&argv[2]).filter(|&n| n >= 0) else {
                c.add_err("value is out of range, must be positive");
                return;
            };
            let prefix: &[u8] = argv.get(3).map(|p| p.as_slice()).unwrap_or(b"key");
            let size = match argv.get(4) {
                Some(s) => match parse_i64(s).filter(|&n| n >= 0) {
                    Some(n) => Some(n as usize),
                    None => {
                        c.add_err("value size is not an integer or out of range");
                        return;
                    }
                },
                None => None,
            };
            let db = &mut srv.dbs[c.db];
            for i in 0..count {
                let mut key = prefix.to_vec();
                key.push(b':');
                key.extend_from_slice(i.to_string().as_bytes());
                if db.peek(&key).is_some() {
                    continue;
                }
                let base = format!("value:{}", i).into_bytes();
                let val = match size {
                    None => base,
                    Some(n) => {
                        let mut v = vec![0u8; n];
                        let k = n.min(base.len());
                        v[..k].copy_from_slice(&base[..k]);
                        v
                    }
                };
                db.insert_new(
                    key.into_boxed_slice(),
                    crate::db::Value::Str(crate::db::Str::from_bytes(&val)),
                );
            }
            c.add_ok();
        }
        "object" if argv.len() == 3 => {
            let db = &srv.dbs[c.db];
            match db.peek(&argv[2]) {
                Some(v) => {
                    let text = format!(
                        "Value at:0x{:x} refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:0",
                        v as *const _ as usize,
                        v.encoding(),
                        v.serialized_length_estimate()
                    );
                    c.add_simple(&text);
                }
                None => c.add_error(err::NO_SUCH_KEY),
            }
        }
        // tine's own: make the next forks fail as if the OS refused, to test recovery.
        "fork-fail" if argv.len() == 3 => {
            crate::persist::child::FAIL_FORKS
                .store(argv[2].as_slice() != b"0", std::sync::atomic::Ordering::Relaxed);
            c.add_ok();
        }
        // Save, empty the keyspace, load the file back (Redis's DEBUG RELOAD).
        "reload" => {
            if let Err(e) = crate::persist::snapshot::save_in_foreground(srv) {
                c.add_err(&format!("Error trying to save the DB: {}", e));
                return;
            }
            // Empty first, as Redis does: the dataset is then rebuilt in the memory the old one
            // freed, instead of both living at once (a peak of twice the data, and freed pages
            // the allocator purges later).
            for db in srv.dbs.iter_mut() {
                db.clear();
            }
            let path = crate::persist::snapshot::rdb_path(srv);
            match crate::persist::rdb_io::load_file(srv, &path) {
                Ok(_) => {
                    log!(Level::Notice, "DB reloaded by DEBUG RELOAD");
                    c.add_ok();
                }
                Err(e) => c.add_err(&format!("Error trying to load the RDB dump: {}", e)),
            }
        }
        "set-active-expire" if argv.len() == 3 => {
            srv.debug_active_expire = argv[2].as_slice() != b"0";
            c.add_ok();
        }
        _ => c.add_err(&format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
    }
}

// ---------------------------------------------------------------------------------------
// The rest

pub fn time(_srv: &mut Server, c: &mut Client, _argv: &Argv) {
    let us = util::ustime();
    c.add_array(2);
    c.add_bulk_i64(us / 1_000_000);
    c.add_bulk_i64(us % 1_000_000);
}

pub fn dbsize(srv: &mut Server, c: &mut Client, _argv: &Argv) {
    let n = srv.dbs[c.db].len();
    c.add_int(n as i64);
}

pub fn lastsave(srv: &mut Server, c: &mut Client, _argv: &Argv) {
    c.add_int(srv.lastsave);
}

/// MEMORY USAGE key [SAMPLES count]: the key's estimated bytes (`db::memory`), nil when it
/// does not exist. Nested values are sampled `count` times (default 5, 0 = all).
pub fn memory_usage(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let mut samples = 5usize;
    let mut opts = argv[3..].chunks(2);
    for opt in &mut opts {
        match opt {
            [name, count] if name.eq_ignore_ascii_case(b"samples") => {
                match util::parse_i64(count) {
                    Some(n) if n >= 0 => samples = n as usize,
                    Some(_) => return c.add_error(err::SYNTAX),
                    None => return c.add_error(err::NOT_INTEGER),
                }
            }
            _ => return c.add_error(err::SYNTAX),
        }
    }
    // As Redis: a plain lookup, no expiry, no keyspace statistics.
    match srv.dbs[c.db].memory_usage(&argv[2], samples) {
        Some(n) => c.add_int(n as i64),
        None => c.add_null(),
    }
}

pub fn memory_help(_srv: &mut Server, c: &mut Client, _argv: &Argv) {
    reply_help_ending(
        c,
        "MEMORY",
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
        "    Prints this help.",
    );
}

/// LATENCY LATEST: for every event, its latest sample's time and latency and its maximum.
pub fn latency_latest(srv: &mut Server, c: &mut Client, _argv: &Argv) {
    let rows: Vec<_> = srv.latency.events().map(|(e, s)| (e, s.latest(), s.max)).collect();
    c.add_array(rows.len());
    for (event, latest, max) in rows {
        c.add_array(4);
        c.add_bulk(event.as_bytes());
        c.add_int(latest.time);
        c.add_int(latest.latency as i64);
        c.add_int(max as i64);
    }
}

/// LATENCY HISTORY event: its samples, oldest first, as [time, latency] pairs.
pub fn latency_history(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let samples: Vec<_> =
        srv.latency.series(&argv[2]).map(|s| s.history().collect()).unwrap_or_default();
    c.add_array(samples.len());
    for s in samples {
        c.add_array(2);
        c.add_int(s.time);
        c.add_int(s.latency as i64);
    }
}

/// LATENCY RESET [event ...]: forgets those events (all without arguments); how many it forgot.
pub fn latency_reset(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let n = srv.latency.reset(&argv[2..]);
    c.add_int(n as i64);
}

/// Redis 7.0.15's text, without DOCTOR, GRAPH and HISTOGRAM, which tine does not have.
pub fn latency_help(_srv: &mut Server, c: &mut Client, _argv: &Argv) {
    reply_help_ending(
        c,
        "LATENCY",
        &[
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
        ],
        "    Prints this help.",
    );
}

/// WAIT numreplicas timeout: with no replicas (replication is not built) nothing ever
/// acknowledges, so as on a Redis master without replicas it answers 0 at once when 0 replicas
/// are asked for (or inside MULTI/EXEC, where nothing may block), and otherwise blocks until
/// the timeout (milliseconds, 0 = forever) and answers 0.
pub fn wait(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let Some(numreplicas) = util::parse_i64(&argv[1]) else {
        return c.add_error(err::NOT_INTEGER);
    };
    let Some(timeout) = util::parse_i64(&argv[2]) else {
        return c.add_err("timeout is not an integer or out of range");
    };
    if timeout < 0 {
        return c.add_err("timeout is negative");
    }
    if numreplicas <= 0 || !crate::blocking::may_block(c) {
        return c.add_int(0);
    }
    let deadline = if timeout == 0 { 0 } else { srv.now_ms.saturating_add(timeout) };
    crate::blocking::block_for_replicas(srv, c, deadline, argv);
}

/// ROLE: tine is always a master without replicas for now (replication is not built), so the
/// reply is Redis's for that case: the role, the replication offset (0, as INFO
/// replication's `master_repl_offset`) and an empty replica list. Client libraries ask ROLE
/// to tell a master from a replica.
pub fn role(_srv: &mut Server, c: &mut Client, _argv: &Argv) {
    c.add_array(3);
    c.add_bulk(b"master");
    c.add_int(0);
    c.add_array(0);
}

pub fn slowlog_get(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let count = match argv.get(2) {
        None => 10,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= -1 => {
                if n == -1 {
                    srv.slowlog.len()
                } else {
                    n as usize
                }
            }
            _ => {
                c.add_err("count should be greater than or equal to -1");
                return;
            }
        },
    };
    let entries: Vec<_> = srv.slowlog.iter().take(count).collect();
    c.add_array(entries.len());
    for e in entries {
        c.add_array(6);
        c.add_int(e.id as i64);
        c.add_int(e.time);
        c.add_int(e.duration_us);
        c.add_array(e.argv.len());
        for a in &e.argv {
            c.add_bulk(a);
        }
        c.add_bulk(e.peer.as_bytes());
        c.add_bulk(&e.name);
    }
}

pub fn slowlog_len(srv: &mut Server, c: &mut Client, _argv: &Argv) {
    c.add_int(srv.slowlog.len() as i64);
}

pub fn slowlog_reset(srv: &mut Server, c: &mut Client, _argv: &Argv) {
    srv.slowlog.clear();
    c.add_ok();
}

pub fn slowlog_help(_srv: &mut Server, c: &mut Client, _argv: &Argv) {
    reply_help(
        c,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
}

pub fn monitor(srv: &mut Server, c: &mut Client, _argv: &Argv) {
    if c.monitor {
        return;
    }
    c.monitor = true;
    srv.monitors.push(c.slot);
    c.add_ok();
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(srv: &mut Server, c: &mut Client, argv: &Argv) {
    let mut req = ShutdownRequest::default();
    let mut abort = false;
    for a in &argv[1..] {
        match util::lower(a).as_str() {
            "nosave" => req.nosave = true,
            "save" => req.save = true,
            "now" => req.now = true,
            "force" => req.force = true,
            "abort" => abort = true,
            _ => {
                c.add_error(err::SYNTAX);
                return;
            }
        }
    }
    if (abort && argv.len() > 2) || (req.nosave && req.save) {
        c.add_error(err::SYNTAX);
        return;
    }
    if abort {
        if srv.shutdown.take().is_some() {
            c.add_ok();
        } else {
            c.add_err("No shutdown in progress.");
        }
        return;
    }
    if crate::shutdown::prepare(srv, req) {
        srv.exit_requested = true;
    } else {
        c.add_err("Errors trying to SHUTDOWN. Check logs.");
    }
}
