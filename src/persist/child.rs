//! The one place in tine that calls `fork()`.
//!
//! Today it detaches the server for `daemonize yes`. The snapshot, AOF-rewrite and
//! replication children will be started here too, so that every rule about what a child may
//! touch, how it reports and how it ends lives in one file.

use std::io;

/// Detaches from the terminal as Redis's `daemonize()`: fork (the parent exits at once),
/// `setsid`, and standard input, output and error pointed at /dev/null.
pub fn daemonize() -> io::Result<()> {
    // SAFETY: called at startup before any thread is spawned, so the child is a complete copy
    // of a single-threaded process; the parent only calls `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        // SAFETY: the parent leaves without running destructors or atexit handlers, so
        // nothing it holds (buffers, files) is flushed twice.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: plain syscalls on descriptors we own; failure leaves stdio as it was.
    unsafe {
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, libc::STDIN_FILENO);
            libc::dup2(fd, libc::STDOUT_FILENO);
            libc::dup2(fd, libc::STDERR_FILENO);
            if fd > libc::STDERR_FILENO {
                libc::close(fd);
            }
        }
    }
    Ok(())
}
