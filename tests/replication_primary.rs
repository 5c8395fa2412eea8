//! tine as a replication primary, against the real programs (issue 11, primary side): a real
//! redis-server 7.0 replicating from tine with disk and diskless full syncs under a write
//! load of every type, then a partial resync (+CONTINUE) after the link is killed; two
//! replicas served by one diskless child; `redis-cli --rdb` and `--replica`; the sync children
//! SIGKILLed midway and a replica killed mid-transfer; WAIT and min-replicas-to-write; PSYNC
//! with a bad offset and a replica link misused for commands.
//!
//! Full syncs are stretched with `rdb-key-save-delay` over a few thousand small keys, so that
//! writes land while the snapshot is produced and transferred, without big data. Every check
//! ends with DEBUG DIGEST equal on both servers. Helpers stay local to this file.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const SYNC_LIMIT: Duration = Duration::from_secs(30);

/// tine as a primary: no save points, DEBUG allowed, and `extra`.
fn primary(extra: &[&str]) -> TestServer {
    let mut args = vec!["--save", "", "--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    TestServer::with_args(&args)
}

/// A redis-server replica of tine (None when redis-server is not installed).
fn redis_replica(of: &TestServer, extra: &[&str]) -> Option<TestServer> {
    let port = of.port.to_string();
    let mut args = vec!["--save", "", "--enable-debug-command", "yes", "--replicaof", "127.0.0.1"];
    args.push(&port);
    args.extend_from_slice(extra);
    RedisServer::with_args(&args)
}

fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con).unwrap_or_else(|e| panic!("{:?}: {}", args, e))
}

fn digest(s: &TestServer) -> String {
    let mut con = s.client();
    redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap()
}

fn info_of(s: &TestServer, section: &str) -> String {
    info(&mut s.client(), section)
}

fn field(s: &TestServer, section: &str, name: &str) -> String {
    info_field(&info_of(s, section), name).unwrap_or_default()
}

/// Writes of every type, in several dbs, with expires (round `r` makes them differ).
fn write_mixed(con: &mut redis::Connection, r: usize) {
    for db in [0, 3, 9] {
        cmd(con, &["SELECT", &db.to_string()]);
        let k = |name: &str| format!("{}:{}:{}", name, db, r % 7);
        cmd(con, &["SET", &k("str"), &format!("v{}", r)]);
        cmd(con, &["INCRBY", &k("cnt"), "3"]);
        cmd(con, &["RPUSH", &k("list"), "a", &r.to_string(), "c"]);
        cmd(con, &["LPOP", &k("list")]);
        cmd(con, &["HSET", &k("hash"), "f", &r.to_string(), "g", "x"]);
        cmd(con, &["SADD", &k("set"), &r.to_string(), "m"]);
        cmd(con, &["SREM", &k("set"), "m"]);
        cmd(con, &["ZADD", &k("zset"), &r.to_string(), "a", "2.5", "b"]);
        cmd(con, &["ZINCRBY", &k("zset"), "1", "b"]);
        cmd(con, &["SET", &k("ttl"), "x", "EX", "1000"]);
        cmd(con, &["PEXPIRE", &k("hash"), "500000"]);
        cmd(con, &["DEL", &format!("str:{}:{}", db, (r + 3) % 7)]);
    }
    cmd(con, &["SELECT", "0"]);
}

/// Waits until the replica's link is up and it has the primary's whole stream, then checks
/// the digests are equal.
fn assert_in_sync(tine: &TestServer, replica: &TestServer) {
    let synced = eventually(SYNC_LIMIT, || {
        field(replica, "replication", "master_link_status") == "up"
            && field(replica, "replication", "slave_repl_offset")
                == field(tine, "replication", "master_repl_offset")
    });
    assert!(
        synced,
        "replica not in sync\n--- tine ---\n{}\n--- replica ---\n{}",
        tine.log(),
        replica.log()
    );
    assert!(
        eventually(Duration::from_secs(5), || digest(tine) == digest(replica)),
        "digests differ\n--- tine ---\n{}\n--- replica ---\n{}",
        tine.log(),
        replica.log()
    );
}

/// The pids of a process's children (the sync child, while one lives).
fn children_of(pid: u32) -> Vec<i32> {
    let out = Command::new("ps").args(["--ppid", &pid.to_string(), "-o", "pid="]).output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn temp_files(s: &TestServer) -> Vec<String> {
    std::fs::read_dir(s.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("temp-"))
        .collect()
}

/// A full sync (disk or diskless) under writes before and during it, then CLIENT KILL TYPE
/// replica and a partial resync.
fn full_then_partial(diskless: &str) {
    let tine = primary(&[
        "--repl-diskless-sync",
        diskless,
        "--repl-diskless-sync-delay",
        "0",
        "--rdb-key-save-delay",
        "100",
    ]);
    let mut con = tine.client();
    cmd(&mut con, &["DEBUG", "POPULATE", "3000"]);
    for r in 0..20 {
        write_mixed(&mut con, r);
    }
    let Some(replica) = redis_replica(&tine, &[]) else {
        return;
    };
    // Writes while the child produces and the parent transfers the snapshot.
    for r in 20..80 {
        write_mixed(&mut con, r);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_in_sync(&tine, &replica);
    assert_eq!(field(&tine, "stats", "sync_full"), "1");
    let target = if diskless == "yes" { "replicas sockets" } else { "disk" };
    assert!(tine.log().contains(&format!("Starting BGSAVE for SYNC with target: {}", target)));
    let roles = info_of(&tine, "replication");
    assert!(roles.contains("connected_slaves:1"), "{}", roles);
    assert!(roles.contains(",state=online,"), "{}", roles);

    // The link dies; the replica continues from the backlog.
    cmd(&mut con, &["CLIENT", "KILL", "TYPE", "replica"]);
    for r in 80..90 {
        write_mixed(&mut con, r);
    }
    assert!(
        eventually(SYNC_LIMIT, || field(&tine, "stats", "sync_partial_ok") == "1"),
        "no partial resync\n{}",
        tine.log()
    );
    for r in 90..100 {
        write_mixed(&mut con, r);
    }
    assert_in_sync(&tine, &replica);
    assert_eq!(field(&tine, "stats", "sync_full"), "1");
    assert!(replica.log().contains("Successful partial resynchronization with master"));
    assert!(tine.log().contains("Partial resynchronization request from"));
}

#[test]
fn redis_replica_disk_sync_then_partial_resync() {
    full_then_partial("no");
}

#[test]
fn redis_replica_diskless_sync_then_partial_resync() {
    full_then_partial("yes");
}

/// Two replicas arriving within `repl-diskless-sync-delay` share one child, and the stream
/// written meanwhile is held once in the shared buffer, not once per replica.
#[test]
fn two_replicas_share_one_diskless_child() {
    let tine = primary(&["--repl-diskless-sync-delay", "1", "--rdb-key-save-delay", "300"]);
    let mut con = tine.client();
    cmd(&mut con, &["DEBUG", "POPULATE", "3000"]);
    let Some(a) = redis_replica(&tine, &[]) else {
        return;
    };
    let Some(b) = redis_replica(&tine, &[]) else {
        return;
    };
    assert!(eventually(SYNC_LIMIT, || field(&tine, "persistence", "rdb_bgsave_in_progress") == "1"));
    // About 400 KB of stream while the child runs: both replicas wait for it.
    let value = "x".repeat(4000);
    for i in 0..100 {
        cmd(&mut con, &["SET", &format!("big:{}", i), &value]);
    }
    let mem: i64 = field(&tine, "memory", "mem_total_replication_buffers").parse().unwrap();
    let histlen: i64 = field(&tine, "replication", "repl_backlog_histlen").parse().unwrap();
    assert!(histlen > 400_000, "histlen {}", histlen);
    assert!(mem < histlen * 3 / 2, "replication buffers {} for a stream of {}", mem, histlen);
    assert_in_sync(&tine, &a);
    assert_in_sync(&tine, &b);
    let log = tine.log();
    assert_eq!(log.matches("Starting BGSAVE for SYNC with target: replicas sockets").count(), 1);
    assert_eq!(field(&tine, "stats", "total_forks"), "1");
    assert_eq!(field(&tine, "replication", "connected_slaves"), "2");
}

/// `redis-cli --rdb` gets a file redis-check-rdb accepts; `redis-cli --replica` shows the
/// stream.
#[test]
fn redis_cli_rdb_and_replica() {
    if !redis_available() {
        return;
    }
    let tine = primary(&["--repl-diskless-sync-delay", "0"]);
    let mut con = tine.client();
    cmd(&mut con, &["DEBUG", "POPULATE", "500"]);
    write_mixed(&mut con, 1);
    let port = tine.port.to_string();
    // `redis-cli <flag> FILE` against tine, then redis-check-rdb's report on the file.
    let fetch = |flag: &str, name: &str| -> (bool, String) {
        let file = tine.path(name);
        let out = run_to_exit(
            "redis-cli",
            &["-p", &port, flag, file.to_str().unwrap()],
            tine.dir.path(),
            Duration::from_secs(20),
        );
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(said.contains("Transfer finished with success"), "{}", said);
        let check = Command::new("redis-check-rdb").arg(&file).output().unwrap();
        (check.status.success(), String::from_utf8_lossy(&check.stdout).into_owned())
    };
    let (ok, text) = fetch("--rdb", "cli.rdb");
    assert!(ok && text.contains("RDB looks OK"), "{}", text);
    assert!(!text.contains("[info] 0 keys read"), "{}", text);

    // Functions only: no data (tine has no functions yet, so no database at all).
    let (ok, text) = fetch("--functions-rdb", "functions.rdb");
    assert!(ok && text.contains("[info] 0 keys read"), "{}", text);

    // Line-buffered: redis-cli's stdout is a pipe here, and it is killed at the end.
    let mut cli = Command::new("stdbuf")
        .args(["-oL", "redis-cli", "-p", &port, "--replica"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        info_of(&tine, "replication").contains(",state=online,")
    }));
    cmd(&mut con, &["SET", "seen-by", "cli"]);
    // A diskless replica gets the stream after its first ACK (once a second), as in Redis.
    std::thread::sleep(Duration::from_millis(2000));
    let _ = cli.kill();
    let out = cli.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.to_lowercase().contains("\"set\",\"seen-by\",\"cli\""), "{}", text);
}

/// SIGKILL of the sync child midway (diskless, then disk): the replica's sync fails, it
/// retries, and ends in sync; no temp file and no child left.
#[test]
fn killed_sync_children_recover() {
    for diskless in ["yes", "no"] {
        let tine = primary(&[
            "--repl-diskless-sync",
            diskless,
            "--repl-diskless-sync-delay",
            "0",
            "--rdb-key-save-delay",
            "2000",
        ]);
        let mut con = tine.client();
        cmd(&mut con, &["DEBUG", "POPULATE", "2000"]);
        let Some(replica) = redis_replica(&tine, &[]) else {
            return;
        };
        assert!(eventually(SYNC_LIMIT, || !children_of(tine.pid()).is_empty()));
        std::thread::sleep(Duration::from_millis(300));
        for pid in children_of(tine.pid()) {
            // SAFETY: kill(2) on a child of the server this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        assert!(eventually(SYNC_LIMIT, || tine.log().contains("terminated by signal 9")));
        cmd(&mut con, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
        write_mixed(&mut con, 5);
        assert_in_sync(&tine, &replica);
        assert!(eventually(Duration::from_secs(10), || children_of(tine.pid()).is_empty()));
        assert!(temp_files(&tine).is_empty(), "{:?}", temp_files(&tine));
        assert!(field(&tine, "stats", "sync_full").parse::<i64>().unwrap() >= 2);
    }
}

/// A replica killed mid-transfer is dropped; the other replica of the same child goes on.
#[test]
fn replica_killed_mid_transfer_leaves_the_other() {
    let tine = primary(&["--repl-diskless-sync-delay", "1", "--rdb-key-save-delay", "1000"]);
    let mut con = tine.client();
    cmd(&mut con, &["DEBUG", "POPULATE", "2000"]);
    let Some(mut doomed) = redis_replica(&tine, &[]) else {
        return;
    };
    let Some(survivor) = redis_replica(&tine, &[]) else {
        return;
    };
    assert!(eventually(SYNC_LIMIT, || !children_of(tine.pid()).is_empty()));
    std::thread::sleep(Duration::from_millis(500));
    doomed.signal(libc::SIGKILL);
    doomed.wait_exit(Duration::from_secs(5));
    write_mixed(&mut con, 2);
    assert!(eventually(SYNC_LIMIT, || tine.log().contains("Connection with replica")));
    assert_in_sync(&tine, &survivor);
    assert_eq!(field(&tine, "replication", "connected_slaves"), "1");
    assert_eq!(field(&tine, "stats", "sync_full"), "2");
}

/// WAIT counts replicas that acknowledged; min-replicas-to-write refuses writes without
/// enough of them.
#[test]
fn wait_and_min_replicas_to_write() {
    let tine = primary(&["--repl-diskless-sync-delay", "0"]);
    let mut con = tine.client();
    cmd(&mut con, &["SET", "k", "v"]);
    assert_eq!(cmd(&mut con, &["WAIT", "0", "0"]), redis::Value::Int(0));
    assert_eq!(cmd(&mut con, &["WAIT", "1", "100"]), redis::Value::Int(0));
    cmd(&mut con, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    let err = redis::cmd("SET").arg("k").arg("v").query::<redis::Value>(&mut con).unwrap_err();
    assert!(err.to_string().contains("Not enough good replicas to write"), "{}", err);
    let Some(replica) = redis_replica(&tine, &[]) else {
        return;
    };
    assert_in_sync(&tine, &replica);
    assert!(eventually(SYNC_LIMIT, || {
        redis::cmd("SET").arg("k").arg("w").query::<redis::Value>(&mut con).is_ok()
    }));
    cmd(&mut con, &["INCR", "n"]);
    assert_eq!(cmd(&mut con, &["WAIT", "1", "5000"]), redis::Value::Int(1));
    assert_eq!(cmd(&mut con, &["WAIT", "2", "200"]), redis::Value::Int(1));
    // A stopped replica acknowledges nothing (unit/wait's scenario).
    replica.signal(libc::SIGSTOP);
    cmd(&mut con, &["INCR", "n"]);
    assert_eq!(cmd(&mut con, &["WAIT", "1", "500"]), redis::Value::Int(0));
    replica.signal(libc::SIGCONT);
    assert_eq!(cmd(&mut con, &["WAIT", "1", "5000"]), redis::Value::Int(1));
    cmd(&mut con, &["CONFIG", "SET", "min-replicas-to-write", "2"]);
    let err = redis::cmd("SET").arg("k").arg("v").query::<redis::Value>(&mut con).unwrap_err();
    assert!(err.to_string().contains("NOREPLICAS"), "{}", err);
    let role = cmd(&mut con, &["ROLE"]);
    assert!(format!("{:?}", role).contains("master"), "{:?}", role);
}

/// The only replica of a disk-based sync goes away: with no save point the child is stopped
/// (SIGUSR1, not an error) rather than left to write a file nobody needs.
#[test]
fn disk_sync_child_stopped_when_its_replica_dies() {
    let tine = primary(&["--repl-diskless-sync", "no", "--rdb-key-save-delay", "2000"]);
    let mut con = tine.client();
    cmd(&mut con, &["DEBUG", "POPULATE", "2000"]);
    let Some(mut replica) = redis_replica(&tine, &[]) else {
        return;
    };
    assert!(eventually(SYNC_LIMIT, || !children_of(tine.pid()).is_empty()));
    replica.signal(libc::SIGKILL);
    replica.wait_exit(Duration::from_secs(5));
    assert!(eventually(SYNC_LIMIT, || children_of(tine.pid()).is_empty()), "{}", tine.log());
    assert!(tine.log().contains("Background saving terminated by signal 10"), "{}", tine.log());
    assert_eq!(field(&tine, "persistence", "rdb_last_bgsave_status"), "ok");
    assert!(eventually(Duration::from_secs(5), || temp_files(&tine).is_empty()));
    assert_eq!(field(&tine, "replication", "connected_slaves"), "0");
}

/// With requirepass, SYNC, PSYNC and REPLCONF need authentication.
#[test]
fn replication_commands_need_auth() {
    let tine = primary(&["--requirepass", "secret"]);
    let mut raw = tine.raw();
    for args in [&["SYNC"][..], &["PSYNC", "?", "-1"], &["REPLCONF", "listening-port", "1"]] {
        assert_eq!(raw.cmd_str(args), "-NOAUTH Authentication required.\r\n", "{:?}", args);
    }
    assert_eq!(raw.cmd_str(&["AUTH", "secret"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["REPLCONF", "listening-port", "1"]), "+OK\r\n");
    assert_eq!(
        raw.cmd_str(&["REPLCONF", "bogus", "1"]),
        "-ERR Unrecognized REPLCONF option: bogus\r\n"
    );
}

/// A replica that sends garbage is dropped; the primary keeps its data and its other
/// replicas.
#[test]
fn replica_sending_garbage_is_dropped() {
    let tine = primary(&["--repl-diskless-sync-delay", "0"]);
    let mut con = tine.client();
    write_mixed(&mut con, 1);
    let Some(good) = redis_replica(&tine, &[]) else {
        return;
    };
    assert_in_sync(&tine, &good);
    let mut bad = tine.raw();
    bad.send(b"REPLCONF capa eof capa psync2\r\n");
    assert_eq!(bad.reply_str(), "+OK\r\n");
    bad.send(b"PSYNC ? -1\r\n");
    let got = bad.read_for(Duration::from_millis(1500));
    assert!(got.starts_with(b"+FULLRESYNC "), "{:?}", String::from_utf8_lossy(&got));
    bad.send(b"*abc\r\n\x00\x01garbage\r\n");
    assert!(bad.closed_within(Duration::from_secs(5)));
    write_mixed(&mut con, 2);
    assert_in_sync(&tine, &good);
    assert_eq!(field(&tine, "replication", "connected_slaves"), "1");
}

/// A replica that stops reading is dropped by `client-output-buffer-limit replica`, one that
/// stops acknowledging by `repl-timeout`; each comes back in sync. Once no replica is left,
/// `repl-backlog-ttl` frees the backlog.
#[test]
fn output_limit_timeout_and_backlog_ttl() {
    let tine = primary(&["--repl-diskless-sync-delay", "0"]);
    let mut con = tine.client();
    write_mixed(&mut con, 1);
    let Some(mut replica) = redis_replica(&tine, &[]) else {
        return;
    };
    assert_in_sync(&tine, &replica);

    cmd(&mut con, &["CONFIG", "SET", "client-output-buffer-limit", "replica 1mb 0 0"]);
    replica.signal(libc::SIGSTOP);
    let value = "v".repeat(10_000);
    for i in 0..1500 {
        cmd(&mut con, &["SET", &format!("big:{}", i % 50), &value]);
        if i % 100 == 99 && tine.log().contains("overcoming of output buffer limits") {
            break;
        }
    }
    assert!(
        eventually(SYNC_LIMIT, || tine.log().contains("overcoming of output buffer limits")),
        "{}",
        tine.log()
    );
    assert!(eventually(SYNC_LIMIT, || field(&tine, "replication", "connected_slaves") == "0"));
    replica.signal(libc::SIGCONT);
    assert_in_sync(&tine, &replica);

    cmd(&mut con, &["CONFIG", "SET", "repl-timeout", "2"]);
    replica.signal(libc::SIGSTOP);
    assert!(
        eventually(SYNC_LIMIT, || tine
            .log()
            .contains("Disconnecting timedout replica (streaming sync)")),
        "{}",
        tine.log()
    );
    replica.signal(libc::SIGCONT);
    write_mixed(&mut con, 2);
    assert_in_sync(&tine, &replica);

    cmd(&mut con, &["CONFIG", "SET", "repl-backlog-ttl", "1"]);
    replica.stop();
    assert!(eventually(SYNC_LIMIT, || field(&tine, "replication", "repl_backlog_active") == "0"));
    assert!(
        tine.log()
            .contains("Replication backlog freed after 1 seconds without connected replicas.")
    );
}

/// A hard output limit below `repl-backlog-size` counts as the backlog's size (Redis's
/// checkClientOutputBufferLimits): a stopped replica whose pending stream the backlog still
/// holds is not dropped for it, and catches up without any new sync.
#[test]
fn replica_output_limit_below_the_backlog_size_is_the_backlog_size() {
    let tine = primary(&["--repl-diskless-sync-delay", "0", "--repl-backlog-size", "64mb"]);
    let mut con = tine.client();
    let Some(replica) = redis_replica(&tine, &[]) else {
        return;
    };
    write_mixed(&mut con, 1);
    assert_in_sync(&tine, &replica);
    cmd(&mut con, &["CONFIG", "SET", "client-output-buffer-limit", "replica 512k 0 0"]);
    replica.signal(libc::SIGSTOP);
    let value = "v".repeat(1 << 20);
    for i in 0..24 {
        cmd(&mut con, &["SET", &format!("big:{}", i % 4), &value]);
    }
    let buffered: u64 = field(&tine, "memory", "mem_total_replication_buffers").parse().unwrap();
    assert!(buffered > 4 << 20, "the stream did not wait in tine: {}", buffered);
    // Two once-a-second checks of the limits.
    std::thread::sleep(Duration::from_millis(2200));
    replica.signal(libc::SIGCONT);
    assert_in_sync(&tine, &replica);
    assert!(!tine.log().contains("overcoming of output buffer limits"), "{}", tine.log());
    assert_eq!(field(&tine, "stats", "sync_full"), "1");
    assert_eq!(field(&tine, "stats", "sync_partial_ok"), "0");
}

/// A diskless transfer to a replica that reads slowly keeps going to its end: each chunk the
/// replica's socket only partly took is finished on a writable event, and the pump that
/// follows may leave part of the next chunk waiting, whose writable interest must stay (it was
/// dropped, so the pipe was never read again and the child blocked until repl-timeout).
#[test]
fn a_slow_reader_gets_the_whole_diskless_payload() {
    let tine = primary(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--rdbcompression",
        "no",
        "--repl-timeout",
        "5",
    ]);
    cmd(&mut tine.client(), &["DEBUG", "POPULATE", "200", "big", "100000"]);
    let mut s = fake_replica(&tine);
    read_diskless_payload(&tine, &mut s, 20_000_000, Vec::new());
    assert!(!tine.log().contains("Disconnecting timedout replica"), "{}", tine.log());
}

/// A raw replica that asked for a diskless full sync (REPLCONF capa eof, PSYNC ? -1).
fn fake_replica(tine: &TestServer) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", tine.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    s.write_all(&resp(&["REPLCONF", "capa", "eof"])).unwrap();
    let mut ok = [0u8; 5];
    s.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    s.write_all(&resp(&["PSYNC", "?", "-1"])).unwrap();
    s
}

/// Reads a diskless payload to its end mark (at least `min` bytes), failing if it stalls for
/// the socket's read timeout.
/// `got` is what was read of it already.
fn read_diskless_payload(
    tine: &TestServer,
    s: &mut std::net::TcpStream,
    min: usize,
    mut got: Vec<u8>,
) {
    use std::io::Read;
    let mut buf = vec![0u8; 32 * 1024];
    let start = std::time::Instant::now();
    let mut mark: Option<Vec<u8>> = None;
    loop {
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(
            n > 0,
            "the transfer stopped after {} bytes: {:?}\n{}",
            got.len(),
            String::from_utf8_lossy(&got[..got.len().min(200)]),
            tine.log()
        );
        got.extend_from_slice(&buf[..n]);
        if mark.is_none() {
            if let Some(p) = got.windows(5).position(|w| w == b"$EOF:") {
                if got.len() >= p + 45 {
                    mark = Some(got[p + 5..p + 45].to_vec());
                }
            }
        }
        if let Some(m) = &mark {
            if got.len() > 40 && got.ends_with(m) && got.len() > min {
                break;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60), "too slow\n{}", tine.log());
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The slow replica of a diskless transfer drops out while the fast one waits for the next
/// chunk: the transfer goes on for the fast one (Redis's "diskless slow replicas drop during
/// rdb pipe"). The pipe's readable edge had come while the slow one lagged, so nothing read
/// the pipe again and the child waited forever.
#[test]
fn a_slow_replica_leaving_a_diskless_transfer_does_not_stall_the_others() {
    let tine = primary(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "1",
        "--rdbcompression",
        "no",
        "--repl-timeout",
        "120",
    ]);
    cmd(&mut tine.client(), &["DEBUG", "POPULATE", "200", "big", "100000"]);
    let slow = fake_replica(&tine);
    let mut fast = fake_replica(&tine);
    // The slow one never reads: its socket fills and holds the next chunk back.
    assert!(eventually(SYNC_LIMIT, || !children_of(tine.pid()).is_empty()));
    let log_at = tine.log().len();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        use std::io::Read;
        let start = std::time::Instant::now();
        // Take what flows until it stops (the slow one holds the transfer back).
        while start.elapsed() < Duration::from_secs(2) {
            fast.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            match fast.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => {}
            }
        }
        (fast, got)
    });
    let (mut fast, got) = reader.join().unwrap();
    assert!(got.len() < 20_000_000, "the slow replica did not hold the transfer back");
    drop(slow);
    fast.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    // The rest of the payload arrives (the mark is at its end).
    read_diskless_payload(&tine, &mut fast, 0, got);
    assert!(eventually(SYNC_LIMIT, || field(&tine, "persistence", "rdb_bgsave_in_progress") == "0"));
    assert!(
        tine.log()[log_at..].contains("done reading from pipe, 1 replicas still up"),
        "{}",
        tine.log()
    );
}

/// PSYNC with an offset that is not a number gets Redis 7.0's error (logged) and leaves an
/// ordinary client; a replica's link that then asks for the keyspace gets Redis's error, is
/// not sent the reply, and is dropped, with Redis's log lines. Both programs alike.
#[test]
fn psync_wrong_offset_and_a_replica_link_misused_as_redis() {
    let args = ["--save", "", "--repl-diskless-sync", "no"];
    let Some((tine, redis)) = start_pair(&args) else {
        return;
    };
    for s in [&tine, &redis] {
        let mut raw = Raw::connect(s.port);
        assert_eq!(
            raw.cmd_str(&["PSYNC", "replicationid", "offset_str"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(raw.cmd_str(&["PING"]), "+PONG\r\n");
        let mut link = Raw::connect(s.port);
        link.send_cmd(&["PSYNC", "replicationid", "-1"]);
        let first = link.reply_str();
        assert!(first.starts_with("+FULLRESYNC "), "{}", first);
        link.send_cmd(&["GET", "foo"]);
        assert!(link.closed_within(Duration::from_secs(10)));
        assert!(!String::from_utf8_lossy(link.pending()).contains("interact"));
        for line in [
            "asks for synchronization but with a wrong offset",
            "== CRITICAL == This master is sending an error to its replica: \
             'Replica can't interact with the keyspace' after processing the command 'get'",
            "Replica generated a reply to command 'get', disconnecting it: ",
        ] {
            assert!(eventually(Duration::from_secs(5), || s.log().contains(line)), "{}", line);
        }
        assert_eq!(raw.cmd_str(&["PING"]), "+PONG\r\n");
    }
}
