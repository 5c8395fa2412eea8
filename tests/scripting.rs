//! Scripting (EVAL, EVALSHA, EVAL_RO, SCRIPT) against the real thing: the same scripts run on
//! tine and on redis-server 7.0 and the replies must be the same byte for byte, in RESP2 and
//! RESP3 — reply conversion both ways, error texts (with the script's SHA and line), the
//! sandbox (read-only globals, missing functions, no bytecode), rand48, read-only scripts and
//! shebang flags. Effects replication is checked in the AOF: a script's writes are there as
//! the commands it ran, wrapped in MULTI/EXEC, never as EVAL. A slow script gets other clients
//! -BUSY and SCRIPT KILL stops it.

mod common;

use std::time::Duration;

use common::{DIFF_ARGS, Raw, TestServer, eventually, start_pair};

/// Scripts whose replies are compared (each run as `EVAL <script> 0` unless it has keys).
const SCRIPTS: &[&str] = &[
    "return 'hello'",
    "return 42",
    "return 3.99",
    "return -3.99",
    "return 1e100",
    "return {1,2,3.7,'x',nil,4}",
    "return {1,{2,{3,{4}}}}",
    "return true",
    "return false",
    "return nil",
    "return {true,false}",
    "return {ok='fine'}",
    "return {err='My Error'}",
    r#"return {err='a\r\nb'}"#,
    "return {double=3.5}",
    "return {big_number='1234567890123456789012'}",
    r#"return {big_number='123\r\n123'}"#,
    "return {map={a=1}}",
    "return {set={a=true}}",
    "return {verbatim_string={format='txt', string='hi'}}",
    "return redis.status_reply('PONG')",
    "return redis.error_reply('x')",
    "return redis.error_reply('-FOO bar')",
    "return redis.error_reply(1)",
    "return redis.status_reply()",
    "return _G",
    "local a = {}; setmetatable(a,{__index=function() foo() end}) return a",
    // Errors, with the script's line.
    "x=1",
    "return y",
    "\n\nreturn y",
    "syntax error here",
    "error('boom')",
    "error({err='My Error'})",
    "return error(1)",
    "return redis.call('nosuch')",
    "return redis.call('incr','a','b')",
    "return redis.call()",
    "return redis.pcall()",
    "return redis.call('get', {})",
    "return redis.pcall('get', {})",
    "return redis.pcall('nosuch')",
    "return redis.call('blpop','x',0)",
    "return redis.call('eval','return 1','0')",
    "return redis.sha1hex()",
    "return redis.sha1hex('')",
    "return redis.setresp(4)",
    "return redis.log()",
    "return redis.log('x', 'y')",
    "return redis.log(9, 'y')",
    "return redis.set_repl(9)",
    "local ok, e = pcall(redis.call, 'nosuch') return e",
    "local ok, e = pcall(function() error({err='x'}) end) return type(e)",
    "return pcall(error, 'x')",
    "return {xpcall(function() error({err='x'}) end, function(e) return e end)}",
    // Commands and their replies in Lua.
    "redis.call('set','x','1') return redis.call('lpush','x','1')",
    "redis.call('set','x','1') return redis.pcall('lpush','x','1')",
    "redis.call('del','h') redis.call('hset','h','a','1') return redis.call('hgetall','h')",
    "redis.setresp(3) return redis.call('hgetall','h')",
    "redis.setresp(3) return {true,false}",
    "redis.setresp(3) return redis.call('debug','protocol','double')",
    "redis.setresp(3) return redis.call('debug','protocol','bignum')",
    "redis.setresp(3) return redis.call('debug','protocol','null')",
    "redis.setresp(3) return redis.call('debug','protocol','verbatim')",
    "redis.setresp(3) return redis.call('debug','protocol','true')",
    "redis.setresp(3) return redis.call('debug','protocol','false')",
    "redis.setresp(3) return redis.call('debug','protocol','set')",
    "redis.setresp(3) return redis.call('debug','protocol','map')",
    "local foo = redis.pcall('incr','nokey') return {type(foo),foo}",
    "local foo = redis.pcall('get','nokey') return {type(foo),foo == false}",
    "local foo = redis.pcall('set','k','v') return {type(foo),foo['ok']}",
    "return redis.call('get', 1.5)",
    "return redis.call('select', 3)",
    "return redis.call('get','k')",
    "local t = {} for i=1,500 do t[i] = i end return redis.call('rpush', 'big', unpack(t))",
    // The sandbox.
    "setmetatable(_G, {})",
    "local g = getmetatable(_G); g.__index = {}",
    "redis = function() return 1 end",
    "_G = {}",
    "redis.call = 1",
    "string.foo = 1",
    "math.random = nil",
    "rawset(_G, 'x', 1)",
    "loadfile('x')",
    "dofile('x')",
    "print('x')",
    "return type(os)",
    "return type(io)",
    "return loadstring(string.dump(function() return 1 end))()",
    "return loadstring('return 7')()",
    "local t = {} for k,v in pairs(redis) do t[#t+1]=k end table.sort(t) return t",
    "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM, redis.LOG_WARNING, redis.REPL_ALL}",
    "return tostring(0.1)",
    "return string.format('%d %s', 3, 'x')",
    "math.randomseed(42); return {math.random(), math.random(100), math.random(5,10)}",
    "math.randomseed(7); local t = {} for i=1,20 do t[i] = math.random(1000) end return t",
    "return redis.replicate_commands()",
    "return redis.acl_check_cmd('get','x')",
    "return redis.acl_check_cmd('nosuch')",
    "local function f(n) if n == 0 then return 0 end return 1 + f(n-1) end return f(100)",
    // The bundled libraries.
    "return cjson.encode({1,2,'x',{a=1}})",
    r#"return cjson.encode({a='x/y"z\n', b={}, c=1.5, d=true, e=cjson.null})"#,
    "return cjson.encode({[1]=1,[5]=2})",
    "return cjson.encode({[1]=1,[50]=2})",
    "return cjson.encode(function() end)",
    "return cjson.encode({[true]=1})",
    "return cjson.encode(0/0)",
    "return cjson.encode(0.1)",
    "return cjson.encode(123456789012345678)",
    r#"return cjson.encode('\1\127')"#,
    "return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')",
    r#"return cjson.decode('{"a":[1,2,{"b":null}]}').a[2]"#,
    "return cjson.decode('[1,2')",
    "return cjson.decode('')",
    "return cjson.decode('{1:2}')",
    "return cjson.decode('[1 2]')",
    "return type(cjson.decode('null'))",
    "return {cjson.encode_sparse_array()}",
    "local t = {} for i=1,1001 do t = {t} end return pcall(cjson.encode, t)",
    "return cmsgpack.pack({1,2,3})",
    "return cmsgpack.pack(0.1, -1099511627776, 250, 65530, -120, -32000, 2^40, 'x', true, nil)",
    "return cmsgpack.unpack(cmsgpack.pack({a=1,b={1,2}})).b[2]",
    "return {cmsgpack.unpack(cmsgpack.pack(1,'a',true))}",
    "local a = {x=nil,y=5} local b = {x=a} a['x'] = b return cmsgpack.pack(a)",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2), 0)}",
    r#"return cmsgpack.unpack('\xcd')"#,
    "return bit.tohex(255)",
    "return bit.tohex(-1, -4)",
    "return {bit.band(0xff, 0x0f), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.bnot(0), bit.bswap(0x12345678), bit.rol(1, 33)}",
    "return bit.band('x')",
    "cjson.encode = 1",
    "bit.band = 1",
    "return struct.pack('>I4', 258)",
    "return {struct.unpack('<i2', struct.pack('<i2', -2))}",
    "return struct.pack('bBhHlLiI', 1,2,3,4,5,6,7,8)",
    "return {struct.unpack('bBhH', struct.pack('bBhH', -1,255,-300,65535))}",
    "return {struct.size('>!4bi'), struct.pack('!4bi', 1, 2)}",
    "return struct.pack('c3s', 'abcdef', 'xy')",
    "return {struct.unpack('>d', struct.pack('>d', 1.5))}",
    "return struct.pack('y', 1)",
    "return {struct.unpack('I4', 'ab')}",
    "return struct.size('s')",
    "return {struct.unpack('>I2', 'abcd', 3)}",
    "struct.pack = 1",
    // Big tables both ways (walked without holding every element).
    "local t = {} for i=1,20000 do t[tostring(i)]=i end return #cmsgpack.pack(t)",
    "local t = {} for i=1,20000 do t[tostring(i)]=i end return #cjson.encode(t)",
    "local t = {} for i=1,5000 do t[i]=i end return redis.call('rpush', 'biglist', unpack(t))",
    "return #redis.call('lrange', 'biglist', 0, -1)",
    "local t = {} for i=1,20000 do t[i]=i end return redis.call('rpush', 'x2', unpack(t))",
    // Streams: reads work, BLOCK is refused in the command's own spelling.
    "redis.pcall('xgroup','create','sx','g','$','MKSTREAM') return redis.pcall('xread','STREAMS','sx','$')",
    "return redis.pcall('xread','BLOCK',0,'STREAMS','sx','$')",
    "return redis.pcall('XREADGROUP','GROUP','g','c','block','10','STREAMS','sx','>')",
    "return redis.pcall('xreadgroup','GROUP','g','c','STREAMS','sx','>')",
];

#[test]
fn replies_and_errors_match_redis_in_both_protocols() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    for proto in ["2", "3"] {
        let (mut t, mut r) = (ours.raw(), real.raw());
        assert_eq!(
            t.cmd_str(&["HELLO", proto]).is_empty(),
            r.cmd_str(&["HELLO", proto]).is_empty()
        );
        for s in SCRIPTS {
            let args = ["EVAL", s, "0"];
            let (a, b) = (t.cmd_str(&args), r.cmd_str(&args));
            assert_eq!(a, b, "RESP{proto} EVAL {s:?} (left: tine, right: redis)");
        }
    }
}

#[test]
fn eval_arguments_evalsha_and_script_commands_match_redis() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let (mut t, mut r) = (ours.raw(), real.raw());
    let keys = "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2],#KEYS,#ARGV}";
    let sha_get = "fd758d1589d044dd850a6f05d52f2eefd27f033f";
    let cmds: &[&[&str]] = &[
        &["EVAL", keys, "2", "a", "b", "c", "d"],
        &["EVAL", keys, "0"],
        &["EVAL", keys, "-1"],
        &["EVAL", keys, "3", "a"],
        &["EVAL", keys, "x"],
        &["EVAL", keys, "99999999999999999999"],
        &["EVAL", "return 1"],
        &["SET", "mykey", "myval"],
        &["EVAL", "return redis.call('get',KEYS[1])", "1", "mykey"],
        &["EVALSHA", sha_get, "1", "mykey"],
        &["EVALSHA", "FD758D1589D044DD850A6F05D52F2EEFD27F033F", "1", "mykey"],
        &["EVALSHA", "NotValidShaSUM", "0"],
        &["EVALSHA", "ffd632c7d33e571e9f24556ebed26c3479a87130", "0"],
        &["SCRIPT", "LOAD", "return 'loaded'"],
        &["SCRIPT", "LOAD", "return +"],
        &["SCRIPT", "EXISTS", sha_get, "ffd632c7d33e571e9f24556ebed26c3479a87130"],
        &["SCRIPT", "FLUSH", "BAD"],
        &["SCRIPT", "FLUSH", "ASYNC"],
        &["SCRIPT", "EXISTS", sha_get],
        &["EVALSHA", sha_get, "1", "mykey"],
        &["SCRIPT", "KILL"],
        &["SCRIPT", "NOSUCH"],
        &["SCRIPT", "HELP"],
        // Read-only scripts.
        &["EVAL_RO", "return redis.call('get','mykey')", "0"],
        &["EVAL_RO", "return redis.call('set','mykey','x')", "0"],
        &["EVAL", "#!lua flags=no-writes\nreturn redis.call('set','mykey','x')", "0"],
        &["EVAL", "#!lua flags=no-writes\nreturn redis.call('get','mykey')", "0"],
        &["EVAL_RO", "#!lua\nreturn 1", "0"],
        &["EVAL", "#!lua\nreturn redis.call('set','k2','v')", "0"],
        &["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
        &["EVAL", "#!lua name=x\nreturn 1", "0"],
        &["EVAL", "#!python\nreturn 1", "0"],
        &[
            "EVAL",
            "#!lua flags=allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 2",
            "0",
        ],
        // The script client's db is the caller's, and its SELECT stays inside.
        &["SELECT", "5"],
        &["SET", "k", "db5"],
        &["EVAL", "redis.call('select','6') redis.call('set','k','db6') return 1", "0"],
        &["GET", "k"],
        &["SELECT", "6"],
        &["GET", "k"],
        &["SELECT", "0"],
        // The clock stands still during a script.
        &[
            "EVAL",
            "redis.call('SET', 'tk', 'v', 'PX', '1') redis.call('DEBUG', 'SLEEP', '0.01') return redis.call('EXISTS', 'tk')",
            "0",
        ],
        // Inside MULTI.
        &["MULTI"],
        &["EVAL", "return redis.call('incr','n')", "0"],
        &["EVAL", "return redis.call('incr','n')", "0"],
        &["EXEC"],
    ];
    for cmd in cmds {
        let (a, b) = (t.cmd_str(cmd), r.cmd_str(cmd));
        assert_eq!(a, b, "{cmd:?} (left: tine, right: redis)");
    }
    let d = ["DEBUG", "DIGEST"];
    assert_eq!(t.cmd_str(&d), r.cmd_str(&d));
}

#[test]
fn oom_and_errorstats_match_redis() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let (mut t, mut r) = (ours.raw(), real.raw());
    let cmds: &[&[&str]] = &[
        &["CONFIG", "RESETSTAT"],
        &["SET", "s", "v"],
        &["EVAL", "return redis.call('lpush','s','x')", "0"],
        &["EVAL", "return redis.pcall('lpush','s','x')", "0"],
        &["EVAL", "error('x')", "0"],
        &["EVAL", "return {err='MYCODE oops'}", "0"],
        &["CONFIG", "SET", "maxmemory", "1"],
        &["EVAL", "return redis.call('set','x','1')", "0"],
        &["EVAL", "return redis.call('get','x')", "0"],
        &["EVAL", "#!lua\nreturn 1", "0"],
        &["EVAL", "#!lua flags=allow-oom\nreturn redis.call('set','x','1')", "0"],
        &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
        &["CONFIG", "SET", "maxmemory", "0"],
    ];
    for cmd in cmds {
        let (a, b) = (t.cmd_str(cmd), r.cmd_str(cmd));
        assert_eq!(a, b, "{cmd:?} (left: tine, right: redis)");
    }
    let stats = |c: &mut Raw| -> Vec<String> {
        let info = c.cmd_str(&["INFO", "errorstats"]);
        let mut v: Vec<String> =
            info.lines().filter(|l| l.starts_with("errorstat_")).map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(stats(&mut t), stats(&mut r));
}

/// The AOF's incremental file as text.
fn aof_text(s: &TestServer) -> String {
    let dir = s.path("appendonlydir");
    let mut text = String::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for p in names {
        if p.to_string_lossy().ends_with(".incr.aof") {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default()));
        }
    }
    text
}

#[test]
fn script_effects_reach_the_aof_as_commands_in_multi_exec() {
    let s = TestServer::with_args(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd_str(&[
            "EVAL",
            "redis.call('set','a','1') redis.call('incr','a') redis.call('get','a') return 1",
            "0"
        ]),
        ":1\r\n"
    );
    assert_eq!(c.cmd_str(&["EVAL", "return redis.call('set','single','1')", "0"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["EVAL", "return redis.call('get','a')", "0"]), "$1\r\n2\r\n");
    // set_repl(REPL_NONE) keeps the write out of the AOF.
    c.cmd_str(&[
        "EVAL",
        "redis.set_repl(redis.REPL_NONE) redis.call('set','hidden','1') redis.set_repl(redis.REPL_ALL) redis.call('set','shown','1')",
        "0",
    ]);
    let mut text = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            text = aof_text(&s);
            text.contains("shown")
        }),
        "AOF: {text:?}"
    );
    assert!(!text.contains("EVAL") && !text.contains("eval"), "{text:?}");
    assert!(!text.contains("hidden"), "{text:?}");
    let multi = "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$4\r\nincr\r\n$1\r\na\r\n*1\r\n$4\r\nEXEC\r\n";
    assert!(text.contains(multi), "{text:?}");
    // A single write is not wrapped.
    assert!(text.contains("*3\r\n$3\r\nset\r\n$6\r\nsingle\r\n$1\r\n1\r\n*3"), "{text:?}");
    // The AOF loads back to the same data.
    drop(c);
    let mut s = s;
    s.restart();
    let mut c = s.raw();
    assert_eq!(c.cmd_str(&["GET", "a"]), "$1\r\n2\r\n");
    assert_eq!(c.cmd_str(&["GET", "hidden"]), "$-1\r\n");
}

#[test]
fn slow_script_gets_others_busy_and_script_kill_stops_it() {
    let s = TestServer::with_args(&["--busy-reply-threshold", "100"]);
    let mut a = s.raw();
    let mut b = s.raw();
    a.send_cmd(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    let mut reply = String::new();
    assert!(
        eventually(Duration::from_secs(20), || {
            reply = b.cmd_str(&["PING"]);
            reply.starts_with("-BUSY")
        }),
        "{reply}"
    );
    assert_eq!(
        reply,
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(b.cmd_str(&["SCRIPT", "KILL"]), "+OK\r\n");
    let r = a.reply_str();
    assert!(r.starts_with("-ERR Script killed by user with SCRIPT KILL..."), "{r}");
    assert_eq!(b.cmd_str(&["PING"]), "+PONG\r\n");
    // A big map reply leaves in full, the server alive.
    let big = "local t = {} for i=1,20000 do t[tostring(i)]=i end return {map=t}";
    let r = b.cmd_str(&["EVAL", big, "0"]);
    assert!(r.starts_with("*40000\r\n"), "{}", &r[..r.len().min(40)]);
    assert_eq!(b.cmd_str(&["SCRIPT", "KILL"]), "-NOTBUSY No scripts in execution right now.\r\n");
    // Not even when the script catches errors with pcall.
    a.send_cmd(&[
        "EVAL",
        "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end",
        "0",
    ]);
    assert!(eventually(Duration::from_secs(20), || b.cmd_str(&["PING"]).starts_with("-BUSY")));
    assert_eq!(b.cmd_str(&["SCRIPT", "KILL"]), "+OK\r\n");
    let r = a.reply_str();
    assert!(r.contains("killed by user"), "{r}");
    assert_eq!(b.cmd_str(&["PING"]), "+PONG\r\n");
    // A function: FUNCTION STATS shows it, SCRIPT KILL is not for it, FUNCTION KILL is.
    let lib = "#!lua name=loop\nredis.register_function('spin', function() while true do end end)";
    assert_eq!(b.cmd_str(&["FUNCTION", "LOAD", lib]), "$4\r\nloop\r\n");
    a.send_cmd(&["FCALL", "spin", "0"]);
    assert!(eventually(Duration::from_secs(20), || b.cmd_str(&["PING"]).starts_with("-BUSY")));
    let stats = b.cmd_str(&["FUNCTION", "STATS"]);
    assert!(stats.contains("$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL"), "{stats}");
    assert!(b.cmd_str(&["SCRIPT", "KILL"]).starts_with("-BUSY"));
    assert_eq!(b.cmd_str(&["FUNCTION", "KILL"]), "+OK\r\n");
    assert!(a.reply_str().contains("killed by user"));
    // A script that wrote cannot be killed.
    a.send_cmd(&["EVAL", "redis.call('set','x','1') while true do end", "0"]);
    assert!(eventually(Duration::from_secs(20), || b.cmd_str(&["PING"]).starts_with("-BUSY")));
    assert!(b.cmd_str(&["SCRIPT", "KILL"]).starts_with("-UNKILLABLE"));
    b.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(b.closed_within(Duration::from_secs(20)));
}

#[test]
fn functions_load_call_list_and_errors_match_redis() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let lib_a =
        "#!lua name=a\nredis.register_function('f', function(k, a) return {k[1], a[1]} end)";
    let lib_c = "#!lua name=c\nredis.register_function{function_name='g', callback=function(k, a) return redis.call('get', k[1]) end, flags={'no-writes'}, description='desc'}";
    let lib_w = "#!lua name=w\nredis.register_function('w', function(k, a) redis.call('set', k[1], a[1]) return redis.call('incr', k[1]) end)";
    let cmds: &[&[&str]] = &[
        &["FUNCTION", "LOAD", "return 1"],
        &["FUNCTION", "LOAD", "#!lua"],
        &["FUNCTION", "LOAD", "#!lua name=a foo=bar"],
        &["FUNCTION", "LOAD", "#!lua name=a\nsyntax error"],
        &["FUNCTION", "LOAD", "#!lua name=a\nerror('x')"],
        &["FUNCTION", "LOAD", "#!lua name=a\nredis.call('ping')"],
        &["FUNCTION", "LOAD", "#!lua name=a\nredis.register_function('f-1', function() end)"],
        &["FUNCTION", "LOAD", "#!lua name=e\nredis.register_function('x')"],
        &["FUNCTION", "LOAD", "#!lua name=e\nredis.register_function()"],
        &["FUNCTION", "LOAD", "#!lua name=e\nredis.register_function{callback=function() end}"],
        &["FUNCTION", "LOAD", "#!lua name=e\nredis.register_function{function_name='x'}"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=e\nredis.register_function{function_name='x', callback=function() end, flags={'bad'}}",
        ],
        &["FUNCTION", "LOAD", "#!lua name=e\nreturn math.floor(1)"],
        &["FUNCTION", "LOAD", "#!lua name=e\nx = 1"],
        &["FUNCTION", "LOAD", "#!lua name=e\nreturn 1"],
        &["FUNCTION", "LOAD", lib_a],
        &["FUNCTION", "LOAD", lib_a],
        &["FUNCTION", "LOAD", "REPLACE", lib_a],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=b\nredis.register_function('f', function() return 1 end)",
        ],
        &["FUNCTION", "LOAD", lib_c],
        &["FUNCTION", "LOAD", lib_w],
        &["FCALL", "f", "1", "x", "y"],
        &["FCALL", "nosuch", "0"],
        &["FCALL", "f", "-1"],
        &["FCALL", "f", "5"],
        &["FCALL_RO", "f", "0"],
        &["FCALL", "w", "1", "k", "41"],
        &["FCALL_RO", "g", "1", "k"],
        &["FCALL_RO", "w", "1", "k", "1"],
        &["FUNCTION", "LIST", "LIBRARYNAME", "c"],
        &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "a"],
        &["FUNCTION", "LIST", "BAD"],
        &["FUNCTION", "STATS"],
        &["FUNCTION", "KILL"],
        &["FUNCTION", "LOAD", "#!bad_engine name=x\nredis.register_function('x', function() end)"],
        &["FUNCTION", "LOAD", "#!py name=x"],
        &["FUNCTION", "LOAD", "foo", "bar", lib_a],
        &[
            "FUNCTION",
            "LOAD",
            "#!LUA name=Test2\nredis.register_function('TeSt2', function() return 1 end)",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=test2\nredis.register_function('x2', function() return 2 end)",
        ],
        &["FCALL", "test2", "0"],
        &["FCALL", "X2", "0"],
        &["FCALL", "x2", "bad"],
        &["FUNCTION", "LIST", "LIBRARYNAME", "Test2"],
        &["FUNCTION", "DELETE", "Test2"],
        &["FUNCTION", "DELETE", "test2"],
        &["FUNCTION", "DELETE", "a"],
        &["FUNCTION", "DELETE", "a"],
        &["FCALL", "f", "0"],
        &["FUNCTION", "FLUSH", "BAD"],
        &["FUNCTION", "FLUSH", "SYNC", "EXTRA"],
        &["FUNCTION", "FLUSH"],
        &["FUNCTION", "STATS"],
        &["FUNCTION", "HELP"],
    ];
    for proto in ["2", "3"] {
        let (mut t, mut r) = (ours.raw(), real.raw());
        t.cmd_str(&["HELLO", proto]);
        r.cmd_str(&["HELLO", proto]);
        for cmd in cmds {
            let (a, b) = (t.cmd_str(cmd), r.cmd_str(cmd));
            assert_eq!(a, b, "RESP{proto} {cmd:?} (left: tine, right: redis)");
        }
    }
}

/// A FUNCTION DUMP payload moves between tine and redis-server both ways.
#[test]
fn function_dump_and_restore_interoperate_with_redis() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let (mut t, mut r) = (ours.client(), real.client());
    let lib1 = "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)";
    let lib2 = "#!lua name=lib2\nredis.register_function{function_name='f2', callback=function() return 2 end, flags={'no-writes'}}";
    for con in [&mut t, &mut r] {
        for lib in [lib1, lib2] {
            assert!(common::query(con, &["FUNCTION", "LOAD", lib]).is_ok());
        }
    }
    let dump = |con: &mut redis::Connection| {
        common::bytes(&common::query(con, &["FUNCTION", "DUMP"]).unwrap())
    };
    let (from_tine, from_redis) = (dump(&mut t), dump(&mut r));
    for (con, payload) in [(&mut t, &from_redis), (&mut r, &from_tine)] {
        let restore = |con: &mut redis::Connection, args: &[&[u8]]| common::query(con, args);
        assert!(
            restore(con, &[b"FUNCTION", b"RESTORE", payload]).is_err(),
            "APPEND onto the same libraries"
        );
        assert_eq!(
            restore(con, &[b"FUNCTION", b"RESTORE", payload, b"FLUSH"]),
            Ok(redis::Value::Okay)
        );
        assert_eq!(common::query(con, &["FCALL_RO", "f2", "0"]), Ok(redis::Value::Int(2)));
        assert_eq!(common::query(con, &["FCALL", "f1", "0"]), Ok(redis::Value::Int(1)));
    }
    for args in [&["FUNCTION", "RESTORE", "garbage"][..], &["FUNCTION", "RESTORE", "x", "BAD"][..]]
    {
        assert_eq!(common::query(&mut t, args), common::query(&mut r, args), "{args:?}");
    }
}

/// A script's effects reach replicas (a tine one and a redis-server one) as its commands: the
/// replicas end with the primary's data, non-deterministic commands included, and a
/// `set_repl(REPL_AOF)` write stays off them.
#[test]
fn script_effects_reach_tine_and_redis_replicas() {
    let primary = TestServer::with_args(DIFF_ARGS);
    let mut replicas = vec![TestServer::with_args(DIFF_ARGS)];
    replicas.extend(common::RedisServer::with_args(DIFF_ARGS));
    for r in &replicas {
        let reply = r.raw().cmd_str(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
        assert!(reply.starts_with("+OK"), "{reply}");
    }
    for r in &replicas {
        let up = eventually(Duration::from_secs(30), || {
            let info = r.raw().cmd_str(&["INFO", "replication"]);
            common::info_field(&info, "master_link_status").as_deref() == Some("up")
        });
        assert!(up, "replica on port {} never came up", r.port);
    }
    let mut c = primary.raw();
    let scripts = [
        "redis.call('set','a','1') redis.call('incr','a') redis.call('rpush','l','x','y') return 1",
        "redis.call('sadd','s','1','2','3','4','5') redis.call('spop','s') return redis.call('scard','s')",
        "redis.call('set','t','v','EX','100') return redis.call('ttl','t')",
        "redis.set_repl(redis.REPL_AOF) redis.call('set','aof_only','1') return 1",
    ];
    for s in scripts {
        assert!(c.cmd_str(&["EVAL", s, "0"]).starts_with(':'), "{s}");
    }
    let lib = "#!lua name=r\nredis.register_function('w', function(k, a) return redis.call('incrby', k[1], a[1]) end)";
    assert!(c.cmd_str(&["FUNCTION", "LOAD", lib]).starts_with('$'));
    assert_eq!(c.cmd_str(&["FCALL", "w", "1", "n", "5"]), ":5\r\n");
    let digest = |s: &TestServer, keys: &[&str]| -> Vec<String> {
        let mut c = s.raw();
        keys.iter().map(|k| c.cmd_str(&["DEBUG", "DIGEST-VALUE", k])).collect()
    };
    let keys = ["a", "l", "s", "t", "n"];
    let want = digest(&primary, &keys);
    for r in &replicas {
        let same = eventually(Duration::from_secs(20), || digest(r, &keys) == want);
        assert!(same, "replica on port {}: {:?} != {:?}", r.port, digest(r, &keys), want);
        assert_eq!(r.raw().cmd_str(&["EXISTS", "aof_only"]), ":0\r\n");
        // The library reached the replica: its write function is refused there as a write.
        let reply = r.raw().cmd_str(&["FCALL", "w", "1", "n", "0"]);
        assert!(reply.starts_with("-READONLY"), "{reply}");
    }
}

/// Two libraries: one with a positional function, one with a named one (flags, description).
const PERSIST_LIB1: &str =
    "#!lua name=plib1\nredis.register_function('pf1', function(k, a) return 'one' end)";
const PERSIST_LIB2: &str = "#!lua name=plib2\nredis.register_function{function_name='pf2', callback=function(k, a) return 2 end, flags={'no-writes'}, description='two'}";

/// FUNCTION LIST WITHCODE, the libraries and their code as the server has them, one library
/// after the other in name order (redis-server lists them in its hash order).
fn function_list(s: &TestServer) -> String {
    let text = s.raw().cmd_str(&["FUNCTION", "LIST", "WITHCODE"]);
    let mut libs: Vec<&str> = text.split("*8\r\n$12\r\nlibrary_name").collect();
    libs.sort();
    libs.join("|")
}

fn load_persist_libs(s: &TestServer) {
    let mut c = s.raw();
    for lib in [PERSIST_LIB1, PERSIST_LIB2] {
        let reply = c.cmd_str(&["FUNCTION", "LOAD", lib]);
        assert!(reply.starts_with('$'), "{reply}");
    }
}

/// Both libraries are there and callable.
fn assert_persist_libs(s: &TestServer, want_list: &str, ctx: &str) {
    let mut c = s.raw();
    assert_eq!(c.cmd_str(&["FCALL", "pf1", "0"]), "$3\r\none\r\n", "{ctx}");
    assert_eq!(c.cmd_str(&["FCALL_RO", "pf2", "0"]), ":2\r\n", "{ctx}");
    assert_eq!(function_list(s), want_list, "{ctx}");
}

/// Functions are in the RDB (as FUNCTION2 records, before the databases): they survive SAVE
/// and a restart and DEBUG RELOAD (with its NOFLUSH / MERGE / NOSAVE options as Redis treats
/// functions), and an RDB with functions moves between tine and redis-server both ways. A
/// library that fails to compile fails the load.
#[test]
fn functions_are_saved_in_the_rdb_and_interoperate_with_redis() {
    let Some((mut ours, mut real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    load_persist_libs(&ours);
    ours.raw().cmd_str(&["SET", "k", "v"]);
    let want = function_list(&ours);
    assert_eq!(ours.raw().cmd_str(&["SAVE"]), "+OK\r\n");
    ours.restart();
    assert_persist_libs(&ours, &want, "tine restarted from its RDB");
    assert_eq!(ours.raw().cmd_str(&["GET", "k"]), "$1\r\nv\r\n");

    // DEBUG RELOAD: the libraries come back; NOFLUSH finds them there already (an error, as
    // Redis); with MERGE they replace themselves.
    let mut c = ours.raw();
    assert_eq!(c.cmd_str(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_persist_libs(&ours, &want, "after DEBUG RELOAD");
    let reply = c.cmd_str(&["DEBUG", "RELOAD", "NOFLUSH"]);
    assert_eq!(reply, "-ERR Error trying to load the RDB dump\r\n");
    assert_persist_libs(&ours, &want, "after a refused DEBUG RELOAD NOFLUSH");
    assert_eq!(c.cmd_str(&["DEBUG", "RELOAD", "NOFLUSH", "MERGE"]), "+OK\r\n");
    assert_persist_libs(&ours, &want, "after DEBUG RELOAD NOFLUSH MERGE");
    // NOSAVE NOFLUSH MERGE: a library loaded since the file was written stays beside them.
    let lib3 = "#!lua name=plib3\nredis.register_function('pf3', function() return 3 end)";
    assert!(c.cmd_str(&["FUNCTION", "LOAD", lib3]).starts_with('$'));
    assert_eq!(c.cmd_str(&["SET", "k2", "v2"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["FCALL", "pf3", "0"]), ":3\r\n");
    assert_eq!(c.cmd_str(&["FCALL", "pf1", "0"]), "$3\r\none\r\n");
    assert_eq!(c.cmd_str(&["MGET", "k", "k2"]), "*2\r\n$1\r\nv\r\n$2\r\nv2\r\n");
    // NOSAVE alone: back to the file (no plib3, no k2).
    assert_eq!(c.cmd_str(&["DEBUG", "RELOAD", "NOSAVE"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["FCALL", "pf3", "0"]), "-ERR Function not found\r\n");
    assert_eq!(c.cmd_str(&["EXISTS", "k2"]), ":0\r\n");
    assert_persist_libs(&ours, &want, "after DEBUG RELOAD NOSAVE");
    let mut rc = real.raw();
    common::assert_same(&mut c, &mut rc, &["DEBUG", "RELOAD", "BOGUS"]);
    drop(c);
    drop(rc);

    // tine's file loads in redis-server, and redis-server's in tine.
    real.stop();
    std::fs::copy(ours.path("dump.rdb"), real.path("dump.rdb")).unwrap();
    real.restart();
    assert_persist_libs(&real, &want, "redis-server loading tine's RDB");
    assert_eq!(real.raw().cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    let lib3r = "#!lua name=fromredis\nredis.register_function('rf', function() return 'r' end)";
    assert!(real.raw().cmd_str(&["FUNCTION", "LOAD", lib3r]).starts_with('$'));
    assert_eq!(real.raw().cmd_str(&["SAVE"]), "+OK\r\n");
    let want_r = function_list(&real);
    ours.stop();
    std::fs::copy(real.path("dump.rdb"), ours.path("dump.rdb")).unwrap();
    ours.restart();
    assert_eq!(ours.raw().cmd_str(&["FCALL", "rf", "0"]), "$1\r\nr\r\n");
    assert_eq!(function_list(&ours), want_r);

    // Each library record is byte for byte what redis-server writes (the records' order is
    // redis-server's hash order, so they are compared as a set).
    assert_eq!(ours.raw().cmd_str(&["SAVE"]), "+OK\r\n");
    let records = |path: std::path::PathBuf| -> Vec<Vec<u8>> {
        let data = std::fs::read(path).unwrap();
        let loaded =
            tine_core::rdb::read_rdb(&data, &tine_core::rdb::LoadLimits::default(), 0).unwrap();
        let mut v = loaded.functions;
        v.sort();
        v
    };
    assert_eq!(records(ours.path("dump.rdb")), records(real.path("dump.rdb")));
    let raw_records = |path: std::path::PathBuf| -> Vec<u8> {
        let data = std::fs::read(path).unwrap();
        let start = data.iter().position(|&b| b == 0xf5).unwrap();
        let end = data.iter().rposition(|&b| b == 0xfe).unwrap();
        data[start..end].to_vec()
    };
    assert_eq!(raw_records(ours.path("dump.rdb")).len(), raw_records(real.path("dump.rdb")).len());
}

/// A library in an RDB that does not compile: the server refuses to start, as Redis does,
/// saying which library and why.
#[test]
fn an_rdb_library_that_fails_to_compile_fails_the_load() {
    let mut s = TestServer::with_args(&["--save", ""]);
    s.stop();
    let opts = tine_core::rdb::RdbOptions {
        functions: vec![b"#!lua name=bad\nthis is not lua".to_vec()],
        ..Default::default()
    };
    let mut out = Vec::new();
    tine_core::rdb::write_rdb(&mut out, &tine_core::keyspace::Keyspace::new(16), &opts, |_| {})
        .unwrap();
    std::fs::write(s.path("dump.rdb"), &out).unwrap();
    let bin = common::workspace_bin("tine-server");
    let port = common::free_port().to_string();
    let dir = s.dir.path().to_str().unwrap().to_string();
    let done = common::run_to_exit(
        &bin,
        &["--port", &port, "--dir", &dir, "--save", ""],
        s.dir.path(),
        Duration::from_secs(20),
    );
    assert_eq!(done.status.code(), Some(1));
    let out = format!("{}{}", done.stdout, done.stderr);
    assert!(
        out.contains(
            "Failed loading library, Error compiling function: user_function:2: '=' expected near 'is'"
        ),
        "{out}"
    );
}

/// Functions survive a restart from the AOF: loaded by commands in the incr file, and after
/// BGREWRITEAOF in the new base, an RDB preamble (FUNCTION2) or, without one, a FUNCTION LOAD
/// per library before the data, byte for byte as redis-server writes it.
#[test]
fn functions_survive_aof_restarts_and_rewrites() {
    let lib = "#!lua name=alib\nredis.register_function('af', function(k, a) return redis.call('get', k[1]) end)";
    for preamble in ["yes", "no"] {
        let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble, "--save", ""];
        let mut s = TestServer::with_args(&args);
        let mut c = s.raw();
        assert!(c.cmd_str(&["FUNCTION", "LOAD", lib]).starts_with('$'));
        assert_eq!(c.cmd_str(&["SET", "x", "1"]), "+OK\r\n");
        drop(c);
        // From the incr file (the FUNCTION LOAD command replayed).
        s.restart();
        assert_eq!(s.raw().cmd_str(&["FCALL", "af", "1", "x"]), "$1\r\n1\r\n", "{preamble}");
        // From the rewritten base.
        let mut c = s.raw();
        assert!(c.cmd_str(&["BGREWRITEAOF"]).starts_with('+'));
        let done = eventually(Duration::from_secs(20), || {
            let info = s.raw().cmd_str(&["INFO", "persistence"]);
            common::info_field(&info, "aof_rewrite_in_progress").as_deref() == Some("0")
                && common::info_field(&info, "aof_rewrite_scheduled").as_deref() == Some("0")
        });
        assert!(done);
        drop(c);
        let base = std::fs::read_dir(s.path("appendonlydir"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().contains(".base."))
            .unwrap();
        let bytes = std::fs::read(&base).unwrap();
        if preamble == "no" {
            let want = format!(
                "*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n${}\r\n{}\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n",
                lib.len(),
                lib
            );
            assert!(bytes.starts_with(want.as_bytes()), "{:?}", String::from_utf8_lossy(&bytes));
        } else {
            assert!(bytes.starts_with(b"REDIS"));
            let loaded =
                tine_core::rdb::read_rdb(&bytes, &tine_core::rdb::LoadLimits::default(), 0)
                    .unwrap();
            assert_eq!(loaded.functions, vec![lib.as_bytes().to_vec()]);
        }
        s.restart();
        assert_eq!(s.raw().cmd_str(&["FCALL", "af", "1", "x"]), "$1\r\n1\r\n", "{preamble}");
        // A FUNCTION DELETE after the rewrite (in the incr file) holds over the base's.
        assert_eq!(s.raw().cmd_str(&["FUNCTION", "DELETE", "alib"]), "+OK\r\n");
        s.restart();
        assert_eq!(s.raw().cmd_str(&["FUNCTION", "LIST"]), "*0\r\n", "{preamble}");
    }
    // redis-server's base without a preamble is the same bytes.
    let Some(r) = common::RedisServer::with_args(&[
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--save",
        "",
    ]) else {
        return;
    };
    let mut c = r.raw();
    assert!(c.cmd_str(&["FUNCTION", "LOAD", lib]).starts_with('$'));
    assert_eq!(c.cmd_str(&["SET", "x", "1"]), "+OK\r\n");
    assert!(c.cmd_str(&["BGREWRITEAOF"]).starts_with('+'));
    let mut bytes = Vec::new();
    let done = eventually(Duration::from_secs(20), || {
        let base = std::fs::read_dir(r.path("appendonlydir")).ok().and_then(|d| {
            d.flatten().map(|e| e.path()).find(|p| p.to_string_lossy().contains(".base."))
        });
        bytes = base.and_then(|b| std::fs::read(b).ok()).unwrap_or_default();
        !bytes.is_empty()
    });
    assert!(done);
    let want = format!(
        "*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n${}\r\n{}\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n",
        lib.len(),
        lib
    );
    assert!(bytes.starts_with(want.as_bytes()), "{:?}", String::from_utf8_lossy(&bytes));
}

/// Replicas get the primary's libraries with a full sync: tine replicas (disk and diskless
/// loading, from disk and diskless transfers) of a tine and of a redis-server primary, and a
/// redis-server replica of tine. The sync replaces the replica's own libraries.
#[test]
fn replicas_get_the_libraries_on_full_sync() {
    let primary_args = ["--save", "", "--repl-diskless-sync-delay", "0"];
    let tine_primary = TestServer::with_args(&primary_args);
    let redis_primary = common::RedisServer::with_args(&primary_args);
    let mut primaries = vec![&tine_primary];
    if let Some(r) = &redis_primary {
        primaries.push(r);
    }
    for p in &primaries {
        load_persist_libs(p);
    }
    let want = function_list(&tine_primary);
    let up = |r: &TestServer| {
        eventually(Duration::from_secs(30), || {
            let info = r.raw().cmd_str(&["INFO", "replication"]);
            common::info_field(&info, "master_link_status").as_deref() == Some("up")
        })
    };
    for (i, p) in primaries.iter().enumerate() {
        for diskless_sync in ["no", "yes"] {
            assert_eq!(
                p.raw().cmd_str(&["CONFIG", "SET", "repl-diskless-sync", diskless_sync]),
                "+OK\r\n"
            );
            for load in ["disabled", "swapdb"] {
                let ctx = format!("primary {i}, diskless sync {diskless_sync}, load {load}");
                let r = TestServer::with_args(&["--save", "", "--repl-diskless-load", load]);
                // Its own library goes: the sync replaces the function engine's contents.
                let own =
                    "#!lua name=own\nredis.register_function('ownf', function() return 0 end)";
                assert!(r.raw().cmd_str(&["FUNCTION", "LOAD", own]).starts_with('$'));
                let reply = r.raw().cmd_str(&["REPLICAOF", "127.0.0.1", &p.port.to_string()]);
                assert!(reply.starts_with("+OK"), "{reply}");
                assert!(up(&r), "{ctx}: never came up");
                let mut c = r.raw();
                assert_eq!(c.cmd_str(&["FCALL_RO", "pf2", "0"]), ":2\r\n", "{ctx}");
                assert_eq!(c.cmd_str(&["FCALL", "ownf", "0"]), "-ERR Function not found\r\n");
                if i == 0 {
                    assert_eq!(function_list(&r), want, "{ctx}");
                }
            }
        }
    }
    // A redis-server replica of tine.
    if let Some(r) = common::RedisServer::with_args(&["--save", ""]) {
        let reply = r.raw().cmd_str(&["REPLICAOF", "127.0.0.1", &tine_primary.port.to_string()]);
        assert!(reply.starts_with("+OK"), "{reply}");
        assert!(up(&r), "redis replica never came up");
        assert_eq!(r.raw().cmd_str(&["FCALL_RO", "pf2", "0"]), ":2\r\n");
    }
}

/// SORT of a set with a constant BY called from a script is sorted (lexicographically), as
/// Redis sorts it for scripts so that their effects replicate the same; and FUNCTION LOAD of
/// a library whose code does not end fails after Redis's load timeout, with its error.
#[test]
fn sort_from_a_script_and_the_load_timeout_match_redis() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let (mut t, mut r) = (ours.raw(), real.raw());
    let members = "a b c d e f g h i l m n o p q r s t u v z aa aaa azz 10 9 -1";
    for c in [&mut t, &mut r] {
        let mut args = vec!["SADD", "myset"];
        args.extend(members.split(' '));
        c.cmd_str(&args);
        c.cmd_str(&["SET", "_:b", "bee"]);
    }
    for script in [
        "return redis.call('sort',KEYS[1],'by','_')",
        "return redis.call('sort',KEYS[1],'by','_','get','#','get','_:*')",
        "return redis.call('sort',KEYS[1],'by','nosort','desc','limit','2','5')",
        "return redis.call('sort',KEYS[1],'alpha')",
    ] {
        let (a, b) = common::both(&mut t, &mut r, &["EVAL", script, "1", "myset"]);
        assert_eq!(a, b, "{script}");
    }
    let endless = "#!lua name=lib\nlocal a = 1\nwhile 1 do a = a + 1 end";
    let (a, b) = common::both(&mut t, &mut r, &["FUNCTION", "LOAD", endless]);
    assert_eq!(a, b);
    assert!(a.contains("FUNCTION LOAD timeout"), "{a}");
    // The server is usable at once, and the library was not loaded.
    assert_eq!(t.cmd_str(&["FUNCTION", "LIST"]), "*0\r\n");
}

/// Ten thousand cached scripts and a library of ten thousand functions: each used to hold a
/// handle on mlua's auxiliary stack (about 8000 slots), and the 8000th SCRIPT LOAD killed the
/// server (the suite's "Active defrag eval scripts" loads 50000).
#[test]
fn many_scripts_and_functions_do_not_exhaust_the_vm() {
    let s = TestServer::start();
    let mut c = s.raw();
    let n = 10_000;
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend(common::resp(&["SCRIPT", "LOAD", &format!("return {i}")]));
    }
    c.send(&batch);
    for _ in 0..n {
        assert!(c.reply_str().starts_with('$'));
    }
    let first = c.cmd_str(&["SCRIPT", "LOAD", "return 0"]);
    let sha = first.lines().nth(1).unwrap().to_string();
    assert_eq!(c.cmd_str(&["EVALSHA", &sha, "0"]), ":0\r\n");
    assert_eq!(c.cmd_str(&["EVAL", &format!("return {}", n - 1), "0"]), format!(":{}\r\n", n - 1));
    let mut lib = String::from("#!lua name=many\n");
    for i in 0..n {
        lib.push_str(&format!("redis.register_function('f{i}', function() return {i} end)\n"));
    }
    assert_eq!(c.cmd_str(&["FUNCTION", "LOAD", &lib]), "$4\r\nmany\r\n");
    assert_eq!(c.cmd_str(&["FCALL", "f9999", "0"]), ":9999\r\n");
    assert_eq!(c.cmd_str(&["FCALL", "f0", "0"]), ":0\r\n");
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
}
