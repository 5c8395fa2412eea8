//! MIGRATE between tine and the real redis-server, both ways: keys with their TTLs arrive
//! whole, COPY keeps them, REPLACE overwrites, KEYS moves several (only those that exist), a
//! busy key on the target keeps it here, AUTH and AUTH2 reach the target, a dead target is an
//! IOERR, and the replies are Redis's word for word. The connection is cached (INFO
//! `migrate_cached_sockets`). MONITOR and the slow log show passwords as "(redacted)".

mod common;

use std::time::Duration;

use common::{DIFF_ARGS, RedisServer, TestServer, eventually, free_port};

fn port_of(s: &TestServer) -> String {
    s.port.to_string()
}

/// Runs the same MIGRATE scenario from `src` to `dst` and returns every reply, so that the
/// two directions (and the two servers as sources) can be compared.
fn scenario(src: &TestServer, dst: &TestServer) -> Vec<String> {
    let mut a = src.raw();
    let mut b = dst.raw();
    let port = port_of(dst);
    let mut out = Vec::new();
    let mut run = |a: &mut common::Raw, args: &[&str]| out.push(a.cmd_str(args));
    b.cmd(&["FLUSHALL"]);
    a.cmd(&["FLUSHALL"]);
    a.cmd(&["RPUSH", "list", "a", "b", "c"]);
    a.cmd(&["SET", "ttl", "v", "PX", "100000"]);
    a.cmd(&["HSET", "h", "f", "v"]);
    a.cmd(&["SET", "busy", "mine"]);
    b.cmd(&["SELECT", "3"]);
    b.cmd(&["SET", "busy", "theirs"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "list", "3", "5000"]);
    run(&mut a, &["EXISTS", "list"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "ttl", "3", "5000", "COPY"]);
    run(&mut a, &["EXISTS", "ttl"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "busy", "3", "5000"]);
    run(&mut a, &["GET", "busy"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "busy", "3", "5000", "REPLACE"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "nothere", "3", "5000"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "", "3", "5000", "KEYS", "h", "nope", "ttl"]);
    run(&mut a, &["DBSIZE"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "x", "3", "5000", "KEYS", "h"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "x", "3", "5000", "BOGUS"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "x", "3", "nan"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "x", "3", "5000", "AUTH"]);
    a.cmd(&["SET", "k", "v"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "k", "3", "5000", "AUTH", "pw"]);
    run(&mut a, &["MIGRATE", "127.0.0.1", &port, "k", "3", "5000", "AUTH2", "u", "pw"]);
    let dead = free_port().to_string();
    run(&mut a, &["MIGRATE", "127.0.0.1", &dead, "k", "3", "500"]);
    // What arrived.
    run(&mut b, &["LRANGE", "list", "0", "-1"]);
    let pttl = b.cmd_str(&["PTTL", "ttl"]);
    let ms: i64 = pttl[1..].trim().parse().unwrap();
    assert!(ms > 90_000 && ms <= 100_000, "{pttl}");
    run(&mut b, &["GET", "busy"]);
    run(&mut b, &["HGETALL", "h"]);
    out
}

#[test]
fn migrate_matches_redis_both_ways() {
    let Some(redis) = RedisServer::with_args(DIFF_ARGS) else { return };
    let tine = TestServer::with_args(DIFF_ARGS);
    let tine2 = TestServer::with_args(DIFF_ARGS);
    let redis2 = RedisServer::with_args(DIFF_ARGS).unwrap();
    // tine -> redis against redis -> redis, and redis -> tine against redis -> redis.
    let want = scenario(&redis2, &redis);
    assert_eq!(scenario(&tine, &redis), want, "tine to redis");
    assert_eq!(scenario(&redis2, &tine2), want, "redis to tine");
    assert_eq!(scenario(&tine, &tine2), want, "tine to tine");
    let mut c = tine.raw();
    let info = c.cmd_str(&["INFO", "stats"]);
    assert!(info.contains("migrate_cached_sockets:2"), "{info}");
}

#[test]
fn migrate_auth_reaches_the_target_and_passwords_are_redacted() {
    let src = TestServer::with_args(DIFF_ARGS);
    let dst = TestServer::with_args(&["--save", "", "--requirepass", "secret"]);
    let port = port_of(&dst);
    let mut mon = src.raw();
    assert_eq!(mon.cmd_str(&["MONITOR"]), "+OK\r\n");
    let mut a = src.raw();
    a.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    a.cmd(&["SET", "k", "v"]);
    let r = a.cmd_str(&["MIGRATE", "127.0.0.1", &port, "k", "0", "5000", "AUTH", "wrong"]);
    assert!(r.starts_with("-ERR Target instance replied with error: WRONGPASS"), "{r}");
    assert_eq!(
        a.cmd_str(&["MIGRATE", "127.0.0.1", &port, "k", "0", "5000", "AUTH", "secret"]),
        "+OK\r\n"
    );
    let mut d = dst.raw();
    d.cmd(&["AUTH", "secret"]);
    assert_eq!(d.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    a.cmd(&["AUTH", "nope"]);
    a.cmd(&["HELLO", "2", "AUTH", "someone", "pass"]);
    let mut seen = String::new();
    assert!(eventually(Duration::from_secs(10), || {
        if let Some(r) = mon.try_reply(Duration::from_millis(200)) {
            seen.push_str(&String::from_utf8_lossy(&r));
        }
        seen.contains("\"HELLO\"")
    }));
    assert!(
        !seen.contains("secret") && !seen.contains("wrong") && !seen.contains("nope"),
        "{seen}"
    );
    assert!(seen.contains("\"AUTH\" \"(redacted)\""), "{seen}");
    assert!(seen.contains("\"AUTH\" \"someone\"") == false, "{seen}");
    assert!(seen.contains("\"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\""), "{seen}");
    let slow = a.cmd_str(&["SLOWLOG", "GET", "100"]);
    assert!(!slow.contains("secret") && slow.contains("(redacted)"), "{slow}");
}
