//! Intset: Redis 7.0's sorted array of integers used for small sets whose
//! members are all integers, reproduced byte for byte (see `intset.c`).
//!
//! # Layout
//!
//! ```text
//! <encoding: u32 LE> <length: u32 LE> <contents: length * encoding bytes>
//! ```
//!
//! * `encoding` is the width of every element in bytes:
//!   [`INTSET_ENC_INT16`] (2), [`INTSET_ENC_INT32`] (4) or
//!   [`INTSET_ENC_INT64`] (8).
//! * `length` is the number of elements.
//! * `contents` holds the elements as little-endian signed integers of that
//!   width, strictly ascending (no duplicates).
//!
//! A new intset uses the 16-bit encoding. The width of a value is the
//! smallest of 2/4/8 bytes that holds it. Inserting a value wider than the
//! current encoding *upgrades* the whole set to the new width; since such a
//! value is out of range of all current members it always goes first (if
//! negative) or last (if positive). Removing never downgrades. All of this
//! matches Redis, so the bytes equal Redis's and can be copied to/from RDB
//! (`RDB_TYPE_SET_INTSET`) unchanged.
//!
//! # Validation
//!
//! [`IntSet::from_bytes`] performs Redis's deep check
//! (`intsetValidateIntegrity(deep=1)`): header readable, encoding is 2, 4 or
//! 8, `8 + length * encoding` equals the buffer size, the set is **not
//! empty** (Redis rejects empty intsets in RDB/RESTORE payloads, so does
//! this; `IntSet::new()` is of course fine in memory), and the elements are
//! strictly ascending.

use std::fmt;

/// 16-bit elements.
pub const INTSET_ENC_INT16: u32 = 2;
/// 32-bit elements.
pub const INTSET_ENC_INT32: u32 = 4;
/// 64-bit elements.
pub const INTSET_ENC_INT64: u32 = 8;
/// Header size: encoding (u32) + length (u32).
pub const INTSET_HDR_SIZE: usize = 8;

/// Why a byte buffer is not a valid intset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the 8-byte header.
    TooShort,
    /// Encoding field is not 2, 4 or 8.
    BadEncoding(u32),
    /// `8 + length * encoding` differs from the buffer size.
    SizeMismatch,
    /// Zero elements (Redis refuses empty intsets).
    Empty,
    /// Element at this index is not greater than the previous one.
    NotAscending(usize),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooShort => write!(f, "intset too short"),
            Error::BadEncoding(e) => write!(f, "intset bad encoding {e}"),
            Error::SizeMismatch => write!(f, "intset size mismatch"),
            Error::Empty => write!(f, "intset is empty"),
            Error::NotAscending(i) => write!(f, "intset element {i} out of order or duplicate"),
        }
    }
}

impl std::error::Error for Error {}

/// Width (in bytes) Redis uses for `v`.
pub fn value_encoding(v: i64) -> u32 {
    if v < i64::from(i32::MIN) || v > i64::from(i32::MAX) {
        INTSET_ENC_INT64
    } else if v < i64::from(i16::MIN) || v > i64::from(i16::MAX) {
        INTSET_ENC_INT32
    } else {
        INTSET_ENC_INT16
    }
}

/// Read element `i` from raw contents of width `enc`.
#[inline]
fn read_at(contents: &[u8], enc: usize, i: usize) -> i64 {
    let s = &contents[i * enc..i * enc + enc];
    match enc {
        2 => i64::from(i16::from_le_bytes([s[0], s[1]])),
        4 => i64::from(i32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        _ => i64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
    }
}

/// Write `v` (which fits) at element slot `out` of width `enc`.
#[inline]
fn write_val(out: &mut [u8], enc: usize, v: i64) {
    match enc {
        2 => out.copy_from_slice(&(v as i16).to_le_bytes()),
        4 => out.copy_from_slice(&(v as i32).to_le_bytes()),
        _ => out.copy_from_slice(&v.to_le_bytes()),
    }
}

/// An owned intset; the buffer always holds valid intset bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct IntSet {
    buf: Vec<u8>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::new()
    }
}

impl fmt::Debug for IntSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl IntSet {
    /// Empty 16-bit intset: `02 00 00 00 00 00 00 00`.
    pub fn new() -> IntSet {
        let mut buf = Vec::with_capacity(INTSET_HDR_SIZE);
        buf.extend_from_slice(&INTSET_ENC_INT16.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        IntSet { buf }
    }

    /// Deep-validate and adopt `bytes` (safe on untrusted input).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<IntSet, Error> {
        validate(&bytes)?;
        let mut bytes = bytes;
        bytes.shrink_to_fit();
        Ok(IntSet { buf: bytes })
    }

    /// Raw intset bytes (what goes into an RDB file).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Element width in bytes (2, 4 or 8).
    pub fn encoding(&self) -> u32 {
        u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
    }

    pub fn len(&self) -> usize {
        u32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total size in bytes (Redis's `intsetBlobLen`).
    pub fn bytes_len(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    fn enc(&self) -> usize {
        self.encoding() as usize
    }

    #[inline]
    fn contents(&self) -> &[u8] {
        &self.buf[INTSET_HDR_SIZE..]
    }

    fn set_len(&mut self, n: usize) {
        let n = u32::try_from(n).expect("intset length exceeds u32");
        self.buf[4..8].copy_from_slice(&n.to_le_bytes());
    }

    /// Element at position `i` in ascending order.
    pub fn get(&self, i: usize) -> Option<i64> {
        if i < self.len() { Some(read_at(self.contents(), self.enc(), i)) } else { None }
    }

    /// Binary search: `Ok(pos)` if found, `Err(insert_pos)` otherwise.
    fn search(&self, v: i64) -> Result<usize, usize> {
        let (enc, c) = (self.enc(), self.contents());
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let m = read_at(c, enc, mid);
            if m < v {
                lo = mid + 1;
            } else if m > v {
                hi = mid;
            } else {
                return Ok(mid);
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        value_encoding(v) <= self.encoding() && self.search(v).is_ok()
    }

    /// Insert `v`; `false` if it was already present.
    pub fn insert(&mut self, v: i64) -> bool {
        let venc = value_encoding(v);
        if venc > self.encoding() {
            self.upgrade_and_add(v, venc as usize);
            return true;
        }
        let pos = match self.search(v) {
            Ok(_) => return false,
            Err(p) => p,
        };
        let enc = self.enc();
        let len = self.len();
        let at = INTSET_HDR_SIZE + pos * enc;
        let old_total = self.buf.len();
        self.buf.reserve_exact(enc);
        self.buf.resize(old_total + enc, 0);
        self.buf.copy_within(at..old_total, at + enc);
        write_val(&mut self.buf[at..at + enc], enc, v);
        self.set_len(len + 1);
        true
    }

    fn upgrade_and_add(&mut self, v: i64, new_enc: usize) {
        let old_enc = self.enc();
        let len = self.len();
        let mut nb = Vec::with_capacity(INTSET_HDR_SIZE + (len + 1) * new_enc);
        nb.extend_from_slice(&(new_enc as u32).to_le_bytes());
        nb.extend_from_slice(&((len + 1) as u32).to_le_bytes());
        nb.resize(INTSET_HDR_SIZE + (len + 1) * new_enc, 0);
        // v is outside the old range: first if negative, last otherwise.
        let prepend = usize::from(v < 0);
        for i in 0..len {
            let x = read_at(&self.buf[INTSET_HDR_SIZE..], old_enc, i);
            let at = INTSET_HDR_SIZE + (i + prepend) * new_enc;
            write_val(&mut nb[at..at + new_enc], new_enc, x);
        }
        let at = if prepend == 1 { INTSET_HDR_SIZE } else { INTSET_HDR_SIZE + len * new_enc };
        write_val(&mut nb[at..at + new_enc], new_enc, v);
        self.buf = nb;
    }

    /// Remove `v`; `false` if absent. Never downgrades the encoding.
    pub fn remove(&mut self, v: i64) -> bool {
        if value_encoding(v) > self.encoding() {
            return false;
        }
        let pos = match self.search(v) {
            Ok(p) => p,
            Err(_) => return false,
        };
        let enc = self.enc();
        let len = self.len();
        let at = INTSET_HDR_SIZE + pos * enc;
        self.buf.drain(at..at + enc);
        self.set_len(len - 1);
        if self.buf.capacity() > self.buf.len() * 2 + 64 {
            self.buf.shrink_to_fit();
        }
        true
    }

    pub fn min(&self) -> Option<i64> {
        self.get(0)
    }

    pub fn max(&self) -> Option<i64> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// A random member (`rng() % len`, as Redis's `intsetRandom`), `None` if
    /// empty. `rng` is any source of random u64s.
    pub fn random(&self, mut rng: impl FnMut() -> u64) -> Option<i64> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        self.get((rng() % len as u64) as usize)
    }

    /// Ascending, double-ended iterator.
    pub fn iter(&self) -> Iter<'_> {
        Iter { contents: self.contents(), enc: self.enc(), front: 0, back: self.len() }
    }

    /// Heap bytes allocated.
    pub fn allocated_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

/// Deep-validate raw intset bytes (see module docs). Never panics.
pub fn validate(buf: &[u8]) -> Result<usize, Error> {
    if buf.len() < INTSET_HDR_SIZE {
        return Err(Error::TooShort);
    }
    let enc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if enc != INTSET_ENC_INT16 && enc != INTSET_ENC_INT32 && enc != INTSET_ENC_INT64 {
        return Err(Error::BadEncoding(enc));
    }
    let count = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]) as u64;
    if INTSET_HDR_SIZE as u64 + count * u64::from(enc) != buf.len() as u64 {
        return Err(Error::SizeMismatch);
    }
    if count == 0 {
        return Err(Error::Empty);
    }
    let (c, enc) = (&buf[INTSET_HDR_SIZE..], enc as usize);
    let count = count as usize;
    let mut prev = read_at(c, enc, 0);
    for i in 1..count {
        let cur = read_at(c, enc, i);
        if cur <= prev {
            return Err(Error::NotAscending(i));
        }
        prev = cur;
    }
    Ok(count)
}

/// Iterator over an intset's members in ascending order.
#[derive(Clone)]
pub struct Iter<'a> {
    contents: &'a [u8],
    enc: usize,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = i64;
    fn next(&mut self) -> Option<i64> {
        if self.front >= self.back {
            return None;
        }
        let v = read_at(self.contents, self.enc, self.front);
        self.front += 1;
        Some(v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<i64> {
        if self.front >= self.back {
            return None;
        }
        self.back -= 1;
        Some(read_at(self.contents, self.enc, self.back))
    }
}

impl<'a> ExactSizeIterator for Iter<'a> {}

impl<'a> IntoIterator for &'a IntSet {
    type Item = i64;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::SplitMix64 as Rng;
    use std::collections::BTreeSet;

    #[test]
    fn bytes_exact_and_upgrades() {
        let mut s = IntSet::new();
        assert_eq!(s.as_bytes(), &[2, 0, 0, 0, 0, 0, 0, 0]);
        assert!(s.insert(5));
        assert!(s.insert(1));
        assert!(!s.insert(5));
        assert_eq!(s.as_bytes(), &[2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 5, 0]);
        assert!(s.insert(-2));
        assert_eq!(s.as_bytes(), &[2, 0, 0, 0, 3, 0, 0, 0, 0xFE, 0xFF, 1, 0, 5, 0]);
        // Upgrade to 32-bit, value appended.
        assert!(s.insert(65536));
        assert_eq!(
            s.as_bytes(),
            &[4, 0, 0, 0, 4, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 1, 0]
        );
        // Upgrade to 64-bit, negative value prepended.
        let big = -5_000_000_000i64;
        assert!(s.insert(big));
        let mut exp = vec![8, 0, 0, 0, 5, 0, 0, 0];
        for v in [big, -2, 1, 5, 65536] {
            exp.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(s.as_bytes(), &exp[..]);
        // Removing doesn't downgrade.
        assert!(s.remove(big));
        assert!(!s.remove(big));
        assert_eq!(s.encoding(), INTSET_ENC_INT64);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-2, 1, 5, 65536]);
        assert_eq!((s.min(), s.max()), (Some(-2), Some(65536)));
        assert_eq!(IntSet::from_bytes(s.as_bytes().to_vec()).unwrap(), s);
    }

    #[test]
    fn value_encodings() {
        assert_eq!(value_encoding(-32768), 2);
        assert_eq!(value_encoding(32767), 2);
        assert_eq!(value_encoding(-32769), 4);
        assert_eq!(value_encoding(32768), 4);
        assert_eq!(value_encoding(i32::MIN as i64), 4);
        assert_eq!(value_encoding(i32::MAX as i64 + 1), 8);
        assert_eq!(value_encoding(i64::MIN), 8);
    }

    #[test]
    fn contains_wide_values_on_narrow_set() {
        let mut s = IntSet::new();
        s.insert(3);
        assert!(!s.contains(1 << 40));
        assert!(!s.remove(1 << 40));
        assert!(s.contains(3));
        assert_eq!(s.random(|| 12345), Some(3));
        assert_eq!(IntSet::new().random(|| 1), None);
    }

    #[test]
    fn validation() {
        assert_eq!(IntSet::from_bytes(vec![2, 0, 0]), Err(Error::TooShort));
        assert_eq!(IntSet::from_bytes(vec![3, 0, 0, 0, 0, 0, 0, 0]), Err(Error::BadEncoding(3)));
        assert_eq!(IntSet::from_bytes(vec![2, 0, 0, 0, 0, 0, 0, 0]), Err(Error::Empty));
        assert_eq!(IntSet::from_bytes(vec![2, 0, 0, 0, 1, 0, 0, 0]), Err(Error::SizeMismatch));
        assert_eq!(
            IntSet::from_bytes(vec![2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 5, 0]),
            Err(Error::NotAscending(1))
        );
        assert_eq!(
            IntSet::from_bytes(vec![2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 4, 0]),
            Err(Error::NotAscending(1))
        );
        assert_eq!(
            IntSet::from_bytes(vec![2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 5, 0]),
            Err(Error::SizeMismatch)
        );
        // Redis accepts a non-minimal encoding (e.g. 64-bit holding small values).
        let mut b = vec![8, 0, 0, 0, 2, 0, 0, 0];
        b.extend_from_slice(&1i64.to_le_bytes());
        b.extend_from_slice(&2i64.to_le_bytes());
        let s = IntSet::from_bytes(b).unwrap();
        assert!(s.contains(2));
    }

    #[test]
    fn model_random_ops() {
        let mut rng = Rng::new(42);
        let mut s = IntSet::new();
        let mut m = BTreeSet::new();
        for step in 0..30_000 {
            let v = match rng.below(4) {
                0 => rng.below(200) as i64 - 100,
                1 => rng.below(200_000) as i64 - 100_000,
                2 => (rng.next_u64() as i64) >> rng.below(64),
                _ => *m.iter().nth(rng.below(m.len() as u64 + 1) as usize).unwrap_or(&0),
            };
            match rng.below(3) {
                0 | 1 => assert_eq!(s.insert(v), m.insert(v)),
                _ => assert_eq!(s.remove(v), m.remove(&v)),
            }
            assert_eq!(s.contains(v), m.contains(&v));
            if step % 500 == 0 {
                assert!(s.iter().eq(m.iter().copied()));
                assert!(s.iter().rev().eq(m.iter().rev().copied()));
                assert_eq!(s.len(), m.len());
                assert_eq!(s.min(), m.iter().next().copied());
                assert_eq!(s.max(), m.iter().next_back().copied());
                let need = m.iter().map(|&x| value_encoding(x)).max().unwrap_or(2);
                assert!(s.encoding() >= need);
                if !m.is_empty() {
                    assert_eq!(validate(s.as_bytes()), Ok(m.len()));
                    let r = s.random(|| rng.next_u64()).unwrap();
                    assert!(m.contains(&r));
                }
            }
        }
    }

    #[test]
    fn fuzz_from_bytes() {
        let mut rng = Rng::new(7);
        let mut base = IntSet::new();
        for v in [-70000i64, -3, 0, 9, 1000, 1 << 33] {
            base.insert(v);
        }
        let mut accepted = 0;
        for i in 0..20_000 {
            let b: Vec<u8> = if i % 2 == 0 {
                let n = rng.below(40) as usize;
                let mut b: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
                if n >= 8 && rng.chance(70) {
                    let enc = [2u32, 4, 8][rng.below(3) as usize];
                    b[..4].copy_from_slice(&enc.to_le_bytes());
                    let cnt = ((n - 8) / enc as usize) as u32;
                    b[4..8].copy_from_slice(&cnt.to_le_bytes());
                    b.truncate(8 + cnt as usize * enc as usize);
                }
                b
            } else {
                let mut b = base.as_bytes().to_vec();
                let j = rng.below(b.len() as u64) as usize;
                b[j] ^= 1 << rng.below(8);
                b
            };
            if let Ok(s) = IntSet::from_bytes(b) {
                accepted += 1;
                let v: Vec<i64> = s.iter().collect();
                assert!(v.windows(2).all(|w| w[0] < w[1]));
                for x in &v {
                    assert!(s.contains(*x));
                }
            }
        }
        assert!(accepted > 50);
    }
}
