//! Validators for directives whose values have structure of their own (save points, bind
//! addresses, output buffer limits, event classes...). Each takes the old and the new text and
//! returns the normalised value CONFIG GET will show, or Redis's error text.

/// `save <seconds> <changes> [...]`, or "" for no save points.
pub(crate) fn save(_old: &str, new: &str) -> Result<String, String> {
    let parts: Vec<&str> = new.split_whitespace().collect();
    if parts.is_empty() || (parts.len() == 1 && (parts[0] == "\"\"" || parts[0].is_empty())) {
        return Ok(String::new());
    }
    if parts.len() % 2 != 0 {
        return Err("Invalid save parameters".into());
    }
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let v: i64 = p.parse().map_err(|_| "Invalid save parameters".to_string())?;
        if v < 0 {
            return Err("Invalid save parameters".into());
        }
        out.push(v.to_string());
    }
    Ok(out.join(" "))
}

/// `bind addr [addr ...]`: at most 16 addresses, as Redis's CONFIG_BINDADDR_MAX.
pub(crate) fn bind(_old: &str, new: &str) -> Result<String, String> {
    let addrs: Vec<&str> = new.split_whitespace().collect();
    if addrs.len() > 16 {
        return Err("Too many bind addresses specified.".into());
    }
    Ok(addrs.join(" "))
}

/// The classes of client-output-buffer-limit, in the order CONFIG GET prints them.
const OBUF_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// `client-output-buffer-limit <class> <hard> <soft> <soft-seconds> [...]`: classes not named
/// keep their old limits.
pub(crate) fn client_output_buffer_limit(old: &str, new: &str) -> Result<String, String> {
    let defaults = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
    let base = if old.is_empty() { defaults } else { old };
    // Hard and soft limits are byte counts up to u64::MAX (Redis's memtoull); soft_seconds
    // fits an int, as Redis stores it (where Redis silently truncates a bigger number, this
    // refuses it).
    let mut limits: Vec<[u64; 3]> = vec![[0; 3]; 3];
    let parse_groups = |text: &str, limits: &mut Vec<[u64; 3]>| -> Result<(), String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.is_empty() || parts.len() % 4 != 0 {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        for g in parts.chunks(4) {
            let class = match g[0].to_ascii_lowercase().as_str() {
                "normal" => 0,
                "slave" | "replica" => 1,
                "pubsub" => 2,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into()
                    );
                }
            };
            let hard = super::parse_memory(g[1]);
            let soft = super::parse_memory(g[2]);
            let secs = g[3].parse::<i32>().ok().filter(|s| *s >= 0).map(|s| s as u64);
            match (hard, soft, secs) {
                (Some(h), Some(s), Some(t)) => limits[class] = [h, s, t],
                _ => return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                ),
            }
        }
        Ok(())
    };
    parse_groups(base, &mut limits)?;
    parse_groups(new, &mut limits)?;
    Ok(OBUF_CLASSES
        .iter()
        .zip(limits.iter())
        .map(|(c, l)| format!("{} {} {} {}", c, l[0], l[1], l[2]))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Keyspace notification classes, as bits.
pub(crate) mod notify {
    pub(crate) const KEYSPACE: u32 = 1 << 0; // K
    pub(crate) const KEYEVENT: u32 = 1 << 1; // E
    pub(crate) const GENERIC: u32 = 1 << 2; // g
    pub(crate) const STRING: u32 = 1 << 3; // $
    pub(crate) const LIST: u32 = 1 << 4; // l
    pub(crate) const SET: u32 = 1 << 5; // s
    pub(crate) const HASH: u32 = 1 << 6; // h
    pub(crate) const ZSET: u32 = 1 << 7; // z
    pub(crate) const EXPIRED: u32 = 1 << 8; // x
    pub(crate) const EVICTED: u32 = 1 << 9; // e
    pub(crate) const STREAM: u32 = 1 << 10; // t
    pub(crate) const KEY_MISS: u32 = 1 << 11; // m
    pub(crate) const MODULE: u32 = 1 << 12; // d
    pub(crate) const NEW: u32 = 1 << 13; // n
    /// 'A': every class but m and n.
    pub(crate) const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

    /// Parses the class string; `None` for an unknown character.
    pub(crate) fn parse(s: &str) -> Option<u32> {
        let mut flags = 0;
        for c in s.chars() {
            flags |= match c {
                'A' => ALL,
                'g' => GENERIC,
                '$' => STRING,
                'l' => LIST,
                's' => SET,
                'h' => HASH,
                'z' => ZSET,
                'x' => EXPIRED,
                'e' => EVICTED,
                'K' => KEYSPACE,
                'E' => KEYEVENT,
                't' => STREAM,
                'm' => KEY_MISS,
                'd' => MODULE,
                'n' => NEW,
                _ => return None,
            };
        }
        Some(flags)
    }

    /// Prints flags in Redis's canonical order (keyspaceEventsFlagsToString).
    pub(crate) fn render(flags: u32) -> String {
        let mut s = String::new();
        if flags & ALL == ALL {
            s.push('A');
        } else {
            for (bit, c) in [
                (GENERIC, 'g'),
                (STRING, '$'),
                (LIST, 'l'),
                (SET, 's'),
                (HASH, 'h'),
                (ZSET, 'z'),
                (EXPIRED, 'x'),
                (EVICTED, 'e'),
                (STREAM, 't'),
                (MODULE, 'd'),
            ] {
                if flags & bit != 0 {
                    s.push(c);
                }
            }
        }
        for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm'), (NEW, 'n')] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
        s
    }
}

/// `notify-keyspace-events <classes>`, as the set of classes it names (bits of `notify`), so
/// the server reads flags, not the text. `pub` as the type of a public `Config` field.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct NotifyClasses(u32);

impl NotifyClasses {
    /// The classes as `notify` bits.
    pub(crate) fn bits(self) -> u32 {
        self.0
    }
}

impl super::ConfigValue for NotifyClasses {
    fn parse(text: &str, _kind: &super::Kind, _old: Option<&Self>) -> Result<Self, String> {
        let text = if text == "\"\"" { "" } else { text };
        notify::parse(text)
            .map(NotifyClasses)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
    }
    fn render(&self, _kind: &super::Kind) -> String {
        notify::render(self.0)
    }
}

/// `notify-keyspace-events <classes>` as text: the directive's kind (so a config file line's
/// words are joined and CONFIG REWRITE quotes it as free text); the value is `NotifyClasses`.
pub(crate) fn notify_keyspace_events(_old: &str, new: &str) -> Result<String, String> {
    use super::ConfigValue;
    let kind = super::Kind::Custom(notify_keyspace_events);
    NotifyClasses::parse(new, &kind, None).map(|c| c.render(&kind))
}

/// `oom-score-adj-values <primary> <replica> <bgchild>`, each -2000..2000.
pub(crate) fn oom_score_adj_values(_old: &str, new: &str) -> Result<String, String> {
    let vals: Vec<&str> = new.split_whitespace().collect();
    if vals.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut out = Vec::new();
    for v in vals {
        let n: i64 = v.parse().map_err(|_| "Invalid oom-score-adj-values".to_string())?;
        if !(-2000..=2000).contains(&n) {
            return Err("Invalid oom-score-adj-values".into());
        }
        out.push(n.to_string());
    }
    Ok(out.join(" "))
}

/// `shutdown-on-sigterm` / `shutdown-on-sigint`: flags as SHUTDOWN takes them, any of save,
/// nosave, now, force (shown in that order, as Redis's flag enums), or default (none).
pub(crate) fn shutdown_on_signal(_old: &str, new: &str) -> Result<String, String> {
    const FLAGS: [&str; 4] = ["save", "nosave", "now", "force"];
    let mut set = [false; 4];
    for w in new.split_whitespace() {
        let w = w.to_ascii_lowercase();
        match FLAGS.iter().position(|f| *f == w) {
            Some(i) => set[i] = true,
            None if w == "default" => {}
            None => {
                return Err(
                    "argument(s) must be one of the following: default, save, nosave, now, force"
                        .into(),
                );
            }
        }
    }
    let words: Vec<&str> = FLAGS.iter().zip(set).filter(|(_, on)| *on).map(|(f, _)| *f).collect();
    Ok(if words.is_empty() { "default".into() } else { words.join(" ") })
}

/// `activedefrag`: tine has no active defragmentation (it needs allocator hints stock jemalloc
/// lacks), so `yes` is refused as a Redis built without them refuses it (Debian's).
pub(crate) fn active_defrag(_old: &str, new: &str) -> Result<String, String> {
    if new == "yes" {
        return Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution".into());
    }
    Ok(new.to_string())
}

/// `latency-tracking-info-percentiles <p> [...]`, each 0..100.
pub(crate) fn percentiles(_old: &str, new: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for v in new.split_whitespace() {
        let p: f64 = v
            .parse()
            .map_err(|_| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
        if !(0.0..=100.0).contains(&p) {
            return Err("Invalid latency-tracking-info-percentiles parameters".into());
        }
        out.push(format!("{}", p));
    }
    Ok(out.join(" "))
}

/// `dir <path>`: the server changes into it when applying; here it is only stored.
pub(crate) fn dir(_old: &str, new: &str) -> Result<String, String> {
    Ok(new.to_string())
}

/// `replicaof <host> <port>` or `replicaof no one`.
pub(crate) fn replicaof(_old: &str, new: &str) -> Result<String, String> {
    let parts: Vec<&str> = new.split_whitespace().collect();
    match parts.as_slice() {
        [] => Ok(String::new()),
        [a, b] if a.eq_ignore_ascii_case("no") && b.eq_ignore_ascii_case("one") => {
            Ok(String::new())
        }
        [host, port] if port.parse::<u16>().is_ok() => Ok(format!("{} {}", host, port)),
        _ => Err("Invalid master port".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obuf_limits_merge_by_class() {
        let v = client_output_buffer_limit("", "pubsub 64mb 16mb 90").unwrap();
        assert_eq!(v, "normal 0 0 0 slave 268435456 67108864 60 pubsub 67108864 16777216 90");
        assert!(client_output_buffer_limit("", "bogus 1 2 3").is_err());
        // Byte limits up to u64::MAX as Redis; soft_seconds within an int.
        let v = client_output_buffer_limit(
            "",
            "normal 18446744073709551615 9223372036854775808 2147483647",
        );
        assert_eq!(
            v.unwrap(),
            "normal 18446744073709551615 9223372036854775808 2147483647 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        // A bigger byte count saturates, as Redis's memtoull (redis-server shows u64::MAX too).
        let v = client_output_buffer_limit("", "normal 18446744073709551616 0 0").unwrap();
        assert!(v.starts_with("normal 18446744073709551615 0 0 "));
        for bad in ["normal 1 2 2147483648", "normal 1 2 -1", "normal -1 0 0"] {
            assert!(client_output_buffer_limit("", bad).is_err(), "{}", bad);
        }
    }

    #[test]
    fn notify_classes_round_trip() {
        assert_eq!(notify_keyspace_events("", "KEA").unwrap(), "AKE");
        assert_eq!(notify_keyspace_events("", "Ex").unwrap(), "xE");
        assert_eq!(notify_keyspace_events("", "").unwrap(), "");
        assert!(notify_keyspace_events("", "Q").is_err());
    }

    #[test]
    fn save_points() {
        assert_eq!(save("", "900 1 300 10").unwrap(), "900 1 300 10");
        assert_eq!(save("", "").unwrap(), "");
        assert!(save("", "900").is_err());
    }
}
