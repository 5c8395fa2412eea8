//! Shared by the criterion benches: sizes that stay small under `cargo test --all-targets`
//! (which runs each bench once as a test) and grow under `cargo bench`.

#![allow(dead_code)]

use std::time::Duration;

use criterion::Criterion;

/// True under `cargo bench` (criterion is passed `--bench`), false under `cargo test`.
pub fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// `big` when benchmarking, `small` when the bench runs as a test.
pub fn size(small: usize, big: usize) -> usize {
    if benching() { big } else { small }
}

/// Short measurements: these are quick micro-benchmarks on a shared machine.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args()
}

/// Deterministic pseudo-random bytes (splitmix64), for data that compresses like real values.
pub fn bytes(n: usize, seed: u64, alphabet: u8) -> Vec<u8> {
    let mut rng = tine_core::base::SplitMix64(seed);
    (0..n).map(|_| b'a'.wrapping_add(rng.below(alphabet as u64) as u8)).collect()
}
