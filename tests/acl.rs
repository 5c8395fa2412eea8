//! ACL users against redis-server 7.0: rule text (ACL LIST, GETUSER), NOPERM and WRONGPASS
//! texts, compared byte for byte where Redis is deterministic; then behaviour: key patterns,
//! categories, disabled users, DELUSER disconnecting clients, requirepass and the default user.

mod common;

use common::{Raw, TestServer, start_pair};

/// Runs the same commands on both servers, replies compared byte for byte.
fn same(ours: &mut Raw, real: &mut Raw, cmds: &[&[&str]]) {
    for c in cmds {
        let (a, b) = (ours.cmd_str(c), real.cmd_str(c));
        assert_eq!(a, b, "command {c:?}");
    }
}

#[test]
fn acl_replies_as_redis() {
    let Some((ours, real)) = start_pair(&["--save", ""]) else { return };
    let (mut o, mut r) = (ours.raw(), real.raw());
    same(
        &mut o,
        &mut r,
        &[
            &["ACL", "SETUSER", "u", "on", ">p", "+get", "~a*", "%R~r*", "&ch*", "+@pubsub"],
            &["ACL", "SETUSER", "w", "+@all", "-@dangerous", "%W~w", "~a"],
            &["ACL", "SETUSER", "s", "-@all", "+get", "(~x* +set)"],
            &["ACL", "GETUSER", "u"],
            &["ACL", "GETUSER", "s"],
            &["ACL", "GETUSER", "nobody"],
            &["ACL", "USERS"],
            &["ACL", "SETUSER", "u", "+bogus"],
            &["ACL", "SETUSER", "u", "+@bogus"],
            &["ACL", "SETUSER", "u", "#abc"],
            &["ACL", "SETUSER", "u", "bad"],
            &["ACL", "SETUSER", "u", "<nothere"],
            &["ACL", "SETUSER", "u", "(+get"],
            &["ACL", "SETUSER", "w", "allkeys", "~x"],
            &["ACL", "CAT"],
            &["ACL", "CAT", "nope"],
            &["ACL", "WHOAMI"],
            &["ACL", "DRYRUN", "u", "get", "b"],
            &["ACL", "DRYRUN", "u", "get", "a"],
            &["ACL", "DRYRUN", "u", "set", "a", "1"],
            &["ACL", "DRYRUN", "nouser", "get", "a"],
            &["ACL", "GENPASS", "0"],
            &["ACL", "DELUSER", "default"],
            &["AUTH", "u", "p"],
            &["GET", "b"],
            &["PUBLISH", "zz", "1"],
            &["SET", "a", "1"],
            &["ACL", "WHOAMI"],
            &["AUTH", "u", "bad"],
            &["AUTH", "nouser", "p"],
        ],
    );
}

#[test]
fn key_patterns_categories_and_disabled_users() {
    let s = TestServer::start();
    let mut admin = s.raw();
    admin.cmd(&["ACL", "SETUSER", "ro", "on", ">p", "+@read", "-@write", "~a*"]);
    admin.cmd(&["ACL", "SETUSER", "off", "off", ">p", "+@all", "~*"]);
    admin.cmd(&["SET", "a1", "v"]);
    let mut c = s.raw();
    assert_eq!(c.cmd_str(&["AUTH", "ro", "p"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["GET", "a1"]), "$1\r\nv\r\n");
    assert_eq!(
        c.cmd_str(&["GET", "b"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_eq!(
        c.cmd_str(&["SET", "a1", "x"]),
        "-NOPERM this user has no permissions to run the 'set' command\r\n"
    );
    assert!(c.cmd_str(&["ACL", "WHOAMI"]).starts_with("-NOPERM"));
    assert!(c.cmd_str(&["CLIENT", "LIST"]).starts_with("-NOPERM"));
    let list = admin.cmd_str(&["CLIENT", "LIST"]);
    assert!(list.contains("user=ro"), "{list}");
    assert_eq!(
        c.cmd_str(&["AUTH", "off", "p"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    // Each denial is in the ACL LOG.
    let log = admin.cmd_str(&["ACL", "LOG"]);
    assert!(log.contains("reason") && log.contains("user=ro"), "{log}");
    // MULTI: refused at queue time, EXEC aborts.
    assert_eq!(
        c.cmd_str(&["MULTI"]),
        "-NOPERM this user has no permissions to run the 'multi' command\r\n"
    );
}

#[test]
fn deleting_a_user_disconnects_its_clients() {
    let s = TestServer::start();
    let mut admin = s.raw();
    admin.cmd(&["ACL", "SETUSER", "gone", "on", ">p", "+@all", "~*"]);
    let mut c = s.raw();
    assert_eq!(c.cmd_str(&["AUTH", "gone", "p"]), "+OK\r\n");
    assert_eq!(admin.cmd_str(&["ACL", "DELUSER", "gone"]), ":1\r\n");
    c.send_cmd(&["PING"]);
    let mut buf = [0u8; 16];
    use std::io::Read;
    let n = c.stream.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "connection should be closed");
}

#[test]
fn requirepass_is_the_default_users_password() {
    let s = TestServer::start();
    let mut admin = s.raw();
    assert_eq!(admin.cmd_str(&["CONFIG", "SET", "requirepass", "secret"]), "+OK\r\n");
    let list = admin.cmd_str(&["ACL", "LIST"]);
    assert!(
        list.contains(
            "user default on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
        ),
        "{list}"
    );
    let mut c = s.raw();
    assert_eq!(c.cmd_str(&["GET", "x"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(c.cmd_str(&["AUTH", "default", "secret"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["ACL", "WHOAMI"]), "$7\r\ndefault\r\n");
}
