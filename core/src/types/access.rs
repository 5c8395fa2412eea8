//! Per-key access metadata for eviction and OBJECT IDLETIME/FREQ, kept where it costs no
//! memory: in the key's own allocation, after the key bytes.
//!
//! Redis keeps 24 bits of access data in every object header: an LRU clock (seconds, wrapping
//! at 2^24) or, under an LFU policy, 16 bits of "last decrement time" in minutes plus an 8-bit
//! logarithmic access counter. tine's values have no header to spare, but a key is one heap
//! allocation of exactly its length, and allocation sizes round up to size classes (a 10-byte
//! key takes 16 bytes): [`StoredKey`] appends the 3 metadata bytes to the key, which for most
//! key lengths fits in the same size class. Hashing and equality see only the key bytes, so
//! the metadata can be updated in place through `Dict::get_key_value_mut`.
//!
//! While a fork child exists the keyspace never updates this metadata on reads (a write to a
//! key's page would copy it): see `Db::set_fork_active`.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Bytes of metadata after the key.
const META: usize = 3;
/// The 24-bit LRU clock's mask and its resolution in milliseconds.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
pub const LRU_CLOCK_RESOLUTION_MS: i64 = 1000;
/// The counter a new key starts with under LFU (Redis's LFU_INIT_VAL).
pub const LFU_INIT_VAL: u32 = 5;

/// The server's cached LRU clock (seconds, 24 bits), refreshed every cron tick.
static CLOCK: AtomicU32 = AtomicU32::new(0);
/// True when the eviction policy is an LFU one: metadata then holds LFU data.
static LFU: AtomicBool = AtomicBool::new(false);
/// `lfu-log-factor` and `lfu-decay-time`.
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);

/// Refreshes the clock and the policy settings (cron, CONFIG SET).
pub fn update(now_ms: i64, lfu: bool, log_factor: i64, decay_time: i64) {
    CLOCK.store(((now_ms / LRU_CLOCK_RESOLUTION_MS) as u32) & LRU_CLOCK_MAX, Ordering::Relaxed);
    LFU.store(lfu, Ordering::Relaxed);
    LFU_LOG_FACTOR.store(log_factor.clamp(0, u32::MAX as i64) as u32, Ordering::Relaxed);
    LFU_DECAY_TIME.store(decay_time.clamp(0, u32::MAX as i64) as u32, Ordering::Relaxed);
}

pub fn lru_clock() -> u32 {
    CLOCK.load(Ordering::Relaxed)
}

pub fn lfu_mode() -> bool {
    LFU.load(Ordering::Relaxed)
}

/// Minutes, 16 bits, as Redis's LFUGetTimeInMinutes.
fn minutes() -> u32 {
    (lru_clock() / 60) & 0xFFFF
}

/// The metadata a new key starts with.
pub fn initial() -> u32 {
    if lfu_mode() { (minutes() << 8) | LFU_INIT_VAL } else { lru_clock() }
}

/// The metadata after an access.
pub fn touched(old: u32) -> u32 {
    if lfu_mode() {
        let counter = lfu_log_incr(lfu_decr_and_return(old));
        (minutes() << 8) | counter
    } else {
        lru_clock()
    }
}

/// The metadata RESTORE ... IDLETIME/FREQ (and an RDB's LRU/LFU opcodes) give a key, as
/// Redis's objectSetLRUOrLFU: under an LFU policy the frequency (if given) with the current
/// minutes; otherwise the idle seconds (if given) turned into an access time on the clock,
/// half the clock ahead when that would wrap below zero. None when the option given does not
/// apply to the policy.
pub fn from_idle_or_freq(idle_secs: Option<i64>, freq: Option<i64>) -> Option<u32> {
    if lfu_mode() {
        let f = freq?;
        return Some((minutes() << 8) | f.clamp(0, 255) as u32);
    }
    let idle = idle_secs?;
    let clock = lru_clock() as i64;
    let abs = clock - idle.saturating_mul(1000) / LRU_CLOCK_RESOLUTION_MS;
    let abs = if abs < 0 { (clock + LRU_CLOCK_MAX as i64 / 2) % LRU_CLOCK_MAX as i64 } else { abs };
    Some(abs as u32)
}

/// Seconds since the key was used (LRU metadata), as Redis's estimateObjectIdleTime.
pub fn idle_ms(meta: u32) -> u64 {
    let now = lru_clock();
    let secs = if now >= meta { now - meta } else { now + (LRU_CLOCK_MAX - meta) };
    secs as u64 * LRU_CLOCK_RESOLUTION_MS as u64
}

/// The LFU counter after decay (OBJECT FREQ, eviction), as Redis's LFUDecrAndReturn.
pub fn lfu_decr_and_return(meta: u32) -> u32 {
    let ldt = meta >> 8;
    let counter = meta & 0xFF;
    let now = minutes();
    let elapsed = if now >= ldt { now - ldt } else { 65535 - ldt + now };
    let period = LFU_DECAY_TIME.load(Ordering::Relaxed);
    let periods = if period > 0 { elapsed / period } else { 0 };
    counter.saturating_sub(periods)
}

/// Logarithmic increment of an 8-bit counter (Redis's LFULogIncr).
fn lfu_log_incr(counter: u32) -> u32 {
    if counter == 255 {
        return 255;
    }
    let r: f64 = rand::random();
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * LFU_LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
    if r < p { counter + 1 } else { counter }
}

/// A key as the keyspace stores it: the key bytes then 3 bytes of access metadata, in one
/// allocation. Derefs, hashes and compares as the key bytes alone.
#[derive(Clone)]
pub struct StoredKey(Box<[u8]>);

impl StoredKey {
    pub fn new(key: &[u8]) -> StoredKey {
        let mut v = Vec::with_capacity(key.len() + META);
        v.extend_from_slice(key);
        v.extend_from_slice(&initial().to_le_bytes()[..META]);
        StoredKey(v.into_boxed_slice())
    }

    /// Bytes of its allocation: the key and its access data (MEMORY USAGE).
    pub fn allocation_len(&self) -> usize {
        self.0.len()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0[..self.0.len() - META]
    }

    pub fn meta(&self) -> u32 {
        let n = self.0.len();
        u32::from_le_bytes([self.0[n - 3], self.0[n - 2], self.0[n - 1], 0])
    }

    pub fn set_meta(&mut self, meta: u32) {
        let n = self.0.len();
        self.0[n - META..].copy_from_slice(&meta.to_le_bytes()[..META]);
    }

    /// Records an access.
    pub fn touch(&mut self) {
        let m = touched(self.meta());
        self.set_meta(m);
    }
}

impl Deref for StoredKey {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

impl Borrow<[u8]> for StoredKey {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

impl Hash for StoredKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes().hash(state)
    }
}

impl PartialEq for StoredKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for StoredKey {}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_metadata_share_one_allocation() {
        let mut k = StoredKey::new(b"key:1");
        assert_eq!(&*k, b"key:1");
        k.set_meta(0xABCDEF);
        assert_eq!(k.meta(), 0xABCDEF);
        assert_eq!(&*k, b"key:1");
        let other = StoredKey::new(b"key:1");
        assert_eq!(k, other);
        let mut h1 = std::collections::hash_map::DefaultHasher::new();
        let mut h2 = std::collections::hash_map::DefaultHasher::new();
        k.hash(&mut h1);
        b"key:1"[..].hash(&mut h2);
        assert_eq!(h1.finish(), h2.finish());
    }
}
