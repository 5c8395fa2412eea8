//! Request parsing: RESP multibulk (`*<n>\r\n$<len>\r\n<bytes>\r\n...`) and inline commands
//! (`PING\r\n`, split like redis-cli splits).
//!
//! The parser is incremental: it keeps how many bulks are left and the length of the bulk it
//! waits for, so a command that arrives in many reads is never re-parsed from the start (a
//! million-argument MSET sent slowly stays linear). Lines end where Redis 7.0 ends them: a
//! header at its first '\r' (the byte after it is skipped unread), an inline command at its
//! first '\n', and never when a NUL byte comes first (Redis searches with `strchr`). Limits are
//! Redis's: an inline command or header line longer than 64 KiB, however it arrives, a
//! multibulk count above `i32::MAX`, a bulk above `proto-max-bulk-len`, and for
//! clients not yet authenticated more than 10 arguments or a bulk above 16 KiB, are protocol
//! errors; the caller replies `-ERR Protocol error: ...` and closes the connection.

use crate::base::quote::split_args;

/// The longest header line (or inline command) accepted before the newline arrives.
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;
/// Multibulk and bulk limits for clients that have not authenticated yet.
const UNAUTH_MAX_MULTIBULK: i64 = 10;
const UNAUTH_MAX_BULK: i64 = 16 * 1024;

/// Why a request could not be parsed; the text follows "Protocol error: " in the reply.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    TooBigBulkCount,
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The error reply text, as Redis 7.0 words it.
    pub fn message(&self) -> String {
        match self {
            ProtocolError::TooBigInline => "Protocol error: too big inline request".into(),
            ProtocolError::UnbalancedQuotes => {
                "Protocol error: unbalanced quotes in request".into()
            }
            ProtocolError::TooBigMultibulkCount => {
                "Protocol error: too big mbulk count string".into()
            }
            ProtocolError::InvalidMultibulkLength => {
                "Protocol error: invalid multibulk length".into()
            }
            ProtocolError::UnauthenticatedMultibulkLength => {
                "Protocol error: unauthenticated multibulk length".into()
            }
            ProtocolError::TooBigBulkCount => "Protocol error: too big bulk count string".into(),
            ProtocolError::ExpectedDollar(c) => {
                format!("Protocol error: expected '$', got '{}'", *c as char)
            }
            ProtocolError::InvalidBulkLength => "Protocol error: invalid bulk length".into(),
            ProtocolError::UnauthenticatedBulkLength => {
                "Protocol error: unauthenticated bulk length".into()
            }
        }
    }
}

/// What one call to `RequestParser::next` found.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A complete command; its arguments are in the parser's `argv`.
    Command,
    /// More bytes are needed.
    Incomplete,
    Error(ProtocolError),
}

/// Per-connection limits the parser enforces.
#[derive(Clone, Copy)]
pub struct Limits {
    pub max_bulk_len: i64,
    pub authenticated: bool,
}

/// Incremental parser state of one connection.
#[derive(Default)]
pub struct RequestParser {
    /// Bulks still expected in the current multibulk; 0 when between commands.
    multibulk_left: i64,
    /// Length of the bulk being waited for, -1 when its header is not read yet.
    bulk_len: i64,
    /// Arguments of the command being parsed (complete after `Parsed::Command`).
    pub argv: Vec<Vec<u8>>,
    /// True when the last complete command was inline (for `MONITOR`-like uses).
    pub inline: bool,
}

/// Where a line ends, as `line_end` and `header_end` find it.
#[derive(Debug, PartialEq)]
enum LineEnd {
    /// The index of the byte that ends the line.
    At(usize),
    /// Not yet: more bytes may end the line.
    Partial,
    /// The limit passed without an end: a protocol error.
    TooLong,
}

/// Finds the end of a line as Redis 7.0 does: the first `stop` byte, searched with C's
/// `strchr`, so a NUL byte before it hides it and the line never ends. Only the first
/// `PROTO_INLINE_MAX_SIZE + 1` bytes are searched: a longer line is refused whether it came
/// in one read or many (Redis refuses it when it comes in pieces), so what lies beyond them
/// never matters and a big buffer is not scanned again on every read.
#[inline]
fn line_end(buf: &[u8], stop: u8) -> LineEnd {
    let window = &buf[..buf.len().min(PROTO_INLINE_MAX_SIZE + 1)];
    match window.iter().position(|&b| b == stop || b == 0) {
        Some(at) if window[at] == stop => LineEnd::At(at),
        _ if buf.len() > PROTO_INLINE_MAX_SIZE => LineEnd::TooLong,
        _ => LineEnd::Partial,
    }
}

/// Finds the end of a multibulk or bulk header: Redis ends it at the first '\r' and skips the
/// byte after it whatever it is (`*1\rX` is a count of 1), so that byte must have arrived.
/// `At` is the index of the '\r'.
#[inline]
fn header_end(buf: &[u8]) -> LineEnd {
    match line_end(buf, b'\r') {
        LineEnd::At(cr) if cr + 1 >= buf.len() => LineEnd::Partial,
        end => end,
    }
}

/// Parses a header number (after '*' or '$') as Redis's string2ll does.
fn header_number(b: &[u8]) -> Option<i64> {
    crate::base::parse_i64(b)
}

impl RequestParser {
    pub fn new() -> Self {
        RequestParser { multibulk_left: 0, bulk_len: -1, argv: Vec::new(), inline: false }
    }

    /// True when part of a command has been consumed and the rest is awaited.
    pub fn in_progress(&self) -> bool {
        self.multibulk_left > 0
    }

    /// Bytes the parser expects next, if it knows: lets the reader size its buffer for a big
    /// bulk instead of growing it in small steps.
    pub fn expected_bulk(&self) -> Option<usize> {
        if self.multibulk_left > 0 && self.bulk_len >= 0 {
            Some(self.bulk_len as usize + 2)
        } else {
            None
        }
    }

    /// Parses the next command from `buf[*pos..]`, advancing `*pos` over what it consumed.
    /// Empty commands (a blank inline line, `*0`) are skipped.
    pub fn next(&mut self, buf: &[u8], pos: &mut usize, limits: Limits) -> Parsed {
        loop {
            if *pos >= buf.len() {
                return Parsed::Incomplete;
            }
            if self.multibulk_left == 0 {
                self.argv.clear();
                if buf[*pos] == b'*' {
                    match self.multibulk_header(buf, pos, limits) {
                        Ok(true) => {}
                        Ok(false) => return Parsed::Incomplete,
                        Err(e) => return Parsed::Error(e),
                    }
                    if self.multibulk_left == 0 {
                        continue; // "*0" or "*-1": nothing to run
                    }
                } else {
                    match self.inline(buf, pos) {
                        Ok(None) => return Parsed::Incomplete,
                        Ok(Some(())) => {
                            if self.argv.is_empty() {
                                continue;
                            }
                            self.inline = true;
                            return Parsed::Command;
                        }
                        Err(e) => return Parsed::Error(e),
                    }
                }
            }
            match self.bulks(buf, pos, limits) {
                Ok(true) => {
                    self.inline = false;
                    return Parsed::Command;
                }
                Ok(false) => return Parsed::Incomplete,
                Err(e) => return Parsed::Error(e),
            }
        }
    }

    fn multibulk_header(
        &mut self,
        buf: &[u8],
        pos: &mut usize,
        limits: Limits,
    ) -> Result<bool, ProtocolError> {
        let rest = &buf[*pos..];
        let cr = match header_end(rest) {
            LineEnd::At(cr) => cr,
            LineEnd::Partial => return Ok(false),
            LineEnd::TooLong => return Err(ProtocolError::TooBigMultibulkCount),
        };
        let n = header_number(&rest[1..cr]).ok_or(ProtocolError::InvalidMultibulkLength)?;
        if n > i32::MAX as i64 {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if !limits.authenticated && n > UNAUTH_MAX_MULTIBULK {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        *pos += cr + 2;
        self.multibulk_left = n.max(0);
        self.bulk_len = -1;
        // Reserve modestly: a lying count must not make us allocate gigabytes up front.
        self.argv.reserve(n.clamp(0, 1024) as usize);
        Ok(true)
    }

    /// Reads bulks until the multibulk is complete (true) or the buffer runs out (false).
    fn bulks(
        &mut self,
        buf: &[u8],
        pos: &mut usize,
        limits: Limits,
    ) -> Result<bool, ProtocolError> {
        while self.multibulk_left > 0 {
            if self.bulk_len < 0 {
                let rest = &buf[*pos..];
                if rest.is_empty() {
                    return Ok(false);
                }
                let cr = match header_end(rest) {
                    LineEnd::At(cr) => cr,
                    LineEnd::Partial => return Ok(false),
                    LineEnd::TooLong => return Err(ProtocolError::TooBigBulkCount),
                };
                if rest[0] != b'$' {
                    return Err(ProtocolError::ExpectedDollar(rest[0]));
                }
                let n = header_number(&rest[1..cr]).ok_or(ProtocolError::InvalidBulkLength)?;
                if n < 0 || n > limits.max_bulk_len {
                    return Err(ProtocolError::InvalidBulkLength);
                }
                if !limits.authenticated && n > UNAUTH_MAX_BULK {
                    return Err(ProtocolError::UnauthenticatedBulkLength);
                }
                *pos += cr + 2;
                self.bulk_len = n;
            }
            let need = self.bulk_len as usize + 2;
            if buf.len() - *pos < need {
                return Ok(false);
            }
            let start = *pos;
            self.argv.push(buf[start..start + self.bulk_len as usize].to_vec());
            *pos += need;
            self.bulk_len = -1;
            self.multibulk_left -= 1;
        }
        Ok(true)
    }

    /// Parses one inline command line into `argv`. `Ok(None)` means the newline has not
    /// arrived yet.
    fn inline(&mut self, buf: &[u8], pos: &mut usize) -> Result<Option<()>, ProtocolError> {
        let rest = &buf[*pos..];
        let nl = match line_end(rest, b'\n') {
            LineEnd::At(nl) => nl,
            LineEnd::Partial => return Ok(None),
            LineEnd::TooLong => return Err(ProtocolError::TooBigInline),
        };
        let mut line = &rest[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let args = split_args(line).map_err(|_| ProtocolError::UnbalancedQuotes)?;
        *pos += nl + 1;
        self.argv = args;
        Ok(Some(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHED: Limits = Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true };

    fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        let mut p = RequestParser::new();
        let mut pos = 0;
        let mut cmds = Vec::new();
        loop {
            match p.next(input, &mut pos, AUTHED) {
                Parsed::Command => cmds.push(p.argv.clone()),
                Parsed::Incomplete => return (cmds, None),
                Parsed::Error(e) => return (cmds, Some(e)),
            }
        }
    }

    #[test]
    fn multibulk_and_pipelining() {
        let (cmds, err) =
            parse_all(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        assert_eq!(err, None);
        assert_eq!(
            cmds,
            vec![vec![b"PING".to_vec()], vec![b"SET".to_vec(), b"k".to_vec(), vec![]]]
        );
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
        let mut p = RequestParser::new();
        let mut buf = Vec::new();
        let mut pos = 0;
        let mut got = None;
        for &b in input.iter() {
            buf.push(b);
            if p.next(&buf, &mut pos, AUTHED) == Parsed::Command {
                got = Some(p.argv.clone());
            }
        }
        assert_eq!(got.unwrap(), vec![b"ECHO".to_vec(), b"hello".to_vec()]);
        assert_eq!(pos, input.len());
    }

    #[test]
    fn inline_commands() {
        let (cmds, err) = parse_all(b"PING\r\n\r\nset k \"a b\"\n");
        assert_eq!(err, None);
        assert_eq!(
            cmds,
            vec![vec![b"PING".to_vec()], vec![b"set".to_vec(), b"k".to_vec(), b"a b".to_vec()]]
        );
        assert_eq!(parse_all(b"set \"a\r\n").1, Some(ProtocolError::UnbalancedQuotes));
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(parse_all(b"*1\r\n+PING\r\n").1, Some(ProtocolError::ExpectedDollar(b'+')));
        assert_eq!(parse_all(b"*x\r\n").1, Some(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1\r\n$-5\r\n").1, Some(ProtocolError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$99999999999\r\n").1, Some(ProtocolError::InvalidBulkLength));
        let big = vec![b'a'; PROTO_INLINE_MAX_SIZE + 1];
        assert_eq!(parse_all(&big).1, Some(ProtocolError::TooBigInline));
        let mut p = RequestParser::new();
        let mut pos = 0;
        let unauth = Limits { max_bulk_len: 1 << 29, authenticated: false };
        assert_eq!(
            p.next(b"*11\r\n", &mut pos, unauth),
            Parsed::Error(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(parse_all(b"*0\r\n*-1\r\n").0.len(), 0);
    }

    #[test]
    fn headers_end_at_the_first_cr_and_skip_the_next_byte() {
        let ping = vec![b"PING".to_vec()];
        assert_eq!(parse_all(b"*1\rX$4\r\nPING\r\n"), (vec![ping.clone()], None));
        assert_eq!(parse_all(b"*1\r\n$4\rXPING\r\n"), (vec![ping.clone()], None));
        // The skipped byte must have arrived before the header counts as read.
        let mut p = RequestParser::new();
        let mut pos = 0;
        assert_eq!(p.next(b"*1\r", &mut pos, AUTHED), Parsed::Incomplete);
        assert_eq!(pos, 0);
        assert_eq!(p.next(b"*1\r\n$4\r", &mut pos, AUTHED), Parsed::Incomplete);
        assert_eq!(p.next(b"*1\r\n$4\r\nPING\r\n", &mut pos, AUTHED), Parsed::Command);
        assert_eq!(p.argv, ping);
        // A NUL byte before the '\r' hides it, as Redis's strchr: the line never ends.
        assert_eq!(parse_all(b"*1\x00\r\n$4\r\nPING\r\n"), (vec![], None));
        assert_eq!(parse_all(b"*1\r\n$4\x00\r\nPING\r\n"), (vec![], None));
        assert_eq!(parse_all(b"PING\x00\r\n"), (vec![], None));
        let mut hidden = b"PING\x00\r\n".to_vec();
        hidden.resize(PROTO_INLINE_MAX_SIZE + 1, b'a');
        assert_eq!(parse_all(&hidden).1, Some(ProtocolError::TooBigInline));
    }

    #[test]
    fn inline_lines_over_the_limit_are_refused_however_they_arrive() {
        // 64 KiB before the newline is the most accepted, in one read or many.
        let mut ok = b"PING".to_vec();
        ok.resize(PROTO_INLINE_MAX_SIZE, b' ');
        ok.extend_from_slice(b"\n");
        assert_eq!(parse_all(&ok), (vec![vec![b"PING".to_vec()]], None));
        for too_big in [PROTO_INLINE_MAX_SIZE + 1, 70_000, 1 << 20] {
            let mut line = b"PING".to_vec();
            line.resize(too_big, b' ');
            line.extend_from_slice(b"\r\n");
            assert_eq!(parse_all(&line), (vec![], Some(ProtocolError::TooBigInline)));
        }
        let mut count = b"*".to_vec();
        count.resize(PROTO_INLINE_MAX_SIZE + 1, b'0');
        count.extend_from_slice(b"1\r\n$4\r\nPING\r\n");
        assert_eq!(parse_all(&count).1, Some(ProtocolError::TooBigMultibulkCount));
        let mut bulk = b"*1\r\n$".to_vec();
        bulk.resize(PROTO_INLINE_MAX_SIZE + 6, b'0');
        bulk.extend_from_slice(b"4\r\nPING\r\n");
        assert_eq!(parse_all(&bulk).1, Some(ProtocolError::TooBigBulkCount));
    }
}
