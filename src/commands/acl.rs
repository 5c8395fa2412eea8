//! The ACL command (SETUSER, GETUSER, DELUSER, USERS, LIST, CAT, WHOAMI, GENPASS, LOG,
//! DRYRUN, LOAD, SAVE, HELP), ACL files and `user` directives, the rule parser (it needs the command table for `+cmd` and `+@category`),
//! AUTH's credential check, and `check`, the dispatcher's one call per command for a client
//! whose user is restricted. The users themselves and the checks live in `engine::acl`.

use super::{Argv, CmdError, CmdResult, Ctx, Resolved, err, registry};
use crate::engine::acl::{
    CATEGORIES, CatalogEntry, Denied, KeyPattern, LogEntry, Request, Selector, User,
};
use crate::engine::session::Session;
use tine_core::log;
use tine_core::log::Level;

/// Redis's error for one bad SETUSER rule.
fn rule_error(rule: &[u8], why: &str) -> CmdError {
    CmdError::err_echo("Error in ACL SETUSER modifier '", rule, None, &format!("': {why}"))
}

const UNKNOWN_CMD: &str = "Unknown command or category name in ACL";
const AFTER_ALLKEYS: &str = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
const AFTER_ALLCHANNELS: &str = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";

/// The command table as the rule text needs it, by registry id.
fn catalog() -> &'static [CatalogEntry] {
    static CAT: std::sync::OnceLock<Vec<CatalogEntry>> = std::sync::OnceLock::new();
    CAT.get_or_init(|| {
        registry()
            .all
            .iter()
            .map(|r| CatalogEntry {
                name: r.full_name.clone(),
                cats: r.cmd.acl,
                top: !r.full_name.contains('|'),
            })
            .collect()
    })
}

/// Ids of the registry entries (commands and subcommands) in `cat`.
fn category_ids(cat: &str) -> Vec<usize> {
    registry().all.iter().filter(|r| r.cmd.acl.contains(&cat)).map(|r| r.id).collect()
}

/// Applies one selector rule (commands, keys, channels) to `s`.
fn apply_selector_rule(s: &mut Selector, rule: &[u8]) -> Result<(), &'static str> {
    let text = String::from_utf8_lossy(rule).to_string();
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "allkeys" | "~*" => {
            s.all_keys = true;
            s.keys.clear();
            return Ok(());
        }
        "resetkeys" => {
            s.all_keys = false;
            s.keys.clear();
            return Ok(());
        }
        "allchannels" | "&*" => {
            s.all_channels = true;
            s.channels.clear();
            return Ok(());
        }
        "resetchannels" => {
            s.all_channels = false;
            s.channels.clear();
            return Ok(());
        }
        "allcommands" | "+@all" => {
            s.all_commands = true;
            s.base_all = true;
            s.allowed.iter_mut().for_each(|b| *b = true);
            s.first_args.clear();
            return Ok(());
        }
        "nocommands" | "-@all" => {
            s.all_commands = false;
            s.base_all = false;
            s.allowed.iter_mut().for_each(|b| *b = false);
            s.first_args.clear();
            return Ok(());
        }
        _ => {}
    }
    match rule.first() {
        Some(b'~') | Some(b'%') => {
            let (read, write, pat) = if rule[0] == b'~' {
                (true, true, &rule[1..])
            } else {
                let Some(t) = rule.iter().position(|&b| b == b'~') else {
                    return Err("Syntax error");
                };
                let (mut r, mut w) = (false, false);
                for &f in &rule[1..t] {
                    match f.to_ascii_uppercase() {
                        b'R' => r = true,
                        b'W' => w = true,
                        _ => return Err("Syntax error"),
                    }
                }
                if !r && !w {
                    return Err("Syntax error");
                }
                (r, w, &rule[t + 1..])
            };
            if s.all_keys {
                return Err(AFTER_ALLKEYS);
            }
            if let Some(k) = s.keys.iter_mut().find(|k| k.pattern == pat) {
                k.read |= read;
                k.write |= write;
            } else {
                s.keys.push(KeyPattern { pattern: pat.to_vec(), read, write });
            }
            Ok(())
        }
        Some(b'&') => {
            if s.all_channels {
                return Err(AFTER_ALLCHANNELS);
            }
            let pat = rule[1..].to_vec();
            if !s.channels.contains(&pat) {
                s.channels.push(pat);
            }
            Ok(())
        }
        Some(&sign @ (b'+' | b'-')) => {
            let allow = sign == b'+';
            let name = &lower[1..];
            let ids: Vec<usize> = if let Some(cat) = name.strip_prefix('@') {
                if !CATEGORIES.contains(&cat) {
                    return Err(UNKNOWN_CMD);
                }
                category_ids(cat)
            } else if let Some(bar) = name.rfind('|') {
                let reg = registry();
                let Some(parent) = reg.lookup_full(name[..bar].as_bytes()) else {
                    return Err(UNKNOWN_CMD);
                };
                if allow && parent.full_name.contains('|') {
                    return Err("Allowing first-arg of a subcommand is not supported");
                }
                if bar + 1 == name.len() {
                    return Err("Syntax error");
                }
                match reg.lookup_full(name.as_bytes()) {
                    Some(r) => vec![r.id],
                    // `+select|0`: a command without subcommands allowed for one first
                    // argument only (Redis 7.0's allowed_firstargs, deprecated there).
                    None if allow && parent.subs.is_empty() => {
                        let arg = text[1 + bar + 1..].as_bytes().to_vec();
                        log!(
                            Level::Warning,
                            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: {})",
                            text
                        );
                        let args = s.first_args.entry(parent.id).or_default();
                        if !args.iter().any(|a| a.eq_ignore_ascii_case(&arg)) {
                            args.push(arg);
                        }
                        return Ok(());
                    }
                    None => return Err(UNKNOWN_CMD),
                }
            } else {
                let reg = registry();
                let Some(r) = reg.lookup_full(name.as_bytes()) else {
                    return Err(UNKNOWN_CMD);
                };
                let mut v = vec![r.id];
                v.extend(r.subs.values().copied());
                v
            };
            for id in ids {
                if let Some(b) = s.allowed.get_mut(id) {
                    *b = allow;
                }
                // A change of the command's own permission forgets its first arguments.
                s.first_args.remove(&id);
            }
            if !allow {
                s.all_commands = false;
            }
            Ok(())
        }
        _ => Err("Syntax error"),
    }
}

/// A user as Redis's ACLCreateUser makes it: off, no password, no commands or keys, and the
/// channels `acl-pubsub-default` gives (`pubsub_all`: allchannels).
fn fresh_user(name: &str, ncommands: usize, pubsub_all: bool) -> User {
    let mut u = User::new(name, ncommands);
    u.root.all_channels = pubsub_all;
    u
}

/// Whether `acl-pubsub-default` is `allchannels`.
fn pubsub_all(config: &crate::config::Config) -> bool {
    config.acl_pubsub_default == crate::config::AclPubsubDefault::AllChannels
}

/// Applies one SETUSER rule to `u` (Redis's ACLSetUser); `pubsub_all` is what `reset`
/// gives back for channels (`acl-pubsub-default`).
fn apply_rule(u: &mut User, rule: &[u8], pubsub_all: bool) -> Result<(), &'static str> {
    let lower = String::from_utf8_lossy(rule).to_ascii_lowercase();
    match lower.as_str() {
        "on" => u.enabled = true,
        "off" => u.enabled = false,
        "nopass" => {
            u.nopass = true;
            u.passwords.clear();
        }
        "resetpass" => {
            u.nopass = false;
            u.passwords.clear();
        }
        "clearselectors" => u.selectors.clear(),
        "sanitize-payload" => u.sanitize_payload = Some(true),
        "skip-sanitize-payload" => u.sanitize_payload = Some(false),
        "reset" => {
            let n = u.root.allowed.len();
            *u = fresh_user(&u.name.clone(), n, pubsub_all);
            u.sanitize_payload = Some(true);
        }
        _ => match rule.first() {
            Some(b'>') => {
                let h = crate::engine::acl::sha256_hex(&rule[1..]);
                if !u.passwords.contains(&h) {
                    u.passwords.push(h);
                }
                u.nopass = false;
            }
            Some(b'#') => {
                let h = &rule[1..];
                if h.len() != 64
                    || !h.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                {
                    return Err(
                        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
                    );
                }
                let h = String::from_utf8_lossy(h).to_string();
                if !u.passwords.contains(&h) {
                    u.passwords.push(h);
                }
                u.nopass = false;
            }
            Some(b'<') | Some(b'!') => {
                let h = if rule[0] == b'<' {
                    crate::engine::acl::sha256_hex(&rule[1..])
                } else {
                    String::from_utf8_lossy(&rule[1..]).to_string()
                };
                let before = u.passwords.len();
                u.passwords.retain(|p| *p != h);
                if u.passwords.len() == before {
                    return Err(
                        "The password you are trying to remove from the user does not exist",
                    );
                }
            }
            Some(b'(') if rule.last() == Some(&b')') => {
                let mut s = Selector::empty(u.root.allowed.len());
                for part in rule[1..rule.len() - 1].split(|&b| b == b' ').filter(|p| !p.is_empty())
                {
                    apply_selector_rule(&mut s, part)?;
                }
                u.selectors.push(s);
            }
            _ => apply_selector_rule(&mut u.root, rule)?,
        },
    }
    Ok(())
}

/// Joins `(...)` selectors split over several arguments, as Redis's ACLMergeSelectorArguments.
fn merge_selectors(args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    for a in args {
        if let Some(mut cur) = open.take() {
            cur.push(b' ');
            cur.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.push(cur);
            } else {
                open = Some(cur);
            }
        } else if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some(a.clone());
        } else {
            out.push(a.clone());
        }
    }
    if let Some(cur) = open {
        return Err(CmdError::err_echo(
            "Unmatched parenthesis in acl selector starting at '",
            &cur,
            None,
            "'.",
        ));
    }
    Ok(out)
}

/// Keeps the default user in step with `requirepass`.
fn sync(srv: &mut Ctx<'_>) {
    let rp = srv.data.config.requirepass.clone();
    srv.data.acl.sync_requirepass(&rp);
}

/// Creates or changes a user with `rules`, all or none. Used by SETUSER and `user` lines.
pub(crate) fn set_user(srv: &mut Ctx<'_>, name: &[u8], rules: &[Vec<u8>]) -> Result<(), CmdError> {
    sync(srv);
    let rules = merge_selectors(rules)?;
    let name_s = String::from_utf8_lossy(name).to_string();
    let n = srv.data.acl.ncommands;
    let all = pubsub_all(&srv.data.config);
    let mut u =
        srv.data.acl.users.get(&name_s).cloned().unwrap_or_else(|| fresh_user(&name_s, n, all));
    for r in &rules {
        if let Err(why) = apply_rule(&mut u, r, all) {
            return Err(rule_error(r, why));
        }
    }
    // As Redis's ACLKillPubsubClientsIfNeeded: clients of the user subscribed to what it may
    // no longer subscribe to are disconnected.
    let revoked = |s: &Session| {
        s.user == name_s
            && (s.channels.iter().chain(s.shard_channels.iter()).any(|ch| !u.channel_ok(ch, false))
                || s.patterns.iter().any(|p| !u.channel_ok(p, true)))
    };
    srv.server.for_each_session(&mut |s| {
        if revoked(s) {
            s.close_asap = true;
        }
    });
    srv.data.acl.users.insert(name_s, u);
    srv.data.acl.epoch += 1;
    Ok(())
}

pub(crate) fn setuser(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv[2].iter().any(|&b| b == b' ' || b == 0) {
        return Err(CmdError::err("Usernames can't contain spaces or null characters"));
    }
    set_user(srv, &argv[2], &argv[3..])?;
    c.add_ok();
    Ok(())
}

pub(crate) fn getuser(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    sync(srv);
    let name = String::from_utf8_lossy(&argv[2]).to_string();
    let Some(u) = srv.data.acl.users.get(&name) else {
        c.add_null();
        return Ok(());
    };
    let u = u.clone();
    c.add_map(6);
    c.add_bulk(b"flags");
    let flags = u.flags();
    c.add_array(flags.len());
    for f in flags {
        c.add_bulk(f.as_bytes());
    }
    c.add_bulk(b"passwords");
    c.add_array(u.passwords.len());
    for p in &u.passwords {
        c.add_bulk(p.as_bytes());
    }
    c.add_bulk(b"commands");
    c.add_bulk(u.root.describe_commands(catalog()).as_bytes());
    c.add_bulk(b"keys");
    c.add_bulk(u.root.describe_keys().as_bytes());
    c.add_bulk(b"channels");
    c.add_bulk(u.root.describe_channels().as_bytes());
    c.add_bulk(b"selectors");
    c.add_array(u.selectors.len());
    for s in &u.selectors {
        c.add_map(3);
        c.add_bulk(b"commands");
        c.add_bulk(s.describe_commands(catalog()).as_bytes());
        c.add_bulk(b"keys");
        c.add_bulk(s.describe_keys().as_bytes());
        c.add_bulk(b"channels");
        c.add_bulk(s.describe_channels().as_bytes());
    }
    Ok(())
}

pub(crate) fn deluser(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    sync(srv);
    if argv[2..].iter().any(|n| n == b"default") {
        return Err(CmdError::err("The 'default' user cannot be removed"));
    }
    let mut deleted = 0;
    for n in &argv[2..] {
        let name = String::from_utf8_lossy(n).to_string();
        if srv.data.acl.users.remove(&name).is_some() {
            deleted += 1;
            // Clients authenticated as the user are disconnected (ACLFreeUserAndKillClients).
            srv.server.for_each_session(&mut |s| {
                if s.user == name {
                    s.close_asap = true;
                }
            });
            if c.user == name {
                c.close_after_reply = true;
            }
        }
    }
    srv.data.acl.epoch += 1;
    c.add_int(deleted);
    Ok(())
}

pub(crate) fn users(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    sync(srv);
    let names: Vec<Vec<u8>> = srv.data.acl.users.keys().map(|k| k.as_bytes().to_vec()).collect();
    c.add_bulk_array(names.iter());
    Ok(())
}

pub(crate) fn list(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    sync(srv);
    let lines: Vec<String> =
        srv.data.acl.users.values().map(|u| format!("user {}", u.describe(catalog()))).collect();
    c.add_bulk_array(lines.iter().map(|l| l.as_bytes()));
    Ok(())
}

pub(crate) fn cat(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::err_echo(
            "unknown subcommand or wrong number of arguments for '",
            &argv[1],
            None,
            "'. Try ACL HELP.",
        ));
    }
    if argv.len() == 2 {
        c.add_bulk_array(CATEGORIES.iter().map(|s| s.as_bytes()));
        return Ok(());
    }
    let cat = String::from_utf8_lossy(&argv[2]).to_ascii_lowercase();
    if !CATEGORIES.contains(&cat.as_str()) {
        return Err(CmdError::err_echo("Unknown category '", &argv[2], None, "'"));
    }
    let names: Vec<String> = registry()
        .all
        .iter()
        .filter(|r| r.cmd.acl.contains(&cat.as_str()))
        .map(|r| r.full_name.clone())
        .collect();
    c.add_bulk_array(names.iter().map(|n| n.as_bytes()));
    Ok(())
}

pub(crate) fn whoami(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let u = c.user.clone();
    c.add_bulk(u.as_bytes());
    Ok(())
}

pub(crate) fn genpass(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let bits = if argv.len() > 2 {
        match tine_core::base::parse_i64(&argv[2]) {
            Some(b) if (1..=4096).contains(&b) => b,
            Some(_) => {
                return Err(CmdError::err(
                    "ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                ));
            }
            None => return Err(err::NOT_INTEGER),
        }
    } else {
        256
    };
    let chars = ((bits + 3) / 4) as usize;
    let mut s = String::with_capacity(chars);
    while s.len() < chars {
        s.push_str(&format!("{:016x}", rand::random::<u64>()));
    }
    s.truncate(chars);
    c.add_bulk(s.as_bytes());
    Ok(())
}

pub(crate) fn log(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::err("wrong number of arguments for 'acl|log' command"));
    }
    let mut count = usize::MAX;
    if argv.len() == 3 {
        if argv[2].eq_ignore_ascii_case(b"reset") {
            srv.data.acl.log.clear();
            c.add_ok();
            return Ok(());
        }
        match tine_core::base::parse_i64(&argv[2]) {
            Some(n) if n >= 0 => count = n as usize,
            _ => return Err(err::NOT_INTEGER),
        }
    }
    let now = tine_core::base::mstime();
    let entries: Vec<LogEntry> = srv.data.acl.log.iter().take(count).cloned().collect();
    c.add_array(entries.len());
    for e in entries {
        c.add_map(7);
        c.add_bulk(b"count");
        c.add_int(e.count as i64);
        c.add_bulk(b"reason");
        c.add_bulk(e.reason.as_bytes());
        c.add_bulk(b"context");
        c.add_bulk(e.context.as_bytes());
        c.add_bulk(b"object");
        c.add_bulk(&e.object);
        c.add_bulk(b"username");
        c.add_bulk(&e.username);
        c.add_bulk(b"age-seconds");
        c.add_double((now - e.ctime_ms) as f64 / 1000.0);
        c.add_bulk(b"client-info");
        c.add_bulk(e.client_info.as_bytes());
    }
    Ok(())
}

pub(crate) fn dryrun(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    sync(srv);
    let name = String::from_utf8_lossy(&argv[2]).to_string();
    let Some(u) = srv.data.acl.users.get(&name).cloned() else {
        return Err(CmdError::err_echo("User '", &argv[2], None, "' not found"));
    };
    let cmd_argv = &argv[3..];
    let r = super::resolve(registry(), cmd_argv)?;
    match check_user(&u, r, cmd_argv) {
        Ok(()) => c.add_ok(),
        Err(d) => {
            let text = match d {
                Denied::Command => {
                    format!("This user has no permissions to run the '{}' command", r.full_name)
                }
                Denied::Key(p) => format!(
                    "This user has no permissions to access the '{}' key",
                    String::from_utf8_lossy(&cmd_argv[p])
                ),
                Denied::Channel(p) => format!(
                    "This user has no permissions to access the '{}' channel",
                    String::from_utf8_lossy(&cmd_argv[p])
                ),
            };
            c.add_bulk(text.as_bytes());
        }
    }
    Ok(())
}

/// Redis's answer to ACL LOAD and ACL SAVE without an `aclfile`.
const NO_ACL_FILE: &str = "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// Redis's last words on an ACL file with errors.
const NO_CHANGE: &str =
    "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";

/// The users of an ACL file's text, as Redis's ACLLoadFromFile reads them: one `user <name>
/// <rules...>` per line (empty lines skipped), every error collected, each in Redis's words
/// with the file name as configured; none applied when there is one. A file without a
/// `default` user gets Redis's default one (on, nopass, everything).
pub(crate) fn users_from_acl_file(
    text: &str,
    filename: &str,
    ncommands: usize,
    pubsub_all: bool,
) -> Result<std::collections::BTreeMap<String, User>, String> {
    let mut users = std::collections::BTreeMap::new();
    let mut errors = String::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if line.is_empty() {
            continue;
        }
        let Ok(args) = tine_core::base::quote::split_args(line.as_bytes()) else {
            errors.push_str(&format!("{filename}:{line_no}: Syntax error. "));
            continue;
        };
        if args.is_empty() {
            continue;
        }
        if args.len() < 2 || args[0] != b"user" {
            errors.push_str(&format!(
                "{filename}:{line_no} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = String::from_utf8_lossy(&args[1]).into_owned();
        if users.contains_key(&name) {
            errors.push_str(&format!("WARNING: Duplicate user '{name}' found on line {line_no}. "));
            continue;
        }
        let mut u = fresh_user(&name, ncommands, pubsub_all);
        match merge_selectors(&args[2..]) {
            Err(_) => errors.push_str(&format!(
                "{filename}:{line_no}: Unmatched parenthesis in selector definition."
            )),
            Ok(rules) => {
                for r in &rules {
                    if let Err(why) = apply_rule(&mut u, r, pubsub_all) {
                        errors.push_str(&format!(
                            "{filename}:{line_no}: Error in applying operation '{}': {why}. ",
                            String::from_utf8_lossy(r)
                        ));
                    }
                }
            }
        }
        users.insert(name, u);
    }
    if !errors.is_empty() {
        errors.push_str(NO_CHANGE);
        return Err(errors);
    }
    users.entry("default".to_string()).or_insert_with(|| default_user(ncommands));
    Ok(users)
}

/// Redis's ACLCreateDefaultUser: on, nopass, all keys, all channels, all commands.
fn default_user(ncommands: usize) -> User {
    crate::engine::acl::Acl::new(ncommands).users.remove("default").expect("default user")
}

/// Reads and parses `aclfile` (Redis's ACLLoadFromFile), without applying it.
fn read_acl_file(
    config: &crate::config::Config,
    ncommands: usize,
) -> Result<std::collections::BTreeMap<String, User>, String> {
    let name = &config.aclfile;
    let text = std::fs::read(name).map_err(|e| {
        format!("Error loading ACLs, opening file '{name}': {}", tine_core::base::strerror(&e))
    })?;
    users_from_acl_file(&String::from_utf8_lossy(&text), name, ncommands, pubsub_all(config))
}

/// ACL LOAD's replacement of the users. As Redis: every old user is freed and the clients
/// authenticated as one are disconnected, except the default user's, which takes the new
/// default's rules in place.
fn install_users(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    users: std::collections::BTreeMap<String, User>,
) {
    set_users(srv.data, users);
    srv.server.for_each_session(&mut |s| {
        if s.user != "default" {
            s.close_asap = true;
        }
    });
    if c.user != "default" {
        c.close_after_reply = true;
    }
}

/// Puts a new set of users in place; `requirepass` no longer overrides the default user.
fn set_users(data: &mut super::data::Data, users: std::collections::BTreeMap<String, User>) {
    data.acl.users = users;
    data.acl.requirepass_seen = data.config.requirepass.clone();
    data.acl.epoch += 1;
}

/// ACL LOAD: the users of `aclfile` replace the current ones, all or none.
pub(crate) fn load(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    if srv.data.config.aclfile.is_empty() {
        return Err(CmdError::err(NO_ACL_FILE));
    }
    let users =
        read_acl_file(&srv.data.config, srv.data.acl.ncommands).map_err(|e| CmdError::err(&e))?;
    install_users(srv, c, users);
    c.add_ok();
    Ok(())
}

/// ACL SAVE: every user as an ACL LIST line into `aclfile`, replaced atomically (a failed
/// save leaves the old file).
pub(crate) fn save(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    if srv.data.config.aclfile.is_empty() {
        return Err(CmdError::err(NO_ACL_FILE));
    }
    sync(srv);
    let mut text = String::new();
    for u in srv.data.acl.users.values() {
        text.push_str(&format!("user {}\n", u.describe(catalog())));
    }
    let path = std::path::Path::new(&srv.data.config.aclfile);
    if let Err(e) = crate::config::rewrite::write_atomically(path, &text) {
        log!(Level::Warning, "Saving the ACL file '{}': {}", srv.data.config.aclfile, e);
        return Err(CmdError::err(
            "There was an error trying to save the ACLs. Please check the server logs for more information",
        ));
    }
    c.add_ok();
    Ok(())
}

/// The users as CONFIG REWRITE writes them (`user` lines), or None with an `aclfile`, whose
/// users are not the config file's (Redis's rewriteConfigUserOption).
pub(crate) fn config_user_lines(srv: &mut Ctx<'_>) -> Option<Vec<String>> {
    if !srv.data.config.aclfile.is_empty() {
        return None;
    }
    sync(srv);
    Some(srv.data.acl.users.values().map(|u| format!("user {}", u.describe(catalog()))).collect())
}

/// The users at startup (Redis's ACLLoadUsersAtStartup): `user` directives of the
/// configuration, or `aclfile`, never both. Err is what to log before exiting.
pub(crate) fn load_at_startup(
    data: &mut super::data::Data,
    user_lines: &[Vec<Vec<u8>>],
) -> Result<(), String> {
    let aclfile = !data.config.aclfile.is_empty();
    if aclfile && !user_lines.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let all = pubsub_all(&data.config);
    let n = data.acl.ncommands;
    let rp = data.config.requirepass.clone();
    data.acl.sync_requirepass(&rp);
    const CRITICAL: &str = "\nCritical error while loading ACLs. Exiting.";
    for line in user_lines {
        let name = String::from_utf8_lossy(&line[0]).into_owned();
        // The default user is reset first when the configuration defines it.
        let mut u = match data.acl.users.get(&name) {
            Some(d) if name == "default" => {
                let mut d = d.clone();
                apply_rule(&mut d, b"reset", all).expect("reset is always valid");
                d
            }
            _ => fresh_user(&name, n, all),
        };
        let rules = merge_selectors(&line[1..]).map_err(|_| {
            format!("Unmatched parenthesis in acl selector for the user named '{name}'{CRITICAL}")
        })?;
        for r in rules {
            if let Err(why) = apply_rule(&mut u, &r, all) {
                return Err(format!(
                    "Error loading ACL rule '{}' for the user named '{name}': {why}{CRITICAL}",
                    String::from_utf8_lossy(&r)
                ));
            }
        }
        data.acl.users.insert(name, u);
    }
    if aclfile {
        let users = read_acl_file(&data.config, n)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        set_users(data, users);
    }
    data.acl.epoch += 1;
    Ok(())
}

pub(crate) fn help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    super::reply_help(
        c,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}

/// Checks `argv` (command `r`) against user `u`: keys from the table, channels of the
/// pub/sub commands.
pub(crate) fn check_user(u: &User, r: &Resolved, argv: &Argv) -> Result<(), Denied> {
    let keys = super::key_positions(r.cmd, argv).unwrap_or_default();
    let (channels, patterns): (Vec<usize>, bool) = match r.full_name.as_str() {
        "publish" | "spublish" => (vec![1], false),
        "subscribe" | "ssubscribe" => ((1..argv.len()).collect(), false),
        "psubscribe" => ((1..argv.len()).collect(), true),
        _ => (vec![], false),
    };
    let write = r.flags & super::flag::WRITE != 0;
    let q = Request {
        id: r.id,
        argv,
        keys: &keys,
        read: !write,
        write,
        channels: &channels,
        channel_patterns: patterns,
    };
    u.check(&q)
}

/// The dispatcher's ACL check, for a client whose cached flag does not say "unrestricted".
/// Refreshes that flag; on a denial, logs it (ACL LOG) and returns Redis's NOPERM error.
pub(crate) fn check(srv: &mut Ctx<'_>, c: &mut Session, r: &Resolved, argv: &Argv) -> CmdResult {
    if c.acl_epoch != srv.data.acl.epoch {
        c.acl_epoch = srv.data.acl.epoch;
        c.acl_free = srv.data.acl.users.get(&c.user).map(|u| u.unrestricted()).unwrap_or(false);
        if c.acl_free {
            return Ok(());
        }
    }
    // Commands flagged no_auth (AUTH, HELLO) are open to every user, as Redis.
    if r.flags & super::flag::NO_AUTH != 0 {
        return Ok(());
    }
    let Some(u) = srv.data.acl.users.get(&c.user) else {
        return Err(CmdError::new(
            "NOPERM",
            "NOPERM this user has no permissions to run this command",
        ));
    };
    let Err(d) = check_user(u, r, argv) else {
        return Ok(());
    };
    let (reason, object, e) = match d {
        Denied::Command => (
            "command",
            r.full_name.as_bytes().to_vec(),
            CmdError::owned(
                "NOPERM",
                format!("NOPERM this user has no permissions to run the '{}' command", r.full_name),
            ),
        ),
        Denied::Key(p) => (
            "key",
            argv[p].clone(),
            CmdError::new(
                "NOPERM",
                "NOPERM this user has no permissions to access one of the keys used as arguments",
            ),
        ),
        Denied::Channel(p) => (
            "channel",
            argv[p].clone(),
            CmdError::new(
                "NOPERM",
                "NOPERM this user has no permissions to access one of the channels used as arguments",
            ),
        ),
    };
    let context = if c.in_exec || c.multi.is_some() { "multi" } else { "toplevel" };
    let username = c.user.as_bytes().to_vec();
    add_log(srv, c, reason, context, object, username);
    if c.in_exec {
        return Err(CmdError::new(
            "NOPERM",
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and its execution",
        ));
    }
    Err(e)
}

/// Adds an ACL LOG entry for client `c`.
fn add_log(
    srv: &mut Ctx<'_>,
    c: &Session,
    reason: &'static str,
    context: &'static str,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let now = tine_core::base::mstime();
    let client_info = srv.server.client_info(c, now / 1000);
    let max = srv.data.config.acllog_max_len.max(0) as usize;
    let e = LogEntry { count: 1, reason, context, object, username, ctime_ms: now, client_info };
    srv.data.acl.add_log(e, max);
}

/// True when a new connection must AUTH first (the default user is off or has a password).
pub(crate) fn auth_required(srv: &Ctx<'_>) -> bool {
    srv.data.acl.auth_required(&srv.data.config.requirepass)
}

/// Checks credentials for AUTH and HELLO (`user` None: the default user); on success the
/// client runs as that user. A failure is logged (reason `auth`) and answered -WRONGPASS.
pub(crate) fn authenticate(
    srv: &mut Ctx<'_>,
    c: &mut Session,
    user: Option<&[u8]>,
    pass: &[u8],
) -> CmdResult {
    sync(srv);
    let name = String::from_utf8_lossy(user.unwrap_or(b"default")).to_string();
    let ok = srv.data.acl.users.get(&name).map(|u| u.password_ok(pass)).unwrap_or(false);
    if !ok {
        let context = if c.multi.is_some() { "multi" } else { "toplevel" };
        add_log(srv, c, "auth", context, b"AUTH".to_vec(), name.into_bytes());
        return Err(err::WRONGPASS);
    }
    c.user = name;
    c.acl_epoch = 0;
    c.authenticated = true;
    Ok(())
}
