//! Any bytes as an AOF manifest: never a panic, and what parses survives being written out and read
//! back.
//! The body is `tine::fuzzing::manifest` (feature `fuzzing`), which the server crate's tests
//! also run over mutated seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tine::fuzzing::manifest(data);
});
