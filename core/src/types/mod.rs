//! The value types and the structures under them, in Redis's own compact formats: the
//! fork-aware hash table (`dict`), listpack, intset, quicklist, skiplist, and the value
//! encodings built on them (`value`, `hash`, `set`, `zset`, `list`, `stream`), plus what is computed
//! from values (DEBUG DIGEST in `digest`, MEMORY USAGE estimates in `memory`) and the LRU/LFU
//! access data kept beside each key (`access`). Nothing here knows the keyspace's databases.

pub mod access;
pub mod dict;
pub mod digest;
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod memory;
pub mod quicklist;
pub mod set;
pub mod skiplist;
pub mod stream;
pub mod value;
pub mod zset;

pub use access::StoredKey;
pub use value::{Str, Value};

/// A key: its bytes, in one allocation of exactly their length.
pub type Key = Box<[u8]>;
