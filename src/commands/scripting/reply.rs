//! Reply conversion between Redis and Lua, both ways, as Redis 7.0's script_lua.c does it.
//!
//! A command run by `redis.call` replies into the script client's buffer like any client; that
//! RESP (2 or 3, as `redis.setresp` chose) is parsed here into Lua values: integers to numbers,
//! bulks to strings, nil bulk / nil array to `false`, status to `{ok=...}`, errors to
//! `{err=...}`, arrays to tables; RESP3 maps, sets, doubles, big numbers, verbatim strings and
//! booleans to their Lua forms. The value a script returns is turned into the caller's reply:
//! strings to bulks, numbers truncated to integers, booleans (`:1` / nil in RESP2), tables
//! with `err` / `ok` / `double` / `big_number` / `map` / `set` / `verbatim_string` fields, and
//! other tables as arrays up to their first nil.

use mlua::{Function, Lua, Table, Value};
use tine_core::protocol::{Resp, reply};

/// How deep a returned table may nest before the reply says "reached lua stack limit". Redis
/// stops where Lua's C stack would overflow (7995 levels); tine stops sooner, since each level
/// holds a Lua reference while it is written and mlua's references share one 8000-slot stack
/// with everything else the VM holds.
const MAX_DEPTH: usize = 1000;

/// Parses one RESP reply at `buf[*pos..]` into a Lua value, advancing `pos`.
pub(crate) fn resp_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let line = |pos: &mut usize| -> &[u8] {
        let start = *pos;
        let end =
            buf[start..].windows(2).position(|w| w == b"\r\n").map_or(buf.len(), |i| start + i);
        *pos = (end + 2).min(buf.len());
        &buf[start..end]
    };
    let num = |b: &[u8]| -> i64 { tine_core::base::parse_i64(b).unwrap_or(0) };
    if *pos >= buf.len() {
        return Ok(Value::Nil);
    }
    let kind = buf[*pos];
    *pos += 1;
    Ok(match kind {
        b'+' => {
            let s = line(pos);
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("ok", lua.create_string(s)?)?;
            Value::Table(t)
        }
        b'-' => {
            // Already counted in errorstats when the command replied it: returning or raising
            // it does not count it again.
            let s = line(pos);
            let t = lua.create_table_with_capacity(0, 2)?;
            t.raw_set("err", lua.create_string(s)?)?;
            t.raw_set("ignore_error_stats_update", true)?;
            Value::Table(t)
        }
        b':' => Value::Number(num(line(pos)) as f64),
        b'$' | b'=' => {
            let n = num(line(pos));
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let n = n as usize;
            let start = *pos;
            let end = (start + n).min(buf.len());
            *pos = (end + 2).min(buf.len());
            let s = &buf[start..end];
            if kind == b'=' && s.len() >= 4 {
                let t = lua.create_table_with_capacity(0, 1)?;
                let v = lua.create_table_with_capacity(0, 2)?;
                v.raw_set("format", lua.create_string(&s[..3])?)?;
                v.raw_set("string", lua.create_string(&s[4..])?)?;
                t.raw_set("verbatim_string", v)?;
                Value::Table(t)
            } else {
                Value::String(lua.create_string(s)?)
            }
        }
        b'*' | b'>' => {
            let n = num(line(pos));
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 1..=n as usize {
                let v = resp_to_lua(lua, buf, pos)?;
                t.raw_seti(i, v)?;
            }
            Value::Table(t)
        }
        b'%' => {
            let n = num(line(pos)).max(0) as usize;
            let m = lua.create_table_with_capacity(0, n)?;
            for _ in 0..n {
                let k = resp_to_lua(lua, buf, pos)?;
                let v = resp_to_lua(lua, buf, pos)?;
                if !k.is_nil() {
                    m.raw_set(k, v)?;
                }
            }
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("map", m)?;
            Value::Table(t)
        }
        b'~' => {
            let n = num(line(pos)).max(0) as usize;
            let m = lua.create_table_with_capacity(0, n)?;
            for _ in 0..n {
                let k = resp_to_lua(lua, buf, pos)?;
                if !k.is_nil() {
                    m.raw_set(k, true)?;
                }
            }
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("set", m)?;
            Value::Table(t)
        }
        b'|' => {
            // Attributes are skipped, the value after them is the reply.
            let n = num(line(pos)).max(0) as usize;
            for _ in 0..2 * n {
                resp_to_lua(lua, buf, pos)?;
            }
            resp_to_lua(lua, buf, pos)?
        }
        b'_' => {
            line(pos);
            Value::Nil
        }
        b'#' => Value::Boolean(line(pos) == b"t"),
        b',' => {
            let s = line(pos);
            let d = std::str::from_utf8(s)
                .ok()
                .and_then(|s| match s {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => s.parse().ok(),
                })
                .unwrap_or(0.0);
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("double", d)?;
            Value::Table(t)
        }
        b'(' => {
            let s = line(pos);
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("big_number", lua.create_string(s)?)?;
            Value::Table(t)
        }
        _ => {
            line(pos);
            Value::Nil
        }
    })
}

/// Where the error replies written inside a script's reply are counted (INFO errorstats).
pub(crate) trait ErrorSink {
    fn error(&mut self, code: &str);
}

/// The first word of an error text, its errorstats code.
pub(crate) fn error_code(text: &[u8]) -> &str {
    let end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    std::str::from_utf8(&text[..end]).unwrap_or("ERR")
}

/// Writes an error reply: CR and LF become spaces, as Redis's addReplyErrorFormat makes them.
pub(crate) fn write_error(out: &mut Vec<u8>, text: &[u8]) {
    let t: Vec<u8> =
        text.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect();
    reply::error(out, &t);
}

fn table_str(t: &Table, key: &str) -> Option<mlua::String> {
    match t.raw_get::<Value>(key) {
        Ok(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Converts the value a script returned into the caller's reply (Redis's
/// luaReplyToRedisReply). Booleans follow the script's protocol (`redis.setresp`), the rest the
/// caller's. `next` is Lua's own (raw) `next`, to walk maps and sets one pair at a time.
pub(crate) fn lua_to_resp(
    out: &mut Vec<u8>,
    v: &Value,
    resp: Resp,
    script_resp: Resp,
    next: &Function,
    errs: &mut dyn ErrorSink,
) {
    let mut cx = Cx { resp, script_resp, errs };
    let mut stack = vec![Frame::Val(v.clone(), 0)];
    while let Some(f) = stack.pop() {
        match f {
            Frame::Val(v, depth) => one(out, &v, &mut cx, depth, &mut stack),
            Frame::Arr { t, i, n, depth } => {
                if i > n {
                    continue;
                }
                let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
                stack.push(Frame::Arr { t, i: i + 1, n, depth });
                one(out, &v, &mut cx, depth, &mut stack);
            }
            Frame::Map { t, key, set, depth } => {
                let Ok((k, v)) = next.call::<(Value, Value)>((t.clone(), key)) else {
                    continue;
                };
                if k.is_nil() {
                    continue;
                }
                stack.push(Frame::Map { t, key: k.clone(), set, depth });
                if !set {
                    stack.push(Frame::Val(v, depth));
                }
                one(out, &k, &mut cx, depth, &mut stack);
            }
        }
    }
}

/// Work left in a reply: a value, or the rest of an array or map, walked without holding its
/// elements (a table of a million entries holds no million Lua references).
enum Frame {
    Val(Value, usize),
    Arr { t: Table, i: usize, n: usize, depth: usize },
    Map { t: Table, key: Value, set: bool, depth: usize },
}

struct Cx<'a> {
    resp: Resp,
    script_resp: Resp,
    errs: &'a mut dyn ErrorSink,
}

fn number_reply(out: &mut Vec<u8>, n: f64) {
    // C's (long long) cast: truncation toward zero; out of range (and NaN) gives the x86
    // result, i64::MIN, as redis-server replies.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let v = if (-LIMIT..LIMIT).contains(&n) { n as i64 } else { i64::MIN };
    reply::integer(out, v);
}

fn table_len(t: &Table) -> usize {
    let mut n = 0;
    let _ = t.for_each::<Value, Value>(|_, _| {
        n += 1;
        Ok(())
    });
    n
}

/// Writes one value; a collection's elements are left on `stack` as a frame.
fn one(out: &mut Vec<u8>, v: &Value, cx: &mut Cx<'_>, depth: usize, stack: &mut Vec<Frame>) {
    let resp = cx.resp;
    match v {
        Value::String(s) => reply::bulk(out, &s.as_bytes()),
        Value::Boolean(b) => {
            if cx.script_resp == Resp::V2 {
                if *b {
                    reply::integer(out, 1);
                } else {
                    reply::null(out, resp);
                }
            } else {
                reply::boolean(out, *b, resp);
            }
        }
        Value::Integer(n) => reply::integer(out, *n),
        Value::Number(n) => number_reply(out, *n),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                reply::error(out, b"ERR reached lua stack limit");
                cx.errs.error("ERR");
                return;
            }
            if let Some(e) = table_str(t, "err") {
                let text = e.as_bytes().to_vec();
                write_error(out, &text);
                if !matches!(
                    t.raw_get::<Value>("ignore_error_stats_update"),
                    Ok(Value::Boolean(true))
                ) {
                    cx.errs.error(error_code(&text));
                }
                return;
            }
            if let Some(s) = table_str(t, "ok") {
                let text: Vec<u8> = s
                    .as_bytes()
                    .iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                    .collect();
                out.push(b'+');
                out.extend_from_slice(&text);
                out.extend_from_slice(b"\r\n");
                return;
            }
            match t.raw_get::<Value>("double") {
                Ok(Value::Number(d)) => return reply::double(out, d, resp),
                Ok(Value::Integer(d)) => return reply::double(out, d as f64, resp),
                _ => {}
            }
            if let Some(s) = table_str(t, "big_number") {
                // CR and LF become spaces, as Redis's addReplyBigNum leaves no line break in.
                let s: Vec<u8> = s
                    .as_bytes()
                    .iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                    .collect();
                if resp == Resp::V2 {
                    reply::bulk(out, &s);
                } else {
                    out.push(b'(');
                    out.extend_from_slice(&s);
                    out.extend_from_slice(b"\r\n");
                }
                return;
            }
            if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
                reply::map(out, table_len(&m), resp);
                stack.push(Frame::Map { t: m, key: Value::Nil, set: false, depth: depth + 1 });
                return;
            }
            if let Ok(Value::Table(m)) = t.raw_get::<Value>("set") {
                reply::set(out, table_len(&m), resp);
                stack.push(Frame::Map { t: m, key: Value::Nil, set: true, depth: depth + 1 });
                return;
            }
            if let Ok(Value::Table(vs)) = t.raw_get::<Value>("verbatim_string") {
                if let (Some(f), Some(s)) = (table_str(&vs, "format"), table_str(&vs, "string")) {
                    let f = f.as_bytes().to_vec();
                    let s = s.as_bytes().to_vec();
                    if resp == Resp::V2 {
                        reply::bulk(out, &s);
                    } else {
                        let mut text = f;
                        text.push(b':');
                        text.extend_from_slice(&s);
                        out.push(b'=');
                        out.extend_from_slice(text.len().to_string().as_bytes());
                        out.extend_from_slice(b"\r\n");
                        out.extend_from_slice(&text);
                        out.extend_from_slice(b"\r\n");
                    }
                    return;
                }
            }
            // An array: elements 1.. up to the first nil.
            let mut n = 0;
            while !matches!(t.raw_get::<Value>(n + 1), Ok(Value::Nil) | Err(_)) {
                n += 1;
            }
            reply::array(out, n);
            stack.push(Frame::Arr { t: t.clone(), i: 1, n, depth: depth + 1 });
        }
        _ => reply::null(out, resp),
    }
}
