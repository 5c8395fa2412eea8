//! Support for the hash and set integration tests: starts tine-server (and, when installed,
//! the real redis-server) on free ports in temp dirs, sends the same commands to both over
//! RESP2 and RESP3 connections, and compares replies — exactly, as unordered collections
//! where the encoding makes order arbitrary, or by effect for random commands (the callers
//! decide). Servers are killed when dropped; tine's log is printed when a test fails.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use redis::Value;

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

/// A server process in its own temp dir, killed on drop.
pub struct Server {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
    name: &'static str,
}

impl Server {
    fn spawn(name: &'static str, program: &str, extra: &[&str]) -> Option<Server> {
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
            let mut args: Vec<String> = vec![
                "--port".into(),
                port.to_string(),
                "--save".into(),
                "".into(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            let child = Command::new(program)
                .args(&args)
                .current_dir(dir.path())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .ok()?;
            let mut s = Server {
                port,
                child,
                dir,
                name,
            };
            if s.wait_ready() {
                return Some(s);
            }
            // Port taken meanwhile or a failed start: dropping kills it; try another port.
        }
        None
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn tine() -> Server {
        Server::spawn(
            "tine",
            env!("CARGO_BIN_EXE_tine-server"),
            &["--enable-debug-command", "yes"],
        )
        .expect("start tine-server")
    }

    /// The real redis-server, if installed.
    pub fn redis() -> Option<Server> {
        let program = "/usr/bin/redis-server";
        if !Path::new(program).exists() {
            eprintln!("redis-server not installed: skipping the differential part");
            return None;
        }
        Server::spawn(
            "redis",
            program,
            &["--appendonly", "no", "--enable-debug-command", "yes"],
        )
    }

    pub fn connect(&self, resp3: bool) -> redis::Connection {
        let url = if resp3 {
            format!("redis://127.0.0.1:{}/?protocol=resp3", self.port)
        } else {
            format!("redis://127.0.0.1:{}/", self.port)
        };
        let client = redis::Client::open(url).unwrap();
        let con = client.get_connection().expect("connect");
        con.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        con
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() && self.name == "tine" {
            eprintln!("---- tine-server log ----\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply, or the error text as the client library parsed it.
pub type Reply = Result<Value, String>;

pub fn query(con: &mut redis::Connection, args: &[Vec<u8>]) -> Reply {
    let mut cmd = redis::cmd(std::str::from_utf8(&args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(a.as_slice());
    }
    cmd.query::<Value>(con)
        .map_err(|e| format!("{:?} {:?} {:?}", e.kind(), e.code(), e.detail()))
}

/// Connections to tine and (optionally) redis, RESP2 and RESP3 each.
pub struct Pair {
    pub tine: Server,
    pub redis: Option<Server>,
    pub t2: redis::Connection,
    pub t3: redis::Connection,
    pub r2: Option<redis::Connection>,
    pub r3: Option<redis::Connection>,
}

impl Pair {
    pub fn start() -> Pair {
        let tine = Server::tine();
        let redis = Server::redis();
        let t2 = tine.connect(false);
        let t3 = tine.connect(true);
        let r2 = redis.as_ref().map(|r| r.connect(false));
        let r3 = redis.as_ref().map(|r| r.connect(true));
        Pair {
            tine,
            redis,
            t2,
            t3,
            r2,
            r3,
        }
    }

    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Sends to tine; returns its reply.
    pub fn tine_cmd(&mut self, args: &[Vec<u8>]) -> Reply {
        query(&mut self.t2, args)
    }

    /// Sends to redis (RESP2).
    pub fn redis_cmd(&mut self, args: &[Vec<u8>]) -> Reply {
        query(self.r2.as_mut().expect("redis"), args)
    }

    /// Sends the same command to both, over RESP3 when `resp3`.
    pub fn both(&mut self, args: &[Vec<u8>], resp3: bool) -> (Reply, Reply) {
        let (t, r) = if resp3 {
            (&mut self.t3, self.r3.as_mut().unwrap())
        } else {
            (&mut self.t2, self.r2.as_mut().unwrap())
        };
        (query(t, args), query(r, args))
    }

    /// Same configuration on both servers.
    pub fn config_set(&mut self, name: &str, value: &str) {
        let args = argv(&["CONFIG", "SET", name, value]);
        assert_eq!(
            self.tine_cmd(&args),
            Ok(Value::Okay),
            "tine CONFIG SET {name}"
        );
        if self.has_redis() {
            assert_eq!(self.redis_cmd(&args), Ok(Value::Okay));
        }
    }
}

pub fn argv(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// A printable form of a command for failure messages.
pub fn show(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sorts the elements of arrays, sets and maps (recursively at the top level only), for
/// comparing replies whose order the hash table decides.
pub fn unordered(v: Reply) -> Reply {
    v.map(|v| match v {
        Value::Array(mut a) => {
            a.sort_by_key(|x| format!("{:?}", x));
            Value::Array(a)
        }
        Value::Set(mut a) => {
            a.sort_by_key(|x| format!("{:?}", x));
            Value::Set(a)
        }
        Value::Map(mut m) => {
            m.sort_by_key(|x| format!("{:?}", x));
            Value::Map(m)
        }
        other => other,
    })
}

/// Like `unordered`, for flat RESP2 arrays of pairs (HGETALL, HSCAN items): sorts the pairs.
pub fn unordered_pairs(v: Reply) -> Reply {
    v.map(|v| match v {
        Value::Array(a) => {
            let mut pairs: Vec<(Value, Value)> = Vec::new();
            let mut it = a.into_iter();
            while let (Some(f), Some(x)) = (it.next(), it.next()) {
                pairs.push((f, x));
            }
            pairs.sort_by_key(|x| format!("{:?}", x));
            Value::Array(pairs.into_iter().flat_map(|(f, x)| [f, x]).collect())
        }
        Value::Map(mut m) => {
            m.sort_by_key(|x| format!("{:?}", x));
            Value::Map(m)
        }
        other => other,
    })
}

/// The elements of an array or set reply.
pub fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a.clone(),
        Value::Nil => Vec::new(),
        other => panic!("not a collection: {:?}", other),
    }
}

pub fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b.clone(),
        Value::SimpleString(s) => s.as_bytes().to_vec(),
        Value::Int(n) => n.to_string().into_bytes(),
        other => panic!("not a string: {:?}", other),
    }
}

/// splitmix64, so a failing sequence can be replayed from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// The seed: `HASHSETS_SEED` when set (to replay a failure), else from the clock.
pub fn seed() -> u64 {
    std::env::var("HASHSETS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// Compares DEBUG DIGEST, and per key DEBUG DIGEST-VALUE and OBJECT ENCODING.
pub fn compare_state(p: &mut Pair, keys: &[&str], ctx: &str) {
    let d = argv(&["DEBUG", "DIGEST"]);
    let (t, r) = (p.tine_cmd(&d), p.redis_cmd(&d));
    for k in keys {
        for parts in [
            ["DEBUG", "DIGEST-VALUE", k].as_slice(),
            ["OBJECT", "ENCODING", k].as_slice(),
        ] {
            let a = argv(parts);
            assert_eq!(p.tine_cmd(&a), p.redis_cmd(&a), "{ctx}: {}", show(&a));
        }
    }
    assert_eq!(t, r, "{ctx}: DEBUG DIGEST");
}

/// Steps between two state comparisons: `HASHSETS_CHECK_EVERY` (1 to find the exact step of a
/// divergence), else 200.
pub fn check_every() -> usize {
    std::env::var("HASHSETS_CHECK_EVERY")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(200)
}
