//! Copy-on-write, measured by structure rather than time (issue 15, first stage): while a
//! BGSAVE child lives, tine's writes must not copy the pages they no longer need to copy.
//!
//! A save is stretched with `rdb-key-save-delay` so the child outlives the test's writes; the
//! figure is the child's `Private_Dirty` from /proc/<child>/smaps_rollup (a page the parent
//! writes after the fork becomes private to the child too), read before and after a batch of
//! sparse overwrites: keys far enough apart that no two writes share a page of the table.
//! Without the first stage, each overwrite copied about three pages (the table entry's, the
//! page the new value was allocated into — the old value's slot, handed out again by the
//! thread cache — and the key's, whose access data was updated); now it copies the table
//! entry's page alone, so the bound is derived from the batch size at a page and a half per
//! write. Purging cannot make it flake: pages the child shares are not purged while it lives.
//!
//! The same holds for keys that carry a TTL, which a plain SET drops: the expiry entry is
//! marked gone instead of unlinked (unlinking copies the page of its bucket or neighbour).
//!
//! The deferred frees are checked through INFO (`mem_cow_deferred_free`), DEBUG DIGEST and
//! DBSIZE: shown while the child lives, released after it, and nothing a client sees changes.
//!
//! Linux only: the figures come from /proc.
#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::*;

const PAGE: u64 = 4096;
const SOON: Duration = Duration::from_secs(20);

fn tine() -> TestServer {
    TestServer::with_args(&["--enable-debug-command", "yes", "--save", ""])
}

fn info_num(r: &mut Raw, section: &str, name: &str) -> u64 {
    let reply = r.cmd_str(&["INFO", section]);
    let v = info_field(&reply, name).unwrap_or_else(|| panic!("no {name} in INFO {section}"));
    v.parse().unwrap_or_else(|_| panic!("{name} is not a number: {v:?}"))
}

/// The server's one fork child.
fn child_of(ppid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{ppid}/task/{ppid}/children")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn private_dirty(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_else(|e| panic!("smaps_rollup of {pid}: {e}"));
    text.lines()
        .filter(|l| l.starts_with("Private_Dirty:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

/// Sends `cmds` pipelined, 100 at a time, and checks every reply is `expect`.
fn pipelined(r: &mut Raw, cmds: &[Vec<Vec<u8>>], expect: &[u8]) {
    for batch in cmds.chunks(100) {
        let mut bytes = Vec::new();
        for c in batch {
            let args: Vec<&[u8]> = c.iter().map(|a| &a[..]).collect();
            bytes.extend_from_slice(&resp_bytes(&args));
        }
        r.send(&bytes);
        for _ in batch {
            assert_eq!(r.reply(), expect);
        }
    }
}

fn set_cmd(i: usize, fill: u8) -> Vec<Vec<u8>> {
    vec![b"SET".to_vec(), format!("key:{i}").into_bytes(), vec![fill; 100]]
}

/// Starts a BGSAVE stretched by `delay_us` per key and returns the child's pid once it has
/// settled (its own start-up pages written).
fn stretched_bgsave(s: &TestServer, r: &mut Raw, delay_us: u32) -> u32 {
    let d = delay_us.to_string();
    assert_eq!(r.cmd_str(&["CONFIG", "SET", "rdb-key-save-delay", &d]), "+OK\r\n");
    assert_eq!(r.cmd_str(&["BGSAVE"]), "+Background saving started\r\n");
    let deadline = Instant::now() + SOON;
    let child = loop {
        if let Some(c) = child_of(s.pid()) {
            break c;
        }
        assert!(Instant::now() < deadline, "no fork child appeared");
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(300));
    child
}

#[test]
fn sparse_overwrites_during_a_bgsave_copy_about_a_page_each() {
    const KEYS: usize = 300_000;
    const WRITES: usize = 1_500;
    let s = tine();
    let mut r = s.raw();
    let n = KEYS.to_string();
    assert_eq!(r.cmd_str(&["DEBUG", "POPULATE", &n, "key", "100"]), "+OK\r\n");
    // 300,000 keys at 1 ms each: the child outlives the test by far (the server's shutdown
    // stops it).
    let child = stretched_bgsave(&s, &mut r, 1000);
    let before = private_dirty(child);
    let step = KEYS / WRITES;
    let cmds: Vec<_> = (0..WRITES).map(|w| set_cmd(w * step, b'x')).collect();
    pipelined(&mut r, &cmds, b"+OK\r\n");
    let after = private_dirty(child);
    assert_eq!(child_of(s.pid()), Some(child), "the child ended during the writes");
    let growth = after.saturating_sub(before);
    let bound = WRITES as u64 * PAGE * 3 / 2 + (1 << 20);
    eprintln!(
        "{WRITES} sparse overwrites: child Private_Dirty {before} -> {after} (+{growth} B, \
         {} B per write; bound {bound})",
        growth / WRITES as u64
    );
    assert!(growth <= bound, "{growth} bytes of copy-on-write for {WRITES} overwrites");
}

#[test]
fn sparse_overwrites_of_keys_with_a_ttl_copy_about_a_page_each_too() {
    // A plain SET drops the key's expiry: unlinking that entry would copy the page of its
    // bucket or neighbour as well (about two pages a write); it is marked gone instead.
    const KEYS: usize = 300_000;
    const WRITES: usize = 1_000;
    let s = tine();
    let mut r = s.raw();
    let n = KEYS.to_string();
    assert_eq!(r.cmd_str(&["DEBUG", "POPULATE", &n, "key", "100"]), "+OK\r\n");
    let expires: Vec<_> = (0..KEYS)
        .map(|i| vec![b"EXPIRE".to_vec(), format!("key:{i}").into_bytes(), b"100000".to_vec()])
        .collect();
    pipelined(&mut r, &expires, b":1\r\n");
    let child = stretched_bgsave(&s, &mut r, 1000);
    let before = private_dirty(child);
    let step = KEYS / WRITES;
    let cmds: Vec<_> = (0..WRITES).map(|w| set_cmd(w * step, b'x')).collect();
    pipelined(&mut r, &cmds, b"+OK\r\n");
    let after = private_dirty(child);
    assert_eq!(child_of(s.pid()), Some(child), "the child ended during the writes");
    let growth = after.saturating_sub(before);
    // Tighter than above: unlinking would add a page for every other write or so (buckets
    // of the expiry table shared by several of the keys written).
    let bound = WRITES as u64 * PAGE * 5 / 4 + (1 << 19);
    eprintln!(
        "{WRITES} sparse overwrites of keys with a TTL: +{growth} B, {} B per write; bound {bound}",
        growth / WRITES as u64
    );
    assert!(growth <= bound, "{growth} bytes of copy-on-write for {WRITES} overwrites");
    assert_eq!(r.cmd_str(&["TTL", "key:0"]), ":-1\r\n");
    let ttl: i64 = r.cmd_str(&["TTL", "key:1"]).trim_start_matches(':').trim().parse().unwrap();
    assert!((99_000..=100_000).contains(&ttl), "TTL of key:1 is {ttl}");
    let info = r.cmd_str(&["INFO", "keyspace"]);
    assert!(info.contains(&format!("expires={}", KEYS - WRITES)), "{info}");
}

#[test]
fn frees_during_a_bgsave_are_deferred_shown_and_released_after_it() {
    const KEYS: usize = 20_000;
    let s = tine();
    let mut r = s.raw();
    let n = KEYS.to_string();
    assert_eq!(r.cmd_str(&["DEBUG", "POPULATE", &n, "key", "100"]), "+OK\r\n");
    assert_eq!(info_num(&mut r, "memory", "mem_cow_deferred_free"), 0);
    // 20,000 keys at 200 us: the child lives about four seconds.
    stretched_bgsave(&s, &mut r, 200);
    let over: Vec<_> = (0..2000).map(|i| set_cmd(i * 7, b'y')).collect();
    pipelined(&mut r, &over, b"+OK\r\n");
    let dels: Vec<_> = (0..500)
        .map(|i| vec![b"DEL".to_vec(), format!("key:{}", i * 11 + 3).into_bytes()])
        .collect();
    pipelined(&mut r, &dels, b":1\r\n");
    assert_eq!(r.cmd_str(&["EXPIRE", "key:5", "1000"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["PERSIST", "key:5"]), ":1\r\n");
    let deferred = info_num(&mut r, "memory", "mem_cow_deferred_free");
    // 2,000 values of 100 bytes (112-byte class) at least, and 500 whole keys.
    assert!(deferred >= 2000 * 112 + 500 * 112, "deferred {deferred}");
    let digest = r.cmd_str(&["DEBUG", "DIGEST"]);
    let dbsize = r.cmd_str(&["DBSIZE"]);
    assert_eq!(dbsize, format!(":{}\r\n", KEYS - 500));
    save_ends_then_deferred_frees_go(
        &mut r,
        "deferred frees were not released after the child ended",
    );
    assert_eq!(r.cmd_str(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(r.cmd_str(&["DBSIZE"]), dbsize);
    assert_eq!(r.cmd_str(&["GET", "key:7"]), format!("$100\r\n{}\r\n", "y".repeat(100)));
    assert_eq!(r.cmd_str(&["EXISTS", "key:3"]), ":0\r\n");
    // A FLUSHDB while a child lives hands the whole table over, released after the child.
    stretched_bgsave(&s, &mut r, 200);
    assert_eq!(r.cmd_str(&["FLUSHDB"]), "+OK\r\n");
    assert!(info_num(&mut r, "memory", "mem_cow_deferred_free") > 0);
    assert_eq!(r.cmd_str(&["DBSIZE"]), ":0\r\n");
    save_ends_then_deferred_frees_go(&mut r, "the flushed table was not released");
}

/// Waits for the save to end, then for the deferred frees to be released (`what` says which).
fn save_ends_then_deferred_frees_go(r: &mut Raw, what: &str) {
    assert!(
        eventually(Duration::from_secs(60), || info_num(
            r,
            "persistence",
            "rdb_bgsave_in_progress"
        ) == 0),
        "the save did not end"
    );
    assert!(eventually(SOON, || info_num(r, "memory", "mem_cow_deferred_free") == 0), "{what}");
}
