//! Client-side caching (CLIENT TRACKING) against the real thing: the same sessions run on
//! tine and on redis-server (when installed) and what each connection receives must be the
//! same byte for byte — option errors, CLIENT CACHING / GETREDIR / TRACKINGINFO, RESP3
//! invalidation pushes (after the reply for the client's own changes, after EXEC's whole
//! reply), RESP2 redirection to a `__redis__:invalidate` subscriber, `tracking-redir-broken`,
//! BCAST prefixes and NOLOOP, OPTIN/OPTOUT, flushes, expiry, scripts, the table's key limit
//! and the INFO figures. Client ids differ between the servers, so they are replaced by
//! `<id>` in what is compared.

mod common;

use std::time::Duration;

use common::{Raw, RedisServer, TestServer};

const QUIET: Duration = Duration::from_millis(150);

/// Runs a scenario on tine and, when installed, on redis-server; compares what it recorded.
fn on_both(scenario: impl Fn(&TestServer) -> Vec<String>) {
    let args = ["--save", "", "--enable-debug-command", "yes"];
    let ours = TestServer::with_args(&args);
    let got = scenario(&ours);
    if let Some(real) = RedisServer::with_args(&args) {
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

/// A connection in the given protocol, and its client id.
fn conn(s: &TestServer, proto: &str) -> (Raw, String) {
    let mut c = s.raw();
    if proto == "3" {
        c.cmd(&["HELLO", "3"]);
    }
    let id = c.cmd_str(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end().to_string();
    (c, id)
}

/// `text` with the client ids replaced, so two servers' records compare.
fn masked(text: String, ids: &[&str]) -> String {
    let mut t = text;
    for id in ids {
        t = t.replace(&format!(":{id}\r\n"), ":<id>\r\n");
        t = t.replace(&format!("${}\r\n{id}\r\n", id.len()), "<id>");
    }
    t
}

#[test]
fn option_errors_and_introspection() {
    on_both(|s| {
        let mut log = Vec::new();
        let (mut c, id) = conn(s, "2");
        for args in [
            &["CLIENT", "TRACKING"][..],
            &["CLIENT", "TRACKING", "maybe"],
            &["CLIENT", "TRACKING", "on", "redirect", "99999"],
            &["CLIENT", "TRACKING", "on", "redirect", "abc"],
            &["CLIENT", "TRACKING", "on", "redirect", "0"],
            &["CLIENT", "TRACKING", "on", "redirect"],
            &["CLIENT", "TRACKING", "on", "prefix", "a"],
            &["CLIENT", "TRACKING", "on", "prefix"],
            &["CLIENT", "TRACKING", "on", "optin", "optout"],
            &["CLIENT", "TRACKING", "on", "bcast", "optin"],
            &["CLIENT", "TRACKING", "on", "bcast", "prefix", "ab", "prefix", "a"],
            &["CLIENT", "TRACKING", "on", "bcast", "prefix", "x", "prefix", "x"],
            &["CLIENT", "TRACKING", "on", "nosuch"],
            &["CLIENT", "TRACKING", "off", "optin", "bcast"],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "CACHING", "maybe"],
            &["CLIENT", "GETREDIR"],
            &["CLIENT", "TRACKINGINFO"],
            // On, then switching modes while on is refused and changes nothing.
            &["CLIENT", "TRACKING", "on", "optin"],
            &["CLIENT", "TRACKING", "on", "bcast"],
            &["CLIENT", "TRACKING", "on", "optout"],
            &["CLIENT", "CACHING", "no"],
            &["CLIENT", "CACHING", "maybe"],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "TRACKING", "off"],
            &["CLIENT", "TRACKING", "on", "optout", "noloop"],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "CACHING", "no"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "TRACKING", "off"],
            &["CLIENT", "TRACKING", "on", "bcast", "prefix", "b", "prefix", "a"],
            &["CLIENT", "TRACKING", "on", "bcast", "prefix", "ab"],
            &["CLIENT", "TRACKING", "on", "bcast", "prefix", "c"],
            &["CLIENT", "TRACKING", "on"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "GETREDIR"],
        ] {
            log.push(c.cmd_str(args));
        }
        let redirect = ["CLIENT", "TRACKING", "on", "bcast", "redirect", id.as_str()];
        log.push(c.cmd_str(&redirect));
        log.push(masked(c.cmd_str(&["CLIENT", "GETREDIR"]), &[&id]));
        let twice = ["CLIENT", "TRACKING", "on", "bcast", "redirect", &id, "redirect", &id];
        log.push(c.cmd_str(&twice));
        // The flags CLIENT INFO shows: t, B.
        let info = c.cmd_str(&["CLIENT", "INFO"]);
        log.push(info.split(' ').find(|f| f.starts_with("flags=")).unwrap().to_string());
        log.push(masked(c.cmd_str(&["CLIENT", "TRACKINGINFO"]), &[&id]));
        // RESP3: TRACKINGINFO's flags are a set.
        c.cmd(&["HELLO", "3"]);
        log.push(masked(c.cmd_str(&["CLIENT", "TRACKINGINFO"]), &[&id]));
        // RESET turns tracking off.
        c.cmd(&["RESET"]);
        log.push(c.cmd_str(&["CLIENT", "TRACKINGINFO"]));
        log
    });
}

#[test]
fn resp3_pushes_follow_the_reply() {
    on_both(|s| {
        let mut log = Vec::new();
        let (mut c, _) = conn(s, "3");
        let (mut other, _) = conn(s, "2");
        log.push(c.cmd_str(&["CLIENT", "TRACKING", "on"]));
        other.cmd(&["SET", "k", "1"]);
        log.push(c.cmd_str(&["GET", "k"]));
        other.cmd(&["SET", "k", "2"]);
        log.push(drain(&mut c));
        // Reported once; tracked again by the next read.
        other.cmd(&["SET", "k", "3"]);
        log.push(drain(&mut c));
        // Its own change: the push after the reply.
        c.cmd(&["HSET", "h", "f", "1"]);
        c.cmd(&["HGET", "h", "f"]);
        c.send_cmd(&["HDEL", "h", "f"]);
        log.push(drain(&mut c));
        // Inside MULTI: after EXEC's whole reply.
        c.cmd(&["MSET", "a", "1", "b", "2"]);
        c.cmd(&["GET", "a"]);
        c.cmd(&["MULTI"]);
        c.cmd(&["INCR", "a"]);
        c.cmd(&["GET", "b"]);
        c.send_cmd(&["EXEC"]);
        log.push(drain(&mut c));
        // A flush: a null for every key, after the reply.
        c.cmd(&["GET", "a"]);
        c.send_cmd(&["FLUSHDB"]);
        log.push(drain(&mut c));
        // Lazy expiry found by a read: after the read's reply.
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        c.cmd(&["SET", "x", "1", "PX", "50"]);
        c.cmd(&["GET", "x"]);
        std::thread::sleep(Duration::from_millis(80));
        c.send_cmd(&["MGET", "y", "x"]);
        log.push(drain(&mut c));
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
        // CLIENT REPLY OFF does not stop pushes.
        c.cmd(&["GET", "z"]);
        c.send_cmd(&["CLIENT", "REPLY", "OFF"]);
        other.cmd(&["SET", "z", "1"]);
        log.push(drain(&mut c));
        log.push(c.cmd_str(&["CLIENT", "REPLY", "ON"]));
        log
    });
}

#[test]
fn noloop_optin_optout_and_scripts() {
    on_both(|s| {
        let mut log = Vec::new();
        let (mut c, _) = conn(s, "3");
        let (mut other, _) = conn(s, "2");
        c.cmd(&["CLIENT", "TRACKING", "on", "noloop"]);
        c.cmd(&["MGET", "mine", "theirs"]);
        c.send_cmd(&["SET", "mine", "1"]);
        log.push(drain(&mut c));
        other.cmd(&["SET", "theirs", "1"]);
        log.push(drain(&mut c));
        // A script's write is the caller's own with NOLOOP.
        c.cmd(&["GET", "mine"]);
        c.send_cmd(&["EVAL", "return redis.call('set', KEYS[1], '2')", "1", "mine"]);
        log.push(drain(&mut c));
        c.cmd(&["CLIENT", "TRACKING", "off"]);
        // OPTIN: only after CLIENT CACHING yes, for the next command only.
        c.cmd(&["CLIENT", "TRACKING", "on", "optin"]);
        c.cmd(&["GET", "k1"]);
        c.cmd(&["CLIENT", "CACHING", "yes"]);
        c.cmd(&["GET", "k2"]);
        c.cmd(&["GET", "k3"]);
        other.cmd(&["MSET", "k1", "1", "k2", "1", "k3", "1"]);
        log.push(drain(&mut c));
        // CACHING yes lasts through a MULTI.
        c.cmd(&["CLIENT", "CACHING", "yes"]);
        c.cmd(&["MULTI"]);
        c.cmd(&["GET", "k4"]);
        c.cmd(&["GET", "k5"]);
        c.cmd(&["EXEC"]);
        other.cmd(&["MSET", "k4", "1", "k5", "1"]);
        log.push(drain(&mut c));
        c.cmd(&["CLIENT", "TRACKING", "off"]);
        // OPTOUT: everything but after CLIENT CACHING no.
        c.cmd(&["CLIENT", "TRACKING", "on", "optout"]);
        c.cmd(&["CLIENT", "CACHING", "no"]);
        c.cmd(&["GET", "k1"]);
        c.cmd(&["GET", "k2"]);
        other.cmd(&["MSET", "k1", "2", "k2", "2"]);
        log.push(drain(&mut c));
        c.cmd(&["CLIENT", "TRACKING", "off"]);
        // Scripts: the declared keys are tracked only if the script read something.
        c.cmd(&["CLIENT", "TRACKING", "on"]);
        c.cmd(&["EVAL", "redis.call('set', 'k9', 'x')", "2", "s1", "s2"]);
        other.cmd(&["MSET", "s1", "1", "s2", "1"]);
        log.push(drain(&mut c));
        c.cmd(&["EVAL", "redis.call('get', 'k9')", "2", "s1", "s2"]);
        other.cmd(&["MSET", "s2", "2", "s1", "2"]);
        log.push(drain(&mut c));
        c.cmd(&["EVAL_RO", "redis.call('ping')", "1", "s1"]);
        other.cmd(&["SET", "s1", "3"]);
        log.push(drain(&mut c));
        log
    });
}

#[test]
fn resp2_redirection_and_broken_redirect() {
    on_both(|s| {
        let mut log = Vec::new();
        let (mut sub, sub_id) = conn(s, "2");
        sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
        let (mut c, _) = conn(s, "2");
        let (mut other, _) = conn(s, "2");
        log.push(c.cmd_str(&["CLIENT", "TRACKING", "on", "REDIRECT", &sub_id]));
        log.push(masked(c.cmd_str(&["CLIENT", "GETREDIR"]), &[&sub_id]));
        c.cmd(&["MGET", "a", "b"]);
        other.cmd(&["SET", "a", "1"]);
        log.push(drain(&mut sub));
        other.cmd(&["FLUSHALL"]);
        log.push(drain(&mut sub));
        // BCAST through the redirect: one array per prefix, the keys sorted.
        c.cmd(&["CLIENT", "TRACKING", "off"]);
        c.cmd(&[
            "CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", &sub_id, "PREFIX", "p:", "PREFIX",
            "q:",
        ]);
        c.cmd(&["MULTI"]);
        for k in ["q:2", "p:2", "p:1", "r:1", "q:1"] {
            c.cmd(&["INCR", k]);
        }
        c.cmd(&["EXEC"]);
        log.push(drain(&mut sub));
        // Expiry reaches BCAST clients (active expiry, no client behind it).
        c.cmd(&["SET", "p:exp", "1", "PX", "1"]);
        std::thread::sleep(Duration::from_millis(300));
        log.push(drain(&mut sub));
        // The redirect client goes away: a RESP3 client hears of it; flag R.
        c.cmd(&["CLIENT", "TRACKING", "off"]);
        c.cmd(&["HELLO", "3"]);
        c.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &sub_id]);
        c.cmd(&["GET", "a"]);
        drop(sub);
        std::thread::sleep(Duration::from_millis(100));
        other.cmd(&["SET", "a", "2"]);
        log.push(masked(drain(&mut c), &[&sub_id]));
        log.push(masked(c.cmd_str(&["CLIENT", "TRACKINGINFO"]), &[&sub_id]));
        let info = c.cmd_str(&["CLIENT", "INFO"]);
        log.push(info.split(' ').find(|f| f.starts_with("flags=")).unwrap().to_string());
        log
    });
}

#[test]
fn bcast_noloop_and_info_figures() {
    on_both(|s| {
        let mut log = Vec::new();
        let (mut b, _) = conn(s, "3");
        let (mut t, _) = conn(s, "3");
        let (mut other, _) = conn(s, "2");
        b.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP", "PREFIX", "x", "PREFIX", "y"]);
        t.cmd(&["CLIENT", "TRACKING", "on"]);
        t.cmd(&["MGET", "k1", "k2", "x1"]);
        t.cmd(&["GET", "k1"]);
        let info = other.cmd_str(&["INFO"]);
        for f in [
            "tracking_clients",
            "tracking_total_keys",
            "tracking_total_items",
            "tracking_total_prefixes",
        ] {
            log.push(info.lines().find(|l| l.starts_with(f)).unwrap().to_string());
        }
        b.send_cmd(&["MSET", "x1", "1", "y1", "1"]);
        log.push(drain(&mut b));
        log.push(drain(&mut t));
        other.cmd(&["MSET", "x2", "1", "k1", "1"]);
        log.push(drain(&mut b));
        log.push(drain(&mut t));
        b.cmd(&["CLIENT", "TRACKING", "off"]);
        let info = other.cmd_str(&["INFO"]);
        for f in [
            "tracking_clients",
            "tracking_total_keys",
            "tracking_total_items",
            "tracking_total_prefixes",
        ] {
            log.push(info.lines().find(|l| l.starts_with(f)).unwrap().to_string());
        }
        // Switching from the default mode to BCAST: keys read before are not reported.
        t.cmd(&["GET", "k9"]);
        t.cmd(&["CLIENT", "TRACKING", "off"]);
        t.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "zz"]);
        other.cmd(&["SET", "k9", "1"]);
        log.push(drain(&mut t));
        log
    });
}

#[test]
fn table_limit_evicts_with_invalidations() {
    on_both(|s| {
        let mut log = Vec::new();
        let (mut c, _) = conn(s, "3");
        c.cmd(&["CLIENT", "TRACKING", "on"]);
        for i in 0..250 {
            c.cmd(&["GET", &format!("key{i}")]);
        }
        let (mut admin, _) = conn(s, "2");
        admin.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "1"]);
        // Cron evicts 100, then 200 more effort: 249 invalidations in all.
        std::thread::sleep(Duration::from_millis(600));
        let got = drain(&mut c);
        log.push(got.matches("invalidate").count().to_string());
        let info = admin.cmd_str(&["INFO", "stats"]);
        log.push(info.lines().find(|l| l.starts_with("tracking_total_keys")).unwrap().to_string());
        log
    });
}

/// Robustness (tine only): a huge prefix list costs the others nothing visible, a redirect
/// to a client that closed is refused, a tracking client that disconnects leaves the others
/// working, and a redirect target that disconnects breaks only its own redirect.
#[test]
fn bad_input_harms_no_one() {
    let s = TestServer::with_args(&["--save", ""]);
    let (mut big, _) = conn(&s, "3");
    let mut args: Vec<String> =
        ["CLIENT", "TRACKING", "on", "BCAST"].iter().map(|s| s.to_string()).collect();
    for i in 0..20000 {
        args.push("PREFIX".into());
        args.push(format!("pre{i:05}:"));
    }
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(big.cmd_str(&refs), "+OK\r\n");
    let (mut w, _) = conn(&s, "2");
    let start = std::time::Instant::now();
    for i in 0..2000 {
        w.cmd(&["SET", &format!("key{i}"), "v"]);
    }
    assert!(start.elapsed() < Duration::from_secs(20));
    w.cmd(&["SET", "pre00042:x", "v"]);
    assert!(drain(&mut big).contains("pre00042:x"));
    // A closed client cannot be a redirect target.
    let (gone, gone_id) = conn(&s, "2");
    drop(gone);
    std::thread::sleep(Duration::from_millis(100));
    let (mut c, _) = conn(&s, "3");
    assert_eq!(
        c.cmd_str(&["CLIENT", "TRACKING", "on", "REDIRECT", &gone_id]),
        "-ERR The client ID you want redirect to does not exist\r\n"
    );
    assert_eq!(c.cmd_str(&["CLIENT", "TRACKINGINFO"]).contains("off"), true);
    // Tracking clients that disconnect: the others still get theirs.
    for _ in 0..5 {
        let (mut t, _) = conn(&s, "3");
        t.cmd(&["CLIENT", "TRACKING", "on"]);
        t.cmd(&["GET", "shared"]);
    }
    c.cmd(&["CLIENT", "TRACKING", "on"]);
    c.cmd(&["GET", "shared"]);
    w.cmd(&["SET", "shared", "1"]);
    assert_eq!(drain(&mut c), ">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nshared\r\n");
    let info = w.cmd_str(&["INFO", "clients"]);
    assert!(info.contains("tracking_clients:2\r\n"), "{info}");
    assert_eq!(w.cmd_str(&["PING"]), "+PONG\r\n");
}

/// A redirect target that subscribes and never reads is closed at the pubsub output limit
/// (tine only): the writers go on, and the tracking client hears its redirect broke.
#[test]
fn a_redirect_target_that_does_not_read_is_cut_off() {
    let s =
        TestServer::with_args(&["--save", "", "--client-output-buffer-limit", "pubsub 1mb 0 0"]);
    let (mut sub, sub_id) = conn(&s, "2");
    sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    let (mut c, _) = conn(&s, "3");
    c.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", &sub_id]);
    let (mut w, _) = conn(&s, "2");
    let long = "k".repeat(100 * 1024);
    for i in 0..200 {
        w.cmd(&["SET", &format!("{long}{i}"), "v"]);
    }
    assert_eq!(w.cmd_str(&["PING"]), "+PONG\r\n");
    let list = w.cmd_str(&["CLIENT", "LIST"]);
    assert!(!list.contains(&format!("id={sub_id} ")), "{list}");
    w.cmd(&["SET", "after", "v"]);
    std::thread::sleep(Duration::from_millis(100));
    let got = drain(&mut c);
    assert!(got.contains("tracking-redir-broken"), "{got}");
    drop(sub);
}
