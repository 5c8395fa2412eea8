//! Entry points for the cargo-fuzz targets (fuzz/) into the parsers that belong to the server
//! crate rather than tine-core: the AOF loader's replay, the AOF manifest, the config file.
//! They are `pub(crate)` everywhere else; this module (feature `fuzzing`, which fuzz/ turns on
//! with jemalloc off for AddressSanitizer) is the one door to them from outside. The same
//! bodies run over mutated seeds in this module's tests, so a plain `cargo test` covers them.
//!
//! What each asserts beyond "no panic": a manifest that parses writes out a text that parses
//! to the same manifest; a replay stops at a valid offset within the input, and whatever it
//! loaded can be written as an RDB and read back to the same digest.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::config::Config;
use crate::persist::aof::loader::{self, AofExecutor, Job, UnknownCommand};
use crate::persist::aof::manifest::Manifest;
use tine_core::keyspace::Keyspace;

/// An AOF manifest: parse; what parses, written out, parses to the same thing.
pub fn manifest(data: &[u8]) {
    let Ok(m) = Manifest::parse(data) else { return };
    if m.base.is_none() && m.incr.is_empty() && m.history.is_empty() {
        // Only comments: valid for Redis too (its "empty manifest" is a file with no line at
        // all), and nothing to write back.
        return;
    }
    let text = m.to_text();
    if text.lines().any(|l| l.len() > crate::persist::aof::manifest::MANIFEST_MAX_LINE) {
        // A name whose quoted form passes the line limit: Redis writes such a line too and
        // cannot read it back either (its fgets buffer is the same size).
        return;
    }
    let again = Manifest::parse(text.as_bytes()).expect("a manifest tine wrote must parse");
    assert_eq!(again, m, "a manifest changed through a write and a read");
}

/// A config file's text: parsed as `redis-server` reads it, then every line applied to a
/// default configuration as startup applies them (bounds, enums, custom parsers). Lines that
/// mention `include` are dropped first: they would read whatever file the fuzzer names.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let text: String = text
        .split_inclusive('\n')
        .filter(|l| !l.to_ascii_lowercase().contains("include"))
        .collect();
    let Ok(lines) = crate::config::file::parse_config_str(&text, "fuzz.conf") else { return };
    let mut config = Config::default();
    let mut seen_save = false;
    for line in &lines {
        let name = line.name();
        let mut argv = vec![name.clone()];
        argv.extend(line.values_lossy());
        let accumulate = name == "save" && seen_save;
        if config.apply_line(&argv, accumulate).is_ok() && name == "save" {
            seen_save = true;
        }
    }
}

/// Commands an AOF may hold but a fuzzer must not run: they touch files, processes or the
/// clock (a SAVE writes dump.rdb, DEBUG SLEEP sleeps, DEBUG SEGFAULT is meant to crash).
const NOT_IN_FUZZING: &[&[u8]] = &[
    b"debug",
    b"save",
    b"bgsave",
    b"bgrewriteaof",
    b"shutdown",
    b"config",
    b"replicaof",
    b"slaveof",
    b"sync",
    b"psync",
    b"monitor",
    b"failover",
    b"client",
    b"wait",
];

/// The real executor (`app::aof_replay`), with [`NOT_IN_FUZZING`] turned into no-ops.
struct Guarded(Box<dyn AofExecutor>);

impl AofExecutor for Guarded {
    fn execute(&mut self, argv: &[Vec<u8>]) -> Result<(), UnknownCommand> {
        if NOT_IN_FUZZING.iter().any(|n| argv[0].eq_ignore_ascii_case(n)) {
            return Ok(());
        }
        self.0.execute(argv)
    }
    fn in_multi(&self) -> bool {
        self.0.in_multi()
    }
    fn dbs_mut(&mut self) -> &mut Keyspace {
        self.0.dbs_mut()
    }
}

/// An AOF incr file's bytes, replayed through the real command dispatcher as the loader does.
pub fn aof(data: &[u8]) {
    let config = Config { save: String::new(), ..Config::default() };
    let job = Job {
        config: config.clone(),
        dir: std::path::PathBuf::from("."),
        manifest: Manifest::default(),
        progress: Arc::new(AtomicU64::new(0)),
        executor: crate::app::aof_replay::new_executor,
    };
    let mut exec = Guarded((job.executor)(&config));
    let (_, valid_up_to) = loader::replay(&mut exec, &job, "fuzz.aof", data, 0, 0);
    assert!(valid_up_to <= data.len(), "the valid prefix ends past the input");
    // Whatever loaded can be saved and read back to the same data.
    let dbs: &Keyspace = exec.dbs_mut();
    let mut rdb = Vec::new();
    let opts = tine_core::rdb::RdbOptions::default();
    tine_core::rdb::write_rdb(&mut rdb, dbs, &opts, |_| {}).expect("writing to memory");
    let limits = config.load_limits();
    let back = tine_core::rdb::read_rdb(&rdb, &limits, i64::MIN).expect("tine's own RDB loads");
    assert_eq!(
        tine_core::keyspace::dataset_digest(&back.dbs),
        tine_core::keyspace::dataset_digest(dbs),
        "an AOF-loaded dataset changed through an RDB"
    );
}

#[cfg(test)]
mod tests {
    //! The bodies over mutated seeds (as core's `fuzz_smoke`): never a panic.

    use super::*;

    fn mutate(seed: &[u8], rng: &mut u64) -> Vec<u8> {
        let mut next = || {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng
        };
        let mut f = seed.to_vec();
        for _ in 0..1 + next() % 4 {
            if f.is_empty() {
                f.push(next() as u8);
                continue;
            }
            let p = (next() % f.len() as u64) as usize;
            match next() % 4 {
                0 => f[p] = next() as u8,
                1 => f[p] ^= 1 << (next() % 8),
                2 => f.truncate(p),
                _ => f.insert(p, b"\r\n*$0123 "[(next() % 9) as usize]),
            }
        }
        f
    }

    #[test]
    fn manifest_config_and_aof_bodies_hold_over_mutated_seeds() {
        let manifests: &[&[u8]] = &[
            b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
            b"file \"a b\" seq 2 type h\nfile x.aof seq 3 type i\n# comment\n",
        ];
        let configs: &[&[u8]] = &[
            b"port 7000\nsave 900 1\nsave 60 10000\nmaxmemory 1gb\nappendonly yes\n",
            b"bind 127.0.0.1 -::1\nclient-output-buffer-limit replica 256mb 64mb 60\nnotify-keyspace-events KEA\n",
            b"rename-command FLUSHALL \"\"\nrequirepass \"x y\"\nsave \"\"\n",
        ];
        let aofs: &[&[u8]] = &[
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
            b"*1\r\n$5\r\nMULTI\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\na\r\n*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n*1\r\n$4\r\nEXEC\r\n",
            b"*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\nm\r\n*3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\n7\r\n#TS:1700000000\r\n*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$13\r\n1700000000000\r\n",
        ];
        let mut rng = 0x9e3779b97f4a7c15u64;
        for i in 0..1500 {
            manifest(&mutate(manifests[i % manifests.len()], &mut rng));
            config(&mutate(configs[i % configs.len()], &mut rng));
            aof(&mutate(aofs[i % aofs.len()], &mut rng));
        }
        for s in manifests {
            manifest(s);
        }
        // Found by the fuzzer: a manifest of comments only parses (as in Redis) to nothing;
        // a file name that is not UTF-8 is refused rather than mangled.
        manifest(b"#file appendonly.aof.1.incr.aof seq 1 type i\n");
        let bad = b"file a\xf6\xf6.aof seq 1 type i\n";
        manifest(bad);
        assert!(Manifest::parse(bad).is_err());
        for s in aofs {
            aof(s);
        }
    }
}
