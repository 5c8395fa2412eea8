//! Replication between several nodes, tine and redis-server mixed (issue 11's chain tests):
//! chains three deep in every mix of the two programs, with the stream byte-identical down
//! the chain (equal `master_repl_offset` everywhere, equal DEBUG DIGEST); promotion of a
//! middle node with REPLICAOF NO ONE and its former sibling continuing partially from it
//! (+CONTINUE, PSYNC2's replid2); a primary restarted from its own RDB continuing
//! partially with its replica. Only what Redis defines is looked at: INFO fields, ROLE,
//! DEBUG DIGEST.

mod common;

use std::time::Duration;

use common::*;

/// A node of either program, with diskless sync without delay (the tests' speed).
fn node(redis: bool, extra: &[&str]) -> Option<TestServer> {
    let mut args = vec!["--save", "", "--enable-debug-command", "yes"];
    args.extend_from_slice(&["--repl-diskless-sync-delay", "0"]);
    args.extend_from_slice(extra);
    if redis { RedisServer::with_args(&args) } else { Some(TestServer::with_args(&args)) }
}

fn field(s: &TestServer, section: &str, name: &str) -> String {
    let mut c = s.raw();
    let info = c.cmd_str(&["INFO", section]);
    info_field(&info, name).unwrap_or_default()
}

fn replicate(replica: &TestServer, primary: &TestServer) {
    let mut c = replica.raw();
    let r = c.cmd_str(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    assert!(r.starts_with("+OK"), "{}", r);
}

fn wait_up(replica: &TestServer) {
    let up = eventually(Duration::from_secs(30), || {
        field(replica, "replication", "master_link_status") == "up"
    });
    assert!(up, "replica on port {} never came up:\n{}", replica.port, replica.log());
}

/// Waits until every node has the primary's master_repl_offset, then compares digests.
fn assert_same_data(nodes: &[&TestServer]) {
    let primary = nodes[0];
    let synced = eventually(Duration::from_secs(30), || {
        let want = field(primary, "replication", "master_repl_offset");
        nodes[1..].iter().all(|n| field(n, "replication", "master_repl_offset") == want)
    });
    let offsets: Vec<String> =
        nodes.iter().map(|n| field(n, "replication", "master_repl_offset")).collect();
    assert!(synced, "offsets never met: {:?}", offsets);
    let digests: Vec<String> =
        nodes.iter().map(|n| n.raw().cmd_str(&["DEBUG", "DIGEST"])).collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "digests differ: {:?}", digests);
}

/// Writes of every type, in two databases, with expiries, MULTI/EXEC and a blocked pop.
fn write_load(primary: &TestServer, round: usize) {
    let mut c = primary.raw();
    for i in 0..200 {
        let k = format!("{}:{}", round, i);
        c.cmd(&["SET", &format!("s:{}", k), &"v".repeat(i % 50)]);
        c.cmd(&["INCRBY", &format!("n:{}", i % 7), "3"]);
        c.cmd(&["RPUSH", &format!("l:{}", i % 5), &k]);
        c.cmd(&["HSET", &format!("h:{}", i % 5), &k, "x"]);
        c.cmd(&["SADD", &format!("set:{}", i % 5), &k]);
        c.cmd(&["ZADD", &format!("z:{}", i % 5), &i.to_string(), &k]);
        if i % 10 == 0 {
            c.cmd(&["SET", &format!("e:{}", k), "x", "PX", "100000"]);
            c.cmd(&["INCRBYFLOAT", "f", "0.1"]);
        }
    }
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["LPUSH", "db3list", "a", "b"]);
    c.cmd(&["SPOP", "set:1"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["SELECT", "0"]);
}

/// A chain primary -> middle -> leaf for each mix of the programs (`true` is redis-server):
/// the same data and the same offsets everywhere (the middle node passes its primary's
/// stream on unchanged).
#[test]
fn chains_of_three_in_every_mix() {
    if !redis_available() {
        return;
    }
    for mix in
        [[false, false, false], [false, true, false], [true, false, true], [true, false, false]]
    {
        let p = node(mix[0], &[]).unwrap();
        let m = node(mix[1], &[]).unwrap();
        let l = node(mix[2], &[]).unwrap();
        write_load(&p, 0);
        replicate(&m, &p);
        wait_up(&m);
        replicate(&l, &m);
        wait_up(&l);
        write_load(&p, 1);
        assert_same_data(&[&p, &m, &l]);
        // A link killed in the middle of the chain ends in a partial resync.
        let mut mc = m.raw();
        mc.cmd(&["CLIENT", "KILL", "TYPE", "master"]);
        write_load(&p, 2);
        wait_up(&m);
        assert_same_data(&[&p, &m, &l]);
        assert_eq!(field(&p, "stats", "sync_full"), "1", "mix {:?}: a second full sync", mix);
        assert!(field(&p, "stats", "sync_partial_ok") != "0", "mix {:?}", mix);
    }
}

/// PSYNC2: the middle node of primary -> {a, b} is promoted; b follows a with a partial
/// resync (a's replid2 is the old primary's id), and the data stays the same.
#[test]
fn a_promoted_sibling_serves_the_others_a_partial_resync() {
    for redis_a in [false, true] {
        if redis_a && !redis_available() {
            continue;
        }
        let p = node(false, &[]).unwrap();
        let a = node(redis_a, &[]).unwrap();
        let b = node(false, &[]).unwrap();
        write_load(&p, 0);
        replicate(&a, &p);
        replicate(&b, &p);
        wait_up(&a);
        wait_up(&b);
        write_load(&p, 1);
        assert_same_data(&[&p, &a, &b]);
        let old_id = field(&p, "replication", "master_replid");
        assert!(a.raw().cmd_str(&["REPLICAOF", "NO", "ONE"]).starts_with("+OK"));
        assert_eq!(field(&a, "replication", "master_replid2"), old_id);
        replicate(&b, &a);
        wait_up(&b);
        let mut ac = a.raw();
        ac.cmd(&["SET", "after-promotion", "1"]);
        assert_same_data(&[&a, &b]);
        assert_eq!(field(&a, "stats", "sync_full"), "0", "b needed a full sync from a");
        assert_eq!(field(&a, "stats", "sync_partial_ok"), "1");
    }
}

/// A primary restarted (SHUTDOWN saves its RDB with repl-id and repl-offset) continues with
/// its replica partially.
#[test]
fn a_restarted_primary_continues_from_its_rdb() {
    let mut p = TestServer::with_args(&[
        "--save",
        "3600 1",
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let r = node(false, &[]).unwrap();
    write_load(&p, 0);
    replicate(&r, &p);
    wait_up(&r);
    write_load(&p, 1);
    assert_same_data(&[&p, &r]);
    p.restart();
    // (the harness restarts a server on a new port: the replica is pointed there)
    replicate(&r, &p);
    wait_up(&r);
    p.raw().cmd(&["SET", "after-restart", "1"]);
    assert_same_data(&[&p, &r]);
    assert_eq!(field(&p, "stats", "sync_full"), "0", "the replica needed a full sync");
    assert_eq!(field(&p, "stats", "sync_partial_ok"), "1");
}

/// A primary restarted from an RDB holding keys that expired meanwhile drops them at load and
/// opens its new backlog with a DEL for each (Redis's rdbLoad with RDBFLAGS_FEED_REPL): its
/// replica, redis-server when installed, continues partially and drops them too.
#[test]
fn a_restarted_primary_sends_dels_for_the_keys_its_load_expired() {
    let mut p = TestServer::with_args(&[
        "--save",
        "3600 1",
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let r = node(redis_available(), &[]).unwrap();
    replicate(&r, &p);
    wait_up(&r);
    let mut c = p.raw();
    c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for db in 0..4 {
        c.cmd(&["SELECT", &db.to_string()]);
        for i in 0..25 {
            c.cmd(&["SET", &format!("short:{}", i), "x", "PX", "10"]);
        }
        c.cmd(&["SET", "kept", "y"]);
    }
    std::thread::sleep(Duration::from_millis(50));
    // The replica has it all, and said so (no shutdown wait, no GETACK to move the offset).
    let acked = eventually(Duration::from_secs(10), || {
        let off = field(&p, "replication", "master_repl_offset");
        field(&r, "replication", "master_repl_offset") == off
            && field(&p, "replication", "slave0").contains(&format!("offset={},", off))
    });
    assert!(
        acked,
        "replica never acknowledged
{}",
        p.log()
    );
    let offset: i64 = field(&p, "replication", "master_repl_offset").parse().unwrap();
    p.restart();
    // (the harness restarts a server on a new port: the replica is pointed there)
    replicate(&r, &p);
    wait_up(&r);
    assert_eq!(field(&p, "persistence", "rdb_last_load_keys_expired"), "100");
    assert_eq!(field(&p, "persistence", "rdb_last_load_keys_loaded"), "4");
    let histlen: i64 = field(&p, "replication", "repl_backlog_histlen").parse().unwrap();
    assert!(histlen > 0, "no DEL in the new backlog");
    let now: i64 = field(&p, "replication", "master_repl_offset").parse().unwrap();
    assert_eq!(now, offset + histlen);
    assert_same_data(&[&p, &r]);
    assert_eq!(field(&p, "stats", "sync_partial_ok"), "1", "the replica needed a full sync");
    let mut rc = r.raw();
    for db in 0..4 {
        rc.cmd(&["SELECT", &db.to_string()]);
        assert_eq!(rc.cmd_str(&["DBSIZE"]), ":1\r\n", "db {} kept expired keys", db);
    }
}

/// A replica that resyncs in full from its primary makes its own replicas resync with it, even
/// when the whole (small) payload arrived with the +FULLRESYNC line (Redis's
/// replicationAttachToNewMaster): otherwise they keep the replaced dataset.
#[test]
fn a_full_sync_in_the_middle_of_a_chain_resyncs_the_end() {
    let mut p = node(false, &[]).unwrap();
    let r = node(false, &[]).unwrap();
    let s = node(false, &[]).unwrap();
    p.raw().cmd(&["SET", "before", "1"]);
    replicate(&r, &p);
    wait_up(&r);
    replicate(&s, &r);
    wait_up(&s);
    assert_same_data(&[&p, &r, &s]);
    // No RDB: the restarted primary has a new history and no data.
    p.restart();
    replicate(&r, &p);
    wait_up(&r);
    p.raw().cmd(&["SET", "after", "1"]);
    assert!(
        eventually(Duration::from_secs(10), || s.raw().cmd_str(&["EXISTS", "before"]) == ":0\r\n")
    );
    assert_same_data(&[&p, &r, &s]);
    assert_eq!(field(&r, "stats", "sync_full"), "2", "the end of the chain did not resync");
}

/// PUBLISH and SPUBLISH on a primary reach the subscribers of its replicas (Redis 7.0
/// propagates them to replicas, not to the AOF), whichever program the replica is.
#[test]
fn published_messages_reach_the_replicas_subscribers() {
    for redis_replica in [false, true] {
        if redis_replica && !redis_available() {
            continue;
        }
        let p = node(false, &["--appendonly", "yes"]).unwrap();
        let r = node(redis_replica, &[]).unwrap();
        replicate(&r, &p);
        wait_up(&r);
        let mut sub = r.raw();
        sub.send_cmd(&["SUBSCRIBE", "news"]);
        sub.send_cmd(&["SSUBSCRIBE", "shard"]);
        let _ = sub.read_for(Duration::from_millis(200));
        let mut pc = p.raw();
        assert_eq!(pc.cmd_str(&["PUBLISH", "news", "hello"]), ":0\r\n");
        assert_eq!(pc.cmd_str(&["SPUBLISH", "shard", "world"]), ":0\r\n");
        // (a primary streams to a replica once its first ACK put it online: up to a second)
        let mut got = String::new();
        eventually(Duration::from_secs(5), || {
            got.push_str(&String::from_utf8_lossy(&sub.read_for(Duration::from_millis(100))));
            got.contains("hello") && got.contains("world")
        });
        assert!(got.contains("message\r\n$4\r\nnews\r\n$5\r\nhello"), "{:?}", got);
        assert!(got.contains("smessage\r\n$5\r\nshard\r\n$5\r\nworld"), "{:?}", got);
        let aof = std::fs::read_dir(p.path("appendonlydir"))
            .unwrap()
            .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
            .any(|b| b.windows(7).any(|w| w.eq_ignore_ascii_case(b"publish")));
        assert!(!aof, "PUBLISH reached the AOF");
    }
}

/// CONFIG RESETSTAT clears the replication counters too (sync_full, sync_partial_*), as
/// Redis's resetServerStats: the suite resets them before each step it counts.
#[test]
fn config_resetstat_clears_the_sync_counters() {
    let p = node(false, &[]).unwrap();
    let r = node(false, &[]).unwrap();
    replicate(&r, &p);
    wait_up(&r);
    assert_eq!(field(&p, "stats", "sync_full"), "1");
    p.raw().cmd(&["CONFIG", "RESETSTAT"]);
    for f in ["sync_full", "sync_partial_ok", "sync_partial_err", "total_net_repl_output_bytes"] {
        assert_eq!(field(&p, "stats", f), "0", "{}", f);
    }
}

/// REPLICAOF inside MULTI: the transaction runs to its end (the read-only check is made when
/// a command is queued, not again in EXEC), then writes are refused, as in Redis.
#[test]
fn a_transaction_that_makes_the_node_a_replica_runs_to_its_end() {
    let s = node(false, &[]).unwrap();
    let mut c = s.raw();
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "foo2", "bar"]);
    c.cmd(&["REPLICAOF", "localhost", "9999"]);
    c.cmd(&["SET", "foo3", "bar"]);
    assert_eq!(c.cmd_str(&["EXEC"]), "*3\r\n+OK\r\n+OK\r\n+OK\r\n");
    assert!(c.cmd_str(&["SET", "foo4", "bar"]).starts_with("-READONLY"));
    assert_eq!(c.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
}

/// LMPOP/BLMPOP and ZMPOP/BZMPOP reach replicas as the pops they did with the count actually
/// popped (LPOP/RPOP/ZPOPMIN/ZPOPMAX key <n>), as Redis 7.0 propagates them.
#[test]
fn multi_key_pops_are_propagated_as_what_they_popped() {
    let p = node(false, &[]).unwrap();
    // A plain SYNC: the disk payload, then the stream.
    let mut sync = p.raw();
    sync.send_cmd(&["SYNC"]);
    let mut got = Vec::new();
    let synced = eventually(Duration::from_secs(10), || {
        got.extend_from_slice(&sync.read_for(Duration::from_millis(50)));
        got.windows(9).any(|w| w == b"REDIS0010") && got.len() > 20
    });
    assert!(synced, "no RDB payload: {:?}", String::from_utf8_lossy(&got));
    let _ = sync.read_for(Duration::from_millis(300));
    let mut c = p.raw();
    c.cmd(&["RPUSH", "ml", "a", "b"]);
    c.cmd(&["LMPOP", "1", "ml", "RIGHT", "COUNT", "10"]);
    c.cmd(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    c.cmd(&["BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"]);
    // A BRPOPLPUSH served once it blocked goes out as RPOPLPUSH (BLMOVE as LMOVE).
    let mut blocked = p.raw();
    blocked.send_cmd(&["BRPOPLPUSH", "src", "dst", "0"]);
    assert!(eventually(Duration::from_secs(5), || {
        info_field(&c.cmd_str(&["INFO", "clients"]), "blocked_clients").as_deref() == Some("1")
    }));
    c.cmd(&["LPUSH", "src", "x"]);
    assert_eq!(blocked.reply_str(), "$1\r\nx\r\n");
    let stream = String::from_utf8_lossy(&sync.read_for(Duration::from_millis(500))).into_owned();
    assert!(stream.contains("*3\r\n$9\r\nRPOPLPUSH\r\n$3\r\nsrc\r\n$3\r\ndst\r\n"), "{:?}", stream);
    assert!(!stream.contains("LMOVE"), "{:?}", stream);
    assert!(stream.contains("*3\r\n$4\r\nRPOP\r\n$2\r\nml\r\n$1\r\n2\r\n"), "{:?}", stream);
    assert!(stream.contains("*3\r\n$7\r\nZPOPMAX\r\n$1\r\nz\r\n$1\r\n3\r\n"), "{:?}", stream);
    assert!(!stream.to_ascii_lowercase().contains("mpop"), "{:?}", stream);
}

/// The middle of a chain follows another primary, of another history: its sub-replica stays
/// attached through the transfer (Redis 7.0) and is dropped when the payload is loaded, so it
/// resyncs and the whole chain ends on the new primary's offset and data. Every load mode.
#[test]
fn the_middle_of_a_chain_switching_primary_brings_its_replica_along() {
    for load in ["disabled", "swapdb", "on-empty-db"] {
        let p1 = node(false, &[]).unwrap();
        let p2 = node(false, &[]).unwrap();
        let r = node(false, &["--repl-diskless-load", load]).unwrap();
        let s = node(false, &[]).unwrap();
        p1.raw().cmd(&["SET", "old", "1"]);
        p2.raw().cmd(&["SET", "new", "2"]);
        p2.raw().cmd(&["INCR", "n"]);
        replicate(&r, &p1);
        wait_up(&r);
        replicate(&s, &r);
        wait_up(&s);
        assert_same_data(&[&p1, &r, &s]);
        replicate(&r, &p2);
        wait_up(&r);
        p2.raw().cmd(&["INCR", "n"]);
        assert!(
            eventually(Duration::from_secs(10), || s.raw().cmd_str(&["GET", "n"]) == "$1\r\n2\r\n")
        );
        assert_same_data(&[&p2, &r, &s]);
        assert_eq!(s.raw().cmd_str(&["EXISTS", "old"]), ":0\r\n", "{}", load);
    }
}
