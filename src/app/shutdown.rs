//! Orderly shutdown, for SHUTDOWN, SIGTERM and SIGINT: flush and close the AOF, stop a
//! running fork child, save the final snapshot when asked to (or when save points are set),
//! remove the pid file and the unix socket, log, and let the event loop return. It lives in the
//! top layer because it ends the process (SHUTDOWN reaches it through
//! `commands::ServerOps::shutdown`); the signal directives are parsed here
//! too (`ShutdownRequest::from_directive`). Also the one exit for a fatal AOF write, which
//! persistence reports and the top acts on.

use crate::commands::data::{Data, ShutdownRequest};
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

/// Runs the shutdown sequence. Returns true when the server may exit; false when it must
/// keep serving (a required save failed and FORCE was not given).
pub(crate) fn prepare(data: &mut Data, req: ShutdownRequest) -> bool {
    log!(Level::Warning, "User requested shutdown...");
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
        match crate::persist::snapshot::save(data) {
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
