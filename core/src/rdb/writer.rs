//! Writing RDB version 10 byte for byte as Redis 7.0 does (`rdbSaveRio` and friends).
//!
//! # What is written, in order
//!
//! 1. `"REDIS0010"`.
//! 2. AUX fields, as `rdbSaveInfoAuxFields`: `redis-ver`, `redis-bits`, `ctime`, `used-mem`,
//!    then (when the caller has replication info) `repl-stream-db`, `repl-id`, `repl-offset`,
//!    then `aof-base`. Numbers are written as decimal strings, so they take the integer string
//!    encodings.
//! 3. Each function library's code: FUNCTION2 and the code as a string (`rdbSaveFunctions`).
//! 4. For each non-empty database: SELECTDB and its number, RESIZEDB with the key count and
//!    the count of keys with an expiry, then each key: EXPIRETIME_MS and the 8-byte LE
//!    milliseconds when it has one, the value type, the key as a string, the value.
//! 5. EOF, then the CRC-64 of everything before as 8 LE bytes (zeros when `rdbchecksum no`).
//!
//! # Strings (`rdbSaveRawString`)
//!
//! Up to 11 bytes that are the canonical decimal form of an integer fitting in 32 bits go as
//! `RDB_ENC_INT8/16/32`; longer than 20 bytes with compression on, as `RDB_ENC_LZF` when LZF
//! output fits in `len - 4` bytes; otherwise length and bytes.
//!
//! # Values (`rdbSaveObject`), as 7.0 chooses the type
//!
//! | value                 | type                 | body                                           |
//! |-----------------------|----------------------|------------------------------------------------|
//! | string                | STRING               | a string                                       |
//! | list                  | LIST_QUICKLIST_2     | node count, then per node its container (PACKED=2 with the listpack bytes, PLAIN=1 with the element) |
//! | set, intset           | SET_INTSET           | the intset bytes as a string                   |
//! | set, table            | SET                  | count, members                                 |
//! | sorted set, listpack  | ZSET_LISTPACK        | the listpack bytes as a string                 |
//! | sorted set, skiplist  | ZSET_2               | count, then member and 8-byte LE double from the highest score down |
//! | hash, listpack        | HASH_LISTPACK        | the listpack bytes as a string                 |
//! | hash, table           | HASH                 | count, field and value pairs                   |
//!
//! # Memory
//!
//! The writer runs in a fork child where every page it writes is copied: it keeps one output
//! buffer, one LZF table and one LZF output buffer for the whole file and allocates nothing
//! per key (beyond what the CONTRACT iterators box).

use std::io::{self, Write};

use super::crc64::Crc64;
use super::lzf::Compressor;
use super::*;
use crate::keyspace::{Db, Str, Value};
use crate::types::listpack::{Entry, IntBuf, string_to_i64};
use crate::types::quicklist::is_plain_node;

/// Replication state saved as AUX fields (so a restarted node can partially resync).
#[derive(Clone, Debug)]
pub struct ReplInfo {
    pub stream_db: i64,
    pub id: String,
    pub offset: i64,
}

/// How to write an RDB.
#[derive(Clone, Debug)]
pub struct RdbOptions {
    /// `rdbcompression`.
    pub compression: bool,
    /// `rdbchecksum`.
    pub checksum: bool,
    /// The `redis-ver` AUX field.
    pub redis_ver: String,
    /// The `ctime` AUX field: seconds since the epoch.
    pub ctime: i64,
    /// The `used-mem` AUX field.
    pub used_mem: u64,
    /// The `aof-base` AUX field: true when the RDB is an AOF's base.
    pub aof_base: bool,
    pub repl: Option<ReplInfo>,
    /// The function libraries' code, each written as FUNCTION2 before the databases (Redis's
    /// rdbSaveFunctions). A snapshot the caller takes before forking: the writer never asks
    /// a script engine for it.
    pub functions: Vec<Vec<u8>>,
}

impl Default for RdbOptions {
    fn default() -> Self {
        RdbOptions {
            compression: true,
            checksum: true,
            redis_ver: crate::REDIS_VERSION.to_string(),
            ctime: crate::base::unix_time(),
            used_mem: 0,
            aof_base: false,
            repl: None,
            functions: Vec::new(),
        }
    }
}

/// Output buffer size; strings larger than this bypass it.
const BUF_SIZE: usize = 64 * 1024;

/// The encoding side: a buffered, checksumming writer of RDB items. Also used for DUMP
/// payloads (with `w` a `Vec<u8>`).
pub struct RdbWriter<'w, W: Write> {
    w: &'w mut W,
    buf: Vec<u8>,
    crc: Option<Crc64>,
    compression: bool,
    lzf: Option<Compressor>,
    lzf_out: Vec<u8>,
}

impl<'w, W: Write> RdbWriter<'w, W> {
    pub fn new(w: &'w mut W, compression: bool, checksum: bool) -> Self {
        RdbWriter {
            w,
            buf: Vec::with_capacity(BUF_SIZE),
            crc: checksum.then(Crc64::new),
            compression,
            lzf: None,
            lzf_out: Vec::new(),
        }
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            if let Some(c) = &mut self.crc {
                c.update(&self.buf);
            }
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes bytes as they are.
    pub fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        if self.buf.len() + b.len() > BUF_SIZE {
            self.flush_buf()?;
            if b.len() > BUF_SIZE / 2 {
                if let Some(c) = &mut self.crc {
                    c.update(b);
                }
                return self.w.write_all(b);
            }
        }
        self.buf.extend_from_slice(b);
        Ok(())
    }

    /// The checksum of everything written so far (0 when not computed).
    pub fn checksum(&mut self) -> io::Result<u64> {
        self.flush_buf()?;
        Ok(self.crc.as_ref().map_or(0, |c| c.value()))
    }

    /// Flushes and returns the checksum of everything written (0 when not computed).
    pub fn finish(mut self) -> io::Result<u64> {
        self.flush_buf()?;
        self.w.flush()?;
        Ok(self.crc.as_ref().map_or(0, |c| c.value()))
    }

    pub fn byte(&mut self, b: u8) -> io::Result<()> {
        self.raw(&[b])
    }

    /// `rdbSaveLen`.
    pub fn len(&mut self, len: u64) -> io::Result<()> {
        if len < 1 << 6 {
            self.byte(len as u8 | (RDB_6BITLEN << 6))
        } else if len < 1 << 14 {
            self.raw(&[((len >> 8) as u8) | (RDB_14BITLEN << 6), len as u8])
        } else if len <= u32::MAX as u64 {
            let mut b = [RDB_32BITLEN, 0, 0, 0, 0];
            b[1..].copy_from_slice(&(len as u32).to_be_bytes());
            self.raw(&b)
        } else {
            let mut b = [RDB_64BITLEN, 0, 0, 0, 0, 0, 0, 0, 0];
            b[1..].copy_from_slice(&len.to_be_bytes());
            self.raw(&b)
        }
    }

    /// `rdbEncodeInteger`: the INT8/16/32 form of `v`, when it fits.
    fn encode_int(&mut self, v: i64) -> io::Result<bool> {
        let tag = RDB_ENCVAL << 6;
        if let Ok(x) = i8::try_from(v) {
            self.raw(&[tag | RDB_ENC_INT8, x as u8])?;
        } else if let Ok(x) = i16::try_from(v) {
            let b = x.to_le_bytes();
            self.raw(&[tag | RDB_ENC_INT16, b[0], b[1]])?;
        } else if let Ok(x) = i32::try_from(v) {
            let b = x.to_le_bytes();
            self.raw(&[tag | RDB_ENC_INT32, b[0], b[1], b[2], b[3]])?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// `rdbSaveLongLongAsStringObject`: an integer value.
    pub fn int_string(&mut self, v: i64) -> io::Result<()> {
        if !self.encode_int(v)? {
            let mut b = itoa::Buffer::new();
            let s = b.format(v).as_bytes();
            self.len(s.len() as u64)?;
            self.raw(s)?;
        }
        Ok(())
    }

    /// `rdbSaveRawString`.
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = string_to_i64(s) {
                if self.encode_int(v)? {
                    return Ok(());
                }
            }
        }
        if self.compression && s.len() > LZF_MIN_LEN {
            let lzf = self.lzf.get_or_insert_with(Compressor::new);
            if lzf.compress(s, &mut self.lzf_out, s.len() - 4) {
                let out = std::mem::take(&mut self.lzf_out);
                let r = (|| {
                    self.byte((RDB_ENCVAL << 6) | RDB_ENC_LZF)?;
                    self.len(out.len() as u64)?;
                    self.len(s.len() as u64)?;
                    self.raw(&out)
                })();
                self.lzf_out = out;
                return r;
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// A listpack or collection element.
    fn entry(&mut self, e: Entry<'_>, buf: &mut IntBuf) -> io::Result<()> {
        match e {
            Entry::Int(v) => {
                // rdbSaveRawString of its decimal form: the integer encodings or the digits.
                let s = e.as_bytes(buf);
                if s.len() <= 11 && self.encode_int(v)? {
                    return Ok(());
                }
                self.len(s.len() as u64)?;
                self.raw(s)
            }
            Entry::Str(s) => self.string(s),
        }
    }

    /// `rdbSaveMillisecondTime`.
    pub fn millis(&mut self, ms: i64) -> io::Result<()> {
        self.raw(&ms.to_le_bytes())
    }

    /// `rdbSaveBinaryDoubleValue`.
    pub fn binary_double(&mut self, v: f64) -> io::Result<()> {
        self.raw(&v.to_le_bytes())
    }

    pub fn aux(&mut self, name: &str, value: &[u8]) -> io::Result<()> {
        self.byte(RDB_OPCODE_AUX)?;
        self.string(name.as_bytes())?;
        self.string(value)
    }

    pub fn aux_int(&mut self, name: &str, v: i64) -> io::Result<()> {
        self.aux(name, itoa::Buffer::new().format(v).as_bytes())
    }

    /// The value's type byte, as `rdbSaveObjectType`.
    pub fn object_type(v: &Value) -> u8 {
        match v {
            Value::Str(_) => RDB_TYPE_STRING,
            Value::List(_) => RDB_TYPE_LIST_QUICKLIST_2,
            Value::Set(s) => {
                if s.as_intset().is_some() {
                    RDB_TYPE_SET_INTSET
                } else {
                    RDB_TYPE_SET
                }
            }
            Value::ZSet(z) => {
                if z.as_listpack().is_some() {
                    RDB_TYPE_ZSET_LISTPACK
                } else {
                    RDB_TYPE_ZSET_2
                }
            }
            Value::Hash(h) => {
                if h.as_listpack().is_some() {
                    RDB_TYPE_HASH_LISTPACK
                } else {
                    RDB_TYPE_HASH
                }
            }
            Value::Stream(_) => RDB_TYPE_STREAM_LISTPACKS_2,
        }
    }

    /// A stream as Redis 7.0's RDB_TYPE_STREAM_LISTPACKS_2: the nodes (master ID as a
    /// 16-byte string, the listpack as a string), the counters and IDs, then each group with
    /// its PEL (raw IDs, delivery time and count) and consumers (name, seen time, raw IDs).
    fn stream(&mut self, s: &crate::types::stream::Stream) -> io::Result<()> {
        self.len(s.node_count() as u64)?;
        for (id, lp) in s.nodes() {
            self.string(&id.encode())?;
            self.string(lp.as_bytes())?;
        }
        self.len(s.length)?;
        self.len(s.last_id.ms)?;
        self.len(s.last_id.seq)?;
        self.len(s.first_id.ms)?;
        self.len(s.first_id.seq)?;
        self.len(s.max_deleted_entry_id.ms)?;
        self.len(s.max_deleted_entry_id.seq)?;
        self.len(s.entries_added)?;
        self.len(s.groups.len() as u64)?;
        for (name, g) in &s.groups {
            self.string(name)?;
            self.len(g.last_id.ms)?;
            self.len(g.last_id.seq)?;
            self.len(g.entries_read as u64)?;
            self.len(g.pel.len() as u64)?;
            for (id, n) in &g.pel {
                self.raw(&id.encode())?;
                self.millis(n.delivery_time)?;
                self.len(n.delivery_count)?;
            }
            self.len(g.consumers.len() as u64)?;
            for (cname, c) in &g.consumers {
                self.string(cname)?;
                self.millis(c.seen_time)?;
                self.len(c.pel.len() as u64)?;
                for id in &c.pel {
                    self.raw(&id.encode())?;
                }
            }
        }
        Ok(())
    }

    /// The value's body, as `rdbSaveObject`.
    pub fn object(&mut self, v: &Value) -> io::Result<()> {
        let mut ib: IntBuf = Default::default();
        match v {
            Value::Str(Str::Int(n)) => self.int_string(*n),
            Value::Str(s) => {
                let mut b = itoa::Buffer::new();
                self.string(s.bytes(&mut b))
            }
            Value::List(l) => {
                self.len(l.node_count() as u64)?;
                for node in l.nodes() {
                    if is_plain_node(node) {
                        self.len(QUICKLIST_NODE_CONTAINER_PLAIN)?;
                        let e = node.get(0).unwrap_or(Entry::Str(b""));
                        let s = e.as_bytes(&mut ib);
                        self.string(s)?;
                    } else {
                        self.len(QUICKLIST_NODE_CONTAINER_PACKED)?;
                        self.string(node.as_bytes())?;
                    }
                }
                Ok(())
            }
            Value::Set(s) => match s.as_intset() {
                Some(is) => self.string(is.as_bytes()),
                None => {
                    self.len(s.len() as u64)?;
                    for m in s.iter() {
                        self.entry(m, &mut ib)?;
                    }
                    Ok(())
                }
            },
            Value::ZSet(z) => match z.as_listpack() {
                Some(lp) => self.string(lp.as_bytes()),
                None => {
                    self.len(z.len() as u64)?;
                    let mut res = Ok(());
                    let walked = super::build::zset_for_each_rev(z, |m, sc| {
                        if res.is_ok() {
                            res = self.string(m).and_then(|_| self.binary_double(sc));
                        }
                    });
                    if !walked {
                        // An encoding build.rs does not know: ascending order is still valid.
                        for (m, sc) in z.iter() {
                            self.entry(m, &mut ib)?;
                            self.binary_double(sc)?;
                        }
                    }
                    res
                }
            },
            Value::Hash(h) => match h.as_listpack() {
                Some(lp) => self.string(lp.as_bytes()),
                None => {
                    self.len(h.len() as u64)?;
                    let mut ib2: IntBuf = Default::default();
                    for (f, v) in h.iter() {
                        self.entry(f, &mut ib)?;
                        self.entry(v, &mut ib2)?;
                    }
                    Ok(())
                }
            },
            Value::Stream(s) => self.stream(s),
        }
    }
}

/// Writes a whole RDB file of `dbs` to `w`. `progress` is called after each key with the
/// number of keys written so far (for the fork child's reports and `rdb-key-save-delay`).
pub fn write_rdb<W: Write>(
    w: &mut W,
    dbs: &[Db],
    opts: &RdbOptions,
    mut progress: impl FnMut(u64),
) -> io::Result<()> {
    let mut out = RdbWriter::new(w, opts.compression, opts.checksum);
    out.raw(format!("REDIS{:04}", RDB_VERSION).as_bytes())?;
    out.aux("redis-ver", opts.redis_ver.as_bytes())?;
    out.aux_int("redis-bits", 64)?;
    out.aux_int("ctime", opts.ctime)?;
    out.aux_int("used-mem", opts.used_mem.min(i64::MAX as u64) as i64)?;
    if let Some(r) = &opts.repl {
        out.aux_int("repl-stream-db", r.stream_db)?;
        out.aux("repl-id", r.id.as_bytes())?;
        out.aux_int("repl-offset", r.offset)?;
    }
    out.aux_int("aof-base", opts.aof_base as i64)?;
    for code in &opts.functions {
        out.byte(RDB_OPCODE_FUNCTION2)?;
        out.string(code)?;
    }
    let mut keys = 0u64;
    for db in dbs {
        if db.is_empty() {
            continue;
        }
        out.byte(RDB_OPCODE_SELECTDB)?;
        out.len(db.id as u64)?;
        out.byte(RDB_OPCODE_RESIZEDB)?;
        out.len(db.len() as u64)?;
        out.len(db.expires_len() as u64)?;
        for (key, value) in db.iter() {
            if let Some(t) = db.expire_of(key) {
                out.byte(RDB_OPCODE_EXPIRETIME_MS)?;
                out.millis(t)?;
            }
            out.byte(RdbWriter::<W>::object_type(value))?;
            out.string(key)?;
            out.object(value)?;
            keys += 1;
            progress(keys);
        }
    }
    out.byte(RDB_OPCODE_EOF)?;
    let crc = out.checksum()?;
    out.raw(&crc.to_le_bytes())?;
    out.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::reader::{LoadLimits, read_rdb};

    /// The file Redis 7.0.15 saved holding only `k` = "abcdefghij" x 10 in db 0.
    pub const REDIS_FILE: [u8; 119] = [
        0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xfa, 0x09, 0x72, 0x65, 0x64, 0x69,
        0x73, 0x2d, 0x76, 0x65, 0x72, 0x06, 0x37, 0x2e, 0x30, 0x2e, 0x31, 0x35, 0xfa, 0x0a, 0x72,
        0x65, 0x64, 0x69, 0x73, 0x2d, 0x62, 0x69, 0x74, 0x73, 0xc0, 0x40, 0xfa, 0x05, 0x63, 0x74,
        0x69, 0x6d, 0x65, 0xc2, 0xe3, 0x56, 0x01, 0x6b, 0xfa, 0x08, 0x75, 0x73, 0x65, 0x64, 0x2d,
        0x6d, 0x65, 0x6d, 0xc2, 0x58, 0xb6, 0x0e, 0x00, 0xfa, 0x08, 0x61, 0x6f, 0x66, 0x2d, 0x62,
        0x61, 0x73, 0x65, 0xc0, 0x00, 0xfe, 0x00, 0xfb, 0x01, 0x00, 0x00, 0x01, 0x6b, 0xc3, 0x12,
        0x40, 0x64, 0x0a, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x61, 0xe0,
        0x4e, 0x09, 0x01, 0x69, 0x6a, 0xff, 0xd8, 0x0c, 0x7d, 0x62, 0x29, 0x3d, 0xb8, 0xfd,
    ];

    fn redis_opts() -> RdbOptions {
        RdbOptions {
            redis_ver: "7.0.15".into(),
            ctime: 0x6b0156e3,
            used_mem: 0x0eb658,
            ..RdbOptions::default()
        }
    }

    #[test]
    fn byte_identical_to_redis() {
        let mut db = crate::keyspace::Keyspace::new(1);
        db.insert_new(
            0,
            b"k".to_vec().into(),
            Value::Str(Str::from_bytes(&b"abcdefghij".repeat(10))),
        );
        let mut out = Vec::new();
        let mut n = 0;
        write_rdb(&mut out, &db, &redis_opts(), |k| n = k).unwrap();
        assert_eq!(n, 1);
        assert_eq!(out, REDIS_FILE);
    }

    #[test]
    fn reads_redis_file() {
        let r = read_rdb(&REDIS_FILE, &LoadLimits::default(), 0).unwrap();
        assert_eq!(r.version, 10);
        assert_eq!(r.keys_loaded, 1);
        assert_eq!(r.aux("redis-ver"), Some(&b"7.0.15"[..]));
        assert_eq!(r.aux("ctime"), Some(&b"1795249891"[..]));
        let v = r.dbs[0].peek(b"k").unwrap();
        assert!(matches!(v, Value::Str(s) if s.to_vec() == b"abcdefghij".repeat(10)));
    }

    #[test]
    fn checksum_off_writes_zeros_and_loads() {
        let mut dbs = crate::keyspace::Keyspace::new(4);
        dbs.insert_new(3, b"a".to_vec().into(), Value::Str(Str::from_i64(-70000)));
        dbs.set_expire(3, b"a", Some(4_000_000_000_000));
        let opts = RdbOptions { checksum: false, ..redis_opts() };
        let mut out = Vec::new();
        write_rdb(&mut out, &dbs, &opts, |_| {}).unwrap();
        assert_eq!(&out[out.len() - 8..], &[0; 8]);
        let r = read_rdb(&out, &LoadLimits::default(), 0).unwrap();
        assert_eq!(r.dbs[3].expire_of(b"a"), Some(4_000_000_000_000));
        assert_eq!(r.stored_checksum, 0);
    }
}
