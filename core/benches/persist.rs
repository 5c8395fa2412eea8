//! RDB encode and decode over a built keyspace (`write_rdb`, `read_rdb`), CRC-64 and LZF
//! (`tine_core::rdb`), in MB/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tine_core::keyspace::{Keyspace, Str, Value};
use tine_core::rdb::{self, LoadLimits, RdbOptions, crc64, lzf};

mod common;

/// A keyspace of `n` string keys: 100-byte values that compress somewhat (a small alphabet)
/// and integers, as DEBUG POPULATE and counters make.
fn keyspace(n: usize) -> Keyspace {
    let mut ks = Keyspace::new(16);
    for i in 0..n {
        let key = format!("key:{}", i);
        let v = if i % 4 == 0 {
            Str::from_i64(i as i64 * 7919)
        } else {
            Str::from_bytes(&common::bytes(100, i as u64, 8))
        };
        ks.set(0, key.as_bytes(), Value::Str(v), false);
    }
    ks
}

fn rdb_codec(c: &mut Criterion) {
    let dbs = keyspace(common::size(2_000, 200_000));
    let opts = RdbOptions::default();
    let mut file = Vec::new();
    rdb::write_rdb(&mut file, &dbs, &opts, |_| {}).unwrap();
    let mut g = c.benchmark_group("rdb");
    g.throughput(Throughput::Bytes(file.len() as u64));
    let mut out = Vec::with_capacity(file.len());
    g.bench_function("write_rdb", |b| {
        b.iter(|| {
            out.clear();
            rdb::write_rdb(&mut out, black_box(&dbs), &opts, |_| {}).unwrap();
            out.len()
        })
    });
    let uncompressed = RdbOptions { compression: false, ..RdbOptions::default() };
    g.bench_function("write_rdb_no_compression", |b| {
        b.iter(|| {
            out.clear();
            rdb::write_rdb(&mut out, black_box(&dbs), &uncompressed, |_| {}).unwrap();
            out.len()
        })
    });
    let limits = LoadLimits::default();
    g.bench_function("read_rdb", |b| {
        b.iter(|| rdb::read_rdb(black_box(&file), &limits, 0).unwrap().keys_loaded)
    });
    g.finish();
}

fn checksum(c: &mut Criterion) {
    let data = common::bytes(common::size(64 * 1024, 16 << 20), 9, 255);
    let mut g = c.benchmark_group("crc64");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("crc64_redis", |b| b.iter(|| crc64::crc64(black_box(&data))));
    g.finish();
}

fn compression(c: &mut Criterion) {
    let mut g = c.benchmark_group("lzf");
    for (name, alphabet) in [("text_like", 8u8), ("random", 255u8)] {
        let data = common::bytes(common::size(16 * 1024, 1 << 20), 5, alphabet);
        g.throughput(Throughput::Bytes(data.len() as u64));
        let mut comp = lzf::Compressor::new();
        let mut out = Vec::with_capacity(data.len());
        g.bench_function(format!("compress_{}", name), |b| {
            b.iter(|| {
                out.clear();
                comp.compress(black_box(&data), &mut out, data.len())
            })
        });
        if let Some(packed) = lzf::compress(&data, data.len()) {
            g.bench_function(format!("decompress_{}", name), |b| {
                b.iter(|| lzf::decompress(black_box(&packed), data.len()).unwrap().len())
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = rdb_codec, checksum, compression
}
criterion_main!(benches);
