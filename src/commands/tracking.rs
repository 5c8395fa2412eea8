//! Client-side caching, the command side: CLIENT TRACKING / CACHING / GETREDIR /
//! TRACKINGINFO, and the glue that turns the keyspace's changes into invalidation messages
//! (the tables themselves are `engine::tracking`).
//!
//! When things happen, as Redis 7.0.15 orders them:
//! - After each command's handler (`after_command`), the keys it changed are invalidated,
//!   then the keys a read-only command read are remembered for its client (so a read that
//!   lazily expired a key is invalidated and then tracked again). A command a script runs
//!   that reads marks the script, whose declared keys are then remembered for its caller.
//! - Another client is written to at once. The client whose command runs (Redis's
//!   current_client) gets its own invalidations after its reply (`flush_pending`, at the end of
//!   the top-level command, so after EXEC's whole reply), except those caused before its
//!   command starts (eviction, the tracking table's own limit), which precede the reply.
//! - BCAST prefixes collect changed keys; `before_sleep` sends one array per prefix.
//! - A flush (FLUSHDB, FLUSHALL, a load) sends every tracking client a null ("all keys") and
//!   empties the table.
//!
//! A client is reached by id through `Tracking::slots` (tracking clients and redirect targets
//! register their slot), so a client that went away is simply not found: its table entries
//! are skipped, and a client redirected to it is told `tracking-redir-broken` (RESP3).

use tine_core::base;
use tine_core::keyspace::Modified;
use tine_core::protocol::{CmdError, Resp};

use super::{Argv, CmdResult, Ctx, Resolved, err, flag};
use crate::engine::session::Session;
use crate::engine::tracking::{self, ClientTracking, Payload, Pending};

/// Redis's PROTO_REPLY_CHUNK_BYTES, the size of a client's static reply buffer.
const REPLY_CHUNK: usize = 16 * 1024;

/// The options of CLIENT TRACKING, parsed.
#[derive(Default)]
struct Options<'a> {
    redirect: u64,
    redirect_slot: Option<usize>,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    prefixes: Vec<&'a [u8]>,
}

/// CLIENT TRACKING on|off [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP].
/// Every option is checked before anything changes, with Redis's errors in its order.
pub(crate) fn client_tracking(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut o = Options::default();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        match base::lower(&argv[j]).as_str() {
            "redirect" if more => {
                j += 1;
                if o.redirect != 0 {
                    return Err(CmdError::err(
                        "A client can only redirect to a single other client",
                    ));
                }
                let id = base::parse_i64(&argv[j]).ok_or(err::NOT_INTEGER)?;
                let slot = find_client(srv, c, id)
                    .ok_or(CmdError::err("The client ID you want redirect to does not exist"))?;
                o.redirect = id as u64;
                o.redirect_slot = Some(slot);
            }
            "bcast" => o.bcast = true,
            "optin" => o.optin = true,
            "optout" => o.optout = true,
            "noloop" => o.noloop = true,
            "prefix" if more => {
                j += 1;
                o.prefixes.push(&argv[j]);
            }
            _ => return Err(err::SYNTAX),
        }
        j += 1;
    }
    match base::lower(&argv[2]).as_str() {
        "on" => {
            check_on(c, &o)?;
            enable(srv, c, o);
        }
        "off" => disable(srv, c),
        _ => return Err(err::SYNTAX),
    }
    c.add_ok();
    Ok(())
}

/// The slot of client `id` (the caller's own when it names itself), if it is connected.
fn find_client(srv: &mut Ctx<'_>, c: &Session, id: i64) -> Option<usize> {
    if id <= 0 {
        return None;
    }
    let id = id as u64;
    if c.id == id {
        return Some(c.slot);
    }
    let mut found = None;
    srv.server.for_each_session(&mut |s| {
        if s.id == id && !s.close_asap {
            found = Some(s.slot);
        }
    });
    found
}

/// CLIENT TRACKING on's checks against each other and the client's current mode.
fn check_on(c: &Session, o: &Options<'_>) -> CmdResult {
    if !o.bcast && !o.prefixes.is_empty() {
        return Err(CmdError::err("PREFIX option requires BCAST mode to be enabled"));
    }
    if let Some(t) = &c.tracking {
        if t.bcast != o.bcast {
            return Err(CmdError::err(
                "You can't switch BCAST mode on/off before disabling tracking for this client, \
                 and then re-enabling it with a different mode.",
            ));
        }
    }
    if o.bcast && (o.optin || o.optout) {
        return Err(CmdError::err("OPTIN and OPTOUT are not compatible with BCAST"));
    }
    if o.optin && o.optout {
        return Err(CmdError::err("You can't specify both OPTIN mode and OPTOUT mode"));
    }
    if let Some(t) = &c.tracking {
        if (o.optin && t.optout) || (o.optout && t.optin) {
            return Err(CmdError::err(
                "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, \
                 and then re-enabling it with a different mode.",
            ));
        }
    }
    if o.bcast {
        check_prefixes(c.tracking.as_deref(), &o.prefixes)?;
    }
    Ok(())
}

/// Two prefixes overlap when one starts with the other: both would report the same keys.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Redis's checkPrefixCollisionsOrReply: no new prefix may overlap one the client has, nor
/// another new one.
fn check_prefixes(t: Option<&ClientTracking>, new: &[&[u8]]) -> CmdResult {
    let error = |a: &[u8], what: &str, b: &[u8]| {
        let mut text = b"ERR Prefix '".to_vec();
        text.extend_from_slice(a);
        text.extend_from_slice(format!("' overlaps with {what} '").as_bytes());
        text.extend_from_slice(b);
        text.extend_from_slice(b"'. Prefixes for a single client must not overlap.");
        for b in text.iter_mut() {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        CmdError::bytes("ERR", text)
    };
    for (i, p) in new.iter().enumerate() {
        if let Some(existing) = t.and_then(|t| t.prefixes.iter().find(|e| overlap(e, p))) {
            return Err(error(p, "an existing prefix", existing));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(error(p, "another provided prefix", q));
        }
    }
    Ok(())
}

/// Turns tracking on (or changes its options), as Redis's enableTracking: the CACHING flag
/// and BCAST prefixes already registered are kept.
fn enable(srv: &mut Ctx<'_>, c: &mut Session, o: Options<'_>) {
    let d = &mut *srv.data;
    if c.tracking.is_none() {
        d.tracking.clients += 1;
    }
    let t = c.tracking.get_or_insert_with(Default::default);
    t.broken_redirect = false;
    t.bcast = o.bcast;
    t.optin = o.optin;
    t.optout = o.optout;
    t.noloop = o.noloop;
    t.redirect = o.redirect;
    if o.bcast {
        let empty: &[u8] = b"";
        let all = if o.prefixes.is_empty() { vec![empty] } else { o.prefixes };
        for p in all {
            d.tracking.add_prefix(c.id, p);
            t.prefixes.insert(p.to_vec());
        }
    }
    d.tracking.slots.insert(c.id, c.slot);
    // Room for invalidations, as Redis's 16 KB static reply buffer gives every client:
    // pushes written during eviction must not allocate, or eviction would count them as
    // memory to free and evict more (a feedback loop, Redis issue 8069).
    c.obuf.reserve(REPLY_CHUNK.saturating_sub(c.obuf.len()));
    if let Some(slot) = o.redirect_slot {
        d.tracking.slots.insert(o.redirect, slot);
    }
    sync_reporting(srv);
}

/// Turns tracking off (Redis's disableTracking): the client leaves its prefixes; its table
/// entries go lazily.
pub(crate) fn disable(srv: &mut Ctx<'_>, c: &mut Session) {
    if let Some(t) = c.tracking.take() {
        if t.bcast {
            srv.data.tracking.remove_prefixes(c.id, &t.prefixes);
        }
        srv.data.tracking.clients -= 1;
    }
}

/// A client going away: tracking off, and it can no longer be reached by id.
pub(crate) fn forget_client(srv: &mut Ctx<'_>, c: &mut Session) {
    disable(srv, c);
    srv.data.tracking.slots.remove(&c.id);
}

/// CLIENT CACHING yes|no: whether the next command's reads are tracked (OPTIN / OPTOUT).
pub(crate) fn client_caching(_srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let Some(t) = c.tracking.as_mut() else {
        return Err(CmdError::err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN \
             or OPTOUT mode enabled",
        ));
    };
    match base::lower(&argv[2]).as_str() {
        "yes" if t.optin => t.caching = true,
        "yes" => {
            return Err(CmdError::err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
        "no" if t.optout => t.caching = true,
        "no" => {
            return Err(CmdError::err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
        _ => return Err(err::SYNTAX),
    }
    c.add_ok();
    Ok(())
}

/// CLIENT GETREDIR: the redirect id, 0 without one, -1 when tracking is off.
pub(crate) fn client_getredir(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let r = c.tracking.as_ref().map_or(-1, |t| t.redirect as i64);
    c.add_int(r);
    Ok(())
}

/// CLIENT TRACKINGINFO: flags (a set), redirect, prefixes.
pub(crate) fn client_trackinginfo(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let mut flags = vec![if c.tracking.is_some() { "on" } else { "off" }];
    let (redirect, prefixes) = match &c.tracking {
        Some(t) => {
            if t.bcast {
                flags.push("bcast");
            }
            if t.optin {
                flags.push("optin");
                if t.caching {
                    flags.push("caching-yes");
                }
            }
            if t.optout {
                flags.push("optout");
                if t.caching {
                    flags.push("caching-no");
                }
            }
            if t.noloop {
                flags.push("noloop");
            }
            if t.broken_redirect {
                flags.push("broken_redirect");
            }
            (t.redirect as i64, t.prefixes.iter().cloned().collect::<Vec<_>>())
        }
        None => (-1, Vec::new()),
    };
    c.add_map(3);
    c.add_bulk(b"flags");
    c.add_set(flags.len());
    for f in flags {
        c.add_bulk(f.as_bytes());
    }
    c.add_bulk(b"redirect");
    c.add_int(redirect);
    c.add_bulk(b"prefixes");
    c.add_bulk_array(prefixes.iter());
    Ok(())
}

// ----- invalidation -----

/// Keeps the keyspace reporting its changes exactly while tracking needs them.
fn sync_reporting(srv: &mut Ctx<'_>) {
    let want = srv.data.tracking.wants_changes();
    if want != srv.data.tracking.reporting {
        srv.data.tracking.reporting = want;
        srv.data.keyspace.track_modified(want);
    }
}

/// Runs `f` on the session of client `id`: `running` (the client running a command, out of
/// the client table) if it is that one, else the registered slot's client. `None` when the
/// client is gone. Another client written to is queued for writing.
fn with_session<R>(
    srv: &mut Ctx<'_>,
    running: &mut Option<&mut Session>,
    id: u64,
    f: impl FnOnce(&mut Session) -> R,
) -> Option<R> {
    if let Some(r) = running.as_deref_mut() {
        if r.id == id {
            return Some(f(r));
        }
    }
    let slot = *srv.data.tracking.slots.get(&id)?;
    let (s, written) = srv.server.session(slot)?;
    if s.id != id {
        return None;
    }
    let out = f(s);
    // A subscriber (a redirect target) that does not read is closed at the pubsub output
    // limit, as for its messages; it cannot grow without bound on others' writes.
    if s.subscribed() {
        let pending = s.obuf.len().saturating_sub(written);
        let limits = &srv.data.config.client_output_buffer_limit;
        crate::engine::pubsub::enforce_pubsub_limit(limits, s, pending);
    }
    srv.data.pending_writes.push(slot);
    Some(out)
}

/// Sends an invalidation on behalf of tracking client `id` (Redis's sendTrackingMessage): to
/// it in RESP3, or to its redirect client (a push in RESP3, a `__redis__:invalidate` message
/// if subscribed in RESP2). A redirect client that is gone marks the redirect broken and
/// tells a RESP3 client so. Written whatever CLIENT REPLY says, as Redis's pushes are.
fn send(srv: &mut Ctx<'_>, running: &mut Option<&mut Session>, id: u64, p: Payload<'_>) {
    let Some(Some((redirect, resp))) =
        with_session(srv, running, id, |s| s.tracking.as_ref().map(|t| (t.redirect, s.resp)))
    else {
        return;
    };
    let p = match p {
        Payload::All(_) => Payload::All(resp),
        other => other,
    };
    if redirect == 0 {
        with_session(srv, running, id, |s| {
            tracking::write_invalidation(&mut s.obuf, s.resp, false, p);
        });
        return;
    }
    let sent = with_session(srv, running, redirect, |r| {
        let subscribed = r.subscribed();
        tracking::write_invalidation(&mut r.obuf, r.resp, subscribed, p);
    });
    if sent.is_none() {
        with_session(srv, running, id, |s| {
            if let Some(t) = s.tracking.as_mut() {
                t.broken_redirect = true;
            }
            if s.resp == Resp::V3 {
                tracking::write_redirect_broken(&mut s.obuf, redirect);
            }
        });
    }
}

/// Invalidates `key` for the clients that may cache it (Redis's trackingInvalidateKey);
/// `by` changed it (0: no client), for BCAST's NOLOOP; `bcast` false when the key did not
/// really change (the table's limit evicts it).
fn invalidate_key(
    srv: &mut Ctx<'_>,
    running: &mut Option<&mut Session>,
    key: &[u8],
    by: u64,
    bcast: bool,
) {
    if bcast {
        srv.data.tracking.note_for_broadcast(key, by);
    }
    let Some(ids) = srv.data.tracking.take_ids(key) else {
        return;
    };
    let (current, executing) = (srv.data.tracking.current, srv.data.tracking.executing);
    for id in ids {
        if id == current && executing {
            // After its reply; its mode is checked then (it may be out of reach now: a
            // script's caller).
            srv.data.tracking.pending.push(Pending::Key(key.to_vec()));
            continue;
        }
        if id == current && running.as_deref().is_none_or(|r| r.id != id) {
            // Before its command runs (eviction), out of reach: sent before its reply.
            srv.data.tracking.early.push(Pending::Key(key.to_vec()));
            continue;
        }
        let mode =
            with_session(srv, running, id, |s| s.tracking.as_ref().map(|t| (t.bcast, t.noloop)));
        match mode {
            // Keys read before a switch to BCAST are not reported (Redis skips them too).
            Some(Some((false, noloop))) if !(noloop && id == current) => {
                send(srv, running, id, Payload::Key(key));
            }
            _ => {}
        }
    }
}

/// A flush: every tracking client is told "all keys" (the running one after its reply), and
/// the table is emptied (Redis's trackingInvalidateKeysOnFlush).
fn invalidate_all(srv: &mut Ctx<'_>, running: &mut Option<&mut Session>) {
    let current = srv.data.tracking.current;
    if srv.data.tracking.clients > 0 {
        let mut ids = Vec::new();
        if let Some(r) = running.as_deref() {
            if r.tracking.is_some() && r.id != current {
                ids.push(r.id);
            }
        }
        srv.server.for_each_session(&mut |s| {
            if s.tracking.is_some() && s.id != current {
                ids.push(s.id);
            }
        });
        if current != 0 {
            srv.data.tracking.pending.push(Pending::All);
        }
        for id in ids {
            send(srv, running, id, Payload::All(Resp::V2));
        }
    }
    srv.data.tracking.clear_table();
}

/// Invalidates what the keyspace reported changed since the last call.
#[inline]
pub(crate) fn drain(srv: &mut Ctx<'_>, running: Option<&mut Session>) {
    if srv.data.tracking.reporting {
        drain_changes(srv, running);
    }
}

fn drain_changes(srv: &mut Ctx<'_>, mut running: Option<&mut Session>) {
    let changes = srv.data.keyspace.take_modified();
    let by = srv.data.tracking.current;
    for ch in changes {
        match ch {
            Modified::Key(k) => invalidate_key(srv, &mut running, &k, by, true),
            Modified::Expired(k) => invalidate_key(srv, &mut running, &k, 0, true),
            Modified::Flush => invalidate_all(srv, &mut running),
        }
    }
    sync_reporting(srv);
}

/// Evicts keys from the tracking table over `tracking-table-max-keys`, telling their clients
/// (Redis's trackingLimitUsedSlots): before each command and from cron.
pub(crate) fn limit(srv: &mut Ctx<'_>, mut running: Option<&mut Session>) {
    if srv.data.tracking.total_keys() == 0 {
        return;
    }
    let max = srv.data.config.tracking_table_max_keys.max(0) as usize;
    for key in srv.data.tracking.over_limit(max) {
        invalidate_key(srv, &mut running, &key, 0, false);
    }
    sync_reporting(srv);
}

/// Before a command runs (after eviction): what eviction changed and the table's limit are
/// told to everyone at once, the running client included, before its reply.
#[inline]
pub(crate) fn before_command(srv: &mut Ctx<'_>, c: &mut Session) {
    if !srv.data.tracking.early.is_empty() {
        let early = std::mem::take(&mut srv.data.tracking.early);
        send_own(srv, c, early);
    }
    drain(srv, Some(c));
    if srv.data.tracking.clients > 0 {
        limit(srv, Some(c));
    }
}

/// The names of the commands that run scripts: their own keys are tracked when the script
/// read something, not because they are flagged read-only (EVAL_RO...).
fn runs_script(name: &str) -> bool {
    matches!(name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro")
}

/// After a command's handler: invalidations of what it changed, then the keys a read-only
/// command read are remembered for its client (Redis's call(): trackingRememberKeys).
#[inline]
pub(crate) fn after_command(srv: &mut Ctx<'_>, c: &mut Session, r: &Resolved, argv: &Argv) {
    drain(srv, Some(c));
    if srv.data.tracking.clients == 0 {
        srv.data.tracking.script_read = false;
        return;
    }
    if runs_script(r.cmd.name) {
        if std::mem::take(&mut srv.data.tracking.script_read) {
            remember_keys(srv, c, r, argv);
        }
    } else if r.flags & flag::READONLY != 0 && r.flags & flag::PUBSUB == 0 {
        if c.id == 0 && srv.data.scripting.running.is_some() {
            srv.data.tracking.script_read = true;
        } else {
            remember_keys(srv, c, r, argv);
        }
    }
}

fn remember_keys(srv: &mut Ctx<'_>, c: &Session, r: &Resolved, argv: &Argv) {
    if !c.tracking.as_ref().is_some_and(|t| t.remembers()) {
        return;
    }
    let Ok(positions) = super::key_positions(r.cmd, argv) else {
        return;
    };
    for i in positions {
        srv.data.tracking.remember(&argv[i], c.id);
    }
    sync_reporting(srv);
}

/// A top-level command starts: `c` is the current client (Redis's current_client). Returns
/// the state to give back to `end_top_level` (a command may run inside another's yield).
#[inline]
pub(crate) fn begin_top_level(srv: &mut Ctx<'_>, c: &Session) -> Saved {
    let t = &mut srv.data.tracking;
    Saved {
        current: std::mem::replace(&mut t.current, c.id),
        executing: std::mem::replace(&mut t.executing, false),
        pending: std::mem::take(&mut t.pending),
    }
}

/// The tracking state of a command that yielded to the event loop while another runs.
pub(crate) struct Saved {
    current: u64,
    executing: bool,
    pending: Vec<Pending>,
}

/// A top-level command ended: its own invalidations follow its reply, and CLIENT CACHING's
/// scope ends unless the client is in MULTI or the command was a CLIENT one (Redis's
/// resetClient).
#[inline]
pub(crate) fn end_top_level(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, saved: Saved) {
    flush_pending(srv, c);
    let t = &mut srv.data.tracking;
    t.current = saved.current;
    t.executing = saved.executing;
    t.pending = saved.pending;
    if let Some(tr) = c.tracking.as_mut() {
        if c.multi.is_none() && !argv[0].eq_ignore_ascii_case(b"client") {
            tr.caching = false;
        }
    }
}

/// Sends the running client's own invalidations, after its reply.
pub(crate) fn flush_pending(srv: &mut Ctx<'_>, c: &mut Session) {
    if srv.data.tracking.pending.is_empty() && srv.data.tracking.early.is_empty() {
        return;
    }
    let mut all = std::mem::take(&mut srv.data.tracking.early);
    all.append(&mut srv.data.tracking.pending);
    send_own(srv, c, all);
}

/// Sends the running client invalidations kept for it, as its mode now allows.
fn send_own(srv: &mut Ctx<'_>, c: &mut Session, list: Vec<Pending>) {
    let id = c.id;
    let mut running = Some(c);
    for p in list {
        let mode =
            running.as_deref().and_then(|c| c.tracking.as_ref()).map(|t| (t.bcast, t.noloop));
        match p {
            Pending::Key(k) => {
                if mode == Some((false, false)) {
                    send(srv, &mut running, id, Payload::Key(&k));
                }
            }
            Pending::All => {
                if mode.is_some() {
                    send(srv, &mut running, id, Payload::All(Resp::V2));
                }
            }
        }
    }
}

/// A blocked client was served: what its command changed is invalidated with it as the
/// current client, after its reply (Redis sets current_client to it while serving).
pub(crate) fn after_blocked(srv: &mut Ctx<'_>, c: &mut Session) {
    if !srv.data.tracking.reporting {
        return;
    }
    let saved = (
        std::mem::replace(&mut srv.data.tracking.current, c.id),
        std::mem::replace(&mut srv.data.tracking.executing, false),
    );
    drain(srv, Some(c));
    srv.data.tracking.current = saved.0;
    srv.data.tracking.executing = saved.1;
}

/// Before the event loop sleeps (Redis's beforeSleep): changes made outside commands (active
/// expiry) are invalidated, and each BCAST prefix's changed keys are sent to its clients.
pub(crate) fn before_sleep(srv: &mut Ctx<'_>) {
    drain(srv, None);
    if srv.data.tracking.clients == 0 {
        return;
    }
    for (clients, keys) in srv.data.tracking.take_broadcasts() {
        for id in clients {
            let noloop =
                with_session(srv, &mut None, id, |s| s.tracking.as_ref().is_some_and(|t| t.noloop));
            match noloop {
                None => {}
                Some(true) => {
                    if !tracking::batch_is_empty_for(&keys, id) {
                        send(srv, &mut None, id, Payload::Keys(&keys, id));
                    }
                }
                Some(false) => send(srv, &mut None, id, Payload::Keys(&keys, 0)),
            }
        }
    }
}

/// A key was evicted: its clients are told at once, so its table entry is freed with it (as
/// Redis does; otherwise eviction would count the entry, and the change noted for it, as
/// memory still used).
pub(crate) fn evicted(srv: &mut Ctx<'_>) {
    drain(srv, None);
}

/// From cron: the table's limit, even when no command comes (after a CONFIG SET lowered it).
pub(crate) fn cron(srv: &mut Ctx<'_>) {
    if srv.data.tracking.clients > 0 {
        limit(srv, None);
    }
}
