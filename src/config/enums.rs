//! The typed values of the directives whose value is one of a fixed set of words
//! (maxmemory-policy, appendfsync, loglevel, enable-*-command...).
//!
//! Each type lists Redis 7.0.15's spellings in Redis's own order, because that order is the
//! order of the words in the error text ("argument(s) must be one of the following: ...") and
//! the first spelling of a value is the one CONFIG GET and CONFIG REWRITE print (Redis's
//! `configEnumGetName`: `oom-score-adj relative` reads back as `yes`). Parsing is
//! case-insensitive, as Redis's `strcasecmp`. Holding a variant instead of a `&str` means a
//! caller asks a question (`policy.is_lfu()`) instead of matching text, and a misspelt
//! value cannot be stored at all.
//!
//! The types are `pub` (not `pub(crate)`) only because they are the types of `Config`'s public
//! fields.

use super::{ConfigValue, Kind};

/// Declares one enum directive type: its variants, each with its spellings (the first is the
/// one printed), and its `ConfigValue` parse/render.
macro_rules! config_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = [$first:literal $(, $alias:literal)*] ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub(crate) enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl $name {
            /// Every accepted spelling with its value, in Redis's order.
            pub(crate) const SPELLINGS: &'static [(&'static str, $name)] =
                &[ $( ($first, $name::$variant), $( ($alias, $name::$variant), )* )+ ];

            /// The accepted spellings alone, in Redis's order (the list its error text
            /// names).
            pub(crate) const NAMES: &'static [&'static str] = &[ $( $first, $( $alias, )* )+ ];

            /// The spelling CONFIG GET, CONFIG REWRITE and INFO print.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $first, )+ }
            }

            /// The value of a spelling, case-insensitively; `None` for any other word.
            pub(crate) fn from_name(text: &str) -> Option<$name> {
                Self::SPELLINGS
                    .iter()
                    .find(|(s, _)| s.eq_ignore_ascii_case(text))
                    .map(|(_, v)| *v)
            }
        }

        impl ConfigValue for $name {
            fn parse(text: &str, _kind: &Kind, _old: Option<&Self>) -> Result<Self, String> {
                Self::from_name(text).ok_or_else(|| {
                    format!("argument(s) must be one of the following: {}", Self::NAMES.join(", "))
                })
            }
            fn render(&self, _kind: &Kind) -> String {
                self.as_str().to_string()
            }
        }
    };
}

config_enum! {
    /// `acl-pubsub-default`: the channel permissions a new ACL user starts with.
    AclPubsubDefault {
        AllChannels = ["allchannels"],
        ResetChannels = ["resetchannels"],
    }
}

config_enum! {
    /// `appendfsync`: when the AOF is fsynced.
    AppendFsync {
        EverySec = ["everysec"],
        Always = ["always"],
        No = ["no"],
    }
}

config_enum! {
    /// `cluster-preferred-endpoint-type`.
    ClusterEndpointType {
        Ip = ["ip"],
        Hostname = ["hostname"],
        Unknown = ["unknown-endpoint"],
    }
}

config_enum! {
    /// `enable-debug-command`, `enable-module-command`, `enable-protected-configs`: whether
    /// a dangerous command or config is allowed, and from where.
    EnableCommand {
        No = ["no"],
        Yes = ["yes"],
        /// Only from a local connection (unix socket or loopback).
        Local = ["local"],
    }
}

impl EnableCommand {
    /// Whether a connection (local or not) may use what this guards.
    pub(crate) fn allows(self, local: bool) -> bool {
        match self {
            EnableCommand::Yes => true,
            EnableCommand::Local => local,
            EnableCommand::No => false,
        }
    }
}

config_enum! {
    /// `loglevel`: the least severe log line written.
    LogLevel {
        Debug = ["debug"],
        Verbose = ["verbose"],
        Notice = ["notice"],
        Warning = ["warning"],
    }
}

impl LogLevel {
    /// The log's own level for this setting.
    pub(crate) fn level(self) -> tine_core::log::Level {
        use tine_core::log::Level;
        match self {
            LogLevel::Debug => Level::Debug,
            LogLevel::Verbose => Level::Verbose,
            LogLevel::Notice => Level::Notice,
            LogLevel::Warning => Level::Warning,
        }
    }
}

config_enum! {
    /// `maxmemory-policy`: which keys eviction may remove, and how it picks them.
    MaxmemoryPolicy {
        VolatileLru = ["volatile-lru"],
        VolatileLfu = ["volatile-lfu"],
        VolatileRandom = ["volatile-random"],
        VolatileTtl = ["volatile-ttl"],
        AllkeysLru = ["allkeys-lru"],
        AllkeysLfu = ["allkeys-lfu"],
        AllkeysRandom = ["allkeys-random"],
        NoEviction = ["noeviction"],
    }
}

impl MaxmemoryPolicy {
    /// Keys carry LFU counters (not LRU clocks) in their access data.
    pub(crate) fn is_lfu(self) -> bool {
        matches!(self, MaxmemoryPolicy::VolatileLfu | MaxmemoryPolicy::AllkeysLfu)
    }

    /// Only keys with a TTL may be evicted.
    pub(crate) fn is_volatile(self) -> bool {
        matches!(
            self,
            MaxmemoryPolicy::VolatileLru
                | MaxmemoryPolicy::VolatileLfu
                | MaxmemoryPolicy::VolatileRandom
                | MaxmemoryPolicy::VolatileTtl
        )
    }

    /// The victim is a random key, not the best of a sampled pool.
    pub(crate) fn is_random(self) -> bool {
        matches!(self, MaxmemoryPolicy::VolatileRandom | MaxmemoryPolicy::AllkeysRandom)
    }

    /// The pool prefers the key that expires soonest.
    pub(crate) fn is_ttl(self) -> bool {
        self == MaxmemoryPolicy::VolatileTtl
    }

    /// Anything may be evicted at all (every policy but `noeviction`).
    pub(crate) fn evicts(self) -> bool {
        self != MaxmemoryPolicy::NoEviction
    }
}

config_enum! {
    /// `oom-score-adj`: how the process's OOM score is set. Redis accepts `yes` and
    /// `relative` for the same thing and prints it `yes`.
    OomScoreAdj {
        No = ["no"],
        /// Added to the score the process started with.
        Relative = ["yes", "relative"],
        Absolute = ["absolute"],
    }
}

config_enum! {
    /// `propagation-error-behavior`.
    PropagationErrorBehavior {
        Ignore = ["ignore"],
        Panic = ["panic"],
        PanicOnReplicas = ["panic-on-replicas"],
    }
}

config_enum! {
    /// `repl-diskless-load`: how a replica loads the primary's RDB.
    ReplDisklessLoad {
        Disabled = ["disabled"],
        OnEmptyDb = ["on-empty-db"],
        SwapDb = ["swapdb"],
    }
}

config_enum! {
    /// `sanitize-dump-payload`: deep checks of RESTORE payloads.
    SanitizeDumpPayload {
        No = ["no"],
        Yes = ["yes"],
        Clients = ["clients"],
    }
}

config_enum! {
    /// `supervised`: the supervisor to notify.
    Supervised {
        Upstart = ["upstart"],
        Systemd = ["systemd"],
        Auto = ["auto"],
        No = ["no"],
    }
}

config_enum! {
    /// `syslog-facility`.
    SyslogFacility {
        User = ["user"],
        Local0 = ["local0"],
        Local1 = ["local1"],
        Local2 = ["local2"],
        Local3 = ["local3"],
        Local4 = ["local4"],
        Local5 = ["local5"],
        Local6 = ["local6"],
        Local7 = ["local7"],
    }
}

config_enum! {
    /// `tls-auth-clients`.
    TlsAuthClients {
        No = ["no"],
        Yes = ["yes"],
        Optional = ["optional"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every accepted spelling parses (in any case) to a value that prints as that value's
    /// first spelling, and that printed form parses back to the same value.
    fn round_trips<T: ConfigValue + Copy + PartialEq + std::fmt::Debug>(
        spellings: &[(&str, T)],
        names: &'static [&'static str],
    ) {
        let kind = Kind::Enum;
        for (s, v) in spellings {
            for text in [s.to_string(), s.to_ascii_uppercase()] {
                let parsed = T::parse(&text, &kind, None).unwrap();
                assert_eq!(parsed, *v, "{}", text);
                let shown = parsed.render(&kind);
                let first = spellings.iter().find(|(_, w)| w == v).unwrap().0;
                assert_eq!(shown, first);
                assert_eq!(T::parse(&shown, &kind, None).unwrap(), *v);
            }
        }
        let err = T::parse("bogus", &kind, None).unwrap_err();
        assert_eq!(err, format!("argument(s) must be one of the following: {}", names.join(", ")));
    }

    #[test]
    fn every_spelling_round_trips() {
        macro_rules! check {
            ($($t:ident),*) => { $( round_trips($t::SPELLINGS, $t::NAMES); )* };
        }
        check!(
            AclPubsubDefault,
            AppendFsync,
            ClusterEndpointType,
            EnableCommand,
            LogLevel,
            MaxmemoryPolicy,
            OomScoreAdj,
            PropagationErrorBehavior,
            ReplDisklessLoad,
            SanitizeDumpPayload,
            Supervised,
            SyslogFacility,
            TlsAuthClients
        );
    }

    #[test]
    fn redis_error_texts() {
        let kind = Kind::Enum;
        assert_eq!(
            MaxmemoryPolicy::parse("lru", &kind, None).unwrap_err(),
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        );
        let kind = Kind::Enum;
        assert_eq!(
            OomScoreAdj::parse("x", &kind, None).unwrap_err(),
            "argument(s) must be one of the following: no, yes, relative, absolute"
        );
        assert_eq!(OomScoreAdj::parse("relative", &kind, None).unwrap().as_str(), "yes");
    }

    #[test]
    fn policy_questions() {
        use MaxmemoryPolicy::*;
        for (_, p) in MaxmemoryPolicy::SPELLINGS {
            let name = p.as_str();
            assert_eq!(p.is_lfu(), name.contains("lfu"), "{}", name);
            assert_eq!(p.is_volatile(), name.starts_with("volatile"), "{}", name);
            assert_eq!(p.is_random(), name.ends_with("random"), "{}", name);
            assert_eq!(p.is_ttl(), name.ends_with("ttl"), "{}", name);
            assert_eq!(p.evicts(), name != "noeviction", "{}", name);
        }
        assert!(AllkeysLfu.is_lfu() && !AllkeysLfu.is_volatile());
    }

    #[test]
    fn enable_command_locality() {
        assert!(EnableCommand::Yes.allows(false));
        assert!(EnableCommand::Local.allows(true) && !EnableCommand::Local.allows(false));
        assert!(!EnableCommand::No.allows(true));
    }

    #[test]
    fn log_levels_match_the_log() {
        for (s, l) in LogLevel::SPELLINGS {
            assert_eq!(tine_core::log::Level::from_name(s), Some(l.level()));
        }
    }
}
