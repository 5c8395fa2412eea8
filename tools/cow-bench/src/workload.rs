//! The write (or read) load during the child's life: a fixed number of operations at a fixed
//! aggregate rate, spread over pipelined client threads, keys chosen uniformly or by a
//! scrambled Zipfian distribution.
//!
//! Operations, by the type of the chosen key:
//!
//! | op        | string          | hash          | list        | set             | zset        |
//! |-----------|-----------------|---------------|-------------|-----------------|-------------|
//! | overwrite | SET same size   | HSET field    | LSET index  | SREM+SADD member| ZADD score  |
//! | append    | APPEND 8 bytes  | HSET new field| RPUSH       | SADD new member | ZADD new    |
//! | incr      | INCR counter:<g>| HINCRBY       | INCR counter| INCR counter    | ZINCRBY     |
//! | new       | SET new:<client>:<n> (a key that did not exist)                          |
//! | read      | GET             | HGET          | LINDEX      | SISMEMBER       | ZSCORE      |

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::load::{Layout, member, value};
use super::resp::Conn;

pub const OPS: [&str; 5] = ["overwrite", "append", "incr", "new", "read"];

/// How keys are chosen.
#[derive(Clone, Debug)]
pub enum Dist {
    Uniform,
    /// Zipfian with this exponent (YCSB's generator; 0.99 is YCSB's default), ranks
    /// scrambled over the keyspace so the hot keys are not neighbours in memory.
    Zipf(f64),
}

impl Dist {
    pub fn parse(s: &str) -> Result<Dist, String> {
        match s.split_once(':') {
            None if s == "uniform" => Ok(Dist::Uniform),
            None if s == "zipf" || s == "zipfian" => Ok(Dist::Zipf(0.99)),
            Some(("zipf" | "zipfian", t)) => {
                let t: f64 = t.parse().map_err(|_| format!("bad zipf exponent {:?}", t))?;
                if !(t > 0.0 && t < 1.0) {
                    return Err("the zipf exponent must be in (0, 1)".into());
                }
                Ok(Dist::Zipf(t))
            }
            _ => Err(format!("--dist {:?}: uniform, zipf or zipf:<theta>", s)),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Dist::Uniform => "uniform".into(),
            Dist::Zipf(t) => format!("zipf:{}", t),
        }
    }
}

/// YCSB's ZipfianGenerator (Gray et al., "Quickly generating billion-record synthetic
/// databases"), over `0..n`.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipf {
    pub fn new(n: u64, theta: f64) -> Zipf {
        let n = n.max(1);
        let zetan: f64 = (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum();
        let zeta2 = 1.0 + 0.5f64.powf(theta);
        let alpha = 1.0 / (1.0 - theta);
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Zipf { n, theta, alpha, zetan, eta }
    }

    /// A rank, 0 the most frequent.
    pub fn rank(&self, u: f64) -> u64 {
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.n - 1);
        }
        let r = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        r.min(self.n - 1)
    }

    /// A key index: the rank scrambled (FNV-1a) over `0..n`.
    pub fn key(&self, u: f64) -> u64 {
        fnv(self.rank(u)) % self.n
    }
}

fn fnv(x: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in x.to_le_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Workload {
    pub ops: u64,
    /// Operations per second, all clients together.
    pub rate: f64,
    pub clients: usize,
    pub pipeline: usize,
    /// Weights, in `OPS` order.
    pub mix: [u64; 5],
    pub dist: Dist,
    pub seed: u64,
}

impl Workload {
    /// Parses `overwrite=80,append=10,incr=10`.
    pub fn parse_mix(s: &str) -> Result<[u64; 5], String> {
        let mut mix = [0u64; 5];
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (name, w) = part.split_once('=').unwrap_or((part, "1"));
            let i = OPS
                .iter()
                .position(|&o| o == name)
                .ok_or_else(|| format!("unknown op {:?} in --ops (ops: {:?})", name, OPS))?;
            mix[i] = w.parse().map_err(|_| format!("bad weight {:?} in --ops", w))?;
        }
        if mix.iter().sum::<u64>() == 0 {
            return Err("--ops gives every operation weight 0".into());
        }
        Ok(mix)
    }

    pub fn mix_name(&self) -> String {
        let used: Vec<usize> = (0..OPS.len()).filter(|&i| self.mix[i] > 0).collect();
        if used.len() == 1 {
            return OPS[used[0]].to_string();
        }
        OPS.iter()
            .zip(self.mix)
            .filter(|(_, w)| *w > 0)
            .map(|(o, w)| format!("{}={}", o, w))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What the clients did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub seconds: f64,
}

/// Runs `w` against `host:port`; `done` counts operations as their replies arrive. Returns
/// when every client has finished or `stop` is set.
pub fn run(
    host: &str,
    port: u16,
    layout: &Layout,
    w: &Workload,
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Result<Outcome, String> {
    let started = Instant::now();
    let clients = w.clients.max(1);
    let zipf = match w.dist {
        Dist::Zipf(t) => Some(Arc::new(Zipf::new(layout.total(), t))),
        Dist::Uniform => None,
    };
    let mut handles = Vec::new();
    for c in 0..clients {
        let ops = w.ops / clients as u64 + u64::from((c as u64) < w.ops % clients as u64);
        let mut conn = Conn::connect(host, port, Duration::from_secs(60))
            .map_err(|e| format!("client {}: {}", c, e))?;
        let (layout, w, done, stop, zipf) =
            (layout.clone(), w.clone(), done.clone(), stop.clone(), zipf.clone());
        handles.push(std::thread::spawn(move || {
            client(c, &mut conn, ops, &layout, &w, zipf.as_deref(), &done, &stop)
        }));
    }
    let mut out = Outcome::default();
    for h in handles {
        let r = h.join().map_err(|_| "a client thread panicked".to_string())??;
        out.ops += r.ops;
        out.errors += r.errors;
        if out.first_error.is_none() {
            out.first_error = r.first_error;
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn client(
    id: usize,
    conn: &mut Conn,
    ops: u64,
    layout: &Layout,
    w: &Workload,
    zipf: Option<&Zipf>,
    done: &AtomicU64,
    stop: &AtomicBool,
) -> Result<Outcome, String> {
    let mut rng = SmallRng::seed_from_u64(w.seed.wrapping_mul(1000).wrapping_add(id as u64));
    let per_client_rate = (w.rate / w.clients.max(1) as f64).max(0.001);
    let batch = w.pipeline.max(1) as u64;
    let interval = Duration::from_secs_f64(batch as f64 / per_client_rate);
    let total_weight: u64 = w.mix.iter().sum();
    let n = layout.total().max(1);
    let mut out = Outcome::default();
    let start = Instant::now();
    let mut sent = 0u64;
    let mut seq = 0u64;
    let mut next = start;
    while sent < ops && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        next += interval;
        let this = batch.min(ops - sent);
        for _ in 0..this {
            let mut pick = rng.gen_range(0..total_weight);
            let mut op = 0;
            while pick >= w.mix[op] {
                pick -= w.mix[op];
                op += 1;
            }
            let g = match zipf {
                Some(z) => z.key(rng.r#gen::<f64>()),
                None => rng.gen_range(0..n),
            };
            seq += 1;
            queue_op(conn, layout, OPS[op], g, id, seq, &mut rng);
        }
        let (errors, first) =
            conn.drain_count_errors().map_err(|e| format!("client {}: {}", id, e))?;
        out.errors += errors;
        if out.first_error.is_none() {
            out.first_error = first;
        }
        sent += this;
        done.fetch_add(this, Ordering::Relaxed);
    }
    out.ops = sent;
    out.seconds = start.elapsed().as_secs_f64();
    Ok(out)
}

fn queue_op(
    conn: &mut Conn,
    layout: &Layout,
    op: &str,
    g: u64,
    client: usize,
    seq: u64,
    rng: &mut SmallRng,
) {
    let (t, i) = layout.locate(g);
    let key = Layout::key(t, i);
    let el = layout.elements;
    let j = rng.gen_range(0..el);
    let size = layout.value_size;
    let fresh = || value(size, seq.wrapping_mul(0x9e37_79b9) ^ g);
    let counter = format!("counter:{}", g);
    match (op, t) {
        ("overwrite", 0) => conn.queue(&[b"SET".to_vec(), key.into_bytes(), fresh()]),
        ("overwrite", 1) => conn.queue(&[
            b"HSET".to_vec(),
            key.into_bytes(),
            format!("f{}", j).into_bytes(),
            fresh(),
        ]),
        ("overwrite", 2) => {
            conn.queue(&[b"LSET".to_vec(), key.into_bytes(), j.to_string().into_bytes(), fresh()])
        }
        ("overwrite", 3) => {
            conn.queue(&[b"SREM".to_vec(), key.clone().into_bytes(), member(size, j)]);
            conn.queue(&[b"SADD".to_vec(), key.into_bytes(), member(size, j)]);
        }
        ("overwrite", _) => conn.queue(&[
            b"ZADD".to_vec(),
            key.into_bytes(),
            rng.gen_range(0..1_000_000u32).to_string().into_bytes(),
            member(size, j),
        ]),
        ("append", 0) => conn.queue(&[b"APPEND".to_vec(), key.into_bytes(), b"appended".to_vec()]),
        ("append", 1) => conn.queue(&[
            b"HSET".to_vec(),
            key.into_bytes(),
            format!("n{}:{}", client, seq).into_bytes(),
            fresh(),
        ]),
        ("append", 2) => conn.queue(&[b"RPUSH".to_vec(), key.into_bytes(), fresh()]),
        ("append", 3) => conn.queue(&[
            b"SADD".to_vec(),
            key.into_bytes(),
            format!("n{}:{}", client, seq).into_bytes(),
        ]),
        ("append", _) => conn.queue(&[
            b"ZADD".to_vec(),
            key.into_bytes(),
            seq.to_string().into_bytes(),
            format!("n{}:{}", client, seq).into_bytes(),
        ]),
        ("incr", 1) => {
            conn.queue(&[b"HINCRBY".to_vec(), key.into_bytes(), b"counter".to_vec(), b"1".to_vec()])
        }
        ("incr", 4) => {
            conn.queue(&[b"ZINCRBY".to_vec(), key.into_bytes(), b"1".to_vec(), member(size, j)])
        }
        ("incr", _) => conn.queue(&[b"INCR".to_vec(), counter.into_bytes()]),
        ("new", _) => {
            conn.queue(&[b"SET".to_vec(), format!("new:{}:{}", client, seq).into_bytes(), fresh()])
        }
        (_, 0) => conn.queue(&[b"GET".to_vec(), key.into_bytes()]),
        (_, 1) => conn.queue(&[b"HGET".to_vec(), key.into_bytes(), format!("f{}", j).into_bytes()]),
        (_, 2) => conn.queue(&[b"LINDEX".to_vec(), key.into_bytes(), j.to_string().into_bytes()]),
        (_, 3) => conn.queue(&[b"SISMEMBER".to_vec(), key.into_bytes(), member(size, j)]),
        (_, _) => conn.queue(&[b"ZSCORE".to_vec(), key.into_bytes(), member(size, j)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let z = Zipf::new(1000, 0.99);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut hits = vec![0u32; 1000];
        for _ in 0..100_000 {
            let r = z.rank(rng.r#gen::<f64>());
            hits[r as usize] += 1;
            assert!(z.key(0.5) < 1000);
        }
        assert!(hits[0] > 10 * hits[500].max(1), "{} vs {}", hits[0], hits[500]);
    }

    #[test]
    fn parses_mix_and_dist() {
        let m = Workload::parse_mix("overwrite=3,read=1").unwrap();
        assert_eq!(m, [3, 0, 0, 0, 1]);
        assert!(Workload::parse_mix("delete=1").is_err());
        assert!(matches!(Dist::parse("zipf:0.8"), Ok(Dist::Zipf(t)) if t == 0.8));
        assert!(Dist::parse("gauss").is_err());
    }
}
