//! The libraries Redis 7.0 bundles with its Lua: `bit` (LuaBitOp), `cjson` (lua-cjson 2.1),
//! `cmsgpack` (lua-cmsgpack 0.4), written here in Rust to their C originals' behaviour — the
//! same encodings byte for byte, table iteration in Lua's own `next` order, the same error
//! texts — since no crate offers them as Lua 5.1 modules; and `struct` (Roberto Ierusalimschy's
//! struct 0.2: pack, unpack, size).

use std::cell::Cell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

/// A Lua-style argument error ("bad argument #1 to 'band' (number expected, got no value)").
fn bad_arg<T>(n: usize, fname: &str, msg: &str) -> mlua::Result<T> {
    Err(mlua::Error::runtime(format!("bad argument #{} to '{}' ({})", n, fname, msg)))
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::LightUserData(_)) => "userdata",
        Some(v) => v.type_name(),
    }
}

/// `luaL_checknumber`: a number, or a string that converts to one.
fn check_num(args: &MultiValue, i: usize, fname: &str) -> mlua::Result<f64> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => {
            match s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
                Some(n) => Ok(n),
                None => bad_arg(i + 1, fname, "number expected, got string"),
            }
        }
        other => bad_arg(i + 1, fname, &format!("number expected, got {}", type_name(other))),
    }
}

// ---------------------------------------------------------------------------------------
// bit

/// LuaBitOp's normalisation of a number to a 32-bit integer (the 2^52+2^51 trick).
fn tobit(n: f64) -> i32 {
    let b = n + 6_755_399_441_055_744.0;
    b.to_bits() as u32 as i32
}

pub(crate) fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&str, Fold); 3] =
        [("band", |a, b| a & b), ("bor", |a, b| a | b), ("bxor", |a, b| a ^ b)];
    for (name, f) in folds {
        t.raw_set(
            name,
            lua.create_function(move |_, args: MultiValue| {
                let mut acc = tobit(check_num(&args, 0, name)?);
                for i in 1..args.len() {
                    acc = f(acc, tobit(check_num(&args, i, name)?));
                }
                Ok(acc as f64)
            })?,
        )?;
    }
    t.raw_set(
        "tobit",
        lua.create_function(|_, args: MultiValue| Ok(tobit(check_num(&args, 0, "tobit")?) as f64))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, args: MultiValue| Ok(!tobit(check_num(&args, 0, "bnot")?) as f64))?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, args: MultiValue| {
            Ok(tobit(check_num(&args, 0, "bswap")?).swap_bytes() as f64)
        })?,
    )?;
    type Shift = fn(i32, u32) -> i32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |a, n| ((a as u32) << n) as i32),
        ("rshift", |a, n| ((a as u32) >> n) as i32),
        ("arshift", |a, n| a >> n),
        ("rol", |a, n| (a as u32).rotate_left(n) as i32),
        ("ror", |a, n| (a as u32).rotate_right(n) as i32),
    ];
    for (name, f) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |_, args: MultiValue| {
                let a = tobit(check_num(&args, 0, name)?);
                let n = (tobit(check_num(&args, 1, name)?) & 31) as u32;
                Ok(f(a, n) as f64)
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: MultiValue| {
            let b = tobit(check_num(&args, 0, "tohex")?) as u32;
            let mut n = if args.len() > 1 { tobit(check_num(&args, 1, "tohex")?) } else { 8 };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.min(8) as usize;
            let full = if upper { format!("{:08X}", b) } else { format!("{:08x}", b) };
            lua.create_string(&full[8 - n..])
        })?,
    )?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// cjson

/// The deepest nesting cjson walks whatever its max-depth settings say: each level holds a Lua
/// reference, and mlua's references share one 8000-slot stack (past it, mlua panics).
const JSON_DEPTH_CAP: i64 = 1000;

/// lua-cjson's configuration (global to the VM, as in Redis: not reset between scripts).
struct JsonCfg {
    sparse_convert: Cell<bool>,
    sparse_ratio: Cell<i64>,
    sparse_safe: Cell<i64>,
    encode_max_depth: Cell<i64>,
    decode_max_depth: Cell<i64>,
    precision: Cell<i64>,
    keep_buffer: Cell<bool>,
    encode_invalid: Cell<u8>,
    decode_invalid: Cell<bool>,
}

impl Default for JsonCfg {
    fn default() -> JsonCfg {
        JsonCfg {
            sparse_convert: Cell::new(false),
            sparse_ratio: Cell::new(2),
            sparse_safe: Cell::new(10),
            encode_max_depth: Cell::new(1000),
            decode_max_depth: Cell::new(1000),
            precision: Cell::new(14),
            keep_buffer: Cell::new(true),
            encode_invalid: Cell::new(0),
            decode_invalid: Cell::new(true),
        }
    }
}

/// `%.<prec>g` as C prints it.
fn fmt_g(n: f64, prec: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let prec = prec.max(1);
    let e = format!("{:.*e}", prec - 1, n);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let m = if mant.contains('.') {
            mant.trim_end_matches('0').trim_end_matches('.')
        } else {
            mant
        };
        format!("{}e{}{:02}", m, if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, n);
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    }
}

fn json_escape(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

fn json_err<T>(what: &str, msg: &str) -> mlua::Result<T> {
    Err(mlua::Error::runtime(format!("Cannot serialise {}: {}", what, msg)))
}

fn num_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// lua_array_length: the array length, or None for an object.
fn json_array_len(cfg: &JsonCfg, t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match num_of(&k) {
            Some(n) if n >= 1.0 && n == n.floor() => {
                max = max.max(n as usize);
                items += 1;
            }
            _ => return Ok(None),
        }
    }
    let (ratio, safe) = (cfg.sparse_ratio.get(), cfg.sparse_safe.get());
    if ratio > 0 && max > items * ratio as usize && max > safe as usize {
        if !cfg.sparse_convert.get() {
            return json_err("table", "excessively sparse array");
        }
        return Ok(None);
    }
    Ok(Some(max))
}

fn json_number(cfg: &JsonCfg, out: &mut Vec<u8>, n: f64) -> mlua::Result<()> {
    if n.is_nan() || n.is_infinite() {
        match cfg.encode_invalid.get() {
            0 => return json_err("number", "must not be NaN or Inf"),
            2 => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
    }
    out.extend_from_slice(fmt_g(n, cfg.precision.get() as usize).as_bytes());
    Ok(())
}

fn json_encode(cfg: &JsonCfg, out: &mut Vec<u8>, v: &Value, depth: i64) -> mlua::Result<()> {
    match v {
        Value::String(s) => json_escape(out, &s.as_bytes()),
        Value::Integer(n) => json_number(cfg, out, *n as f64)?,
        Value::Number(n) => json_number(cfg, out, *n)?,
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth.get().min(JSON_DEPTH_CAP) {
                return Err(mlua::Error::runtime(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth
                )));
            }
            match json_array_len(cfg, t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        json_encode(cfg, out, &t.raw_get::<Value>(i)?, depth)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => json_escape(out, &s.as_bytes()),
                            Value::Integer(_) | Value::Number(_) => {
                                out.push(b'"');
                                json_number(cfg, out, num_of(&k).unwrap_or(0.0))?;
                                out.push(b'"');
                            }
                            other => {
                                return json_err(
                                    type_name(Some(other)),
                                    "table key must be a number or string",
                                );
                            }
                        }
                        out.push(b':');
                        json_encode(cfg, out, &val, depth)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return json_err(type_name(Some(other)), "type not supported"),
    }
    Ok(())
}

struct JsonParser<'a> {
    s: &'a [u8],
    pos: usize,
    cfg: &'a JsonCfg,
    depth: i64,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    /// The name lua-cjson gives the token at the current position, for error messages.
    fn token_name(&self) -> &'static str {
        match self.s.get(self.pos) {
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b'"') => "T_STRING",
            Some(b':') => "T_COLON",
            Some(b',') => "T_COMMA",
            Some(b'-' | b'0'..=b'9') => "T_NUMBER",
            Some(b't' | b'f') => "T_BOOLEAN",
            Some(b'n') => "T_NULL",
            _ => "invalid token",
        }
    }

    fn fail<T>(&self, expected: &str) -> mlua::Result<T> {
        Err(mlua::Error::runtime(format!(
            "Expected {} but found {} at character {}",
            expected,
            self.token_name(),
            self.pos + 1
        )))
    }

    fn enter(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > self.cfg.decode_max_depth.get().min(JSON_DEPTH_CAP) {
            return Err(mlua::Error::runtime(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                self.pos + 1
            )));
        }
        Ok(())
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        self.ws();
        let Some(&c) = self.s.get(self.pos) else {
            return self.fail("value");
        };
        match c {
            b'{' => {
                self.enter()?;
                self.pos += 1;
                let t = lua.create_table()?;
                self.ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.ws();
                    if self.s.get(self.pos) != Some(&b'"') {
                        return self.fail("object key string");
                    }
                    let k = self.string(lua)?;
                    self.ws();
                    if self.s.get(self.pos) != Some(&b':') {
                        return self.fail("colon");
                    }
                    self.pos += 1;
                    let v = self.value(lua)?;
                    t.raw_set(k, v)?;
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return self.fail("comma or object end"),
                    }
                }
                self.depth -= 1;
                Ok(Value::Table(t))
            }
            b'[' => {
                self.enter()?;
                self.pos += 1;
                let t = lua.create_table()?;
                self.ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value(lua)?;
                    t.raw_seti(i, v)?;
                    i += 1;
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return self.fail("comma or array end"),
                    }
                }
                self.depth -= 1;
                Ok(Value::Table(t))
            }
            b'"' => Ok(Value::String(self.string(lua)?)),
            b't' if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            b'f' if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            b'n' if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(Value::LightUserData(LightUserData(std::ptr::null_mut())))
            }
            b'-' | b'0'..=b'9' | b'I' | b'N' | b'i' | b'n' => {
                let start = self.pos;
                while self.pos < self.s.len()
                    && matches!(self.s[self.pos], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9' | b'x' | b'X' | b'a'..=b'd' | b'f' | b'A'..=b'D' | b'F' | b'i' | b'n' | b'I' | b'N')
                {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                let n = match text.to_ascii_lowercase().as_str() {
                    "inf" | "infinity" if self.cfg.decode_invalid.get() => Some(f64::INFINITY),
                    "-inf" | "-infinity" if self.cfg.decode_invalid.get() => {
                        Some(f64::NEG_INFINITY)
                    }
                    "nan" | "-nan" if self.cfg.decode_invalid.get() => Some(f64::NAN),
                    t => t.parse::<f64>().ok(),
                };
                match n {
                    Some(n) => Ok(Value::Number(n)),
                    None => {
                        self.pos = start;
                        Err(mlua::Error::runtime(format!(
                            "Expected value but found invalid number at character {}",
                            start + 1
                        )))
                    }
                }
            }
            _ => self.fail("value"),
        }
    }

    fn string(&mut self, lua: &Lua) -> mlua::Result<mlua::String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                self.pos = start;
                return Err(mlua::Error::runtime(format!(
                    "Expected value but found invalid token at character {}",
                    start + 1
                )));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.s.get(self.pos).copied().unwrap_or(0);
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = |p: usize| -> Option<u32> {
                                let h = self.s.get(p..p + 4)?;
                                u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
                            };
                            let Some(mut cp) = hex(self.pos) else {
                                return Err(mlua::Error::runtime(format!(
                                    "Expected value but found invalid unicode escape code at character {}",
                                    start + 1
                                )));
                            };
                            self.pos += 4;
                            if (0xd800..0xdc00).contains(&cp)
                                && self.s.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                if let Some(lo) =
                                    hex(self.pos + 2).filter(|l| (0xdc00..0xe000).contains(l))
                                {
                                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                    self.pos += 6;
                                }
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            return Err(mlua::Error::runtime(format!(
                                "Expected value but found invalid escape code at character {}",
                                start + 1
                            )));
                        }
                    }
                }
                c => out.push(c),
            }
        }
        lua.create_string(&out)
    }
}

fn cfg_int(
    args: &MultiValue,
    i: usize,
    fname: &str,
    min: i64,
    max: i64,
) -> mlua::Result<Option<i64>> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(None),
        _ => {
            let n = check_num(args, i, fname)? as i64;
            if n < min || n > max {
                return bad_arg(
                    i + 1,
                    fname,
                    &format!("expected integer between {} and {}", min, max),
                );
            }
            Ok(Some(n))
        }
    }
}

fn cfg_bool(args: &MultiValue, i: usize, fname: &str) -> mlua::Result<Option<bool>> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.as_bytes().as_ref() == b"on" => Ok(Some(true)),
        Some(Value::String(s)) if s.as_bytes().as_ref() == b"off" => Ok(Some(false)),
        _ => bad_arg(i + 1, fname, "invalid option"),
    }
}

pub(crate) fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let cfg = Rc::new(JsonCfg::default());
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return bad_arg(1, "encode", "expected 1 argument");
            }
            let mut out = Vec::new();
            json_encode(&c, &mut out, &args[0], 0)?;
            lua.create_string(&out)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return bad_arg(1, "decode", "expected 1 argument");
            }
            let Value::String(s) = &args[0] else {
                return bad_arg(
                    1,
                    "decode",
                    &format!("string expected, got {}", type_name(args.front())),
                );
            };
            let bytes = s.as_bytes().to_vec();
            let mut p = JsonParser { s: &bytes, pos: 0, cfg: &c, depth: 0 };
            let v = p.value(lua)?;
            p.ws();
            if p.pos < bytes.len() {
                return p.fail("the end");
            }
            Ok(v)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |_, args: MultiValue| {
            if let Some(b) = cfg_bool(&args, 0, "encode_sparse_array")? {
                c.sparse_convert.set(b);
            }
            if let Some(n) = cfg_int(&args, 1, "encode_sparse_array", 0, i32::MAX as i64)? {
                c.sparse_ratio.set(n);
            }
            if let Some(n) = cfg_int(&args, 2, "encode_sparse_array", 0, i32::MAX as i64)? {
                c.sparse_safe.set(n);
            }
            Ok((c.sparse_convert.get(), c.sparse_ratio.get(), c.sparse_safe.get()))
        })?,
    )?;
    for (name, which) in
        [("encode_max_depth", 0), ("decode_max_depth", 1), ("encode_number_precision", 2)]
    {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |_, args: MultiValue| {
                let (cell, max) = match which {
                    0 => (&c.encode_max_depth, i32::MAX as i64),
                    1 => (&c.decode_max_depth, i32::MAX as i64),
                    _ => (&c.precision, 14),
                };
                if let Some(n) = cfg_int(&args, 0, name, 1, max)? {
                    cell.set(n);
                }
                Ok(cell.get())
            })?,
        )?;
    }
    let c = cfg.clone();
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(move |_, args: MultiValue| {
            if let Some(b) = cfg_bool(&args, 0, "encode_keep_buffer")? {
                c.keep_buffer.set(b);
            }
            Ok(c.keep_buffer.get())
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            match args.front() {
                Some(Value::String(s)) if s.as_bytes().as_ref() == b"null" => {
                    c.encode_invalid.set(2)
                }
                _ => {
                    if let Some(b) = cfg_bool(&args, 0, "encode_invalid_numbers")? {
                        c.encode_invalid.set(b as u8);
                    }
                }
            }
            Ok(match c.encode_invalid.get() {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => Value::String(lua.create_string("null")?),
            })
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode_invalid_numbers",
        lua.create_function(move |_, args: MultiValue| {
            if let Some(b) = cfg_bool(&args, 0, "decode_invalid_numbers")? {
                c.decode_invalid.set(b);
            }
            Ok(c.decode_invalid.get())
        })?,
    )?;
    t.raw_set("null", Value::LightUserData(LightUserData(std::ptr::null_mut())))?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    t.raw_set("new", lua.create_function(|lua, ()| cjson(lua))?)?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// cmsgpack

const MSGPACK_MAX_NESTING: usize = 16;

fn mp_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn mp_number(out: &mut Vec<u8>, n: f64) {
    if n.is_finite() && n == (n as i64) as f64 {
        mp_int(out, n as i64);
    } else if n == (n as f32) as f64 || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn mp_len(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, b16: u8, b32: u8) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn mp_encode(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            let len = b.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.extend_from_slice(&[0xd9, len as u8]);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => mp_int(out, *n),
        Value::Number(n) => mp_number(out, *n),
        Value::Table(t) if level < MSGPACK_MAX_NESTING => {
            // An array when every key is an integer >= 1 and they are 1..n with no hole.
            let (mut max, mut count, mut is_array) = (0usize, 0usize, true);
            for pair in t.pairs::<Value, Value>() {
                let (k, _) = pair?;
                match num_of(&k) {
                    Some(n) if n >= 1.0 && n == n.floor() => {
                        max = max.max(n as usize);
                        count += 1;
                    }
                    _ => {
                        is_array = false;
                        break;
                    }
                }
            }
            if is_array && max == count {
                mp_len(out, max, 0x90, 15, 0xdc, 0xdd);
                for i in 1..=max {
                    mp_encode(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            } else {
                let mut len = 0;
                t.for_each::<Value, Value>(|_, _| {
                    len += 1;
                    Ok(())
                })?;
                mp_len(out, len, 0x80, 15, 0xde, 0xdf);
                t.for_each::<Value, Value>(|k, val| {
                    mp_encode(out, &k, level + 1)?;
                    mp_encode(out, &val, level + 1)
                })?;
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

struct MpDecoder<'a> {
    s: &'a [u8],
    pos: usize,
}

impl MpDecoder<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        if self.pos + n > self.s.len() {
            return Err(mlua::Error::runtime("Missing bytes in input."));
        }
        let b = &self.s[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn be(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &b| (a << 8) | b as u64))
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let c = self.take(1)?[0];
        Ok(match c {
            0x00..=0x7f => Value::Number(c as f64),
            0xe0..=0xff => Value::Number(c as i8 as f64),
            0xa0..=0xbf => self.bytes(lua, (c & 0x1f) as usize)?,
            0x90..=0x9f => self.array(lua, (c & 0x0f) as usize)?,
            0x80..=0x8f => self.map(lua, (c & 0x0f) as usize)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xca => Value::Number(f32::from_bits(self.be(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.be(8)?)),
            0xcc => Value::Number(self.be(1)? as f64),
            0xcd => Value::Number(self.be(2)? as f64),
            0xce => Value::Number(self.be(4)? as f64),
            0xcf => Value::Number(self.be(8)? as f64),
            0xd0 => Value::Number(self.be(1)? as u8 as i8 as f64),
            0xd1 => Value::Number(self.be(2)? as u16 as i16 as f64),
            0xd2 => Value::Number(self.be(4)? as u32 as i32 as f64),
            0xd3 => Value::Number(self.be(8)? as i64 as f64),
            0xc4 | 0xd9 => {
                let n = self.be(1)? as usize;
                self.bytes(lua, n)?
            }
            0xc5 | 0xda => {
                let n = self.be(2)? as usize;
                self.bytes(lua, n)?
            }
            0xc6 | 0xdb => {
                let n = self.be(4)? as usize;
                self.bytes(lua, n)?
            }
            0xdc => {
                let n = self.be(2)? as usize;
                self.array(lua, n)?
            }
            0xdd => {
                let n = self.be(4)? as usize;
                self.array(lua, n)?
            }
            0xde => {
                let n = self.be(2)? as usize;
                self.map(lua, n)?
            }
            0xdf => {
                let n = self.be(4)? as usize;
                self.map(lua, n)?
            }
            _ => return Err(mlua::Error::runtime("Bad data format in input.")),
        })
    }

    fn bytes(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let b = self.take(n)?.to_vec();
        Ok(Value::String(lua.create_string(&b)?))
    }

    fn array(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table_with_capacity(n.min(1 << 16), 0)?;
        for i in 1..=n {
            let v = self.value(lua)?;
            t.raw_seti(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table_with_capacity(0, n.min(1 << 16))?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            if !k.is_nil() {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}

/// Decodes up to `limit` objects (0: all) from `offset`; returns the next offset (-1 at the
/// end) and the objects.
fn mp_unpack(lua: &Lua, s: &[u8], limit: usize, offset: usize) -> mlua::Result<(i64, Vec<Value>)> {
    let mut d = MpDecoder { s, pos: offset.min(s.len()) };
    let mut out = Vec::new();
    while d.pos < s.len() && (limit == 0 || out.len() < limit) {
        out.push(d.value(lua)?);
    }
    let next = if d.pos >= s.len() { -1 } else { d.pos as i64 };
    Ok((next, out))
}

pub(crate) fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                mp_encode(&mut out, a, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let (_, vals) = mp_unpack(lua, &s.as_bytes(), 0, 0)?;
            Ok(MultiValue::from_iter(vals))
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::String, Option<i64>)| {
            let (next, vals) =
                mp_unpack(lua, &s.as_bytes(), 1, offset.unwrap_or(0).max(0) as usize)?;
            let mut m = MultiValue::from_iter([Value::Integer(next)]);
            m.extend(vals);
            Ok(m)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, offset): (mlua::String, Option<i64>, Option<i64>)| {
                let limit = limit.unwrap_or(0).max(0) as usize;
                let (next, vals) =
                    mp_unpack(lua, &s.as_bytes(), limit, offset.unwrap_or(0).max(0) as usize)?;
                let mut m = MultiValue::from_iter([Value::Integer(next)]);
                m.extend(vals);
                Ok(m)
            },
        )?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// struct

/// One parsed option of a `struct` format.
struct StructOpt {
    opt: u8,
    size: usize,
}

/// A format's reader: endianness and alignment as `>`, `<`, `!` set them.
struct StructFmt<'a> {
    fname: &'static str,
    f: &'a [u8],
    i: usize,
    little: bool,
    align: usize,
}

impl StructFmt<'_> {
    fn new<'a>(f: &'a [u8], fname: &'static str) -> StructFmt<'a> {
        StructFmt { fname, f, i: 0, little: cfg!(target_endian = "little"), align: 1 }
    }

    fn num(&mut self, default: usize) -> usize {
        let start = self.i;
        while self.i < self.f.len() && self.f[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i == start {
            return default;
        }
        std::str::from_utf8(&self.f[start..self.i])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }

    /// The next option that takes room or a value; None at the end.
    fn next(&mut self) -> mlua::Result<Option<StructOpt>> {
        while self.i < self.f.len() {
            let opt = self.f[self.i];
            self.i += 1;
            let size = match opt {
                b' ' => continue,
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'!' => {
                    self.align = self.num(8);
                    continue;
                }
                b'x' | b'b' | b'B' => 1,
                b'h' | b'H' => 2,
                b'l' | b'L' | b'T' | b'd' => 8,
                b'f' => 4,
                b'i' | b'I' => {
                    let n = self.num(4);
                    if n > 8 {
                        return Err(mlua::Error::runtime(format!(
                            "integral size {} is larger than limit of 8",
                            n
                        )));
                    }
                    n
                }
                b'c' => self.num(1),
                b's' => 0,
                other => {
                    return bad_arg(
                        1,
                        self.fname,
                        &format!("invalid format option '{}'", other as char),
                    );
                }
            };
            return Ok(Some(StructOpt { opt, size }));
        }
        Ok(None)
    }

    /// Padding before an option of `size` at `pos`.
    fn gap(&self, opt: u8, size: usize, pos: usize) -> usize {
        if matches!(opt, b'c' | b's' | b'x') || size <= 1 || self.align <= 1 {
            return 0;
        }
        let a = size.min(self.align);
        (a - (pos & (a - 1))) & (a - 1)
    }
}

fn put_int(out: &mut Vec<u8>, v: u64, size: usize, little: bool) {
    let bytes = v.to_le_bytes();
    if little {
        out.extend_from_slice(&bytes[..size]);
    } else {
        out.extend(bytes[..size].iter().rev());
    }
}

pub(crate) fn structlib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            let Some(Value::String(fmt)) = args.front() else {
                return bad_arg(
                    1,
                    "pack",
                    &format!("string expected, got {}", type_name(args.front())),
                );
            };
            let fmt = fmt.as_bytes().to_vec();
            let mut f = StructFmt::new(&fmt, "pack");
            let mut out = Vec::new();
            let mut arg = 1;
            while let Some(o) = f.next()? {
                let pad = f.gap(o.opt, o.size, out.len());
                out.extend(std::iter::repeat_n(0u8, pad));
                match o.opt {
                    b'x' => out.push(0),
                    b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                        let n = check_num(&args, arg, "pack")?;
                        arg += 1;
                        let v = if n < 0.0 { (n as i64) as u64 } else { n as u64 };
                        put_int(&mut out, v, o.size, f.little);
                    }
                    b'f' => {
                        let n = check_num(&args, arg, "pack")? as f32;
                        arg += 1;
                        put_int(&mut out, n.to_bits() as u64, 4, f.little);
                    }
                    b'd' => {
                        let n = check_num(&args, arg, "pack")?;
                        arg += 1;
                        put_int(&mut out, n.to_bits(), 8, f.little);
                    }
                    b'c' | b's' => {
                        let s = match args.get(arg) {
                            Some(Value::String(s)) => s.as_bytes().to_vec(),
                            Some(Value::Integer(n)) => n.to_string().into_bytes(),
                            Some(Value::Number(n)) => super::lua_number_text(*n).into_bytes(),
                            other => {
                                return bad_arg(
                                    arg + 1,
                                    "pack",
                                    &format!("string expected, got {}", type_name(other)),
                                );
                            }
                        };
                        arg += 1;
                        if o.opt == b's' {
                            out.extend_from_slice(&s);
                            out.push(0);
                        } else {
                            let size = if o.size == 0 { s.len() } else { o.size };
                            if s.len() < size {
                                return bad_arg(arg, "pack", "string too short");
                            }
                            out.extend_from_slice(&s[..size]);
                        }
                    }
                    _ => {}
                }
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let (Some(Value::String(fmt)), Some(Value::String(data))) = (args.front(), args.get(1))
            else {
                let (n, v) = if matches!(args.front(), Some(Value::String(_))) {
                    (2, args.get(1))
                } else {
                    (1, args.front())
                };
                return bad_arg(n, "unpack", &format!("string expected, got {}", type_name(v)));
            };
            let fmt = fmt.as_bytes().to_vec();
            let data = data.as_bytes().to_vec();
            let init = if args.len() > 2 { check_num(&args, 2, "unpack")? as i64 } else { 1 };
            if init < 1 {
                return bad_arg(3, "unpack", "offset must be 1 or greater");
            }
            let mut pos = (init - 1) as usize;
            let mut f = StructFmt::new(&fmt, "unpack");
            let mut out = MultiValue::new();
            let mut last_num: Option<f64> = None;
            while let Some(o) = f.next()? {
                pos += f.gap(o.opt, o.size, pos);
                let need = |size: usize| -> mlua::Result<()> {
                    if pos + size > data.len() {
                        return bad_arg(2, "unpack", "data string too short");
                    }
                    Ok(())
                };
                match o.opt {
                    b'x' => {
                        pos += 1;
                        continue;
                    }
                    b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                        need(o.size)?;
                        let b = &data[pos..pos + o.size];
                        let mut v: u64 = 0;
                        if f.little {
                            for &x in b.iter().rev() {
                                v = (v << 8) | x as u64;
                            }
                        } else {
                            for &x in b {
                                v = (v << 8) | x as u64;
                            }
                        }
                        let n = if o.opt.is_ascii_lowercase() && o.size < 8 {
                            let shift = 64 - 8 * o.size as u32;
                            (((v << shift) as i64) >> shift) as f64
                        } else if o.opt.is_ascii_lowercase() {
                            v as i64 as f64
                        } else {
                            v as f64
                        };
                        pos += o.size;
                        last_num = Some(n);
                        out.push_back(Value::Number(n));
                    }
                    b'f' | b'd' => {
                        need(o.size)?;
                        let mut b = data[pos..pos + o.size].to_vec();
                        if !f.little {
                            b.reverse();
                        }
                        let n = if o.opt == b'f' {
                            f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64
                        } else {
                            f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
                        };
                        pos += o.size;
                        last_num = Some(n);
                        out.push_back(Value::Number(n));
                    }
                    b'c' => {
                        let mut size = o.size;
                        if size == 0 {
                            let Some(n) = last_num.take() else {
                                return Err(mlua::Error::runtime(
                                    "format 'c0' needs a previous size",
                                ));
                            };
                            out.pop_back();
                            size = n as usize;
                        }
                        need(size)?;
                        out.push_back(Value::String(lua.create_string(&data[pos..pos + size])?));
                        pos += size;
                    }
                    b's' => {
                        let Some(end) = data[pos.min(data.len())..].iter().position(|&b| b == 0)
                        else {
                            return Err(mlua::Error::runtime("unfinished string in data"));
                        };
                        out.push_back(Value::String(lua.create_string(&data[pos..pos + end])?));
                        pos += end + 1;
                    }
                    _ => {}
                }
            }
            out.push_back(Value::Number((pos + 1) as f64));
            Ok(out)
        })?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|_, fmt: mlua::String| {
            let fmt = fmt.as_bytes().to_vec();
            let mut f = StructFmt::new(&fmt, "size");
            let mut pos = 0usize;
            while let Some(o) = f.next()? {
                if o.opt == b's' || (o.opt == b'c' && o.size == 0) {
                    let what = format!("option '{}' has no fixed size", o.opt as char);
                    return bad_arg(1, "size", &what);
                }
                pos += f.gap(o.opt, o.size, pos) + o.size;
            }
            Ok(pos as f64)
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_g_is_cs_percent_g() {
        assert_eq!(fmt_g(100.0, 14), "100");
        assert_eq!(fmt_g(0.0003, 14), "0.0003");
        assert_eq!(fmt_g(1023.2, 14), "1023.2");
        assert_eq!(fmt_g(-5000.0, 14), "-5000");
        assert_eq!(fmt_g(1e20, 14), "1e+20");
        assert_eq!(fmt_g(0.1, 14), "0.1");
    }

    #[test]
    fn bit_normalises_as_luabitop() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(2147483648.0), i32::MIN);
        assert_eq!(tobit(1.0), 1);
    }

    #[test]
    fn msgpack_numbers() {
        let mut out = Vec::new();
        mp_number(&mut out, 0.1);
        assert_eq!(out, [0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]);
        out.clear();
        mp_number(&mut out, -1099511627776.0);
        assert_eq!(out, [0xd3, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00]);
    }
}
