//! Publish/subscribe: which clients listen on which channels and patterns, delivering
//! messages to them, and keyspace notifications (`notify-keyspace-events`), which are
//! messages the server publishes itself.
//!
//! Subscribers are kept in subscription order per channel, and patterns in the order they
//! were added, so delivery order is Redis's: channel subscribers first, then pattern matches.
//! A message is appended to each receiver's output buffer (RESP3 clients get a push type) and
//! the receiver is queued for writing before the next poll. A subscriber whose output grows
//! past the pubsub `client-output-buffer-limit` is closed, as Redis does.
//!
//! The registry is this module's state; the clients (to deliver to) and the notification
//! settings belong to the top layer, reached through `PubSubHost`. `CommandEvent` is the
//! keyspace event a command's table row declares, captured before the command runs and
//! published after it by the dispatcher.

use std::collections::HashMap;

use super::session::Session;
use crate::config::custom::notify;
use tine_core::keyspace::Db;
use tine_core::protocol::{Resp, reply};

/// What pub/sub needs from the layer that owns the clients.
pub(crate) trait PubSubHost {
    fn pubsub(&mut self) -> &mut PubSub;
    /// `notify-keyspace-events` parsed (0: off).
    fn notify_flags(&self) -> u32;
    /// Appends a message to the output of the client in `slot` with `write` (if it is in its
    /// slot), closes it if that passes its pubsub output limit, and queues it for writing.
    /// False when no client is there.
    fn deliver(&mut self, slot: usize, write: impl FnOnce(&mut Session)) -> bool;
}

/// The subscription registry.
#[derive(Default)]
pub(crate) struct PubSub {
    /// Channel -> slots of subscribed clients, in subscription order.
    pub(crate) channels: HashMap<Vec<u8>, Vec<usize>>,
    /// (pattern, slot), in subscription order.
    pub(crate) patterns: Vec<(Vec<u8>, usize)>,
    /// Shard channel -> slots of subscribed clients (SSUBSCRIBE). Without cluster mode every
    /// shard channel is on this node; they are still a namespace apart from `channels`, and
    /// patterns never match them, as in Redis 7.0.
    pub(crate) shard_channels: HashMap<Vec<u8>, Vec<usize>>,
}

impl PubSub {
    /// The registry of plain or shard channels.
    pub(crate) fn channels_of(&mut self, shard: bool) -> &mut HashMap<Vec<u8>, Vec<usize>> {
        if shard { &mut self.shard_channels } else { &mut self.channels }
    }
}

/// Appends a pub/sub message frame: `kind` ("message", "subscribe"...) then bulk parts, with a
/// trailing integer for (un)subscribe counts.
pub(crate) fn frame(
    out: &mut Vec<u8>,
    resp: Resp,
    kind: &[u8],
    parts: &[Option<&[u8]>],
    count: Option<i64>,
) {
    let n = 1 + parts.len() + count.is_some() as usize;
    reply::push(out, n, resp);
    reply::bulk(out, kind);
    for p in parts {
        match p {
            Some(b) => reply::bulk(out, b),
            None => reply::null(out, resp),
        }
    }
    if let Some(c) = count {
        reply::integer(out, c);
    }
}

/// Delivers `message` on `channel` to every subscriber; returns how many received it.
pub(crate) fn publish<H: PubSubHost>(
    srv: &mut H,
    channel: &[u8],
    message: &[u8],
    publisher: Option<&mut Session>,
) -> i64 {
    publish_to(srv, false, channel, message, publisher)
}

/// SPUBLISH: delivers `message` to the subscribers of the shard channel (as "smessage").
pub(crate) fn publish_shard<H: PubSubHost>(
    srv: &mut H,
    channel: &[u8],
    message: &[u8],
    publisher: Option<&mut Session>,
) -> i64 {
    publish_to(srv, true, channel, message, publisher)
}

fn publish_to<H: PubSubHost>(
    srv: &mut H,
    shard: bool,
    channel: &[u8],
    message: &[u8],
    publisher: Option<&mut Session>,
) -> i64 {
    let mut targets: Vec<(usize, Option<Vec<u8>>)> = Vec::new();
    let registry = srv.pubsub();
    if let Some(slots) = registry.channels_of(shard).get(channel) {
        targets.extend(slots.iter().map(|&s| (s, None)));
    }
    if !shard {
        for (pat, slot) in &registry.patterns {
            if tine_core::base::glob_match(pat, channel, false) {
                targets.push((*slot, Some(pat.clone())));
            }
        }
    }
    let kind: &[u8] = if shard { b"smessage" } else { b"message" };
    let mut publisher = publisher;
    let mut delivered = 0;
    for (slot, pattern) in targets {
        let deliver = |c: &mut Session| {
            let resp = c.resp;
            match &pattern {
                None => frame(&mut c.obuf, resp, kind, &[Some(channel), Some(message)], None),
                Some(p) => frame(
                    &mut c.obuf,
                    resp,
                    b"pmessage",
                    &[Some(p), Some(channel), Some(message)],
                    None,
                ),
            }
        };
        if let Some(p) = publisher.as_deref_mut().filter(|p| p.slot == slot) {
            deliver(p);
            delivered += 1;
            continue;
        }
        if srv.deliver(slot, deliver) {
            delivered += 1;
        }
    }
    delivered
}

/// Closes a subscriber whose pending output passed the pubsub hard limit
/// (`client-output-buffer-limit`'s text); `pending` is its output not yet written.
pub(crate) fn enforce_pubsub_limit(limits: &str, c: &mut Session, pending: usize) {
    let parts: Vec<&str> = limits.split_whitespace().collect();
    let hard = parts
        .chunks(4)
        .find(|g| g[0] == "pubsub")
        .and_then(|g| g[1].parse::<usize>().ok())
        .unwrap_or(0);
    if hard > 0 && pending > hard && !c.close_asap {
        c.close_asap = true;
        tine_core::log!(
            tine_core::log::Level::Warning,
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.id,
            c.addr
        );
    }
}

/// Publishes a keyspace notification for `event` on `key` in `db`, if the configured classes
/// include `class` (Redis's notifyKeyspaceEvent).
pub(crate) fn notify<H: PubSubHost>(srv: &mut H, class: u32, event: &str, key: &[u8], db: usize) {
    let flags = srv.notify_flags();
    if flags & class == 0 || flags & (notify::KEYSPACE | notify::KEYEVENT) == 0 {
        return;
    }
    if flags & notify::KEYSPACE != 0 {
        let mut ch = format!("__keyspace@{}__:", db).into_bytes();
        ch.extend_from_slice(key);
        publish(srv, &ch, event.as_bytes(), None);
    }
    if flags & notify::KEYEVENT != 0 {
        let ch = format!("__keyevent@{}__:{}", db, event).into_bytes();
        publish(srv, &ch, key, None);
    }
}

/// Removes every subscription of a closing client.
pub(crate) fn forget_client<H: PubSubHost>(srv: &mut H, c: &Session) {
    let registry = srv.pubsub();
    for (shard, names) in [(false, &c.channels), (true, &c.shard_channels)] {
        for ch in names {
            remove_subscriber(registry.channels_of(shard), ch, c.slot);
        }
    }
    registry.patterns.retain(|(_, s)| *s != c.slot);
}

/// Removes `slot` from a channel's subscribers, and the channel when none is left.
pub(crate) fn remove_subscriber(
    channels: &mut HashMap<Vec<u8>, Vec<usize>>,
    channel: &[u8],
    slot: usize,
) {
    if let Some(v) = channels.get_mut(channel) {
        v.retain(|&s| s != slot);
        if v.is_empty() {
            channels.remove(channel);
        }
    }
}

/// The keyspace event of a collection command that changes the one key it names first,
/// declared in the command's table row (`Command::notify`) so that dispatch hands it over
/// without a lookup by name. Commands touching several keys (LMOVE, SMOVE, the multi-key pops)
/// publish their events themselves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Notify {
    /// The `notify-keyspace-events` class (`notify::LIST`...).
    pub(crate) class: u32,
    pub(crate) event: &'static str,
    /// A STORE command: when it leaves the destination empty (and so removes it) only "del"
    /// is published, as Redis does.
    pub(crate) store: bool,
    /// The event instead of `event` when an INCR option is among the arguments after the key
    /// (ZADD ... INCR publishes "zincr").
    pub(crate) incr_event: Option<&'static str>,
}

impl Notify {
    /// A command that publishes `event` of `class` on its key.
    pub(crate) const fn on(class: u32, event: &'static str) -> Notify {
        Notify { class, event, store: false, incr_event: None }
    }

    /// A STORE command (see `store`).
    pub(crate) const fn store(class: u32, event: &'static str) -> Notify {
        Notify { class, event, store: true, incr_event: None }
    }

    /// Publishes `event` instead when an INCR option is given.
    pub(crate) const fn or_on_incr(self, event: &'static str) -> Notify {
        Notify { incr_event: Some(event), ..self }
    }
}

/// The keyspace event a command will publish once it has changed its key, captured before it
/// runs (whether the key existed decides the "del" that follows an emptying removal).
pub(crate) struct CommandEvent {
    db: usize,
    key: Vec<u8>,
    class: u32,
    event: &'static str,
    store: bool,
    existed: bool,
}

impl CommandEvent {
    /// Captures the event the command's row declares; nothing is done unless notifications
    /// are on.
    /// `notify_flags` is `notify-keyspace-events` parsed, `data` the database `db`.
    pub(crate) fn before(
        notify_flags: u32,
        data: &Db,
        db: usize,
        notify: Option<&Notify>,
        argv: &[Vec<u8>],
    ) -> Option<CommandEvent> {
        if notify_flags == 0 || argv.len() < 2 {
            return None;
        }
        let &Notify { class, mut event, store, incr_event } = notify?;
        if let Some(incr) = incr_event {
            if argv[2..].iter().any(|a| a.eq_ignore_ascii_case(b"incr")) {
                event = incr;
            }
        }
        let key = argv[1].clone();
        let existed = data.peek(&key).is_some();
        Some(CommandEvent { db, key, class, event, store, existed })
    }

    /// The database and key the event is about.
    pub(crate) fn db(&self) -> usize {
        self.db
    }
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }

    /// Publishes the event (and "del" when the command emptied and removed the key), as the
    /// command's Redis implementation does; `exists` says whether the key exists now.
    pub(crate) fn after<H: PubSubHost>(self, srv: &mut H, exists: bool) {
        if exists {
            notify(srv, self.class, self.event, &self.key, self.db);
        } else if self.existed {
            if !self.store {
                notify(srv, self.class, self.event, &self.key, self.db);
            }
            notify(srv, notify::GENERIC, "del", &self.key, self.db);
        }
    }
}
