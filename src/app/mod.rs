//! The top layer, and the only place the server aggregate exists: `server` (the aggregate:
//! the data half `commands::Data` and the client table, and cron housekeeping), `client` (a
//! client as the pair of its connection and its session, and the client table's CLIENT LIST
//! figures), `event_loop` (mio poll, before-sleep, timers, signals), `startup` (arguments,
//! config file, daemonize, loading), `shutdown`, `config_effects` (CONFIG SET applied to the
//! running server, all or nothing), and the answers to what lower layers ask of the top
//! through their own traits (`server_ops`: the client table as `commands::ServerOps`;
//! `aof_replay`: the AOF loader's executor).

pub(crate) mod aof_replay;
pub(crate) mod client;
pub(crate) mod config_effects;
pub(crate) mod event_loop;
pub(crate) mod replication;
pub(crate) mod server;
mod server_ops;
pub(crate) mod shutdown;
pub mod startup;
