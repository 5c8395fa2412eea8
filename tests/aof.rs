//! The append-only file: interop with the real redis-check-aof and redis-server 7.0 (both
//! directions), crash durability under each fsync policy, BGREWRITEAOF under load and killed
//! midway (child and parent), damaged files, a full disk, and turning the AOF on at runtime.
//!
//! Nothing asserts timings: waits are generous bounds that only turn a hang into a failure.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use common::*;
use redis::Connection;

const WAIT: Duration = Duration::from_secs(60);

fn tine_aof(extra: &[&str]) -> TestServer {
    let mut args = vec!["--appendonly", "yes", "--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    TestServer::with_args(&args)
}

fn digest(con: &mut Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(con).unwrap()
}

fn info_persist(con: &mut Connection, field: &str) -> String {
    info_field(&info(con, "persistence"), field).unwrap_or_default()
}

fn wait_rewrite_done(con: &mut Connection) {
    assert!(
        eventually(WAIT, || info_persist(con, "aof_rewrite_in_progress") == "0"
            && info_persist(con, "aof_rewrite_scheduled") == "0"),
        "the rewrite did not end"
    );
}

/// A mixed dataset: strings, counters, lists, sorted sets, expiries, several dbs.
fn fill(con: &mut Connection, n: usize) {
    for i in 0..n {
        let _: () = redis::cmd("SET").arg(format!("s{}", i)).arg(i * 7).query(con).unwrap();
        let _: () = redis::cmd("RPUSH").arg(format!("l{}", i % 10)).arg(i).query(con).unwrap();
        let _: () = redis::cmd("ZADD")
            .arg(format!("z{}", i % 7))
            .arg(i as f64 / 3.0)
            .arg(format!("m{}", i))
            .query(con)
            .unwrap();
    }
    let _: () = redis::cmd("SET").arg("ttl").arg("v").arg("EX").arg(1000).query(con).unwrap();
    let _: () = redis::cmd("INCRBYFLOAT").arg("f").arg("1.25").query(con).unwrap();
    let _: () = redis::cmd("SELECT").arg(2).query(con).unwrap();
    let _: () = redis::cmd("SET").arg("in-db-2").arg("x").query(con).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(con).unwrap();
}

fn aof_dir(s: &TestServer) -> PathBuf {
    s.path("appendonlydir")
}

fn manifest(s: &TestServer) -> String {
    std::fs::read_to_string(aof_dir(s).join("appendonly.aof.manifest")).unwrap()
}

fn last_incr(s: &TestServer) -> PathBuf {
    let m = manifest(s);
    let name = m
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap()
        .to_string();
    aof_dir(s).join(name)
}

fn check_aof(manifest_path: &Path) -> Finished {
    run_to_exit(
        "/usr/bin/redis-check-aof",
        &[manifest_path.to_str().unwrap()],
        manifest_path.parent().unwrap(),
        Duration::from_secs(60),
    )
}

/// Every file the manifest names exists; no temp files are left in the AOF directory.
fn assert_manifest_consistent(s: &TestServer) {
    let m = manifest(s);
    for l in m.lines() {
        let name = l.split(' ').nth(1).unwrap();
        if !l.ends_with("type h") {
            assert!(aof_dir(s).join(name).exists(), "{} missing; manifest:\n{}", name, m);
        }
    }
    for e in std::fs::read_dir(aof_dir(s)).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().to_string();
        assert!(!n.starts_with("temp-"), "temp file {} left in the AOF dir", n);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn layout_and_replies_match_redis() {
    let s = tine_aof(&[]);
    let mut con = s.client();
    assert_eq!(
        manifest(&s),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut con).unwrap();
    let _: () = redis::cmd("EXPIRE").arg("a").arg(100).query(&mut con).unwrap();
    let incr = std::fs::read(aof_dir(&s).join("appendonly.aof.1.incr.aof")).unwrap();
    let text = String::from_utf8_lossy(&incr);
    assert!(
        text.starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$9\r\nPEXPIREAT\r\n$1\r\na\r\n$13\r\n"),
        "{:?}",
        text
    );
    let i = info(&mut con, "persistence");
    for f in [
        "aof_enabled:1",
        "aof_rewrite_in_progress:0",
        "aof_rewrite_scheduled:0",
        "aof_last_bgrewrite_status:ok",
        "aof_last_write_status:ok",
        "aof_pending_bio_fsync:",
        "aof_delayed_fsync:0",
        "aof_current_size:",
        "aof_base_size:",
        "aof_buffer_length:0",
        "aof_rewrite_child_pid:-1",
    ] {
        assert!(i.contains(f), "{} missing from\n{}", f, i);
    }
    // Replies of the rewrite commands, as Redis's.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("rdb-key-save-delay")
        .arg(200000)
        .query(&mut con)
        .unwrap();
    let r: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    assert_eq!(r, "Background append only file rewriting started");
    let e = redis::cmd("BGREWRITEAOF").query::<String>(&mut con).unwrap_err();
    assert!(
        e.to_string().contains("Background append only file rewriting already in progress"),
        "{}",
        e
    );
    let e = redis::cmd("BGSAVE").query::<String>(&mut con).unwrap_err();
    assert!(e.to_string().contains("Another child process is active (AOF?)"), "{}", e);
    let r: String = redis::cmd("BGSAVE").arg("SCHEDULE").query(&mut con).unwrap();
    assert_eq!(r, "Background saving scheduled");
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg(0).query(&mut con).unwrap();
    wait_rewrite_done(&mut con);
    assert!(eventually(WAIT, || info_persist(&mut con, "rdb_bgsave_in_progress") == "0"
        && info_persist(&mut con, "rdb_saves") == "1"));
    assert_eq!(info_persist(&mut con, "aof_rewrites"), "1");
    assert_eq!(
        manifest(&s),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(!aof_dir(&s).join("appendonly.aof.1.base.rdb").exists());
    // A rewrite asked for while BGSAVE runs is scheduled and runs after it.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("rdb-key-save-delay")
        .arg(300000)
        .query(&mut con)
        .unwrap();
    let _: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    let r: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    assert_eq!(r, "Background append only file rewriting scheduled");
    assert_eq!(info_persist(&mut con, "aof_rewrite_scheduled"), "1");
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg(0).query(&mut con).unwrap();
    wait_rewrite_done(&mut con);
    assert!(eventually(WAIT, || info_persist(&mut con, "aof_rewrites") == "2"));
}

#[test]
fn redis_check_aof_and_redis_server_accept_tine_aof() {
    if !redis_available() {
        return;
    }
    for preamble in ["yes", "no"] {
        let mut s = tine_aof(&["--aof-use-rdb-preamble", preamble]);
        let mut con = s.client();
        fill(&mut con, 300);
        let _: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
        wait_rewrite_done(&mut con);
        let _: () = redis::cmd("RPUSH").arg("after").arg("rewrite").query(&mut con).unwrap();
        let want = digest(&mut con);
        drop(con);
        s.stop();
        let ext = if preamble == "yes" { "rdb" } else { "aof" };
        assert!(manifest(&s).contains(&format!("appendonly.aof.2.base.{}", ext)));
        let out = check_aof(&aof_dir(&s).join("appendonly.aof.manifest"));
        assert!(
            out.status.success() && out.stdout.contains("is valid"),
            "redis-check-aof: {}\n{}",
            out.stdout,
            out.stderr
        );
        // The real redis-server loads the same directory to the same dataset.
        let r = RedisServer::with_args(&["--appendonly", "yes", "--enable-debug-command", "yes"])
            .unwrap();
        let mut rc = r.client();
        let _: () = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut rc).unwrap_or(());
        drop(rc);
        let mut r = r;
        r.wait_exit(WAIT);
        let _ = std::fs::remove_dir_all(aof_dir(&r));
        copy_dir(&aof_dir(&s), &aof_dir(&r));
        r.restart();
        let mut rc = r.client();
        assert_eq!(
            digest(&mut rc),
            want,
            "redis-server loaded another dataset (preamble {})",
            preamble
        );
    }
}

#[test]
fn tine_loads_redis_server_aof() {
    if !redis_available() {
        return;
    }
    let mut r =
        RedisServer::with_args(&["--appendonly", "yes", "--enable-debug-command", "yes"]).unwrap();
    let mut rc = r.client();
    fill(&mut rc, 300);
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut rc).unwrap();
    assert!(eventually(WAIT, || info_persist(&mut rc, "aof_rewrite_in_progress") == "0"
        && info_persist(&mut rc, "aof_rewrites") == "1"));
    let _: () = redis::cmd("LPUSH").arg("after").arg("x").query(&mut rc).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut rc).unwrap();
    let _: () = redis::cmd("INCR").arg("c").query(&mut rc).unwrap();
    let _: () = redis::cmd("INCR").arg("c").query(&mut rc).unwrap();
    let _: Vec<i64> = redis::cmd("EXEC").query(&mut rc).unwrap();
    let want = digest(&mut rc);
    drop(rc);
    r.stop();
    let mut s = tine_aof(&[]);
    s.stop();
    let _ = std::fs::remove_dir_all(aof_dir(&s));
    copy_dir(&aof_dir(&r), &aof_dir(&s));
    s.restart();
    let mut con = s.client();
    assert_eq!(digest(&mut con), want);
    assert!(s.log().contains("DB loaded from append only file"));
}

/// A client INCRs a counter as fast as it can and records every acknowledged value.
fn incr_until_stopped(port: u16, stop: Arc<AtomicBool>, acked: Arc<AtomicI64>) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", port)).unwrap();
    let Ok(mut con) = client.get_connection() else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        match redis::cmd("INCR").arg("counter").query::<i64>(&mut con) {
            Ok(v) => acked.store(v, Ordering::SeqCst),
            Err(_) => return,
        }
    }
}

fn get_counter(con: &mut Connection) -> i64 {
    redis::cmd("GET").arg("counter").query::<Option<i64>>(con).unwrap().unwrap_or(0)
}

fn crash_loop(policy: &str, rounds: usize) {
    let mut s = tine_aof(&["--appendfsync", policy]);
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicI64::new(0));
        let (st, ak, port) = (stop.clone(), acked.clone(), s.port);
        let t = std::thread::spawn(move || incr_until_stopped(port, st, ak));
        // A "random" moment: depends on the round and the clock, not asserted.
        let ms = 150 + (round as u64 * 137 + std::process::id() as u64 % 97) % 400;
        std::thread::sleep(Duration::from_millis(ms));
        s.signal(libc::SIGKILL);
        s.wait_exit(WAIT).expect("SIGKILL ends the server");
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        let last = acked.load(Ordering::SeqCst);
        s.restart();
        let mut con = s.client();
        let got = get_counter(&mut con);
        if policy == "always" {
            assert!(got >= last, "round {}: acknowledged {} but loaded {}", round, last, got);
        }
        // Never more than what was acknowledged plus the one command in flight.
        assert!(got <= last + 1, "round {}: loaded {} > acknowledged {} + 1", round, got, last);
    }
}

#[test]
fn sigkill_with_appendfsync_always_loses_nothing_acknowledged() {
    crash_loop("always", 4);
}

#[test]
fn sigkill_with_appendfsync_everysec_restarts() {
    crash_loop("everysec", 2);
}

#[test]
fn rewrite_under_load_keeps_every_write() {
    let mut s = tine_aof(&["--appendfsync", "no"]);
    let mut con = s.client();
    fill(&mut con, 500);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicI64::new(0));
    let (st, ak, port) = (stop.clone(), acked.clone(), s.port);
    let t = std::thread::spawn(move || incr_until_stopped(port, st, ak));
    for _ in 0..3 {
        let _: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
        wait_rewrite_done(&mut con);
    }
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    let want = digest(&mut con);
    let counter = get_counter(&mut con);
    assert!(counter > 0);
    assert_eq!(info_persist(&mut con, "aof_last_bgrewrite_status"), "ok");
    assert_manifest_consistent(&s);
    drop(con);
    s.restart();
    let mut con = s.client();
    assert_eq!(digest(&mut con), want);
    assert_eq!(get_counter(&mut con), counter);
}

/// Writes `keys` keys (through MSET, so that they reach the AOF: DEBUG POPULATE is not
/// propagated, in Redis either) and makes the rewrite take about 2 ms per key.
fn populate_slow(con: &mut Connection, keys: usize) {
    for chunk in (0..keys).collect::<Vec<_>>().chunks(500) {
        let mut cmd = redis::cmd("MSET");
        for i in chunk {
            cmd.arg(format!("key:{}", i)).arg(format!("value:{}", i));
        }
        let _: () = cmd.query(con).unwrap();
    }
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg(2000).query(con).unwrap();
}

#[test]
fn killed_rewrite_child_leaves_a_loadable_aof() {
    let mut s = tine_aof(&[]);
    let mut con = s.client();
    populate_slow(&mut con, 3000);
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    let pid: i32 = info_persist(&mut con, "aof_rewrite_child_pid").parse().unwrap();
    assert!(pid > 0);
    for i in 0..100 {
        let _: () = redis::cmd("SET").arg(format!("during{}", i)).arg(i).query(&mut con).unwrap();
    }
    // SAFETY: kill(2) on the rewrite child tine reported.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(eventually(WAIT, || info_persist(&mut con, "aof_rewrite_in_progress") == "0"));
    assert_eq!(info_persist(&mut con, "aof_last_bgrewrite_status"), "err");
    assert_eq!(info_persist(&mut con, "aof_rewrites_consecutive_failures"), "1");
    assert!(s.log().contains("Background AOF rewrite terminated by signal 9"));
    // The failed rewrite left the old base and both incr files in the manifest.
    let m = manifest(&s);
    assert!(m.contains("appendonly.aof.1.base.rdb seq 1 type b"), "{}", m);
    assert!(m.contains("appendonly.aof.2.incr.aof seq 2 type i"), "{}", m);
    assert_manifest_consistent(&s);
    assert!(!s.path(&format!("temp-rewriteaof-bg-{}.aof", pid)).exists());
    let want = digest(&mut con);
    drop(con);
    s.restart();
    let mut con = s.client();
    assert_eq!(digest(&mut con), want);
}

#[test]
fn killed_parent_during_rewrite_leaves_a_loadable_aof() {
    let mut s = tine_aof(&["--appendfsync", "always"]);
    let mut con = s.client();
    populate_slow(&mut con, 3000);
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    let child: i32 = info_persist(&mut con, "aof_rewrite_child_pid").parse().unwrap();
    for i in 0..100 {
        let _: () = redis::cmd("SET").arg(format!("during{}", i)).arg(i).query(&mut con).unwrap();
    }
    let want = digest(&mut con);
    drop(con);
    s.signal(libc::SIGKILL);
    s.wait_exit(WAIT).unwrap();
    // The orphaned child notices its parent is gone and exits without publishing anything.
    assert!(eventually(WAIT, || {
        // SAFETY: kill with signal 0 only checks whether the pid exists.
        unsafe { libc::kill(child, 0) != 0 }
    }));
    s.restart();
    let mut con = s.client();
    assert_eq!(digest(&mut con), want);
    let m = manifest(&s);
    assert!(m.contains("type b"), "{}", m);
}

fn start_fails(s: &TestServer, extra: &[&str]) -> (i32, String) {
    let log = s.path("fail.log");
    let port = free_port().to_string();
    let dir = s.dir.path().to_str().unwrap().to_string();
    let mut args = vec![
        "--port",
        &port,
        "--dir",
        &dir,
        "--appendonly",
        "yes",
        "--logfile",
        log.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run_to_exit(TINE_BIN.as_str(), &args, s.dir.path(), Duration::from_secs(60));
    (out.status.code().unwrap_or(-1), std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn truncated_tail_is_dropped_or_refused() {
    let mut s = tine_aof(&[]);
    let mut con = s.client();
    for i in 0..50 {
        let _: () = redis::cmd("SET").arg(format!("k{}", i)).arg(i).query(&mut con).unwrap();
    }
    let want = digest(&mut con);
    drop(con);
    s.stop();
    let incr = last_incr(&s);
    let good_len = std::fs::metadata(&incr).unwrap().len();
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nhel");
    std::fs::write(&incr, &data).unwrap();
    // aof-load-truncated no: refused, exit code 1, Redis's message.
    let (code, log) = start_fails(&s, &["--aof-load-truncated", "no"]);
    assert_eq!(code, 1, "{}", log);
    assert!(
        log.contains(
            "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
        ),
        "{}",
        log
    );
    // Default (yes): the partial command is dropped and the file truncated.
    s.restart();
    let mut con = s.client();
    assert_eq!(digest(&mut con), want);
    assert!(s.log().contains(
        "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!"
    ));
    assert!(s.log().contains(&format!(
        "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {} !!!",
        good_len
    )));
    assert!(s.log().contains(
        "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled"
    ));
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), good_len);
}

/// A stopped AOF server that wrote 20 keys: the server, the DEBUG DIGEST of its data, its
/// last incr file and that file's bytes (the damage tests write over the file and back).
fn stopped_with_20_keys() -> (TestServer, String, PathBuf, Vec<u8>) {
    let mut s = tine_aof(&[]);
    let mut con = s.client();
    for i in 0..20 {
        let _: () = redis::cmd("SET").arg(format!("k{}", i)).arg(i).query(&mut con).unwrap();
    }
    let want = digest(&mut con);
    drop(con);
    s.stop();
    let incr = last_incr(&s);
    let good = std::fs::read(&incr).unwrap();
    (s, want, incr, good)
}

#[test]
fn corrupted_middle_and_missing_file_are_fatal() {
    let (s, _, incr, good) = stopped_with_20_keys();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid..mid + 6].copy_from_slice(b"!oops!");
    std::fs::write(&incr, &bad).unwrap();
    let (code, log) = start_fails(&s, &[]);
    assert_eq!(code, 1, "{}", log);
    assert!(
        log.contains("Bad file format reading the append only file appendonly.aof.1.incr.aof")
            || log.contains("Unknown command"),
        "{}",
        log
    );
    std::fs::write(&incr, &good).unwrap();
    // A file named in the manifest but missing.
    std::fs::remove_file(aof_dir(&s).join("appendonly.aof.1.base.rdb")).unwrap();
    let (code, log) = start_fails(&s, &[]);
    assert_eq!(code, 1, "{}", log);
    assert!(log.contains("appendonly.aof.1.base.rdb"), "{}", log);
    // A damaged manifest.
    std::fs::write(aof_dir(&s).join("appendonly.aof.manifest"), "file x seq 1 type z\n").unwrap();
    let (code, log) = start_fails(&s, &[]);
    assert_eq!(code, 1, "{}", log);
    assert!(log.contains("Unknown AOF file type"), "{}", log);
}

/// Every file of `dir` and its bytes, by name.
fn dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// A copy of `s`'s AOF directory in a fresh temp dir, for redis-server to load.
fn copy_for_redis(s: &TestServer) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("redis-test").tempdir().unwrap();
    copy_dir(&aof_dir(s), &dir.path().join("appendonlydir"));
    dir
}

/// redis-server 7.0 on a copy of `s`'s AOF directory, expected to refuse to start: its exit
/// code, its log and the copied directory's files afterwards. `None` without redis-server.
fn redis_refuses(s: &TestServer, extra: &[&str]) -> Option<(i32, String, Vec<(String, Vec<u8>)>)> {
    if !redis_available() {
        return None;
    }
    let dir = copy_for_redis(s);
    let log = dir.path().join("redis.log");
    let port = free_port().to_string();
    let d = dir.path().to_str().unwrap().to_string();
    let mut args = vec![
        "--port",
        &port,
        "--dir",
        &d,
        "--appendonly",
        "yes",
        "--save",
        "",
        "--logfile",
        log.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run_to_exit(REDIS_BIN, &args, dir.path(), Duration::from_secs(60));
    Some((
        out.status.code().unwrap_or(-1),
        std::fs::read_to_string(&log).unwrap_or_default(),
        dir_bytes(&dir.path().join("appendonlydir")),
    ))
}

fn bad_format_line(file: &str) -> String {
    format!(
        "Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
        file
    )
}

/// Bytes that cannot begin a command at the end of the last incr file are damage, not a
/// write cut short by a crash: the server refuses to start, as Redis does, and leaves every
/// file as it was for the operator to repair (aof-load-truncated does not apply).
#[test]
fn garbage_at_the_end_of_the_last_file_is_refused_and_left_alone() {
    let (s, _, incr, good) = stopped_with_20_keys();
    let tails: [&[u8]; 4] = [b"hello", b"hello\r\n", b"*abc", b"*2\r\n$3\r\nDEL\r\nxyz"];
    for tail in tails {
        let what = String::from_utf8_lossy(tail).into_owned();
        std::fs::write(&incr, [good.as_slice(), tail].concat()).unwrap();
        let before = dir_bytes(&aof_dir(&s));
        let _ = std::fs::remove_file(s.path("fail.log"));
        let (code, log) = start_fails(&s, &[]);
        assert_eq!(code, 1, "tail {:?}: {}", what, log);
        assert!(log.contains(&bad_format_line("appendonly.aof.1.incr.aof")), "{:?}: {}", what, log);
        assert!(!log.contains("Truncating"), "tail {:?}: {}", what, log);
        assert!(dir_bytes(&aof_dir(&s)) == before, "tail {:?}: the AOF directory changed", what);
        if let Some((code, log, after)) = redis_refuses(&s, &[]) {
            assert_eq!(code, 1, "redis, tail {:?}: {}", what, log);
            assert!(log.contains(&bad_format_line("appendonly.aof.1.incr.aof")), "{}", log);
            assert!(after == before, "redis changed the AOF directory, tail {:?}", what);
        }
    }
}

/// A command cut short at the end of the last file, wherever the cut falls, is dropped and
/// the file truncated to the last whole command (aof-load-truncated yes, the default), at
/// the same offset redis-server truncates the same file.
#[test]
fn a_command_cut_short_at_the_end_is_truncated_as_redis_does() {
    let (mut s, want, incr, good) = stopped_with_20_keys();
    let next = resp(&["SET", "cut", "value"]);
    for n in [1, 2, 4, 9, next.len() - 1] {
        std::fs::write(&incr, [good.as_slice(), &next[..n]].concat()).unwrap();
        let redis_copy = copy_for_redis(&s);
        s.restart();
        let mut con = s.client();
        assert_eq!(digest(&mut con), want, "cut after {} bytes", n);
        drop(con);
        s.stop();
        let line = format!(
            "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {} !!!",
            good.len()
        );
        assert!(s.log().contains(&line), "cut after {} bytes: {}", n, s.log());
        assert_eq!(std::fs::read(&incr).unwrap(), good, "cut after {} bytes", n);
        if let Some(mut r) = RedisServer::in_dir(redis_copy, &["--appendonly", "yes"]) {
            r.stop();
            assert!(r.log().contains(&line), "redis, cut after {} bytes: {}", n, r.log());
            let redis_incr = r.path("appendonlydir").join("appendonly.aof.1.incr.aof");
            assert_eq!(std::fs::read(redis_incr).unwrap(), good, "redis, cut after {}", n);
        }
    }
}

/// Damage in an incr file that is not the last one is fatal whatever it is: garbage (Redis's
/// format error) or a command cut short (Redis: "the truncated file is not the last file").
/// Either way the files stay as they were: Redis truncates the cut file before it refuses,
/// tine leaves it for the operator.
#[test]
fn damage_in_a_file_that_is_not_the_last_is_refused_and_left_alone() {
    let (s, _, incr1, good) = stopped_with_20_keys();
    let mut m = manifest(&s);
    m.push_str("file appendonly.aof.2.incr.aof seq 2 type i\n");
    std::fs::write(aof_dir(&s).join("appendonly.aof.manifest"), m).unwrap();
    std::fs::write(aof_dir(&s).join("appendonly.aof.2.incr.aof"), resp(&["SET", "two", "2"]))
        .unwrap();
    let set = resp(&["SET", "after", "1"]);
    let garbage = [b"hello\r\n".as_slice(), &set].concat();
    let cut = &set[..set.len() - 3];
    let cases: [(&[u8], String); 3] = [
        (&garbage, bad_format_line("appendonly.aof.1.incr.aof")),
        (b"hello", bad_format_line("appendonly.aof.1.incr.aof")),
        (cut, "Fatal error: the truncated file is not the last file".to_string()),
    ];
    for (tail, line) in cases {
        let what = String::from_utf8_lossy(tail).into_owned();
        std::fs::write(&incr1, [good.as_slice(), tail].concat()).unwrap();
        let before = dir_bytes(&aof_dir(&s));
        let _ = std::fs::remove_file(s.path("fail.log"));
        let (code, log) = start_fails(&s, &[]);
        assert_eq!(code, 1, "tail {:?}: {}", what, log);
        assert!(log.contains(&line), "tail {:?}: {}", what, log);
        assert!(dir_bytes(&aof_dir(&s)) == before, "tail {:?}: the AOF directory changed", what);
        if let Some((code, log, _)) = redis_refuses(&s, &[]) {
            assert_eq!(code, 1, "redis, tail {:?}: {}", what, log);
            assert!(log.contains(&line), "redis, tail {:?}: {}", what, log);
        }
    }
}

/// True once `pid` has exited (gone, or a zombie nobody has reaped yet).
fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid)) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
        // SAFETY: kill with signal 0 only checks whether the pid exists.
        Err(_) => unsafe { libc::kill(pid, 0) != 0 },
    }
}

/// A rewrite child whose parent is SIGKILLed stops at its next progress report and removes
/// the file it was writing, as a BGSAVE child does: nobody else ever will.
#[test]
fn killed_parent_during_rewrite_leaves_no_temp_file_or_child() {
    let mut s = tine_aof(&[]);
    let mut con = s.client();
    populate_slow(&mut con, 3000);
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    let child: i32 = info_persist(&mut con, "aof_rewrite_child_pid").parse().unwrap();
    assert!(child > 0);
    let temp = s.path(&format!("temp-rewriteaof-{}.aof", child));
    assert!(eventually(WAIT, || temp.exists()), "the child never created {}", temp.display());
    drop(con);
    s.signal(libc::SIGKILL);
    s.wait_exit(WAIT).unwrap();
    assert!(eventually(WAIT, || process_gone(child)), "the rewrite child outlived its parent");
    for dir in [s.dir.path().to_path_buf(), aof_dir(&s)] {
        let temps: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("temp-"))
            .collect();
        assert!(temps.is_empty(), "left in {}: {:?}", dir.display(), temps);
    }
}

fn set_fsize_limit(pid: u32, bytes: u64) {
    let lim = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: prlimit on our own child process with a struct we own.
    let rc = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_FSIZE, &lim, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn full_disk_gives_misconf_then_recovers() {
    let mut s = tine_aof(&["--appendfsync", "everysec"]);
    let mut con = s.client();
    let _: () = redis::cmd("SET").arg("before").arg("1").query(&mut con).unwrap();
    let size = std::fs::metadata(last_incr(&s)).unwrap().len();
    set_fsize_limit(s.pid(), size + 2000);
    let value = "v".repeat(100);
    let mut acked = Vec::new();
    let mut misconf = None;
    for i in 0..1000 {
        match redis::cmd("SET").arg(format!("k{}", i)).arg(&value).query::<()>(&mut con) {
            Ok(()) => acked.push(i),
            Err(e) => {
                misconf = Some(e.to_string());
                break;
            }
        }
    }
    let e = misconf.expect("writes never failed");
    // A short write is reported as ENOSPC, a failed one with its own errno, as Redis does.
    assert!(e.contains("MISCONF") && e.contains("Errors writing to the AOF file: "), "{}", e);
    assert_eq!(info_persist(&mut con, "aof_last_write_status"), "err");
    assert!(
        s.log().contains("Error writing to the AOF file")
            || s.log().contains("Short write while writing to the AOF file")
    );
    // Room again: cron retries the write and writes are accepted again.
    set_fsize_limit(s.pid(), u64::MAX);
    assert!(eventually(WAIT, || info_persist(&mut con, "aof_last_write_status") == "ok"));
    assert!(s.log().contains("AOF write error looks solved, Redis can write again."));
    let _: () = redis::cmd("SET").arg("after").arg("1").query(&mut con).unwrap();
    drop(con);
    s.restart();
    let mut con = s.client();
    for i in acked {
        let v: Option<String> = redis::cmd("GET").arg(format!("k{}", i)).query(&mut con).unwrap();
        assert_eq!(v.as_deref(), Some(value.as_str()), "acknowledged k{} lost", i);
    }
    let v: Option<String> = redis::cmd("GET").arg("after").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("1"));
}

#[test]
fn appendonly_at_runtime_and_upgrade_from_single_file() {
    let mut s = TestServer::with_args(&["--enable-debug-command", "yes", "--save", ""]);
    let mut con = s.client();
    fill(&mut con, 100);
    let want = digest(&mut con);
    assert_eq!(info_persist(&mut con, "aof_enabled"), "0");
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("yes").query(&mut con).unwrap();
    assert!(eventually(WAIT, || info_persist(&mut con, "aof_enabled") == "1"
        && info_persist(&mut con, "aof_rewrite_in_progress") == "0"
        && info_persist(&mut con, "aof_rewrite_scheduled") == "0"));
    assert_eq!(
        manifest(&s),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let _: () = redis::cmd("SET").arg("later").arg("1").query(&mut con).unwrap();
    let want2 = digest(&mut con);
    assert_ne!(want, want2);
    drop(con);
    s.stop();
    // Restart with the AOF on (no dump.rdb: save "" and the AOF is the dataset).
    let mut s2 = tine_aof(&[]);
    s2.stop();
    let _ = std::fs::remove_dir_all(aof_dir(&s2));
    copy_dir(&aof_dir(&s), &aof_dir(&s2));
    s2.restart();
    let mut con = s2.client();
    assert_eq!(digest(&mut con), want2);
    drop(con);

    // An old single-file AOF in `dir` is moved into the directory as the base.
    let mut s3 = tine_aof(&[]);
    s3.stop();
    let _ = std::fs::remove_dir_all(aof_dir(&s3));
    std::fs::write(
        s3.path("appendonly.aof"),
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$3\r\nold\r\n$5\r\nstyle\r\n",
    )
    .unwrap();
    s3.restart();
    let mut con = s3.client();
    let v: Option<String> = redis::cmd("GET").arg("old").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("style"));
    assert!(s3.log().contains("Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)."));
    let m = manifest(&s3);
    assert!(m.starts_with("file appendonly.aof seq 1 type b\n"), "{}", m);
    assert!(!s3.path("appendonly.aof").exists());
}

#[test]
fn timestamps_and_transactions_replay() {
    let mut s = tine_aof(&["--aof-timestamp-enabled", "yes"]);
    let mut con = s.client();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut con).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut con).unwrap();
    let _: () = redis::cmd("INCR").arg("a").query(&mut con).unwrap();
    let _: () = redis::cmd("RPUSH").arg("l").arg("x").query(&mut con).unwrap();
    let _: Vec<i64> = redis::cmd("EXEC").query(&mut con).unwrap();
    let want = digest(&mut con);
    let text = String::from_utf8_lossy(&std::fs::read(last_incr(&s)).unwrap()).to_string();
    assert!(text.starts_with("#TS:"), "{:?}", text);
    assert!(text.contains("*1\r\n$5\r\nMULTI\r\n"), "{:?}", text);
    assert!(text.contains("*1\r\n$4\r\nEXEC\r\n"), "{:?}", text);
    drop(con);
    s.stop();
    // An unfinished MULTI at the end is reverted.
    let incr = last_incr(&s);
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n");
    std::fs::write(&incr, &data).unwrap();
    s.restart();
    let mut con = s.client();
    assert_eq!(digest(&mut con), want);
    assert!(s.log().contains(
        "Revert incomplete MULTI/EXEC transaction in AOF file appendonly.aof.1.incr.aof"
    ));
}

/// DEBUG LOADAOF replays the AOF from disk into the dataset (what the suite uses to check an
/// AOF): the same digest after a plain reload, a command appended by hand is loaded, and a
/// damaged file gets an error with the dataset left as it was (Redis would exit).
#[test]
fn debug_loadaof_replays_the_files_on_disk() {
    use std::io::Write;
    let s = tine_aof(&[]);
    let mut con = s.client();
    fill(&mut con, 50);
    let before = digest(&mut con);
    let _: () = redis::cmd("DEBUG").arg("LOADAOF").query(&mut con).unwrap();
    assert_eq!(digest(&mut con), before);
    let mut f = std::fs::OpenOptions::new().append(true).open(last_incr(&s)).unwrap();
    // (the file's last SELECT is fill's db 2)
    f.write_all(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$5\r\nadded\r\n$1\r\n1\r\n")
        .unwrap();
    let _: () = redis::cmd("DEBUG").arg("LOADAOF").query(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg("added").query(&mut con).unwrap();
    assert_eq!(v, "1");
    let loaded = digest(&mut con);
    f.write_all(b"garbage").unwrap();
    let r: redis::RedisResult<()> = redis::cmd("DEBUG").arg("LOADAOF").query(&mut con);
    assert!(r.is_err());
    assert_eq!(digest(&mut con), loaded, "a failed DEBUG LOADAOF changed the data");
    assert!(s.log().contains("Append Only File loaded by DEBUG LOADAOF"));
}
