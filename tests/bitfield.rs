//! BITFIELD and BITFIELD_RO against the real thing: seeded random operation lists (every
//! type from i1 to i64 and u1 to u63, plain and `#N` offsets, SET/INCRBY values at and past
//! the limits, OVERFLOW WRAP/SAT/FAIL, and bad arguments) on tine-server and redis-server,
//! each reply compared byte for byte and then the strings themselves (GET), so a failed
//! command must have changed nothing on either side.
//!
//! Replay a run with `TINE_SEED=<seed> cargo nextest run --test bitfield` (`TINE_STEPS=<n>`).

mod common;

use common::{DIFF_ARGS, Raw, Rng, seed, start_pair, steps};

const KEYS: &[&str] = &["b1", "b2", "n", "l"];

fn ty(r: &mut Rng) -> String {
    match r.below(30) {
        0 => r.pick(&["u64", "i65", "i0", "x8", "I8", "u", ""]).into(),
        1..=14 => format!("i{}", 1 + r.below(64)),
        _ => format!("u{}", 1 + r.below(63)),
    }
}

fn offset(r: &mut Rng) -> String {
    match r.below(20) {
        0 => r.pick(&["-1", "#-1", "abc", "4294967296", "#1152921504606846976", "+1"]).into(),
        1..=5 => format!("#{}", r.below(12)),
        _ => format!("{}", r.below(130)),
    }
}

fn value(r: &mut Rng) -> String {
    match r.below(16) {
        0 => "9223372036854775807".into(),
        1 => "-9223372036854775808".into(),
        2 => "x".into(),
        3 => format!("{}", r.next_u64() as i64),
        4 => format!("{}", (r.next_u64() as i64) >> r.below(64)),
        _ => format!("{}", r.below(600) as i64 - 300),
    }
}

fn command(r: &mut Rng) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if r.chance(5) {
        v.extend(["SET".to_string(), r.pick(&["b1", "n"]).into()]);
        v.push(r.pick(&["12345", "abc", "", "\u{ff}\u{ff}\u{ff}"]).into());
        return v;
    }
    v.push(if r.chance(20) { "BITFIELD_RO" } else { "BITFIELD" }.into());
    v.push(r.pick(KEYS).into());
    for _ in 0..r.below(5) {
        match r.below(10) {
            0..=2 => v.extend(["GET".to_string(), ty(r), offset(r)]),
            3..=5 => v.extend(["SET".to_string(), ty(r), offset(r), value(r)]),
            6..=8 => v.extend(["INCRBY".to_string(), ty(r), offset(r), value(r)]),
            _ => {
                v.push("OVERFLOW".into());
                v.push(r.pick(&["WRAP", "SAT", "FAIL", "fail", "sat", "bogus"]).into());
            }
        }
    }
    if r.chance(3) {
        v.push(r.pick(&["GET", "bogus", "SET"]).into());
    }
    v
}

fn run(t: &mut Raw, rd: &mut Raw, seed: u64, steps: usize) {
    let mut r = Rng::new(seed);
    t.cmd(&["RPUSH", "l", "x"]);
    rd.cmd(&["RPUSH", "l", "x"]);
    for step in 0..steps {
        let cmd = command(&mut r);
        let a: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
        let (x, y) = (t.cmd_str(&a), rd.cmd_str(&a));
        assert_eq!(
            x, y,
            "seed {seed} step {step}: reply to {a:?} differs (left: tine, right: redis)"
        );
        for k in ["b1", "b2", "n"] {
            let (x, y) = (t.cmd_str(&["GET", k]), rd.cmd_str(&["GET", k]));
            assert_eq!(x, y, "seed {seed} step {step}: {k} after {a:?} differs");
            let enc = ["OBJECT", "ENCODING", k];
            let (x, y) = (t.cmd_str(&enc), rd.cmd_str(&enc));
            assert_eq!(x, y, "seed {seed} step {step}: encoding of {k} after {a:?} differs");
        }
        if r.chance(2) {
            for k in ["b1", "b2"] {
                t.cmd(&["DEL", k]);
                rd.cmd(&["DEL", k]);
            }
        }
    }
    // A change is counted only when a write happened (INFO's dirty count moves as Redis's).
    common::assert_same(t, rd, &["DEBUG", "DIGEST"]);
}

#[test]
fn differential_bitfield() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let seed = seed();
    println!("seed {seed}");
    run(&mut ours.raw(), &mut real.raw(), seed, steps(1500));
}

#[test]
fn fixed_seeds() {
    if std::env::var("TINE_SEED").is_ok() {
        return;
    }
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    for seed in [1u64, 2] {
        run(&mut ours.raw(), &mut real.raw(), seed, 1000);
    }
}

/// A BITFIELD is propagated (counted as a change) only when it wrote: the AOF of a
/// FAIL-ed or read-only BITFIELD has nothing; and a FAIL-ed write still creates the key,
/// zero-filled, as Redis does.
#[test]
fn changes_only_when_written() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let (mut t, mut r) = (ours.raw(), real.raw());
    let cases: &[&[&str]] = &[
        &["BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "5"],
        &["GET", "k"],
        &["BITFIELD", "k", "SET", "u8", "0", "0"],
        &["BITFIELD", "k", "SET", "i8", "0", "255", "GET", "u8", "0", "GET", "i8", "0"],
        &["BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-1000"],
        &["BITFIELD", "k", "OVERFLOW", "WRAP", "INCRBY", "u63", "#1", "-1"],
        &["GET", "k"],
        &["BITFIELD", "k"],
        &["BITFIELD_RO", "k", "GET", "i64", "0"],
    ];
    for c in cases {
        common::assert_same(&mut t, &mut r, c);
    }
    let dirty = |raw: &mut Raw| {
        let info = raw.cmd_str(&["INFO", "persistence"]);
        let line = info.lines().find(|l| l.starts_with("rdb_changes_since_last_save:")).unwrap();
        line.to_string()
    };
    assert_eq!(dirty(&mut t), dirty(&mut r));
}
