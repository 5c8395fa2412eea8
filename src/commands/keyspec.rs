//! Key specs: where a command's keys are among its arguments and how it uses them (Redis
//! 7.0's key specifications), as the command table states them per row (`Command::specs`,
//! printed from redis-server by `scripts/command-row`). COMMAND INFO shows them, and COMMAND
//! GETKEYS / GETKEYSANDFLAGS find keys with them as Redis's getKeysFromCommandWithSpecs does:
//! the specs first when they are complete and their flags fixed, else the command's own
//! key finder (`key_positions`, and the few commands whose flags depend on their arguments:
//! SET with GET, BITFIELD with only GETs, SORT with STORE, MIGRATE with KEYS).

use super::{Argv, Command};
use tine_core::base;

/// A key spec's flags, as bits (COMMAND INFO prints them in this order).
pub(crate) const KS_RO: u16 = 1 << 0;
pub(crate) const KS_RW: u16 = 1 << 1;
pub(crate) const KS_OW: u16 = 1 << 2;
pub(crate) const KS_RM: u16 = 1 << 3;
pub(crate) const KS_ACCESS: u16 = 1 << 4;
pub(crate) const KS_UPDATE: u16 = 1 << 5;
pub(crate) const KS_INSERT: u16 = 1 << 6;
pub(crate) const KS_DELETE: u16 = 1 << 7;
pub(crate) const KS_NOT_KEY: u16 = 1 << 8;
pub(crate) const KS_INCOMPLETE: u16 = 1 << 9;
pub(crate) const KS_VARIABLE_FLAGS: u16 = 1 << 10;

const FLAG_NAMES: &[(u16, &str)] = &[
    (KS_RO, "RO"),
    (KS_RW, "RW"),
    (KS_OW, "OW"),
    (KS_RM, "RM"),
    (KS_ACCESS, "access"),
    (KS_UPDATE, "update"),
    (KS_INSERT, "insert"),
    (KS_DELETE, "delete"),
    (KS_NOT_KEY, "not_key"),
    (KS_INCOMPLETE, "incomplete"),
    (KS_VARIABLE_FLAGS, "variable_flags"),
];

/// The names of the flags set in `flags`, in Redis's order.
pub(crate) fn flag_names(flags: u16) -> impl Iterator<Item = &'static str> {
    FLAG_NAMES.iter().filter(move |(b, _)| flags & b != 0).map(|(_, n)| *n)
}

/// Where the search for a spec's keys begins.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Begin {
    /// At this argument.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: backwards from the end).
    Keyword(&'static str, i32),
    Unknown,
}

/// Which arguments from the beginning are keys.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Find {
    /// Up to `last` past the beginning (negative: from the end; with `limit`, the 1/limit
    /// part of what remains), every `step`.
    Range {
        last: i32,
        step: i32,
        limit: i32,
    },
    /// The count is at `idx` past the beginning, the keys start at `first` past it.
    KeyNum {
        idx: i32,
        first: i32,
        step: i32,
    },
    Unknown,
}

/// One key spec of a command.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeySpec {
    pub(crate) notes: &'static str,
    pub(crate) flags: u16,
    pub(crate) begin: Begin,
    pub(crate) find: Find,
}

// Short constructors, so that a row of the command table stays one line.
pub(crate) const fn spec(flags: u16, begin: Begin, find: Find) -> KeySpec {
    KeySpec { notes: "", flags, begin, find }
}
pub(crate) const fn noted(notes: &'static str, flags: u16, begin: Begin, find: Find) -> KeySpec {
    KeySpec { notes, flags, begin, find }
}
pub(crate) const fn idx(i: i32) -> Begin {
    Begin::Index(i)
}
pub(crate) const fn kw(keyword: &'static str, startfrom: i32) -> Begin {
    Begin::Keyword(keyword, startfrom)
}
pub(crate) const fn range(last: i32, step: i32, limit: i32) -> Find {
    Find::Range { last, step, limit }
}
pub(crate) const fn keynum(idx: i32, first: i32, step: i32) -> Find {
    Find::KeyNum { idx, first, step }
}

/// The keys of `argv` (the command's name first) by the specs alone, as Redis's
/// getKeysUsingKeySpecs without partial results: `None` when a spec cannot say (unknown,
/// incomplete, or arguments that do not fit it), for the caller to fall back.
fn from_specs(cmd: &Command, argv: &Argv) -> Option<Vec<(usize, u16)>> {
    let argc = argv.len() as i64;
    let mut out = Vec::new();
    for s in cmd.specs {
        if s.flags & KS_NOT_KEY != 0 {
            continue;
        }
        let mut first: i64 = match s.begin {
            Begin::Index(i) => i as i64,
            Begin::Keyword(word, startfrom) => {
                let from = startfrom as i64;
                let start = if from > 0 { from } else { argc + from };
                let end = if from > 0 { argc - 1 } else { 1 };
                let mut i = start;
                let mut found = None;
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if argv[i as usize].eq_ignore_ascii_case(word.as_bytes()) {
                        found = Some(i + 1);
                        break;
                    }
                    i = if start <= end { i + 1 } else { i - 1 };
                }
                match found {
                    Some(f) => f,
                    // The keyword is not there: this spec has no keys.
                    None => continue,
                }
            }
            Begin::Unknown => return None,
        };
        let (last, step) = match s.find {
            Find::Range { last, step, limit } => {
                let last = if last >= 0 {
                    first + last as i64
                } else if limit == 0 {
                    argc + last as i64
                } else {
                    first + ((argc - first) / limit as i64 + last as i64)
                };
                (last, step as i64)
            }
            Find::KeyNum { idx, first: fk, step } => {
                let at = first + idx as i64;
                if at >= argc || at < 0 {
                    return None;
                }
                let n = base::parse_i64(&argv[at as usize]).filter(|&n| n >= 0)?;
                first += fk as i64;
                (first + n - 1, step as i64)
            }
            Find::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            out.push((i as usize, s.flags));
            i += step.max(1);
        }
        if s.flags & KS_INCOMPLETE != 0 {
            return None;
        }
    }
    Some(out)
}

/// The flags of the first spec (the command's main key).
fn first_flags(cmd: &Command) -> u16 {
    cmd.specs.first().map_or(0, |s| s.flags)
}

/// The keys of the commands whose spec flags depend on the arguments (or whose specs are
/// incomplete), as Redis's getkeys procedures find them and flag them.
fn by_command(cmd: &Command, argv: &Argv) -> Option<Vec<(usize, u16)>> {
    let lower = |i: usize| base::lower(&argv[i]);
    match cmd.name {
        // SET: with GET it reads the key too.
        "set" => {
            let get = (3..argv.len()).any(|i| lower(i) == "get");
            let flags = if get { KS_RW | KS_ACCESS | KS_UPDATE } else { KS_OW | KS_UPDATE };
            Some(vec![(1, flags)])
        }
        // BITFIELD: read-only when every operation is a GET.
        "bitfield" => {
            let mut read_only = true;
            let mut i = 2;
            while i < argv.len() {
                match lower(i).as_str() {
                    "get" => i += 3,
                    "set" | "incrby" => {
                        read_only = false;
                        i += 4
                    }
                    "overflow" => i += 2,
                    _ => i += 1,
                }
            }
            let flags = if read_only { KS_RO | KS_ACCESS } else { KS_RW | KS_ACCESS | KS_UPDATE };
            Some(vec![(1, flags)])
        }
        // SORT: the sorted key, and STORE's key (the last STORE wins, as SORT itself).
        "sort" | "sort_ro" => {
            let mut keys = vec![(1, KS_RO | KS_ACCESS)];
            if cmd.name == "sort" {
                let mut store = None;
                let mut i = 2;
                while i < argv.len() {
                    let skip = match lower(i).as_str() {
                        "limit" => 2,
                        "get" | "by" => 1,
                        "store" => {
                            if i + 1 < argv.len() {
                                store = Some(i + 1);
                            }
                            1
                        }
                        _ => 0,
                    };
                    i += skip + 1;
                }
                if let Some(at) = store {
                    let flags = cmd.specs.get(2).map_or(KS_OW | KS_UPDATE, |s| s.flags);
                    keys.push((at, flags));
                }
            }
            Some(keys)
        }
        // MIGRATE: the key argument, or (when it is empty) the keys after KEYS.
        "migrate" => {
            let flags = first_flags(cmd);
            let mut i = 6;
            while i < argv.len() {
                match lower(i).as_str() {
                    "keys" => {
                        if !argv[3].is_empty() {
                            return Some(vec![]);
                        }
                        return Some((i + 1..argv.len()).map(|k| (k, flags)).collect());
                    }
                    // AUTH's password and AUTH2's user and password are not the keyword.
                    "auth" => i += 1,
                    "auth2" => i += 2,
                    _ => {}
                }
                i += 1;
            }
            Some(vec![(3, flags)])
        }
        _ => None,
    }
}

/// The keys of `argv` with their flags (COMMAND GETKEYSANDFLAGS; GETKEYS shows the keys), as
/// Redis's getKeysFromCommandWithSpecs. `Err`: the arguments do not fit the command.
pub(crate) fn keys_and_flags(
    cmd: &Command,
    argv: &Argv,
) -> Result<Vec<(usize, u16)>, &'static str> {
    let has_keyspec = cmd.specs.iter().any(|s| s.flags & KS_NOT_KEY == 0);
    let variable = cmd.specs.iter().any(|s| s.flags & KS_VARIABLE_FLAGS != 0);
    if has_keyspec && !variable {
        if let Some(keys) = from_specs(cmd, argv) {
            return Ok(keys);
        }
    }
    if let Some(keys) = by_command(cmd, argv) {
        return Ok(keys);
    }
    // The command's own key finder, without flags (as Redis's native getkeys procedures).
    Ok(super::key_positions(cmd, argv)?.into_iter().map(|p| (p, 0)).collect())
}

/// True when the command may have keys (Redis's doesCommandHaveKeys).
pub(crate) fn has_keys(cmd: &Command) -> bool {
    cmd.specs.iter().any(|s| s.flags & KS_NOT_KEY == 0)
        || cmd.flags & super::flag::MOVABLE_KEYS != 0
}

/// The legacy (first, last, step) key positions COMMAND INFO shows, and whether the command
/// has movable keys, derived from the specs as Redis's populateCommandLegacyRangeSpec: the
/// plain consecutive index/range specs make the range; any other spec, a step other than 1,
/// a gap, or an incomplete spec makes the keys movable.
pub(crate) fn legacy_range(specs: &[KeySpec]) -> ((i32, i32, i32), bool) {
    let plain = |s: &KeySpec| match (s.begin, s.find) {
        (Begin::Index(i), Find::Range { last, step, .. }) => Some((i, last, step)),
        _ => None,
    };
    if let [only] = specs {
        if let Some((i, last, step)) = plain(only) {
            return (
                (i, if last >= 0 { i + last } else { last }, step),
                only.flags & KS_INCOMPLETE != 0,
            );
        }
    }
    let mut movable = false;
    let (mut first, mut lastkey, mut prev_last) = (i32::MAX, 0i32, 0i32);
    for s in specs {
        let Some((i, last, step)) = plain(s) else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_last != 0 && prev_last != i - 1) {
            movable = true;
            continue;
        }
        if s.flags & KS_INCOMPLETE != 0 {
            movable = true;
        }
        first = first.min(i);
        let abs = if last >= 0 { last + i } else { last };
        // Unsigned comparison, as Redis: a negative (from the end) last key wins.
        lastkey = if (abs as u32) > (lastkey as u32) { abs } else { lastkey };
        prev_last = lastkey;
    }
    if first == i32::MAX {
        return ((0, 0, 0), movable);
    }
    ((first, lastkey, 1), movable)
}
