//! tine-core: the parts of tine that know nothing of a server — no sockets, no clients, no
//! fork, no configuration table. Being its own crate, it cannot import the server: the
//! compiler enforces the bottom of the layering that README.md describes.
//!
//! - `base`: numbers, glob matching, the clock, argument quoting, the log line format.
//! - `types`: the value types and the structures under them.
//! - `keyspace`: the databases and the only lookup/insert/remove API, with lazy expiry.
//! - `rdb`: the RDB codec (limits and delays passed in by the caller).
//! - `protocol`: RESP request parsing and reply encoding.

pub mod base;
pub mod keyspace;
pub mod protocol;
pub mod rdb;
pub mod types;

pub use base::log;

/// The version tine reports as `redis_version` (clients decide features by it, and RDB files
/// carry it in their `redis-ver` aux field).
pub const REDIS_VERSION: &str = "7.0.15";
