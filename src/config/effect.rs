//! What changing a directive does to the running server, as a type: each row of the directive
//! table names its `Effect`, `Config::set_many` reports the effects of what it changed, and the
//! top layer (`app/config_effects.rs`) applies them in one `match`.
//!
//! Declaring the effect in the table, instead of matching directive names where CONFIG SET is
//! served, keeps a directive's whole definition in one row: a new directive that needs acting
//! on cannot be added without saying how, and a test here can check that every directive whose
//! change Redis applies at once has an effect. This module only names effects; it knows no
//! sockets, files or clients.

/// One thing the server does when a directive changes. `pub` because `Directive`, whose
/// field it is, is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Effect {
    /// `bind`, `port`: the listeners are closed and opened again on the new addresses.
    Rebind,
    /// `appendonly`: the AOF is started (with a rewrite) or stopped.
    AppendOnly,
    /// `appendfsync`: a switch to `always` fsyncs what was written so far at once.
    FsyncPolicy,
    /// `maxmemory-policy`, `lfu-log-factor`, `lfu-decay-time`: the format and parameters of
    /// the keys' access data (LRU clock or LFU counter) change at once, not at the next cron
    /// tick, so no key read or written meanwhile gets data of the wrong kind.
    KeyAccess,
    /// `hz`: the cron frequency.
    Hz,
    /// `loglevel`: the log's threshold.
    LogLevel,
    /// `notify-keyspace-events`: the classes of keyspace notifications raised.
    NotifyFlags,
    /// `dir`: the server's working directory, where saves and the AOF go.
    Dir,
    /// `repl-backlog-size`: as Redis's resizeReplicationBacklog, a size under 16 KiB is
    /// raised to 16 KiB (CONFIG GET shows it; a size given at startup is kept as is).
    ReplBacklogSize,
    /// `jemalloc-bg-thread`: jemalloc's background purging thread is started or stopped, as
    /// Redis's updateJemallocBgThread (without it, freed pages go back to the OS only when
    /// the allocator is next called, so not at all on an idle server).
    JemallocBgThread,
    /// `maxmemory`: as Redis's updateMaxmemory, a limit below what is used is warned about
    /// in the log and keys are evicted at once (not at the next write), with their
    /// "evicted" events.
    Maxmemory,
    /// `lazyfree-lazy-server-del`, `lazyfree-lazy-expire`: the keyspace's `LazyPolicy`, which
    /// decides inside it whether an overwritten value or an expired key is freed on the
    /// lazy-free thread (the other `lazyfree-lazy-*` directives are read where they apply).
    LazyFree,
}

/// The effects of one change of the configuration, each once, in the order the directives
/// that caused them were given (so CONFIG SET acts as it always did: `appendonly yes dir x`
/// starts the AOF before changing directory).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Effects(Vec<Effect>);

impl Effects {
    /// Adds an effect unless it is already there (`bind` and `port` rebind once).
    pub(crate) fn add(&mut self, effect: Effect) {
        if !self.0.contains(&effect) {
            self.0.push(effect);
        }
    }

    /// The effects, each once, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Effect> + '_ {
        self.0.iter().copied()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn as_slice(&self) -> &[Effect] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DIRECTIVES, flags, lookup};

    /// The directives whose change the server must act on at once, and how. (Redis applies
    /// these at CONFIG SET time too: apply functions or special setters in its config.c for
    /// bind, port, appendonly, appendfsync, hz, dir, notify-keyspace-events; loglevel and the
    /// LFU parameters are read where used in Redis, but tine keeps them outside `Config`, in
    /// the log and in the keys' access clock, so they must be pushed there.)
    const EXPECTED: &[(&str, Effect)] = &[
        ("bind", Effect::Rebind),
        ("port", Effect::Rebind),
        ("appendonly", Effect::AppendOnly),
        ("appendfsync", Effect::FsyncPolicy),
        ("maxmemory-policy", Effect::KeyAccess),
        ("lfu-log-factor", Effect::KeyAccess),
        ("lfu-decay-time", Effect::KeyAccess),
        ("hz", Effect::Hz),
        ("loglevel", Effect::LogLevel),
        ("notify-keyspace-events", Effect::NotifyFlags),
        ("dir", Effect::Dir),
        ("repl-backlog-size", Effect::ReplBacklogSize),
        ("jemalloc-bg-thread", Effect::JemallocBgThread),
        ("maxmemory", Effect::Maxmemory),
        ("lazyfree-lazy-server-del", Effect::LazyFree),
        ("lazyfree-lazy-expire", Effect::LazyFree),
    ];

    /// Directives Redis 7.0 applies at CONFIG SET (apply functions in its config.c) that tine
    /// stores but does not act on at once yet; named so that giving one an effect is a
    /// deliberate change of this list, not an accident.
    const NOT_APPLIED_YET: &[&str] =
        &["maxclients", "oom-score-adj", "oom-score-adj-values", "proc-title-template"];

    /// Every variant, by an exhaustive match, so a new one must be added here (and so to a row).
    fn all_effects() -> Vec<Effect> {
        let all = [
            Effect::Rebind,
            Effect::AppendOnly,
            Effect::FsyncPolicy,
            Effect::KeyAccess,
            Effect::Hz,
            Effect::LogLevel,
            Effect::NotifyFlags,
            Effect::Dir,
            Effect::ReplBacklogSize,
            Effect::JemallocBgThread,
            Effect::Maxmemory,
            Effect::LazyFree,
        ];
        for e in all {
            match e {
                Effect::Rebind
                | Effect::AppendOnly
                | Effect::FsyncPolicy
                | Effect::KeyAccess
                | Effect::Hz
                | Effect::LogLevel
                | Effect::NotifyFlags
                | Effect::Dir
                | Effect::ReplBacklogSize
                | Effect::JemallocBgThread
                | Effect::Maxmemory
                | Effect::LazyFree => {}
            }
        }
        all.to_vec()
    }

    #[test]
    fn every_effect_is_named_by_a_row() {
        for e in all_effects() {
            assert!(DIRECTIVES.iter().any(|d| d.effect == Some(e)), "{:?} is in no row", e);
        }
        for name in NOT_APPLIED_YET {
            assert_eq!(lookup(name).unwrap().effect, None, "{}", name);
        }
    }

    #[test]
    fn every_effect_is_declared_where_it_should_be() {
        for d in DIRECTIVES {
            let want = EXPECTED.iter().find(|(n, _)| *n == d.name).map(|(_, e)| *e);
            assert_eq!(d.effect, want, "effect of {}", d.name);
        }
        // Effects that only normalise the stored value, as Redis's apply function does to
        // what CONFIG GET shows, so a directive tine does not otherwise act on may have one.
        const NORMALISE_ONLY: &[Effect] = &[Effect::ReplBacklogSize];
        for (name, e) in EXPECTED {
            let d = lookup(name).unwrap();
            assert!(
                d.has(flags::IMPLEMENTED) || NORMALISE_ONLY.contains(e),
                "{} has an effect but is not implemented",
                name
            );
            assert!(!d.has(flags::IMMUTABLE), "{} has an effect but cannot change", name);
        }
    }

    #[test]
    fn set_many_reports_the_effects_of_what_changed() {
        let mut c = Config::default();
        let fx = c.set_many(&[("slowlog-max-len", "10"), ("maxclients", "100")]).unwrap();
        assert!(fx.is_empty());
        let fx = c.set_many(&[("maxmemory", "1mb"), ("slowlog-max-len", "10")]).unwrap();
        assert_eq!(fx.as_slice(), &[Effect::Maxmemory]);
        let fx = c
            .set_many(&[
                ("appendonly", "yes"),
                ("port", "7000"),
                ("lfu-log-factor", "3"),
                ("bind", "127.0.0.1"),
                ("maxmemory-policy", "allkeys-lfu"),
                ("hz", "20"),
            ])
            .unwrap();
        assert_eq!(
            fx.as_slice(),
            &[Effect::AppendOnly, Effect::Rebind, Effect::KeyAccess, Effect::Hz]
        );
        c.enable_protected_configs = crate::config::EnableCommand::Yes;
        let fx = c.set_many(&[("dir", "/tmp"), ("loglevel", "debug")]).unwrap();
        assert_eq!(fx.as_slice(), &[Effect::Dir, Effect::LogLevel]);
        // A refused CONFIG SET has no effects to apply: nothing changed.
        assert!(c.set_many(&[("hz", "30"), ("appendfsync", "bogus")]).is_err());
        assert_eq!(c.hz, 20);
    }

    #[test]
    fn each_effect_once_in_first_order() {
        let mut fx = Effects::default();
        fx.add(Effect::Dir);
        fx.add(Effect::Rebind);
        fx.add(Effect::Dir);
        assert_eq!(fx.as_slice(), &[Effect::Dir, Effect::Rebind]);
    }
}
