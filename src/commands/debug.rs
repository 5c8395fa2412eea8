//! DEBUG and its subcommands (DIGEST, RELOAD, SLEEP, OBJECT, POPULATE...), refused unless
//! `enable-debug-command` allows the client. DEBUG YIELD is tine's own: a command that runs for
//! a while and yields to the event loop meanwhile, as a slow script does, to test that path.

use super::reply_help;
use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::commands::data::BusyKind;
use crate::engine::session::Session;
use tine_core::base::{self, parse_i64};
use tine_core::log;
use tine_core::log::Level;
use tine_core::types::digest;

/// Redis's words for a DEBUG refused by `enable-debug-command`.
pub(crate) const DEBUG_NOT_ALLOWED: CmdError = CmdError::new(
    "ERR",
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
);

/// Whether `enable-debug-command` lets this client run DEBUG (checked by dispatch).
pub(crate) fn debug_allowed(srv: &Ctx<'_>, c: &Session) -> bool {
    srv.data.config.enable_debug_command.allows(c.is_local())
}

pub(crate) fn debug(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let sub = base::lower(&argv[1]);
    match sub.as_str() {
        "help" => reply_help(
            c,
            "DEBUG",
            &[
                "CHANGE-REPL-ID",
                "    Change the replication IDs of the instance.",
                "CONFIG-REWRITE-FORCE-ALL",
                "    Like CONFIG REWRITE but writes all configuration options, including",
                "    keywords not listed in original configuration file or default values.",
                "    Dangerous: should be used only for testing the replication subsystem.",
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "HTSTATS <dbid>",
                "    Return hash table statistics of the specified Redis database.",
                "HTSTATS-KEY <key>",
                "    Like HTSTATS but for the hash table stored at <key>'s value.",
                "LOADAOF",
                "    Flush the AOF buffers on disk and reload the AOF in memory.",
                "LOG <message>",
                "    Write <message> to the server log.",
                "MALLCTL <key> [<val>]",
                "    Get or set a malloc tuning integer.",
                "MALLCTL-STR <key> [<val>]",
                "    Get or set a malloc tuning string.",
                "OBJECT <key>",
                "    Show low level info about the key and associated value.",
                "PAUSE-CRON <0|1>",
                "    Stop periodic cron job processing.",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> string keys named key:<num>.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "QUICKLIST-PACKED-THRESHOLD <size>",
                "    Sets the threshold for elements to be inserted as plain vs packed nodes",
                "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not accessed.",
                "SET-DISABLE-DENY-SCRIPTS <0|1>",
                "    Enable/disable the denial of scripts calling commands flagged noscript.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "YIELD <milliseconds>",
                "    (tine only) Run for <milliseconds>, letting the event loop serve other clients",
                "    meanwhile as a slow script does: they get -BUSY, new connections are accepted.",
            ],
        ),
        // Lets scripts run commands flagged noscript (the suite's hook into a running script).
        "set-disable-deny-scripts" if argv.len() == 3 => {
            srv.data.scripting.disable_deny_scripts = base::parse_i64(&argv[2]).unwrap_or(0) != 0;
            c.add_ok();
        }
        "sleep" if argv.len() == 3 => {
            let secs = base::parse_f64(&argv[2]).unwrap_or(0.0).max(0.0);
            std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            c.add_ok();
        }
        "yield" if argv.len() == 3 => {
            // Redis's getPositiveLongFromObjectOrReply words, as DEBUG POPULATE.
            let out_of_range =
                || CmdError::new("ERR", "ERR value is out of range, must be positive");
            let ms = parse_i64(&argv[2]).filter(|&n| n >= 0).ok_or_else(out_of_range)?;
            let deadline = std::time::Instant::now()
                .checked_add(std::time::Duration::from_millis(ms as u64))
                .ok_or_else(out_of_range)?;
            // Yield every couple of milliseconds, as a script does from its interrupt hook.
            loop {
                srv.yield_to_event_loop(BusyKind::Script);
                let now = std::time::Instant::now();
                if now >= deadline {
                    break;
                }
                std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(2)));
            }
            c.add_ok();
        }
        "digest" if argv.len() == 2 => {
            let d = tine_core::keyspace::dataset_digest(&srv.data.keyspace);
            c.add_simple(&digest::to_hex(&d));
        }
        "digest-value" => {
            c.add_array(argv.len() - 2);
            for key in &argv[2..] {
                let db = &srv.data.keyspace[c.db];
                let d = match db.peek(key) {
                    Some(v) => digest::value_digest(v, db.expire_of(key).is_some()),
                    None => [0u8; 20],
                };
                c.add_simple(&digest::to_hex(&d));
            }
        }
        "populate" if (3..=5).contains(&argv.len()) => {
            // Redis's getPositiveLongFromObjectOrReply: one message for both failures.
            let Some(count) = parse_i64(&argv[2]).filter(|&n| n >= 0) else {
                return Err(CmdError::new("ERR", "ERR value is out of range, must be positive"));
            };
            let prefix: &[u8] = argv.get(3).map(|p| p.as_slice()).unwrap_or(b"key");
            let size = match argv.get(4) {
                Some(s) => match parse_i64(s).filter(|&n| n >= 0) {
                    Some(n) => Some(n as usize),
                    None => {
                        return Err(CmdError::new(
                            "ERR",
                            "ERR value size is not an integer or out of range",
                        ));
                    }
                },
                None => None,
            };
            let (ks, dbi) = (&mut srv.data.keyspace, c.db);
            for i in 0..count {
                let mut key = prefix.to_vec();
                key.push(b':');
                key.extend_from_slice(i.to_string().as_bytes());
                if ks[dbi].peek(&key).is_some() {
                    continue;
                }
                let base = format!("value:{}", i).into_bytes();
                let val = match size {
                    None => base,
                    Some(n) => {
                        let mut v = vec![0u8; n];
                        let k = n.min(base.len());
                        v[..k].copy_from_slice(&base[..k]);
                        v
                    }
                };
                ks.insert_new(
                    dbi,
                    key.into_boxed_slice(),
                    tine_core::keyspace::Value::Str(tine_core::keyspace::Str::from_bytes(&val)),
                );
            }
            c.add_ok();
        }
        "object" if argv.len() == 3 => match srv.data.keyspace[c.db].peek(&argv[2]) {
            Some(v) => {
                let text = format!(
                    "Value at:0x{:x} refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:0",
                    v as *const _ as usize,
                    v.encoding(),
                    v.serialized_length_estimate()
                );
                c.add_simple(&text);
            }
            None => return Err(err::NO_SUCH_KEY),
        },
        // tine's own: make the next forks fail as if the OS refused, to test recovery.
        "fork-fail" if argv.len() == 3 => {
            crate::persist::snapshot::set_fail_forks(argv[2].as_slice() != b"0");
            c.add_ok();
        }
        // A reply of each RESP type, for client tests (Redis's DEBUG PROTOCOL), byte for byte.
        "protocol" if argv.len() == 3 => {
            let resp3 = c.resp == tine_core::protocol::Resp::V3;
            let bytes: &[u8] = match (base::lower(&argv[2]).as_str(), resp3) {
                ("string", _) => b"$11\r\nHello World\r\n",
                ("integer", _) => b":12345\r\n",
                ("double", false) => b"$5\r\n3.141\r\n",
                ("double", true) => b",3.141\r\n",
                ("bignum", false) => b"$37\r\n1234567999999999999999999999999999999\r\n",
                ("bignum", true) => b"(1234567999999999999999999999999999999\r\n",
                ("null", false) => b"$-1\r\n",
                ("null", true) => b"_\r\n",
                ("array", _) => b"*3\r\n:0\r\n:1\r\n:2\r\n",
                ("set", false) => b"*3\r\n:0\r\n:1\r\n:2\r\n",
                ("set", true) => b"~3\r\n:0\r\n:1\r\n:2\r\n",
                ("map", false) => b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
                ("map", true) => b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
                ("attrib", false) => b"$39\r\nSome real reply following the attribute\r\n",
                ("attrib", true) => b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n",
                ("push", false) => {
                    return Err(CmdError::err("RESP2 is not supported by this command"));
                }
                ("push", true) => b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n",
                ("verbatim", false) => b"$25\r\nThis is a verbatim\nstring\r\n",
                ("verbatim", true) => b"=29\r\ntxt:This is a verbatim\nstring\r\n",
                ("true", false) => b":1\r\n",
                ("true", true) => b"#t\r\n",
                ("false", false) => b":0\r\n",
                ("false", true) => b"#f\r\n",
                _ => {
                    return Err(CmdError::err(
                        "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
                    ));
                }
            };
            if let Some(o) = c.out() {
                o.extend_from_slice(bytes);
            }
        }
        // Redis 7.0 stores list elements above this size in "plain" quicklist nodes of their
        // own. tine's quicklist keeps every element in a listpack node, big ones included,
        // so the knob is checked and accepted as Redis accepts it, and changes no behaviour
        // a command can see (the suite's list tests use it around functional checks).
        "quicklist-packed-threshold" if argv.len() == 3 => {
            let ok = std::str::from_utf8(&argv[2])
                .ok()
                .and_then(crate::config::parse_memory)
                .is_some_and(|v| v <= u32::MAX as u64);
            if !ok {
                return Err(CmdError::err(
                    "argument must be a memory value bigger than 1 and smaller than 4gb",
                ));
            }
            c.add_ok();
        }
        // Replay the AOF from disk into a new dataset (Redis's DEBUG LOADAOF).
        "loadaof" if argv.len() == 2 => {
            let Some(executor) = srv.data.aof_executor else {
                return Err(CmdError::err("DEBUG LOADAOF is not available here"));
            };
            if let Err(e) = crate::persist::aof::reload_now(&mut *srv.data, executor) {
                return Err(CmdError::err(&format!("Error loading the append only file: {}", e)));
            }
            log!(Level::Warning, "Append Only File loaded by DEBUG LOADAOF");
            c.add_ok();
        }
        // Save, empty the keyspace, load the file back (Redis's DEBUG RELOAD).
        // Options: MERGE (a loaded key or library replaces one of the same name), NOFLUSH
        // (keep the dataset and libraries, load on top), NOSAVE (load the file as it is).
        "reload" => {
            let (mut merge, mut flush, mut save) = (false, true, true);
            for opt in &argv[2..] {
                match tine_core::base::lower(opt).as_str() {
                    "merge" => merge = true,
                    "noflush" => flush = false,
                    "nosave" => save = false,
                    _ => {
                        return Err(CmdError::err(
                            "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                        ));
                    }
                }
            }
            if save {
                if let Err(e) = crate::persist::snapshot::save_in_foreground(&mut *srv.data) {
                    return Err(CmdError::err(&format!("Error trying to save the DB: {}", e)));
                }
            }
            // Empty first, as Redis does: the dataset is then rebuilt in the memory the old one
            // freed, instead of both living at once (a peak of twice the data, and freed pages
            // the allocator purges later). The function libraries go too (Redis's emptyData).
            if flush {
                srv.data.keyspace.clear_all();
                use crate::persist::PersistHost;
                let _ = srv.data.load_functions(&[], true, false);
            }
            let path = crate::persist::snapshot::rdb_path(&*srv.data);
            // Redis replies without the reason, which is in the log.
            const FAILED: &str = "Error trying to load the RDB dump";
            match crate::persist::rdb_io::load_file(&mut *srv.data, &path, flush, merge) {
                Ok(crate::persist::rdb_io::LoadOutcome::Loaded) => {
                    log!(Level::Notice, "DB reloaded by DEBUG RELOAD");
                    c.add_ok();
                }
                Ok(crate::persist::rdb_io::LoadOutcome::NoFile) => {
                    log!(Level::Warning, "{}: no file {}", FAILED, path.display());
                    return Err(CmdError::err(FAILED));
                }
                Err(e) => {
                    log!(Level::Warning, "{}: {}", FAILED, e);
                    return Err(CmdError::err(FAILED));
                }
            }
        }
        #[cfg(feature = "jemalloc")]
        "mallctl" if (3..=4).contains(&argv.len()) => {
            use crate::engine::memory::{Mallctl, mallctl_int};
            let new = match argv.get(3) {
                Some(v) => Some(parse_i64(v).ok_or(err::NOT_INTEGER)?),
                None => None,
            };
            match mallctl_int(&String::from_utf8_lossy(&argv[2]), new) {
                Ok(Mallctl::Value(v)) => c.add_int(v),
                Ok(Mallctl::Written) => c.add_ok(),
                Err(e) => return Err(CmdError::err(&e)),
            }
        }
        #[cfg(feature = "jemalloc")]
        "mallctl-str" if (3..=4).contains(&argv.len()) => {
            let new = argv.get(3).map(|v| String::from_utf8_lossy(v).into_owned());
            use crate::engine::memory::{MallctlStr, mallctl_str};
            match mallctl_str(&String::from_utf8_lossy(&argv[2]), new.as_deref()) {
                Ok(MallctlStr::Value(v)) => c.add_bulk(v.as_bytes()),
                Ok(MallctlStr::Null) => c.add_null(),
                Ok(MallctlStr::Written) => c.add_ok(),
                Err(e) => return Err(CmdError::err(&e)),
            }
        }
        "config-rewrite-force-all" if argv.len() == 2 => {
            match super::config::rewrite_running_config(srv, true) {
                Some(Ok(())) => c.add_ok(),
                Some(Err(e)) => {
                    return Err(CmdError::err(&format!("CONFIG-REWRITE-FORCE-ALL failed: {}", e)));
                }
                None => {
                    return Err(CmdError::err(
                        "CONFIG-REWRITE-FORCE-ALL failed: the server is running without a config file",
                    ));
                }
            }
        }
        "log" if argv.len() == 3 => {
            log!(Level::Warning, "DEBUG LOG: {}", String::from_utf8_lossy(&argv[2]));
            c.add_ok();
        }
        "htstats" if argv.len() == 3 => {
            let db = parse_i64(&argv[2]).ok_or(err::NOT_INTEGER)?;
            if db < 0 || db as usize >= srv.data.keyspace.len() {
                return Err(CmdError::err("Out of range database"));
            }
            let (keys, expires) = srv.data.keyspace[db as usize].table_stats();
            let mut out = String::from("[Dictionary HT]\n");
            htstats_text(&mut out, &keys);
            out.push_str("[Expires HT]\n");
            htstats_text(&mut out, &expires);
            c.add_verbatim(out.as_bytes());
        }
        "htstats-key" if argv.len() == 3 => {
            use tine_core::types::{Value, hash::Hash, set::Set};
            let stats = match srv.data.keyspace[c.db].peek(&argv[2]) {
                None => return Err(err::NO_SUCH_KEY),
                Some(Value::Set(s)) => match &**s {
                    Set::Table(t) => t.stats(),
                    _ => return Err(NOT_A_TABLE),
                },
                Some(Value::Hash(h)) => match &**h {
                    Hash::Table(t) => t.stats(),
                    _ => return Err(NOT_A_TABLE),
                },
                // A sorted set's member index is not tine's chained table: nothing to show.
                Some(_) => return Err(NOT_A_TABLE),
            };
            let mut out = String::new();
            htstats_text(&mut out, &stats);
            c.add_verbatim(out.as_bytes());
        }
        "change-repl-id" if argv.len() == 2 => {
            srv.data.repl.change_replid();
            srv.data.repl.clear_replid2();
            log!(Level::Warning, "Changing replication IDs after receiving DEBUG change-repl-id");
            c.add_ok();
        }
        "pause-cron" if argv.len() == 3 => {
            // As Redis's atoi: a number's leading digits, anything else is 0.
            let digits: Vec<u8> =
                argv[2].iter().copied().take_while(|b| b.is_ascii_digit()).collect();
            srv.data.cron_paused = digits.iter().any(|&d| d != b'0');
            c.add_ok();
        }
        "set-skip-checksum-validation" if argv.len() == 3 => {
            super::dump::set_skip_checksum_validation(argv[2].as_slice() != b"0");
            c.add_ok();
        }
        "set-active-expire" if argv.len() == 3 => {
            srv.data.debug_active_expire = argv[2].as_slice() != b"0";
            c.add_ok();
        }
        _ => {
            return Err(CmdError::err_echo(
                "unknown subcommand or wrong number of arguments for '",
                &argv[1],
                Some(128),
                "'. Try DEBUG HELP.",
            ));
        }
    }
    Ok(())
}

const NOT_A_TABLE: CmdError = CmdError::new(
    "ERR",
    "ERR The value stored at the specified key is not represented using an hash table",
);

/// One table's DEBUG HTSTATS text, in Redis's words and figures (its dictGetStats: single
/// precision averages and percentages, chains of 49 and more in one last line not shown).
fn htstats_text(out: &mut String, stats: &[tine_core::types::dict::TableStats]) {
    use std::fmt::Write;
    for (i, t) in stats.iter().enumerate() {
        let name = if i == 0 { "main hash table" } else { "rehashing target" };
        let _ = writeln!(out, "Hash table {i} stats ({name}):");
        if t.used == 0 {
            out.push_str("No stats available for empty dictionaries\n");
            continue;
        }
        let slots = t.slots.max(1) as f32;
        let _ = write!(
            out,
            " table size: {}\n number of elements: {}\n different slots: {}\n max chain length: {}\n avg chain length (counted): {:.2}\n avg chain length (computed): {:.2}\n Chain length distribution:\n",
            t.size,
            t.used,
            t.slots,
            t.max_chain,
            t.total_chain as f32 / slots,
            t.used as f32 / slots
        );
        for (len, &n) in t.chains[..49].iter().enumerate() {
            if n > 0 {
                let pct = (n as f32 / t.size as f32) * 100.0;
                let _ = writeln!(out, "   {len}: {n} ({pct:.2}%)");
            }
        }
    }
}
