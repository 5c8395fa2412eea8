//! The top layer, and the only place the server aggregate exists: `server` (the aggregate,
//! its lookups and cron housekeeping), `client` (a client as the pair of its connection and
//! its session, and the client table's CLIENT LIST figures), `event_loop` (mio poll, before-sleep, timers,
//! signals), `startup` (arguments, config file, daemonize, loading), `shutdown`,
//! `config_effects` (CONFIG SET applied to the running server, all or nothing), and the
//! answers to what lower layers ask of the top through their own traits (`engine_host` for
//! the engine's subsystems, `persist_host`, `aof_replay`).

pub(crate) mod aof_replay;
pub mod client;
pub mod config_effects;
mod engine_host;
pub mod event_loop;
pub mod server;
pub mod shutdown;
pub mod startup;
