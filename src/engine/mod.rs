//! Subsystems that own their state: blocking queues (`blocking`), the propagation feed
//! (`feed`), pub/sub and keyspace notifications (`pubsub`), eviction (`evict`), the active
//! expire cycle (`expire`), the latency monitor (`latency`), the allocator's memory figures
//! (`memory`). The layer's rule: they never name the server aggregate (`crate::app`); the
//! import-rule test (tests/layers.rs) lists the ones that still do.

pub mod blocking;
pub mod evict;
pub mod expire;
pub mod feed;
pub mod latency;
pub mod memory;
pub mod pubsub;
