//! CONFIG SET as a transaction over the running server: the new values are staged by
//! `Config::set_many`, which also returns the typed effects of the directives set (each
//! declared in its row of the directive table), and this file applies those effects in one
//! `match`. It lives in the top layer because the effects reach across the subsystems (the
//! listeners, the AOF, the log, the keys' access clock, the process's working directory);
//! CONFIG SET reaches it through `commands::ServerOps::config_set`.
//!
//! All or nothing: when an effect fails, the old configuration is put back and the effects
//! already applied are applied again under it, so the server is left as it was before the
//! command, as Redis 7.0's configSetCommand restores its backup and re-runs the apply functions.

use crate::commands::data::Data;
use crate::config::{Effect, Effects, SetError};
use tine_core::base;
use tine_core::log as logging;
use tine_core::protocol::CmdError;

/// Why an effect could not be applied (the CONFIG SET is then undone).
#[derive(Debug)]
pub(crate) enum EffectError {
    /// `dir`: the server could not change into the directory.
    Dir(std::io::Error),
    /// `appendonly yes`: the AOF could not be started; the reason is in the log.
    AppendOnly(crate::persist::aof::AofError),
}

impl EffectError {
    /// The text after "ERR " in the reply, as tine has always written it.
    pub(crate) fn reply_text(&self) -> String {
        let detail = match self {
            EffectError::Dir(e) => {
                format!("(possibly related to argument 'dir') - {}", base::strerror(e))
            }
            EffectError::AppendOnly(e) => e.to_string(),
        };
        format!("CONFIG SET failed {}", detail)
    }
}

/// Why CONFIG SET failed: a pair was refused (nothing changed), or an effect failed (the
/// change was undone).
#[derive(Debug)]
pub(crate) enum ConfigSetError {
    Refused(SetError),
    Effect(EffectError),
}

impl From<ConfigSetError> for CmdError {
    /// Both kinds are "ERR" errors, as in Redis's configSetCommand.
    fn from(e: ConfigSetError) -> CmdError {
        match e {
            ConfigSetError::Refused(e) => e.to_cmd_error(),
            ConfigSetError::Effect(e) => CmdError::err(&e.reply_text()),
        }
    }
}

/// CONFIG SET of several (name, value) pairs, all or nothing.
pub(crate) fn config_set(data: &mut Data, pairs: &[(&str, &str)]) -> Result<(), ConfigSetError> {
    let before = data.config.clone();
    let effects = data.config.set_many(pairs).map_err(ConfigSetError::Refused)?;
    let mut applied = Effects::default();
    for effect in effects.iter() {
        if let Err(e) = apply_config_effect(data, effect) {
            data.config = before;
            // Best effort, as Redis's restore: the old values were in force before, so
            // applying them again can only fail where the server already stood.
            for undo in applied.iter() {
                let _ = apply_config_effect(data, undo);
            }
            return Err(ConfigSetError::Effect(e));
        }
        applied.add(effect);
    }
    Ok(())
}

/// The one place that knows what each effect does to the running server.
fn apply_config_effect(data: &mut Data, effect: Effect) -> Result<(), EffectError> {
    match effect {
        Effect::LogLevel => logging::set_level(data.config.loglevel.level()),
        // As Redis's updateHZ: the stored value is clamped too, so CONFIG GET shows 1..500.
        Effect::Hz => {
            data.config.hz = data.config.hz.clamp(1, 500);
            data.hz = data.config.hz;
        }
        // As Redis's resizeReplicationBacklog: under 16 KiB becomes 16 KiB, and the backlog
        // is trimmed to the new size.
        Effect::ReplBacklogSize => {
            data.repl_buf.set_backlog_size(data.config.repl_backlog_size);
            data.config.repl_backlog_size = data.repl_buf.backlog_size();
        }
        Effect::NotifyFlags => {
            data.notify_flags = data.config.notify_keyspace_events.bits();
            data.keyspace
                .track_created(data.notify_flags & crate::config::custom::notify::NEW != 0);
        }
        // The event loop re-creates the listeners before it next polls.
        Effect::Rebind => data.rebind_requested = true,
        // As Redis: `dir` is where the server lives; saves write `dbfilename` there.
        Effect::Dir => std::env::set_current_dir(&data.config.dir).map_err(EffectError::Dir)?,
        Effect::AppendOnly => {
            if data.config.appendonly {
                crate::persist::aof::start_append_only(data).map_err(EffectError::AppendOnly)?;
            } else {
                crate::persist::aof::stop_append_only(data);
            }
        }
        Effect::FsyncPolicy => crate::persist::aof::fsync_policy_changed(data),
        // As Redis's set_jemalloc_bg_thread: a failure (jemalloc built without background
        // thread support) is not an error of CONFIG SET; the value is kept either way.
        Effect::JemallocBgThread => {
            crate::engine::memory::set_background_thread(data.config.jemalloc_bg_thread);
        }
        Effect::Maxmemory => {
            let max = data.config.maxmemory;
            if max != 0 {
                let used = crate::engine::memory::used_memory();
                if max < used {
                    logging::log(
                        logging::Level::Warning,
                        &format!(
                            "WARNING: the new maxmemory value set via CONFIG SET ({}) is smaller than the current memory usage ({}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.",
                            max, used
                        ),
                    );
                }
                data.evict_requested = true;
            }
        }
        Effect::LazyFree => data.keyspace.set_lazy_policy(data.config.lazy_policy()),
        Effect::KeyAccess => tine_core::types::access::update(
            data.now_ms,
            data.config.maxmemory_policy.is_lfu(),
            data.config.lfu_log_factor,
            data.config.lfu_decay_time,
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn effects_reach_the_server() {
        let mut data = Data::new(Config::default());
        config_set(&mut data, &[("hz", "50"), ("notify-keyspace-events", "KEA"), ("port", "7000")])
            .unwrap();
        assert_eq!(data.hz, 50);
        assert_eq!(data.notify_flags, crate::config::custom::notify::parse("KEA").unwrap());
        assert!(data.rebind_requested);
    }

    #[test]
    fn a_failed_effect_undoes_the_whole_config_set() {
        let mut data = Data::new(Config::default());
        data.config.enable_protected_configs = crate::config::EnableCommand::Yes;
        let err = config_set(
            &mut data,
            &[
                ("hz", "50"),
                ("notify-keyspace-events", "KEA"),
                ("dir", "/nonexistent/tine-config-effects"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            CmdError::from(err).text,
            "ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory"
        );
        assert_eq!((data.config.hz, data.hz, data.notify_flags), (10, 10, 0));
        assert_eq!(data.config.notify_keyspace_events.bits(), 0);
    }

    #[test]
    fn a_refused_pair_changes_nothing() {
        let mut data = Data::new(Config::default());
        let err = config_set(&mut data, &[("hz", "50"), ("maxmemory-policy", "lru")]).unwrap_err();
        assert_eq!(
            CmdError::from(err).text,
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        );
        assert_eq!((data.config.hz, data.hz), (10, 10));
    }
}
