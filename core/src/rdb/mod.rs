//! The RDB format (version 10, as Redis 7.0 writes it; versions 1 to 10 read).
//!
//! # File layout
//!
//! ```text
//! "REDIS" <version: 4 ASCII digits, "0010">
//! AUX fields:    0xFA <name: string> <value: string>        (redis-ver, redis-bits, ctime, ...)
//! FUNCTION2:     0xF5 <library code: string>                  (one per function library)
//! per database:  0xFE <db number: length>
//!                0xFB <keys: length> <keys with expiry: length>   (RESIZEDB, a sizing hint)
//! per key:       [0xFC <expire ms: 8 bytes LE>]               (EXPIRETIME_MS; v1-2 used 0xFD + 4-byte seconds)
//!                [0xF8 <idle seconds: length>] [0xF9 <LFU counter: 1 byte>]
//!                <value type: 1 byte> <key: string> <value>
//! 0xFF                                                       (EOF)
//! <CRC-64 of everything before: 8 bytes LE>                  (v5+; zero = not computed)
//! ```
//!
//! # Lengths (`rdbSaveLen`)
//!
//! The top two bits of the first byte select the form: `00` a 6-bit length in the byte,
//! `01` a 14-bit length (6 bits here, 8 in the next byte, big-endian), `10` with the low bits
//! `000000` a 32-bit big-endian length in the next 4 bytes, `10000001` a 64-bit one in the
//! next 8; `11` marks a specially encoded string, its kind in the low 6 bits.
//!
//! # Strings (`rdbSaveRawString`)
//!
//! A length then that many bytes, or one of the special encodings: `RDB_ENC_INT8/16/32` (the
//! decimal string of a little-endian integer; used when the string is the canonical form of an
//! integer of that size) or `RDB_ENC_LZF` (compressed length, uncompressed length, LZF data;
//! used for strings over 20 bytes when `rdbcompression` is on and it saves at least 4 bytes).
//!
//! # Values
//!
//! By type byte: a string; a list as a quicklist of listpack nodes (QUICKLIST_2); a set as its
//! members or an intset blob; a sorted set as member/binary-double pairs (ZSET_2) or a listpack
//! blob; a hash as field/value pairs or a listpack blob. Older files also hold linked lists,
//! ziplists, zipmaps and string-encoded doubles; the reader converts them (`reader.rs`).
//!
//! The modules: `lzf` and `crc64` (codecs), `ziplist` and `zipmap` (old blobs, read only),
//! `writer`, `reader`, `dump` (DUMP/RESTORE payloads), and `build` — the one file that knows
//! how tine's hashes, sets, sorted sets and lists are built and walked.

pub mod build;
pub mod crc64;
pub mod dump;
pub mod lzf;
pub mod reader;
pub mod writer;
pub mod ziplist;
pub mod zipmap;

pub use reader::{LoadLimits, LoadedRdb, read_rdb, read_rdb_from};
pub use writer::{RdbOptions, ReplInfo, write_rdb};

use std::fmt;

/// The version this writer produces and the newest the reader accepts.
pub const RDB_VERSION: u32 = 10;

// Value types (the byte before a key).
pub const RDB_TYPE_STRING: u8 = 0;
pub const RDB_TYPE_LIST: u8 = 1;
pub const RDB_TYPE_SET: u8 = 2;
pub const RDB_TYPE_ZSET: u8 = 3;
pub const RDB_TYPE_HASH: u8 = 4;
pub const RDB_TYPE_ZSET_2: u8 = 5;
pub const RDB_TYPE_MODULE_PRE_GA: u8 = 6;
pub const RDB_TYPE_MODULE_2: u8 = 7;
pub const RDB_TYPE_HASH_ZIPMAP: u8 = 9;
pub const RDB_TYPE_LIST_ZIPLIST: u8 = 10;
pub const RDB_TYPE_SET_INTSET: u8 = 11;
pub const RDB_TYPE_ZSET_ZIPLIST: u8 = 12;
pub const RDB_TYPE_HASH_ZIPLIST: u8 = 13;
pub const RDB_TYPE_LIST_QUICKLIST: u8 = 14;
pub const RDB_TYPE_STREAM_LISTPACKS: u8 = 15;
pub const RDB_TYPE_HASH_LISTPACK: u8 = 16;
pub const RDB_TYPE_ZSET_LISTPACK: u8 = 17;
pub const RDB_TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const RDB_TYPE_STREAM_LISTPACKS_2: u8 = 19;

// Opcodes (bytes where a type byte could stand that are not types).
pub const RDB_OPCODE_FUNCTION2: u8 = 245;
pub const RDB_OPCODE_FUNCTION_PRE_GA: u8 = 246;
pub const RDB_OPCODE_MODULE_AUX: u8 = 247;
pub const RDB_OPCODE_IDLE: u8 = 248;
pub const RDB_OPCODE_FREQ: u8 = 249;
pub const RDB_OPCODE_AUX: u8 = 250;
pub const RDB_OPCODE_RESIZEDB: u8 = 251;
pub const RDB_OPCODE_EXPIRETIME_MS: u8 = 252;
pub const RDB_OPCODE_EXPIRETIME: u8 = 253;
pub const RDB_OPCODE_SELECTDB: u8 = 254;
pub const RDB_OPCODE_EOF: u8 = 255;

// Length forms (top two bits of the first byte, and the two long forms).
pub const RDB_6BITLEN: u8 = 0;
pub const RDB_14BITLEN: u8 = 1;
pub const RDB_32BITLEN: u8 = 0x80;
pub const RDB_64BITLEN: u8 = 0x81;
pub const RDB_ENCVAL: u8 = 3;

// Special string encodings (low 6 bits after the `11` marker).
pub const RDB_ENC_INT8: u8 = 0;
pub const RDB_ENC_INT16: u8 = 1;
pub const RDB_ENC_INT32: u8 = 2;
pub const RDB_ENC_LZF: u8 = 3;

// Quicklist node containers in QUICKLIST_2.
pub const QUICKLIST_NODE_CONTAINER_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_CONTAINER_PACKED: u64 = 2;

/// Strings longer than this are tried with LZF when compression is on.
pub const LZF_MIN_LEN: usize = 20;

/// Is `t` a value type Redis 7.0 can find in a file (streams and modules included)?
pub fn is_object_type(t: u8) -> bool {
    t <= RDB_TYPE_MODULE_2 || (RDB_TYPE_HASH_ZIPMAP..=RDB_TYPE_STREAM_LISTPACKS_2).contains(&t)
}

/// Why an RDB file or a DUMP payload could not be loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbError {
    /// The data ended before the structure did.
    Truncated,
    /// Reading from the source failed.
    Io(std::io::ErrorKind),
    /// The file does not start with "REDIS".
    BadSignature,
    /// A version this reader does not know.
    UnsupportedVersion(u32),
    /// A byte that is neither an opcode nor a value type.
    UnknownType(u8),
    /// A length that cannot be right (beyond the data, or beyond what memory allows).
    BadLength(u64),
    /// A special string encoding that does not exist.
    UnknownStringEncoding(u8),
    Lzf(lzf::LzfError),
    Listpack(crate::types::listpack::Error),
    Intset(crate::types::intset::Error),
    Ziplist(ziplist::ZiplistError),
    Zipmap(zipmap::ZipmapError),
    /// A string-encoded double (v1 sorted sets) that does not parse.
    BadDouble,
    /// A sorted set score that is NaN.
    NanScore,
    /// The same member/field twice in one value.
    DuplicateElement(&'static str),
    /// A pairs blob (hash or sorted set listpack) with an odd count of entries.
    OddPairs,
    /// A sorted set listpack not ordered by score, or with a score that is not a number.
    BadZsetListpack,
    /// A quicklist node container other than PLAIN or PACKED, or an empty node blob.
    BadQuicklistNode(u64),
    /// A database number beyond the configured `databases`.
    DbOutOfRange(u64),
    /// The same key twice in one database.
    DuplicateKey {
        db: usize,
        key: Vec<u8>,
    },
    /// The stored checksum differs from the computed one.
    ChecksumMismatch {
        expected: u64,
        got: u64,
    },
    /// A stream that fails its integrity checks: the reason, in Redis's words where it has
    /// them ("Stream listpack integrity check failed", "Duplicate stream consumer detected").
    BadStream(&'static str),
    /// Module values or module AUX data: tine has no modules.
    ModuleNotSupported,
    /// The pre-release function format Redis itself refuses.
    FunctionPreGa,
    /// A DUMP payload shorter than its footer, or with a wrong version or checksum.
    BadPayloadFooter,
    /// A DUMP payload whose value has no elements.
    EmptyValue,
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdbError::Truncated => write!(f, "Unexpected EOF reading RDB file"),
            RdbError::Io(k) => write!(f, "Error reading RDB data: {k}"),
            RdbError::BadSignature => write!(f, "Wrong signature trying to load DB from file"),
            RdbError::UnsupportedVersion(v) => write!(f, "Can't handle RDB format version {v}"),
            RdbError::UnknownType(t) => write!(f, "Unknown RDB encoding type {t}"),
            RdbError::BadLength(l) => write!(f, "Invalid length {l} in RDB data"),
            RdbError::UnknownStringEncoding(e) => {
                write!(f, "Unknown RDB string encoding type {e}")
            }
            RdbError::Lzf(e) => write!(f, "Invalid LZF compressed string: {e}"),
            RdbError::Listpack(e) => write!(f, "Listpack integrity check failed: {e}"),
            RdbError::Intset(e) => write!(f, "Intset integrity check failed: {e}"),
            RdbError::Ziplist(e) => write!(f, "Ziplist integrity check failed: {e}"),
            RdbError::Zipmap(e) => write!(f, "Zipmap integrity check failed: {e}"),
            RdbError::BadDouble => write!(f, "Invalid double value in RDB data"),
            RdbError::NanScore => write!(f, "Zset with NAN score detected"),
            RdbError::DuplicateElement(what) => write!(f, "Duplicate {what} detected"),
            RdbError::OddPairs => write!(f, "Pairs blob with an odd number of entries"),
            RdbError::BadZsetListpack => write!(f, "Zset listpack integrity check failed"),
            RdbError::BadQuicklistNode(c) => {
                write!(f, "Quicklist integrity check failed (container {c})")
            }
            RdbError::DbOutOfRange(n) => write!(
                f,
                "Data file was created with a Redis server configured to handle more databases (found DB {n})"
            ),
            RdbError::DuplicateKey { db, key } => {
                write!(f, "RDB has duplicated key '{}' in DB {db}", String::from_utf8_lossy(key))
            }
            RdbError::ChecksumMismatch { expected, got } => {
                // Redis's words (rdbLoadRioWithLoadingCtx), its "expected" being the sum it
                // computed, then the error rdbReportError names: "RDB CRC error".
                write!(
                    f,
                    "Wrong RDB checksum expected: ({got:x}) but got ({expected:x}): RDB CRC error"
                )
            }
            RdbError::BadStream(why) => write!(f, "{why}"),
            RdbError::ModuleNotSupported => {
                write!(f, "RDB holds module data; modules are not supported by tine")
            }
            RdbError::FunctionPreGa => write!(f, "Pre-release function format not supported"),
            RdbError::BadPayloadFooter => {
                write!(f, "DUMP payload version or checksum are wrong")
            }
            RdbError::EmptyValue => write!(f, "Value with no elements"),
        }
    }
}

impl std::error::Error for RdbError {}

impl From<lzf::LzfError> for RdbError {
    fn from(e: lzf::LzfError) -> Self {
        RdbError::Lzf(e)
    }
}
impl From<crate::types::listpack::Error> for RdbError {
    fn from(e: crate::types::listpack::Error) -> Self {
        RdbError::Listpack(e)
    }
}
impl From<crate::types::intset::Error> for RdbError {
    fn from(e: crate::types::intset::Error) -> Self {
        RdbError::Intset(e)
    }
}
impl From<ziplist::ZiplistError> for RdbError {
    fn from(e: ziplist::ZiplistError) -> Self {
        RdbError::Ziplist(e)
    }
}
impl From<zipmap::ZipmapError> for RdbError {
    fn from(e: zipmap::ZipmapError) -> Self {
        RdbError::Zipmap(e)
    }
}
