//! Looking at the server from inside: COMMAND (and its subcommands), SLOWLOG, LATENCY,
//! MONITOR. MEMORY is `memory.rs`.

use super::keyspec::{self, Begin, Find, KeySpec};
use super::reply_help;
use super::{Argv, CmdError, CmdResult, Keys, err, flag, registry};
use crate::commands::Ctx;
use crate::engine::session::Session;
use tine_core::base::{self, parse_i64};

fn reply_command_info(c: &mut Session, r: &super::Resolved) {
    let cmd = r.cmd;
    let (first, last, step) = if cmd.specs.is_empty() {
        match cmd.keys {
            Keys::Range(f, l, s) => (f, l, s),
            Keys::None | Keys::NumKeys { .. } | Keys::Streams => (0, 0, 0),
        }
    } else {
        keyspec::legacy_range(cmd.specs).0
    };
    c.add_array(10);
    c.add_bulk(r.full_name.as_bytes());
    c.add_int(cmd.arity as i64);
    let flags: Vec<&str> =
        flag::NAMES.iter().filter(|(_, b)| r.flags & b != 0).map(|(n, _)| *n).collect();
    c.add_set(flags.len());
    for f in flags {
        c.add_simple(f);
    }
    c.add_int(first as i64);
    c.add_int(last as i64);
    c.add_int(step as i64);
    let cats: Vec<String> = cmd.acl.iter().map(|a| format!("@{}", a)).collect();
    c.add_set(cats.len());
    for a in cats {
        c.add_simple(&a);
    }
    // Redis replies tips and key specs as sets, and no subcommands as an empty set (a
    // difference only RESP3 shows).
    c.add_set(cmd.tips.len());
    for t in cmd.tips {
        c.add_bulk(t.as_bytes());
    }
    c.add_set(cmd.specs.len());
    for spec in cmd.specs {
        reply_key_spec(c, spec);
    }
    let reg = registry();
    let subs: Vec<&super::Resolved> = {
        let mut v: Vec<_> = r.subs.values().map(|&i| &reg.all[i]).collect();
        v.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        v
    };
    if subs.is_empty() {
        c.add_set(0);
    } else {
        c.add_array(subs.len());
    }
    for s in subs {
        reply_command_info(c, s);
    }
}

/// One key spec as COMMAND INFO shows it: a map (an array of pairs in RESP2) of its notes
/// (when it has some), flags, begin_search and find_keys.
fn reply_key_spec(c: &mut Session, spec: &KeySpec) {
    c.add_map(if spec.notes.is_empty() { 3 } else { 4 });
    if !spec.notes.is_empty() {
        c.add_bulk(b"notes");
        c.add_bulk(spec.notes.as_bytes());
    }
    c.add_bulk(b"flags");
    let names: Vec<&str> = keyspec::flag_names(spec.flags).collect();
    c.add_set(names.len());
    for n in names {
        c.add_simple(n);
    }
    let int_pairs = |c: &mut Session, kind: &str, pairs: &[(&str, i64)]| {
        c.add_map(2);
        c.add_bulk(b"type");
        c.add_bulk(kind.as_bytes());
        c.add_bulk(b"spec");
        c.add_map(pairs.len());
        for (k, v) in pairs {
            c.add_bulk(k.as_bytes());
            c.add_int(*v);
        }
    };
    c.add_bulk(b"begin_search");
    match spec.begin {
        Begin::Index(i) => int_pairs(c, "index", &[("index", i as i64)]),
        Begin::Keyword(word, from) => {
            c.add_map(2);
            c.add_bulk(b"type");
            c.add_bulk(b"keyword");
            c.add_bulk(b"spec");
            c.add_map(2);
            c.add_bulk(b"keyword");
            c.add_bulk(word.as_bytes());
            c.add_bulk(b"startfrom");
            c.add_int(from as i64);
        }
        Begin::Unknown => int_pairs(c, "unknown", &[]),
    }
    c.add_bulk(b"find_keys");
    match spec.find {
        Find::Range { last, step, limit } => int_pairs(
            c,
            "range",
            &[("lastkey", last as i64), ("keystep", step as i64), ("limit", limit as i64)],
        ),
        Find::KeyNum { idx, first, step } => int_pairs(
            c,
            "keynum",
            &[("keynumidx", idx as i64), ("firstkey", first as i64), ("keystep", step as i64)],
        ),
        Find::Unknown => int_pairs(c, "unknown", &[]),
    }
}

/// COMMAND with no subcommand: every command's info.
pub(crate) fn command(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let reg = registry();
    let tops: Vec<_> = reg.top_level().collect();
    c.add_array(tops.len());
    for r in tops {
        reply_command_info(c, r);
    }
    Ok(())
}

pub(crate) fn command_count(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    c.add_int(registry().top_level().count() as i64);
    Ok(())
}

pub(crate) fn command_info(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let reg = registry();
    if argv.len() == 2 {
        return command(_srv, c, argv);
    }
    c.add_array(argv.len() - 2);
    for name in &argv[2..] {
        match reg.lookup_full(name) {
            Some(r) => reply_command_info(c, r),
            None => c.add_null_array(),
        }
    }
    Ok(())
}

pub(crate) fn command_list(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let reg = registry();
    let mut names: Vec<&str> = reg.all.iter().map(|r| r.full_name.as_str()).collect();
    if argv.len() == 5 && base::lower(&argv[2]) == "filterby" {
        let kind = base::lower(&argv[3]);
        // MODULE matches nothing (tine loads no modules); an unknown filter is a syntax
        // error, as in Redis.
        if !matches!(kind.as_str(), "pattern" | "aclcat" | "module") {
            return Err(err::SYNTAX);
        }
        let val = &argv[4];
        names = reg
            .all
            .iter()
            .filter(|r| match kind.as_str() {
                "pattern" => base::glob_match(val, r.full_name.as_bytes(), true),
                "aclcat" => r.cmd.acl.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(val)),
                _ => false,
            })
            .map(|r| r.full_name.as_str())
            .collect();
    } else if argv.len() != 2 {
        return Err(err::SYNTAX);
    }
    c.add_array(names.len());
    for n in names {
        c.add_bulk(n.as_bytes());
    }
    Ok(())
}

pub(crate) fn command_docs(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let reg = registry();
    let list: Vec<&super::Resolved> = if argv.len() == 2 {
        reg.top_level().collect()
    } else {
        argv[2..].iter().filter_map(|n| reg.lookup_full(n)).collect()
    };
    c.add_map(list.len());
    for r in list {
        c.add_bulk(r.full_name.as_bytes());
        c.add_map(3);
        c.add_bulk(b"summary");
        c.add_bulk(r.cmd.summary.as_bytes());
        c.add_bulk(b"since");
        c.add_bulk(r.cmd.since.as_bytes());
        c.add_bulk(b"group");
        c.add_bulk(r.cmd.group.as_bytes());
    }
    Ok(())
}

pub(crate) fn command_getkeys(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    getkeys(c, argv, false)
}

pub(crate) fn command_getkeysandflags(
    _srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
) -> CmdResult {
    getkeys(c, argv, true)
}

/// COMMAND GETKEYS and GETKEYSANDFLAGS, with Redis's checks in Redis's order (getKeysSubcommandImpl).
fn getkeys(c: &mut Session, argv: &Argv, with_flags: bool) -> CmdResult {
    let reg = registry();
    let args = &argv[2..];
    // A container with arguments means its subcommand (Redis's lookupCommand).
    let r = match reg.lookup(&args[0]) {
        Some(p) if !p.subs.is_empty() && args.len() >= 2 => reg.lookup_sub(p, &args[1]),
        found => found,
    };
    let Some(r) = r else {
        return Err(CmdError::err("Invalid command specified"));
    };
    if !keyspec::has_keys(r.cmd) {
        return Err(CmdError::err("The command has no key arguments"));
    }
    let arity = r.cmd.arity;
    if (arity > 0 && args.len() as i32 != arity) || (args.len() as i32) < -arity {
        return Err(CmdError::err("Invalid number of arguments specified for command"));
    }
    let keys = keyspec::keys_and_flags(r.cmd, args).unwrap_or_default();
    if keys.is_empty() {
        if r.flags & flag::NO_MANDATORY_KEYS != 0 {
            c.add_array(0);
            return Ok(());
        }
        return Err(CmdError::err("Invalid arguments specified for command"));
    }
    c.add_array(keys.len());
    for (p, flags) in keys {
        if with_flags {
            c.add_array(2);
            c.add_bulk(&args[p]);
            let names: Vec<&str> = keyspec::flag_names(flags).collect();
            c.add_set(names.len());
            for n in names {
                c.add_simple(n);
            }
        } else {
            c.add_bulk(&args[p]);
        }
    }
    Ok(())
}

pub(crate) fn command_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    reply_help(
        c,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

/// LATENCY LATEST: for every event, its latest sample's time and latency and its maximum.
pub(crate) fn latency_latest(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let rows: Vec<_> = srv.data.latency.events().map(|(e, s)| (e, s.latest(), s.max)).collect();
    c.add_array(rows.len());
    for (event, latest, max) in rows {
        c.add_array(4);
        c.add_bulk(event.as_bytes());
        c.add_int(latest.time);
        c.add_int(latest.latency as i64);
        c.add_int(max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event: its samples, oldest first, as [time, latency] pairs.
pub(crate) fn latency_history(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let samples: Vec<_> =
        srv.data.latency.series(&argv[2]).map(|s| s.history().collect()).unwrap_or_default();
    c.add_array(samples.len());
    for s in samples {
        c.add_array(2);
        c.add_int(s.time);
        c.add_int(s.latency as i64);
    }
    Ok(())
}

/// LATENCY RESET [event ...]: forgets those events (all without arguments); how many it forgot.
pub(crate) fn latency_reset(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let n = srv.data.latency.reset(&argv[2..]);
    c.add_int(n as i64);
    Ok(())
}

/// LATENCY HISTOGRAM [command ...]: each command's calls and cumulative latency buckets
/// (`histogram_usec`: bucket top in microseconds -> samples at or below it, only where the
/// count grows), for the commands named (a container names its subcommands; unknown names
/// and commands never run are skipped) or every command with samples.
pub(crate) fn latency_histogram(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let reg = crate::commands::registry();
    let mut ids: Vec<usize> = Vec::new();
    if argv.len() == 2 {
        ids.extend(reg.all.iter().map(|r| r.id));
    } else {
        for name in &argv[2..] {
            let Some(r) = reg.lookup_full(name) else { continue };
            if r.subs.is_empty() {
                ids.push(r.id);
            } else {
                let mut subs: Vec<usize> = r.subs.values().copied().collect();
                subs.sort_unstable();
                ids.extend(subs);
            }
        }
    }
    let with: Vec<usize> = ids
        .into_iter()
        .filter(|&id| srv.data.cmd_stats[id].latency.as_ref().is_some_and(|h| h.total() > 0))
        .collect();
    c.add_map(with.len());
    for id in with {
        let Some(h) = srv.data.cmd_stats[id].latency.as_ref() else { continue };
        c.add_bulk(reg.all[id].full_name.as_bytes());
        c.add_map(2);
        c.add_bulk(b"calls");
        c.add_int(h.total() as i64);
        c.add_bulk(b"histogram_usec");
        let mut buckets = h.log_buckets();
        let mut previous = 0;
        buckets.retain(|&(_, n)| {
            let grew = n > previous;
            previous = n;
            grew
        });
        c.add_map(buckets.len());
        for (top, n) in buckets {
            c.add_int((top / 1000) as i64);
            c.add_int(n as i64);
        }
    }
    Ok(())
}

/// Redis 7.0.15's text, without DOCTOR and GRAPH, which tine does not have.
/// LATENCY DOCTOR: the monitor's report in Redis's words.
pub(crate) fn latency_doctor(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let d = &srv.data;
    let fork_usec = d.persist.latest_fork_usec;
    let cx = crate::engine::latency::DoctorContext {
        threshold_ms: d.config.latency_monitor_threshold,
        slowlog_log_slower_than: d.config.slowlog_log_slower_than,
        hz: d.config.hz,
        appendfsync_always: d.config.appendfsync == crate::config::AppendFsync::Always,
        fork_rate: (fork_usec > 0).then(|| {
            crate::engine::memory::used_memory() as f64 * 1e6
                / fork_usec as f64
                / (1u64 << 30) as f64
        }),
        now_secs: base::unix_time(),
    };
    c.add_verbatim(d.latency.doctor(&cx).as_bytes());
    Ok(())
}

pub(crate) fn latency_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    reply_help(
        c,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

pub(crate) fn slowlog_get(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let count = match argv.get(2) {
        None => 10,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= -1 => {
                if n == -1 {
                    srv.data.slowlog.len()
                } else {
                    n as usize
                }
            }
            _ => return Err(CmdError::err("count should be greater than or equal to -1")),
        },
    };
    let entries: Vec<_> = srv.data.slowlog.iter().take(count).collect();
    c.add_array(entries.len());
    for e in entries {
        c.add_array(6);
        c.add_int(e.id as i64);
        c.add_int(e.time);
        c.add_int(e.duration_us);
        c.add_array(e.argv.len());
        for a in &e.argv {
            c.add_bulk(a);
        }
        c.add_bulk(e.peer.as_bytes());
        c.add_bulk(&e.name);
    }
    Ok(())
}

pub(crate) fn slowlog_len(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    c.add_int(srv.data.slowlog.len() as i64);
    Ok(())
}

pub(crate) fn slowlog_reset(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    srv.data.slowlog.clear();
    c.add_ok();
    Ok(())
}

pub(crate) fn slowlog_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    reply_help(
        c,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

pub(crate) fn monitor(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    if c.monitor {
        return Ok(());
    }
    c.monitor = true;
    srv.data.monitors.push(c.slot);
    c.add_ok();
    Ok(())
}
