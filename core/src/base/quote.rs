//! Splitting a configuration line into arguments, and quoting arguments
//! back, the way Redis 7.0 does it.
//!
//! [`split_args`] follows Redis's `sdssplitargs` (sds.c):
//!
//! * arguments are separated by blanks; leading blanks are skipped with C
//!   `isspace` (space, `\t`, `\n`, `\v`, `\f`, `\r`), while an unquoted
//!   argument ends only at space, `\t`, `\n` or `\r` (so `\v` and `\f` inside
//!   an unquoted argument belong to it);
//! * a `"` or `'` starts a quoted part wherever it appears, even in the middle
//!   of an argument (`foo"bar baz"` is the single argument `foobar baz`);
//! * inside double quotes, `\xHH` (two hex digits) gives that byte, `\n`,
//!   `\r`, `\t`, `\b`, `\a` give the control character and a backslash before
//!   any other character gives that character (`\\`, `\"`, `\q` -> `q`);
//! * inside single quotes only `\'` is an escape; every other byte, backslash
//!   included, is taken as is;
//! * a closing quote must be followed by a blank (`isspace`) or by the end of
//!   the line, and every quote must be closed: otherwise the whole line is an
//!   error (Redis reports "Unbalanced quotes in configuration line");
//! * the input ends at the end of the slice or at the first NUL byte, as the
//!   C code stops at the string terminator;
//! * a line with nothing but blanks gives an empty vector.
//!
//! [`repr_arg`] is Redis's `sdscatrepr`: always in double quotes, `\\` and
//! `\"` escaped, `\n \r \t \a \b` by name, other bytes outside printable
//! ASCII (0x20..=0x7e) as `\xhh` with lower-case hex digits. CONFIG REWRITE
//! in Redis 7.0 writes every string option with it, even when no quoting is
//! needed (`dir "/var/lib/redis"`, `logfile ""`), and `redis-server
//! --name value` quotes every value with it.
//!
//! [`quote_arg`] writes an argument bare when [`split_args`] would read it
//! back unchanged, and falls back to [`repr_arg`] otherwise. Use it for
//! multi-argument lines, where Redis writes plain tokens (`bind`, `save`).
//! Both functions give text that [`split_args`] reads back to the same bytes,
//! except that NUL bytes cannot survive a round trip through a C string
//! parser: `repr_arg` writes them as `\x00`, which does read back correctly.

use std::fmt;

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// A quote was not closed, or a closing quote was followed by something
    /// other than a blank or the end of the line.
    UnbalancedQuotes,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::UnbalancedQuotes => f.write_str("Unbalanced quotes in configuration line"),
        }
    }
}

impl std::error::Error for SplitError {}

/// C `isspace` in the "C" locale.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits one configuration line into arguments as Redis's `sdssplitargs`
/// does. See the module documentation for the exact rules.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, SplitError> {
    // The C code works on a NUL-terminated string: stop at the first NUL.
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let s = &line[..end];
    // Byte at `i`, or 0 (the terminator) past the end.
    let at = |i: usize| -> u8 { if i < s.len() { s[i] } else { 0 } };

    let mut args = Vec::new();
    let mut p = 0usize;
    loop {
        while p < s.len() && is_c_space(s[p]) {
            p += 1;
        }
        if p >= s.len() {
            return Ok(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(p);
            if in_double {
                if c == b'\\'
                    && at(p + 1) == b'x'
                    && let (Some(h), Some(l)) = (hex_value(at(p + 2)), hex_value(at(p + 3)))
                {
                    current.push(h * 16 + l);
                    p += 4;
                    continue;
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    let next = at(p + 1);
                    if next != 0 && !is_c_space(next) {
                        return Err(SplitError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(SplitError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    let next = at(p + 1);
                    if next != 0 && !is_c_space(next) {
                        return Err(SplitError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(SplitError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    other => current.push(other),
                }
            }
            p += 1;
        }
        args.push(current);
    }
}

/// Redis's `sdscatrepr`: the argument in double quotes with escapes.
pub fn repr_arg(arg: &[u8]) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for &b in arg {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{:02x}", b)),
        }
    }
    out.push('"');
    out
}

/// True when `arg` can be written without quotes and still be read back by
/// [`split_args`] as exactly one argument equal to `arg`.
pub fn is_bare_safe(arg: &[u8]) -> bool {
    !arg.is_empty() && arg.iter().all(|&b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\'')
}

/// The argument bare when that reads back unchanged, else [`repr_arg`].
///
/// Note a bare argument starting with `#` is fine anywhere but in the first
/// position of a line (the directive name), where the line would be a comment.
pub fn quote_arg(arg: &[u8]) -> String {
    if is_bare_safe(arg) {
        // Safe: is_bare_safe admits printable ASCII only.
        String::from_utf8_lossy(arg).into_owned()
    } else {
        repr_arg(arg)
    }
}

/// Joins arguments into one line with [`quote_arg`], separated by spaces.
pub fn join_args<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter().map(|a| quote_arg(a.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &[u8]) -> Vec<Vec<u8>> {
        split_args(line).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(line)))
    }

    fn ok(line: &str) -> Vec<String> {
        split(line.as_bytes()).into_iter().map(|a| String::from_utf8(a).unwrap()).collect()
    }

    fn err(line: &str) {
        assert_eq!(split_args(line.as_bytes()), Err(SplitError::UnbalancedQuotes), "{line:?}");
    }

    #[test]
    fn example_from_sds_c() {
        // The example in the comment above sdssplitargs in sds.c.
        let v = split(br#"foo bar "newline are supported\n" and "\xff\x00otherstuff""#);
        assert_eq!(
            v,
            vec![
                b"foo".to_vec(),
                b"bar".to_vec(),
                b"newline are supported\n".to_vec(),
                b"and".to_vec(),
                b"\xff\x00otherstuff".to_vec(),
            ]
        );
    }

    #[test]
    fn plain_tokens_and_blanks() {
        assert!(ok("").is_empty());
        assert!(ok("   \t  ").is_empty());
        assert!(ok("\x0b\x0c").is_empty());
        assert_eq!(ok("port 6379"), ["port", "6379"]);
        assert_eq!(ok("  save   900\t1  "), ["save", "900", "1"]);
        assert_eq!(ok("a\r\nb"), ["a", "b"]);
        // \v and \f end nothing inside an unquoted token, but are skipped between tokens.
        assert_eq!(ok("a\x0bb \x0cc"), ["a\x0bb", "c"]);
        // Backslashes are literal outside quotes.
        assert_eq!(ok(r"C:\dir\x41 x\n"), [r"C:\dir\x41", r"x\n"]);
        // A hash after the first token is an ordinary character.
        assert_eq!(ok("requirepass #secret"), ["requirepass", "#secret"]);
    }

    #[test]
    fn double_quotes() {
        assert_eq!(ok(r#"logfile """#), ["logfile", ""]);
        assert_eq!(ok(r#""a b" c"#), ["a b", "c"]);
        assert_eq!(ok(r#""\n\r\t\b\a""#), ["\n\r\t\x08\x07"]);
        assert_eq!(ok(r#""\\ \" \q \' \x""#), [r#"\ " q ' x"#]);
        assert_eq!(ok(r#""\x41\x6a\x4A""#), ["AjJ"]);
        // Not two hex digits: backslash-x is just an escaped 'x'.
        assert_eq!(ok(r#""\x4" "\xg1""#), ["x4", "xg1"]);
        assert_eq!(split(br#""\xff\xFE""#), vec![vec![0xff, 0xfe]]);
        // A quote in the middle of a token opens a quoted part of that token.
        assert_eq!(ok(r#"foo"bar baz" x"#), ["foobar baz", "x"]);
        // Closing quote followed by any isspace byte, or the end.
        assert_eq!(ok("\"a\"\x0bb"), ["a", "b"]);
        assert_eq!(ok("\"a\"\tb"), ["a", "b"]);
    }

    #[test]
    fn observed_in_redis_7_0_15() {
        // Lines loaded by redis-server 7.0.15, value read back with CONFIG GET.
        assert_eq!(ok(r"masterauth 'it\'s \n x'")[1], r"it's \n x");
        assert_eq!(ok(r#"masteruser foo"bar baz""#)[1], "foobar baz");
        assert_eq!(ok(r#"requirepass "\x41\q\\\"\x4""#)[1], r#"Aq\"x4"#);
        assert_eq!(ok("unixsocket a\x0bb")[1], "a\x0bb");
    }

    #[test]
    fn single_quotes() {
        assert_eq!(ok("'a b'"), ["a b"]);
        assert_eq!(ok(r"'it\'s' x"), ["it's", "x"]);
        // Only \' is an escape inside single quotes.
        assert_eq!(ok(r"'\n\\\x41'"), [r"\n\\\x41"]);
        assert_eq!(ok(r#"'say "hi"'"#), [r#"say "hi""#]);
        assert_eq!(ok("''"), [""]);
    }

    #[test]
    fn unbalanced() {
        err("\"foo");
        err("'foo");
        err("\"foo\"bar");
        err("'foo'bar");
        err("foo\"bar");
        err("\"\"\"\"");
        // A trailing backslash inside quotes leaves the quote open.
        err("\"abc\\");
        err(r#"a\"b"#);
        err("'abc\\'");
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(ok("a b\0c d"), ["a", "b"]);
        err("\"a\0\"");
    }

    #[test]
    fn repr_matches_sdscatrepr() {
        assert_eq!(repr_arg(b""), r#""""#);
        assert_eq!(repr_arg(b"/var/lib/redis"), r#""/var/lib/redis""#);
        assert_eq!(repr_arg(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(repr_arg(b"\n\r\t\x07\x08"), r#""\n\r\t\a\b""#);
        assert_eq!(repr_arg(b"\x00\x1b\x7f\xff"), r#""\x00\x1b\x7f\xff""#);
        assert_eq!(repr_arg(b"it's"), r#""it's""#);
    }

    #[test]
    fn quote_only_when_needed() {
        assert_eq!(quote_arg(b"6379"), "6379");
        assert_eq!(quote_arg(b"~*"), "~*");
        assert_eq!(quote_arg(br"C:\x41"), r"C:\x41");
        assert_eq!(quote_arg(b""), r#""""#);
        assert_eq!(quote_arg(b"a b"), r#""a b""#);
        assert_eq!(quote_arg(b"it's"), r#""it's""#);
        assert_eq!(quote_arg(b"x\x0by"), r#""x\x0by""#);
        assert_eq!(join_args(&["save", "", "x y"]), r#"save "" "x y""#);
    }

    #[test]
    fn round_trips() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"plain".to_vec(),
            b"with space".to_vec(),
            b"quote\"s and 'single'".to_vec(),
            br"back\slash\".to_vec(),
            b"\x00\x01\x7f\x80\xff".to_vec(),
            b"#hash".to_vec(),
            "ünïcode".as_bytes().to_vec(),
        ];
        samples.push((0u8..=255).collect());
        for s in &samples {
            for text in [repr_arg(s), quote_arg(s)] {
                let back = split(text.as_bytes());
                assert_eq!(back, vec![s.clone()], "{text}");
            }
        }
        let line = join_args(&samples);
        assert_eq!(split(line.as_bytes()), samples);
    }
}
