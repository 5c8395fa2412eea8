//! The event loop's own behaviour: the busy-poll window (`busy-poll-usec`, tine's own
//! directive) and what it may cost a server that is not busy.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn busy_poll_usec_is_a_bounded_mutable_directive() {
    let server = TestServer::start();
    let mut t = server.raw();
    assert_eq!(
        t.cmd_str(&["CONFIG", "GET", "busy-poll-usec"]),
        "*2\r\n$14\r\nbusy-poll-usec\r\n$2\r\n20\r\n"
    );
    assert_eq!(t.cmd_str(&["CONFIG", "SET", "busy-poll-usec", "0"]), "+OK\r\n");
    assert_eq!(
        t.cmd_str(&["CONFIG", "SET", "busy-poll-usec", "1001"]),
        "-ERR CONFIG SET failed (possibly related to argument 'busy-poll-usec') - argument must be between 0 and 1000 inclusive\r\n"
    );
    assert_eq!(
        t.cmd_str(&["CONFIG", "GET", "busy-poll-usec"]),
        "*2\r\n$14\r\nbusy-poll-usec\r\n$1\r\n0\r\n"
    );
    assert_eq!(t.cmd_str(&["PING"]), "+PONG\r\n");
}

/// CPU time (user + system) the process has used, in clock ticks (Linux's /proc).
#[cfg(target_os = "linux")]
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// A client that sends a request every 2 ms never has its next request caught by a 1 ms
/// window: without the miss allowance the server would spin 1 ms after each of them, half a
/// core. With it, a few windows per cron tick are all it spends.
#[cfg(target_os = "linux")]
#[test]
fn a_trickle_of_requests_does_not_keep_the_server_spinning() {
    let server = TestServer::with_args(&["--busy-poll-usec", "1000"]);
    let mut t = server.raw();
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let before = cpu_ticks(server.pid());
    let start = Instant::now();
    let mut requests = 0;
    while start.elapsed() < Duration::from_secs(2) {
        assert_eq!(t.cmd_str(&["PING"]), "+PONG\r\n");
        requests += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    let used = cpu_ticks(server.pid()) - before;
    let elapsed = start.elapsed().as_secs_f64();
    // Spinning a window after every request would be ~1 ms of CPU per request (over 40% of
    // the elapsed time); the allowance keeps it to a few percent.
    let share = used as f64 / ticks_per_sec as f64 / elapsed;
    assert!(
        share < 0.2,
        "{requests} requests in {elapsed:.1}s used {used} ticks ({:.0}% of a core)",
        share * 100.0
    );
}
