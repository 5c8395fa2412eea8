//! MEMORY USAGE: how many bytes a key and its value take, estimated as Redis's
//! `objectComputeSize` does — exactly for the compact encodings (strings, listpacks, intsets,
//! quicklists: their buffers are at hand), and for the table encodings by sampling up to
//! `samples` elements (0 = all) and scaling their average to the element count.
//!
//! Figures are what tine allocates, each allocation rounded up to jemalloc's size class,
//! which is where tine's numbers differ from redis-server's: tine's encodings are its own
//! (inline short members and field/value records, keys with their LRU bytes), so the same
//! data usually costs less.

use super::access::StoredKey;
use super::dict::Dict;
use super::hash::{FieldValue, Hash};
use super::set::{Member, Set};
use super::value::{Str, Value};
use super::zset::ZSet;

/// The size class jemalloc serves a request of `n` bytes from: 8, 16, then steps of 16 up to
/// 128, then four classes per doubling (160, 192, 224, 256, 320, ...).
pub fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => n.div_ceil(16) * 16,
        _ => {
            let step = n.next_power_of_two() / 8;
            n.div_ceil(step) * step
        }
    }
}

/// Bytes of a key held in the keyspace: its own allocation (key bytes and access data), the
/// table entry holding it and the value, and what the value owns beyond the entry.
pub fn key_usage(key: &StoredKey, value: &Value, entry_size: usize, samples: usize) -> usize {
    alloc_size(key.allocation_len()) + alloc_size(entry_size) + value_usage(value, samples)
}

/// Heap bytes a value owns outside the table entry that holds it.
pub fn value_usage(value: &Value, samples: usize) -> usize {
    match value {
        Value::Str(Str::Heap { bytes, .. }) => alloc_size(bytes.len()),
        Value::Str(_) => 0, // an integer or a short string lives inside the entry
        Value::List(l) => {
            alloc_size(std::mem::size_of_val(&**l))
                + alloc_size(l.node_count() * std::mem::size_of::<super::listpack::Listpack>())
                + l.nodes().map(|n| alloc_size(n.allocated_bytes())).sum::<usize>()
        }
        Value::Hash(h) => {
            alloc_size(std::mem::size_of_val(&**h))
                + match &**h {
                    Hash::Listpack(lp) => alloc_size(lp.allocated_bytes()),
                    Hash::Table(t) => table_usage(t, samples, |fv: &FieldValue| match fv {
                        FieldValue::Heap { bytes, .. } => alloc_size(bytes.len()),
                        FieldValue::Inline { .. } => 0,
                    }),
                }
        }
        Value::Set(s) => {
            alloc_size(std::mem::size_of_val(&**s))
                + match &**s {
                    Set::Intset(i) => alloc_size(i.allocated_bytes()),
                    Set::Table(t) => table_usage(t, samples, |m: &Member| match m {
                        Member::Heap(b) => alloc_size(b.len()),
                        Member::Inline { .. } => 0,
                    }),
                }
        }
        Value::ZSet(z) => {
            alloc_size(std::mem::size_of_val(&**z))
                + match &**z {
                    ZSet::Listpack(lp) => alloc_size(lp.allocated_bytes()),
                    ZSet::Skiplist(s) => alloc_size(std::mem::size_of_val(&**s)) + s.heap_size(),
                }
        }
        Value::Stream(s) => stream_usage(s, samples),
    }
}

/// A stream: its struct, the tree's nodes (one per listpack, about 48 bytes of tree per
/// key), the listpacks, and the consumer groups with their PELs (sampled like Redis's
/// objectComputeSize, which counts groups and PELs approximately too).
fn stream_usage(s: &super::stream::Stream, samples: usize) -> usize {
    let _ = samples;
    let nodes = s.node_count();
    let mut total = alloc_size(std::mem::size_of_val(s)) + nodes * 48;
    total += s.node_bytes().map(alloc_size).sum::<usize>();
    for (name, g) in &s.groups {
        total += alloc_size(name.len()) + alloc_size(std::mem::size_of_val(g)) + 48;
        total += g.pel.len() * (alloc_size(std::mem::size_of::<super::stream::Nack>()) + 48);
        for (cname, c) in &g.consumers {
            total += alloc_size(cname.len()) * 2 + alloc_size(std::mem::size_of_val(c)) + 48;
            total += c.pel.len() * 24;
        }
    }
    total
}

/// A nested table: its own box, its bucket arrays, plus entries and what each element owns,
/// from a sample.
fn table_usage<K, V>(t: &Dict<K, V>, samples: usize, owned: impl Fn(&K) -> usize) -> usize {
    let len = t.len();
    let buckets = alloc_size(std::mem::size_of_val(t))
        + alloc_size(t.buckets() * std::mem::size_of::<usize>());
    if len == 0 {
        return buckets;
    }
    let take = if samples == 0 { len } else { samples.min(len) };
    let entry = alloc_size(Dict::<K, V>::entry_size());
    let sampled: usize = t.iter().take(take).map(|(k, _)| entry + owned(k)).sum();
    buckets + sampled * len / take
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_size_classes() {
        let want = [
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (48, 48),
            (49, 64),
            (128, 128),
            (129, 160),
            (160, 160),
            (161, 192),
            (257, 320),
            (513, 640),
            (4096, 4096),
            (4097, 5120),
        ];
        for (n, class) in want {
            assert_eq!(alloc_size(n), class, "request of {n}");
        }
    }
}
