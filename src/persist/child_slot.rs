//! The single fork-child slot and what runs when its child ends.
//!
//! At most one child runs at a time (BGSAVE, BGREWRITEAOF, and next a diskless sync), as in
//! Redis. The slot holds the parent's handle on that child together with its [`ChildJob`]:
//! the on-exit handler of its kind. Reaping (`fork::reap`, on SIGCHLD and every cron tick)
//! hands each finished child to its own job, so the slot knows no kind: a new kind (the
//! replication layer's diskless sync) implements [`ChildJob`] and occupies the slot without
//! an edit here, and the snapshot and AOF drivers never call into each other.
//!
//! The job is typed by its host `H` (the server's data half, `commands::Data`, in the running
//! server; a small fake in tests) so that each kind's handler can reach what it needs through
//! its own layer's host trait.

use crate::fork::{ChildExit, RunningChild};
use crate::persist::PersistHost;
use tine_core::base;
use tine_core::log;
use tine_core::log::Level;

/// What happens when a child of one kind ends (Redis's backgroundSaveDoneHandler,
/// backgroundRewriteDoneHandler...).
pub(crate) trait ChildJob<H>: 'static {
    /// Handles the end of `child`, already reaped and removed from the slot.
    fn on_exit(self: Box<Self>, host: &mut H, child: RunningChild, exit: ChildExit);
}

/// The one running child, if any, with its on-exit job. Its accessors mirror `Option`'s
/// (`is_some`, `as_ref`, `as_mut`), so readers of the running child (INFO, BGSAVE's checks)
/// read it as they read the `Option<RunningChild>` it replaced.
pub(crate) struct ChildSlot<H> {
    running: Option<(RunningChild, Box<dyn ChildJob<H>>)>,
}

impl<H> Default for ChildSlot<H> {
    fn default() -> Self {
        ChildSlot { running: None }
    }
}

impl<H> ChildSlot<H> {
    /// True while a child runs.
    pub(crate) fn is_some(&self) -> bool {
        self.running.is_some()
    }

    /// True while no child runs.
    pub(crate) fn is_none(&self) -> bool {
        self.running.is_none()
    }

    /// The running child.
    pub(crate) fn as_ref(&self) -> Option<&RunningChild> {
        self.running.as_ref().map(|(c, _)| c)
    }

    /// The running child, to drain its reports or stop it.
    pub(crate) fn as_mut(&mut self) -> Option<&mut RunningChild> {
        self.running.as_mut().map(|(c, _)| c)
    }

    /// Puts a just-forked child in the slot. The callers check the slot is free before they
    /// fork; a second child would break the one-child rule, so this is a bug, not a state.
    pub(crate) fn occupy(&mut self, child: RunningChild, job: Box<dyn ChildJob<H>>) {
        assert!(self.running.is_none(), "a second fork child while one runs");
        self.running = Some((child, job));
    }

    /// Empties the slot without running the job: the child was stopped and reaped on purpose
    /// (shutdown, `CONFIG SET appendonly no`), and its end is not an outcome to handle.
    pub(crate) fn clear(&mut self) -> Option<RunningChild> {
        self.running.take().map(|(c, _)| c)
    }

    /// Takes the child out of the slot if it is `pid`.
    fn take_pid(&mut self, pid: i32) -> Option<(RunningChild, Box<dyn ChildJob<H>>)> {
        self.running.take_if(|(c, _)| c.pid == pid)
    }
}

/// Reaps every finished child without blocking and hands each to its job. Called on SIGCHLD
/// and every cron tick (through `snapshot::check_children_done`).
pub(crate) fn reap_finished<H: PersistHost>(h: &mut H) {
    reap_with(h, crate::fork::reap);
}

/// [`reap_finished`] with the reaping injected, so the dispatch can be tested without a fork.
pub(crate) fn reap_with<H: PersistHost>(
    h: &mut H,
    mut reap: impl FnMut() -> Option<(i32, ChildExit)>,
) {
    if let Some(ch) = h.parts().state.child.as_mut() {
        ch.drain_reports();
    }
    while let Some((pid, exit)) = reap() {
        let p = h.parts();
        let Some((mut ch, job)) = p.state.child.take_pid(pid) else {
            log!(Level::Warning, "Warning, detected child with unmatched pid: {}", pid);
            continue;
        };
        ch.drain_reports();
        p.dbs.set_fork_active(false);
        job.on_exit(h, ch, exit);
    }
}

/// Counts a fork that started a child and records how long the parent stalled in it (INFO
/// `latest_fork_usec`, and the `fork` event of the latency monitor).
pub(crate) fn record_fork<H: PersistHost>(h: &mut H, fork_usec: u64) {
    let p = h.parts();
    p.state.total_forks += 1;
    p.state.latest_fork_usec = fork_usec;
    let threshold = p.config.latency_monitor_threshold;
    p.latency.add_if_needed(threshold, "fork", fork_usec / 1000, base::unix_time());
}

/// Puts a just-forked child and its job in the slot, and tells the keyspace a child exists.
pub(crate) fn occupy<H: PersistHost>(h: &mut H, child: RunningChild, job: Box<dyn ChildJob<H>>) {
    let p = h.parts();
    p.state.child.occupy(child, job);
    p.dbs.set_fork_active(true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fork::ChildKind;
    use crate::persist::testing::FakeHost;

    /// A child kind the slot has never heard of, as replication's will be.
    struct Recorder(&'static str);

    impl ChildJob<FakeHost> for Recorder {
        fn on_exit(self: Box<Self>, host: &mut FakeHost, child: RunningChild, exit: ChildExit) {
            host.events.push(format!("{} pid {} {:?}", self.0, child.pid, exit));
        }
    }

    #[test]
    fn a_finished_child_goes_to_its_own_job() {
        let mut h = FakeHost::new();
        let ch = RunningChild::for_test(4242, ChildKind::RdbToReplicas);
        occupy(&mut h, ch, Box::new(Recorder("diskless")));
        assert!(h.state.child.is_some());
        let mut exits = vec![(4242, ChildExit::Signaled(9))];
        reap_with(&mut h, || exits.pop());
        assert!(h.state.child.is_none());
        assert_eq!(h.events, vec!["diskless pid 4242 Signaled(9)".to_string()]);
    }

    #[test]
    fn an_unknown_pid_leaves_the_slot_alone() {
        let mut h = FakeHost::new();
        occupy(&mut h, RunningChild::for_test(7, ChildKind::AofRewrite), Box::new(Recorder("aof")));
        let mut exits = vec![(8, ChildExit::Exited(0))];
        reap_with(&mut h, || exits.pop());
        assert_eq!(h.state.child.as_ref().map(|c| c.pid), Some(7));
        assert!(h.events.is_empty());
    }

    #[test]
    fn clear_drops_the_job_unrun() {
        let mut h = FakeHost::new();
        occupy(&mut h, RunningChild::for_test(9, ChildKind::RdbToFile), Box::new(Recorder("rdb")));
        assert_eq!(h.state.child.clear().map(|c| c.pid), Some(9));
        let mut exits = vec![(9, ChildExit::Exited(0))];
        reap_with(&mut h, || exits.pop());
        assert!(h.events.is_empty());
    }
}
