//! RDB snapshots as the server drives them: SAVE (in the foreground), BGSAVE (in a fork
//! child), save points, what happens when a child ends, MISCONF, and the figures INFO
//! persistence reports. Like Redis's rdb.c's "background saving" half; the file format itself
//! lives in `persist::rdb`.
//!
//! A background save: the parent forks (`persist::child`); the child writes the snapshot to
//! `temp-<childpid>.rdb` in `dir`, fsyncs it, renames it to `dbfilename`, fsyncs the directory
//! and exits 0. The parent reaps it: exit 0 is success (LASTSAVE, dirty counter reduced by
//! what the snapshot covered, `rdb_last_bgsave_status:ok`); any other exit, or a kill by a
//! signal other than SIGUSR1, is a failure — the temp file is removed, the status is `err`,
//! and with `stop-writes-on-bgsave-error yes` write commands get MISCONF until a save
//! succeeds. A partial file never replaces a good one: only the child renames, and only after
//! fsync.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::app::server::Server;
use crate::fork::{self as child, ChildExit, ChildKind, ChildReporter, OomScore, RunningChild};
use tine_core::base;
use tine_core::log;
use tine_core::log::Level;

/// Redis's MISCONF text for a failed background save.
pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// How long after a failed BGSAVE a save point may try again (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const BGSAVE_RETRY_DELAY_SECS: i64 = 5;

/// The persistence state INFO reports and the lifecycle needs.
pub struct PersistState {
    /// The running child, if any (at most one).
    pub child: Option<RunningChild>,
    pub total_forks: u64,
    pub latest_fork_usec: u64,
    pub rdb_saves: u64,
    pub last_bgsave_ok: bool,
    pub last_bgsave_time_sec: i64,
    /// When the last BGSAVE was attempted (for the retry delay after a failure).
    pub last_bgsave_try: i64,
    pub rdb_last_cow_size: u64,
    pub aof_last_cow_size: u64,
    /// BGSAVE SCHEDULE asked for a save once the running child is gone.
    pub bgsave_scheduled: bool,
    /// `dirty` when the running BGSAVE forked: what its snapshot covers.
    pub dirty_at_fork: u64,
    pub rdb_last_load_keys_expired: u64,
    pub rdb_last_load_keys_loaded: u64,
}

impl Default for PersistState {
    fn default() -> Self {
        PersistState {
            child: None,
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
            rdb_last_load_keys_loaded: 0,
        }
    }
}

impl PersistState {
    pub fn rdb_child_pid(&self) -> Option<i32> {
        self.child.as_ref().filter(|c| c.kind == ChildKind::RdbToFile).map(|c| c.pid)
    }
}

/// The path of `dbfilename` in `dir` (the server has chdir'ed to `dir`).
pub fn rdb_path(srv: &Server) -> PathBuf {
    PathBuf::from(&srv.config.dbfilename)
}

/// The temp file a child with this pid writes.
pub fn temp_rdb_path(pid: u32) -> PathBuf {
    PathBuf::from(format!("temp-{}.rdb", pid))
}

/// True when write commands must be refused with MISCONF.
pub fn writes_denied(srv: &Server) -> bool {
    srv.config.stop_writes_on_bgsave_error
        && !srv.config.save.is_empty()
        && !srv.persist.last_bgsave_ok
}

/// Writes the snapshot to `path` through a temp file: write, fsync, rename, fsync the
/// directory. Used by SAVE in the parent and by the BGSAVE child.
pub fn save_to_file(
    srv: &Server,
    path: &Path,
    temp: &Path,
    mut reporter: Option<&mut ChildReporter>,
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
    let written = super::rdb_io::write_snapshot(srv, &mut w, reporter.as_deref_mut());
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
    if let Some(r) = reporter {
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
pub fn fsync_dir(path: &Path) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// SAVE: a foreground save. Refused while a child saves (as Redis).
pub fn save(srv: &mut Server) -> Result<(), String> {
    if srv.persist.rdb_child_pid().is_some() {
        return Err("ERR Background save already in progress".into());
    }
    save_in_foreground(srv)
}

/// Writes the snapshot in the parent, whether or not a child exists (Redis's rdbSave): SAVE,
/// SHUTDOWN, FLUSHALL, DEBUG RELOAD. Success clears the dirty counter and a previous
/// background-save error; a failure is logged and, as in Redis, leaves
/// `rdb_last_bgsave_status` as it was (so a failed SHUTDOWN does not turn on MISCONF).
pub fn save_in_foreground(srv: &mut Server) -> Result<(), String> {
    let path = rdb_path(srv);
    let temp = temp_rdb_path(std::process::id());
    srv.persist.rdb_saves += 1;
    match save_to_file(srv, &path, &temp, None) {
        Ok(()) => {
            log!(Level::Notice, "DB saved on disk");
            srv.dirty = 0;
            srv.lastsave = base::unix_time();
            srv.persist.last_bgsave_ok = true;
            Ok(())
        }
        Err(e) => {
            log!(Level::Warning, "{}", e);
            Err("ERR".into())
        }
    }
}

/// The descriptors a child must close: listeners and client sockets.
pub(crate) fn fds_to_close(srv: &Server) -> Vec<i32> {
    let mut fds: Vec<i32> = srv.listener_fds.clone();
    fds.extend(srv.clients.raw_fds());
    fds
}

/// BGSAVE: forks a child that writes the snapshot. `Err` carries the reply error.
pub fn bgsave(srv: &mut Server) -> Result<(), String> {
    if srv.persist.child.is_some() {
        return Err("ERR Background save already in progress".into());
    }
    srv.persist.last_bgsave_try = base::unix_time();
    // Redis counts a background save when it is attempted (rdbSaveBackground), so a save
    // whose child is killed or fails to fork still counts.
    srv.persist.rdb_saves += 1;
    let close = fds_to_close(srv);
    let oom = OomScore::from_config(&srv.config);
    let path = rdb_path(srv);
    let started = {
        let srv_ref: &Server = srv;
        child::start(ChildKind::RdbToFile, &close, oom, |reporter| {
            let temp = temp_rdb_path(std::process::id());
            save_to_file(srv_ref, &path, &temp, Some(&mut *reporter))?;
            log!(Level::Notice, "DB saved on disk");
            reporter.log_cow("RDB");
            Ok(())
        })
    };
    match started {
        Ok(mut ch) => {
            ch.temp_file = Some(temp_rdb_path(ch.pid as u32));
            ch.keys_total = srv.total_keys() as u64;
            record_fork(srv, ch.fork_usec);
            srv.persist.dirty_at_fork = srv.dirty;
            log!(Level::Notice, "Background saving started by pid {}", ch.pid);
            srv.persist.child = Some(ch);
            srv.set_fork_active(true);
            Ok(())
        }
        Err(e) => {
            // Redis replies a bare -ERR and says why in the log only.
            srv.persist.last_bgsave_ok = false;
            log!(Level::Warning, "Can't save in background: fork: {}", base::strerror(&e));
            Err("ERR".into())
        }
    }
}

/// Counts a fork that started a child and records how long the parent stalled in it (INFO
/// `latest_fork_usec`, and the `fork` event of the latency monitor).
pub fn record_fork(srv: &mut Server, fork_usec: u64) {
    srv.persist.total_forks += 1;
    srv.persist.latest_fork_usec = fork_usec;
    let threshold = srv.config.latency_monitor_threshold;
    srv.latency.add_if_needed(threshold, "fork", fork_usec / 1000, base::unix_time());
}

/// Reaps a finished child, if any, and handles its end. Called on SIGCHLD and every cron tick.
pub fn check_children_done(srv: &mut Server) {
    if let Some(ch) = srv.persist.child.as_mut() {
        ch.drain_reports();
    }
    while let Some((pid, exit)) = child::reap() {
        let Some(ch) = srv.persist.child.take_if(|c| c.pid == pid) else {
            log!(Level::Warning, "Warning, detected child with unmatched pid: {}", pid);
            continue;
        };
        let mut ch = ch;
        ch.drain_reports();
        srv.set_fork_active(false);
        match ch.kind {
            ChildKind::RdbToFile => bgsave_done(srv, ch, exit),
            ChildKind::AofRewrite => super::aof::rewrite::done(srv, ch, exit),
            ChildKind::RdbToReplicas => {}
        }
    }
    if srv.persist.child.is_none() && srv.persist.bgsave_scheduled {
        srv.persist.bgsave_scheduled = false;
        if bgsave(srv).is_err() {
            srv.persist.bgsave_scheduled = false;
        }
    }
}

/// What happens when a BGSAVE child ends (Redis's backgroundSaveDoneHandlerDisk).
fn bgsave_done(srv: &mut Server, ch: RunningChild, exit: ChildExit) {
    let elapsed = ch.started.elapsed().as_secs() as i64;
    match exit {
        ChildExit::Exited(0) => {
            log!(Level::Notice, "Background saving terminated with success");
            srv.dirty = srv.dirty.saturating_sub(srv.persist.dirty_at_fork);
            srv.lastsave = base::unix_time();
            srv.persist.last_bgsave_ok = true;
            srv.persist.rdb_last_cow_size = ch.report.cow_bytes;
        }
        ChildExit::Exited(code) => {
            log!(Level::Warning, "Background saving error (child exited with code {})", code);
            srv.persist.last_bgsave_ok = false;
        }
        ChildExit::Signaled(sig) => {
            // Redis's words whether the server itself sent SIGUSR1 (FLUSHALL, SHUTDOWN) or
            // someone else did: SIGUSR1 is how a child is stopped on purpose, not a failure.
            log!(Level::Warning, "Background saving terminated by signal {}", sig);
            if sig != libc::SIGUSR1 {
                srv.persist.last_bgsave_ok = false;
            }
        }
    }
    if !exit.success() {
        if let Some(t) = &ch.temp_file {
            let _ = std::fs::remove_file(t);
        }
    }
    srv.persist.last_bgsave_time_sec = elapsed;
}

/// Kills the running BGSAVE child on purpose (SIGUSR1), e.g. on FLUSHALL or shutdown.
pub fn kill_rdb_child(srv: &mut Server) {
    if let Some(ch) = srv.persist.child.as_mut().filter(|c| c.kind == ChildKind::RdbToFile) {
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
pub fn flushall_reset_rdb(srv: &mut Server) {
    kill_rdb_child(srv);
    if !srv.config.save.is_empty() {
        let _ = save_in_foreground(srv);
    }
}

/// Save points: start a BGSAVE when one is reached (cron), as Redis's serverCron.
pub fn cron(srv: &mut Server, now: i64) {
    check_children_done(srv);
    if srv.persist.child.is_some() {
        return;
    }
    for (secs, changes) in srv.config.save_points() {
        let due = srv.dirty >= changes as u64 && now - srv.lastsave > secs;
        let may_retry = srv.persist.last_bgsave_ok
            || now - srv.persist.last_bgsave_try > BGSAVE_RETRY_DELAY_SECS;
        if due && may_retry {
            log!(Level::Notice, "{} changes in {} seconds. Saving...", changes, secs);
            let _ = bgsave(srv);
            break;
        }
    }
}

/// Waits for a running child at shutdown: kills it (its snapshot would be stale) and reaps.
pub fn stop_child_for_shutdown(srv: &mut Server) {
    if let Some(ch) = srv.persist.child.as_mut() {
        log!(Level::Warning, "There is a child saving an .rdb. Killing it!");
        ch.kill_on_purpose();
        if let Some(t) = &ch.temp_file {
            let _ = std::fs::remove_file(t);
        }
        let pid = ch.pid;
        // The child was sent SIGUSR1: it is gone almost at once.
        for _ in 0..100 {
            let mut status = 0;
            // SAFETY: waitpid on our own child's pid with WNOHANG.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r != 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        srv.persist.child = None;
        srv.set_fork_active(false);
    }
}
