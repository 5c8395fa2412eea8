//! The RDB checksum: CRC-64 in Redis's variant ("Jones" polynomial 0xad93d23594c935a9,
//! reflected input and output, initial value 0, no final xor; the check value — the CRC of
//! the nine bytes "123456789" — is 0xe9c6d914c4b8d9ca).
//!
//! Redis computes it over every byte of an RDB file from the "REDIS" magic up to and including
//! the EOF opcode, and stores it as 8 little-endian bytes after the EOF opcode (zero when
//! `rdbchecksum no`: a reader then skips the check). A DUMP payload ends with the same CRC of
//! everything before it.
//!
//! The arithmetic is `crc-fast`'s CRC-64/REDIS (SIMD folding). Note that `crc64fast` computes
//! CRC-64/XZ, a different polynomial whose checksums real Redis rejects.

use crc_fast::{CrcAlgorithm, Digest};

/// CRC-64/Redis of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(CrcAlgorithm::Crc64Redis, data)
}

/// An incremental CRC-64/Redis.
pub struct Crc64(Digest);

impl Crc64 {
    pub fn new() -> Crc64 {
        Crc64(Digest::new(CrcAlgorithm::Crc64Redis))
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn value(&self) -> u64 {
        self.0.finalize()
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Crc64::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(b""), 0);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut c = Crc64::new();
        for chunk in data.chunks(7) {
            c.update(chunk);
        }
        assert_eq!(c.value(), crc64(&data));
    }
}
