//! Any bytes as a redis.conf: parsed as redis-server reads it and every line applied to a default
//! configuration; never a panic (`include` lines are skipped).
//! The body is `tine::fuzzing::config` (feature `fuzzing`), which the server crate's tests
//! also run over mutated seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tine::fuzzing::config(data);
});
