//! Persistence: the fork machinery (`child`, the one place that forks), RDB snapshots as the
//! server drives them (`snapshot`), and the glue to the RDB codec (`rdb_io`).

pub mod child;
pub mod rdb_io;
pub mod snapshot;
