//! RESP request parsing and reply encoding (`tine_core::protocol`).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tine_core::protocol::Resp;
use tine_core::protocol::reply;
use tine_core::protocol::request::{Limits, Parsed, RequestParser};

mod common;

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

const LIMITS: Limits = Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true };

fn parse_all(buf: &[u8]) -> usize {
    let mut p = RequestParser::new();
    let mut pos = 0;
    let mut n = 0;
    loop {
        match p.next(buf, &mut pos, LIMITS) {
            Parsed::Command => {
                n += p.argv.len();
                p.argv.clear();
            }
            Parsed::Incomplete => return n,
            Parsed::Error(e) => panic!("{:?}", e),
        }
    }
}

fn parse(c: &mut Criterion) {
    let commands = common::size(100, 10_000);
    let value = common::bytes(100, 1, 26);
    let mut pipeline = Vec::new();
    for i in 0..commands {
        pipeline.extend(multibulk(&[b"SET", format!("key:{}", i).as_bytes(), &value]));
    }
    let mut g = c.benchmark_group("resp_parse");
    g.throughput(Throughput::Bytes(pipeline.len() as u64));
    g.bench_function("set_100b_pipeline", |b| b.iter(|| parse_all(black_box(&pipeline))));
    let mut inline = Vec::new();
    for i in 0..commands {
        inline.extend(format!("GET key:{}\r\n", i).as_bytes());
    }
    g.throughput(Throughput::Bytes(inline.len() as u64));
    g.bench_function("inline_get_pipeline", |b| b.iter(|| parse_all(black_box(&inline))));
    let big = multibulk(&[b"SET", b"big", &common::bytes(common::size(4096, 1 << 20), 2, 26)]);
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("set_big_value", |b| b.iter(|| parse_all(black_box(&big))));
    g.finish();
}

fn encode(c: &mut Criterion) {
    let n = common::size(100, 10_000);
    let value = common::bytes(100, 3, 26);
    let mut g = c.benchmark_group("reply_encode");
    g.throughput(Throughput::Elements(n as u64));
    let mut out = Vec::with_capacity(n * 128);
    g.bench_function("bulk_100b", |b| {
        b.iter(|| {
            out.clear();
            for _ in 0..n {
                reply::bulk(&mut out, black_box(&value));
            }
            out.len()
        })
    });
    g.bench_function("integer", |b| {
        b.iter(|| {
            out.clear();
            for i in 0..n as i64 {
                reply::integer(&mut out, black_box(i * 7919));
            }
            out.len()
        })
    });
    g.bench_function("double_resp3", |b| {
        b.iter(|| {
            out.clear();
            for i in 0..n {
                reply::double(&mut out, black_box(i as f64 / 7.0), Resp::V3);
            }
            out.len()
        })
    });
    g.bench_function("array_of_bulks", |b| {
        b.iter(|| {
            out.clear();
            reply::array(&mut out, n);
            for _ in 0..n {
                reply::bulk(&mut out, black_box(&value[..10]));
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = parse, encode
}
criterion_main!(benches);
