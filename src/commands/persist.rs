//! Persistence commands: SAVE, BGSAVE [SCHEDULE], BGREWRITEAOF. (LASTSAVE lives with the
//! other server commands in admin.rs.)

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::engine::session::Session;
use crate::persist::snapshot::{self, SaveError};
use tine_core::base;

/// A failed save as its error reply: `SaveError`'s text, which is an "ERR" line.
fn save_error(e: SaveError) -> CmdError {
    CmdError::owned("ERR", e.to_string())
}

pub(crate) fn save(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    snapshot::save(&mut *srv.data).map_err(save_error)?;
    c.add_ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]: with a child already running, SCHEDULE queues the save for when it is
/// gone; without SCHEDULE it is refused, as Redis does.
pub(crate) fn bgsave(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let schedule = match argv.get(1) {
        None => false,
        Some(a) if base::lower(a) == "schedule" && argv.len() == 2 => true,
        Some(_) => return Err(err::SYNTAX),
    };
    // Inside MULTI/EXEC a fork would run with the transaction half applied: Redis schedules
    // the save for the cron instead, whatever the argument.
    let other_child = srv.data.persist.child.is_some() || c.in_exec;
    if other_child {
        let rdb_child = srv.data.persist.bgsave_running();
        if rdb_child {
            return Err(CmdError::new("ERR", "ERR Background save already in progress"));
        }
        if !(schedule || c.in_exec) {
            return Err(CmdError::new(
                "ERR",
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            ));
        }
        srv.data.persist.bgsave_scheduled = true;
        c.add_simple("Background saving scheduled");
        return Ok(());
    }
    snapshot::bgsave(&mut *srv.data).map_err(save_error)?;
    c.add_simple("Background saving started");
    Ok(())
}

/// BGREWRITEAOF: with a child already running the rewrite is scheduled, as Redis does.
pub(crate) fn bgrewriteaof(srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    use crate::persist::aof;
    if aof::rewrite_in_progress(&*srv.data) {
        return Err(CmdError::new(
            "ERR",
            "ERR Background append only file rewriting already in progress",
        ));
    } else if srv.data.persist.child.is_some() || c.in_exec {
        srv.data.aof.rewrite_scheduled = true;
        // A manual request resets the back-off so that it runs as soon as possible.
        srv.data.aof.consecutive_failures = 0;
        c.add_simple("Background append only file rewriting scheduled");
    } else if aof::rewrite::start(&mut *srv.data).is_ok() {
        c.add_simple("Background append only file rewriting started");
    } else {
        return Err(CmdError::new(
            "ERR",
            "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
        ));
    }
    Ok(())
}
