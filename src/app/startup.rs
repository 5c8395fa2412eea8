//! Startup: `tine-server [configfile] [--name value ...]` as redis-server takes it, the config
//! checks that stop startup with Redis's fatal message, daemonizing, the pid file, the log
//! banner, and handing over to the event loop.

use std::path::{Path, PathBuf};

use crate::app::event_loop::EventLoop;
use crate::app::server::Server;
use crate::config::Config;
use crate::config::file::{self, CommandLineError};
use crate::{REDIS_VERSION, TINE_VERSION};
use tine_core::log;
use tine_core::log::{self as logging, Level};

/// The product name in fatal config messages.
const PRODUCT: &str = "tine";

/// Directives Redis accepts in a file that are not CONFIG GET-able; tine accepts and ignores
/// them with a warning.
const IGNORED_SPECIAL: &[&str] = &["rename-command", "loadmodule", "sentinel"];

/// Entry point of `tine-server`. Returns the process exit code.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmdline = match file::parse_command_line(&args) {
        Ok(c) => c,
        Err(CommandLineError::Version) => {
            println!(
                "tine server v={} (Redis compatible v={}) bits=64 malloc=jemalloc",
                TINE_VERSION, REDIS_VERSION
            );
            return 0;
        }
        Err(_) => {
            println!("Usage: ./tine-server [/path/to/redis.conf] [options] [-]");
            println!("       ./tine-server - (read config from stdin)");
            println!("       ./tine-server -v or --version");
            println!("       ./tine-server -h or --help");
            println!();
            println!("Examples:");
            println!("       ./tine-server (run the server with default config)");
            println!("       ./tine-server /etc/redis/6379.conf");
            println!("       ./tine-server --port 7777");
            println!("       ./tine-server /etc/myredis.conf --loglevel verbose -");
            return 1;
        }
    };
    let stdin_text = if cmdline.config_from_stdin {
        let mut buf = Vec::new();
        use std::io::Read;
        let _ = std::io::stdin().read_to_end(&mut buf);
        Some(buf)
    } else {
        None
    };
    let config_path = cmdline.config_file.as_ref().map(|f| absolute(Path::new(f)));
    let lines = match file::load_server_config(
        config_path.as_deref(),
        stdin_text.as_deref(),
        Some(cmdline.options.as_str()).filter(|s| !s.is_empty()),
    ) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}", e.fatal_message(PRODUCT));
            return 1;
        }
    };
    let mut config = Config::default();
    let mut seen_save = false;
    let mut ignored = Vec::new();
    let mut users: Vec<Vec<Vec<u8>>> = Vec::new();
    for line in &lines {
        let words = line.values_lossy();
        let name = line.name();
        if IGNORED_SPECIAL.contains(&name.as_str()) {
            ignored.push(name);
            continue;
        }
        // `user <name> <rules...>`: checked for duplicates now, applied once the server is
        // up (Redis's ACLAppendUserForLoading, then ACLLoadUsersAtStartup).
        if name == "user" {
            let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
            let duplicate = args.first().is_some_and(|n| users.iter().any(|u| u[0] == *n));
            if args.is_empty() || duplicate {
                let why = if args.is_empty() {
                    "Error in user declaration '': Usernames can't be empty".to_string()
                } else {
                    format!(
                        "Error in user declaration '{}': Duplicate user found. A user can only be defined once in config files",
                        words[0]
                    )
                };
                eprintln!("{}", file::format_fatal(PRODUCT, line, &why));
                return 1;
            }
            users.push(args);
            continue;
        }
        let mut argv = vec![name.clone()];
        argv.extend(words);
        let accumulate = name == "save" && seen_save;
        match config.apply_line(&argv, accumulate) {
            Ok(d) => {
                if d.name == "save" {
                    seen_save = true;
                }
                if d.effect == Some(crate::config::Effect::Dir) {
                    if let Err(e) = std::env::set_current_dir(&config.dir) {
                        eprintln!(
                            "{}",
                            file::format_fatal(
                                PRODUCT,
                                line,
                                &format!("No such file or directory: {}", e)
                            )
                        );
                        return 1;
                    }
                }
            }
            Err(msg) => {
                eprintln!("{}", file::format_fatal(PRODUCT, line, &msg));
                return 1;
            }
        }
    }
    run(config, config_path, ignored, users)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

/// The pid file in use: the configured one, or the default when daemonized.
pub(crate) fn pidfile_path(config: &Config) -> Option<PathBuf> {
    if !config.pidfile.is_empty() {
        Some(PathBuf::from(&config.pidfile))
    } else if config.daemonize {
        Some(PathBuf::from("/var/run/tine.pid"))
    } else {
        None
    }
}

fn run(
    config: Config,
    config_path: Option<PathBuf>,
    ignored: Vec<String>,
    users: Vec<Vec<Vec<u8>>>,
) -> i32 {
    if config.daemonize {
        if let Err(e) = crate::fork::daemonize() {
            eprintln!("Can't daemonize: {}", e);
            return 1;
        }
    }
    // Where the log goes: the file, stdout, or nowhere when daemonized without a file.
    if config.logfile.is_empty() && config.daemonize {
        logging::set_file("/dev/null");
    } else {
        logging::set_file(&config.logfile);
    }
    logging::set_level(config.loglevel.level());
    logging::set_role(logging::ROLE_CHILD);
    log!(Level::Warning, "oO0OoO0OoO0Oo tine is starting oO0OoO0OoO0Oo");
    log!(
        Level::Warning,
        "tine version={}, redis compatibility version={}, bits=64, pid={}, just started",
        TINE_VERSION,
        REDIS_VERSION,
        std::process::id()
    );
    match &config_path {
        Some(_) => log!(Level::Warning, "Configuration loaded"),
        None => log!(
            Level::Warning,
            "Warning: no config file specified, using the default config. In order to specify a config file use tine-server /path/to/redis.conf"
        ),
    }
    let unimplemented: Vec<String> =
        config.unimplemented_in_use().into_iter().map(str::to_string).chain(ignored).collect();
    if !unimplemented.is_empty() {
        log!(
            Level::Warning,
            "WARNING: these directives are accepted but not implemented by tine yet and have no effect: {}",
            unimplemented.join(", ")
        );
    }
    logging::set_role(logging::ROLE_PRIMARY);

    if let Some(p) = pidfile_path(&config) {
        if let Err(e) = std::fs::write(&p, format!("{}\n", std::process::id())) {
            log!(Level::Warning, "Failed to write PID file: {}", e);
        }
    }
    disable_thp(&config);
    // A write past RLIMIT_FSIZE then fails with EFBIG, handled as any AOF/RDB write error,
    // instead of killing the server.
    // SAFETY: setting a signal's disposition to SIG_IGN has no handler to be unsafe about.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };

    let mut data = crate::app::server::new_data(config);
    let mut clients = crate::app::server::Clients::default();
    let mut srv = Server { data: &mut data, clients: &mut clients };
    srv.data.config_file = config_path;
    if !adjust_open_files_limit(&mut srv) {
        crate::app::shutdown::remove_pidfile(srv.data);
        return 1;
    }
    // As Redis's InitServerLast: jemalloc's background thread returns freed pages to the OS
    // even while the server is idle. Started after daemonizing, so it is not lost to a fork.
    crate::engine::memory::set_background_thread(srv.data.config.jemalloc_bg_thread);

    let mut event_loop = match EventLoop::new(&mut srv) {
        Ok(l) => l,
        Err(e) => {
            log!(Level::Warning, "Warning: {}", e);
            log!(
                Level::Warning,
                "Failed listening on port {} (tcp), aborting.",
                srv.data.config.port
            );
            crate::app::shutdown::remove_pidfile(srv.data);
            return 1;
        }
    };
    log!(Level::Notice, "Running mode=standalone, port={}.", srv.data.tcp_port);
    log!(Level::Warning, "Server initialized");
    crate::persist::orphans::remove_orphan_temp_files(std::path::Path::new("."));
    if let Err(e) = crate::commands::acl::load_at_startup(srv.data, &users) {
        log!(Level::Warning, "{}", e);
        crate::app::shutdown::remove_pidfile(srv.data);
        return 1;
    }
    srv.data.startup_memory = crate::engine::memory::memory_figures().allocated;
    if crate::persist::aof::load_manifest_from_disk(srv.data).is_err() {
        // Logged with Redis's FATAL AOF MANIFEST FILE ERROR lines.
        crate::app::shutdown::remove_pidfile(srv.data);
        return 1;
    }
    if srv.data.config.appendonly {
        // With the AOF on, the AOF (not dump.rdb) is the dataset, as in Redis.
        match crate::persist::aof::start_loading(srv.data, crate::app::aof_replay::new_executor) {
            Ok(loading) => srv.data.loading = loading,
            Err(_) => {
                // Logged by the AOF code in Redis's words.
                crate::app::shutdown::remove_pidfile(srv.data);
                return 1;
            }
        }
    } else {
        let rdb = crate::persist::snapshot::rdb_path(srv.data);
        match crate::persist::rdb_io::start_loading(srv.data, &rdb) {
            Ok(loading) => srv.data.loading = loading,
            Err(e) => {
                log!(Level::Warning, "Fatal error loading the DB: {}. Exiting.", e);
                crate::app::shutdown::remove_pidfile(srv.data);
                return 1;
            }
        }
    }
    // `replicaof` in the configuration: a replica from the start, connecting at the first cron
    // (its cached master comes from the RDB's aux fields once loaded).
    if let Some((host, port)) = srv.data.config.replicaof.clone().rsplit_once(' ') {
        if let Ok(port) = port.parse::<u16>() {
            crate::commands::replicaof::mark_replica(srv.data, host.to_string(), port);
        }
    }
    log!(Level::Notice, "Ready to accept connections");
    event_loop.run(&mut srv);
    0
}

/// Turns transparent huge pages off for this process (Linux), so that a write during a fork
/// copies a 4 KiB page, not a 2 MiB one.
fn disable_thp(config: &Config) {
    #[cfg(target_os = "linux")]
    if config.disable_thp {
        // SAFETY: prctl with PR_SET_THP_DISABLE takes plain integer arguments.
        let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if rc != 0 {
            log!(
                Level::Verbose,
                "Could not disable transparent huge pages: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = config;
}

/// Raises the open files limit to fit maxclients, or lowers maxclients to fit the limit, as
/// Redis's adjustOpenFilesLimit. False when the limit leaves no room for a single client: the
/// server must not start (logged).
fn adjust_open_files_limit(srv: &mut Server<'_>) -> bool {
    const RESERVED_FDS: u64 = 32;
    let wanted = srv.data.config.maxclients as u64 + RESERVED_FDS;
    // SAFETY: getrlimit writes into the struct we own.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return true;
    }
    let cur = lim.rlim_cur as u64;
    if cur >= wanted {
        return true;
    }
    let mut target = wanted;
    let mut setrlimit_error = String::new();
    while target > cur {
        let new = libc::rlimit { rlim_cur: target as _, rlim_max: lim.rlim_max.max(target as _) };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } == 0 {
            return true;
        }
        if setrlimit_error.is_empty() {
            setrlimit_error = tine_core::base::strerror(&std::io::Error::last_os_error());
        }
        target = target.saturating_sub(16);
    }
    if cur <= RESERVED_FDS {
        log!(
            Level::Warning,
            "Your current 'ulimit -n' of {} is not enough for the server to start. Please increase your open file limit to at least {}. Exiting.",
            cur,
            wanted
        );
        return false;
    }
    let old = srv.data.config.maxclients;
    srv.data.config.maxclients = (cur - RESERVED_FDS) as i64;
    // Redis's three lines, in its words.
    log!(
        Level::Warning,
        "You requested maxclients of {} requiring at least {} max file descriptors.",
        old,
        wanted
    );
    log!(
        Level::Warning,
        "Server can't set maximum open files to {} because of OS error: {}.",
        wanted,
        setrlimit_error
    );
    log!(
        Level::Warning,
        "Current maximum open files is {}. maxclients has been reduced to {} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
        cur,
        srv.data.config.maxclients
    );
    true
}
