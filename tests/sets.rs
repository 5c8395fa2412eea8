//! Set commands against the real binary: a tine-only check of the basics, then a differential
//! run — the same seeded random command sequence (error cases included) sent to tine and to
//! redis-server 7.0, replies compared exactly (as unordered collections where the hash table
//! decides the order, by effect for SPOP/SRANDMEMBER), and digests/encodings compared.
//! Replay a failure with `HASHSETS_SEED=<seed> cargo test --test sets`.

mod common;

use std::collections::HashSet;

use common::{
    DIFF_ARGS, Pair, Reply, Rng, TestServer, bytes, env_or, items, query, seed_from_env, show,
    unordered,
};
use redis::Value;

#[test]
fn set_basics_on_tine() {
    let t = TestServer::with_args(DIFF_ARGS);
    let mut con = t.client();
    let mut q = |parts: &[&str]| query(&mut con, parts);
    assert_eq!(q(&["SADD", "s", "3", "1", "2", "1"]), Ok(Value::Int(3)));
    assert_eq!(q(&["OBJECT", "ENCODING", "s"]), Ok(Value::BulkString(b"intset".to_vec())));
    assert_eq!(
        q(&["SMEMBERS", "s"]),
        Ok(Value::Array(vec![
            Value::BulkString(b"1".to_vec()),
            Value::BulkString(b"2".to_vec()),
            Value::BulkString(b"3".to_vec())
        ]))
    );
    assert_eq!(q(&["SADD", "s", "x"]), Ok(Value::Int(1)));
    assert_eq!(q(&["OBJECT", "ENCODING", "s"]), Ok(Value::BulkString(b"hashtable".to_vec())));
    assert_eq!(q(&["SREM", "s", "1", "2", "3", "x"]), Ok(Value::Int(4)));
    assert_eq!(q(&["EXISTS", "s"]), Ok(Value::Int(0)));
    assert_eq!(q(&["SPOP", "s", "-1"]).unwrap_err().contains("must be positive"), true);
    assert_eq!(q(&["SET", "str", "v"]), Ok(Value::Okay));
    assert!(q(&["SADD", "str", "a"]).unwrap_err().contains("WRONGTYPE"));
    // 1,000 integers: intset up to set-max-intset-entries, then a table.
    let mut args = vec!["SADD".to_string(), "big".to_string()];
    args.extend((0..1000).map(|i| i.to_string()));
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(q(&args), Ok(Value::Int(1000)));
    assert_eq!(q(&["OBJECT", "ENCODING", "big"]), Ok(Value::BulkString(b"hashtable".to_vec())));
    // SSCAN visits everything.
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let r = q(&["SSCAN", "big", &cursor, "COUNT", "7"]).unwrap();
        let parts = items(&r);
        cursor = String::from_utf8(bytes(&parts[0])).unwrap();
        for m in items(&parts[1]) {
            seen.insert(bytes(&m));
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    // SPOP with a count removes exactly that many distinct members.
    let popped = items(&q(&["SPOP", "big", "900"]).unwrap());
    let distinct: HashSet<Vec<u8>> = popped.iter().map(bytes).collect();
    assert_eq!(distinct.len(), 900);
    assert_eq!(q(&["SCARD", "big"]), Ok(Value::Int(100)));
}

const KEYS: &[&str] = &["s0", "s1", "s2", "s3", "str", "nokey"];

fn member(r: &mut Rng) -> String {
    match r.below(20) {
        0..=8 => (r.below(40) as i64 - 5).to_string(),
        9..=15 => format!("m{}", r.below(25)),
        16 => "9223372036854775807".into(),
        17 => r.pick(&["-9223372036854775808", "007", "+1", "-0", ""]).to_string(),
        18 => format!("{}{}", "long-member-".repeat(6), r.below(5)),
        _ => (r.below(1000) + 100).to_string(),
    }
}

fn key(r: &mut Rng) -> String {
    if r.chance(85) { KEYS[r.below(4) as usize].to_string() } else { r.pick(KEYS).to_string() }
}

fn count_arg(r: &mut Rng) -> String {
    match r.below(12) {
        0 => "x".into(),
        1 => "-9223372036854775808".into(),
        2 => "0".into(),
        3..=5 => (-(r.below(8) as i64) - 1).to_string(),
        6 => "100".into(),
        _ => r.below(10).to_string(),
    }
}

/// One random command, and how to compare it.
enum Check {
    Exact,
    Unordered,
    /// Compare unordered when the source key is a hash table on redis.
    OrderedUnlessTable(String),
    Spop(String),
    Srandmember {
        key: String,
        distinct: bool,
    },
    Scan(String),
}

fn random_command(r: &mut Rng) -> (Vec<String>, Check) {
    let k = key(r);
    let s = |v: &[String]| v.to_vec();
    let mut cmd = vec![];
    let check;
    match r.below(23) {
        0..=3 => {
            cmd.push("SADD".into());
            cmd.push(k.clone());
            for _ in 0..1 + r.below(5) {
                cmd.push(member(r));
            }
            check = Check::Exact;
        }
        4 | 5 => {
            cmd = s(&["SREM".into(), k.clone()]);
            for _ in 0..1 + r.below(4) {
                cmd.push(member(r));
            }
            check = Check::Exact;
        }
        6 => {
            cmd = s(&["SMEMBERS".into(), k.clone()]);
            check = Check::OrderedUnlessTable(k);
        }
        7 => {
            cmd = s(&["SISMEMBER".into(), k, member(r)]);
            check = Check::Exact;
        }
        8 => {
            cmd = s(&["SMISMEMBER".into(), k, member(r), member(r)]);
            check = Check::Exact;
        }
        9 => {
            cmd = s(&["SCARD".into(), k]);
            check = Check::Exact;
        }
        10 | 11 => {
            cmd = s(&["SPOP".into(), k.clone()]);
            if r.chance(60) {
                cmd.push(count_arg(r));
                if r.chance(5) {
                    cmd.push("1".into());
                }
            }
            check = Check::Spop(k);
        }
        12 | 13 => {
            cmd = s(&["SRANDMEMBER".into(), k.clone()]);
            let mut distinct = true;
            if r.chance(70) {
                let c = count_arg(r);
                distinct = !c.starts_with('-');
                cmd.push(c);
                if r.chance(5) {
                    cmd.push("1".into());
                }
            }
            check = Check::Srandmember { key: k, distinct };
        }
        14 => {
            cmd = s(&["SMOVE".into(), k, key(r), member(r)]);
            check = Check::Exact;
        }
        15..=17 => {
            let op = r.pick(&["SINTER", "SUNION", "SDIFF"]).to_string();
            cmd.push(op);
            for _ in 0..1 + r.below(3) {
                cmd.push(key(r));
            }
            check = Check::Unordered;
        }
        18 | 19 => {
            let op = r.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]).to_string();
            cmd.push(op);
            cmd.push(if r.chance(50) { "dest".into() } else { key(r) });
            for _ in 0..1 + r.below(3) {
                cmd.push(key(r));
            }
            check = Check::Exact;
        }
        20 => {
            let n = 1 + r.below(3);
            let numkeys = match r.below(10) {
                0 => "0".to_string(),
                1 => "x".to_string(),
                2 => (n + 1).to_string(),
                _ => n.to_string(),
            };
            cmd = s(&["SINTERCARD".into(), numkeys]);
            for _ in 0..n {
                cmd.push(key(r));
            }
            if r.chance(40) {
                cmd.push(r.pick(&["LIMIT", "limit", "FOO"]).to_string());
                if r.chance(90) {
                    cmd.push(r.pick(&["0", "1", "2", "5", "-1", "x"]).to_string());
                }
            }
            check = Check::Exact;
        }
        21 => {
            cmd = s(&["SSCAN".into(), k.clone()]);
            check = Check::Scan(k);
        }
        _ => {
            if r.chance(30) {
                cmd = s(&["DEL".into(), k]);
            } else {
                cmd = s(&["OBJECT".into(), "ENCODING".into(), k]);
            }
            check = Check::Exact;
        }
    }
    (cmd, check)
}

fn members_of(p: &mut Pair, k: &str) -> HashSet<Vec<u8>> {
    match p.tine_cmd(&["SMEMBERS", k]) {
        Ok(v) => items(&v).iter().map(bytes).collect(),
        Err(_) => HashSet::new(),
    }
}

/// Full SSCAN iteration on one server with the given options; the members seen.
fn full_sscan(
    con: &mut redis::Connection,
    k: &str,
    opts: &[String],
) -> Result<Vec<Vec<u8>>, String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let mut args = vec!["SSCAN", k, &cursor];
        args.extend(opts.iter().map(String::as_str));
        let r = query(con, &args)?;
        let parts = items(&r);
        cursor = String::from_utf8(bytes(&parts[0])).unwrap();
        out.extend(items(&parts[1]).iter().map(bytes));
        if cursor == "0" {
            break;
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn run_differential(p: &mut Pair, seed: u64, steps: usize, phase: &str) {
    let mut r = Rng(seed);
    let every: usize = env_or("HASHSETS_CHECK_EVERY", 200).max(1);
    for step in 0..steps {
        let (cmd, check) = random_command(&mut r);
        let args: Vec<Vec<u8>> = cmd.iter().map(|s| s.as_bytes().to_vec()).collect();
        let ctx = format!("seed {seed} {phase} step {step}: {}", show(&args));
        let resp3 = r.chance(40);
        match check {
            Check::Exact => {
                let (t, x) = p.both(&args, resp3);
                assert_eq!(t, x, "{ctx}");
            }
            Check::Unordered => {
                let (t, x) = p.both(&args, resp3);
                assert_eq!(unordered(t), unordered(x), "{ctx}");
            }
            Check::OrderedUnlessTable(k) => {
                let enc = p.redis_cmd(&["OBJECT", "ENCODING", &k]);
                let (t, x) = p.both(&args, resp3);
                if enc == Ok(Value::BulkString(b"hashtable".to_vec())) {
                    assert_eq!(unordered(t), unordered(x), "{ctx}");
                } else {
                    assert_eq!(t, x, "{ctx}");
                }
            }
            Check::Scan(k) => {
                let mut opts = Vec::new();
                if r.chance(50) {
                    opts.push("COUNT".to_string());
                    opts.push(r.pick(&["1", "3", "20", "0", "x"]).to_string());
                }
                if r.chance(40) {
                    opts.push("MATCH".to_string());
                    opts.push(r.pick(&["m*", "*1*", "*", "[0-5]"]).to_string());
                }
                let (t, x) = (full_sscan(&mut p.t2, &k, &opts), full_sscan(&mut p.r2, &k, &opts));
                assert_eq!(t, x, "{ctx} {opts:?}");
                let bad = ["SSCAN", &k, r.pick(&["x", "-1", "18446744073709551616", ""])];
                let (t, x) = p.both(&bad, resp3);
                let enc = p.redis_cmd(&["OBJECT", "ENCODING", &k]);
                if x.is_ok() && enc == Ok(Value::BulkString(b"hashtable".to_vec())) {
                    // A cursor into a table: bucket positions differ between servers.
                    assert!(t.is_ok(), "{ctx}");
                } else {
                    assert_eq!(unordered_nested(t), unordered_nested(x), "{ctx} {}", show(&bad));
                }
            }
            Check::Spop(k) => {
                let before = members_of(p, &k);
                let (t, x) = p.both(&args, resp3);
                if std::env::var("HASHSETS_DEBUG").is_ok() {
                    eprintln!("{ctx}: before {} tine {t:?} redis {x:?}", before.len());
                }
                match (&t, &x) {
                    (Ok(Value::BulkString(tm)), Ok(Value::BulkString(xm))) => {
                        assert!(before.contains(tm), "{ctx}: popped a non-member");
                        if tm != xm {
                            // Make tine's set equal redis's again.
                            p.tine_cmd(&[b"SADD".to_vec(), k.as_bytes().to_vec(), tm.clone()])
                                .unwrap();
                            p.tine_cmd(&[b"SREM".to_vec(), k.as_bytes().to_vec(), xm.clone()])
                                .unwrap();
                        }
                    }
                    (Ok(tv @ (Value::Set(_) | Value::Array(_))), Ok(xv)) => {
                        assert_eq!(std::mem::discriminant(tv), std::mem::discriminant(xv), "{ctx}");
                        let tp: HashSet<Vec<u8>> = items(tv).iter().map(bytes).collect();
                        let xp: HashSet<Vec<u8>> = items(xv).iter().map(bytes).collect();
                        assert_eq!(tp.len(), items(tv).len(), "{ctx}: repeated members");
                        assert_eq!(tp.len(), xp.len(), "{ctx}");
                        assert!(tp.is_subset(&before), "{ctx}: popped non-members");
                        if tp != xp {
                            // Rebuild the key identically on both: which members survive a big
                            // SPOP (and so the encoding Redis picks for them) is random.
                            let left = p.redis_cmd(&["SMEMBERS", &k]).unwrap();
                            let mut left: Vec<Vec<u8>> = items(&left).iter().map(bytes).collect();
                            left.sort();
                            let del = ["DEL", k.as_str()];
                            p.tine_cmd(&del).unwrap();
                            p.redis_cmd(&del).unwrap();
                            if !left.is_empty() {
                                let mut add = vec![b"SADD".to_vec(), k.as_bytes().to_vec()];
                                add.extend(left);
                                p.tine_cmd(&add).unwrap();
                                p.redis_cmd(&add).unwrap();
                            }
                        }
                    }
                    _ => assert_eq!(t, x, "{ctx}"),
                }
            }
            Check::Srandmember { key: k, distinct } => {
                let before = members_of(p, &k);
                let (t, x) = p.both(&args, resp3);
                match (&t, &x) {
                    (Ok(Value::BulkString(tm)), Ok(Value::BulkString(_))) => {
                        assert!(before.contains(tm), "{ctx}");
                    }
                    (Ok(tv @ (Value::Set(_) | Value::Array(_))), Ok(xv)) => {
                        assert_eq!(std::mem::discriminant(tv), std::mem::discriminant(xv), "{ctx}");
                        let ti = items(tv);
                        assert_eq!(ti.len(), items(xv).len(), "{ctx}");
                        let tp: HashSet<Vec<u8>> = ti.iter().map(bytes).collect();
                        assert!(tp.is_subset(&before), "{ctx}");
                        if distinct {
                            assert_eq!(tp.len(), ti.len(), "{ctx}: repeated members");
                        }
                    }
                    _ => assert_eq!(t, x, "{ctx}"),
                }
            }
        }
        if step % every == every - 1 {
            p.compare_state(KEYS, &ctx);
        }
    }
    let mut all = KEYS.to_vec();
    all.push("dest");
    p.compare_state(&all, &format!("seed {seed} {phase} end"));
}

/// `unordered` applied to the item list of a scan reply.
fn unordered_nested(v: Reply) -> Reply {
    v.map(|v| match v {
        Value::Array(mut parts) if parts.len() == 2 => {
            let inner = parts.pop().unwrap();
            let inner = unordered(Ok(inner)).unwrap();
            parts.push(inner);
            Value::Array(parts)
        }
        other => other,
    })
}

#[test]
fn set_commands_match_redis() {
    let Some(mut p) = Pair::start(DIFF_ARGS) else {
        return;
    };
    let seed = seed_from_env("HASHSETS_SEED");
    eprintln!("sets differential seed {seed} (replay with HASHSETS_SEED={seed})");
    // Small limits first so that conversions happen often, then Redis's defaults.
    p.config_set("set-max-intset-entries", "8");
    run_differential(&mut p, seed, 3000, "small-limits");
    p.config_set("set-max-intset-entries", "512");
    run_differential(&mut p, seed.wrapping_add(1), 3000, "default-limits");
}
