//! Connection commands end to end: AUTH and requirepass, HELLO with AUTH/SETNAME, SELECT,
//! the CLIENT family (ID, SETNAME/GETNAME, LIST, INFO, KILL in all its forms, PAUSE, REPLY),
//! RESET, QUIT, ECHO and PING. Replies whose text is Redis's are checked against a real
//! redis-server started with the same arguments.

mod common;

use std::time::Duration;

use common::*;

/// Runs `script` on tine and on redis-server, both started with `args`, on one connection
/// each, and asserts every reply is byte-identical.
fn same_replies(args: &[&str], script: &[&[&str]]) {
    let server = TestServer::with_args(args);
    let Some(redis) = RedisServer::with_args(args) else {
        return;
    };
    let mut t = server.raw();
    let mut r = redis.raw();
    for cmd in script {
        assert_same(&mut t, &mut r, cmd);
    }
}

#[test]
fn auth_without_password_configured() {
    same_replies(
        &[],
        &[
            &["AUTH", "foo"],
            &["AUTH", "default", "foo"],
            &["AUTH", "nouser", "foo"],
            &["AUTH", "a", "b", "c"],
            &["PING"],
        ],
    );
}

#[test]
fn auth_with_requirepass() {
    same_replies(
        &["--requirepass", "s3cret"],
        &[
            &["GET", "x"],
            &["PING"],
            &["SELECT", "1"],
            &["HELLO", "3"],
            &["AUTH", "wrong"],
            &["AUTH", "default", "wrong"],
            &["AUTH", "other", "s3cret"],
            &["GET", "x"],
            &["AUTH", "s3cret"],
            &["GET", "x"],
            &["AUTH", "default", "s3cret"],
            &["SET", "x", "1"],
            &["RESET"],
            &["GET", "x"],
            &["AUTH", "default", "s3cret"],
            &["GET", "x"],
        ],
    );
}

#[test]
fn hello_with_auth_and_setname() {
    let server = TestServer::with_args(&["--requirepass", "pw"]);
    let mut raw = server.raw();
    let denied = raw.cmd_str(&["HELLO", "3", "AUTH", "default", "bad"]);
    assert_eq!(denied, "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    let hello = raw.cmd_str(&["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "myconn"]);
    assert!(hello.starts_with("%7\r\n"), "{hello}");
    assert_eq!(raw.cmd_str(&["CLIENT", "GETNAME"]), "$6\r\nmyconn\r\n");
    assert_eq!(raw.cmd_str(&["GET", "nope"]), "_\r\n");
    // HELLO 2 with AUTH and SETNAME: a flat array, and the name is set.
    let mut other = server.raw();
    let h = other.cmd_str(&["HELLO", "2", "AUTH", "default", "pw", "SETNAME", "x"]);
    assert!(h.starts_with("*14\r\n"), "{h}");
    assert_eq!(other.cmd_str(&["CLIENT", "GETNAME"]), "$1\r\nx\r\n");
    // Redis 7.0 wants the version before the options.
    let mut third = server.raw();
    assert_eq!(
        third.cmd_str(&["HELLO", "AUTH", "default", "pw"]),
        "-ERR Protocol version is not an integer or out of range\r\n"
    );
}

#[test]
fn hello_errors_match_redis() {
    same_replies(
        &[],
        &[
            &["HELLO", "3", "SETNAME"],
            &["HELLO", "3", "SETNAME", "has space"],
            &["HELLO", "3", "AUTH", "default"],
            &["HELLO", "3", "BOGUS"],
            &["HELLO", "1"],
            &["HELLO", "x"],
        ],
    );
}

#[test]
fn select_range_errors() {
    same_replies(
        &["--databases", "4"],
        &[
            &["SELECT", "3"],
            &["SELECT", "4"],
            &["SELECT", "-1"],
            &["SELECT", "abc"],
            &["SELECT", "99999999999999999999"],
            &["SELECT", "0"],
            &["SELECT"],
        ],
    );
}

#[test]
fn echo_ping_quit() {
    same_replies(
        &[],
        &[
            &["ECHO", "hello"],
            &["ECHO", ""],
            &["ECHO"],
            &["ECHO", "a", "b"],
            &["PING"],
            &["PING", "msg"],
            &["PING", "a", "b"],
        ],
    );
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(&[resp(&["QUIT"]), resp(&["PING"])].concat());
    assert_eq!(raw.reply_str(), "+OK\r\n");
    assert!(raw.closed_within(Duration::from_secs(10)));
    assert!(raw.pending().is_empty(), "nothing runs after QUIT");
}

#[test]
fn client_id_setname_getname() {
    let server = TestServer::start();
    let mut a = server.raw();
    let mut b = server.raw();
    let id_a: i64 = a.cmd_str(&["CLIENT", "ID"])[1..].trim().parse().unwrap();
    let id_b: i64 = b.cmd_str(&["CLIENT", "ID"])[1..].trim().parse().unwrap();
    assert!(id_b > id_a);
    assert_eq!(a.cmd_str(&["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(a.cmd_str(&["CLIENT", "SETNAME", "alpha"]), "+OK\r\n");
    assert_eq!(a.cmd_str(&["CLIENT", "GETNAME"]), "$5\r\nalpha\r\n");
    assert_eq!(a.cmd_str(&["CLIENT", "SETNAME", ""]), "+OK\r\n");
    assert_eq!(a.cmd_str(&["CLIENT", "GETNAME"]), "$-1\r\n");
    same_replies(
        &[],
        &[
            &["CLIENT", "SETNAME", "a b"],
            &["CLIENT", "SETNAME", "a\nb"],
            &["CLIENT", "SETNAME"],
            &["CLIENT", "NOSUCH"],
            &["CLIENT"],
            &["CLIENT", "KILL", "1.2.3.4:5"],
            &["CLIENT", "KILL", "ID", "0"],
            &["CLIENT", "KILL", "ID", "abc"],
            &["CLIENT", "KILL", "TYPE", "bogus"],
            &["CLIENT", "KILL", "USER", "nobody"],
            &["CLIENT", "KILL", "SKIPME", "maybe"],
            &["CLIENT", "KILL", "ID"],
            &["CLIENT", "KILL", "BOGUS", "x"],
            &["CLIENT", "KILL", "ID", "987654"],
            &["CLIENT", "REPLY", "MAYBE"],
            &["CLIENT", "PAUSE", "abc"],
            &["CLIENT", "PAUSE", "100", "SOMETIMES"],
            &["CLIENT", "PAUSE", "-1"],
            &["CLIENT", "NO-EVICT", "maybe"],
        ],
    );
}

/// Field names of one CLIENT LIST / CLIENT INFO line.
fn field_names(line: &str) -> Vec<String> {
    line.split_whitespace().map(|kv| kv.split('=').next().unwrap().to_string()).collect()
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

#[test]
fn client_list_and_info_fields_match_redis() {
    let server = TestServer::start();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut tc = server.client();
    let mut rc = redis.client();
    let t_info: String = redis::cmd("CLIENT").arg("INFO").query(&mut tc).unwrap();
    let r_info: String = redis::cmd("CLIENT").arg("INFO").query(&mut rc).unwrap();
    assert_eq!(field_names(&t_info), field_names(&r_info));
    let t_list: String = redis::cmd("CLIENT").arg("LIST").query(&mut tc).unwrap();
    let r_list: String = redis::cmd("CLIENT").arg("LIST").query(&mut rc).unwrap();
    assert_eq!(
        field_names(t_list.lines().next().unwrap()),
        field_names(r_list.lines().next().unwrap())
    );
    assert_eq!(field(&t_info, "cmd"), "client|info");
    assert_eq!(field(&t_info, "db"), "0");
    assert_eq!(field(&t_info, "flags"), "N");
    assert_eq!(field(&t_info, "user"), "default");
    assert_eq!(field(&t_info, "resp"), "2");
    assert!(field(&t_info, "laddr").ends_with(&format!(":{}", server.port)));
}

#[test]
fn client_list_filters() {
    let server = TestServer::start();
    let mut a = server.client();
    let mut b = server.client();
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("bee").query(&mut b).unwrap();
    let id_b: i64 = redis::cmd("CLIENT").arg("ID").query(&mut b).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    let by_id: String =
        redis::cmd("CLIENT").arg("LIST").arg("ID").arg(id_b).arg(999999).query(&mut a).unwrap();
    assert_eq!(by_id.lines().count(), 1, "{by_id}");
    assert_eq!(field(by_id.trim(), "name"), "bee");
    let normal: String =
        redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("normal").query(&mut a).unwrap();
    assert_eq!(normal.lines().count(), 2);
    let replicas: String =
        redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("replica").query(&mut a).unwrap();
    assert_eq!(replicas, "");
}

/// The id and addr of a fresh raw connection.
fn ident(c: &mut Raw) -> (String, String, String) {
    let info = c.cmd(&["CLIENT", "INFO"]);
    let s = String::from_utf8_lossy(&info);
    let body = s.split("\r\n").nth(1).unwrap().to_string();
    (
        field(&body, "id").to_string(),
        field(&body, "addr").to_string(),
        field(&body, "laddr").to_string(),
    )
}

#[test]
fn client_kill_forms() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let closed = |c: &mut Raw| c.closed_within(Duration::from_secs(10));

    // Old form: CLIENT KILL addr.
    let mut v = server.raw();
    let (_, addr, _) = ident(&mut v);
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", &addr]), "+OK\r\n");
    assert!(closed(&mut v));
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", &addr]), "-ERR No such client\r\n");

    // ID.
    let mut v = server.raw();
    let (id, _, _) = ident(&mut v);
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    assert!(closed(&mut v));
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "ID", &id]), ":0\r\n");

    // ADDR.
    let mut v = server.raw();
    let (_, addr, _) = ident(&mut v);
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "ADDR", &addr]), ":1\r\n");
    assert!(closed(&mut v));

    // LADDR matches every client of that listener except the caller (SKIPME yes).
    let mut v1 = server.raw();
    let mut v2 = server.raw();
    let (_, _, laddr) = ident(&mut v1);
    ident(&mut v2);
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "LADDR", &laddr]), ":2\r\n");
    assert!(closed(&mut v1));
    assert!(closed(&mut v2));
    assert_eq!(admin.cmd_str(&["PING"]), "+PONG\r\n");

    // TYPE and USER, with SKIPME.
    let mut v = server.raw();
    ident(&mut v);
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]), ":1\r\n");
    assert!(closed(&mut v));
    let mut v = server.raw();
    ident(&mut v);
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "USER", "default"]), ":1\r\n");
    assert!(closed(&mut v));
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "TYPE", "pubsub"]), ":0\r\n");
    // SKIPME no kills the caller too; its reply still arrives.
    let mut v = server.raw();
    ident(&mut v);
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"]), ":2\r\n");
    assert!(closed(&mut v));
    assert!(closed(&mut admin));
    let mut fresh = server.raw();
    assert_eq!(fresh.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn client_pause_write_holds_writes_not_reads() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut writer = server.raw();
    let mut reader = server.raw();
    assert_eq!(writer.cmd_str(&["SET", "k", "before"]), "+OK\r\n");
    assert_eq!(admin.cmd_str(&["CLIENT", "PAUSE", "100000", "WRITE"]), "+OK\r\n");
    writer.send_cmd(&["SET", "k", "after"]);
    assert_eq!(reader.cmd_str(&["GET", "k"]), "$6\r\nbefore\r\n");
    assert_eq!(reader.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(
        writer.try_reply(Duration::from_millis(300)).is_none(),
        "write ran during CLIENT PAUSE WRITE"
    );
    assert_eq!(reader.cmd_str(&["GET", "k"]), "$6\r\nbefore\r\n");
    assert_eq!(admin.cmd_str(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(writer.reply_str(), "+OK\r\n");
    assert_eq!(reader.cmd_str(&["GET", "k"]), "$5\r\nafter\r\n");

    // A pause that ends by itself releases the held command too.
    assert_eq!(admin.cmd_str(&["CLIENT", "PAUSE", "200", "WRITE"]), "+OK\r\n");
    writer.send_cmd(&["SET", "k", "later"]);
    assert_eq!(writer.reply_str(), "+OK\r\n");
    assert_eq!(reader.cmd_str(&["GET", "k"]), "$5\r\nlater\r\n");

    // PAUSE ALL holds reads too, and (as in Redis) even CLIENT UNPAUSE from another
    // client, so this pause ends by itself.
    assert_eq!(admin.cmd_str(&["CLIENT", "PAUSE", "1000"]), "+OK\r\n");
    reader.send_cmd(&["GET", "k"]);
    assert!(reader.try_reply(Duration::from_millis(100)).is_none());
    assert_eq!(reader.reply_str(), "$5\r\nlater\r\n");

    // Inline commands are held and released the same way.
    assert_eq!(admin.cmd_str(&["CLIENT", "PAUSE", "100000", "WRITE"]), "+OK\r\n");
    writer.send(b"SET k inline\r\nGET k\r\n");
    assert!(writer.try_reply(Duration::from_millis(200)).is_none());
    assert_eq!(admin.cmd_str(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(writer.reply_str(), "+OK\r\n");
    assert_eq!(writer.reply_str(), "$6\r\ninline\r\n");
}

#[test]
fn client_reply_off_skip_on() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(
        &[
            resp(&["CLIENT", "REPLY", "OFF"]),
            resp(&["SET", "a", "1"]),
            resp(&["GET", "a"]),
            resp(&["NOSUCHCMD"]),
            resp(&["CLIENT", "REPLY", "ON"]),
            resp(&["GET", "a"]),
        ]
        .concat(),
    );
    assert_eq!(raw.reply_str(), "+OK\r\n");
    assert_eq!(raw.reply_str(), "$1\r\n1\r\n");
    raw.send(
        &[resp(&["CLIENT", "REPLY", "SKIP"]), resp(&["SET", "a", "2"]), resp(&["GET", "a"])]
            .concat(),
    );
    assert_eq!(raw.reply_str(), "$1\r\n2\r\n");
    assert!(raw.try_reply(Duration::from_millis(200)).is_none());
}

#[test]
fn reset_restores_connection_defaults() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["HELLO", "3"]);
    raw.cmd(&["SELECT", "2"]);
    raw.cmd(&["CLIENT", "SETNAME", "temp"]);
    raw.cmd(&["SET", "in2", "x"]);
    assert_eq!(raw.cmd_str(&["RESET"]), "+RESET\r\n");
    assert_eq!(raw.cmd_str(&["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(raw.cmd_str(&["GET", "missing"]), "$-1\r\n");
    assert_eq!(raw.cmd_str(&["EXISTS", "in2"]), ":0\r\n");
    let info = raw.cmd_str(&["CLIENT", "INFO"]);
    assert_eq!(field(&info, "db"), "0");
    assert_eq!(field(&info, "resp"), "2");
    assert_eq!(field(&info, "name"), "");
}

/// Not local to Redis's islocalClient, which takes only 127.0.0.1, ::1 and unix sockets
/// (Linux routes all of 127.0.0.0/8 to the loopback, so a test can connect from it).
const NOT_LOCAL: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// What a connection from `from` gets without sending anything, until the server closes
/// (or two quiet seconds pass).
fn greeting(port: u16, from: std::net::Ipv4Addr) -> String {
    let mut c = Raw::connect_from(from, port);
    let closed = c.closed_within(Duration::from_secs(2));
    let got = String::from_utf8_lossy(c.pending()).into_owned();
    if closed { got } else { format!("{got}(open)") }
}

/// Protected mode refuses 127.0.0.2 (not local), with the default bind and with an explicit
/// one alike: Redis 7.0's check does not look at `bind`. A password, or protected mode off,
/// lets it in.
#[test]
fn protected_mode_refuses_non_local_loopback_addresses_whatever_bind_says() {
    for args in [&[][..], &["--bind", "127.0.0.1"][..], &["--bind", "* -::*"][..]] {
        let server = TestServer::with_args(args);
        let got = greeting(server.port, NOT_LOCAL);
        assert!(got.starts_with("-DENIED Redis is running in protected mode"), "{args:?}: {got}");
        assert_eq!(server.raw().cmd_str(&["PING"]), "+PONG\r\n", "{args:?}: from 127.0.0.1");
        if let Some(redis) = RedisServer::with_args(args) {
            assert_eq!(got, greeting(redis.port, NOT_LOCAL), "{args:?}: vs redis");
        }
    }
    for args in [&["--protected-mode", "no"][..], &["--requirepass", "pw"][..]] {
        let server = TestServer::with_args(args);
        assert_eq!(greeting(server.port, NOT_LOCAL), "(open)", "{args:?}");
    }
}

/// `enable-debug-command local` and `enable-protected-configs local` allow 127.0.0.1 and
/// refuse 127.0.0.2, as Redis's islocalClient decides, with Redis's words.
#[test]
fn debug_and_protected_configs_local_allow_only_local_clients() {
    let args = [
        "--protected-mode",
        "no",
        "--enable-debug-command",
        "local",
        "--enable-protected-configs",
        "local",
    ];
    let tine = TestServer::with_args(&args);
    let redis = RedisServer::with_args(&args);
    let mut far_replies = Vec::new();
    for server in std::iter::once(&tine).chain(redis.as_ref()) {
        let dir = server.dir.path().to_str().unwrap();
        let mut local = server.raw();
        assert!(local.cmd_str(&["DEBUG", "DIGEST"]).starts_with('+'));
        assert_eq!(local.cmd_str(&["CONFIG", "SET", "dir", dir]), "+OK\r\n");
        let mut far = Raw::connect_from(NOT_LOCAL, server.port);
        let debug = far.cmd_str(&["DEBUG", "DIGEST"]);
        assert!(debug.starts_with("-ERR DEBUG command not allowed."), "{debug}");
        let config = far.cmd_str(&["CONFIG", "SET", "dir", dir]);
        assert_eq!(
            config,
            "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n"
        );
        far_replies.push((debug, config));
    }
    if let [t, r] = &far_replies[..] {
        assert_eq!(t, r, "vs redis");
    }
}
