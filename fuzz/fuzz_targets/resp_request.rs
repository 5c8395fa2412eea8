//! Any bytes given to the RESP request parser, whole and in two reads: never a panic, and the
//! same commands (and the same error, if one) either way.
//!
//! Input layout: byte 0 picks the limits (bit 0: authenticated, bit 1: a small
//! `proto-max-bulk-len`), bytes 1-2 (little-endian) pick where the stream is split, the rest is
//! the stream. The second read is handled as the server handles its query buffer: consumed
//! bytes are dropped and parsing resumes at offset 0 of what is left plus the new bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tine_core::protocol::request::{Limits, Parsed, ProtocolError, RequestParser};

type Outcome = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>);

/// Parses commands from `buf[*pos..]` until more bytes are needed or an error.
fn drain(
    p: &mut RequestParser,
    buf: &[u8],
    pos: &mut usize,
    limits: Limits,
    out: &mut Outcome,
) -> bool {
    loop {
        let before = *pos;
        match p.next(buf, pos, limits) {
            Parsed::Command => {
                assert!(*pos > before, "a command consumed no bytes");
                assert!(!p.argv.is_empty());
                out.0.push(p.argv.clone());
            }
            Parsed::Incomplete => {
                assert!(*pos <= buf.len());
                return true;
            }
            Parsed::Error(e) => {
                out.1 = Some(e);
                return false;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let limits = Limits {
        authenticated: data[0] & 1 != 0,
        max_bulk_len: if data[0] & 2 != 0 { 64 } else { 512 * 1024 * 1024 },
    };
    let stream = &data[3..];
    let split = u16::from_le_bytes([data[1], data[2]]) as usize % (stream.len() + 1);

    let mut whole: Outcome = (Vec::new(), None);
    let mut p = RequestParser::new();
    let mut pos = 0;
    drain(&mut p, stream, &mut pos, limits, &mut whole);

    let mut two: Outcome = (Vec::new(), None);
    let mut p = RequestParser::new();
    let mut pos = 0;
    if drain(&mut p, &stream[..split], &mut pos, limits, &mut two) {
        let mut buf = stream[pos..split].to_vec();
        buf.extend_from_slice(&stream[split..]);
        let mut pos = 0;
        drain(&mut p, &buf, &mut pos, limits, &mut two);
    }
    assert_eq!(whole, two);
});
