//! SORT and SORT_RO: sorting the elements of a list, set or sorted set, by their own value or
//! by values looked up through a pattern (`BY weight_*`, `BY obj_*->field`), fetching other
//! keys per element (`GET`), with LIMIT, ASC/DESC, ALPHA and STORE — Redis's sort.c semantics:
//! numeric sorting parses each value as a double ("One or more scores can't be converted into
//! double" otherwise), equal scores fall back to comparing the elements so the result is
//! deterministic, a BY pattern without `*` means "don't sort", and an unsorted set is sorted
//! anyway when the result is stored, so replicas and the AOF see the same list.

use std::cmp::Ordering;

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::engine::session::Session;
use tine_core::base::{self, parse_f64, parse_i64};
use tine_core::keyspace::Value;
use tine_core::types::listpack::Entry;

/// Looks a pattern up for one element: the first `*` is replaced by the element; `->field`
/// after the key part reads a hash field. `#` is the element itself.
fn lookup_pattern(srv: &Ctx<'_>, db: usize, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    // "->" after the star splits key and hash field.
    let arrow = pattern[star..].windows(2).position(|w| w == b"->").map(|p| p + star);
    let (key_pat, field) = match arrow {
        Some(a) if a + 2 < pattern.len() => (&pattern[..a], Some(&pattern[a + 2..])),
        _ => (pattern, None),
    };
    let mut key = Vec::with_capacity(key_pat.len() + elem.len());
    key.extend_from_slice(&key_pat[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&key_pat[star + 1..]);
    let value = srv.data.keyspace[db].peek(&key)?;
    if srv.data.keyspace[db].expire_of(&key).is_some_and(|t| t <= srv.data.now_ms) {
        return None;
    }
    match (value, field) {
        (Value::Str(s), None) => Some(s.to_vec()),
        (Value::Hash(h), Some(f)) => {
            let mut b = tine_core::types::listpack::IntBuf::default();
            h.iter().find(|(k, _)| k.eq_bytes(f)).map(|(_, v)| v.as_bytes(&mut b).to_vec())
        }
        _ => None,
    }
}

/// A weight as Redis's SORT reads it with strtod: the empty string is 0 (strtod stops at its
/// end), leading white space is skipped, hex floats are taken; trailing junk, NaN and
/// out-of-range values are errors.
fn sort_strtod(v: &[u8]) -> Option<f64> {
    if v.is_empty() {
        return Some(0.0);
    }
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let t = &v[start..];
    let x = parse_f64(t).or_else(|| tine_core::base::longdouble::parse_hex_f64(t))?;
    // strtod reports ERANGE for overflow to infinity (a written "inf" is fine).
    if x.is_infinite() && !t.iter().any(|b| b.is_ascii_alphabetic() && *b != b'e' && *b != b'E') {
        return None;
    }
    Some(x)
}

const NOT_DOUBLE: CmdError =
    CmdError::new("ERR", "ERR One or more scores can't be converted into double");

struct Item {
    elem: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

pub(crate) fn sort(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    sort_generic(srv, c, argv, false)
}

pub(crate) fn sort_ro(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    sort_generic(srv, c, argv, true)
}

fn sort_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, read_only: bool) -> CmdResult {
    let (mut desc, mut alpha) = (false, false);
    let (mut offset, mut count) = (0i64, -1i64);
    let mut by: Option<&[u8]> = None;
    let mut dontsort = false;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut store: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        match base::lower(&argv[i]).as_str() {
            "asc" => desc = false,
            "desc" => desc = true,
            "alpha" => alpha = true,
            "limit" if left >= 2 => {
                match (parse_i64(&argv[i + 1]), parse_i64(&argv[i + 2])) {
                    (Some(o), Some(n)) => {
                        offset = o;
                        count = n;
                    }
                    _ => return Err(err::NOT_INTEGER),
                }
                i += 2;
            }
            "store" if left >= 1 && !read_only => {
                store = Some(&argv[i + 1]);
                i += 1;
            }
            "by" if left >= 1 => {
                let p = &argv[i + 1];
                // No '*' (or BY nosort): the elements keep their order.
                if !p.contains(&b'*') {
                    dontsort = true;
                }
                by = Some(p);
                i += 1;
            }
            "get" if left >= 1 => {
                gets.push(&argv[i + 1]);
                i += 1;
            }
            _ => return Err(err::SYNTAX),
        }
        i += 1;
    }

    let db = c.db;
    let mut elems: Vec<Vec<u8>> = Vec::new();
    let mut is_set = false;
    let mut ib = tine_core::types::listpack::IntBuf::default();
    match srv.lookup_read(db, &argv[1]) {
        None => {}
        Some(Value::List(l)) => elems.extend(l.iter().map(|e| e.as_bytes(&mut ib).to_vec())),
        Some(Value::Set(s)) => {
            is_set = true;
            elems.extend(s.iter().map(|e: Entry<'_>| e.as_bytes(&mut ib).to_vec()));
        }
        Some(Value::ZSet(z)) => elems.extend(z.iter().map(|(m, _)| m.as_bytes(&mut ib).to_vec())),
        Some(_) => return Err(err::WRONGTYPE),
    }
    // A stored result of an unsorted set must be deterministic, and so must a script's (its
    // effects replicate): sort it, as Redis does for STORE and CLIENT_SCRIPT callers.
    if dontsort && is_set && (store.is_some() || srv.data.scripting.running.is_some()) {
        dontsort = false;
        alpha = true;
        by = None;
    }

    let mut items: Vec<Item> =
        elems.into_iter().map(|elem| Item { elem, score: 0.0, cmp: None }).collect();
    if !dontsort {
        for it in items.iter_mut() {
            let val = match by {
                Some(p) => lookup_pattern(srv, db, p, &it.elem),
                None => Some(it.elem.clone()),
            };
            if alpha {
                if by.is_some() {
                    it.cmp = val;
                }
            } else if let Some(v) = val {
                match sort_strtod(&v) {
                    Some(s) => it.score = s,
                    None => {
                        // A BY value that isn't a number sorts as 0... only when missing;
                        // present but not a number is an error, as in Redis.
                        return Err(NOT_DOUBLE);
                    }
                }
            }
        }
        let by_given = by.is_some();
        items.sort_by(|a, b| {
            let ord = if alpha {
                if by_given {
                    match (&a.cmp, &b.cmp) {
                        (None, None) => Ordering::Equal,
                        (None, Some(_)) => Ordering::Less,
                        (Some(_), None) => Ordering::Greater,
                        (Some(x), Some(y)) => x.cmp(y),
                    }
                } else {
                    a.elem.cmp(&b.elem)
                }
            } else {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            };
            if desc { ord.reverse() } else { ord }
        });
    } else if desc && !is_set {
        // Unsorted lists and sorted sets keep their native order, walked from the end for
        // DESC (Redis iterates them backwards); a set's order has no direction to reverse.
        items.reverse();
    }

    // LIMIT, clamped as Redis does.
    let len = items.len() as i64;
    let start = offset.clamp(0, len);
    let end = if count < 0 { len } else { (start + count).min(len) };
    let window = &items[start as usize..end.max(start) as usize];

    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    for it in window {
        if gets.is_empty() {
            out.push(Some(it.elem.clone()));
        } else {
            for g in &gets {
                out.push(lookup_pattern(srv, db, g, &it.elem));
            }
        }
    }
    match store {
        None => {
            c.add_array(out.len());
            for v in &out {
                match v {
                    Some(b) => c.add_bulk(b),
                    None => c.add_null(),
                }
            }
        }
        Some(dest) => {
            let n = out.len();
            if n == 0 {
                if srv.data.keyspace.delete(db, dest) {
                    srv.notify(crate::config::custom::notify::GENERIC, "del", dest, db);
                }
            } else {
                let mut list = tine_core::types::list::List::new(
                    srv.data.config.list_max_listpack_size as i32,
                );
                for v in &out {
                    list.push_back(v.as_deref().unwrap_or(b""));
                }
                srv.data.keyspace.set(db, dest, Value::List(Box::new(list)), false);
                srv.notify(crate::config::custom::notify::LIST, "sortstore", dest, db);
            }
            srv.data.dirty += n as u64;
            c.add_int(n as i64);
        }
    }
    Ok(())
}
