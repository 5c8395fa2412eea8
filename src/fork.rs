//! The one place in tine that calls `fork()`.
//!
//! A fork child is a point-in-time copy of the server: copy-on-write keeps its view of the
//! keyspace frozen while the parent goes on serving. tine uses children to write snapshots
//! (BGSAVE), rewrite the AOF and stream snapshots to replicas. This file owns everything about
//! their life, so the rules live in one place:
//!
//! **In the child** (`start`): it closes what it must not hold — listening sockets and client
//! sockets (so a client never sees its connection kept open by a child, and a restarted parent
//! can rebind) and the read end of the child-info pipe (so that if the parent dies, the
//! child's next report fails with EPIPE and the child exits instead of running on). It names
//! itself (`tine-rdb-bgsave`...), raises its own `oom_score_adj` so the kernel's OOM killer
//! picks it before the parent, runs its body inside `catch_unwind`, and ends with `_exit`:
//! no destructors, no atexit handlers, no flushing of buffers inherited from the parent, and
//! never a return into the event loop. A panic is an `_exit` with a failure code.
//!
//! **Progress** (`ChildReporter`): about once a second and at the end the child writes a
//! fixed-size record to the child-info pipe: keys processed and its copy-on-write size
//! (Private_Dirty from /proc/self/smaps_rollup on Linux; 0 where the OS has no such figure).
//! The write end is non-blocking: a busy parent never stalls the child.
//!
//! **In the parent** (`RunningChild`, `reap`): it times the fork (`latest_fork_usec`), reads
//! the reports without blocking, reaps with `waitpid(-1, WNOHANG)` (on SIGCHLD and on every
//! cron tick), and tells apart a clean exit, a failure exit code and a kill by a signal. It
//! is the only `waitpid` in tine: stopping a child on purpose reaps it here too
//! (`RunningChild::reap_after_kill`, `RunningChild::reap_within`).
//! SIGUSR1 is how the parent itself stops a child it no longer needs (`kill_on_purpose`); that
//! is not a failure. The parent never blocks waiting for a child.
//!
//! **Allocation while a child lives** (`arena`): around the fork the parent moves its
//! event-loop thread to an arena of its own and stops purging the others, so that its new
//! allocations land in pages the child does not share; it moves back when the child's handle
//! is dropped.
//!
//! It also detaches the server at startup for `daemonize yes` (`daemonize`), which is a fork
//! too.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

pub(crate) mod arena;

/// Exit code of a child whose work failed (Redis exits 1 too).
pub(crate) const CHILD_EXIT_FAILURE: i32 = 1;
/// Exit code of a child that found its parent gone (EPIPE on the info pipe).
pub(crate) const CHILD_EXIT_PARENT_GONE: i32 = 2;
/// Exit code of a child whose body panicked.
pub(crate) const CHILD_EXIT_PANIC: i32 = 3;
/// How often the child reports progress.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// What a child does. At most one runs at a time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ChildKind {
    /// BGSAVE: an RDB to a file.
    RdbToFile,
    /// Diskless sync: an RDB into a pipe the parent fans out to replicas.
    RdbToReplicas,
    /// BGREWRITEAOF: a new AOF base.
    AofRewrite,
}

impl ChildKind {
    /// The process title the child takes (at most 15 bytes: Linux's comm limit).
    pub(crate) fn title(self) -> &'static str {
        match self {
            ChildKind::RdbToFile => "tine-rdb-bgsave",
            ChildKind::RdbToReplicas => "tine-rdb-to-rep",
            ChildKind::AofRewrite => "tine-aof-rewrit",
        }
    }
}

/// One progress record on the child-info pipe. Fixed size and smaller than PIPE_BUF, so each
/// write is atomic and the parent never sees half a record.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct ChildReport {
    pub(crate) keys_processed: u64,
    pub(crate) cow_bytes: u64,
    /// True on the last record, written just before `_exit(0)`.
    pub(crate) done: bool,
}

const REPORT_BYTES: usize = 24;
const REPORT_MAGIC: u32 = 0x7469_6e65; // "tine"

impl ChildReport {
    fn encode(&self) -> [u8; REPORT_BYTES] {
        let mut b = [0u8; REPORT_BYTES];
        b[0..4].copy_from_slice(&REPORT_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&(self.done as u32).to_le_bytes());
        b[8..16].copy_from_slice(&self.keys_processed.to_le_bytes());
        b[16..24].copy_from_slice(&self.cow_bytes.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<ChildReport> {
        if b.len() != REPORT_BYTES || b[0..4] != REPORT_MAGIC.to_le_bytes() {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        Some(ChildReport { done: b[4] != 0, keys_processed: u64_at(8), cow_bytes: u64_at(16) })
    }
}

/// The current copy-on-write size of this process: Private_Dirty, summed by the kernel in
/// /proc/self/smaps_rollup. Right after fork nearly nothing is private; every page the parent
/// or the child writes afterwards becomes private to one of them.
pub(crate) fn private_dirty_bytes() -> u64 {
    private_dirty_of("self")
}

/// Private_Dirty of any process (`"self"` or a pid), 0 where not available.
pub(crate) fn private_dirty_of(pid: &str) -> u64 {
    #[cfg(target_os = "linux")]
    {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", pid)) else {
            return 0;
        };
        text.lines()
            .filter(|l| l.starts_with("Private_Dirty:"))
            .filter_map(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
            .sum::<u64>()
            * 1024
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        0
    }
}

/// The child's side of the child-info pipe.
pub(crate) struct ChildReporter {
    fd: RawFd,
    last: Instant,
    keys: u64,
    /// The file the child is writing, removed if the parent turns out to be gone: nobody will
    /// ever rename or clean it up otherwise.
    temp_file: Option<std::path::PathBuf>,
    /// Copy-on-write samples taken for the reports: peak and sum, for the closing log line.
    cow_peak: u64,
    cow_sum: u64,
    cow_samples: u64,
}

/// The parent is gone: the child must stop without publishing anything.
#[derive(Debug)]
pub(crate) struct ParentGone;

impl ChildReporter {
    /// Called by the child's body as it works; writes a record at most once a second.
    /// Returns `Err(ParentGone)` when the parent has died (EPIPE).
    pub(crate) fn progress(&mut self, keys_processed: u64) -> Result<(), ParentGone> {
        self.keys = keys_processed;
        if self.last.elapsed() >= REPORT_INTERVAL {
            self.last = Instant::now();
            let cow_bytes = self.sample_cow();
            self.send(ChildReport { keys_processed, cow_bytes, done: false })?;
        }
        Ok(())
    }

    fn sample_cow(&mut self) -> u64 {
        let cow = private_dirty_bytes();
        self.cow_peak = self.cow_peak.max(cow);
        self.cow_sum += cow;
        self.cow_samples += 1;
        cow
    }

    /// Redis's closing line for a child ("Fork CoW for RDB: current 0 MB, peak 0 MB, average
    /// 0 MB"), `what` being "RDB" or "AOF rewrite"; takes a last sample.
    pub(crate) fn log_cow(&mut self, what: &str) {
        const MB: u64 = 1024 * 1024;
        let current = self.sample_cow();
        tine_core::log::log(
            tine_core::log::Level::Notice,
            &format!(
                "Fork CoW for {}: current {} MB, peak {} MB, average {} MB",
                what,
                current / MB,
                self.cow_peak / MB,
                self.cow_sum / self.cow_samples.max(1) / MB
            ),
        );
    }

    /// Checks the parent is still there now, whatever the time since the last record: called
    /// just before publishing (renaming) a file, so that a child whose parent died does not
    /// replace a file a new server may already be using.
    pub(crate) fn check_parent_now(&mut self) -> Result<(), ParentGone> {
        self.last = Instant::now();
        let cow_bytes = self.sample_cow();
        self.send(ChildReport { keys_processed: self.keys, cow_bytes, done: false })
    }

    /// Names the file this child is writing, to be removed if the parent is found gone.
    pub(crate) fn set_temp_file(&mut self, path: &std::path::Path) {
        self.temp_file = Some(path.to_path_buf());
    }

    /// The file named by `set_temp_file` is published (renamed to its final name): it is no
    /// longer this child's to remove.
    pub(crate) fn clear_temp_file(&mut self) {
        self.temp_file = None;
    }

    /// Ends the child because the parent is gone (EPIPE on the info pipe), as Redis's
    /// sendChildInfoGeneric: logs, removes the unfinished file, and `_exit`s. The one way out
    /// for every child kind that finds its parent gone: nothing it wrote is published, and
    /// nothing it wrote is left behind.
    pub(crate) fn exit_parent_gone(&self) -> ! {
        tine_core::log::warning("Child failed reporting info to parent, exiting. Broken pipe");
        if let Some(t) = &self.temp_file {
            let _ = std::fs::remove_file(t);
        }
        // SAFETY: a ChildReporter exists only in a fork child (`child_main`); see there on
        // why `_exit`.
        unsafe { libc::_exit(CHILD_EXIT_PARENT_GONE) }
    }

    fn send(&self, r: ChildReport) -> Result<(), ParentGone> {
        let b = r.encode();
        // SAFETY: writing our own bytes to a descriptor this process owns.
        let n = unsafe { libc::write(self.fd, b.as_ptr().cast(), b.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EPIPE) {
                return Err(ParentGone);
            }
            // EAGAIN: the parent is alive but has not read; skip this record.
        }
        Ok(())
    }
}

/// The parent's handle on a running child.
pub(crate) struct RunningChild {
    pub(crate) pid: i32,
    pub(crate) kind: ChildKind,
    pub(crate) started: Instant,
    /// Microseconds the fork call took in the parent.
    pub(crate) fork_usec: u64,
    info: File,
    partial: Vec<u8>,
    /// The latest report.
    pub(crate) report: ChildReport,
    pub(crate) cow_peak: u64,
    pub(crate) cow_updated: Option<Instant>,
    /// Keys the parent had when it forked (for current_fork_perc).
    pub(crate) keys_total: u64,
    /// A file the child writes that must be removed if it fails.
    pub(crate) temp_file: Option<std::path::PathBuf>,
    /// Set when the parent sent SIGUSR1 to stop it.
    pub(crate) killed_on_purpose: bool,
}

impl RunningChild {
    /// Reads every complete report waiting in the pipe, without blocking.
    pub(crate) fn drain_reports(&mut self) {
        let mut buf = [0u8; REPORT_BYTES * 16];
        loop {
            match self.info.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.partial.extend_from_slice(&buf[..n]);
                    while self.partial.len() >= REPORT_BYTES {
                        if let Some(r) = ChildReport::decode(&self.partial[..REPORT_BYTES]) {
                            self.report = r;
                            self.cow_peak = self.cow_peak.max(r.cow_bytes);
                            self.cow_updated = Some(Instant::now());
                        }
                        self.partial.drain(..REPORT_BYTES);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }

    /// Stops the child with SIGUSR1: the parent no longer needs its work.
    pub(crate) fn kill_on_purpose(&mut self) {
        self.killed_on_purpose = true;
        // SAFETY: kill on the pid of our own child; at worst ESRCH if it already exited.
        unsafe { libc::kill(self.pid, libc::SIGUSR1) };
    }

    /// Reaps this child, blocking until it is gone. Only after [`Self::kill_on_purpose`]: a
    /// child sent SIGUSR1 exits at once, so the wait is short (Redis's killAppendOnlyChild
    /// waits the same way).
    pub(crate) fn reap_after_kill(&self) {
        let mut status = 0;
        // SAFETY: waitpid on our own child's pid, writing the status we own.
        unsafe { libc::waitpid(self.pid, &mut status, 0) };
    }

    /// Reaps this child if it ends within `tries` polls `interval` apart, never blocking
    /// longer (shutdown: the child was sent SIGUSR1 and should be gone almost at once).
    pub(crate) fn reap_within(&self, tries: u32, interval: Duration) {
        for _ in 0..tries {
            let mut status = 0;
            // SAFETY: waitpid on our own child's pid with WNOHANG.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r != 0 {
                break;
            }
            std::thread::sleep(interval);
        }
    }

    /// A handle on no real process, for unit tests of what the parent does with one. Its
    /// info pipe is /dev/null: draining reports finds none.
    #[cfg(test)]
    pub(crate) fn for_test(pid: i32, kind: ChildKind) -> RunningChild {
        let info = File::open("/dev/null").expect("/dev/null");
        RunningChild::new(pid, kind, Instant::now(), 0, info)
    }

    /// The parent's handle on a child just forked, before any report arrived.
    fn new(
        pid: i32,
        kind: ChildKind,
        started: Instant,
        fork_usec: u64,
        info: File,
    ) -> RunningChild {
        RunningChild {
            pid,
            kind,
            started,
            fork_usec,
            info,
            partial: Vec::new(),
            report: ChildReport::default(),
            cow_peak: 0,
            cow_updated: None,
            keys_total: 0,
            temp_file: None,
            killed_on_purpose: false,
        }
    }
}

/// The child is gone (reaped, or stopped and reaped) when its handle goes: the parent's
/// allocations go back where they went before the fork.
impl Drop for RunningChild {
    fn drop(&mut self) {
        arena::leave();
    }
}

/// How a child ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ChildExit {
    Exited(i32),
    Signaled(i32),
}

impl ChildExit {
    pub(crate) fn success(self) -> bool {
        self == ChildExit::Exited(0)
    }
}

/// Reaps any exited child without blocking. Returns the pid and how it ended.
pub(crate) fn reap() -> Option<(i32, ChildExit)> {
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid with WNOHANG writes the status we own and never blocks.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let exit = if libc::WIFSIGNALED(status) {
        ChildExit::Signaled(libc::WTERMSIG(status))
    } else {
        ChildExit::Exited(libc::WEXITSTATUS(status))
    };
    Some((pid, exit))
}

/// Where the child's `oom_score_adj` comes from (the `oom-score-adj` directives).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OomScore {
    /// No change, relative (added to the parent's), or absolute.
    pub(crate) mode: crate::config::OomScoreAdj,
    /// The value for a background child (third of `oom-score-adj-values`).
    pub(crate) bgchild: i32,
}

impl OomScore {
    /// From `oom-score-adj` and the third (background child) value of `oom-score-adj-values`.
    pub(crate) fn from_config(config: &crate::config::Config) -> OomScore {
        let bgchild = config
            .oom_score_adj_values
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.parse().ok())
            .unwrap_or(800);
        OomScore { mode: config.oom_score_adj, bgchild }
    }
}

/// A switch for tests: make the next forks fail as if the OS refused (EAGAIN).
pub(crate) static FAIL_FORKS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Forks a child of `kind` that runs `body` and exits. `close_in_child` are the descriptors
/// the child must not hold (listeners, clients). Returns the parent's handle.
pub(crate) fn start<F>(
    kind: ChildKind,
    close_in_child: &[RawFd],
    oom: OomScore,
    body: F,
) -> io::Result<RunningChild>
where
    F: FnOnce(&mut ChildReporter) -> Result<(), ChildError>,
{
    if FAIL_FORKS.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(io::Error::from_raw_os_error(libc::EAGAIN));
    }
    let (info_read, info_write) = pipe()?;
    let prepared = arena::prepare();
    let started = Instant::now();
    // SAFETY: fork is what this module is for. The parent holds no locks across it (background
    // threads hold none across their work; the log uses no locks; jemalloc installs its own
    // atfork handlers). After fork the child only calls `child_main`, which never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = io::Error::last_os_error();
        arena::abandon(prepared);
        return Err(e);
    }
    if pid == 0 {
        child_main(kind, close_in_child, info_read.as_raw_fd(), info_write.as_raw_fd(), oom, body);
    }
    let fork_usec = started.elapsed().as_micros() as u64;
    arena::enter(prepared);
    drop(info_write);
    if let Err(e) = set_nonblocking(info_read.as_raw_fd()) {
        // No handle will ever be dropped for this child: leave the fork arena now.
        arena::leave();
        return Err(e);
    }
    Ok(RunningChild::new(pid, kind, started, fork_usec, File::from(info_read)))
}

/// The child's whole life. Never returns.
fn child_main<F>(
    kind: ChildKind,
    close: &[RawFd],
    info_read: RawFd,
    info_write: RawFd,
    oom: OomScore,
    body: F,
) -> !
where
    F: FnOnce(&mut ChildReporter) -> Result<(), ChildError>,
{
    tine_core::log::set_role(tine_core::log::ROLE_CHILD);
    if kind == ChildKind::RdbToReplicas {
        die_with_parent();
    }
    // SAFETY: closing descriptors this process inherited and will never use: listeners,
    // clients, and the read end of our own info pipe.
    unsafe {
        for &fd in close {
            libc::close(fd);
        }
        libc::close(info_read);
    }
    set_title(kind.title());
    set_oom_score(oom);
    let _ = set_nonblocking(info_write);
    let mut reporter = ChildReporter {
        fd: info_write,
        last: Instant::now(),
        keys: 0,
        temp_file: None,
        cow_peak: 0,
        cow_sum: 0,
        cow_samples: 0,
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut reporter)));
    let code = match result {
        Ok(Ok(())) => {
            let r = ChildReport {
                keys_processed: reporter.keys,
                cow_bytes: private_dirty_bytes(),
                done: true,
            };
            match reporter.send(r) {
                Ok(()) => 0,
                Err(ParentGone) => reporter.exit_parent_gone(),
            }
        }
        Ok(Err(ChildError::ParentGone)) => reporter.exit_parent_gone(),
        Ok(Err(ChildError::Failed(msg))) => {
            tine_core::log::warning(&msg);
            CHILD_EXIT_FAILURE
        }
        Err(_) => CHILD_EXIT_PANIC,
    };
    // SAFETY: leave without destructors, atexit handlers or stdio flushing: everything this
    // process holds is a copy of the parent's and belongs to the parent.
    unsafe { libc::_exit(code) }
}

/// Why a child body failed: it found its parent gone (the child exits at once, its file
/// unpublished), or its work failed (the message is logged, in the work's own words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChildError {
    ParentGone,
    Failed(String),
}

impl From<ParentGone> for ChildError {
    fn from(_: ParentGone) -> ChildError {
        ChildError::ParentGone
    }
}

impl From<String> for ChildError {
    fn from(msg: String) -> ChildError {
        ChildError::Failed(msg)
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe writes two new descriptors into the array we own.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&r, &w] {
        // SAFETY: fcntl on a descriptor we own.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok((r, w))
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// On Linux the kernel kills the child with SIGKILL when the parent dies, whatever it is
/// doing (blocked writing into a full pipe nobody reads): no child outlives the server.
/// Elsewhere the closed pipe ends (EPIPE) do the same job, later. Only for the diskless sync
/// child, which writes no file: a file-writing child must live on to its next report, find
/// the parent gone (EPIPE) and remove its temp file (`ChildReporter::exit_parent_gone`); a
/// SIGKILL would leave the file behind.
fn die_with_parent() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory of ours.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) };
        // The parent may have died between fork and prctl: then we are already orphaned.
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } == 1 {
            // SAFETY: a fork child leaves with `_exit` (see `child_main`).
            unsafe { libc::_exit(CHILD_EXIT_PARENT_GONE) };
        }
    }
}

/// The two pipes of a diskless sync (Redis's rdb_pipe and rdb_child_exit_pipe): the child
/// writes the RDB into `rdb_write` and the parent reads `rdb_read`; when the child is done it
/// blocks in read() on `exit_read` until the parent closes `exit_write`, which the parent
/// does once it has read the RDB pipe to EOF. So the child is never reaped while its bytes
/// are still in the pipe, and it gets EOF at once if the parent dies.
///
/// The child must close `rdb_read` and `exit_write` (pass [`RdbPipes::child_closes`] to
/// [`start`]); the parent drops `rdb_write` and `exit_read` after the fork
/// ([`RdbPipes::into_parent`]).
pub(crate) struct RdbPipes {
    pub(crate) rdb_read: OwnedFd,
    pub(crate) rdb_write: OwnedFd,
    pub(crate) exit_read: OwnedFd,
    pub(crate) exit_write: OwnedFd,
}

/// The parent's ends of [`RdbPipes`]: the RDB pipe's read end (non-blocking) and the
/// safe-to-exit pipe's write end, whose closing lets the child exit.
pub(crate) struct ParentPipes {
    pub(crate) rdb_read: File,
    #[allow(dead_code, reason = "held only to be closed: dropping it lets the child exit")]
    pub(crate) exit_write: OwnedFd,
}

impl RdbPipes {
    pub(crate) fn new() -> io::Result<RdbPipes> {
        let (rdb_read, rdb_write) = pipe()?;
        let (exit_read, exit_write) = pipe()?;
        Ok(RdbPipes { rdb_read, rdb_write, exit_read, exit_write })
    }

    /// What the child must not hold: the read end of the pipe it writes, and the write end of
    /// the pipe it waits on (or it would never see EOF there).
    pub(crate) fn child_closes(&self) -> [RawFd; 2] {
        [self.rdb_read.as_raw_fd(), self.exit_write.as_raw_fd()]
    }

    /// The child's ends, as raw descriptors for the child body (which never closes them: it
    /// leaves with `_exit`).
    pub(crate) fn child_ends(&self) -> (RawFd, RawFd) {
        (self.rdb_write.as_raw_fd(), self.exit_read.as_raw_fd())
    }

    /// After the fork, in the parent: closes the child's ends and keeps its own.
    pub(crate) fn into_parent(self) -> io::Result<ParentPipes> {
        set_nonblocking(self.rdb_read.as_raw_fd())?;
        drop(self.rdb_write);
        drop(self.exit_read);
        Ok(ParentPipes { rdb_read: File::from(self.rdb_read), exit_write: self.exit_write })
    }
}

/// In the child, once its RDB is all in the pipe: blocks until the parent closes the
/// safe-to-exit pipe's write end (it has read everything) or dies (EOF all the same).
pub(crate) fn wait_safe_to_exit(exit_read: RawFd) {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: reading into our own one-byte buffer from a descriptor this child holds.
        let n = unsafe { libc::read(exit_read, b.as_mut_ptr().cast(), 1) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return;
    }
}

/// Names the process (what `ps -o comm`, `top` and `pgrep` show).
fn set_title(title: &str) {
    #[cfg(target_os = "linux")]
    {
        let mut name = [0u8; 16];
        let n = title.len().min(15);
        name[..n].copy_from_slice(&title.as_bytes()[..n]);
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes we own.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = title;
}

/// Raises the child's oom_score_adj as Redis's setOOMScoreAdj(CONFIG_OOM_BGCHILD).
fn set_oom_score(oom: OomScore) {
    #[cfg(target_os = "linux")]
    {
        let value = match oom.mode {
            crate::config::OomScoreAdj::No => return,
            crate::config::OomScoreAdj::Absolute => oom.bgchild,
            crate::config::OomScoreAdj::Relative => {
                let base = std::fs::read_to_string("/proc/self/oom_score_adj")
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok())
                    .unwrap_or(0);
                base + oom.bgchild
            }
        };
        let _ = std::fs::write("/proc/self/oom_score_adj", value.clamp(-1000, 1000).to_string());
    }
    #[cfg(not(target_os = "linux"))]
    let _ = oom;
}

/// Detaches from the terminal as Redis's `daemonize()`: fork (the parent exits at once),
/// `setsid`, and standard input, output and error pointed at /dev/null.
pub(crate) fn daemonize() -> io::Result<()> {
    // SAFETY: called at startup before any thread is spawned, so the child is a complete copy
    // of a single-threaded process; the parent only calls `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        // SAFETY: the parent leaves without running destructors or atexit handlers, so
        // nothing it holds (buffers, files) is flushed twice.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: plain syscalls on descriptors we own; failure leaves stdio as it was.
    unsafe {
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, libc::STDIN_FILENO);
            libc::dup2(fd, libc::STDOUT_FILENO);
            libc::dup2(fd, libc::STDERR_FILENO);
            if fd > libc::STDERR_FILENO {
                libc::close(fd);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trip() {
        let r = ChildReport { keys_processed: 42, cow_bytes: 4096, done: true };
        assert_eq!(ChildReport::decode(&r.encode()), Some(r));
        assert_eq!(ChildReport::decode(&[0u8; REPORT_BYTES]), None);
    }
}
