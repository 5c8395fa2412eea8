//! Any bytes as a RESTORE payload (with the footer checked) and as a payload body (footer
//! skipped, so the value decoders are reached): an error or a value, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tine_core::rdb::LoadLimits;
use tine_core::rdb::dump::{dump_payload, read_payload_value, restore_payload};

fuzz_target!(|data: &[u8]| {
    let limits = LoadLimits::default();
    let _ = restore_payload(data, &limits);
    if let Ok(v) = read_payload_value(data, &limits) {
        let p = dump_payload(&v, true);
        assert!(restore_payload(&p, &limits).is_ok());
    }
});
