//! MULTI/EXEC/DISCARD/WATCH/UNWATCH against the real thing: each scenario runs on tine and on
//! redis-server (when installed) and the replies, byte for byte, must be the same. Scenarios
//! cover queued and runtime errors, nesting, WATCH invalidated by other clients' writes, by
//! FLUSHALL, by SWAPDB and by expiry, and not by reads or by writes to other keys, and
//! blocking commands inside MULTI (they answer as on timeout).

mod common;

use std::time::Duration;

use common::{Raw, RedisServer, TestServer, eventually, info_field};

/// Runs `scenario` on tine and on redis-server; asserts the recorded replies are equal.
/// Without redis-server, runs it on tine only (the scenario's own asserts still apply).
fn on_both(scenario: impl Fn(&TestServer) -> Vec<String>) {
    let args = ["--save", "", "--enable-debug-command", "yes"];
    let ours = TestServer::with_args(&args);
    let got = scenario(&ours);
    if let Some(real) = RedisServer::with_args(&args) {
        let want = scenario(&real);
        assert_eq!(got.len(), want.len());
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a, b, "reply #{i} differs (left: tine, right: redis)");
        }
    }
}

/// Sends each command and records its reply.
fn run(c: &mut Raw, log: &mut Vec<String>, cmds: &[&[&str]]) {
    for cmd in cmds {
        log.push(c.cmd_str(cmd));
    }
}

#[test]
fn exec_replies_and_runtime_errors() {
    on_both(|s| {
        let mut c = s.raw();
        let mut log = Vec::new();
        for proto in ["2", "3"] {
            c.cmd(&["HELLO", proto]);
            run(
                &mut c,
                &mut log,
                &[
                    &["FLUSHALL"],
                    &["MULTI"],
                    &["SET", "a", "1"],
                    &["INCR", "a"],
                    &["LPUSH", "a", "x"], // WRONGTYPE at run time, the rest still runs
                    &["GET", "a"],
                    &["HSET", "h", "f", "v"],
                    &["HGETALL", "h"],
                    &["EXPIRE", "a", "100"],
                    &["INCRBYFLOAT", "a", "0.5"],
                    &["EXEC"],
                    &["MULTI"],
                    &["EXEC"], // empty transaction
                    &["MULTI"],
                    &["PING"],
                    &["ECHO", "hi"],
                    &["DISCARD"],
                    &["GET", "a"],
                ],
            );
        }
        log
    });
}

#[test]
fn queued_errors_abort_exec() {
    on_both(|s| {
        let mut c = s.raw();
        let mut log = Vec::new();
        run(
            &mut c,
            &mut log,
            &[
                &["MULTI"],
                &["SET", "k", "1"],
                &["NOSUCHCOMMAND", "x"],
                &["SET", "k"], // wrong arity
                &["EXEC"],
                &["GET", "k"], // nothing ran
                &["MULTI"],
                &["GET"],
                &["EXEC"],
                &["MULTI"],
                &["MULTI"], // nested: an error, the transaction goes on
                &["SET", "k", "2"],
                &["EXEC"],
                &["EXEC"], // without MULTI
                &["DISCARD"],
                &["MULTI"],
                &["WATCH", "k"], // inside MULTI
                &["SET", "k", "3"],
                &["EXEC"],
                &["GET", "k"],
            ],
        );
        log
    });
}

#[test]
fn watch_invalidated_by_another_client() {
    on_both(|s| {
        let (mut a, mut b) = (s.raw(), s.raw());
        let mut log = Vec::new();
        run(&mut a, &mut log, &[&["SET", "k", "1"], &["WATCH", "k"]]);
        run(&mut b, &mut log, &[&["SET", "k", "2"]]);
        run(&mut a, &mut log, &[&["MULTI"], &["SET", "k", "3"], &["EXEC"], &["GET", "k"]]);
        // Only reads, or writes to other keys, by the other client: EXEC runs.
        run(&mut a, &mut log, &[&["WATCH", "k", "other"]]);
        run(
            &mut b,
            &mut log,
            &[
                &["GET", "k"],
                &["EXISTS", "k"],
                &["SET", "unrelated", "x"],
                &["SELECT", "1"],
                &["SET", "k", "in-db-1"],
                &["SELECT", "0"],
            ],
        );
        run(&mut a, &mut log, &[&["MULTI"], &["INCR", "k"], &["EXEC"], &["GET", "k"]]);
        // UNWATCH forgets: a later write does not abort.
        run(&mut a, &mut log, &[&["WATCH", "k"], &["UNWATCH"]]);
        run(&mut b, &mut log, &[&["SET", "k", "10"]]);
        run(&mut a, &mut log, &[&["MULTI"], &["INCR", "k"], &["EXEC"]]);
        // DISCARD also forgets the watched keys.
        run(&mut a, &mut log, &[&["WATCH", "k"], &["MULTI"], &["DISCARD"]]);
        run(&mut b, &mut log, &[&["SET", "k", "20"]]);
        run(&mut a, &mut log, &[&["MULTI"], &["INCR", "k"], &["EXEC"]]);
        // The watching client's own write also counts.
        run(
            &mut a,
            &mut log,
            &[&["WATCH", "k"], &["SET", "k", "30"], &["MULTI"], &["INCR", "k"], &["EXEC"]],
        );
        // A write to a missing watched key, and a DEL of a watched key.
        run(&mut a, &mut log, &[&["WATCH", "newkey"]]);
        run(&mut b, &mut log, &[&["SET", "newkey", "v"]]);
        run(&mut a, &mut log, &[&["MULTI"], &["PING"], &["EXEC"]]);
        run(&mut a, &mut log, &[&["WATCH", "newkey"]]);
        run(&mut b, &mut log, &[&["DEL", "newkey"]]);
        run(&mut a, &mut log, &[&["MULTI"], &["PING"], &["EXEC"]]);
        log
    });
}

#[test]
fn watch_invalidated_by_flushall_and_swapdb() {
    on_both(|s| {
        let (mut a, mut b) = (s.raw(), s.raw());
        let mut log = Vec::new();
        run(&mut a, &mut log, &[&["SET", "k", "1"], &["WATCH", "k"]]);
        run(&mut b, &mut log, &[&["FLUSHALL"]]);
        run(&mut a, &mut log, &[&["MULTI"], &["PING"], &["EXEC"]]);
        // FLUSHDB of another database leaves a watch in db 0 alone.
        run(&mut a, &mut log, &[&["SET", "k", "1"], &["WATCH", "k"]]);
        run(&mut b, &mut log, &[&["SELECT", "1"], &["FLUSHDB"], &["SELECT", "0"]]);
        run(&mut a, &mut log, &[&["MULTI"], &["PING"], &["EXEC"]]);
        // SWAPDB swaps the key under the watcher's feet.
        run(&mut a, &mut log, &[&["WATCH", "k"]]);
        run(&mut b, &mut log, &[&["SELECT", "1"], &["SET", "k", "other"]]);
        run(&mut b, &mut log, &[&["SWAPDB", "0", "1"]]);
        run(&mut a, &mut log, &[&["MULTI"], &["GET", "k"], &["EXEC"]]);
        log
    });
}

#[test]
fn watch_invalidated_by_expiry() {
    on_both(|s| {
        let mut a = s.raw();
        let mut log = Vec::new();
        // The key expires between WATCH and EXEC, nobody touching it: EXEC fails.
        run(&mut a, &mut log, &[&["SET", "k", "v", "PX", "100"], &["WATCH", "k"]]);
        std::thread::sleep(Duration::from_millis(300));
        run(&mut a, &mut log, &[&["MULTI"], &["PING"], &["EXEC"]]);
        // Also with active expiry off (the key is still in memory at EXEC).
        run(
            &mut a,
            &mut log,
            &[
                &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
                &["SET", "k", "v", "PX", "100"],
                &["WATCH", "k"],
            ],
        );
        std::thread::sleep(Duration::from_millis(300));
        run(&mut a, &mut log, &[&["MULTI"], &["PING"], &["EXEC"], &["EXISTS", "k"]]);
        // A key with a long TTL does not count as changed.
        run(
            &mut a,
            &mut log,
            &[&["SET", "k", "v", "EX", "100"], &["WATCH", "k"], &["MULTI"], &["PING"], &["EXEC"]],
        );
        log
    });
}

#[test]
fn blocking_commands_inside_multi_answer_at_once() {
    on_both(|s| {
        let mut c = s.raw();
        let mut log = Vec::new();
        for proto in ["2", "3"] {
            c.cmd(&["HELLO", proto]);
            run(
                &mut c,
                &mut log,
                &[
                    &["DEL", "l", "z"],
                    &["MULTI"],
                    &["BLPOP", "l", "0"],
                    &["BRPOP", "l", "5"],
                    &["BLMOVE", "l", "l2", "LEFT", "RIGHT", "0"],
                    &["BZPOPMIN", "z", "0"],
                    &["RPUSH", "l", "a"],
                    &["BLPOP", "l", "0"],
                    &["EXEC"],
                ],
            );
        }
        log
    });
}

#[test]
fn exec_is_atomic_for_other_clients() {
    let s = TestServer::with_args(&["--save", ""]);
    let (mut a, mut b) = (s.raw(), s.raw());
    a.cmd(&["MULTI"]);
    for i in 0..100 {
        assert_eq!(a.cmd_str(&["RPUSH", "l", &i.to_string()]), "+QUEUED\r\n");
    }
    // Nothing of the queue has run yet.
    assert_eq!(b.cmd_str(&["LLEN", "l"]), ":0\r\n");
    let rep = a.cmd_str(&["EXEC"]);
    assert!(rep.starts_with("*100\r\n:1\r\n"), "{rep}");
    assert_eq!(b.cmd_str(&["LLEN", "l"]), ":100\r\n");
}

/// A blocked BRPOPLPUSH served by another client's push writes its destination: a client
/// WATCHing that destination must see its EXEC fail, as in Redis.
#[test]
fn a_push_made_by_a_served_blocked_client_touches_watch() {
    let s = TestServer::start();
    let (mut r, mut blocked, mut w) = (s.raw(), s.raw(), s.raw());
    r.cmd(&["SET", "some", "v"]);
    blocked.send_cmd(&["BRPOPLPUSH", "src", "dst", "0"]);
    assert!(eventually(Duration::from_secs(5), || {
        info_field(&r.cmd_str(&["INFO", "clients"]), "blocked_clients").as_deref() == Some("1")
    }));
    assert_eq!(w.cmd_str(&["WATCH", "dst"]), "+OK\r\n");
    assert_eq!(w.cmd_str(&["MULTI"]), "+OK\r\n");
    assert_eq!(w.cmd_str(&["GET", "some"]), "+QUEUED\r\n");
    r.cmd(&["LPUSH", "src", "element"]);
    assert_eq!(blocked.reply_str(), "$7\r\nelement\r\n");
    assert_eq!(w.cmd_str(&["EXEC"]), "*-1\r\n");
}
