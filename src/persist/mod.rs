//! Persistence drivers: RDB snapshots as the server drives them (`snapshot`: SAVE, BGSAVE, save
//! points, MISCONF), the glue between the server and the RDB codec of `tine_core::rdb`
//! (`rdb_io`: writer options, child progress, startup loading), and the append-only file
//! (`aof`). Forking itself is `crate::fork`'s.

pub mod aof;
pub mod rdb_io;
pub mod snapshot;
