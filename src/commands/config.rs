//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP over the directive table (`crate::config`).
//! What a CONFIG SET does to the running server is declared in the table and applied by
//! `app/config_effects.rs`; this file only turns arguments into pairs and results into replies.

use super::reply_help;
use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::config::{self, Kind, SetError};
use crate::engine::session::Session;
use tine_core::log;
use tine_core::log::Level;

pub(crate) fn config_get(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let patterns: Vec<&[u8]> = argv[2..].iter().map(|a| a.as_slice()).collect();
    let pairs = srv.data.config.get_matching(&patterns);
    c.add_map(pairs.len());
    for (k, v) in pairs {
        c.add_bulk(k.as_bytes());
        c.add_bulk(v.as_bytes());
    }
    Ok(())
}

pub(crate) fn config_set(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    // Redis 7.0 answers an odd number of name/value arguments with a plain syntax error.
    if argv.len() % 2 != 0 {
        return Err(err::SYNTAX);
    }
    let owned: Vec<(String, String)> = argv[2..]
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let loading = srv.data.loading.is_some() || srv.data.replica.loading();
    if loading && srv.data.config.denies_loading(&pairs, c.is_local()) {
        return Err(err::LOADING);
    }
    srv.data.config.check_set_names(&pairs, c.is_local()).map_err(|e| match &e {
        // Redis echoes the unknown name as the client sent it (`%s`: raw bytes, up to a NUL);
        // the first name spelled so is the one refused, as every other one of that spelling.
        SetError::Unknown(name) => match owned.iter().position(|(n, _)| n == name) {
            Some(i) => CmdError::err_echo(
                "Unknown option or number of arguments for CONFIG SET - '",
                &argv[2 + 2 * i],
                None,
                "'",
            ),
            None => e.to_cmd_error(),
        },
        SetError::Failed(..) => e.to_cmd_error(),
    })?;
    // A lower maxmemory is acted on before the event loop next sleeps (`evict_requested`), as
    // Redis's updateMaxmemory starts its eviction timer: not inside this command, whose own
    // propagation (none) and transaction (a MULTI's next commands) it must not touch.
    srv.server.config_set(srv.data, &pairs)?;
    c.add_ok();
    Ok(())
}

pub(crate) fn config_resetstat(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    srv.data.stats = Default::default();
    srv.data.cmd_stats = super::new_stats();
    // The replication counters are the primary's, reset with the rest (resetServerStats).
    srv.data.primary.stats = Default::default();
    srv.data.replica.net_repl_input_bytes = 0;
    srv.data.peak_memory = 0;
    srv.data.keyspace.lazyfree().reset_stats();
    c.add_ok();
    Ok(())
}

/// Rewrites the server's config file with the running configuration (`force_all`: every
/// directive, for DEBUG CONFIG-REWRITE-FORCE-ALL). `None`: the server has no config file.
pub(crate) fn rewrite_running_config(
    srv: &mut Ctx<'_>,
    force_all: bool,
) -> Option<std::io::Result<()>> {
    let path = srv.data.config_file.clone()?;
    let users = super::acl::config_user_lines(srv);
    Some(rewrite_config_file(&srv.data.config, users, &path, force_all))
}

pub(crate) fn config_rewrite(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let Some(result) = rewrite_running_config(srv, false) else {
        return Err(CmdError::new("ERR", "ERR The server is running without a config file"));
    };
    match result {
        Ok(()) => {
            log!(Level::Notice, "CONFIG REWRITE executed with success.");
            c.add_ok();
            Ok(())
        }
        Err(e) => {
            log!(Level::Warning, "CONFIG REWRITE failed: {}", e);
            Err(CmdError::err(&format!("Rewriting config file: {}", e)))
        }
    }
}

/// Formats a memory value as Redis's rewriteConfigFormatMemory: the largest unit that
/// divides it exactly.
fn format_memory(v: u64) -> String {
    const GB: u64 = 1 << 30;
    const MB: u64 = 1 << 20;
    const KB: u64 = 1 << 10;
    if v != 0 && v % GB == 0 {
        format!("{}gb", v / GB)
    } else if v != 0 && v % MB == 0 {
        format!("{}mb", v / MB)
    } else if v != 0 && v % KB == 0 {
        format!("{}kb", v / KB)
    } else {
        v.to_string()
    }
}

/// The lines CONFIG REWRITE writes for one directive.
fn directive_lines(d: &config::Directive, value: &str) -> Vec<String> {
    use tine_core::base::quote::{quote_arg, repr_arg};
    let name = d.name;
    match d.kind {
        Kind::Memory { .. } | Kind::UMemory => {
            vec![format!("{} {}", name, format_memory(value.parse().unwrap_or(0)))]
        }
        Kind::Str => vec![format!("{} {}", name, repr_arg(value.as_bytes()))],
        Kind::Custom(_) => match name {
            "save" => {
                if value.is_empty() {
                    vec!["save \"\"".into()]
                } else {
                    let nums: Vec<&str> = value.split_whitespace().collect();
                    nums.chunks(2).map(|p| format!("save {} {}", p[0], p[1])).collect()
                }
            }
            "client-output-buffer-limit" => {
                let parts: Vec<&str> = value.split_whitespace().collect();
                parts
                    .chunks(4)
                    .map(|g| {
                        let class = if g[0] == "slave" { "replica" } else { g[0] };
                        format!(
                            "{} {} {} {} {}",
                            name,
                            class,
                            format_memory(g[1].parse().unwrap_or(0)),
                            format_memory(g[2].parse().unwrap_or(0)),
                            g[3]
                        )
                    })
                    .collect()
            }
            "bind"
            | "oom-score-adj-values"
            | "latency-tracking-info-percentiles"
            | "shutdown-on-sigterm"
            | "shutdown-on-sigint" => {
                vec![format!("{} {}", name, value)]
            }
            "replicaof" => {
                if value.is_empty() {
                    vec![]
                } else {
                    vec![format!("{} {}", name, value)]
                }
            }
            _ => vec![format!("{} {}", name, repr_arg(value.as_bytes()))],
        },
        _ => vec![format!("{} {}", name, quote_arg(value.as_bytes()))],
    }
}

/// Rewrites the config file to hold the running configuration, keeping comments and the lines
/// tine does not own.
/// `force_all` (DEBUG CONFIG-REWRITE-FORCE-ALL) writes every directive, defaults included.
pub(crate) fn rewrite_config_file(
    cfg: &config::Config,
    users: Option<Vec<String>>,
    path: &std::path::Path,
    force_all: bool,
) -> std::io::Result<()> {
    let original = std::fs::read_to_string(path).ok();
    let defaults = config::Config::default();
    let mut desired = Vec::new();
    for d in config::DIRECTIVES {
        let value = (d.get)(cfg);
        // `save` lines are always written, as Redis's rewriteConfigSaveOption forces them
        // (a default that is not written would read back as the one `save` line kept).
        let is_default = !force_all && d.name != "save" && value == (d.get)(&defaults);
        desired.push((d.name.to_string(), directive_lines(d, &value), is_default));
    }
    // As Redis's rewriteConfigUserOption: the users replace every `user` line, or, with an
    // `aclfile` (None), the `user` lines go.
    desired.push(("user".to_string(), users.unwrap_or_default(), false));
    let text = config::rewrite::rewrite_config(original.as_deref(), &desired);
    config::rewrite::write_atomically(path, &text)
}

pub(crate) fn config_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    reply_help(
        c,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}
