//! An AOF incr file's bytes replayed through the real command dispatcher (dangerous commands are
//! no-ops): never a panic, the valid prefix within the input, and what loaded survives an RDB round
//! trip.
//! The body is `tine::fuzzing::aof` (feature `fuzzing`), which the server crate's tests
//! also run over mutated seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tine::fuzzing::aof(data);
});
