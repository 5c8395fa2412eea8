//! DEBUG DIGEST and DEBUG DIGEST-VALUE, byte for byte as Redis 7.0 computes them, so that a
//! digest taken on tine and one taken on redis-server can be compared after a save, a load or
//! a replication.
//!
//! The mechanism (Redis's debug.c): two operations on a 20-byte digest —
//! `xor(d, data)`: d ^= SHA1(data), order-independent, used for unordered elements;
//! `mix(d, data)`: d = SHA1(d ^ SHA1(data)), order-dependent.
//! Per key: mix the key's bytes, mix the type number (big-endian u32), then the value (strings
//! mixed; list elements mixed in order; set members xored; hash fields and zset members each
//! get their own element digest — field then value, or member then `%.17g` score — xored in
//! through SHA1 like any xor),
//! then xor "!!expire!!" if the key has an expiry. The key digest is xored into the dataset
//! digest after mixing in the database number (big-endian u32) once per non-empty database.

use sha1::{Digest as _, Sha1};

use super::Value;

pub type Digest = [u8; 20];

/// Redis's object type numbers.
pub const OBJ_STRING: u32 = 0;
pub const OBJ_LIST: u32 = 1;
pub const OBJ_SET: u32 = 2;
pub const OBJ_ZSET: u32 = 3;
pub const OBJ_HASH: u32 = 4;
pub const OBJ_STREAM: u32 = 6;

fn sha1(data: &[u8]) -> Digest {
    Sha1::digest(data).into()
}

/// d ^= SHA1(data)
pub fn xor(d: &mut Digest, data: &[u8]) {
    let h = sha1(data);
    for (a, b) in d.iter_mut().zip(h.iter()) {
        *a ^= b;
    }
}

/// d = SHA1(d ^ SHA1(data))
pub fn mix(d: &mut Digest, data: &[u8]) {
    xor(d, data);
    *d = sha1(&d[..]);
}

/// The digest of one value (with its expiry flag), as xorObjectDigest.
pub fn value_digest(v: &Value, has_expire: bool) -> Digest {
    let mut d = [0u8; 20];
    mix(&mut d, &v.type_number().to_be_bytes());
    v.mix_into_digest(&mut d);
    if has_expire {
        xor(&mut d, b"!!expire!!");
    }
    d
}

pub fn to_hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{:02x}", b)).collect()
}

/// The element digest of a (field, value) or (member, score) pair, xored into `d`. Redis
/// does this with `xorDigest(digest, eledigest, 20)`, which xors in the SHA1 *of* the element
/// digest, not the element digest itself (checked against redis-server 7.0.15).
pub fn xor_pair(d: &mut Digest, a: &[u8], b: &[u8]) {
    let mut e = [0u8; 20];
    mix(&mut e, a);
    mix(&mut e, b);
    xor(d, &e);
}
