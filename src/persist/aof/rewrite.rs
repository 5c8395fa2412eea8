//! BGREWRITEAOF: a new AOF base written by a fork child (Redis's
//! rewriteAppendOnlyFileBackground and backgroundRewriteDoneHandler).
//!
//! 1. The parent writes out its buffer and opens a new incr file, recorded at once in the
//!    manifest (so a crash from here on loads old base + old incr + new incr: nothing lost).
//!    Then it forks (`crate::fork`, `ChildKind::AofRewrite`); the child occupies the child
//!    slot with [`RewriteJob`], this kind's on-exit job (`persist::child_slot`).
//! 2. The child writes the dataset of its copy-on-write snapshot to
//!    `temp-rewriteaof-<pid>.aof` — an RDB with `aof-use-rdb-preamble yes`, else commands
//!    (SET, RPUSH, SADD, ZADD, HMSET, PEXPIREAT, at most 64 items per command; streams as
//!    XADD, XSETID, XGROUP CREATE and XCLAIM, as Redis's rewriteStreamObject) — fsyncs it,
//!    renames it `temp-rewriteaof-bg-<pid>.aof` and exits 0. The parent keeps appending to the
//!    new incr file meanwhile.
//! 3. On success the parent renames the temp file into the AOF directory as the next base,
//!    turns the old base and every incr file but the one being written into history, persists
//!    the manifest (temp, fsync, rename, fsync dir) and deletes the history files in the
//!    background. On failure nothing changes but the temp files are removed; the next
//!    automatic try backs off once failures pile up ("AOF rewrite limited").

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{AofError, AofState, Status, dir};
use crate::config::Config;
use crate::fork::{self as child, ChildExit, ChildKind, ChildReporter, OomScore, RunningChild};
use crate::persist::PersistHost;
use crate::persist::child_slot::{self, ChildJob};
use tine_core::base;
use tine_core::keyspace::Db;
use tine_core::log;
use tine_core::log::Level;

/// Items per command when the base is written as commands (Redis's AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// The name the child renames its finished file to, in `dir`.
pub(crate) fn temp_bg_name(pid: i32) -> String {
    format!("temp-rewriteaof-bg-{}.aof", pid)
}

/// The file a rewrite writes before renaming.
fn temp_name(pid: u32) -> String {
    format!("temp-rewriteaof-{}.aof", pid)
}

/// The temp incr file used while the AOF waits for its first rewrite.
pub(crate) fn temp_incr_name(aof_filename: &str) -> String {
    format!(
        "{}{}{}",
        super::manifest::TEMP_FILE_NAME_PREFIX,
        aof_filename,
        super::manifest::INCR_FILE_SUFFIX
    )
}

/// Writes the whole dataset as an AOF base to `path` (through a temp file, fsynced), as
/// Redis's rewriteAppendOnlyFile. In a child, `reporter` gets progress.
pub(crate) fn rewrite_to_file(
    config: &Config,
    dbs: &[Db],
    path: &Path,
    mut reporter: Option<&mut ChildReporter>,
    functions: &[Vec<u8>],
) -> Result<(), String> {
    let tmp = PathBuf::from(temp_name(std::process::id()));
    if let Some(r) = reporter.as_deref_mut() {
        r.set_temp_file(&tmp);
    }
    let file = std::fs::File::create(&tmp).map_err(|e| {
        let msg =
            format!("Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): {}", e);
        log!(Level::Warning, "{}", msg);
        msg
    })?;
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, file);
    let result = write_base(config, dbs, &mut w, reporter.as_deref_mut(), functions)
        .and_then(|_| w.flush().map_err(|e| e.to_string()))
        .and_then(|_| w.get_ref().sync_all().map_err(|e| e.to_string()));
    drop(w);
    if let Err(e) = result {
        let msg = format!("Write error writing append only file on disk: {}", e);
        log!(Level::Warning, "{}", msg);
        let _ = std::fs::remove_file(&tmp);
        return Err(msg);
    }
    // A child whose parent died meanwhile stops here, its file removed.
    if let Some(r) = reporter.as_deref_mut() {
        if r.check_parent_now().is_err() {
            r.exit_parent_gone();
        }
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let msg = format!("Error moving temp append only file on the final destination: {}", e);
        log!(Level::Warning, "{}", msg);
        let _ = std::fs::remove_file(&tmp);
        return Err(msg);
    }
    // In a child, `path` is still a temp file only the parent renames into the AOF directory:
    // if the parent is found gone at the last report, the child removes it.
    if let Some(r) = reporter {
        r.set_temp_file(path);
    }
    Ok(())
}

/// The base's contents: an RDB (with the `aof-base` aux field, the libraries in it as
/// FUNCTION2) or commands (the libraries first, each as `FUNCTION LOAD <code>`, after the
/// timestamp annotation: Redis's rewriteFunctions).
fn write_base<W: Write>(
    config: &Config,
    dbs: &[Db],
    w: &mut W,
    mut reporter: Option<&mut ChildReporter>,
    functions: &[Vec<u8>],
) -> Result<(), String> {
    let delay = config.rdb_key_save_delay;
    let mut progress = |done: u64| {
        tine_core::base::debug_delay(delay);
        if let Some(r) = reporter.as_deref_mut() {
            if r.progress(done).is_err() {
                r.exit_parent_gone();
            }
        }
    };
    if config.aof_use_rdb_preamble {
        let mut opts = crate::persist::rdb_io::options(config);
        opts.aof_base = true;
        opts.functions = functions.to_vec();
        return tine_core::rdb::write_rdb(w, dbs, &opts, progress).map_err(|e| e.to_string());
    }
    let mut out = Vec::with_capacity(64 * 1024);
    if config.aof_timestamp_enabled {
        out.extend_from_slice(format!("#TS:{}\r\n", base::unix_time()).as_bytes());
    }
    for code in functions {
        out.extend_from_slice(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$");
        out.extend_from_slice(itoa::Buffer::new().format(code.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(code);
        out.extend_from_slice(b"\r\n");
    }
    let mut done = 0u64;
    for (id, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        super::writer::cat_select(&mut out, id);
        for (key, value) in db.iter() {
            rewrite_value(&mut out, key, value);
            if let Some(t) = db.expire_of(key) {
                super::writer::cat_command(
                    &mut out,
                    &[b"PEXPIREAT".to_vec(), key.to_vec(), t.to_string().into_bytes()],
                );
            }
            if out.len() >= 64 * 1024 {
                w.write_all(&out).map_err(|e| e.to_string())?;
                out.clear();
            }
            done += 1;
            progress(done);
        }
    }
    w.write_all(&out).map_err(|e| e.to_string())
}

/// The commands that rebuild one value.
fn rewrite_value(out: &mut Vec<u8>, key: &[u8], value: &tine_core::keyspace::Value) {
    use tine_core::keyspace::Value;
    let mut ib = tine_core::types::listpack::IntBuf::default();
    let mut ib2 = tine_core::types::listpack::IntBuf::default();
    let mut batched = |cmd: &[u8], items: Vec<Vec<Vec<u8>>>| {
        for chunk in items.chunks(ITEMS_PER_CMD) {
            let mut argv = vec![cmd.to_vec(), key.to_vec()];
            for item in chunk {
                argv.extend(item.iter().cloned());
            }
            super::writer::cat_command(out, &argv);
        }
    };
    match value {
        Value::Str(s) => {
            let mut b = itoa::Buffer::new();
            batched(b"SET", vec![vec![s.bytes(&mut b).to_vec()]]);
        }
        Value::List(l) => {
            let items = l.iter().map(|e| vec![e.as_bytes(&mut ib).to_vec()]).collect();
            batched(b"RPUSH", items);
        }
        Value::Set(s) => {
            let items = s.iter().map(|e| vec![e.as_bytes(&mut ib).to_vec()]).collect();
            batched(b"SADD", items);
        }
        Value::ZSet(z) => {
            let items = z
                .iter()
                .map(|(m, score)| {
                    vec![
                        tine_core::base::format_double(score).into_bytes(),
                        m.as_bytes(&mut ib).to_vec(),
                    ]
                })
                .collect();
            batched(b"ZADD", items);
        }
        Value::Hash(h) => {
            let items = h
                .iter()
                .map(|(f, v)| vec![f.as_bytes(&mut ib).to_vec(), v.as_bytes(&mut ib2).to_vec()])
                .collect();
            batched(b"HMSET", items);
        }
        Value::Stream(s) => rewrite_stream(out, key, s),
    }
}

/// The commands that rebuild a stream, as Redis 7.0's rewriteStreamObject: an XADD per entry
/// (an empty stream is made with `XADD key MAXLEN 0 0-1 x y`), XSETID with the counters,
/// then per group XGROUP CREATE ... ENTRIESREAD, and per consumer its pending entries as
/// `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n JUSTID FORCE` (XGROUP CREATECONSUMER
/// for a consumer with none).
fn rewrite_stream(out: &mut Vec<u8>, key: &[u8], s: &tine_core::types::stream::Stream) {
    use tine_core::types::stream::StreamId;
    let b = |x: &[u8]| x.to_vec();
    let mut ib = tine_core::types::listpack::IntBuf::default();
    let mut ib2 = tine_core::types::listpack::IntBuf::default();
    if s.length > 0 {
        s.for_each_in(StreamId::MIN, StreamId::MAX, false, |e| {
            let mut argv = vec![b(b"XADD"), key.to_vec(), e.id.to_bytes()];
            for (f, v) in &e.fields {
                argv.push(f.as_bytes(&mut ib).to_vec());
                argv.push(v.as_bytes(&mut ib2).to_vec());
            }
            super::writer::cat_command(out, &argv);
            true
        });
    } else {
        let argv = [b(b"XADD"), key.to_vec(), b(b"MAXLEN"), b(b"0"), b(b"0-1"), b(b"x"), b(b"y")];
        super::writer::cat_command(out, &argv);
    }
    let argv = [
        b(b"XSETID"),
        key.to_vec(),
        s.last_id.to_bytes(),
        b(b"ENTRIESADDED"),
        s.entries_added.to_string().into_bytes(),
        b(b"MAXDELETEDID"),
        s.max_deleted_entry_id.to_bytes(),
    ];
    super::writer::cat_command(out, &argv);
    for (name, g) in &s.groups {
        let argv = [
            b(b"XGROUP"),
            b(b"CREATE"),
            key.to_vec(),
            name.to_vec(),
            g.last_id.to_bytes(),
            b(b"ENTRIESREAD"),
            g.entries_read.to_string().into_bytes(),
        ];
        super::writer::cat_command(out, &argv);
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                let argv = [
                    b(b"XGROUP"),
                    b(b"CREATECONSUMER"),
                    key.to_vec(),
                    name.to_vec(),
                    cname.to_vec(),
                ];
                super::writer::cat_command(out, &argv);
                continue;
            }
            for id in &c.pel {
                let Some(n) = g.pel.get(id) else { continue };
                let argv = [
                    b(b"XCLAIM"),
                    key.to_vec(),
                    name.to_vec(),
                    cname.to_vec(),
                    b(b"0"),
                    id.to_bytes(),
                    b(b"TIME"),
                    n.delivery_time.to_string().into_bytes(),
                    b(b"RETRYCOUNT"),
                    n.delivery_count.to_string().into_bytes(),
                    b(b"JUSTID"),
                    b(b"FORCE"),
                ];
                super::writer::cat_command(out, &argv);
            }
        }
    }
}

/// Opens a new incr file for the writes that happen during the rewrite (Redis's
/// openNewIncrAofForAppend). The manifest naming it is persisted before the switch.
fn open_new_incr_for_append(config: &Config, a: &mut AofState) -> Result<(), String> {
    let fname = config.appendfilename.clone();
    let (name, temp_am) = match a.status {
        Status::Off => return Ok(()),
        Status::WaitRewrite => (temp_incr_name(&fname), None),
        Status::On => {
            let mut am = a.manifest.clone();
            let n = am.new_incr(&fname);
            (n, Some(am))
        }
    };
    let f = super::open_append(config, &name, true).map_err(|e| {
        let msg = format!("Can't open the append-only file {}: {}", name, e);
        log!(Level::Warning, "{}", msg);
        msg
    })?;
    if let Some(am) = &temp_am {
        if let Err(e) = am.persist(&dir(config), &fname) {
            log!(Level::Warning, "{}", e);
            return Err(e);
        }
    }
    log!(Level::Notice, "Creating AOF incr file {} on background rewrite", name);
    if let Some(old) = a.w.file.take() {
        a.w.bio.fsync_and_close(old);
        a.w.fsync_offset = a.w.current_size;
        a.w.last_fsync = base::unix_time();
    }
    a.w.file = Some(f);
    a.w.last_incr_size = 0;
    if let Some(am) = temp_am {
        a.manifest = am;
    }
    Ok(())
}

/// Starts a background rewrite. `Err` when it could not (logged; the caller replies). A
/// fatal AOF write on the way is kept in the AOF state for the event loop to exit on.
pub(crate) fn start<H: PersistHost>(h: &mut H) -> Result<(), AofError> {
    if h.persist_state().child.is_some() {
        return Err(AofError("another child process is active".into()));
    }
    {
        let p = h.parts();
        if let Err(e) = super::create_dir(p.config) {
            log!(Level::Warning, "{}", e);
            p.aof.last_bgrewrite_ok = false;
            return Err(AofError(e));
        }
        p.aof.w.selected_db = None;
    }
    if super::flush(h, true).is_err() {
        return Err(AofError("fatal AOF write error".into()));
    }
    // The same sockets a BGSAVE child closes (the client running BGREWRITEAOF included), and
    // the AOF the parent keeps appending to.
    let mut close = h.child_fds();
    // The libraries' code as plain bytes: the child writes them, it never runs Lua.
    let functions = h.function_codes();
    let p = h.parts();
    if let Err(e) = open_new_incr_for_append(p.config, p.aof) {
        p.aof.last_bgrewrite_ok = false;
        return Err(AofError(e));
    }
    p.aof.rewrites += 1;
    close.extend(p.aof.w.raw_fd());
    let oom = OomScore::from_config(p.config);
    let started = {
        let (config, dbs): (&Config, &[Db]) = (p.config, p.dbs);
        child::start(ChildKind::AofRewrite, &close, oom, |reporter| {
            let target = PathBuf::from(temp_bg_name(std::process::id() as i32));
            rewrite_to_file(config, dbs, &target, Some(reporter), &functions)?;
            log!(
                Level::Notice,
                "Successfully created the temporary AOF base file {}",
                target.display()
            );
            let cow = child::private_dirty_bytes();
            log!(
                Level::Notice,
                "Fork CoW for AOF rewrite: current {} MB, peak {} MB, average {} MB",
                cow / (1024 * 1024),
                cow / (1024 * 1024),
                cow / (1024 * 1024)
            );
            Ok(())
        })
    };
    match started {
        Ok(mut ch) => {
            ch.temp_file = Some(PathBuf::from(temp_bg_name(ch.pid)));
            ch.keys_total = p.dbs.total_keys();
            child_slot::record_fork(h, ch.fork_usec);
            log!(Level::Notice, "Background append only file rewriting started by pid {}", ch.pid);
            let a = &mut *h.parts().aof;
            a.rewrite_scheduled = false;
            a.rewrite_time_start = base::unix_time();
            child_slot::occupy(h, ch, Box::new(RewriteJob));
            Ok(())
        }
        Err(e) => {
            p.aof.last_bgrewrite_ok = false;
            log!(Level::Warning, "Can't rewrite append only file in background: fork: {}", e);
            Err(AofError(format!("fork: {}", e)))
        }
    }
}

/// Stops a running rewrite child on purpose (SIGUSR1), reaps it and removes its temp files.
pub(crate) fn kill_child<H: PersistHost>(h: &mut H) {
    if !super::rewrite_in_progress(h) {
        return;
    }
    let p = h.parts();
    let Some(mut ch) = p.state.child.clear() else {
        return;
    };
    log!(Level::Notice, "Killing running AOF rewrite child: {}", ch.pid);
    ch.kill_on_purpose();
    ch.reap_after_kill();
    remove_temp_files(ch.pid);
    p.dbs.set_fork_active(false);
    p.aof.rewrite_time_start = -1;
}

fn remove_temp_files(pid: i32) {
    let _ = std::fs::remove_file(temp_bg_name(pid));
    let _ = std::fs::remove_file(temp_name(pid as u32));
}

/// The AOF-rewrite kind's on-exit job.
pub(crate) struct RewriteJob;

impl<H: PersistHost> ChildJob<H> for RewriteJob {
    fn on_exit(self: Box<Self>, h: &mut H, child: RunningChild, exit: ChildExit) {
        let p = h.parts();
        done(p.config, p.aof, &mut p.state.aof_last_cow_size, child, exit);
    }
}

/// What happens when the rewrite child ends (Redis's backgroundRewriteDoneHandler).
fn done(config: &Config, a: &mut AofState, last_cow: &mut u64, ch: RunningChild, exit: ChildExit) {
    let fname = config.appendfilename.clone();
    let aof_dir = dir(config);
    match exit {
        ChildExit::Exited(0) => {
            log!(Level::Notice, "Background AOF rewrite terminated with success");
            if commit(config, a, &ch, &fname, &aof_dir).is_ok() {
                *last_cow = ch.report.cow_bytes;
                a.last_bgrewrite_ok = true;
                a.consecutive_failures = 0;
                log!(Level::Notice, "Background AOF rewrite finished successfully");
                if a.status == Status::WaitRewrite {
                    a.status = Status::On;
                }
            } else {
                a.last_bgrewrite_ok = false;
                a.consecutive_failures += 1;
            }
        }
        ChildExit::Exited(_) => {
            a.last_bgrewrite_ok = false;
            a.consecutive_failures += 1;
            log!(Level::Warning, "Background AOF rewrite terminated with error");
        }
        ChildExit::Signaled(sig) => {
            if sig != libc::SIGUSR1 {
                a.last_bgrewrite_ok = false;
                a.consecutive_failures += 1;
            }
            log!(Level::Warning, "Background AOF rewrite terminated by signal {}", sig);
        }
    }
    remove_temp_files(ch.pid);
    if a.status == Status::WaitRewrite {
        a.w.buf = Vec::new();
        a.w.file = None;
        let t = temp_incr_name(&fname);
        log!(Level::Notice, "Removing the temp incr aof file {} in the background", t);
        a.w.bio.unlink(aof_dir.join(t));
        a.rewrite_scheduled = true;
    }
    let now = base::unix_time();
    if a.rewrite_time_start >= 0 {
        a.rewrite_time_last = now - a.rewrite_time_start;
    }
    a.rewrite_time_start = -1;
}

/// Installs the child's file as the new base and persists the new manifest.
fn commit(
    config: &Config,
    a: &mut AofState,
    ch: &RunningChild,
    fname: &str,
    aof_dir: &Path,
) -> Result<(), ()> {
    let tmp = temp_bg_name(ch.pid);
    let mut am = a.manifest.clone();
    let new_base = am.new_base(fname, config.aof_use_rdb_preamble);
    let new_base_path = aof_dir.join(&new_base);
    if let Err(e) = std::fs::rename(&tmp, &new_base_path) {
        log!(
            Level::Warning,
            "Error trying to rename the temporary AOF base file {} into {}: {}",
            tmp,
            new_base_path.display(),
            e
        );
        return Err(());
    }
    log!(
        Level::Notice,
        "Successfully renamed the temporary AOF base file {} into {}",
        tmp,
        new_base
    );
    let mut new_incr_path = None;
    if a.status == Status::WaitRewrite {
        let temp_incr = temp_incr_name(fname);
        let new_incr = am.new_incr(fname);
        let p = aof_dir.join(&new_incr);
        if let Err(e) = std::fs::rename(aof_dir.join(&temp_incr), &p) {
            log!(
                Level::Warning,
                "Error trying to rename the temporary AOF incr file {} into {}: {}",
                temp_incr,
                p.display(),
                e
            );
            let _ = std::fs::remove_file(&new_base_path);
            return Err(());
        }
        log!(
            Level::Notice,
            "Successfully renamed the temporary AOF incr file {} into {}",
            temp_incr,
            new_incr
        );
        new_incr_path = Some(p);
    }
    am.mark_rewritten_incr_as_history(a.w.file.is_some());
    if let Err(e) = am.persist(aof_dir, fname) {
        log!(Level::Warning, "{}", e);
        let _ = std::fs::remove_file(&new_base_path);
        if let Some(p) = new_incr_path {
            let _ = std::fs::remove_file(p);
        }
        return Err(());
    }
    a.manifest = am;
    if a.w.file.is_some() {
        a.w.selected_db = None;
        let base_size = super::file_size(config, &new_base);
        a.w.current_size = base_size + a.w.last_incr_size;
        a.rewrite_base_size = a.w.current_size;
        a.w.fsync_offset = a.w.current_size;
        a.w.last_fsync = base::unix_time();
    }
    delete_history_files(config, a);
    Ok(())
}

/// Removes history files in the background and drops them from the manifest (Redis's
/// aofDelHistoryFiles), unless `aof-disable-auto-gc yes`.
fn delete_history_files(config: &Config, a: &mut AofState) {
    if config.aof_disable_auto_gc || a.manifest.history.is_empty() {
        return;
    }
    let aof_dir = dir(config);
    for h in std::mem::take(&mut a.manifest.history) {
        log!(Level::Notice, "Removing the history file {} in the background", h.name);
        a.w.bio.unlink(aof_dir.join(&h.name));
    }
    if let Err(e) = a.manifest.persist(&aof_dir, &config.appendfilename) {
        log!(Level::Warning, "{}", e);
    }
}
