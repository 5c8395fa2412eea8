//! The top layer, and the only place the server aggregate exists: `server` (the aggregate,
//! its lookups and cron housekeeping), `event_loop` (mio poll, before-sleep, timers,
//! signals), `startup` (arguments, config file, daemonize, loading), `shutdown`, and
//! `config_effects` (CONFIG SET applied to the running server, all or nothing).

pub mod config_effects;
pub mod event_loop;
pub mod server;
pub mod shutdown;
pub mod startup;
