//! The wire protocol end to end: pipelining, inline commands, RESP3 through HELLO 3,
//! protocol errors (worded and handled as redis-server does, checked against it), requests
//! arriving byte by byte, connection churn, maxclients and the idle `timeout`.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;

#[test]
fn pipeline_of_1000_commands_in_one_write_replies_in_order() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut batch = Vec::new();
    for i in 0..1000 {
        if i % 2 == 0 {
            batch.extend(resp(&["INCR", "counter"]));
        } else {
            batch.extend(resp(&["SET", &format!("k{i}"), &format!("v{i}")]));
        }
    }
    raw.send(&batch);
    for i in 0..1000 {
        let r = raw.reply_str();
        if i % 2 == 0 {
            assert_eq!(r, format!(":{}\r\n", i / 2 + 1), "reply {i}");
        } else {
            assert_eq!(r, "+OK\r\n", "reply {i}");
        }
    }
    assert_eq!(raw.cmd_str(&["GET", "k999"]), "$4\r\nv999\r\n");
}

/// Error replies that echo what the client sent (unknown command, unknown subcommand) carry
/// its bytes as Redis does: not UTF-8 is kept byte for byte, CR and LF become spaces.
#[test]
fn errors_echo_the_clients_bytes_as_redis() {
    let server = TestServer::start();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let cases: &[&[&[u8]]] = &[
        &[b"F\xe9\xffO\r\nX", b"a\xff", b"B\r\nC"],
        &[b"CONFIG", b"G\xffET\r\n"],
        &[b"cLiEnT", b"\xc3\xa9\xff"],
        &[b"OBJECT", b"\xffx"],
        &[b"XINFO\xff"],
        &[b"MEMORY", b"\xe9"],
    ];
    let (mut t, mut r) = (server.raw(), redis.raw());
    for args in cases {
        assert_eq!(t.cmd_bytes(args), r.cmd_bytes(args), "{:?}", args);
    }
}

#[test]
fn inline_commands_match_redis() {
    let server = TestServer::start();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let script: &[&[u8]] = &[
        b"PING\r\n",
        b"PING hello\r\n",
        b"SET foo bar\r\n",
        b"GET foo\r\n",
        b"SET \"a b\" 'c d'\r\n",
        b"GET \"a b\"\r\n",
        b"SET k \"\\x41\\x42\\n\"\r\n",
        b"STRLEN k\r\n",
        b"\r\n\r\nECHO  spaced   \r\n",
        b"ECHO x\n",
        b"NOSUCHCOMMAND a b\r\n",
        b"get\r\n",
    ];
    let mut t = server.raw();
    let mut r = redis.raw();
    for line in script {
        t.send(line);
        r.send(line);
        let (tr, rr) = (t.reply_str(), r.reply_str());
        assert_eq!(tr, rr, "inline {:?}", String::from_utf8_lossy(line));
    }
}

#[test]
fn resp3_via_hello_3() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let hello = raw.cmd_str(&["HELLO", "3"]);
    assert!(hello.starts_with("%7\r\n"), "HELLO 3 is a map: {hello:?}");
    for field in ["server", "version", "proto", "id", "mode", "role", "modules"] {
        assert!(hello.contains(&format!("\r\n{field}\r\n")), "{field} in {hello:?}");
    }
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"), "{hello:?}");
    assert_eq!(raw.cmd_str(&["GET", "missing"]), "_\r\n");
    raw.cmd(&["SET", "f", "1.5"]);
    assert_eq!(raw.cmd_str(&["INCRBYFLOAT", "f", "1"]), "$3\r\n2.5\r\n");
    // Back to RESP2: HELLO replies a flat array and nulls are $-1 again.
    let hello2 = raw.cmd_str(&["HELLO", "2"]);
    assert!(hello2.starts_with("*14\r\n"), "{hello2:?}");
    assert_eq!(raw.cmd_str(&["GET", "missing"]), "$-1\r\n");
    // Unsupported version, in Redis's words.
    assert_eq!(raw.cmd_str(&["HELLO", "4"]), "-NOPROTO unsupported protocol version\r\n");
}

#[test]
fn hello_3_matches_redis_shape() {
    let server = TestServer::start();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut t = server.raw();
    let mut r = redis.raw();
    for args in [
        &["HELLO", "3"][..],
        &["GET", "nothing"],
        &["CONFIG", "GET", "maxmemory"],
        &["HELLO", "abc"],
        &["HELLO", "3", "AUTH", "default"],
    ] {
        let (tr, rr) = both(&mut t, &mut r, args);
        if args[0] == "HELLO" && args.len() == 2 && args[1] == "3" {
            // Ids and versions differ; the key order and types must not.
            let keys = |s: &str| -> Vec<String> {
                s.split("\r\n")
                    .filter(|l| !l.starts_with(['$', ':', '*', '%']))
                    .step_by(2)
                    .map(str::to_string)
                    .collect()
            };
            assert_eq!(keys(&tr), keys(&rr), "HELLO 3 keys\n{tr:?}\n{rr:?}");
            continue;
        }
        assert_eq!(tr, rr, "{args:?}");
    }
}

/// Sends `bytes` on a fresh connection and returns everything received until the server
/// closes (or a quiet second passes), plus whether it closed.
fn send_and_collect(port: u16, bytes: &[u8]) -> (String, bool) {
    let mut c = Raw::connect(port);
    let _ = c.stream.write_all(bytes);
    let closed = c.closed_within(Duration::from_secs(3));
    let got = String::from_utf8_lossy(c.pending()).into_owned();
    (got, closed)
}

#[test]
fn protocol_errors_match_redis_and_close_only_that_connection() {
    let server = TestServer::start();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut bystander = server.raw();
    assert_eq!(bystander.cmd_str(&["SET", "still", "here"]), "+OK\r\n");
    let big_inline = vec![b'a'; 70 * 1024];
    let mut big_mbulk = b"*".to_vec();
    big_mbulk.extend(vec![b'1'; 70 * 1024]);
    let mut big_bulk_count = b"*1\r\n$".to_vec();
    big_bulk_count.extend(vec![b'1'; 70 * 1024]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage multibulk", b"*1\r\nfoo\r\n".to_vec()),
        ("non-numeric multibulk count", b"*abc\r\n".to_vec()),
        ("$-1 inside a multibulk", b"*2\r\n$-1\r\n".to_vec()),
        ("negative bulk length", b"*3\r\n$3\r\nSET\r\n$-5\r\n".to_vec()),
        ("non-numeric bulk length", b"*1\r\n$abc\r\n".to_vec()),
        ("bulk above proto-max-bulk-len", b"*1\r\n$536870913\r\n".to_vec()),
        ("multibulk count above INT_MAX", b"*3000000000\r\n".to_vec()),
        ("unbalanced quotes inline", b"set \"a b\r\n".to_vec()),
        ("too big inline request", big_inline),
        ("too big mbulk count string", big_mbulk),
        ("too big bulk count string", big_bulk_count),
    ];
    for (what, bytes) in &cases {
        let (t, t_closed) = send_and_collect(server.port, bytes);
        let (r, r_closed) = send_and_collect(redis.port, bytes);
        assert!(t.starts_with("-ERR Protocol error: "), "{what}: {t:?}");
        assert_eq!(t, r, "{what}: reply differs (left tine, right redis)");
        assert_eq!(t_closed, r_closed, "{what}: closing differs");
        assert!(t_closed, "{what}: connection left open");
    }
    // Cases Redis answers with nothing and keeps open: an empty or negative multibulk.
    for bytes in [&b"*-5\r\nPING\r\n"[..], b"*0\r\nPING\r\n"] {
        let mut t = server.raw();
        t.send(bytes);
        assert_eq!(t.reply_str(), "+PONG\r\n", "{:?}", String::from_utf8_lossy(bytes));
    }
    // Every error above hit only its own connection.
    assert_eq!(bystander.cmd_str(&["GET", "still"]), "$4\r\nhere\r\n");
    let mut con = server.client();
    let errs = info(&mut con, "errorstats");
    assert!(errs.contains("errorstat_ERR:count="), "{errs}");
}

#[test]
fn proto_max_bulk_len_is_configurable() {
    let server = TestServer::with_args(&["--proto-max-bulk-len", "1mb"]);
    let (t, closed) = send_and_collect(server.port, b"*2\r\n$4\r\nECHO\r\n$1048577\r\n");
    assert_eq!(t, "-ERR Protocol error: invalid bulk length\r\n");
    assert!(closed);
    let mut raw = server.raw();
    let big = "x".repeat(1024 * 1024);
    let reply = raw.cmd(&["ECHO", &big]);
    assert_eq!(reply.len(), big.len() + 12);
}

#[test]
fn commands_sent_byte_by_byte() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut bytes = resp(&["SET", "slow", "hello world"]);
    bytes.extend_from_slice(b"GET slow\r\n");
    bytes.extend(resp(&["APPEND", "slow", "!"]));
    for b in &bytes {
        raw.send(&[*b]);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(raw.reply_str(), "+OK\r\n");
    assert_eq!(raw.reply_str(), "$11\r\nhello world\r\n");
    assert_eq!(raw.reply_str(), ":12\r\n");
    // A command split mid-bulk over two writes with a pause in between.
    raw.send(b"*2\r\n$3\r\nGET\r\n$4\r\nsl");
    std::thread::sleep(Duration::from_millis(50));
    assert!(raw.try_reply(Duration::from_millis(100)).is_none());
    raw.send(b"ow\r\n");
    assert_eq!(raw.reply_str(), "$12\r\nhello world!\r\n");
}

#[test]
fn thousands_of_short_connections() {
    let server = TestServer::start();
    let mut con = server.client();
    for i in 0..2000 {
        let mut c = server.raw();
        match i % 3 {
            0 => assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n"),
            1 => c.send(b"*2\r\n$3\r\nGET\r\n"), // dropped mid-command
            _ => {}                              // dropped silently
        }
    }
    let settled = eventually(Duration::from_secs(30), || {
        info_field(&info(&mut con, "clients"), "connected_clients").as_deref() == Some("1")
    });
    assert!(settled, "{}", info(&mut con, "clients"));
    let stats = info(&mut con, "stats");
    let total: u64 = info_field(&stats, "total_connections_received").unwrap().parse().unwrap();
    assert!(total >= 2001, "{stats}");
    assert_eq!(redis::cmd("PING").query::<String>(&mut con).unwrap(), "PONG");
}

#[test]
fn maxclients_rejects_with_redis_error() {
    let server = TestServer::with_args(&["--maxclients", "3"]);
    let mut a = server.raw();
    let mut b = server.raw();
    let mut c = server.raw();
    for x in [&mut a, &mut b, &mut c] {
        assert_eq!(x.cmd_str(&["PING"]), "+PONG\r\n");
    }
    let mut d = server.raw();
    assert!(d.closed_within(Duration::from_secs(10)));
    assert_eq!(String::from_utf8_lossy(d.pending()), "-ERR max number of clients reached\r\n");
    drop(c);
    let mut con = None;
    assert!(eventually(Duration::from_secs(10), || {
        let mut e = server.raw();
        e.send_cmd(&["PING"]);
        let ok = e.try_reply(Duration::from_secs(2)).as_deref() == Some(b"+PONG\r\n");
        if ok {
            con = Some(e);
        }
        ok
    }));
    let stats = a.cmd_str(&["INFO", "stats"]);
    let rejected: u64 = info_field(&stats, "rejected_connections").unwrap().parse().unwrap();
    assert!(rejected >= 1, "{stats}");
    assert_eq!(
        a.cmd_str(&["CONFIG", "GET", "maxclients"]),
        "*2\r\n$10\r\nmaxclients\r\n$1\r\n3\r\n"
    );
}

#[test]
fn timeout_closes_idle_clients_only() {
    let server = TestServer::with_args(&["--timeout", "1"]);
    let mut idle = server.raw();
    assert_eq!(idle.cmd_str(&["PING"]), "+PONG\r\n");
    let mut busy = server.raw();
    // The idle one is closed within a generous bound; the busy one keeps talking.
    let closed = eventually(Duration::from_secs(20), || {
        assert_eq!(busy.cmd_str(&["PING"]), "+PONG\r\n");
        idle.closed_within(Duration::from_millis(200))
    });
    assert!(closed, "idle client not closed");
    assert_eq!(busy.cmd_str(&["PING"]), "+PONG\r\n");
}

/// A client that sends far more than one read's budget and then waits: the server must keep
/// reading what is already in the socket although no new data (no new edge) arrives. A
/// blocking write of the whole stream happens on a thread while replies are read here.
#[test]
fn big_pipeline_sent_at_once_is_read_to_the_end() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut batch = Vec::new();
    let n = 40_000;
    for i in 0..n {
        batch.extend(resp(&["SET", &format!("key:{i}"), &"x".repeat(100)]));
    }
    assert!(batch.len() > 4 * 1024 * 1024);
    let mut writer = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&batch).map(|_| writer));
    // Replies of the first connection are not needed: read the writer's replies by asking
    // DBSIZE on another connection until every key is there.
    let done =
        eventually(Duration::from_secs(60), || raw.cmd_str(&["DBSIZE"]) == format!(":{n}\r\n"));
    let writer = sender.join().unwrap().unwrap();
    drop(writer);
    assert!(done, "not every pipelined SET was executed: {}", raw.cmd_str(&["DBSIZE"]));
}

/// A client that sends its commands and shuts its sending side (`echo PING | nc -N`) gets
/// every reply before the server closes: the end of the stream is not a reason to drop
/// replies already queued. A reply bigger than the socket buffer takes several writes.
#[test]
fn half_closed_connections_get_their_replies() {
    let server = TestServer::start();
    let try_once = |request: &[u8]| -> Vec<u8> {
        let mut c = server.raw();
        c.send(request);
        c.stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(c.closed_within(Duration::from_secs(10)), "connection left open");
        c.pending().to_vec()
    };
    for i in 0..50 {
        assert_eq!(try_once(b"PING\r\n"), b"+PONG\r\n", "try {i}");
        let set = resp(&["SET", "k", &i.to_string()]);
        assert_eq!(try_once(&set), b"+OK\r\n", "try {i}");
    }
    let big = "x".repeat(4 << 20);
    let mut request = resp(&["SET", "big", &big]);
    request.extend(resp(&["GET", "big"]));
    let mut want = b"+OK\r\n".to_vec();
    want.extend(format!("${}\r\n{}\r\n", big.len(), big).as_bytes());
    assert!(try_once(&request) == want, "the big reply was cut short");
    assert_eq!(server.raw().cmd_str(&["GET", "k"]), "$2\r\n49\r\n");
}

/// Sends `bytes` on a fresh connection and returns what arrives within `quiet` of silence
/// (or until the server closes), and whether it closed.
fn exchange(port: u16, bytes: &[u8], quiet: Duration) -> (Vec<u8>, bool) {
    let mut c = Raw::connect(port);
    c.send(bytes);
    let closed = c.closed_within(quiet);
    (c.pending().to_vec(), closed)
}

/// Redis ends a multibulk or bulk header at the first '\r' and skips the byte after it,
/// whatever it is; a NUL byte before the '\r' hides it (strchr), and so does one before an
/// inline command's '\n': those requests wait, unanswered.
#[test]
fn header_lines_end_where_redis_ends_them() {
    let server = TestServer::start();
    let redis = RedisServer::start();
    let cases: &[(&str, &[u8], &[u8])] = &[
        ("byte after the count's \\r", b"*1\rX$4\r\nPING\r\n", b"+PONG\r\n"),
        ("byte after the bulk length's \\r", b"*1\r\n$4\rXPING\r\n", b"+PONG\r\n"),
        ("NUL in the count", b"*1\x00\r\n$4\r\nPING\r\n", b""),
        ("NUL in the bulk length", b"*1\r\n$4\x00\r\nPING\r\n", b""),
        ("NUL in an inline command", b"PING\x00\r\n", b""),
    ];
    for (what, bytes, want) in cases {
        let quiet = Duration::from_millis(500);
        let (got, closed) = exchange(server.port, bytes, quiet);
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want), "{what}");
        assert!(!closed, "{what}: closed");
        if let Some(redis) = &redis {
            assert_eq!((got, closed), exchange(redis.port, bytes, quiet), "{what}: vs redis");
        }
    }
}

/// An inline command longer than 64 KiB is refused however it arrives. Redis refuses it when
/// it holds more than 64 KiB without a newline, so what it accepts depends on how the bytes
/// were cut (in one write, on how much its read happened to take); tine refuses what Redis
/// refuses when the line comes in small pieces. 64 KiB itself is accepted.
#[test]
fn inline_requests_over_64k_are_refused_however_they_arrive() {
    let server = TestServer::start();
    let redis = RedisServer::start();
    let line = |len: usize| {
        let mut l = b"PING".to_vec();
        l.resize(len, b' ');
        l.extend_from_slice(b"\n");
        l
    };
    let too_big = "-ERR Protocol error: too big inline request\r\n";
    for len in [64 * 1024 + 1, 70_000, 200_000] {
        let (got, closed) = exchange(server.port, &line(len), Duration::from_secs(5));
        assert_eq!(String::from_utf8_lossy(&got), too_big, "{len} bytes in one write");
        assert!(closed, "{len} bytes in one write: left open");
    }
    let pieces = |port: u16| {
        let mut c = Raw::connect(port);
        for piece in line(70_000).chunks(1024) {
            if c.stream.write_all(piece).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let closed = c.closed_within(Duration::from_secs(5));
        (String::from_utf8_lossy(c.pending()).into_owned(), closed)
    };
    assert_eq!(pieces(server.port), (too_big.to_string(), true), "in pieces");
    let mut ok = server.raw();
    ok.send(&line(64 * 1024));
    assert_eq!(ok.reply_str(), "+PONG\r\n");
    if let Some(redis) = redis {
        assert_eq!(pieces(redis.port), (too_big.to_string(), true), "redis, in pieces");
        let mut ok = redis.raw();
        ok.send(&line(64 * 1024));
        assert_eq!(ok.reply_str(), "+PONG\r\n");
    }
}

/// Errors that echo a client's command name or argument do so as Redis does: raw bytes (0xff
/// stays 0xff, not U+FFFD), CR and LF as spaces, cut at a NUL (Redis prints a C string) and
/// at 128 bytes where Redis writes `%.128s`, the unknown command's argument list capped as
/// processCommand caps it. Compared byte for byte with redis-server.
#[test]
fn errors_echo_client_bytes_as_redis_does() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let (mut t, mut r) = (ours.raw(), real.raw());
    let long_name = [b"n\xff".as_slice(), &[b'x'; 298]].concat();
    let long_arg = [b"a\r\n\xff".as_slice(), &[b'y'; 296]].concat();
    let long_arg2 = [&[b'z'; 299][..], b"\xfe"].concat();
    let weird: &[&[u8]] = &[
        b"fo\xffo\r\nx",
        b"a\xffb\r\nc",
        b"\r\n",
        b"nul\x00after",
        b"\x00",
        b"",
        b"\xff\xfe\xfd",
        &long_name,
        &long_arg,
        &long_arg2,
    ];
    let mut cases: Vec<Vec<&[u8]>> = Vec::new();
    // Unknown commands: the name alone, with one argument, with many (the 128-byte cap on
    // the list, an argument cut to fit, a NUL ending an argument).
    for name in weird {
        cases.push(vec![name]);
        for arg in weird {
            cases.push(vec![name, arg]);
        }
    }
    cases.push(vec![b"nosuch", &long_arg, &long_arg2]);
    cases.push(vec![b"nosuch", b"a\x00b", &long_arg2]);
    cases.push(vec![b"nosuch", &[b'c'; 120], &[b'd'; 20], b"e"]);
    cases.push(vec![b"nosuch", &[b'c'; 123], b"d", b"e"]);
    cases.push(vec![b"nosuch", &[b'c'; 124], b"\xff", b"e"]);
    cases.push(vec![b"nosuch", &[b'c'; 125], b"d"]);
    // Unknown subcommands of containers, and the containers' own arity errors.
    for container in [b"CONFIG".as_slice(), b"object", b"Client"] {
        cases.push(vec![container]);
        for sub in weird {
            cases.push(vec![container, sub]);
            cases.push(vec![container, sub, b"x\xff"]);
        }
    }
    // Arity errors name the command as the table spells it, whatever the client sent.
    cases.push(vec![b"GET"]);
    cases.push(vec![b"gEt", b"a", b"\xff"]);
    cases.push(vec![b"config", b"get"]);
    cases.push(vec![b"CONFIG", b"SET", b"\xff"]);
    cases.push(vec![b"object", b"encoding"]);
    // Other errors echoing an argument as `%s` or `%.128s`.
    for arg in weird {
        cases.push(vec![b"HELLO", b"3", arg]);
        cases.push(vec![b"CLIENT", b"KILL", b"TYPE", arg]);
        cases.push(vec![b"CLIENT", b"LIST", b"TYPE", arg]);
        cases.push(vec![b"CLIENT", b"KILL", b"USER", arg]);
        cases.push(vec![b"DEBUG", arg]);
        cases.push(vec![b"CONFIG", b"SET", arg, b"1"]);
        cases.push(vec![b"CONFIG", b"SET", b"hz", b"10", arg, b"1"]);
        // At the end of the message: Redis trims CR and LF there rather than mapping them.
        cases.push(vec![b"EXPIRE", b"k", b"10", arg]);
    }
    cases.push(vec![b"EXPIRE", b"k", b"10", b"\r\nx\r\n"]);
    for case in &cases {
        let (mine, theirs) = (t.cmd_bytes(case), r.cmd_bytes(case));
        assert_eq!(
            mine.escape_ascii().to_string(),
            theirs.escape_ascii().to_string(),
            "reply to {:?} differs (left: tine, right: redis)",
            case.iter().map(|a| a.escape_ascii().to_string()).collect::<Vec<_>>()
        );
    }
}

/// DEBUG PROTOCOL <type> replies each RESP type byte for byte as Redis, in RESP2 and RESP3.
#[test]
fn debug_protocol_replies_every_type_as_redis() {
    let args = ["--enable-debug-command", "yes"];
    let t = TestServer::with_args(&args);
    let Some(r) = RedisServer::with_args(&args) else { return };
    for proto in ["2", "3"] {
        let (mut tc, mut rc) = (t.raw(), r.raw());
        tc.cmd(&["HELLO", proto]);
        rc.cmd(&["HELLO", proto]);
        for ty in [
            "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
            "push", "verbatim", "true", "false", "nosuch",
        ] {
            assert_same(&mut tc, &mut rc, &["DEBUG", "PROTOCOL", ty]);
        }
    }
}
