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
