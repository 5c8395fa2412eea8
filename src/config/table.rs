//! THE directive table: every configuration directive tine knows, its type, default and
//! whether CONFIG SET may change it. It is the single source of truth — the `Config` struct's
//! fields, the redis.conf parser, CONFIG GET/SET/REWRITE and the startup warning about
//! directives tine does not implement yet are all generated from, or driven by, this list.
//!
//! The list is Redis 7.0.15's (names, aliases, defaults, bounds and mutability were read off
//! the real server). Entries flagged `IMPLEMENTED` change tine's behaviour; the others are
//! accepted, stored and returned by CONFIG GET, and named in one startup warning when they
//! are given a value other than their default.
//!
//! A few directives are tine's own (flag `TINE_ONLY`): `busy-poll-usec`.
//!
//! Line format: `field: type = "name", &[aliases], kind, "default", flags [=> Effect];` where
//! the effect (`effect.rs`) says what the running server does when CONFIG SET changes the
//! directive; a row without one is read where it is used. An enum directive's type is in
//! `enums.rs` and its kind lists that type's spellings.

use super::Kind;
use super::custom;
use super::enums::*;
use super::flags::*;

config_table! {
    acl_pubsub_default: AclPubsubDefault = "acl-pubsub-default", &[], Kind::Enum, "resetchannels", IMPLEMENTED;
    aclfile: String = "aclfile", &[], Kind::Str, "", IMMUTABLE | IMPLEMENTED;
    acllog_max_len: i64 = "acllog-max-len", &[], Kind::Int { min: 0, max: i64::MAX }, "128", 0;
    active_defrag_cycle_max: i64 = "active-defrag-cycle-max", &[], Kind::Int { min: 1, max: 99 }, "25", 0;
    active_defrag_cycle_min: i64 = "active-defrag-cycle-min", &[], Kind::Int { min: 1, max: 99 }, "1", 0;
    active_defrag_ignore_bytes: i64 = "active-defrag-ignore-bytes", &[], Kind::Memory { min: 1, max: i64::MAX }, "104857600", 0;
    active_defrag_max_scan_fields: i64 = "active-defrag-max-scan-fields", &[], Kind::Int { min: 1, max: i64::MAX }, "1000", 0;
    active_defrag_threshold_lower: i64 = "active-defrag-threshold-lower", &[], Kind::Int { min: 0, max: 1000 }, "10", 0;
    active_defrag_threshold_upper: i64 = "active-defrag-threshold-upper", &[], Kind::Int { min: 0, max: 1000 }, "100", 0;
    active_expire_effort: i64 = "active-expire-effort", &[], Kind::Int { min: 1, max: 10 }, "1", 0;
    activedefrag: bool = "activedefrag", &[], Kind::Custom(custom::active_defrag), "no", IMPLEMENTED;
    activerehashing: bool = "activerehashing", &[], Kind::Bool, "yes", IMPLEMENTED;
    always_show_logo: bool = "always-show-logo", &[], Kind::Bool, "no", IMMUTABLE | IMPLEMENTED;
    aof_disable_auto_gc: bool = "aof-disable-auto-gc", &[], Kind::Bool, "no", IMPLEMENTED;
    aof_load_truncated: bool = "aof-load-truncated", &[], Kind::Bool, "yes", IMPLEMENTED;
    aof_rewrite_incremental_fsync: bool = "aof-rewrite-incremental-fsync", &[], Kind::Bool, "yes", 0;
    aof_timestamp_enabled: bool = "aof-timestamp-enabled", &[], Kind::Bool, "no", IMPLEMENTED;
    aof_use_rdb_preamble: bool = "aof-use-rdb-preamble", &[], Kind::Bool, "yes", IMPLEMENTED;
    aof_rewrite_cpulist: String = "aof_rewrite_cpulist", &[], Kind::Str, "", IMMUTABLE;
    appenddirname: String = "appenddirname", &[], Kind::Str, "appendonlydir", IMMUTABLE | IMPLEMENTED;
    appendfilename: String = "appendfilename", &[], Kind::Str, "appendonly.aof", IMMUTABLE | IMPLEMENTED;
    appendfsync: AppendFsync = "appendfsync", &[], Kind::Enum, "everysec", IMPLEMENTED => FsyncPolicy;
    appendonly: bool = "appendonly", &[], Kind::Bool, "no", IMPLEMENTED | DENY_LOADING => AppendOnly;
    auto_aof_rewrite_min_size: i64 = "auto-aof-rewrite-min-size", &[], Kind::Memory { min: 0, max: i64::MAX }, "67108864", IMPLEMENTED;
    auto_aof_rewrite_percentage: i64 = "auto-aof-rewrite-percentage", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "100", IMPLEMENTED;
    bgsave_cpulist: String = "bgsave_cpulist", &[], Kind::Str, "", IMMUTABLE;
    bind: String = "bind", &[], Kind::Custom(custom::bind), "* -::*", IMPLEMENTED => Rebind;
    bind_source_addr: String = "bind-source-addr", &[], Kind::Str, "", 0;
    busy_poll_usec: i64 = "busy-poll-usec", &[], Kind::Int { min: 0, max: 1000 }, "20", IMPLEMENTED | TINE_ONLY;
    bio_cpulist: String = "bio_cpulist", &[], Kind::Str, "", IMMUTABLE;
    busy_reply_threshold: i64 = "busy-reply-threshold", &["lua-time-limit"], Kind::Int { min: 0, max: i64::MAX }, "5000", IMPLEMENTED;
    client_output_buffer_limit: String = "client-output-buffer-limit", &[], Kind::Custom(custom::client_output_buffer_limit), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", 0;
    client_query_buffer_limit: i64 = "client-query-buffer-limit", &[], Kind::Memory { min: 1024 * 1024, max: i64::MAX }, "1073741824", IMPLEMENTED;
    cluster_allow_pubsubshard_when_down: bool = "cluster-allow-pubsubshard-when-down", &[], Kind::Bool, "yes", 0;
    cluster_allow_reads_when_down: bool = "cluster-allow-reads-when-down", &[], Kind::Bool, "no", 0;
    cluster_allow_replica_migration: bool = "cluster-allow-replica-migration", &[], Kind::Bool, "yes", 0;
    cluster_announce_bus_port: i64 = "cluster-announce-bus-port", &[], Kind::Int { min: 0, max: 65535 }, "0", 0;
    cluster_announce_hostname: String = "cluster-announce-hostname", &[], Kind::Str, "", 0;
    cluster_announce_ip: String = "cluster-announce-ip", &[], Kind::Str, "", 0;
    cluster_announce_port: i64 = "cluster-announce-port", &[], Kind::Int { min: 0, max: 65535 }, "0", 0;
    cluster_announce_tls_port: i64 = "cluster-announce-tls-port", &[], Kind::Int { min: 0, max: 65535 }, "0", 0;
    cluster_config_file: String = "cluster-config-file", &[], Kind::Str, "nodes.conf", IMMUTABLE;
    cluster_enabled: bool = "cluster-enabled", &[], Kind::Bool, "no", IMMUTABLE;
    cluster_link_sendbuf_limit: u64 = "cluster-link-sendbuf-limit", &[], Kind::UMemory, "0", 0;
    cluster_migration_barrier: i64 = "cluster-migration-barrier", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "1", 0;
    cluster_node_timeout: i64 = "cluster-node-timeout", &[], Kind::Int { min: 0, max: i64::MAX }, "15000", 0;
    cluster_port: i64 = "cluster-port", &[], Kind::Int { min: 0, max: 65535 }, "0", IMMUTABLE;
    cluster_preferred_endpoint_type: ClusterEndpointType = "cluster-preferred-endpoint-type", &[], Kind::Enum, "ip", 0;
    cluster_replica_no_failover: bool = "cluster-replica-no-failover", &["cluster-slave-no-failover"], Kind::Bool, "no", 0;
    cluster_replica_validity_factor: i64 = "cluster-replica-validity-factor", &["cluster-slave-validity-factor"], Kind::Int { min: 0, max: i32::MAX as i64 }, "10", 0;
    cluster_require_full_coverage: bool = "cluster-require-full-coverage", &[], Kind::Bool, "yes", 0;
    crash_log_enabled: bool = "crash-log-enabled", &[], Kind::Bool, "yes", IMPLEMENTED;
    crash_memcheck_enabled: bool = "crash-memcheck-enabled", &[], Kind::Bool, "yes", IMPLEMENTED;
    daemonize: bool = "daemonize", &[], Kind::Bool, "no", IMMUTABLE | IMPLEMENTED;
    databases: i64 = "databases", &[], Kind::Int { min: 1, max: i32::MAX as i64 }, "16", IMMUTABLE | IMPLEMENTED;
    dbfilename: String = "dbfilename", &[], Kind::Str, "dump.rdb", PROTECTED | IMPLEMENTED;
    dir: String = "dir", &[], Kind::Custom(custom::dir), "", PROTECTED | IMPLEMENTED | DENY_LOADING => Dir;
    disable_thp: bool = "disable-thp", &[], Kind::Bool, "yes", IMMUTABLE | IMPLEMENTED;
    dynamic_hz: bool = "dynamic-hz", &[], Kind::Bool, "yes", IMPLEMENTED;
    enable_debug_command: EnableCommand = "enable-debug-command", &[], Kind::Enum, "no", IMMUTABLE | IMPLEMENTED;
    enable_module_command: EnableCommand = "enable-module-command", &[], Kind::Enum, "no", IMMUTABLE | IMPLEMENTED;
    enable_protected_configs: EnableCommand = "enable-protected-configs", &[], Kind::Enum, "no", IMMUTABLE | IMPLEMENTED;
    hash_max_listpack_entries: i64 = "hash-max-listpack-entries", &["hash-max-ziplist-entries"], Kind::Int { min: 0, max: i64::MAX }, "512", IMPLEMENTED;
    hash_max_listpack_value: i64 = "hash-max-listpack-value", &["hash-max-ziplist-value"], Kind::Memory { min: 0, max: i64::MAX }, "64", IMPLEMENTED;
    hll_sparse_max_bytes: i64 = "hll-sparse-max-bytes", &[], Kind::Memory { min: 0, max: i64::MAX }, "3000", IMPLEMENTED;
    hz: i64 = "hz", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "10", IMPLEMENTED => Hz;
    ignore_warnings: String = "ignore-warnings", &[], Kind::Str, "", IMPLEMENTED;
    io_threads: i64 = "io-threads", &[], Kind::Int { min: 1, max: 128 }, "1", IMMUTABLE | IMPLEMENTED;
    io_threads_do_reads: bool = "io-threads-do-reads", &[], Kind::Bool, "no", IMMUTABLE | IMPLEMENTED;
    jemalloc_bg_thread: bool = "jemalloc-bg-thread", &[], Kind::Bool, "yes", IMPLEMENTED => JemallocBgThread;
    latency_monitor_threshold: i64 = "latency-monitor-threshold", &[], Kind::Int { min: 0, max: i64::MAX }, "0", IMPLEMENTED;
    latency_tracking: bool = "latency-tracking", &[], Kind::Bool, "yes", 0;
    latency_tracking_info_percentiles: String = "latency-tracking-info-percentiles", &[], Kind::Custom(custom::percentiles), "50 99 99.9", 0;
    lazyfree_lazy_eviction: bool = "lazyfree-lazy-eviction", &[], Kind::Bool, "no", IMPLEMENTED;
    lazyfree_lazy_expire: bool = "lazyfree-lazy-expire", &[], Kind::Bool, "no", IMPLEMENTED => LazyFree;
    lazyfree_lazy_server_del: bool = "lazyfree-lazy-server-del", &[], Kind::Bool, "no", IMPLEMENTED => LazyFree;
    lazyfree_lazy_user_del: bool = "lazyfree-lazy-user-del", &[], Kind::Bool, "no", IMPLEMENTED;
    lazyfree_lazy_user_flush: bool = "lazyfree-lazy-user-flush", &[], Kind::Bool, "no", IMPLEMENTED;
    lfu_decay_time: i64 = "lfu-decay-time", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "1", IMPLEMENTED => KeyAccess;
    lfu_log_factor: i64 = "lfu-log-factor", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "10", IMPLEMENTED => KeyAccess;
    list_compress_depth: i64 = "list-compress-depth", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "0", 0;
    list_max_listpack_size: i64 = "list-max-listpack-size", &["list-max-ziplist-size"], Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, "-2", IMPLEMENTED;
    logfile: String = "logfile", &[], Kind::Str, "", IMMUTABLE | IMPLEMENTED;
    loglevel: LogLevel = "loglevel", &[], Kind::Enum, "notice", IMPLEMENTED => LogLevel;
    masterauth: String = "masterauth", &[], Kind::Str, "", SENSITIVE | IMPLEMENTED;
    masteruser: String = "masteruser", &[], Kind::Str, "", IMPLEMENTED;
    maxclients: i64 = "maxclients", &[], Kind::Int { min: 1, max: 4294967295 }, "10000", IMPLEMENTED;
    maxmemory: u64 = "maxmemory", &[], Kind::UMemory, "0", IMPLEMENTED => Maxmemory;
    maxmemory_clients: i64 = "maxmemory-clients", &[], Kind::MemoryOrPercent, "0", 0;
    maxmemory_eviction_tenacity: i64 = "maxmemory-eviction-tenacity", &[], Kind::Int { min: 0, max: 100 }, "10", IMPLEMENTED;
    maxmemory_policy: MaxmemoryPolicy = "maxmemory-policy", &[], Kind::Enum, "noeviction", IMPLEMENTED => KeyAccess;
    maxmemory_samples: i64 = "maxmemory-samples", &[], Kind::Int { min: 1, max: i32::MAX as i64 }, "5", IMPLEMENTED;
    min_replicas_max_lag: i64 = "min-replicas-max-lag", &["min-slaves-max-lag"], Kind::Int { min: 0, max: i32::MAX as i64 }, "10", IMPLEMENTED;
    min_replicas_to_write: i64 = "min-replicas-to-write", &["min-slaves-to-write"], Kind::Int { min: 0, max: i32::MAX as i64 }, "0", IMPLEMENTED;
    no_appendfsync_on_rewrite: bool = "no-appendfsync-on-rewrite", &[], Kind::Bool, "no", IMPLEMENTED;
    notify_keyspace_events: custom::NotifyClasses = "notify-keyspace-events", &[], Kind::Custom(custom::notify_keyspace_events), "", IMPLEMENTED => NotifyFlags;
    oom_score_adj: OomScoreAdj = "oom-score-adj", &[], Kind::Enum, "no", IMPLEMENTED;
    oom_score_adj_values: String = "oom-score-adj-values", &[], Kind::Custom(custom::oom_score_adj_values), "0 200 800", IMPLEMENTED;
    pidfile: String = "pidfile", &[], Kind::Str, "", IMMUTABLE | IMPLEMENTED;
    port: i64 = "port", &[], Kind::Int { min: 0, max: 65535 }, "6379", IMPLEMENTED => Rebind;
    proc_title_template: String = "proc-title-template", &[], Kind::Str, "{title} {listen-addr} {server-mode}", IMPLEMENTED;
    propagation_error_behavior: PropagationErrorBehavior = "propagation-error-behavior", &[], Kind::Enum, "ignore", 0;
    protected_mode: bool = "protected-mode", &[], Kind::Bool, "yes", IMPLEMENTED;
    proto_max_bulk_len: i64 = "proto-max-bulk-len", &[], Kind::Memory { min: 1024 * 1024, max: i64::MAX }, "536870912", IMPLEMENTED;
    rdb_del_sync_files: bool = "rdb-del-sync-files", &[], Kind::Bool, "no", IMPLEMENTED;
    rdb_key_save_delay: i64 = "rdb-key-save-delay", &[], Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, "0", IMPLEMENTED | HIDDEN;
    key_load_delay: i64 = "key-load-delay", &[], Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, "0", IMPLEMENTED | HIDDEN;
    loading_process_events_interval_bytes: i64 = "loading-process-events-interval-bytes", &[], Kind::Int { min: 1024, max: i32::MAX as i64 }, "2097152", HIDDEN;
    rdb_save_incremental_fsync: bool = "rdb-save-incremental-fsync", &[], Kind::Bool, "yes", 0;
    rdbchecksum: bool = "rdbchecksum", &[], Kind::Bool, "yes", IMMUTABLE | IMPLEMENTED;
    rdbcompression: bool = "rdbcompression", &[], Kind::Bool, "yes", IMPLEMENTED;
    repl_backlog_size: i64 = "repl-backlog-size", &[], Kind::Memory { min: 1, max: i64::MAX }, "1048576", IMPLEMENTED => ReplBacklogSize;
    repl_backlog_ttl: i64 = "repl-backlog-ttl", &[], Kind::Int { min: 0, max: i64::MAX }, "3600", IMPLEMENTED;
    repl_disable_tcp_nodelay: bool = "repl-disable-tcp-nodelay", &[], Kind::Bool, "no", IMPLEMENTED;
    repl_diskless_load: ReplDisklessLoad = "repl-diskless-load", &[], Kind::Enum, "disabled", IMPLEMENTED;
    repl_diskless_sync: bool = "repl-diskless-sync", &[], Kind::Bool, "yes", IMPLEMENTED;
    repl_diskless_sync_delay: i64 = "repl-diskless-sync-delay", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "5", IMPLEMENTED;
    repl_diskless_sync_max_replicas: i64 = "repl-diskless-sync-max-replicas", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "0", IMPLEMENTED;
    repl_ping_replica_period: i64 = "repl-ping-replica-period", &["repl-ping-slave-period"], Kind::Int { min: 1, max: i32::MAX as i64 }, "10", IMPLEMENTED;
    repl_timeout: i64 = "repl-timeout", &[], Kind::Int { min: 1, max: i32::MAX as i64 }, "60", IMPLEMENTED;
    replica_announce_ip: String = "replica-announce-ip", &["slave-announce-ip"], Kind::Str, "", IMPLEMENTED;
    replica_announce_port: i64 = "replica-announce-port", &["slave-announce-port"], Kind::Int { min: 0, max: 65535 }, "0", IMPLEMENTED;
    replica_announced: bool = "replica-announced", &[], Kind::Bool, "yes", IMPLEMENTED;
    replica_ignore_disk_write_errors: bool = "replica-ignore-disk-write-errors", &[], Kind::Bool, "no", 0;
    replica_ignore_maxmemory: bool = "replica-ignore-maxmemory", &["slave-ignore-maxmemory"], Kind::Bool, "yes", IMPLEMENTED;
    replica_lazy_flush: bool = "replica-lazy-flush", &["slave-lazy-flush"], Kind::Bool, "no", 0;
    replica_priority: i64 = "replica-priority", &["slave-priority"], Kind::Int { min: 0, max: i32::MAX as i64 }, "100", IMPLEMENTED;
    replica_read_only: bool = "replica-read-only", &["slave-read-only"], Kind::Bool, "yes", IMPLEMENTED;
    replica_serve_stale_data: bool = "replica-serve-stale-data", &["slave-serve-stale-data"], Kind::Bool, "yes", IMPLEMENTED;
    replicaof: String = "replicaof", &["slaveof"], Kind::Custom(custom::replicaof), "", IMMUTABLE;
    requirepass: String = "requirepass", &[], Kind::Str, "", SENSITIVE | IMPLEMENTED;
    sanitize_dump_payload: SanitizeDumpPayload = "sanitize-dump-payload", &[], Kind::Enum, "no", 0;
    save: String = "save", &[], Kind::Custom(custom::save), "3600 1 300 100 60 10000", IMPLEMENTED;
    server_cpulist: String = "server_cpulist", &[], Kind::Str, "", IMMUTABLE;
    set_max_intset_entries: i64 = "set-max-intset-entries", &[], Kind::Int { min: 0, max: i64::MAX }, "512", IMPLEMENTED;
    set_proc_title: bool = "set-proc-title", &[], Kind::Bool, "yes", IMMUTABLE | IMPLEMENTED;
    shutdown_on_sigint: String = "shutdown-on-sigint", &[], Kind::Custom(custom::shutdown_on_signal), "default", IMPLEMENTED;
    shutdown_on_sigterm: String = "shutdown-on-sigterm", &[], Kind::Custom(custom::shutdown_on_signal), "default", IMPLEMENTED;
    shutdown_timeout: i64 = "shutdown-timeout", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "10", IMPLEMENTED;
    slowlog_log_slower_than: i64 = "slowlog-log-slower-than", &[], Kind::Int { min: -1, max: i64::MAX }, "10000", IMPLEMENTED;
    slowlog_max_len: i64 = "slowlog-max-len", &[], Kind::Int { min: 0, max: i64::MAX }, "128", IMPLEMENTED;
    socket_mark_id: i64 = "socket-mark-id", &[], Kind::Int { min: 0, max: u32::MAX as i64 }, "0", IMMUTABLE;
    stop_writes_on_bgsave_error: bool = "stop-writes-on-bgsave-error", &[], Kind::Bool, "yes", IMPLEMENTED;
    stream_node_max_bytes: i64 = "stream-node-max-bytes", &[], Kind::Memory { min: 0, max: i64::MAX }, "4096", 0;
    stream_node_max_entries: i64 = "stream-node-max-entries", &[], Kind::Int { min: 0, max: i64::MAX }, "100", 0;
    supervised: Supervised = "supervised", &[], Kind::Enum, "no", IMMUTABLE | IMPLEMENTED;
    syslog_enabled: bool = "syslog-enabled", &[], Kind::Bool, "no", IMMUTABLE;
    syslog_facility: SyslogFacility = "syslog-facility", &[], Kind::Enum, "local0", IMMUTABLE;
    syslog_ident: String = "syslog-ident", &[], Kind::Str, "redis", IMMUTABLE;
    tcp_backlog: i64 = "tcp-backlog", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "511", IMMUTABLE | IMPLEMENTED;
    tcp_keepalive: i64 = "tcp-keepalive", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "300", IMPLEMENTED;
    timeout: i64 = "timeout", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "0", IMPLEMENTED;
    tls_auth_clients: TlsAuthClients = "tls-auth-clients", &[], Kind::Enum, "yes", 0;
    tls_ca_cert_dir: String = "tls-ca-cert-dir", &[], Kind::Str, "", 0;
    tls_ca_cert_file: String = "tls-ca-cert-file", &[], Kind::Str, "", 0;
    tls_cert_file: String = "tls-cert-file", &[], Kind::Str, "", 0;
    tls_ciphers: String = "tls-ciphers", &[], Kind::Str, "", 0;
    tls_ciphersuites: String = "tls-ciphersuites", &[], Kind::Str, "", 0;
    tls_client_cert_file: String = "tls-client-cert-file", &[], Kind::Str, "", 0;
    tls_client_key_file: String = "tls-client-key-file", &[], Kind::Str, "", 0;
    tls_client_key_file_pass: String = "tls-client-key-file-pass", &[], Kind::Str, "", SENSITIVE;
    tls_cluster: bool = "tls-cluster", &[], Kind::Bool, "no", 0;
    tls_dh_params_file: String = "tls-dh-params-file", &[], Kind::Str, "", 0;
    tls_key_file: String = "tls-key-file", &[], Kind::Str, "", 0;
    tls_key_file_pass: String = "tls-key-file-pass", &[], Kind::Str, "", SENSITIVE;
    tls_port: i64 = "tls-port", &[], Kind::Int { min: 0, max: 65535 }, "0", 0;
    tls_prefer_server_ciphers: bool = "tls-prefer-server-ciphers", &[], Kind::Bool, "no", 0;
    tls_protocols: String = "tls-protocols", &[], Kind::Str, "", 0;
    tls_replication: bool = "tls-replication", &[], Kind::Bool, "no", 0;
    tls_session_cache_size: i64 = "tls-session-cache-size", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "20480", 0;
    tls_session_cache_timeout: i64 = "tls-session-cache-timeout", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "300", 0;
    tls_session_caching: bool = "tls-session-caching", &[], Kind::Bool, "yes", 0;
    tracking_table_max_keys: i64 = "tracking-table-max-keys", &[], Kind::Int { min: 0, max: i64::MAX }, "1000000", 0;
    unixsocket: String = "unixsocket", &[], Kind::Str, "", IMMUTABLE | IMPLEMENTED;
    unixsocketperm: i64 = "unixsocketperm", &[], Kind::Octal, "0", IMMUTABLE | IMPLEMENTED;
    use_exit_on_panic: bool = "use-exit-on-panic", &[], Kind::Bool, "no", HIDDEN;
    watchdog_period: i64 = "watchdog-period", &[], Kind::Int { min: 0, max: i32::MAX as i64 }, "0", HIDDEN;
    zset_max_listpack_entries: i64 = "zset-max-listpack-entries", &["zset-max-ziplist-entries"], Kind::Int { min: 0, max: i64::MAX }, "128", IMPLEMENTED;
    zset_max_listpack_value: i64 = "zset-max-listpack-value", &["zset-max-ziplist-value"], Kind::Memory { min: 0, max: i64::MAX }, "64", IMPLEMENTED;
}
