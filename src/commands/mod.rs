//! Commands: the table that defines them (`table.rs`), the registry built from it, and `call`,
//! the one path every command takes — lookup, arity, authentication, loading, busy and pause
//! checks, the
//! handler, then statistics, the slow log and MONITOR.
//!
//! Dispatch decides by the bits a row declares (`flag`), never by a command's name, and its
//! own refusals are typed `CmdError`s that it alone replies and counts in errorstats, by code.
//!
//! A handler is `fn(&mut Ctx<'_>, &mut Session, &[Vec<u8>])`: it reads its arguments, changes
//! the keyspace through the context's data half (`ctx.data`, `commands::Data`) and its
//! lookups, and appends its reply to the client. The context (`ctx.rs`) reaches the rest of
//! the server (other clients, CONFIG SET's effects, SHUTDOWN) through `ServerOps`, which the
//! top layer implements, so no file here names the top layer. One file per family holds the
//! handlers.

pub(crate) mod acl;
pub(crate) mod bitfield;
pub(crate) mod config;
pub(crate) mod connection;
pub(crate) mod ctx;
pub(crate) mod data;
pub(crate) mod debug;
pub(crate) mod dump;
pub(crate) mod geo;
pub(crate) mod hash;
pub(crate) mod hll;
pub(crate) mod info;
pub(crate) mod introspection;
pub(crate) mod keys;
pub(crate) mod keyspec;
pub(crate) mod list;
pub(crate) mod memory;
pub(crate) mod migrate;
pub(crate) mod multi;
pub(crate) mod persist;
pub(crate) mod pubsub;
pub(crate) mod replicaof;
pub(crate) mod replication;
pub(crate) mod scripting;
pub(crate) mod server;
pub(crate) mod set;
pub(crate) mod sort;
pub(crate) mod stream;
pub(crate) mod strings;
pub(crate) mod table;
pub(crate) mod tracking;
pub(crate) mod zset;

/// Replies a HELP text: "<CMD> <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
/// the lines, and "HELP / Prints this help.", as Redis's addReplyHelp.
pub(crate) fn reply_help(c: &mut Session, cmd: &str, lines: &[&str]) {
    c.add_array(lines.len() + 3);
    c.add_simple(&format!("{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd));
    for l in lines {
        c.add_simple(l);
    }
    c.add_simple("HELP");
    c.add_simple("    Prints this help.");
}

/// Error replies shared by many commands, in Redis's words.
pub(crate) mod err {
    pub(crate) const WRONGTYPE: CmdError = CmdError::new(
        "WRONGTYPE",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
    pub(crate) const SYNTAX: CmdError = CmdError::new("ERR", "ERR syntax error");
    pub(crate) const NOT_INTEGER: CmdError =
        CmdError::new("ERR", "ERR value is not an integer or out of range");
    pub(crate) const NOT_FLOAT: CmdError = CmdError::new("ERR", "ERR value is not a valid float");
    pub(crate) const OVERFLOW: CmdError =
        CmdError::new("ERR", "ERR increment or decrement would overflow");
    pub(crate) const NO_SUCH_KEY: CmdError = CmdError::new("ERR", "ERR no such key");
    pub(crate) const INDEX_OUT_OF_RANGE: CmdError = CmdError::new("ERR", "ERR index out of range");
    pub(crate) const WRONGPASS: CmdError =
        CmdError::new("WRONGPASS", "WRONGPASS invalid username-password pair or user is disabled.");
    pub(crate) const DB_INDEX: CmdError = CmdError::new("ERR", "ERR DB index is out of range");
    pub(crate) const STRING_TOO_LONG: CmdError =
        CmdError::new("ERR", "ERR string exceeds maximum allowed size (proto-max-bulk-len)");

    use super::CmdError;

    /// A command that needs authentication, from a client that has not authenticated.
    pub(crate) const NOAUTH: CmdError = CmdError::new("NOAUTH", "NOAUTH Authentication required.");
    /// A command not flagged `loading` while the dataset loads.
    pub(crate) const READONLY_REPLICA: CmdError =
        CmdError::new("READONLY", "READONLY You can't write against a read only replica.");
    pub(crate) const MASTERDOWN: CmdError = CmdError::new(
        "MASTERDOWN",
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    );
    pub(crate) const LOADING: CmdError =
        CmdError::new("LOADING", "LOADING Redis is loading the dataset in memory");
    /// A command that may grow memory, when eviction cannot get under maxmemory.
    pub(crate) const OOM: CmdError = CmdError::new("OOM", crate::engine::evict::OOM_ERROR);
    /// A write while the last background save failed (stop-writes-on-bgsave-error).
    pub(crate) const MISCONF_RDB: CmdError =
        CmdError::new("MISCONF", crate::persist::snapshot::MISCONF_RDB);
    /// A `no_multi` command inside MULTI.
    pub(crate) const NOMULTI: CmdError =
        CmdError::new("ERR", "ERR Command not allowed inside a transaction");

    /// A command not flagged `allow_busy` while another yields (`Data::busy`), in Redis
    /// 7.0's words for each kind of busy command (shared.slowevalerr, slowscripterr,
    /// slowmoduleerr).
    pub(crate) fn busy(kind: crate::commands::data::BusyKind) -> CmdError {
        use crate::commands::data::BusyKind;
        match kind {
            BusyKind::Script => CmdError::new(
                "BUSY",
                "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            ),
            BusyKind::Function => CmdError::new(
                "BUSY",
                "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
            ),
            BusyKind::Module => {
                CmdError::new("BUSY", "BUSY Redis is busy running a module command.")
            }
        }
    }
}

/// An error reply, typed (defined beside the reply encoder, so sessions can record one).
pub(crate) use tine_core::protocol::CmdError;

/// What a handler returns: `Err` is replied and counted by the dispatcher (`fail`).
pub(crate) type CmdResult = Result<(), CmdError>;

use std::collections::HashMap;
use std::sync::OnceLock;

use tine_core::protocol::echo_arg;

use crate::engine::session::Session;
use crate::engine::stats::{CommandStats, SlowLogEntry};
pub(crate) use ctx::{Ctx, ServerOps};
use data::PauseKind;

/// Arguments of a command, the name first.
pub(crate) type Argv = [Vec<u8>];
pub(crate) type Handler = fn(&mut Ctx<'_>, &mut Session, &Argv) -> CmdResult;

/// A blocking command's retry: serves a client blocked with `argv` once `key` is ready
/// (`engine::blocking`). Engine stores only its number in `RETRIES` (`retry`).
pub(crate) type RetryFn =
    fn(&mut Ctx<'_>, &mut Session, &Argv, &[u8]) -> crate::engine::blocking::Served;

/// The numbers of the retries in `RETRIES`, which blocking commands hand to
/// `engine::blocking::block_for_keys`.
pub(crate) mod retry {
    use crate::engine::blocking::Retry;
    pub(crate) const BLMPOP: Retry = Retry(0);
    pub(crate) const BPOP: Retry = Retry(1);
    pub(crate) const BMOVE: Retry = Retry(2);
    pub(crate) const BZPOPMIN: Retry = Retry(3);
    pub(crate) const BZPOPMAX: Retry = Retry(4);
    pub(crate) const BZMPOP: Retry = Retry(5);
    pub(crate) const XREAD: Retry = Retry(6);
    pub(crate) const XREADGROUP: Retry = Retry(7);
}

/// The retry functions, in the order of their numbers in `retry`.
pub(crate) const RETRIES: [RetryFn; 8] = [
    list::serve_blmpop,
    list::serve_bpop,
    list::serve_bmove,
    zset::serve_bzpopmin,
    zset::serve_bzpopmax,
    zset::serve_bzmpop,
    stream::serve_xread,
    stream::serve_xreadgroup,
];

/// Handler of a container command (CONFIG, CLIENT...) run without a known subcommand; the
/// dispatcher answers those cases before this could run.
pub(crate) fn container(_srv: &mut Ctx<'_>, _c: &mut Session, argv: &Argv) -> CmdResult {
    let sub = argv.get(1).map(|a| a.as_slice()).unwrap_or(b"");
    Err(CmdError::err_echo("unknown subcommand '", sub, Some(128), "'"))
}

/// Where a command's keys are among its arguments.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Keys {
    None,
    /// first, last (negative: from the end), step — Redis's legacy key positions.
    Range(i32, i32, i32),
    /// A count at `numkeys_at`, then that many keys from `numkeys_at + 1` (ZUNIONSTORE-like
    /// commands put a destination first: `dest_first`).
    NumKeys {
        numkeys_at: usize,
        dest_first: bool,
    },
    /// The first half of the arguments after the STREAMS keyword (XREAD, XREADGROUP), found
    /// past the options as Redis's xreadGetKeys does.
    Streams,
}

/// One row of the command table.
pub(crate) struct Command {
    pub(crate) name: &'static str,
    /// Positive: exact argument count (name included); negative: at least -arity.
    pub(crate) arity: i32,
    /// Redis's command flags and tine's own dispatch roles, as bits of `flag` (`WRITE |
    /// DENYOOM | FAST`): a constant, so a row cannot name a flag that does not exist.
    pub(crate) flags: u32,
    /// ACL categories, without '@', in Redis's order.
    pub(crate) acl: &'static [&'static str],
    pub(crate) keys: Keys,
    /// Redis 7.0's key specs (`keyspec`): COMMAND INFO and GETKEYSANDFLAGS.
    pub(crate) specs: &'static [keyspec::KeySpec],
    /// Redis 7.0's command tips (`nondeterministic_output`, `request_policy:...`), as COMMAND
    /// INFO shows them.
    pub(crate) tips: &'static [&'static str],
    pub(crate) group: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) since: &'static str,
    pub(crate) handler: Handler,
    pub(crate) subcommands: &'static [Command],
    /// The keyspace event the command publishes on its first key once it has changed it, for
    /// the commands that leave that to dispatch (`engine::pubsub::CommandEvent`).
    pub(crate) notify: Option<crate::engine::pubsub::Notify>,
}

/// Command flags as bits. The first group are Redis's (COMMAND INFO prints those listed in
/// `NAMES`); the second are tine's own dispatch roles, so that `call` reads bits declared in a
/// row instead of comparing command names.
pub(crate) mod flag {
    pub(crate) const NONE: u32 = 0;
    pub(crate) const WRITE: u32 = 1 << 0;
    pub(crate) const READONLY: u32 = 1 << 1;
    pub(crate) const DENYOOM: u32 = 1 << 2;
    pub(crate) const ADMIN: u32 = 1 << 3;
    pub(crate) const PUBSUB: u32 = 1 << 4;
    pub(crate) const NOSCRIPT: u32 = 1 << 5;
    pub(crate) const BLOCKING: u32 = 1 << 6;
    pub(crate) const LOADING: u32 = 1 << 7;
    pub(crate) const STALE: u32 = 1 << 8;
    pub(crate) const SKIP_MONITOR: u32 = 1 << 9;
    pub(crate) const SKIP_SLOWLOG: u32 = 1 << 10;
    pub(crate) const FAST: u32 = 1 << 11;
    pub(crate) const NO_AUTH: u32 = 1 << 12;
    pub(crate) const MAY_REPLICATE: u32 = 1 << 13;
    pub(crate) const SENTINEL: u32 = 1 << 14;
    pub(crate) const NO_MULTI: u32 = 1 << 15;
    pub(crate) const ALLOW_BUSY: u32 = 1 << 16;
    pub(crate) const NO_MANDATORY_KEYS: u32 = 1 << 17;
    pub(crate) const MOVABLE_KEYS: u32 = 1 << 18;
    pub(crate) const NO_ASYNC_LOADING: u32 = 1 << 19;
    pub(crate) const MODULE: u32 = 1 << 20;
    pub(crate) const ASKING: u32 = 1 << 21;
    pub(crate) const ONLY_SENTINEL: u32 = 1 << 22;
    /// Redis's CMD_PROTECTED (DEBUG): refused unless `enable-debug-command` allows the
    /// client. Redis 7.0's COMMAND INFO does not print it, so it is not in `NAMES`.
    pub(crate) const PROTECTED: u32 = 1 << 23;

    // tine's dispatch roles (never printed).
    /// Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, QUIT,
    /// RESET): the commands that control the transaction or the connection.
    pub(crate) const TX_CONTROL: u32 = 1 << 24;
    /// Allowed to a RESP2 client in subscribed state ((P)(UN)SUBSCRIBE, PING, QUIT, RESET).
    pub(crate) const SUBSCRIBED_OK: u32 = 1 << 25;
    /// Refused by MISCONF (failed persistence) although not a write: PING, as in Redis.
    pub(crate) const MISCONF_DENIED: u32 = 1 << 26;
    /// Its own arguments are not fed to the AOF: the commands it runs are (EXEC, EVAL...).
    pub(crate) const NO_PROPAGATE_SELF: u32 = 1 << 27;

    /// Redis's flag names in the order its COMMAND INFO prints them.
    pub(crate) const NAMES: &[(&str, u32)] = &[
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
        ("no_mandatory_keys", NO_MANDATORY_KEYS),
        ("no_async_loading", NO_ASYNC_LOADING),
        ("no_multi", NO_MULTI),
        ("movablekeys", MOVABLE_KEYS),
        ("allow_busy", ALLOW_BUSY),
        ("module", MODULE),
        ("asking", ASKING),
        ("only_sentinel", ONLY_SENTINEL),
    ];
}

/// A command or subcommand resolved from the table, with its parsed flags and its index in
/// the statistics vector.
pub(crate) struct Resolved {
    pub(crate) cmd: &'static Command,
    /// "get", or "config|get" for a subcommand.
    pub(crate) full_name: String,
    pub(crate) flags: u32,
    pub(crate) id: usize,
    /// Subcommands by lowercase name.
    pub(crate) subs: HashMap<String, usize>,
}

/// Every command and subcommand, resolved once.
pub(crate) struct Registry {
    pub(crate) all: Vec<Resolved>,
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
        let mut flags = cmd.flags;
        if matches!(cmd.keys, Keys::NumKeys { .. }) || keyspec::legacy_range(cmd.specs).1 {
            flags |= flag::MOVABLE_KEYS;
        }
        self.all.push(Resolved { cmd, full_name, flags, id, subs: HashMap::new() });
        id
    }

    /// Looks a top-level command up by name, case-insensitively.
    pub(crate) fn lookup(&self, name: &[u8]) -> Option<&Resolved> {
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
    pub(crate) fn lookup_full(&self, name: &[u8]) -> Option<&Resolved> {
        match name.iter().position(|&b| b == b'|') {
            Some(i) => {
                let parent = self.lookup(&name[..i])?;
                self.lookup_sub(parent, &name[i + 1..])
            }
            None => self.lookup(name),
        }
    }

    /// Looks a subcommand of `parent` up.
    pub(crate) fn lookup_sub(&self, parent: &Resolved, name: &[u8]) -> Option<&Resolved> {
        let lower = tine_core::base::lower(name);
        parent.subs.get(&lower).map(|&i| &self.all[i])
    }

    /// Top-level commands.
    pub(crate) fn top_level(&self) -> impl Iterator<Item = &Resolved> {
        self.all.iter().filter(|r| !r.full_name.contains('|'))
    }
}

pub(crate) fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(Registry::build)
}

/// Fresh statistics, one entry per command and subcommand.
pub(crate) fn new_stats() -> Vec<CommandStats> {
    vec![CommandStats::default(); registry().all.len()]
}

/// What `call` did with a command.
#[derive(PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    Done,
    /// CLIENT PAUSE holds the client; its command stays in the parser and runs later.
    Held,
}

/// The error for a command name not in the table, as Redis's processCommand words it: the name
/// as `%.128s`, then each argument quoted as `'%.*s' ` with what is left of 128 bytes, while
/// fewer than 128 bytes are written (so the last one may be cut, and the quotes count).
fn unknown_command(argv: &Argv) -> CmdError {
    let mut t = b"ERR unknown command '".to_vec();
    echo_arg(&mut t, &argv[0], Some(128));
    t.extend_from_slice(b"', with args beginning with: ");
    let start = t.len();
    for a in argv.iter().skip(1) {
        let used = t.len() - start;
        if used >= 128 {
            break;
        }
        t.push(b'\'');
        echo_arg(&mut t, a, Some(128 - used));
        t.extend_from_slice(b"' ");
    }
    CmdError::bytes("ERR", t)
}

/// "unknown subcommand" for container `name` (already upper case), echoing the subcommand
/// as Redis's `%.128s`.
fn unknown_subcommand(sub: &[u8], name: &str) -> CmdError {
    CmdError::err_echo("unknown subcommand '", sub, Some(128), &format!("'. Try {name} HELP."))
}

/// Resolves the command in `argv` to a table entry, or the error to reply: unknown command,
/// unknown subcommand, wrong number of arguments.
fn resolve<'a>(reg: &'a Registry, argv: &Argv) -> Result<&'a Resolved, CmdError> {
    let Some(top) = reg.lookup(&argv[0]) else {
        return Err(unknown_command(argv));
    };
    let resolved = if !top.subs.is_empty() && argv.len() >= 2 {
        match reg.lookup_sub(top, &argv[1]) {
            Some(sub) => sub,
            None => {
                return Err(unknown_subcommand(&argv[1], &top.cmd.name.to_ascii_uppercase()));
            }
        }
    } else {
        top
    };
    let arity = resolved.cmd.arity;
    let n = argv.len() as i32;
    if (arity > 0 && n != arity) || n < -arity {
        return Err(CmdError::err(&format!(
            "wrong number of arguments for '{}' command",
            resolved.full_name
        )));
    }
    Ok(resolved)
}

/// Runs one parsed command of session `c`, arguments `argv` (which the caller took out of
/// its connection's parser, and puts back if the command is held).
pub(crate) fn call(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> Outcome {
    let saved = tracking::begin_top_level(srv, c);
    let outcome = call_argv(srv, c, argv);
    tracking::end_top_level(srv, c, argv, saved);
    // While another command yields (`Data::busy`), this one runs inside it: the unit of the
    // feed and the keys made ready are the yielding command's, ended and served when it
    // ends, as Redis propagates only at execution nesting 0.
    if srv.data.busy.is_some() {
        return outcome;
    }
    // Clients blocked on keys this command made ready are served before anyone else is
    // replied to (top level only: EXEC will serve after its whole queue).
    // The command is one unit of the propagation feed; each blocked client it serves is
    // another, after it (as Redis 7.0 propagates them).
    crate::engine::feed::end_unit(srv);
    // As Redis's processCommand, after the command's writes are in the stream.
    c.woff = srv.data.repl_buf.master_repl_offset();
    crate::engine::blocking::serve_ready_keys(srv);
    outcome
}

/// Runs a command given its arguments.
pub(crate) fn call_argv(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> Outcome {
    let reg = registry();
    if c.reply_mode == crate::engine::session::ReplyMode::SkipNext {
        c.reply_mode = crate::engine::session::ReplyMode::Skipping;
    }
    let r = match resolve(reg, argv) {
        Ok(r) => r,
        Err(e) => return refuse_unresolved(srv, c, argv, e),
    };
    // The flags the state checks below see: EXEC's own plus what its queued commands need.
    let flags = match &c.multi {
        Some(m) if r.cmd.name == "exec" => {
            let need = r.flags | (m.flags & (flag::WRITE | flag::DENYOOM | flag::MAY_REPLICATE));
            if m.some_not_stale { need & !flag::STALE } else { need }
        }
        _ => r.flags,
    };

    // DEBUG is a protected command (enable-debug-command): refused before it runs, as Redis's
    // processCommand does, so it counts as rejected, not as a failed call.
    if r.flags & flag::PROTECTED != 0 && !debug::debug_allowed(srv, c) {
        return reject(srv, c, r.id, debug::DEBUG_NOT_ALLOWED);
    }

    if !c.authenticated && r.flags & flag::NO_AUTH == 0 && auth_required(srv) {
        return reject(srv, c, r.id, err::NOAUTH);
    }

    // ACL: one flag test for a user that may run anything (the common case).
    if !(c.acl_free && c.acl_epoch == srv.data.acl.epoch) {
        if let Err(e) = acl::check(srv, c, r, argv) {
            return reject(srv, c, r.id, e);
        }
    }

    // While the dataset loads (at startup, or a replica's full sync), only commands flagged
    // `loading` run.
    if (srv.data.loading.is_some() || srv.data.replica.blocks_clients())
        && r.flags & flag::LOADING == 0
    {
        return reject(srv, c, r.id, err::LOADING);
    }

    // While a command yields to the event loop (a slow script...), only the commands flagged
    // `allow_busy` run; the others, inside MULTI too, are refused (Redis's processCommand;
    // MULTI, DISCARD and WATCH are allowed so that a pipelined transaction is not cut in two).
    if let Some(kind) = srv.data.busy {
        if r.flags & flag::ALLOW_BUSY == 0 {
            return reject(srv, c, r.id, err::busy(kind));
        }
    }

    // maxmemory: evict first; if that cannot free enough, refuse commands that may grow memory.
    // Not while a command yields: its propagation must not be mixed with eviction's DELs.
    // The outcome is kept for scripts (Redis's script_oom): their commands are checked against
    // the memory state at the script's start, not against memory the script itself uses.
    if srv.data.config.maxmemory > 0
        && srv.data.busy.is_none()
        && !(srv.data.replica.is_replica() && srv.data.config.replica_ignore_maxmemory)
        && !c.in_exec
    {
        let oom = !crate::engine::evict::perform_evictions(srv);
        srv.data.scripting.script_oom = oom;
        if oom && flags & flag::DENYOOM != 0 {
            return reject(srv, c, r.id, err::OOM);
        }
    } else if !c.in_exec {
        srv.data.scripting.script_oom = false;
    }
    // Client-side caching: what eviction changed, and the tracking table's limit, are told
    // before this command runs (Redis's processCommand).
    if !c.in_exec {
        tracking::before_command(srv, c);
    }

    // A RESP2 client in subscribed state may only (un)subscribe, PING, QUIT and RESET.
    if c.resp == tine_core::protocol::Resp::V2
        && c.subscribed()
        && r.flags & flag::SUBSCRIBED_OK == 0
    {
        fail(srv, c, pubsub::subscribed_context_error(r.cmd.name));
        end_reply_skip(c);
        return Outcome::Done;
    }

    // A failed background save, or a failed AOF write, stops writes (and PING, as Redis)
    // until persistence works again. Not for a replica's primary: refusing its stream would
    // silently diverge (Redis panics there unless replica-ignore-disk-write-errors; tine
    // applies it and leaves MISCONF to the replica's own clients).
    if flags & (flag::WRITE | flag::MISCONF_DENIED) != 0
        && c.kind != crate::engine::session::ClientKind::Primary
    {
        let denied = if crate::persist::snapshot::writes_denied(&*srv.data) {
            Some(err::MISCONF_RDB)
        } else {
            crate::persist::aof::writes_denied(&*srv.data)
                .map(|text| CmdError::owned("MISCONF", text))
        };
        if let Some(e) = denied {
            return reject(srv, c, r.id, e);
        }
    }
    // min-replicas-to-write: writes need enough replicas that acknowledged lately.
    if flags & flag::WRITE != 0
        && srv.data.config.min_replicas_to_write > 0
        && replication::not_enough_good_replicas(srv.data)
    {
        return reject(srv, c, r.id, replication::NOREPLICAS);
    }
    // A replica: writes only from its primary (`replica-read-only`), and without a link to the
    // primary only the commands flagged `stale` unless `replica-serve-stale-data` (Redis's
    // processCommand). Checked when a command is queued, not again when EXEC runs it: a
    // transaction that made this node a replica (REPLICAOF inside MULTI) runs to its end.
    if srv.data.replica.is_replica()
        && c.kind != crate::engine::session::ClientKind::Primary
        && !c.in_exec
    {
        if srv.data.config.replica_read_only && flags & flag::WRITE != 0 {
            return reject(srv, c, r.id, err::READONLY_REPLICA);
        }
        if !srv.data.replica.link_up()
            && !srv.data.config.replica_serve_stale_data
            && flags & flag::STALE == 0
        {
            return reject(srv, c, r.id, err::MASTERDOWN);
        }
    }
    // A replica's link carries its REPLCONF ACKs, not work on the data (Redis's
    // processCommand); the error reply then has the link closed (`app::event_loop`).
    if c.kind == crate::engine::session::ClientKind::Replica
        && r.flags & (flag::WRITE | flag::READONLY | flag::MAY_REPLICATE) != 0
    {
        c.last_cmd = r.full_name.as_str();
        const TEXT: &str = "Replica can't interact with the keyspace";
        tine_core::log!(
            tine_core::log::Level::Warning,
            "== CRITICAL == This master is sending an error to its replica: '{}' after processing the command '{}'",
            TEXT,
            c.last_cmd
        );
        return reject(srv, c, r.id, CmdError::err(TEXT));
    }
    if srv.data.replica.async_loading() && r.flags & flag::NO_ASYNC_LOADING != 0 {
        return reject(srv, c, r.id, err::LOADING);
    }
    // Inside MULTI: queue, except the commands that control the transaction.
    if c.multi.is_some() && r.flags & flag::TX_CONTROL == 0 {
        if r.flags & flag::NO_MULTI != 0 {
            if let Some(m) = c.multi.as_mut() {
                m.errored = true;
            }
            fail(srv, c, err::NOMULTI);
        } else {
            let m = c.multi.as_mut().expect("checked");
            m.commands.push(argv.to_vec());
            m.flags |= r.flags;
            m.some_not_stale |= r.flags & flag::STALE == 0;
            c.add_simple("QUEUED");
        }
        end_reply_skip(c);
        return Outcome::Done;
    }

    // CLIENT PAUSE: hold the client (its command stays queued) until the pause ends.
    if srv.data.pause.is_some()
        && c.kind != crate::engine::session::ClientKind::Replica
        && c.kind != crate::engine::session::ClientKind::Primary
        && !c.in_exec
    {
        let now = tine_core::base::mstime();
        if let Some(kind) = srv.paused(now) {
            let may_write = flags & (flag::WRITE | flag::MAY_REPLICATE) != 0;
            if kind == PauseKind::All || may_write {
                c.paused = true;
                return Outcome::Held;
            }
        }
    }

    // One clock reading gives the command its "now" and starts its duration (a clock read is
    // a few percent of a pipelined INCR), as Redis's call() times with ustime().
    let start_us = tine_core::base::ustime();
    if !srv.data.clock_frozen {
        srv.data.now_ms = start_us / 1000;
    }
    c.last_cmd = r.full_name.as_str();
    let event = crate::engine::pubsub::CommandEvent::before(
        srv.data.notify_flags,
        &srv.data.keyspace[c.db],
        c.db,
        r.cmd.notify.as_ref(),
        argv,
    );
    let before = crate::engine::feed::before_command(srv);
    let dirty_before = srv.data.dirty;
    let was_executing = std::mem::replace(&mut srv.data.tracking.executing, true);
    let failed = match (r.cmd.handler)(srv, c, argv) {
        Ok(()) => false,
        Err(e) => {
            fail(srv, c, e);
            true
        }
    };
    srv.data.tracking.executing = was_executing;
    tracking::after_command(srv, c, r, argv);
    // "new" events first: Redis announces a created key (dbAdd) before the command's event.
    srv.announce_created();
    if let Some(ev) = event.filter(|_| srv.data.dirty > dirty_before) {
        let exists = srv.data.keyspace[ev.db()].peek(ev.key()).is_some();
        ev.after(srv, exists);
    }
    crate::engine::feed::after_command(
        srv,
        c.db,
        argv,
        before,
        r.flags & flag::NO_PROPAGATE_SELF == 0,
    );
    let usec = (tine_core::base::ustime() - start_us).max(0) as u64;
    if srv.data.watched_keys > 0 {
        multi::collect_touched(srv, c);
    }
    if c.blocked.is_some() {
        // Counted when it completes (crate::engine::blocking), as Redis does.
        end_reply_skip(c);
        return Outcome::Done;
    }

    let stats = &mut srv.data.cmd_stats[r.id];
    stats.record_call(usec, srv.data.config.latency_tracking);
    if failed || !c.errors.is_empty() {
        stats.failed_calls += 1;
    }
    srv.data.stats.total_commands_processed += 1;
    finish_errors(srv, c);

    // As Redis's call(): a blocked command is timed when it completes, not here.
    let event = if r.flags & flag::FAST != 0 { "fast-command" } else { "command" };
    let threshold = srv.data.config.latency_monitor_threshold;
    srv.data.latency.add_if_needed(threshold, event, usec / 1000, start_us / 1_000_000);
    if r.flags & flag::SKIP_SLOWLOG == 0 {
        slowlog_push(srv, c, argv, usec as i64);
    }
    if !srv.data.monitors.is_empty() && r.flags & (flag::SKIP_MONITOR | flag::ADMIN) == 0 {
        feed_monitors(srv, c, argv);
    }
    end_reply_skip(c);
    Outcome::Done
}

/// Refuses a command that did not resolve (unknown command or subcommand, wrong arity): the
/// error, `rejected_calls` of the top-level command if it exists, and a MULTI in progress is
/// marked to fail at EXEC.
fn refuse_unresolved(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, e: CmdError) -> Outcome {
    c.last_cmd = "NULL";
    if let Some(m) = c.multi.as_mut() {
        m.errored = true;
    }
    if let Some(top) = registry().lookup(&argv[0]) {
        srv.data.cmd_stats[top.id].rejected_calls += 1;
    }
    fail(srv, c, e);
    end_reply_skip(c);
    Outcome::Done
}

/// Refuses a command before it runs (Redis's rejectCommand): the error reply, the command's
/// `rejected_calls`, and a MULTI in progress is marked to fail at EXEC. A refused EXEC itself
/// (a slow script running, -LOADING...) discards the transaction and says why, as Redis's
/// execCommandAbort: the client must not stay in MULTI with half a decision.
fn reject(srv: &mut Ctx<'_>, c: &mut Session, id: usize, e: CmdError) -> Outcome {
    srv.data.cmd_stats[id].rejected_calls += 1;
    let e = if c.multi.is_some() && registry().all[id].cmd.name == "exec" {
        c.multi = None;
        multi::unwatch_all(srv, c);
        let mut text = b"EXECABORT Transaction discarded because of: ".to_vec();
        text.extend_from_slice(&e.text);
        CmdError::bytes("EXECABORT", text)
    } else {
        if let Some(m) = c.multi.as_mut() {
            m.errored = true;
        }
        e
    };
    fail(srv, c, e);
    end_reply_skip(c);
    Outcome::Done
}

/// Replies a typed error (unless replies are off) and counts it in errorstats under its code.
/// Errors the client already replied through `Session::add_error` are counted first, so the
/// totals are those of replying them all in order.
pub(crate) fn fail(srv: &mut Ctx<'_>, c: &mut Session, e: CmdError) {
    finish_errors(srv, c);
    if let Some(o) = c.out() {
        tine_core::protocol::reply::error(o, &e.text);
    }
    count_error(srv, e.code);
}

fn end_reply_skip(c: &mut Session) {
    if c.reply_mode == crate::engine::session::ReplyMode::Skipping {
        c.reply_mode = crate::engine::session::ReplyMode::On;
    }
}

/// True when clients must authenticate (the default user is off or has a password).
pub(crate) fn auth_required(srv: &Ctx<'_>) -> bool {
    acl::auth_required(srv)
}

/// Moves the errors the client replied through `Session::add_error` into INFO errorstats.
pub(crate) fn finish_errors(srv: &mut Ctx<'_>, c: &mut Session) {
    for code in std::mem::take(&mut c.errors) {
        count_error(srv, &code);
    }
}

/// Counts one error reply in INFO errorstats.
fn count_error(srv: &mut Ctx<'_>, code: &str) {
    srv.data.stats.count_error(code);
}

/// Records a slow command, as Redis's slowlogPushEntryIfNeeded: at most 32 arguments, each
/// at most 128 bytes, with a note of what was cut.
fn slowlog_push(srv: &mut Ctx<'_>, c: &Session, argv: &Argv, usec: i64) {
    let threshold = srv.data.config.slowlog_log_slower_than;
    if threshold < 0 || usec < threshold {
        return;
    }
    const MAX_ARGS: usize = 32;
    const MAX_ARG_LEN: usize = 128;
    let mut args = Vec::new();
    let hidden = redacted_args(argv);
    for (i, a) in argv.iter().enumerate() {
        if hidden.contains(&i) {
            args.push(b"(redacted)".to_vec());
            continue;
        }
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
        id: srv.data.slowlog_next_id,
        time: tine_core::base::unix_time(),
        duration_us: usec,
        argv: args,
        peer: c.addr.clone(),
        name: c.name.clone(),
    };
    srv.data.slowlog_next_id += 1;
    srv.data.slowlog.push_front(entry);
    while srv.data.slowlog.len() > srv.data.config.slowlog_max_len.max(0) as usize {
        srv.data.slowlog.pop_back();
    }
}

/// Sends a command to clients in MONITOR mode, in Redis's line format:
/// `+<secs>.<usecs> [<db> <addr>] "arg" "arg"`.
/// The arguments MONITOR and the slow log show as "(redacted)", as Redis's
/// redactClientCommandArgument hides them: passwords (AUTH's arguments, HELLO's AUTH user
/// and password, MIGRATE's AUTH/AUTH2).
fn redacted_args(argv: &Argv) -> Vec<usize> {
    match argv.first().map(|a| tine_core::base::lower(a)).unwrap_or_default().as_str() {
        "auth" => (1..argv.len()).collect(),
        "hello" => match (2..argv.len()).find(|&i| argv[i].eq_ignore_ascii_case(b"auth")) {
            Some(i) => (i + 1..(i + 3).min(argv.len())).collect(),
            None => vec![],
        },
        "migrate" => migrate::redacted_args(argv),
        _ => vec![],
    }
}

/// Scripts (EVAL, FCALL and their variants, flagged skip_monitor) call it themselves before
/// they run, as Redis's evalCommand, so the commands their script runs come after them.
pub(crate) fn feed_monitors(srv: &mut Ctx<'_>, c: &Session, argv: &Argv) {
    if srv.data.monitors.is_empty() {
        return;
    }
    let now = tine_core::base::ustime();
    let mut line =
        format!("+{}.{:06} [{} {}]", now / 1_000_000, now % 1_000_000, c.db, c.addr).into_bytes();
    let hidden = redacted_args(argv);
    for (i, a) in argv.iter().enumerate() {
        line.push(b' ');
        if hidden.contains(&i) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            line.extend_from_slice(tine_core::base::quote::repr_arg(a).as_bytes());
        }
    }
    line.extend_from_slice(b"\r\n");
    let monitors = srv.data.monitors.clone();
    for slot in monitors {
        if let Some((m, _)) = srv.server.session(slot) {
            m.obuf.extend_from_slice(&line);
            srv.note_pending_write(slot);
        }
    }
}

/// The keys of a command's arguments (COMMAND GETKEYS, and later cluster/ACL checks).
pub(crate) fn key_positions(cmd: &Command, argv: &Argv) -> Result<Vec<usize>, &'static str> {
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
        Keys::Streams => {
            let mut i = 1;
            let mut at = None;
            while i < argv.len() {
                match tine_core::base::lower(&argv[i]).as_str() {
                    "block" | "count" => i += 1,
                    "group" => i += 2,
                    "noack" => {}
                    "streams" => {
                        at = Some(i + 1);
                        break;
                    }
                    _ => break,
                }
                i += 1;
            }
            let at = at.ok_or("Invalid arguments specified for command")?;
            let n = argv.len() - at.min(argv.len());
            if n % 2 != 0 {
                return Err("Invalid arguments specified for command");
            }
            Ok((at..at + n / 2).collect())
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
        // Builds the registry (names, subcommands) from every row.
        let reg = super::registry();
        assert!(reg.lookup(b"GET").is_some());
        assert!(reg.all.iter().all(|r| {
            r.full_name.chars().all(|c| c.is_ascii_lowercase() || c == '|' || c == '-' || c == '_')
        }));
    }
}

/// Dispatch without a socket: a `Data` built from the default config and a `Session` with
/// no connection, replies read from its output buffer.
#[cfg(test)]
mod dispatch_tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::blocking::{EndWait, Waiter};

    struct Fixture {
        data: data::Data,
        c: Session,
    }

    fn fixture() -> Fixture {
        let data = data::Data::new(Config::default());
        let c = Session::new(1, 0, true, "/tmp/tine.sock:0".into(), String::new(), 0);
        Fixture { data, c }
    }

    impl Fixture {
        /// Runs one command as the event loop does and returns what it replied.
        fn run(&mut self, args: &[&str]) -> String {
            let start = self.c.obuf.len();
            let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
            assert_eq!(
                call(&mut Ctx::new(&mut self.data, &mut ctx::NoClients), &mut self.c, &argv),
                Outcome::Done
            );
            String::from_utf8_lossy(&self.c.obuf[start..]).into_owned()
        }

        fn errorstat(&self, code: &str) -> u64 {
            self.data.stats.errors.get(code).copied().unwrap_or(0)
        }

        fn stats(&self, name: &str) -> &CommandStats {
            let r = registry().lookup_full(name.as_bytes()).expect("command exists");
            &self.data.cmd_stats[r.id]
        }
    }

    #[test]
    fn unknown_command_and_subcommand() {
        let mut f = fixture();
        assert_eq!(
            f.run(&["nosuch", "a", "b"]),
            "-ERR unknown command 'nosuch', with args beginning with: 'a' 'b' \r\n"
        );
        assert_eq!(
            f.run(&["config", "nosuch"]),
            "-ERR unknown subcommand 'nosuch'. Try CONFIG HELP.\r\n"
        );
        assert_eq!(f.c.last_cmd, "NULL");
        assert_eq!(f.errorstat("ERR"), 2);
        assert_eq!(f.data.stats.total_error_replies, 2);
        // An unknown subcommand is a rejected call of its container.
        assert_eq!(f.stats("config").rejected_calls, 1);
    }

    #[test]
    fn arity_errors_are_rejected_calls() {
        let mut f = fixture();
        assert_eq!(f.run(&["get"]), "-ERR wrong number of arguments for 'get' command\r\n");
        assert_eq!(
            f.run(&["get", "a", "b"]),
            "-ERR wrong number of arguments for 'get' command\r\n"
        );
        assert_eq!(f.run(&["set", "k"]), "-ERR wrong number of arguments for 'set' command\r\n");
        assert_eq!(
            f.run(&["config", "get"]),
            "-ERR wrong number of arguments for 'config|get' command\r\n"
        );
        assert_eq!(f.stats("get").rejected_calls, 2);
        assert_eq!(f.stats("get").calls, 0);
        // Counted on the top-level command, as tine always has (Redis counts the subcommand).
        assert_eq!(f.stats("config").rejected_calls, 1);
        assert_eq!(f.stats("config|get").rejected_calls, 0);
        assert_eq!(f.errorstat("ERR"), 4);
        assert_eq!(f.data.stats.total_commands_processed, 0);
    }

    #[test]
    fn noauth_until_authenticated() {
        let mut f = fixture();
        f.data.config.requirepass = "secret".into();
        assert_eq!(f.run(&["get", "k"]), "-NOAUTH Authentication required.\r\n");
        assert_eq!(f.run(&["ping"]), "-NOAUTH Authentication required.\r\n");
        assert_eq!(f.errorstat("NOAUTH"), 2);
        assert_eq!(f.stats("get").rejected_calls, 1);
        // AUTH is flagged no_auth, so it runs.
        assert_eq!(f.run(&["auth", "secret"]), "+OK\r\n");
        assert_eq!(f.run(&["get", "k"]), "$-1\r\n");
        assert_eq!(f.stats("get").calls, 1);
    }

    #[test]
    fn loading_refuses_commands_without_the_loading_flag() {
        let mut f = fixture();
        f.data.loading = Some(crate::persist::rdb_io::Loading {
            started_unix: 0,
            started: std::time::Instant::now(),
            total_bytes: 0,
            loaded_bytes: Default::default(),
            thread: std::thread::spawn(|| Err(crate::persist::rdb_io::LoadError::Panicked)),
            aof: false,
        });
        assert_eq!(f.run(&["get", "k"]), "-LOADING Redis is loading the dataset in memory\r\n");
        assert_eq!(f.run(&["echo", "x"]), "$1\r\nx\r\n");
        assert_eq!(f.errorstat("LOADING"), 1);
        assert_eq!(f.stats("get").rejected_calls, 1);
        assert_eq!(f.stats("echo").calls, 1);
    }

    #[test]
    fn protected_debug_is_rejected_unless_enabled() {
        let mut f = fixture();
        let reply = f.run(&["debug", "help"]);
        assert!(reply.starts_with("-ERR DEBUG command not allowed."), "{}", reply);
        assert_eq!(f.stats("debug").rejected_calls, 1);
        f.data.config.enable_debug_command = crate::config::EnableCommand::Local;
        assert!(f.run(&["debug", "help"]).starts_with('*'));
        assert_eq!(f.stats("debug").calls, 1);
    }

    #[test]
    fn multi_queues_and_exec_runs_the_queue() {
        let mut f = fixture();
        assert_eq!(f.run(&["multi"]), "+OK\r\n");
        assert_eq!(f.run(&["set", "k", "v"]), "+QUEUED\r\n");
        assert_eq!(f.run(&["get", "k"]), "+QUEUED\r\n");
        assert_eq!(f.stats("set").calls, 0);
        assert_eq!(f.run(&["exec"]), "*2\r\n+OK\r\n$1\r\nv\r\n");
        assert_eq!(f.stats("set").calls, 1);
        assert_eq!(f.stats("exec").calls, 1);
        assert!(f.c.multi.is_none());
    }

    #[test]
    fn exec_aborts_after_a_queued_error() {
        let mut f = fixture();
        f.run(&["multi"]);
        assert_eq!(f.run(&["set", "k", "v"]), "+QUEUED\r\n");
        assert_eq!(f.run(&["get"]), "-ERR wrong number of arguments for 'get' command\r\n");
        assert_eq!(
            f.run(&["nosuch"]),
            "-ERR unknown command 'nosuch', with args beginning with: \r\n"
        );
        assert_eq!(
            f.run(&["exec"]),
            "-EXECABORT Transaction discarded because of previous errors.\r\n"
        );
        assert_eq!(f.run(&["get", "k"]), "$-1\r\n");
        assert_eq!(f.errorstat("ERR"), 2);
        assert_eq!(f.errorstat("EXECABORT"), 1);
        assert_eq!(f.stats("exec").failed_calls, 1);
    }

    #[test]
    fn exec_refused_while_busy_discards_the_transaction() {
        let mut f = fixture();
        f.run(&["multi"]);
        assert_eq!(f.run(&["incr", "x"]), "+QUEUED\r\n");
        f.data.busy = Some(crate::commands::data::BusyKind::Script);
        assert!(f.run(&["incr", "x"]).starts_with("-BUSY "));
        assert_eq!(
            f.run(&["exec"]),
            "-EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. \
             You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
        );
        f.data.busy = None;
        // Out of MULTI: nothing ran, and the next command runs at once.
        assert_eq!(f.run(&["get", "x"]), "$-1\r\n");
        assert_eq!(f.errorstat("EXECABORT"), 1);
        assert_eq!(f.stats("exec").rejected_calls, 1);
    }

    #[test]
    fn exec_is_checked_with_its_queued_commands_flags() {
        let mut f = fixture();
        f.run(&["set", "x", "1"]);
        // Writes queued, then min-replicas-to-write raised: EXEC aborts, nothing ran.
        f.run(&["multi"]);
        assert_eq!(f.run(&["incr", "x"]), "+QUEUED\r\n");
        f.data.config.min_replicas_to_write = 2;
        assert_eq!(
            f.run(&["exec"]),
            "-EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas \
             to write.\r\n"
        );
        assert_eq!(f.run(&["get", "x"]), "$1\r\n1\r\n");
        // Reads only: EXEC runs.
        f.run(&["multi"]);
        f.run(&["get", "x"]);
        assert_eq!(f.run(&["exec"]), "*1\r\n$1\r\n1\r\n");
    }

    #[test]
    fn no_multi_commands_are_refused_inside_multi_and_abort_exec() {
        let mut f = fixture();
        f.run(&["multi"]);
        assert_eq!(f.run(&["save"]), "-ERR Command not allowed inside a transaction\r\n");
        // Transaction controls run at once instead of being queued.
        assert_eq!(f.run(&["multi"]), "-ERR MULTI calls can not be nested\r\n");
        assert_eq!(f.run(&["watch", "k"]), "-ERR WATCH inside MULTI is not allowed\r\n");
        assert!(f.run(&["exec"]).starts_with("-EXECABORT"));
        assert_eq!(f.errorstat("ERR"), 3);
    }

    #[test]
    fn subcommands_named_like_controls_are_not_controls() {
        // SLOWLOG RESET is queued inside MULTI and refused in the RESP2 subscribed context, as
        // in Redis 7.0.15: the roles belong to the RESET row, not to every row named "reset".
        let mut f = fixture();
        f.run(&["multi"]);
        assert_eq!(f.run(&["slowlog", "reset"]), "+QUEUED\r\n");
        assert_eq!(f.run(&["latency", "reset"]), "+QUEUED\r\n");
        assert_eq!(f.run(&["exec"]), "*2\r\n+OK\r\n:0\r\n");
        f.run(&["subscribe", "ch"]);
        assert!(f.run(&["slowlog", "reset"]).starts_with("-ERR Can't execute"));
    }

    #[test]
    fn handler_errors_count_as_failed_calls() {
        let mut f = fixture();
        f.run(&["set", "k", "notanumber"]);
        assert_eq!(f.run(&["incr", "k"]), "-ERR value is not an integer or out of range\r\n");
        f.run(&["lpush", "l", "x"]);
        assert!(f.run(&["incr", "l"]).starts_with("-WRONGTYPE"));
        assert_eq!(f.stats("incr").calls, 2);
        assert_eq!(f.stats("incr").failed_calls, 2);
        assert_eq!(f.stats("incr").rejected_calls, 0);
        assert_eq!(f.errorstat("ERR"), 1);
        assert_eq!(f.errorstat("WRONGTYPE"), 1);
        assert_eq!(f.data.stats.total_error_replies, 2);
    }

    #[test]
    fn resp2_subscribed_context_allows_only_subscription_commands() {
        let mut f = fixture();
        f.run(&["subscribe", "ch"]);
        assert_eq!(
            f.run(&["get", "k"]),
            "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
        );
        assert!(f.run(&["ping"]).starts_with("*2\r\n$4\r\npong\r\n"));
        assert_eq!(f.errorstat("ERR"), 1);
        // Not a rejected call (as tine has always counted it).
        assert_eq!(f.stats("get").rejected_calls, 0);
    }

    #[test]
    fn error_constants_begin_with_their_code() {
        for e in [err::NOAUTH, err::LOADING, err::OOM, err::MISCONF_RDB, err::NOMULTI] {
            assert!(e.text.starts_with(format!("{} ", e.code).as_bytes()), "{:?}", e);
        }
    }

    #[test]
    fn dispatch_roles_are_declared_on_the_rows_redis_gives_them() {
        let reg = registry();
        let with = |bit: u32| -> Vec<&str> {
            let mut v: Vec<&str> =
                reg.top_level().filter(|r| r.flags & bit != 0).map(|r| r.cmd.name).collect();
            v.sort();
            v
        };
        assert_eq!(with(flag::TX_CONTROL), ["discard", "exec", "multi", "quit", "reset", "watch"]);
        assert_eq!(
            with(flag::SUBSCRIBED_OK),
            [
                "ping",
                "psubscribe",
                "punsubscribe",
                "quit",
                "reset",
                "ssubscribe",
                "subscribe",
                "sunsubscribe",
                "unsubscribe"
            ]
        );
        assert_eq!(with(flag::MISCONF_DENIED), ["ping"]);
        // EXEC and the EVAL family: the commands they run are propagated, not themselves.
        assert_eq!(
            with(flag::NO_PROPAGATE_SELF),
            ["eval", "eval_ro", "evalsha", "evalsha_ro", "exec", "fcall", "fcall_ro"]
        );
        assert_eq!(with(flag::PROTECTED), ["debug"]);
        // Only commands that write declare a keyspace event.
        assert!(
            reg.all.iter().filter(|r| r.cmd.notify.is_some()).all(|r| r.flags & flag::WRITE != 0)
        );
    }

    const BUSY_SCRIPT: &str = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

    #[test]
    fn while_busy_only_allow_busy_commands_run() {
        let mut f = fixture();
        assert_eq!(f.run(&["set", "k", "v"]), "+OK\r\n");
        f.data.busy = Some(data::BusyKind::Script);
        assert_eq!(f.run(&["get", "k"]), BUSY_SCRIPT);
        assert_eq!(f.run(&["ping"]), BUSY_SCRIPT);
        // Not even SHUTDOWN, unless NOSAVE.
        assert_eq!(f.run(&["shutdown"]), BUSY_SCRIPT);
        assert_eq!(f.stats("get").rejected_calls, 1);
        assert_eq!(f.stats("get").calls, 0);
        // allow_busy: the connection's own commands and the transaction's controls.
        assert!(f.run(&["hello", "2"]).starts_with("*14\r\n"));
        assert_eq!(f.run(&["multi"]), "+OK\r\n");
        // Refused inside MULTI too (not queued), which fails the transaction.
        assert_eq!(f.run(&["incr", "n"]), BUSY_SCRIPT);
        assert_eq!(f.errorstat("BUSY"), 4);
        // EXEC refused while busy discards the transaction and says why (execCommandAbort).
        f.data.busy = Some(data::BusyKind::Function);
        assert_eq!(
            f.run(&["exec"]),
            "-EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. \
             You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
        );
        f.data.busy = None;
        assert_eq!(f.run(&["exec"]), "-ERR EXEC without MULTI\r\n");
        assert_eq!(f.run(&["get", "k"]), "$1\r\nv\r\n");
    }

    #[test]
    fn debug_yield_checks_its_argument() {
        let mut f = fixture();
        f.data.config.enable_debug_command = crate::config::EnableCommand::Yes;
        for bad in ["abc", "-1", "99999999999999999999"] {
            assert_eq!(
                f.run(&["debug", "yield", bad]),
                "-ERR value is out of range, must be positive\r\n"
            );
        }
        // Without an event loop behind the context (NoClients) it just runs its time.
        assert_eq!(f.run(&["debug", "yield", "0"]), "+OK\r\n");
        assert_eq!(f.data.busy, None);
    }

    /// A server whose event loop runs one command that tries to yield in turn.
    struct Reentrant {
        inner: Option<usize>,
    }

    impl ServerOps for Reentrant {
        fn session(&mut self, _slot: usize) -> Option<(&mut Session, usize)> {
            None
        }
        fn for_each_session(&mut self, _f: &mut dyn FnMut(&mut Session)) {}
        fn connected(&self) -> usize {
            1
        }
        fn clients_memory(&self) -> usize {
            0
        }
        fn client_list(
            &self,
            _running: &Session,
            _now: i64,
            _keep: &dyn Fn(&Session) -> bool,
        ) -> String {
            String::new()
        }
        fn client_info(&self, _running: &Session, _now: i64) -> String {
            String::new()
        }
        fn config_set(&mut self, _d: &mut data::Data, _p: &[(&str, &str)]) -> CmdResult {
            Ok(())
        }
        fn shutdown(&mut self, _d: &mut data::Data, _r: data::ShutdownRequest) -> bool {
            false
        }
        fn serve(&mut self, _d: &mut data::Data, _db: usize, _k: &[u8], _w: Waiter) {}
        fn end_wait(
            &mut self,
            _d: &mut data::Data,
            _s: Option<usize>,
            _i: u64,
            _h: EndWait,
        ) -> bool {
            false
        }
        fn process_events_while_blocked(&mut self, d: &mut data::Data) -> usize {
            assert_eq!(d.busy, Some(data::BusyKind::Script));
            let mut inner = Reentrant { inner: None };
            self.inner = Some(Ctx::new(d, &mut inner).yield_to_event_loop(data::BusyKind::Script));
            assert!(inner.inner.is_none(), "a yield inside a yield reached the event loop");
            1
        }
    }

    #[test]
    fn yields_do_not_nest() {
        let mut f = fixture();
        let mut server = Reentrant { inner: None };
        let mut ctx = Ctx::new(&mut f.data, &mut server);
        assert_eq!(ctx.yield_to_event_loop(data::BusyKind::Script), 1);
        assert_eq!(ctx.data.busy, None);
        assert_eq!(server.inner, Some(0));
    }
}
