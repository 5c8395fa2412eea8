//! The keyspace (`tine_core::keyspace::Keyspace`: insert, lookup, overwrite) and listpack operations
//! (`tine_core::types::listpack`).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tine_core::keyspace::{Keyspace, Str, Value};
use tine_core::types::listpack::Listpack;

mod common;

fn keys(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("key:{}", i).into_bytes()).collect()
}

fn value() -> Value {
    Value::Str(Str::from_bytes(&[b'v'; 100]))
}

fn filled(keys: &[Vec<u8>]) -> Keyspace {
    let mut db = Keyspace::new(1);
    for k in keys {
        db.set(0, k, value(), false);
    }
    db
}

fn keyspace(c: &mut Criterion) {
    let n = common::size(1_000, 100_000);
    let ks = keys(n);
    // Lookups in a scattered order, as clients make them.
    let order: Vec<usize> = (0..n).map(|i| (i * 7919) % n).collect();
    let mut g = c.benchmark_group("db");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("insert", |b| {
        b.iter_batched(
            || Keyspace::new(1),
            |mut db| {
                for k in &ks {
                    db.set(0, k, value(), false);
                }
                db
            },
            BatchSize::LargeInput,
        )
    });
    let mut db = filled(&ks);
    g.bench_function("lookup_hit", |b| {
        b.iter(|| {
            let mut found = 0;
            for &i in &order {
                found += db.lookup(0, black_box(&ks[i]), 0).is_some() as usize;
            }
            found
        })
    });
    let missing = keys(n)
        .into_iter()
        .map(|mut k| {
            k.insert(0, b'x');
            k
        })
        .collect::<Vec<_>>();
    g.bench_function("lookup_miss", |b| {
        b.iter(|| {
            let mut found = 0;
            for k in &missing {
                found += db.lookup(0, black_box(k), 0).is_some() as usize;
            }
            found
        })
    });
    g.bench_function("overwrite", |b| {
        b.iter(|| {
            for &i in &order {
                db.set(0, black_box(&ks[i]), value(), false);
            }
        })
    });
    g.finish();
}

fn listpack(c: &mut Criterion) {
    let n = common::size(64, 128);
    let elements: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            if i % 3 == 0 {
                (i * 1000).to_string().into_bytes()
            } else {
                format!("element:{}", i).into_bytes()
            }
        })
        .collect();
    let mut full = Listpack::new();
    for e in &elements {
        full.push_back(e);
    }
    let mut g = c.benchmark_group("listpack");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("push_back", |b| {
        b.iter(|| {
            let mut lp = Listpack::new();
            for e in &elements {
                lp.push_back(black_box(e));
            }
            lp.len()
        })
    });
    g.bench_function("iterate", |b| {
        b.iter(|| black_box(&full).iter().map(|e| e.str_len()).sum::<usize>())
    });
    g.bench_function("find_each", |b| {
        b.iter(|| elements.iter().filter(|e| full.find(black_box(e), 0).is_some()).count())
    });
    g.bench_function("replace_middle", |b| {
        b.iter_batched(
            || full.clone(),
            |mut lp| {
                for i in 0..n {
                    lp.replace(i, black_box(b"replaced"));
                }
                lp
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("delete_front", |b| {
        b.iter_batched(
            || full.clone(),
            |mut lp| {
                while lp.delete(0) {}
                lp
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = keyspace, listpack
}
criterion_main!(benches);
