//! Running as a daemon and stopping: `--daemonize yes` with a pid file and a log file,
//! Redis-format log lines, SIGTERM / SIGINT / SHUTDOWN ending the process cleanly and
//! removing the pid file.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

/// A daemonized tine: not our child, so it is found through its pid file and killed on
/// drop if a test left it running.
struct Daemon {
    pid: i32,
    port: u16,
    pidfile: PathBuf,
    logfile: PathBuf,
    _dir: tempfile::TempDir,
}

fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("tine.pid");
        let logfile = dir.path().join("tine.log");
        let port = free_port();
        let out = run_to_exit(
            TINE_BIN.as_str(),
            &[
                "--daemonize",
                "yes",
                "--port",
                &port.to_string(),
                "--dir",
                &dir.path().display().to_string(),
                "--pidfile",
                &pidfile.display().to_string(),
                "--logfile",
                &logfile.display().to_string(),
            ],
            dir.path(),
            Duration::from_secs(20),
        );
        assert!(
            out.status.success(),
            "the foreground process exits 0 once daemonized: {:?}\n{}{}",
            out.status,
            out.stdout,
            out.stderr
        );
        let mut pid = 0;
        let found =
            eventually(Duration::from_secs(20), || match std::fs::read_to_string(&pidfile) {
                Ok(t) if t.ends_with('\n') => {
                    pid = t.trim().parse().unwrap();
                    true
                }
                _ => false,
            });
        let log = std::fs::read_to_string(&logfile).unwrap_or_default();
        assert!(found, "no pid file at {}\nlog:\n{log}", pidfile.display());
        let d = Daemon { pid, port, pidfile, logfile, _dir: dir };
        let ready = eventually(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(ready, "daemon not listening\n{}", d.log());
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.logfile).unwrap_or_default()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the daemon this test started.
        unsafe {
            libc::kill(self.pid, sig);
        }
    }

    fn gone_within(&self, limit: Duration) -> bool {
        eventually(limit, || !alive(self.pid))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if alive(self.pid) {
            self.signal(libc::SIGKILL);
        }
        if std::thread::panicking() {
            eprintln!("--- daemon log ---\n{}\n--- end ---", self.log());
        }
    }
}

/// True for a Redis-format log line: `pid:R dd Mon yyyy hh:mm:ss.mmm L message`.
fn redis_log_line(line: &str, role: char, level: char, message: &str) -> bool {
    let Some((pid, rest)) = line.split_once(':') else {
        return false;
    };
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let parts: Vec<&str> = rest.splitn(7, ' ').collect();
    if parts.len() != 7 {
        return false;
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let months =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let time = parts[4];
    parts[0] == role.to_string()
        && digits(parts[1], 2)
        && months.contains(&parts[2])
        && digits(parts[3], 4)
        && time.len() == 12
        && digits(&time[0..2], 2)
        && &time[2..3] == ":"
        && digits(&time[3..5], 2)
        && &time[5..6] == ":"
        && digits(&time[6..8], 2)
        && &time[8..9] == "."
        && digits(&time[9..12], 3)
        && parts[5] == level.to_string()
        && parts[6] == message
}

#[test]
fn log_line_format_matches_redis() {
    // The checker itself, on a line written by the real server.
    if let Some(redis) = RedisServer::start() {
        let log = redis.log();
        assert!(
            log.lines().any(|l| redis_log_line(l, 'M', '*', "Ready to accept connections")),
            "{log}"
        );
    }
}

#[test]
fn daemonize_writes_pidfile_and_sigterm_removes_it() {
    let d = Daemon::start();
    assert!(alive(d.pid));
    assert_ne!(d.pid as u32, std::process::id());
    let mut raw = Raw::connect(d.port);
    let info = raw.cmd_str(&["INFO", "server"]);
    assert_eq!(info_field(&info, "process_id"), Some(d.pid.to_string()), "{info}");
    let log = d.log();
    assert!(
        log.lines().any(|l| redis_log_line(l, 'M', '*', "Ready to accept connections")),
        "no Redis-format ready line:\n{log}"
    );
    assert!(
        log.lines().all(|l| l.is_empty()
            || l.split_once(':')
                .is_some_and(|(p, _)| p == d.pid.to_string())),
        "every line carries the daemon's pid {}:\n{log}",
        d.pid
    );
    d.signal(libc::SIGTERM);
    assert!(d.gone_within(Duration::from_secs(20)), "{}", d.log());
    assert!(!d.pidfile.exists(), "pid file left behind");
    let log = d.log();
    assert!(
        log.lines().any(|l| redis_log_line(l, 'M', '#', "Received SIGTERM scheduling shutdown...")),
        "{log}"
    );
}

#[test]
fn daemon_sigint_removes_pidfile() {
    let d = Daemon::start();
    d.signal(libc::SIGINT);
    assert!(d.gone_within(Duration::from_secs(20)), "{}", d.log());
    assert!(!d.pidfile.exists(), "pid file left behind");
    assert!(
        d.log().lines().any(|l| redis_log_line(
            l,
            'M',
            '#',
            "Received SIGINT scheduling shutdown..."
        )),
        "{}",
        d.log()
    );
}

fn wait_status(server: &mut TestServer) -> std::process::ExitStatus {
    server.wait_exit(Duration::from_secs(20)).expect("server did not exit")
}

#[test]
fn sigterm_and_sigint_exit_0_in_the_foreground() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut server = TestServer::with_args(&["--pidfile", "fg.pid"]);
        let pidfile = server.path("fg.pid");
        assert_eq!(std::fs::read_to_string(&pidfile).unwrap().trim(), server.pid().to_string());
        server.signal(sig);
        let st = wait_status(&mut server);
        assert_eq!(st.code(), Some(0), "signal {sig}: {st:?}");
        assert!(!pidfile.exists());
    }
}

#[test]
fn shutdown_nosave_closes_the_connection_and_exits() {
    let mut server = TestServer::with_args(&["--pidfile", "sd.pid"]);
    let pidfile = server.path("sd.pid");
    let mut other = server.raw();
    let mut raw = server.raw();
    raw.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(raw.closed_within(Duration::from_secs(20)));
    assert!(raw.pending().is_empty(), "SHUTDOWN replies nothing on success");
    assert!(other.closed_within(Duration::from_secs(20)));
    let st = wait_status(&mut server);
    assert_eq!(st.code(), Some(0), "{st:?}");
    assert!(!pidfile.exists());
    assert!(
        server.log().lines().any(|l| l.ends_with("User requested shutdown...")),
        "{}",
        server.log()
    );
}

#[test]
fn shutdown_errors_match_redis() {
    let server = TestServer::start();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut t = server.raw();
    let mut r = redis.raw();
    for args in [
        &["SHUTDOWN", "MAYBE"][..],
        &["SHUTDOWN", "SAVE", "NOSAVE"],
        &["SHUTDOWN", "ABORT"],
        &["SHUTDOWN", "ABORT", "NOW"],
    ] {
        assert_same(&mut t, &mut r, args);
    }
}

#[test]
fn startup_banner_and_pid_in_foreground_log() {
    let server = TestServer::start();
    let pid = server.pid().to_string();
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.starts_with(&format!("{pid}:M "))
                && l.ends_with("Ready to accept connections")),
        "{log}"
    );
    assert!(log.lines().any(|l| redis_log_line(l, 'M', '#', "Server initialized")), "{log}");
}
