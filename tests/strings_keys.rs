//! Strings and generic key commands against the real thing: tine-server and redis-server are
//! driven with the same seeded random command sequences (valid commands and error cases, in
//! RESP2 and RESP3), every reply is compared byte for byte, and DEBUG DIGEST at the end.
//!
//! Exceptions to byte-for-byte comparison, each for a reason:
//! - TTL, PTTL, EXPIRETIME, PEXPIRETIME: relative expiries are set a few milliseconds apart
//!   on the two servers, so the figures are compared with a tolerance.
//! - KEYS and SCAN: order (and SCAN cursors) follow each server's hash table; KEYS is
//!   compared sorted, SCAN is run to completion and the keys it returned compared as sets.
//! - SORT BY nosort over sets: the order is the set's internal order; not generated.
//! - SORT ... BY pattern ... ALPHA: ties (equal or missing weights) are left to qsort in
//!   Redis, so their order is unspecified; not generated.
//!
//! The seed is printed; replay one run with `TINE_SEED=<seed> cargo nextest run --test
//! strings_keys` (and `TINE_STEPS=<n>` to change the length, `TINE_TRACE=1` to print each command).

mod common;

use common::{DIFF_ARGS, Raw, Rng, start_pair};

/// String-ish keys, collection keys (for SORT sources and WRONGTYPE), weight keys for SORT BY.
const STR_KEYS: &[&str] = &["s1", "s2", "s3", "n1", "n2", "f1", "b1", "b2", "missing"];
const COLL_KEYS: &[&str] = &["l1", "l2", "st1", "st2", "z1", "h1"];
const ELEMS: &[&str] = &["1", "2", "3", "5", "8", "13", "-1", "2.5", "a", "b", "c"];

fn str_key(r: &mut Rng) -> String {
    r.pick(STR_KEYS).to_string()
}

fn any_key(r: &mut Rng) -> String {
    if r.chance(75) { str_key(r) } else { r.pick(COLL_KEYS).to_string() }
}

fn value(r: &mut Rng) -> String {
    match r.below(12) {
        0 => String::new(),
        1 => "hello world".into(),
        2 => format!("{}", r.below(1000) as i64 - 500),
        3 => "9223372036854775807".into(),
        4 => "-9223372036854775808".into(),
        5 => "x".repeat(50 + r.below(10) as usize),
        6 => format!("{}.5", r.below(20)),
        7 => "  12".into(),
        8 => "0x10".into(),
        9 => "abcbdab".into(),
        10 => "bdcaba".into(),
        _ => format!("v{}", r.below(30)),
    }
}

fn int_arg(r: &mut Rng) -> String {
    match r.below(14) {
        0 => "abc".into(),
        1 => "9223372036854775807".into(),
        2 => "-9223372036854775808".into(),
        3 => "1.5".into(),
        4 => "".into(),
        5 => " 1".into(),
        6 => "99999999999999999999".into(),
        _ => format!("{}", r.below(40) as i64 - 20),
    }
}

/// INCRBYFLOAT increments: both servers compute in Redis's `long double`, so any will do,
/// decimal fractions and values beyond f64 included.
fn float_arg(r: &mut Rng) -> String {
    match r.below(15) {
        12 => "0.1".into(),
        13 => "1e400".into(),
        14 => "-7.3e-5".into(),
        0 => "abc".into(),
        1 => "inf".into(),
        2 => "-inf".into(),
        3 => "nan".into(),
        4 => "1e3".into(),
        5 => "-2.5".into(),
        6 => "0.25".into(),
        7 => "3.0".into(),
        8 => "1.5e1".into(),
        9 => "".into(),
        _ => format!("{}", r.below(20) as i64 - 10),
    }
}

/// A relative expiry in seconds or ms: mostly long (nothing expires during the run),
/// sometimes invalid or non-positive.
fn ttl_arg(r: &mut Rng, ms: bool) -> String {
    match r.below(14) {
        0 => "0".into(),
        1 => "-5".into(),
        2 => "abc".into(),
        3 => "9223372036854775807".into(),
        4 => "9223372036854775".into(),
        _ => {
            let s = 200 + r.below(5000);
            if ms { (s * 1000 + r.below(1000)).to_string() } else { s.to_string() }
        }
    }
}

/// An absolute expiry: far future (exact on both servers), past, or invalid.
fn abs_arg(r: &mut Rng, ms: bool) -> String {
    let s: i64 = match r.below(10) {
        0 => 1,
        1 => 0,
        2 => -1,
        3 => return "nope".into(),
        _ => 4_102_444_800 + r.below(100_000) as i64,
    };
    if ms {
        (s * 1000 + if s > 100 { r.below(1000) as i64 } else { 0 }).to_string()
    } else {
        s.to_string()
    }
}

fn index(r: &mut Rng) -> String {
    match r.below(14) {
        0 => "x".into(),
        1 => "-100".into(),
        2 => "100".into(),
        3 => "9223372036854775807".into(),
        4 => "-9223372036854775808".into(),
        _ => format!("{}", r.below(16) as i64 - 8),
    }
}

fn random_command(r: &mut Rng) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    macro_rules! push { ($($e:expr),*) => {{ $( a.push($e.to_string()); )* }} }
    match r.below(72) {
        0..=5 => {
            push!("SET", str_key(r), value(r));
            // Every option, in random order and combination (invalid ones included).
            let mut opts: Vec<Vec<String>> = Vec::new();
            if r.chance(25) {
                opts.push(vec![r.pick(&["NX", "XX", "nx"]).into()]);
            }
            if r.chance(5) {
                opts.push(vec![r.pick(&["NX", "XX"]).into()]);
            }
            if r.chance(25) {
                opts.push(vec!["GET".into()]);
            }
            if r.chance(40) {
                let which = r.pick(&["EX", "PX", "EXAT", "PXAT", "KEEPTTL", "ex"]);
                let arg = match which {
                    "EX" | "ex" => Some(ttl_arg(r, false)),
                    "PX" => Some(ttl_arg(r, true)),
                    "EXAT" => Some(abs_arg(r, false)),
                    "PXAT" => Some(abs_arg(r, true)),
                    _ => None,
                };
                let mut o = vec![which.to_string()];
                o.extend(arg);
                if r.chance(3) {
                    o.pop(); // option without its argument
                }
                opts.push(o);
            }
            if r.chance(5) {
                opts.push(vec![r.pick(&["EX", "KEEPTTL", "PX"]).into(), "100000".into()]);
            }
            if r.chance(3) {
                opts.push(vec!["BOGUS".into()]);
            }
            let n = opts.len() as u64;
            for i in 0..n {
                let j = i + r.below(n - i);
                opts.swap(i as usize, j as usize);
            }
            for o in opts {
                a.extend(o);
            }
        }
        6 => push!("SETNX", str_key(r), value(r)),
        7 => push!("SETEX", str_key(r), ttl_arg(r, false), value(r)),
        8 => push!("PSETEX", str_key(r), ttl_arg(r, true), value(r)),
        9 | 10 => push!("GET", any_key(r)),
        11 => push!("GETSET", any_key(r), value(r)),
        12 => push!("GETDEL", any_key(r)),
        13 => {
            push!("GETEX", any_key(r));
            match r.below(8) {
                0 => push!("EX", ttl_arg(r, false)),
                1 => push!("PX", ttl_arg(r, true)),
                2 => push!("EXAT", abs_arg(r, false)),
                3 => push!("PXAT", abs_arg(r, true)),
                4 => push!("PERSIST"),
                5 => push!("EX", "100", "PERSIST"),
                6 => push!("KEEPTTL"),
                _ => {}
            }
        }
        14 => {
            push!("MGET");
            for _ in 0..1 + r.below(4) {
                push!(any_key(r));
            }
        }
        15 | 16 => {
            push!(r.pick(&["MSET", "MSETNX"]));
            for _ in 0..1 + r.below(3) {
                push!(str_key(r), value(r));
            }
            if r.chance(5) {
                push!(str_key(r));
            }
        }
        17 => push!("APPEND", any_key(r), value(r)),
        18 => push!("STRLEN", any_key(r)),
        19 => push!("GETRANGE", any_key(r), index(r), index(r)),
        20 => {
            let off = match r.below(10) {
                0 => "-1".to_string(),
                1 => "536870912".to_string(),
                2 => "abc".to_string(),
                _ => r.below(30).to_string(),
            };
            let v = if r.chance(10) { String::new() } else { value(r) };
            push!("SETRANGE", any_key(r), off, v)
        }
        21 | 22 => push!(r.pick(&["INCR", "DECR"]), any_key(r)),
        23 | 24 => push!(r.pick(&["INCRBY", "DECRBY"]), any_key(r), int_arg(r)),
        25 | 26 => push!("INCRBYFLOAT", any_key(r), float_arg(r)),
        27 | 28 => {
            let off = match r.below(12) {
                0 => "-1".to_string(),
                1 => "4294967296".to_string(),
                2 => "x".to_string(),
                _ => r.below(80).to_string(),
            };
            let bit = r.pick(&["0", "1", "1", "2", "x"]);
            push!("SETBIT", r.pick(&["b1", "b2", "s1", "l1", "missing"]), off, bit)
        }
        29 => push!(
            "GETBIT",
            r.pick(&["b1", "b2", "s1", "l1", "missing"]),
            r.pick(&["0", "3", "7", "9", "63", "1000", "-1", "x"])
        ),
        30 | 31 => {
            push!("BITCOUNT", r.pick(&["b1", "b2", "s1", "s2", "l1", "missing"]));
            if r.chance(70) {
                push!(index(r), index(r));
                if r.chance(40) {
                    push!(r.pick(&["BIT", "BYTE", "bit", "NIBBLE"]));
                }
            } else if r.chance(10) {
                push!(index(r));
            }
        }
        32 | 33 => {
            push!(
                "BITPOS",
                r.pick(&["b1", "b2", "s1", "s2", "l1", "missing"]),
                r.pick(&["0", "1", "1", "2"])
            );
            if r.chance(70) {
                push!(index(r));
                if r.chance(60) {
                    push!(index(r));
                    if r.chance(40) {
                        push!(r.pick(&["BIT", "BYTE", "bit", "NIBBLE"]));
                    }
                }
            }
        }
        34 | 35 => {
            let op = r.pick(&["AND", "OR", "XOR", "NOT", "and", "NAND"]);
            push!("BITOP", op, r.pick(&["b1", "b2", "s3", "missing"]));
            let n = if op == "NOT" && r.chance(80) { 1 } else { r.below(4) };
            for _ in 0..n {
                push!(r.pick(&["b1", "b2", "s1", "s2", "l1", "missing"]));
            }
        }
        36 | 37 => {
            push!("LCS", any_key(r), any_key(r));
            for o in ["LEN", "IDX", "WITHMATCHLEN"] {
                if r.chance(30) {
                    push!(o);
                }
            }
            if r.chance(30) {
                push!("MINMATCHLEN", r.pick(&["0", "1", "2", "4", "-1", "x"]));
            }
            if r.chance(3) {
                push!("BOGUS");
            }
        }
        38 => {
            push!(r.pick(&["EXISTS", "DEL", "UNLINK"]));
            for _ in 0..1 + r.below(3) {
                push!(any_key(r));
            }
        }
        39 => push!("TYPE", any_key(r)),
        40 | 41 => push!(r.pick(&["RENAME", "RENAMENX"]), any_key(r), any_key(r)),
        42..=44 => {
            let name = r.pick(&["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]);
            let arg = match name {
                "EXPIRE" => ttl_arg(r, false),
                "PEXPIRE" => ttl_arg(r, true),
                "EXPIREAT" => abs_arg(r, false),
                _ => abs_arg(r, true),
            };
            push!(name, any_key(r), arg);
            if r.chance(50) {
                push!(r.pick(&["NX", "XX", "GT", "LT", "gt", "BAD"]));
                if r.chance(15) {
                    push!(r.pick(&["NX", "XX", "GT", "LT"]));
                }
            }
        }
        45 | 46 => push!(r.pick(&["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), any_key(r)),
        47 => push!("PERSIST", any_key(r)),
        48 | 49 => {
            push!("COPY", any_key(r), any_key(r));
            if r.chance(40) {
                push!("DB", r.pick(&["0", "1", "1", "16", "x"]));
            }
            if r.chance(40) {
                push!("REPLACE");
            }
            if r.chance(3) {
                push!("BOGUS");
            }
        }
        50 => push!("MOVE", any_key(r), r.pick(&["0", "1", "1", "16", "x"])),
        51 => push!("SWAPDB", r.pick(&["0", "1", "0", "x", "16"]), r.pick(&["1", "0", "1", "-1"])),
        52 => push!("OBJECT", "ENCODING", any_key(r)),
        53 => push!(
            "KEYS",
            r.pick(&["*", "s*", "?1", "[sn]*", "[^s]*", "*1", "b?", "\\*", "l[1-2]", "*[", "z"])
        ),
        54 => {
            push!("SCAN", "0");
            if r.chance(40) {
                push!("MATCH", r.pick(&["*", "s*", "?1", "[a-n]*"]));
            }
            if r.chance(40) {
                push!("COUNT", r.pick(&["1", "3", "100"]));
            }
            if r.chance(40) {
                push!("TYPE", r.pick(&["string", "list", "set", "zset", "hash", "nope"]));
            }
        }
        55 => push!("DBSIZE"),
        56 => push!("SELECT", r.pick(&["0", "0", "0", "1"])),
        57..=62 => {
            push!(r.pick(&["SORT", "SORT", "SORT_RO"]));
            let src = r.pick(&["l1", "l2", "st1", "st2", "z1", "s1", "h1", "missing"]);
            push!(src);
            let mut by_star = false;
            if r.chance(40) {
                let by = if src.starts_with("st") {
                    r.pick(&["w_*", "h_*->f", "nosuch_*"])
                } else {
                    r.pick(&["w_*", "h_*->f", "nosort", "nosuch_*", "w_*->f"])
                };
                by_star = by.contains('*');
                push!("BY", by);
            }
            if r.chance(30) {
                push!("LIMIT", r.pick(&["0", "1", "2", "-1", "x"]));
                push!(r.pick(&["0", "1", "3", "-1", "10"]));
            }
            for _ in 0..r.below(3) {
                push!("GET", r.pick(&["#", "w_*", "h_*->f", "h_*->g", "nosuch_*"]));
            }
            // Not ALPHA with a BY pattern: Redis leaves ties (equal or missing weights)
            // to qsort, so their order, and with LIMIT or STORE the result, is unspecified.
            if r.chance(30) && !by_star {
                push!("ALPHA");
            }
            if r.chance(30) {
                push!(r.pick(&["ASC", "DESC"]));
            }
            if r.chance(20) {
                push!("STORE", r.pick(&["dst", "l2", "s1"]));
            }
            if r.chance(3) {
                push!("BOGUS");
            }
        }
        63 => {
            push!("RPUSH", r.pick(&["l1", "l2"]));
            for _ in 0..1 + r.below(3) {
                push!(r.pick(ELEMS));
            }
        }
        64 => {
            push!("SADD", r.pick(&["st1", "st2"]));
            for _ in 0..1 + r.below(3) {
                push!(r.pick(ELEMS));
            }
        }
        65 => push!("ZADD", "z1", r.below(10), r.pick(ELEMS)),
        66 => push!("HSET", "h1", "f", value(r)),
        67 => push!("SET", format!("w_{}", r.pick(ELEMS)), r.below(20)),
        68 => {
            push!("HSET", format!("h_{}", r.pick(ELEMS)), "f", r.pick(&["1", "2", "3", "x", "4.5"]))
        }
        69 => push!("LRANGE", r.pick(&["l1", "l2", "dst"]), "0", "-1"),
        70 => push!("OBJECT", r.pick(&["FREQ", "HELP", "BOGUS"]), "s1"),
        _ => push!(r.pick(&["INCR", "GET", "SET", "EXPIRE", "RENAME", "BITCOUNT", "LCS"]), "s1"),
    }
    a
}

/// The integer in a `:n\r\n` reply.
fn int_reply(b: &str) -> Option<i64> {
    b.strip_prefix(':')?.trim_end().parse().ok()
}

/// Array of bulk strings -> sorted list (KEYS), reading RESP2 or RESP3 arrays.
fn bulk_items(s: &str) -> Vec<String> {
    let mut lines = s.split("\r\n");
    let head = lines.next().unwrap_or("");
    if !head.starts_with('*') {
        return vec![s.to_string()];
    }
    let mut out = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap_or("").to_string());
        }
    }
    out
}

fn scan_all(c: &mut Raw, args: &[&str]) -> Result<Vec<String>, String> {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    for _ in 0..10_000 {
        let mut a: Vec<&str> = args.to_vec();
        a[1] = &cursor;
        let rep = c.cmd_str(&a);
        if rep.starts_with('-') {
            return Err(rep);
        }
        // *2 $len cursor *n ...
        let mut lines = rep.split("\r\n");
        lines.next();
        lines.next();
        let next = lines.next().unwrap().to_string();
        let rest: Vec<&str> = lines.collect();
        keys.extend(bulk_items(&rest.join("\r\n")));
        if next == "0" {
            keys.sort();
            keys.dedup();
            return Ok(keys);
        }
        cursor = next;
    }
    panic!("SCAN did not finish");
}

fn differential(seed: u64, steps: usize, resp3: bool) {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    eprintln!("strings_keys differential: seed {seed}, {steps} steps, resp3 {resp3}");
    let mut t = ours.raw();
    let mut rd = real.raw();
    if resp3 {
        t.cmd(&["HELLO", "3"]);
        rd.cmd(&["HELLO", "3"]);
    }
    // Redis's SORT converts a listpack sorted set to a skiplist in place ("destructively
    // convert encoded sorted sets for SORT"); tine leaves the key alone, SORT being a read.
    // Sorted sets are kept skiplists from the start so OBJECT ENCODING agrees.
    // Redis 7.0's SET ... EXAT <past> keeps the key with its expiry passed until something
    // deletes it; with active expiry on, DBSIZE would depend on when each server's cycle ran.
    // Off, both servers delete such keys only when accessed (deterministically).
    for c in [&mut t, &mut rd] {
        c.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "0"]);
        assert_eq!(c.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    }
    let mut r = Rng(seed);
    for step in 0..steps {
        let cmd = random_command(&mut r);
        let args: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
        let ctx = || {
            format!("seed {seed} step {step} resp3 {resp3}: {:?} (replay: TINE_SEED={seed})", cmd)
        };
        if std::env::var("TINE_TRACE").is_ok() {
            eprintln!("{step}: {cmd:?}");
        }
        let name = cmd[0].to_ascii_uppercase();
        if name == "SCAN" {
            let got = scan_all(&mut t, &args);
            let want = scan_all(&mut rd, &args);
            assert_eq!(got, want, "{}", ctx());
            continue;
        }
        // BY nosort over a set (keys change type through RENAME and COPY): set order.
        if name.starts_with("SORT")
            && cmd.iter().any(|a| a == "nosort")
            && rd.cmd_str(&["TYPE", &cmd[1]]) == "+set\r\n"
        {
            continue;
        }
        let (got, want) = common::both(&mut t, &mut rd, &args);
        match name.as_str() {
            "TTL" | "PTTL" | "EXPIRETIME" | "PEXPIRETIME" => {
                let tol = if name.starts_with('P') { 1500 } else { 2 };
                match (int_reply(&got), int_reply(&want)) {
                    (Some(a), Some(b)) if a >= 0 && b >= 0 => {
                        assert!((a - b).abs() <= tol, "{}: {got:?} vs {want:?}", ctx())
                    }
                    _ => assert_eq!(got, want, "{}", ctx()),
                }
            }
            "KEYS" => {
                let mut a = bulk_items(&got);
                let mut b = bulk_items(&want);
                a.sort();
                b.sort();
                assert_eq!(a, b, "{}", ctx());
            }
            "DBSIZE" if got != want => {
                let mut a = bulk_items(&t.cmd_str(&["KEYS", "*"]));
                let mut b = bulk_items(&rd.cmd_str(&["KEYS", "*"]));
                a.sort();
                b.sort();
                panic!("{}: DBSIZE {got:?} vs {want:?}; keys {a:?} vs {b:?}", ctx());
            }
            _ => assert_eq!(got, want, "{}", ctx()),
        }
        // The encodings of the keys the command named (catches "raw" vs "embstr" at once).
        if step % 2 == 0 {
            for k in cmd[1..].iter() {
                if STR_KEYS.contains(&k.as_str()) || COLL_KEYS.contains(&k.as_str()) {
                    let enc = ["OBJECT", "ENCODING", k.as_str()];
                    let (a, b) = common::both(&mut t, &mut rd, &enc);
                    assert_eq!(a, b, "encoding of {k} after {}", ctx());
                }
            }
        }
    }
    for db in ["0", "1"] {
        t.cmd(&["SELECT", db]);
        rd.cmd(&["SELECT", db]);
        let keys = |c: &mut Raw| {
            let mut k = bulk_items(&c.cmd_str(&["KEYS", "*"]));
            k.sort();
            k
        };
        assert_eq!(keys(&mut t), keys(&mut rd), "seed {seed}: keys of db {db}");
        for k in STR_KEYS.iter().chain(COLL_KEYS) {
            let (a, b) = common::both(&mut t, &mut rd, &["OBJECT", "ENCODING", k]);
            assert_eq!(a, b, "seed {seed}: encoding of {k} in db {db}");
        }
    }
    let (a, b) = common::both(&mut t, &mut rd, &["DEBUG", "DIGEST"]);
    assert_eq!(a, b, "seed {seed}: final DEBUG DIGEST");
}

#[test]
fn differential_resp2() {
    differential(common::seed(), common::steps(4000), false);
}

#[test]
fn differential_resp3() {
    differential(common::seed(), common::steps(4000), true);
}

#[test]
fn differential_fixed_seeds() {
    if std::env::var("TINE_SEED").is_ok() {
        return;
    }
    for seed in [1, 2] {
        differential(seed, 3000, seed == 2);
    }
    // Found by a random run: SET ... EXAT 1 keeps a key past its time, and a later
    // SCAN ... TYPE zset deletes it in Redis (its type check is a lookup) but did not in tine.
    differential(787580, 3300, false);
}

/// Edge cases worth pinning by name (byte for byte against Redis).
#[test]
fn edge_cases() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let mut t = ours.raw();
    let mut rd = real.raw();
    let cases: &[&[&str]] = &[
        &["SET", "k", "v", "NX", "XX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX", "0"],
        &["SET", "k", "v", "EX", "-1"],
        &["SET", "k", "v", "PX", "9223372036854775807"],
        &["SET", "k", "v", "EX", "9223372036854775807"],
        &["SET", "k", "v", "EXAT", "9223372036854775807"],
        &["SET", "k", "v", "NX", "GET"],
        &["SET", "k", "v2", "XX", "GET", "EX", "100"],
        &["GETEX", "k", "PERSIST"],
        &["TTL", "k"],
        &["SET", "n", "9223372036854775807"],
        &["INCR", "n"],
        &["DECRBY", "n", "-9223372036854775808"],
        &["SET", "n", "-9223372036854775808"],
        &["DECR", "n"],
        &["INCRBY", "n", "x"],
        &["SET", "f", "1.5"],
        &["INCRBYFLOAT", "f", "inf"],
        &["INCRBYFLOAT", "f", "2.5e2"],
        // Redis's long double: beyond f64's range and precision, its exact digits.
        &["INCRBYFLOAT", "f", "1e400"],
        &["INCRBYFLOAT", "f", "1e400"],
        &["SET", "f", "1252058014288151939383296"],
        &["INCRBYFLOAT", "f", "1.5e1"],
        &["INCRBYFLOAT", "f", "1e5000"],
        &["INCRBYFLOAT", "f", "-1e-6000"],
        &["INCRBYFLOAT", "f", "0x1p-3"],
        &["HSET", "hf", "x", "1e308"],
        &["HINCRBYFLOAT", "hf", "x", "1e308"],
        &["HINCRBYFLOAT", "hf", "x", "0x10"],
        &["HINCRBYFLOAT", "hf", "x", "1e5000"],
        // KEEPTTL on a key already past its expiry: the key is deleted first, nothing kept.
        &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        &["SET", "gone", "v", "EXAT", "1"],
        &["SET", "gone", "", "KEEPTTL"],
        &["OBJECT", "ENCODING", "gone"],
        &["PTTL", "gone"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
        &["INCR", "f"],
        &["SETRANGE", "k", "536870912", "x"],
        &["SETRANGE", "missing", "5", ""],
        &["EXISTS", "missing"],
        &["SETBIT", "b", "4294967296", "1"],
        &["SETBIT", "b", "7", "1"],
        &["BITCOUNT", "b", "0", "-1", "BIT"],
        &["BITPOS", "b", "0", "0", "-1", "BIT"],
        &["BITPOS", "b", "1", "2"],
        &["BITOP", "NOT", "d", "b", "b"],
        &["EXPIRE", "k", "100", "NX", "XX"],
        &["EXPIRE", "k", "100", "GT", "LT"],
        &["EXPIRE", "k", "9223372036854775807"],
        &["PEXPIREAT", "k", "9223372036854775807"],
        &["EXPIRE", "k", "100", "GT"],
        &["EXPIRE", "k", "100", "LT"],
        &["EXPIRE", "k", "50", "LT"],
        &["RENAME", "missing", "x"],
        &["RENAME", "k", "k"],
        &["RENAMENX", "k", "k"],
        &["COPY", "k", "k"],
        &["COPY", "k", "k2", "DB", "1", "REPLACE"],
        &["MOVE", "k", "0"],
        &["SWAPDB", "0", "0"],
        &["OBJECT", "ENCODING", "n"],
        &["LCS", "k", "k", "IDX", "MINMATCHLEN", "1", "WITHMATCHLEN"],
        &["LCS", "k", "k", "LEN", "IDX"],
        &["SORT", "k"],
        &["RPUSH", "l", "3", "1", "x"],
        &["SORT", "l"],
        &["SORT", "l", "ALPHA", "LIMIT", "1"],
        &["SORT_RO", "l", "STORE", "d"],
        &["SORT", "l", "ALPHA", "STORE", "d"],
        &["LRANGE", "d", "0", "-1"],
        &["MSET", "a"],
        &["MSETNX", "a", "1", "k", "2"],
        &["GETDEL", "l"],
    ];
    for resp in ["2", "3"] {
        common::assert_same(&mut t, &mut rd, &["FLUSHALL"]);
        // HELLO's reply names the server: not compared.
        t.cmd(&["HELLO", resp]);
        rd.cmd(&["HELLO", resp]);
        for c in cases {
            common::assert_same(&mut t, &mut rd, c);
        }
        common::assert_same(&mut t, &mut rd, &["DEBUG", "DIGEST"]);
    }
}
