//! SHUTDOWN and SIGTERM on a tine primary whose redis-server replica lags (Redis 7.0's
//! shutdown-timeout): the primary pauses writes and waits for the replica to acknowledge the
//! whole stream before it exits, gives up after `shutdown-timeout` logging the lagging
//! replica, and SHUTDOWN ABORT (or a failing shutdown) ends the wait with an error to every
//! client blocked in SHUTDOWN and lets writes through again.
//!
//! The replica is held with SIGSTOP, and enough is written to fill the socket buffers between
//! the two, so that the last write stays in tine's own buffer until the replica reads again.

mod common;

use std::time::Duration;

use common::*;

/// A redis-server replica of `primary`, SIGSTOPped once in sync until dropped or resumed.
struct Held<'a> {
    replica: &'a TestServer,
    stopped: bool,
}

impl Held<'_> {
    fn stop(&mut self) {
        self.replica.signal(libc::SIGSTOP);
        self.stopped = true;
    }
    fn resume(&mut self) {
        self.replica.signal(libc::SIGCONT);
        self.stopped = false;
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.stopped {
            self.replica.signal(libc::SIGCONT);
        }
    }
}

fn field(s: &TestServer, section: &str, name: &str) -> String {
    info_field(&info(&mut s.client(), section), name).unwrap_or_default()
}

/// tine (no save points) with a redis-server replica in sync, `k` = 1 on both; None without
/// redis-server.
fn pair(extra: &[&str]) -> Option<(TestServer, TestServer)> {
    let mut args = vec!["--save", ""];
    args.extend_from_slice(extra);
    let tine = TestServer::with_args(&args);
    let port = tine.port.to_string();
    let replica = RedisServer::with_args(&["--save", "", "--replicaof", "127.0.0.1", &port])?;
    let mut con = tine.client();
    let _: () = redis::cmd("SET").arg("k").arg(1).query(&mut con).unwrap();
    let synced = eventually(Duration::from_secs(20), || {
        field(&replica, "replication", "master_link_status") == "up"
            && field(&replica, "replication", "slave_repl_offset")
                == field(&tine, "replication", "master_repl_offset")
            && field(&tine, "replication", "slave0").contains("state=online")
    });
    assert!(synced, "no sync\n{}\n{}", tine.log(), replica.log());
    // Its first ACK of the whole stream.
    let acked = eventually(Duration::from_secs(5), || {
        let off = field(&tine, "replication", "master_repl_offset");
        field(&tine, "replication", "slave0").contains(&format!("offset={},", off))
    });
    assert!(acked, "no ack\n{}", tine.log());
    Some((tine, replica))
}

/// With the replica stopped: fills the socket buffers towards it, then INCR k, so that the
/// INCR waits in tine's replication buffer.
fn write_behind_full_buffers(tine: &TestServer) {
    let mut con = tine.client();
    let big = vec![b'x'; 4 << 20];
    for i in 0..40 {
        let _: () = redis::cmd("SET").arg(format!("junk{}", i)).arg(&big).query(&mut con).unwrap();
        let buffered: u64 = field(tine, "memory", "mem_total_replication_buffers").parse().unwrap();
        if buffered > 8 << 20 {
            break;
        }
    }
    let n: i64 = redis::cmd("INCR").arg("k").query(&mut con).unwrap();
    assert_eq!(n, 2);
}

fn get_k(replica: &TestServer) -> Option<String> {
    redis::cmd("GET").arg("k").query(&mut replica.client()).unwrap()
}

#[test]
fn shutdown_waits_for_a_lagging_replica_with_writes_paused() {
    let Some((mut tine, replica)) = pair(&["--shutdown-timeout", "300"]) else {
        return;
    };
    let mut held = Held { replica: &replica, stopped: false };
    held.stop();
    write_behind_full_buffers(&tine);

    let mut shut = tine.raw();
    shut.send_cmd(&["SHUTDOWN"]);
    assert!(
        eventually(Duration::from_secs(5), || {
            field(&tine, "server", "shutdown_in_milliseconds").parse::<i64>().unwrap_or(0) > 0
        }),
        "no shutdown in progress\n{}",
        tine.log()
    );
    assert_eq!(field(&tine, "clients", "blocked_clients"), "1");
    // Writes are held, reads are served.
    let mut writer = tine.raw();
    writer.send_cmd(&["SET", "during", "1"]);
    assert_eq!(writer.try_reply(Duration::from_millis(300)), None, "a write ran while paused");
    assert_eq!(tine.raw().cmd_str(&["GET", "k"]), "$1\r\n2\r\n");
    assert_eq!(shut.try_reply(Duration::from_millis(100)), None);

    held.resume();
    let exited = tine.wait_exit(Duration::from_secs(20));
    assert!(exited.is_some_and(|s| s.success()), "tine did not exit\n{}", tine.log());
    assert_eq!(get_k(&replica).as_deref(), Some("2"));
    let log = tine.log();
    assert!(log.contains("Waiting for replicas before shutting down."), "{}", log);
    assert!(log.contains("1 of 1 replicas are in sync when shutting down."), "{}", log);
    assert!(!log.contains("Lagging replica"), "{}", log);
    // The held write never ran.
    let during: Option<String> =
        redis::cmd("GET").arg("during").query(&mut replica.client()).unwrap();
    assert_eq!(during, None);
}

#[test]
fn sigterm_gives_up_after_the_shutdown_timeout() {
    let Some((mut tine, replica)) = pair(&["--shutdown-timeout", "1"]) else {
        return;
    };
    let mut held = Held { replica: &replica, stopped: false };
    held.stop();
    write_behind_full_buffers(&tine);
    tine.signal(libc::SIGTERM);
    let exited = tine.wait_exit(Duration::from_secs(10));
    assert!(exited.is_some_and(|s| s.success()), "tine did not exit\n{}", tine.log());
    let log = tine.log();
    assert!(log.contains("Waiting for replicas before shutting down."), "{}", log);
    assert!(log.contains("Lagging replica"), "{}", log);
    assert!(log.contains("0 of 1 replicas are in sync when shutting down."), "{}", log);
    held.resume();
    assert_eq!(get_k(&replica).as_deref(), Some("1"));
}

#[test]
fn shutdown_abort_ends_the_wait_with_errors_and_resumes_writes() {
    let Some((tine, replica)) = pair(&[]) else {
        return;
    };
    let mut held = Held { replica: &replica, stopped: false };
    held.stop();
    let mut con = tine.client();
    let _: i64 = redis::cmd("INCR").arg("k").query(&mut con).unwrap();
    let (mut a, mut b) = (tine.raw(), tine.raw());
    a.send_cmd(&["SHUTDOWN"]);
    b.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(eventually(Duration::from_secs(5), || {
        field(&tine, "clients", "blocked_clients") == "2"
    }));
    let mut writer = tine.raw();
    writer.send_cmd(&["SET", "during", "1"]);
    assert_eq!(writer.try_reply(Duration::from_millis(200)), None);

    assert_eq!(tine.raw().cmd_str(&["SHUTDOWN", "ABORT"]), "+OK\r\n");
    for c in [&mut a, &mut b] {
        assert_eq!(c.reply_str(), "-ERR Errors trying to SHUTDOWN. Check logs.\r\n");
    }
    assert_eq!(writer.reply_str(), "+OK\r\n");
    assert_eq!(field(&tine, "clients", "blocked_clients"), "0");
    assert_eq!(field(&tine, "server", "shutdown_in_milliseconds"), "");
    assert_eq!(tine.raw().cmd_str(&["SHUTDOWN", "ABORT"]), "-ERR No shutdown in progress.\r\n");
    assert!(tine.log().contains("Shutdown manually aborted."));
    held.resume();
    // Still a primary that serves: the replica catches up.
    let _: () = redis::cmd("SET").arg("after").arg("1").query(&mut con).unwrap();
    assert!(eventually(Duration::from_secs(10), || get_k(&replica).as_deref() == Some("2")));
}

#[test]
fn shutdown_now_does_not_wait() {
    let Some((mut tine, replica)) = pair(&[]) else {
        return;
    };
    let mut held = Held { replica: &replica, stopped: false };
    held.stop();
    let _: i64 = redis::cmd("INCR").arg("k").query(&mut tine.client()).unwrap();
    let mut shut = tine.raw();
    shut.send_cmd(&["SHUTDOWN", "NOW"]);
    let exited = tine.wait_exit(Duration::from_secs(5));
    assert!(exited.is_some_and(|s| s.success()), "tine did not exit\n{}", tine.log());
    assert!(tine.log().contains("Lagging replica"), "{}", tine.log());
    assert!(!tine.log().contains("Waiting for replicas"), "{}", tine.log());
}

/// A second SIGINT while the shutdown's final save runs ends the process at once (Redis's "You
/// insist... exiting now."), removing the temp RDB, even though the event loop is busy
/// saving.
#[test]
fn a_second_sigint_interrupts_the_final_save() {
    let mut tine = TestServer::with_args(&["--save", "3600 1", "--rdb-key-save-delay", "100000"]);
    let mut con = tine.client();
    for i in 0..20 {
        let _: () = redis::cmd("SET").arg(i).arg(i).query(&mut con).unwrap();
    }
    let temp = tine.path(&format!("temp-{}.rdb", tine.pid()));
    tine.signal(libc::SIGINT);
    assert!(eventually(Duration::from_secs(5), || temp.exists()), "{}", tine.log());
    tine.signal(libc::SIGINT);
    let exited = tine.wait_exit(Duration::from_secs(1)).expect("still saving");
    assert_eq!(exited.code(), Some(1));
    assert!(!temp.exists());
    assert!(!tine.path("dump.rdb").exists());
}
