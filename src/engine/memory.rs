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
