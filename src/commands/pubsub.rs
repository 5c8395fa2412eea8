//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.
//! The registry and delivery live in `crate::engine::pubsub`.

use super::{Argv, CmdResult};
use crate::commands::Ctx;
use crate::engine::pubsub::frame;
use crate::engine::session::{ClientKind, Session};
use tine_core::base;

/// The number of subscriptions (channels + patterns) a client holds.
fn subscriptions(c: &Session) -> i64 {
    (c.channels.len() + c.patterns.len()) as i64
}

fn update_kind(c: &mut Session) {
    if c.kind == ClientKind::Normal || c.kind == ClientKind::PubSub {
        c.kind = if subscriptions(c) > 0 { ClientKind::PubSub } else { ClientKind::Normal };
    }
}

fn push_frame(c: &mut Session, kind: &[u8], name: Option<&[u8]>) {
    let n = subscriptions(c);
    let resp = c.resp;
    if let Some(o) = c.out() {
        frame(o, resp, kind, &[name], Some(n));
    }
}

pub(crate) fn subscribe(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    for ch in &argv[1..] {
        if c.channels.insert(ch.clone()) {
            srv.data.pubsub.channels.entry(ch.clone()).or_default().push(c.slot);
        }
        push_frame(c, b"subscribe", Some(ch));
    }
    update_kind(c);
    Ok(())
}

pub(crate) fn unsubscribe(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let targets: Vec<Vec<u8>> =
        if argv.len() > 1 { argv[1..].to_vec() } else { c.channels.iter().cloned().collect() };
    if targets.is_empty() {
        push_frame(c, b"unsubscribe", None);
    }
    for ch in targets {
        if c.channels.remove(&ch) {
            if let Some(v) = srv.data.pubsub.channels.get_mut(&ch) {
                v.retain(|&s| s != c.slot);
                if v.is_empty() {
                    srv.data.pubsub.channels.remove(&ch);
                }
            }
        }
        push_frame(c, b"unsubscribe", Some(&ch));
    }
    update_kind(c);
    Ok(())
}

pub(crate) fn psubscribe(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    for p in &argv[1..] {
        if !c.patterns.contains(p) {
            c.patterns.push(p.clone());
            srv.data.pubsub.patterns.push((p.clone(), c.slot));
        }
        push_frame(c, b"psubscribe", Some(p));
    }
    update_kind(c);
    Ok(())
}

pub(crate) fn punsubscribe(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let targets: Vec<Vec<u8>> =
        if argv.len() > 1 { argv[1..].to_vec() } else { c.patterns.clone() };
    if targets.is_empty() {
        push_frame(c, b"punsubscribe", None);
    }
    for p in targets {
        if let Some(i) = c.patterns.iter().position(|x| *x == p) {
            c.patterns.remove(i);
            let slot = c.slot;
            srv.data.pubsub.patterns.retain(|(q, s)| !(*s == slot && *q == p));
        }
        push_frame(c, b"punsubscribe", Some(&p));
    }
    update_kind(c);
    Ok(())
}

pub(crate) fn publish(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let n = crate::engine::pubsub::publish(srv, &argv[1], &argv[2], Some(c));
    c.add_int(n);
    Ok(())
}

pub(crate) fn pubsub_channels(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let pat = argv.get(2);
    let mut names: Vec<&Vec<u8>> = srv
        .data
        .pubsub
        .channels
        .keys()
        .filter(|ch| pat.is_none_or(|p| base::glob_match(p, ch, false)))
        .collect();
    names.sort();
    c.add_array(names.len());
    for n in names {
        c.add_bulk(n);
    }
    Ok(())
}

pub(crate) fn pubsub_numsub(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    c.add_map(argv.len() - 2);
    for ch in &argv[2..] {
        c.add_bulk(ch);
        c.add_int(srv.data.pubsub.channels.get(ch).map(|v| v.len()).unwrap_or(0) as i64);
    }
    Ok(())
}

pub(crate) fn pubsub_numpat(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    let mut distinct: Vec<&Vec<u8>> = srv.data.pubsub.patterns.iter().map(|(p, _)| p).collect();
    distinct.sort();
    distinct.dedup();
    c.add_int(distinct.len() as i64);
    Ok(())
}

pub(crate) fn pubsub_help(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    super::reply_help(
        c,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
        ],
    );
    Ok(())
}

/// The error for other commands in subscribed state.
pub(crate) fn subscribed_context_error(name: &str) -> super::CmdError {
    super::CmdError::err(&format!(
        "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        name
    ))
}
