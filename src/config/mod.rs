//! Configuration: the directive table (`table.rs`), how values are parsed and printed, and
//! the operations on the whole set — defaults, loading redis.conf lines, CONFIG GET (globs),
//! CONFIG SET (several pairs, all or nothing) and the data CONFIG REWRITE needs.
//!
//! This module owns values only. Applying a change to the running server (re-binding, chdir,
//! starting the AOF) is the top layer's job: each directive's row names its typed `Effect`
//! (`effect.rs`), `Config::set_many` returns the effects of what it set, and
//! `app/config_effects.rs` acts on them. The config knows no sockets, files or clients.

pub(crate) mod custom;
pub(crate) mod effect;
pub(crate) mod enums;
pub(crate) mod file;
pub(crate) mod rewrite;

pub(crate) use effect::{Effect, Effects};
pub(crate) use enums::*;

use tine_core::base::glob_match;

/// Flags of a directive.
pub(crate) mod flags {
    /// CONFIG SET refuses it ("can't set immutable config").
    pub(crate) const IMMUTABLE: u8 = 1;
    /// CONFIG SET refuses it unless `enable-protected-configs` ("can't set protected config").
    pub(crate) const PROTECTED: u8 = 2;
    /// Its value is a secret: not logged.
    pub(crate) const SENSITIVE: u8 = 4;
    /// tine acts on it. Others are stored and reported only.
    pub(crate) const IMPLEMENTED: u8 = 8;
    /// A tine extension that Redis 7.0 does not have (so a file using it will not load in
    /// redis-server). CONFIG REWRITE writes it only when it differs from the default, as any.
    pub(crate) const TINE_ONLY: u8 = 16;
    /// Redis's HIDDEN_CONFIG (test and debugging knobs): CONFIG GET answers it by its exact
    /// name, never for a pattern.
    pub(crate) const HIDDEN: u8 = 32;
    /// Redis's DENY_LOADING_CONFIG: CONFIG SET answers -LOADING while a dataset loads (also an
    /// async load), as changing it then would act on a dataset that is being replaced.
    pub(crate) const DENY_LOADING: u8 = 64;
}

/// The type of a directive's value, which decides how it is parsed and printed.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// yes / no.
    Bool,
    /// A decimal integer within bounds.
    Int { min: i64, max: i64 },
    /// A byte count with optional unit (k, kb, m, mb, g, gb), printed in bytes, stored in a
    /// signed field: as Redis's signed memory directives, a value above `i64::MAX` wraps
    /// negative and so fails the bounds check.
    Memory { min: i64, max: i64 },
    /// A byte count stored in an unsigned 64-bit field (Redis's `unsigned long long` memory
    /// directives, maxmemory): every value `memtoull` parses is in range.
    UMemory,
    /// A byte count, or a percentage of maxmemory ("10%"), stored negated.
    MemoryOrPercent,
    /// An octal number (unixsocketperm).
    Octal,
    /// One of a fixed set of words: the field's type in `enums.rs` holds the spellings
    /// (`X::NAMES`), so the row need not repeat them.
    Enum,
    /// Free text.
    Str,
    /// Validated and normalised by a function given (old value, new value).
    Custom(fn(&str, &str) -> Result<String, String>),
}

/// One row of the directive table.
pub(crate) struct Directive {
    pub(crate) name: &'static str,
    pub(crate) aliases: &'static [&'static str],
    pub(crate) kind: Kind,
    /// Redis's default as CONFIG GET prints it; a test pins `Config::default()` to it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) default: &'static str,
    pub(crate) flags: u8,
    /// Renders the current value as CONFIG GET shows it.
    pub(crate) get: fn(&Config) -> String,
    /// Parses and stores a new value; the error is Redis's text for the reason.
    pub(crate) set: fn(&mut Config, &str) -> Result<(), String>,
    /// What the running server must do when CONFIG SET changes it (`None`: the value is
    /// read where it is used, so storing it is enough).
    pub(crate) effect: Option<Effect>,
}

impl Directive {
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// How a field type is parsed from and printed to text, given its `Kind`.
pub(crate) trait ConfigValue: Sized {
    fn parse(text: &str, kind: &Kind, old: Option<&Self>) -> Result<Self, String>;
    fn render(&self, kind: &Kind) -> String;
}

impl ConfigValue for bool {
    /// `Kind::Custom` on a yes/no directive is a validation of the parsed value (Redis's
    /// `is_valid_fn` of a bool config), given "yes" or "no".
    fn parse(text: &str, kind: &Kind, _old: Option<&Self>) -> Result<Self, String> {
        let v = match text.to_ascii_lowercase().as_str() {
            "yes" => true,
            "no" => false,
            _ => return Err("argument must be 'yes' or 'no'".into()),
        };
        if let Kind::Custom(valid) = kind {
            valid("", if v { "yes" } else { "no" })?;
        }
        Ok(v)
    }
    fn render(&self, _kind: &Kind) -> String {
        if *self { "yes" } else { "no" }.into()
    }
}

impl ConfigValue for i64 {
    fn parse(text: &str, kind: &Kind, _old: Option<&Self>) -> Result<Self, String> {
        let (v, min, max) = match *kind {
            Kind::Int { min, max } => {
                let v = text
                    .parse::<i64>()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                (v, min, max)
            }
            Kind::Memory { min, max } => {
                let v = parse_memory(text)
                    .ok_or_else(|| "argument must be a memory value".to_string())?;
                // As Redis's numericParseString + numericBoundaryCheck for a signed type: the
                // unsigned parse is reinterpreted, so 2^63 and above come out negative.
                (v as i64, min, max)
            }
            Kind::MemoryOrPercent => {
                // As Redis 7.0's maxmemory-clients (ssize_t, -100..SSIZE_MAX, a percentage
                // stored negated): a memory value comes first, reinterpreted as signed, so
                // one of 2^64-100 and above reads as a percentage; "N%" is N >= 0.
                let v = match parse_memory(text) {
                    Some(v) => v as i64,
                    None => text
                        .strip_suffix('%')
                        .filter(|p| !p.is_empty())
                        .and_then(|p| tine_core::base::parse_i64(p.as_bytes()))
                        .filter(|v| *v >= 0)
                        .map(|v| -v)
                        .ok_or_else(|| "argument must be a memory or percent value".to_string())?,
                };
                if v < -100 {
                    return Err("percentage argument must be less or equal to 100".into());
                }
                return Ok(v);
            }
            Kind::Octal => {
                // As Redis's strtoll(.., 8): a sign, octal digits (none at all is 0), saturating;
                // its bounds are printed in octal.
                let (neg, digits) = match text.as_bytes().first() {
                    Some(b'-') => (true, &text[1..]),
                    Some(b'+') => (false, &text[1..]),
                    _ => (false, text),
                };
                if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                    return Err("argument couldn't be parsed as an octal number".into());
                }
                let v = digits.bytes().fold(0i64, |acc, d| {
                    let next = acc.checked_mul(8).and_then(|a| a.checked_add(i64::from(d - b'0')));
                    next.unwrap_or(i64::MAX)
                });
                let v = if neg { if v == i64::MAX { i64::MIN } else { -v } } else { v };
                if !(0..=0o777).contains(&v) {
                    return Err("argument must be between 0 and 777 inclusive".into());
                }
                return Ok(v);
            }
            _ => return Err("internal error: integer field with a non-integer kind".into()),
        };
        if v < min || v > max {
            return Err(format!("argument must be between {} and {} inclusive", min, max));
        }
        Ok(v)
    }
    fn render(&self, kind: &Kind) -> String {
        match kind {
            Kind::Octal => format!("{:o}", self),
            Kind::MemoryOrPercent if *self < 0 => format!("{}%", -self),
            _ => self.to_string(),
        }
    }
}

impl ConfigValue for u64 {
    fn parse(text: &str, kind: &Kind, _old: Option<&Self>) -> Result<Self, String> {
        match kind {
            Kind::UMemory => {
                parse_memory(text).ok_or_else(|| "argument must be a memory value".to_string())
            }
            _ => Err("internal error: unsigned field with a kind other than UMemory".into()),
        }
    }
    fn render(&self, _kind: &Kind) -> String {
        self.to_string()
    }
}

impl ConfigValue for String {
    fn parse(text: &str, kind: &Kind, old: Option<&Self>) -> Result<Self, String> {
        match kind {
            Kind::Custom(f) => f(old.map(|s| s.as_str()).unwrap_or(""), text),
            _ => Ok(text.to_string()),
        }
    }
    fn render(&self, _kind: &Kind) -> String {
        self.clone()
    }
}

/// Parses a memory value as Redis 7.0's `memtoull`: digits with an optional case-insensitive
/// unit b, k (1000), kb (1024), m, mb, g, gb; `None` for a sign, any other character or unit.
/// Like the C original (strtoull, then a multiplication), a number too large saturates at
/// `u64::MAX` and the unit's product wraps; no digits at all ("kb") is 0.
pub(crate) fn parse_memory(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let digits_end = bytes.iter().position(|b| !b.is_ascii_digit()).unwrap_or(bytes.len());
    let (num, unit) = text.split_at(digits_end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    // memtoull copies the digits to a 128-byte buffer first and refuses more.
    if num.len() >= 128 {
        return None;
    }
    let n = num.bytes().fold(0u64, |acc, d| {
        acc.checked_mul(10).and_then(|a| a.checked_add(u64::from(d - b'0'))).unwrap_or(u64::MAX)
    });
    Some(n.wrapping_mul(mul))
}

macro_rules! config_table {
    (@effect) => { None };
    (@effect $effect:ident) => { Some($crate::config::Effect::$effect) };
    ($( $field:ident : $ty:ty = $name:literal, $aliases:expr, $kind:expr, $default:literal, $flags:expr $(=> $effect:ident)?; )*) => {
        /// Every directive's current value, one typed field each (generated from the table).
        #[derive(Clone)]
        pub(crate) struct Config { $( pub $field: $ty, )* }

        /// The directive table itself.
        pub(crate) static DIRECTIVES: &[$crate::config::Directive] = &[ $( $crate::config::Directive {
            name: $name,
            aliases: $aliases,
            kind: $kind,
            default: $default,
            flags: $flags,
            get: |c: &Config| $crate::config::ConfigValue::render(&c.$field, &$kind),
            set: |c: &mut Config, v: &str| {
                c.$field = <$ty as $crate::config::ConfigValue>::parse(v, &$kind, Some(&c.$field))?;
                Ok(())
            },
            effect: config_table!(@effect $($effect)?),
        }, )* ];

        impl Default for Config {
            fn default() -> Self {
                Config { $( $field: <$ty as $crate::config::ConfigValue>::parse($default, &$kind, None)
                    .unwrap_or_else(|e| panic!("bad default for {}: {}", $name, e)), )* }
            }
        }
    };
}
mod table;
pub(crate) use table::{Config, DIRECTIVES};

/// Looks a directive up by name or alias, case-insensitively.
pub(crate) fn lookup(name: &str) -> Option<&'static Directive> {
    DIRECTIVES.iter().find(|d| {
        d.name.eq_ignore_ascii_case(name) || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Why CONFIG SET refused a pair.
#[derive(Debug, PartialEq)]
pub(crate) enum SetError {
    /// No such directive, or an odd number of arguments.
    Unknown(String),
    /// The named directive refused the value: (name as given, reason).
    Failed(String, String),
}

impl SetError {
    /// The error Redis 7.0 replies with.
    pub(crate) fn to_cmd_error(&self) -> tine_core::protocol::CmdError {
        tine_core::protocol::CmdError::owned("ERR", self.reply_text())
    }

    /// The error line Redis 7.0 replies with (without the leading '-').
    pub(crate) fn reply_text(&self) -> String {
        match self {
            SetError::Unknown(name) => {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{}'", name)
            }
            SetError::Failed(name, reason) => {
                format!(
                    "ERR CONFIG SET failed (possibly related to argument '{}') - {}",
                    name, reason
                )
            }
        }
    }
}

impl Config {
    /// CONFIG GET for several glob patterns: (name, value) pairs, each directive once, aliases
    /// included when they match, in table order.
    pub(crate) fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        // As Redis 7.0's configGetCommand: a name without glob characters is looked up
        // directly and replied under the spelling the client used ("HZ", an alias); a
        // pattern is matched (case-insensitively) against every name and alias. A name is
        // replied once however many patterns match it.
        let mut out: Vec<(String, String)> = Vec::new();
        let seen = |out: &Vec<(String, String)>, n: &str| {
            out.iter().any(|(k, _)| k.eq_ignore_ascii_case(n))
        };
        for p in patterns {
            if !p.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
                let name = String::from_utf8_lossy(p).into_owned();
                if let Some(d) = lookup(&name) {
                    if !seen(&out, &name) {
                        out.push((name, (d.get)(self)));
                    }
                }
                continue;
            }
            for d in DIRECTIVES.iter().filter(|d| !d.has(flags::HIDDEN)) {
                for name in std::iter::once(&d.name).chain(d.aliases.iter()) {
                    if glob_match(p, name.as_bytes(), true) && !seen(&out, name) {
                        out.push((name.to_string(), (d.get)(self)));
                    }
                }
            }
        }
        out
    }

    /// The current value of one directive by name.
    #[cfg(test)]
    pub(crate) fn get_one(&self, name: &str) -> Option<String> {
        lookup(name).map(|d| (d.get)(self))
    }

    /// Redis's first pass over CONFIG SET's names, before any value is parsed: the first
    /// unknown, immutable or repeated directive, or protected one that
    /// `enable-protected-configs` does not allow this client (`local`: as
    /// `Session::is_local`), fails the whole command.
    pub(crate) fn check_set_names(
        &self,
        pairs: &[(&str, &str)],
        local: bool,
    ) -> Result<(), SetError> {
        let mut seen: Vec<&'static str> = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            let d = lookup(name).ok_or_else(|| SetError::Unknown(name.to_string()))?;
            let refused = if d.has(flags::IMMUTABLE) {
                Some("can't set immutable config")
            } else if d.has(flags::PROTECTED) && !self.enable_protected_configs.allows(local) {
                Some("can't set protected config")
            } else if seen.contains(&d.name) {
                Some("duplicate parameter")
            } else {
                None
            };
            if let Some(reason) = refused {
                return Err(SetError::Failed(name.to_string(), reason.into()));
            }
            seen.push(d.name);
        }
        Ok(())
    }

    /// Whether CONFIG SET of these pairs must be refused with -LOADING while a dataset loads:
    /// one names a DENY_LOADING directive that it could otherwise set (Redis flags it after
    /// the immutable and protected checks, and its -LOADING wins over every other error).
    pub(crate) fn denies_loading(&self, pairs: &[(&str, &str)], local: bool) -> bool {
        pairs.iter().filter_map(|(name, _)| lookup(name)).any(|d| {
            d.has(flags::DENY_LOADING)
                && !d.has(flags::IMMUTABLE)
                && (!d.has(flags::PROTECTED) || self.enable_protected_configs.allows(local))
        })
    }

    /// CONFIG SET with several pairs, all or nothing: either every pair is applied or the
    /// config is left exactly as it was. Returns the effects the server must apply for the
    /// directives set (each once, in the order given; a directive set to its current value
    /// still counts, as CONFIG SET always acted on every directive named).
    /// Protected directives are not refused here: whether they may be set depends on the
    /// client (`check_set_names`, which CONFIG SET runs first).
    pub(crate) fn set_many(&mut self, pairs: &[(&str, &str)]) -> Result<Effects, SetError> {
        let mut seen: Vec<&'static str> = Vec::new();
        let mut effects = Effects::default();
        let mut staged = self.clone();
        for (name, value) in pairs {
            let d = lookup(name).ok_or_else(|| SetError::Unknown(name.to_string()))?;
            if seen.contains(&d.name) {
                return Err(SetError::Failed(name.to_string(), "duplicate parameter".into()));
            }
            if d.has(flags::IMMUTABLE) {
                return Err(SetError::Failed(
                    name.to_string(),
                    "can't set immutable config".into(),
                ));
            }
            (d.set)(&mut staged, value).map_err(|e| SetError::Failed(name.to_string(), e))?;
            seen.push(d.name);
            if let Some(e) = d.effect {
                effects.add(e);
            }
        }
        *self = staged;
        Ok(effects)
    }

    /// Applies one directive line from a config file or the command line. `accumulate`
    /// is true for a repeated `save` line, whose points add to the earlier ones.
    pub(crate) fn apply_line(
        &mut self,
        args: &[String],
        accumulate_save: bool,
    ) -> Result<&'static Directive, String> {
        let bad = || "Bad directive or wrong number of arguments".to_string();
        let name = args.first().ok_or_else(bad)?;
        let d = lookup(name).ok_or_else(bad)?;
        let values = &args[1..];
        let value = match d.kind {
            Kind::Custom(_) => {
                // A bare `save` line disables snapshots, as Redis 7.0 reads it (its test
                // suite's config writes one); other multi-value directives need a value.
                if values.is_empty() && d.name != "save" {
                    return Err(bad());
                }
                let joined = values.join(" ");
                if d.name == "save" && accumulate_save && !joined.is_empty() {
                    let old = (d.get)(self);
                    if old.is_empty() { joined } else { format!("{} {}", old, joined) }
                } else {
                    joined
                }
            }
            _ => {
                // Redis 7.0 names an unknown directive "Bad directive ..." but a known
                // single-value one with a wrong argument count just "wrong number of arguments".
                if values.len() != 1 {
                    return Err("wrong number of arguments".to_string());
                }
                values[0].clone()
            }
        };
        (d.set)(self, &value)?;
        Ok(d)
    }

    /// Directives given a non-default value that tine stores but does not act on yet.
    pub(crate) fn unimplemented_in_use(&self) -> Vec<&'static str> {
        let defaults = Config::default();
        DIRECTIVES
            .iter()
            .filter(|d| !d.has(flags::IMPLEMENTED) && (d.get)(self) != (d.get)(&defaults))
            .map(|d| d.name)
            .collect()
    }

    /// The save points, as (seconds, changes).
    pub(crate) fn save_points(&self) -> Vec<(i64, i64)> {
        let nums: Vec<i64> = self.save.split_whitespace().filter_map(|s| s.parse().ok()).collect();
        nums.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0], c[1])).collect()
    }

    /// The addresses to bind, as given (a leading '-' marks an optional one).
    pub(crate) fn bind_addrs(&self) -> Vec<String> {
        self.bind.split_whitespace().map(str::to_string).collect()
    }

    /// The deletions the keyspace itself makes lazy (`Effect::LazyFree`).
    pub(crate) fn lazy_policy(&self) -> tine_core::keyspace::LazyPolicy {
        tine_core::keyspace::LazyPolicy {
            server_del: self.lazyfree_lazy_server_del,
            expire: self.lazyfree_lazy_expire,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_render() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.hz, 10);
        assert_eq!(c.get_one("maxmemory-policy").unwrap(), "noeviction");
        assert_eq!(c.get_one("save").unwrap(), "3600 1 300 100 60 10000");
        assert_eq!(c.get_one("slave-read-only").unwrap(), "yes");
        for d in DIRECTIVES {
            assert_eq!((d.get)(&c), d.default, "{}", d.name);
        }
    }

    #[test]
    fn set_is_all_or_nothing() {
        let mut c = Config::default();
        let err = c.set_many(&[("hz", "20"), ("maxmemory", "lots")]).unwrap_err();
        assert_eq!(
            err.reply_text(),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
        );
        assert_eq!(c.hz, 10);
        c.set_many(&[("hz", "20"), ("maxmemory", "1mb")]).unwrap();
        assert_eq!((c.hz, c.maxmemory), (20, 1 << 20));
        assert_eq!(
            c.set_many(&[("databases", "3")]).unwrap_err().reply_text(),
            "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
        );
        assert_eq!(
            c.set_many(&[("nosuch", "3")]).unwrap_err().reply_text(),
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
        );
        assert!(matches!(c.set_many(&[("hz", "1"), ("hz", "2")]), Err(SetError::Failed(_, _))));
    }

    #[test]
    fn get_globs_include_aliases() {
        let c = Config::default();
        let got = c.get_matching(&[b"*max-*-entries"]);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"hash-max-listpack-entries"));
        assert!(names.contains(&"hash-max-ziplist-entries"));
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1G"), Some(1_000_000_000));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("+1"), None);
        assert_eq!(parse_memory("18446744073709551616"), Some(u64::MAX));
        assert_eq!(parse_memory("kb"), Some(0));
        assert_eq!(parse_memory("20000000000gb"), Some(3028092406290448384));
    }
}

impl Config {
    /// What an RDB load may build, from the encoding thresholds and `key-load-delay`.
    pub(crate) fn load_limits(&self) -> tine_core::rdb::LoadLimits {
        let c = self;
        let u = |v: i64| v.max(0) as usize;
        tine_core::rdb::LoadLimits {
            databases: u(c.databases),
            hash_max_listpack_entries: u(c.hash_max_listpack_entries),
            hash_max_listpack_value: u(c.hash_max_listpack_value),
            set_max_intset_entries: u(c.set_max_intset_entries),
            zset_max_listpack_entries: u(c.zset_max_listpack_entries),
            zset_max_listpack_value: u(c.zset_max_listpack_value),
            list_max_listpack_size: c.list_max_listpack_size.clamp(i32::MIN as i64, i32::MAX as i64)
                as i32,
            skip_expired: true,
            key_load_delay: c.key_load_delay,
        }
    }
}
