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
//! cron) succeeds. With `appendfsync always` a failure is fatal: [`flush`] returns
//! [`AofFatal`] and the top layer exits.

pub(crate) mod loader;
pub(crate) mod manifest;
pub(crate) mod rewrite;
pub(crate) mod writer;

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use super::PersistHost;
use crate::config::Config;
use crate::fork::ChildKind;
use manifest::Manifest;
use tine_core::base;
use tine_core::log;
use tine_core::log::Level;
use writer::{FlushResult, Fsync, Writer};

/// The MISCONF error write commands get after a failed AOF write, before the strerror text.
pub(crate) const MISCONF_AOF_PREFIX: &str = "MISCONF Errors writing to the AOF file: ";

/// Why an AOF operation failed (already logged in Redis's words; the text is for callers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AofError(pub String);

impl std::fmt::Display for AofError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<AofError> for String {
    fn from(e: AofError) -> String {
        e.0
    }
}

/// The AOF could not be written or fsynced with `appendfsync always` (logged in Redis's
/// words). The commands already ran and cannot be undone, so the server must exit before any
/// reply leaves; the top layer does that (removing the pid file, exit code 1), as Redis's
/// flushAppendOnlyFile exits. Once raised it stays raised (`AofState::fatal`): every later
/// flush returns it, so no reply path can miss it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AofFatal;

/// Redis's aof_state.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) enum Status {
    #[default]
    Off,
    On,
    WaitRewrite,
}

/// Everything the server knows about its AOF.
pub(crate) struct AofState {
    pub(crate) status: Status,
    pub(crate) manifest: Manifest,
    pub(crate) w: Writer,
    /// A rewrite waits for the running child to end (`aof_rewrite_scheduled`).
    pub(crate) rewrite_scheduled: bool,
    /// Unix time the running rewrite started, -1 when none.
    pub(crate) rewrite_time_start: i64,
    pub(crate) rewrite_time_last: i64,
    pub(crate) last_bgrewrite_ok: bool,
    pub(crate) rewrites: u64,
    pub(crate) consecutive_failures: u64,
    /// `aof_current_size` after the last rewrite (auto-aof-rewrite-percentage's base).
    pub(crate) rewrite_base_size: u64,
    /// The "AOF rewrite limited" back-off: next delay and the time a rewrite may run again.
    limit_next_delay_minutes: i64,
    limit_next_time: i64,
    /// Last time cron retried a failed write.
    last_error_retry: i64,
    /// Set when a write or fsync failed with `appendfsync always`: the server must exit.
    fatal: Option<AofFatal>,
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
            fatal: None,
        }
    }
}

impl AofState {
    /// `Err` once a write or fsync failed with `appendfsync always`.
    pub(crate) fn check_fatal(&self) -> Result<(), AofFatal> {
        self.fatal.map_or(Ok(()), Err)
    }
}

/// The AOF directory (relative to `dir`, the server's working directory).
pub(crate) fn dir(config: &Config) -> PathBuf {
    PathBuf::from(&config.appenddirname)
}

/// The fsync policy in force.
pub(crate) fn policy(config: &Config) -> Fsync {
    Fsync::from_config(config.appendfsync)
}

/// True while a BGREWRITEAOF child runs.
pub(crate) fn rewrite_in_progress<H: PersistHost>(h: &H) -> bool {
    h.persist_state().child.as_ref().is_some_and(|c| c.kind == ChildKind::AofRewrite)
}

/// The AOF as a consumer of the propagation feed (one half of the feed's sink, built in
/// commands/ctx.rs): what it borrows to append one command, so the feed need not know the
/// server.
pub(crate) struct AofFeed<'a> {
    pub(crate) aof: &'a mut AofState,
    /// The running child, if any: with `WaitRewrite` the AOF accepts commands only while the
    /// first rewrite runs.
    pub(crate) child: Option<&'a crate::fork::RunningChild>,
    /// `aof-timestamp-enabled`.
    pub(crate) timestamps: bool,
}

impl AofFeed<'_> {
    /// Appends one propagated command to the AOF buffer (Redis's feedAppendOnlyFile).
    pub(crate) fn feed(&mut self, db: usize, argv: &[Vec<u8>]) {
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
pub(crate) fn strerror(code: i32) -> String {
    let s = std::io::Error::from_raw_os_error(code).to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The MISCONF reply write commands get while the AOF cannot be written, if so.
pub(crate) fn writes_denied<H: PersistHost>(h: &H) -> Option<String> {
    let a = h.aof_state();
    if a.status == Status::Off {
        return None;
    }
    if !a.w.last_write_ok {
        return Some(format!("{}{}", MISCONF_AOF_PREFIX, strerror(a.w.last_write_errno)));
    }
    a.w.bio.fsync_error().map(|e| format!("{}{}", MISCONF_AOF_PREFIX, strerror(e)))
}

/// True when the buffer holds commands not yet written, or a fatal error is pending: replies
/// must wait for [`flush`] (which reports the fatal error).
#[inline]
pub(crate) fn has_pending<H: PersistHost>(h: &H) -> bool {
    let a = h.aof_state();
    !a.w.buf.is_empty() || a.fatal.is_some()
}

/// Writes (and fsyncs per policy) what commands appended. Called by the event loop before it
/// writes replies, and by cron. With `appendfsync always` a failure is [`AofFatal`], as in
/// Redis: the commands already ran and cannot be undone, and the caller must exit.
pub(crate) fn flush<H: PersistHost>(h: &mut H, force: bool) -> Result<(), AofFatal> {
    let child = h.persist_state().child.is_some();
    let p = h.parts();
    if let Some(fatal) = p.aof.fatal {
        return Err(fatal);
    }
    if p.aof.status == Status::Off || p.aof.w.file.is_none() {
        return Ok(());
    }
    let result = p.aof.w.flush(
        policy(p.config),
        force,
        p.config.no_appendfsync_on_rewrite,
        child,
        base::unix_time(),
    );
    if result == FlushResult::Fatal {
        p.aof.fatal = Some(AofFatal);
        return Err(AofFatal);
    }
    Ok(())
}

/// Cron: retries postponed and failed writes, starts scheduled and automatic rewrites.
pub(crate) fn cron<H: PersistHost>(h: &mut H, now: i64) -> Result<(), AofFatal> {
    let a = h.aof_state();
    if a.status != Status::Off {
        if a.w.flush_postponed_start != 0 {
            flush(h, false)?;
        }
        let a = &mut *h.parts().aof;
        if !a.w.last_write_ok && now != a.last_error_retry {
            a.last_error_retry = now;
            flush(h, false)?;
        }
        // everysec: data written in the last second still needs its fsync.
        if h.aof_state().w.buf.is_empty() {
            flush(h, false)?;
        }
    }
    let p = h.parts();
    if p.loading.is_some() || p.state.child.is_some() {
        return Ok(());
    }
    if p.aof.rewrite_scheduled && !rewrite_limited(p.aof, now) {
        let _ = rewrite::start(h);
        return h.aof_state().check_fatal();
    }
    let perc = p.config.auto_aof_rewrite_percentage;
    let cur = p.aof.w.current_size;
    if p.aof.status == Status::On && perc > 0 && cur as i64 > p.config.auto_aof_rewrite_min_size {
        let base = p.aof.rewrite_base_size.max(1);
        let growth = (cur * 100 / base) as i64 - 100;
        if growth >= perc && !rewrite_limited(p.aof, now) {
            log!(Level::Notice, "Starting automatic rewriting of AOF on {}% growth", growth);
            let _ = rewrite::start(h);
            return h.aof_state().check_fatal();
        }
    }
    Ok(())
}

/// Redis's aofRewriteLimited: after 3 consecutive failures, automatic rewrites wait 1, 2, 4...
/// up to 60 minutes between tries (BGREWRITEAOF itself is never limited).
fn rewrite_limited(a: &mut AofState, now: i64) -> bool {
    const THRESHOLD: u64 = 3;
    const MAX_MINUTES: i64 = 60;
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
pub(crate) fn create_dir(config: &Config) -> Result<(), String> {
    let d = dir(config);
    match std::fs::create_dir(&d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => Ok(()),
        Err(e) => Err(format!("Can't open or create append-only dir {}: {}", d.display(), e)),
    }
}

/// Opens a file of the AOF for appending.
pub(crate) fn open_append(config: &Config, name: &str, truncate: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(dir(config).join(name))
}

/// The size of a file of the AOF, as getAppendOnlyFileSize (0 and a log line when missing).
pub(crate) fn file_size(config: &Config, name: &str) -> u64 {
    match std::fs::metadata(dir(config).join(name)) {
        Ok(m) => m.len(),
        Err(e) => {
            log!(Level::Warning, "Unable to obtain the AOF file {} length. stat: {}", name, e);
            0
        }
    }
}

/// Reads the manifest at startup, whether the AOF is on or not (so that turning it on later
/// goes on with the sequence numbers). A damaged manifest is fatal, as in Redis.
pub(crate) fn load_manifest_from_disk<H: PersistHost>(h: &mut H) -> Result<(), AofError> {
    let p = h.parts();
    let path = dir(p.config).join(manifest::manifest_name(&p.config.appendfilename));
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
            p.aof.manifest = m;
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
pub(crate) fn open_on_server_start<H: PersistHost>(h: &mut H) -> Result<(), AofError> {
    let functions = h.function_codes();
    let p = h.parts();
    let config = p.config;
    if !config.appendonly {
        return Ok(());
    }
    let a = p.aof;
    a.status = Status::On;
    create_dir(config)?;
    let fname = config.appendfilename.clone();
    let had_incr = !a.manifest.incr.is_empty();
    if a.manifest.base.is_none() && !had_incr {
        let base = a.manifest.new_base(&fname, config.aof_use_rdb_preamble);
        let path = dir(config).join(&base);
        rewrite::rewrite_to_file(config, p.dbs, &path, None, &functions)?;
        log!(Level::Notice, "Creating AOF base file {} on server start", base);
    }
    let name = a.manifest.last_incr(&fname);
    let f = open_append(config, &name, false)
        .map_err(|e| format!("Can't open the append-only file {}: {}", name, e))?;
    a.w.file = Some(f);
    a.manifest.persist(&dir(config), &fname)?;
    a.w.last_incr_size = file_size(config, &name);
    let base_size = base_file_size(config, a);
    let incr_sizes: u64 = a.manifest.incr.iter().map(|i| file_size(config, &i.name)).sum();
    a.w.current_size = base_size + incr_sizes;
    a.w.fsync_offset = a.w.current_size;
    if a.rewrite_base_size == 0 {
        a.rewrite_base_size = base_size;
    }
    a.w.last_fsync = base::unix_time();
    if had_incr {
        log!(Level::Notice, "Opening AOF incr file {} on server start", name);
    } else {
        log!(Level::Notice, "Creating AOF incr file {} on server start", name);
    }
    Ok(())
}

impl From<String> for AofError {
    fn from(e: String) -> AofError {
        AofError(e)
    }
}

/// `CONFIG SET appendonly yes` (Redis's startAppendOnly): the AOF turns on once a rewrite has
/// written its first base.
pub(crate) fn start_append_only<H: PersistHost>(h: &mut H) -> Result<(), AofError> {
    if h.aof_state().status != Status::Off {
        return Ok(());
    }
    let rewriting = rewrite_in_progress(h);
    let p = h.parts();
    p.aof.status = Status::WaitRewrite;
    let other_child = p.state.child.is_some() && !rewriting;
    if other_child {
        p.aof.rewrite_scheduled = true;
        log!(
            Level::Warning,
            "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible."
        );
    } else {
        if rewriting {
            log!(
                Level::Warning,
                "AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now."
            );
            rewrite::kill_child(h);
        }
        if let Err(e) = rewrite::start(h) {
            if h.aof_state().check_fatal().is_err() {
                return Err(e); // the event loop exits before the reply leaves
            }
            h.parts().aof.status = Status::Off;
            log!(
                Level::Warning,
                "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error."
            );
            return Err(AofError("Unable to turn on AOF. Check server logs.".into()));
        }
    }
    let w = &mut h.parts().aof.w;
    w.last_fsync = base::unix_time();
    if w.bio.fsync_error().is_some() {
        log!(Level::Warning, "AOF reopen, just ignore the AOF fsync error in bio job");
        w.bio.clear_fsync_error();
    }
    if !w.last_write_ok {
        log!(Level::Warning, "AOF reopen, just ignore the last error.");
        w.last_write_ok = true;
    }
    Ok(())
}

/// `CONFIG SET appendonly no` (Redis's stopAppendOnly). A fatal flush stops it there, as
/// Redis exits there: the state keeps the error and the event loop's next flush reports it
/// before any reply leaves.
pub(crate) fn stop_append_only<H: PersistHost>(h: &mut H) {
    if h.aof_state().status == Status::Off {
        return;
    }
    if flush(h, true).is_err() {
        return; // fatal: the event loop exits before anything else happens
    }
    let a = &mut *h.parts().aof;
    if let Some(f) = a.w.file.take() {
        if let Err(e) = f.sync_data() {
            log!(Level::Warning, "Fail to fsync the AOF file: {}", e);
        } else {
            a.w.fsync_offset = a.w.current_size;
            a.w.last_fsync = base::unix_time();
        }
    }
    a.w.selected_db = None;
    a.status = Status::Off;
    a.rewrite_scheduled = false;
    a.w.last_incr_size = 0;
    rewrite::kill_child(h);
    h.parts().aof.w.buf = Vec::new();
}

/// `CONFIG SET appendfsync always`: what was written so far is synced at once.
pub(crate) fn fsync_policy_changed<H: PersistHost>(h: &mut H) {
    let p = h.parts();
    let a = p.aof;
    if a.status != Status::Off && policy(p.config) == Fsync::Always {
        if let Some(f) = a.w.file.as_ref() {
            if f.sync_data().is_ok() {
                a.w.fsync_offset = a.w.current_size;
                a.w.last_fsync = base::unix_time();
            }
        }
    }
}

/// Shutdown: stop a rewrite child, write and fsync what is buffered. A fatal write is
/// returned for the top layer to exit with.
pub(crate) fn prepare_shutdown<H: PersistHost>(h: &mut H) -> Result<(), AofFatal> {
    if rewrite_in_progress(h) {
        log!(Level::Warning, "There is a child rewriting the AOF. Killing it!");
        rewrite::kill_child(h);
    }
    if h.aof_state().status != Status::Off {
        log!(Level::Notice, "Calling fsync() on the AOF file.");
        flush(h, true)?;
        if let Some(f) = h.aof_state().w.file.as_ref() {
            let _ = f.sync_data();
        }
    }
    Ok(())
}

/// The AOF fields of INFO persistence that follow `rdb_bgsave_child_pid`.
pub(crate) fn info_fields<H: PersistHost>(h: &H, out: &mut Vec<(&'static str, String)>) {
    let a = h.aof_state();
    let st = h.persist_state();
    let now = base::unix_time();
    let ok = a.w.last_write_ok && a.w.bio.fsync_error().is_none();
    out.push((
        "aof_rewrite_child_pid",
        st.child
            .as_ref()
            .filter(|c| c.kind == ChildKind::AofRewrite)
            .map(|c| c.pid)
            .unwrap_or(-1)
            .to_string(),
    ));
    out.push(("aof_enabled", ((a.status != Status::Off) as u8).to_string()));
    out.push(("aof_rewrite_in_progress", (rewrite_in_progress(h) as u8).to_string()));
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
    out.push(("aof_last_cow_size", st.aof_last_cow_size.to_string()));
}

/// The fields INFO persistence adds at its end while the AOF is on.
pub(crate) fn info_enabled_fields<H: PersistHost>(h: &H, out: &mut Vec<(&'static str, String)>) {
    let a = h.aof_state();
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
fn upgrade_if_needed(config: &Config, a: &mut AofState) -> Result<(), AofError> {
    let fname = config.appendfilename.clone();
    if !std::path::Path::new(&fname).is_file() {
        return Ok(());
    }
    let d = dir(config);
    let m = &a.manifest;
    let upgrade = !d.is_dir()
        || (m.base.is_none() && m.incr.is_empty())
        || (m.base.as_ref().is_some_and(|b| b.name == fname)
            && m.incr.is_empty()
            && !d.join(&fname).exists());
    if !upgrade {
        return Ok(());
    }
    if let Err(e) = create_dir(config) {
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
    a.manifest = m;
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
/// `executor` builds, on the loader thread, what replays the AOF's commands (the top layer
/// supplies it: command semantics are not persistence's).
pub(crate) fn start_loading<H: PersistHost>(
    h: &mut H,
    executor: loader::ExecutorFactory,
) -> Result<Option<crate::persist::rdb_io::Loading>, AofError> {
    {
        let p = h.parts();
        upgrade_if_needed(p.config, p.aof)?;
    }
    let m = h.aof_state().manifest.clone();
    if m.base.is_none() && m.incr.is_empty() {
        open_on_server_start(h).inspect_err(|e| log!(Level::Warning, "{}", e))?;
        return Ok(None);
    }
    let d = dir(h.config());
    let (_, total) = loader::sizes(&d, &m).map_err(AofError)?;
    if total == 0 {
        open_on_server_start(h).inspect_err(|e| log!(Level::Warning, "{}", e))?;
        return Ok(None);
    }
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let job = loader::Job {
        config: h.config().clone(),
        dir: d,
        manifest: m,
        progress: progress.clone(),
        executor,
    };
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

/// DEBUG LOADAOF (Redis's debugCommand "loadaof"): writes what the AOF buffer holds, reads
/// the manifest from disk again and replays every file on this thread, then replaces the
/// dataset with what was loaded. Unlike Redis, which empties the dataset first and exits if
/// the load fails, the dataset is replaced only when the load succeeded: a damaged AOF gets
/// an error reply and loses nothing.
pub(crate) fn reload_now<H: PersistHost>(
    h: &mut H,
    executor: loader::ExecutorFactory,
) -> Result<(), crate::persist::rdb_io::LoadError> {
    if h.aof_state().status == Status::On && flush(h, true).is_err() {
        return Err(AofError("the AOF buffer could not be written".into()).into());
    }
    load_manifest_from_disk(h)?;
    let m = h.aof_state().manifest.clone();
    let loaded = if m.base.is_none() && m.incr.is_empty() {
        None
    } else {
        let job = loader::Job {
            config: h.config().clone(),
            dir: dir(h.config()),
            manifest: m,
            progress: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
            executor,
        };
        Some(loader::load_all(job)?)
    };
    let p = h.parts();
    match loaded {
        Some(l) => crate::persist::rdb_io::install_dbs(h, l)?,
        None => {
            p.dbs.clear_all();
            // Redis empties the function engine with the data before loading.
            if let Err(e) = h.load_functions(&[], true, false) {
                log!(Level::Warning, "Failed loading library, {}", e);
            }
        }
    }
    let p = h.parts();
    *p.dirty = 0;
    p.aof.rewrite_base_size = base_file_size(p.config, p.aof);
    Ok(())
}

/// Size of the manifest's base file, 0 when there is none.
fn base_file_size(config: &Config, a: &AofState) -> u64 {
    a.manifest.base.as_ref().map_or(0, |b| file_size(config, &b.name))
}

/// The loader thread is done and its keyspace installed: open the AOF for appending.
pub(crate) fn loaded<H: PersistHost>(h: &mut H) -> Result<(), AofError> {
    let p = h.parts();
    p.aof.rewrite_base_size = base_file_size(p.config, p.aof);
    open_on_server_start(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fork::RunningChild;
    use crate::persist::child_slot::{self, ChildJob};
    use crate::persist::testing::FakeHost;

    /// The AOF's feed sink over the fake host, as the server builds it (commands/ctx.rs).
    fn feed(h: &mut FakeHost, db: usize, argv: &[Vec<u8>]) {
        let timestamps = h.config.aof_timestamp_enabled;
        AofFeed { aof: &mut h.aof, child: h.state.child.as_ref(), timestamps }.feed(db, argv);
    }

    struct Nothing;
    impl ChildJob<FakeHost> for Nothing {
        fn on_exit(self: Box<Self>, _: &mut FakeHost, _: RunningChild, _: crate::fork::ChildExit) {}
    }

    #[test]
    fn feed_appends_select_then_the_command_only_when_accepting() {
        let mut h = FakeHost::new();
        feed(&mut h, 0, &[b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]);
        assert!(h.aof.w.buf.is_empty(), "off: nothing is kept");
        h.aof.status = Status::On;
        feed(&mut h, 2, &[b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]);
        feed(&mut h, 2, &[b"DEL".to_vec(), b"k".to_vec()]);
        assert_eq!(
            h.aof.w.buf,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"
        );
    }

    #[test]
    fn waiting_for_the_first_rewrite_keeps_writes_only_while_it_runs() {
        let mut h = FakeHost::new();
        h.aof.status = Status::WaitRewrite;
        feed(&mut h, 0, &[b"PING".to_vec()]);
        assert!(h.aof.w.buf.is_empty());
        let ch = RunningChild::for_test(21, ChildKind::AofRewrite);
        child_slot::occupy(&mut h, ch, Box::new(Nothing));
        assert!(rewrite_in_progress(&h));
        feed(&mut h, 0, &[b"PING".to_vec()]);
        assert!(!h.aof.w.buf.is_empty());
    }

    #[test]
    fn a_fatal_write_stays_fatal_and_holds_replies() {
        let mut h = FakeHost::new();
        assert_eq!(flush(&mut h, false), Ok(()));
        assert!(!has_pending(&h));
        h.aof.fatal = Some(AofFatal);
        assert!(has_pending(&h), "replies must go through flush, which reports it");
        assert_eq!(flush(&mut h, false), Err(AofFatal));
        assert_eq!(flush(&mut h, true), Err(AofFatal));
        assert_eq!(h.aof.check_fatal(), Err(AofFatal));
    }

    #[test]
    fn automatic_rewrites_back_off_after_three_failures() {
        let mut a = AofState::default();
        a.consecutive_failures = 2;
        assert!(!rewrite_limited(&mut a, 1000));
        a.consecutive_failures = 3;
        assert!(rewrite_limited(&mut a, 1000), "first limit: wait a minute");
        assert!(rewrite_limited(&mut a, 1059));
        assert!(!rewrite_limited(&mut a, 1060), "the minute is over: one try");
        assert!(rewrite_limited(&mut a, 1061), "then two minutes");
        assert_eq!(a.limit_next_delay_minutes, 2);
    }

    #[test]
    fn misconf_text_carries_the_write_error() {
        let mut h = FakeHost::new();
        assert_eq!(writes_denied(&h), None);
        h.aof.status = Status::On;
        h.aof.w.last_write_ok = false;
        h.aof.w.last_write_errno = libc::ENOSPC;
        assert_eq!(
            writes_denied(&h).as_deref(),
            Some("MISCONF Errors writing to the AOF file: No space left on device")
        );
    }

    #[test]
    fn a_failed_rewrite_child_counts_a_failure_but_sigusr1_does_not() {
        let mut h = FakeHost::new();
        h.aof.status = Status::On;
        h.aof.rewrite_time_start = 1;
        // Pids no process has here: the temp files the job removes do not exist.
        let ch = RunningChild::for_test(2_000_000_001, ChildKind::AofRewrite);
        child_slot::occupy(&mut h, ch, Box::new(rewrite::RewriteJob));
        let mut exits = vec![(2_000_000_001, crate::fork::ChildExit::Exited(1))];
        child_slot::reap_with(&mut h, || exits.pop());
        assert!(h.state.child.is_none());
        assert!(!h.aof.last_bgrewrite_ok);
        assert_eq!(h.aof.consecutive_failures, 1);
        assert_eq!(h.aof.rewrite_time_start, -1);
        assert!(h.aof.rewrite_time_last >= 0);

        h.aof.last_bgrewrite_ok = true;
        let ch = RunningChild::for_test(2_000_000_002, ChildKind::AofRewrite);
        child_slot::occupy(&mut h, ch, Box::new(rewrite::RewriteJob));
        let mut exits = vec![(2_000_000_002, crate::fork::ChildExit::Signaled(libc::SIGUSR1))];
        child_slot::reap_with(&mut h, || exits.pop());
        assert!(h.aof.last_bgrewrite_ok);
        assert_eq!(h.aof.consecutive_failures, 1);
    }

    #[test]
    fn a_rewrite_is_refused_while_another_child_runs() {
        let mut h = FakeHost::new();
        let ch = RunningChild::for_test(22, ChildKind::RdbToFile);
        child_slot::occupy(&mut h, ch, Box::new(Nothing));
        assert!(rewrite::start(&mut h).is_err());
        assert_eq!(h.aof.rewrites, 0);
        assert!(h.aof.last_bgrewrite_ok, "a refusal is not a failure");
    }
}
