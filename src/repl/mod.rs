//! Replication, primary and replica side (issue 11). The layer sits above persistence and
//! transport: it will own the replication links, the snapshot streamed to replicas and the
//! loading of a primary's snapshot, and the PSYNC protocol.
//!
//! Built so far: the shared replication buffer (`buffer`), the one copy of the replication
//! stream that the backlog and every replica read from.

#[allow(dead_code, reason = "the primary's stream and PSYNC use it next (issue 11)")]
pub(crate) mod buffer;
