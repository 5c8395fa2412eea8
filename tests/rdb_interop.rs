//! RDB and DUMP/RESTORE interoperability with the real Redis 7.0 programs: files tine writes
//! load in redis-server and pass redis-check-rdb, files redis-server saves load in tine, DUMP
//! payloads cross both ways, all checked by DEBUG DIGEST; and corrupt input is refused without
//! panicking. The servers come from `tests/common`; the data and the checks are this file's.

mod common;

use std::process::Command;

use common::{DIFF_ARGS, RedisServer, Rng, TestServer};
use tine_core::keyspace::dataset_digest;
use tine_core::keyspace::{Db, Keyspace, Str, Value};
use tine_core::rdb::build::{HashBuilder, ListBuilder, SetBuilder, ZSetBuilder};
use tine_core::rdb::dump::restore_payload;
use tine_core::rdb::{LoadLimits, RdbError, RdbOptions, read_rdb, write_rdb};
use tine_core::types::digest::to_hex;

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

/// The real redis-server in `dir` (a temp dir that may hold `dbfilename` for it to load).
/// These interop tests need it: they fail, rather than skip, when it is not installed.
fn start_redis(dir: tempfile::TempDir, dbfilename: &str) -> TestServer {
    let mut args = DIFF_ARGS.to_vec();
    args.extend(["--dbfilename", dbfilename]);
    RedisServer::in_dir(dir, &args).expect("the interop tests need redis-server")
}

/// The server behind `c` reports, for every non-string key of `dbs`, the encoding tine has.
fn assert_same_encodings(c: &mut redis::Connection, dbs: &[Db]) {
    for d in dbs {
        redis::cmd("SELECT").arg(d.id).query::<()>(c).unwrap();
        for (k, v) in d.iter() {
            if matches!(v, Value::Str(_)) {
                continue;
            }
            let enc: String = cmd(c, &[b"OBJECT", b"ENCODING", k]);
            assert_eq!(enc, v.encoding(), "{}", String::from_utf8_lossy(k));
        }
    }
}

fn cmd<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&[u8]]) -> T {
    let mut k = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

fn digest(c: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(c).unwrap()
}

fn digest_value(c: &mut redis::Connection, k: &[u8]) -> String {
    let v: Vec<String> = cmd(c, &[b"DEBUG", b"DIGEST-VALUE", k]);
    v.into_iter().next().unwrap()
}

/// Keys whose value digest differs between `dbs` and the server (for failure messages).
fn differing_keys(c: &mut redis::Connection, dbs: &[Db]) -> Vec<String> {
    let mut out = Vec::new();
    for d in dbs {
        redis::cmd("SELECT").arg(d.id).query::<()>(c).unwrap();
        for (k, v) in d.iter() {
            let mine = to_hex(&tine_core::types::digest::value_digest(v, d.expire_of(k).is_some()));
            if digest_value(c, k) != mine {
                out.push(format!("{}:{}", d.id, String::from_utf8_lossy(k)));
            }
        }
        let n: usize = redis::cmd("DBSIZE").query(c).unwrap();
        if n != d.len() {
            out.push(format!("db {} has {n} keys on the server, {} here", d.id, d.len()));
        }
    }
    redis::cmd("SELECT").arg(0).query::<()>(c).unwrap();
    out
}

// ---------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------

fn key(s: &str) -> tine_core::keyspace::Key {
    s.as_bytes().to_vec().into_boxed_slice()
}

/// A keyspace of every type tine has, small and big encodings, with expiries, in dbs 0, 1
/// and 5.
fn sample_keyspace() -> Keyspace {
    let limits = LoadLimits::default();
    let mut rng = Rng(42);
    let mut dbs = Keyspace::new(16);
    let future = 4_102_444_800_000; // 2100-01-01
    {
        for (k, v) in [
            ("int:small", &b"7"[..]),
            ("int:neg", b"-300"),
            ("int:i32", b"2147483647"),
            ("int:i64", b"-9223372036854775808"),
            ("int:notcanon", b"007"),
            ("str:empty", b""),
            ("str:short", b"hello world"),
            ("str:utf8", "héllo ✓".as_bytes()),
        ] {
            dbs.insert_new(0, key(k), Value::Str(Str::from_bytes(v)));
        }
        dbs.insert_new(
            0,
            key("str:compressible"),
            Value::Str(Str::from_bytes(&b"abcdefgh".repeat(500))),
        );
        dbs.insert_new(0, key("str:random"), Value::Str(Str::from_bytes(&rng.bytes(3000))));
        dbs.insert_new(0, key("str:expiring"), Value::Str(Str::from_bytes(b"bye later")));
        dbs.set_expire(0, b"str:expiring", Some(future));

        // lists: small; many elements over several 8 KiB nodes; an element > 8 KiB
        let mut l = ListBuilder::new(&limits);
        for e in [&b"a"[..], b"12", b"-5", b"hello"] {
            l.push(e);
        }
        dbs.insert_new(0, key("list:small"), l.finish().unwrap());
        let mut l = ListBuilder::new(&limits);
        for i in 0..5000 {
            l.push(format!("element-{i}-{}", "x".repeat(i % 40)).as_bytes());
        }
        dbs.insert_new(0, key("list:big"), l.finish().unwrap());
        let mut l = ListBuilder::new(&limits);
        l.push(b"before");
        l.push(&rng.bytes(10_000));
        l.push(&b"z".repeat(9000));
        l.push(b"after");
        dbs.insert_new(0, key("list:hugeelem"), l.finish().unwrap());
        dbs.set_expire(0, b"list:hugeelem", Some(future + 1));
    }
    {
        // sets: intset, intset with 64-bit values, big intset (table), strings (table)
        let mut s = SetBuilder::new(&limits, 5, 5);
        for m in ["1", "2", "3", "-100", "40000"] {
            s.add(m.as_bytes().to_vec()).unwrap();
        }
        dbs.insert_new(1, key("set:intset"), s.finish().unwrap());
        let mut s = SetBuilder::new(&limits, 2, 2);
        s.add(b"9223372036854775807".to_vec()).unwrap();
        s.add(b"-1".to_vec()).unwrap();
        dbs.insert_new(1, key("set:intset64"), s.finish().unwrap());
        let mut s = SetBuilder::new(&limits, 600, 600);
        for i in 0..600 {
            s.add((i * 3).to_string().into_bytes()).unwrap();
        }
        dbs.insert_new(1, key("set:bigints"), s.finish().unwrap());
        let mut s = SetBuilder::new(&limits, 50, 50);
        for i in 0..50 {
            s.add(format!("member:{i}").into_bytes()).unwrap();
        }
        s.add(b"17".to_vec()).unwrap();
        dbs.insert_new(1, key("set:strings"), s.finish().unwrap());
        dbs.set_expire(1, b"set:strings", Some(future));

        // hashes: listpack, table by count, table by value length
        let mut h = HashBuilder::new(&limits, 3, 3);
        h.add(b"name".to_vec(), b"tine".to_vec()).unwrap();
        h.add(b"age".to_vec(), b"3".to_vec()).unwrap();
        h.add(b"12".to_vec(), b"-12".to_vec()).unwrap();
        dbs.insert_new(1, key("hash:small"), h.finish().unwrap());
        let mut h = HashBuilder::new(&limits, 600, 600);
        for i in 0..600 {
            h.add(format!("f{i}").into_bytes(), format!("v{}", i * 7).into_bytes()).unwrap();
        }
        dbs.insert_new(1, key("hash:big"), h.finish().unwrap());
        let mut h = HashBuilder::new(&limits, 2, 2);
        h.add(b"short".to_vec(), b"x".to_vec()).unwrap();
        h.add(b"long".to_vec(), b"y".repeat(200)).unwrap();
        dbs.insert_new(1, key("hash:longval"), h.finish().unwrap());
    }
    {
        let mut z = ZSetBuilder::new();
        for (m, s) in [("a", 1.0), ("b", 2.5), ("c", -3.0), ("d", 1e300), ("e", 0.1)] {
            z.add(m.as_bytes(), s).unwrap();
        }
        dbs.insert_new(5, key("zset:small"), z.finish(&limits).unwrap());
        let mut z = ZSetBuilder::new();
        for i in 0..400 {
            z.add(format!("m{i}").as_bytes(), (i as f64) * 1.5 - 100.0).unwrap();
        }
        z.add(b"inf", f64::INFINITY).unwrap();
        z.add(b"-inf", f64::NEG_INFINITY).unwrap();
        dbs.insert_new(5, key("zset:big"), z.finish(&limits).unwrap());
        dbs.set_expire(5, b"zset:big", Some(future));
        let mut z = ZSetBuilder::new();
        z.add(&b"q".repeat(100), 1.0).unwrap();
        dbs.insert_new(5, key("zset:longmember"), z.finish(&limits).unwrap());
    }
    dbs
}

fn encodings_of(dbs: &[Db]) -> Vec<String> {
    let mut v: Vec<String> = dbs
        .iter()
        .flat_map(|d| {
            d.iter().map(move |(k, v)| {
                format!("{}:{} {}", d.id, String::from_utf8_lossy(k), v.encoding())
            })
        })
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// (1) tine's writer -> redis-check-rdb and redis-server
// ---------------------------------------------------------------------------------------

#[test]
fn tine_file_loads_in_redis() {
    let dbs = sample_keyspace();
    let want = to_hex(&dataset_digest(&dbs));
    for (name, compression) in [("tine-lzf.rdb", true), ("tine-plain.rdb", false)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let opts = RdbOptions { compression, ..RdbOptions::default() };
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut keys = 0;
        write_rdb(&mut f, &dbs, &opts, |n| keys = n).unwrap();
        drop(f);
        assert_eq!(keys, dbs.iter().map(|d| d.len() as u64).sum::<u64>());

        let check = Command::new("redis-check-rdb").arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&check.stdout).to_string()
            + &String::from_utf8_lossy(&check.stderr);
        assert!(check.status.success() && text.contains("RDB looks OK"), "redis-check-rdb: {text}");

        let redis = start_redis(dir, name);
        let mut c = redis.client();
        if digest(&mut c) != want {
            panic!("{name}: digests differ for {:?}", differing_keys(&mut c, &dbs));
        }
        // Same encodings as tine for the non-string types.
        assert_same_encodings(&mut c, &dbs);
        // And tine reads back what it wrote.
        let data = std::fs::read(&path).unwrap();
        let back = read_rdb(&data, &LoadLimits::default(), 0).unwrap();
        assert_eq!(to_hex(&dataset_digest(&back.dbs)), want);
        assert_eq!(encodings_of(&back.dbs), encodings_of(&dbs));
    }
}

// ---------------------------------------------------------------------------------------
// (2) redis-server's SAVE -> tine's reader
// ---------------------------------------------------------------------------------------

fn populate_redis(c: &mut redis::Connection) {
    let mut rng = Rng(7);
    let q = |c: &mut redis::Connection, args: Vec<Vec<u8>>| {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let _: redis::Value = cmd(c, &refs);
    };
    let b = |s: &str| s.as_bytes().to_vec();
    for db in [0u32, 2, 15] {
        q(c, vec![b("SELECT"), b(&db.to_string())]);
        q(c, vec![b("SET"), b("int"), b("12345")]);
        q(c, vec![b("SET"), b("bigint"), b("-9223372036854775808")]);
        q(c, vec![b("SET"), b("str"), b("hello")]);
        q(c, vec![b("SET"), b("long"), b"xyz".repeat(1000)]);
        q(c, vec![b("SET"), b("random"), rng.bytes(500)]);
        q(c, vec![b("SET"), b("ttl"), b("v"), b("EX"), b("100000")]);
        q(c, vec![b("APPEND"), b("appended"), b("raw")]);
        q(c, vec![b("RPUSH"), b("list:small"), b("a"), b("1"), b("-2")]);
        let mut big = vec![b("RPUSH"), b("list:big")];
        for i in 0..3000 {
            big.push(format!("item{i}").into_bytes());
        }
        q(c, big);
        q(c, vec![b("RPUSH"), b("list:huge"), rng.bytes(20_000), b("x")]);
        q(c, vec![b("SADD"), b("set:int"), b("1"), b("2"), b("70000")]);
        let mut big = vec![b("SADD"), b("set:bigint")];
        for i in 0..700 {
            big.push(i.to_string().into_bytes());
        }
        q(c, big);
        q(c, vec![b("SADD"), b("set:str"), b("a"), b("b"), b("c")]);
        q(c, vec![b("HSET"), b("hash:small"), b("f"), b("v"), b("n"), b("5")]);
        let mut big = vec![b("HSET"), b("hash:big")];
        for i in 0..600 {
            big.push(format!("field{i}").into_bytes());
            big.push(format!("{}", i * i).into_bytes());
        }
        q(c, big);
        q(c, vec![b("HSET"), b("hash:long"), b("f"), b"v".repeat(100)]);
        q(c, vec![b("ZADD"), b("zset:small"), b("1"), b("a"), b("2.5"), b("b")]);
        let mut big = vec![b("ZADD"), b("zset:big")];
        for i in 0..300 {
            big.push(format!("{}", (i as f64) / 7.0).into_bytes());
            big.push(format!("member{i}").into_bytes());
        }
        q(c, big);
        q(c, vec![b("ZADD"), b("zset:inf"), b("inf"), b("x"), b("-inf"), b("y")]);
        q(c, vec![b("EXPIRE"), b("zset:big"), b("100000")]);
        q(c, vec![b("PEXPIRE"), b("hash:big"), b("100000000")]);
    }
    q(c, vec![b("SELECT"), b("0")]);
}

#[test]
fn redis_file_loads_in_tine() {
    let redis = start_redis(tempfile::tempdir().unwrap(), "redis.rdb");
    let mut c = redis.client();
    populate_redis(&mut c);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let want = digest(&mut c);
    let data = std::fs::read(redis.path("redis.rdb")).unwrap();
    let loaded = read_rdb(&data, &LoadLimits::default(), tine_core::base::mstime()).unwrap();
    if to_hex(&dataset_digest(&loaded.dbs)) != want {
        panic!("digests differ for {:?}", differing_keys(&mut c, &loaded.dbs));
    }
    assert_eq!(loaded.keys_expired, 0);
    assert_eq!(loaded.aux("redis-ver"), Some(&b"7.0.15"[..]));
    // Same encodings as Redis chose.
    assert_same_encodings(&mut c, &loaded.dbs);
    // Streaming reader gives the same.
    let streamed = tine_core::rdb::read_rdb_from(
        std::io::BufReader::new(std::fs::File::open(redis.path("redis.rdb")).unwrap()),
        &LoadLimits::default(),
        tine_core::base::mstime(),
    )
    .unwrap();
    assert_eq!(to_hex(&dataset_digest(&streamed.dbs)), want);
    // Loaded "later", the keys with a TTL have expired and are skipped on a primary.
    let later = read_rdb(&data, &LoadLimits::default(), i64::MAX).unwrap();
    assert_eq!(later.keys_expired, 9);
    assert_eq!(later.keys_loaded + 9, loaded.keys_loaded);
}

// ---------------------------------------------------------------------------------------
// (3) DUMP in Redis -> RESTORE in tine, and back
// ---------------------------------------------------------------------------------------

#[test]
fn dump_restore_both_ways() {
    let redis = start_redis(tempfile::tempdir().unwrap(), "dump.rdb");
    let tine = TestServer::with_args(DIFF_ARGS);
    let mut rc = redis.client();
    let mut tc = tine.client();
    populate_redis(&mut rc);
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut rc).unwrap();
    assert!(keys.len() > 15);
    for k in &keys {
        let want = digest_value(&mut rc, k);
        let payload: Vec<u8> = cmd(&mut rc, &[b"DUMP", k]);
        // DIGEST-VALUE counts whether the key has a TTL: carry it over.
        let pttl: i64 = cmd(&mut rc, &[b"PTTL", k]);
        let ttl = pttl.max(0).to_string();
        let ok: String = cmd(&mut tc, &[b"RESTORE", k, ttl.as_bytes(), &payload]);
        assert_eq!(ok, "OK");
        let got = digest_value(&mut tc, k);
        assert_eq!(got, want, "{}", String::from_utf8_lossy(k));
        // back: tine's DUMP restores in Redis under another name, same digest
        let back: Vec<u8> = cmd(&mut tc, &[b"DUMP", k]);
        let mut k2 = b"copy:".to_vec();
        k2.extend_from_slice(k);
        let ok: String = cmd(&mut rc, &[b"RESTORE", &k2, ttl.as_bytes(), &back]);
        assert_eq!(ok, "OK");
        let again = digest_value(&mut rc, &k2);
        assert_eq!(again, want, "{}", String::from_utf8_lossy(k));
    }
    // Errors, in Redis's words, from both servers.
    let payload: Vec<u8> = cmd(&mut rc, &[b"DUMP", b"str"]);
    for c in [&mut rc, &mut tc] {
        let e =
            redis::cmd("RESTORE").arg("str").arg(0).arg(&payload).query::<String>(c).unwrap_err();
        assert_eq!(e.code(), Some("BUSYKEY"));
        let e =
            redis::cmd("RESTORE").arg("new").arg(-1).arg(&payload).query::<String>(c).unwrap_err();
        assert!(e.to_string().contains("Invalid TTL value, must be >= 0"), "{e}");
        let mut bad = payload.clone();
        bad[1] ^= 0x40;
        let e = redis::cmd("RESTORE").arg("new").arg(0).arg(&bad).query::<String>(c).unwrap_err();
        assert!(e.to_string().contains("DUMP payload version or checksum are wrong"), "{e}");
        // REPLACE with an absolute TTL in the past deletes and does not create
        let ok: String = redis::cmd("RESTORE")
            .arg("str")
            .arg(1)
            .arg(&payload)
            .arg("REPLACE")
            .arg("ABSTTL")
            .query(c)
            .unwrap();
        assert_eq!(ok, "OK");
        let n: i64 = redis::cmd("EXISTS").arg("str").query(c).unwrap();
        assert_eq!(n, 0);
        let ok: String = redis::cmd("RESTORE")
            .arg("str")
            .arg(100_000)
            .arg(&payload)
            .arg("IDLETIME")
            .arg(5)
            .query(c)
            .unwrap();
        assert_eq!(ok, "OK");
        let ttl: i64 = redis::cmd("PTTL").arg("str").query(c).unwrap();
        assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
        let none: Option<Vec<u8>> = redis::cmd("DUMP").arg("nosuchkey").query(c).unwrap();
        assert!(none.is_none());
    }
    // A payload that is well-formed but holds garbage: Bad data format.
    let mut garbage = vec![0x0b, 0x05, 1, 2, 3, 4, 5];
    garbage.extend_from_slice(&10u16.to_le_bytes());
    let crc = tine_core::rdb::crc64::crc64(&garbage);
    garbage.extend_from_slice(&crc.to_le_bytes());
    for c in [&mut rc, &mut tc] {
        let e = redis::cmd("RESTORE").arg("g").arg(0).arg(&garbage).query::<String>(c).unwrap_err();
        assert!(e.to_string().contains("Bad data format"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------
// (4) corruption
// ---------------------------------------------------------------------------------------

fn small_file(checksum: bool) -> Vec<u8> {
    let limits = LoadLimits::default();
    let mut dbs = Keyspace::new(16);
    dbs.insert_new(0, key("s"), Value::Str(Str::from_bytes(&b"ab".repeat(30))));
    dbs.insert_new(0, key("i"), Value::Str(Str::from_i64(1000)));
    let mut l = ListBuilder::new(&limits);
    l.push(b"x");
    l.push(b"77");
    dbs.insert_new(0, key("l"), l.finish().unwrap());
    let mut s = SetBuilder::new(&limits, 2, 2);
    s.add(b"5".to_vec()).unwrap();
    s.add(b"6".to_vec()).unwrap();
    dbs.insert_new(0, key("si"), s.finish().unwrap());
    let mut s = SetBuilder::new(&limits, 1, 1);
    s.add(b"m".to_vec()).unwrap();
    dbs.insert_new(1, key("st"), s.finish().unwrap());
    let mut h = HashBuilder::new(&limits, 1, 1);
    h.add(b"f".to_vec(), b"v".to_vec()).unwrap();
    dbs.insert_new(1, key("h"), h.finish().unwrap());
    dbs.set_expire(1, b"h", Some(4_102_444_800_000));
    let mut z = ZSetBuilder::new();
    z.add(b"a", 1.5).unwrap();
    dbs.insert_new(1, key("z"), z.finish(&limits).unwrap());
    let mut z = ZSetBuilder::new();
    for i in 0..200 {
        z.add(format!("{i}").as_bytes(), i as f64).unwrap();
    }
    dbs.insert_new(2, key("zbig"), z.finish(&limits).unwrap());
    let mut out = Vec::new();
    let opts = RdbOptions { checksum, ..RdbOptions::default() };
    write_rdb(&mut out, &dbs, &opts, |_| {}).unwrap();
    out
}

#[test]
fn corrupt_files_are_refused() {
    let limits = LoadLimits::default();
    for checksum in [true, false] {
        let file = small_file(checksum);
        assert!(read_rdb(&file, &limits, 0).is_ok());
        // Every truncation fails.
        for n in 0..file.len() {
            assert!(read_rdb(&file[..n], &limits, 0).is_err(), "truncated at {n} loaded");
        }
        // Every single bit flip fails with the checksum on, never panics with it off.
        for i in 0..file.len() {
            for bit in 0..8 {
                let mut f = file.clone();
                f[i] ^= 1 << bit;
                let r = read_rdb(&f, &limits, 0);
                if checksum {
                    assert!(r.is_err(), "flip at {i} bit {bit} loaded");
                }
            }
        }
        // Random multi-byte damage never panics.
        let mut rng = Rng(1234);
        for _ in 0..3000 {
            let mut f = file.clone();
            for _ in 0..1 + rng.next_u64() % 8 {
                let i = (rng.next_u64() as usize) % f.len();
                f[i] = rng.next_u64() as u8;
            }
            let _ = read_rdb(&f, &limits, 0);
        }
    }
}

#[test]
fn lying_lengths_are_refused_without_allocating() {
    let limits = LoadLimits::default();
    let head = b"REDIS0010\xfe\x00";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // string key with a 64-bit length
        (b"\x00\x81\x7f\xff\xff\xff\xff\xff\xff\xff".to_vec(), "64-bit string length"),
        // 32-bit length
        (b"\x00\x80\xff\xff\xff\xf0".to_vec(), "32-bit string length"),
        // set with 2^62 members
        (b"\x02\x01k\x81\x40\x00\x00\x00\x00\x00\x00\x00".to_vec(), "set count"),
        // hash with 2^32-1 pairs
        (b"\x04\x01k\x80\xff\xff\xff\xff".to_vec(), "hash count"),
        // list with 2^62 nodes
        (b"\x12\x01k\x81\x40\x00\x00\x00\x00\x00\x00\x00".to_vec(), "quicklist nodes"),
        // LZF claiming a 4 GiB result from 2 bytes
        (b"\x00\x01k\xc3\x02\x80\xff\xff\xff\xff\x00\x61".to_vec(), "lzf length"),
        // zset with a huge count
        (b"\x05\x01k\x81\x40\x00\x00\x00\x00\x00\x00\x00".to_vec(), "zset count"),
    ];
    for (body, what) in cases {
        let mut f = head.to_vec();
        f.extend_from_slice(&body);
        f.extend_from_slice(&[0xff; 9]);
        let r = read_rdb(&f, &limits, 0);
        assert!(r.is_err(), "{what} loaded");
        // The streaming reader refuses it too, without allocating it (no OOM here).
        let r = tine_core::rdb::read_rdb_from(&f[..], &limits, 0);
        assert!(r.is_err(), "{what} loaded from a stream");
    }
    assert_eq!(
        read_rdb(b"REDIS0011\xff", &limits, 0).err().map(|e| e.to_string()),
        Some("Can't handle RDB format version 11".to_string())
    );
    assert!(matches!(read_rdb(b"RUBIS0010\xff", &limits, 0), Err(RdbError::BadSignature)));
    // DUMP payloads: every truncation of a real payload fails.
    let v = Value::Str(Str::from_bytes(&b"abc".repeat(40)));
    let p = tine_core::rdb::dump::dump_payload(&v, true);
    for n in 0..p.len() {
        assert!(restore_payload(&p[..n], &limits).is_err());
    }
}

/// A bad checksum is reported in Redis's words: its "expected" is the sum computed over the
/// file, "got" the one stored at its end, then the error name integration/rdb looks for.
#[test]
fn a_bad_checksum_is_reported_as_redis_reports_it() {
    let mut file = small_file(true);
    let n = file.len();
    file[n - 8..].copy_from_slice(b"foobar00");
    let e = read_rdb(&file, &LoadLimits::default(), 0).err().expect("refused").to_string();
    assert!(e.starts_with("Wrong RDB checksum expected: ("), "{e}");
    assert!(e.ends_with("but got (30307261626f6f66): RDB CRC error"), "{e}");
}
