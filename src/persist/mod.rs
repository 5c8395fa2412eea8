//! Persistence: the append-only file (`aof`), the fork machinery (`child`, the one place that forks), the RDB format
//! (`rdb`), RDB snapshots as the server drives them (`snapshot`), and the glue between the
//! server and the codec (`rdb_io`).

pub mod aof;
pub mod child;
pub mod rdb;
pub mod rdb_io;
pub mod snapshot;
