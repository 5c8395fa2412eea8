//! Where the parent allocates while a fork child lives, so that its writes copy as few of the
//! pages it shares with the child as possible (issue 15, first stage).
//!
//! jemalloc hands out the lowest free slot of a size class: right after a fork, every free slot
//! sits in a page the child shares, so each new value would copy a page. So, around the one
//! fork site (`fork::start`):
//!
//! - **Before the fork** ([`prepare`]): the fork arena (one jemalloc arena created once with
//!   `arenas.create`, used only while a child lives) returns its unused pages to the OS
//!   (`arena.<i>.purge`), so none of them is shared with the child; every other arena stops
//!   purging (`dirty_decay_ms` and `muzzy_decay_ms` set to -1): a purge (`MADV_DONTNEED`) of a
//!   page the child shares leaves the child alone on it, which counts as the child's private
//!   memory exactly as a copy does; the event-loop thread switches to the fork arena
//!   (`thread.arena`) — before the fork, because jemalloc purges the arena a thread leaves when
//!   no thread is left on it — and its cache is flushed, so it holds no slot of a page the
//!   child will share.
//! - **After the fork, in the parent** ([`enter`]): the cache is flushed again (what the fork
//!   path freed meanwhile), and the switch is recorded. New values and table entries come from
//!   pages allocated after the fork. The child runs on the fork arena too: its own
//!   allocations are its own business.
//! - **When the child is gone** ([`leave`], when its handle is dropped, whichever path ended it):
//!   the thread goes back to its own arena and the other arenas purge again as configured.
//!
//! Frees of memory allocated before the fork are the keyspace's business (its deferred list):
//! a free writes the allocator's slab metadata, and a freed slot would go to the thread cache
//! and be handed out again. Other threads (the AOF fsync thread, the loader threads, a replica's
//! freeing thread) keep their own arenas and caches; they rarely allocate while a child lives.
//!
//! Without the `jemalloc` feature (fuzz builds, sanitizers) all of this does nothing.
//!
//! What is left as it is: the fork arena keeps what was allocated in it during earlier
//! children, and its partly used pages are shared with the next child like any others (its
//! free pages are purged before each fork, its partly used ones are not).

/// What [`prepare`] changed, for [`enter`] or [`abandon`] (a failed fork) to carry on.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    #[cfg(feature = "jemalloc")]
    inner: Option<imp::Saved>,
}

/// Before `fork()`: purges the fork arena, stops purging elsewhere, moves the thread to the
/// fork arena and flushes its cache.
pub(crate) fn prepare() -> Prepared {
    #[cfg(feature = "jemalloc")]
    {
        Prepared { inner: imp::prepare() }
    }
    #[cfg(not(feature = "jemalloc"))]
    Prepared::default()
}

/// After a failed `fork()`: back to the thread's own arena, purging as before.
pub(crate) fn abandon(p: Prepared) {
    #[cfg(feature = "jemalloc")]
    if let Some(s) = p.inner {
        imp::abandon(s);
    }
    #[cfg(not(feature = "jemalloc"))]
    let _ = p;
}

/// In the parent, right after a successful `fork()`: the event-loop thread goes on allocating
/// from the fork arena until [`leave`].
pub(crate) fn enter(p: Prepared) {
    #[cfg(feature = "jemalloc")]
    if let Some(s) = p.inner {
        imp::enter(s);
    }
    #[cfg(not(feature = "jemalloc"))]
    let _ = p;
}

/// The child is gone: back to the thread's own arena, purging as configured. Does nothing when
/// no [`enter`] is pending (a handle made for a test, a second call).
pub(crate) fn leave() {
    #[cfg(feature = "jemalloc")]
    imp::leave();
}

/// The fork arena's index while the event-loop thread uses it (tests and INFO), else None.
#[allow(dead_code, reason = "read by tests")]
pub(crate) fn active_arena() -> Option<u32> {
    #[cfg(feature = "jemalloc")]
    {
        imp::active()
    }
    #[cfg(not(feature = "jemalloc"))]
    None
}

#[cfg(feature = "jemalloc")]
mod imp {
    use std::sync::Mutex;
    use tikv_jemalloc_ctl::raw;

    /// The state between `prepare` and `leave`.
    #[derive(Debug)]
    pub(super) struct Saved {
        /// The arena created for forks.
        fork_arena: u32,
        /// The arena the event-loop thread used before.
        home_arena: u32,
        /// Per other arena: its index, dirty and muzzy decay before we set them to -1.
        decays: Vec<(u32, isize, isize)>,
    }

    /// The fork arena, created on the first fork.
    static FORK_ARENA: Mutex<Option<u32>> = Mutex::new(None);
    /// Set between `enter` and `leave`.
    static ACTIVE: Mutex<Option<Saved>> = Mutex::new(None);

    /// A name for mallctl: NUL-terminated.
    fn name(s: String) -> Vec<u8> {
        let mut v = s.into_bytes();
        v.push(0);
        v
    }

    /// Calls a control that takes and returns nothing ("thread.tcache.flush",
    /// "arena.<i>.purge"): tikv-jemalloc-ctl always passes a value, which these refuse. (The
    /// same call as `engine::memory::mallctl_void`: fork and engine are sibling layers.)
    fn call_void(name: &[u8]) -> bool {
        debug_assert_eq!(name.last(), Some(&0));
        // SAFETY: mallctl with a NUL-terminated name and no old or new value (all null,
        // length 0) reads and writes no memory of ours.
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

    fn read_u32(name: &[u8]) -> Option<u32> {
        // SAFETY: every control read through this is an `unsigned` in jemalloc (arenas.create,
        // arenas.narenas, thread.arena): a u32 holds any value of it.
        unsafe { raw::read::<u32>(name) }.ok()
    }

    fn read_decay(name: &[u8]) -> Option<isize> {
        // SAFETY: `arena.<i>.{dirty,muzzy}_decay_ms` are `ssize_t`: an isize holds any value.
        unsafe { raw::read::<isize>(name) }.ok()
    }

    fn write_decay(name: &[u8], v: isize) {
        // SAFETY: as `read_decay`: the control takes an `ssize_t`.
        let _ = unsafe { raw::write::<isize>(name, v) };
    }

    fn fork_arena() -> Option<u32> {
        let mut a = FORK_ARENA.lock().unwrap_or_else(|e| e.into_inner());
        if a.is_none() {
            *a = read_u32(b"arenas.create\0");
        }
        *a
    }

    pub(super) fn prepare() -> Option<Saved> {
        if ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            // A child is still in the books (cannot happen: one child at a time).
            return None;
        }
        let fork_arena = fork_arena()?;
        let home_arena = read_u32(b"thread.arena\0")?;
        if home_arena == fork_arena {
            return None;
        }
        call_void(&name(format!("arena.{fork_arena}.purge")));
        let narenas = read_u32(b"arenas.narenas\0").unwrap_or(0);
        let mut decays = Vec::with_capacity(narenas as usize);
        for i in (0..narenas).filter(|&i| i != fork_arena) {
            let dirty = name(format!("arena.{i}.dirty_decay_ms"));
            let muzzy = name(format!("arena.{i}.muzzy_decay_ms"));
            // An arena no thread has used yet answers nothing: it holds no page to purge.
            let (Some(d), Some(m)) = (read_decay(&dirty), read_decay(&muzzy)) else {
                continue;
            };
            write_decay(&dirty, -1);
            write_decay(&muzzy, -1);
            decays.push((i, d, m));
        }
        let saved = Saved { fork_arena, home_arena, decays };
        // Switched before the fork, not after: jemalloc purges an arena its last thread leaves
        // (arena_migrate), which after the fork would purge pages the child shares.
        if !switch_to(fork_arena) {
            restore_decay(&saved);
            return None;
        }
        Some(saved)
    }

    /// A failed fork: back home, purging as before.
    pub(super) fn abandon(s: Saved) {
        switch_to(s.home_arena);
        restore_decay(&s);
    }

    fn restore_decay(s: &Saved) {
        for &(i, d, m) in &s.decays {
            write_decay(&name(format!("arena.{i}.dirty_decay_ms")), d);
            write_decay(&name(format!("arena.{i}.muzzy_decay_ms")), m);
        }
    }

    fn switch_to(arena: u32) -> bool {
        // SAFETY: `thread.arena` is an `unsigned`; the index is an arena that exists.
        let ok = unsafe { raw::write::<u32>(b"thread.arena\0", arena) }.is_ok();
        call_void(b"thread.tcache.flush\0");
        ok
    }

    pub(super) fn enter(s: Saved) {
        // The thread's cache again: what the fork path itself freed since the switch.
        call_void(b"thread.tcache.flush\0");
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
    }

    pub(super) fn leave() {
        let Some(s) = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        switch_to(s.home_arena);
        restore_decay(&s);
    }

    pub(super) fn active() -> Option<u32> {
        ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|s| s.fork_arena)
    }
}
