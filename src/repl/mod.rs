//! Replication, primary and replica side (issue 11). The layer sits above persistence and
//! transport: it will start its own fork-child kind in the persist slot (the snapshot streamed
//! to replicas), load a primary's snapshot into a new keyspace, own the replication links and
//! speak PSYNC.
//!
//! Built so far: the replication identity (`state`: replid, replid2 and where the second
//! history ends), which INFO, ROLE and DEBUG CHANGE-REPL-ID read; and the shared replication
//! buffer (`buffer`), the one copy of the replication stream that the backlog and every
//! replica read from, which also keeps `master_repl_offset`; the primary side (`primary`:
//! the links to replicas, full syncs to disk or through the diskless child's pipe); and the
//! replica side (`replica`): the link to this node's primary, from the handshake to the
//! loaded full sync.

pub(crate) mod buffer;
pub(crate) mod feed;
pub(crate) mod primary;
pub(crate) mod replica;
pub(crate) mod state;
