//! DUMP/RESTORE payloads, exactly as Redis 7.0 (`createDumpPayload`, `verifyDumpPayload`), so
//! that a payload moves between tine and Redis either way.
//!
//! # Layout
//!
//! ```text
//! <value type: 1 byte> <value, as in an RDB file> <RDB version: u16 LE> <CRC-64: u64 LE>
//! ```
//!
//! The CRC-64 (Redis's variant, `crc64.rs`) covers everything before it, the version included.
//! A payload is refused when it is shorter than the 10-byte footer, its version is newer than
//! ours, or the checksum differs (Redis checks it even when zero). The value is read with the
//! same code and encoding rules as an RDB file; strings are LZF-compressed under the same
//! rule, following `rdbcompression`.

use super::reader::{LoadLimits, Reader, SliceSource};
use super::writer::RdbWriter;
use super::{RDB_VERSION, RdbError, crc64::crc64, is_object_type};
use crate::keyspace::Value;

/// The footer: 2 bytes of version and 8 of checksum.
pub const DUMP_FOOTER_LEN: usize = 10;

/// Serializes one value as DUMP does.
pub fn dump_payload(v: &Value, compression: bool) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = RdbWriter::new(&mut out, compression, false);
        // Writing into a Vec cannot fail.
        let _ = w.byte(RdbWriter::<Vec<u8>>::object_type(v));
        let _ = w.object(v);
        let _ = w.finish();
    }
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks the footer; returns the type byte and value part of the payload.
pub fn verify_payload(p: &[u8]) -> Result<&[u8], RdbError> {
    if p.len() < DUMP_FOOTER_LEN {
        return Err(RdbError::BadPayloadFooter);
    }
    let body_len = p.len() - DUMP_FOOTER_LEN;
    let version = u16::from_le_bytes([p[body_len], p[body_len + 1]]) as u32;
    if version > RDB_VERSION {
        return Err(RdbError::BadPayloadFooter);
    }
    let stored = u64::from_le_bytes(p[p.len() - 8..].try_into().unwrap_or([0; 8]));
    if crc64(&p[..p.len() - 8]) != stored {
        return Err(RdbError::BadPayloadFooter);
    }
    Ok(&p[..body_len])
}

/// Decodes a verified payload body (type byte and value) into a value.
pub fn read_payload_value(body: &[u8], limits: &LoadLimits) -> Result<Value, RdbError> {
    let mut src = SliceSource::new(body);
    let mut rd = Reader::new(&mut src);
    let t = rd.byte()?;
    if !is_object_type(t) {
        return Err(RdbError::UnknownType(t));
    }
    rd.value(t, limits)?.ok_or(RdbError::EmptyValue)
}

/// Verifies and decodes a whole payload (RESTORE).
pub fn restore_payload(p: &[u8], limits: &LoadLimits) -> Result<Value, RdbError> {
    read_payload_value(verify_payload(p)?, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Str;

    /// DUMP replies of Redis 7.0.15 for `SET n 1` and `SET k <"abcdefghij" x 10>`.
    const REDIS_INT: &[u8] = b"\x00\xc0\x01\n\x00&x\xe7\xb6\xd1\x01\x11\xfc";
    const REDIS_LZF: &[u8] = b"\x00\xc3\x12@d\nabcdefghija\xe0N\t\x01ij\n\x00\xd4\x85)*\x1f.\xfff";

    #[test]
    fn redis_payloads() {
        let limits = LoadLimits::default();
        let n = restore_payload(REDIS_INT, &limits).unwrap();
        assert!(matches!(n, Value::Str(Str::Int(1))));
        assert_eq!(dump_payload(&n, true), REDIS_INT);
        let k = restore_payload(REDIS_LZF, &limits).unwrap();
        let want = b"abcdefghij".repeat(10);
        assert!(matches!(&k, Value::Str(s) if s.to_vec() == want));
        assert_eq!(dump_payload(&k, true), REDIS_LZF);
    }

    #[test]
    fn round_trip_and_corruption() {
        let v = Value::Str(Str::from_bytes(&[b'a'; 100]));
        let p = dump_payload(&v, true);
        let back = restore_payload(&p, &LoadLimits::default()).unwrap();
        assert_eq!(
            crate::types::digest::value_digest(&back, false),
            crate::types::digest::value_digest(&v, false)
        );
        for n in 0..p.len() {
            assert!(restore_payload(&p[..n], &LoadLimits::default()).is_err());
        }
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert_eq!(
            restore_payload(&bad, &LoadLimits::default()).err(),
            Some(RdbError::BadPayloadFooter)
        );
    }
}
