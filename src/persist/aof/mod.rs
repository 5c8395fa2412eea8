//! The append-only file, as Redis 7.0's multi-part AOF (Redis's aof.c is the model).
//!
//! Every write command reaches the AOF through the propagation feed (`crate::engine::feed`),
//! whose sink `AofFeed` appends it, in RESP, to an in-memory buffer, with a SELECT when the
//! db changes and a `#TS:<unix time>` annotation each second with `aof-timestamp-enabled yes`.
//! The event loop writes the buffer before it sends any reply and fsyncs it per
//! `appendfsync` (`writer.rs`). The files — a base, incr files, history — are listed by the
//! manifest (`manifest.rs`) in `appenddirname`; BGREWRITEAOF (`rewrite.rs`) writes a new base
//! in a fork child while the parent appends to a new incr file, then commits a new manifest. At
//! startup with `appendonly yes` the AOF, not dump.rdb, is loaded (`loader.rs`), on a
//! background thread while clients get -LOADING.
//!
//! States (Redis's aof_state): `Off`; `On`; `WaitRewrite` — `CONFIG SET appendonly yes` was
//! given and the first base is being written: commands accumulate in a temp incr file that
//! becomes the first incr file when that rewrite succeeds, and only then is the AOF on.
//!
//! Errors: a failed write sets `aof_last_write_status:err` and write commands get
//! `-MISCONF Errors writing to the AOF file: <strerror>` until a retry (every second, from
//! cron) succeeds.

pub mod loader;
pub mod manifest;
pub mod rewrite;
pub mod writer;

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use crate::app::server::Server;
use crate::fork::ChildKind;
use manifest::Manifest;
use tine_core::base;
use tine_core::log;
use tine_core::log::Level;
use writer::{FlushResult, Fsync, Writer};

/// The MISCONF error write commands get after a failed AOF write, before the strerror text.
pub const MISCONF_AOF_PREFIX: &str = "MISCONF Errors writing to the AOF file: ";

/// Why an AOF operation failed (already logged in Redis's words; the text is for callers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofError(pub String);

impl std::fmt::Display for AofError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Redis's aof_state.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Status {
    #[default]
    Off,
    On,
    WaitRewrite,
}

/// Everything the server knows about its AOF.
pub struct AofState {
    pub status: Status,
    pub manifest: Manifest,
    pub w: Writer,
    /// A rewrite waits for the running child to end (`aof_rewrite_scheduled`).
    pub rewrite_scheduled: bool,
    /// Unix time the running rewrite started, -1 when none.
    pub rewrite_time_start: i64,
    pub rewrite_time_last: i64,
    pub last_bgrewrite_ok: bool,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    /// `aof_current_size` after the last rewrite (auto-aof-rewrite-percentage's base).
    pub rewrite_base_size: u64,
    /// The "AOF rewrite limited" back-off: next delay and the time a rewrite may run again.
    limit_next_delay_minutes: i64,
    limit_next_time: i64,
    /// Last time cron retried a failed write.
    last_error_retry: i64,
}

impl Default for AofState {
    fn default() -> Self {
        AofState {
            status: Status::Off,
            manifest: Manifest::default(),
            w: Writer::default(),
            rewrite_scheduled: false,
            rewrite_time_start: -1,
            rewrite_time_last: -1,
            last_bgrewrite_ok: true,
            rewrites: 0,
            consecutive_failures: 0,
            rewrite_base_size: 0,
            limit_next_delay_minutes: 0,
            limit_next_time: 0,
            last_error_retry: 0,
        }
    }
}

/// The AOF directory (relative to `dir`, the server's working directory).
pub fn dir(srv: &Server) -> PathBuf {
    PathBuf::from(&srv.config.appenddirname)
}

/// The fsync policy in force.
pub fn policy(srv: &Server) -> Fsync {
    Fsync::from_config(srv.config.appendfsync)
}

/// True while a BGREWRITEAOF child runs.
pub fn rewrite_in_progress(srv: &Server) -> bool {
    srv.persist.child.as_ref().is_some_and(|c| c.kind == ChildKind::AofRewrite)
}

/// The AOF as a sink of the propagation feed (`crate::engine::feed::FeedSink`): what it
/// borrows to append one command, so the feed need not know the server.
pub(crate) struct AofFeed<'a> {
    pub aof: &'a mut AofState,
    /// The running child, if any: with `WaitRewrite` the AOF accepts commands only while the
    /// first rewrite runs.
    pub child: Option<&'a crate::fork::RunningChild>,
    /// `aof-timestamp-enabled`.
    pub timestamps: bool,
}

impl crate::engine::feed::FeedSink for AofFeed<'_> {
    /// Appends one propagated command to the AOF buffer (Redis's feedAppendOnlyFile).
    fn feed(&mut self, db: usize, argv: &[Vec<u8>]) {
        let accepting = match self.aof.status {
            Status::Off => false,
            Status::On => true,
            Status::WaitRewrite => self.child.is_some_and(|c| c.kind == ChildKind::AofRewrite),
        };
        if !accepting {
            return;
        }
        if self.timestamps {
            let now = base::unix_time();
            if let Some(ts) = self.aof.w.timestamp_annotation(now, false) {
                self.aof.w.buf.extend_from_slice(ts.as_bytes());
            }
        }
        if self.aof.w.selected_db != Some(db) {
            writer::cat_select(&mut self.aof.w.buf, db);
            self.aof.w.selected_db = Some(db);
        }
        writer::cat_command(&mut self.aof.w.buf, argv);
    }
}

/// The text of an errno, as strerror(3).
pub fn strerror(code: i32) -> String {
    let s = std::io::Error::from_raw_os_error(code).to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The MISCONF reply write commands get while the AOF cannot be written, if so.
pub fn writes_denied(srv: &Server) -> Option<String> {
    if srv.aof.status == Status::Off {
        return None;
    }
    if !srv.aof.w.last_write_ok {
        return Some(format!("{}{}", MISCONF_AOF_PREFIX, strerror(srv.aof.w.last_write_errno)));
    }
    srv.aof.w.bio.fsync_error().map(|e| format!("{}{}", MISCONF_AOF_PREFIX, strerror(e)))
}

/// True when the buffer holds commands not yet written: replies must wait for [`flush`].
#[inline]
pub fn has_pending(srv: &Server) -> bool {
    !srv.aof.w.buf.is_empty()
}

/// Writes (and fsyncs per policy) what commands appended. Called by the event loop before it
/// writes replies, and by cron. With `appendfsync always` a failure ends the process, as in
/// Redis: the commands already ran and cannot be undone.
pub fn flush(srv: &mut Server, force: bool) {
    if srv.aof.status == Status::Off || srv.aof.w.file.is_none() {
        return;
    }
    let child = srv.persist.child.is_some();
    let result = srv.aof.w.flush(
        policy(srv),
        force,
        srv.config.no_appendfsync_on_rewrite,
        child,
        base::unix_time(),
    );
    if result == FlushResult::Fatal {
        crate::app::shutdown::remove_pidfile(srv);
        std::process::exit(1);
    }
}

/// Cron: retries postponed and failed writes, starts scheduled and automatic rewrites.
pub fn cron(srv: &mut Server, now: i64) {
    if srv.aof.status != Status::Off {
        if srv.aof.w.flush_postponed_start != 0 {
            flush(srv, false);
        }
        if !srv.aof.w.last_write_ok && now != srv.aof.last_error_retry {
            srv.aof.last_error_retry = now;
            flush(srv, false);
        }
        // everysec: data written in the last second still needs its fsync.
        if srv.aof.w.buf.is_empty() {
            flush(srv, false);
        }
    }
    if srv.loading.is_some() || srv.persist.child.is_some() {
        return;
    }
    if srv.aof.rewrite_scheduled && !rewrite_limited(srv, now) {
        let _ = rewrite::start(srv);
        return;
    }
    let perc = srv.config.auto_aof_rewrite_percentage;
    let cur = srv.aof.w.current_size;
    if srv.aof.status == Status::On && perc > 0 && cur as i64 > srv.config.auto_aof_rewrite_min_size
    {
        let base = srv.aof.rewrite_base_size.max(1);
        let growth = (cur * 100 / base) as i64 - 100;
        if growth >= perc && !rewrite_limited(srv, now) {
            log!(Level::Notice, "Starting automatic rewriting of AOF on {}% growth", growth);
            let _ = rewrite::start(srv);
        }
    }
}

/// Redis's aofRewriteLimited: after 3 consecutive failures, automatic rewrites wait 1, 2, 4...
/// up to 60 minutes between tries (BGREWRITEAOF itself is never limited).
fn rewrite_limited(srv: &mut Server, now: i64) -> bool {
    const THRESHOLD: u64 = 3;
    const MAX_MINUTES: i64 = 60;
    let a = &mut srv.aof;
    if a.consecutive_failures < THRESHOLD {
        a.limit_next_delay_minutes = 0;
        a.limit_next_time = 0;
        return false;
    }
    if a.limit_next_time != 0 {
        if now < a.limit_next_time {
            return true;
        }
        a.limit_next_time = 0;
        return false;
    }
    a.limit_next_delay_minutes = if a.limit_next_delay_minutes == 0 {
        1
    } else {
        (a.limit_next_delay_minutes * 2).min(MAX_MINUTES)
    };
    a.limit_next_time = now + a.limit_next_delay_minutes * 60;
    log!(
        Level::Warning,
        "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
        a.limit_next_delay_minutes
    );
    true
}

/// Creates the AOF directory if missing.
pub fn create_dir(srv: &Server) -> Result<(), String> {
    let d = dir(srv);
    match std::fs::create_dir(&d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => Ok(()),
        Err(e) => Err(format!("Can't open or create append-only dir {}: {}", d.display(), e)),
    }
}

/// Opens a file of the AOF for appending.
pub fn open_append(srv: &Server, name: &str, truncate: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(dir(srv).join(name))
}

/// The size of a file of the AOF, as getAppendOnlyFileSize (0 and a log line when missing).
pub fn file_size(srv: &Server, name: &str) -> u64 {
    match std::fs::metadata(dir(srv).join(name)) {
        Ok(m) => m.len(),
        Err(e) => {
            log!(Level::Warning, "Unable to obtain the AOF file {} length. stat: {}", name, e);
            0
        }
    }
}

/// Reads the manifest at startup, whether the AOF is on or not (so that turning it on later
/// goes on with the sequence numbers). A damaged manifest is fatal, as in Redis.
pub fn load_manifest_from_disk(srv: &mut Server) -> Result<(), AofError> {
    let path = dir(srv).join(manifest::manifest_name(&srv.config.appendfilename));
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            log!(
                Level::Warning,
                "Fatal error: can't open the AOF manifest file {} for reading: {}",
                path.display(),
                e
            );
            return Err(AofError(format!("can't open the AOF manifest: {}", e)));
        }
    };
    match Manifest::parse(&data) {
        Ok(m) => {
            srv.aof.manifest = m;
            Ok(())
        }
        Err(e) => {
            log!(Level::Warning, "\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
            if let Some((n, l)) = &e.line {
                log!(Level::Warning, "Reading the manifest file, at line {}\n", n);
                log!(Level::Warning, ">>> '{}'\n", l);
            }
            log!(Level::Warning, "{}\n", e.reason);
            Err(AofError(e.to_string()))
        }
    }
}

/// After loading (or with nothing to load): creates a base if the AOF is empty, opens the last
/// incr file for appending and persists the manifest (Redis's aofOpenIfNeededOnServerStart).
pub fn open_on_server_start(srv: &mut Server) -> Result<(), String> {
    if !srv.config.appendonly {
        return Ok(());
    }
    srv.aof.status = Status::On;
    create_dir(srv)?;
    let fname = srv.config.appendfilename.clone();
    let had_incr = !srv.aof.manifest.incr.is_empty();
    if srv.aof.manifest.base.is_none() && !had_incr {
        let base = srv.aof.manifest.new_base(&fname, srv.config.aof_use_rdb_preamble);
        let path = dir(srv).join(&base);
        rewrite::rewrite_to_file(srv, &path, None)?;
        log!(Level::Notice, "Creating AOF base file {} on server start", base);
    }
    let name = srv.aof.manifest.last_incr(&fname);
    let f = open_append(srv, &name, false)
        .map_err(|e| format!("Can't open the append-only file {}: {}", name, e))?;
    srv.aof.w.file = Some(f);
    srv.aof.manifest.persist(&dir(srv), &fname)?;
    srv.aof.w.last_incr_size = file_size(srv, &name);
    let base_size = base_file_size(srv);
    let incr_sizes: u64 = srv
        .aof
        .manifest
        .incr
        .iter()
        .map(|i| i.name.clone())
        .collect::<Vec<_>>()
        .iter()
        .map(|n| file_size(srv, n))
        .sum();
    srv.aof.w.current_size = base_size + incr_sizes;
    srv.aof.w.fsync_offset = srv.aof.w.current_size;
    if srv.aof.rewrite_base_size == 0 {
        srv.aof.rewrite_base_size = base_size;
    }
    srv.aof.w.last_fsync = base::unix_time();
    if had_incr {
        log!(Level::Notice, "Opening AOF incr file {} on server start", name);
    } else {
        log!(Level::Notice, "Creating AOF incr file {} on server start", name);
    }
    Ok(())
}

/// `CONFIG SET appendonly yes` (Redis's startAppendOnly): the AOF turns on once a rewrite has
/// written its first base.
pub fn start_append_only(srv: &mut Server) -> Result<(), String> {
    if srv.aof.status != Status::Off {
        return Ok(());
    }
    srv.aof.status = Status::WaitRewrite;
    let other_child = srv.persist.child.as_ref().is_some_and(|c| c.kind != ChildKind::AofRewrite);
    if other_child {
        srv.aof.rewrite_scheduled = true;
        log!(
            Level::Warning,
            "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible."
        );
    } else {
        if rewrite_in_progress(srv) {
            log!(
                Level::Warning,
                "AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now."
            );
            rewrite::kill_child(srv);
        }
        if rewrite::start(srv).is_err() {
            srv.aof.status = Status::Off;
            log!(
                Level::Warning,
                "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error."
            );
            return Err("Unable to turn on AOF. Check server logs.".into());
        }
    }
    srv.aof.w.last_fsync = base::unix_time();
    if srv.aof.w.bio.fsync_error().is_some() {
        log!(Level::Warning, "AOF reopen, just ignore the AOF fsync error in bio job");
        srv.aof.w.bio.clear_fsync_error();
    }
    if !srv.aof.w.last_write_ok {
        log!(Level::Warning, "AOF reopen, just ignore the last error.");
        srv.aof.w.last_write_ok = true;
    }
    Ok(())
}

/// `CONFIG SET appendonly no` (Redis's stopAppendOnly).
pub fn stop_append_only(srv: &mut Server) {
    if srv.aof.status == Status::Off {
        return;
    }
    flush(srv, true);
    if let Some(f) = srv.aof.w.file.take() {
        if let Err(e) = f.sync_data() {
            log!(Level::Warning, "Fail to fsync the AOF file: {}", e);
        } else {
            srv.aof.w.fsync_offset = srv.aof.w.current_size;
            srv.aof.w.last_fsync = base::unix_time();
        }
    }
    srv.aof.w.selected_db = None;
    srv.aof.status = Status::Off;
    srv.aof.rewrite_scheduled = false;
    srv.aof.w.last_incr_size = 0;
    rewrite::kill_child(srv);
    srv.aof.w.buf = Vec::new();
}

/// `CONFIG SET appendfsync always`: what was written so far is synced at once.
pub fn fsync_policy_changed(srv: &mut Server) {
    if srv.aof.status != Status::Off && policy(srv) == Fsync::Always {
        if let Some(f) = srv.aof.w.file.as_ref() {
            if f.sync_data().is_ok() {
                srv.aof.w.fsync_offset = srv.aof.w.current_size;
                srv.aof.w.last_fsync = base::unix_time();
            }
        }
    }
}

/// Shutdown: stop a rewrite child, write and fsync what is buffered.
pub fn prepare_shutdown(srv: &mut Server) {
    if rewrite_in_progress(srv) {
        log!(Level::Warning, "There is a child rewriting the AOF. Killing it!");
        rewrite::kill_child(srv);
    }
    if srv.aof.status != Status::Off {
        log!(Level::Notice, "Calling fsync() on the AOF file.");
        flush(srv, true);
        if let Some(f) = srv.aof.w.file.as_ref() {
            let _ = f.sync_data();
        }
    }
}

/// The AOF fields of INFO persistence that follow `rdb_bgsave_child_pid`.
pub fn info_fields(srv: &Server, out: &mut Vec<(&'static str, String)>) {
    let a = &srv.aof;
    let now = base::unix_time();
    let ok = a.w.last_write_ok && a.w.bio.fsync_error().is_none();
    out.push((
        "aof_rewrite_child_pid",
        srv.persist
            .child
            .as_ref()
            .filter(|c| c.kind == ChildKind::AofRewrite)
            .map(|c| c.pid)
            .unwrap_or(-1)
            .to_string(),
    ));
    out.push(("aof_enabled", ((a.status != Status::Off) as u8).to_string()));
    out.push(("aof_rewrite_in_progress", (rewrite_in_progress(srv) as u8).to_string()));
    out.push(("aof_rewrite_scheduled", (a.rewrite_scheduled as u8).to_string()));
    out.push(("aof_last_rewrite_time_sec", a.rewrite_time_last.to_string()));
    out.push((
        "aof_current_rewrite_time_sec",
        if a.rewrite_time_start >= 0 {
            (now - a.rewrite_time_start).to_string()
        } else {
            "-1".into()
        },
    ));
    out.push(("aof_last_bgrewrite_status", if a.last_bgrewrite_ok { "ok" } else { "err" }.into()));
    out.push(("aof_rewrites", a.rewrites.to_string()));
    out.push(("aof_rewrites_consecutive_failures", a.consecutive_failures.to_string()));
    out.push(("aof_last_write_status", if ok { "ok" } else { "err" }.into()));
    out.push(("aof_last_cow_size", srv.persist.aof_last_cow_size.to_string()));
}

/// The fields INFO persistence adds at its end while the AOF is on.
pub fn info_enabled_fields(srv: &Server, out: &mut Vec<(&'static str, String)>) {
    let a = &srv.aof;
    if a.status == Status::Off {
        return;
    }
    out.push(("aof_current_size", a.w.current_size.to_string()));
    out.push(("aof_base_size", a.rewrite_base_size.to_string()));
    out.push(("aof_pending_rewrite", (a.rewrite_scheduled as u8).to_string()));
    out.push(("aof_buffer_length", a.w.buf.len().to_string()));
    out.push(("aof_pending_bio_fsync", a.w.bio.pending_fsyncs().to_string()));
    out.push(("aof_delayed_fsync", a.w.delayed_fsync.to_string()));
}

/// An old single-file AOF (`appendfilename` in `dir`) becomes the base of a manifest in the
/// AOF directory, as Redis 7.0 upgrades it (aofUpgradePrepare). A crash midway is harmless:
/// the upgrade runs again at the next start.
fn upgrade_if_needed(srv: &mut Server) -> Result<(), AofError> {
    let fname = srv.config.appendfilename.clone();
    if !std::path::Path::new(&fname).is_file() {
        return Ok(());
    }
    let d = dir(srv);
    let m = &srv.aof.manifest;
    let upgrade = !d.is_dir()
        || (m.base.is_none() && m.incr.is_empty())
        || (m.base.as_ref().is_some_and(|b| b.name == fname)
            && m.incr.is_empty()
            && !d.join(&fname).exists());
    if !upgrade {
        return Ok(());
    }
    if let Err(e) = create_dir(srv) {
        log!(Level::Warning, "{}", e);
        return Err(AofError(e));
    }
    let m = Manifest {
        base: Some(manifest::AofInfo {
            name: fname.clone(),
            seq: 1,
            kind: manifest::FileType::Base,
        }),
        curr_base_seq: 1,
        ..Manifest::default()
    };
    if let Err(e) = m.persist(&d, &fname) {
        log!(Level::Warning, "{}", e);
        return Err(AofError(e));
    }
    if let Err(e) = std::fs::rename(&fname, d.join(&fname)) {
        log!(
            Level::Warning,
            "Error trying to move the old AOF file {} into dir {}: {}",
            fname,
            d.display(),
            e
        );
        return Err(AofError(e.to_string()));
    }
    srv.aof.manifest = m;
    log!(
        Level::Notice,
        "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
        fname,
        d.display()
    );
    Ok(())
}

/// Startup with `appendonly yes`: starts loading the AOF on the loader thread, or, when there
/// is nothing to load, opens the AOF at once. `Err` is fatal (logged; exit code 1).
pub fn start_loading(
    srv: &mut Server,
) -> Result<Option<crate::persist::rdb_io::Loading>, AofError> {
    upgrade_if_needed(srv)?;
    let m = srv.aof.manifest.clone();
    if m.base.is_none() && m.incr.is_empty() {
        open_on_server_start(srv).map_err(|e| {
            log!(Level::Warning, "{}", e);
            AofError(e)
        })?;
        return Ok(None);
    }
    let d = dir(srv);
    let (_, total) = loader::sizes(&d, &m).map_err(AofError)?;
    if total == 0 {
        open_on_server_start(srv).map_err(|e| {
            log!(Level::Warning, "{}", e);
            AofError(e)
        })?;
        return Ok(None);
    }
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let job =
        loader::Job { config: srv.config.clone(), dir: d, manifest: m, progress: progress.clone() };
    let thread = std::thread::Builder::new()
        .name("tine-loader".into())
        .spawn(move || loader::load_all(job))
        .map_err(|e| {
            log!(Level::Warning, "can't start the loader thread: {}", e);
            AofError(e.to_string())
        })?;
    Ok(Some(crate::persist::rdb_io::Loading {
        started_unix: base::unix_time(),
        started: std::time::Instant::now(),
        total_bytes: total,
        loaded_bytes: progress,
        thread,
        aof: true,
    }))
}

/// Size of the manifest's base file, 0 when there is none.
fn base_file_size(srv: &Server) -> u64 {
    srv.aof.manifest.base.as_ref().map_or(0, |b| file_size(srv, &b.name))
}

/// The loader thread is done and its keyspace installed: open the AOF for appending.
pub fn loaded(srv: &mut Server) -> Result<(), String> {
    srv.aof.rewrite_base_size = base_file_size(srv);
    open_on_server_start(srv)
}
