//! The process's memory as the allocator and the OS see it: INFO memory's figures, the
//! `used_memory` that maxmemory is checked against, the resident size.

/// Allocator statistics: (allocated, active, resident, peak-tracking happens in the server).
pub(crate) struct MemoryFigures {
    pub(crate) allocated: u64,
    pub(crate) active: u64,
    pub(crate) resident: u64,
    pub(crate) rss: u64,
}

#[cfg(feature = "jemalloc")]
pub(crate) fn memory_figures() -> MemoryFigures {
    use tikv_jemalloc_ctl::{epoch, stats};
    // What INFO and MEMORY STATS show excludes what the thread cache holds freed (see
    // `flush_thread_cache`), as eviction measures it.
    flush_thread_cache();
    let _ = epoch::advance();
    MemoryFigures {
        allocated: stats::allocated::read().unwrap_or(0) as u64,
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
        rss: process_rss(),
    }
}

/// Without jemalloc (sanitizer builds) the only figure is the resident size.
#[cfg(not(feature = "jemalloc"))]
pub(crate) fn memory_figures() -> MemoryFigures {
    let rss = process_rss();
    MemoryFigures { allocated: rss, active: rss, resident: rss, rss }
}

/// The allocator's current figure of used memory (what maxmemory is compared with).
#[cfg(feature = "jemalloc")]
pub(crate) fn used_memory() -> u64 {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    stats::allocated::read().unwrap_or(0) as u64
}

#[cfg(not(feature = "jemalloc"))]
pub(crate) fn used_memory() -> u64 {
    process_rss()
}

/// Starts or stops jemalloc's background thread, which returns freed pages to the OS as they
/// decay (jemalloc's default decay: 10 s), whether or not the server is busy; without it
/// jemalloc purges only from inside allocator calls, so an idle server keeps them. As Redis's
/// set_jemalloc_bg_thread: applied at startup and on CONFIG SET of `jemalloc-bg-thread`.
/// False when jemalloc refused (built without background thread support).
#[cfg(feature = "jemalloc")]
pub(crate) fn set_background_thread(enable: bool) -> bool {
    tikv_jemalloc_ctl::background_thread::write(enable).is_ok()
}

#[cfg(not(feature = "jemalloc"))]
pub(crate) fn set_background_thread(_enable: bool) -> bool {
    true
}

/// Returns every arena's unused dirty pages to the OS now, as Redis's jemalloc_purge (after a
/// synchronous FLUSHALL/FLUSHDB and for MEMORY PURGE). False when jemalloc refused.
#[cfg(feature = "jemalloc")]
pub(crate) fn purge() -> bool {
    // "arena.<MALLCTL_ARENAS_ALL>.purge": 4096 is jemalloc 5's MALLCTL_ARENAS_ALL, "all
    // arenas".
    mallctl_void(b"arena.4096.purge\0")
}

/// Returns what this thread's allocator cache holds to the arenas, so that `used_memory`
/// stops counting memory already freed (jemalloc counts a freed allocation kept in the
/// thread cache as allocated): eviction checks the limit against the real figure.
#[cfg(feature = "jemalloc")]
pub(crate) fn flush_thread_cache() {
    mallctl_void(b"thread.tcache.flush\0");
}

#[cfg(not(feature = "jemalloc"))]
pub(crate) fn flush_thread_cache() {}

/// Calls a jemalloc control that takes and returns nothing ("arena.<i>.purge",
/// "thread.tcache.flush"): tikv-jemalloc-ctl always passes a value, which these refuse (EPERM).
/// `name` ends with a NUL. True when jemalloc accepted it.
#[cfg(feature = "jemalloc")]
pub(crate) fn mallctl_void(name: &[u8]) -> bool {
    debug_assert_eq!(name.last(), Some(&0));
    // SAFETY: mallctl with a NUL-terminated name and no old or new value (all null, length 0)
    // reads and writes no memory of ours.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    rc == 0
}

/// The text of an errno, as C's strerror (what Redis's DEBUG MALLCTL replies with).
fn strerror(errno: i32) -> String {
    let e = std::io::Error::from_raw_os_error(errno).to_string();
    match e.find(" (os error") {
        Some(i) => e[..i].to_string(),
        None => e,
    }
}

/// What DEBUG MALLCTL got from jemalloc: the control's old value, or OK for a write-only one.
pub(crate) enum Mallctl {
    Value(i64),
    Written,
}

/// Controls whose value is a pointer: writing a number there would have jemalloc follow it.
fn writes_a_pointer(name: &str) -> bool {
    name.ends_with("extent_hooks") || name.starts_with("prof.") || name.contains(".prof.")
}

/// DEBUG MALLCTL <key> [<val>]: reads an integer control (and writes `new`), trying 8-, 4-,
/// 2- and 1-byte widths in turn as Redis's mallctl_int does, since the width depends on the
/// control; a control that cannot be read but takes a value is written alone. `Err`: the
/// errno's text, as Redis replies it.
#[cfg(feature = "jemalloc")]
pub(crate) fn mallctl_int(name: &str, new: Option<i64>) -> Result<Mallctl, String> {
    const EINVAL: i32 = libc::EINVAL;
    let cname = std::ffi::CString::new(name).map_err(|_| strerror(EINVAL))?;
    if new.is_some() && writes_a_pointer(name) {
        return Err(strerror(libc::EPERM));
    }
    let new_bytes = new.unwrap_or(0).to_le_bytes();
    let mut sz = 8usize;
    while sz > 0 {
        let mut old = [0u8; 8];
        let mut oldlen = sz;
        let (newp, newlen) = match new {
            Some(_) => (new_bytes.as_ptr() as *mut libc::c_void, sz),
            None => (std::ptr::null_mut(), 0),
        };
        // SAFETY: the name is NUL-terminated; jemalloc writes at most `oldlen` (<= 8) bytes
        // into `old`, and reads `newlen` (<= 8) bytes from `new_bytes`, both ours and alive
        // for the call (it refuses with EINVAL a width that is not the control's).
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                cname.as_ptr(),
                old.as_mut_ptr().cast(),
                &mut oldlen,
                newp,
                newlen,
            )
        };
        match rc {
            0 => {
                let mut v = [0u8; 8];
                v[..sz].copy_from_slice(&old[..sz]);
                return Ok(Mallctl::Value(i64::from_le_bytes(v)));
            }
            libc::EPERM if new.is_some() => {
                // SAFETY: as above, without an old value.
                let rc = unsafe {
                    tikv_jemalloc_sys::mallctl(
                        cname.as_ptr(),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        newp,
                        newlen,
                    )
                };
                if rc == 0 {
                    return Ok(Mallctl::Written);
                }
                if rc != EINVAL {
                    return Err(strerror(rc));
                }
                sz /= 2;
            }
            EINVAL => sz /= 2,
            e => return Err(strerror(e)),
        }
    }
    Err(strerror(EINVAL))
}

/// The controls whose value is a string, the only ones DEBUG MALLCTL-STR reads (Redis reads
/// any control as a string pointer, and crashes on an integer one).
fn is_string_control(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "version",
        "config.malloc_conf",
        "opt.dss",
        "opt.junk",
        "opt.metadata_thp",
        "opt.percpu_arena",
        "opt.thp",
        "opt.stats_print_opts",
        "opt.prof_prefix",
        "opt.zero_realloc",
        "thread.prof.name",
    ];
    NAMES.contains(&name)
        || name
            .strip_prefix("arena.")
            .and_then(|r| r.strip_suffix(".dss"))
            .is_some_and(|i| i.bytes().all(|b| b.is_ascii_digit()))
}

/// What DEBUG MALLCTL-STR got: the control's string, a null one, or OK for a write.
pub(crate) enum MallctlStr {
    Value(String),
    Null,
    Written,
}

/// DEBUG MALLCTL-STR <key> [<val>]: reads a string control; writes only `arena.<i>.dss`
/// ("primary", "secondary", "disabled"), the one string control meant to be set at run time;
/// `VOID` calls a write-only control that takes no value (`thread.tcache.flush`), as Redis.
#[cfg(feature = "jemalloc")]
pub(crate) fn mallctl_str(name: &str, new: Option<&str>) -> Result<MallctlStr, String> {
    if new == Some("VOID") {
        let mut cname = name.as_bytes().to_vec();
        cname.push(0);
        if cname[..cname.len() - 1].contains(&0) {
            return Err(strerror(libc::EINVAL));
        }
        return if mallctl_void(&cname) {
            Ok(MallctlStr::Written)
        } else {
            Err(strerror(libc::EPERM))
        };
    }
    let cname = std::ffi::CString::new(name).map_err(|_| strerror(libc::EINVAL))?;
    let mut old: *const libc::c_char = std::ptr::null();
    let mut oldlen = std::mem::size_of::<*const libc::c_char>();
    // SAFETY: the name is NUL-terminated; jemalloc writes at most a pointer's width into
    // `old` (and refuses with EINVAL a control of another width). Nothing is written yet.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            cname.as_ptr(),
            (&mut old as *mut *const libc::c_char).cast(),
            &mut oldlen,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return Err(strerror(rc));
    }
    // A pointer-wide control that is not a string (an integer on 64 bits) must not be read.
    if !is_string_control(name) {
        return Err(strerror(libc::EINVAL));
    }
    // SAFETY: a string control's value is a NUL-terminated string jemalloc keeps alive (a
    // static or the arena's setting), or null.
    let text = match old.is_null() {
        true => MallctlStr::Null,
        false => MallctlStr::Value(
            unsafe { std::ffi::CStr::from_ptr(old) }.to_string_lossy().into_owned(),
        ),
    };
    if let Some(v) = new {
        if !name.starts_with("arena.") {
            return Err(strerror(libc::EPERM));
        }
        let cv = std::ffi::CString::new(v).map_err(|_| strerror(libc::EINVAL))?;
        let p: *const libc::c_char = cv.as_ptr();
        // SAFETY: jemalloc reads a pointer's width from `p`, a NUL-terminated string alive
        // for the call (it compares it with the dss names and keeps nothing).
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                cname.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                (&p as *const *const libc::c_char) as *mut libc::c_void,
                std::mem::size_of::<*const libc::c_char>(),
            )
        };
        if rc != 0 {
            return Err(strerror(rc));
        }
    }
    Ok(text)
}

/// Other allocators: nothing to do, as Redis's MEMORY PURGE without jemalloc.
#[cfg(not(feature = "jemalloc"))]
pub(crate) fn purge() -> bool {
    true
}

/// Resident set size of this process.
pub(crate) fn process_rss() -> u64 {
    #[cfg(target_os = "linux")]
    {
        if let Ok(s) = std::fs::read_to_string("/proc/self/statm") {
            let pages: u64 = s.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
            return pages * page;
        }
        0
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: getrusage fills the struct we own. ru_maxrss is the peak (bytes on macOS):
        // the closest figure without the Mach task API.
        unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut ru);
            ru.ru_maxrss as u64
        }
    }
}

pub(crate) fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    unsafe {
        (libc::sysconf(libc::_SC_PHYS_PAGES) as u64)
            .saturating_mul(libc::sysconf(libc::_SC_PAGESIZE) as u64)
    }
}

/// jemalloc's own statistics report (malloc_stats_print), for MEMORY MALLOC-STATS; None
/// without jemalloc (Redis then answers "Stats not supported for the current allocator").
#[cfg(feature = "jemalloc")]
pub(crate) fn malloc_stats() -> Option<String> {
    use std::ffi::{CStr, c_char, c_void};
    unsafe extern "C" fn append(out: *mut c_void, text: *const c_char) {
        // SAFETY: `out` is the `&mut Vec<u8>` passed below, alive for the whole call of
        // malloc_stats_print, which calls this on the same thread; `text` is a NUL-terminated
        // string jemalloc owns for the duration of this call.
        unsafe {
            let out = &mut *(out as *mut Vec<u8>);
            out.extend_from_slice(CStr::from_ptr(text).to_bytes());
        }
    }
    let mut out: Vec<u8> = Vec::new();
    // SAFETY: the callback only appends to `out` (see above); a null opts pointer asks for
    // the default report.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(append),
            &mut out as *mut Vec<u8> as *mut c_void,
            std::ptr::null(),
        );
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(not(feature = "jemalloc"))]
pub(crate) fn malloc_stats() -> Option<String> {
    None
}
