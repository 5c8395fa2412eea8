//! Memory figures of the server and its fork child, from /proc on Linux.
//!
//! - parent RSS: `VmRSS` in /proc/<pid>/status (cheap to read);
//! - child copy-on-write: `Private_Dirty` in /proc/<pid>/smaps_rollup — the pages of the child
//!   that are no longer shared with the parent because one of the two wrote them (what tine
//!   and Redis themselves report as `current_cow_size`), with `Pss` and `Private_Clean` beside.
//!
//! On macOS there is no /proc: RSS comes from `ps -o rss=`, the child is found with
//! `pgrep -P`, and the per-process private/shared split is not available; those figures are
//! `None` and the report says so.

/// Whether this OS gives the child's Private_Dirty.
pub const HAVE_SMAPS: bool = cfg!(target_os = "linux");

/// What smaps_rollup says of one process (bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rollup {
    pub rss: u64,
    pub pss: u64,
    pub private_dirty: u64,
    pub private_clean: u64,
}

/// Resident set size of `pid` in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let text = std::fs::read_to_string(format!("/proc/{}/status", pid)).ok()?;
        kb_field(&text, "VmRSS:")
    }
    #[cfg(not(target_os = "linux"))]
    {
        let out = std::process::Command::new("ps")
            .args(["-o", "rss=", "-p", &pid.to_string()])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().ok().map(|kb| kb * 1024)
    }
}

/// smaps_rollup of `pid`; `None` where the OS has none, the process is gone or a zombie.
pub fn rollup(pid: u32) -> Option<Rollup> {
    #[cfg(target_os = "linux")]
    {
        let text = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", pid)).ok()?;
        parse_rollup(&text)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Parses the text of smaps_rollup (empty for a zombie: `None`).
pub fn parse_rollup(text: &str) -> Option<Rollup> {
    Some(Rollup {
        rss: kb_field(text, "Rss:")?,
        pss: kb_field(text, "Pss:")?,
        private_dirty: kb_field(text, "Private_Dirty:")?,
        private_clean: kb_field(text, "Private_Clean:").unwrap_or(0),
    })
}

fn kb_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        l.strip_prefix(name)?.split_whitespace().next()?.parse::<u64>().ok().map(|kb| kb * 1024)
    })
}

/// True while `pid` runs (not gone, not a zombie waiting to be reaped).
pub fn alive(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        match std::fs::read_to_string(format!("/proc/{}/stat", pid)) {
            Ok(s) => !matches!(stat_state(&s), Some('Z') | Some('X') | None),
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: kill with signal 0 only checks that the process exists.
        unsafe { libc::kill(pid as i32, 0) == 0 }
    }
}

/// The state letter and the parent pid of a /proc/<pid>/stat line (the command name, in
/// parentheses, may hold spaces: parse after the last ')').
fn stat_fields(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut it = rest.split_whitespace();
    let state = it.next()?.chars().next()?;
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

fn stat_state(stat: &str) -> Option<char> {
    stat_fields(stat).map(|(s, _)| s)
}

/// Live children of `pid` (a server has at most one fork child).
pub fn children_of(pid: u32) -> Vec<u32> {
    #[cfg(target_os = "linux")]
    {
        let mut out = Vec::new();
        // Fast path: the kernel's list per thread (CONFIG_PROC_CHILDREN).
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", pid)) {
            for t in tasks.flatten() {
                if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                    out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
                }
            }
        }
        if out.is_empty() {
            // Slow path: every process's parent.
            if let Ok(procs) = std::fs::read_dir("/proc") {
                for p in procs.flatten() {
                    let Some(child) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok())
                    else {
                        continue;
                    };
                    if let Ok(s) = std::fs::read_to_string(p.path().join("stat")) {
                        if stat_fields(&s).map(|(_, pp)| pp) == Some(pid) {
                            out.push(child);
                        }
                    }
                }
            }
        }
        out.retain(|&c| alive(c));
        out.sort_unstable();
        out.dedup();
        out
    }
    #[cfg(not(target_os = "linux"))]
    {
        let Ok(out) = std::process::Command::new("pgrep").args(["-P", &pid.to_string()]).output()
        else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rollup_and_stat() {
        let text = "00400000-7ffd [rollup]\nRss:  100 kB\nPss:   60 kB\nPrivate_Clean: 4 kB\n\
                    Private_Dirty:  8 kB\n";
        let r = parse_rollup(text).unwrap();
        assert_eq!((r.rss, r.pss, r.private_dirty, r.private_clean), (102400, 61440, 8192, 4096));
        assert_eq!(parse_rollup(""), None);
        assert_eq!(stat_fields("12 (a b) c) S 7 12 12"), Some(('S', 7)));
    }

    #[test]
    fn sees_itself() {
        let me = std::process::id();
        assert!(alive(me));
        if HAVE_SMAPS {
            assert!(rss(me).unwrap() > 0);
            assert!(rollup(me).unwrap().rss > 0);
        }
    }
}
