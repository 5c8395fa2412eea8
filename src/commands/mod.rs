//! Commands: the table that defines them (`table.rs`), the registry built from it, and `call`,
//! the one path every command takes — lookup, arity, authentication and pause checks, the
//! handler, then statistics, the slow log and MONITOR.
//!
//! A handler is `fn(&mut Server, &mut Client, &[Vec<u8>])`: it reads its arguments, changes
//! the keyspace through `db`, and appends its reply to the client. One file per family holds
//! the handlers.

pub mod config;
pub mod connection;
pub mod debug;
pub mod dump;
pub mod hash;
pub mod info;
pub mod introspection;
pub mod keys;
pub mod list;
pub mod multi;
pub mod persist;
pub mod pubsub;
pub mod server;
pub mod set;
pub mod sort;
pub mod strings;
pub mod table;
pub mod zset;

/// Replies a HELP text: "<CMD> <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
/// the lines, and "HELP / Print this help.", as Redis's addReplyHelp.
pub fn reply_help(c: &mut Client, cmd: &str, lines: &[&str]) {
    reply_help_ending(c, cmd, lines, "    Print this help.");
}

/// `reply_help` with another description of HELP itself (CLIENT's says "Prints").
pub fn reply_help_ending(c: &mut Client, cmd: &str, lines: &[&str], help: &str) {
    c.add_array(lines.len() + 3);
    c.add_simple(&format!("{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd));
    for l in lines {
        c.add_simple(l);
    }
    c.add_simple("HELP");
    c.add_simple(help);
}

/// Error replies shared by many commands, in Redis's words.
pub mod err {
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const SYNTAX: &str = "ERR syntax error";
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    pub const NO_SUCH_KEY: &str = "ERR no such key";
    pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
    pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
    pub const DB_INDEX: &str = "ERR DB index is out of range";
    pub const STRING_TOO_LONG: &str =
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
}

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::app::server::{PauseKind, Server, SlowLogEntry};
use crate::net::client::Client;

/// Arguments of a command, the name first.
pub type Argv = [Vec<u8>];
pub type Handler = fn(&mut Server, &mut Client, &Argv);

/// Where a command's keys are among its arguments.
#[derive(Clone, Copy, Debug)]
pub enum Keys {
    None,
    /// first, last (negative: from the end), step — Redis's legacy key positions.
    Range(i32, i32, i32),
    /// A count at `numkeys_at`, then that many keys from `numkeys_at + 1` (ZUNIONSTORE-like
    /// commands put a destination first: `dest_first`).
    NumKeys {
        numkeys_at: usize,
        dest_first: bool,
    },
}

/// One row of the command table.
pub struct Command {
    pub name: &'static str,
    /// Positive: exact argument count (name included); negative: at least -arity.
    pub arity: i32,
    /// Redis's command flags, space separated ("write denyoom fast").
    pub flags: &'static str,
    /// ACL categories, space separated, without '@'.
    pub acl: &'static str,
    pub keys: Keys,
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [Command],
}

/// Command flags as bits, parsed once from the table's strings.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const SENTINEL: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    pub const ALLOW_BUSY: u32 = 1 << 16;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 17;
    pub const MOVABLE_KEYS: u32 = 1 << 18;
    pub const NO_ASYNC_LOADING: u32 = 1 << 19;
    pub const MODULE: u32 = 1 << 20;
    pub const ASKING: u32 = 1 << 21;
    pub const ONLY_SENTINEL: u32 = 1 << 22;
    pub const PROTECTED: u32 = 1 << 23;

    pub const NAMES: &[(&str, u32)] = &[
        ("write", WRITE),
        ("readonly", READONLY),
        ("denyoom", DENYOOM),
        ("admin", ADMIN),
        ("pubsub", PUBSUB),
        ("noscript", NOSCRIPT),
        ("blocking", BLOCKING),
        ("loading", LOADING),
        ("stale", STALE),
        ("skip_monitor", SKIP_MONITOR),
        ("skip_slowlog", SKIP_SLOWLOG),
        ("fast", FAST),
        ("no_auth", NO_AUTH),
        ("may_replicate", MAY_REPLICATE),
        ("sentinel", SENTINEL),
        ("no_multi", NO_MULTI),
        ("allow_busy", ALLOW_BUSY),
        ("no_mandatory_keys", NO_MANDATORY_KEYS),
        ("movablekeys", MOVABLE_KEYS),
        ("no_async_loading", NO_ASYNC_LOADING),
        ("module", MODULE),
        ("asking", ASKING),
        ("only_sentinel", ONLY_SENTINEL),
        ("protected", PROTECTED),
    ];

    pub fn parse(s: &str) -> u32 {
        s.split_whitespace()
            .map(|w| {
                NAMES
                    .iter()
                    .find(|(n, _)| *n == w)
                    .unwrap_or_else(|| panic!("unknown command flag {}", w))
                    .1
            })
            .fold(0, |a, b| a | b)
    }
}

/// A command or subcommand resolved from the table, with its parsed flags and its index in
/// the statistics vector.
pub struct Resolved {
    pub cmd: &'static Command,
    /// "get", or "config|get" for a subcommand.
    pub full_name: String,
    pub flags: u32,
    pub id: usize,
    /// Subcommands by lowercase name.
    pub subs: HashMap<String, usize>,
}

/// Per-command counters for INFO commandstats.
#[derive(Default, Clone)]
pub struct CommandStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// Every command and subcommand, resolved once.
pub struct Registry {
    pub all: Vec<Resolved>,
    by_name: hashbrown::HashMap<String, usize>,
}

impl Registry {
    fn build() -> Registry {
        let mut reg = Registry { all: Vec::new(), by_name: hashbrown::HashMap::new() };
        for cmd in table::COMMANDS {
            let id = reg.add(cmd, cmd.name.to_string());
            reg.by_name.insert(cmd.name.to_string(), id);
            for sub in cmd.subcommands {
                let sid = reg.add(sub, format!("{}|{}", cmd.name, sub.name));
                reg.all[id].subs.insert(sub.name.to_string(), sid);
            }
        }
        reg
    }

    fn add(&mut self, cmd: &'static Command, full_name: String) -> usize {
        let id = self.all.len();
        let mut flags = flag::parse(cmd.flags);
        if matches!(cmd.keys, Keys::NumKeys { .. }) {
            flags |= flag::MOVABLE_KEYS;
        }
        self.all.push(Resolved { cmd, full_name, flags, id, subs: HashMap::new() });
        id
    }

    /// Looks a top-level command up by name, case-insensitively.
    pub fn lookup(&self, name: &[u8]) -> Option<&Resolved> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            return None;
        }
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
        self.by_name.get(lower).map(|&i| &self.all[i])
    }

    /// Looks a command up by its full name: "get", or "config|get" for a subcommand (as
    /// COMMAND INFO and COMMAND DOCS accept them).
    pub fn lookup_full(&self, name: &[u8]) -> Option<&Resolved> {
        match name.iter().position(|&b| b == b'|') {
            Some(i) => {
                let parent = self.lookup(&name[..i])?;
                self.lookup_sub(parent, &name[i + 1..])
            }
            None => self.lookup(name),
        }
    }

    /// Looks a subcommand of `parent` up.
    pub fn lookup_sub(&self, parent: &Resolved, name: &[u8]) -> Option<&Resolved> {
        let lower = tine_core::base::lower(name);
        parent.subs.get(&lower).map(|&i| &self.all[i])
    }

    /// Top-level commands.
    pub fn top_level(&self) -> impl Iterator<Item = &Resolved> {
        self.all.iter().filter(|r| !r.full_name.contains('|'))
    }
}

pub fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(Registry::build)
}

/// Fresh statistics, one entry per command and subcommand.
pub fn new_stats() -> Vec<CommandStats> {
    vec![CommandStats::default(); registry().all.len()]
}

/// What `call` did with a command.
#[derive(PartialEq, Eq, Debug)]
pub enum Outcome {
    Done,
    /// CLIENT PAUSE holds the client; its command stays in the parser and runs later.
    Held,
}

/// Formats the argument list of an unknown command for the error, as Redis does.
fn args_preview(argv: &Argv) -> String {
    let mut s = String::new();
    for a in argv.iter().skip(1) {
        if s.len() >= 128 {
            break;
        }
        let text = String::from_utf8_lossy(a);
        let cut: String = text.chars().take(128 - s.len().min(128)).collect();
        s.push_str(&format!("'{}' ", cut));
    }
    s
}

/// Resolves the command in `argv` to a table entry, replying the error when it cannot.
fn resolve<'a>(reg: &'a Registry, c: &mut Client, argv: &Argv) -> Option<&'a Resolved> {
    let Some(top) = reg.lookup(&argv[0]) else {
        let name: String = String::from_utf8_lossy(&argv[0]).chars().take(128).collect();
        c.add_err(&format!(
            "unknown command '{}', with args beginning with: {}",
            name,
            args_preview(argv)
        ));
        return None;
    };
    let resolved = if !top.subs.is_empty() && argv.len() >= 2 {
        match reg.lookup_sub(top, &argv[1]) {
            Some(sub) => sub,
            None => {
                let sub: String = String::from_utf8_lossy(&argv[1]).chars().take(128).collect();
                c.add_err(&format!(
                    "unknown subcommand '{}'. Try {} HELP.",
                    sub,
                    top.cmd.name.to_ascii_uppercase()
                ));
                return None;
            }
        }
    } else {
        top
    };
    let arity = resolved.cmd.arity;
    let n = argv.len() as i32;
    if (arity > 0 && n != arity) || n < -arity {
        c.add_err(&format!("wrong number of arguments for '{}' command", resolved.full_name));
        return None;
    }
    Some(resolved)
}

/// Runs one parsed command of client `c`. The arguments are in `c.parser.argv`.
pub fn call(srv: &mut Server, c: &mut Client) -> Outcome {
    let mut argv = std::mem::take(&mut c.parser.argv);
    let outcome = call_argv(srv, c, &argv);
    if outcome == Outcome::Held {
        c.parser.argv = argv;
    } else {
        // Keep the vector's allocation for the next command.
        argv.clear();
        c.parser.argv = argv;
    }
    // Clients blocked on keys this command made ready are served before anyone else is
    // replied to (top level only: EXEC will serve after its whole queue).
    // The command is one unit of the propagation feed; each blocked client it serves is
    // another, after it (as Redis 7.0 propagates them).
    crate::engine::feed::end_unit(srv);
    crate::engine::blocking::serve_ready_keys(srv);
    outcome
}

/// Runs a command given its arguments.
pub fn call_argv(srv: &mut Server, c: &mut Client, argv: &Argv) -> Outcome {
    let reg = registry();
    if c.reply_mode == crate::net::client::ReplyMode::SkipNext {
        c.reply_mode = crate::net::client::ReplyMode::Skipping;
    }
    let Some(r) = resolve(reg, c, argv) else {
        c.last_cmd = "NULL";
        if let Some(m) = c.multi.as_mut() {
            m.errored = true;
        }
        if let Some(top) = reg.lookup(&argv[0]) {
            srv.cmd_stats[top.id].rejected_calls += 1;
        }
        finish_errors(srv, c);
        end_reply_skip(c);
        return Outcome::Done;
    };

    // DEBUG is a protected command (enable-debug-command): refused before it runs, as Redis's
    // processCommand does, so it counts as rejected, not as a failed call.
    if r.cmd.name == "debug" && !debug::debug_allowed(srv, c) {
        return reject(srv, c, r.id, &format!("ERR {}", debug::DEBUG_NOT_ALLOWED));
    }

    if !c.authenticated && r.flags & flag::NO_AUTH == 0 && auth_required(srv) {
        return reject(srv, c, r.id, "NOAUTH Authentication required.");
    }

    // While the dataset loads, only commands flagged `loading` run.
    if srv.loading.is_some() && r.flags & flag::LOADING == 0 {
        return reject(srv, c, r.id, "LOADING Redis is loading the dataset in memory");
    }

    // maxmemory: evict first; if that cannot free enough, refuse commands that may grow memory.
    if srv.config.maxmemory > 0
        && !c.in_exec
        && !crate::engine::evict::perform_evictions(srv)
        && r.flags & flag::DENYOOM != 0
    {
        return reject(srv, c, r.id, crate::engine::evict::OOM_ERROR);
    }

    // A RESP2 client in subscribed state may only (un)subscribe, PING, QUIT and RESET.
    if c.resp == tine_core::protocol::Resp::V2
        && !(c.channels.is_empty() && c.patterns.is_empty())
        && !pubsub::allowed_in_subscribed_context(r.cmd.name)
    {
        pubsub::subscribed_context_error(c, r.cmd.name);
        finish_errors(srv, c);
        end_reply_skip(c);
        return Outcome::Done;
    }

    // A failed background save, or a failed AOF write, stops writes (and PING, as Redis)
    // until persistence works again.
    if r.flags & flag::WRITE != 0 || r.cmd.name == "ping" {
        let denied = if crate::persist::snapshot::writes_denied(srv) {
            Some(crate::persist::snapshot::MISCONF_RDB.to_string())
        } else {
            crate::persist::aof::writes_denied(srv)
        };
        if let Some(msg) = denied {
            return reject(srv, c, r.id, &msg);
        }
    }
    // Inside MULTI: queue, except the commands that control the transaction.
    if c.multi.is_some()
        && !matches!(r.cmd.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
    {
        if r.flags & flag::NO_MULTI != 0 {
            c.add_err("Command not allowed inside a transaction");
            if let Some(m) = c.multi.as_mut() {
                m.errored = true;
            }
            finish_errors(srv, c);
        } else {
            c.multi.as_mut().expect("checked").commands.push(argv.to_vec());
            c.add_simple("QUEUED");
        }
        end_reply_skip(c);
        return Outcome::Done;
    }

    // CLIENT PAUSE: hold the client (its command stays queued) until the pause ends.
    if srv.pause.is_some() && c.kind != crate::net::client::ClientKind::Replica && !c.in_exec {
        let now = tine_core::base::mstime();
        if let Some(kind) = srv.paused(now) {
            let may_write = r.flags & (flag::WRITE | flag::MAY_REPLICATE) != 0;
            if kind == PauseKind::All || may_write {
                c.paused = true;
                return Outcome::Held;
            }
        }
    }

    // One clock reading gives the command its "now" and starts its duration (a clock read is
    // a few percent of a pipelined INCR), as Redis's call() times with ustime().
    let start_us = tine_core::base::ustime();
    if !srv.clock_frozen {
        srv.now_ms = start_us / 1000;
    }
    c.last_cmd = r.full_name.as_str();
    let event = crate::engine::pubsub::CommandEvent::before(srv, c.db, r.cmd.name, argv);
    let before = crate::engine::feed::before_command(srv);
    let dirty_before = srv.dirty;
    (r.cmd.handler)(srv, c, argv);
    if let Some(ev) = event.filter(|_| srv.dirty > dirty_before) {
        ev.after(srv);
    }
    crate::engine::feed::after_command(srv, c.db, argv, before, r.cmd.name != "exec");
    let usec = (tine_core::base::ustime() - start_us).max(0) as u64;
    if srv.watched_keys > 0 {
        multi::collect_touched(srv, c);
    }
    if c.blocked.is_some() {
        // Counted when it completes (crate::engine::blocking), as Redis does.
        end_reply_skip(c);
        return Outcome::Done;
    }

    let stats = &mut srv.cmd_stats[r.id];
    stats.calls += 1;
    stats.usec += usec;
    if !c.errors.is_empty() {
        stats.failed_calls += 1;
    }
    srv.stats.total_commands_processed += 1;
    finish_errors(srv, c);

    // As Redis's call(): a blocked command is timed when it completes, not here.
    let event = if r.flags & flag::FAST != 0 { "fast-command" } else { "command" };
    let threshold = srv.config.latency_monitor_threshold;
    srv.latency.add_if_needed(threshold, event, usec / 1000, start_us / 1_000_000);
    if r.flags & flag::SKIP_SLOWLOG == 0 {
        slowlog_push(srv, c, argv, usec as i64);
    }
    if !srv.monitors.is_empty() && r.flags & (flag::SKIP_MONITOR | flag::ADMIN) == 0 {
        feed_monitors(srv, c, argv);
    }
    end_reply_skip(c);
    Outcome::Done
}

/// Refuses a command before it runs (Redis's rejectCommand): the error reply, the command's
/// `rejected_calls`, and a MULTI in progress is marked to fail at EXEC.
fn reject(srv: &mut Server, c: &mut Client, id: usize, msg: &str) -> Outcome {
    srv.cmd_stats[id].rejected_calls += 1;
    c.add_error(msg);
    if let Some(m) = c.multi.as_mut() {
        m.errored = true;
    }
    finish_errors(srv, c);
    end_reply_skip(c);
    Outcome::Done
}

fn end_reply_skip(c: &mut Client) {
    if c.reply_mode == crate::net::client::ReplyMode::Skipping {
        c.reply_mode = crate::net::client::ReplyMode::On;
    }
}

/// True when clients must authenticate (requirepass is set).
pub fn auth_required(srv: &Server) -> bool {
    !srv.config.requirepass.is_empty()
}

/// Moves the errors the client replied into INFO errorstats.
pub(crate) fn finish_errors(srv: &mut Server, c: &mut Client) {
    for code in c.errors.drain(..) {
        srv.stats.total_error_replies += 1;
        *srv.stats.errors.entry(code).or_insert(0) += 1;
    }
}

/// Records a slow command, as Redis's slowlogPushEntryIfNeeded: at most 32 arguments, each
/// at most 128 bytes, with a note of what was cut.
fn slowlog_push(srv: &mut Server, c: &Client, argv: &Argv, usec: i64) {
    let threshold = srv.config.slowlog_log_slower_than;
    if threshold < 0 || usec < threshold {
        return;
    }
    const MAX_ARGS: usize = 32;
    const MAX_ARG_LEN: usize = 128;
    let mut args = Vec::new();
    for (i, a) in argv.iter().enumerate() {
        if i == MAX_ARGS - 1 && argv.len() > MAX_ARGS {
            args.push(format!("... ({} more arguments)", argv.len() - MAX_ARGS + 1).into_bytes());
            break;
        }
        if a.len() > MAX_ARG_LEN {
            let mut v = a[..MAX_ARG_LEN].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes());
            args.push(v);
        } else {
            args.push(a.clone());
        }
    }
    let entry = SlowLogEntry {
        id: srv.slowlog_next_id,
        time: tine_core::base::unix_time(),
        duration_us: usec,
        argv: args,
        peer: c.addr.clone(),
        name: c.name.clone(),
    };
    srv.slowlog_next_id += 1;
    srv.slowlog.push_front(entry);
    while srv.slowlog.len() > srv.config.slowlog_max_len.max(0) as usize {
        srv.slowlog.pop_back();
    }
}

/// Sends a command to clients in MONITOR mode, in Redis's line format:
/// `+<secs>.<usecs> [<db> <addr>] "arg" "arg"`.
fn feed_monitors(srv: &mut Server, c: &Client, argv: &Argv) {
    let now = tine_core::base::ustime();
    let mut line =
        format!("+{}.{:06} [{} {}]", now / 1_000_000, now % 1_000_000, c.db, c.addr).into_bytes();
    for a in argv {
        line.push(b' ');
        line.extend_from_slice(tine_core::base::quote::repr_arg(a).as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    let monitors = srv.monitors.clone();
    for slot in monitors {
        if let Some(m) = srv.clients.get_mut(slot) {
            m.obuf.extend_from_slice(&line);
            srv.note_pending_write(slot);
        }
    }
}

/// The keys of a command's arguments (COMMAND GETKEYS, and later cluster/ACL checks).
pub fn key_positions(cmd: &Command, argv: &Argv) -> Result<Vec<usize>, &'static str> {
    let n = argv.len() as i32;
    match cmd.keys {
        Keys::None => Ok(vec![]),
        Keys::Range(first, last, step) => {
            if first == 0 {
                return Ok(vec![]);
            }
            let last = if last < 0 { n + last } else { last };
            let mut v = Vec::new();
            let mut i = first;
            while i <= last && i < n {
                v.push(i as usize);
                i += step.max(1);
            }
            Ok(v)
        }
        Keys::NumKeys { numkeys_at, dest_first } => {
            let count = argv
                .get(numkeys_at)
                .and_then(|a| tine_core::base::parse_i64(a))
                .filter(|&k| k >= 0)
                .ok_or("Invalid arguments specified for command")?;
            let mut v = Vec::new();
            if dest_first {
                v.push(1);
            }
            for i in 0..count as usize {
                let at = numkeys_at + 1 + i;
                if at >= argv.len() {
                    return Err("Invalid arguments specified for command");
                }
                v.push(at);
            }
            Ok(v)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_builds() {
        // Parses every row's flags; a flag name the table does not know panics here.
        let reg = super::registry();
        assert!(reg.lookup(b"GET").is_some());
        assert!(reg.all.iter().all(|r| {
            r.full_name.chars().all(|c| c.is_ascii_lowercase() || c == '|' || c == '-' || c == '_')
        }));
    }
}
