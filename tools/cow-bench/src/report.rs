//! What a run found, for people (a text report and a ratio table), for programs (CSV of the
//! samples, JSON of the figures) and for the eye (an SVG chart: COW over time for each server
//! on one plot, writes per second on a second axis).

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use super::procfs;
use super::run::{RunResult, Scenario, human};

fn opt_bytes(v: Option<u64>) -> String {
    v.map(human).unwrap_or_else(|| "n/a".into())
}

/// A per-run report.
pub fn text(r: &RunResult, sc: &Scenario) -> String {
    let mut s = String::new();
    let w = &sc.workload;
    let _ = writeln!(s, "== {} ({}) ==", r.label, r.version);
    let _ = writeln!(
        s,
        "data set             {} keys, used_memory {} (rss {}), loaded in {:.1} s",
        r.keys,
        human(r.used_memory),
        human(r.used_memory_rss),
        r.load_seconds
    );
    let _ = writeln!(
        s,
        "fork work            {}{}",
        r.fork_command,
        r.key_save_delay_us
            .map(|d| format!(", rdb-key-save-delay {} us/key", d))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "workload             {} ops ({}) at {} ops/s, {} clients x pipeline {}, {} keys",
        w.ops,
        w.mix_name(),
        w.rate,
        w.clients,
        w.pipeline,
        w.dist.name()
    );
    let _ = writeln!(
        s,
        "fork latency         {}",
        r.fork_usec
            .map(|u| format!(
                "{} us ({:.0} us per GB of used_memory)",
                u,
                r.fork_usec_per_gb().unwrap_or(f64::NAN)
            ))
            .unwrap_or_else(|| "n/a".into())
    );
    let _ = writeln!(
        s,
        "child lifetime       {}  (pid {})",
        r.child_seconds.map(|t| format!("{:.2} s", t)).unwrap_or_else(|| "n/a".into()),
        r.child_pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into())
    );
    let _ = writeln!(
        s,
        "operations           {} done in {:.2} s ({:.0}/s), {} during the child's life, {} errors{}",
        r.ops_total,
        r.ops_seconds,
        r.ops_total as f64 / r.ops_seconds.max(1e-9),
        r.ops_during_child,
        r.errors,
        r.first_error.as_ref().map(|e| format!(" (first: -{})", e)).unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "final COW (INFO)     {}  ({}_last_cow_size; status {})",
        opt_bytes(r.cow_info),
        if r.fork_command == "BGSAVE" { "rdb" } else { "aof" },
        r.status
    );
    let _ = writeln!(
        s,
        "final COW (/proc)    {}  (child's Private_Dirty at its last sample{})",
        opt_bytes(r.cow_proc_last),
        if procfs::HAVE_SMAPS { "" } else { "; not available on this OS" }
    );
    let _ = writeln!(s, "INFO vs /proc        {}", r.agreement().1);
    let _ = writeln!(
        s,
        "COW growth           {}  (/proc, last sample - first sample {})",
        opt_bytes(r.cow_growth()),
        opt_bytes(r.cow_proc_first)
    );
    let _ = writeln!(
        s,
        "COW per write        {}",
        r.cow_per_write()
            .map(|b| format!("{:.0} B", b))
            .unwrap_or_else(|| "n/a (no writes during the child)".into())
    );
    let _ = writeln!(
        s,
        "peak COW             {} (/proc), {} (INFO current_cow_size)",
        opt_bytes(r.cow_proc_peak),
        opt_bytes(r.cow_info_peak)
    );
    let _ = writeln!(
        s,
        "peak parent+child    {}  (parent RSS + child Private_Clean+Private_Dirty; parent RSS before fork {})",
        opt_bytes(r.peak_pair_bytes),
        opt_bytes(r.parent_rss_before)
    );
    for n in &r.notes {
        let _ = writeln!(s, "note: {}", n);
    }
    s
}

/// The figures compared across servers: name, value of a run, whether lower is better.
type Figure = (&'static str, fn(&RunResult) -> Option<f64>, bool);

pub fn figures() -> Vec<Figure> {
    vec![
        ("fork latency (us)", |r| r.fork_usec.map(|u| u as f64), true),
        ("fork latency per GB used_memory (us)", |r| r.fork_usec_per_gb(), true),
        ("child lifetime (s)", |r| r.child_seconds, true),
        ("operations during the child", |r| Some(r.ops_during_child as f64), false),
        ("final COW, INFO (MB)", |r| r.cow_info.map(|b| b as f64 / 1e6), true),
        ("final COW, /proc Private_Dirty (MB)", |r| r.cow_proc_last.map(|b| b as f64 / 1e6), true),
        (
            "COW growth during the workload, /proc (MB)",
            |r| r.cow_growth().map(|b| b as f64 / 1e6),
            true,
        ),
        ("COW per write (bytes)", |r| r.cow_per_write(), true),
        ("peak COW, /proc (MB)", |r| r.cow_proc_peak.map(|b| b as f64 / 1e6), true),
        ("peak parent+child memory (MB)", |r| r.peak_pair_bytes.map(|b| b as f64 / 1e6), true),
        ("used_memory (MB)", |r| Some(r.used_memory as f64 / 1e6), true),
    ]
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 100.0 => format!("{:.0}", v),
        Some(v) => format!("{:.3}", v),
        None => "n/a".into(),
    }
}

/// The ratio table of two runs (A/B), as Markdown.
pub fn ratio_table(a: &RunResult, b: &RunResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| figure | {} | {} | ratio {}/{} |", a.label, b.label, a.label, b.label);
    let _ = writeln!(s, "|---|---|---|---|");
    for (name, f, lower_better) in figures() {
        let (x, y) = (f(a), f(b));
        let ratio = match (x, y) {
            (Some(x), Some(y)) if y != 0.0 => format!("{:.2}", x / y),
            (Some(x), Some(y)) if x == y => "1.00".into(),
            _ => "n/a".into(),
        };
        let hint = if lower_better { " (lower is better)" } else { "" };
        let _ = writeln!(s, "| {}{} | {} | {} | {} |", name, hint, num(x), num(y), ratio);
    }
    s
}

/// The samples of every run as CSV.
pub fn write_csv(path: &Path, runs: &[RunResult]) -> std::io::Result<()> {
    let mut s = String::from(
        "server,t_s,parent_rss_bytes,child_pid,child_private_dirty_bytes,child_pss_bytes,\
         child_rss_bytes,info_current_cow_size_bytes,current_save_keys_processed,ops_done,writes_per_s\n",
    );
    let o = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in runs {
        let mut prev: Option<(f64, u64)> = None;
        for x in &r.samples {
            let rate = prev
                .filter(|(t, _)| x.t > *t)
                .map(|(t, o)| format!("{:.0}", (x.ops - o) as f64 / (x.t - t)))
                .unwrap_or_default();
            prev = Some((x.t, x.ops));
            let _ = writeln!(
                s,
                "{},{:.3},{},{},{},{},{},{},{},{},{}",
                r.label,
                x.t,
                o(x.parent_rss),
                x.child_pid.map(|p| p.to_string()).unwrap_or_default(),
                o(x.child.map(|c| c.private_dirty)),
                o(x.child.map(|c| c.pss)),
                o(x.child.map(|c| c.rss)),
                o(x.info_cow),
                o(x.keys_processed),
                x.ops,
                rate
            );
        }
    }
    std::fs::write(path, s)
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "null".into())
}

fn json_f(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{}", v),
        _ => "null".into(),
    }
}

/// The figures of every run as JSON (for scripts/bench-vs-redis).
pub fn write_json(path: &Path, runs: &[RunResult]) -> std::io::Result<()> {
    let mut s = String::from("[\n");
    for (i, r) in runs.iter().enumerate() {
        let (agree, why) = r.agreement();
        let _ = write!(
            s,
            "  {{\"server\": {}, \"version\": {}, \"fork_command\": {}, \"keys\": {}, \
             \"used_memory\": {}, \"key_save_delay_us\": {}, \"fork_usec\": {}, \
             \"fork_usec_per_gb\": {}, \"child_seconds\": {}, \"ops_total\": {}, \
             \"ops_during_child\": {}, \"errors\": {}, \"cow_info_bytes\": {}, \
             \"cow_proc_bytes\": {}, \"cow_growth_bytes\": {}, \"cow_per_write_bytes\": {}, \"cow_proc_peak_bytes\": {}, \
             \"peak_parent_child_bytes\": {}, \"info_proc_agree\": {}, \"agreement\": {}, \
             \"status\": {}, \"notes\": [{}]}}{}\n",
            json_str(&r.label),
            json_str(&r.version),
            json_str(&r.fork_command),
            r.keys,
            r.used_memory,
            json_num(r.key_save_delay_us),
            json_num(r.fork_usec),
            json_f(r.fork_usec_per_gb()),
            json_f(r.child_seconds),
            r.ops_total,
            r.ops_during_child,
            r.errors,
            json_num(r.cow_info),
            json_num(r.cow_proc_last),
            json_num(r.cow_growth()),
            json_f(r.cow_per_write()),
            json_num(r.cow_proc_peak),
            json_num(r.peak_pair_bytes),
            agree,
            json_str(&why),
            json_str(&r.status),
            r.notes.iter().map(|n| json_str(n)).collect::<Vec<_>>().join(", "),
            if i + 1 < runs.len() { "," } else { "" }
        );
    }
    s.push_str("]\n");
    std::fs::write(path, s)
}

const COLORS: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(44, 160, 44), RGBColor(148, 103, 189)];

/// COW (MB) over time per server: the child's Private_Dirty from /proc (solid) and the
/// server's INFO current_cow_size (dashed); writes per second on the right axis (thin).
pub fn write_svg(path: &Path, runs: &[RunResult], title: &str) -> Result<(), String> {
    let e = |e: Box<dyn std::error::Error>| format!("chart {}: {}", path.display(), e);
    draw(path, runs, title).map_err(e)
}

fn draw(path: &Path, runs: &[RunResult], title: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mb = |b: u64| b as f64 / 1e6;
    let series: Vec<(String, Vec<(f64, f64)>, Vec<(f64, f64)>, Vec<(f64, f64)>)> = runs
        .iter()
        .map(|r| {
            let proc_cow: Vec<(f64, f64)> =
                r.samples.iter().filter_map(|s| Some((s.t, mb(s.child?.private_dirty)))).collect();
            let info_cow: Vec<(f64, f64)> = r
                .samples
                .iter()
                .filter(|s| s.child_pid.is_some() || s.child.is_some())
                .filter_map(|s| Some((s.t, mb(s.info_cow?))))
                .collect();
            let mut rate = Vec::new();
            for w in r.samples.windows(2) {
                if w[1].t > w[0].t {
                    rate.push((w[1].t, (w[1].ops - w[0].ops) as f64 / (w[1].t - w[0].t)));
                }
            }
            (r.label.clone(), proc_cow, info_cow, rate)
        })
        .collect();
    let xmax = runs.iter().flat_map(|r| r.samples.last().map(|s| s.t)).fold(0.1f64, f64::max);
    let ymax = series
        .iter()
        .flat_map(|(_, a, b, _)| a.iter().chain(b.iter()).map(|p| p.1))
        .fold(0.01f64, f64::max)
        * 1.1;
    let rmax =
        series.iter().flat_map(|(_, _, _, r)| r.iter().map(|p| p.1)).fold(1.0f64, f64::max) * 1.1;

    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?
        .set_secondary_coord(0f64..xmax, 0f64..rmax);
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc("seconds since the fork command")
        .y_desc("copy-on-write (MB)")
        .draw()?;
    chart.configure_secondary_axes().y_desc("operations per second").draw()?;
    for (i, (label, proc_cow, info_cow, rate)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        if !proc_cow.is_empty() {
            chart
                .draw_series(LineSeries::new(proc_cow.clone(), color.stroke_width(2)))?
                .label(format!("{}: child Private_Dirty (/proc)", label))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        if !info_cow.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(info_cow.clone(), 6, 4, color.stroke_width(1)))?
                .label(format!("{}: INFO current_cow_size", label))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1))
                });
        }
        if !rate.is_empty() {
            let faint = color.mix(0.35);
            chart
                .draw_secondary_series(LineSeries::new(rate.clone(), faint.stroke_width(1)))?
                .label(format!("{}: operations/s (right axis)", label))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], faint.stroke_width(1))
                });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
