//! The integration-test harness every file in `tests/` uses: it starts `tine-server` (or the
//! real `/usr/bin/redis-server`, for differential and interop tests) on a free port in a
//! temp dir, waits until it answers, hands out connections (the `redis` crate's sync client
//! and a raw TCP connection for protocol tests), and on drop stops the process (SIGTERM,
//! then SIGKILL after a grace period) and prints its log if the test is failing.
//!
//! Nothing here asserts timings: waits are generous upper bounds that only turn a hang into
//! a failure.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The binary under test.
pub static TINE_BIN: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| workspace_bin("tine-server"));

/// A binary of the workspace, found in the target directory this test runs from (test
/// executables live in `target/<profile>/deps/`, binaries one level up), not through one
/// package's `CARGO_BIN_EXE_*`: the binaries belong to different workspace members.
pub fn workspace_bin(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join(name);
    assert!(
        bin.exists(),
        "{} is not built: run scripts/test, or cargo build --workspace --bins before the tests",
        bin.display()
    );
    bin.display().to_string()
}
/// The reference implementation (Debian's `redis-server` 7.0).
pub const REDIS_BIN: &str = "/usr/bin/redis-server";

/// How long a server may take to answer its first PING (a shared, loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopped server may take to exit after SIGTERM before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Default read timeout of the connections handed out.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A port nobody listens on right now (bind 127.0.0.1:0 and let it go).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// True when the reference redis-server is installed; otherwise prints why the test is
/// skipped.
pub fn redis_available() -> bool {
    if Path::new(REDIS_BIN).exists() {
        true
    } else {
        eprintln!(
            "SKIPPED: {} is not installed (scripts/test installs it: apt-get install redis-server)",
            REDIS_BIN
        );
        false
    }
}

/// A running server process, tine or the real redis-server, in its own temp dir.
pub struct TestServer {
    child: Option<Child>,
    pub port: u16,
    /// The temp dir the server runs in (`--dir`); removed on drop.
    pub dir: TempDir,
    pub logfile: PathBuf,
    /// The config file passed as first argument, if any.
    pub config_file: Option<PathBuf>,
    bin: PathBuf,
    /// Extra arguments given by the test (kept for `restart`).
    args: Vec<String>,
    /// Whether the harness adds `--port`, `--dir` and `--logfile`.
    managed_args: bool,
}

impl TestServer {
    /// tine with Redis's defaults (no config file).
    pub fn start() -> TestServer {
        Self::with_args(&[])
    }

    /// tine with extra `--name value` arguments.
    pub fn with_args(args: &[&str]) -> TestServer {
        Self::spawn(PathBuf::from(TINE_BIN.as_str()), None, args)
    }

    /// tine with a config file holding `text` (written into the temp dir as `tine.conf`).
    pub fn with_config(text: &str) -> TestServer {
        Self::with_config_and_args(text, &[])
    }

    /// tine with a config file and extra arguments.
    pub fn with_config_and_args(text: &str, args: &[&str]) -> TestServer {
        let dir = tempfile::Builder::new().prefix("tine-test").tempdir().unwrap();
        let conf = dir.path().join("tine.conf");
        std::fs::write(&conf, text).unwrap();
        Self::spawn_in(dir, PathBuf::from(TINE_BIN.as_str()), Some(conf), args)
    }

    fn spawn(bin: PathBuf, config: Option<PathBuf>, args: &[&str]) -> TestServer {
        let dir = tempfile::Builder::new().prefix("tine-test").tempdir().unwrap();
        Self::spawn_in(dir, bin, config, args)
    }

    /// Starts `bin` in `dir`, retrying on another port if the chosen one was taken between
    /// the probe and the bind.
    fn spawn_in(dir: TempDir, bin: PathBuf, config: Option<PathBuf>, args: &[&str]) -> TestServer {
        let logfile = dir.path().join("server.log");
        let mut s = TestServer {
            child: None,
            port: 0,
            dir,
            logfile,
            config_file: config,
            bin,
            args: args.iter().map(|s| s.to_string()).collect(),
            managed_args: true,
        };
        s.launch();
        s
    }

    /// Starts the process (again) with the same config file and arguments, on a fresh port.
    fn launch(&mut self) {
        for attempt in 0..5 {
            self.port = free_port();
            let mut cmd = Command::new(&self.bin);
            if let Some(c) = &self.config_file {
                cmd.arg(c);
            }
            cmd.arg("--port")
                .arg(self.port.to_string())
                .arg("--dir")
                .arg(self.dir.path())
                .arg("--logfile")
                .arg(&self.logfile);
            cmd.args(&self.args);
            cmd.current_dir(self.dir.path());
            let out = std::fs::File::create(self.dir.path().join("stdout.txt")).unwrap();
            let err = std::fs::File::create(self.dir.path().join("stderr.txt")).unwrap();
            cmd.stdin(Stdio::null()).stdout(out).stderr(err);
            let child =
                cmd.spawn().unwrap_or_else(|e| panic!("spawn {}: {}", self.bin.display(), e));
            self.child = Some(child);
            match self.wait_ready() {
                Ok(()) => return,
                Err(why) => {
                    let log = self.log();
                    if log.contains("Address already in use") && attempt < 4 {
                        self.kill();
                        continue;
                    }
                    self.kill();
                    panic!(
                        "{} did not start: {}\n--- log ---\n{}\n--- stderr ---\n{}",
                        self.bin.display(),
                        why,
                        log,
                        self.stderr()
                    );
                }
            }
        }
    }

    /// Waits until the server answers PING (any reply but -LOADING counts: a server with
    /// requirepass answers -NOAUTH).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!("process exited early: {}", status));
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                if s.write_all(b"PING\r\n").is_ok() {
                    let mut buf = [0u8; 256];
                    if let Ok(n) = s.read(&mut buf) {
                        if n > 0 && !buf[..n].starts_with(b"-LOADING") {
                            return Ok(());
                        }
                    }
                }
            }
            if Instant::now() > deadline {
                return Err("no answer to PING".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server not running").id()
    }

    /// A `redis` crate connection.
    pub fn client(&self) -> redis::Connection {
        connect(self.port, false)
    }

    /// A `redis` crate connection speaking RESP3 (it sends HELLO 3 first).
    pub fn client_resp3(&self) -> redis::Connection {
        connect(self.port, true)
    }

    /// A raw TCP connection for protocol tests.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// The server's log file so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.logfile).unwrap_or_default()
    }

    /// What the server wrote to stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
    }

    /// Sends `sig` to the server process.
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on the pid of our own child.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// Waits up to `limit` for the process to exit; returns its status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut()?;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after the grace period) and returns how it
    /// exited. The temp dir stays, so the server can be `restart`ed from it.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.child.as_ref()?;
        self.signal(libc::SIGTERM);
        if let Some(st) = self.wait_exit(STOP_GRACE) {
            return Some(st);
        }
        self.kill();
        None
    }

    /// Stops and starts the server again with the same config file and arguments.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A file in the server's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A `redis` crate connection to the server on `port`, RESP3 when `resp3`, with the harness's
/// timeouts (`TestServer::client` without the server at hand, say in a thread).
pub fn connect(port: u16, resp3: bool) -> redis::Connection {
    let query = if resp3 { "?protocol=resp3" } else { "" };
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/{}", port, query)).unwrap();
    let con = client
        .get_connection_with_timeout(IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to port {}: {}", port, e));
    con.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    con.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    con
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal(libc::SIGTERM);
            if self.wait_exit(STOP_GRACE).is_none() {
                self.kill();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "--- {} log (port {}, {}) ---\n{}\n--- stderr ---\n{}\n--- end of log ---",
                self.bin.display(),
                self.port,
                self.logfile.display(),
                self.log(),
                self.stderr()
            );
        }
    }
}

/// The real redis-server, started the same way, for differential and interop tests.
pub struct RedisServer;

impl RedisServer {
    /// `None` (with a SKIPPED message) when redis-server is not installed.
    pub fn start() -> Option<TestServer> {
        Self::with_args(&[])
    }

    pub fn with_args(args: &[&str]) -> Option<TestServer> {
        if !redis_available() {
            return None;
        }
        Some(TestServer::spawn(PathBuf::from(REDIS_BIN), None, args))
    }

    /// redis-server started in `dir`, a temp dir the test has prepared (say, with an RDB file
    /// for it to load at startup).
    pub fn in_dir(dir: TempDir, args: &[&str]) -> Option<TestServer> {
        if !redis_available() {
            return None;
        }
        Some(TestServer::spawn_in(dir, PathBuf::from(REDIS_BIN), None, args))
    }

    pub fn with_config(text: &str) -> Option<TestServer> {
        Self::with_config_and_args(text, &[])
    }

    pub fn with_config_and_args(text: &str, args: &[&str]) -> Option<TestServer> {
        if !redis_available() {
            return None;
        }
        let dir = tempfile::Builder::new().prefix("redis-test").tempdir().unwrap();
        let conf = dir.path().join("redis.conf");
        std::fs::write(&conf, text).unwrap();
        Some(TestServer::spawn_in(dir, PathBuf::from(REDIS_BIN), Some(conf), args))
    }
}

/// The output of a program that ran to its end.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bin args` to its end (for startup failures), killing it after `limit`.
pub fn run_to_exit(bin: &str, args: &[&str], cwd: &Path, limit: Duration) -> Finished {
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{} {:?} did not exit within {:?}\nstdout:\n{}\nstderr:\n{}",
                bin,
                args,
                limit,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Finished {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Encodes a command as a RESP multibulk.
pub fn resp(args: &[&str]) -> Vec<u8> {
    resp_bytes(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>())
}

/// Encodes a command of arbitrary bytes (not UTF-8, CR, LF, NUL...) as a RESP multibulk.
pub fn resp_bytes(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the first complete RESP2/RESP3 reply in `buf`, or `None` if incomplete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    fn line_end(buf: &[u8], from: usize) -> Option<usize> {
        buf[from..].windows(2).position(|w| w == b"\r\n").map(|p| from + p)
    }
    fn frame(buf: &[u8], at: usize) -> Option<usize> {
        let t = *buf.get(at)?;
        let end = line_end(buf, at + 1)?;
        // A simple or error line may hold any bytes (errors echo the client's); only lengths
        // are parsed.
        let head = std::str::from_utf8(&buf[at + 1..end]).unwrap_or("");
        let after = end + 2;
        match t {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Some(after),
            b'$' | b'!' | b'=' => {
                let n: i64 = head.parse().ok()?;
                if n < 0 {
                    return Some(after);
                }
                let stop = after + n as usize + 2;
                (buf.len() >= stop).then_some(stop)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n: i64 = head.parse().ok()?;
                if n < 0 {
                    return Some(after);
                }
                let items = if t == b'%' || t == b'|' { 2 * n } else { n };
                let mut pos = after;
                for _ in 0..items {
                    pos = frame(buf, pos)?;
                }
                // An attribute is followed by the reply it describes.
                if t == b'|' {
                    return frame(buf, pos);
                }
                Some(pos)
            }
            _ => Some(after), // not RESP: treat as a line
        }
    }
    frame(buf, 0)
}

/// A raw TCP connection: send bytes, read bytes or whole replies with a timeout.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect to port {}: {}", port, e));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Raw { stream, buf: Vec::new() }
    }

    /// Connects to 127.0.0.1:`port` from the local address `from` (Linux routes all of
    /// 127.0.0.0/8 to the loopback, so 127.0.0.2 is a source a test can use).
    pub fn connect_from(from: std::net::Ipv4Addr, port: u16) -> Raw {
        use socket2::{Domain, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        sock.bind(&std::net::SocketAddr::from((from, 0)).into())
            .unwrap_or_else(|e| panic!("bind to {}: {}", from, e));
        sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
            .unwrap_or_else(|e| panic!("connect to port {} from {}: {}", port, from, e));
        let stream: TcpStream = sock.into();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Raw { stream, buf: Vec::new() }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a command as a multibulk.
    pub fn send_cmd(&mut self, args: &[&str]) {
        self.send(&resp(args));
    }

    /// Sends a command and returns the raw bytes of its reply.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        self.send_cmd(args);
        self.reply()
    }

    /// Sends a command of arbitrary bytes and returns the raw bytes of its reply.
    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&resp_bytes(args));
        self.reply()
    }

    /// Like `cmd`, as text.
    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// Reads one complete reply (raw bytes); panics on timeout or EOF.
    pub fn reply(&mut self) -> Vec<u8> {
        self.try_reply(IO_TIMEOUT).unwrap_or_else(|| {
            panic!("no complete reply; have {:?}", String::from_utf8_lossy(&self.buf))
        })
    }

    pub fn reply_str(&mut self) -> String {
        String::from_utf8_lossy(&self.reply()).into_owned()
    }

    /// Reads one complete reply, or `None` on timeout or EOF.
    pub fn try_reply(&mut self, limit: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// Reads whatever arrives within `limit` (everything up to EOF or the timeout).
    pub fn read_for(&mut self, limit: Duration) -> Vec<u8> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// True when the server closes the connection within `limit` (EOF or reset), after
    /// discarding whatever it still sends.
    pub fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
    }

    /// Bytes received but not yet consumed as a reply.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }
}

/// Polls `f` until it returns true, up to `limit`; returns whether it did.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One field of an INFO reply.
pub fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(|v| v.trim_end().to_string())
    })
}

/// INFO `section` over a redis-crate connection.
pub fn info(con: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(con).unwrap()
}

/// Sends the same raw command to both servers and returns both replies (tine's first).
pub fn both(tine: &mut Raw, redis: &mut Raw, args: &[&str]) -> (String, String) {
    (tine.cmd_str(args), redis.cmd_str(args))
}

/// Asserts that tine replies to `args` byte for byte as redis-server does.
#[track_caller]
pub fn assert_same(tine: &mut Raw, redis: &mut Raw, args: &[&str]) {
    let (t, r) = both(tine, redis, args);
    assert_eq!(t, r, "reply to {:?} differs (left: tine, right: redis)", args);
}

/// Arguments for differential tests: no save points (nothing written behind the test's
/// back) and DEBUG allowed (DIGEST, DIGEST-VALUE).
pub const DIFF_ARGS: &[&str] = &["--save", "", "--enable-debug-command", "yes"];

/// tine and the real redis-server, both started with `args`, for differential tests (tine's
/// first); `None` (with a SKIPPED message, and nothing started) when redis-server is not
/// installed.
pub fn start_pair(args: &[&str]) -> Option<(TestServer, TestServer)> {
    let real = RedisServer::with_args(args)?;
    let ours = TestServer::with_args(args);
    Some((ours, real))
}

/// A reply through the `redis` crate, or its error as text (kind, code and detail), so that
/// tine's and redis-server's answers compare with `==`.
pub type Reply = Result<redis::Value, String>;

/// Sends `args` over a `redis` crate connection; see `Reply`.
pub fn query<A: AsRef<[u8]>>(con: &mut redis::Connection, args: &[A]) -> Reply {
    let mut cmd = redis::Cmd::new();
    for a in args {
        cmd.arg(a.as_ref());
    }
    cmd.query::<redis::Value>(con)
        .map_err(|e| format!("{:?} {:?} {:?}", e.kind(), e.code(), e.detail()))
}

/// A command as one printable line, for failure messages.
pub fn show<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter()
        .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// tine and redis-server started with the same arguments, with a RESP2 and a RESP3 `redis`
/// crate connection to each, for differential tests that compare parsed replies.
pub struct Pair {
    pub tine: TestServer,
    pub redis: TestServer,
    pub t2: redis::Connection,
    pub t3: redis::Connection,
    pub r2: redis::Connection,
    pub r3: redis::Connection,
}

impl Pair {
    /// `None` when redis-server is not installed (see `start_pair`).
    pub fn start(args: &[&str]) -> Option<Pair> {
        let (tine, redis) = start_pair(args)?;
        Some(Pair {
            t2: tine.client(),
            t3: tine.client_resp3(),
            r2: redis.client(),
            r3: redis.client_resp3(),
            tine,
            redis,
        })
    }

    /// The connections to tine and to redis-server (in that order) of one protocol.
    pub fn cons(&mut self, resp3: bool) -> (&mut redis::Connection, &mut redis::Connection) {
        if resp3 { (&mut self.t3, &mut self.r3) } else { (&mut self.t2, &mut self.r2) }
    }

    /// Sends to tine (RESP2).
    pub fn tine_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        query(&mut self.t2, args)
    }

    /// Sends to redis-server (RESP2).
    pub fn redis_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        query(&mut self.r2, args)
    }

    /// Sends the same command to both, over RESP3 when `resp3`; tine's reply first.
    pub fn both<A: AsRef<[u8]>>(&mut self, args: &[A], resp3: bool) -> (Reply, Reply) {
        let (t, r) = self.cons(resp3);
        (query(t, args), query(r, args))
    }

    /// The same CONFIG SET on both servers.
    pub fn config_set(&mut self, name: &str, value: &str) {
        let args = ["CONFIG", "SET", name, value];
        assert_eq!(self.tine_cmd(&args), Ok(redis::Value::Okay), "tine CONFIG SET {name}");
        assert_eq!(self.redis_cmd(&args), Ok(redis::Value::Okay));
    }

    /// Compares DEBUG DIGEST, and per key DEBUG DIGEST-VALUE and OBJECT ENCODING (the servers
    /// need `--enable-debug-command yes`).
    pub fn compare_state(&mut self, keys: &[&str], ctx: &str) {
        let d = ["DEBUG", "DIGEST"];
        let (t, r) = (self.tine_cmd(&d), self.redis_cmd(&d));
        for &k in keys {
            for a in [["DEBUG", "DIGEST-VALUE", k], ["OBJECT", "ENCODING", k]] {
                assert_eq!(self.tine_cmd(&a), self.redis_cmd(&a), "{ctx}: {}", show(&a));
            }
        }
        assert_eq!(t, r, "{ctx}: DEBUG DIGEST");
    }
}

/// The elements of an array or set reply (none for nil).
pub fn items(v: &redis::Value) -> Vec<redis::Value> {
    match v {
        redis::Value::Array(a) | redis::Value::Set(a) => a.clone(),
        redis::Value::Nil => Vec::new(),
        other => panic!("not a collection: {:?}", other),
    }
}

/// The bytes of a string or integer reply.
pub fn bytes(v: &redis::Value) -> Vec<u8> {
    match v {
        redis::Value::BulkString(b) => b.clone(),
        redis::Value::SimpleString(s) => s.as_bytes().to_vec(),
        redis::Value::Int(n) => n.to_string().into_bytes(),
        other => panic!("not a string: {:?}", other),
    }
}

/// Sorts the elements of an array, set or map reply (the top level only), for comparing
/// replies whose order the hash table decides.
pub fn unordered(v: Reply) -> Reply {
    v.map(|v| match v {
        redis::Value::Array(mut a) => {
            a.sort_by_key(|x| format!("{:?}", x));
            redis::Value::Array(a)
        }
        redis::Value::Set(mut a) => {
            a.sort_by_key(|x| format!("{:?}", x));
            redis::Value::Set(a)
        }
        redis::Value::Map(mut m) => {
            m.sort_by_key(|x| format!("{:?}", x));
            redis::Value::Map(m)
        }
        other => other,
    })
}

/// The value of the environment variable `var` (a knob for replaying or tuning a randomized
/// test), else `default`; panics when it is set but does not parse.
#[track_caller]
pub fn env_or<T: std::str::FromStr>(var: &str, default: T) -> T {
    let Ok(s) = std::env::var(var) else {
        return default;
    };
    match s.parse() {
        Ok(v) => v,
        Err(_) => panic!("{var} must be a {}", std::any::type_name::<T>()),
    }
}

/// A seed for a randomized test: the environment variable `var` when set (to replay a run),
/// else one from the clock.
#[track_caller]
pub fn seed_from_env(var: &str) -> u64 {
    env_or(
        var,
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64,
    )
}

/// splitmix64 for seeded random tests: the same sequence everywhere from a seed, so a failing
/// run can be replayed.
#[allow(unused_imports)] // not every test binary draws random data
pub use tine_core::base::SplitMix64 as Rng;

/// The seed of a random differential run: `TINE_SEED` to replay one, else a fresh one (the
/// tests print it).
pub fn seed() -> u64 {
    match std::env::var("TINE_SEED") {
        Ok(s) => s.parse().expect("TINE_SEED is a number"),
        Err(_) => {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
                % 1_000_000
        }
    }
}

/// The number of steps of a random run: `TINE_STEPS`, else `default`.
pub fn steps(default: usize) -> usize {
    std::env::var("TINE_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// A fake primary on a free port: answers the handshake (PING, two REPLCONFs) with +OK,
/// PSYNC with +FULLRESYNC followed by `payload` in the same write, then waits `linger`
/// and closes (`Duration::ZERO`: the end of the connection comes with the last bytes).
pub fn fake_primary(payload: Vec<u8>, linger: Duration) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let mut answered = 0;
        while answered < 4 {
            let n = s.read(&mut buf).unwrap_or(0);
            if n == 0 {
                return;
            }
            got.extend_from_slice(&buf[..n]);
            let cmds = got.iter().filter(|&&b| b == b'*').count();
            while answered < cmds.min(4) {
                answered += 1;
                if answered < 4 {
                    s.write_all(b"+OK\r\n").unwrap();
                } else {
                    let mut out =
                        b"+FULLRESYNC 0123456789012345678901234567890123456789 100\r\n".to_vec();
                    out.extend_from_slice(&payload);
                    s.write_all(&out).unwrap();
                }
            }
        }
        std::thread::sleep(linger);
    });
    (port, h)
}
