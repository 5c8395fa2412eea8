//! Connection commands: PING, ECHO, QUIT, RESET, AUTH, SELECT, HELLO and the CLIENT family.

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::commands::data::PauseKind;
use crate::engine::session::{ClientKind, ReplyMode, Session};
use tine_core::base::{self, parse_i64};
use tine_core::protocol::Resp;

const NOPROTO: CmdError = CmdError::new("NOPROTO", "NOPROTO unsupported protocol version");
const HELLO_NOAUTH: CmdError = CmdError::new(
    "NOAUTH",
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
);
const BAD_CLIENT_NAME: CmdError =
    CmdError::new("ERR", "ERR Client names cannot contain spaces, newlines or special characters.");

/// READONLY, READWRITE: cluster commands; tine has no cluster mode, so Redis's answer for a
/// server started without `cluster-enabled`.
pub(crate) fn cluster_disabled(_srv: &mut Ctx<'_>, _c: &mut Session, _argv: &Argv) -> CmdResult {
    Err(CmdError::err("This instance has cluster support disabled"))
}

pub(crate) fn ping(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() > 2 {
        return Err(CmdError::err("wrong number of arguments for 'ping' command"));
    }
    // A RESP2 client in subscribed state gets ["pong", msg], as Redis.
    if c.resp == Resp::V2 && !(c.channels.is_empty() && c.patterns.is_empty()) {
        c.add_array(2);
        c.add_bulk(b"pong");
        c.add_bulk(argv.get(1).map(|m| m.as_slice()).unwrap_or(b""));
        return Ok(());
    }
    match argv.get(1) {
        Some(msg) => c.add_bulk(msg),
        None => c.add_simple("PONG"),
    }
    Ok(())
}

pub(crate) fn echo(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    c.add_bulk(&argv[1]);
    Ok(())
}

pub(crate) fn quit(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    c.add_ok();
    c.close_after_reply = true;
    Ok(())
}

/// RESET: back to a fresh connection's state, as Redis's clearClientConnectionState.
pub(crate) fn reset(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    c.multi = None;
    crate::commands::tracking::disable(srv, c);
    crate::engine::pubsub::forget_client(srv, c);
    c.channels.clear();
    c.patterns.clear();
    c.shard_channels.clear();
    if c.kind == ClientKind::PubSub {
        c.kind = ClientKind::Normal;
    }
    crate::commands::multi::unwatch_all(srv, c);
    c.db = 0;
    c.resp = Resp::V2;
    c.name.clear();
    c.reply_mode = ReplyMode::On;
    c.no_evict = false;
    if c.monitor {
        c.monitor = false;
        srv.data.monitors.retain(|&s| s != c.slot);
    }
    c.user = "default".to_string();
    c.acl_epoch = 0;
    c.authenticated = !super::auth_required(srv);
    c.add_simple("RESET");
    Ok(())
}

pub(crate) fn auth(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(err::SYNTAX);
    }
    if argv.len() == 2 && !super::auth_required(srv) {
        return Err(CmdError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    let (user, pass) =
        if argv.len() == 3 { (Some(&argv[1][..]), &argv[2]) } else { (None, &argv[1]) };
    if let Err(e) = super::acl::authenticate(srv, c, user, pass) {
        tine_core::log!(tine_core::log::Level::Verbose, "AUTH failed for client id={}", c.id);
        return Err(e);
    }
    c.add_ok();
    Ok(())
}

pub(crate) fn select(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let Some(id) = parse_i64(&argv[1]) else {
        return Err(err::NOT_INTEGER);
    };
    if id < 0 || id as usize >= srv.data.keyspace.len() {
        return Err(err::DB_INDEX);
    }
    c.db = id as usize;
    c.add_ok();
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub(crate) fn hello(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut ver = None;
    let mut i = 1;
    if argv.len() >= 2 {
        match parse_i64(&argv[1]) {
            Some(v) => ver = Some(v),
            None => {
                return Err(CmdError::err("Protocol version is not an integer or out of range"));
            }
        }
        i = 2;
        if !(2..=3).contains(&ver.unwrap()) {
            return Err(NOPROTO);
        }
    }
    let mut setname = None;
    while i < argv.len() {
        let opt = base::lower(&argv[i]);
        let left = argv.len() - i - 1;
        if opt == "auth" && left >= 2 {
            super::acl::authenticate(srv, c, Some(&argv[i + 1]), &argv[i + 2])?;
            i += 3;
        } else if opt == "setname" && left >= 1 {
            if !valid_client_name(&argv[i + 1]) {
                return Err(BAD_CLIENT_NAME);
            }
            setname = Some(argv[i + 1].clone());
            i += 2;
        } else {
            return Err(CmdError::err_echo("Syntax error in HELLO option '", &argv[i], None, "'"));
        }
    }
    if !c.authenticated && super::auth_required(srv) {
        return Err(HELLO_NOAUTH);
    }
    if let Some(n) = setname {
        c.name = n;
    }
    if let Some(v) = ver {
        c.resp = if v == 3 { Resp::V3 } else { Resp::V2 };
    }
    c.add_map(7);
    c.add_bulk(b"server");
    c.add_bulk(b"redis");
    c.add_bulk(b"version");
    c.add_bulk(crate::REDIS_VERSION.as_bytes());
    c.add_bulk(b"proto");
    c.add_int(if c.resp == Resp::V3 { 3 } else { 2 });
    c.add_bulk(b"id");
    c.add_int(c.id as i64);
    c.add_bulk(b"mode");
    c.add_bulk(b"standalone");
    c.add_bulk(b"role");
    c.add_bulk(b"master");
    c.add_bulk(b"modules");
    c.add_array(0);
    Ok(())
}

/// Client names are printable ASCII without spaces.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

pub(crate) fn client_id(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    c.add_int(c.id as i64);
    Ok(())
}

pub(crate) fn client_setname(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if !valid_client_name(&argv[2]) {
        return Err(BAD_CLIENT_NAME);
    }
    c.name = argv[2].clone();
    c.add_ok();
    Ok(())
}

pub(crate) fn client_getname(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    if c.name.is_empty() {
        c.add_null();
    } else {
        let n = c.name.clone();
        c.add_bulk(&n);
    }
    Ok(())
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]
pub(crate) fn client_list(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut type_filter = None;
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < argv.len() {
        let opt = base::lower(&argv[i]);
        if opt == "type" && i + 1 < argv.len() {
            match parse_kind(&argv[i + 1]) {
                Some(k) => type_filter = Some(k),
                None => {
                    return Err(CmdError::err_echo(
                        "Unknown client type '",
                        &argv[i + 1],
                        None,
                        "'",
                    ));
                }
            }
            i += 2;
        } else if opt == "id" && i + 1 < argv.len() {
            let mut v = Vec::new();
            for a in &argv[i + 1..] {
                match parse_i64(a).filter(|&n| n > 0) {
                    Some(n) => v.push(n as u64),
                    None => return Err(CmdError::err("Invalid client ID")),
                }
            }
            ids = Some(v);
            i = argv.len();
        } else {
            return Err(err::SYNTAX);
        }
    }
    let now = base::unix_time();
    // The caller's line shows this command as running.
    let keep = |x: &Session| {
        type_filter.is_none_or(|k| x.kind == k) && ids.as_ref().is_none_or(|v| v.contains(&x.id))
    };
    let out = srv.server.client_list(c, now, &keep);
    c.add_verbatim(out.as_bytes());
    Ok(())
}

pub(crate) fn client_info(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let line = format!("{}\n", srv.server.client_info(c, base::unix_time()));
    c.add_verbatim(line.as_bytes());
    Ok(())
}

fn parse_kind(b: &[u8]) -> Option<ClientKind> {
    match base::lower(b).as_str() {
        "normal" => Some(ClientKind::Normal),
        "master" => Some(ClientKind::Primary),
        "replica" | "slave" => Some(ClientKind::Replica),
        "pubsub" => Some(ClientKind::PubSub),
        _ => None,
    }
}

/// CLIENT KILL addr | CLIENT KILL [ID id] [ADDR a] [LADDR a] [TYPE t] [USER u] [SKIPME yes|no]
pub(crate) fn client_kill(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    #[derive(Default)]
    struct Filter {
        id: Option<u64>,
        addr: Option<String>,
        laddr: Option<String>,
        kind: Option<ClientKind>,
        user: Option<Vec<u8>>,
        skipme: bool,
    }
    let old_style = argv.len() == 3;
    let mut f = Filter { skipme: true, ..Default::default() };
    if old_style {
        f.addr = Some(String::from_utf8_lossy(&argv[2]).into_owned());
        f.skipme = false;
    } else {
        if argv.len() % 2 != 0 {
            return Err(err::SYNTAX);
        }
        for pair in argv[2..].chunks(2) {
            let (opt, val) = (base::lower(&pair[0]), &pair[1]);
            match opt.as_str() {
                "id" => match parse_i64(val).filter(|&n| n > 0) {
                    Some(n) => f.id = Some(n as u64),
                    None => return Err(CmdError::err("client-id should be greater than 0")),
                },
                "addr" => f.addr = Some(String::from_utf8_lossy(val).into_owned()),
                "laddr" => f.laddr = Some(String::from_utf8_lossy(val).into_owned()),
                "type" => match parse_kind(val) {
                    Some(k) => f.kind = Some(k),
                    None => {
                        return Err(CmdError::err_echo("Unknown client type '", val, None, "'"));
                    }
                },
                "user" => {
                    if val.as_slice() != b"default" {
                        return Err(CmdError::err_echo("No such user '", val, None, "'"));
                    }
                    f.user = Some(val.clone());
                }
                "skipme" => match base::lower(val).as_str() {
                    "yes" => f.skipme = true,
                    "no" => f.skipme = false,
                    _ => return Err(err::SYNTAX),
                },
                _ => return Err(err::SYNTAX),
            }
        }
    }
    let matches = |x: &Session| {
        f.id.is_none_or(|id| x.id == id)
            && f.addr.as_ref().is_none_or(|a| &x.addr == a)
            && f.laddr.as_ref().is_none_or(|a| &x.laddr == a)
            && f.kind.is_none_or(|k| x.kind == k)
    };
    let mut killed = 0;
    srv.server.for_each_session(&mut |x| {
        if matches(x) {
            x.close_asap = true;
            killed += 1;
        }
    });
    if matches(c) && !f.skipme {
        c.close_after_reply = true;
        killed += 1;
    }
    if old_style {
        if killed == 0 {
            return Err(CmdError::err("No such client"));
        }
        c.add_ok();
    } else {
        c.add_int(killed);
    }
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]
pub(crate) fn client_pause(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let Some(ms) = parse_i64(&argv[2]) else {
        return Err(CmdError::err("timeout is not an integer or out of range"));
    };
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let kind = match argv.get(3).map(|a| base::lower(a)) {
        None => PauseKind::All,
        Some(s) if s == "all" => PauseKind::All,
        Some(s) if s == "write" => PauseKind::Write,
        Some(_) => return Err(CmdError::err("CLIENT PAUSE mode must be WRITE or ALL")),
    };
    if argv.len() > 4 {
        return Err(err::SYNTAX);
    }
    let until = base::mstime() + ms;
    // A pause never shortens one in force, and ALL wins over WRITE (Redis's pauseClients).
    let (kind, until) = match srv.data.pause {
        Some((k, u)) => (if k == PauseKind::All { PauseKind::All } else { kind }, u.max(until)),
        None => (kind, until),
    };
    srv.data.pause = Some((kind, until));
    c.add_ok();
    Ok(())
}

pub(crate) fn client_unpause(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    srv.end_pause();
    c.add_ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP
pub(crate) fn client_reply(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match base::lower(&argv[2]).as_str() {
        "on" => {
            c.reply_mode = ReplyMode::On;
            c.add_ok();
        }
        "off" => c.reply_mode = ReplyMode::Off,
        "skip" => {
            if c.reply_mode == ReplyMode::On || c.reply_mode == ReplyMode::Skipping {
                c.reply_mode = ReplyMode::SkipNext;
            }
        }
        _ => return Err(err::SYNTAX),
    }
    Ok(())
}

pub(crate) fn client_no_evict(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    match base::lower(&argv[2]).as_str() {
        "on" => {
            c.no_evict = true;
            c.add_ok();
        }
        "off" => {
            c.no_evict = false;
            c.add_ok();
        }
        _ => return Err(err::SYNTAX),
    }
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when that client was blocked and now is not.
pub(crate) fn client_unblock(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let Some(id) = base::parse_i64(&argv[2]) else {
        return Err(err::NOT_INTEGER);
    };
    let error = match argv.get(3).map(|a| base::lower(a)) {
        None => false,
        Some(r) if r == "timeout" && argv.len() == 4 => false,
        Some(r) if r == "error" && argv.len() == 4 => true,
        Some(_) => return Err(CmdError::err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let done = id >= 0 && crate::engine::blocking::unblock(srv, id as u64, error);
    c.add_int(done as i64);
    Ok(())
}

/// Redis 7.0.15's text.
pub(crate) fn client_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    super::reply_help(
        c,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}
