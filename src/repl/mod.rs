//! Replication, primary and replica side, as Redis 7.0's PSYNC2. The layer sits above
//! persistence and transport: its full syncs are fork children in the persist slot (a BGSAVE
//! with a sync job, or the diskless `tine-rdb-to-rep` child writing into a pipe), and it
//! loads a primary's snapshot into a new keyspace.
//!
//! - `state`: the replication identity (replid, replid2 and where the second history ends).
//! - `buffer`: the shared replication buffer, the one copy of the stream that the backlog and
//!   every replica read from; it keeps `master_repl_offset`.
//! - `feed`: the stream as a consumer of the propagation feed.
//! - `primary`: the links to replicas and their full syncs.
//! - `replica`: the link to this node's primary, from the handshake to the loaded full sync.
//!
//! What needs sessions or the event loop is above: `commands/replication.rs` (SYNC, PSYNC,
//! REPLCONF, WAIT, the once-a-second work), `commands/replicaof.rs`, `app/replication.rs`
//! (the master client).

pub(crate) mod buffer;
pub(crate) mod feed;
pub(crate) mod primary;
pub(crate) mod replica;
pub(crate) mod state;
