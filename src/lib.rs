//! tine: a Redis-compatible in-memory data server whose persistence and replication stand on
//! `fork()`. See README.md for the architecture; each module opens with what it owns. The
//! server-free layers (value types, keyspace, RDB codec, RESP) are the `tine-core` crate.

pub mod app;
pub mod commands;
pub mod config;
pub mod engine;
pub mod fork;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod net;
pub mod persist;
pub mod repl;

pub(crate) use app::startup::pidfile_path;
/// The version tine reports as `redis_version` (clients decide features by it) ...
pub(crate) use tine_core::REDIS_VERSION;
/// ... and its own.
pub(crate) const TINE_VERSION: &str = env!("CARGO_PKG_VERSION");
