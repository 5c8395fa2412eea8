//! tine as a replica of the real redis-server 7.0: full syncs from disk-based and diskless
//! primaries into every `repl-diskless-load` mode, under a write load of every type and in
//! several dbs; partial resyncs after the master link is killed; a primary that dies or lies
//! mid-transfer; read-only and stale replicas; expired keys that wait for the primary's DEL;
//! promotion keeping the old history as Redis does; restart continuation from an RDB's
//! repl-id/repl-offset. DEBUG DIGEST says the datasets are equal. Helpers are this file's.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{DIFF_ARGS, RedisServer, TestServer, eventually, info_field};

const SYNC_WAIT: Duration = Duration::from_secs(20);

fn redis_primary(extra: &[&str]) -> TestServer {
    let mut args = DIFF_ARGS.to_vec();
    args.extend(["--repl-diskless-sync-delay", "0"]);
    args.extend(extra);
    RedisServer::with_args(&args).expect("the replication tests need redis-server")
}

fn tine(extra: &[&str]) -> TestServer {
    let mut args = DIFF_ARGS.to_vec();
    args.extend(extra);
    TestServer::with_args(&args)
}

fn cmd<T: redis::FromRedisValue>(s: &TestServer, args: &[&str]) -> redis::RedisResult<T> {
    let mut con = s.client();
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(&mut con)
}

fn info(s: &TestServer, section: &str) -> String {
    cmd(s, &["INFO", section]).unwrap()
}

fn field(s: &TestServer, section: &str, name: &str) -> String {
    info_field(&info(s, section), name).unwrap_or_default()
}

fn digest(s: &TestServer) -> String {
    cmd(s, &["DEBUG", "DIGEST"]).unwrap()
}

fn replicaof(replica: &TestServer, primary: &TestServer) -> String {
    cmd(replica, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]).unwrap()
}

/// The replica's link is up and it applied everything the primary has.
fn in_sync(replica: &TestServer, primary: &TestServer) -> bool {
    let r = info(replica, "replication");
    let p = field(primary, "replication", "master_repl_offset");
    info_field(&r, "master_link_status").as_deref() == Some("up")
        && info_field(&r, "slave_repl_offset") == Some(p)
}

fn wait_in_sync(replica: &TestServer, primary: &TestServer) {
    assert!(
        eventually(SYNC_WAIT, || in_sync(replica, primary)),
        "replica not in sync\n--- replica log ---\n{}\n--- primary log ---\n{}",
        replica.log(),
        primary.log()
    );
}

/// Writes of every type into dbs 0, 3 and 9, with TTLs far in the future (so that nothing
/// expires during the test), a transaction and deletions. `round` makes keys distinct.
fn write_load(s: &TestServer, round: usize) {
    let mut con = s.client();
    for db in [0, 3, 9] {
        redis::cmd("SELECT").arg(db).query::<()>(&mut con).unwrap();
        for i in 0..40 {
            let k = |t: &str| format!("{}:{}:{}", t, round, i);
            let mut p = redis::pipe();
            p.cmd("SET").arg(k("s")).arg(format!("v{}", i)).ignore();
            p.cmd("INCRBY").arg(k("n")).arg(i).ignore();
            p.cmd("RPUSH").arg(k("l")).arg("a").arg(i).arg("c").ignore();
            p.cmd("HSET").arg(k("h")).arg("f").arg(i).arg("g").arg("x").ignore();
            p.cmd("SADD").arg(k("set")).arg(i).arg("m").ignore();
            p.cmd("ZADD").arg(k("z")).arg(i).arg("a").arg(2.5).arg("b").ignore();
            p.cmd("SET").arg(k("e")).arg("x").arg("EX").arg(100_000).ignore();
            p.cmd("PEXPIRE").arg(k("h")).arg(90_000_000).ignore();
            if i % 7 == 0 {
                p.cmd("DEL").arg(k("s")).ignore();
            }
            p.query::<()>(&mut con).unwrap();
        }
        redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(format!("tx:{}", round))
            .arg(db)
            .ignore()
            .cmd("INCR")
            .arg("counter")
            .ignore()
            .query::<()>(&mut con)
            .unwrap();
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

/// One full sync from redis-server (disk-based or diskless) into tine (one load mode), with
/// writes before and during the sync and after it.
fn full_sync(redis_diskless: &str, tine_load: &str) {
    let primary = redis_primary(&["--repl-diskless-sync", redis_diskless]);
    write_load(&primary, 0);
    let replica = tine(&["--repl-diskless-load", tine_load]);
    // Data of its own, which the sync replaces.
    cmd::<()>(&replica, &["SET", "mine", "1"]).unwrap();
    let writer = {
        let port = primary.port;
        std::thread::spawn(move || {
            let mut con = common::connect(port, false);
            for i in 0..300 {
                redis::cmd("SET")
                    .arg(format!("during:{}", i))
                    .arg(i)
                    .query::<()>(&mut con)
                    .unwrap();
            }
        })
    };
    assert_eq!(replicaof(&replica, &primary), "OK");
    writer.join().unwrap();
    wait_in_sync(&replica, &primary);
    write_load(&primary, 1);
    wait_in_sync(&replica, &primary);
    assert_eq!(digest(&replica), digest(&primary), "{} -> {}", redis_diskless, tine_load);
    assert_eq!(
        field(&replica, "replication", "master_replid"),
        field(&primary, "replication", "master_replid")
    );
    assert!(temp_files(&replica).is_empty());
    let log = replica.log();
    assert!(log.contains("MASTER <-> REPLICA sync: Finished with success"), "{}", log);
    let role: Vec<redis::Value> = cmd(&replica, &["ROLE"]).unwrap();
    assert_eq!(role.len(), 5);
    assert_eq!(role[0], redis::Value::BulkString(b"slave".to_vec()));
    assert_eq!(role[3], redis::Value::BulkString(b"connected".to_vec()));
}

#[test]
fn full_sync_from_diskless_redis_to_disk() {
    full_sync("yes", "disabled");
}

#[test]
fn full_sync_from_disk_redis_to_disk() {
    full_sync("no", "disabled");
}

#[test]
fn full_sync_from_diskless_redis_swapdb() {
    full_sync("yes", "swapdb");
}

#[test]
fn full_sync_from_disk_redis_swapdb() {
    full_sync("no", "swapdb");
}

#[test]
fn killed_master_link_continues_with_partial_resync() {
    let primary = redis_primary(&[]);
    write_load(&primary, 0);
    let replica = tine(&[]);
    replicaof(&replica, &primary);
    wait_in_sync(&replica, &primary);
    assert_eq!(field(&primary, "stats", "sync_partial_ok"), "0");
    let killed: i64 = cmd(&replica, &["CLIENT", "KILL", "TYPE", "master"]).unwrap();
    assert_eq!(killed, 1);
    write_load(&primary, 1);
    wait_in_sync(&replica, &primary);
    assert_eq!(field(&primary, "stats", "sync_partial_ok"), "1", "{}", replica.log());
    assert_eq!(field(&primary, "stats", "sync_full"), "1");
    assert_eq!(digest(&replica), digest(&primary));
    assert!(replica.log().contains("Successful partial resynchronization with master."));
}

/// A primary killed while its child streams the RDB slowly (`rdb-key-save-delay`): the
/// replica keeps its own data (swapdb parses into a new keyspace; disabled drops only the
/// temp file), leaves no temp file, and retries.
fn primary_dies_mid_transfer(tine_load: &str) {
    let primary = redis_primary(&["--rdb-key-save-delay", "2000"]);
    cmd::<()>(&primary, &["DEBUG", "POPULATE", "3000", "big", "100"]).unwrap();
    let replica = tine(&["--repl-diskless-load", tine_load]);
    write_load(&replica, 7);
    let before = digest(&replica);
    replicaof(&replica, &primary);
    assert!(eventually(SYNC_WAIT, || {
        let i = info(&replica, "replication");
        info_field(&i, "master_sync_in_progress").as_deref() == Some("1")
            && info_field(&i, "master_sync_read_bytes").is_some_and(|b| b != "0")
    }));
    primary.signal(libc::SIGKILL);
    // Streamed to the parser, the cut is the parser's short read, logged as Redis's loader.
    let logged = if tine_load == "swapdb" {
        "Internal error in RDB reading offset"
    } else {
        "I/O error trying to sync with MASTER"
    };
    assert!(eventually(SYNC_WAIT, || {
        field(&replica, "replication", "master_sync_in_progress") == "0"
            && field(&replica, "persistence", "async_loading") == "0"
            && replica.log().contains(logged)
    }));
    assert_eq!(digest(&replica), before);
    assert!(temp_files(&replica).is_empty(), "{:?}", temp_files(&replica));
    assert_eq!(field(&replica, "replication", "master_link_status"), "down");
}

#[test]
fn swapdb_keeps_old_data_when_the_primary_dies() {
    primary_dies_mid_transfer("swapdb");
}

#[test]
fn disk_load_leaves_no_temp_file_when_the_primary_dies() {
    primary_dies_mid_transfer("disabled");
}

#[test]
fn read_only_and_stale_replica() {
    let primary = redis_primary(&[]);
    let replica = tine(&["--replica-serve-stale-data", "no"]);
    replicaof(&replica, &primary);
    wait_in_sync(&replica, &primary);
    let mut raw = replica.raw();
    assert_eq!(
        raw.cmd_str(&["SET", "k", "v"]),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(raw.cmd_str(&["GET", "k"]), "$-1\r\n");
    // A master that is down: only commands flagged `stale` run.
    primary.signal(libc::SIGKILL);
    assert!(eventually(SYNC_WAIT, || {
        field(&replica, "replication", "master_link_status") == "down"
    }));
    assert_eq!(
        raw.cmd_str(&["GET", "k"]),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    // As redis-server: PING is not flagged `stale`, ECHO is.
    assert!(raw.cmd_str(&["PING"]).starts_with("-MASTERDOWN"));
    assert_eq!(raw.cmd_str(&["ECHO", "a"]), "$1\r\na\r\n");
    assert!(raw.cmd_str(&["INFO", "replication"]).contains("master_link_down_since_seconds"));
    assert_eq!(raw.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
}

#[test]
fn replicaof_replies_as_redis() {
    let primary = redis_primary(&[]);
    let replica = tine(&[]);
    let reference = redis_primary(&[]);
    for s in [&replica, &reference] {
        let mut raw = s.raw();
        let port = primary.port.to_string();
        assert_eq!(raw.cmd_str(&["REPLICAOF", "127.0.0.1", &port]), "+OK\r\n");
        assert_eq!(
            raw.cmd_str(&["REPLICAOF", "127.0.0.1", &port]),
            "+OK Already connected to specified master\r\n"
        );
        assert_eq!(raw.cmd_str(&["SLAVEOF", "127.0.0.1", "x"]), "-ERR Invalid master port\r\n");
        assert_eq!(
            raw.cmd_str(&["REPLICAOF", "127.0.0.1", "65536"]),
            "-ERR Invalid master port\r\n"
        );
        wait_in_sync(s, &primary);
        assert_eq!(raw.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
        assert_eq!(raw.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    }
}

#[test]
fn expired_keys_wait_for_the_primarys_del() {
    let primary = redis_primary(&[]);
    cmd::<()>(&primary, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).unwrap();
    let replica = tine(&[]);
    replicaof(&replica, &primary);
    wait_in_sync(&replica, &primary);
    cmd::<()>(&primary, &["SET", "gone", "x", "PX", "150"]).unwrap();
    cmd::<()>(&primary, &["SET", "stays", "y"]).unwrap();
    wait_in_sync(&replica, &primary);
    std::thread::sleep(Duration::from_millis(300));
    let mut raw = replica.raw();
    assert_eq!(raw.cmd_str(&["GET", "gone"]), "$-1\r\n");
    assert_eq!(raw.cmd_str(&["EXISTS", "gone"]), ":0\r\n");
    assert_eq!(raw.cmd_str(&["TTL", "gone"]), ":-2\r\n");
    // Still there: only the primary's DEL removes it.
    assert_eq!(raw.cmd_str(&["DBSIZE"]), ":2\r\n");
    assert_eq!(field(&replica, "stats", "expired_keys"), "0");
    std::thread::sleep(Duration::from_millis(1200)); // no active expiry either
    assert_eq!(raw.cmd_str(&["DBSIZE"]), ":2\r\n");
    // The primary expires it on access and sends DEL.
    assert_eq!(cmd::<Option<String>>(&primary, &["GET", "gone"]).unwrap(), None);
    assert!(eventually(SYNC_WAIT, || raw.cmd_str(&["DBSIZE"]) == ":1\r\n"));
    wait_in_sync(&replica, &primary);
    assert_eq!(digest(&replica), digest(&primary));
}

#[test]
fn promotion_keeps_the_old_history_as_redis_does() {
    let primary = redis_primary(&[]);
    let replica = tine(&[]);
    let sibling = redis_primary(&[]);
    replicaof(&replica, &primary);
    replicaof(&sibling, &primary);
    write_load(&primary, 0);
    wait_in_sync(&replica, &primary);
    wait_in_sync(&sibling, &primary);
    let old_id = field(&primary, "replication", "master_replid");
    let offset: i64 = field(&primary, "replication", "master_repl_offset").parse().unwrap();
    for s in [&replica, &sibling] {
        assert_eq!(cmd::<String>(s, &["REPLICAOF", "NO", "ONE"]).unwrap(), "OK");
        let i = info(s, "replication");
        assert_eq!(info_field(&i, "role").unwrap(), "master");
        assert_eq!(info_field(&i, "master_replid2").unwrap(), old_id);
        assert_eq!(info_field(&i, "second_repl_offset").unwrap(), (offset + 1).to_string());
        assert_eq!(info_field(&i, "master_repl_offset").unwrap(), offset.to_string());
        assert_ne!(info_field(&i, "master_replid").unwrap(), old_id);
        assert_eq!(info_field(&i, "repl_backlog_active").unwrap(), "1");
    }
    assert!(replica.log().contains("MASTER MODE enabled (user request from"));
    // Turned back into replicas of the old primary, both ask to continue their new history,
    // which the primary does not know: a full sync each, as redis-server's.
    replicaof(&replica, &primary);
    replicaof(&sibling, &primary);
    write_load(&primary, 1);
    wait_in_sync(&replica, &primary);
    wait_in_sync(&sibling, &primary);
    assert_eq!(field(&primary, "stats", "sync_full"), "4");
    assert_eq!(digest(&replica), digest(&primary));
}

#[test]
fn restart_continues_from_the_rdb_history() {
    let primary = redis_primary(&[]);
    write_load(&primary, 0);
    // A redis replica's RDB holds repl-id / repl-offset: tine starts from it as a replica.
    let donor = redis_primary(&[]);
    replicaof(&donor, &primary);
    wait_in_sync(&donor, &primary);
    cmd::<()>(&donor, &["SAVE"]).unwrap();
    let rdb = std::fs::read(donor.path("dump.rdb")).unwrap();
    drop(donor);
    let conf =
        format!("replicaof 127.0.0.1 {}\nenable-debug-command yes\nsave \"\"\n", primary.port);
    let mut replica = TestServer::with_config(&conf);
    replica.stop();
    std::fs::write(replica.path("dump.rdb"), rdb).unwrap();
    let full_before = field(&primary, "stats", "sync_full");
    replica.restart();
    write_load(&primary, 1);
    wait_in_sync(&replica, &primary);
    assert_eq!(field(&primary, "stats", "sync_partial_ok"), "1", "{}", replica.log());
    assert_eq!(field(&primary, "stats", "sync_full"), full_before);
    assert_eq!(digest(&replica), digest(&primary));
}

#[test]
fn a_lying_or_garbage_primary_leaves_the_data_intact() {
    for load in ["disabled", "swapdb"] {
        for payload in [
            b"\n\n$100\r\nREDIS0010 short".to_vec(),
            b"$EOF:0123456789012345678901234567890123456789\r\nREDIS0010garbage-garbage".to_vec(),
            b"$30\r\nthis is not an rdb file at all".to_vec(),
            b"+what is this\r\n".to_vec(),
        ] {
            let replica = tine(&["--repl-diskless-load", load]);
            write_load(&replica, 3);
            let before = digest(&replica);
            let (port, h) = common::fake_primary(payload.clone(), Duration::from_millis(100));
            cmd::<()>(&replica, &["REPLICAOF", "127.0.0.1", &port.to_string()]).unwrap();
            h.join().unwrap();
            assert!(eventually(SYNC_WAIT, || {
                let l = replica.log();
                l.contains("I/O error trying to sync with MASTER")
                    || l.contains("Failed trying to load the MASTER synchronization DB")
                    || l.contains("Bad protocol from MASTER")
            }));
            assert!(eventually(SYNC_WAIT, || field(
                &replica,
                "replication",
                "master_sync_in_progress"
            ) == "0"
                && field(&replica, "persistence", "loading") == "0"));
            assert_eq!(
                digest(&replica),
                before,
                "{} {:?}",
                load,
                String::from_utf8_lossy(&payload)
            );
            assert!(temp_files(&replica).is_empty());
            assert_eq!(cmd::<String>(&replica, &["PING"]).unwrap(), "PONG");
        }
    }
}

#[test]
fn wait_on_the_primary_counts_the_replica_acks() {
    let primary = redis_primary(&[]);
    let replica = tine(&["--repl-diskless-load", "on-empty-db"]);
    replicaof(&replica, &primary);
    wait_in_sync(&replica, &primary);
    let mut con = primary.client();
    for i in 0..20 {
        redis::cmd("SET").arg("w").arg(i).query::<()>(&mut con).unwrap();
        // REPLCONF GETACK from the primary is answered by the master client's input path.
        let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut con).unwrap();
        assert_eq!(acked, 1);
    }
    // The replica's own backlog holds the primary's stream since the sync, byte for byte
    // as many as the primary's offset moved.
    wait_in_sync(&replica, &primary);
    let r = info(&replica, "replication");
    assert_eq!(
        info_field(&r, "master_repl_offset"),
        Some(field(&primary, "replication", "master_repl_offset"))
    );
    assert_eq!(info_field(&r, "repl_backlog_active").as_deref(), Some("1"));
    assert!(replica.log().contains("receiving streamed RDB from master with EOF to parser"));
}

/// A full resync of the same history (the replica fell out of the primary's backlog) with
/// swapdb: reads are served from the old data while the new one loads (async loading, seed
/// 000), never refused with -LOADING, and the datasets are swapped at the end.
#[test]
fn swapdb_full_resync_of_the_same_history_keeps_serving_reads() {
    let primary = redis_primary(&["--repl-backlog-size", "16384"]);
    // Over 2 MB of values LZF cannot shrink: parsed on the loader thread, not inline.
    let mut con = primary.client();
    let mut seed: u64 = 7;
    for chunk in 0..30 {
        let mut p = redis::pipe();
        for i in 0..100 {
            let v: String = (0..1000)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (b'a' + (seed >> 59) as u8 % 26) as char
                })
                .collect();
            p.cmd("SET").arg(format!("key:{}", chunk * 100 + i)).arg(v).ignore();
        }
        p.query::<()>(&mut con).unwrap();
    }
    let replica = tine(&["--repl-diskless-load", "swapdb"]);
    replicaof(&replica, &primary);
    wait_in_sync(&replica, &primary);
    // The replica stops reading for a moment; the primary drops it and writes past its
    // backlog, so the replica's PSYNC of the same id ends in +FULLRESYNC.
    let port = replica.port;
    let sleeper = std::thread::spawn(move || {
        let mut con = common::connect(port, false);
        redis::cmd("DEBUG").arg("SLEEP").arg("1").query::<()>(&mut con).unwrap();
    });
    std::thread::sleep(Duration::from_millis(200));
    cmd::<i64>(&primary, &["CLIENT", "KILL", "TYPE", "replica"]).unwrap();
    let big = "x".repeat(1024);
    for i in 0..100 {
        cmd::<()>(&primary, &["SET", &format!("big:{}", i), &big]).unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut raw = common::Raw::connect(port);
            let mut refused = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if raw.cmd_str(&["GET", "key:1"]).starts_with("-LOADING") {
                    refused += 1;
                }
            }
            refused
        })
    };
    sleeper.join().unwrap();
    wait_in_sync(&replica, &primary);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(reader.join().unwrap(), 0);
    assert_eq!(field(&primary, "stats", "sync_full"), "2");
    assert!(replica.log().contains("MASTER <-> REPLICA sync: Swapping active DB with loaded DB"));
    assert_eq!(digest(&replica), digest(&primary));
}

#[test]
fn authenticates_with_masteruser_and_masterauth() {
    let primary = redis_primary(&["--requirepass", "s3cret"]);
    let replica = tine(&["--masteruser", "default", "--masterauth", "s3cret"]);
    replicaof(&replica, &primary);
    let mut p = primary.client();
    redis::cmd("AUTH").arg("s3cret").query::<()>(&mut p).unwrap();
    redis::cmd("SET").arg("k").arg("v").query::<()>(&mut p).unwrap();
    assert!(eventually(SYNC_WAIT, || cmd::<Option<String>>(&replica, &["GET", "k"])
        .unwrap()
        .is_some()));
    // A wrong password: the handshake stops at AUTH, in Redis's words, and is retried.
    let other = tine(&["--masterauth", "wrong"]);
    replicaof(&other, &primary);
    assert!(eventually(SYNC_WAIT, || other.log().contains("Unable to AUTH to MASTER: WRONGPASS")));
    assert_eq!(field(&other, "replication", "master_link_status"), "down");
}

#[test]
fn a_replica_with_the_aof_on_rewrites_it_after_a_full_sync() {
    let primary = redis_primary(&[]);
    write_load(&primary, 0);
    let mut replica = tine(&["--appendonly", "yes"]);
    cmd::<()>(&replica, &["SET", "mine", "1"]).unwrap();
    replicaof(&replica, &primary);
    wait_in_sync(&replica, &primary);
    write_load(&primary, 1);
    wait_in_sync(&replica, &primary);
    assert!(eventually(SYNC_WAIT, || {
        let p = info(&replica, "persistence");
        info_field(&p, "aof_rewrite_in_progress").as_deref() == Some("0")
            && info_field(&p, "aof_rewrite_scheduled").as_deref() == Some("0")
            && info_field(&p, "aof_enabled").as_deref() == Some("1")
    }));
    let want = digest(&primary);
    // Restarted on its AOF alone (no replicaof): the synced dataset, not the old one.
    cmd::<()>(&replica, &["CONFIG", "SET", "appendfsync", "always"]).unwrap();
    cmd::<()>(&primary, &["SET", "last", "1"]).unwrap();
    wait_in_sync(&replica, &primary);
    let want_after = digest(&primary);
    assert_ne!(want, want_after);
    replica.stop();
    replica.restart();
    assert!(eventually(SYNC_WAIT, || field(&replica, "persistence", "loading") == "0"));
    assert_eq!(digest(&replica), want_after);
}

/// The names of INFO replication's fields, in order.
fn field_names(s: &TestServer) -> Vec<String> {
    info(s, "replication")
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn info_replication_has_redis_fields_in_redis_order() {
    let primary = redis_primary(&[]);
    let replica = tine(&[]);
    let reference = redis_primary(&[]);
    for s in [&replica, &reference] {
        replicaof(s, &primary);
        wait_in_sync(s, &primary);
    }
    assert_eq!(field_names(&replica), field_names(&reference));
    // A link down: master_link_down_since_seconds appears, in the same place.
    primary.signal(libc::SIGKILL);
    assert!(eventually(SYNC_WAIT, || {
        [&replica, &reference]
            .iter()
            .all(|s| field(s, "replication", "master_link_status") == "down")
    }));
    assert_eq!(field_names(&replica), field_names(&reference));
    let role: Vec<redis::Value> = cmd(&replica, &["ROLE"]).unwrap();
    let want: Vec<redis::Value> = cmd(&reference, &["ROLE"]).unwrap();
    assert_eq!(role[0], want[0]);
    assert_eq!(role.len(), want.len());
}

/// A primary that answers the handshake up to `answers` commands (the last with `last`), then
/// holds the connection open, silent.
fn silent_primary(answers: usize, last: &'static [u8]) -> (u16, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut got = Vec::new();
        let mut answered = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(8);
        let mut buf = [0u8; 4096];
        while std::time::Instant::now() < deadline {
            match s.read(&mut buf) {
                Ok(0) => return, // the replica gave up: done
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            let cmds = got.iter().filter(|&&b| b == b'*').count().min(answers);
            while answered < cmds {
                answered += 1;
                let reply: &[u8] = if answered == answers { last } else { b"+OK\r\n" };
                s.write_all(reply).unwrap();
            }
        }
    });
    (port, h)
}

#[test]
fn repl_timeout_during_handshake_and_transfer() {
    // Silent after PING: the handshake times out.
    let replica = tine(&["--repl-timeout", "1"]);
    write_load(&replica, 2);
    let before = digest(&replica);
    let (port, h) = silent_primary(0, b"");
    cmd::<()>(&replica, &["REPLICAOF", "127.0.0.1", &port.to_string()]).unwrap();
    assert!(eventually(SYNC_WAIT, || replica
        .log()
        .contains("Timeout connecting to the MASTER...")));
    h.join().unwrap();
    // Silent in the middle of a payload: the transfer times out, the temp file goes.
    let (port, h) = silent_primary(
        4,
        b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$1000\r\nREDIS0010",
    );
    cmd::<()>(&replica, &["REPLICAOF", "127.0.0.1", &port.to_string()]).unwrap();
    assert!(eventually(SYNC_WAIT, || replica
        .log()
        .contains("Timeout receiving bulk data from MASTER...")));
    h.join().unwrap();
    assert!(temp_files(&replica).is_empty());
    assert_eq!(digest(&replica), before);
}

#[test]
fn blocked_clients_are_unblocked_when_becoming_a_replica() {
    let primary = redis_primary(&[]);
    let replica = tine(&[]);
    let reference = redis_primary(&[]);
    for s in [&replica, &reference] {
        let mut blocked = s.raw();
        blocked.send_cmd(&["BLPOP", "list", "0"]);
        assert!(eventually(SYNC_WAIT, || field(s, "clients", "blocked_clients") == "1"));
        replicaof(s, &primary);
        assert_eq!(
            String::from_utf8_lossy(&blocked.reply()),
            "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n"
        );
        assert!(eventually(SYNC_WAIT, || field(s, "clients", "blocked_clients") == "0"));
    }
}

#[test]
fn a_primary_that_cannot_psync_yet_is_retried() {
    let replica = tine(&[]);
    for reply in [
        &b"-LOADING Redis is loading the dataset in memory\r\n"[..],
        &b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n"[..],
    ] {
        let (port, h) = silent_primary(4, reply);
        cmd::<()>(&replica, &["REPLICAOF", "127.0.0.1", &port.to_string()]).unwrap();
        h.join().unwrap();
        assert!(
            replica
                .log()
                .contains("Master is currently unable to PSYNC but should be in the future")
        );
        // Retried from the cron: a refused connect now, the listener being gone.
        assert!(eventually(SYNC_WAIT, || replica
            .log()
            .contains("Error condition on socket for SYNC")));
    }
}

/// A writable replica expires the keys its own clients gave a TTL (Redis 7.0's
/// slaveKeysWithExpire), and only those: a key of its primary waits for the primary's DEL.
/// The primary's bytes count as `total_net_repl_input_bytes`, not as client input.
#[test]
fn a_writable_replica_expires_its_own_keys_only() {
    let p = redis_primary(&[]);
    let r = tine(&[]);
    assert_eq!(replicaof(&r, &p), "OK");
    cmd::<()>(&p, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).unwrap();
    cmd::<()>(&p, &["SET", "theirs", "1", "PX", "300"]).unwrap();
    wait_in_sync(&r, &p);
    cmd::<()>(&r, &["CONFIG", "SET", "replica-read-only", "no"]).unwrap();
    cmd::<()>(&r, &["SET", "mine", "1", "PX", "300"]).unwrap();
    cmd::<()>(&r, &["SET", "mine-kept", "1", "EX", "1000"]).unwrap();
    cmd::<()>(&r, &["SET", "persisted", "1", "PX", "300"]).unwrap();
    cmd::<()>(&r, &["PERSIST", "persisted"]).unwrap();
    assert!(eventually(Duration::from_secs(5), || {
        field(&r, "stats", "slave_expires_tracked_keys") == "3"
    }));
    // Its own key goes; the primary's stays (expired, hidden) until the primary deletes it.
    assert!(
        eventually(Duration::from_secs(5), || cmd::<i64>(&r, &["DBSIZE"]).unwrap() == 3),
        "{}",
        r.log()
    );
    assert_eq!(cmd::<i64>(&r, &["EXISTS", "theirs", "mine"]).unwrap(), 0);
    assert_eq!(field(&r, "stats", "expired_keys"), "1");
    assert_eq!(field(&r, "stats", "slave_expires_tracked_keys"), "1");
    cmd::<()>(&p, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).unwrap();
    assert!(eventually(Duration::from_secs(5), || cmd::<i64>(&r, &["DBSIZE"]).unwrap() == 2));
    let repl_in: u64 = field(&r, "stats", "total_net_repl_input_bytes").parse().unwrap();
    assert!(repl_in > 0, "no replication input counted");
    // REPLICAOF NO ONE: a primary tracks nothing apart.
    assert_eq!(cmd::<String>(&r, &["REPLICAOF", "NO", "ONE"]).unwrap(), "OK");
    assert_eq!(field(&r, "stats", "slave_expires_tracked_keys"), "0");
}

/// The master client is not held by CLIENT PAUSE and is not refused with -MISCONF: the
/// replica keeps applying its primary's stream while its own clients are paused (as Redis),
/// and after its own background save failed (Redis 7.0 panics there unless
/// `replica-ignore-disk-write-errors yes`; tine applies it, as with that setting).
#[test]
fn the_primarys_stream_passes_client_pause_and_misconf() {
    let p = redis_primary(&[]);
    let r = tine(&[]);
    assert_eq!(replicaof(&r, &p), "OK");
    wait_in_sync(&r, &p);
    cmd::<()>(&r, &["CLIENT", "PAUSE", "20000", "WRITE"]).unwrap();
    cmd::<()>(&p, &["SET", "while-paused", "1"]).unwrap();
    wait_in_sync(&r, &p);
    assert_eq!(cmd::<Option<String>>(&r, &["GET", "while-paused"]).unwrap().as_deref(), Some("1"));
    cmd::<()>(&r, &["CLIENT", "UNPAUSE"]).unwrap();

    // A failed BGSAVE (its child killed), with a save point so that it stops writes.
    cmd::<()>(&r, &["CONFIG", "SET", "save", "3600 1000"]).unwrap();
    cmd::<()>(&r, &["CONFIG", "SET", "rdb-key-save-delay", "1000000"]).unwrap();
    cmd::<String>(&r, &["BGSAVE"]).unwrap();
    let child = || {
        let out = std::process::Command::new("ps")
            .args(["--ppid", &r.pid().to_string(), "-o", "pid="])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().map(str::to_string)
    };
    assert!(eventually(Duration::from_secs(5), || child().is_some()));
    let pid: i32 = child().unwrap().parse().unwrap();
    // SAFETY: kill(2) on the pid of the replica's own fork child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(eventually(Duration::from_secs(5), || {
        field(&r, "persistence", "rdb_last_bgsave_status") == "err"
    }));
    cmd::<()>(&r, &["CONFIG", "SET", "replica-read-only", "no"]).unwrap();
    let refused = cmd::<()>(&r, &["SET", "own", "1"]).unwrap_err();
    assert_eq!(refused.code(), Some("MISCONF"), "{:?}", refused);
    cmd::<()>(&p, &["SET", "after-failed-save", "1"]).unwrap();
    wait_in_sync(&r, &p);
    assert_eq!(
        cmd::<Option<String>>(&r, &["GET", "after-failed-save"]).unwrap().as_deref(),
        Some("1")
    );
}
