//! Redis 7.0 Functions: FUNCTION LOAD/DELETE/FLUSH/LIST/STATS/KILL/HELP, FCALL and FCALL_RO.
//!
//! Libraries live in their own Lua VM (as in Redis, apart from EVAL's). They persist as their
//! code: RDB snapshots and AOF bases hold it (`Functions::codes`, taken before a fork) and
//! loads compile it again (`Functions::load_codes`); FUNCTION DUMP/RESTORE carry the same
//! FUNCTION2 records; LOAD/DELETE/FLUSH are write commands that reach the AOF and replicas.
//! A library's code runs once at load with a restricted API — its globals are only `redis`
//! with `register_function`, `log` and the constants, as Redis's library API — and the
//! registered callbacks then run with the full API, the same global proxy switched back (its
//! `__index`), as Redis switches its globals' metatable.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::{Run, Vm, new_vm, prepare_checks, raise, run_script, sflag};
use crate::commands::data::BusyKind;
use crate::commands::{Argv, CmdError, CmdResult, Ctx};
use crate::engine::session::Session;

/// A registered function.
#[derive(Clone)]
struct Func {
    /// As registered (the library's map is keyed by the lower-case name).
    name: String,
    /// In the Lua registry, not as an mlua handle (see `Script` in the parent module): the
    /// handles' stack holds about 8000.
    callback: Rc<mlua::RegistryKey>,
    flags: u32,
    description: Option<Vec<u8>>,
}

/// A library: its code and functions by name.
#[derive(Clone)]
struct Library {
    code: Vec<u8>,
    functions: BTreeMap<String, Func>,
}

/// How long FUNCTION LOAD lets a library's code run (Redis's LOAD_TIMEOUT_MS); loads from an
/// RDB, an AOF or FUNCTION RESTORE have no limit.
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// What `redis.register_function` collects during a load.
type Registered = Rc<RefCell<Option<Vec<(String, Func)>>>>;

/// The libraries, the functions index and the functions' VM.
#[derive(Default)]
pub(crate) struct Functions {
    vm: Option<Rc<Vm>>,
    /// The load-time globals (`redis.register_function`...), built with the VM.
    load_globals: Option<Table>,
    registered: Registered,
    libraries: BTreeMap<String, Library>,
    /// Function name in lower case (FCALL's names are case-insensitive) -> its library.
    index: BTreeMap<String, String>,
}

const FLAG_NAMES: &[(&str, u32)] = &[
    ("no-writes", sflag::NO_WRITES),
    ("allow-oom", sflag::ALLOW_OOM),
    ("allow-stale", sflag::ALLOW_STALE),
    ("no-cluster", sflag::NO_CLUSTER),
    ("allow-cross-slot-keys", sflag::ALLOW_CROSS_SLOT),
];

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Functions {
    pub(super) fn vm(&mut self) -> mlua::Result<Rc<Vm>> {
        if self.vm.is_none() {
            let vm = new_vm(Rc::new(std::cell::Cell::new(super::rand48::INITIAL)))?;
            self.load_globals = Some(load_api(&vm.lua, self.registered.clone())?);
            self.vm = Some(Rc::new(vm));
        }
        Ok(self.vm.clone().expect("just created"))
    }

    /// Libraries and functions (INFO number_of_libraries / number_of_functions).
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.libraries.len(), self.index.len())
    }

    /// Bytes of the libraries' code (INFO used_memory_functions).
    pub(crate) fn code_bytes(&self) -> usize {
        self.libraries.values().map(|l| l.code.len()).sum()
    }

    pub(crate) fn vm_memory(&self) -> usize {
        self.vm.as_ref().map(|v| v.lua.used_memory()).unwrap_or(32 * 1024)
    }
}

/// The library API (the load-time globals): `redis` with register_function, log and the
/// constants; any other name is Redis's "nonexistent global variable" error.
fn load_api(lua: &Lua, registered: Registered) -> mlua::Result<Table> {
    let full: Table = lua.globals().get("redis")?;
    let redis = lua.create_table()?;
    for k in [
        "log",
        "LOG_DEBUG",
        "LOG_VERBOSE",
        "LOG_NOTICE",
        "LOG_WARNING",
        "REDIS_VERSION",
        "REDIS_VERSION_NUM",
    ] {
        redis.raw_set(k, full.get::<Value>(k)?)?;
    }
    redis.raw_set(
        "register_function",
        lua.create_function(move |lua, args: MultiValue| register(lua, &registered, args))?,
    )?;
    let g = lua.create_table()?;
    g.raw_set("redis", redis)?;
    let meta = lua.create_table()?;
    let missing: Function = lua
        .load(
            "local error, tostring = error, tostring
            return function(_, k)
              error(\"Script attempted to access nonexistent global variable '\" .. tostring(k) .. \"'\", 2)
            end",
        )
        .set_name("=tine")
        .call(())?;
    meta.raw_set("__index", missing)?;
    // Read-only, as Redis's library API tables: a function that kept `redis` from the load
    // cannot add to it when it runs.
    let deny: Function = lua
        .load(
            "local error = error
            return function() error(\"Attempt to modify a readonly table\", 2) end",
        )
        .set_name("=tine")
        .call(())?;
    meta.raw_set("__newindex", deny)?;
    g.set_metatable(Some(meta.clone()))?;
    let redis: Table = g.raw_get("redis")?;
    redis.set_metatable(Some(meta))?;
    Ok(g)
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...}`.
fn register(lua: &Lua, registered: &Registered, args: MultiValue) -> mlua::Result<()> {
    let (name, callback, flags, description) = match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return raise(
                    "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
                );
            };
            let (mut name, mut cb, mut flags, mut desc) = (None, None, 0, None);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let key = match &k {
                    Value::String(s) => s.to_string_lossy(),
                    _ => {
                        return raise(
                            "named argument key given to redis.register_function is not a string",
                        );
                    }
                };
                match key.as_str() {
                    "function_name" => match v {
                        Value::String(s) => name = Some(s.to_string_lossy()),
                        _ => {
                            return raise(
                                "function_name argument given to redis.register_function must be a string",
                            );
                        }
                    },
                    "callback" => match v {
                        Value::Function(f) => cb = Some(f),
                        _ => {
                            return raise(
                                "callback argument given to redis.register_function must be a function",
                            );
                        }
                    },
                    "description" => match v {
                        Value::String(s) => desc = Some(s.as_bytes().to_vec()),
                        _ => {
                            return raise(
                                "description argument given to redis.register_function must be a string",
                            );
                        }
                    },
                    "flags" => {
                        let Value::Table(ft) = v else {
                            return raise(
                                "flags argument to redis.register_function must be a table representing function flags",
                            );
                        };
                        for f in ft.sequence_values::<Value>() {
                            let Value::String(f) = f? else {
                                return raise("unknown flag given");
                            };
                            let f = f.to_string_lossy();
                            match FLAG_NAMES.iter().find(|(n, _)| *n == f) {
                                Some((_, bit)) => flags |= bit,
                                None => return raise("unknown flag given"),
                            }
                        }
                    }
                    _ => return raise("unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return raise("redis.register_function must get a function name argument");
            };
            let Some(cb) = cb else {
                return raise("redis.register_function must get a callback argument");
            };
            (name, cb, flags, desc)
        }
        2 => {
            let Value::String(n) = &args[0] else {
                return raise("first argument to redis.register_function must be a string");
            };
            let Value::Function(f) = &args[1] else {
                return raise("second argument to redis.register_function must be a function");
            };
            (n.to_string_lossy(), f.clone(), 0, None)
        }
        _ => return raise("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&name) {
        return raise(
            "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        );
    }
    let mut reg = registered.borrow_mut();
    let Some(list) = reg.as_mut() else {
        return raise("redis.register_function can only be called on FUNCTION LOAD command");
    };
    if list.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
        return raise("Function already exists in the library");
    }
    let callback = Rc::new(lua.create_registry_value(callback)?);
    list.push((name.clone(), Func { name, callback, flags, description }));
    Ok(())
}

/// Parses the shebang `#!<engine> name=<lib>` as Redis's functionExtractLibMetaData (its
/// words split as sdssplitargs splits them, so a quoted name is unquoted): the library name.
fn library_name(code: &[u8]) -> Result<String, CmdError> {
    if !code.starts_with(b"#!") {
        return Err(CmdError::err("Missing library metadata"));
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err(CmdError::err("Invalid library metadata"));
    };
    let parts = match tine_core::base::quote::split_args(&code[..end]) {
        Ok(p) if !p.is_empty() => p,
        _ => return Err(CmdError::err("Invalid library metadata")),
    };
    let engine = String::from_utf8_lossy(&parts[0][2.min(parts[0].len())..]).into_owned();
    let mut name: Option<String> = None;
    for p in &parts[1..] {
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(CmdError::err(
                    "Invalid metadata value, name argument was given multiple times",
                ));
            }
            name = Some(String::from_utf8_lossy(&p[5..]).into_owned());
            continue;
        }
        return Err(CmdError::err(&format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(p)
        )));
    }
    let name = name.ok_or_else(|| CmdError::err("Library name was not given"))?;
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(CmdError::err(&format!("Engine '{}' not found", engine)));
    }
    Ok(name)
}

/// FUNCTION LOAD [REPLACE] code.
pub(crate) fn load(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < argv.len() - 1 {
        if tine_core::base::lower(&argv[i]) == "replace" {
            replace = true;
            i += 1;
        } else {
            return Err(CmdError::err(&format!(
                "Unknown option given: {}",
                String::from_utf8_lossy(&argv[i])
            )));
        }
    }
    if i != argv.len() - 1 {
        return Err(CmdError::err("Function code is missing"));
    }
    let code = &argv[argv.len() - 1];
    let f = &mut srv.data.scripting.functions;
    let (name, lib) = compile_library(f, code, Some(LOAD_TIMEOUT), |f, name| {
        if !replace && f.libraries.contains_key(name) {
            return Err(CmdError::err(&format!("Library '{}' already exists", name)));
        }
        Ok(())
    })?;
    let mut libraries = std::mem::take(&mut f.libraries);
    let result = add_library(&mut libraries, name.clone(), lib, true, true);
    f.set_libraries(libraries);
    result?;
    srv.data.dirty += 1;
    c.add_bulk(name.as_bytes());
    Ok(())
}

/// How libraries loaded from an RDB or an AOF base meet the ones already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoadPolicy {
    /// Start from no library (startup, a full sync, DEBUG RELOAD): Redis empties the function
    /// engine with the data first.
    Flush,
    /// Keep the existing libraries; one of the same name is an error (DEBUG RELOAD NOFLUSH).
    Append,
    /// Keep the existing libraries; one of the same name is replaced (DEBUG RELOAD NOFLUSH
    /// MERGE: RDBFLAGS_ALLOW_DUP).
    Replace,
}

impl Functions {
    /// Every library's code, in name order: what an RDB (FUNCTION2) or an AOF base (FUNCTION
    /// LOAD) saves, taken before a fork so the child writes bytes and never runs Lua.
    pub(crate) fn codes(&self) -> Vec<Vec<u8>> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }

    /// Compiles libraries read from an RDB or an AOF and installs them, all or none, as
    /// Redis's rdbFunctionLoad does through functionsCreateWithLibraryCtx (same errors,
    /// without LOAD's time limit). On error nothing changed.
    pub(crate) fn load_codes(&mut self, codes: &[Vec<u8>], policy: LoadPolicy) -> CmdResult {
        if policy == LoadPolicy::Flush {
            // A fresh engine, as FUNCTION FLUSH: the old libraries' VM goes with them.
            let mut fresh = Functions::default();
            if !codes.is_empty() {
                fresh.load_codes(codes, LoadPolicy::Append)?;
            }
            *self = fresh;
            return Ok(());
        }
        let mut libraries = self.libraries.clone();
        for code in codes {
            let (name, lib) = compile_library(self, code, None, |_, _| Ok(()))?;
            add_library(&mut libraries, name, lib, policy == LoadPolicy::Replace, true)?;
        }
        self.set_libraries(libraries);
        Ok(())
    }

    /// Installs a set of libraries and rebuilds the function index from it.
    fn set_libraries(&mut self, libraries: BTreeMap<String, Library>) {
        self.index.clear();
        for (name, lib) in &libraries {
            for fname in lib.functions.keys() {
                self.index.insert(fname.clone(), name.clone());
            }
        }
        self.libraries = libraries;
    }
}

/// `PersistHost::load_functions` for the server's data: libraries from an RDB or an AOF base.
/// `Err` is the reason without the "ERR " of a reply, for the log line and DEBUG RELOAD.
pub(crate) fn load_from_persistence(
    data: &mut crate::commands::data::Data,
    codes: &[Vec<u8>],
    flush: bool,
    merge: bool,
) -> Result<(), String> {
    let policy = match (flush, merge) {
        (true, _) => LoadPolicy::Flush,
        (false, false) => LoadPolicy::Append,
        (false, true) => LoadPolicy::Replace,
    };
    if codes.is_empty() && data.scripting.functions.libraries.is_empty() {
        return Ok(());
    }
    data.scripting.functions.load_codes(codes, policy).map_err(|e| {
        let t = e.to_string();
        t.strip_prefix("ERR ").map(str::to_string).unwrap_or(t)
    })
}

/// Adds a library to a set: an existing one of the same name is replaced when `replace`, else
/// refused; a function name another library has is refused. Nothing changes on refusal.
/// `quoted`: the refusal quotes the library's name (Redis's functionsCreateWithLibraryCtx,
/// which LOAD and RDB loading use; RESTORE's libraryJoin does not).
fn add_library(
    libraries: &mut BTreeMap<String, Library>,
    name: String,
    lib: Library,
    replace: bool,
    quoted: bool,
) -> CmdResult {
    if !replace && libraries.contains_key(&name) {
        let q = if quoted { "'" } else { "" };
        return Err(CmdError::err(&format!("Library {q}{name}{q} already exists")));
    }
    for (other, l) in libraries.iter() {
        if *other == name {
            continue;
        }
        if let Some(func) = lib.functions.iter().find(|(f, _)| l.functions.contains_key(*f)) {
            return Err(CmdError::err(&format!("Function {} already exists", func.1.name)));
        }
    }
    libraries.insert(name, lib);
    Ok(())
}

/// Compiles a library's code and runs it with the library API, collecting its functions;
/// `check` sees the library's name first (FUNCTION LOAD refuses an existing one early).
fn compile_library(
    f: &mut Functions,
    code: &[u8],
    timeout: Option<std::time::Duration>,
    check: impl FnOnce(&Functions, &str) -> CmdResult,
) -> Result<(String, Library), CmdError> {
    let name = library_name(code)?;
    if !valid_name(&name) {
        return Err(CmdError::err(
            "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ));
    }
    check(f, &name)?;
    let vm = f.vm().map_err(|e| CmdError::err(&e.to_string()))?;
    let (lua, env, handler, run) =
        (vm.lua.clone(), vm.env.clone(), vm.handler.clone(), vm.run.clone());
    let load_globals = f.load_globals.clone().expect("built with the VM");
    let src = [b"--".as_slice(), &code[2..]].concat();
    let chunk = lua
        .load(src)
        .set_name("@user_function")
        .set_environment(env.clone())
        .into_function()
        .map_err(|e| {
            let msg = match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            };
            CmdError::err(&format!("Error compiling function: {}", msg))
        })?;
    // Run the library's code with the library API as its globals.
    let meta = env.metatable().ok_or_else(|| CmdError::err("no globals metatable"))?;
    let full: Value = meta.raw_get("__index").unwrap_or(Value::Nil);
    let _ = meta.raw_set("__index", load_globals);
    *f.registered.borrow_mut() = Some(Vec::new());
    // FUNCTION LOAD's time limit (Redis's LOAD_TIMEOUT_MS): the VM's count hook calls the
    // tick, which fails the load once the code has run that long.
    let old_tick = match timeout {
        Some(limit) => {
            let start = std::time::Instant::now();
            let tick = lua
                .create_function(move |_, ()| {
                    if start.elapsed() > limit {
                        return raise::<bool>("FUNCTION LOAD timeout");
                    }
                    Ok(false)
                })
                .map_err(|e| CmdError::err(&e.to_string()))?;
            Some(vm.tick.replace(Some(tick)))
        }
        None => None,
    };
    let result = run.call::<(bool, Value)>((chunk, handler));
    if let Some(old) = old_tick {
        *vm.tick.borrow_mut() = old;
    }
    let _ = meta.raw_set("__index", full);
    let list = f.registered.borrow_mut().take().unwrap_or_default();
    match result {
        Ok((true, _)) => {}
        Ok((false, Value::Table(t))) => {
            let msg =
                t.raw_get::<mlua::String>("err").map(|s| s.to_string_lossy()).unwrap_or_default();
            return Err(CmdError::err(&format!("Error registering functions: {}", msg)));
        }
        Ok((false, other)) => {
            return Err(CmdError::err(&format!(
                "Error registering functions: {}",
                String::from_utf8_lossy(&super::value_text(&other))
            )));
        }
        Err(e) => return Err(CmdError::err(&format!("Error registering functions: {}", e))),
    }
    if list.is_empty() {
        return Err(CmdError::err("No functions registered"));
    }
    let mut functions = BTreeMap::new();
    for (fname, func) in list {
        functions.insert(fname.to_ascii_lowercase(), func);
    }
    Ok((name, Library { code: code.to_vec(), functions }))
}

/// FUNCTION DELETE library.
pub(crate) fn delete(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]).into_owned();
    let f = &mut srv.data.scripting.functions;
    let Some(lib) = f.libraries.remove(&name) else {
        return Err(CmdError::err("Library not found"));
    };
    for fname in lib.functions.keys() {
        f.index.remove(fname);
    }
    srv.data.dirty += 1;
    c.add_ok();
    Ok(())
}

/// Redis's text for a subcommand given too many arguments, echoing it as typed.
fn wrong_subcommand_args(sub: &[u8]) -> CmdError {
    CmdError::err_echo(
        "unknown subcommand or wrong number of arguments for '",
        sub,
        Some(128),
        "'. Try FUNCTION HELP.",
    )
}

/// FUNCTION FLUSH [ASYNC|SYNC].
pub(crate) fn flush(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(wrong_subcommand_args(&argv[1]));
    }
    if argv.len() == 3 {
        let a = tine_core::base::lower(&argv[2]);
        if a != "sync" && a != "async" {
            return Err(CmdError::err("FUNCTION FLUSH only supports SYNC|ASYNC option"));
        }
    }
    let f = &mut srv.data.scripting.functions;
    f.libraries.clear();
    f.index.clear();
    f.vm = None;
    f.load_globals = None;
    srv.data.dirty += 1;
    c.add_ok();
    Ok(())
}

/// FUNCTION KILL.
pub(crate) fn kill(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    super::kill_running(srv, c, BusyKind::Function)
}

fn flag_names(flags: u32) -> Vec<&'static str> {
    FLAG_NAMES.iter().filter(|(_, b)| flags & b != 0).map(|(n, _)| *n).collect()
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
pub(crate) fn list(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < argv.len() {
        match tine_core::base::lower(&argv[i]).as_str() {
            "withcode" if !with_code => with_code = true,
            "libraryname" if pattern.is_none() => {
                let Some(p) = argv.get(i + 1) else {
                    return Err(CmdError::err("library name argument was not given"));
                };
                pattern = Some(p.clone());
                i += 1;
            }
            "withcode" => return Err(CmdError::err("Unknown argument withcode")),
            "libraryname" => return Err(CmdError::err("Unknown argument libraryname")),
            _ => {
                return Err(CmdError::err(&format!(
                    "Unknown argument {}",
                    String::from_utf8_lossy(&argv[i])
                )));
            }
        }
        i += 1;
    }
    let f = &srv.data.scripting.functions;
    let libs: Vec<(&String, &Library)> = f
        .libraries
        .iter()
        .filter(|(n, _)| {
            pattern.as_ref().is_none_or(|p| tine_core::base::glob_match(p, n.as_bytes(), true))
        })
        .collect();
    c.add_array(libs.len());
    for (name, lib) in libs {
        c.add_map(if with_code { 4 } else { 3 });
        c.add_bulk(b"library_name");
        c.add_bulk(name.as_bytes());
        c.add_bulk(b"engine");
        c.add_bulk(b"LUA");
        c.add_bulk(b"functions");
        c.add_array(lib.functions.len());
        for func in lib.functions.values() {
            c.add_map(3);
            c.add_bulk(b"name");
            c.add_bulk(func.name.as_bytes());
            c.add_bulk(b"description");
            match &func.description {
                Some(d) => c.add_bulk(d),
                None => c.add_null(),
            }
            c.add_bulk(b"flags");
            let names = flag_names(func.flags);
            c.add_set(names.len());
            for n in names {
                c.add_simple(n);
            }
        }
        if with_code {
            c.add_bulk(b"library_code");
            c.add_bulk(&lib.code);
        }
    }
    Ok(())
}

/// FUNCTION STATS.
pub(crate) fn stats(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let (libs, funcs) = srv.data.scripting.functions.counts();
    c.add_map(2);
    c.add_bulk(b"running_script");
    match srv.data.scripting.running.as_ref().filter(|r| !r.is_eval) {
        Some(run) => {
            c.add_map(3);
            c.add_bulk(b"name");
            c.add_bulk(run.name.as_bytes());
            c.add_bulk(b"command");
            c.add_bulk_array(run.argv.iter());
            c.add_bulk(b"duration_ms");
            c.add_int(run.start.elapsed().as_millis() as i64);
        }
        None => c.add_null(),
    }
    c.add_bulk(b"engines");
    c.add_map(1);
    c.add_bulk(b"LUA");
    c.add_map(2);
    c.add_bulk(b"libraries_count");
    c.add_int(libs as i64);
    c.add_bulk(b"functions_count");
    c.add_int(funcs as i64);
    Ok(())
}

/// RDB_OPCODE_FUNCTION2: a library's code, as Redis 7.0 writes functions in an RDB and in
/// FUNCTION DUMP's payload.
const OPCODE_FUNCTION2: u8 = 245;
/// The pre-GA form (RDB_OPCODE_FUNCTION), which Redis 7.0 refuses too.
const OPCODE_FUNCTION_PRE_GA: u8 = 246;

/// FUNCTION DUMP: every library as `FUNCTION2 <code>`, with DUMP's footer (RDB version and
/// CRC-64), so the payload moves between tine and Redis either way.
pub(crate) fn dump(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    use tine_core::rdb::writer::RdbWriter;
    let mut out = Vec::new();
    {
        let mut w = RdbWriter::new(&mut out, srv.data.config.rdbcompression, false);
        for lib in srv.data.scripting.functions.libraries.values() {
            // Writing into a Vec cannot fail.
            let _ = w.byte(OPCODE_FUNCTION2);
            let _ = w.string(&lib.code);
        }
        let _ = w.finish();
    }
    out.extend_from_slice(&(tine_core::rdb::RDB_VERSION as u16).to_le_bytes());
    let crc = tine_core::rdb::crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    c.add_bulk(&out);
    Ok(())
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all the payload's libraries or none.
pub(crate) fn restore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy = match argv.get(3).map(|a| tine_core::base::lower(a)) {
        None => Policy::Append,
        Some(p) if argv.len() == 4 => match p.as_str() {
            "flush" => Policy::Flush,
            "append" => Policy::Append,
            "replace" => Policy::Replace,
            _ => {
                return Err(CmdError::err(
                    "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
                ));
            }
        },
        Some(_) => {
            return Err(wrong_subcommand_args(&argv[1]));
        }
    };
    let body = tine_core::rdb::dump::verify_payload(&argv[2])
        .map_err(|_| CmdError::err("DUMP payload version or checksum are wrong"))?;
    let mut codes = Vec::new();
    {
        use tine_core::rdb::reader::{Reader, SliceSource};
        let mut src = SliceSource::new(body);
        let mut rd = Reader::new(&mut src);
        while rd.src.position() < body.len() {
            let t = rd
                .byte()
                .map_err(|_| CmdError::err("DUMP payload version or checksum are wrong"))?;
            if t == OPCODE_FUNCTION_PRE_GA {
                return Err(CmdError::err("Pre-GA function format not supported"));
            }
            if t != OPCODE_FUNCTION2 {
                return Err(CmdError::err("given type is not a function"));
            }
            let code = rd
                .string()
                .map_err(|_| CmdError::err("DUMP payload version or checksum are wrong"))?;
            codes.push(code);
        }
    }
    let f = &mut srv.data.scripting.functions;
    let mut loaded = Vec::new();
    for code in &codes {
        loaded.push(compile_library(f, code, None, |_, _| Ok(()))?);
    }
    let mut libraries = if policy == Policy::Flush {
        BTreeMap::new()
    } else {
        f.libraries.iter().map(|(n, l)| (n.clone(), l.clone())).collect()
    };
    for (name, lib) in loaded {
        add_library(&mut libraries, name, lib, policy == Policy::Replace, false)?;
    }
    f.set_libraries(libraries);
    srv.data.dirty += 1;
    c.add_ok();
    Ok(())
}

pub(crate) fn help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    crate::commands::reply_help(
        c,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}

pub(crate) fn fcall(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    fcall_generic(srv, c, argv, false)
}

pub(crate) fn fcall_ro(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    fcall_generic(srv, c, argv, true)
}

fn fcall_generic(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, ro: bool) -> CmdResult {
    crate::commands::feed_monitors(srv, c, argv);
    let name = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    let f = &srv.data.scripting.functions;
    let Some(func) = f.index.get(&name).and_then(|lib| f.libraries.get(lib)?.functions.get(&name))
    else {
        return Err(CmdError::err("Function not found"));
    };
    let (callback, flags, name) = (func.callback.clone(), func.flags, func.name.clone());
    let callback: Function = {
        let vm = srv.data.scripting.functions.vm().map_err(|e| CmdError::err(&e.to_string()))?;
        vm.lua.registry_value(&callback).map_err(|e| CmdError::err(&e.to_string()))?
    };
    let numkeys = tine_core::base::parse_i64(&argv[2])
        .ok_or_else(|| CmdError::err("Bad number of keys provided"))?;
    if numkeys > (argv.len() - 3) as i64 {
        return Err(CmdError::err("Number of keys can't be greater than number of args"));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    prepare_checks(srv, c, flags, ro)?;
    let nk = numkeys as usize;
    let run = Run {
        func: callback,
        kind: BusyKind::Function,
        flags: if ro { flags | sflag::NO_WRITES } else { flags },
        name,
        keys: &argv[3..3 + nk],
        args: &argv[3 + nk..],
        argv,
    };
    run_script(srv, c, run);
    Ok(())
}
