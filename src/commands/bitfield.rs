//! BITFIELD and BITFIELD_RO: signed and unsigned integers of 1 to 64 bits (u63 at most) at
//! any bit offset of a string, read, written and incremented with WRAP, SAT or FAIL overflow,
//! as Redis 7.0 does. Every operation is parsed before any runs, so a bad argument anywhere
//! changes nothing; the command counts as a change (and is propagated as itself) only when an
//! operation wrote.

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::config::custom::notify;
use crate::engine::session::Session;
use tine_core::base::{self, parse_i64};
use tine_core::keyspace::{Str, Value};

const BAD_TYPE: CmdError = CmdError::new(
    "ERR",
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);
const BAD_OFFSET: CmdError =
    CmdError::new("ERR", "ERR bit offset is not an integer or out of range");

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Get,
    Set,
    IncrBy,
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

struct Op {
    kind: Kind,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

/// "i1".."i64" or "u1".."u63" (lowercase only, as Redis): (signed, bits).
fn parse_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BAD_TYPE),
    };
    match parse_i64(&arg[1..]) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(BAD_TYPE),
    }
}

/// A bit offset, or "#N" for the N-th field of `bits` bits (the product wraps as Redis's
/// does), below the largest string's length in bits.
fn parse_offset(srv: &Ctx<'_>, arg: &[u8], bits: u32) -> Result<u64, CmdError> {
    let (hash, digits) = match arg.first() {
        Some(b'#') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut n = parse_i64(digits).ok_or(BAD_OFFSET)?;
    if hash {
        n = n.wrapping_mul(bits as i64);
    }
    if n < 0 || (n as u64 >> 3) >= srv.data.config.proto_max_bulk_len as u64 {
        return Err(BAD_OFFSET);
    }
    Ok(n as u64)
}

fn parse_ops(srv: &Ctx<'_>, argv: &Argv) -> Result<Vec<Op>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let remaining = argv.len() - j - 1;
        let sub = base::lower(&argv[j]);
        let kind = match sub.as_str() {
            "get" if remaining >= 2 => Kind::Get,
            "set" if remaining >= 3 => Kind::Set,
            "incrby" if remaining >= 3 => Kind::IncrBy,
            "overflow" if remaining >= 1 => {
                overflow = match base::lower(&argv[j + 1]).as_str() {
                    "wrap" => Overflow::Wrap,
                    "sat" => Overflow::Sat,
                    "fail" => Overflow::Fail,
                    _ => return Err(CmdError::new("ERR", "ERR Invalid OVERFLOW type specified")),
                };
                j += 2;
                continue;
            }
            _ => return Err(err::SYNTAX),
        };
        let (signed, bits) = parse_type(&argv[j + 1])?;
        let offset = parse_offset(srv, &argv[j + 2], bits)?;
        let mut value = 0;
        if kind != Kind::Get {
            value = parse_i64(&argv[j + 3]).ok_or(err::NOT_INTEGER)?;
            j += 4;
        } else {
            j += 3;
        }
        ops.push(Op { kind, signed, bits, offset, value, overflow });
    }
    Ok(ops)
}

/// The unsigned field of `bits` bits at bit `offset`, most significant bit first; bits past
/// the end of `s` read as 0.
fn get_unsigned(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let pos = offset + i;
        let byte = s.get((pos >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (pos & 7))) & 1) as u64;
    }
    v
}

fn get_signed(s: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(s, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 { (v | (u64::MAX << bits)) as i64 } else { v as i64 }
}

fn set_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        let bit = (value >> (bits as u64 - 1 - i)) & 1;
        let pos = offset + i;
        let byte = &mut s[(pos >> 3) as usize];
        let mask = 1u8 << (7 - (pos & 7));
        if bit != 0 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Redis's checkUnsignedBitfieldOverflow: whether `value + incr` leaves u`bits`, and the
/// value WRAP or SAT makes of it.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > max_incr) {
        Some(if ow == Overflow::Wrap { wrap() } else { max })
    } else if incr < 0 && incr < min_incr {
        Some(if ow == Overflow::Wrap { wrap() } else { 0 })
    } else {
        None
    }
}

/// Redis's checkSignedBitfieldOverflow, likewise for i`bits`.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        Some(if ow == Overflow::Wrap { wrap() } else { max })
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        Some(if ow == Overflow::Wrap { wrap() } else { min })
    } else {
        None
    }
}

pub(crate) fn bitfield(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    generic(srv, c, argv, false)
}

pub(crate) fn bitfield_ro(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    generic(srv, c, argv, true)
}

fn generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, ro: bool) -> CmdResult {
    let ops = parse_ops(srv, argv)?;
    let highest_write =
        ops.iter().filter(|o| o.kind != Kind::Get).map(|o| o.offset + o.bits as u64 - 1).max();
    let Some(highest) = highest_write else {
        // Only reads: a missing key reads as zeros.
        let s = match srv.lookup_read(c.db, &argv[1]) {
            None => Vec::new(),
            Some(Value::Str(s)) => s.to_vec(),
            Some(_) => return Err(err::WRONGTYPE),
        };
        c.add_array(ops.len());
        for op in &ops {
            if op.signed {
                c.add_int(get_signed(&s, op.offset, op.bits));
            } else {
                c.add_int(get_unsigned(&s, op.offset, op.bits) as i64);
            }
        }
        return Ok(());
    };
    if ro {
        return Err(CmdError::new("ERR", "ERR BITFIELD_RO only supports the GET subcommand"));
    }
    let (mut s, existed) = match srv.lookup_read_nostats(c.db, &argv[1]) {
        None => (Vec::new(), false),
        Some(Value::Str(s)) => (s.to_vec(), true),
        Some(_) => return Err(err::WRONGTYPE),
    };
    // Redis makes the string raw (dbUnshareStringValue) even when nothing changes.
    let raw = matches!(srv.data.keyspace[c.db].peek(&argv[1]), Some(Value::Str(s)) if s.encoding() == "raw");
    let need = (highest >> 3) as usize + 1;
    // Creating or growing the string makes every write a change, even of an equal value.
    let grown = !existed || s.len() < need;
    if s.len() < need {
        s.resize(need, 0);
    }
    let mut changes = 0u64;
    c.add_array(ops.len());
    for op in &ops {
        match op.kind {
            Kind::Get => {
                if op.signed {
                    c.add_int(get_signed(&s, op.offset, op.bits));
                } else {
                    c.add_int(get_unsigned(&s, op.offset, op.bits) as i64);
                }
            }
            Kind::Set | Kind::IncrBy => {
                let (old, new, reply, overflowed) = if op.signed {
                    let old = get_signed(&s, op.offset, op.bits);
                    if op.kind == Kind::IncrBy {
                        let o = signed_overflow(old, op.value, op.bits, op.overflow);
                        let new = o.unwrap_or_else(|| old.wrapping_add(op.value));
                        (old as u64, new as u64, new, o.is_some())
                    } else {
                        let o = signed_overflow(op.value, 0, op.bits, op.overflow);
                        (old as u64, o.unwrap_or(op.value) as u64, old, o.is_some())
                    }
                } else {
                    let old = get_unsigned(&s, op.offset, op.bits);
                    if op.kind == Kind::IncrBy {
                        let o = unsigned_overflow(old, op.value, op.bits, op.overflow);
                        let new = o.unwrap_or_else(|| old.wrapping_add(op.value as u64));
                        (old, new, new as i64, o.is_some())
                    } else {
                        let o = unsigned_overflow(op.value as u64, 0, op.bits, op.overflow);
                        (old, o.unwrap_or(op.value as u64), old as i64, o.is_some())
                    }
                };
                if overflowed && op.overflow == Overflow::Fail {
                    c.add_null();
                    continue;
                }
                c.add_int(reply);
                set_field(&mut s, op.offset, op.bits, new);
                // (Compared as stored: the written bits only.)
                let mask = if op.bits == 64 { u64::MAX } else { (1u64 << op.bits) - 1 };
                if grown || (old & mask) != (new & mask) {
                    changes += 1;
                }
            }
        }
    }
    if grown || changes > 0 || !raw {
        // Redis keeps a string it created or grew even when every write failed (without
        // counting it as a change).
        srv.data.keyspace.set(c.db, &argv[1], Value::Str(Str::from_modified(s)), true);
    }
    if changes > 0 {
        srv.notify(notify::STRING, "setbit", &argv[1], c.db);
        srv.data.dirty += changes;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_roundtrip_and_sign_extend() {
        let mut s = vec![0u8; 10];
        set_field(&mut s, 3, 5, 0b10110);
        assert_eq!(get_unsigned(&s, 3, 5), 0b10110);
        assert_eq!(get_signed(&s, 3, 5), -10);
        set_field(&mut s, 7, 64, u64::MAX);
        assert_eq!(get_signed(&s, 7, 64), -1);
        assert_eq!(get_unsigned(&s, 80, 8), 0, "past the end reads zeros");
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Sat), None);
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), Some(-126));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(signed_overflow(300, 0, 8, Overflow::Wrap), Some(44));
    }
}
