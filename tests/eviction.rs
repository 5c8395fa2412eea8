//! maxmemory and eviction, on tine alone (which keys an approximated LRU/LFU evicts is
//! random, so checks are statistical and generous): each policy's effect, the OOM error text
//! (compared with redis-server), used_memory back under the limit, `evicted_keys`, OBJECT
//! IDLETIME and FREQ, the copy-on-write rule that reads during a BGSAVE leave access data
//! alone, and active expiry (keys disappear untouched, and not with DEBUG SET-ACTIVE-EXPIRE 0).

mod common;

use std::time::Duration;

use common::{Raw, RedisServer, TestServer, eventually, info_field};

fn start() -> TestServer {
    TestServer::with_args(&["--save", "", "--enable-debug-command", "yes"])
}

fn used_memory(c: &mut Raw) -> u64 {
    let info = c.cmd_str(&["INFO", "memory"]);
    info_field(&info, "used_memory").unwrap().parse().unwrap()
}

fn stat(c: &mut Raw, name: &str) -> u64 {
    let info = c.cmd_str(&["INFO", "stats"]);
    info_field(&info, name).unwrap().parse().unwrap()
}

fn exists(c: &mut Raw, key: &str) -> bool {
    c.cmd_str(&["EXISTS", key]) == ":1\r\n"
}

const VALUE_LEN: usize = 1000;

/// Writes `n` keys `prefix:i` of VALUE_LEN bytes (with a TTL when `ttl`).
fn fill(c: &mut Raw, prefix: &str, n: usize, ttl: Option<u64>) {
    let v = "v".repeat(VALUE_LEN);
    for i in 0..n {
        let k = format!("{prefix}:{i}");
        match ttl {
            Some(t) => c.send_cmd(&["SET", &k, &v, "EX", &t.to_string()]),
            None => c.send_cmd(&["SET", &k, &v]),
        }
    }
    for _ in 0..n {
        let r = c.reply();
        assert!(r.starts_with(b"+OK"), "{}", String::from_utf8_lossy(&r));
    }
}

/// Sets maxmemory to current used memory plus `headroom`, and the policy.
fn limit(c: &mut Raw, policy: &str, headroom: u64) -> u64 {
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]);
    let max = used_memory(c) + headroom;
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "maxmemory", &max.to_string()]), "+OK\r\n");
    max
}

fn count(c: &mut Raw, prefix: &str, n: usize) -> usize {
    (0..n).filter(|i| exists(c, &format!("{prefix}:{i}"))).count()
}

#[test]
fn noeviction_answers_oom_as_redis() {
    let s = start();
    let mut c = s.raw();
    fill(&mut c, "k", 200, None);
    limit(&mut c, "noeviction", 0);
    // Well past the limit: writes that may grow memory are refused, reads and DEL are not.
    fill_until_refused(&mut c);
    let oom = c.cmd_str(&["SET", "another", "v"]);
    assert_eq!(oom, "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    assert!(c.cmd_str(&["GET", "k:1"]).starts_with('$'));
    assert_eq!(c.cmd_str(&["DEL", "k:1"]), ":1\r\n");
    assert_eq!(stat(&mut c, "evicted_keys"), 0);
    if let Some(r) = RedisServer::with_args(&["--save", ""]) {
        let mut rc = r.raw();
        fill(&mut rc, "k", 200, None);
        limit(&mut rc, "noeviction", 0);
        fill_until_refused(&mut rc);
        assert_eq!(rc.cmd_str(&["SET", "another", "v"]), oom);
    }
}

/// Writes big values until the server refuses one with OOM.
fn fill_until_refused(c: &mut Raw) {
    let v = "x".repeat(10_000);
    for i in 0..10_000 {
        let r = c.cmd_str(&["SET", &format!("grow:{i}"), &v]);
        if r.starts_with("-OOM") {
            return;
        }
    }
    panic!("never refused");
}

#[test]
fn allkeys_lru_keeps_recently_read_keys() {
    let s = start();
    let mut c = s.raw();
    fill(&mut c, "hot", 300, None);
    fill(&mut c, "cold", 300, None);
    // Let the cold keys age (the LRU clock has one-second resolution), then read the hot ones.
    std::thread::sleep(Duration::from_millis(2100));
    for i in 0..300 {
        c.cmd(&["GET", &format!("hot:{i}")]);
    }
    let max = limit(&mut c, "allkeys-lru", 0);
    fill(&mut c, "new", 300, None);
    assert!(used_memory(&mut c) <= max, "used_memory above maxmemory");
    let evicted = stat(&mut c, "evicted_keys");
    assert!(evicted > 100, "evicted_keys {evicted}");
    let hot = count(&mut c, "hot", 300);
    let cold = count(&mut c, "cold", 300);
    assert!(hot > cold + 50, "LRU should keep read keys: hot {hot} cold {cold}");
}

#[test]
fn allkeys_lfu_keeps_frequently_read_keys() {
    let s = start();
    let mut c = s.raw();
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    fill(&mut c, "hot", 300, None);
    fill(&mut c, "cold", 300, None);
    for _ in 0..20 {
        for i in 0..300 {
            c.cmd(&["GET", &format!("hot:{i}")]);
        }
    }
    let f: i64 =
        c.cmd_str(&["OBJECT", "FREQ", "hot:7"]).trim_start_matches(':').trim().parse().unwrap();
    let f0: i64 =
        c.cmd_str(&["OBJECT", "FREQ", "cold:7"]).trim_start_matches(':').trim().parse().unwrap();
    assert!(f > f0, "OBJECT FREQ grows with reads: {f} vs {f0}");
    let max = limit(&mut c, "allkeys-lfu", 0);
    fill(&mut c, "new", 300, None);
    assert!(used_memory(&mut c) <= max);
    let hot = count(&mut c, "hot", 300);
    let cold = count(&mut c, "cold", 300);
    let new = count(&mut c, "new", 300);
    assert!(
        hot > cold + 50,
        "LFU should keep read keys: hot {hot} cold {cold} new {new} evicted {}",
        stat(&mut c, "evicted_keys")
    );
    // IDLETIME is not tracked under LFU: Redis's error.
    c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    c.cmd(&["SET", "probe", "v"]);
    assert!(
        c.cmd_str(&["OBJECT", "IDLETIME", "probe"])
            .starts_with("-ERR An LFU maxmemory policy is selected")
    );
}

#[test]
fn volatile_policies_evict_only_keys_with_ttl() {
    for policy in ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"] {
        let s = start();
        let mut c = s.raw();
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]);
        fill(&mut c, "keep", 200, None);
        fill(&mut c, "ttl", 300, Some(1000));
        limit(&mut c, policy, 0);
        fill(&mut c, "new", 100, None);
        assert_eq!(count(&mut c, "keep", 200), 200, "{policy} evicted a key without TTL");
        assert!(count(&mut c, "ttl", 300) < 300, "{policy} evicted nothing");
        // Once no key has a TTL, nothing can go: OOM.
        for i in 0..300 {
            c.cmd(&["PERSIST", &format!("ttl:{i}")]);
        }
        let v = "x".repeat(10_000);
        let mut refused = false;
        for i in 0..2000 {
            if c.cmd_str(&["SET", &format!("more:{i}"), &v]).starts_with("-OOM") {
                refused = true;
                break;
            }
        }
        assert!(refused, "{policy}: no OOM without volatile keys");
    }
}

#[test]
fn volatile_ttl_evicts_soonest_expiring_first() {
    let s = start();
    let mut c = s.raw();
    fill(&mut c, "late", 200, Some(100_000));
    fill(&mut c, "soon", 200, Some(1_000));
    limit(&mut c, "volatile-ttl", 0);
    fill(&mut c, "new", 100, None);
    let late = count(&mut c, "late", 200);
    let soon = count(&mut c, "soon", 200);
    assert!(late > soon + 50, "late {late} soon {soon}");
}

#[test]
fn allkeys_random_evicts_something() {
    let s = start();
    let mut c = s.raw();
    fill(&mut c, "k", 300, None);
    let max = limit(&mut c, "allkeys-random", 0);
    fill(&mut c, "new", 200, None);
    assert!(stat(&mut c, "evicted_keys") > 0);
    assert!(used_memory(&mut c) <= max);
}

#[test]
fn idletime_grows_and_resets_on_read() {
    let s = start();
    let mut c = s.raw();
    c.cmd(&["SET", "k", "v"]);
    let idle = |c: &mut Raw| -> i64 {
        c.cmd_str(&["OBJECT", "IDLETIME", "k"]).trim_start_matches(':').trim().parse().unwrap()
    };
    assert!(eventually(Duration::from_secs(10), || idle(&mut c) >= 2));
    // OBJECT IDLETIME itself is no access.
    assert!(idle(&mut c) >= 2);
    c.cmd(&["GET", "k"]);
    assert!(idle(&mut c) <= 1);
    // FREQ is an error under an LRU policy.
    assert!(
        c.cmd_str(&["OBJECT", "FREQ", "k"])
            .starts_with("-ERR An LFU maxmemory policy is not selected")
    );
}

#[test]
fn reads_during_bgsave_leave_idletime_alone() {
    let s = TestServer::with_args(&["--save", "", "--rdb-key-save-delay", "200000"]);
    let mut c = s.raw();
    c.cmd(&["SET", "k", "v"]);
    for i in 0..20 {
        c.cmd(&["SET", &format!("pad:{i}"), "x"]);
    }
    assert!(eventually(Duration::from_secs(10), || {
        c.cmd_str(&["OBJECT", "IDLETIME", "k"]) >= ":2\r\n".to_string()
    }));
    assert_eq!(c.cmd_str(&["BGSAVE"]), "+Background saving started\r\n");
    let in_progress = |c: &mut Raw| {
        let info = c.cmd_str(&["INFO", "persistence"]);
        info_field(&info, "rdb_bgsave_in_progress").as_deref() == Some("1")
    };
    assert!(in_progress(&mut c));
    for _ in 0..10 {
        c.cmd(&["GET", "k"]);
    }
    let idle = c.cmd_str(&["OBJECT", "IDLETIME", "k"]);
    assert!(in_progress(&mut c), "the child ended too soon to tell");
    assert_ne!(idle, ":0\r\n", "a read during BGSAVE updated the LRU clock");
    // Stop the slow child with the server (SHUTDOWN closes the connection unanswered).
    c.send_cmd(&["SHUTDOWN", "NOSAVE"]);
}

#[test]
fn active_expiry_removes_untouched_keys() {
    let s = start();
    let mut c = s.raw();
    let before = stat(&mut c, "expired_keys");
    for i in 0..100 {
        c.cmd(&["SET", &format!("e:{i}"), "v", "PX", "100"]);
    }
    c.cmd(&["SET", "stays", "v"]);
    // Only DBSIZE and INFO: neither touches the keys.
    assert!(eventually(Duration::from_secs(10), || { c.cmd_str(&["DBSIZE"]) == ":1\r\n" }));
    assert_eq!(stat(&mut c, "expired_keys") - before, 100);
}

#[test]
fn no_active_expiry_with_debug_set_active_expire_0() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    for i in 0..50 {
        c.cmd(&["SET", &format!("e:{i}"), "v", "PX", "50"]);
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(c.cmd_str(&["DBSIZE"]), ":50\r\n");
    assert_eq!(stat(&mut c, "expired_keys"), 0);
    // A lazy access still expires the key it touches.
    assert_eq!(c.cmd_str(&["GET", "e:1"]), "$-1\r\n");
    assert_eq!(c.cmd_str(&["DBSIZE"]), ":49\r\n");
    // Back on: the rest go.
    c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    assert!(eventually(Duration::from_secs(10), || { c.cmd_str(&["DBSIZE"]) == ":0\r\n" }));
}

/// As Redis's updateMaxmemory: lowering `maxmemory` below what is used evicts at once, inside
/// the CONFIG SET (a subscriber sees the "evicted" events before any later command), and logs
/// a warning. Without it the keys stayed until the next write.
#[test]
fn config_set_maxmemory_evicts_at_once() {
    let srv = start();
    let mut c = srv.raw();
    let mut sub = srv.raw();
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]);
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    sub.cmd(&["PSUBSCRIBE", "*"]);
    c.cmd(&["SET", "foo", "bar"]);
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "maxmemory", "1"]), "+OK\r\n");
    let event = sub.reply_str();
    assert!(event.contains("__keyevent@0__:evicted") && event.contains("foo"), "{event}");
    c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(c.cmd_str(&["DBSIZE"]), ":0\r\n");
    assert_eq!(stat(&mut c, "evicted_keys"), 1);
    assert!(srv.log().contains("is smaller than the current memory usage"), "{}", srv.log());
}

/// The AOF's incremental files as text.
fn aof_text(s: &TestServer) -> String {
    let mut names: Vec<_> = std::fs::read_dir(s.path("appendonlydir"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned())
        .collect()
}

/// Evicted keys reach the AOF (and so replicas, whose copy of the feed is the same) as DELs,
/// and CONFIG SET maxmemory itself is not propagated; in a MULTI it evicts after EXEC, not
/// between the transaction's commands (the suite's "propagation with eviction" pair).
#[test]
fn evictions_are_propagated_as_dels_after_the_command_that_lowered_the_limit() {
    let s =
        TestServer::with_args(&["--save", "", "--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = s.raw();
    for k in ["asdf1", "asdf2", "asdf3"] {
        c.cmd(&["SET", k, "1"]);
    }
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "maxmemory", "1"]), "+OK\r\n");
    assert!(eventually(Duration::from_secs(5), || c.cmd_str(&["DBSIZE"]) == ":0\r\n"));
    c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    assert!(
        eventually(Duration::from_secs(5), || aof_text(&s).matches("$3\r\nDEL\r\n").count() == 3)
    );
    let aof = aof_text(&s);
    assert!(!aof.to_lowercase().contains("maxmemory"), "{aof}");
    // In a transaction: both INCRs run before anything is evicted.
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "x"]);
    c.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    c.cmd(&["INCR", "x"]);
    assert_eq!(c.cmd_str(&["EXEC"]), "*3\r\n:1\r\n+OK\r\n:2\r\n");
    assert!(eventually(Duration::from_secs(5), || c.cmd_str(&["DBSIZE"]) == ":0\r\n"));
    c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    assert!(
        eventually(Duration::from_secs(5), || aof_text(&s).ends_with("$3\r\nDEL\r\n$1\r\nx\r\n"))
    );
}
