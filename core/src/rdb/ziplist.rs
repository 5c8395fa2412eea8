//! Ziplist, the compact encoding of small lists, hashes and sorted sets in RDB files written
//! before Redis 7.0 (types LIST_ZIPLIST, ZSET_ZIPLIST, HASH_ZIPLIST, and the nodes of
//! LIST_QUICKLIST). Read only: the reader converts ziplists to listpacks, as Redis 7.0 does.
//!
//! # Layout (`ziplist.c`)
//!
//! ```text
//! <zlbytes: u32 LE> <zltail: u32 LE> <zllen: u16 LE> <entry> ... <entry> <0xFF>
//! ```
//!
//! `zlbytes` is the size of the whole blob, `zltail` the offset of the last entry, `zllen`
//! the entry count (65535: too many to count, walk to find out). Each entry is
//! `<prevlen> <encoding> <data>`:
//!
//! * `prevlen`: the previous entry's total size — one byte if below 254, else 0xFE and a
//!   u32 LE (the first entry has 0).
//! * `encoding`: `00pppppp` a string of up to 63 bytes; `01pppppp qqqqqqqq` up to 16383
//!   (14 bits, big-endian); `10______` then a u32 big-endian length; `0xC0` int16,
//!   `0xD0` int32, `0xE0` int64, `0xF0` int24, `0xFE` int8 (all little-endian), and
//!   `0xF1..=0xFD` an immediate 0..=12 (the low four bits minus one).
//!
//! # Validation
//!
//! As `ziplistValidateIntegrity(deep=1)`: the header size equals the blob size, the blob ends
//! in 0xFF, every entry's header and data lie inside the blob, every `prevlen` equals the size
//! of the entry before, the walk ends exactly at the terminator, `zltail` points at the last
//! entry, and the count matches `zllen` unless that is 65535.

use crate::types::listpack::Entry;

pub const ZIPLIST_HEADER_SIZE: usize = 10;
pub const ZIP_END: u8 = 0xFF;
pub const ZIP_BIG_PREVLEN: u8 = 254;
pub const ZIP_STR_MASK: u8 = 0xC0;
pub const ZIP_STR_06B: u8 = 0x00;
pub const ZIP_STR_14B: u8 = 0x40;
pub const ZIP_STR_32B: u8 = 0x80;
pub const ZIP_INT_16B: u8 = 0xC0;
pub const ZIP_INT_32B: u8 = 0xD0;
pub const ZIP_INT_64B: u8 = 0xE0;
pub const ZIP_INT_24B: u8 = 0xF0;
pub const ZIP_INT_8B: u8 = 0xFE;
pub const ZIP_INT_IMM_MIN: u8 = 0xF1;
pub const ZIP_INT_IMM_MAX: u8 = 0xFD;
pub const ZIPLIST_COUNT_UNKNOWN: u16 = u16::MAX;

/// Why a blob is not a valid ziplist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZiplistError {
    TooShort,
    SizeMismatch,
    MissingTerminator,
    /// Entry at this offset has an unknown encoding.
    BadEncoding(usize),
    /// Entry at this offset reaches past the terminator.
    EntryOutOfBounds(usize),
    /// Entry at this offset has a prevlen that is not the previous entry's size.
    BadPrevlen(usize),
    /// `zltail` is not the offset of the last entry.
    BadTail,
    CountMismatch,
}

impl std::fmt::Display for ZiplistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZiplistError::TooShort => write!(f, "ziplist too short"),
            ZiplistError::SizeMismatch => write!(f, "ziplist header size mismatch"),
            ZiplistError::MissingTerminator => write!(f, "ziplist terminator missing"),
            ZiplistError::BadEncoding(p) => write!(f, "ziplist bad entry encoding at offset {p}"),
            ZiplistError::EntryOutOfBounds(p) => {
                write!(f, "ziplist entry out of bounds at offset {p}")
            }
            ZiplistError::BadPrevlen(p) => write!(f, "ziplist bad prevlen at offset {p}"),
            ZiplistError::BadTail => write!(f, "ziplist tail offset mismatch"),
            ZiplistError::CountMismatch => write!(f, "ziplist count mismatch"),
        }
    }
}

impl std::error::Error for ZiplistError {}

fn le_int(b: &[u8]) -> i64 {
    // sign-extend a little-endian two's complement integer of 1..=8 bytes
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate() {
        v |= (x as u64) << (8 * i);
    }
    let shift = 64 - 8 * b.len() as u32;
    ((v << shift) as i64) >> shift
}

/// Deep-validates `zl` and calls `f` with every entry in order; returns the entry count.
/// `f` is called only as entries are checked, so a caller must discard what it built when
/// this returns an error.
pub fn for_each<'a>(zl: &'a [u8], mut f: impl FnMut(Entry<'a>)) -> Result<usize, ZiplistError> {
    let size = zl.len();
    if size < ZIPLIST_HEADER_SIZE + 1 {
        return Err(ZiplistError::TooShort);
    }
    let zlbytes = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    let zltail = u32::from_le_bytes([zl[4], zl[5], zl[6], zl[7]]) as usize;
    let zllen = u16::from_le_bytes([zl[8], zl[9]]);
    if zlbytes != size {
        return Err(ZiplistError::SizeMismatch);
    }
    if zl[size - 1] != ZIP_END {
        return Err(ZiplistError::MissingTerminator);
    }
    if zltail > size - 1 {
        return Err(ZiplistError::BadTail);
    }
    let end = size - 1; // offset of the terminator
    let mut p = ZIPLIST_HEADER_SIZE;
    let mut prev_size = 0usize;
    let mut last = None;
    let mut count = 0usize;
    while zl[p] != ZIP_END {
        let start = p;
        let oob = ZiplistError::EntryOutOfBounds(start);
        // prevlen
        let prevlen = if zl[p] < ZIP_BIG_PREVLEN {
            p += 1;
            zl[start] as usize
        } else {
            if p + 5 > end {
                return Err(oob);
            }
            p += 5;
            u32::from_le_bytes([zl[start + 1], zl[start + 2], zl[start + 3], zl[start + 4]])
                as usize
        };
        if prevlen != prev_size {
            return Err(ZiplistError::BadPrevlen(start));
        }
        if p >= end {
            return Err(oob);
        }
        let enc = zl[p];
        let (hdr, data_len, is_str) = if enc < ZIP_STR_MASK {
            match enc & ZIP_STR_MASK {
                ZIP_STR_06B => (1, (enc & 0x3F) as usize, true),
                ZIP_STR_14B => {
                    if p + 2 > end {
                        return Err(oob);
                    }
                    (2, (((enc & 0x3F) as usize) << 8) | zl[p + 1] as usize, true)
                }
                _ => {
                    if p + 5 > end {
                        return Err(oob);
                    }
                    let l = u32::from_be_bytes([zl[p + 1], zl[p + 2], zl[p + 3], zl[p + 4]]);
                    (5, l as usize, true)
                }
            }
        } else {
            let n = match enc {
                ZIP_INT_8B => 1,
                ZIP_INT_16B => 2,
                ZIP_INT_24B => 3,
                ZIP_INT_32B => 4,
                ZIP_INT_64B => 8,
                ZIP_INT_IMM_MIN..=ZIP_INT_IMM_MAX => 0,
                _ => return Err(ZiplistError::BadEncoding(start)),
            };
            (1, n, false)
        };
        let data = p + hdr;
        let next = data.checked_add(data_len).ok_or(oob)?;
        if next > end {
            return Err(oob);
        }
        let body = &zl[data..next];
        let entry = if is_str {
            Entry::Str(body)
        } else if data_len == 0 {
            Entry::Int(((enc & 0x0F) as i64) - 1)
        } else {
            Entry::Int(le_int(body))
        };
        f(entry);
        prev_size = next - start;
        last = Some(start);
        count += 1;
        p = next;
    }
    if p != end {
        return Err(ZiplistError::EntryOutOfBounds(p));
    }
    if let Some(l) = last {
        if l != zltail {
            return Err(ZiplistError::BadTail);
        }
    }
    if zllen != ZIPLIST_COUNT_UNKNOWN && zllen as usize != count {
        return Err(ZiplistError::CountMismatch);
    }
    Ok(count)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a ziplist of strings and integers (as ziplist.c would encode them, for tests).
    pub fn build(items: &[Entry<'_>]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = ZIPLIST_HEADER_SIZE;
        for it in items {
            let start = body.len();
            tail = ZIPLIST_HEADER_SIZE + start;
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(ZIP_BIG_PREVLEN);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            match *it {
                Entry::Str(s) => {
                    if s.len() < 64 {
                        body.push(s.len() as u8);
                    } else if s.len() < 16384 {
                        body.push(0x40 | (s.len() >> 8) as u8);
                        body.push(s.len() as u8);
                    } else {
                        body.push(0x80);
                        body.extend_from_slice(&(s.len() as u32).to_be_bytes());
                    }
                    body.extend_from_slice(s);
                }
                Entry::Int(v) => {
                    if (0..=12).contains(&v) {
                        body.push(ZIP_INT_IMM_MIN + v as u8);
                    } else if let Ok(x) = i8::try_from(v) {
                        body.push(ZIP_INT_8B);
                        body.push(x as u8);
                    } else if let Ok(x) = i16::try_from(v) {
                        body.push(ZIP_INT_16B);
                        body.extend_from_slice(&x.to_le_bytes());
                    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
                        body.push(ZIP_INT_24B);
                        body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                    } else if let Ok(x) = i32::try_from(v) {
                        body.push(ZIP_INT_32B);
                        body.extend_from_slice(&x.to_le_bytes());
                    } else {
                        body.push(ZIP_INT_64B);
                        body.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
            prev = body.len() - start;
        }
        let total = ZIPLIST_HEADER_SIZE + body.len() + 1;
        let mut zl = Vec::with_capacity(total);
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(ZIP_END);
        zl
    }

    #[test]
    fn round_trip_and_corruption() {
        let long = vec![b'z'; 300];
        let items = [
            Entry::Str(b"hello"),
            Entry::Int(7),
            Entry::Int(-100),
            Entry::Int(30000),
            Entry::Int(1 << 20),
            Entry::Int(1 << 30),
            Entry::Int(i64::MIN),
            Entry::Str(&long),
            Entry::Str(b""),
        ];
        let zl = build(&items);
        let mut got = Vec::new();
        assert_eq!(for_each(&zl, |e| got.push(e.to_vec())).unwrap(), items.len());
        let want: Vec<Vec<u8>> = items.iter().map(|e| e.to_vec()).collect();
        assert_eq!(got, want);
        // every truncation and every single-byte change either fails or yields entries
        for n in 0..zl.len() {
            assert!(for_each(&zl[..n], |_| {}).is_err());
        }
        for i in 0..zl.len() {
            for x in [0u8, 1, 0x7F, 0xFE, 0xFF] {
                let mut z = zl.clone();
                z[i] = x;
                let _ = for_each(&z, |_| {});
            }
        }
        let empty = build(&[]);
        assert_eq!(for_each(&empty, |_| {}), Ok(0));
    }
}
