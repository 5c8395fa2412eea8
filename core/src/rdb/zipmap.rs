//! Zipmap, the compact hash encoding of RDB files from Redis 2.4 and before (type
//! HASH_ZIPMAP). Read only: the reader converts zipmaps to listpacks, as Redis 7.0 does.
//!
//! # Layout (`zipmap.c`)
//!
//! ```text
//! <zmlen: 1 byte> <len>"field"<len><free>"value" ... <0xFF>
//! ```
//!
//! `zmlen` is the pair count when below 254 (else unknown). A `len` is one byte when below
//! 254, else 0xFE and a u32 little-endian. After a value's length comes one byte `free`: that
//! many unused bytes follow the value. 0xFF where a field would start ends the map.
//!
//! # Validation
//!
//! As `zipmapValidateIntegrity(deep=1)`: the blob ends in 0xFF, every length, field, value and
//! free space lies inside it, there is at least one pair, and the count matches `zmlen` unless
//! that is 254.

pub const ZIPMAP_BIGLEN: u8 = 254;
pub const ZIPMAP_END: u8 = 255;

/// Why a blob is not a valid zipmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZipmapError {
    TooShort,
    MissingTerminator,
    /// An entry at this offset reaches past the end.
    OutOfBounds(usize),
    Empty,
    CountMismatch,
}

impl std::fmt::Display for ZipmapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZipmapError::TooShort => write!(f, "zipmap too short"),
            ZipmapError::MissingTerminator => write!(f, "zipmap terminator missing"),
            ZipmapError::OutOfBounds(p) => write!(f, "zipmap entry out of bounds at offset {p}"),
            ZipmapError::Empty => write!(f, "zipmap is empty"),
            ZipmapError::CountMismatch => write!(f, "zipmap count mismatch"),
        }
    }
}

impl std::error::Error for ZipmapError {}

/// Deep-validates `zm` and calls `f` with every (field, value) in order; returns the count.
pub fn for_each<'a>(
    zm: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]),
) -> Result<usize, ZipmapError> {
    if zm.len() < 2 {
        return Err(ZipmapError::TooShort);
    }
    let last = zm.len() - 1;
    if zm[last] != ZIPMAP_END {
        return Err(ZipmapError::MissingTerminator);
    }
    // Reads a length at `p` (which must be before the terminator); returns (len, size).
    let read_len = |p: usize| -> Result<(usize, usize), ZipmapError> {
        if zm[p] < ZIPMAP_BIGLEN {
            Ok((zm[p] as usize, 1))
        } else {
            if p + 5 > last {
                return Err(ZipmapError::OutOfBounds(p));
            }
            let l = u32::from_le_bytes([zm[p + 1], zm[p + 2], zm[p + 3], zm[p + 4]]);
            Ok((l as usize, 5))
        }
    };
    let mut p = 1;
    let mut count = 0usize;
    while p < last && zm[p] != ZIPMAP_END {
        let start = p;
        let oob = ZipmapError::OutOfBounds(start);
        let (klen, s) = read_len(p)?;
        p += s;
        let kend = p.checked_add(klen).ok_or(oob)?;
        if kend >= last {
            return Err(oob);
        }
        let field = &zm[p..kend];
        p = kend;
        let (vlen, s) = read_len(p)?;
        p += s;
        if p >= last {
            return Err(oob);
        }
        let free = zm[p] as usize;
        p += 1;
        let vend = p.checked_add(vlen).ok_or(oob)?;
        let next = vend.checked_add(free).ok_or(oob)?;
        if next > last {
            return Err(oob);
        }
        f(field, &zm[p..vend]);
        p = next;
        count += 1;
    }
    if p != last {
        return Err(ZipmapError::OutOfBounds(p));
    }
    if count == 0 {
        return Err(ZipmapError::Empty);
    }
    if zm[0] != ZIPMAP_BIGLEN && zm[0] as usize != count {
        return Err(ZipmapError::CountMismatch);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_rejects() {
        // {"foo": "bar", "k": "" (with 2 free bytes)}
        let zm = [2, 3, b'f', b'o', b'o', 3, 0, b'b', b'a', b'r', 1, b'k', 0, 2, 0, 0, 0xFF];
        let mut got = Vec::new();
        assert_eq!(for_each(&zm, |f, v| got.push((f.to_vec(), v.to_vec()))), Ok(2));
        assert_eq!(got[0], (b"foo".to_vec(), b"bar".to_vec()));
        assert_eq!(got[1], (b"k".to_vec(), b"".to_vec()));
        for n in 0..zm.len() {
            assert!(for_each(&zm[..n], |_, _| {}).is_err());
        }
        let mut bad = zm;
        bad[0] = 3;
        assert_eq!(for_each(&bad, |_, _| {}), Err(ZipmapError::CountMismatch));
        assert_eq!(for_each(&[0, 0xFF], |_, _| {}), Err(ZipmapError::Empty));
        for i in 0..zm.len() {
            for x in [0u8, 1, 0xFD, 0xFE, 0xFF] {
                let mut z = zm;
                z[i] = x;
                let _ = for_each(&z, |_, _| {});
            }
        }
    }
}
