//! Orderly shutdown, for SHUTDOWN, SIGTERM and SIGINT: flush and close the AOF, stop a
//! running fork child, save the final snapshot when asked to (or when save points are set),
//! remove the pid file and the unix socket, log, and let the event loop return. It lives in the
//! top layer because it ends the process (SHUTDOWN reaches it through
//! `commands::ServerOps::shutdown`); the signal directives are parsed here
//! too (`ShutdownRequest::from_directive`). Also the one exit for a fatal AOF write, which
//! persistence reports and the top acts on.
//!
//! A primary whose replicas have not acknowledged the whole stream first waits for them, up to
//! `shutdown-timeout`, with writes paused (Redis 7.0): SHUTDOWN blocks its client and the wait
//! is recorded (`commands::replication::ShutdownWait`); a signal's shutdown begins it here.
//! [`before_poll`] ends it, before every poll, once the replicas caught up or the time is up:
//! the shutdown then finishes, or, if it fails, is cancelled as SHUTDOWN ABORT cancels it.

use std::ffi::CString;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::app::server::Server;
use crate::commands::data::{Data, ShutdownRequest};
use crate::commands::replication;
use tine_core::log;
use tine_core::log::Level;

impl ShutdownRequest {
    /// The request a signal makes, from `shutdown-on-sigterm` / `shutdown-on-sigint`.
    pub(crate) fn from_directive(value: &str) -> ShutdownRequest {
        let mut r = ShutdownRequest::default();
        for word in value.split_whitespace() {
            match word {
                "save" => r.save = true,
                "nosave" => r.nosave = true,
                "now" => r.now = true,
                "force" => r.force = true,
                _ => {}
            }
        }
        r
    }
}

/// Before every poll: a signal's shutdown is begun (waiting for replicas, or at once), and a
/// wait for replicas that is over is finished. True when the server may exit.
pub(crate) fn before_poll(srv: &mut Server<'_>) -> bool {
    // Redis acts on both in its cron, which DEBUG PAUSE-CRON holds.
    if srv.data.cron_paused {
        return false;
    }
    if let Some(w) = srv.data.shutdown_wait.as_ref() {
        let req = w.req;
        if tine_core::base::mstime() < w.deadline_ms && !replication::replicas_in_sync(srv.data) {
            return false;
        }
        if finish(srv.data, req) {
            return true;
        }
        replication::cancel_shutdown(&mut srv.ctx());
        return false;
    }
    let Some(req) = srv.data.shutdown else {
        return false;
    };
    log!(Level::Warning, "User requested shutdown...");
    if replication::shutdown_must_wait(srv.data, &req) {
        replication::begin_shutdown_wait(srv.data, req);
        return false;
    }
    if finish(srv.data, req) {
        return true;
    }
    srv.data.shutdown = None;
    false
}

/// True while the final save runs: a SIGINT then ends the process at once (Redis's "You
/// insist... exiting now."), from the signal handler, since the event loop is busy saving.
static FINAL_SAVE: AtomicBool = AtomicBool::new(false);
/// The final save's temp file, removed by that handler.
static TEMP_RDB: OnceLock<CString> = OnceLock::new();

/// Installs the handler that lets a SIGINT interrupt the final save of a shutdown (a second
/// SIGINT, as the first one began the shutdown): the temp RDB is removed and the process
/// exits with 1. Called once at startup, beside the event loop's own signal delivery.
pub(crate) fn install_insist_handler() {
    let temp = crate::persist::snapshot::temp_rdb_path(std::process::id());
    if let Ok(c) = CString::new(temp.to_string_lossy().into_owned()) {
        let _ = TEMP_RDB.set(c);
    }
    // SAFETY: the handler only loads atomics and calls unlink(2) and _exit(2), which are
    // async-signal-safe; it allocates nothing and takes no lock.
    let registered = unsafe {
        signal_hook::low_level::register(libc::SIGINT, || {
            if FINAL_SAVE.load(Ordering::SeqCst) {
                if let Some(p) = TEMP_RDB.get() {
                    libc::unlink(p.as_ptr());
                }
                libc::_exit(1);
            }
        })
    };
    if let Err(e) = registered {
        log!(Level::Warning, "Can't install the SIGINT handler for shutdown saves: {}", e);
    }
}

/// Runs the shutdown sequence at once (SHUTDOWN with nothing to wait for). Returns true when
/// the server may exit; false when it must keep serving (a required save failed and FORCE was
/// not given).
pub(crate) fn prepare(data: &mut Data, req: ShutdownRequest) -> bool {
    log!(Level::Warning, "User requested shutdown...");
    finish(data, req)
}

/// The shutdown sequence proper (Redis's finishShutdown): true when the server may exit.
fn finish(data: &mut Data, req: ShutdownRequest) -> bool {
    let offset = data.repl_buf.master_repl_offset();
    data.primary.log_lagging_at_shutdown(offset, tine_core::base::unix_time());
    // The first rewrite after `appendonly yes` holds the only complete AOF: without FORCE,
    // no exit before it is written.
    if data.aof.status == crate::persist::aof::Status::WaitRewrite
        && crate::persist::aof::rewrite_in_progress(data)
    {
        if req.force {
            log!(Level::Warning, "Writing initial AOF. Exit anyway.");
        } else {
            log!(Level::Warning, "Writing initial AOF, can't exit.");
            log!(
                Level::Warning,
                "Errors trying to shut down the server. Check the logs for more information."
            );
            return false;
        }
    }
    if crate::persist::aof::prepare_shutdown(data).is_err() {
        exit_on_aof_fatal(data);
    }
    crate::persist::snapshot::stop_child_for_shutdown(data);
    // Never save while the dataset is still loading: that would replace the file with the
    // part loaded so far.
    let must_save =
        (req.save || !data.config.save.is_empty()) && !req.nosave && data.loading.is_none();
    if must_save {
        log!(Level::Notice, "Saving the final RDB snapshot before exiting.");
        FINAL_SAVE.store(true, Ordering::SeqCst);
        let saved = crate::persist::snapshot::save(data);
        FINAL_SAVE.store(false, Ordering::SeqCst);
        match saved {
            Ok(()) => {}
            Err(_) if req.force => {
                log!(Level::Warning, "Error trying to save the DB. Exit anyway.");
            }
            Err(_) => {
                log!(Level::Warning, "Error trying to save the DB, can't exit.");
                log!(
                    Level::Warning,
                    "Errors trying to shut down the server. Check the logs for more information."
                );
                return false;
            }
        }
    }
    remove_pidfile(data);
    if !data.config.unixsocket.is_empty() {
        let _ = std::fs::remove_file(&data.config.unixsocket);
    }
    log!(Level::Warning, "tine is now ready to exit, bye bye...");
    true
}

/// Ends the process after a fatal AOF write (`persist::aof::AofFatal`, logged where it
/// happened): the commands already ran and cannot be undone, so no reply may leave. As Redis,
/// the pid file goes and the exit code is 1.
pub(crate) fn exit_on_aof_fatal(data: &Data) -> ! {
    remove_pidfile(data);
    std::process::exit(1);
}

/// Removes the pid file if we wrote one.
pub(crate) fn remove_pidfile(data: &Data) {
    let path = crate::pidfile_path(&data.config);
    if let Some(p) = path {
        log!(Level::Notice, "Removing the pid file.");
        let _ = std::fs::remove_file(p);
    }
}
