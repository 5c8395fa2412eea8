//! tine: a Redis-compatible in-memory data server whose persistence and replication stand on
//! `fork()`. See README.md for the architecture; each module opens with what it owns.

pub mod blocking;
pub mod command;
pub mod config;
pub mod db;
pub mod evict;
pub mod latency;
pub mod log;
pub mod net;
pub mod persist;
pub mod propagate;
pub mod protocol;
pub mod pubsub;
pub mod server;
pub mod shutdown;
pub mod startup;
pub mod util;

pub use startup::pidfile_path;

/// The version tine reports as `redis_version` (clients decide features by it) ...
pub const REDIS_VERSION: &str = "7.0.15";
/// ... and its own.
pub const TINE_VERSION: &str = env!("CARGO_PKG_VERSION");
