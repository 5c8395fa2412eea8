//! The top layer, and the only place the server aggregate exists: `server` (the aggregate,
//! its lookups and cron housekeeping), `event_loop` (mio poll, before-sleep, timers,
//! signals), `startup` (arguments, config file, daemonize, loading), `shutdown`, and `engine_host` (the
//! server as the host the engine's subsystems call back into).

mod engine_host;
pub mod event_loop;
pub mod server;
pub mod shutdown;
pub mod startup;
