//! Pub/Sub and keyspace notifications against the real thing: the same sessions run on tine
//! and on redis-server (when installed) and the frames, byte for byte, must be the same —
//! (P)(UN)SUBSCRIBE replies and counts, PUBLISH counts, message and pmessage frames in RESP2
//! and RESP3 (push), the RESP2 subscribed-context rules, PUBSUB introspection, forgetting a
//! subscriber that disconnects, and keyspace/keyevent notifications for string and generic
//! commands, lazy and active expiry, and eviction.

mod common;

use std::time::Duration;

use common::{Raw, RedisServer, TestServer};

const QUIET: Duration = Duration::from_millis(150);

fn servers(args: &[&str]) -> (TestServer, Option<TestServer>) {
    let mut all = vec!["--save", "", "--enable-debug-command", "yes"];
    all.extend_from_slice(args);
    (TestServer::with_args(&all), RedisServer::with_args(&all))
}

/// Runs a scenario on tine and, when installed, on redis-server; compares what it recorded.
fn on_both(args: &[&str], scenario: impl Fn(&TestServer) -> Vec<String>) {
    let (ours, real) = servers(args);
    let got = scenario(&ours);
    if let Some(real) = real {
        let want = scenario(&real);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a, b, "record #{i} differs (left: tine, right: redis)");
        }
        assert_eq!(got.len(), want.len());
    }
}

/// Everything that arrives on `c` within a short quiet period.
fn drain(c: &mut Raw) -> String {
    String::from_utf8_lossy(&c.read_for(QUIET)).into_owned()
}

#[test]
fn subscribe_replies_and_counts() {
    on_both(&[], |s| {
        let mut log = Vec::new();
        for proto in ["2", "3"] {
            let mut c = s.raw();
            c.cmd(&["HELLO", proto]);
            c.send_cmd(&["SUBSCRIBE", "a", "b", "a"]);
            log.push(drain(&mut c));
            c.send_cmd(&["PSUBSCRIBE", "n*", "x?", "n*"]);
            log.push(drain(&mut c));
            c.send_cmd(&["UNSUBSCRIBE", "a", "zzz"]);
            log.push(drain(&mut c));
            c.send_cmd(&["PUNSUBSCRIBE", "x?", "nope"]);
            log.push(drain(&mut c));
            c.send_cmd(&["UNSUBSCRIBE"]);
            log.push(drain(&mut c));
            c.send_cmd(&["PUNSUBSCRIBE"]);
            log.push(drain(&mut c));
            // With nothing left, argument-less forms answer one frame with a null name.
            c.send_cmd(&["UNSUBSCRIBE"]);
            log.push(drain(&mut c));
            c.send_cmd(&["PUNSUBSCRIBE"]);
            log.push(drain(&mut c));
            log.push(c.cmd_str(&["PING"]));
        }
        log
    });
}

#[test]
fn messages_resp2_and_resp3() {
    on_both(&[], |s| {
        let mut log = Vec::new();
        let (mut s2, mut s3, mut p) = (s.raw(), s.raw(), s.raw());
        s3.cmd(&["HELLO", "3"]);
        s2.send_cmd(&["SUBSCRIBE", "news"]);
        s2.send_cmd(&["PSUBSCRIBE", "n*"]);
        log.push(drain(&mut s2));
        s3.send_cmd(&["PSUBSCRIBE", "*s"]);
        s3.send_cmd(&["SUBSCRIBE", "news"]);
        log.push(drain(&mut s3));
        log.push(p.cmd_str(&["PUBLISH", "news", "hello"]));
        log.push(p.cmd_str(&["PUBLISH", "nothing", ""]));
        log.push(p.cmd_str(&["PUBLISH", "other", "x"]));
        log.push(drain(&mut s2));
        log.push(drain(&mut s3));
        // A RESP3 client may run ordinary commands while subscribed; pushes interleave.
        log.push(s3.cmd_str(&["SET", "k", "v"]));
        log.push(s3.cmd_str(&["GET", "k"]));
        log.push(p.cmd_str(&["PUBLISH", "news", "again"]));
        log.push(drain(&mut s3));
        log.push(drain(&mut s2));
        log
    });
}

#[test]
fn resp2_subscribed_context() {
    on_both(&[], |s| {
        let mut log = Vec::new();
        let mut c = s.raw();
        c.send_cmd(&["SUBSCRIBE", "ch"]);
        log.push(drain(&mut c));
        log.push(c.cmd_str(&["GET", "k"]));
        log.push(c.cmd_str(&["SET", "k", "v"]));
        log.push(c.cmd_str(&["PING"]));
        log.push(c.cmd_str(&["PING", "hello"]));
        c.send_cmd(&["UNSUBSCRIBE", "ch"]);
        log.push(drain(&mut c));
        // Out of the subscribed state: ordinary again.
        log.push(c.cmd_str(&["PING"]));
        log.push(c.cmd_str(&["GET", "k"]));
        log
    });
}

#[test]
fn pubsub_introspection_and_disconnect() {
    on_both(&[], |s| {
        let mut log = Vec::new();
        let mut q = s.raw();
        {
            let (mut a, mut b) = (s.raw(), s.raw());
            a.send_cmd(&["SUBSCRIBE", "c1", "c2"]);
            b.send_cmd(&["SUBSCRIBE", "c2", "d1"]);
            a.send_cmd(&["PSUBSCRIBE", "p*"]);
            b.send_cmd(&["PSUBSCRIBE", "p*", "q*"]);
            drain(&mut a);
            drain(&mut b);
            let mut chans = q.cmd_str(&["PUBSUB", "CHANNELS"]);
            chans = sorted_array(&chans);
            log.push(chans);
            log.push(sorted_array(&q.cmd_str(&["PUBSUB", "CHANNELS", "c*"])));
            log.push(q.cmd_str(&["PUBSUB", "NUMSUB", "c1", "c2", "none"]));
            log.push(q.cmd_str(&["PUBSUB", "NUMSUB"]));
            log.push(q.cmd_str(&["PUBSUB", "NUMPAT"]));
            log.push(q.cmd_str(&["PUBLISH", "c2", "m"]));
            log.push(q.cmd_str(&["PUBLISH", "p1", "m"]));
            // a and b disconnect here.
        }
        let forgotten = common::eventually(Duration::from_secs(5), || {
            q.cmd_str(&["PUBSUB", "NUMPAT"]) == ":0\r\n"
        });
        assert!(forgotten, "patterns of closed clients still counted");
        log.push(q.cmd_str(&["PUBSUB", "CHANNELS"]));
        log.push(q.cmd_str(&["PUBSUB", "NUMSUB", "c1", "c2"]));
        log.push(q.cmd_str(&["PUBLISH", "c2", "m"]));
        log
    });
}

/// The bulk strings of an array reply, sorted (PUBSUB CHANNELS order is a hash table's).
fn sorted_array(rep: &str) -> String {
    let mut lines = rep.split("\r\n");
    let head = lines.next().unwrap_or("").to_string();
    let mut items: Vec<String> = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            items.push(lines.next().unwrap_or("").to_string());
        }
    }
    items.sort();
    format!("{head} {items:?}")
}

/// A subscriber to every keyspace and keyevent channel of db 0.
fn notifications_subscriber(s: &TestServer, proto: &str) -> Raw {
    let mut sub = s.raw();
    sub.cmd(&["HELLO", proto]);
    sub.send_cmd(&["PSUBSCRIBE", "__key*@0__:*"]);
    sub.reply();
    sub.send_cmd(&["SUBSCRIBE", "marker"]);
    sub.reply();
    sub
}

/// Publishes a marker through `c` and returns every frame `sub` received before it: all
/// the events of the commands sent before, without waiting for a quiet period.
fn until_marker(c: &mut Raw, sub: &mut Raw) -> String {
    c.cmd(&["PUBLISH", "marker", "m"]);
    let mut out = String::new();
    loop {
        let f = String::from_utf8_lossy(&sub.reply()).into_owned();
        if f.contains("$6\r\nmarker\r\n") {
            return out;
        }
        out.push_str(&f);
    }
}

/// Runs `cmds` on a fresh connection and records, after each, what the subscriber got.
fn record_events(s: &TestServer, flags: &str, proto: &str, cmds: &[&[&str]]) -> Vec<String> {
    let mut c = s.raw();
    c.cmd(&["FLUSHALL"]);
    c.cmd(&["RPUSH", "l", "3", "1", "2"]);
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    let mut sub = notifications_subscriber(s, proto);
    let mut log = Vec::new();
    for cmd in cmds {
        log.push(format!("{cmd:?} -> {}", c.cmd_str(cmd)));
        log.push(until_marker(&mut c, &mut sub));
    }
    log
}

const STRING_AND_GENERIC: &[&[&str]] = &[
    &["SET", "s", "1"],
    &["SET", "s", "2", "EX", "100"],
    &["SETNX", "s", "3"],
    &["SETEX", "t", "100", "x"],
    &["MSET", "a", "1", "b", "2"],
    &["APPEND", "a", "x"],
    &["SETRANGE", "b", "3", "y"],
    &["INCR", "c"],
    &["DECRBY", "c", "5"],
    &["INCRBYFLOAT", "c", "1.5"],
    &["GETSET", "a", "z"],
    &["GETEX", "a", "EX", "100"],
    &["GETEX", "a", "PERSIST"],
    &["GETDEL", "a"],
    &["SETBIT", "bits", "3", "1"],
    &["BITOP", "OR", "dst", "bits", "bits"],
    &["EXPIRE", "b", "100"],
    &["PERSIST", "b"],
    &["EXPIRE", "b", "-1"],
    &["RENAME", "s", "s2"],
    &["COPY", "s2", "s3"],
    &["MOVE", "s3", "1"],
    &["DEL", "s2", "nothing"],
    &["UNLINK", "t"],
    &["SORT", "l", "STORE", "sorted"], // "sortstore" (the list is made before subscribing)
    &["SET", "gone", "v", "PX", "1"],
];

#[test]
fn keyspace_events_string_and_generic() {
    for (flags, proto) in [("KEA", "2"), ("KEA", "3"), ("Kg$", "2"), ("E$", "2"), ("Ex", "2")] {
        on_both(&[], |s| {
            let mut log = record_events(s, flags, proto, STRING_AND_GENERIC);
            // Lazy expiry: the key set above with PX 1 is found expired on access.
            std::thread::sleep(Duration::from_millis(50));
            let mut c = s.raw();
            c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
            c.cmd(&["SET", "lazy", "v", "PX", "1"]);
            std::thread::sleep(Duration::from_millis(50));
            let mut sub = notifications_subscriber(s, proto);
            log.push(c.cmd_str(&["GET", "lazy"]));
            log.push(until_marker(&mut c, &mut sub));
            c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
            log
        });
    }
}

/// Every command that may find a key past its time: the "expired" event comes first (before
/// the command's own events, in Redis's order) and `expired_keys` counts each key once,
/// whichever lookup found it (SET NX, SETNX and MSETNX, MOVE's source and destination, INCR,
/// list moves, blocking pops served, sorted-set stores...).
const LAZY_EXPIRY_PATHS: &[&[&str]] = &[
    &["SET", "k1", "new", "NX"],
    &["SETNX", "k2", "new"],
    &["MSETNX", "k3", "new", "other", "x"],
    &["MOVE", "k4", "1"],
    &["INCR", "k5"],
    &["LMOVE", "l6", "l7", "LEFT", "RIGHT"],
    &["RPUSH", "l7", "a"],
    &["LMOVE", "l7", "l8", "LEFT", "LEFT"],
    &["ZADD", "z9", "1", "m"],
    &["ZPOPMIN", "z10"],
    &["EXISTS", "k11"],
    &["GET", "k12"],
];

#[test]
fn lazy_expiry_is_counted_and_announced_on_every_path() {
    on_both(&[], |s| {
        let mut c = s.raw();
        c.cmd(&["FLUSHALL"]);
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
        for k in ["k1", "k2", "k3", "k5", "k11", "k12"] {
            c.cmd(&["SET", k, "old", "PX", "1"]);
        }
        c.cmd(&["SET", "k4", "old", "PX", "1"]);
        c.cmd(&["SELECT", "1"]);
        c.cmd(&["SET", "k4", "old", "PX", "1"]); // MOVE's destination has expired too
        c.cmd(&["SELECT", "0"]);
        for l in ["l6", "l8"] {
            c.cmd(&["RPUSH", l, "x"]);
            c.cmd(&["PEXPIRE", l, "1"]);
        }
        for z in ["z9", "z10"] {
            c.cmd(&["ZADD", z, "1", "x"]);
            c.cmd(&["PEXPIRE", z, "1"]);
        }
        std::thread::sleep(Duration::from_millis(50));
        let before = c.cmd_str(&["INFO", "stats"]);
        let mut sub = notifications_subscriber(s, "2");
        let mut log = Vec::new();
        for cmd in LAZY_EXPIRY_PATHS {
            log.push(format!("{cmd:?} -> {}", c.cmd_str(cmd)));
            log.push(until_marker(&mut c, &mut sub));
        }
        let after = c.cmd_str(&["INFO", "stats"]);
        let expired = |info: &str| common::info_field(info, "expired_keys").unwrap();
        log.push(format!("expired_keys {} -> {}", expired(&before), expired(&after)));
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
        log
    });
}

/// Reads of present and missing keys through every kind of lookup Redis has: lookupKeyRead
/// (counts, announces "keymiss"), LOOKUP_NOTOUCH (EXISTS, TYPE, TTL...: counts, announces),
/// LOOKUP_NONOTIFY (OBJECT: counts, silent) and the reads of writing commands (neither).
const READ_LOOKUPS: &[&[&str]] = &[
    &["SET", "s", "1"],
    &["GET", "s"],
    &["GET", "nope"],
    &["MGET", "s", "nope", "l"],
    &["EXISTS", "s", "nope"],
    &["TYPE", "nope"],
    &["TTL", "nope"],
    &["PEXPIRETIME", "s"],
    &["OBJECT", "ENCODING", "nope"],
    &["OBJECT", "ENCODING", "s"],
    &["OBJECT", "FREQ", "nope"], // on a present key the LFU counter is random
    &["COPY", "nope", "x"],
    &["DUMP", "nope"],
    &["TOUCH", "s", "nope"],
    &["HGET", "nope", "f"],
    &["LRANGE", "l", "0", "-1"],
    &["LRANGE", "nope", "0", "-1"],
    &["SORT", "nope"],
    &["SUNION", "nope", "nope2"],
    &["ZSCORE", "nope", "m"],
    &["GETDEL", "nope"],
    &["SET", "nope", "v", "NX"],
    &["INCR", "counter"],
    &["RENAME", "missing", "x"],
];

#[test]
fn read_lookups_count_and_announce_misses_as_redis() {
    for flags in ["Em", "KEA", ""] {
        on_both(&["--maxmemory-policy", "allkeys-lfu"], |s| {
            let mut log = record_events(s, flags, "2", READ_LOOKUPS);
            let mut c = s.raw();
            let info = c.cmd_str(&["INFO", "stats"]);
            for field in ["keyspace_hits", "keyspace_misses"] {
                log.push(format!("{field} {}", common::info_field(&info, field).unwrap()));
            }
            log
        });
    }
}

/// SCAN with TYPE looks each key up (deleting those past their time, whatever their type) and
/// RANDOMKEY deletes the expired keys it draws: both count and announce them as Redis does.
#[test]
fn scan_type_and_randomkey_expire_what_they_meet() {
    on_both(&[], |s| {
        let mut c = s.raw();
        c.cmd(&["FLUSHALL"]);
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
        let mut sub = notifications_subscriber(s, "2");
        let mut log = Vec::new();
        for cmd in [
            &["SET", "str", "v", "EXAT", "1"][..], // kept, past its time, until something looks
            &["SCAN", "0", "TYPE", "zset"],
            &["DBSIZE"],
            &["SET", "other", "v", "EXAT", "1"],
            &["RANDOMKEY"],
            &["DBSIZE"],
        ] {
            log.push(format!("{cmd:?} -> {}", c.cmd_str(cmd)));
            log.push(until_marker(&mut c, &mut sub));
        }
        let info = c.cmd_str(&["INFO", "stats"]);
        for field in ["expired_keys", "keyspace_hits", "keyspace_misses"] {
            log.push(format!("{field} {}", common::info_field(&info, field).unwrap()));
        }
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
        log
    });
}

#[test]
fn active_expiry_publishes_expired() {
    on_both(&[], |s| {
        let mut c = s.raw();
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
        let mut sub = s.raw();
        sub.send_cmd(&["SUBSCRIBE", "__keyevent@0__:expired"]);
        drain(&mut sub);
        c.cmd(&["SET", "soon", "v", "PX", "50"]);
        // Nobody touches the key: only the active cycle can expire it.
        let got = String::from_utf8_lossy(&sub.read_for(Duration::from_millis(1500))).into_owned();
        vec![got]
    });
}

#[test]
fn eviction_publishes_evicted() {
    // The event is compared, not which key went: both servers evict the only key there is.
    on_both(&[], |s| {
        let mut c = s.raw();
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]);
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
        c.cmd(&["SET", "victim", &"x".repeat(200_000)]);
        let mut sub = s.raw();
        sub.send_cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
        drain(&mut sub);
        let info = c.cmd_str(&["INFO", "memory"]);
        let used: u64 = common::info_field(&info, "used_memory").unwrap().parse().unwrap();
        // Just below what is used now: evicting the big key is enough.
        let limit = used - 100_000;
        c.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]);
        let rep = c.cmd_str(&["SET", "small", "v"]);
        c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
        vec![rep, drain(&mut sub)]
    });
}

/// The events Redis 7.0 emits for list, hash, set and sorted set commands.
const COLLECTIONS: &[&[&str]] = &[
    &["RPUSH", "l", "a", "b"],
    &["LPUSH", "l", "z"],
    &["LPOP", "l"],
    &["LSET", "l", "0", "q"],
    &["LTRIM", "l", "0", "0"],
    &["LINSERT", "l", "BEFORE", "q", "p"],
    &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
    &["RPOP", "l"],
    &["HSET", "h", "f", "1"],
    &["HINCRBY", "h", "f", "2"],
    &["HDEL", "h", "f"],
    &["SADD", "s", "a", "b"],
    &["SREM", "s", "a"],
    &["SMOVE", "s", "s2", "b"],
    &["SINTERSTORE", "s3", "s2", "s2"],
    &["ZADD", "z", "1", "a", "2", "b"],
    &["ZINCRBY", "z", "1", "a"],
    &["ZREM", "z", "a"],
    &["ZPOPMIN", "z"],
];

/// List, hash, set and sorted set commands publish their events as Redis does (lpush, rpush,
/// lpop, rpop, lset, ltrim, linsert, lmove; hset, hincrby, hdel; sadd, srem, smove,
/// sinterstore; zadd, zincr, zrem, zpopmin, and the "del" when a collection empties).
#[test]
fn keyspace_events_collections() {
    on_both(&[], |s| record_events(s, "KEA", "2", COLLECTIONS));
}

/// Sharded pub/sub (Redis 7.0): SSUBSCRIBE/SUNSUBSCRIBE replies and their own count, SPUBLISH
/// reaching shard subscribers only (and PUBLISH never them, patterns never them), the RESP2
/// subscribed context held by shard subscriptions alone, PUBSUB SHARDCHANNELS/SHARDNUMSUB,
/// SSUBSCRIBE refused in MULTI, RESP3 push frames, CLIENT LIST's sub/psub/ssub counts.
#[test]
fn sharded_pubsub() {
    on_both(&[], |s| {
        let mut log = Vec::new();
        let (mut sub, mut other) = (s.raw(), s.raw());
        sub.send_cmd(&["SSUBSCRIBE", "a", "b", "a"]);
        sub.send_cmd(&["SUBSCRIBE", "x"]);
        sub.send_cmd(&["PSUBSCRIBE", "*"]);
        sub.send_cmd(&["GET", "k"]);
        log.push(drain(&mut sub));
        let list = other.cmd_str(&["CLIENT", "LIST"]);
        let counts: Vec<&str> = list
            .split(' ')
            .filter(|f| f.starts_with("sub=") || f.starts_with("psub=") || f.starts_with("ssub="))
            .collect();
        log.push(counts.join(" "));
        for cmd in [
            &["SPUBLISH", "a", "hi"][..],
            &["PUBLISH", "a", "plain"],
            // (the order of several channels is the hash table's, so one at a time)
            &["PUBSUB", "SHARDCHANNELS", "b*"],
            &["PUBSUB", "SHARDCHANNELS", "a*"],
            &["PUBSUB", "SHARDNUMSUB"],
            &["PUBSUB", "SHARDNUMSUB", "a", "b", "c"],
            &["PUBSUB", "NUMSUB", "a"],
            &["PUBSUB", "CHANNELS"],
        ] {
            log.push(other.cmd_str(cmd));
        }
        log.push(drain(&mut sub));
        sub.send_cmd(&["SUNSUBSCRIBE", "b", "zz"]);
        sub.send_cmd(&["UNSUBSCRIBE"]);
        sub.send_cmd(&["PUNSUBSCRIBE"]);
        sub.send_cmd(&["GET", "k"]);
        sub.send_cmd(&["SUNSUBSCRIBE"]);
        sub.send_cmd(&["GET", "k"]);
        sub.send_cmd(&["SUNSUBSCRIBE"]);
        log.push(drain(&mut sub));
        other.send_cmd(&["MULTI"]);
        other.send_cmd(&["SSUBSCRIBE", "q"]);
        other.send_cmd(&["EXEC"]);
        log.push(drain(&mut other));
        let mut push = s.raw();
        push.cmd(&["HELLO", "3"]);
        push.send_cmd(&["SSUBSCRIBE", "c"]);
        push.send_cmd(&["GET", "k"]);
        log.push(drain(&mut push));
        log.push(other.cmd_str(&["SPUBLISH", "c", "m"]));
        log.push(drain(&mut push));
        log
    });
}

/// Pub/sub frames are pushes: CLIENT REPLY OFF/SKIP silences replies but not (un)subscribe
/// confirmations nor messages, as in Redis 7.0.
#[test]
fn subscribe_frames_pass_client_reply_off() {
    on_both(&[], |s| {
        let mut log = Vec::new();
        for proto in ["2", "3"] {
            let (mut c, mut p) = (s.raw(), s.raw());
            c.cmd(&["HELLO", proto]);
            c.send_cmd(&["CLIENT", "REPLY", "OFF"]);
            c.send_cmd(&["PING"]);
            c.send_cmd(&["SUBSCRIBE", "ch"]);
            c.send_cmd(&["SSUBSCRIBE", "sch"]);
            log.push(drain(&mut c));
            log.push(p.cmd_str(&["PUBLISH", "ch", "m1"]));
            log.push(p.cmd_str(&["SPUBLISH", "sch", "m2"]));
            log.push(drain(&mut c));
            c.send_cmd(&["UNSUBSCRIBE"]);
            c.send_cmd(&["SUNSUBSCRIBE"]);
            log.push(drain(&mut c));
        }
        log
    });
}

/// The `n` class: a key a command creates is announced as "new" before the command's own
/// event, and an overwrite announces nothing new, byte for byte as redis-server (Redis's
/// dbAdd). Before, tine accepted `n` and sent no "new" event.
#[test]
fn new_key_events_as_redis() {
    let ours = TestServer::with_args(&["--save", ""]);
    let Some(real) = RedisServer::with_args(&["--save", ""]) else { return };
    let events = |s: &TestServer| -> Vec<u8> {
        let mut c = s.raw();
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAn"]);
        let mut sub = s.raw();
        sub.cmd(&["PSUBSCRIBE", "*"]);
        for cmd in [
            &["SET", "foo", "bar"][..],
            &["SET", "foo", "baz"],
            &["INCR", "n"],
            &["RPUSH", "l", "a"],
            &["HSET", "h", "a", "b"],
            &["COPY", "foo", "foo2"],
            &["RENAME", "foo2", "foo3"],
            &["SADD", "s1", "a"],
            &["SUNIONSTORE", "s3", "s1"],
            &["XADD", "x", "1-1", "f", "v"],
        ] {
            c.cmd(cmd);
        }
        sub.read_for(Duration::from_millis(500))
    };
    let (t, r) = (events(&ours), events(&real));
    assert_eq!(String::from_utf8_lossy(&t), String::from_utf8_lossy(&r));
    assert!(String::from_utf8_lossy(&t).contains("__keyevent@0__:new"));
}
