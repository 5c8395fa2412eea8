//! The replication identity of this node, as Redis 7.0 keeps it (PSYNC2): the id of the
//! history it serves (`replid`), the id it served before its last promotion (`replid2`) and
//! and the offset up to which that older history is shared (`second_replid_offset`). How many
//! bytes of the stream exist (`master_repl_offset`) is the replication buffer's figure
//! (`buffer::ReplBuffer`), which moves it as the stream is fed: one offset, as Redis has.
//!
//! Why two ids: a replica promoted with REPLICAOF NO ONE starts a new history but its former
//! siblings, which followed the same primary, can still continue partially from it up to the
//! point where the histories split. That point is `second_replid_offset`.

use tine_core::base::random_hex;

/// Redis's "no second id": forty zeros.
const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// This node's replication identity.
#[derive(Debug, Clone)]
pub(crate) struct ReplState {
    replid: String,
    replid2: String,
    /// The first offset not shared with `replid2`'s history; -1 without a second id.
    second_replid_offset: i64,
}

impl Default for ReplState {
    fn default() -> ReplState {
        ReplState {
            replid: random_hex(40),
            replid2: NO_REPLID.to_string(),
            second_replid_offset: -1,
        }
    }
}

impl ReplState {
    pub(crate) fn replid(&self) -> &str {
        &self.replid
    }
    pub(crate) fn replid2(&self) -> &str {
        &self.replid2
    }
    /// INFO's `second_repl_offset`.
    pub(crate) fn second_replid_offset(&self) -> i64 {
        self.second_replid_offset
    }

    /// A new history begins (Redis's changeReplicationId): a new random id.
    pub(crate) fn change_replid(&mut self) {
        self.replid = random_hex(40);
    }

    /// Takes the primary's history id, as a replica does after a full sync or when its primary
    /// announces a new id on +CONTINUE.
    pub(crate) fn set_replid(&mut self, id: &str) {
        self.replid = id.to_string();
    }

    /// The history `old` stays valid up to `second_offset` (a replica whose primary changed
    /// id on +CONTINUE, as Redis's slaveTryPartialResynchronization).
    pub(crate) fn set_replid2(&mut self, old: &str, second_offset: i64) {
        self.replid2 = old.to_string();
        self.second_replid_offset = second_offset;
    }

    /// Forgets the previous history (Redis's clearReplicationId2).
    pub(crate) fn clear_replid2(&mut self) {
        self.replid2 = NO_REPLID.to_string();
        self.second_replid_offset = -1;
    }

    /// On promotion (Redis's shiftReplicationId): the current history becomes the second one,
    /// valid up to the byte after `master_repl_offset`, and a new one begins, so former
    /// siblings can continue.
    pub(crate) fn shift_replid(&mut self, master_repl_offset: i64) {
        self.replid2 = std::mem::take(&mut self.replid);
        self.second_replid_offset = master_repl_offset + 1;
        self.change_replid();
    }

    /// True when a replica asking to continue `replid` from `offset` shares this node's
    /// history up to there (Redis's check in masterTryPartialResynchronization; whether the
    /// bytes are still in the backlog is the buffer's question).
    pub(crate) fn shares_history(&self, replid: &str, offset: i64) -> bool {
        replid == self.replid
            || (replid == self.replid2
                && replid2_is_set(&self.replid2)
                && offset <= self.second_replid_offset)
    }
}

fn replid2_is_set(id: &str) -> bool {
    id != NO_REPLID
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_node_has_a_random_id_and_no_second_one() {
        let (a, b) = (ReplState::default(), ReplState::default());
        assert_eq!(a.replid().len(), 40);
        assert!(a.replid().bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a.replid(), b.replid());
        assert_eq!((a.replid2(), a.second_replid_offset()), (NO_REPLID, -1));
    }

    #[test]
    fn promotion_keeps_the_old_history_up_to_the_next_byte() {
        let mut s = ReplState::default();
        let old = s.replid().to_string();
        s.shift_replid(100);
        assert_ne!(s.replid(), old);
        assert_eq!((s.replid2(), s.second_replid_offset()), (old.as_str(), 101));
        assert!(s.shares_history(&old, 101));
        assert!(!s.shares_history(&old, 102));
        assert!(s.shares_history(s.replid(), 500));
        assert!(!s.shares_history(NO_REPLID, 0));
        s.clear_replid2();
        assert!(!s.shares_history(&old, 50));
        assert_eq!(s.second_replid_offset(), -1);
    }
}
