//! Small pure helpers shared by every layer: Redis's strict number parsing and formatting,
//! its glob matcher, and clocks.
//!
//! These exist because Redis's replies depend on them byte for byte: `string2ll` decides
//! whether "007" is an integer (it is not), `%.17g` decides how a float score prints, and
//! `stringmatchlen` decides what `KEYS`, `SCAN MATCH`, `PSUBSCRIBE` and `CONFIG GET` match.

pub mod histogram;
pub mod log;
pub mod longdouble;
pub mod quote;

use std::time::{SystemTime, UNIX_EPOCH};

/// Random lowercase hex, for run ids and replication ids (Redis's getRandomHexChars).
pub fn random_hex(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len).map(|_| std::char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0')).collect()
}

/// Parses a byte string as an `i64` the way Redis's `string2ll` does: an optional '-', then
/// digits with no leading zeros (except "0" itself), no '+', no spaces, no overflow.
/// Returns `None` for anything else, so "007", " 1", "+1" and "-0" are not integers.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 { None } else { Some((v as i64).wrapping_neg()) }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a float as Redis's `string2ld`/`strtold` users do for commands: no spaces, the whole
/// string consumed, NaN refused. "inf", "+inf", "-inf" are accepted.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let lower = text.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // Rust's parser accepts "nan", "inf" spellings and a leading '+'; strtod accepts
            // '+' too, and hex floats which we do not need.
            if lower.contains("nan") {
                return None;
            }
            text.parse::<f64>().ok()?
        }
    };
    if v.is_nan() { None } else { Some(v) }
}

/// Formats a double as Redis's `%.17g` does for RESP2 bulk replies of scores
/// (`addReplyDouble`): "inf"/"-inf" for infinities, integral values without a fraction.
pub fn format_double(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v.is_nan() {
        return "nan".into();
    }
    format_g17(v)
}

/// `%.17g` formatting: 17 significant digits, shortest of fixed or exponent notation,
/// trailing zeros removed.
pub fn format_g17(v: f64) -> String {
    format_g(v, 17)
}

/// C's `%.<precision>g`.
pub fn format_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let m = trim_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", m, sign, exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_fraction_zeros(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_fraction_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

/// Redis's `stringmatchlen`: glob-style matching with `*`, `?`, `[...]` (ranges, `^` negation)
/// and `\` escapes, optionally case-insensitive.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    glob_match_impl(pattern, string, nocase, 0, &mut false)
}

/// `skip_longer` is Redis's skipLongerMatches: once the rest of a pattern after a `*` has
/// matched nowhere in the rest of the string, no earlier `*` can help by matching more, so
/// every pending `*` gives up at once. Without it `a*a*a*...*b` against a long run of `a`s
/// takes exponential time (one KEYS call could hold the server for hours).
fn glob_match_impl(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    depth: u32,
    skip_longer: &mut bool,
) -> bool {
    // Bound recursion on pathological patterns like "*****...".
    if depth > 1000 {
        return false;
    }
    let eq = |a: u8, b: u8| {
        if nocase { a.eq_ignore_ascii_case(&b) } else { a == b }
    };
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..s.len() {
                    if glob_match_impl(&p[1..], &s[i..], nocase, depth + 1, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s = &s[1..];
                p = &p[1..];
                continue;
            }
            b'[' => {
                p = &p[1..];
                let not = !p.is_empty() && p[0] == b'^';
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if eq(p[0], s[0]) {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end) = (p[0], p[2]);
                        let mut c = s[0];
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            c = c.to_ascii_lowercase();
                        }
                        p = &p[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if eq(p[0], s[0]) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                // p now at ']' or end
                if !p.is_empty() {
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                continue;
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !eq(p[0], s[0]) {
                    return false;
                }
            }
            c => {
                if !eq(c, s[0]) {
                    return false;
                }
            }
        }
        s = &s[1..];
        p = &p[1..];
    }
    if s.is_empty() {
        while !p.is_empty() && p[0] == b'*' {
            p = &p[1..];
        }
    }
    p.is_empty() && s.is_empty()
}

/// Milliseconds since the Unix epoch.
pub fn mstime() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn ustime() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// Seconds since the Unix epoch.
pub fn unix_time() -> i64 {
    mstime() / 1000
}

/// Human memory figure as Redis's `bytesToHuman`: "1.50K", "3.00M", plain bytes under 1 KiB.
pub fn bytes_to_human(n: u64) -> String {
    let n = n as f64;
    const K: f64 = 1024.0;
    if n < K {
        format!("{}B", n as u64)
    } else if n < K * K {
        format!("{:.2}K", n / K)
    } else if n < K * K * K {
        format!("{:.2}M", n / (K * K))
    } else if n < K * K * K * K {
        format!("{:.2}G", n / (K * K * K))
    } else if n < K * K * K * K * K {
        format!("{:.2}T", n / (K * K * K * K))
    } else {
        format!("{:.2}P", n / (K * K * K * K * K))
    }
}

/// Lowercases ASCII into a new `String` (command and directive names).
pub fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

/// An `io::Error`'s text without Rust's " (os error N)" suffix: what C's `strerror` gives,
/// and so what Redis's log lines say.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Sleeps `rdb-key-save-delay` / `key-load-delay` microseconds per key, Redis's debugDelay: the
/// knob for stretching a save or a load in tests.
pub fn debug_delay(delay: i64) {
    // A negative value sleeps 1 µs with probability 1/|delay|: even the shortest sleep costs
    // a context switch, so short delays are made by sleeping less often (Redis's debugDelay).
    let usec = if delay < 0 {
        use rand::Rng;
        (rand::thread_rng().gen_range(0..delay.unsigned_abs()) == 0) as u64
    } else {
        delay as u64
    };
    if usec > 0 {
        std::thread::sleep(std::time::Duration::from_micros(usec));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b"007"[..], b"-0", b"+1", b" 1", b"1 ", b"", b"-", b"1a"] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn g17_formatting() {
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-3.0), "-3");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
    }

    #[test]
    fn globbing() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"h\\*llo", b"h*llo", false));
        assert!(glob_match(b"*-max-*-entries", b"hash-max-listpack-entries", false));
        assert!(glob_match(b"HZ", b"hz", true));
        assert!(!glob_match(b"a*b", b"acd", false));
        assert!(glob_match(b"a**", b"a", false));
        assert!(glob_match(b"*a*b*c", b"xxaybzzc", false));
        assert!(!glob_match(b"*a*b*c", b"xxaybzzcd", false));
        assert!(glob_match(b"a*b", b"ab", false));
        assert!(!glob_match(b"a*b", b"a", false));
        // The suite's "pattern matching long nested loops": exponential without the early
        // give-up (this test would not finish), immediate with it.
        let pattern = [&b"a*"[..]; 40].concat().into_iter().chain(*b"b").collect::<Vec<u8>>();
        assert!(!glob_match(&pattern, &[b'a'; 50], false));
        assert!(glob_match(&pattern, &[&[b'a'; 50][..], b"b"].concat(), false));
    }
}

/// splitmix64: a tiny deterministic generator for seeded tests and benchmarks (unit tests,
/// the differential integration tests, the criterion benches), so that a failing run can be
/// replayed from its seed. Not for anything the server itself randomises (that uses `rand`).
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish value in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}
