//! List commands and blocking pops against a running `tine-server`: functional tests through the
//! `redis` crate, blocking scenarios (wake-up by a push, FIFO order, timeouts, deleted and
//! retyped keys, SWAPDB, disconnects, queued commands of a blocked client), and a differential
//! test that sends the same seeded random command sequences to tine and to the real
//! redis-server and compares the raw reply bytes (RESP2 and RESP3).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{
    Raw, RedisServer, Rng, TestServer, both, connect, eventually, info, info_field, seed_from_env,
    start_pair,
};

/// tine as these tests want it: no save points.
fn tine() -> TestServer {
    TestServer::with_args(&["--save", ""])
}

/// A field of INFO clients ("" when absent).
fn clients_field(con: &mut redis::Connection, field: &str) -> String {
    info_field(&info(con, "clients"), field).unwrap_or_default()
}

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(con: &mut redis::Connection, n: usize) {
    assert!(
        eventually(Duration::from_secs(5), || clients_field(con, "blocked_clients")
            == n.to_string()),
        "blocked_clients never reached {}",
        n
    );
}

/// Runs a blocking command on its own connection in a thread.
fn spawn_cmd(port: u16, args: &[&str]) -> thread::JoinHandle<redis::RedisResult<redis::Value>> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    thread::spawn(move || {
        let mut con = connect(port, false);
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        cmd.query(&mut con)
    })
}

fn bulk(s: &str) -> redis::Value {
    redis::Value::BulkString(s.as_bytes().to_vec())
}

fn pair(k: &str, v: &str) -> redis::Value {
    redis::Value::Array(vec![bulk(k), bulk(v)])
}

// ----- functional -----

#[test]
fn basic_list_commands() {
    let s = tine();
    let mut con = s.client();
    let n: i64 =
        redis::cmd("RPUSH").arg("l").arg(&["a", "b", "c", "1", "2"]).query(&mut con).unwrap();
    assert_eq!(n, 5);
    let all: Vec<String> = redis::cmd("LRANGE").arg("l").arg(0).arg(-1).query(&mut con).unwrap();
    assert_eq!(all, ["a", "b", "c", "1", "2"]);
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("l").query(&mut con).unwrap();
    assert_eq!(enc, "quicklist");
    let popped: Vec<String> = redis::cmd("RPOP").arg("l").arg(10).query(&mut con).unwrap();
    assert_eq!(popped, ["2", "1", "c", "b", "a"]);
    let exists: i64 = redis::cmd("EXISTS").arg("l").query(&mut con).unwrap();
    assert_eq!(exists, 0, "an emptied list is deleted");
}

#[test]
fn big_list_keeps_order_and_fill() {
    let s = tine();
    let mut con = s.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("list-max-listpack-size")
        .arg(4)
        .query(&mut con)
        .unwrap();
    let items: Vec<String> = (0..1000).map(|i| format!("e{}", i)).collect();
    let _: i64 = redis::cmd("RPUSH").arg("l").arg(&items).query(&mut con).unwrap();
    let got: Vec<String> = redis::cmd("LRANGE").arg("l").arg(0).arg(-1).query(&mut con).unwrap();
    assert_eq!(got, items);
    let idx: i64 = redis::cmd("LPOS").arg("l").arg("e777").query(&mut con).unwrap();
    assert_eq!(idx, 777);
    let _: () = redis::cmd("LTRIM").arg("l").arg(100).arg(-101).query(&mut con).unwrap();
    let len: i64 = redis::cmd("LLEN").arg("l").query(&mut con).unwrap();
    assert_eq!(len, 800);
    let first: String = redis::cmd("LINDEX").arg("l").arg(0).query(&mut con).unwrap();
    assert_eq!(first, "e100");
}

// ----- blocking -----

#[test]
fn push_wakes_blocked_client() {
    let s = tine();
    let mut con = s.client();
    let h = spawn_cmd(s.port, &["BLPOP", "k", "0"]);
    wait_blocked(&mut con, 1);
    let _: i64 = redis::cmd("RPUSH").arg("k").arg("v").query(&mut con).unwrap();
    assert_eq!(h.join().unwrap().unwrap(), pair("k", "v"));
    wait_blocked(&mut con, 0);
    let exists: i64 = redis::cmd("EXISTS").arg("k").query(&mut con).unwrap();
    assert_eq!(exists, 0);
}

#[test]
fn blocked_clients_served_in_arrival_order() {
    let s = tine();
    let mut con = s.client();
    let first = spawn_cmd(s.port, &["BLPOP", "k", "0"]);
    wait_blocked(&mut con, 1);
    let second = spawn_cmd(s.port, &["BRPOP", "other", "k", "0"]);
    wait_blocked(&mut con, 2);
    let third = spawn_cmd(s.port, &["BLPOP", "k", "0"]);
    wait_blocked(&mut con, 3);
    let _: i64 = redis::cmd("RPUSH").arg("k").arg(&["a", "b"]).query(&mut con).unwrap();
    assert_eq!(first.join().unwrap().unwrap(), pair("k", "a"));
    assert_eq!(second.join().unwrap().unwrap(), pair("k", "b"));
    wait_blocked(&mut con, 1);
    let _: i64 = redis::cmd("LPUSH").arg("k").arg("c").query(&mut con).unwrap();
    assert_eq!(third.join().unwrap().unwrap(), pair("k", "c"));
}

#[test]
fn timeout_replies_null() {
    let s = tine();
    let mut con = s.client();
    let start = Instant::now();
    let v: redis::Value = redis::cmd("BLPOP").arg("k").arg("0.2").query(&mut con).unwrap();
    let took = start.elapsed();
    assert_eq!(v, redis::Value::Nil);
    assert!(took >= Duration::from_millis(190), "{:?}", took);
    assert!(took < Duration::from_secs(2), "{:?}", took);
    // The timeout reply is the null array, for BLMOVE too, as Redis.
    let mut raw = s.raw();
    assert_eq!(raw.cmd_str(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.01"]), "*-1\r\n");
    assert_eq!(raw.cmd_str(&["HELLO", "3"]).as_bytes()[0], b'%');
    assert_eq!(raw.cmd_str(&["BRPOPLPUSH", "a", "b", "0.01"]), "_\r\n");
    wait_blocked(&mut con, 0);
}

#[test]
fn retyped_key_keeps_client_waiting() {
    let s = tine();
    let mut con = s.client();
    let h = spawn_cmd(s.port, &["BLPOP", "k", "0"]);
    wait_blocked(&mut con, 1);
    let _: () = redis::cmd("SET").arg("k").arg("str").query(&mut con).unwrap();
    thread::sleep(Duration::from_millis(50));
    assert_eq!(clients_field(&mut con, "blocked_clients"), "1");
    let _: i64 = redis::cmd("DEL").arg("k").query(&mut con).unwrap();
    let _: i64 = redis::cmd("RPUSH").arg("k").arg(&["x", "y"]).query(&mut con).unwrap();
    assert_eq!(h.join().unwrap().unwrap(), pair("k", "x"));
    let rest: Vec<String> = redis::cmd("LRANGE").arg("k").arg(0).arg(-1).query(&mut con).unwrap();
    assert_eq!(rest, ["y"]);
}

#[test]
fn swapdb_serves_blocked_clients() {
    let s = tine();
    let mut con = s.client();
    let h = spawn_cmd(s.port, &["BLPOP", "k", "0"]);
    wait_blocked(&mut con, 1);
    let _: () = redis::cmd("SELECT").arg(1).query(&mut con).unwrap();
    let _: i64 = redis::cmd("RPUSH").arg("k").arg("from1").query(&mut con).unwrap();
    let _: () = redis::cmd("SWAPDB").arg(0).arg(1).query(&mut con).unwrap();
    assert_eq!(h.join().unwrap().unwrap(), pair("k", "from1"));
}

#[test]
fn blmove_chains_and_wrong_destination() {
    let s = tine();
    let mut con = s.client();
    let mover = spawn_cmd(s.port, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut con, 1);
    let popper = spawn_cmd(s.port, &["BLPOP", "dst", "0"]);
    wait_blocked(&mut con, 2);
    let _: i64 = redis::cmd("RPUSH").arg("src").arg("x").query(&mut con).unwrap();
    assert_eq!(mover.join().unwrap().unwrap(), bulk("x"));
    assert_eq!(popper.join().unwrap().unwrap(), pair("dst", "x"));

    // A destination of the wrong type ends the wait with WRONGTYPE and pops nothing.
    let mover = spawn_cmd(s.port, &["BRPOPLPUSH", "src2", "str", "0"]);
    wait_blocked(&mut con, 1);
    let _: () = redis::cmd("SET").arg("str").arg("v").query(&mut con).unwrap();
    let _: i64 = redis::cmd("RPUSH").arg("src2").arg("y").query(&mut con).unwrap();
    let err = mover.join().unwrap().unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
    let len: i64 = redis::cmd("LLEN").arg("src2").query(&mut con).unwrap();
    assert_eq!(len, 1);
}

#[test]
fn blmpop_serves_count() {
    let s = tine();
    let mut con = s.client();
    let h = spawn_cmd(s.port, &["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut con, 1);
    let _: i64 = redis::cmd("RPUSH").arg("b").arg(&["1", "2", "3"]).query(&mut con).unwrap();
    let expect =
        redis::Value::Array(vec![bulk("b"), redis::Value::Array(vec![bulk("3"), bulk("2")])]);
    assert_eq!(h.join().unwrap().unwrap(), expect);
}

#[test]
fn blocked_client_queues_commands_and_shows_in_client_list() {
    let s = tine();
    let mut con = s.client();
    let mut raw = s.raw();
    // BLPOP then PING in one write: the PING waits until BLPOP is answered.
    raw.send_cmd(&["BLPOP", "k", "0"]);
    raw.send_cmd(&["PING"]);
    wait_blocked(&mut con, 1);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    let line = list.lines().find(|l| l.contains("cmd=blpop")).expect("blocked client listed");
    assert!(line.contains("flags=b "), "{}", line);
    assert_eq!(clients_field(&mut con, "clients_in_timeout_table"), "0");
    let _: i64 = redis::cmd("RPUSH").arg("k").arg("v").query(&mut con).unwrap();
    assert_eq!(raw.reply(), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
    assert_eq!(raw.reply(), b"+PONG\r\n");
}

#[test]
fn disconnect_while_blocked_forgets_client() {
    let s = tine();
    let mut con = s.client();
    {
        let mut raw = s.raw();
        raw.send_cmd(&["BLPOP", "k", "5"]);
        wait_blocked(&mut con, 1);
        assert_eq!(clients_field(&mut con, "clients_in_timeout_table"), "1");
    }
    wait_blocked(&mut con, 0);
    let _: i64 = redis::cmd("RPUSH").arg("k").arg("v").query(&mut con).unwrap();
    let len: i64 = redis::cmd("LLEN").arg("k").query(&mut con).unwrap();
    assert_eq!(len, 1, "nobody popped for the gone client");
}

// ----- differential against redis-server -----

const KEYS: &[&str] = &["l1", "l2", "l3", "str", "missing"];

fn element(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => "-1".into(),
        1 => rng.below(300).to_string(),
        2 => "x".repeat(rng.below(100) as usize),
        3 => "9223372036854775807".into(),
        4 => "007".into(),
        _ => rng.pick(&["a", "b", "c", "1", "2"]).into(),
    }
}

fn index(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => "x".into(),
        1 => "1.5".into(),
        2 => "99999999999999999999".into(),
        3 => "-9223372036854775808".into(),
        4 => "9223372036854775807".into(),
        _ => (rng.below(16) as i64 - 8).to_string(),
    }
}

fn count(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => "-1".into(),
        1 => "x".into(),
        2 => "0".into(),
        _ => (1 + rng.below(5)).to_string(),
    }
}

fn end(rng: &mut Rng) -> String {
    rng.pick(&["LEFT", "right", "Left", "RIGHT", "middle"]).into()
}

/// One random command (sometimes malformed).
fn random_command(rng: &mut Rng) -> Vec<String> {
    let k = rng.pick(KEYS).to_string();
    let k2 = rng.pick(KEYS).to_string();
    let mut v: Vec<String> = match rng.below(30) {
        0..=3 => {
            let mut v = vec![rng.pick(&["LPUSH", "RPUSH", "lpush", "rpush"]).into(), k];
            for _ in 0..1 + rng.below(4) {
                v.push(element(rng));
            }
            v
        }
        4 => vec![rng.pick(&["LPUSHX", "RPUSHX"]).into(), k, element(rng)],
        5 | 6 => {
            let mut v = vec![rng.pick(&["LPOP", "RPOP"]).into(), k];
            if rng.chance(50) {
                v.push(count(rng));
            }
            v
        }
        7 => vec!["LLEN".into(), k],
        8 | 9 => vec!["LRANGE".into(), k, index(rng), index(rng)],
        10 => vec!["LINDEX".into(), k, index(rng)],
        11 => vec!["LSET".into(), k, index(rng), element(rng)],
        12 => vec![
            "LINSERT".into(),
            k,
            rng.pick(&["BEFORE", "after", "x"]).into(),
            element(rng),
            element(rng),
        ],
        13 => vec!["LREM".into(), k, index(rng), element(rng)],
        14 => vec!["LTRIM".into(), k, index(rng), index(rng)],
        15 | 16 => {
            let mut v = vec!["LPOS".into(), k, element(rng)];
            for _ in 0..rng.below(3) {
                match rng.below(4) {
                    0 => v.extend(["RANK".into(), index(rng)]),
                    1 => v.extend(["COUNT".into(), count(rng)]),
                    2 => v.extend(["MAXLEN".into(), count(rng)]),
                    _ => v.push("RANK".into()),
                }
            }
            v
        }
        17 => vec!["LMOVE".into(), k, k2, end(rng), end(rng)],
        18 => vec!["RPOPLPUSH".into(), k, k2],
        19 | 20 => {
            let n = rng.below(4);
            let mut v =
                vec!["LMPOP".into(), if rng.chance(10) { "x".into() } else { n.to_string() }];
            for _ in 0..rng.below(4) {
                v.push(rng.pick(KEYS).into());
            }
            v.push(end(rng));
            if rng.chance(50) {
                v.extend(["COUNT".into(), count(rng)]);
            }
            v
        }
        21 => vec![
            rng.pick(&["BLPOP", "BRPOP"]).into(),
            k,
            k2,
            rng.pick(&["0.01", "-1", "x", "0.001"]).into(),
        ],
        22 => vec!["BLMOVE".into(), k, k2, end(rng), end(rng), rng.pick(&["0.01", "-1"]).into()],
        23 => vec!["BRPOPLPUSH".into(), k, k2, "0.01".into()],
        24 => vec![
            "BLMPOP".into(),
            rng.pick(&["0.01", "nan"]).into(),
            rng.below(3).to_string(),
            k,
            k2,
            end(rng),
        ],
        25 => vec!["SET".into(), "str".into(), element(rng)],
        26 => vec!["DEL".into(), k],
        27 => vec!["TYPE".into(), k],
        28 => vec!["OBJECT".into(), "ENCODING".into(), k],
        _ => vec!["EXISTS".into(), k, k2],
    };
    // Sometimes drop or add an argument, for arity errors.
    match rng.below(40) {
        0 if v.len() > 1 => {
            v.pop();
        }
        1 => v.push("extra".into()),
        _ => {}
    }
    v
}

fn run_differential(seed: u64, steps: usize, tine: &TestServer, redis: &TestServer) {
    let mut rng = Rng(seed);
    let mut a = tine.raw();
    let mut b = redis.raw();
    for con in [&mut a, &mut b] {
        con.cmd(&["FLUSHALL"]);
        con.cmd(&["SET", "str", "v"]);
        if seed % 2 == 1 {
            assert_eq!(con.cmd_str(&["HELLO", "3"]).as_bytes()[0], b'%');
        }
    }
    let mut history: Vec<String> = Vec::new();
    for step in 0..steps {
        let cmd = random_command(&mut rng);
        let args: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
        history.push(cmd.join(" "));
        let got = a.cmd(&args);
        let want = b.cmd(&args);
        if got != want {
            let tail: Vec<&String> = history.iter().rev().take(15).rev().collect();
            panic!(
                "seed {} step {}: {:?}\n tine:  {:?}\n redis: {:?}\nlast commands: {:#?}",
                seed,
                step,
                cmd.join(" "),
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                tail
            );
        }
        // Now and then, compare every key's whole content.
        if step % 50 == 49 {
            for &k in KEYS {
                for q in [&["LRANGE", k, "0", "-1"][..], &["TYPE", k]] {
                    let (x, y) = both(&mut a, &mut b, q);
                    assert_eq!(x, y, "seed {} step {}: {}", seed, step, q.join(" "));
                }
            }
        }
    }
}

#[test]
fn differential_against_redis() {
    let Some((tine, redis)) = start_pair(&["--save", ""]) else {
        return;
    };
    let base = seed_from_env("LISTS_SEED");
    eprintln!("differential seeds start at {} (LISTS_SEED to replay)", base);
    for i in 0..6 {
        run_differential(base.wrapping_add(i), 400, &tine, &redis);
    }
}

/// A client about to block, a controlling client, and the blocked one's id.
struct UnblockSession {
    ctl: redis::Connection,
    ctl_raw: Raw,
    blocked: Raw,
    id: String,
}

impl UnblockSession {
    fn start(s: &TestServer) -> UnblockSession {
        let mut blocked = s.raw();
        let id = blocked.cmd_str(&["CLIENT", "ID"]).trim_start_matches(':').trim_end().to_string();
        UnblockSession { ctl: s.client(), ctl_raw: s.raw(), blocked, id }
    }

    /// Sends `cmd`, waits until it blocks, releases it with CLIENT UNBLOCK [reason]: returns
    /// what CLIENT UNBLOCK and the released client got.
    fn block_then_unblock(&mut self, cmd: &[&str], reason: Option<&str>) -> [String; 2] {
        self.blocked.send_cmd(cmd);
        wait_blocked(&mut self.ctl, 1);
        let mut unblock = vec!["CLIENT", "UNBLOCK", self.id.as_str()];
        unblock.extend(reason);
        let answer = self.ctl_raw.cmd_str(&unblock);
        let released = self.blocked.reply_str();
        wait_blocked(&mut self.ctl, 0);
        [answer, released]
    }
}

/// CLIENT UNBLOCK ends a blocked client's wait as a timeout would (TIMEOUT, the default) or
/// with -UNBLOCKED (ERROR), and answers 0 for a client that is not blocked; the same session
/// on tine and redis-server gives the same frames.
#[test]
fn client_unblock_matches_redis() {
    let session = |s: &TestServer| -> Vec<String> {
        let mut u = UnblockSession::start(s);
        let mut log = Vec::new();
        for (cmd, reason) in [
            (&["BLPOP", "l", "0"][..], None),
            (&["BZPOPMIN", "z", "0"][..], Some("ERROR")),
            (&["BLMOVE", "l", "m", "LEFT", "RIGHT", "0"][..], Some("timeout")),
        ] {
            log.extend(u.block_then_unblock(cmd, reason));
        }
        let id = u.id.clone();
        log.push(u.ctl_raw.cmd_str(&["CLIENT", "UNBLOCK", id.as_str()]));
        log.push(u.ctl_raw.cmd_str(&["CLIENT", "UNBLOCK", "abc"]));
        log.push(u.ctl_raw.cmd_str(&["CLIENT", "UNBLOCK", id.as_str(), "maybe"]));
        log.push(u.ctl_raw.cmd_str(&["CLIENT", "UNBLOCK", "999999"]));
        // The blocked connection is usable again.
        log.push(u.blocked.cmd_str(&["PING"]));
        log
    };
    let ours = session(&tine());
    assert_eq!(ours[0], ":1\r\n");
    assert_eq!(ours[1], "*-1\r\n");
    if let Some(redis) = RedisServer::start() {
        assert_eq!(ours, session(&redis), "left tine, right redis");
    }
}

/// WAIT on a master without replicas, as redis-server answers it: 0 at once for 0 replicas or
/// inside a transaction, 0 after the timeout otherwise, a blocked client (counted in
/// blocked_clients) that CLIENT UNBLOCK releases, and Redis's errors.
#[test]
fn wait_without_replicas_matches_redis() {
    let session = |s: &TestServer| -> Vec<String> {
        let mut u = UnblockSession::start(s);
        let mut log = Vec::new();
        for args in [
            &["WAIT", "0", "0"][..],
            &["WAIT", "-1", "100"],
            &["WAIT", "1", "30"],
            &["WAIT", "abc", "0"],
            &["WAIT", "1", "abc"],
            &["WAIT", "1", "-1"],
            &["WAIT", "1", "1.5"],
            &["MULTI"],
            &["WAIT", "1", "0"],
            &["EXEC"],
        ] {
            log.push(u.blocked.cmd_str(args));
        }
        for reason in [None, Some("ERROR")] {
            log.extend(u.block_then_unblock(&["WAIT", "2", "0"], reason));
        }
        log
    };
    let ours = session(&tine());
    assert_eq!(ours[0], ":0\r\n");
    assert_eq!(ours[2], ":0\r\n");
    if let Some(redis) = RedisServer::start() {
        assert_eq!(ours, session(&redis), "left tine, right redis");
    }
}
