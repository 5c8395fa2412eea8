//! A replica's full sync of the history it already follows (`repl-diskless-load swapdb`,
//! the primary's replid unchanged): the old data keeps serving reads while the new dataset is
//! parsed (`async_loading:1`, not `loading`), what Redis refuses meanwhile is refused with
//! -LOADING, a transfer that fails half way loses nothing, and a successful one replaces the
//! data. Each scenario runs with tine as primary and replica, then with redis-server 7.0 as
//! both, and the observations must match. Also: a primary that sends part of a payload and
//! closes at once is noticed at once (not at `repl-timeout`), with Redis's log lines.

mod common;

use std::time::Duration;

use common::{DIFF_ARGS, RedisServer, TestServer, eventually, info_field};

const WAIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Tine,
    Redis,
}

fn server(kind: Kind, extra: &[&str]) -> TestServer {
    let mut args = DIFF_ARGS.to_vec();
    args.extend(extra);
    match kind {
        Kind::Tine => TestServer::with_args(&args),
        Kind::Redis => RedisServer::with_args(&args).expect("these tests need redis-server"),
    }
}

fn cmd<T: redis::FromRedisValue>(s: &TestServer, args: &[&str]) -> redis::RedisResult<T> {
    let mut con = s.client();
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(&mut con)
}

fn field(s: &TestServer, section: &str, name: &str) -> String {
    let info: String = cmd(s, &["INFO", section]).unwrap();
    info_field(&info, name).unwrap_or_default()
}

fn digest(s: &TestServer) -> String {
    cmd(s, &["DEBUG", "DIGEST"]).unwrap()
}

/// "OK" for a success, the error code otherwise.
fn error_of(s: &TestServer, args: &[&str]) -> String {
    match cmd::<redis::Value>(s, args) {
        Ok(_) => "OK".to_string(),
        Err(e) => e.code().unwrap_or("?").to_string(),
    }
}

fn wait_link_up(replica: &TestServer, primary: &TestServer) {
    assert!(
        eventually(WAIT, || field(replica, "replication", "master_link_status") == "up"
            && field(replica, "replication", "slave_repl_offset")
                == field(primary, "replication", "master_repl_offset")),
        "no sync\n--- replica ---\n{}\n--- primary ---\n{}",
        replica.log(),
        primary.log()
    );
}

/// The suite's setup (integration/replication, "Diskless load swapdb (async_loading)"): a
/// replica in sync, then data of its own, then a primary with other data that drops the
/// replica inside a transaction which writes past its backlog, so the replica's PSYNC of the
/// same history ends in a full sync, streamed slowly (`rdb-key-save-delay`).
fn setup(kind: Kind) -> (TestServer, TestServer) {
    let primary = server(
        kind,
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
            "--rdbcompression",
            "no",
        ],
    );
    // Redis's loader answers clients only every so many bytes (2 MB by default).
    let replica = server(
        kind,
        &[
            "--repl-diskless-load",
            "swapdb",
            "--replica-read-only",
            "no",
            "--loading-process-events-interval-bytes",
            "1024",
        ],
    );
    cmd::<()>(&replica, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]).unwrap();
    wait_link_up(&replica, &primary);
    cmd::<()>(&replica, &["DEBUG", "POPULATE", "200", "replica", "10"]).unwrap();
    cmd::<()>(&primary, &["DEBUG", "POPULATE", "200", "primary", "1000"]).unwrap();
    cmd::<()>(&replica, &["SET", "mykey", "myvalue"]).unwrap();
    cmd::<()>(&primary, &["CONFIG", "SET", "rdb-key-save-delay", "20000"]).unwrap();
    let mut con = primary.client();
    let big = "A".repeat(16384);
    let mut p = redis::pipe();
    p.atomic().cmd("CLIENT").arg("KILL").arg("TYPE").arg("replica");
    p.cmd("CONFIG").arg("SET").arg("repl-backlog-size").arg("16384");
    for i in 0..10 {
        p.cmd("SET").arg(format!("{} string_{}", i, i)).arg(&big);
    }
    p.query::<redis::Value>(&mut con).unwrap();
    (primary, replica)
}

/// What a client of the replica sees while it loads, then after the primary dropped it.
#[derive(Debug, PartialEq)]
struct Aborted {
    loading: String,
    get: Option<String>,
    dbsize: i64,
    config_set_appendonly: String,
    config_set_other: String,
    replicaof_no_one: String,
    still_async: String,
    after_get: Option<String>,
    after_dbsize: i64,
    digest_kept: bool,
}

fn aborted(kind: Kind) -> Aborted {
    let (primary, replica) = setup(kind);
    let before = digest(&replica);
    assert!(
        eventually(WAIT, || field(&replica, "persistence", "async_loading") == "1"),
        "{:?}: no async loading\n{}",
        kind,
        replica.log()
    );
    let seen = (
        field(&replica, "persistence", "loading"),
        cmd::<Option<String>>(&replica, &["GET", "mykey"]).unwrap(),
        cmd::<i64>(&replica, &["DBSIZE"]).unwrap(),
        error_of(&replica, &["CONFIG", "SET", "appendonly", "no"]),
        error_of(&replica, &["CONFIG", "SET", "maxmemory-samples", "5"]),
        error_of(&replica, &["REPLICAOF", "NO", "ONE"]),
        field(&replica, "persistence", "async_loading"),
    );
    // The next sync waits, so the replica is caught between the two.
    cmd::<()>(&primary, &["CONFIG", "SET", "repl-diskless-sync-delay", "5"]).unwrap();
    cmd::<i64>(&primary, &["CLIENT", "KILL", "TYPE", "replica"]).unwrap();
    assert!(eventually(WAIT, || field(&replica, "persistence", "async_loading") == "0"));
    let result = Aborted {
        loading: seen.0,
        get: seen.1,
        dbsize: seen.2,
        config_set_appendonly: seen.3,
        config_set_other: seen.4,
        replicaof_no_one: seen.5,
        still_async: seen.6,
        after_get: cmd(&replica, &["GET", "mykey"]).unwrap(),
        after_dbsize: cmd(&replica, &["DBSIZE"]).unwrap(),
        digest_kept: digest(&replica) == before,
    };
    // Redis's loader logs the cut in these words; tine's says the same.
    assert!(
        eventually(WAIT, || replica.log().contains("Internal error in RDB reading offset")),
        "{:?}\n{}",
        kind,
        replica.log()
    );
    cmd::<()>(&primary, &["CONFIG", "SET", "rdb-key-save-delay", "0"]).unwrap();
    result
}

#[test]
fn an_aborted_async_load_serves_and_keeps_the_old_data_as_redis() {
    let ours = aborted(Kind::Tine);
    assert_eq!(
        ours,
        Aborted {
            loading: "0".into(),
            get: Some("myvalue".into()),
            dbsize: 201,
            config_set_appendonly: "LOADING".into(),
            config_set_other: "OK".into(),
            replicaof_no_one: "LOADING".into(),
            still_async: "1".into(),
            after_get: Some("myvalue".into()),
            after_dbsize: 201,
            digest_kept: true,
        }
    );
    assert_eq!(ours, aborted(Kind::Redis));
}

/// The same setup, the sync left to finish: the new dataset replaces the old one.
fn successful(kind: Kind) -> (Option<String>, i64, bool) {
    let (primary, replica) = setup(kind);
    cmd::<()>(&primary, &["CONFIG", "SET", "rdb-key-save-delay", "0"]).unwrap();
    wait_link_up(&replica, &primary);
    (
        cmd(&replica, &["GET", "mykey"]).unwrap(),
        cmd(&replica, &["DBSIZE"]).unwrap(),
        digest(&replica) == digest(&primary),
    )
}

#[test]
fn a_successful_async_load_replaces_the_data_as_redis() {
    let ours = successful(Kind::Tine);
    assert_eq!(ours, (None, 210, true));
    assert_eq!(ours, successful(Kind::Redis));
}

/// A CLIENT KILL of a replica inside MULTI: none of the transaction's writes reach it (Redis
/// frees it at once), so when they overflow the backlog its PSYNC ends in a full sync.
fn kill_in_multi(kind: Kind) -> (String, String) {
    let primary = server(kind, &["--repl-diskless-sync-delay", "0"]);
    let replica = server(kind, &[]);
    cmd::<()>(&replica, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]).unwrap();
    wait_link_up(&replica, &primary);
    // One command at a time, as the suite's client sends them.
    let mut con = primary.client();
    let big = "A".repeat(16384);
    redis::cmd("MULTI").query::<()>(&mut con).unwrap();
    redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("replica").query::<()>(&mut con).unwrap();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("repl-backlog-size")
        .arg("16384")
        .query::<()>(&mut con)
        .unwrap();
    for i in 0..10 {
        redis::cmd("SET").arg(format!("k{}", i)).arg(&big).query::<()>(&mut con).unwrap();
    }
    redis::cmd("EXEC").query::<redis::Value>(&mut con).unwrap();
    // The replica came back, by a full or a partial sync.
    assert!(eventually(WAIT, || {
        let n = |f| field(&primary, "stats", f).parse::<i64>().unwrap_or(0);
        n("sync_full") + n("sync_partial_ok") == 2
    }));
    wait_link_up(&replica, &primary);
    assert_eq!(digest(&replica), digest(&primary));
    (field(&primary, "stats", "sync_full"), field(&primary, "stats", "sync_partial_ok"))
}

#[test]
fn a_replica_killed_inside_multi_gets_none_of_it() {
    let ours = kill_in_multi(Kind::Tine);
    assert_eq!(ours, ("2".to_string(), "0".to_string()));
    assert_eq!(ours, kill_in_multi(Kind::Redis));
}

#[test]
fn a_primary_closing_mid_payload_is_noticed_at_once() {
    // A real RDB, of which the fake primary sends the first half.
    let source = server(Kind::Tine, &[]);
    cmd::<()>(&source, &["DEBUG", "POPULATE", "5000", "k", "100"]).unwrap();
    cmd::<()>(&source, &["SAVE"]).unwrap();
    let rdb = std::fs::read(source.path("dump.rdb")).unwrap();
    for (load, eof_mark) in [("swapdb", true), ("swapdb", false), ("disabled", true)] {
        let mut payload = if eof_mark {
            b"$EOF:0123456789012345678901234567890123456789\r\n".to_vec()
        } else {
            format!("${}\r\n", rdb.len()).into_bytes()
        };
        payload.extend_from_slice(&rdb[..rdb.len() / 2]);
        // repl-timeout far away: the end of the link must be what stops the transfer.
        let replica = server(Kind::Tine, &["--repl-diskless-load", load, "--repl-timeout", "600"]);
        cmd::<()>(&replica, &["DEBUG", "POPULATE", "100", "old", "10"]).unwrap();
        let before = digest(&replica);
        let (port, h) = common::fake_primary(payload, Duration::ZERO);
        cmd::<()>(&replica, &["REPLICAOF", "127.0.0.1", &port.to_string()]).unwrap();
        h.join().unwrap();
        let expected = if load == "swapdb" {
            "Internal error in RDB reading offset"
        } else {
            "I/O error trying to sync with MASTER"
        };
        assert!(
            eventually(Duration::from_secs(5), || replica.log().contains(expected)),
            "{} mark {}: {}",
            load,
            eof_mark,
            replica.log()
        );
        assert!(eventually(WAIT, || field(&replica, "replication", "master_sync_in_progress")
            == "0"
            && field(&replica, "persistence", "async_loading") == "0"
            && field(&replica, "persistence", "loading") == "0"));
        assert_eq!(digest(&replica), before, "{} mark {}", load, eof_mark);
        assert_eq!(cmd::<String>(&replica, &["PING"]).unwrap(), "PONG");
    }
}
