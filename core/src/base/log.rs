//! The server log, in Redis's line format:
//!
//! ```text
//! <pid>:<role> <dd Mon yyyy hh:mm:ss.mmm> <level> <message>
//! ```
//!
//! where role is `M` (primary), `S` (replica), `C` (fork child) or `X` (sentinel) and level is
//! `.` debug, `-` verbose, `*` notice, `#` warning. Tools that parse Redis logs parse ours.
//!
//! The log file is opened, appended to with one write, and closed for every line, as Redis
//! does, so that logrotate can move it away. State lives in atomics and a `OnceLock`, never
//! behind a lock, so a fork child can log without risking a lock held at fork time.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// Log levels, lowest first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
}

impl Level {
    /// Parses a `loglevel` directive value.
    pub fn from_name(s: &str) -> Option<Level> {
        match s {
            "debug" => Some(Level::Debug),
            "verbose" => Some(Level::Verbose),
            "notice" => Some(Level::Notice),
            "warning" => Some(Level::Warning),
            _ => None,
        }
    }

    fn mark(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            Level::Warning => '#',
        }
    }
}

/// Role characters.
pub const ROLE_PRIMARY: u8 = b'M';
pub const ROLE_REPLICA: u8 = b'S';
pub const ROLE_CHILD: u8 = b'C';

static LEVEL: AtomicU8 = AtomicU8::new(Level::Notice as u8);
static ROLE: AtomicU8 = AtomicU8::new(ROLE_PRIMARY);
/// `None`: standard output. Set once at startup (`logfile` is immutable, as in Redis).
static FILE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Sets where lines go: a path, or standard output for "".
pub fn set_file(path: &str) {
    let _ = FILE.set(if path.is_empty() { None } else { Some(PathBuf::from(path)) });
}

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn set_role(role: u8) {
    ROLE.store(role, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line if `level` passes the configured threshold.
pub fn log(level: Level, msg: &str) {
    if !enabled(level) {
        return;
    }
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        ROLE.load(Ordering::Relaxed) as char,
        timestamp(),
        level.mark(),
        msg
    );
    match FILE.get().and_then(|f| f.as_ref()) {
        Some(path) => {
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => {
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

/// Writes a line with no prefix (the startup banner's raw lines).
pub fn raw(msg: &str) {
    match FILE.get().and_then(|f| f.as_ref()) {
        Some(path) => {
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = writeln!(f, "{}", msg);
            }
        }
        None => {
            let _ = writeln!(std::io::stdout().lock(), "{}", msg);
        }
    }
}

/// `dd Mon yyyy hh:mm:ss.mmm` in local time.
fn timestamp() -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r writes into the tm we own; a zeroed tm is a valid initial value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&secs, &mut tm) };
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS[(tm.tm_mon.clamp(0, 11)) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}

/// `log!(Level::Notice, "fmt", args)`.
#[macro_export]
macro_rules! log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::base::log::enabled($level) {
            $crate::base::log::log($level, &format!($($arg)*));
        }
    };
}

pub fn notice(msg: &str) {
    log(Level::Notice, msg)
}

pub fn warning(msg: &str) {
    log(Level::Warning, msg)
}

pub fn verbose(msg: &str) {
    log(Level::Verbose, msg)
}
