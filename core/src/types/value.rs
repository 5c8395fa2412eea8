//! Values and their encodings.
//!
//! A string is kept in the leanest form that holds it: an `i64` when it is the canonical
//! decimal form of one (Redis's "int" encoding), inline in the value itself when it is short,
//! otherwise one heap allocation of exactly its bytes. `OBJECT ENCODING` reports Redis's names
//! for the form Redis would have chosen ("int", "embstr" for strings up to 44 bytes written
//! whole, "raw" otherwise), so scripts that check encodings see what they expect.

use crate::base::parse_i64;

/// Strings up to this many bytes live inside the `Value` without a heap allocation.
pub const INLINE_CAP: usize = 22;
/// Redis creates strings up to this length as "embstr".
pub const EMBSTR_MAX: usize = 44;

/// A short string stored inline: length, a flag for Redis's "raw" encoding, and the bytes.
#[derive(Clone, Copy)]
pub struct InlineStr {
    len: u8,
    raw: bool,
    buf: [u8; INLINE_CAP - 1],
}

impl InlineStr {
    fn new(b: &[u8], raw: bool) -> Option<InlineStr> {
        if b.len() > INLINE_CAP - 1 {
            return None;
        }
        let mut buf = [0u8; INLINE_CAP - 1];
        buf[..b.len()].copy_from_slice(b);
        Some(InlineStr { len: b.len() as u8, raw, buf })
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// A string value.
#[derive(Clone)]
pub enum Str {
    /// The canonical decimal form of an i64.
    Int(i64),
    Inline(InlineStr),
    /// Heap bytes; `raw` is true when Redis would report "raw" rather than "embstr".
    Heap {
        bytes: Box<[u8]>,
        raw: bool,
    },
}

impl Str {
    /// Builds the leanest form for bytes written whole (SET and friends).
    pub fn from_bytes(b: &[u8]) -> Str {
        Self::build(b, false)
    }

    /// Builds a string produced by modification (APPEND, SETRANGE, SETBIT): Redis reports
    /// these as "raw".
    pub fn from_modified(b: Vec<u8>) -> Str {
        if let Some(i) = InlineStr::new(&b, true) {
            return Str::Inline(i);
        }
        Str::Heap { bytes: b.into_boxed_slice(), raw: true }
    }

    /// Builds a string Redis makes with createStringObject and never int-encodes
    /// (INCRBYFLOAT's result): "embstr" up to 44 bytes, even for "3".
    pub fn from_text(b: &[u8]) -> Str {
        let raw = b.len() > EMBSTR_MAX;
        if let Some(i) = InlineStr::new(b, raw) {
            return Str::Inline(i);
        }
        Str::Heap { bytes: b.into(), raw }
    }

    fn build(b: &[u8], raw: bool) -> Str {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return Str::Int(n);
            }
        }
        if let Some(i) = InlineStr::new(b, raw || b.len() > EMBSTR_MAX) {
            return Str::Inline(i);
        }
        Str::Heap { bytes: b.into(), raw: raw || b.len() > EMBSTR_MAX }
    }

    pub fn from_i64(n: i64) -> Str {
        Str::Int(n)
    }

    /// The bytes, rendering an integer into `scratch` when needed.
    pub fn bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            Str::Int(n) => scratch.format(*n).as_bytes(),
            Str::Inline(i) => i.as_bytes(),
            Str::Heap { bytes, .. } => bytes,
        }
    }

    /// The bytes as an owned vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut b = itoa::Buffer::new();
        self.bytes(&mut b).to_vec()
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => itoa::Buffer::new().format(*n).len(),
            Str::Inline(i) => i.len as usize,
            Str::Heap { bytes, .. } => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The integer value, if the string is one (INCR and friends).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            Str::Inline(i) => parse_i64(i.as_bytes()),
            Str::Heap { bytes, .. } => {
                if bytes.len() <= 20 {
                    parse_i64(bytes)
                } else {
                    None
                }
            }
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Inline(i) if !i.raw => "embstr",
            Str::Heap { raw: false, .. } => "embstr",
            _ => "raw",
        }
    }

    /// Heap bytes this string owns beyond the value itself.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Str::Heap { bytes, .. } => bytes.len(),
            _ => 0,
        }
    }
}

/// A value in the keyspace.
pub enum Value {
    Str(Str),
    List(Box<super::list::List>),
    Hash(Box<super::hash::Hash>),
    Set(Box<super::set::Set>),
    ZSet(Box<super::zset::ZSet>),
    Stream(Box<super::stream::Stream>),
}

impl Value {
    /// The name TYPE answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name OBJECT ENCODING answers.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// A rough size of the value as RDB would store it (DEBUG OBJECT's serializedlength).
    pub fn serialized_length_estimate(&self) -> usize {
        match self {
            Value::Str(s) => s.len() + 1,
            Value::List(l) => l.bytes_used(),
            Value::Hash(h) => h.len() * 16,
            Value::Set(s) => s.len() * 8,
            Value::ZSet(z) => z.len() * 16,
            Value::Stream(s) => s.node_bytes().sum::<usize>(),
        }
    }

    /// Redis's type number (OBJ_STRING...), used by DEBUG DIGEST and RDB.
    pub fn type_number(&self) -> u32 {
        use super::digest::*;
        match self {
            Value::Str(_) => OBJ_STRING,
            Value::List(_) => OBJ_LIST,
            Value::Hash(_) => OBJ_HASH,
            Value::Set(_) => OBJ_SET,
            Value::ZSet(_) => OBJ_ZSET,
            Value::Stream(_) => OBJ_STREAM,
        }
    }

    /// Mixes the value's contents into a key digest, as Redis's xorObjectDigest.
    pub fn mix_into_digest(&self, d: &mut super::digest::Digest) {
        use super::digest::{mix, xor, xor_pair};
        let mut ib = super::listpack::IntBuf::default();
        let mut ib2 = super::listpack::IntBuf::default();
        match self {
            Value::Str(s) => {
                let mut b = itoa::Buffer::new();
                mix(d, s.bytes(&mut b));
            }
            Value::List(l) => {
                for e in l.iter() {
                    mix(d, e.as_bytes(&mut ib));
                }
            }
            Value::Set(s) => {
                for e in s.iter() {
                    xor(d, e.as_bytes(&mut ib));
                }
            }
            Value::Hash(h) => {
                for (f, v) in h.iter() {
                    xor_pair(d, f.as_bytes(&mut ib), v.as_bytes(&mut ib2));
                }
            }
            Value::ZSet(z) => {
                for (m, score) in z.iter() {
                    xor_pair(d, m.as_bytes(&mut ib), crate::base::format_double(score).as_bytes());
                }
            }
            Value::Stream(s) => {
                // Entries only, in order: "<ms>.<seq>", then each field and value.
                s.for_each_in(
                    super::stream::StreamId::MIN,
                    super::stream::StreamId::MAX,
                    false,
                    |e| {
                        mix(d, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                        for (f, v) in &e.fields {
                            mix(d, f.as_bytes(&mut ib));
                            mix(d, v.as_bytes(&mut ib2));
                        }
                        true
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms() {
        assert!(matches!(Str::from_bytes(b"123"), Str::Int(123)));
        assert!(matches!(Str::from_bytes(b"0123"), Str::Inline(_)));
        assert_eq!(Str::from_bytes(b"hello").encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'x'; 44]).encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'x'; 45]).encoding(), "raw");
        assert_eq!(Str::from_modified(b"ab".to_vec()).encoding(), "raw");
        let mut b = itoa::Buffer::new();
        assert_eq!(Str::from_bytes(b"-42").bytes(&mut b), b"-42");
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }
}
