//! Reply encoding. Every reply type has one function that appends its bytes to an output
//! buffer, choosing the RESP2 or RESP3 form. RESP3-only types degrade as Redis degrades them
//! for RESP2 clients: maps become flat arrays, sets arrays, doubles bulk strings, booleans
//! integers, nulls `$-1` (or `*-1` for a null array), verbatim strings bulk strings.

use super::Resp;

/// Type prefixes and terminators of RESP.
pub const CRLF: &[u8] = b"\r\n";
pub const SIMPLE: u8 = b'+';
pub const ERROR: u8 = b'-';
pub const INTEGER: u8 = b':';
pub const BULK: u8 = b'$';
pub const ARRAY: u8 = b'*';
pub const MAP: u8 = b'%';
pub const SET: u8 = b'~';
pub const PUSH: u8 = b'>';
pub const DOUBLE: u8 = b',';
pub const BOOLEAN: u8 = b'#';
pub const NULL3: &[u8] = b"_\r\n";
pub const VERBATIM: u8 = b'=';
pub const NULL_BULK2: &[u8] = b"$-1\r\n";
pub const NULL_ARRAY2: &[u8] = b"*-1\r\n";

fn header(out: &mut Vec<u8>, prefix: u8, n: i64) {
    out.push(prefix);
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(n).as_bytes());
    out.extend_from_slice(CRLF);
}

pub fn simple(out: &mut Vec<u8>, s: &str) {
    out.push(SIMPLE);
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(CRLF);
}

/// An error line; `msg` carries its code ("ERR ...", "WRONGTYPE ..."). Newlines inside would
/// break the protocol, so they become spaces as in Redis's addReplyErrorLength.
pub fn error(out: &mut Vec<u8>, msg: &[u8]) {
    out.push(ERROR);
    for &b in msg {
        out.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.extend_from_slice(CRLF);
}

pub fn integer(out: &mut Vec<u8>, n: i64) {
    header(out, INTEGER, n);
}

pub fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    header(out, BULK, b.len() as i64);
    out.extend_from_slice(b);
    out.extend_from_slice(CRLF);
}

/// A bulk string holding the decimal form of an integer.
pub fn bulk_i64(out: &mut Vec<u8>, n: i64) {
    let mut b = itoa::Buffer::new();
    bulk(out, b.format(n).as_bytes());
}

pub fn null(out: &mut Vec<u8>, resp: Resp) {
    out.extend_from_slice(if resp == Resp::V3 { NULL3 } else { NULL_BULK2 });
}

pub fn null_array(out: &mut Vec<u8>, resp: Resp) {
    out.extend_from_slice(if resp == Resp::V3 { NULL3 } else { NULL_ARRAY2 });
}

pub fn array(out: &mut Vec<u8>, n: usize) {
    header(out, ARRAY, n as i64);
}

/// A map of `n` pairs (RESP2: an array of 2n).
pub fn map(out: &mut Vec<u8>, n: usize, resp: Resp) {
    match resp {
        Resp::V3 => header(out, MAP, n as i64),
        Resp::V2 => header(out, ARRAY, 2 * n as i64),
    }
}

pub fn set(out: &mut Vec<u8>, n: usize, resp: Resp) {
    header(out, if resp == Resp::V3 { SET } else { ARRAY }, n as i64);
}

pub fn push(out: &mut Vec<u8>, n: usize, resp: Resp) {
    header(out, if resp == Resp::V3 { PUSH } else { ARRAY }, n as i64);
}

/// A double: RESP3 `,<value>`, RESP2 a bulk string in `%.17g`.
pub fn double(out: &mut Vec<u8>, v: f64, resp: Resp) {
    match resp {
        Resp::V3 => {
            out.push(DOUBLE);
            let text = if v.is_infinite() {
                if v > 0.0 { "inf".to_string() } else { "-inf".to_string() }
            } else {
                crate::base::format_double(v)
            };
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(CRLF);
        }
        Resp::V2 => bulk(out, crate::base::format_double(v).as_bytes()),
    }
}

pub fn boolean(out: &mut Vec<u8>, v: bool, resp: Resp) {
    match resp {
        Resp::V3 => out.extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" }),
        Resp::V2 => integer(out, v as i64),
    }
}

/// Verbatim text (INFO, CLIENT LIST...): RESP3 `=<len>\r\ntxt:<text>`, RESP2 a bulk string.
pub fn verbatim(out: &mut Vec<u8>, text: &[u8], resp: Resp) {
    match resp {
        Resp::V3 => {
            header(out, VERBATIM, text.len() as i64 + 4);
            out.extend_from_slice(b"txt:");
            out.extend_from_slice(text);
            out.extend_from_slice(CRLF);
        }
        Resp::V2 => bulk(out, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let mut o = Vec::new();
        bulk(&mut o, b"hi");
        integer(&mut o, -5);
        null(&mut o, Resp::V2);
        null(&mut o, Resp::V3);
        map(&mut o, 2, Resp::V2);
        map(&mut o, 2, Resp::V3);
        double(&mut o, 1.5, Resp::V3);
        double(&mut o, 1.5, Resp::V2);
        boolean(&mut o, true, Resp::V3);
        error(&mut o, b"ERR a\nb");
        assert_eq!(
            o,
            b"$2\r\nhi\r\n:-5\r\n$-1\r\n_\r\n*4\r\n%2\r\n,1.5\r\n$3\r\n1.5\r\n#t\r\n-ERR a b\r\n"
        );
    }
}
