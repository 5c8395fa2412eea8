//! The event loop's own behaviour: the busy-poll window (`busy-poll-usec`, tine's own
//! directive) and what it may cost a server that is not busy; a command that yields to the
//! loop while it runs (Redis's processEventsWhileBlocked, driven here by tine's DEBUG YIELD).

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

const BUSY_SCRIPT: &str =
    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

/// Sends `DEBUG YIELD <ms>` on `a` (without reading its reply) and returns once `b` has seen
/// the server busy: one PING answered -BUSY (those answered before the command started are
/// PONGs).
fn start_yield(a: &mut Raw, b: &mut Raw, ms: &str) {
    a.send_cmd(&["DEBUG", "YIELD", ms]);
    let mut last = String::new();
    let busy = eventually(Duration::from_secs(20), || {
        last = b.cmd_str(&["PING"]);
        last == BUSY_SCRIPT
    });
    assert!(busy, "the server never answered busy; last reply {last:?}");
}

/// While a command yields, the loop keeps serving: other clients get -BUSY (in a MULTI too),
/// a new connection is accepted, what the running client sends meanwhile waits for its
/// command, and afterwards everything runs as before.
#[test]
fn a_command_that_yields_leaves_the_others_busy_and_the_loop_serving() {
    let server = TestServer::with_args(&["--enable-debug-command", "yes"]);
    let mut a = server.raw();
    let mut b = server.raw();
    for bad in ["soon", "-1"] {
        assert_eq!(
            a.cmd_str(&["DEBUG", "YIELD", bad]),
            "-ERR value is out of range, must be positive\r\n"
        );
    }
    assert_eq!(b.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
    // Long enough for the steps below on a loaded machine; the test waits for the reply.
    start_yield(&mut a, &mut b, "5000");
    // The running client's next command arrives meanwhile: it runs once DEBUG YIELD ends.
    a.send_cmd(&["GET", "k"]);
    assert_eq!(b.cmd_str(&["GET", "k"]), BUSY_SCRIPT);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["PING"]), BUSY_SCRIPT);
    // SHUTDOWN would save a dataset the command is changing: only NOSAVE is allowed.
    assert_eq!(c.cmd_str(&["SHUTDOWN"]), BUSY_SCRIPT);
    // allow_busy commands run: MULTI opens, but a command to queue is refused and fails it.
    assert_eq!(c.cmd_str(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["INCR", "n"]), BUSY_SCRIPT);

    assert_eq!(a.reply_str(), "+OK\r\n");
    assert_eq!(a.reply_str(), "$1\r\nv\r\n");
    assert_eq!(b.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(b.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(
        c.cmd_str(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    let info = String::from_utf8_lossy(&b.cmd(&["INFO", "errorstats"])).into_owned();
    assert_eq!(
        info_field(&info, "errorstat_BUSY").as_deref(),
        Some("count=5"),
        "INFO errorstats:\n{info}"
    );
}

/// A SIGTERM that arrives while a command yields is kept for after it, as Redis does: the
/// command completes and replies, then the server shuts down.
#[test]
fn sigterm_while_a_command_yields_shuts_down_after_it() {
    let mut server = TestServer::with_args(&["--enable-debug-command", "yes"]);
    let mut a = server.raw();
    let mut b = server.raw();
    start_yield(&mut a, &mut b, "3000");
    server.signal(libc::SIGTERM);
    assert!(
        eventually(Duration::from_secs(20), || server.log().contains("Received SIGTERM")),
        "the signal was not noted while busy"
    );
    assert_eq!(b.cmd_str(&["PING"]), BUSY_SCRIPT);
    assert_eq!(a.reply_str(), "+OK\r\n");
    let status = server.wait_exit(Duration::from_secs(20)).expect("the server exits");
    assert!(status.success(), "{status:?}");
}

/// SHUTDOWN NOSAVE is allowed while busy and ends the server at once, the yielding command
/// never to reply (Redis's shutdownCommand exits from within the nested loop).
#[test]
fn shutdown_nosave_while_a_command_yields_exits_at_once() {
    let mut server = TestServer::with_args(&["--enable-debug-command", "yes"]);
    let mut a = server.raw();
    let mut b = server.raw();
    start_yield(&mut a, &mut b, "120000");
    b.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    let status = server.wait_exit(Duration::from_secs(20)).expect("exits before the yield ends");
    assert!(status.success(), "{status:?}");
    assert!(a.closed_within(Duration::from_secs(5)));
    assert!(a.pending().is_empty(), "the yielding command replied: {:?}", a.pending());
}
