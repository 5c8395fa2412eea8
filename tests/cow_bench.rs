//! tine-cow-bench against tine: a short scenario (small data, a few seconds) with writes and
//! one with reads only. The CSV has samples, the chart is a well-formed SVG, the COW figure is
//! above zero after writes and about zero after reads. Only the direction is asserted, never
//! a timing or an exact size.

mod common;

use std::path::Path;
use std::process::Command;

use common::TestServer;

static TOOL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| common::workspace_bin("tine-cow-bench"));

/// One run of the tool against `srv`; returns its stdout and the JSON figures.
fn bench(srv: &TestServer, ops: &str, out: &Path) -> (String, String) {
    let csv = out.join(format!("{}.csv", ops));
    let svg = out.join(format!("{}.svg", ops));
    let json = out.join(format!("{}.json", ops));
    let o = Command::new(TOOL.as_str())
        .args(["--port", &srv.port.to_string(), "--flushall", "--quiet"])
        .args(["--keys", "20000", "--value-size", "100"])
        .args(["--writes", "2000", "--rate", "2000", "--clients", "2", "--pipeline", "4"])
        .args(["--ops", ops, "--interval-ms", "50"])
        .arg("--csv")
        .arg(&csv)
        .arg("--svg")
        .arg(&svg)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "tine-cow-bench failed: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout,
        String::from_utf8_lossy(&o.stderr)
    );
    (stdout, std::fs::read_to_string(&json).unwrap())
}

/// A number field of the (one-run) JSON the tool writes.
fn field(json: &str, name: &str) -> Option<f64> {
    let at = json.find(&format!("\"{}\": ", name))? + name.len() + 4;
    let rest = &json[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// True when `text` is well-formed XML as far as tags go: every element opened is closed in
/// order, and the root is `svg`.
fn well_formed_svg(text: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut root = None;
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').ok_or("unterminated tag")? + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().ok_or(format!("</{}> closes nothing", name))?;
            if top != name.trim() {
                return Err(format!("<{}> closed by </{}>", top, name));
            }
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or("").trim_end_matches('/');
        root.get_or_insert_with(|| name.to_string());
        if !tag.ends_with('/') {
            stack.push(name.to_string());
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed: {:?}", stack));
    }
    match root.as_deref() {
        Some("svg") => Ok(()),
        other => Err(format!("root element {:?}", other)),
    }
}

#[test]
fn cow_bench_sees_writes_and_not_reads() {
    let srv = TestServer::with_args(&["--enable-debug-command", "yes"]);
    let out = tempfile::tempdir().unwrap();

    let (report, json) = bench(&srv, "overwrite", out.path());
    let csv = std::fs::read_to_string(out.path().join("overwrite.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(rows.len() >= 5, "too few samples:\n{}", csv);
    assert!(
        rows.iter().any(|r| r.split(',').nth(4).is_some_and(|c| !c.is_empty())),
        "no sample has the child's Private_Dirty:\n{}",
        csv
    );
    let svg = std::fs::read_to_string(out.path().join("overwrite.svg")).unwrap();
    well_formed_svg(&svg).unwrap();
    assert!(svg.contains("<polyline"), "the chart has no line");

    let written = field(&json, "cow_info_bytes").expect("INFO's COW figure");
    let written_growth = field(&json, "cow_growth_bytes").expect("/proc's COW growth");
    let during = field(&json, "ops_during_child").unwrap();
    assert!(during > 0.0, "no writes during the child:\n{}", report);
    assert!(written > 0.0 && written_growth > 0.0, "no COW after writes:\n{}", report);

    let (report_r, json_r) = bench(&srv, "read", out.path());
    let read_growth = field(&json_r, "cow_growth_bytes").expect("/proc's COW growth");
    // 2000 random overwrites of 20,000 keys dirty hundreds of pages; 2000 reads should dirty
    // no more than the server's own buffers (a few dozen pages).
    assert!(
        read_growth * 4.0 < written_growth,
        "reads grew COW by {} bytes, writes by {}:\n{}\n{}",
        read_growth,
        written_growth,
        report_r,
        report
    );
}
