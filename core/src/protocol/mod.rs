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
    pub text: Cow<'static, str>,
}

impl CmdError {
    /// An error with a fixed text, which must begin with `code`.
    pub const fn new(code: &'static str, text: &'static str) -> CmdError {
        CmdError { code, text: Cow::Borrowed(text) }
    }

    /// An error whose text is built at run time; it must begin with `code`.
    pub fn owned(code: &'static str, text: String) -> CmdError {
        debug_assert!(text.starts_with(code), "{} does not start with {}", text, code);
        CmdError { code, text: Cow::Owned(text) }
    }

    /// "ERR <msg>", the generic error.
    pub fn err(msg: &str) -> CmdError {
        CmdError::owned("ERR", format!("ERR {}", msg))
    }
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The protocol versions HELLO can select.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Resp {
    V2 = 2,
    V3 = 3,
}
