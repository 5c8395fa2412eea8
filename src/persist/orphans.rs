//! Temp files a dead server left behind, removed at startup.
//!
//! A fork child writes `temp-<pid>.rdb` (BGSAVE) or `temp-rewriteaof-<pid>.aof` and renames
//! that to `temp-rewriteaof-bg-<pid>.aof` (AOF rewrite), and a replica receiving a disk-based
//! sync writes `temp-<unixtime>.<pid>.rdb`; the parent renames or removes them. A child whose
//! parent dies removes its own file (`fork::ChildReporter`), but one window remains: the
//! rewrite child has renamed its file and exited, and the parent dies before moving it into
//! the AOF directory. Redis leaves such a file forever; it is never loaded, only takes space,
//! and a server that crashes often accumulates them. At startup tine removes every such file
//! in its working directory whose pid names no living process: a running server (another
//! instance sharing the directory, or our own child) keeps its files.

use std::path::Path;

use tine_core::log;
use tine_core::log::Level;

/// The pid a temp file's name carries, if it is one of the names above.
fn temp_file_pid(name: &str) -> Option<i32> {
    let num = if let Some(rest) = name.strip_prefix("temp-rewriteaof-bg-") {
        rest.strip_suffix(".aof")?
    } else if let Some(rest) = name.strip_prefix("temp-rewriteaof-") {
        rest.strip_suffix(".aof")?
    } else {
        let rest = name.strip_prefix("temp-")?.strip_suffix(".rdb")?;
        // `temp-<pid>.rdb`, or a replica's `temp-<unixtime>.<pid>.rdb`.
        rest.rsplit('.').next()?
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse().ok().filter(|&p| p > 0)
}

/// True when a process with this pid exists (possibly not ours to signal).
fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; kill only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes the temp files in `dir` left by processes that no longer exist; logs each.
pub(crate) fn remove_orphan_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = temp_file_pid(name) else { continue };
        if pid as u32 == std::process::id() || process_exists(pid) {
            continue;
        }
        match std::fs::remove_file(e.path()) {
            Ok(()) => log!(
                Level::Notice,
                "Removed temp file {} left by process {}, which no longer exists",
                name,
                pid
            ),
            Err(err) => {
                log!(Level::Warning, "Can't remove the leftover temp file {}: {}", name, err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_temp_names_of_children_and_replicas_carry_a_pid() {
        assert_eq!(temp_file_pid("temp-123.rdb"), Some(123));
        assert_eq!(temp_file_pid("temp-1700000000.456.rdb"), Some(456));
        assert_eq!(temp_file_pid("temp-rewriteaof-bg-77.aof"), Some(77));
        assert_eq!(temp_file_pid("temp-rewriteaof-78.aof"), Some(78));
        for other in [
            "dump.rdb",
            "temp-.rdb",
            "temp-x1.rdb",
            "temp-appendonly.aof.manifest",
            "temp-rewriteaof-bg-.aof",
            "temp-0.rdb",
            "temp-12.rdb.bak",
        ] {
            assert_eq!(temp_file_pid(other), None, "{}", other);
        }
    }

    #[test]
    fn files_of_dead_processes_go_and_those_of_living_ones_stay() {
        let dir = std::env::temp_dir().join(format!("tine-orphans-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let names = [
            format!("temp-{}.rdb", dead),
            format!("temp-rewriteaof-bg-{}.aof", dead),
            format!("temp-1700000000.{}.rdb", dead),
            format!("temp-{}.rdb", me),
            "dump.rdb".to_string(),
        ];
        for n in &names {
            std::fs::write(dir.join(n), b"x").unwrap();
        }
        remove_orphan_temp_files(&dir);
        let left: Vec<bool> = names.iter().map(|n| dir.join(n).exists()).collect();
        assert_eq!(left, vec![false, false, false, true, true]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
