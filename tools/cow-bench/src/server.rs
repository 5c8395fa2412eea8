//! The server under test: one the tool starts itself from a binary (in a temp dir, on a free
//! port, with the same settings whichever binary it is) or one already running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::resp::{Conn, Reply, info_u64};

/// How the tool reaches a server.
#[derive(Clone, Debug)]
pub enum Spec {
    Connect {
        host: String,
        port: u16,
    },
    Start {
        bin: PathBuf,
        /// Passed first (redis-server wants its config file as the first argument).
        config: Option<PathBuf>,
        /// Passed last, so they override the tool's own settings.
        args: Vec<String>,
        /// 0: pick a free one.
        port: u16,
    },
}

/// A server being measured.
pub struct Server {
    pub label: String,
    pub host: String,
    pub port: u16,
    /// Its pid when it runs on this machine (for /proc figures).
    pub pid: Option<u32>,
    pub version: String,
    child: Option<Child>,
    /// The temp dir of a server the tool started (removed on drop).
    pub dir: Option<PathBuf>,
}

/// A short name for a server binary: `tine-server` -> `tine`, `redis-server` -> `redis`.
pub fn label_for(bin: &Path) -> String {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "server".into());
    name.strip_suffix("-server").unwrap_or(&name).to_string()
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(7899)
}

impl Server {
    pub fn open(spec: &Spec, label: Option<&str>) -> Result<Server, String> {
        match spec {
            Spec::Connect { host, port } => Self::connect(host, *port, label),
            Spec::Start { bin, config, args, port } => {
                Self::start(bin, config.as_deref(), args, *port, label)
            }
        }
    }

    fn connect(host: &str, port: u16, label: Option<&str>) -> Result<Server, String> {
        let mut c = Conn::connect(host, port, Duration::from_secs(10))
            .map_err(|e| format!("cannot connect to {}:{}: {}", host, port, e))?;
        let info =
            c.info("server").map_err(|e| format!("INFO server on {}:{}: {}", host, port, e))?;
        let local = matches!(host, "127.0.0.1" | "localhost" | "::1") || host.starts_with("127.");
        let pid = if local { info_u64(&info, "process_id").map(|p| p as u32) } else { None };
        let version = info.get("redis_version").cloned().unwrap_or_default();
        let exe = pid
            .and_then(|p| std::fs::read_link(format!("/proc/{}/exe", p)).ok())
            .map(|p| label_for(&p));
        Ok(Server {
            label: label.map(String::from).or(exe).unwrap_or_else(|| format!("{}:{}", host, port)),
            host: host.to_string(),
            port,
            pid,
            version,
            child: None,
            dir: None,
        })
    }

    fn start(
        bin: &Path,
        config: Option<&Path>,
        args: &[String],
        port: u16,
        label: Option<&str>,
    ) -> Result<Server, String> {
        let port = if port == 0 { free_port() } else { port };
        let dir = std::env::temp_dir().join(format!(
            "tine-cow-bench-{}-{}-{}",
            label_for(bin),
            std::process::id(),
            port
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {}", dir.display(), e))?;
        let mut cmd = Command::new(bin);
        if let Some(c) = config {
            cmd.arg(c);
        }
        let log = dir.join("server.log");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--enable-debug-command", "yes"])
            .arg("--logfile")
            .arg(&log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().map_err(|e| format!("cannot start {}: {}", bin.display(), e))?;
        let pid = child.id();
        let mut s = Server {
            label: label.map(String::from).unwrap_or_else(|| label_for(bin)),
            host: "127.0.0.1".into(),
            port,
            pid: Some(pid),
            version: String::new(),
            child: Some(child),
            dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut c) = Conn::connect(&s.host, port, Duration::from_secs(5)) {
                if let Ok(Reply::Status(p)) = c.cmd(&["PING"]) {
                    if p == "PONG" {
                        if let Ok(i) = c.info("server") {
                            s.version = i.get("redis_version").cloned().unwrap_or_default();
                        }
                        return Ok(s);
                    }
                }
            }
            if let Some(Ok(Some(st))) = s.child.as_mut().map(|c| c.try_wait()) {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!(
                    "{} exited at startup ({}); its log:\n{}",
                    bin.display(),
                    st,
                    tail
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not answer PING on port {} within 30 s (log: {})",
                    bin.display(),
                    port,
                    log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn conn(&self) -> Result<Conn, String> {
        Conn::connect(&self.host, self.port, Duration::from_secs(60))
            .map_err(|e| format!("connect to {}:{}: {}", self.host, self.port, e))
    }

    /// Stops a server the tool started: SIGTERM, then SIGKILL after 10 s. A server the tool
    /// connected to is left running.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on the pid of a child process this tool spawned.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
