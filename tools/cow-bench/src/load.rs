//! The data set: how many keys of each type, their names, and loading them into a server
//! (DEBUG POPULATE for strings where the server allows it, pipelined commands otherwise), with
//! a carriage-return progress line on stderr.

use std::io::Write;
use std::time::Instant;

use super::resp::{Conn, Reply};

/// The value types, in key-index order.
pub const TYPES: [&str; 5] = ["string", "hash", "list", "set", "zset"];

/// Key name prefixes, by type. `DEBUG POPULATE n key` makes `key:0` .. `key:<n-1>`.
const PREFIX: [&str; 5] = ["key", "hash", "list", "set", "zset"];

/// How many keys of each type, and how big.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Keys per type, in `TYPES` order. Global key index `g` belongs to the first type whose
    /// cumulative count exceeds it.
    pub counts: [u64; 5],
    /// Bytes of each string value and of each collection element.
    pub value_size: usize,
    /// Elements of each hash, list, set and sorted set.
    pub elements: u64,
    /// A time to live (seconds) given to every key after loading; 0 for none.
    pub ttl: u64,
}

impl Layout {
    /// `keys` split by `mix` weights (`string=70,hash=10,...`).
    pub fn new(keys: u64, mix: &[u64; 5], value_size: usize, elements: u64) -> Layout {
        let total: u64 = mix.iter().sum::<u64>().max(1);
        let mut counts = [0u64; 5];
        for i in 1..5 {
            counts[i] = keys * mix[i] / total;
        }
        counts[0] = keys - counts[1..].iter().sum::<u64>();
        Layout { counts, value_size, elements: elements.max(1), ttl: 0 }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// (type index, index within the type) of global key index `g`.
    pub fn locate(&self, mut g: u64) -> (usize, u64) {
        for (t, &c) in self.counts.iter().enumerate() {
            if g < c {
                return (t, g);
            }
            g -= c;
        }
        (0, g % self.counts[0].max(1))
    }

    pub fn key(t: usize, i: u64) -> String {
        format!("{}:{}", PREFIX[t], i)
    }

    /// Parses `string=70,hash=10,list=10,set=5,zset=5` (missing types weigh 0).
    pub fn parse_mix(s: &str) -> Result<[u64; 5], String> {
        let mut mix = [0u64; 5];
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (name, w) = part.split_once('=').unwrap_or((part, "1"));
            let t = TYPES
                .iter()
                .position(|&n| n == name || (name == "strings" && n == "string"))
                .ok_or_else(|| {
                format!("unknown type {:?} in --mix (types: {:?})", name, TYPES)
            })?;
            mix[t] = w.parse().map_err(|_| format!("bad weight {:?} in --mix", w))?;
        }
        if mix.iter().sum::<u64>() == 0 {
            return Err("--mix gives every type weight 0".into());
        }
        Ok(mix)
    }
}

/// A value of `size` bytes whose first bytes spell `seed` (so values differ).
pub fn value(size: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![b'v'; size];
    let s = format!("{:x}", seed);
    let n = s.len().min(size);
    v[..n].copy_from_slice(&s.as_bytes()[..n]);
    v
}

/// A progress line on stderr, redrawn in place.
pub struct Progress {
    what: String,
    total: u64,
    started: Instant,
    last: Instant,
    quiet: bool,
}

impl Progress {
    pub fn new(what: &str, total: u64, quiet: bool) -> Progress {
        let p = Progress {
            what: what.to_string(),
            total,
            started: Instant::now(),
            last: Instant::now(),
            quiet,
        };
        p.draw(0);
        p
    }

    pub fn update(&mut self, done: u64) {
        if self.last.elapsed().as_millis() >= 200 {
            self.last = Instant::now();
            self.draw(done);
        }
    }

    fn draw(&self, done: u64) {
        if self.quiet {
            return;
        }
        let pct = if self.total > 0 { done * 100 / self.total } else { 100 };
        let width = 30usize;
        let filled = (pct as usize * width / 100).min(width);
        eprint!(
            "\r{} [{}{}] {:>3}% {}/{} keys, {:.1} s ",
            self.what,
            "#".repeat(filled),
            " ".repeat(width - filled),
            pct,
            done,
            self.total,
            self.started.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
    }

    pub fn finish(self, done: u64) {
        self.draw(done);
        if !self.quiet {
            eprintln!();
        }
    }
}

/// Loads `layout` into the server (database 0, which the caller has emptied or not).
pub fn load(conn: &mut Conn, layout: &Layout, what: &str, quiet: bool) -> Result<LoadInfo, String> {
    let started = Instant::now();
    let total = layout.total();
    let mut progress = Progress::new(what, total, quiet);
    let mut done = 0u64;
    let e = |e: std::io::Error| format!("loading: {}", e);
    let mut used_populate = false;

    // Strings: DEBUG POPULATE when the server has it (values are "value:<i>" padded with zero
    // bytes to the size), SET otherwise.
    let ns = layout.counts[0];
    if ns > 0 {
        let r = conn
            .cmd(&[
                "DEBUG".to_string(),
                "POPULATE".to_string(),
                ns.to_string(),
                "key".to_string(),
                layout.value_size.to_string(),
            ])
            .map_err(e)?;
        if r == Reply::Status("OK".into()) {
            used_populate = true;
            done = ns;
            progress.update(done);
        } else {
            let batch = 1000u64;
            let mut i = 0;
            while i < ns {
                let end = (i + batch).min(ns);
                for k in i..end {
                    conn.queue(&[
                        b"SET".to_vec(),
                        Layout::key(0, k).into_bytes(),
                        value(layout.value_size, k),
                    ]);
                }
                check(conn.drain().map_err(e)?)?;
                done += end - i;
                i = end;
                progress.update(done);
            }
        }
    }

    // Collections: one command per key with every element, pipelined 100 keys at a time.
    let el = layout.elements;
    for t in 1..5 {
        let n = layout.counts[t];
        let mut k = 0;
        while k < n {
            let end = (k + 100).min(n);
            for i in k..end {
                let key = Layout::key(t, i).into_bytes();
                let mut args: Vec<Vec<u8>> = vec![
                    match t {
                        1 => b"HSET".to_vec(),
                        2 => b"RPUSH".to_vec(),
                        3 => b"SADD".to_vec(),
                        _ => b"ZADD".to_vec(),
                    },
                    key,
                ];
                for j in 0..el {
                    match t {
                        1 => {
                            args.push(format!("f{}", j).into_bytes());
                            args.push(value(layout.value_size, i * el + j));
                        }
                        2 => args.push(value(layout.value_size, i * el + j)),
                        3 => args.push(member(layout.value_size, j)),
                        _ => {
                            args.push(j.to_string().into_bytes());
                            args.push(member(layout.value_size, j));
                        }
                    }
                }
                conn.queue(&args);
            }
            check(conn.drain().map_err(e)?)?;
            done += end - k;
            k = end;
            progress.update(done);
        }
    }
    // A TTL on every key (`--ttl`): the server's expiry table gets an entry per key, which
    // plain SET overwrites remove.
    if layout.ttl > 0 {
        let ttl = layout.ttl.to_string().into_bytes();
        for t in 0..5 {
            let n = layout.counts[t];
            let mut k = 0;
            while k < n {
                let end = (k + 1000).min(n);
                for i in k..end {
                    conn.queue(&[b"EXPIRE".to_vec(), Layout::key(t, i).into_bytes(), ttl.clone()]);
                }
                for r in conn.drain().map_err(e)? {
                    if r != Reply::Int(1) {
                        return Err(format!("EXPIRE while loading: {:?}", r));
                    }
                }
                k = end;
            }
        }
    }
    progress.finish(done);
    Ok(LoadInfo { seconds: started.elapsed().as_secs_f64(), used_populate })
}

/// Member `j` of a set or sorted set: `m<j>` padded to the value size.
pub fn member(size: usize, j: u64) -> Vec<u8> {
    let mut m = format!("m{}", j).into_bytes();
    if m.len() < size {
        m.resize(size, b'.');
    }
    m
}

fn check(replies: Vec<Reply>) -> Result<(), String> {
    match replies.into_iter().find(Reply::is_error) {
        Some(Reply::Error(e)) => Err(format!("loading: the server answered -{}", e)),
        _ => Ok(()),
    }
}

/// What loading did.
pub struct LoadInfo {
    pub seconds: f64,
    pub used_populate: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_splits_and_locates() {
        let l = Layout::new(100, &Layout::parse_mix("string=70,hash=10,zset=20").unwrap(), 10, 4);
        assert_eq!(l.counts, [70, 10, 0, 0, 20]);
        assert_eq!(l.locate(0), (0, 0));
        assert_eq!(l.locate(75), (1, 5));
        assert_eq!(l.locate(80), (4, 0));
        assert!(Layout::parse_mix("bogus=1").is_err());
        assert_eq!(value(4, 0xabcdef), b"abcd");
        assert_eq!(member(4, 7), b"m7..");
    }
}
