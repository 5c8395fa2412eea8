//! Subsystems that own their state: blocking queues (`blocking`), the propagation feed
//! (`feed`), pub/sub and keyspace notifications (`pubsub`), eviction (`evict`), the active
//! expire cycle (`expire`), the latency monitor (`latency`), the allocator's memory figures
//! (`memory`), the session state a client holds (`session`), the server's counters: stats,
//! errorstats, commandstats, the slow log (`stats`), client-side caching's tables (`tracking`). The layer's rule: they never
//! name the server aggregate (`crate::app`); what they need from it is a trait they define
//! and the command context (`commands::Ctx`) implements. The import-rule test
//! (tests/layers.rs) keeps it so.

pub(crate) mod acl;
pub(crate) mod blocking;
pub(crate) mod evict;
pub(crate) mod expire;
pub(crate) mod feed;
pub(crate) mod latency;
pub(crate) mod memory;
pub(crate) mod pubsub;
pub(crate) mod session;
pub(crate) mod stats;
pub(crate) mod tracking;
