//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT on PUC Lua 5.1 (Redis 7.0's
//! language level, through `mlua`).
//!
//! It sits in the commands layer because a script runs commands: `redis.call` goes through the
//! dispatcher's own path (`commands::call_argv`) as a script client whose checks — noscript
//! commands, read-only scripts, OOM at script start, ACL — are made here first, in Redis's
//! words. The commands a script runs are recorded in the feed's unit like EXEC's queue (EVAL's
//! row is `NO_PROPAGATE_SELF`), so the AOF and replicas get the effects, wrapped in MULTI/EXEC
//! when there is more than one, never the script.
//!
//! One Lua VM lives in `Scripting` (created on first use, dropped by SCRIPT FLUSH). The sandbox
//! (read-only globals and library tables, no bytecode, no os/io, rand48 behind math.random) is
//! built by `prelude.lua` from a few Rust functions; the functions that need the running
//! command's context (`redis.call` and friends, the timeout tick) are created per run in an
//! `mlua` scope, so nothing here is `unsafe`. A script running past `busy-reply-threshold` lets
//! the event loop answer other clients (-BUSY, SCRIPT KILL, SHUTDOWN NOSAVE) between
//! instructions, through `Ctx::yield_to_event_loop`.

pub(crate) mod function;
mod libs;
mod reply;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use mlua::{Function, HookTriggers, Lua, MultiValue, StdLib, Table, Value, VmState};
use tine_core::protocol::Resp;

use super::{Argv, CmdError, CmdResult, Ctx, err, flag, registry};
use crate::commands::data::BusyKind;
use crate::engine::feed::Targets;
use crate::engine::session::{ClientKind, Session};

/// Shebang flags (`#!lua flags=...`), as bits.
pub(super) mod sflag {
    pub(super) const NO_WRITES: u32 = 1;
    pub(super) const ALLOW_OOM: u32 = 2;
    pub(super) const ALLOW_STALE: u32 = 4;
    pub(super) const NO_CLUSTER: u32 = 8;
    pub(super) const ALLOW_CROSS_SLOT: u32 = 16;
    /// No shebang: a script as Redis 6 ran them (may write, no OOM check at start).
    pub(super) const EVAL_COMPAT: u32 = 32;
}

/// The most arguments `redis.call` takes (see `command_argv`).
const MAX_CALL_ARGS: usize = 7990;

/// How often (VM instructions) a running script checks its time, as Redis's count hook.
const HOOK_EVERY: u32 = 100_000;

const NOSCRIPT: CmdError =
    CmdError::new("NOSCRIPT", "NOSCRIPT No matching script. Please use EVAL.");

/// A cached script: its compiled function and shebang flags. The function is kept in the
/// Lua registry, not as an mlua handle: every live handle takes a slot of mlua's auxiliary
/// stack, which holds about 8000, so a cache of handles made the 8000th SCRIPT LOAD panic.
struct Script {
    func: mlua::RegistryKey,
    flags: u32,
}

/// The Lua VM and the sandbox's pieces the runs need.
pub(super) struct Vm {
    pub(super) lua: Lua,
    /// The real globals table (KEYS and ARGV are set in it, raw).
    pub(super) globals: Table,
    /// What scripts see as their globals: the read-only proxy.
    pub(super) env: Table,
    /// The run's scoped function behind `redis.call` and the others that need the context.
    pub(super) live: Rc<RefCell<Option<Function>>>,
    pub(super) run: Function,
    /// Runs a function with its (KEYS, ARGV) arguments (FCALL).
    pub(super) run_with: Function,
    /// Lua's own `next` (the reply writer walks maps with it).
    pub(super) next: Function,
    /// `redis.call`'s arguments, passed to the run's function beside the Lua stack.
    pub(super) argv: ArgvSlot,
    pub(super) handler: Function,
    /// The hook's way to the running command's context: the scoped tick function of the run.
    pub(super) tick: Rc<RefCell<Option<Function>>>,
    /// Set once the running script was killed: the hook raises the kill error at once.
    pub(super) killed: Rc<Cell<bool>>,
}

/// The running script, as SCRIPT KILL and INFO see it.
pub(crate) struct Running {
    /// EVAL (SCRIPT KILL stops it) or FCALL (FUNCTION KILL does).
    pub(crate) is_eval: bool,
    /// The function's name and the command that runs it, and since when (FUNCTION STATS).
    pub(crate) name: String,
    pub(crate) argv: Vec<Vec<u8>>,
    pub(crate) start: Instant,
    /// The script has run a write command: SCRIPT KILL refuses it (UNKILLABLE).
    pub(crate) wrote: bool,
    pub(crate) timed_out: bool,
}

/// Scripting's state in the data half.
#[derive(Default)]
pub(crate) struct Scripting {
    vm: Option<Rc<Vm>>,
    /// Cached scripts by lowercase SHA-1 hex.
    scripts: HashMap<String, Script>,
    /// Bytes of the cached scripts' bodies (INFO used_memory_scripts_eval).
    pub(crate) scripts_bytes: usize,
    /// The server was out of memory when the running script started (Redis's script_oom).
    pub(crate) script_oom: bool,
    /// SCRIPT KILL asked the running script to stop.
    pub(crate) kill: bool,
    pub(crate) running: Option<Running>,
    /// The script client, kept between runs.
    client: Option<Session>,
    /// FUNCTION's libraries and their VM (`function.rs`).
    pub(crate) functions: function::Functions,
    rand: Rc<Cell<u64>>,
    /// Runs so far (the periodic GC step).
    runs: u64,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may run commands flagged noscript.
    pub(crate) disable_deny_scripts: bool,
}

impl Scripting {
    /// Cached scripts (INFO number_of_cached_scripts).
    pub(crate) fn cached(&self) -> usize {
        self.scripts.len()
    }

    /// Memory the Lua VM uses (INFO used_memory_lua / used_memory_vm_eval).
    pub(crate) fn vm_memory(&self) -> usize {
        self.vm.as_ref().map(|v| v.lua.used_memory()).unwrap_or(32 * 1024)
    }

    fn vm(&mut self) -> mlua::Result<Rc<Vm>> {
        if self.vm.is_none() {
            if self.rand.get() == 0 {
                self.rand.set(rand48::INITIAL);
            }
            self.vm = Some(Rc::new(new_vm(self.rand.clone())?));
        }
        Ok(self.vm.clone().expect("just created"))
    }
}

/// Redis's rand48 (its own, so `math.randomseed(n)` gives Redis's numbers on every platform).
mod rand48 {
    pub(super) const INITIAL: u64 = 0x1234_ABCD_330E;
    const A: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    pub(super) fn next(x: &mut u64) -> i64 {
        *x = (x.wrapping_mul(A).wrapping_add(0xB)) & MASK;
        ((*x >> 17) & 0x7fff_ffff) as i64
    }

    pub(super) fn seed(s: i32) -> u64 {
        let s = s as u32 as u64;
        0x330E | ((s & 0xffff) << 16) | (((s >> 16) & 0xffff) << 32)
    }
}

/// Lua's `%.14g` (tostring of a number), the text a number argument becomes.
pub(crate) fn lua_number_text(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let e = format!("{:.13e}", n);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-5..14).contains(&exp) {
        let decimals = (13 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, n);
        let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
        s.to_string()
    } else {
        let m = if mant.contains('.') {
            mant.trim_end_matches('0').trim_end_matches('.')
        } else {
            mant
        };
        format!("{}e{}{:02}", m, if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

pub(super) fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest as _;
    let d = sha1::Sha1::digest(data);
    let mut s = String::with_capacity(40);
    for b in d {
        s.push_str(&format!("{:02x}", b));
    }
    s
}

/// An error table `{err = "<CODE> <msg>"}`: a message beginning with '-' carries its code,
/// otherwise "ERR" is put first (Redis's luaPushErrorBuff).
fn err_table(lua: &Lua, msg: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("err", lua.create_string(err_text(msg))?)?;
    Ok(t)
}

/// The text of `err_table`'s `err`.
fn err_text(msg: &[u8]) -> Vec<u8> {
    let text: Vec<u8> = if let Some(rest) = msg.strip_prefix(b"-") {
        match rest.iter().position(|&b| b == b' ') {
            Some(_) => rest.to_vec(),
            None => [b"ERR ".as_slice(), rest].concat(),
        }
    } else {
        [b"ERR ".as_slice(), msg].concat()
    };
    let mut text = text;
    while text.last().is_some_and(|&b| b == b'\r' || b == b'\n') {
        text.pop();
    }
    text
}

/// An error raised by a Rust function: the text of its error table (`err_table`'s rules), and
/// whether the error was already counted in errorstats (a command's own error reply).
#[derive(Debug)]
struct ScriptError {
    text: Vec<u8>,
    ignore_stats: bool,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text))
    }
}

impl std::error::Error for ScriptError {}

/// Raises `{err = ...}` from a Rust function (see `err_table` for the code).
pub(super) fn raise<T>(msg: &str) -> mlua::Result<T> {
    Err(mlua::Error::external(ScriptError { text: err_text(msg.as_bytes()), ignore_stats: false }))
}

/// The `ScriptError` inside an error coming back from Lua, if it is one.
fn script_error(e: &mlua::Error) -> Option<&ScriptError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => script_error(cause),
        mlua::Error::WithContext { cause, .. } => script_error(cause),
        other => other.downcast_ref::<ScriptError>(),
    }
}

/// An mlua error as a Redis error table (`{err = ...}`).
fn error_to_table(lua: &Lua, e: &mlua::Error) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    if let Some(se) = script_error(e) {
        t.raw_set("err", lua.create_string(&se.text)?)?;
        if se.ignore_stats {
            t.raw_set("ignore_error_stats_update", true)?;
        }
        return Ok(t);
    }
    let mut inner = e;
    while let mlua::Error::CallbackError { cause, .. } = inner {
        inner = cause;
    }
    let msg = match inner {
        mlua::Error::RuntimeError(m) => m.clone(),
        other => other.to_string(),
    };
    t.raw_set("err", format!("ERR {}", msg))?;
    Ok(t)
}

/// Calls the run's scoped function for `op` (0 call, 1 setresp, 2 set_repl, 3 acl_check_cmd)
/// and raises the error table it reports.
fn live_op(
    slot: &RefCell<Option<Function>>,
    argv_slot: &ArgvSlot,
    op: i64,
    raise_err: bool,
    args: MultiValue,
) -> mlua::Result<Value> {
    let Some(f) = slot.borrow().clone() else {
        return raise("This Redis command is not allowed from script");
    };
    let mut a = MultiValue::from_iter([Value::Integer(op), Value::Boolean(raise_err)]);
    if op == 0 {
        // A command's arguments go across as bytes, not as Lua values: a call with thousands
        // of them (unpack of a big table) would not fit the Lua stack a second time.
        *argv_slot.borrow_mut() = command_argv(&args);
    } else {
        a.extend(args);
    }
    let (ok, v): (bool, Value) = f.call(a)?;
    if ok {
        return Ok(v);
    }
    let (text, ignore_stats) = match &v {
        Value::Table(t) => (
            t.raw_get::<mlua::String>("err").map(|s| s.as_bytes().to_vec()).unwrap_or_default(),
            matches!(t.raw_get::<Value>("ignore_error_stats_update"), Ok(Value::Boolean(true))),
        ),
        other => (value_text(other), false),
    };
    Err(mlua::Error::external(ScriptError { text, ignore_stats }))
}

/// The arguments of a `redis.call` on their way to the run's scoped function.
pub(super) type ArgvSlot = Rc<RefCell<Result<Vec<Vec<u8>>, &'static [u8]>>>;

/// `redis.call`'s arguments as a command, or the error for what cannot be one.
fn command_argv(args: &MultiValue) -> Result<Vec<Vec<u8>>, &'static [u8]> {
    if args.is_empty() {
        return Err(b"Please specify at least one argument for this redis lib call");
    }
    // mlua cannot return from a Rust function called with about 8000 arguments (the Lua stack
    // of a C function is full): refused before the command runs, never applied then failed.
    if args.len() > MAX_CALL_ARGS {
        return Err(b"Too many arguments for a redis lib call (at most 7990)");
    }
    let mut argv: Vec<Vec<u8>> = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            Value::String(s) => argv.push(s.as_bytes().to_vec()),
            Value::Integer(n) => argv.push(n.to_string().into_bytes()),
            Value::Number(n) => argv.push(lua_number_text(*n).into_bytes()),
            _ => return Err(b"Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(argv)
}

fn ok_values(v: impl IntoIterator<Item = Value>) -> MultiValue {
    let mut m = MultiValue::from_iter([Value::Boolean(true)]);
    m.extend(v);
    m
}

/// The text of a value used as an error message (Lua's tostring for the common kinds).
pub(super) fn value_text(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(n) => n.to_string().into_bytes(),
        Value::Number(n) => lua_number_text(*n).into_bytes(),
        Value::Boolean(b) => b.to_string().into_bytes(),
        Value::Nil => b"nil".to_vec(),
        Value::Error(e) => e.to_string().into_bytes(),
        other => other.type_name().as_bytes().to_vec(),
    }
}

/// Builds a VM: the standard libraries Redis loads, the bundled ones, the sandbox.
pub(super) fn new_vm(rand: Rc<Cell<u64>>) -> mlua::Result<Vm> {
    let lua =
        Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, mlua::LuaOptions::default())?;
    let globals = lua.globals();
    let live: Rc<RefCell<Option<Function>>> = Rc::new(RefCell::new(None));
    let argv: ArgvSlot = Rc::new(RefCell::new(Ok(Vec::new())));
    let raw = lua.create_table()?;
    raw.raw_set("version", "7.0.15")?;
    raw.raw_set("version_num", 0x07000f)?;
    for (name, op, raise_err) in [
        ("call", 0, true),
        ("pcall", 0, false),
        ("setresp", 1, true),
        ("set_repl", 2, true),
        ("acl_check_cmd", 3, true),
    ] {
        let (slot, argv_slot) = (live.clone(), argv.clone());
        raw.raw_set(
            name,
            lua.create_function(move |_, args: MultiValue| {
                live_op(&slot, &argv_slot, op, raise_err, args)
            })?,
        )?;
    }
    raw.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return raise("wrong number of arguments");
            }
            let text = value_text(&args[0]);
            lua.create_string(sha1_hex(&text))
        })?,
    )?;
    raw.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            let Some(Value::String(s)) = args.front().filter(|_| args.len() == 1) else {
                return err_table(lua, b"wrong number or type of arguments");
            };
            let s = s.as_bytes().to_vec();
            let msg = if s.starts_with(b"-") { s } else { [b"-".as_slice(), &s].concat() };
            err_table(lua, &msg)
        })?,
    )?;
    raw.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| {
            let Some(Value::String(s)) = args.front().filter(|_| args.len() == 1) else {
                return err_table(lua, b"wrong number or type of arguments");
            };
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("ok", s.clone())?;
            Ok(t)
        })?,
    )?;
    raw.raw_set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            if args.len() < 2 {
                return raise("redis.log() requires two arguments or more.");
            }
            let level = match &args[0] {
                Value::Integer(n) => *n,
                Value::Number(n) => *n as i64,
                Value::String(s) => match tine_core::base::parse_i64(&s.as_bytes()) {
                    Some(n) => n,
                    None => return raise("First argument must be a number (log level)."),
                },
                _ => return raise("First argument must be a number (log level)."),
            };
            use tine_core::base::log::Level;
            let level = match level {
                0 => Level::Debug,
                1 => Level::Verbose,
                2 => Level::Notice,
                3 => Level::Warning,
                _ => return raise("Invalid debug level."),
            };
            let parts: Vec<String> = args
                .iter()
                .skip(1)
                .map(|v| String::from_utf8_lossy(&value_text(v)).into_owned())
                .collect();
            tine_core::log!(level, "{}", parts.join(" "));
            Ok(())
        })?,
    )?;
    // A Rust error caught by a script's pcall: Redis's error table for ours, the message
    // (as Lua's C functions raise it) for the libraries'.
    raw.raw_set(
        "unwrap",
        lua.create_function(|lua, e: Value| match e {
            Value::Error(e) if script_error(&e).is_some() => {
                Ok(Value::Table(error_to_table(lua, &e)?))
            }
            Value::Error(e) => {
                let mut inner: &mlua::Error = &e;
                while let mlua::Error::CallbackError { cause, .. } = inner {
                    inner = cause;
                }
                let msg = match inner {
                    mlua::Error::RuntimeError(m) => m.clone(),
                    other => other.to_string(),
                };
                Ok(Value::String(lua.create_string(msg)?))
            }
            other => Ok(other),
        })?,
    )?;
    raw.raw_set("cjson", libs::cjson(&lua)?)?;
    raw.raw_set("cmsgpack", libs::cmsgpack(&lua)?)?;
    raw.raw_set("bit", libs::bit(&lua)?)?;
    raw.raw_set("struct", libs::structlib(&lua)?)?;
    let r1 = rand.clone();
    raw.raw_set(
        "lrand48",
        lua.create_function(move |_, ()| {
            let mut x = r1.get();
            let n = rand48::next(&mut x);
            r1.set(x);
            Ok(n as f64)
        })?,
    )?;
    raw.raw_set(
        "srand48",
        lua.create_function(move |_, s: f64| {
            rand.set(rand48::seed(s as i64 as i32));
            Ok(())
        })?,
    )?;
    let next: Function = globals.raw_get("next")?;
    let prelude = lua.load(include_str!("prelude.lua")).set_name("=tine").into_function()?;
    let (env, real_of, run, run_with): (Table, Table, Function, Function) =
        prelude.call((raw, globals.clone()))?;
    // setmetatable and rawset refuse read-only tables, as C functions (no Lua frame of ours
    // between the script and the error).
    for name in ["setmetatable", "rawset"] {
        let orig: Function = globals.raw_get(name)?;
        let ro = real_of.clone();
        globals.raw_set(
            name,
            lua.create_function(move |_, args: MultiValue| {
                if let Some(Value::Table(t)) = args.front() {
                    if !ro.raw_get::<Value>(t.clone())?.is_nil() {
                        return raise("Attempt to modify a readonly table");
                    }
                }
                orig.call::<MultiValue>(args)
            })?,
        )?;
    }
    lua.set_globals(env.clone())?;
    let handler = lua.create_function(|lua, e: Value| error_handler(lua, e))?;
    // The time check, installed once: every HOOK_EVERY instructions it calls the run's tick
    // (when a run is on), which lets the event loop in past the busy threshold and reports
    // SCRIPT KILL; a killed script gets the kill error from then on.
    let tick: Rc<RefCell<Option<Function>>> = Rc::new(RefCell::new(None));
    let killed = Rc::new(Cell::new(false));
    let (hook_slot, hook_killed) = (tick.clone(), killed.clone());
    lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, _| {
        if hook_killed.get() {
            return raise("Script killed by user with SCRIPT KILL...");
        }
        let f = hook_slot.borrow().clone();
        if let Some(f) = f {
            if f.call::<bool>(())? {
                hook_killed.set(true);
                return raise("Script killed by user with SCRIPT KILL...");
            }
        }
        Ok(VmState::Continue)
    })?;
    Ok(Vm { lua, globals, env, live, run, run_with, next, argv, handler, tick, killed })
}

/// The message handler of a run (Redis's __redis__err__handler): the error as a table with
/// `err`, and the source and line of the script code that raised it.
fn error_handler(lua: &Lua, e: Value) -> mlua::Result<Table> {
    let mut place = None;
    for level in 1..10 {
        let Some((what, source, line)) = lua.inspect_stack(level, |d| {
            let s = d.source();
            (s.what, s.source.map(|x| x.into_owned()), d.current_line())
        }) else {
            break;
        };
        let source = source.unwrap_or_default();
        if what == "C" || source.starts_with("=tine") {
            continue;
        }
        place = Some((source, line));
        break;
    }
    let t = match e {
        Value::Table(t) => t,
        // A library function's error (luaL_error's, in C): the calling line first.
        Value::Error(e) if script_error(&e).is_none() => {
            let t = error_to_table(lua, &e)?;
            if let Some((source, Some(line))) = &place {
                let msg: mlua::String = t.raw_get("err")?;
                let msg = msg.as_bytes();
                let short = source.strip_prefix('@').unwrap_or(source);
                let text =
                    [b"ERR ".as_slice(), format!("{}:{}: ", short, line).as_bytes(), &msg[4..]]
                        .concat();
                t.raw_set("err", lua.create_string(&text)?)?;
            }
            t
        }
        Value::Error(e) => error_to_table(lua, &e)?,
        other => {
            let t = lua.create_table()?;
            t.raw_set(
                "err",
                lua.create_string([b"ERR ".as_slice(), &value_text(&other)].concat())?,
            )?;
            t
        }
    };
    if let Some((source, line)) = place {
        t.raw_set("source", source)?;
        if let Some(l) = line {
            t.raw_set("line", l)?;
        }
    }
    Ok(t)
}

/// Parses a `#!lua` shebang: the script's flags, or the error to reply.
fn shebang_flags(body: &[u8]) -> Result<u32, CmdError> {
    if !body.starts_with(b"#!") {
        return Ok(sflag::EVAL_COMPAT);
    }
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("#!");
    if engine != "#!lua" {
        return Err(CmdError::err(&format!("Unexpected engine in script shebang: {}", engine)));
    }
    let mut flags = 0;
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(CmdError::err(&format!("Unknown lua shebang option: {}", p)));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            flags |= match f {
                "no-writes" => sflag::NO_WRITES,
                "allow-oom" => sflag::ALLOW_OOM,
                "allow-stale" => sflag::ALLOW_STALE,
                "no-cluster" => sflag::NO_CLUSTER,
                "allow-cross-slot-keys" => sflag::ALLOW_CROSS_SLOT,
                _ => {
                    return Err(CmdError::err(&format!(
                        "Unexpected flag in script shebang: {}",
                        f
                    )));
                }
            };
        }
    }
    Ok(flags)
}

/// Compiles a script body into the cache (SCRIPT LOAD, EVAL of a new body); returns its SHA.
fn load_script(s: &mut Scripting, body: &[u8]) -> Result<String, CmdError> {
    let sha = sha1_hex(body);
    if s.scripts.contains_key(&sha) {
        return Ok(sha);
    }
    let flags = shebang_flags(body)?;
    let vm = s.vm().map_err(|e| CmdError::err(&e.to_string()))?;
    // The shebang line stays, as a comment, so line numbers do not move.
    let src: Vec<u8> = if body.starts_with(b"#!") {
        [b"--".as_slice(), &body[2..]].concat()
    } else {
        body.to_vec()
    };
    if src.first() == Some(&27) {
        return Err(CmdError::err(
            "Error compiling script (new function): user_script: binary chunks are not allowed",
        ));
    }
    let func = vm
        .lua
        .load(src)
        .set_name("@user_script")
        .set_environment(vm.env.clone())
        .into_function()
        .map_err(|e| {
            let msg = match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            };
            CmdError::err(&format!("Error compiling script (new function): {}", msg))
        })?;
    let func = vm.lua.create_registry_value(func).map_err(|e| CmdError::err(&e.to_string()))?;
    s.scripts_bytes += body.len();
    s.scripts.insert(sha.clone(), Script { func, flags });
    Ok(sha)
}

pub(crate) fn eval(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    eval_generic(srv, c, argv, false, false)
}
pub(crate) fn evalsha(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    eval_generic(srv, c, argv, true, false)
}
pub(crate) fn eval_ro(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    eval_generic(srv, c, argv, false, true)
}
pub(crate) fn evalsha_ro(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    eval_generic(srv, c, argv, true, true)
}

fn eval_generic(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    argv: &Argv,
    by_sha: bool,
    ro: bool,
) -> CmdResult {
    crate::commands::feed_monitors(srv, c, argv);
    let numkeys = tine_core::base::parse_i64(&argv[2]).ok_or(err::NOT_INTEGER)?;
    if numkeys > (argv.len() - 3) as i64 {
        return Err(CmdError::err("Number of keys can't be greater than number of args"));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    let sha = if by_sha {
        let sha = tine_core::base::lower(&argv[1]);
        if !srv.data.scripting.scripts.contains_key(&sha) {
            return Err(NOSCRIPT);
        }
        sha
    } else {
        let sha = sha1_hex(&argv[1]);
        if !srv.data.scripting.scripts.contains_key(&sha) {
            load_script(&mut srv.data.scripting, &argv[1])?;
        }
        sha
    };
    let (func, flags) = {
        let vm = srv.data.scripting.vm().map_err(|e| CmdError::err(&e.to_string()))?;
        let s = &srv.data.scripting.scripts[&sha];
        let func: Function =
            vm.lua.registry_value(&s.func).map_err(|e| CmdError::err(&e.to_string()))?;
        (func, s.flags)
    };
    prepare_checks(srv, c, flags, ro)?;
    let nk = numkeys as usize;
    let run = Run {
        func,
        flags: if ro { flags | sflag::NO_WRITES } else { flags },
        name: sha,
        kind: BusyKind::Script,
        keys: &argv[3..3 + nk],
        args: &argv[3 + nk..],
        argv,
    };
    run_script(srv, c, run);
    Ok(())
}

/// The checks before a script runs (Redis's scriptPrepareForRun): a script with a shebang is
/// refused at once on OOM, on a stale replica, or when it may write where writes are refused.
pub(super) fn prepare_checks(srv: &mut Ctx<'_>, c: &Session, flags: u32, ro: bool) -> CmdResult {
    let d = &*srv.data;
    let from_primary = c.kind == ClientKind::Primary;
    let stale =
        d.replica.is_replica() && !d.replica.link_up() && !d.config.replica_serve_stale_data;
    if flags & sflag::EVAL_COMPAT != 0 {
        if stale {
            return Err(err::MASTERDOWN);
        }
        return Ok(());
    }
    if flags & (sflag::ALLOW_OOM | sflag::NO_WRITES) == 0
        && d.scripting.script_oom
        && d.config.maxmemory > 0
        && !from_primary
    {
        return Err(err::OOM);
    }
    if stale && flags & sflag::ALLOW_STALE == 0 {
        return Err(err::MASTERDOWN);
    }
    if flags & sflag::NO_WRITES == 0 {
        if d.replica.is_replica() && d.config.replica_read_only && !from_primary {
            return Err(err::READONLY_REPLICA);
        }
        if crate::persist::snapshot::writes_denied(d) {
            return Err(err::MISCONF_RDB);
        }
        if let Some(text) = crate::persist::aof::writes_denied(d) {
            return Err(CmdError::owned("MISCONF", text));
        }
        if ro {
            return Err(CmdError::err(
                "Can not execute a script with write flag using *_ro command.",
            ));
        }
        if d.config.min_replicas_to_write > 0 && super::replication::not_enough_good_replicas(d) {
            return Err(super::replication::NOREPLICAS);
        }
    }
    Ok(())
}

/// One run of a script or function.
pub(super) struct Run<'a> {
    pub(super) func: Function,
    /// Script (EVAL: KEYS and ARGV are globals) or Function (FCALL: they are the arguments).
    pub(super) kind: BusyKind,
    pub(super) flags: u32,
    /// The SHA (EVAL) or function name, for error messages.
    pub(super) name: String,
    pub(super) keys: &'a [Vec<u8>],
    pub(super) args: &'a [Vec<u8>],
    /// The whole command (FUNCTION STATS shows it).
    pub(super) argv: &'a [Vec<u8>],
}

/// What the per-run functions share: the context, the script client, the run's flags.
struct RunState<'c, 'd> {
    srv: &'c mut Ctx<'d>,
    client: &'c mut Session,
    caller_kind: ClientKind,
    caller_acl_free: bool,
    flags: u32,
    kind: BusyKind,
    threshold_ms: u64,
    start: Instant,
}

fn lua_array(lua: &Lua, items: &[Vec<u8>]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, a) in items.iter().enumerate() {
        t.raw_seti(i + 1, lua.create_string(a)?)?;
    }
    Ok(t)
}

/// Interns an error code for `Session::errors` (codes are few: Redis keeps at most 128).
fn intern(code: &str) -> &'static str {
    use std::sync::Mutex;
    static CODES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut codes = CODES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = codes.iter().find(|c| **c == code) {
        return c;
    }
    let c: &'static str = Box::leak(code.to_string().into_boxed_str());
    codes.push(c);
    c
}

struct SessionErrors<'a>(&'a mut Vec<&'static str>);

impl reply::ErrorSink for SessionErrors<'_> {
    fn error(&mut self, code: &str) {
        self.0.push(intern(code));
    }
}

/// Runs a script and replies its result (or error) to `c`.
pub(super) fn run_script(srv: &mut Ctx<'_>, c: &mut Session, run: Run<'_>) {
    let vm = match if run.kind == BusyKind::Script {
        srv.data.scripting.vm()
    } else {
        srv.data.scripting.functions.vm()
    } {
        Ok(vm) => vm,
        Err(e) => {
            c.add_err(&e.to_string());
            return;
        }
    };
    // One handle on the VM for the run (an Rc), its parts borrowed from it.
    let (next, argv_slot) = (&vm.next, &vm.argv);
    let (lua, globals, live, handler, tick_slot, killed) =
        (&vm.lua, &vm.globals, &vm.live, &vm.handler, &vm.tick, &vm.killed);
    let runner = if run.kind == BusyKind::Script { &vm.run } else { &vm.run_with };
    let set_args = || -> mlua::Result<(Table, Table)> {
        let (k, a) = (lua_array(lua, run.keys)?, lua_array(lua, run.args)?);
        if run.kind == BusyKind::Script {
            globals.raw_set("KEYS", k.clone())?;
            globals.raw_set("ARGV", a.clone())?;
        }
        Ok((k, a))
    };
    let (keys_t, args_t) = match set_args() {
        Ok(t) => t,
        Err(e) => {
            c.add_err(&e.to_string());
            return;
        }
    };
    let mut client = srv.data.scripting.client.take().unwrap_or_else(|| {
        let mut s = Session::new(0, c.slot, false, "lua".into(), String::new(), 0);
        s.in_exec = true;
        s.authenticated = true;
        s
    });
    client.slot = c.slot;
    client.db = c.db;
    client.resp = Resp::V2;
    if client.user != c.user {
        client.user = c.user.clone();
    }
    client.acl_epoch = srv.data.acl.epoch;
    client.acl_free = true;
    client.dirty_cas = false;
    client.obuf.clear();
    srv.data.scripting.kill = false;
    killed.set(false);
    srv.data.scripting.running = Some(Running {
        is_eval: run.kind == BusyKind::Script,
        name: run.name.clone(),
        argv: if run.kind == BusyKind::Function { run.argv.to_vec() } else { Vec::new() },
        start: Instant::now(),
        wrote: false,
        timed_out: false,
    });
    let targets = srv.data.prop.targets;
    // The script's commands all see the time it started (Redis blocks the clock during a
    // script): a key does not expire between two of its commands.
    let clock_was_frozen = std::mem::replace(&mut srv.data.clock_frozen, true);
    let threshold_ms = srv.data.config.busy_reply_threshold.max(0) as u64;
    let state = RefCell::new(RunState {
        srv,
        client: &mut client,
        caller_kind: c.kind,
        caller_acl_free: c.acl_free,
        flags: run.flags,
        kind: run.kind,
        threshold_ms,
        start: Instant::now(),
    });
    let result = lua.scope(|scope| {
        let dispatch = scope.create_function(|lua, mut args: MultiValue| {
            let op = match args.pop_front() {
                Some(Value::Integer(n)) => n,
                _ => -1,
            };
            let raise_err = matches!(args.pop_front(), Some(Value::Boolean(true)));
            let mut st = state.borrow_mut();
            match op {
                0 => {
                    let argv = std::mem::replace(&mut *argv_slot.borrow_mut(), Ok(Vec::new()));
                    st.call(lua, raise_err, argv)
                }
                1 => st.setresp(args),
                2 => st.set_repl(args),
                _ => st.acl_check_cmd(args),
            }
        })?;
        let tick = scope.create_function(|_, ()| {
            let Ok(mut st) = state.try_borrow_mut() else {
                return Ok(false);
            };
            Ok(st.tick())
        })?;
        *live.borrow_mut() = Some(dispatch);
        *tick_slot.borrow_mut() = Some(tick);
        let r = if run.kind == BusyKind::Script {
            runner.call::<(bool, Value)>((run.func.clone(), handler.clone()))
        } else {
            runner.call::<(bool, Value)>((run.func.clone(), handler.clone(), keys_t, args_t))
        };
        *tick_slot.borrow_mut() = None;
        *live.borrow_mut() = None;
        r
    });
    let script_resp = state.into_inner().client.resp;
    killed.set(false);
    // A small step of garbage collection every 50 runs keeps the VM small between them (as
    // Redis does, with a smaller step: the incremental collector does the rest).
    srv.data.scripting.runs += 1;
    if srv.data.scripting.runs % 50 == 0 {
        let _ = lua.gc_step_kbytes(8);
    }
    srv.data.prop.targets = targets;
    srv.data.clock_frozen = clock_was_frozen;
    if client.dirty_cas {
        c.dirty_cas = true;
    }
    client.obuf.clear();
    srv.data.scripting.client = Some(client);
    srv.data.scripting.running = None;
    srv.data.scripting.kill = false;
    let _ = globals.raw_set("KEYS", Value::Nil);
    let _ = globals.raw_set("ARGV", Value::Nil);

    let resp = c.resp;
    let mut errors = Vec::new();
    match result {
        Ok((true, v)) => {
            if let Some(o) = c.out() {
                reply::lua_to_resp(o, &v, resp, script_resp, next, &mut SessionErrors(&mut errors));
            } else {
                // Replies off: the errors inside still count.
                let mut sink = Vec::new();
                reply::lua_to_resp(
                    &mut sink,
                    &v,
                    resp,
                    script_resp,
                    next,
                    &mut SessionErrors(&mut errors),
                );
            }
            c.errors.extend(errors);
        }
        Ok((false, v)) => reply_script_error(srv, c, &run.name, &v),
        Err(e) => {
            let text = format!("ERR Error running script {}, {:.100}", run.name, e.to_string());
            c.add_error(CmdError::owned("ERR", text));
        }
    }
}

/// Replies the error a script ended with: "<err> script: <name>, on <source>:<line>."
fn reply_script_error(srv: &mut Ctx<'_>, c: &mut Session, name: &str, v: &Value) {
    let Value::Table(t) = v else {
        let text = format!(
            "ERR Error running script {}, {:.100}",
            name,
            String::from_utf8_lossy(&value_text(v))
        );
        c.add_error(CmdError::owned("ERR", text));
        return;
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        Ok(other @ (Value::Number(_) | Value::Integer(_))) => value_text(&other),
        _ => b"ERR unknown error".to_vec(),
    };
    let mut text = msg;
    let source = t.raw_get::<Option<mlua::String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    if let (Some(source), Some(line)) = (source, line) {
        text.extend_from_slice(format!(" script: {}, on ", name).as_bytes());
        text.extend_from_slice(&source.as_bytes());
        text.extend_from_slice(format!(":{}.", line).as_bytes());
    }
    let ignore =
        matches!(t.raw_get::<Value>("ignore_error_stats_update"), Ok(Value::Boolean(true)));
    if let Some(o) = c.out() {
        reply::write_error(o, &text);
    }
    if ignore {
        if let Some(r) = registry().lookup(c.last_cmd.split('|').next().unwrap_or("").as_bytes()) {
            srv.data.cmd_stats[r.id].failed_calls += 1;
        }
    } else {
        c.errors.push(intern(reply::error_code(&text)));
    }
}

impl RunState<'_, '_> {
    /// `redis.call` / `redis.pcall`: (true, reply) or (false, error table to raise).
    fn call(
        &mut self,
        lua: &Lua,
        raise_err: bool,
        argv: Result<Vec<Vec<u8>>, &'static [u8]>,
    ) -> mlua::Result<MultiValue> {
        let fail = |lua: &Lua, msg: &[u8]| -> mlua::Result<MultiValue> {
            let t = err_table(lua, msg)?;
            Ok(MultiValue::from_iter([Value::Boolean(!raise_err), Value::Table(t)]))
        };
        let argv = match argv {
            Ok(a) => a,
            Err(msg) => return fail(lua, msg),
        };
        if let Err(e) = self.check_command(&argv) {
            return fail(lua, &e);
        }
        let start = self.client.obuf.len();
        super::call_argv(self.srv, self.client, &argv);
        let mut pos = start;
        let buf = std::mem::take(&mut self.client.obuf);
        let v = reply::resp_to_lua(lua, &buf, &mut pos)?;
        let is_err = buf.get(start) == Some(&b'-');
        self.client.obuf = buf;
        self.client.obuf.clear();
        if is_err && raise_err {
            if let Value::Table(t) = &v {
                t.raw_set("ignore_error_stats_update", true)?;
            }
            return Ok(MultiValue::from_iter([Value::Boolean(false), v]));
        }
        Ok(MultiValue::from_iter([Value::Boolean(true), v]))
    }

    /// The checks on a command a script runs (Redis's scriptCall), the error text on refusal.
    fn check_command(&mut self, argv: &[Vec<u8>]) -> Result<(), Vec<u8>> {
        let reg = registry();
        let Some(top) = reg.lookup(&argv[0]) else {
            return Err(b"Unknown Redis command called from script".to_vec());
        };
        let r = if !top.subs.is_empty() && argv.len() >= 2 {
            match reg.lookup_sub(top, &argv[1]) {
                Some(s) => s,
                None => return Err(b"Unknown Redis command called from script".to_vec()),
            }
        } else {
            top
        };
        let arity = r.cmd.arity;
        let n = argv.len() as i32;
        if (arity > 0 && n != arity) || n < -arity {
            return Err(b"Wrong number of args calling Redis command from script".to_vec());
        }
        if r.flags & flag::NOSCRIPT != 0 && !self.srv.data.scripting.disable_deny_scripts {
            return Err(b"This Redis command is not allowed from script".to_vec());
        }
        let d = &*self.srv.data;
        if d.replica.is_replica()
            && !d.replica.link_up()
            && !d.config.replica_serve_stale_data
            && r.flags & flag::STALE == 0
        {
            // Redis's scriptVerifyAllowStale: the script's allow-stale flag lets it start, not
            // run commands that are not allowed on a stale replica.
            return Err(b"Can not execute the command on a stale replica".to_vec());
        }
        if !self.caller_acl_free {
            self.client.acl_free = false;
            self.client.acl_epoch = 0;
            let res = super::acl::check(self.srv, self.client, r, argv);
            self.client.acl_free = true;
            self.client.acl_epoch = self.srv.data.acl.epoch;
            if res.is_err() {
                return Err(
                    b"The user executing the script can't run this command or subcommand".to_vec()
                );
            }
        }
        let d = &*self.srv.data;
        let from_primary = self.caller_kind == ClientKind::Primary;
        if r.flags & flag::WRITE != 0 {
            if self.flags & sflag::NO_WRITES != 0 {
                return Err(b"Write commands are not allowed from read-only scripts.".to_vec());
            }
            if d.replica.is_replica() && d.config.replica_read_only && !from_primary {
                return Err(err::READONLY_REPLICA.text.to_vec_dash());
            }
        }
        let wrote = d.scripting.running.as_ref().is_some_and(|r| r.wrote);
        if d.config.maxmemory > 0
            && !from_primary
            && !wrote
            && self.flags & sflag::ALLOW_OOM == 0
            && d.scripting.script_oom
            && r.flags & flag::DENYOOM != 0
        {
            return Err(err::OOM.text.to_vec_dash());
        }
        if r.flags & flag::WRITE != 0 {
            if let Some(run) = self.srv.data.scripting.running.as_mut() {
                run.wrote = true;
            }
        }
        Ok(())
    }

    /// `redis.setresp(2|3)`: the protocol the script's commands reply in.
    fn setresp(&mut self, args: MultiValue) -> mlua::Result<MultiValue> {
        if args.len() != 1 {
            return raise("redis.setresp() requires one argument.");
        }
        let v = match &args[0] {
            Value::Integer(n) => *n,
            Value::Number(n) => *n as i64,
            _ => 0,
        };
        match v {
            2 => self.client.resp = Resp::V2,
            3 => self.client.resp = Resp::V3,
            _ => return raise("RESP version must be 2 or 3."),
        }
        Ok(ok_values([Value::Nil]))
    }

    /// `redis.set_repl(flags)`: where the script's next writes propagate.
    fn set_repl(&mut self, args: MultiValue) -> mlua::Result<MultiValue> {
        if args.len() != 1 {
            return raise("redis.set_repl() requires one argument.");
        }
        let v = match &args[0] {
            Value::Integer(n) => *n,
            Value::Number(n) => *n as i64,
            _ => -1,
        };
        let t = match v {
            0 => Targets::NONE,
            1 => Targets::AOF,
            2 => Targets::REPLICAS,
            3 => Targets::ALL,
            _ => {
                return raise(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                );
            }
        };
        self.srv.data.prop.targets = t;
        Ok(ok_values([Value::Nil]))
    }

    /// `redis.acl_check_cmd(cmd, args...)`: whether the user may run it.
    fn acl_check_cmd(&mut self, args: MultiValue) -> mlua::Result<MultiValue> {
        if args.is_empty() {
            return raise("Please specify at least one argument for this redis lib call");
        }
        let mut argv = Vec::new();
        for a in args.iter() {
            match a {
                Value::String(s) => argv.push(s.as_bytes().to_vec()),
                Value::Integer(n) => argv.push(n.to_string().into_bytes()),
                Value::Number(n) => argv.push(lua_number_text(*n).into_bytes()),
                _ => {
                    return raise("Lua redis lib command arguments must be strings or integers");
                }
            }
        }
        let reg = registry();
        let Some(top) = reg.lookup(&argv[0]) else {
            return raise("Invalid command passed to redis.acl_check_cmd()");
        };
        let r = if !top.subs.is_empty() && argv.len() >= 2 {
            match reg.lookup_sub(top, &argv[1]) {
                Some(s) => s,
                None => return raise("Invalid command passed to redis.acl_check_cmd()"),
            }
        } else {
            top
        };
        let arity = r.cmd.arity;
        let n = argv.len() as i32;
        if (arity > 0 && n != arity) || n < -arity {
            return raise("Invalid command passed to redis.acl_check_cmd()");
        }
        if self.caller_acl_free {
            return Ok(ok_values([Value::Boolean(true)]));
        }
        let ok = match self.srv.data.acl.users.get(&self.client.user) {
            Some(u) => super::acl::check_user(u, r, &argv).is_ok(),
            None => false,
        };
        Ok(ok_values([Value::Boolean(ok)]))
    }

    /// The hook's tick: past the busy threshold, lets the event loop serve other clients;
    /// true when SCRIPT KILL asked the script to stop.
    fn tick(&mut self) -> bool {
        let elapsed = self.start.elapsed().as_millis() as u64;
        if elapsed < self.threshold_ms {
            return false;
        }
        if let Some(run) = self.srv.data.scripting.running.as_mut() {
            if !run.timed_out {
                run.timed_out = true;
                tine_core::log!(
                    tine_core::base::log::Level::Warning,
                    "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the SCRIPT KILL command.",
                    elapsed
                );
            }
        }
        self.srv.yield_to_event_loop(self.kind);
        self.srv.data.scripting.kill
    }
}

/// An error text as Redis's luaPushErrorBuff takes it: with its leading '-'.
trait DashText {
    fn to_vec_dash(&self) -> Vec<u8>;
}

impl DashText for tine_core::protocol::ErrText {
    fn to_vec_dash(&self) -> Vec<u8> {
        let mut v = b"-".to_vec();
        v.extend_from_slice(self.as_ref());
        v
    }
}

/// SCRIPT LOAD body.
pub(crate) fn script_load(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let sha = load_script(&mut srv.data.scripting, &argv[2])?;
    c.add_bulk(sha.as_bytes());
    Ok(())
}

/// SCRIPT EXISTS sha...
pub(crate) fn script_exists(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    c.add_array(argv.len() - 2);
    for a in &argv[2..] {
        let found = srv.data.scripting.scripts.contains_key(&tine_core::base::lower(a));
        c.add_int(found as i64);
    }
    Ok(())
}

/// SCRIPT FLUSH [ASYNC|SYNC]: forgets every script and starts a fresh VM.
pub(crate) fn script_flush(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::err("SCRIPT FLUSH only support SYNC|ASYNC option"));
    }
    if argv.len() == 3 {
        let a = tine_core::base::lower(&argv[2]);
        if a != "sync" && a != "async" {
            return Err(CmdError::err("SCRIPT FLUSH only support SYNC|ASYNC option"));
        }
    }
    let s = &mut srv.data.scripting;
    s.scripts.clear();
    s.scripts_bytes = 0;
    s.vm = None;
    c.add_ok();
    Ok(())
}

/// SCRIPT KILL: stops the running script unless it wrote.
pub(crate) fn script_kill(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    kill_running(srv, c, BusyKind::Script)
}

/// SCRIPT KILL and FUNCTION KILL: each stops only its own kind (the other gets the other
/// kind's -BUSY, as Redis), and nothing that already wrote.
pub(crate) fn kill_running(srv: &mut Ctx<'_>, c: &mut Session, kind: BusyKind) -> CmdResult {
    let s = &mut srv.data.scripting;
    let Some(run) = s.running.as_ref() else {
        return Err(CmdError::new("NOTBUSY", "NOTBUSY No scripts in execution right now."));
    };
    let running = if run.is_eval { BusyKind::Script } else { BusyKind::Function };
    if running != kind {
        return Err(err::busy(running));
    }
    if run.wrote {
        return Err(CmdError::new(
            "UNKILLABLE",
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        ));
    }
    s.kill = true;
    c.add_ok();
    Ok(())
}

/// SCRIPT DEBUG: only NO is served (the debugger is not there yet).
pub(crate) fn script_debug(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match tine_core::base::lower(&argv[2]).as_str() {
        "no" => {
            c.add_ok();
            Ok(())
        }
        "yes" | "sync" => Err(CmdError::err("SCRIPT DEBUG is not supported by this server yet")),
        _ => Err(CmdError::err("Use SCRIPT DEBUG YES/SYNC/NO")),
    }
}

pub(crate) fn script_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    super::reply_help(
        c,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_matches_redis_sequence_shape() {
        let mut x = rand48::seed(0);
        let a = rand48::next(&mut x);
        let mut y = rand48::seed(0);
        assert_eq!(a, rand48::next(&mut y));
        assert!(a >= 0);
    }

    #[test]
    fn number_text_is_lua_tostring() {
        assert_eq!(lua_number_text(3.0), "3");
        assert_eq!(lua_number_text(0.1), "0.1");
        assert_eq!(lua_number_text(-2.5), "-2.5");
        assert_eq!(lua_number_text(1e20), "1e+20");
        assert_eq!(lua_number_text(1.0 / 3.0), "0.33333333333333");
        assert_eq!(lua_number_text(123456789012.5), "123456789012.5");
    }

    #[test]
    fn shebang() {
        assert_eq!(shebang_flags(b"return 1"), Ok(sflag::EVAL_COMPAT));
        assert_eq!(shebang_flags(b"#!lua\nreturn 1"), Ok(0));
        assert_eq!(
            shebang_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1"),
            Ok(sflag::NO_WRITES | sflag::ALLOW_OOM)
        );
        assert!(shebang_flags(b"#!py\n").is_err());
    }
}
