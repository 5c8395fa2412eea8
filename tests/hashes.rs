//! Hash commands against the real binary: a tine-only check of the basics, then a differential
//! run — the same seeded random command sequence (error cases included) sent to tine and to
//! redis-server 7.0, replies compared exactly (as unordered collections where the hash table
//! decides the order, by effect for HRANDFIELD), and digests/encodings compared.
//! Replay a failure with `HASHSETS_SEED=<seed> cargo test --test hashes`.
//!
//! HINCRBYFLOAT uses increments whose sums are exact in binary: Redis computes in `long
//! double`, tine in f64, and only such sums print the same in both.

mod common;

use std::collections::{HashMap, HashSet};

use common::{
    DIFF_ARGS, Pair, Reply, Rng, TestServer, bytes, env_or, items, query, seed_from_env, show,
    unordered,
};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn hash_basics_on_tine() {
    let t = TestServer::with_args(DIFF_ARGS);
    let mut con = t.client();
    let mut q = |parts: &[&str]| query(&mut con, parts);
    assert_eq!(q(&["HSET", "h", "a", "1", "b", "x"]), Ok(Value::Int(2)));
    assert_eq!(q(&["OBJECT", "ENCODING", "h"]), Ok(bulk("listpack")));
    assert_eq!(
        q(&["HGETALL", "h"]),
        Ok(Value::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("x")]))
    );
    assert_eq!(q(&["HINCRBY", "h", "a", "41"]), Ok(Value::Int(42)));
    assert!(q(&["HINCRBY", "h", "b", "1"]).unwrap_err().contains("hash value is not an integer"));
    assert!(q(&["HINCRBY", "h", "a", "9223372036854775807"]).unwrap_err().contains("overflow"));
    assert_eq!(q(&["HINCRBYFLOAT", "h", "f", "1.5"]), Ok(bulk("1.5")));
    assert_eq!(q(&["HSET", "h", "inf", "inf"]), Ok(Value::Int(1)));
    assert!(q(&["HINCRBYFLOAT", "h", "inf", "1"]).unwrap_err().contains("NaN or Infinity"));
    assert_eq!(q(&["HSTRLEN", "h", "a"]), Ok(Value::Int(2)));
    // A long value converts to a table.
    let long = "v".repeat(65);
    assert_eq!(q(&["HSET", "h", "long", &long]), Ok(Value::Int(1)));
    assert_eq!(q(&["OBJECT", "ENCODING", "h"]), Ok(bulk("hashtable")));
    assert_eq!(q(&["HGET", "h", "long"]), Ok(bulk(&long)));
    assert_eq!(q(&["HDEL", "h", "a", "b", "f", "inf", "long", "zz"]), Ok(Value::Int(5)));
    assert_eq!(q(&["EXISTS", "h"]), Ok(Value::Int(0)));
    // 600 fields: a table; HSCAN sees every field once at least.
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..600 {
        args.push(format!("field:{i}"));
        args.push(format!("value:{i}"));
    }
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(q(&args), Ok(Value::Int(600)));
    assert_eq!(q(&["OBJECT", "ENCODING", "big"]), Ok(bulk("hashtable")));
    let mut seen = HashMap::new();
    let mut cursor = "0".to_string();
    loop {
        let r = q(&["HSCAN", "big", &cursor, "COUNT", "5"]).unwrap();
        let parts = items(&r);
        cursor = String::from_utf8(bytes(&parts[0])).unwrap();
        let kv = items(&parts[1]);
        for pair in kv.chunks(2) {
            seen.insert(bytes(&pair[0]), bytes(&pair[1]));
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 600);
    assert_eq!(seen[b"field:7".as_slice()], b"value:7");
    let r = items(&q(&["HRANDFIELD", "big", "-1000", "WITHVALUES"]).unwrap());
    assert_eq!(r.len(), 2000);
    let r = items(&q(&["HRANDFIELD", "big", "300"]).unwrap());
    let distinct: HashSet<Vec<u8>> = r.iter().map(bytes).collect();
    assert_eq!(distinct.len(), 300);
}

const KEYS: &[&str] = &["h0", "h1", "h2", "str", "nokey"];

fn field(r: &mut Rng) -> String {
    match r.below(14) {
        0..=7 => format!("f{}", r.below(20)),
        8..=10 => r.below(15).to_string(),
        11 => format!("{}{}", "long-field-".repeat(7), r.below(3)),
        12 => r.pick(&["inf", "", "007", "-1"]).to_string(),
        _ => format!("g{}", r.below(200)),
    }
}

fn value(r: &mut Rng) -> String {
    match r.below(14) {
        0..=4 => format!("v{}", r.below(100)),
        5..=7 => (r.below(200) as i64 - 50).to_string(),
        8 => r.pick(&["1.5", "-2.25", "0.5", "10"]).to_string(),
        9 => r
            .pick(&["9223372036854775800", "-9223372036854775800", "inf", "-inf", "abc", ""])
            .to_string(),
        10 => "x".repeat(60 + r.below(10) as usize),
        _ => format!("value:{}", r.below(1000)),
    }
}

fn key(r: &mut Rng) -> String {
    if r.chance(88) { KEYS[r.below(3) as usize].to_string() } else { r.pick(KEYS).to_string() }
}

enum Check {
    Exact,
    /// Field/value pairs (HGETALL) or single items (HKEYS, HVALS) unordered when the key is a
    /// table on redis.
    OrderedUnlessTable {
        key: String,
        pairs: bool,
    },
    Random {
        key: String,
        distinct: bool,
        with_values: bool,
    },
    Scan(String),
}

fn random_command(r: &mut Rng) -> (Vec<String>, Check) {
    let k = key(r);
    let mut cmd: Vec<String> = vec![];
    let check;
    match r.below(24) {
        0..=4 => {
            cmd.push(r.pick(&["HSET", "HSET", "HMSET"]).to_string());
            cmd.push(k);
            for _ in 0..1 + r.below(4) {
                cmd.push(field(r));
                cmd.push(value(r));
            }
            if r.chance(4) {
                cmd.pop();
            }
            check = Check::Exact;
        }
        5 => {
            cmd = vec!["HSETNX".into(), k, field(r), value(r)];
            check = Check::Exact;
        }
        6 | 7 => {
            cmd = vec!["HGET".into(), k, field(r)];
            check = Check::Exact;
        }
        8 => {
            cmd = vec!["HMGET".into(), k, field(r), field(r), field(r)];
            check = Check::Exact;
        }
        9 | 10 => {
            cmd = vec!["HDEL".into(), k];
            for _ in 0..1 + r.below(3) {
                cmd.push(field(r));
            }
            check = Check::Exact;
        }
        11 => {
            cmd = vec![r.pick(&["HLEN", "HEXISTS", "HSTRLEN"]).to_string(), k];
            if cmd[0] != "HLEN" {
                cmd.push(field(r));
            }
            check = Check::Exact;
        }
        12 | 13 => {
            let c = r.pick(&["HGETALL", "HKEYS", "HVALS"]).to_string();
            let pairs = c == "HGETALL";
            cmd = vec![c, k.clone()];
            check = Check::OrderedUnlessTable { key: k, pairs };
        }
        14 | 15 => {
            let by = r
                .pick(&[
                    "1",
                    "-3",
                    "100",
                    "x",
                    "9223372036854775807",
                    "-9223372036854775808",
                    "1.5",
                    "",
                ])
                .to_string();
            cmd = vec!["HINCRBY".into(), k, field(r), by];
            check = Check::Exact;
        }
        16 | 17 => {
            let by = r
                .pick(&["1.5", "-0.25", "3", "x", "inf", "-inf", "0", "1e3", "nan", "2.5e1"])
                .to_string();
            cmd = vec!["HINCRBYFLOAT".into(), k, field(r), by];
            check = Check::Exact;
        }
        18..=20 => {
            cmd = vec!["HRANDFIELD".into(), k.clone()];
            let mut distinct = true;
            let mut with_values = false;
            if r.chance(80) {
                let c = match r.below(12) {
                    0 => "x".to_string(),
                    1 => "-9223372036854775808".to_string(),
                    // Huge negative counts only where they are refused (WITHVALUES below):
                    // without it both servers would try to build the whole reply.
                    2 => "-4611686018427387904".to_string(),
                    3 => "4611686018427387904".to_string(),
                    4..=6 => (-(r.below(10) as i64) - 1).to_string(),
                    7 => "50".to_string(),
                    _ => r.below(12).to_string(),
                };
                distinct = !c.starts_with('-');
                let huge_negative = c.len() > 10 && c.starts_with('-');
                cmd.push(c);
                if huge_negative || r.chance(50) {
                    with_values = true;
                    let opts: &[&str] = if huge_negative {
                        &["WITHVALUES", "withvalues"]
                    } else {
                        &["WITHVALUES", "withvalues", "WITHVALUES", "withvalue"]
                    };
                    cmd.push(r.pick(opts).to_string());
                    if !huge_negative && r.chance(5) {
                        cmd.push("x".into());
                    }
                }
            }
            check = Check::Random { key: k, distinct, with_values };
        }
        21 => {
            cmd = vec!["HSCAN".into(), k.clone()];
            check = Check::Scan(k);
        }
        _ => {
            cmd = if r.chance(30) {
                vec!["DEL".into(), k]
            } else {
                vec!["OBJECT".into(), "ENCODING".into(), k]
            };
            check = Check::Exact;
        }
    }
    (cmd, check)
}

fn contents(p: &mut Pair, k: &str) -> HashMap<Vec<u8>, Vec<u8>> {
    match p.tine_cmd(&["HGETALL", k]) {
        Ok(v) => items(&v).chunks(2).map(|pr| (bytes(&pr[0]), bytes(&pr[1]))).collect(),
        Err(_) => HashMap::new(),
    }
}

/// Full HSCAN iteration on one server; the (field, value) pairs seen.
fn full_hscan(
    con: &mut redis::Connection,
    k: &str,
    opts: &[String],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let mut args = vec!["HSCAN", k, &cursor];
        args.extend(opts.iter().map(String::as_str));
        let r = query(con, &args)?;
        let parts = items(&r);
        cursor = String::from_utf8(bytes(&parts[0])).unwrap();
        for pr in items(&parts[1]).chunks(2) {
            out.push((bytes(&pr[0]), bytes(&pr[1])));
        }
        if cursor == "0" {
            break;
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Checks a random reply of tine against the hash's contents and redis's reply shape.
fn check_random(
    ctx: &str,
    t: &Reply,
    x: &Reply,
    before: &HashMap<Vec<u8>, Vec<u8>>,
    distinct: bool,
    with_values: bool,
) {
    match (t, x) {
        (Ok(Value::BulkString(f)), Ok(Value::BulkString(_))) => {
            assert!(before.contains_key(f), "{ctx}");
        }
        (Ok(Value::Array(tv)), Ok(Value::Array(xv))) => {
            assert_eq!(tv.len(), xv.len(), "{ctx}");
            let mut pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
            if with_values {
                if matches!(tv.first(), Some(Value::Array(_))) {
                    for pr in tv {
                        let pr = items(pr);
                        assert_eq!(pr.len(), 2, "{ctx}");
                        pairs.push((bytes(&pr[0]), Some(bytes(&pr[1]))));
                    }
                    assert!(xv.iter().all(|v| matches!(v, Value::Array(_))), "{ctx}");
                } else {
                    for pr in tv.chunks(2) {
                        pairs.push((bytes(&pr[0]), Some(bytes(&pr[1]))));
                    }
                    assert!(!matches!(xv.first(), Some(Value::Array(_))), "{ctx}");
                }
            } else {
                pairs.extend(tv.iter().map(|f| (bytes(f), None)));
            }
            for (f, v) in &pairs {
                let have = before.get(f);
                assert!(have.is_some(), "{ctx}: not a field");
                if let Some(v) = v {
                    assert_eq!(have, Some(v), "{ctx}: wrong value");
                }
            }
            if distinct {
                let d: HashSet<&Vec<u8>> = pairs.iter().map(|(f, _)| f).collect();
                assert_eq!(d.len(), pairs.len(), "{ctx}: repeated fields");
            }
        }
        _ => assert_eq!(t, x, "{ctx}"),
    }
}

/// Like `unordered`, for flat RESP2 arrays of pairs (HGETALL): sorts the pairs.
fn unordered_pairs(v: Reply) -> Reply {
    v.map(|v| match v {
        Value::Array(a) => {
            let mut pairs: Vec<(Value, Value)> = Vec::new();
            let mut it = a.into_iter();
            while let (Some(f), Some(x)) = (it.next(), it.next()) {
                pairs.push((f, x));
            }
            pairs.sort_by_key(|x| format!("{:?}", x));
            Value::Array(pairs.into_iter().flat_map(|(f, x)| [f, x]).collect())
        }
        Value::Map(mut m) => {
            m.sort_by_key(|x| format!("{:?}", x));
            Value::Map(m)
        }
        other => other,
    })
}

/// False when HINCRBYFLOAT would start from a value too big for f64 to add exactly (Redis's
/// `long double` would print more digits): such steps are skipped.
fn exact_in_f64(p: &mut Pair, args: &[Vec<u8>]) -> bool {
    let get = vec![b"HGET".to_vec(), args[1].clone(), args[2].clone()];
    match p.redis_cmd(&get) {
        Ok(Value::BulkString(v)) => std::str::from_utf8(&v)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .is_none_or(|x| !x.is_finite() || x.abs() < 1e15),
        _ => true,
    }
}

fn run_differential(p: &mut Pair, seed: u64, steps: usize, phase: &str) {
    let mut r = Rng(seed);
    let every: usize = env_or("HASHSETS_CHECK_EVERY", 200).max(1);
    for step in 0..steps {
        let (cmd, check) = random_command(&mut r);
        let args: Vec<Vec<u8>> = cmd.iter().map(|s| s.as_bytes().to_vec()).collect();
        let ctx = format!("seed {seed} {phase} step {step}: {}", show(&args));
        let resp3 = r.chance(40);
        if cmd[0] == "HINCRBYFLOAT" && !exact_in_f64(p, &args) {
            continue;
        }
        match check {
            Check::Exact => {
                let (t, x) = p.both(&args, resp3);
                assert_eq!(t, x, "{ctx}");
            }
            Check::OrderedUnlessTable { key, pairs } => {
                let enc = p.redis_cmd(&["OBJECT", "ENCODING", &key]);
                let (t, x) = p.both(&args, resp3);
                if enc == Ok(bulk("hashtable")) {
                    if pairs {
                        assert_eq!(unordered_pairs(t), unordered_pairs(x), "{ctx}");
                    } else {
                        assert_eq!(unordered(t), unordered(x), "{ctx}");
                    }
                } else {
                    assert_eq!(t, x, "{ctx}");
                }
            }
            Check::Random { key, distinct, with_values } => {
                let before = contents(p, &key);
                let (t, x) = p.both(&args, resp3);
                check_random(&ctx, &t, &x, &before, distinct, with_values);
            }
            Check::Scan(k) => {
                let mut opts = Vec::new();
                if r.chance(50) {
                    opts.push("COUNT".to_string());
                    opts.push(r.pick(&["1", "3", "20", "0", "x"]).to_string());
                }
                if r.chance(40) {
                    opts.push("MATCH".to_string());
                    opts.push(r.pick(&["f*", "*1*", "*", "g[0-5]*"]).to_string());
                }
                let t = full_hscan(&mut p.t2, &k, &opts);
                let x = full_hscan(&mut p.r2, &k, &opts);
                assert_eq!(t, x, "{ctx} {opts:?}");
                // Listpacks answer in one call, in order: compare that reply exactly.
                let enc = p.redis_cmd(&["OBJECT", "ENCODING", &k]);
                if enc != Ok(bulk("hashtable")) {
                    let mut one =
                        vec!["HSCAN", &k, r.pick(&["0", "-1", "x", "18446744073709551616"])];
                    one.extend(opts.iter().map(String::as_str));
                    let (t, x) = p.both(&one, resp3);
                    assert_eq!(t, x, "{ctx}: {}", show(&one));
                }
            }
        }
        if step % every == every - 1 {
            p.compare_state(KEYS, &ctx);
        }
    }
    p.compare_state(KEYS, &format!("seed {seed} {phase} end"));
}

#[test]
fn hash_commands_match_redis() {
    let Some(mut p) = Pair::start(DIFF_ARGS) else {
        return;
    };
    let seed = seed_from_env("HASHSETS_SEED");
    eprintln!("hashes differential seed {seed} (replay with HASHSETS_SEED={seed})");
    // Small limits first so that conversions happen often, then Redis's defaults.
    p.config_set("hash-max-listpack-entries", "8");
    p.config_set("hash-max-listpack-value", "16");
    run_differential(&mut p, seed, 3000, "small-limits");
    p.config_set("hash-max-listpack-entries", "512");
    p.config_set("hash-max-listpack-value", "64");
    run_differential(&mut p, seed.wrapping_add(1), 3000, "default-limits");
}
