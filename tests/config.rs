//! Configuration end to end: the config file (Redis's quoting, `include`), the command line
//! overriding it, fatal errors at startup, Debian's stock redis.conf, CONFIG GET / SET /
//! REWRITE / RESETSTAT. Where the expected text is Redis's, the real redis-server is asked.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::*;

/// CONFIG GET as a sorted map.
fn config_get(con: &mut redis::Connection, patterns: &[&str]) -> BTreeMap<String, String> {
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("GET");
    for p in patterns {
        cmd.arg(*p);
    }
    let flat: Vec<String> = cmd.query(con).unwrap();
    flat.chunks(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect()
}

fn get1(con: &mut redis::Connection, name: &str) -> String {
    config_get(con, &[name])
        .remove(name)
        .unwrap_or_else(|| panic!("CONFIG GET {name} returned nothing"))
}

const QUOTED_CONFIG: &str = r#"# A config file the way people write them.
   # indented comment
hz 20
maxmemory 10mb
maxmemory-policy "allkeys-lru"
requirepass 'it\'s'
masterauth "two words \"quoted\" \x41\t"
save "900 1 300 10"
client-output-buffer-limit normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60
tcp-keepalive   60
lazyfree-lazy-eviction yes
"#;

#[test]
fn config_file_quoting_and_include_match_redis() {
    let shared = tempfile::tempdir().unwrap();
    let inc = shared.path().join("included.conf");
    std::fs::write(&inc, "slowlog-max-len 77\nhz 25\n").unwrap();
    let text = format!("{QUOTED_CONFIG}include {}\n", inc.display());
    let server = TestServer::with_config(&text);
    let Some(redis) = RedisServer::with_config(&text) else {
        return;
    };
    let mut t = server.client();
    let mut r = redis.client();
    for c in [&mut t, &mut r] {
        let _: () = redis::cmd("AUTH").arg("it's").query(c).unwrap_or_else(|_| {
            panic!("AUTH with the single-quoted password from the file failed")
        });
    }
    for name in [
        "hz",
        "maxmemory",
        "maxmemory-policy",
        "requirepass",
        "masterauth",
        "save",
        "client-output-buffer-limit",
        "tcp-keepalive",
        "lazyfree-lazy-eviction",
        "slowlog-max-len",
    ] {
        assert_eq!(get1(&mut t, name), get1(&mut r, name), "{name}");
    }
    assert_eq!(get1(&mut t, "hz"), "25", "the included file comes later and wins");
    assert_eq!(get1(&mut t, "masterauth"), "two words \"quoted\" A\t");
}

#[test]
fn command_line_overrides_the_file() {
    let server = TestServer::with_config_and_args(
        "hz 20\nmaxmemory 1mb\nsave 60 1\n",
        &["--hz", "30", "--save", "", "--maxmemory", "2mb"],
    );
    let mut con = server.client();
    assert_eq!(get1(&mut con, "hz"), "30");
    assert_eq!(get1(&mut con, "maxmemory"), "2097152");
    assert_eq!(get1(&mut con, "save"), "");
    assert_eq!(get1(&mut con, "port"), server.port.to_string());
    assert_eq!(
        get1(&mut con, "dir"),
        server.dir.path().canonicalize().unwrap().display().to_string()
    );
}

/// Runs a server binary on a bad config and returns (exit code, stdout+stderr without the
/// first line naming the product).
fn fatal(bin: &str, conf_text: Option<&str>, args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut argv: Vec<String> = Vec::new();
    if let Some(text) = conf_text {
        let conf = dir.path().join("bad.conf");
        std::fs::write(&conf, text).unwrap();
        argv.push(conf.display().to_string());
    }
    argv.extend(["--port".to_string(), free_port().to_string()]);
    argv.extend(args.iter().map(|s| s.to_string()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = run_to_exit(bin, &argv, dir.path(), Duration::from_secs(20));
    let text = format!("{}{}", out.stdout, out.stderr);
    let body: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("*** FATAL CONFIG FILE ERROR"))
        .collect();
    (out.status.code().unwrap_or(-1), body.join("\n"))
}

#[test]
fn unknown_directive_stops_startup_like_redis() {
    let (code, text) = fatal(TINE_BIN.as_str(), Some("hz 10\nfoo bar\n"), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        text,
        "Reading the configuration file, at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments"
    );
    if !redis_available() {
        return;
    }
    let cases: &[(Option<&str>, &[&str])] = &[
        (Some("hz 10\nfoo bar\n"), &[]),
        (Some("port\n"), &[]),
        (Some("hz abc\n"), &[]),
        (Some("maxmemory-policy nope\n"), &[]),
        (Some("appendonly maybe\n"), &[]),
        (Some("save 900\n"), &[]),
        (Some("requirepass a b\n"), &[]),
        (Some("include\n"), &[]),
        (Some("oom-score-adj-values 1\n"), &[]),
        (Some("hz 10\n\n  unknown-thing 1 2\n"), &[]),
        (None, &["--no-such-option", "1"]),
        (None, &["--hz", "x"]),
        (Some("hz 10\n"), &["--foo"]),
    ];
    for (conf, args) in cases {
        let (tc, tt) = fatal(TINE_BIN.as_str(), *conf, args);
        let (rc, rt) = fatal(REDIS_BIN, *conf, args);
        assert_eq!(tc, rc, "exit code for {conf:?} {args:?}");
        assert_eq!(tt, rt, "message for {conf:?} {args:?} (left tine, right redis)");
    }
}

#[test]
fn fatal_error_inside_an_included_file() {
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("inc.conf");
    std::fs::write(&inc, "hz 10\nbogus-directive yes\n").unwrap();
    let (code, text) = fatal(TINE_BIN.as_str(), Some(&format!("include {}\n", inc.display())), &[]);
    assert_eq!(code, 1);
    assert!(text.contains(">>> 'bogus-directive yes'"), "{text}");
    assert!(text.contains("Bad directive or wrong number of arguments"), "{text}");
}

#[test]
fn debian_redis_conf_starts_as_is() {
    let stock = Path::new("/etc/redis/redis.conf");
    let Ok(text) = std::fs::read_to_string(stock) else {
        eprintln!("SKIPPED: {} is missing or unreadable", stock.display());
        return;
    };
    let server =
        TestServer::with_config_and_args(&text, &["--pidfile", "tine.pid", "--daemonize", "no"]);
    let mut con = server.client();
    assert_eq!(redis::cmd("PING").query::<String>(&mut con).unwrap(), "PONG");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    assert_eq!(get1(&mut con, "daemonize"), "no");
    // Values the stock file sets, as the real server reads them.
    if let Some(redis) =
        RedisServer::with_config_and_args(&text, &["--pidfile", "redis.pid", "--daemonize", "no"])
    {
        let mut r = redis.client();
        for name in [
            "databases",
            "save",
            "maxmemory-policy",
            "tcp-backlog",
            "timeout",
            "tcp-keepalive",
            "loglevel",
            "dbfilename",
            "appendonly",
            "appendfsync",
            "hz",
            "slowlog-log-slower-than",
            "slowlog-max-len",
            "protected-mode",
        ] {
            assert_eq!(get1(&mut con, name), get1(&mut r, name), "{name}");
        }
    }
    assert!(server.path("tine.pid").exists(), "pidfile from --pidfile");
}

#[test]
fn config_get_globs_and_several_patterns() {
    let server = TestServer::start();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut t = server.client();
    let mut r = redis.client();
    for patterns in [
        &["maxmemory*"][..],
        &["hz", "timeout"],
        &["*keepalive*", "hz", "h?"],
        &["slowlog-*", "latency-*"],
        &["lazyfree-*"],
        &["NOSUCH*"],
        &["HZ"],
        &["save", "appendonly", "appendfsync"],
        &["client-output-buffer-limit"],
        &["*max-*-entries"],
    ] {
        let tm = config_get(&mut t, patterns);
        let rm = config_get(&mut r, patterns);
        assert_eq!(tm, rm, "CONFIG GET {patterns:?} (left tine, right redis)");
    }
    // Every name the real server reports for '*' is known to tine too.
    let tall = config_get(&mut t, &["*"]);
    let rall = config_get(&mut r, &["*"]);
    let missing: Vec<&String> = rall.keys().filter(|k| !tall.contains_key(*k)).collect();
    assert!(missing.is_empty(), "CONFIG GET * lacks {missing:?}");
}

#[test]
fn config_set_errors_match_redis() {
    let server = TestServer::start();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut t = server.raw();
    let mut r = redis.raw();
    for args in [
        &["CONFIG", "SET", "hz", "15", "maxmemory", "3mb"][..],
        &["CONFIG", "SET", "hz", "abc"],
        &["CONFIG", "SET", "hz", "16", "maxmemory", "lots"],
        &["CONFIG", "SET", "maxmemory-policy", "nope"],
        &["CONFIG", "SET", "daemonize", "yes"],
        &["CONFIG", "SET", "databases", "5"],
        &["CONFIG", "SET", "hz", "17", "daemonize", "no"],
        &["CONFIG", "SET", "nosuch", "1"],
        &["CONFIG", "SET", "hz", "18", "nosuch", "1"],
        &["CONFIG", "SET", "hz", "19", "hz", "20"],
        &["CONFIG", "SET", "hz", "21", "HZ", "22"],
        &["CONFIG", "SET", "hz"],
        &["CONFIG", "SET", "hz", "1", "maxmemory"],
        &["CONFIG", "SET", "appendfsync", "sometimes"],
        &["CONFIG", "SET", "lazyfree-lazy-eviction", "maybe"],
        &["CONFIG", "SET", "save", "10"],
        &["CONFIG", "SET", "save", "10 abc"],
        &["CONFIG", "GET"],
        &["CONFIG", "NOSUCH"],
    ] {
        assert_same(&mut t, &mut r, args);
    }
}

#[test]
fn config_set_is_all_or_nothing() {
    let server = TestServer::start();
    let mut con = server.client();
    let before = config_get(&mut con, &["hz", "maxmemory", "slowlog-max-len"]);
    let err = redis::cmd("CONFIG")
        .arg(&["SET", "hz", "33", "slowlog-max-len", "5", "maxmemory", "junk"])
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("maxmemory"), "{err}");
    assert_eq!(config_get(&mut con, &["hz", "maxmemory", "slowlog-max-len"]), before);
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "hz", "33", "slowlog-max-len", "5", "maxmemory", "1mb"])
        .query(&mut con)
        .unwrap();
    assert_eq!(get1(&mut con, "hz"), "33");
    assert_eq!(get1(&mut con, "slowlog-max-len"), "5");
    assert_eq!(get1(&mut con, "maxmemory"), "1048576");
}

#[test]
fn config_rewrite_round_trip() {
    let text = "# my settings\nhz 20\n\n# memory\nmaxmemory 1mb\n# the end\n";
    let mut server = TestServer::with_config(text);
    {
        let mut con = server.client();
        let _: () = redis::cmd("CONFIG")
            .arg(&["SET", "hz", "42", "maxmemory", "5mb", "slowlog-max-len", "99"])
            .query(&mut con)
            .unwrap();
        let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut con).unwrap();
    }
    let conf = server.config_file.clone().unwrap();
    let rewritten = std::fs::read_to_string(&conf).unwrap();
    for kept in ["# my settings", "# memory", "# the end"] {
        assert!(rewritten.contains(kept), "comment {kept:?} lost:\n{rewritten}");
    }
    assert!(rewritten.contains("\nhz 42\n"), "{rewritten}");
    assert!(rewritten.contains("\nmaxmemory 5mb\n"), "{rewritten}");
    assert!(rewritten.contains("# Generated by CONFIG REWRITE"), "{rewritten}");
    assert!(rewritten.contains("slowlog-max-len 99"), "{rewritten}");

    server.restart();
    let mut con = server.client();
    assert_eq!(get1(&mut con, "hz"), "42");
    assert_eq!(get1(&mut con, "maxmemory"), "5242880");
    assert_eq!(get1(&mut con, "slowlog-max-len"), "99");
    // A second rewrite with nothing changed keeps every setting and comment where it was
    // (the port is new after the restart; blank lines may settle, as in Redis).
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut con).unwrap();
    // The default user read back from its `user` line was reset first, which gives it
    // `sanitize-payload` (as redis-server does: `--user default on nopass ~* &* +@all`
    // lists as `user default on nopass sanitize-payload ~* &* +@all`).
    let lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.is_empty() && !l.starts_with("port "))
            .map(|l| l.replace("nopass sanitize-payload", "nopass"))
            .collect()
    };
    assert_eq!(lines(&std::fs::read_to_string(&conf).unwrap()), lines(&rewritten));
}

#[test]
fn config_rewrite_matches_redis() {
    let text = "# header\nhz 20\nmaxmemory 1mb\nfoo-unknown-to-nobody 1\n\n\n# tail\nsave 900 1\n";
    // Redis refuses the unknown directive at startup; give both a file it accepts.
    let text = text.replace("foo-unknown-to-nobody 1\n", "");
    let server = TestServer::with_config(&text);
    let Some(redis) = RedisServer::with_config(&text) else {
        return;
    };
    for s in [&server, &redis] {
        let mut con = s.client();
        let _: () = redis::cmd("CONFIG")
            .arg(&["SET", "hz", "42", "maxmemory", "5mb", "timeout", "7"])
            .query(&mut con)
            .unwrap();
        let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut con).unwrap();
    }
    // Both files are their own (port, dir, logfile differ); compare the rest.
    let strip = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| {
                !l.starts_with("port ") && !l.starts_with("dir ") && !l.starts_with("logfile ")
            })
            .map(str::to_string)
            .collect()
    };
    let mut t = strip(server.config_file.as_ref().unwrap());
    let mut r = strip(redis.config_file.as_ref().unwrap());
    // Redis appends new lines in hash-table order; compare the appended part as a set.
    let split = |v: &mut Vec<String>| -> Vec<String> {
        match v.iter().position(|l| l == "# Generated by CONFIG REWRITE") {
            Some(i) => {
                let mut tail = v.split_off(i);
                tail.sort();
                tail
            }
            None => Vec::new(),
        }
    };
    let (tt, mut rt) = (split(&mut t), split(&mut r));
    // A Redis quirk tine does not copy: it rewrites latency-tracking-info-percentiles even at
    // its default (a float compare).
    rt.retain(|l| !l.starts_with("latency-tracking-info-percentiles"));
    assert_eq!(t, r, "rewritten file head (left tine, right redis)");
    assert_eq!(tt, rt, "appended lines (left tine, right redis)");
}

#[test]
fn config_rewrite_without_a_file() {
    let server = TestServer::start();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    assert_same(&mut server.raw(), &mut redis.raw(), &["CONFIG", "REWRITE"]);
}

#[test]
fn config_resetstat() {
    let server = TestServer::start();
    let mut con = server.client();
    for i in 0..10 {
        let _: () = redis::cmd("SET").arg(i).arg(i).query(&mut con).unwrap();
        let _: Option<String> = redis::cmd("GET").arg("missing").query(&mut con).unwrap();
    }
    let _ = redis::cmd("NOSUCHCMD").query::<()>(&mut con);
    let stats = info(&mut con, "stats");
    assert_eq!(info_field(&stats, "keyspace_misses").as_deref(), Some("10"));
    assert!(info(&mut con, "commandstats").contains("cmdstat_set:calls=10,"));
    let es = info(&mut con, "errorstats");
    // (The redis crate's CLIENT SETINFO on connect fails on 7.0 too and counts as well.)
    assert!(es.contains("errorstat_ERR:count="), "{es:?}");

    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut con).unwrap();
    let stats = info(&mut con, "stats");
    assert_eq!(info_field(&stats, "keyspace_misses").as_deref(), Some("0"));
    assert_eq!(info_field(&stats, "keyspace_hits").as_deref(), Some("0"));
    assert_eq!(info_field(&stats, "total_error_replies").as_deref(), Some("0"));
    let processed: u64 = info_field(&stats, "total_commands_processed").unwrap().parse().unwrap();
    assert!(processed <= 2, "{stats}");
    let cs = info(&mut con, "commandstats");
    assert!(!cs.contains("cmdstat_set"), "{cs}");
    assert!(!info(&mut con, "errorstats").contains("errorstat_ERR"));
    // The keys are still there: only statistics were reset.
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut con).unwrap(), 10);
}

/// The bounds a server names when it refuses a value: "... between A and B inclusive".
fn named_bounds(reply: &str) -> Option<(i128, i128)> {
    let rest = reply.split("between ").nth(1)?;
    let mut it = rest.split(" inclusive").next()?.split(" and ");
    Some((it.next()?.trim().parse().ok()?, it.next()?.trim().parse().ok()?))
}

/// Values to try around a pair of bounds, plus the edges of every C integer type Redis
/// stores directives in (so a row whose bounds Redis never names is still exercised).
fn bound_candidates(bounds: &[(i128, i128)]) -> Vec<String> {
    let mut vals: Vec<i128> = vec![
        -101,
        -100,
        -1,
        0,
        1,
        i32::MIN as i128 - 1,
        i32::MAX as i128 + 1,
        u32::MAX as i128 + 1,
        i64::MIN as i128,
        i64::MAX as i128,
        i64::MAX as i128 + 1,
        u64::MAX as i128,
        u64::MAX as i128 + 1,
    ];
    for &(lo, hi) in bounds {
        vals.extend([lo - 1, lo, hi, hi + 1]);
    }
    vals.sort();
    vals.dedup();
    vals.iter().map(i128::to_string).collect()
}

/// Directives where setting an in-range value would act on the host (listen on a port, raise
/// the open files limit), so only values both servers refuse are sent.
const OUT_OF_RANGE_ONLY: &[&str] = &["port", "tls-port", "maxclients"];

/// Every numeric directive's bounds against redis-server: each mutable one is CONFIG SET to
/// values around the bounds either server names (and to the edges of the C integer types),
/// the replies compared exactly, and after a success the value CONFIG GET then shows; each
/// immutable one is given on the command line around Redis's bounds, and must fail to start
/// with Redis's message or start as Redis does. The directive list is tine's own CONFIG GET *,
/// so a row added later with wrong bounds is caught.
#[test]
fn numeric_directive_bounds_match_redis() {
    let Some((tine, redis)) = start_pair(&["--save", ""]) else {
        return;
    };
    let mut t = Raw::connect(tine.port);
    let mut r = Raw::connect(redis.port);
    let all = config_get(&mut tine.client(), &["*"]);
    let real_all = config_get(&mut redis.client(), &["*"]);
    let mut immutable: Vec<String> = Vec::new();
    let mut checked = 0;
    for (name, value) in &all {
        let numeric = !value.is_empty()
            && value.strip_prefix('-').unwrap_or(value).bytes().all(|b| b.is_ascii_digit());
        // Not in Redis's list: tine's own directive.
        let Some(real_value) = real_all.get(name) else {
            continue;
        };
        if !numeric {
            continue;
        }
        // Each server back to its own value (they differ for `port`).
        let restore = |t: &mut Raw, r: &mut Raw| {
            assert_eq!(t.cmd_str(&["CONFIG", "SET", name, value]), "+OK\r\n", "restore {name}");
            assert_eq!(
                r.cmd_str(&["CONFIG", "SET", name, real_value]),
                "+OK\r\n",
                "restore {name}"
            );
        };
        let ts = t.cmd_str(&["CONFIG", "SET", name, value]);
        let rs = r.cmd_str(&["CONFIG", "SET", name, real_value]);
        assert_eq!(ts, rs, "CONFIG SET {name} to its current value (left tine, right redis)");
        if rs.contains("immutable") {
            immutable.push(name.clone());
            continue;
        }
        // The bounds each server names for values out of any C type's range.
        let mut bounds = Vec::new();
        for probe in [&i64::MIN.to_string(), "-1", &u64::MAX.to_string()] {
            let (ts, rs) = both(&mut t, &mut r, &["CONFIG", "SET", name, probe]);
            bounds.extend(named_bounds(&ts));
            bounds.extend(named_bounds(&rs));
            if ts.starts_with("+OK") || rs.starts_with("+OK") {
                restore(&mut t, &mut r);
            }
        }
        bounds.sort();
        bounds.dedup();
        let redis_bounds = bounds.first().copied();
        for v in bound_candidates(&bounds) {
            if OUT_OF_RANGE_ONLY.contains(&name.as_str()) {
                let (lo, hi) = redis_bounds.expect("bounds named for a host-bound directive");
                let n: i128 = v.parse().unwrap();
                if n >= lo && n <= hi {
                    continue;
                }
            }
            let (ts, rs) = both(&mut t, &mut r, &["CONFIG", "SET", name, &v]);
            assert_eq!(ts, rs, "CONFIG SET {name} {v} (left tine, right redis)");
            if rs.starts_with("+OK") {
                let (tg, rg) = both(&mut t, &mut r, &["CONFIG", "GET", name]);
                assert_eq!(tg, rg, "CONFIG GET {name} after setting {v} (left tine, right redis)");
                restore(&mut t, &mut r);
            }
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} mutable numeric directives were checked");
    assert!(immutable.iter().any(|n| n == "databases"), "{immutable:?}");

    // Immutable ones: on the command line.
    for name in &immutable {
        let flag = format!("--{name}");
        let (_, probe) = fatal(REDIS_BIN, None, &[&flag, &i64::MIN.to_string()]);
        let bounds: Vec<(i128, i128)> =
            probe.lines().last().and_then(named_bounds).into_iter().collect();
        for v in bound_candidates(&bounds) {
            let n: i128 = v.parse().unwrap();
            let in_range = bounds.iter().all(|&(lo, hi)| n >= lo && n <= hi)
                && n >= i64::MIN as i128
                && n <= i64::MAX as i128;
            if in_range {
                // Start both (not at a huge size: 2^31 databases would allocate them all).
                if !(0..=1 << 16).contains(&n) {
                    continue;
                }
                let ours = TestServer::with_args(&["--save", "", &flag, &v]);
                let Some(real) = RedisServer::with_args(&["--save", "", &flag, &v]) else {
                    return;
                };
                let tg = ours.raw().cmd_str(&["CONFIG", "GET", name]);
                let rg = real.raw().cmd_str(&["CONFIG", "GET", name]);
                assert_eq!(tg, rg, "started with {flag} {v} (left tine, right redis)");
            } else {
                let (tc, tt) = fatal(TINE_BIN.as_str(), None, &[&flag, &v]);
                let (rc, rt) = fatal(REDIS_BIN, None, &[&flag, &v]);
                assert_eq!((tc, tt), (rc, rt), "started with {flag} {v} (left tine, right redis)");
            }
        }
    }
}

/// `maxclients` against the open files limit, as Redis's adjustOpenFilesLimit: a limit the
/// server cannot raise lowers maxclients to what fits (with Redis's three log lines), and a
/// limit that leaves no room for a client stops the start. Runs under `prlimit` (util-linux).
#[test]
fn maxclients_follows_an_open_files_limit_it_cannot_raise() {
    if std::process::Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("prlimit not found; skipped");
        return;
    }
    let tine = workspace_bin("tine-server");
    let dir = tempfile::tempdir().unwrap();
    let f = run_to_exit(
        "prlimit",
        &["--nofile=20:20", &tine, "--port", "0", "--save", "", "--maxclients", "10000"],
        dir.path(),
        Duration::from_secs(10),
    );
    assert_eq!(f.status.code(), Some(1));
    assert!(
        f.stdout.contains(
            "Your current 'ulimit -n' of 20 is not enough for the server to start. Please increase your open file limit to at least 10032. Exiting."
        ),
        "{}",
        f.stdout
    );

    let port = free_port();
    let mut child = std::process::Command::new("prlimit")
        .args(["--nofile=100:100", &tine, "--port", &port.to_string(), "--save", ""])
        .args(["--maxclients", "10000"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut con = None;
    eventually(Duration::from_secs(10), || {
        con = std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| connect(port, false));
        con.is_some()
    });
    let mut con = con.expect("the server started");
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("maxclients").query(&mut con).unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    // The limit may be raised when the process may (CAP_SYS_RESOURCE): then nothing to check.
    if v[1] != "10000" {
        assert_eq!(v[1], "68");
        let log = String::from_utf8_lossy(&out.stdout);
        for line in [
            "You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
            "Server can't set maximum open files to 10032 because of OS error:",
            "Current maximum open files is 100. maxclients has been reduced to 68 to compensate for low ulimit.",
        ] {
            assert!(log.contains(line), "missing {:?} in\n{}", line, log);
        }
    }
}

/// A bare `save` line (Redis's own test suite writes one) disables snapshots, as in Redis 7.0;
/// a bare multi-value directive of another kind is still refused.
#[test]
fn a_bare_save_line_disables_snapshots() {
    let server = TestServer::with_config("save 60 1\nsave \n");
    let mut con = server.client();
    assert_eq!(get1(&mut con, "save"), "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.conf"), "client-output-buffer-limit\n").unwrap();
    let tine = workspace_bin("tine-server");
    let conf = dir.path().join("bad.conf");
    let f = run_to_exit(&tine, &[conf.to_str().unwrap()], dir.path(), Duration::from_secs(10));
    assert_eq!(f.status.code(), Some(1));
}

/// CONFIG REWRITE writes every save point (a default list too: Redis forces them, and one
/// line kept from the file read back as `save 3600 1`), shutdown-on-sigterm's several flags
/// as words, and DEBUG CONFIG-REWRITE-FORCE-ALL writes every directive, defaults included;
/// the server starts again from the file with the same configuration.
#[test]
fn rewrite_writes_save_points_signal_flags_and_everything_when_forced() {
    let mut server = TestServer::with_config("save \"\"\nenable-debug-command yes\n");
    let mut c = server.raw();
    c.cmd(&["CONFIG", "SET", "save", "3600 1 300 100 60 10000"]);
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "shutdown-on-sigterm", "now nosave"]), "+OK\r\n");
    let sigterm = "*2\r\n$19\r\nshutdown-on-sigterm\r\n$10\r\nnosave now\r\n";
    assert_eq!(c.cmd_str(&["CONFIG", "GET", "shutdown-on-sigterm"]), sigterm);
    assert!(c.cmd_str(&["CONFIG", "SET", "shutdown-on-sigterm", "later"]).starts_with("-ERR"));
    assert_eq!(c.cmd_str(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let path = server.config_file.clone().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("save ")).count(), 3, "{text}");
    assert!(text.contains("shutdown-on-sigterm nosave now"), "{text}");
    assert!(!text.contains("maxmemory-policy"), "{text}");
    assert_eq!(c.cmd_str(&["DEBUG", "CONFIG-REWRITE-FORCE-ALL"]), "+OK\r\n");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("maxmemory-policy noeviction") && text.contains("hz 10"), "{text}");
    server.restart();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["CONFIG", "GET", "shutdown-on-sigterm"]), sigterm);
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$23\r\n3600 1 300 100 60 10000\r\n"
    );
}
