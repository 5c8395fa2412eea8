//! Listpack: Redis 7.0's compact serialization of a sequence of strings and
//! integers, reproduced byte for byte (see `listpack.c` in Redis 7.0).
//!
//! # Layout
//!
//! ```text
//! <total-bytes: u32 LE> <num-elements: u16 LE> <entry> ... <entry> <0xFF>
//! ```
//!
//! * `total-bytes` is the size of the whole buffer, header and terminator
//!   included (so the smallest listpack is 7 bytes).
//! * `num-elements` is the entry count, or [`LP_HDR_NUMELE_UNKNOWN`] (65535)
//!   when the count does not fit; then it must be found by scanning.
//! * [`LP_EOF`] (0xFF) terminates the listpack. No entry starts with 0xFF.
//!
//! # Entries
//!
//! Every entry is `<encoding-type+data> <backlen>`.
//! The first byte selects the encoding:
//!
//! | first byte  | constant                  | meaning                                            | size of encoding+data |
//! |-------------|---------------------------|----------------------------------------------------|----------------------|
//! | `0xxxxxxx`  | [`LP_ENCODING_7BIT_UINT`] | unsigned int 0..=127 in the low 7 bits             | 1 |
//! | `10xxxxxx`  | [`LP_ENCODING_6BIT_STR`]  | string, length 0..=63 in the low 6 bits            | 1 + len |
//! | `110xxxxx`  | [`LP_ENCODING_13BIT_INT`] | 13-bit two's complement int, high 5 bits here, low 8 bits in the next byte (-4096..=4095) | 2 |
//! | `1110xxxx`  | [`LP_ENCODING_12BIT_STR`] | string, length 0..=4095: low 4 bits are the high bits of the length, next byte the low 8 bits | 2 + len |
//! | `0xF0`      | [`LP_ENCODING_32BIT_STR`] | string, length in the next 4 bytes (u32 LE)        | 5 + len |
//! | `0xF1`      | [`LP_ENCODING_16BIT_INT`] | i16 LE follows                                      | 3 |
//! | `0xF2`      | [`LP_ENCODING_24BIT_INT`] | 24-bit two's complement LE follows                  | 4 |
//! | `0xF3`      | [`LP_ENCODING_32BIT_INT`] | i32 LE follows                                      | 5 |
//! | `0xF4`      | [`LP_ENCODING_64BIT_INT`] | i64 LE follows                                      | 9 |
//! | `0xF5-0xFE` | —                         | unused (invalid)                                    | — |
//! | `0xFF`      | [`LP_EOF`]                | terminator                                          | 1 |
//!
//! When writing, Redis picks the *smallest* encoding: an element whose bytes
//! parse as an integer under Redis's strict `string2ll` rules (optional `-`,
//! no leading zeros, no `+`, no spaces, fits in i64, `"-0"` is not an
//! integer) is stored as an integer using the first of 7-bit uint (0..=127),
//! 13-bit, 16-bit, 24-bit, 32-bit, 64-bit that fits. Other elements are
//! strings: 6-bit length if len < 64, 12-bit if len < 4096, else 32-bit.
//! This module does exactly the same, so the bytes equal Redis's.
//!
//! # backlen
//!
//! `backlen` stores `L` = the size of this entry's encoding+data (not
//! counting backlen itself) so the listpack can be walked backwards. It uses
//! 1 to 5 bytes, 7 bits of `L` per byte, and is read *from its last byte
//! towards the front*: the last byte holds the lowest 7 bits, and every byte
//! except the first (lowest-address) one has the high bit (128) set to say
//! "more bytes precede". Byte count: 1 if `L <= 127`, 2 if `L < 16383`,
//! 3 if `L < 2097151`, 4 if `L < 268435455`, else 5 (Redis's exact bounds).
//!
//! # Validation
//!
//! [`Listpack::from_bytes`] performs Redis's deep integrity check
//! (`lpValidateIntegrity(deep=1)`): header size equals buffer size,
//! terminator present, every entry has a valid encoding byte, its length
//! bytes and data stay inside the buffer, its backlen matches its size,
//! and the header count (unless 65535) equals the real count. It is a bit
//! stricter than Redis in two points, neither of which a listpack written by
//! Redis can hit: the first 0xFF met while walking must be the last byte
//! (Redis stops at any 0xFF and ignores what follows), and each backlen must
//! be the canonical encoding of the entry size (Redis only checks that
//! decoding backwards yields the size, and that decode may wander into bytes
//! before the backlen field, e.g. `00 81` decodes as 1). Entries
//! with non-minimal encodings (e.g. the integer 5 stored as a 64-bit int, or
//! "12" stored as a string) are accepted, as Redis accepts them.
//!
//! # Differences from Redis worth knowing
//!
//! * The element count is also cached in the struct. The header count is
//!   always rewritten as the exact count when it is below 65535 (Redis leaves
//!   65535 after deleting from a huge listpack until `lpLength` fixes it);
//!   both forms are valid listpacks.
//! * Allocation: growth reserves ~12.5% slack, shrink happens when more
//!   than ~25% is unused (Redis reallocs to the exact size every time).
//! * Byte positions (`usize` offsets into [`Listpack::as_bytes`]) act as
//!   cursors, like Redis's `unsigned char *p`. Passing a position that was not
//!   obtained from this listpack (or that a mutation invalidated) gives
//!   garbage results or a panic, never undefined behaviour.
//! * Writing more than `u32::MAX` bytes panics; call
//!   [`Listpack::safe_to_add`] first, as Redis does.

use std::fmt;

/// Header: 4 bytes total size + 2 bytes element count.
pub const LP_HDR_SIZE: usize = 6;
/// Header count value meaning "too many, scan to count".
pub const LP_HDR_NUMELE_UNKNOWN: u16 = u16::MAX;
/// Terminator byte.
pub const LP_EOF: u8 = 0xFF;
/// Longest integer encoding (0xF4 + 8 bytes).
pub const LP_MAX_INT_ENCODING_LEN: usize = 9;
/// Longest backlen field.
pub const LP_MAX_BACKLEN_SIZE: usize = 5;
/// Buffer size sufficient to render any i64 in decimal (Redis's LP_INTBUF_SIZE).
pub const LP_INTBUF_SIZE: usize = 21;
/// Redis refuses to grow a listpack past this many bytes (1 GiB).
pub const LISTPACK_MAX_SAFETY_SIZE: usize = 1 << 30;

pub const LP_ENCODING_7BIT_UINT: u8 = 0x00;
pub const LP_ENCODING_7BIT_UINT_MASK: u8 = 0x80;
pub const LP_ENCODING_6BIT_STR: u8 = 0x80;
pub const LP_ENCODING_6BIT_STR_MASK: u8 = 0xC0;
pub const LP_ENCODING_13BIT_INT: u8 = 0xC0;
pub const LP_ENCODING_13BIT_INT_MASK: u8 = 0xE0;
pub const LP_ENCODING_12BIT_STR: u8 = 0xE0;
pub const LP_ENCODING_12BIT_STR_MASK: u8 = 0xF0;
pub const LP_ENCODING_16BIT_INT: u8 = 0xF1;
pub const LP_ENCODING_24BIT_INT: u8 = 0xF2;
pub const LP_ENCODING_32BIT_INT: u8 = 0xF3;
pub const LP_ENCODING_64BIT_INT: u8 = 0xF4;
pub const LP_ENCODING_32BIT_STR: u8 = 0xF0;

/// Rendering buffer for [`Entry::as_bytes`].
pub type IntBuf = [u8; LP_INTBUF_SIZE];

/// Why a byte buffer is not a valid listpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than header + terminator.
    TooShort,
    /// Header total-bytes field differs from the buffer length.
    SizeMismatch,
    /// Last byte is not 0xFF.
    MissingTerminator,
    /// Entry at this offset has an unknown encoding byte (or a stray 0xFF).
    BadEncoding(usize),
    /// Entry at this offset extends past the terminator.
    EntryOutOfBounds(usize),
    /// Entry at this offset has a backlen that does not match its size.
    BadBacklen(usize),
    /// Header element count differs from the real count.
    CountMismatch { header: u16, actual: usize },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooShort => write!(f, "listpack too short"),
            Error::SizeMismatch => write!(f, "listpack header size mismatch"),
            Error::MissingTerminator => write!(f, "listpack terminator missing"),
            Error::BadEncoding(p) => write!(f, "listpack bad entry encoding at offset {p}"),
            Error::EntryOutOfBounds(p) => write!(f, "listpack entry out of bounds at offset {p}"),
            Error::BadBacklen(p) => write!(f, "listpack bad backlen for entry at offset {p}"),
            Error::CountMismatch { header, actual } => {
                write!(f, "listpack count mismatch: header {header}, actual {actual}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Parse `s` as an i64 with Redis's strict `string2ll` rules: optional `-`,
/// then digits with no leading zero (except "0" itself), nothing else, no
/// overflow. `"-0"`, `"+1"`, `"01"`, `" 1"`, `""` are not integers.
pub fn string_to_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        if v > i64::MAX as u64 {
            return None;
        }
        Some(v as i64)
    }
}

/// Render `v` in decimal into `buf`, returning the number of bytes written.
pub fn write_i64(v: i64, buf: &mut IntBuf) -> usize {
    let mut tmp = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut len = 0;
    if v < 0 {
        buf[0] = b'-';
        len = 1;
    }
    let digits = &tmp[i..];
    buf[len..len + digits.len()].copy_from_slice(digits);
    len + digits.len()
}

/// One decoded listpack element. Strings borrow from the listpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> Entry<'a> {
    /// The element as bytes (integers rendered in decimal into `buf`).
    pub fn as_bytes<'b>(&self, buf: &'b mut IntBuf) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Entry::Str(s) => s,
            Entry::Int(v) => {
                let n = write_i64(v, buf);
                &buf[..n]
            }
        }
    }

    /// The element as an owned byte vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = [0u8; LP_INTBUF_SIZE];
        self.as_bytes(&mut buf).to_vec()
    }

    /// Compare with `s` as Redis's `lpCompare` does: strings byte-wise,
    /// integers equal to `s` only if `s` is that integer's canonical decimal
    /// form (`"12"` equals `Int(12)`, `"012"` does not).
    pub fn eq_bytes(&self, s: &[u8]) -> bool {
        match *self {
            Entry::Str(x) => x == s,
            Entry::Int(v) => string_to_i64(s) == Some(v),
        }
    }

    /// Integer value: `Int` as is, `Str` if it parses under `string2ll` rules.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Entry::Int(v) => Some(v),
            Entry::Str(s) => string_to_i64(s),
        }
    }

    /// Length in bytes of the element's string form.
    pub fn str_len(&self) -> usize {
        match *self {
            Entry::Str(s) => s.len(),
            Entry::Int(v) => {
                let mut buf = [0u8; LP_INTBUF_SIZE];
                write_i64(v, &mut buf)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Low-level helpers (operate on raw bytes).
// ---------------------------------------------------------------------------

/// Number of bytes needed to store backlen value `l`.
#[inline]
pub fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

/// Write the backlen for `l` into `out` (which must be `backlen_size(l)` long).
fn encode_backlen(l: usize, out: &mut [u8]) {
    let n = out.len();
    debug_assert_eq!(n, backlen_size(l));
    let l = l as u64;
    // out[n-1] has the lowest 7 bits; all bytes except out[0] carry bit 128.
    for (i, b) in out.iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        let bits = ((l >> shift) & 127) as u8;
        *b = if i == 0 { (l >> shift) as u8 } else { bits | 128 };
    }
}

/// Decode a backlen whose last byte is `buf[last]`, reading backwards.
/// Returns `None` if more than 5 bytes would be needed or the read would
/// leave the buffer.
#[inline]
fn decode_backlen(buf: &[u8], last: usize) -> Option<usize> {
    let mut val: u64 = 0;
    let mut shift = 0u32;
    let mut p = last;
    loop {
        let b = *buf.get(p)?;
        val |= u64::from(b & 127) << shift;
        if b & 128 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
        p = p.checked_sub(1)?;
    }
    Some(val as usize)
}

/// Decode the entry starting at `p` of a *validated* buffer. Returns the
/// entry and the size of encoding+data (backlen excluded).
#[inline]
fn decode_entry(buf: &[u8], p: usize) -> (Entry<'_>, usize) {
    let b = buf[p];
    if b & LP_ENCODING_7BIT_UINT_MASK == LP_ENCODING_7BIT_UINT {
        (Entry::Int(i64::from(b & 0x7F)), 1)
    } else if b & LP_ENCODING_6BIT_STR_MASK == LP_ENCODING_6BIT_STR {
        let len = usize::from(b & 0x3F);
        (Entry::Str(&buf[p + 1..p + 1 + len]), 1 + len)
    } else if b & LP_ENCODING_13BIT_INT_MASK == LP_ENCODING_13BIT_INT {
        let u = (u16::from(b & 0x1F) << 8) | u16::from(buf[p + 1]);
        let v = if u >= 1 << 12 { i64::from(u) - (1 << 13) } else { i64::from(u) };
        (Entry::Int(v), 2)
    } else if b & LP_ENCODING_12BIT_STR_MASK == LP_ENCODING_12BIT_STR {
        let len = (usize::from(b & 0x0F) << 8) | usize::from(buf[p + 1]);
        (Entry::Str(&buf[p + 2..p + 2 + len]), 2 + len)
    } else {
        match b {
            LP_ENCODING_16BIT_INT => {
                let v = i16::from_le_bytes([buf[p + 1], buf[p + 2]]);
                (Entry::Int(i64::from(v)), 3)
            }
            LP_ENCODING_24BIT_INT => {
                // Place the 3 bytes in the top of an i32 and shift down to sign-extend.
                let v = i32::from_le_bytes([0, buf[p + 1], buf[p + 2], buf[p + 3]]) >> 8;
                (Entry::Int(i64::from(v)), 4)
            }
            LP_ENCODING_32BIT_INT => {
                let v = i32::from_le_bytes([buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4]]);
                (Entry::Int(i64::from(v)), 5)
            }
            LP_ENCODING_64BIT_INT => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&buf[p + 1..p + 9]);
                (Entry::Int(i64::from_le_bytes(a)), 9)
            }
            LP_ENCODING_32BIT_STR => {
                let len =
                    u32::from_le_bytes([buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4]]) as usize;
                (Entry::Str(&buf[p + 5..p + 5 + len]), 5 + len)
            }
            _ => panic!("listpack: invalid encoding byte {b:#x} at {p} (corrupt listpack)"),
        }
    }
}

/// Size of encoding+data of the entry at `p` (validated buffer).
#[inline]
fn entry_size(buf: &[u8], p: usize) -> usize {
    let b = buf[p];
    if b & LP_ENCODING_7BIT_UINT_MASK == LP_ENCODING_7BIT_UINT {
        1
    } else if b & LP_ENCODING_6BIT_STR_MASK == LP_ENCODING_6BIT_STR {
        1 + usize::from(b & 0x3F)
    } else if b & LP_ENCODING_13BIT_INT_MASK == LP_ENCODING_13BIT_INT {
        2
    } else if b & LP_ENCODING_12BIT_STR_MASK == LP_ENCODING_12BIT_STR {
        2 + ((usize::from(b & 0x0F) << 8) | usize::from(buf[p + 1]))
    } else {
        match b {
            LP_ENCODING_16BIT_INT => 3,
            LP_ENCODING_24BIT_INT => 4,
            LP_ENCODING_32BIT_INT => 5,
            LP_ENCODING_64BIT_INT => 9,
            LP_ENCODING_32BIT_STR => {
                5 + u32::from_le_bytes([buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4]]) as usize
            }
            _ => panic!("listpack: invalid encoding byte {b:#x} at {p} (corrupt listpack)"),
        }
    }
}

/// Full size (encoding+data+backlen) of the entry at `p`.
#[inline]
fn full_entry_size(buf: &[u8], p: usize) -> usize {
    let l = entry_size(buf, p);
    l + backlen_size(l)
}

/// Deep-validate `buf` as a listpack (see module docs). Returns the number
/// of entries. Never panics, never reads out of bounds.
pub fn validate(buf: &[u8]) -> Result<usize, Error> {
    if buf.len() < LP_HDR_SIZE + 1 {
        return Err(Error::TooShort);
    }
    let total = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as u64;
    if total != buf.len() as u64 {
        return Err(Error::SizeMismatch);
    }
    let eof = buf.len() - 1;
    if buf[eof] != LP_EOF {
        return Err(Error::MissingTerminator);
    }
    let header = u16::from_le_bytes([buf[4], buf[5]]);
    let mut p = LP_HDR_SIZE;
    let mut count = 0usize;
    while p < eof {
        let b = buf[p];
        // Bytes of encoding type + length field.
        let lenbytes: usize = if b & LP_ENCODING_7BIT_UINT_MASK == LP_ENCODING_7BIT_UINT
            || b & LP_ENCODING_6BIT_STR_MASK == LP_ENCODING_6BIT_STR
            || b & LP_ENCODING_13BIT_INT_MASK == LP_ENCODING_13BIT_INT
        {
            1
        } else if b & LP_ENCODING_12BIT_STR_MASK == LP_ENCODING_12BIT_STR {
            2
        } else {
            match b {
                LP_ENCODING_16BIT_INT
                | LP_ENCODING_24BIT_INT
                | LP_ENCODING_32BIT_INT
                | LP_ENCODING_64BIT_INT => 1,
                LP_ENCODING_32BIT_STR => 5,
                _ => return Err(Error::BadEncoding(p)),
            }
        };
        // The length field must lie before the terminator.
        if p + lenbytes > eof {
            return Err(Error::EntryOutOfBounds(p));
        }
        let l = entry_size(buf, p); // safe: only reads p..p+lenbytes
        let next = (p as u64) + (l as u64) + (backlen_size(l) as u64);
        if next > eof as u64 {
            return Err(Error::EntryOutOfBounds(p));
        }
        let next = next as usize;
        // The backlen must be exactly the canonical encoding of `l` (what
        // Redis writes). Redis only checks that decoding backwards yields
        // `l`, which lets a decode run past the field into earlier bytes;
        // such an entry would become invalid once something is inserted in
        // front of it, so it is rejected here.
        let bl = backlen_size(l);
        let mut canon = [0u8; LP_MAX_BACKLEN_SIZE];
        encode_backlen(l, &mut canon[..bl]);
        if buf[next - bl..next] != canon[..bl] {
            return Err(Error::BadBacklen(p));
        }
        count += 1;
        p = next;
    }
    if header != LP_HDR_NUMELE_UNKNOWN && usize::from(header) != count {
        return Err(Error::CountMismatch { header, actual: count });
    }
    Ok(count)
}

/// An element encoded the way Redis would, before being written.
enum Encoded<'s> {
    Int { bytes: [u8; LP_MAX_INT_ENCODING_LEN], len: usize },
    Str { hdr: [u8; 5], hdr_len: usize, data: &'s [u8] },
}

impl<'s> Encoded<'s> {
    fn int(v: i64) -> Encoded<'static> {
        let mut bytes = [0u8; LP_MAX_INT_ENCODING_LEN];
        let len = if (0..=127).contains(&v) {
            bytes[0] = v as u8;
            1
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1FFF; // 13-bit two's complement
            bytes[0] = LP_ENCODING_13BIT_INT | (u >> 8) as u8;
            bytes[1] = u as u8;
            2
        } else if (-32768..=32767).contains(&v) {
            bytes[0] = LP_ENCODING_16BIT_INT;
            bytes[1..3].copy_from_slice(&(v as i16).to_le_bytes());
            3
        } else if (-8_388_608..=8_388_607).contains(&v) {
            bytes[0] = LP_ENCODING_24BIT_INT;
            bytes[1..4].copy_from_slice(&(v as i32).to_le_bytes()[..3]);
            4
        } else if (-2_147_483_648..=2_147_483_647).contains(&v) {
            bytes[0] = LP_ENCODING_32BIT_INT;
            bytes[1..5].copy_from_slice(&(v as i32).to_le_bytes());
            5
        } else {
            bytes[0] = LP_ENCODING_64BIT_INT;
            bytes[1..9].copy_from_slice(&v.to_le_bytes());
            9
        };
        Encoded::Int { bytes, len }
    }

    fn new(s: &'s [u8]) -> Encoded<'s> {
        if let Some(v) = string_to_i64(s) {
            return Encoded::int(v);
        }
        let mut hdr = [0u8; 5];
        let len = s.len();
        let hdr_len = if len < 64 {
            hdr[0] = LP_ENCODING_6BIT_STR | len as u8;
            1
        } else if len < 4096 {
            hdr[0] = LP_ENCODING_12BIT_STR | (len >> 8) as u8;
            hdr[1] = len as u8;
            2
        } else {
            let len32 = u32::try_from(len).expect("listpack: string longer than u32::MAX");
            hdr[0] = LP_ENCODING_32BIT_STR;
            hdr[1..5].copy_from_slice(&len32.to_le_bytes());
            5
        };
        Encoded::Str { hdr, hdr_len, data: s }
    }

    /// encoding + data size.
    fn enc_len(&self) -> usize {
        match self {
            Encoded::Int { len, .. } => *len,
            Encoded::Str { hdr_len, data, .. } => hdr_len + data.len(),
        }
    }

    fn total_len(&self) -> usize {
        let l = self.enc_len();
        l + backlen_size(l)
    }

    /// Write the full entry (with backlen) into `out` (exactly total_len()).
    fn write(&self, out: &mut [u8]) {
        let l = self.enc_len();
        match self {
            Encoded::Int { bytes, len } => out[..*len].copy_from_slice(&bytes[..*len]),
            Encoded::Str { hdr, hdr_len, data } => {
                out[..*hdr_len].copy_from_slice(&hdr[..*hdr_len]);
                out[*hdr_len..l].copy_from_slice(data);
            }
        }
        encode_backlen(l, &mut out[l..]);
    }
}

// ---------------------------------------------------------------------------
// Listpack
// ---------------------------------------------------------------------------

/// An owned, always-valid listpack.
#[derive(Clone, PartialEq, Eq)]
pub struct Listpack {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

impl fmt::Debug for Listpack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Listpack {
    /// An empty listpack: `07 00 00 00 00 00 FF`.
    pub fn new() -> Listpack {
        let mut buf = Vec::with_capacity(LP_HDR_SIZE + 1);
        buf.extend_from_slice(&[7, 0, 0, 0, 0, 0, LP_EOF]);
        Listpack { buf, count: 0 }
    }

    /// Take ownership of `bytes` after deep validation (safe on untrusted
    /// input: never panics, never reads out of bounds).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Listpack, Error> {
        let count = validate(&bytes)?;
        let mut lp = Listpack { buf: bytes, count };
        lp.maybe_shrink();
        Ok(lp)
    }

    /// The raw listpack bytes (what goes into an RDB file).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Consume and return the raw bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Total size in bytes (equals the header's total-bytes field).
    pub fn bytes_len(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes actually allocated for the buffer.
    pub fn allocated_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives back the growth slack (a node that will not grow any more).
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// Redis's `lpSafeToAdd`: may `add_bytes` more bytes be added without
    /// going past [`LISTPACK_MAX_SAFETY_SIZE`]?
    pub fn safe_to_add(&self, add_bytes: usize) -> bool {
        self.buf.len().saturating_add(add_bytes) <= LISTPACK_MAX_SAFETY_SIZE
    }

    /// Bytes that pushing `ele` would add (entry including backlen).
    pub fn entry_bytes_for(ele: &[u8]) -> usize {
        Encoded::new(ele).total_len()
    }

    // ----- cursors (byte offsets) -----

    #[inline]
    fn eof_pos(&self) -> usize {
        self.buf.len() - 1
    }

    /// Offset of the first entry, `None` if empty.
    pub fn first(&self) -> Option<usize> {
        if self.count == 0 { None } else { Some(LP_HDR_SIZE) }
    }

    /// Offset of the last entry, `None` if empty.
    pub fn last(&self) -> Option<usize> {
        self.prev(self.eof_pos())
    }

    /// Offset of the entry after the one at `pos`, `None` if it is the last.
    pub fn next(&self, pos: usize) -> Option<usize> {
        let n = pos + full_entry_size(&self.buf, pos);
        if n >= self.eof_pos() { None } else { Some(n) }
    }

    /// Offset of the entry before `pos` (`pos` may be the terminator's
    /// offset, i.e. `bytes_len() - 1`), `None` if `pos` is the first.
    pub fn prev(&self, pos: usize) -> Option<usize> {
        if pos <= LP_HDR_SIZE {
            return None;
        }
        let l = decode_backlen(&self.buf, pos - 1).expect("listpack: corrupt backlen");
        Some(pos - l - backlen_size(l))
    }

    /// Full size in bytes (encoding + data + backlen) of the entry at `pos`.
    pub fn entry_len_at(&self, pos: usize) -> usize {
        full_entry_size(&self.buf, pos)
    }

    /// The entry at byte offset `pos`.
    pub fn entry_at(&self, pos: usize) -> Entry<'_> {
        decode_entry(&self.buf, pos).0
    }

    /// Byte offset of the element at `index`; negative indexes count from
    /// the tail (-1 = last). Walks from whichever end is closer.
    pub fn seek(&self, index: i64) -> Option<usize> {
        let len = self.count as i64;
        let idx = if index < 0 { len + index } else { index };
        if idx < 0 || idx >= len {
            return None;
        }
        if idx <= len / 2 {
            let mut p = LP_HDR_SIZE;
            for _ in 0..idx {
                p += full_entry_size(&self.buf, p);
            }
            Some(p)
        } else {
            let mut p = self.eof_pos();
            for _ in 0..(len - idx) {
                p = self.prev(p)?;
            }
            Some(p)
        }
    }

    /// Element at `index` (0-based from the head).
    pub fn get(&self, index: usize) -> Option<Entry<'_>> {
        let p = self.seek(i64::try_from(index).ok()?)?;
        Some(self.entry_at(p))
    }

    /// Forward iterator (double-ended; `.rev()` walks backwards).
    pub fn iter(&self) -> Iter<'_> {
        Iter { buf: &self.buf, front: LP_HDR_SIZE, back: self.eof_pos(), remaining: self.count }
    }

    /// Tail-to-head iterator.
    pub fn iter_rev(&self) -> std::iter::Rev<Iter<'_>> {
        self.iter().rev()
    }

    /// Iterate from byte offset `pos` (an entry start or the terminator)
    /// towards the tail. `index` is the element index of `pos` (needed for
    /// an exact `len()`).
    pub fn iter_at(&self, pos: usize, index: usize) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            front: pos,
            back: self.eof_pos(),
            remaining: self.count.saturating_sub(index),
        }
    }

    // ----- search -----

    /// Index of the first entry equal to `s` (Redis comparison rules),
    /// checking entries 0, skip+1, 2*(skip+1), ... (`skip = 1` looks only at
    /// the fields of a field/value pair layout).
    pub fn find(&self, s: &[u8], skip: usize) -> Option<usize> {
        let mut idx = 0;
        let mut p = self.first()?;
        let sint = string_to_i64(s);
        loop {
            if Self::matches(self.entry_at(p), s, sint) {
                return Some(idx);
            }
            for _ in 0..=skip {
                p = self.next(p)?;
                idx += 1;
            }
        }
    }

    /// Like [`find`](Self::find) but starting at byte offset `pos`;
    /// returns the byte offset of the match.
    pub fn find_from(&self, pos: usize, s: &[u8], skip: usize) -> Option<usize> {
        if pos >= self.eof_pos() {
            return None;
        }
        let mut p = pos;
        let sint = string_to_i64(s);
        loop {
            if Self::matches(self.entry_at(p), s, sint) {
                return Some(p);
            }
            for _ in 0..=skip {
                p = self.next(p)?;
            }
        }
    }

    #[inline]
    fn matches(e: Entry<'_>, s: &[u8], sint: Option<i64>) -> bool {
        match e {
            Entry::Str(x) => x == s,
            Entry::Int(v) => sint == Some(v),
        }
    }

    // ----- mutation core -----

    fn reserve_for(&mut self, additional: usize) {
        let needed = self.buf.len() + additional;
        assert!(needed <= u32::MAX as usize, "listpack would exceed u32::MAX bytes");
        if needed > self.buf.capacity() {
            let target = needed + needed / 8;
            self.buf.reserve_exact(target - self.buf.len());
        }
    }

    fn maybe_shrink(&mut self) {
        let len = self.buf.len();
        if self.buf.capacity() > len + len / 4 + 32 {
            self.buf.shrink_to(len + len / 8);
        }
    }

    fn write_header(&mut self) {
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.count < usize::from(LP_HDR_NUMELE_UNKNOWN) {
            self.count as u16
        } else {
            LP_HDR_NUMELE_UNKNOWN
        };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
    }

    /// Replace bytes `pos..pos+old_len` by a zeroed region of `new_len`
    /// bytes, shifting the tail. Header is NOT updated.
    fn resize_region(&mut self, pos: usize, old_len: usize, new_len: usize) {
        let total = self.buf.len();
        if new_len > old_len {
            let grow = new_len - old_len;
            self.reserve_for(grow);
            self.buf.resize(total + grow, 0);
            self.buf.copy_within(pos + old_len..total, pos + new_len);
        } else if new_len < old_len {
            self.buf.copy_within(pos + old_len..total, pos + new_len);
            self.buf.truncate(total - (old_len - new_len));
            self.maybe_shrink();
        }
    }

    fn insert_encoded(&mut self, pos: usize, enc: &Encoded<'_>) {
        let n = enc.total_len();
        self.resize_region(pos, 0, n);
        enc.write(&mut self.buf[pos..pos + n]);
        self.count += 1;
        self.write_header();
    }

    /// Insert `ele` before the entry at byte offset `pos` (`pos` may be the
    /// terminator offset to append). Returns the offset of the new entry
    /// (always `pos`).
    pub fn insert_at(&mut self, pos: usize, ele: &[u8]) -> usize {
        self.insert_encoded(pos, &Encoded::new(ele));
        pos
    }

    /// Replace the entry at byte offset `pos`; returns `pos`.
    pub fn replace_at(&mut self, pos: usize, ele: &[u8]) -> usize {
        let enc = Encoded::new(ele);
        let old = full_entry_size(&self.buf, pos);
        let n = enc.total_len();
        self.resize_region(pos, old, n);
        enc.write(&mut self.buf[pos..pos + n]);
        self.write_header();
        pos
    }

    /// Delete the entry at byte offset `pos`. Returns the offset of the
    /// following entry (now at `pos`), or `None` if it was the last one.
    pub fn delete_at(&mut self, pos: usize) -> Option<usize> {
        self.delete_range_at(pos, 1);
        if pos < self.eof_pos() { Some(pos) } else { None }
    }

    /// Delete up to `count` entries starting at byte offset `pos`. Returns
    /// the number deleted.
    pub fn delete_range_at(&mut self, pos: usize, count: usize) -> usize {
        let eof = self.eof_pos();
        let mut end = pos;
        let mut n = 0;
        while n < count && end < eof {
            end += full_entry_size(&self.buf, end);
            n += 1;
        }
        if n > 0 {
            self.resize_region(pos, end - pos, 0);
            self.count -= n;
            self.write_header();
        }
        n
    }

    // ----- index based API -----

    /// Append `ele` (integer-looking strings are stored as integers).
    pub fn push_back(&mut self, ele: &[u8]) {
        let p = self.eof_pos();
        self.insert_encoded(p, &Encoded::new(ele));
    }

    /// Prepend `ele`.
    pub fn push_front(&mut self, ele: &[u8]) {
        self.insert_encoded(LP_HDR_SIZE, &Encoded::new(ele));
    }

    /// Append an integer.
    pub fn push_int(&mut self, v: i64) {
        let p = self.eof_pos();
        self.insert_encoded(p, &Encoded::int(v));
    }

    /// Insert `ele` so that it ends up at `index`.
    ///
    /// # Panics
    /// If `index > len()`, like `Vec::insert`.
    pub fn insert(&mut self, index: usize, ele: &[u8]) {
        assert!(index <= self.count, "listpack insert index {index} > len {}", self.count);
        let pos = if index == self.count {
            self.eof_pos()
        } else {
            self.seek(index as i64).expect("index checked")
        };
        self.insert_encoded(pos, &Encoded::new(ele));
    }

    /// Replace the element at `index`; `false` if out of range.
    pub fn replace(&mut self, index: usize, ele: &[u8]) -> bool {
        match i64::try_from(index).ok().and_then(|i| self.seek(i)) {
            Some(p) => {
                self.replace_at(p, ele);
                true
            }
            None => false,
        }
    }

    /// Delete the element at `index`; `false` if out of range.
    pub fn delete(&mut self, index: usize) -> bool {
        self.delete_range(index, 1) == 1
    }

    /// Delete up to `count` elements starting at `index`; returns how many
    /// were deleted (0 if `index` is out of range).
    pub fn delete_range(&mut self, index: usize, count: usize) -> usize {
        if count == 0 || index >= self.count {
            return 0;
        }
        if index + count.min(self.count) >= self.count {
            // Truncate: everything from index to the end goes.
            let pos = self.seek(index as i64).expect("index checked");
            let n = self.count - index;
            let eof = self.eof_pos();
            self.resize_region(pos, eof - pos, 0);
            self.count = index;
            self.write_header();
            return n;
        }
        let pos = self.seek(index as i64).expect("index checked");
        self.delete_range_at(pos, count)
    }

    /// Remove all entries.
    pub fn clear(&mut self) {
        *self = Listpack::new();
    }

    /// Split at `index`: `self` keeps `[0, index)`, the returned listpack
    /// holds `[index, len)`. Raw byte copy, no re-encoding.
    ///
    /// # Panics
    /// If `index > len()`.
    pub fn split_off(&mut self, index: usize) -> Listpack {
        assert!(index <= self.count, "listpack split index out of range");
        let pos = if index == self.count {
            self.eof_pos()
        } else {
            self.seek(index as i64).expect("index checked")
        };
        let eof = self.eof_pos();
        let mut right = Listpack::new();
        right.resize_region(LP_HDR_SIZE, 0, eof - pos);
        right.buf[LP_HDR_SIZE..LP_HDR_SIZE + (eof - pos)].copy_from_slice(&self.buf[pos..eof]);
        right.count = self.count - index;
        right.write_header();
        self.resize_region(pos, eof - pos, 0);
        self.count = index;
        self.write_header();
        right
    }

    /// Append all entries of `other` (raw byte copy, like `lpMerge`).
    pub fn append(&mut self, other: &Listpack) {
        let src = &other.buf[LP_HDR_SIZE..other.buf.len() - 1];
        let pos = self.eof_pos();
        let n = src.len();
        self.resize_region(pos, 0, n);
        self.buf[pos..pos + n].copy_from_slice(src);
        self.count += other.count;
        self.write_header();
    }

    /// Prepend all entries of `other`.
    pub fn prepend(&mut self, other: &Listpack) {
        let src = &other.buf[LP_HDR_SIZE..other.buf.len() - 1];
        let n = src.len();
        self.resize_region(LP_HDR_SIZE, 0, n);
        self.buf[LP_HDR_SIZE..LP_HDR_SIZE + n].copy_from_slice(src);
        self.count += other.count;
        self.write_header();
    }
}

/// Double-ended, allocation-free iterator over a listpack's entries.
#[derive(Clone)]
pub struct Iter<'a> {
    buf: &'a [u8],
    /// Start of the next entry to yield from the front.
    front: usize,
    /// End (exclusive) of the next entry to yield from the back.
    back: usize,
    remaining: usize,
}

impl<'a> Iter<'a> {
    /// Byte offset of the entry the next `next()` call will yield.
    pub fn position(&self) -> usize {
        self.front
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    #[inline]
    fn next(&mut self) -> Option<Entry<'a>> {
        if self.remaining == 0 || self.front >= self.back {
            return None;
        }
        let (e, l) = decode_entry(self.buf, self.front);
        self.front += l + backlen_size(l);
        self.remaining -= 1;
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    #[inline]
    fn next_back(&mut self) -> Option<Entry<'a>> {
        if self.remaining == 0 || self.front >= self.back {
            return None;
        }
        let l = decode_backlen(self.buf, self.back - 1).expect("listpack: corrupt backlen");
        let start = self.back - l - backlen_size(l);
        self.back = start;
        self.remaining -= 1;
        Some(decode_entry(self.buf, start).0)
    }
}

impl<'a> ExactSizeIterator for Iter<'a> {}

impl<'a> IntoIterator for &'a Listpack {
    type Item = Entry<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::SplitMix64 as Rng;

    fn lp_of(items: &[&[u8]]) -> Listpack {
        let mut lp = Listpack::new();
        for i in items {
            lp.push_back(i);
        }
        lp
    }

    fn contents(lp: &Listpack) -> Vec<Vec<u8>> {
        lp.iter().map(|e| e.to_vec()).collect()
    }

    /// Full consistency check of a listpack against an expected model.
    fn check(lp: &Listpack, model: &[Vec<u8>]) {
        assert_eq!(validate(lp.as_bytes()), Ok(model.len()));
        assert_eq!(lp.len(), model.len());
        assert_eq!(contents(lp), model);
        let mut rev: Vec<Vec<u8>> = lp.iter_rev().map(|e| e.to_vec()).collect();
        rev.reverse();
        assert_eq!(rev, model);
    }

    #[test]
    fn empty_bytes() {
        let lp = Listpack::new();
        assert_eq!(lp.as_bytes(), &[7, 0, 0, 0, 0, 0, 0xFF]);
        assert_eq!(lp.len(), 0);
        assert!(lp.first().is_none() && lp.last().is_none());
        assert_eq!(Listpack::from_bytes(lp.as_bytes().to_vec()).unwrap(), lp);
    }

    #[test]
    fn byte_exact_mixed() {
        let s70 = vec![b'x'; 70];
        let mut lp = Listpack::new();
        lp.push_back(b"a");
        lp.push_back(b"1");
        lp.push_back(b"1000");
        lp.push_int(-1);
        lp.push_back(&s70);
        lp.push_int(i64::MAX);
        let mut exp = vec![101, 0, 0, 0, 6, 0];
        exp.extend_from_slice(&[0x81, b'a', 0x02]); // 6-bit str
        exp.extend_from_slice(&[0x01, 0x01]); // 7-bit uint
        exp.extend_from_slice(&[0xC3, 0xE8, 0x02]); // 13-bit 1000 = 0x3E8
        exp.extend_from_slice(&[0xDF, 0xFF, 0x02]); // 13-bit -1 = 0x1FFF
        exp.extend_from_slice(&[0xE0, 70]); // 12-bit str
        exp.extend_from_slice(&s70);
        exp.push(72); // backlen
        exp.extend_from_slice(&[0xF4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x09]);
        exp.push(0xFF);
        assert_eq!(exp.len(), 101);
        assert_eq!(lp.as_bytes(), &exp[..]);
        assert_eq!(lp.get(0), Some(Entry::Str(b"a")));
        assert_eq!(lp.get(1), Some(Entry::Int(1)));
        assert_eq!(lp.get(2), Some(Entry::Int(1000)));
        assert_eq!(lp.get(3), Some(Entry::Int(-1)));
        assert_eq!(lp.get(4), Some(Entry::Str(&s70[..])));
        assert_eq!(lp.get(5), Some(Entry::Int(i64::MAX)));
        assert_eq!(lp.get(6), None);
        let back = Listpack::from_bytes(exp).unwrap();
        assert_eq!(back, lp);
    }

    fn single(ele: &[u8]) -> Vec<u8> {
        let lp = lp_of(&[ele]);
        let b = lp.as_bytes();
        assert_eq!(b[4..6], [1, 0]);
        b[LP_HDR_SIZE..b.len() - 1].to_vec()
    }

    #[test]
    fn integer_encodings_exact() {
        assert_eq!(single(b"0"), [0x00, 0x01]);
        assert_eq!(single(b"127"), [0x7F, 0x01]);
        assert_eq!(single(b"128"), [0xC0, 0x80, 0x02]);
        assert_eq!(single(b"4095"), [0xCF, 0xFF, 0x02]);
        assert_eq!(single(b"-4096"), [0xD0, 0x00, 0x02]);
        assert_eq!(single(b"4096"), [0xF1, 0x00, 0x10, 0x03]);
        assert_eq!(single(b"-4097"), [0xF1, 0xFF, 0xEF, 0x03]);
        assert_eq!(single(b"32767"), [0xF1, 0xFF, 0x7F, 0x03]);
        assert_eq!(single(b"32768"), [0xF2, 0x00, 0x80, 0x00, 0x04]);
        assert_eq!(single(b"-8388608"), [0xF2, 0x00, 0x00, 0x80, 0x04]);
        assert_eq!(single(b"8388608"), [0xF3, 0x00, 0x00, 0x80, 0x00, 0x05]);
        assert_eq!(single(b"-2147483648"), [0xF3, 0x00, 0x00, 0x00, 0x80, 0x05]);
        assert_eq!(single(b"2147483648"), [0xF4, 0x00, 0x00, 0x00, 0x80, 0, 0, 0, 0, 0x09]);
        assert_eq!(single(b"-9223372036854775808"), [0xF4, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x09]);
        // Decoding matches.
        for v in [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            -4097,
            32767,
            -32768,
            32768,
            -32769,
            8388607,
            -8388608,
            8388608,
            -8388609,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i32::MIN as i64 - 1,
            i64::MAX,
            i64::MIN,
        ] {
            let mut lp = Listpack::new();
            lp.push_int(v);
            lp.push_back(v.to_string().as_bytes());
            assert_eq!(lp.get(0), Some(Entry::Int(v)));
            assert_eq!(lp.get(1), Some(Entry::Int(v)));
            let b = lp.as_bytes();
            let half = (b.len() - 7) / 2;
            assert_eq!(b[6..6 + half], b[6 + half..6 + 2 * half]);
        }
    }

    #[test]
    fn string_encodings_exact() {
        // Not integers under string2ll rules -> strings.
        for s in [
            &b"-0"[..],
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"-",
            b"",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"1a",
            b"00",
        ] {
            let enc = single(s);
            assert_eq!(enc[0], LP_ENCODING_6BIT_STR | s.len() as u8, "{:?}", s);
            assert_eq!(&enc[1..1 + s.len()], s);
            assert_eq!(enc[1 + s.len()] as usize, 1 + s.len());
        }
        let s63 = vec![b'z'; 63];
        let e = single(&s63);
        assert_eq!(e[0], 0xBF);
        assert_eq!(*e.last().unwrap(), 64);
        // 200 bytes: 12-bit header, entry len 202 -> 2-byte backlen [1, 0x80|74].
        let s200 = vec![b'y'; 200];
        let e = single(&s200);
        assert_eq!(e[..2], [0xE0, 200]);
        assert_eq!(e[202..], [0x01, 0xCA]);
        let s4095 = vec![b'q'; 4095];
        let e = single(&s4095);
        assert_eq!(e[..2], [0xEF, 0xFF]);
        // 4097 -> backlen 2 bytes: 4097 = 32*128 + 1
        assert_eq!(e[4097..], [32, 0x81]);
        // 5000 bytes: 32-bit header, entry len 5005 = 39*128 + 13.
        let s5000 = vec![b'w'; 5000];
        let e = single(&s5000);
        assert_eq!(e[..5], [0xF0, 0x88, 0x13, 0, 0]);
        assert_eq!(e[5005..], [39, 0x8D]);
    }

    #[test]
    fn backlen_bounds() {
        let cases: [(usize, &[u8]); 8] = [
            (127, &[127]),
            (128, &[1, 0x80]),
            (16382, &[127, 0xFE]),
            (16383, &[0, 0xFF, 0xFF]),
            (2_097_150, &[127, 0xFF, 0xFE]),
            (2_097_151, &[0, 0xFF, 0xFF, 0xFF]),
            (268_435_454, &[127, 0xFF, 0xFF, 0xFE]),
            (268_435_455, &[0, 0xFF, 0xFF, 0xFF, 0xFF]),
        ];
        for (l, exp) in cases {
            let mut out = vec![0u8; backlen_size(l)];
            encode_backlen(l, &mut out);
            assert_eq!(out, exp, "l={l}");
            assert_eq!(decode_backlen(&out, out.len() - 1), Some(l));
        }
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(string_to_i64(b"0"), Some(0));
        assert_eq!(string_to_i64(b"-1"), Some(-1));
        assert_eq!(string_to_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string_to_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b"-0"[..], b"", b"-", b"+5", b"05", b"5 ", b"99999999999999999999", b"1e3"] {
            assert_eq!(string_to_i64(bad), None);
        }
        let mut buf = [0u8; LP_INTBUF_SIZE];
        for v in [0, -1, 42, i64::MIN, i64::MAX] {
            let n = write_i64(v, &mut buf);
            assert_eq!(&buf[..n], v.to_string().as_bytes());
        }
    }

    #[test]
    fn eq_bytes_semantics() {
        assert!(Entry::Int(12).eq_bytes(b"12"));
        assert!(!Entry::Int(12).eq_bytes(b"012"));
        assert!(!Entry::Int(12).eq_bytes(b"12 "));
        assert!(Entry::Str(b"abc").eq_bytes(b"abc"));
        assert!(!Entry::Str(b"12").eq_bytes(b"012"));
        let mut buf = [0u8; LP_INTBUF_SIZE];
        assert_eq!(Entry::Int(-77).as_bytes(&mut buf), b"-77");
    }

    #[test]
    fn find_with_skip() {
        // Hash-like layout: f1 v1 f2 v2 ...
        let lp = lp_of(&[b"name", b"12", b"12", b"x", b"age", b"name"]);
        assert_eq!(lp.find(b"name", 1), Some(0));
        assert_eq!(lp.find(b"12", 1), Some(2)); // index 1 is a value, skipped
        assert_eq!(lp.find(b"12", 0), Some(1));
        assert_eq!(lp.find(b"x", 1), None);
        assert_eq!(lp.find(b"age", 1), Some(4));
        assert_eq!(lp.find(b"012", 0), None);
        let p = lp.find_from(lp.first().unwrap(), b"age", 1).unwrap();
        assert_eq!(lp.entry_at(p), Entry::Str(b"age"));
        assert_eq!(lp.entry_at(lp.next(p).unwrap()), Entry::Str(b"name"));
        assert_eq!(lp.next(lp.next(p).unwrap()), None);
    }

    #[test]
    fn cursors_and_pairs() {
        let lp = lp_of(&[b"a", b"1", b"b", b"2"]);
        let mut p = lp.first();
        let mut pairs = vec![];
        while let Some(k) = p {
            let v = lp.next(k).unwrap();
            pairs.push((lp.entry_at(k).to_vec(), lp.entry_at(v).to_vec()));
            p = lp.next(v);
        }
        assert_eq!(pairs, vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())]);
        let last = lp.last().unwrap();
        assert_eq!(lp.entry_at(last), Entry::Int(2));
        assert_eq!(lp.entry_at(lp.prev(last).unwrap()), Entry::Str(b"b"));
        assert_eq!(lp.prev(lp.first().unwrap()), None);
        assert_eq!(lp.seek(-1), Some(last));
        assert_eq!(lp.seek(-4), lp.first());
        assert_eq!(lp.seek(-5), None);
    }

    #[test]
    fn mutations_basic() {
        let mut lp = lp_of(&[b"a", b"b", b"c"]);
        lp.push_front(b"z");
        lp.insert(2, b"mid");
        assert_eq!(
            contents(&lp),
            vec![b"z".to_vec(), b"a".to_vec(), b"mid".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert!(lp.replace(2, &vec![b'L'; 5000]));
        assert!(lp.replace(2, b"7"));
        assert_eq!(lp.get(2), Some(Entry::Int(7)));
        assert!(lp.delete(0));
        assert_eq!(lp.delete_range(1, 100), 3);
        assert_eq!(contents(&lp), vec![b"a".to_vec()]);
        assert!(!lp.delete(5));
        lp.delete(0);
        assert_eq!(lp, Listpack::new());
    }

    #[test]
    fn split_and_append() {
        let items: Vec<Vec<u8>> = (0..50).map(|i| format!("item{i}").into_bytes()).collect();
        let mut lp = Listpack::new();
        for i in &items {
            lp.push_back(i);
        }
        let right = lp.split_off(20);
        check(&lp, &items[..20]);
        check(&right, &items[20..]);
        let mut l2 = lp.clone();
        l2.append(&right);
        check(&l2, &items);
        let mut r2 = right.clone();
        r2.prepend(&lp);
        assert_eq!(r2, l2);
    }

    #[test]
    fn many_entries_unknown_count() {
        let mut lp = Listpack::new();
        for i in 0..70000u32 {
            lp.push_int(i as i64 % 100);
        }
        assert_eq!(lp.as_bytes()[4..6], [0xFF, 0xFF]);
        assert_eq!(lp.len(), 70000);
        let lp2 = Listpack::from_bytes(lp.as_bytes().to_vec()).unwrap();
        assert_eq!(lp2.len(), 70000);
        let mut lp3 = lp2.clone();
        lp3.delete_range(0, 10000);
        assert_eq!(lp3.as_bytes()[4..6], (60000u16).to_le_bytes());
        assert_eq!(validate(lp3.as_bytes()), Ok(60000));
        assert!(lp.safe_to_add(1000));
        assert!(!lp.safe_to_add(LISTPACK_MAX_SAFETY_SIZE));
    }

    #[test]
    fn non_minimal_encodings_accepted() {
        // Int 5 as 64-bit int, and "12" as 6-bit string; both are valid.
        let mut b = vec![0, 0, 0, 0, 2, 0];
        b.extend_from_slice(&[0xF4, 5, 0, 0, 0, 0, 0, 0, 0, 9]);
        b.extend_from_slice(&[0x82, b'1', b'2', 3]);
        b.push(0xFF);
        let n = b.len() as u32;
        b[..4].copy_from_slice(&n.to_le_bytes());
        let lp = Listpack::from_bytes(b).unwrap();
        assert_eq!(lp.get(0), Some(Entry::Int(5)));
        assert_eq!(lp.get(1), Some(Entry::Str(b"12")));
        assert_eq!(lp.find(b"12", 0), Some(1));
        assert_eq!(lp.find(b"5", 0), Some(0));
    }

    #[test]
    fn invalid_inputs() {
        assert_eq!(Listpack::from_bytes(vec![]), Err(Error::TooShort));
        assert_eq!(Listpack::from_bytes(vec![7, 0, 0, 0, 0, 0, 0]), Err(Error::MissingTerminator));
        assert_eq!(Listpack::from_bytes(vec![8, 0, 0, 0, 0, 0, 0xFF]), Err(Error::SizeMismatch));
        assert_eq!(
            Listpack::from_bytes(vec![7, 0, 0, 0, 1, 0, 0xFF]),
            Err(Error::CountMismatch { header: 1, actual: 0 })
        );
        // Unknown count is fine.
        assert!(Listpack::from_bytes(vec![7, 0, 0, 0, 0xFF, 0xFF, 0xFF]).is_ok());
        // Bad encoding byte.
        assert_eq!(
            Listpack::from_bytes(vec![9, 0, 0, 0, 1, 0, 0xF5, 1, 0xFF]),
            Err(Error::BadEncoding(6))
        );
        // Bad backlen.
        assert_eq!(
            Listpack::from_bytes(vec![9, 0, 0, 0, 1, 0, 0x05, 2, 0xFF]),
            Err(Error::BadBacklen(6))
        );
        // String length past the end.
        assert_eq!(
            Listpack::from_bytes(vec![9, 0, 0, 0, 1, 0, 0x85, 1, 0xFF]),
            Err(Error::EntryOutOfBounds(6))
        );
        // 32-bit string with a huge length.
        assert_eq!(
            Listpack::from_bytes(vec![13, 0, 0, 0, 1, 0, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0xFF]),
            Err(Error::EntryOutOfBounds(6))
        );
        // Stray EOF in the middle.
        assert_eq!(
            Listpack::from_bytes(vec![10, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x01, 0x01, 0xFF]),
            Err(Error::BadEncoding(6))
        );
    }

    fn random_element(rng: &mut Rng) -> Vec<u8> {
        match rng.below(10) {
            0 => (rng.next_u64() as i64).to_string().into_bytes(),
            1 => (rng.below(300) as i64 - 150).to_string().into_bytes(),
            2 => (rng.below(20_000_000) as i64 - 10_000_000).to_string().into_bytes(),
            3 => {
                let n = if rng.chance(10) { 4000 + rng.below(300) } else { 60 + rng.below(200) };
                (0..n).map(|_| b'a' + rng.below(26) as u8).collect()
            }
            4 => vec![],
            5 => format!("0{}", rng.below(100)).into_bytes(),
            _ => (0..rng.below(12)).map(|_| rng.below(256) as u8).collect(),
        }
    }

    #[test]
    fn model_random_ops() {
        let mut rng = Rng::new(0x7117E);
        let mut lp = Listpack::new();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for step in 0..20_000 {
            let op = rng.below(100);
            let len = model.len();
            if op < 20 {
                let e = random_element(&mut rng);
                lp.push_back(&e);
                model.push(e);
            } else if op < 32 {
                let e = random_element(&mut rng);
                lp.push_front(&e);
                model.insert(0, e);
            } else if op < 44 {
                let i = rng.below(len as u64 + 1) as usize;
                let e = random_element(&mut rng);
                lp.insert(i, &e);
                model.insert(i, e);
            } else if op < 54 {
                let i = rng.below(len as u64 + 2) as usize;
                let e = random_element(&mut rng);
                let ok = lp.replace(i, &e);
                assert_eq!(ok, i < len);
                if ok {
                    model[i] = e;
                }
            } else if op < 70 {
                let i = rng.below(len as u64 + 2) as usize;
                let ok = lp.delete(i);
                assert_eq!(ok, i < len);
                if ok {
                    model.remove(i);
                }
            } else if op < 76 {
                let i = rng.below(len as u64 + 2) as usize;
                let c = rng.below(8) as usize;
                let n = lp.delete_range(i, c);
                let exp = if i < len { c.min(len - i) } else { 0 };
                assert_eq!(n, exp);
                model.drain(i.min(len)..(i.min(len) + exp));
            } else if op < 80 {
                let v = rng.next_u64() as i64 >> rng.below(64);
                lp.push_int(v);
                model.push(v.to_string().into_bytes());
            } else if op < 90 {
                if len > 0 {
                    let i = rng.below(len as u64) as usize;
                    let target = model[i].clone();
                    let first = model.iter().position(|m| *m == target);
                    assert_eq!(lp.find(&target, 0), first);
                    assert!(lp.get(i).unwrap().eq_bytes(&target));
                    // Pair-wise find (skip = 1) over even indexes only.
                    let firstpair =
                        model.iter().step_by(2).position(|m| *m == target).map(|x| x * 2);
                    assert_eq!(lp.find(&target, 1), firstpair);
                }
            } else if op < 93 && len > 0 {
                let i = rng.below(len as u64 + 1) as usize;
                let r = lp.split_off(i);
                let mr = model.split_off(i);
                check(&r, &mr);
                lp.append(&r);
                model.extend(mr);
            } else if len > 0 {
                let i = rng.below(len as u64) as i64;
                let p = lp.seek(i).unwrap();
                assert_eq!(lp.entry_at(p).to_vec(), model[i as usize]);
                let pn = lp.seek(i - len as i64).unwrap();
                assert_eq!(p, pn);
            }
            if len > 300 && rng.chance(5) {
                let n = lp.delete_range(0, 200);
                model.drain(..n);
            }
            if step % 97 == 0 {
                check(&lp, &model);
                let again = Listpack::from_bytes(lp.as_bytes().to_vec()).unwrap();
                assert_eq!(again.as_bytes(), lp.as_bytes());
            }
        }
        check(&lp, &model);
    }

    /// Everything an accepted buffer must satisfy; panics if reading it fails.
    fn exercise(lp: &Listpack) {
        let fwd: Vec<Vec<u8>> = lp.iter().map(|e| e.to_vec()).collect();
        let mut rev: Vec<Vec<u8>> = lp.iter_rev().map(|e| e.to_vec()).collect();
        rev.reverse();
        assert_eq!(fwd, rev);
        assert_eq!(fwd.len(), lp.len());
        let mut c = lp.clone();
        c.push_back(b"tail");
        c.push_front(b"head");
        assert_eq!(validate(c.as_bytes()), Ok(lp.len() + 2));
    }

    #[test]
    fn fuzz_from_bytes() {
        let mut rng = Rng::new(99);
        // Seed corpus of valid listpacks.
        let mut corpus: Vec<Vec<u8>> = Vec::new();
        for _ in 0..40 {
            let mut lp = Listpack::new();
            for _ in 0..rng.below(12) {
                let e = random_element(&mut rng);
                lp.push_back(&e);
            }
            corpus.push(lp.into_bytes());
        }
        let mut accepted = 0;
        for iter in 0..60_000 {
            let buf: Vec<u8> = match iter % 4 {
                0 => {
                    // Pure random bytes, sometimes with a plausible header.
                    let n = rng.below(40) as usize;
                    let mut b: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
                    if n >= 7 && rng.chance(70) {
                        b[..4].copy_from_slice(&(n as u32).to_le_bytes());
                        b[n - 1] = 0xFF;
                        if rng.chance(50) {
                            b[4] = 0xFF;
                            b[5] = 0xFF;
                        }
                    }
                    b
                }
                1 | 2 => {
                    // Single-byte mutation of a valid buffer.
                    let mut b = corpus[rng.below(corpus.len() as u64) as usize].clone();
                    let i = rng.below(b.len() as u64) as usize;
                    b[i] = if rng.chance(50) {
                        rng.below(256) as u8
                    } else {
                        b[i] ^ (1 << rng.below(8))
                    };
                    b
                }
                _ => {
                    // Insert / remove a byte, fix the header size.
                    let mut b = corpus[rng.below(corpus.len() as u64) as usize].clone();
                    let i = 6 + rng.below(b.len() as u64 - 6) as usize;
                    if rng.chance(50) {
                        b.insert(i, rng.below(256) as u8);
                    } else {
                        b.remove(i);
                    }
                    let n = b.len() as u32;
                    if b.len() >= 4 {
                        b[..4].copy_from_slice(&n.to_le_bytes());
                    }
                    if rng.chance(50) && b.len() >= 6 {
                        b[4] = 0xFF;
                        b[5] = 0xFF;
                    }
                    b
                }
            };
            if let Ok(lp) = Listpack::from_bytes(buf) {
                accepted += 1;
                exercise(&lp);
            }
        }
        assert!(accepted > 100, "fuzz accepted too few inputs: {accepted}");
    }
}
