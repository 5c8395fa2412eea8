//! Redis's `long double` arithmetic for INCRBYFLOAT and HINCRBYFLOAT, in software.
//!
//! Redis 7.0 reads both operands with `strtold`, adds them as x86's 80-bit extended floats
//! (64-bit mantissa, 15-bit exponent) and prints the sum with `%.17Lf`, trailing zeros
//! trimmed. Doing the same in `f64` gives other digits as soon as a value needs more than 53
//! bits (1.5e24 + 1 prints differently), and overflows at 1.8e308 where Redis goes on to
//! 1.2e4932. So the three steps are done here exactly as the C library does them: a
//! correctly rounded decimal-to-binary conversion, an addition rounded to nearest-even, and
//! an exact binary-to-decimal expansion. The numbers involved are small (an increment), so
//! a plain schoolbook big integer is enough.

use std::cmp::Ordering;

/// Bits of the mantissa (explicit leading bit, as x87 stores it).
const MANT_BITS: u32 = 64;
/// A finite value is `mant * 2^exp`, `mant` with its top bit set unless subnormal; these
/// bound `exp` (x87's exponent range, -16382..=16383 for `1.f`, shifted by 63).
const EXP_MAX: i32 = 16383 - 63;
const EXP_MIN: i32 = -16382 - 63;
/// Significant decimal digits kept when reading; beyond them only "was anything non-zero"
/// is kept, which decides rounding except in contrived halfway cases.
const MAX_DIGITS: usize = 800;

/// An 80-bit extended float.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    /// `(-1)^neg * mant * 2^exp`; zero is `mant == 0`.
    Finite {
        neg: bool,
        mant: u64,
        exp: i32,
    },
    Inf {
        neg: bool,
    },
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble::Finite { neg: false, mant: 0, exp: 0 };

    /// Reads a float as Redis's string2ld does (strtold, the whole string, no spaces, NaN
    /// refused): decimal with optional fraction and exponent, "inf"/"infinity", C99 hex. A
    /// number strtold finds out of range (rounding to infinity, or to zero from non-zero
    /// digits) is refused too, as string2ld refuses ERANGE.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        // The syntax is the f64 parser's (checked against Redis); only the value is redone.
        let approx = super::parse_f64(s);
        let Some(approx) = approx else {
            return parse_hex(s);
        };
        if approx.is_infinite() {
            let lower = s.to_ascii_lowercase();
            if lower.ends_with(b"inf") || lower.ends_with(b"infinity") {
                return Some(LongDouble::Inf { neg: approx < 0.0 });
            }
        }
        parse_decimal(s)
    }

    pub fn is_finite(self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }

    /// The sum, rounded to nearest-even as the FPU does.
    fn sum(self, other: LongDouble) -> LongDouble {
        let (
            LongDouble::Finite { neg: an, mant: am, exp: ae },
            LongDouble::Finite { neg: bn, mant: bm, exp: be },
        ) = (self, other)
        else {
            // inf + finite = inf; inf - inf is NaN, which the callers refuse like inf.
            return match (self, other) {
                (LongDouble::Inf { neg }, _) | (_, LongDouble::Inf { neg }) => {
                    LongDouble::Inf { neg }
                }
                _ => unreachable!(),
            };
        };
        if am == 0 {
            return if bm == 0 {
                LongDouble::Finite { neg: an && bn, mant: 0, exp: 0 }
            } else {
                other
            };
        }
        if bm == 0 {
            return self;
        }
        // Put the operand with the larger exponent first.
        let ((an, am, ae), (bn, bm, be)) =
            if ae >= be { ((an, am, ae), (bn, bm, be)) } else { ((bn, bm, be), (an, am, ae)) };
        let d = (ae - be) as u32;
        let a = (am as u128) << 63;
        let (b, sticky) = if d >= 127 {
            (0u128, true)
        } else {
            let full = (bm as u128) << 63;
            (full >> d, full & ((1u128 << d) - 1) != 0)
        };
        let exp = ae - 63;
        if an == bn {
            return round(an, a + b, exp, sticky);
        }
        match a.cmp(&b) {
            Ordering::Greater => {
                let diff = if sticky { a - b - 1 } else { a - b };
                round(an, diff, exp, sticky)
            }
            Ordering::Less => round(bn, b - a, exp, false),
            Ordering::Equal => {
                if sticky {
                    round(an, 0, exp, true)
                } else {
                    LongDouble::ZERO
                }
            }
        }
    }

    /// `%.17Lf` with the trailing zeros of the fraction (and a bare '.') removed, "-0" as
    /// "0": Redis's ld2string(LD_STR_HUMAN). None for an infinity.
    pub fn to_human(self) -> Option<String> {
        let LongDouble::Finite { neg, mant, exp } = self else { return None };
        const SCALE: u128 = 100_000_000_000_000_000; // 10^17
        let (mut int, frac) = if exp >= 0 {
            (Big::from_u64(mant).shl(exp as u32), 0u128)
        } else {
            let sh = (-exp) as u32;
            let int = if sh >= 64 { 0 } else { mant >> sh };
            let rest = if sh >= 64 { mant } else { mant & ((1u64 << sh) - 1) };
            // rest / 2^sh to 17 decimals, rounded to nearest-even on the exact value.
            let scaled = rest as u128 * SCALE;
            let (q, round_up) = if sh >= 128 {
                (0, false)
            } else {
                let q = scaled >> sh;
                let r = scaled & ((1u128 << sh) - 1);
                let half = 1u128 << (sh - 1);
                (q, r > half || (r == half && q & 1 == 1))
            };
            (Big::from_u64(int), q + round_up as u128)
        };
        let frac = if frac >= SCALE {
            int = int.add_small(1);
            frac - SCALE
        } else {
            frac
        };
        let mut s = String::new();
        if neg {
            s.push('-');
        }
        s.push_str(&int.to_decimal());
        let digits = format!("{:017}", frac);
        let digits = digits.trim_end_matches('0');
        if !digits.is_empty() {
            s.push('.');
            s.push_str(digits);
        }
        Some(if s == "-0" { "0".to_string() } else { s })
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;
    fn add(self, other: LongDouble) -> LongDouble {
        self.sum(other)
    }
}

/// Rounds `q * 2^exp` (plus a non-zero remainder below the last bit when `sticky`) to a
/// 64-bit mantissa, nearest-even, with x87's exponent range (subnormals, overflow to inf).
fn round(neg: bool, q: u128, exp: i32, sticky: bool) -> LongDouble {
    if q == 0 {
        return LongDouble::Finite { neg, mant: 0, exp: 0 };
    }
    let bits = 128 - q.leading_zeros();
    let mut drop = bits as i32 - MANT_BITS as i32;
    if exp + drop < EXP_MIN {
        drop = EXP_MIN - exp;
    }
    if drop <= 0 {
        // Exact: shift left to normalise, never below the smallest exponent.
        let up = (-drop).min(exp - EXP_MIN).max(0) as u32;
        return LongDouble::Finite { neg, mant: (q << up) as u64, exp: exp - up as i32 };
    }
    if drop >= 128 {
        // Below half the smallest subnormal: zero.
        return LongDouble::Finite { neg, mant: 0, exp: 0 };
    }
    let drop = drop as u32;
    let mut kept = q >> drop;
    let rem = q & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    if rem > half || (rem == half && (sticky || kept & 1 == 1)) {
        kept += 1;
    }
    let mut e = exp + drop as i32;
    if kept >> MANT_BITS != 0 {
        kept >>= 1;
        e += 1;
    }
    if e > EXP_MAX {
        return LongDouble::Inf { neg };
    }
    LongDouble::Finite { neg, mant: kept as u64, exp: e }
}

/// A decimal string (already known to be valid syntax, finite) to the nearest long double.
fn parse_decimal(s: &[u8]) -> Option<LongDouble> {
    let (neg, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mant, exp_part) = match body.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mut digits: Vec<u8> = Vec::new();
    let mut exp10: i64 = 0;
    let mut seen_dot = false;
    let mut sticky = false;
    for &b in mant {
        match b {
            b'.' => seen_dot = true,
            b'0'..=b'9' => {
                let d = b - b'0';
                if digits.is_empty() && d == 0 {
                    if seen_dot {
                        exp10 -= 1;
                    }
                    continue;
                }
                if digits.len() < MAX_DIGITS {
                    digits.push(d);
                    if seen_dot {
                        exp10 -= 1;
                    }
                } else {
                    sticky |= d != 0;
                    if !seen_dot {
                        exp10 += 1;
                    }
                }
            }
            _ => return None,
        }
    }
    if let Some(e) = exp_part {
        let (eneg, edigits) = match e.first() {
            Some(b'-') => (true, &e[1..]),
            Some(b'+') => (false, &e[1..]),
            _ => (false, e),
        };
        let mut v: i64 = 0;
        for &b in edigits {
            v = v.saturating_mul(10).saturating_add((b - b'0') as i64);
        }
        exp10 = exp10.saturating_add(if eneg { -v } else { v });
    }
    if digits.is_empty() {
        return Some(LongDouble::Finite { neg, mant: 0, exp: 0 });
    }
    if sticky {
        // A digit standing for the dropped non-zero tail.
        digits.push(1);
        exp10 -= 1;
    }
    let magnitude = exp10.saturating_add(digits.len() as i64);
    if !(-4955..=4935).contains(&magnitude) {
        return None;
    }
    let mut num = Big::from_digits(&digits);
    let mut den = Big::from_u64(1);
    if exp10 >= 0 {
        num = num.mul_pow10(exp10 as u32);
    } else {
        den = den.mul_pow10((-exp10) as u32);
    }
    // q = floor(num * 2^s / den) with 2^65 <= q < 2^66 (two bits below the mantissa).
    let mut s = 65 - (num.bits() as i64 - den.bits() as i64);
    loop {
        let (n, d) = if s >= 0 {
            (num.shl(s as u32), den.clone())
        } else {
            (num.clone(), den.shl((-s) as u32))
        };
        let (q, rem_zero) = n.div_small_quotient(&d, 67);
        if q >= 1u128 << 66 {
            s -= 1;
            continue;
        }
        if q < 1u128 << 65 {
            s += 1;
            continue;
        }
        return match round(neg, q, -(s as i32), !rem_zero) {
            LongDouble::Inf { .. } => None,
            LongDouble::Finite { mant: 0, .. } => None,
            v => Some(v),
        };
    }
}

/// A C99 hex float ("0x10", "-0x1.8p3") taken apart: `(-1)^neg * q * 2^scale`, plus a
/// non-zero remainder below `q`'s last bit when `sticky` (digits past 124 bits are cut).
struct HexFloat {
    neg: bool,
    q: u128,
    scale: i64,
    sticky: bool,
}

fn hex_float(s: &[u8]) -> Option<HexFloat> {
    let (neg, rest) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest.strip_prefix(b"0x").or_else(|| rest.strip_prefix(b"0X"))?;
    let (mant, exp) = match rest.iter().position(|&b| b == b'p' || b == b'P') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut q: u128 = 0;
    let mut scale: i64 = 0;
    let (mut digits, mut seen_dot, mut sticky) = (0, false, false);
    for &b in mant {
        if b == b'.' && !seen_dot {
            seen_dot = true;
            continue;
        }
        let d = (b as char).to_digit(16)? as u128;
        digits += 1;
        if q >> 120 == 0 {
            q = q << 4 | d;
            if seen_dot {
                scale -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_dot {
                scale += 4;
            }
        }
    }
    if digits == 0 {
        return None;
    }
    if let Some(e) = exp {
        let e = std::str::from_utf8(e).ok()?.parse::<i64>().ok()?;
        scale = scale.checked_add(e)?;
    }
    Some(HexFloat { neg, q, scale, sticky })
}

/// A C99 hex float as strtold reads it: exact up to 64 significant bits, rounded to nearest
/// past them.
fn parse_hex(s: &[u8]) -> Option<LongDouble> {
    let h = hex_float(s)?;
    if h.q == 0 {
        return Some(LongDouble::Finite { neg: h.neg, mant: 0, exp: 0 });
    }
    Some(round(h.neg, h.q, h.scale.clamp(-40000, 40000) as i32, h.sticky))
}

/// A C99 hex float as a double (strtod's reading, for SORT's scores); None when the exponent
/// does not fit an int.
pub fn parse_hex_f64(s: &[u8]) -> Option<f64> {
    let h = hex_float(s)?;
    let v = h.q as f64 * 2f64.powi(i32::try_from(h.scale).ok()?);
    Some(if h.neg { -v } else { v })
}

/// A non-negative big integer, little-endian 32-bit limbs.
#[derive(Clone, Debug)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn from_digits(digits: &[u8]) -> Big {
        let mut b = Big(Vec::new());
        for chunk in digits.chunks(9) {
            let mut v = 0u32;
            for &d in chunk {
                v = v * 10 + d as u32;
            }
            b = b.mul_small(10u32.pow(chunk.len() as u32)).add_small(v);
        }
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bits(&self) -> u32 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u32 - 1) * 32 + (32 - top.leading_zeros()),
        }
    }

    fn mul_small(mut self, m: u32) -> Big {
        let mut carry = 0u64;
        for limb in self.0.iter_mut() {
            let v = *limb as u64 * m as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
        self
    }

    fn add_small(mut self, a: u32) -> Big {
        let mut carry = a as u64;
        for limb in self.0.iter_mut() {
            if carry == 0 {
                break;
            }
            let v = *limb as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self
    }

    fn mul_pow10(mut self, mut k: u32) -> Big {
        while k >= 9 {
            self = self.mul_small(1_000_000_000);
            k -= 9;
        }
        self.mul_small(10u32.pow(k))
    }

    fn shl(&self, n: u32) -> Big {
        let (words, bits) = ((n / 32) as usize, n % 32);
        let mut out = vec![0u32; words];
        let mut carry = 0u32;
        for &limb in &self.0 {
            if bits == 0 {
                out.push(limb);
            } else {
                out.push((limb << bits) | carry);
                carry = limb >> (32 - bits);
            }
        }
        if carry > 0 {
            out.push(carry);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let o = *other.0.get(i).unwrap_or(&0) as i64;
            let mut v = self.0[i] as i64 - o - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            self.0[i] = v as u32;
        }
        self.trim();
    }

    /// floor(self / d), known to be below 2^bits, and whether the remainder is zero: binary
    /// long division, one bit at a time (only ~67 quotient bits are ever needed).
    fn div_small_quotient(&self, d: &Big, bits: u32) -> (u128, bool) {
        let mut rem = self.clone();
        let mut q = 0u128;
        for i in (0..bits).rev() {
            let shifted = d.shl(i);
            if rem.cmp(&shifted) != Ordering::Less {
                rem.sub_assign(&shifted);
                q |= 1u128 << i;
            }
        }
        (q, rem.0.is_empty())
    }

    fn to_decimal(&self) -> String {
        if self.0.is_empty() {
            return "0".into();
        }
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let v = (rem << 32) | *limb as u64;
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            chunks.push(rem as u32);
        }
        let mut s = chunks.pop().unwrap_or(0).to_string();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{:09}", c));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(a: &str, b: &str) -> Option<String> {
        let x = LongDouble::parse(a.as_bytes()).unwrap();
        let y = LongDouble::parse(b.as_bytes()).unwrap();
        (x + y).to_human()
    }

    /// Replies of redis-server 7.0.15 (x86-64) to `SET k a` then `INCRBYFLOAT k b`.
    #[test]
    fn sums_print_as_redis_prints_them() {
        for (a, b, want) in [
            ("10.5", "0.1", "10.6"),
            ("3.0e3", "200", "3200"),
            ("5.0e3", "2.0e2", "5200"),
            ("0", "1.5e1", "15"),
            ("1.1", "2.2", "3.3"),
            ("0.1", "0.2", "0.3"),
            ("-1.5", "1.5", "0"),
            ("1", "-1e-20", "1"),
            ("123456789012345678", "1", "123456789012345679"),
            ("18446744073709551616", "1", "18446744073709551616"),
            ("0", "-0.0", "0"),
            ("0", "0x10", "16"),
            ("0x1.8p3", "0", "12"),
            ("1252058014288151939383296", "0", "1252058014288151939383296"),
            ("0", "1e-4950", "0"),
            ("0", "3.6e-4951", "0"),
            ("5.3", "-0.1", "5.2"),
            (
                "1e308",
                "1e308",
                "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096",
            ),
            (
                "0",
                "1.7976931348623157e308",
                "179769313486231569995921046774104434048386446944329178485314420765176628523124396354701868608387085564428793419425520689308708363451136055357897278026477617073498977686288394835618163294045594434929537447290627480669417384648879122776218333598953852832103282504751611691208117720159985926376802466863339536384",
            ),
        ] {
            assert_eq!(human(a, b).as_deref(), Some(want), "{} + {}", a, b);
        }
    }

    #[test]
    fn range_as_strtold_and_string2ld() {
        // 2^64 + 2 is exact in a long double, not in a double.
        assert_eq!(human("18446744073709551616", "2").unwrap(), "18446744073709551618");
        // A sum past the long double's range is infinity, which INCRBYFLOAT refuses.
        let big = LongDouble::parse(b"1e4932").unwrap();
        assert!(!(big + big).is_finite());
        // string2ld refuses what strtold reports as out of range (to infinity, or to zero).
        assert!(LongDouble::parse(b"1e5000").is_none());
        assert!(LongDouble::parse(b"-1e-6000").is_none());
        assert!(LongDouble::parse(b"0e-6000").is_some());
        assert_eq!(LongDouble::parse(b"-0.0").unwrap().to_human().unwrap(), "0");
        assert!(LongDouble::parse(b"nan").is_none());
        assert!(LongDouble::parse(b" 1").is_none());
        assert_eq!(LongDouble::parse(b"0x10").unwrap().to_human().unwrap(), "16");
        assert_eq!(human("inf", "1"), None);
    }
}
