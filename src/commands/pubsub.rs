//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB, and
//! Redis 7.0's sharded pub/sub: SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS and
//! SHARDNUMSUB (shard channels are a namespace of their own; without cluster mode every shard
//! is this node). The registry and delivery live in `crate::engine::pubsub`.

use super::{Argv, CmdResult};
use crate::commands::Ctx;
use crate::engine::pubsub::frame;
use crate::engine::session::{ClientKind, Session};
use tine_core::base;

/// The count a (un)subscribe reply carries: channels + patterns, or shard channels for the
/// shard commands, as Redis 7.0 counts them apart.
fn subscriptions(c: &Session, shard: bool) -> i64 {
    if shard { c.shard_channels.len() as i64 } else { (c.channels.len() + c.patterns.len()) as i64 }
}

fn update_kind(c: &mut Session) {
    if c.kind == ClientKind::Normal || c.kind == ClientKind::PubSub {
        c.kind = if c.subscribed() { ClientKind::PubSub } else { ClientKind::Normal };
    }
}

fn push_frame(c: &mut Session, kind: &[u8], name: Option<&[u8]>) {
    let shard = kind.starts_with(b"ssub") || kind.starts_with(b"sunsub");
    let n = subscriptions(c, shard);
    let resp = c.resp;
    // Written even with CLIENT REPLY OFF/SKIP: Redis 7.0 treats pub/sub frames as pushes,
    // which those modes do not silence (its CLIENT_PUSHING), like the messages themselves.
    frame(&mut c.obuf, resp, kind, &[name], Some(n));
}

pub(crate) fn subscribe(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    subscribe_to(srv, c, argv, false);
    Ok(())
}

pub(crate) fn unsubscribe(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    unsubscribe_from(srv, c, argv, false);
    Ok(())
}

/// SSUBSCRIBE. Refused inside MULTI (and scripts), as Redis refuses it to a client that may
/// not block.
pub(crate) fn ssubscribe(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if c.in_exec {
        return Err(super::CmdError::err("SSUBSCRIBE isn't allowed for a DENY BLOCKING client"));
    }
    subscribe_to(srv, c, argv, true);
    Ok(())
}

pub(crate) fn sunsubscribe(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    unsubscribe_from(srv, c, argv, true);
    Ok(())
}

/// (S)SUBSCRIBE: each channel once, a reply frame per argument.
fn subscribe_to(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, shard: bool) {
    let kind: &[u8] = if shard { b"ssubscribe" } else { b"subscribe" };
    for ch in &argv[1..] {
        let mine = if shard { &mut c.shard_channels } else { &mut c.channels };
        if mine.insert(ch.clone()) {
            srv.data.pubsub.channels_of(shard).entry(ch.clone()).or_default().push(c.slot);
        }
        push_frame(c, kind, Some(ch));
    }
    update_kind(c);
}

/// (S)UNSUBSCRIBE: the channels named, or every one the client holds; a frame with a null
/// channel when there is none.
fn unsubscribe_from(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, shard: bool) {
    let kind: &[u8] = if shard { b"sunsubscribe" } else { b"unsubscribe" };
    let mine = if shard { &c.shard_channels } else { &c.channels };
    let targets: Vec<Vec<u8>> =
        if argv.len() > 1 { argv[1..].to_vec() } else { mine.iter().cloned().collect() };
    if targets.is_empty() {
        push_frame(c, kind, None);
    }
    for ch in targets {
        let mine = if shard { &mut c.shard_channels } else { &mut c.channels };
        if mine.remove(&ch) {
            let registry = srv.data.pubsub.channels_of(shard);
            crate::engine::pubsub::remove_subscriber(registry, &ch, c.slot);
        }
        push_frame(c, kind, Some(&ch));
    }
    update_kind(c);
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

/// PUBLISH. Also sent to replicas (not to the AOF), whose subscribers get the message too,
/// as Redis 7.0 propagates it outside cluster mode.
pub(crate) fn publish(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    srv.data.prop.force_propagation_to(crate::engine::feed::Targets::REPLICAS);
    let n = crate::engine::pubsub::publish(srv, &argv[1], &argv[2], Some(c));
    c.add_int(n);
    Ok(())
}

/// SPUBLISH, sent to replicas as PUBLISH is.
pub(crate) fn spublish(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    srv.data.prop.force_propagation_to(crate::engine::feed::Targets::REPLICAS);
    let n = crate::engine::pubsub::publish_shard(srv, &argv[1], &argv[2], Some(c));
    c.add_int(n);
    Ok(())
}

pub(crate) fn pubsub_channels(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    list_channels(srv, c, argv, false);
    Ok(())
}

pub(crate) fn pubsub_shardchannels(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    list_channels(srv, c, argv, true);
    Ok(())
}

pub(crate) fn pubsub_shardnumsub(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    count_subscribers(srv, c, argv, true);
    Ok(())
}

/// PUBSUB (SHARD)CHANNELS [pattern]: the active channels matching, sorted.
fn list_channels(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, shard: bool) {
    let pat = argv.get(2);
    let mut names: Vec<&Vec<u8>> = srv
        .data
        .pubsub
        .channels_of(shard)
        .keys()
        .filter(|ch| pat.is_none_or(|p| base::glob_match(p, ch, false)))
        .collect();
    names.sort();
    c.add_array(names.len());
    for n in names {
        c.add_bulk(n);
    }
}

pub(crate) fn pubsub_numsub(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    count_subscribers(srv, c, argv, false);
    Ok(())
}

/// PUBSUB (SHARD)NUMSUB channel...: each channel with its number of subscribers.
fn count_subscribers(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, shard: bool) {
    c.add_map(argv.len() - 2);
    let registry = srv.data.pubsub.channels_of(shard);
    for ch in &argv[2..] {
        c.add_bulk(ch);
        c.add_int(registry.get(ch).map(|v| v.len()).unwrap_or(0) as i64);
    }
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
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
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
