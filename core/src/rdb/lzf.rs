//! LZF, the compression Redis applies to RDB strings (liblzf 3.6 format, `lzf_c.c`/`lzf_d.c`).
//!
//! # Format
//!
//! A compressed stream is a sequence of items, each opened by a control byte `c`:
//!
//! * `c < 32` — a literal run: the next `c + 1` bytes are copied as they are (1..=32 bytes).
//! * `c >= 32` — a back reference: `len = c >> 5` (1..=7) and the high 5 bits of an offset
//!   `(c & 0x1f) << 8`. If `len == 7` one more byte follows and is added to `len`. Then comes
//!   the low byte of the offset. The item copies `len + 2` bytes starting `offset + 1` bytes
//!   behind the current end of the output (so a reference covers 3..=264 bytes, up to 8 KiB
//!   back, and may overlap what it produces — that is how runs are encoded).
//!
//! The stream carries no length: the RDB string that holds it stores both the compressed and
//! the uncompressed length (`RDB_ENC_LZF`), and decompression must produce exactly the latter.
//!
//! # Compressor
//!
//! The same greedy algorithm as liblzf with Redis's settings (`HLOG` 16, `VERY_FAST`): a hash
//! of the next three bytes indexes a table of the last position where that hash was seen; a
//! candidate within 8 KiB whose three bytes match starts a reference, extended as far as it
//! goes (at most 264 bytes). After a reference the two positions before its end are hashed
//! again. The table starts zeroed (liblzf leaves it uninitialized; zeroed is its first-call
//! behaviour), so the output equals liblzf's for the same input.
//!
//! Since a reference of at most 3 encoded bytes yields at most 264 bytes, output is at most
//! 88 times the input: readers use that to refuse lengths no input could produce before
//! allocating.

/// Longest literal run.
pub const MAX_LIT: usize = 1 << 5;
/// Farthest back a reference reaches.
pub const MAX_OFF: usize = 1 << 13;
/// Longest reference (bytes copied).
pub const MAX_REF: usize = (1 << 8) + (1 << 3);
/// log2 of the hash table size.
pub const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
/// Most bytes one compressed byte can stand for (a 3-byte reference copying 264 bytes).
pub const MAX_EXPANSION: usize = 88;

/// Why a compressed stream could not be decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzfError {
    /// The stream produces more bytes than the stated uncompressed length.
    OutputOverflow,
    /// A literal run or reference is cut off by the end of the stream.
    Truncated,
    /// A reference points before the start of the output.
    BadReference,
    /// The stream ended before producing the stated length.
    ShortOutput,
}

impl std::fmt::Display for LzfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LzfError::OutputOverflow => "LZF data decompresses to more than its stated length",
            LzfError::Truncated => "LZF data truncated",
            LzfError::BadReference => "LZF back reference before start of output",
            LzfError::ShortOutput => "LZF data decompresses to less than its stated length",
        })
    }
}

impl std::error::Error for LzfError {}

/// Decompresses `input`, which must produce exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    if out_len > input.len().saturating_mul(MAX_EXPANSION) {
        return Err(LzfError::OutputOverflow);
    }
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if out.len() + run > out_len {
                return Err(LzfError::OutputOverflow);
            }
            let lit = input.get(ip..ip + run).ok_or(LzfError::Truncated)?;
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            let mut back = (ctrl & 0x1f) << 8;
            if len == 7 {
                len += *input.get(ip).ok_or(LzfError::Truncated)? as usize;
                ip += 1;
            }
            back += *input.get(ip).ok_or(LzfError::Truncated)? as usize;
            ip += 1;
            let copy = len + 2;
            if out.len() + copy > out_len {
                return Err(LzfError::OutputOverflow);
            }
            if back + 1 > out.len() {
                return Err(LzfError::BadReference);
            }
            let start = out.len() - back - 1;
            if back + 1 >= copy {
                out.extend_from_within(start..start + copy);
            } else {
                for i in 0..copy {
                    let b = out[start + i];
                    out.push(b);
                }
            }
        }
    }
    if out.len() != out_len {
        return Err(LzfError::ShortOutput);
    }
    Ok(out)
}

/// A reusable compressor: the hash table is allocated once (the RDB writer in a fork child
/// must not allocate per key) and never cleared between calls. Each call stores positions
/// offset by its own `base`, above every earlier call's; an entry at or below the current base
/// is stale and reads as "never seen", exactly as a freshly zeroed table would. (Clearing the
/// 64K-entry table per string cost more than compressing a 100-byte value.)
pub struct Compressor {
    htab: Vec<u32>,
    base: u32,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor::new()
    }
}

#[inline]
fn idx(h: u32) -> usize {
    // VERY_FAST: ((h >> (3*8 - HLOG)) - h*5) & (HSIZE - 1)
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

impl Compressor {
    pub fn new() -> Compressor {
        Compressor { htab: vec![0; HSIZE], base: 0 }
    }

    /// Compresses `input` into `out` (cleared first) if the result fits in `max_out` bytes;
    /// returns false (as liblzf returns 0) when it does not or the input is empty.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, max_out: usize) -> bool {
        out.clear();
        if input.is_empty() || max_out == 0 {
            return false;
        }
        if input.len() > (u32::MAX / 4) as usize {
            return false; // positions must fit the table's u32 entries
        }
        let span = in_end_of(input);
        if self.base as u64 + span >= u32::MAX as u64 {
            self.htab.fill(0);
            self.base = 0;
        }
        let base = self.base;
        self.base += span as u32;
        // Positions are stored +1 so that 0 means "never seen" (liblzf's `ref > in_data`
        // test: a reference to position 0 is never taken).
        let in_end = input.len();
        let mut ip = 0usize;
        let mut lit = 0usize;
        // `out` holds the bytes so far; a literal run's control byte is reserved at `lit_pos`.
        let mut lit_pos = 0usize;
        out.push(0);
        macro_rules! start_run {
            () => {{
                lit = 0;
                lit_pos = out.len();
                out.push(0);
            }};
        }
        macro_rules! stop_run {
            () => {{
                if lit > 0 {
                    out[lit_pos] = (lit - 1) as u8;
                } else {
                    // undo run if length is zero
                    out.pop();
                }
            }};
        }
        let frst = |p: usize| ((input[p] as u32) << 8) | input[p + 1] as u32;
        let mut hval: u32 = if in_end >= 2 { frst(0) } else { 0 };
        while in_end >= 3 && ip < in_end - 2 {
            hval = (hval << 8) | input[ip + 2] as u32;
            let slot = idx(hval);
            let e = self.htab[slot];
            let r = if e > base { (e - base) as usize } else { 0 };
            self.htab[slot] = base + (ip + 1) as u32;
            let matched = r > 1 && {
                let rp = r - 1;
                let off = ip - rp - 1;
                off < MAX_OFF
                    && input[rp + 2] == input[ip + 2]
                    && input[rp] == input[ip]
                    && input[rp + 1] == input[ip + 1]
            };
            if matched {
                let rp = r - 1;
                let off = ip - rp - 1;
                let mut len = 2usize;
                let maxlen = (in_end - ip - len).min(MAX_REF);
                // liblzf: conservative then exact output-space test
                if out.len() + 3 + 1 >= max_out
                    && out.len() - usize::from(lit == 0) + 3 + 1 >= max_out
                {
                    return false;
                }
                stop_run!();
                // liblzf first compares up to 16 bytes unrolled without the `maxlen` bound
                // (the input always holds them then), then one by one up to `maxlen`.
                let mut mismatch = false;
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[rp + len] != input[ip + len] {
                            mismatch = true;
                            break;
                        }
                    }
                }
                if !mismatch {
                    loop {
                        len += 1;
                        if !(len < maxlen && input[rp + len] == input[ip + len]) {
                            break;
                        }
                    }
                }
                len -= 2; // number of octets - 1
                ip += 1;
                if len < 7 {
                    out.push(((off >> 8) + (len << 5)) as u8);
                } else {
                    out.push(((off >> 8) + (7 << 5)) as u8);
                    out.push((len - 7) as u8);
                }
                out.push(off as u8);
                start_run!();
                ip += len + 1;
                if ip >= in_end - 2 {
                    break;
                }
                // VERY_FAST: rehash the two positions before the end of the match
                ip -= 2;
                hval = frst(ip);
                hval = (hval << 8) | input[ip + 2] as u32;
                self.htab[idx(hval)] = base + (ip + 1) as u32;
                ip += 1;
                hval = (hval << 8) | input[ip + 2] as u32;
                self.htab[idx(hval)] = base + (ip + 1) as u32;
                ip += 1;
            } else {
                if out.len() >= max_out {
                    return false;
                }
                lit += 1;
                out.push(input[ip]);
                ip += 1;
                if lit == MAX_LIT {
                    out[lit_pos] = (lit - 1) as u8;
                    start_run!();
                }
            }
        }
        if out.len() + 3 > max_out {
            return false;
        }
        while ip < in_end {
            lit += 1;
            out.push(input[ip]);
            ip += 1;
            if lit == MAX_LIT {
                out[lit_pos] = (lit - 1) as u8;
                start_run!();
            }
        }
        stop_run!();
        out.len() <= max_out
    }
}

/// The positions one call may store: its input's length plus one.
fn in_end_of(input: &[u8]) -> u64 {
    input.len() as u64 + 1
}

/// One-shot compression (tests, DUMP): `None` when it does not fit in `max_out`.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if Compressor::new().compress(input, &mut out, max_out) { Some(out) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::SplitMix64 as Rng;

    #[test]
    fn a_reused_compressor_gives_what_a_fresh_one_gives() {
        let mut rng = Rng::new(7);
        let mut reused = Compressor::new();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..2000 {
            let len = rng.below(300) as usize;
            let alphabet = 1 + rng.below(6) as u8;
            let input: Vec<u8> =
                (0..len).map(|_| b'a' + (rng.below(alphabet as u64) as u8)).collect();
            let max = len.saturating_sub(4).max(1);
            let ok_a = reused.compress(&input, &mut a, max);
            let ok_b = Compressor::new().compress(&input, &mut b, max);
            assert_eq!(ok_a, ok_b);
            if ok_a {
                assert_eq!(a, b);
                assert_eq!(decompress(&a, len).unwrap(), input);
            }
        }
    }

    fn round_trip(data: &[u8]) {
        let c = compress(data, data.len() + data.len() / 16 + 64).expect("fits");
        let d = decompress(&c, data.len()).expect("decodes");
        assert_eq!(d, data);
    }

    #[test]
    fn round_trips() {
        round_trip(b"a");
        round_trip(b"ab");
        round_trip(b"abc");
        round_trip(&[b'x'; 1000]);
        round_trip(b"hello hello hello hello hello world world world");
        let mut rng = Rng::new(7);
        for n in [1usize, 2, 3, 10, 31, 32, 33, 100, 1000, 9000, 70_000] {
            let random: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            round_trip(&random);
            let lowent: Vec<u8> = (0..n).map(|_| b'a' + rng.below(3) as u8).collect();
            round_trip(&lowent);
        }
    }

    #[test]
    fn respects_max_out() {
        let data: Vec<u8> = (0..100u8).collect();
        assert!(compress(&data, 50).is_none());
        assert!(compress(&[b'a'; 100], 96).is_some());
    }

    /// The LZF part of the RDB string Redis 7.0.15 saved for `SET k <"abcdefghij" x 10>`
    /// (`c3 12 40 64 ...`: compressed length 18, length 100).
    const REDIS_BLOB: [u8; 18] = [
        0x0a, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x61, 0xe0, 0x4e, 0x09,
        0x01, 0x69, 0x6a,
    ];

    #[test]
    fn decodes_liblzf_output() {
        let want = b"abcdefghij".repeat(10);
        assert_eq!(decompress(&REDIS_BLOB, 100).unwrap(), want);
        assert!(decompress(&REDIS_BLOB, 99).is_err());
        assert!(decompress(&REDIS_BLOB, 101).is_err());
    }

    #[test]
    fn compresses_as_liblzf() {
        let data = b"abcdefghij".repeat(10);
        assert_eq!(compress(&data, 96).unwrap(), REDIS_BLOB);
    }

    #[test]
    fn corrupt_never_panics() {
        let mut rng = Rng::new(99);
        for _ in 0..20_000 {
            let n = rng.below(40) as usize;
            let data: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            let _ = decompress(&data, rng.below(300) as usize);
        }
        assert_eq!(decompress(&[0x20, 0x00], 3), Err(LzfError::BadReference));
        assert_eq!(decompress(&[0x05, 1], 6), Err(LzfError::Truncated));
        assert_eq!(decompress(&[0x00, 1], 2), Err(LzfError::ShortOutput));
    }
}
