//! INFO: every section Redis 7.0 has, in its field names and order.

use super::{Argv, CmdResult, registry};
use crate::commands::Ctx;
use crate::engine::memory::total_system_memory;
use crate::engine::session::Session;
use std::fmt::Write as _;
use tine_core::base::{self, bytes_to_human};

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
pub(crate) fn info(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let text = info_text(srv, Some(c), &argv[1..]);
    c.add_verbatim(text.as_bytes());
    Ok(())
}

/// Builds the INFO text for the requested sections ("default", "all", "everything" or names).
pub(crate) fn info_text(srv: &mut Ctx<'_>, c: Option<&Session>, args: &[Vec<u8>]) -> String {
    let mut wanted: Vec<String> = Vec::new();
    if args.is_empty() {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    for a in args {
        match base::lower(a).as_str() {
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
            "latencystats" => info_latencystats(srv, &mut out),
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

fn info_server(srv: &Ctx<'_>, out: &mut String) {
    let up = srv.data.start_time.elapsed().as_secs();
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
    line(out, "run_id", &srv.data.run_id);
    line(out, "tcp_port", srv.data.tcp_port);
    line(out, "server_time_usec", base::ustime());
    line(out, "uptime_in_seconds", up);
    line(out, "uptime_in_days", up / 86400);
    line(out, "hz", srv.data.hz);
    line(out, "configured_hz", srv.data.config.hz);
    line(out, "lru_clock", (base::mstime() / 1000) & ((1 << 24) - 1));
    line(out, "executable", &srv.data.executable);
    line(
        out,
        "config_file",
        srv.data.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
    );
    line(out, "io_threads_active", 0);
    if let Some(ms) = super::replication::shutdown_in_ms(srv.data) {
        line(out, "shutdown_in_milliseconds", ms);
    }
}

fn info_clients(srv: &Ctx<'_>, _c: Option<&Session>, out: &mut String) {
    out.push_str("# Clients\r\n");
    // Replicas are not counted (Redis's server.clients minus server.slaves).
    line(
        out,
        "connected_clients",
        srv.server.connected().saturating_sub(srv.data.primary.links.len()),
    );
    line(out, "cluster_connections", 0);
    line(out, "maxclients", srv.data.config.maxclients);
    line(out, "client_recent_max_input_buffer", srv.data.recent_max_input);
    line(out, "client_recent_max_output_buffer", srv.data.recent_max_output);
    line(out, "blocked_clients", srv.data.blocking.blocked_clients);
    line(out, "tracking_clients", srv.data.tracking.clients);
    line(out, "clients_in_timeout_table", srv.data.blocking.in_timeout_table());
}

fn info_memory(srv: &mut Ctx<'_>, out: &mut String) {
    // One reading of the allocator for every figure (the overhead refreshes the peak).
    let o = super::memory::overhead(srv);
    let m = &o.mem;
    let peak = o.peak;
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
    line(out, "used_memory_overhead", o.total);
    line(out, "used_memory_startup", o.startup);
    line(out, "used_memory_dataset", o.dataset());
    line(out, "used_memory_dataset_perc", format!("{:.2}%", o.dataset_perc()));
    line(out, "allocator_allocated", m.allocated);
    line(out, "allocator_active", m.active);
    line(out, "allocator_resident", m.resident);
    line(out, "total_system_memory", sys);
    line(out, "total_system_memory_human", bytes_to_human(sys));
    // Scripting's figures, in Redis 7.0's order.
    let sc = &srv.data.scripting;
    let (vm_eval, scripts_eval) = (sc.vm_memory(), sc.scripts_bytes);
    let (vm_functions, functions_bytes) = (sc.functions.vm_memory(), sc.functions.code_bytes());
    let (libraries, functions) = sc.functions.counts();
    line(out, "used_memory_lua", vm_eval);
    line(out, "used_memory_vm_eval", vm_eval);
    line(out, "used_memory_lua_human", bytes_to_human(vm_eval as u64));
    line(out, "used_memory_scripts_eval", scripts_eval);
    line(out, "number_of_cached_scripts", sc.cached());
    line(out, "number_of_functions", functions);
    line(out, "number_of_libraries", libraries);
    line(out, "used_memory_vm_functions", vm_functions);
    line(out, "used_memory_vm_total", vm_eval + vm_functions);
    line(out, "used_memory_vm_total_human", bytes_to_human((vm_eval + vm_functions) as u64));
    line(out, "used_memory_functions", functions_bytes);
    line(out, "used_memory_scripts", scripts_eval + functions_bytes);
    line(out, "used_memory_scripts_human", bytes_to_human((scripts_eval + functions_bytes) as u64));
    line(out, "maxmemory", srv.data.config.maxmemory);
    line(out, "maxmemory_human", bytes_to_human(srv.data.config.maxmemory));
    line(out, "maxmemory_policy", srv.data.config.maxmemory_policy.as_str());
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
    let (backlog_mem, replicas_mem) = srv.data.repl_buf.memory_split();
    line(out, "mem_replication_backlog", backlog_mem);
    line(out, "mem_total_replication_buffers", srv.data.repl_buf.mem_total_replication_buffers());
    line(out, "mem_clients_slaves", replicas_mem);
    line(out, "mem_clients_normal", srv.server.clients_memory());
    line(out, "mem_cluster_links", 0);
    line(out, "mem_aof_buffer", 0);
    line(out, "mem_allocator", "jemalloc");
    line(out, "active_defrag_running", 0);
    let lazy = srv.data.keyspace.lazyfree();
    line(out, "lazyfree_pending_objects", lazy.pending());
    line(out, "lazyfreed_objects", lazy.freed());
    // tine's own (issue 15): bytes the keyspace dropped while a fork child lived, freed in
    // steps once it is gone; eviction counts them as freed.
    line(out, "mem_cow_deferred_free", srv.data.keyspace.deferred_bytes());
}

fn info_persistence(srv: &mut Ctx<'_>, out: &mut String) {
    if let Some(ch) = srv.data.persist.child.as_mut() {
        ch.drain_reports();
    }
    let p = &srv.data.persist;
    let ch = p.child.as_ref();
    let rdb_child = p.rdb_child();
    out.push_str("# Persistence\r\n");
    line(out, "loading", (srv.data.loading.is_some() || srv.data.replica.blocks_clients()) as u8);
    line(out, "async_loading", srv.data.replica.async_loading() as u8);
    if let Some(l) = &srv.data.loading {
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
    line(out, "rdb_changes_since_last_save", srv.data.dirty);
    line(out, "rdb_bgsave_in_progress", rdb_child.is_some() as u8);
    line(out, "rdb_last_save_time", srv.data.lastsave);
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
    crate::persist::aof::info_fields(&*srv.data, &mut aof_fields);
    for (k, v) in &aof_fields {
        line(out, k, v);
    }
    line(out, "module_fork_in_progress", 0);
    line(out, "module_fork_last_cow_size", 0);
    let mut aof_fields = Vec::new();
    crate::persist::aof::info_enabled_fields(&*srv.data, &mut aof_fields);
    for (k, v) in &aof_fields {
        line(out, k, v);
    }
}

fn info_stats(srv: &Ctx<'_>, out: &mut String) {
    let s = &srv.data.stats;
    let (ops, in_bps, out_bps) = s.instantaneous();
    out.push_str("# Stats\r\n");
    line(out, "total_connections_received", s.total_connections_received);
    line(out, "total_commands_processed", s.total_commands_processed);
    line(out, "instantaneous_ops_per_sec", ops);
    line(out, "total_net_input_bytes", s.total_net_input_bytes);
    line(out, "total_net_output_bytes", s.total_net_output_bytes);
    line(out, "total_net_repl_input_bytes", srv.data.replica.net_repl_input_bytes);
    line(out, "total_net_repl_output_bytes", srv.data.primary.stats.net_repl_output_bytes);
    line(out, "instantaneous_input_kbps", format!("{:.2}", in_bps as f64 / 1024.0));
    line(out, "instantaneous_output_kbps", format!("{:.2}", out_bps as f64 / 1024.0));
    line(out, "instantaneous_input_repl_kbps", "0.00");
    line(out, "instantaneous_output_repl_kbps", "0.00");
    line(out, "rejected_connections", s.rejected_connections);
    line(out, "sync_full", srv.data.primary.stats.full);
    line(out, "sync_partial_ok", srv.data.primary.stats.partial_ok);
    line(out, "sync_partial_err", srv.data.primary.stats.partial_err);
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
    line(out, "latest_fork_usec", srv.data.persist.latest_fork_usec);
    line(out, "total_forks", srv.data.persist.total_forks);
    line(out, "migrate_cached_sockets", srv.data.migrate_sockets.len());
    line(out, "slave_expires_tracked_keys", srv.data.replica.own_expires.len());
    line(out, "active_defrag_hits", 0);
    line(out, "active_defrag_misses", 0);
    line(out, "active_defrag_key_hits", 0);
    line(out, "active_defrag_key_misses", 0);
    line(out, "total_active_defrag_time", 0);
    line(out, "current_active_defrag_time", 0);
    line(out, "tracking_total_keys", srv.data.tracking.total_keys());
    line(out, "tracking_total_items", srv.data.tracking.total_items());
    line(out, "tracking_total_prefixes", srv.data.tracking.total_prefixes());
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

fn info_replication(srv: &Ctx<'_>, out: &mut String) {
    out.push_str("# Replication\r\n");
    if srv.data.replica.is_replica() {
        replication_replica_fields(srv, out);
    } else {
        line(out, "role", "master");
    }
    replication_primary_fields(srv, out);
    line(out, "master_failover_state", "no-failover");
    let repl = &srv.data.repl;
    line(out, "master_replid", repl.replid());
    line(out, "master_replid2", repl.replid2());
    let buf = &srv.data.repl_buf;
    line(out, "master_repl_offset", buf.master_repl_offset());
    line(out, "second_repl_offset", repl.second_replid_offset());
    line(out, "repl_backlog_active", buf.has_backlog() as i32);
    line(out, "repl_backlog_size", srv.data.config.repl_backlog_size);
    line(out, "repl_backlog_first_byte_offset", buf.backlog_first_byte_offset());
    line(out, "repl_backlog_histlen", buf.backlog_histlen());
}

/// A primary's replicas: `connected_slaves` and one `slaveN` line each, as Redis 7.0.
fn replication_primary_fields(srv: &Ctx<'_>, out: &mut String) {
    let p = &srv.data.primary;
    line(out, "connected_slaves", p.links.len());
    let now = tine_core::base::unix_time();
    for (i, l) in p.links.iter().enumerate() {
        let _ = write!(
            out,
            "slave{}:ip={},port={},state={},offset={},lag={}\r\n",
            i,
            l.ip(),
            l.conf.listening_port,
            l.state.info_name(),
            l.ack_off,
            now - l.ack_time
        );
    }
}

/// The replica's own lines of INFO replication, from `role:slave` to `replica_announced`,
/// field by field as Redis 7.0's genRedisInfoString.
fn replication_replica_fields(srv: &Ctx<'_>, out: &mut String) {
    let r = &srv.data.replica;
    let Some((host, port)) = &r.master else {
        return;
    };
    let now = tine_core::base::unix_time();
    let up = r.link_up();
    line(out, "role", "slave");
    line(out, "master_host", host);
    line(out, "master_port", port);
    line(out, "master_link_status", if up { "up" } else { "down" });
    line(out, "master_last_io_seconds_ago", if up { now - r.last_io } else { -1 });
    line(out, "master_sync_in_progress", r.sync_in_progress() as u8);
    // Applied and read offsets of the master client, else of the cached master, else 1 (as
    // Redis initialises them).
    let (applied, read) = if r.master_slot.is_some() {
        let off = srv.data.repl_buf.master_repl_offset();
        (off, off + r.unapplied)
    } else {
        r.cached.as_ref().map_or((1, 1), |(_, o)| (*o, *o))
    };
    line(out, "slave_read_repl_offset", read);
    line(out, "slave_repl_offset", applied);
    if let Some((total, read, last_io)) = r.transfer_figures() {
        let perc = if total != 0 { read as f64 / total as f64 * 100.0 } else { 0.0 };
        line(out, "master_sync_total_bytes", total);
        line(out, "master_sync_read_bytes", read);
        line(out, "master_sync_left_bytes", total - read);
        line(out, "master_sync_perc", format!("{:.2}", perc));
        line(out, "master_sync_last_io_seconds_ago", now - last_io);
    }
    if !up {
        let since = if r.down_since != 0 { now - r.down_since } else { -1 };
        line(out, "master_link_down_since_seconds", since);
    }
    line(out, "slave_priority", srv.data.config.replica_priority);
    line(out, "slave_read_only", srv.data.config.replica_read_only as u8);
    line(out, "replica_announced", srv.data.config.replica_announced as u8);
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

fn info_commandstats(srv: &Ctx<'_>, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for r in &registry().all {
        let st = &srv.data.cmd_stats[r.id];
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

/// `latency_percentiles_usec_<cmd>:p50=1.003,p99=...`, the percentiles of
/// `latency-tracking-info-percentiles`, for every command with samples.
fn info_latencystats(srv: &Ctx<'_>, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    let percentiles: Vec<(&str, f64)> = srv
        .data
        .config
        .latency_tracking_info_percentiles
        .split_whitespace()
        .filter_map(|p| Some((p, p.parse().ok()?)))
        .collect();
    for r in &registry().all {
        let Some(h) = srv.data.cmd_stats[r.id].latency.as_ref().filter(|h| h.total() > 0) else {
            continue;
        };
        let _ = write!(out, "latency_percentiles_usec_{}:", r.full_name);
        for (i, (label, p)) in percentiles.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ =
                write!(out, "{}p{}={:.3}", sep, label, h.value_at_percentile(*p) as f64 / 1000.0);
        }
        out.push_str("\r\n");
    }
}

fn info_errorstats(srv: &Ctx<'_>, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    let mut codes: Vec<_> = srv.data.stats.errors.iter().collect();
    codes.sort();
    for (code, n) in codes {
        let _ = write!(out, "errorstat_{}:count={}\r\n", code, n);
    }
}

fn info_keyspace(srv: &Ctx<'_>, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for db in srv.data.keyspace.iter() {
        if db.is_empty() {
            continue;
        }
        let _ =
            write!(out, "db{}:keys={},expires={},avg_ttl=0\r\n", db.id, db.len(), db.expires_len());
    }
}
