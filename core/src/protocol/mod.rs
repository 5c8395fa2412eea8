//! The wire protocol: parsing requests (RESP multibulk and inline) and encoding replies in
//! RESP2 or RESP3. It owns bytes only; it knows nothing of clients' sockets or the keyspace.

pub mod reply;
pub mod request;

use std::borrow::Cow;

/// An error reply, typed: the code INFO errorstats counts it under and the whole text Redis
/// replies (code first, no leading '-'). Commands return these; the command layer alone turns
/// one into a reply and counts it, so no one recovers the code by splitting text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdError {
    /// "ERR", "WRONGTYPE", "NOAUTH"...: the first word of `text`.
    pub code: &'static str,
    /// The reply without the leading '-', code included.
    pub text: ErrText,
}

impl CmdError {
    /// An error with a fixed text, which must begin with `code`.
    pub const fn new(code: &'static str, text: &'static str) -> CmdError {
        CmdError { code, text: ErrText(Cow::Borrowed(text.as_bytes())) }
    }

    /// An error whose text is built at run time; it must begin with `code`.
    pub fn owned(code: &'static str, text: String) -> CmdError {
        CmdError::bytes(code, text.into_bytes())
    }

    /// An error whose text is built at run time from bytes that need not be UTF-8 (Redis
    /// echoes a client's arguments raw); it must begin with `code`.
    pub fn bytes(code: &'static str, text: Vec<u8>) -> CmdError {
        debug_assert!(text.starts_with(code.as_bytes()), "{:?} does not start with {}", text, code);
        CmdError { code, text: ErrText(Cow::Owned(text)) }
    }

    /// "ERR <before><arg><after>", the client's argument echoed as Redis's `%.<max>s` prints
    /// it (`echo_arg`): raw bytes, so a non-UTF-8 argument comes back as it was sent.
    ///
    /// Redis's addReplyErrorFormat first trims CR and LF from both ends of the message, so an
    /// argument at an end loses its CRs and LFs there instead of showing them as spaces.
    pub fn err_echo(before: &str, arg: &[u8], max: Option<usize>, after: &str) -> CmdError {
        let is_crlf = |b: &u8| *b == b'\r' || *b == b'\n';
        let mut arg = percent_s(arg, max);
        if after.is_empty() {
            while arg.last().is_some_and(is_crlf) {
                arg = &arg[..arg.len() - 1];
            }
        }
        if before.is_empty() {
            while arg.first().is_some_and(is_crlf) {
                arg = &arg[1..];
            }
        }
        let mut t = Vec::with_capacity(4 + before.len() + arg.len() + after.len());
        t.extend_from_slice(b"ERR ");
        t.extend_from_slice(before.as_bytes());
        echo_arg(&mut t, arg, max);
        t.extend_from_slice(after.as_bytes());
        CmdError::bytes("ERR", t)
    }

    /// "ERR <msg>", the generic error.
    pub fn err(msg: &str) -> CmdError {
        CmdError::owned("ERR", format!("ERR {}", msg))
    }
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.text.fmt(f)
    }
}

/// An error reply's text: bytes, since Redis echoes the client's arguments in some errors as
/// they came, UTF-8 or not. Compares equal to a `str` of the same bytes; shown lossily.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrText(Cow<'static, [u8]>);

impl std::ops::Deref for ErrText {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for ErrText {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for ErrText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::fmt::Debug for ErrText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&String::from_utf8_lossy(&self.0), f)
    }
}

impl PartialEq<str> for ErrText {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl PartialEq<&str> for ErrText {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl PartialEq<String> for ErrText {
    fn eq(&self, other: &String) -> bool {
        *self.0 == *other.as_bytes()
    }
}

/// Appends a client's argument to an error text as Redis's `%.<max>s` prints it: up to its
/// first NUL (a C string ends there), at most `max` bytes, with CR and LF turned to spaces
/// (Redis maps them in the whole error, so the reply stays one line). Other bytes are kept
/// raw. `max` None is a plain `%s`.
pub fn echo_arg(out: &mut Vec<u8>, arg: &[u8], max: Option<usize>) {
    out.extend(
        percent_s(arg, max).iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}

/// What C's `%.<max>s` prints of `arg`: up to its first NUL, at most `max` bytes.
fn percent_s(arg: &[u8], max: Option<usize>) -> &[u8] {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    &arg[..max.map_or(end, |m| end.min(m))]
}

/// The protocol versions HELLO can select.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Resp {
    V2 = 2,
    V3 = 3,
}

#[cfg(test)]
mod echo_tests {
    use super::*;

    #[test]
    fn echo_arg_is_redis_percent_s() {
        let mut t = Vec::new();
        echo_arg(&mut t, b"a\xff\r\nb\0c", None);
        assert_eq!(t, b"a\xff  b");
        t.clear();
        echo_arg(&mut t, &[b'x'; 300], Some(128));
        assert_eq!(t.len(), 128);
        let e = CmdError::err_echo("Unsupported option ", b"a\xff\r\n", None, "");
        assert_eq!(&*e.text, b"ERR Unsupported option a\xff");
        let e = CmdError::err_echo("x '", b"a\r\n", None, "'");
        assert_eq!(&*e.text, b"ERR x 'a  '");
        let e = CmdError::err_echo("unknown subcommand '", b"f\xff", Some(128), "'.");
        assert_eq!(&*e.text, b"ERR unknown subcommand 'f\xff'.");
        assert_eq!(e.to_string(), "ERR unknown subcommand 'f\u{fffd}'.");
        assert_eq!(CmdError::err("x").text, "ERR x");
    }
}
