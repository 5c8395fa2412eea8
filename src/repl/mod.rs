//! Replication, primary and replica side (issue 11). The layer sits above persistence and
//! transport: it will start its own fork-child kind in the persist slot (the snapshot streamed
//! to replicas), load a primary's snapshot into a new keyspace, and own the replication links.
//!
//! Built so far: the replication identity (`state`: replid, replid2, offsets), which INFO,
//! ROLE, DEBUG CHANGE-REPL-ID and the RDB's aux fields read.

pub(crate) mod state;
