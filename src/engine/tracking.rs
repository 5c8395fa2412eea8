//! Client-side caching (Redis's tracking.c): which clients may hold which keys, and the
//! invalidation messages they get when those keys change.
//!
//! Two tables, as in Redis. The tracking table maps a key read by a client in the default
//! mode to the ids of those clients; an entry is dropped whole once its key changes (the
//! clients are told, and a later read adds them back). The prefix table maps each prefix a
//! BCAST client registered to its clients and the keys changed under it since the last
//! event-loop round; those are sent, one array per prefix, before the loop sleeps.
//!
//! Clients are named by id, never held: a client that went away or stopped tracking is
//! skipped when its key changes (its ids are cleaned lazily, as Redis does, so turning tracking
//! off costs nothing however many keys the client read). The per-client part (mode, redirect,
//! prefixes) is `ClientTracking`, in the client's session.
//!
//! This module holds state and message formats only; reaching the clients' sessions is the
//! command layer's (`commands::tracking`), which drives it from the keyspace's changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tine_core::protocol::{Resp, reply};

/// What a client asked for with CLIENT TRACKING on (Redis's CLIENT_TRACKING_* flags).
#[derive(Default, Debug, Clone)]
pub(crate) struct ClientTracking {
    /// The client that gets this one's invalidations (0: itself).
    pub(crate) redirect: u64,
    pub(crate) bcast: bool,
    pub(crate) optin: bool,
    pub(crate) optout: bool,
    pub(crate) noloop: bool,
    /// CLIENT CACHING yes (OPTIN) or no (OPTOUT) was given for the next command.
    pub(crate) caching: bool,
    /// The redirect client is gone (CLIENT LIST flag `R`).
    pub(crate) broken_redirect: bool,
    /// BCAST prefixes, in byte order (as CLIENT TRACKINGINFO lists them).
    pub(crate) prefixes: BTreeSet<Vec<u8>>,
}

impl ClientTracking {
    /// Whether the keys the next command reads are to be remembered (OPTIN needs CLIENT
    /// CACHING yes, OPTOUT is off after CLIENT CACHING no).
    pub(crate) fn remembers(&self) -> bool {
        !self.bcast && !((self.optin && !self.caching) || (self.optout && self.caching))
    }
}

/// The keys changed under one BCAST prefix and the clients registered for it.
#[derive(Default)]
struct Bcast {
    /// Changed key -> the client that changed it last (0: none, e.g. expiry), for NOLOOP.
    keys: BTreeMap<Vec<u8>, u64>,
    clients: BTreeSet<u64>,
}

/// An invalidation for the client whose command is running, sent after its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    Key(Vec<u8>),
    /// Every key (a flush).
    All,
}

/// The server's tracking state (see the module doc).
#[derive(Default)]
pub(crate) struct Tracking {
    table: HashMap<Vec<u8>, Vec<u64>>,
    /// Client ids across the whole table (INFO tracking_total_items).
    items: u64,
    prefixes: BTreeMap<Vec<u8>, Bcast>,
    /// Clients with tracking on (INFO tracking_clients).
    pub(crate) clients: u64,
    /// Slots of the clients tracking or redirected to, by id: invalidations go to them by id.
    pub(crate) slots: HashMap<u64, usize>,
    /// The client whose top-level command runs (0: none): Redis's current_client.
    pub(crate) current: u64,
    /// True while that command's handler runs: its own invalidations wait for its reply.
    pub(crate) executing: bool,
    pub(crate) pending: Vec<Pending>,
    /// Invalidations for that client caused before its command started (eviction) while it
    /// was out of reach: sent before its reply.
    pub(crate) early: Vec<Pending>,
    /// A command a script ran read keys: the script's declared keys are remembered for its
    /// caller, as Redis does for scripts.
    pub(crate) script_read: bool,
    /// Whether the keyspace is reporting its changes (`Keyspace::track_modified`).
    pub(crate) reporting: bool,
    /// Rounds in a row the table stayed over tracking-table-max-keys (more effort each).
    limit_rounds: u64,
}

impl Tracking {
    pub(crate) fn total_keys(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn total_items(&self) -> u64 {
        self.items
    }

    pub(crate) fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// Whether the keyspace must report changed keys: someone tracks, or old entries remain.
    pub(crate) fn wants_changes(&self) -> bool {
        self.clients > 0 || !self.table.is_empty()
    }

    /// Registers client `id` (in `slot`) for the BCAST `prefix`.
    pub(crate) fn add_prefix(&mut self, id: u64, prefix: &[u8]) {
        self.prefixes.entry(prefix.to_vec()).or_default().clients.insert(id);
    }

    /// Unregisters client `id` from its BCAST prefixes, dropping prefixes no one has left.
    pub(crate) fn remove_prefixes(&mut self, id: u64, prefixes: &BTreeSet<Vec<u8>>) {
        for p in prefixes {
            if let Some(b) = self.prefixes.get_mut(p) {
                b.clients.remove(&id);
                if b.clients.is_empty() {
                    self.prefixes.remove(p);
                }
            }
        }
    }

    /// Remembers that client `id` may cache `key` (Redis's trackingRememberKeys).
    pub(crate) fn remember(&mut self, key: &[u8], id: u64) {
        let ids = match self.table.get_mut(key) {
            Some(ids) => ids,
            None => self.table.entry(key.to_vec()).or_default(),
        };
        if !ids.contains(&id) {
            ids.push(id);
            self.items += 1;
        }
    }

    /// Notes a changed key under every BCAST prefix it starts with, `by` the client that
    /// changed it (0: none). Probes the key's own prefixes when there are more prefixes
    /// than that, so a client with a huge prefix list slows no one's writes beyond a lookup a
    /// byte of the key.
    pub(crate) fn note_for_broadcast(&mut self, key: &[u8], by: u64) {
        if self.prefixes.is_empty() {
            return;
        }
        if self.prefixes.len() <= key.len() + 1 {
            for (p, b) in self.prefixes.iter_mut() {
                if key.starts_with(p) {
                    b.keys.insert(key.to_vec(), by);
                }
            }
        } else {
            for n in 0..=key.len() {
                if let Some(b) = self.prefixes.get_mut(&key[..n]) {
                    b.keys.insert(key.to_vec(), by);
                }
            }
        }
    }

    /// Takes `key`'s entry out of the table: the ids that may cache it.
    pub(crate) fn take_ids(&mut self, key: &[u8]) -> Option<Vec<u64>> {
        let ids = self.table.remove(key)?;
        self.items -= ids.len() as u64;
        Some(ids)
    }

    /// Empties the tracking table (a flush: every client is told "all keys" instead).
    pub(crate) fn clear_table(&mut self) {
        self.table = HashMap::new();
        self.items = 0;
    }

    /// The keys to evict from the table to get under `max` keys (0: no limit), as Redis's
    /// trackingLimitUsedSlots: at most 100 a round, 100 more for each round in a row that
    /// ended still over the limit.
    pub(crate) fn over_limit(&mut self, max: usize) -> Vec<Vec<u8>> {
        if max == 0 {
            return Vec::new();
        }
        if self.table.len() <= max {
            self.limit_rounds = 0;
            return Vec::new();
        }
        let effort = 100 * (self.limit_rounds as usize + 1);
        let excess = self.table.len() - max;
        if excess > effort {
            self.limit_rounds += 1;
        } else {
            self.limit_rounds = 0;
        }
        self.table.keys().take(excess.min(effort)).cloned().collect()
    }

    /// The BCAST batches to send: for each prefix with changed keys, its clients and the
    /// keys with who changed them; the batches are emptied.
    pub(crate) fn take_broadcasts(&mut self) -> Vec<(Vec<u64>, BTreeMap<Vec<u8>, u64>)> {
        let mut out = Vec::new();
        for b in self.prefixes.values_mut() {
            if !b.keys.is_empty() {
                out.push((b.clients.iter().copied().collect(), std::mem::take(&mut b.keys)));
            }
        }
        out
    }
}

/// What an invalidation says.
#[derive(Clone, Copy)]
pub(crate) enum Payload<'a> {
    Key(&'a [u8]),
    /// A BCAST batch: the keys, without those changed by `skip` (NOLOOP; 0: none).
    Keys(&'a BTreeMap<Vec<u8>, u64>, u64),
    /// Every key (a flush): a null in the tracking client's protocol, as Redis sends it.
    All(Resp),
}

/// Writes an invalidation to `out`: a RESP3 push (`>2 invalidate <keys>`), or, for a RESP2
/// client that an invalidation was redirected to and that is subscribed, a Pub/Sub message on
/// `__redis__:invalidate`. False when the client can be told nothing (RESP2, not subscribed).
pub(crate) fn write_invalidation(
    out: &mut Vec<u8>,
    resp: Resp,
    subscribed_redirect: bool,
    p: Payload<'_>,
) -> bool {
    if resp == Resp::V3 {
        reply::push(out, 2, resp);
        reply::bulk(out, b"invalidate");
    } else if subscribed_redirect {
        reply::array(out, 3);
        reply::bulk(out, b"message");
        reply::bulk(out, b"__redis__:invalidate");
    } else {
        return false;
    }
    match p {
        Payload::Key(k) => {
            reply::array(out, 1);
            reply::bulk(out, k);
        }
        Payload::Keys(keys, skip) => {
            let n = keys.values().filter(|&&by| skip == 0 || by != skip).count();
            reply::array(out, n);
            for (k, &by) in keys {
                if skip == 0 || by != skip {
                    reply::bulk(out, k);
                }
            }
        }
        Payload::All(tracker_resp) => reply::null(out, tracker_resp),
    }
    true
}

/// Whether a BCAST batch has anything left for a NOLOOP client `skip`.
pub(crate) fn batch_is_empty_for(keys: &BTreeMap<Vec<u8>, u64>, skip: u64) -> bool {
    keys.values().all(|&by| by == skip)
}

/// The `tracking-redir-broken` push a RESP3 client gets when its redirect client is gone.
pub(crate) fn write_redirect_broken(out: &mut Vec<u8>, redirect: u64) {
    reply::push(out, 2, Resp::V3);
    reply::bulk(out, b"tracking-redir-broken");
    reply::integer(out, redirect as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_counts_keys_and_items_and_forgets_on_take() {
        let mut t = Tracking::default();
        t.remember(b"a", 1);
        t.remember(b"a", 1);
        t.remember(b"a", 2);
        t.remember(b"b", 1);
        assert_eq!((t.total_keys(), t.total_items()), (2, 3));
        assert_eq!(t.take_ids(b"a"), Some(vec![1, 2]));
        assert_eq!((t.total_keys(), t.total_items()), (1, 1));
        assert_eq!(t.take_ids(b"a"), None);
    }

    #[test]
    fn limit_evicts_with_growing_effort() {
        let mut t = Tracking::default();
        for i in 0..250 {
            t.remember(format!("k{i}").as_bytes(), 1);
        }
        let first = t.over_limit(1);
        assert_eq!(first.len(), 100);
        for k in first {
            t.take_ids(&k);
        }
        let second = t.over_limit(1);
        assert_eq!(second.len(), 149);
        for k in second {
            t.take_ids(&k);
        }
        assert!(t.over_limit(1).is_empty());
        assert!(t.over_limit(0).is_empty());
    }

    #[test]
    fn broadcast_matches_prefixes_either_way() {
        let mut t = Tracking::default();
        t.add_prefix(7, b"a:");
        t.add_prefix(8, b"");
        t.note_for_broadcast(b"a:1", 3);
        t.note_for_broadcast(b"b", 0);
        // Many prefixes: probed by the key's own prefixes.
        for i in 0..10 {
            t.add_prefix(9, format!("zz{i}").as_bytes());
        }
        t.note_for_broadcast(b"a:2", 0);
        let b = t.take_broadcasts();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].0, vec![8]);
        assert_eq!(b[0].1.len(), 3);
        assert_eq!(b[1].0, vec![7]);
        assert_eq!(
            b[1].1.keys().cloned().collect::<Vec<_>>(),
            vec![b"a:1".to_vec(), b"a:2".to_vec()]
        );
        assert!(t.take_broadcasts().is_empty());
        t.remove_prefixes(7, &[b"a:".to_vec()].into_iter().collect());
        assert_eq!(t.total_prefixes(), 11);
    }

    #[test]
    fn messages_in_both_protocols() {
        let mut out = Vec::new();
        assert!(write_invalidation(&mut out, Resp::V3, false, Payload::Key(b"k")));
        assert_eq!(out, b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
        out.clear();
        assert!(!write_invalidation(&mut out, Resp::V2, false, Payload::Key(b"k")));
        assert!(out.is_empty());
        assert!(write_invalidation(&mut out, Resp::V2, true, Payload::All(Resp::V2)));
        assert_eq!(out, b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n");
        let keys: BTreeMap<Vec<u8>, u64> = [(b"x".to_vec(), 1), (b"y".to_vec(), 2)].into();
        out.clear();
        write_invalidation(&mut out, Resp::V3, false, Payload::Keys(&keys, 1));
        assert_eq!(out, b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\ny\r\n");
        assert!(batch_is_empty_for(&[(b"x".to_vec(), 1)].into(), 1));
    }
}
