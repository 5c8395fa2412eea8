//! tine-cow-bench: how much copy-on-write memory a fork child (BGSAVE, BGREWRITEAOF) costs a
//! Redis-protocol server while it keeps taking writes. Works against tine and redis-server
//! alike; `--compare A B` runs one scenario on two server binaries and prints the ratios.
//! `tine-cow-bench --help` lists the options; README.md ("Measuring copy-on-write") walks
//! through a run.
//!
//! `resp` is a small blocking RESP2 client, `procfs` reads memory figures of the server and its
//! child, `server` starts or connects to a server, `load` fills it, `workload` drives writes
//! at a fixed rate, `run` is one scenario on one server (fork, sample, wait), `report` prints
//! and writes CSV, JSON and the SVG chart.

mod load;
mod procfs;
mod report;
mod resp;
mod run;
mod server;
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use crate::load::Layout;
use crate::run::{ForkKind, RunResult, Scenario, Stretch};
use crate::server::{Server, Spec};
use crate::workload::{Dist, Workload};

const HELP: &str = "\
tine-cow-bench: copy-on-write memory of a fork child under a write load

USAGE:
  tine-cow-bench [--host H] [--port P] [options]            measure a running server
  tine-cow-bench --server-bin PATH [--server-arg X]... [options]   start one and measure it
  tine-cow-bench --compare BIN_A BIN_B [--server-arg X]... [options]   both, same scenario

SERVER:
  --host H               server to connect to (127.0.0.1)
  --port P               its port (6379); with --server-bin, the port to start on (a free one)
  --server-bin PATH      start this server binary (tine-server or redis-server) in a temp dir
  --server-config FILE   config file given first to started servers
  --server-arg X         one more argument for started servers (repeatable; passed last, so it
                         overrides the tool's: --port --dir --save \"\" --appendonly no
                         --enable-debug-command yes --logfile)
  --compare A B          run the scenario on binary A, then on binary B; print the ratios A/B
  --label NAME           name of the server in the report (default: from its binary)

DATA SET:
  --keys N               keys to load (100000)
  --value-size B         bytes per string value and per collection element (100)
  --mix T=W,...          type weights: string, hash, list, set, zset (string=100)
  --elements E           elements per hash/list/set/zset (8)
  --ttl S                give every loaded key a time to live of S seconds (none)
  --no-load              measure the data the server already holds
  --flushall             FLUSHALL a running server before loading (started servers always are)

FORK WORK:
  --fork bgsave|bgrewriteaof          (bgsave)
  --key-save-delay auto|keep|US       rdb-key-save-delay while measuring (auto: the child
                                      outlives the workload; restored afterwards)
  --child-timeout S      give up waiting for the child after S seconds (600)

WORKLOAD (during the child's life):
  --writes N             operations in all (20000)
  --rate R               operations per second, all clients together (5000)
  --clients C            client connections (4)
  --pipeline P           commands per round trip per client (8)
  --ops O=W,...          overwrite, append, incr, new, read (overwrite=100)
  --dist D               uniform | zipf | zipf:THETA (uniform)
  --warmup-ms MS         wait after the fork before the workload starts (100)
  --seed S               random seed (1)

OUTPUT:
  --interval-ms MS       sampling interval (100)
  --csv FILE             samples (cow-bench.csv)
  --svg FILE             chart (cow-bench.svg)
  --json FILE            figures of each run (none)
  --quiet                no progress bar
";

struct Args {
    host: String,
    port: Option<u16>,
    server_bin: Option<PathBuf>,
    server_config: Option<PathBuf>,
    server_args: Vec<String>,
    compare: Option<(PathBuf, PathBuf)>,
    label: Option<String>,
    flushall: bool,
    csv: PathBuf,
    svg: PathBuf,
    json: Option<PathBuf>,
    scenario: Scenario,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        host: "127.0.0.1".into(),
        port: None,
        server_bin: None,
        server_config: None,
        server_args: Vec::new(),
        compare: None,
        label: None,
        flushall: false,
        csv: "cow-bench.csv".into(),
        svg: "cow-bench.svg".into(),
        json: None,
        scenario: Scenario {
            layout: Layout::new(0, &[1, 0, 0, 0, 0], 100, 8),
            load: true,
            flush: false,
            fork: ForkKind::Bgsave,
            stretch: Stretch::Auto,
            workload: Workload {
                ops: 20_000,
                rate: 5000.0,
                clients: 4,
                pipeline: 8,
                mix: [1, 0, 0, 0, 0],
                dist: Dist::Uniform,
                seed: 1,
            },
            warmup: Duration::from_millis(100),
            interval: Duration::from_millis(100),
            child_timeout: Duration::from_secs(600),
            quiet: false,
        },
    };
    let (mut keys, mut value_size, mut mix, mut elements, mut ttl) =
        (100_000u64, 100usize, [1, 0, 0, 0, 0], 8u64, 0u64);
    fn val(it: &mut impl Iterator<Item = String>, name: &str) -> Result<String, String> {
        it.next().ok_or_else(|| format!("{} needs a value", name))
    }
    fn numv<T: std::str::FromStr>(
        it: &mut impl Iterator<Item = String>,
        name: &str,
    ) -> Result<T, String> {
        let v = val(it, name)?;
        v.parse().map_err(|_| format!("{} {:?}: not a number", name, v))
    }
    let sc = &mut a.scenario;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{}", HELP);
                std::process::exit(0);
            }
            "--host" => a.host = val(&mut it, &arg)?,
            "--port" | "-p" => a.port = Some(numv(&mut it, &arg)?),
            "--server-bin" => a.server_bin = Some(val(&mut it, &arg)?.into()),
            "--server-config" => a.server_config = Some(val(&mut it, &arg)?.into()),
            "--server-arg" => a.server_args.push(val(&mut it, &arg)?),
            "--compare" => {
                let x = val(&mut it, &arg)?;
                let y = val(&mut it, &arg)?;
                a.compare = Some((x.into(), y.into()));
            }
            "--label" => a.label = Some(val(&mut it, &arg)?),
            "--keys" => keys = numv(&mut it, &arg)?,
            "--value-size" => value_size = numv(&mut it, &arg)?,
            "--mix" => mix = Layout::parse_mix(&val(&mut it, &arg)?)?,
            "--elements" => elements = numv(&mut it, &arg)?,
            "--ttl" => ttl = numv(&mut it, &arg)?,
            "--no-load" => sc.load = false,
            "--flushall" => a.flushall = true,
            "--fork" => sc.fork = ForkKind::parse(&val(&mut it, &arg)?)?,
            "--key-save-delay" => {
                let v = val(&mut it, &arg)?;
                sc.stretch = match v.as_str() {
                    "auto" => Stretch::Auto,
                    "keep" => Stretch::Keep,
                    n => {
                        Stretch::Fixed(n.parse().map_err(|_| format!("--key-save-delay {:?}", n))?)
                    }
                }
            }
            "--child-timeout" => sc.child_timeout = Duration::from_secs(numv(&mut it, &arg)?),
            "--writes" | "--ops-total" => sc.workload.ops = numv(&mut it, &arg)?,
            "--rate" => sc.workload.rate = numv(&mut it, &arg)?,
            "--clients" => sc.workload.clients = numv(&mut it, &arg)?,
            "--pipeline" => sc.workload.pipeline = numv(&mut it, &arg)?,
            "--ops" => sc.workload.mix = Workload::parse_mix(&val(&mut it, &arg)?)?,
            "--dist" => sc.workload.dist = Dist::parse(&val(&mut it, &arg)?)?,
            "--warmup-ms" => sc.warmup = Duration::from_millis(numv(&mut it, &arg)?),
            "--seed" => sc.workload.seed = numv(&mut it, &arg)?,
            "--interval-ms" => {
                sc.interval = Duration::from_millis(numv::<u64>(&mut it, &arg)?.max(1))
            }
            "--csv" => a.csv = val(&mut it, &arg)?.into(),
            "--svg" => a.svg = val(&mut it, &arg)?.into(),
            "--json" => a.json = Some(val(&mut it, &arg)?.into()),
            "--quiet" | "-q" => sc.quiet = true,
            other => return Err(format!("unknown option {:?} (see --help)", other)),
        }
    }
    if a.scenario.workload.rate <= 0.0 {
        return Err("--rate must be above 0".into());
    }
    a.scenario.layout = Layout::new(keys, &mix, value_size, elements);
    a.scenario.layout.ttl = ttl;
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tine-cow-bench: {}", e);
            std::process::exit(2);
        }
    };
    if let Err(e) = real_main(args) {
        eprintln!("tine-cow-bench: {}", e);
        std::process::exit(1);
    }
}

fn real_main(args: Args) -> Result<(), String> {
    let mut specs: Vec<(Spec, Option<String>)> = Vec::new();
    let start = |bin: &PathBuf, port: u16| Spec::Start {
        bin: bin.clone(),
        config: args.server_config.clone(),
        args: args.server_args.clone(),
        port,
    };
    if let Some((x, y)) = &args.compare {
        specs.push((start(x, 0), None));
        specs.push((start(y, 0), None));
    } else if let Some(bin) = &args.server_bin {
        specs.push((start(bin, args.port.unwrap_or(0)), args.label.clone()));
    } else {
        specs.push((
            Spec::Connect { host: args.host.clone(), port: args.port.unwrap_or(6379) },
            args.label.clone(),
        ));
    }

    // The same stretch for every server: with a data set to load, the key count is known now.
    let mut scenario = args.scenario.clone();
    if scenario.stretch == Stretch::Auto && scenario.load && specs.len() > 1 {
        scenario.stretch = Stretch::Fixed(run::auto_delay(&scenario, scenario.layout.total()));
    }

    let mut runs: Vec<RunResult> = Vec::new();
    for (spec, label) in &specs {
        let mut srv = Server::open(spec, label.as_deref())?;
        // Two runs of the same binary need two names.
        if runs.iter().any(|r| r.label == srv.label) {
            srv.label = format!("{}-{}", srv.label, runs.len() + 1);
        }
        let mut sc = scenario.clone();
        sc.flush = matches!(spec, Spec::Start { .. }) || args.flushall;
        if !sc.quiet {
            eprintln!(
                "{}: {} {} on port {}{}",
                srv.label,
                if matches!(spec, Spec::Start { .. }) { "started" } else { "connected to" },
                srv.version,
                srv.port,
                srv.pid.map(|p| format!(", pid {}", p)).unwrap_or_default()
            );
        }
        let r = run::run(&srv, &sc);
        srv.stop();
        let r = r.map_err(|e| format!("{}: {}", srv.label, e))?;
        println!("{}", report::text(&r, &sc));
        runs.push(r);
    }

    let sc = &args.scenario;
    let title = format!(
        "{} of {} keys, {} {} ops at {}/s ({})",
        sc.fork.command(),
        sc.layout.total(),
        sc.workload.ops,
        sc.workload.mix_name(),
        sc.workload.rate,
        sc.workload.dist.name()
    );
    report::write_csv(&args.csv, &runs).map_err(|e| format!("{}: {}", args.csv.display(), e))?;
    report::write_svg(&args.svg, &runs, &title)?;
    if let Some(j) = &args.json {
        report::write_json(j, &runs).map_err(|e| format!("{}: {}", j.display(), e))?;
    }
    if runs.len() == 2 {
        println!("{}", report::ratio_table(&runs[0], &runs[1]));
    }
    println!(
        "samples: {}  chart: {}{}",
        args.csv.display(),
        args.svg.display(),
        args.json.as_ref().map(|j| format!("  figures: {}", j.display())).unwrap_or_default()
    );
    Ok(())
}
