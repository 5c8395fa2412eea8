//! Writing the AOF: the in-memory buffer commands are appended to, the write(2) of that
//! buffer before replies go out, and the fsync policy — Redis's flushAppendOnlyFile.
//!
//! A write command is appended (in RESP) to `buf` when it executes (`persist::aof::feed`).
//! The event loop calls [`flush`] before it writes any reply to a socket, so a client is never
//! told OK about a write that is not in the file (in the kernel's page cache at least):
//!
//! - `appendfsync always`: the buffer is written and fdatasync'ed before the replies. A failed
//!   write or fsync cannot be undone (the commands ran), so, as Redis, the server exits.
//! - `appendfsync everysec`: the buffer is written; about once a second the fsync runs on the
//!   background thread ([`Bio`]). If the previous fsync is still running (a slow disk), the
//!   write is postponed — the write would block behind the fsync anyway — for up to 2 seconds,
//!   then done regardless and counted in `aof_delayed_fsync`.
//! - `appendfsync no`: the buffer is written; the kernel flushes when it likes.
//! - `no-appendfsync-on-rewrite yes`: no fsync while a fork child exists.
//!
//! A failed write (ENOSPC, EIO, EFBIG...) keeps the data in the buffer, removes any partial
//! write with ftruncate, sets `aof_last_write_status:err` (write commands then get -MISCONF),
//! and is retried every second by cron; the first successful write clears the error. Nothing
//! acknowledged is lost: it is either in the file or still in the buffer.
//!
//! The background thread only fsyncs, closes and unlinks files it is handed; it never touches
//! the keyspace and holds no lock while the main thread may fork.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use tine_core::log;
use tine_core::log::Level;

/// Seconds between two log lines about AOF write errors (Redis's AOF_WRITE_LOG_ERROR_RATE).
const WRITE_LOG_ERROR_RATE: i64 = 30;
/// The longest an everysec write waits for a slow background fsync.
const MAX_POSTPONE_SECS: i64 = 2;

/// The fsync policy (`appendfsync`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fsync {
    Always,
    EverySec,
    No,
}

impl Fsync {
    pub(crate) fn from_config(v: crate::config::AppendFsync) -> Fsync {
        match v {
            crate::config::AppendFsync::Always => Fsync::Always,
            crate::config::AppendFsync::No => Fsync::No,
            crate::config::AppendFsync::EverySec => Fsync::EverySec,
        }
    }
}

/// A job for the background thread.
enum Job {
    /// fdatasync this descriptor (a dup of the AOF's).
    Fsync(File),
    /// fdatasync, then close (an incr file the server stopped writing).
    FsyncAndClose(File),
    /// Remove a file (history files after a rewrite, big temp files).
    Unlink(PathBuf),
}

/// The background thread (Redis's bio for AOF fsync, close and lazy unlink).
pub(crate) struct Bio {
    tx: Option<Sender<Job>>,
    /// fsync jobs queued or running (`aof_pending_bio_fsync`).
    pending_fsync: Arc<AtomicUsize>,
    /// errno of the last failed background fsync, 0 when it succeeded.
    fsync_errno: Arc<AtomicI32>,
}

impl Default for Bio {
    fn default() -> Self {
        Bio {
            tx: None,
            pending_fsync: Arc::new(AtomicUsize::new(0)),
            fsync_errno: Arc::new(AtomicI32::new(0)),
        }
    }
}

impl Bio {
    fn sender(&mut self) -> Option<&Sender<Job>> {
        if self.tx.is_none() {
            let (tx, rx) = channel::<Job>();
            let pending = self.pending_fsync.clone();
            let errno = self.fsync_errno.clone();
            let spawned = std::thread::Builder::new()
                .name("tine-bio-aof".into())
                .spawn(move || bio_main(rx, pending, errno));
            if spawned.is_ok() {
                self.tx = Some(tx);
            }
        }
        self.tx.as_ref()
    }

    fn submit(&mut self, job: Job) {
        let is_fsync = matches!(job, Job::Fsync(_) | Job::FsyncAndClose(_));
        if is_fsync {
            self.pending_fsync.fetch_add(1, Ordering::SeqCst);
        }
        let job = match self.sender() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            None => job,
        };
        // No thread: do it here.
        if is_fsync {
            self.pending_fsync.fetch_sub(1, Ordering::SeqCst);
        }
        run_job(job, &self.fsync_errno);
    }

    /// fsync jobs queued or running.
    pub(crate) fn pending_fsyncs(&self) -> usize {
        self.pending_fsync.load(Ordering::SeqCst)
    }

    /// The error of the last background fsync, if it failed.
    pub(crate) fn fsync_error(&self) -> Option<i32> {
        match self.fsync_errno.load(Ordering::SeqCst) {
            0 => None,
            e => Some(e),
        }
    }

    pub(crate) fn clear_fsync_error(&self) {
        self.fsync_errno.store(0, Ordering::SeqCst);
    }

    /// Removes a file in the background.
    pub(crate) fn unlink(&mut self, path: PathBuf) {
        self.submit(Job::Unlink(path));
    }

    /// fsyncs and closes a file in the background.
    pub(crate) fn fsync_and_close(&mut self, f: File) {
        self.submit(Job::FsyncAndClose(f));
    }
}

fn bio_main(rx: Receiver<Job>, pending: Arc<AtomicUsize>, errno: Arc<AtomicI32>) {
    while let Ok(job) = rx.recv() {
        let is_fsync = matches!(job, Job::Fsync(_) | Job::FsyncAndClose(_));
        run_job(job, &errno);
        if is_fsync {
            pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn run_job(job: Job, errno: &AtomicI32) {
    match job {
        Job::Fsync(f) | Job::FsyncAndClose(f) => match f.sync_data() {
            Ok(()) => errno.store(0, Ordering::SeqCst),
            Err(e) => {
                let code = e.raw_os_error().unwrap_or(libc::EIO);
                // EBADF/EINVAL: the file was closed under us (a rewrite switched files).
                if code != libc::EBADF && code != libc::EINVAL {
                    log!(Level::Warning, "Fail to fsync the AOF file: {}", e);
                    errno.store(code, Ordering::SeqCst);
                }
            }
        },
        Job::Unlink(p) => {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The writing side of the AOF.
pub(crate) struct Writer {
    /// Commands executed but not yet written (Redis's aof_buf).
    pub(crate) buf: Vec<u8>,
    /// The incr file being appended to.
    pub(crate) file: Option<File>,
    /// The db of the last command appended (a SELECT is written when it changes).
    pub(crate) selected_db: Option<usize>,
    /// Bytes of the base and incr files (`aof_current_size`).
    pub(crate) current_size: u64,
    /// Bytes of the incr file being written.
    pub(crate) last_incr_size: u64,
    /// `current_size` at the last fsync.
    pub(crate) fsync_offset: u64,
    /// When the last fsync was done or scheduled (unix seconds).
    pub(crate) last_fsync: i64,
    /// When an everysec write started being postponed (0: not postponed).
    pub(crate) flush_postponed_start: i64,
    /// Writes done without waiting for a slow fsync (`aof_delayed_fsync`).
    pub(crate) delayed_fsync: u64,
    pub(crate) last_write_ok: bool,
    pub(crate) last_write_errno: i32,
    last_write_error_log: i64,
    /// The timestamp of the last `#TS:` annotation written.
    pub(crate) cur_timestamp: i64,
    pub(crate) bio: Bio,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            buf: Vec::new(),
            file: None,
            selected_db: None,
            current_size: 0,
            last_incr_size: 0,
            fsync_offset: 0,
            last_fsync: 0,
            flush_postponed_start: 0,
            delayed_fsync: 0,
            last_write_ok: true,
            last_write_errno: 0,
            last_write_error_log: 0,
            cur_timestamp: 0,
            bio: Bio::default(),
        }
    }
}

/// What the caller must do after a flush attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FlushResult {
    Ok,
    /// Nothing written yet (postponed, or a write error: the data stays in the buffer).
    Pending,
    /// `appendfsync always` could not write or fsync: the server must exit.
    Fatal,
}

/// Appends one command in RESP to `out` (Redis's catAppendOnlyGenericCommand).
pub(crate) fn cat_command(out: &mut Vec<u8>, argv: &[Vec<u8>]) {
    let mut ib = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(ib.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(ib.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends a SELECT in Redis's exact bytes.
pub(crate) fn cat_select(out: &mut Vec<u8>, db: usize) {
    let s = db.to_string();
    out.extend_from_slice(format!("*2\r\n$6\r\nSELECT\r\n${}\r\n{}\r\n", s.len(), s).as_bytes());
}

impl Writer {
    /// Writes the buffer and fsyncs per policy. `force`: write even if a background fsync is
    /// still running. `child_active`: a fork child exists (for no-appendfsync-on-rewrite).
    pub(crate) fn flush(
        &mut self,
        policy: Fsync,
        force: bool,
        no_fsync_on_rewrite: bool,
        child_active: bool,
        now: i64,
    ) -> FlushResult {
        let Some(file) = self.file.as_ref() else {
            return FlushResult::Ok;
        };
        let mut sync_in_progress = false;
        if self.buf.is_empty() {
            // Data written in the last second but not yet fsynced (everysec) still needs it.
            if policy == Fsync::EverySec
                && self.fsync_offset != self.current_size
                && now > self.last_fsync
            {
                if self.bio.pending_fsyncs() > 0 {
                    return FlushResult::Ok;
                }
                return self.try_fsync(policy, no_fsync_on_rewrite, child_active, false, now);
            }
            return FlushResult::Ok;
        }
        if policy == Fsync::EverySec {
            sync_in_progress = self.bio.pending_fsyncs() > 0;
        }
        if policy == Fsync::EverySec && !force && sync_in_progress {
            if self.flush_postponed_start == 0 {
                self.flush_postponed_start = now;
                return FlushResult::Pending;
            } else if now - self.flush_postponed_start < MAX_POSTPONE_SECS {
                return FlushResult::Pending;
            }
            self.delayed_fsync += 1;
            log!(
                Level::Notice,
                "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis."
            );
        }
        let (written, error) = write_all(file, &self.buf);
        self.flush_postponed_start = 0;
        if written != self.buf.len() {
            let can_log = now - self.last_write_error_log > WRITE_LOG_ERROR_RATE;
            if can_log {
                self.last_write_error_log = now;
            }
            let mut kept = written;
            match error {
                Some(e) if written == 0 => {
                    if can_log {
                        log!(Level::Warning, "Error writing to the AOF file: {}", e);
                    }
                    self.last_write_errno = e.raw_os_error().unwrap_or(libc::EIO);
                }
                _ => {
                    if can_log {
                        log!(
                            Level::Warning,
                            "Short write while writing to the AOF file: (nwritten={}, expected={})",
                            written,
                            self.buf.len()
                        );
                    }
                    match file.set_len(self.last_incr_size) {
                        Ok(()) => kept = 0,
                        Err(e) => {
                            if can_log {
                                log!(
                                    Level::Warning,
                                    "Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: {}",
                                    e
                                );
                            }
                        }
                    }
                    self.last_write_errno = libc::ENOSPC;
                }
            }
            if policy == Fsync::Always {
                log!(
                    Level::Warning,
                    "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
                );
                return FlushResult::Fatal;
            }
            self.last_write_ok = false;
            if kept > 0 {
                self.current_size += kept as u64;
                self.last_incr_size += kept as u64;
                self.buf.drain(..kept);
            }
            return FlushResult::Pending;
        }
        if !self.last_write_ok {
            log!(Level::Warning, "AOF write error looks solved, Redis can write again.");
            self.last_write_ok = true;
        }
        self.current_size += written as u64;
        self.last_incr_size += written as u64;
        if self.buf.capacity() < 4000 {
            self.buf.clear();
        } else {
            self.buf = Vec::new();
        }
        self.try_fsync(policy, no_fsync_on_rewrite, child_active, sync_in_progress, now)
    }

    fn try_fsync(
        &mut self,
        policy: Fsync,
        no_fsync_on_rewrite: bool,
        child_active: bool,
        sync_in_progress: bool,
        now: i64,
    ) -> FlushResult {
        if no_fsync_on_rewrite && child_active {
            return FlushResult::Ok;
        }
        let Some(file) = self.file.as_ref() else {
            return FlushResult::Ok;
        };
        match policy {
            Fsync::Always => {
                if let Err(e) = file.sync_data() {
                    log!(
                        Level::Warning,
                        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                        e
                    );
                    return FlushResult::Fatal;
                }
                self.fsync_offset = self.current_size;
                self.last_fsync = now;
            }
            Fsync::EverySec if now > self.last_fsync => {
                if !sync_in_progress {
                    if let Ok(dup) = file.try_clone() {
                        self.bio.submit(Job::Fsync(dup));
                    }
                    self.fsync_offset = self.current_size;
                }
                self.last_fsync = now;
            }
            _ => {}
        }
        FlushResult::Ok
    }

    /// Appends the `#TS:` annotation when the second changed (aof-timestamp-enabled).
    pub(crate) fn timestamp_annotation(&mut self, now: i64, force: bool) -> Option<String> {
        if force || self.cur_timestamp < now {
            self.cur_timestamp = now;
            Some(format!("#TS:{}\r\n", now))
        } else {
            None
        }
    }

    /// The raw fd of the incr file (for the fork child to close).
    pub(crate) fn raw_fd(&self) -> Option<i32> {
        self.file.as_ref().map(|f| f.as_raw_fd())
    }
}

/// write(2) until done, retrying on EINTR and short writes (Redis's aofWrite). Returns the
/// bytes written and the error that stopped it.
fn write_all(mut f: &File, mut buf: &[u8]) -> (usize, Option<std::io::Error>) {
    let mut total = 0;
    while !buf.is_empty() {
        match f.write(buf) {
            Ok(0) => return (total, None),
            Ok(n) => {
                total += n;
                buf = &buf[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return (total, Some(e)),
        }
    }
    (total, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_as_redis_writes_it() {
        let mut out = Vec::new();
        cat_select(&mut out, 0);
        cat_command(&mut out, &[b"set".to_vec(), b"a".to_vec(), b"1".to_vec()]);
        assert_eq!(
            out,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
    }
}
