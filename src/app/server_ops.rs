//! The client table as the commands layer's `ServerOps`: what a command context needs beyond
//! the data half (`commands::Data`) is reaching other clients, whose connections only the top
//! layer holds, and the top layer's own actions (CONFIG SET's effects, SHUTDOWN). The engine's
//! host traits are implemented on `commands::Ctx`, which forwards here only delivery to
//! another client and serving or ending a blocked client's wait.
//!
//! `Running` is the same table with the event loop beside it: the `ServerOps` of a command the
//! event loop runs, so that a long command can hand control back to the loop
//! (`process_events_while_blocked`). Every other context (cron, timeouts, a blocked client's
//! retry) is built on the bare table and cannot yield.

use std::time::Instant;
use tine_core::protocol::CmdError;

use crate::app::client::{ConnFigures, info_line};
use crate::app::event_loop::EventLoop;
use crate::app::server::{Clients, Server};
use crate::commands::data::{Data, ShutdownRequest};
use crate::commands::{Ctx, ServerOps};
use crate::engine::blocking::{EndWait, Served, Waiter};
use crate::engine::session::Session;

impl ServerOps for Clients {
    #[inline]
    fn session(&mut self, slot: usize) -> Option<(&mut Session, usize)> {
        let c = self.get_mut(slot)?;
        Some((&mut c.session, c.conn.opos))
    }

    fn for_each_session(&mut self, f: &mut dyn FnMut(&mut Session)) {
        for c in self.iter_mut() {
            f(&mut c.session);
        }
    }

    fn connected(&self) -> usize {
        self.len()
    }

    fn clients_memory(&self) -> usize {
        self.iter().map(|c| c.conn.qbuf.capacity() + c.session.obuf.capacity()).sum::<usize>()
    }

    fn client_list(&self, running: &Session, now: i64, keep: &dyn Fn(&Session) -> bool) -> String {
        // Clients being closed are gone as far as anyone asking can tell (Redis frees a killed
        // client other than the caller at once).
        let mut all: Vec<(&Session, ConnFigures)> = self
            .iter()
            .filter(|x| !x.session.close_asap)
            .map(|x| (&x.session, ConnFigures::of(&x.conn)))
            .collect();
        all.push((running, self.running));
        all.sort_by_key(|x| x.0.id);
        let mut out = String::new();
        for (x, figures) in all {
            if !keep(x) {
                continue;
            }
            out.push_str(&info_line(x, &figures, now));
            out.push('\n');
        }
        out
    }

    fn client_info(&self, running: &Session, now: i64) -> String {
        info_line(running, &self.running, now)
    }

    fn config_set(&mut self, data: &mut Data, pairs: &[(&str, &str)]) -> Result<(), CmdError> {
        Ok(crate::app::config_effects::config_set(data, pairs)?)
    }

    fn shutdown(&mut self, data: &mut Data, req: ShutdownRequest) -> bool {
        crate::app::shutdown::prepare(data, req)
    }

    fn serve(&mut self, data: &mut Data, db: usize, key: &[u8], w: Waiter) {
        // The client running the current command is out of its slot; it cannot be blocked.
        let Some(mut taken) = self.take(w.slot) else {
            return;
        };
        let c = &mut taken.session;
        let ready = c.id == w.id && c.blocked.as_ref().is_some_and(|b| b.db == db);
        if ready {
            let mut ctx = Ctx::new(data, self);
            // A blocked client runs no command, so its selected db is still `db`.
            let b = c.blocked.as_mut().expect("checked");
            let argv = std::mem::take(&mut b.argv);
            let retry = b.retry;
            let start = Instant::now();
            // What the retry changed is propagated as what it says (LPOP, LMOVE...).
            let before = crate::engine::feed::before_command(&mut ctx);
            let served = match crate::commands::RETRIES.get(retry.0 as usize) {
                Some(retry) => retry(&mut ctx, c, &argv, key),
                None => Served::KeepWaiting,
            };
            crate::engine::feed::after_command(&mut ctx, db, &argv, before, true);
            crate::engine::feed::end_unit(&mut ctx);
            // What the retry wrote (BLMOVE's push) touches WATCHed keys, as any command does.
            if ctx.data.watched_keys > 0 {
                crate::commands::multi::collect_touched(&mut ctx, c);
            }
            let usec = start.elapsed().as_micros() as u64;
            if let Some(b) = c.blocked.as_mut() {
                b.argv = argv;
            }
            if served == Served::Done {
                ctx.finish_blocked(c, usec);
            }
        }
        self.put_back(taken);
    }

    fn end_wait(&mut self, data: &mut Data, slot: Option<usize>, id: u64, how: EndWait) -> bool {
        let slot = match slot {
            Some(slot) => slot,
            None => {
                match self.iter().map(|c| &c.session).find(|c| c.id == id && c.blocked.is_some()) {
                    Some(c) => c.slot,
                    None => return false,
                }
            }
        };
        let Some(mut taken) = self.take(slot) else {
            return false;
        };
        let c = &mut taken.session;
        let on_timeout = match c.blocked.as_ref() {
            Some(b) if c.id == id => Some(b.on_timeout),
            _ => None,
        };
        if let Some(on_timeout) = on_timeout {
            match how {
                EndWait::Error => c.add_error(CmdError::new(
                    "UNBLOCKED",
                    "UNBLOCKED client unblocked via CLIENT UNBLOCK",
                )),
                EndWait::Timeout => match on_timeout {
                    crate::engine::blocking::TimeoutReply::ReplicaAcks(offset) => {
                        c.add_int(data.primary.acked(offset))
                    }
                    other => other.send(c),
                },
            }
            Ctx::new(data, self).finish_blocked(c, 0);
        }
        self.put_back(taken);
        on_timeout.is_some()
    }
}

/// The client table and the event loop, for a command the event loop runs (see the module
/// doc): everything but `process_events_while_blocked` is the table's.
pub(crate) struct Running<'a> {
    pub(crate) clients: &'a mut Clients,
    pub(crate) ev: &'a mut EventLoop,
}

impl ServerOps for Running<'_> {
    #[inline]
    fn session(&mut self, slot: usize) -> Option<(&mut Session, usize)> {
        self.clients.session(slot)
    }
    fn for_each_session(&mut self, f: &mut dyn FnMut(&mut Session)) {
        self.clients.for_each_session(f)
    }
    fn connected(&self) -> usize {
        self.clients.connected()
    }
    fn clients_memory(&self) -> usize {
        self.clients.clients_memory()
    }
    fn client_list(&self, running: &Session, now: i64, keep: &dyn Fn(&Session) -> bool) -> String {
        self.clients.client_list(running, now, keep)
    }
    fn client_info(&self, running: &Session, now: i64) -> String {
        self.clients.client_info(running, now)
    }
    fn config_set(&mut self, data: &mut Data, pairs: &[(&str, &str)]) -> Result<(), CmdError> {
        self.clients.config_set(data, pairs)
    }
    fn shutdown(&mut self, data: &mut Data, req: ShutdownRequest) -> bool {
        self.clients.shutdown(data, req)
    }
    fn serve(&mut self, data: &mut Data, db: usize, key: &[u8], w: Waiter) {
        self.clients.serve(data, db, key, w)
    }
    fn end_wait(&mut self, data: &mut Data, slot: Option<usize>, id: u64, how: EndWait) -> bool {
        self.clients.end_wait(data, slot, id, how)
    }

    /// The loop runs on a `Server` made of the command's data borrow and the table; the
    /// running client is out of its slot, so it is not served (its input waits). The
    /// connection figures recorded for it are kept across the commands run in there.
    fn process_events_while_blocked(&mut self, data: &mut Data) -> usize {
        let running = self.clients.running;
        let n =
            self.ev.process_events_while_blocked(&mut Server { data, clients: &mut *self.clients });
        self.clients.running = running;
        n
    }
}
