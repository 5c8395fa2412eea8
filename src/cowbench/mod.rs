//! tine-cow-bench: measures what a fork child (BGSAVE, BGREWRITEAOF) costs a Redis-protocol
//! server in copy-on-write memory while the parent keeps taking writes.
//!
//! Declared from `src/bin/tine-cow-bench.rs` only, not from the library: the tool talks to a
//! server over TCP and reads /proc like any outside observer, so it needs nothing of tine's
//! internals and works the same against tine and redis-server.
//!
//! `resp` is a small blocking RESP2 client, `procfs` reads memory figures of the server and its
//! child, `server` starts or connects to a server, `load` fills it, `workload` drives writes
//! at a fixed rate, `run` is one scenario on one server (fork, sample, wait), `report` prints
//! and writes CSV, JSON and the SVG chart.

pub mod load;
pub mod procfs;
pub mod report;
pub mod resp;
pub mod run;
pub mod server;
pub mod workload;
