//! MIGRATE: moves (or copies) keys to another server by sending it RESTORE commands over a
//! plain connection, as Redis's migrateCommand: synchronously, with the caller's timeout, the
//! connection kept for 10 s in a small cache keyed by host:port (INFO
//! `migrate_cached_sockets`) together with the database last selected there. A key is deleted
//! here only once the target acknowledged its RESTORE, and the command propagates as a DEL of
//! exactly those keys.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::engine::session::Session;
use tine_core::base::{self, parse_i64};

/// How long an unused cached connection stays open (Redis's MIGRATE_SOCKET_CACHE_TTL).
const CACHE_TTL_SECS: i64 = 10;
/// At most this many cached connections (Redis's MIGRATE_SOCKET_CACHE_ITEMS).
const CACHE_ITEMS: usize = 64;

/// One cached connection to a target.
struct Cached {
    stream: TcpStream,
    /// The database selected on it, -1 when unknown (after an error).
    last_dbid: i64,
    last_use: i64,
}

/// The connections MIGRATE keeps, by "host:port".
#[derive(Default)]
pub(crate) struct Sockets(HashMap<String, Cached>);

impl Sockets {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Closes the connections unused for `CACHE_TTL_SECS` (cron, once a second).
    pub(crate) fn close_idle(&mut self, now: i64) {
        self.0.retain(|_, c| now - c.last_use <= CACHE_TTL_SECS);
    }
}

/// What MIGRATE's arguments ask.
struct Request<'a> {
    copy: bool,
    replace: bool,
    /// AUTH password, or AUTH2 user and password.
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    dbid: i64,
    timeout: Duration,
    keys: &'a [Vec<u8>],
}

fn parse(argv: &Argv) -> Result<Request<'_>, CmdError> {
    let (mut copy, mut replace, mut auth) = (false, false, None);
    let mut keys = &argv[3..4];
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        match base::lower(&argv[j]).as_str() {
            "copy" => copy = true,
            "replace" => replace = true,
            "auth" if more >= 1 => {
                auth = Some((None, argv[j + 1].as_slice()));
                j += 1;
            }
            "auth2" if more >= 2 => {
                auth = Some((Some(argv[j + 1].as_slice()), argv[j + 2].as_slice()));
                j += 2;
            }
            "keys" => {
                if !argv[3].is_empty() {
                    return Err(CmdError::err(
                        "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                    ));
                }
                keys = &argv[j + 1..];
                break;
            }
            _ => return Err(err::SYNTAX),
        }
        j += 1;
    }
    let timeout = parse_i64(&argv[5]).ok_or(err::NOT_INTEGER)?;
    let dbid = parse_i64(&argv[4]).ok_or(err::NOT_INTEGER)?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    Ok(Request { copy, replace, auth, dbid, timeout, keys })
}

/// Appends one command in RESP to `out`.
fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Why a transfer failed on the socket: a timeout is not retried.
struct SocketError {
    writing: bool,
    timed_out: bool,
}

fn socket_error(e: &io::Error, writing: bool) -> SocketError {
    let timed_out = matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut);
    SocketError { writing, timed_out }
}

/// How a connection attempt failed.
enum ConnectError {
    /// No address, or no answer within the timeout: "error or timeout connecting".
    Unreachable,
    /// Refused or reset: Redis's blocking connect only waits for the socket to be writable,
    /// so it learns this when it writes ("error or timeout writing", after one retry).
    Refused,
}

/// Connects to host:port within `timeout` (Redis's migrateGetSocket without the cache).
fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<TcpStream, ConnectError> {
    let host = std::str::from_utf8(host).map_err(|_| ConnectError::Unreachable)?;
    let port: u16 = std::str::from_utf8(port)
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or(ConnectError::Unreachable)?;
    let addr = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or(ConnectError::Unreachable)?;
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(stream) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
            Err(ConnectError::Unreachable)
        }
        Err(_) => Err(ConnectError::Refused),
    }
}

const CONNECT_ERROR: CmdError =
    CmdError::new("IOERR", "IOERR error or timeout connecting to the client");
const WRITE_ERROR: CmdError =
    CmdError::new("IOERR", "IOERR error or timeout writing to target instance");
const READ_ERROR: CmdError =
    CmdError::new("IOERR", "IOERR error or timeout reading to target instance");

pub(crate) fn migrate(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let req = parse(argv)?;
    // The keys that exist now; none is not an error (they may just have expired).
    let present: Vec<&Vec<u8>> =
        req.keys.iter().filter(|k| srv.lookup_read(c.db, k).is_some()).collect();
    if present.is_empty() {
        c.add_simple("NOKEY");
        return Ok(());
    }
    let name =
        format!("{}:{}", String::from_utf8_lossy(&argv[1]), String::from_utf8_lossy(&argv[2]));
    let mut may_retry = true;
    loop {
        // The cached connection, or a new one (one of the cache dropped when full).
        let now = base::unix_time();
        if !srv.data.migrate_sockets.0.contains_key(&name) {
            let stream = match connect(&argv[1], &argv[2], req.timeout) {
                Ok(stream) => stream,
                Err(ConnectError::Unreachable) => return Err(CONNECT_ERROR),
                Err(ConnectError::Refused) if may_retry => {
                    may_retry = false;
                    continue;
                }
                Err(ConnectError::Refused) => return Err(WRITE_ERROR),
            };
            let cache = &mut srv.data.migrate_sockets.0;
            if cache.len() >= CACHE_ITEMS {
                if let Some(k) = cache.keys().next().cloned() {
                    cache.remove(&k);
                }
            }
            cache.insert(name.clone(), Cached { stream, last_dbid: -1, last_use: now });
        }
        let (stream, last_dbid) = {
            let cs = srv.data.migrate_sockets.0.get_mut(&name).expect("just inserted");
            cs.last_use = now;
            (cs.stream.try_clone(), cs.last_dbid)
        };
        let Ok(stream) = stream else {
            srv.data.migrate_sockets.0.remove(&name);
            return Err(CONNECT_ERROR);
        };
        match transfer(srv, c, &req, &present, stream, last_dbid) {
            Ok(Transferred { acked, target_error }) => {
                if !req.copy {
                    delete_moved(srv, c.db, &acked);
                }
                if let Some(cs) = srv.data.migrate_sockets.0.get_mut(&name) {
                    cs.last_dbid = if target_error.is_some() { -1 } else { req.dbid };
                }
                return match target_error {
                    Some(e) => {
                        Err(CmdError::err(&format!("Target instance replied with error: {}", e)))
                    }
                    None => {
                        c.add_ok();
                        Ok(())
                    }
                };
            }
            Err((e, acked)) => {
                srv.data.migrate_sockets.0.remove(&name);
                // Keys the target acknowledged before the failure are moved all the same.
                if !req.copy {
                    delete_moved(srv, c.db, &acked);
                }
                // A stale cached connection is common: retry once on a fresh one, unless it
                // timed out or the target already took something.
                if may_retry && !e.timed_out && acked.is_empty() {
                    may_retry = false;
                    continue;
                }
                return Err(if e.writing { WRITE_ERROR } else { READ_ERROR });
            }
        }
    }
}

/// Deletes the keys the target took, and propagates them as one DEL (not as MIGRATE).
fn delete_moved(srv: &mut Ctx<'_>, db: usize, moved: &[&[u8]]) {
    if moved.is_empty() {
        return;
    }
    let mut del = vec![b"DEL".to_vec()];
    for k in moved {
        srv.data.keyspace.delete(db, k);
        srv.data.dirty += 1;
        del.push(k.to_vec());
    }
    srv.data.prop.propagate_as(del);
}

/// The outcome of a transfer whose replies were all read.
struct Transferred<'a> {
    /// Keys whose RESTORE the target acknowledged.
    acked: Vec<&'a [u8]>,
    /// The first error the target replied (AUTH, SELECT or a RESTORE), without its '-'.
    target_error: Option<String>,
}

/// Sends AUTH, SELECT (unless already selected) and a RESTORE per key still alive, then reads
/// the replies. `Err`: the socket failed, with the keys acknowledged before it did.
fn transfer<'a>(
    srv: &mut Ctx<'_>,
    c: &Session,
    req: &Request<'_>,
    keys: &[&'a Vec<u8>],
    stream: TcpStream,
    last_dbid: i64,
) -> Result<Transferred<'a>, (SocketError, Vec<&'a [u8]>)> {
    let mut out = Vec::new();
    if let Some((user, pass)) = req.auth {
        match user {
            Some(u) => push_command(&mut out, &[b"AUTH", u, pass]),
            None => push_command(&mut out, &[b"AUTH", pass]),
        }
    }
    let select = last_dbid != req.dbid;
    if select {
        push_command(&mut out, &[b"SELECT", req.dbid.to_string().as_bytes()]);
    }
    let compression = srv.data.config.rdbcompression;
    let now = base::mstime();
    let mut sent: Vec<&'a [u8]> = Vec::new();
    for k in keys {
        let db = &srv.data.keyspace[c.db];
        let ttl = match db.expire_of(k) {
            Some(at) if at - now < 0 => continue,
            Some(at) => (at - now).max(1),
            None => 0,
        };
        let Some(v) = db.peek(k) else { continue };
        let payload = tine_core::rdb::dump::dump_payload(v, compression);
        let ttl = ttl.to_string();
        if req.replace {
            push_command(&mut out, &[b"RESTORE", k, ttl.as_bytes(), &payload, b"REPLACE"]);
        } else {
            push_command(&mut out, &[b"RESTORE", k, ttl.as_bytes(), &payload]);
        }
        sent.push(k.as_slice());
    }
    let _ = stream.set_write_timeout(Some(req.timeout));
    let _ = stream.set_read_timeout(Some(req.timeout));
    let mut w = &stream;
    if let Err(e) = w.write_all(&out) {
        return Err((socket_error(&e, true), Vec::new()));
    }
    let mut r = BufReader::new(&stream);
    let mut line = String::new();
    let mut read_line = |line: &mut String| -> Result<(), SocketError> {
        line.clear();
        let mut raw = Vec::new();
        match r.read_until(b'\n', &mut raw) {
            Ok(0) => Err(SocketError { writing: false, timed_out: false }),
            Ok(_) => {
                *line = String::from_utf8_lossy(&raw).trim_end().to_string();
                Ok(())
            }
            Err(e) => Err(socket_error(&e, false)),
        }
    };
    let mut target_error = None;
    let mut auth_reply = String::new();
    if req.auth.is_some() {
        read_line(&mut auth_reply).map_err(|e| (e, Vec::new()))?;
    }
    let mut select_reply = String::new();
    if select {
        read_line(&mut select_reply).map_err(|e| (e, Vec::new()))?;
    }
    let mut acked = Vec::new();
    for k in sent {
        if let Err(e) = read_line(&mut line) {
            return Err((e, acked));
        }
        let first_error = [&auth_reply, &select_reply, &line]
            .into_iter()
            .find(|l| l.starts_with('-'))
            .map(|l| l[1..].to_string());
        match first_error {
            Some(e) => {
                target_error.get_or_insert(e);
            }
            None => acked.push(k),
        }
    }
    Ok(Transferred { acked, target_error })
}

/// The arguments of MIGRATE that MONITOR and the slow log show as "(redacted)": AUTH's
/// password, AUTH2's user and password.
pub(crate) fn redacted_args(argv: &Argv) -> Vec<usize> {
    let mut out = Vec::new();
    let mut j = 6;
    while j < argv.len() {
        match base::lower(&argv[j]).as_str() {
            "auth" => {
                out.push(j + 1);
                j += 1;
            }
            "auth2" => {
                out.extend([j + 1, j + 2]);
                j += 2;
            }
            "keys" => break,
            _ => {}
        }
        j += 1;
    }
    out
}
