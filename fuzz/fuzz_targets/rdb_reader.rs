//! Any bytes given to the RDB reader: an error or a keyspace, never a panic; a keyspace it
//! accepts can be written again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tine_core::rdb::{LoadLimits, RdbOptions, read_rdb, read_rdb_from, write_rdb};

fuzz_target!(|data: &[u8]| {
    let limits = LoadLimits::default();
    let a = read_rdb(data, &limits, 0);
    let b = read_rdb_from(data, &limits, 0);
    assert_eq!(a.is_ok(), b.is_ok());
    if let Ok(r) = a {
        let mut out = Vec::new();
        write_rdb(&mut out, &r.dbs, &RdbOptions::default(), |_| {}).unwrap();
    }
});
