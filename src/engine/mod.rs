//! Subsystems that own their state: blocking queues (`blocking`), the propagation feed
//! (`feed`), pub/sub and keyspace notifications (`pubsub`), eviction (`evict`), the active
//! expire cycle (`expire`), the latency monitor (`latency`), the allocator's memory figures
//! (`memory`), the session state a client holds (`session`). The layer's rule: they never
//! name the server aggregate (`crate::app`); what they need from it is a trait they define
//! and the command context (`commands::Ctx`) implements. The import-rule test
//! (tests/layers.rs) keeps it so.

pub mod blocking;
pub mod evict;
pub mod expire;
pub mod feed;
pub mod latency;
pub mod memory;
pub mod pubsub;
pub mod session;
