//! RDB snapshots as the server drives them: SAVE (in the foreground), BGSAVE (in a fork
//! child), save points, what happens when a child ends, MISCONF, and the figures INFO
//! persistence reports. Like Redis's rdb.c's "background saving" half; the file format itself
//! lives in `tine_core::rdb`.
//!
//! A background save: the parent forks (`crate::fork`); the child writes the snapshot to
//! `temp-<childpid>.rdb` in `dir`, fsyncs it, renames it to `dbfilename`, fsyncs the directory
//! and exits 0. The parent reaps it: exit 0 is success (LASTSAVE, dirty counter reduced by
//! what the snapshot covered, `rdb_last_bgsave_status:ok`); any other exit, or a kill by a
//! signal other than SIGUSR1, is a failure — the temp file is removed, the status is `err`,
//! and with `stop-writes-on-bgsave-error yes` write commands get MISCONF until a save
//! succeeds. A partial file never replaces a good one: only the child renames, and only after
//! fsync.
//!
//! The child's end is handled by [`BgsaveJob`], the RDB kind's job in the child slot
//! (`persist::child_slot`); this file knows no other kind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::PersistHost;
use super::child_slot::{self, ChildJob, ChildSlot};
use crate::config::Config;
use crate::fork::{self as child, ChildExit, ChildKind, ChildReporter, OomScore, RunningChild};
use tine_core::base;
use tine_core::keyspace::Db;
use tine_core::log;
use tine_core::log::Level;

/// Redis's MISCONF text for a failed background save.
pub(crate) const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// How long after a failed BGSAVE a save point may try again (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const BGSAVE_RETRY_DELAY_SECS: i64 = 5;

/// Why SAVE or BGSAVE did not save. The text (`Display`) is the error reply, in Redis's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaveError {
    /// A child already saves (SAVE, BGSAVE) or another child runs (BGSAVE).
    InProgress,
    /// The save failed; why is in the log only, as Redis replies a bare -ERR.
    Failed,
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SaveError::InProgress => "ERR Background save already in progress",
            SaveError::Failed => "ERR",
        })
    }
}

/// The persistence state INFO reports and the lifecycle needs. `H` is the host whose
/// child-slot jobs run on exit (see `persist::child_slot`).
pub(crate) struct PersistState<H> {
    /// The running child, if any (at most one), with its on-exit job.
    pub(crate) child: ChildSlot<H>,
    pub(crate) total_forks: u64,
    pub(crate) latest_fork_usec: u64,
    pub(crate) rdb_saves: u64,
    pub(crate) last_bgsave_ok: bool,
    pub(crate) last_bgsave_time_sec: i64,
    /// When the last BGSAVE was attempted (for the retry delay after a failure).
    pub(crate) last_bgsave_try: i64,
    pub(crate) rdb_last_cow_size: u64,
    pub(crate) aof_last_cow_size: u64,
    /// BGSAVE SCHEDULE asked for a save once the running child is gone.
    pub(crate) bgsave_scheduled: bool,
    /// `dirty` when the running BGSAVE forked: what its snapshot covers.
    pub(crate) dirty_at_fork: u64,
    pub(crate) rdb_last_load_keys_expired: u64,
    /// The replication history a startup load found in the RDB's aux fields (repl-id,
    /// repl-offset, repl-stream-db), for the replica side to continue from (taken once).
    pub(crate) loaded_repl_info: Option<(String, i64, i64)>,
    /// Keys that load found expired and dropped, (db, key) in file order, kept beside
    /// `loaded_repl_info` only: a restarted primary feeds a DEL for each into its new backlog
    /// (Redis's RDBFLAGS_FEED_REPL), so replicas continuing its history drop them too.
    pub(crate) loaded_expired: Vec<(usize, tine_core::keyspace::Key)>,
    pub(crate) rdb_last_load_keys_loaded: u64,
}

impl<H> Default for PersistState<H> {
    fn default() -> Self {
        PersistState {
            child: ChildSlot::default(),
            total_forks: 0,
            latest_fork_usec: 0,
            rdb_saves: 0,
            last_bgsave_ok: true,
            last_bgsave_time_sec: -1,
            last_bgsave_try: 0,
            rdb_last_cow_size: 0,
            aof_last_cow_size: 0,
            bgsave_scheduled: false,
            dirty_at_fork: 0,
            rdb_last_load_keys_expired: 0,
            loaded_repl_info: None,
            loaded_expired: Vec::new(),
            rdb_last_load_keys_loaded: 0,
        }
    }
}

impl<H> PersistState<H> {
    pub(crate) fn rdb_child_pid(&self) -> Option<i32> {
        self.child.as_ref().filter(|c| c.kind == ChildKind::RdbToFile).map(|c| c.pid)
    }

    /// True while a BGSAVE child writes an RDB file.
    pub(crate) fn bgsave_running(&self) -> bool {
        self.rdb_child_pid().is_some()
    }

    /// The running child unless it rewrites the AOF: the one INFO's `rdb_*` fields describe.
    pub(crate) fn rdb_child(&self) -> Option<&RunningChild> {
        self.child.as_ref().filter(|c| c.kind != ChildKind::AofRewrite)
    }
}

/// DEBUG fork-fail (tine's own): makes the next forks fail as if the OS refused, or stops
/// doing so, to test recovery. The switch is the fork layer's; commands reach it here.
pub(crate) fn set_fail_forks(on: bool) {
    child::FAIL_FORKS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The path of `dbfilename` in `dir` (the server has chdir'ed to `dir`).
pub(crate) fn rdb_path<H: PersistHost>(h: &H) -> PathBuf {
    rdb_path_of(h.config())
}

fn rdb_path_of(config: &Config) -> PathBuf {
    PathBuf::from(&config.dbfilename)
}

/// The temp file a child with this pid writes.
pub(crate) fn temp_rdb_path(pid: u32) -> PathBuf {
    PathBuf::from(format!("temp-{}.rdb", pid))
}

/// True when write commands must be refused with MISCONF.
pub(crate) fn writes_denied<H: PersistHost>(h: &H) -> bool {
    let config = h.config();
    config.stop_writes_on_bgsave_error
        && !config.save.is_empty()
        && !h.persist_state().last_bgsave_ok
}

/// Writes the snapshot to `path` through a temp file: write, fsync, rename, fsync the
/// directory. Used by SAVE in the parent and by the BGSAVE child.
pub(crate) fn save_to_file(
    config: &Config,
    dbs: &[Db],
    path: &Path,
    temp: &Path,
    mut reporter: Option<&mut ChildReporter>,
    repl: Option<tine_core::rdb::ReplInfo>,
    functions: Vec<Vec<u8>>,
) -> Result<(), String> {
    if let Some(r) = reporter.as_deref_mut() {
        r.set_temp_file(temp);
    }
    let file = std::fs::File::create(temp).map_err(|e| {
        format!(
            "Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
            temp.display(),
            root_dir(),
            base::strerror(&e)
        )
    })?;
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, file);
    let written = super::rdb_io::write_snapshot(
        config,
        dbs,
        &mut w,
        reporter.as_deref_mut(),
        repl,
        functions,
    );
    let result = written
        .and_then(|_| w.flush().map_err(|e| e.to_string()))
        .and_then(|_| w.get_ref().sync_all().map_err(|e| e.to_string()));
    if let Err(e) = result {
        let _ = std::fs::remove_file(temp);
        return Err(format!("Write error saving DB on disk: {}", e));
    }
    drop(w);
    // A child whose parent died meanwhile must not publish: a restarted server may already
    // have loaded (or be writing) dump.rdb.
    if let Some(r) = reporter.as_deref_mut() {
        if r.check_parent_now().is_err() {
            r.exit_parent_gone();
        }
    }
    if let Err(e) = std::fs::rename(temp, path) {
        let _ = std::fs::remove_file(temp);
        return Err(format!(
            "Error moving temp DB file {} on the final destination {} (in server root dir {}): {}",
            temp.display(),
            path.display(),
            root_dir(),
            base::strerror(&e)
        ));
    }
    // Published: a parent found gone at the last report does not make it unpublished.
    if let Some(r) = reporter {
        r.clear_temp_file();
    }
    fsync_dir(path);
    Ok(())
}

/// The working directory for error messages; "unknown" when it cannot be found (it was
/// removed), as Redis prints it.
fn root_dir() -> String {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// fsyncs the directory holding `path`, so the rename itself is durable.
pub(crate) fn fsync_dir(path: &Path) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// SAVE: a foreground save. Refused while a child saves (as Redis).
pub(crate) fn save<H: PersistHost>(h: &mut H) -> Result<(), SaveError> {
    if h.persist_state().rdb_child_pid().is_some() {
        return Err(SaveError::InProgress);
    }
    save_in_foreground(h)
}

/// Writes the snapshot in the parent, whether or not a child exists (Redis's rdbSave): SAVE,
/// SHUTDOWN, FLUSHALL, DEBUG RELOAD. Success clears the dirty counter and a previous
/// background-save error; a failure is logged and, as in Redis, leaves
/// `rdb_last_bgsave_status` as it was (so a failed SHUTDOWN does not turn on MISCONF).
pub(crate) fn save_in_foreground<H: PersistHost>(h: &mut H) -> Result<(), SaveError> {
    let repl = h.repl_info();
    let functions = h.function_codes();
    let p = h.parts();
    let path = rdb_path_of(p.config);
    let temp = temp_rdb_path(std::process::id());
    p.state.rdb_saves += 1;
    match save_to_file(p.config, p.dbs, &path, &temp, None, repl, functions) {
        Ok(()) => {
            log!(Level::Notice, "DB saved on disk");
            *p.dirty = 0;
            *p.lastsave = base::unix_time();
            p.state.last_bgsave_ok = true;
            Ok(())
        }
        Err(e) => {
            log!(Level::Warning, "{}", e);
            Err(SaveError::Failed)
        }
    }
}

/// BGSAVE: forks a child that writes the snapshot.
pub(crate) fn bgsave<H: PersistHost>(h: &mut H) -> Result<(), SaveError> {
    bgsave_with_job(h, Box::new(BgsaveJob))
}

/// BGSAVE with another on-exit job: the replication layer's disk-based full sync, whose job
/// runs [`BgsaveJob`]'s and then hands the file to the replicas waiting for it.
pub(crate) fn bgsave_with_job<H: PersistHost>(
    h: &mut H,
    job: Box<dyn ChildJob<H>>,
) -> Result<(), SaveError> {
    if h.persist_state().child.is_some() {
        return Err(SaveError::InProgress);
    }
    let close = h.child_fds();
    let repl = h.repl_info();
    // The libraries' code as plain bytes: the child writes them, it never runs Lua.
    let functions = h.function_codes();
    let p = h.parts();
    p.state.last_bgsave_try = base::unix_time();
    // Redis counts a background save when it is attempted (rdbSaveBackground), so a save
    // whose child is killed or fails to fork still counts.
    p.state.rdb_saves += 1;
    let oom = OomScore::from_config(p.config);
    let path = rdb_path_of(p.config);
    let started = {
        let (config, dbs): (&Config, &[Db]) = (p.config, p.dbs);
        child::start(ChildKind::RdbToFile, &close, oom, |reporter| {
            let temp = temp_rdb_path(std::process::id());
            save_to_file(config, dbs, &path, &temp, Some(&mut *reporter), repl, functions)?;
            log!(Level::Notice, "DB saved on disk");
            reporter.log_cow("RDB");
            Ok(())
        })
    };
    match started {
        Ok(mut ch) => {
            ch.temp_file = Some(temp_rdb_path(ch.pid as u32));
            ch.keys_total = p.dbs.total_keys();
            let dirty = *p.dirty;
            child_slot::record_fork(h, ch.fork_usec);
            h.parts().state.dirty_at_fork = dirty;
            log!(Level::Notice, "Background saving started by pid {}", ch.pid);
            child_slot::occupy(h, ch, job);
            Ok(())
        }
        Err(e) => {
            // Redis replies a bare -ERR and says why in the log only.
            p.state.last_bgsave_ok = false;
            log!(Level::Warning, "Can't save in background: fork: {}", base::strerror(&e));
            Err(SaveError::Failed)
        }
    }
}

/// Reaps a finished child, if any, and handles its end (each kind through its own job in the
/// child slot); then starts a BGSAVE that waited for the slot. Called on SIGCHLD and every
/// cron tick.
pub(crate) fn check_children_done<H: PersistHost>(h: &mut H) {
    child_slot::reap_finished(h);
    let st = h.parts().state;
    if st.child.is_none() && st.bgsave_scheduled {
        st.bgsave_scheduled = false;
        if bgsave(h).is_err() {
            h.parts().state.bgsave_scheduled = false;
        }
    }
}

/// The RDB-to-file kind's on-exit job.
pub(crate) struct BgsaveJob;

impl<H: PersistHost> ChildJob<H> for BgsaveJob {
    fn on_exit(self: Box<Self>, h: &mut H, child: RunningChild, exit: ChildExit) {
        bgsave_done(h, child, exit);
    }
}

/// What happens when a BGSAVE child ends (Redis's backgroundSaveDoneHandlerDisk).
fn bgsave_done<H: PersistHost>(h: &mut H, ch: RunningChild, exit: ChildExit) {
    let p = h.parts();
    let elapsed = ch.started.elapsed().as_secs() as i64;
    match exit {
        ChildExit::Exited(0) => {
            log!(Level::Notice, "Background saving terminated with success");
            *p.dirty = p.dirty.saturating_sub(p.state.dirty_at_fork);
            *p.lastsave = base::unix_time();
            p.state.last_bgsave_ok = true;
            p.state.rdb_last_cow_size = ch.report.cow_bytes;
        }
        ChildExit::Exited(code) => {
            log!(Level::Warning, "Background saving error (child exited with code {})", code);
            p.state.last_bgsave_ok = false;
        }
        ChildExit::Signaled(sig) => {
            // Redis's words whether the server itself sent SIGUSR1 (FLUSHALL, SHUTDOWN) or
            // someone else did: SIGUSR1 is how a child is stopped on purpose, not a failure.
            log!(Level::Warning, "Background saving terminated by signal {}", sig);
            if sig != libc::SIGUSR1 {
                p.state.last_bgsave_ok = false;
            }
        }
    }
    if !exit.success() {
        if let Some(t) = &ch.temp_file {
            let _ = std::fs::remove_file(t);
        }
    }
    p.state.last_bgsave_time_sec = elapsed;
}

/// Kills the running RDB child (a BGSAVE or a diskless sync's) on purpose (SIGUSR1), on FLUSHALL.
pub(crate) fn kill_rdb_child<H: PersistHost>(h: &mut H) {
    let st = h.parts().state;
    // Both RDB children, as Redis's CHILD_TYPE_RDB: a diskless sync's snapshot is as stale,
    // and its replicas, dropped with it, resync with the flushed data.
    let rdb =
        |c: &&mut RunningChild| matches!(c.kind, ChildKind::RdbToFile | ChildKind::RdbToReplicas);
    if let Some(ch) = st.child.as_mut().filter(rdb) {
        ch.kill_on_purpose();
        if let Some(t) = &ch.temp_file {
            let _ = std::fs::remove_file(t);
        }
    }
}

/// FLUSHALL's effect on snapshots, as Redis 7.0's flushAllDataAndResetRDB: a running BGSAVE
/// child is stopped on purpose (its snapshot is of data that no longer exists), and with save
/// points configured an (empty) RDB is written at once so that a restart does not bring the
/// flushed data back; that save resets the dirty counter. Called after the keyspace is emptied.
pub(crate) fn flushall_reset_rdb<H: PersistHost>(h: &mut H) {
    kill_rdb_child(h);
    if !h.config().save.is_empty() {
        let _ = save_in_foreground(h);
    }
}

/// Save points: start a BGSAVE when one is reached (cron), as Redis's serverCron.
pub(crate) fn cron<H: PersistHost>(h: &mut H, now: i64) {
    check_children_done(h);
    if h.persist_state().child.is_some() {
        return;
    }
    let p = h.parts();
    for (secs, changes) in p.config.save_points() {
        let due = *p.dirty >= changes as u64 && now - *p.lastsave > secs;
        let may_retry =
            p.state.last_bgsave_ok || now - p.state.last_bgsave_try > BGSAVE_RETRY_DELAY_SECS;
        if due && may_retry {
            log!(Level::Notice, "{} changes in {} seconds. Saving...", changes, secs);
            let _ = bgsave(h);
            break;
        }
    }
}

/// Stops a running child at shutdown: kills it (its snapshot would be stale) and reaps it.
pub(crate) fn stop_child_for_shutdown<H: PersistHost>(h: &mut H) {
    let p = h.parts();
    if let Some(ch) = p.state.child.as_mut() {
        log!(Level::Warning, "There is a child saving an .rdb. Killing it!");
        ch.kill_on_purpose();
        if let Some(t) = &ch.temp_file {
            let _ = std::fs::remove_file(t);
        }
        // The child was sent SIGUSR1: it is gone almost at once.
        ch.reap_within(100, Duration::from_millis(10));
        p.state.child.clear();
        p.dbs.set_fork_active(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::child_slot::reap_with;
    use crate::persist::testing::FakeHost;

    fn with_bgsave_child(h: &mut FakeHost, pid: i32) {
        child_slot::occupy(
            h,
            RunningChild::for_test(pid, ChildKind::RdbToFile),
            Box::new(BgsaveJob),
        );
    }

    #[test]
    fn misconf_needs_a_failed_save_save_points_and_the_directive() {
        let mut h = FakeHost::new();
        h.config.save = "900 1".into();
        h.config.stop_writes_on_bgsave_error = true;
        assert!(!writes_denied(&h));
        h.state.last_bgsave_ok = false;
        assert!(writes_denied(&h));
        h.config.save = String::new();
        assert!(!writes_denied(&h));
    }

    #[test]
    fn save_and_bgsave_are_refused_while_a_child_runs() {
        let mut h = FakeHost::new();
        with_bgsave_child(&mut h, 11);
        assert_eq!(save(&mut h), Err(SaveError::InProgress));
        assert_eq!(bgsave(&mut h), Err(SaveError::InProgress));
        assert_eq!(SaveError::InProgress.to_string(), "ERR Background save already in progress");
        assert_eq!(SaveError::Failed.to_string(), "ERR");
        assert_eq!(h.state.rdb_saves, 0, "a refused save is not an attempt");
    }

    #[test]
    fn a_successful_bgsave_keeps_the_changes_made_since_the_fork() {
        let mut h = FakeHost::new();
        with_bgsave_child(&mut h, 12);
        h.state.dirty_at_fork = 5;
        h.dirty = 8;
        h.state.last_bgsave_ok = false;
        let mut exits = vec![(12, ChildExit::Exited(0))];
        reap_with(&mut h, || exits.pop());
        assert!(h.state.child.is_none());
        assert_eq!(h.dirty, 3);
        assert!(h.state.last_bgsave_ok);
        assert!(h.lastsave > 0);
    }

    #[test]
    fn a_failed_bgsave_sets_the_error_but_sigusr1_does_not() {
        let mut h = FakeHost::new();
        with_bgsave_child(&mut h, 13);
        let mut exits = vec![(13, ChildExit::Signaled(libc::SIGUSR1))];
        reap_with(&mut h, || exits.pop());
        assert!(h.state.last_bgsave_ok);

        with_bgsave_child(&mut h, 14);
        let mut exits = vec![(14, ChildExit::Exited(1))];
        reap_with(&mut h, || exits.pop());
        assert!(!h.state.last_bgsave_ok);
        assert_eq!(h.dirty, 0);
    }

    #[test]
    fn save_points_wait_for_the_running_child() {
        let mut h = FakeHost::new();
        h.config.save = "1 1".into();
        h.dirty = 10;
        with_bgsave_child(&mut h, 15);
        // No child ends (the reaper finds none), so no second fork is attempted.
        cron(&mut h, 1_000_000);
        assert_eq!(h.state.rdb_saves, 0);
        assert_eq!(h.state.child.as_ref().map(|c| c.pid), Some(15));
    }
}
