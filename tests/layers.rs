//! The import rule of README.md's architecture, checked: every file of the server crate
//! belongs to a layer (its first folder under `src/`, or `fork` for `src/fork.rs`), and may
//! name through `crate::` only the layers its own layer may import. `tine-core` needs no
//! check here: being its own crate, it cannot name the server at all.
//!
//! Every `crate::<module>` path counts, inline ones included (most references are inline, not
//! `use` lines), and so does each name of a grouped `use crate::{a, b}`. Comments do not.
//!
//! A lower layer that must reach a higher one does it through a trait it defines itself and the
//! higher layer implements (`engine::feed::FeedHost`, `persist::PersistHost`,
//! `commands::ServerOps`...), which names nothing above it: such a call never shows here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What each layer may import from the server crate (tine-core is open to every layer).
const ALLOWED: &[(&str, &[&str])] = &[
    // The fuzz targets' door into the server crate's parsers: above everything, like main.
    ("fuzzing", &["app", "commands", "repl", "persist", "engine", "fork", "config"]),
    ("app", &["net", "commands", "repl", "persist", "engine", "fork", "config"]),
    ("commands", &["repl", "persist", "engine", "config"]),
    ("repl", &["persist", "net", "engine", "fork", "config"]),
    ("persist", &["engine", "fork", "config"]),
    ("net", &[]),
    ("engine", &["config"]),
    ("fork", &["config"]),
    ("config", &[]),
];

fn layer_of(rel: &Path) -> Option<String> {
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let first = parts.next()?;
    match first.as_str() {
        "lib.rs" | "main.rs" => None,
        f if f.ends_with(".rs") => Some(f.trim_end_matches(".rs").to_string()),
        d => Some(d.to_string()),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src/") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules a file names through `crate::`.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().last();
            rest = &rest[i + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue; // tine_core::..., $crate::...
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        names.insert(name);
                    }
                }
            } else {
                let name: String =
                    rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        }
    }
    names
}

#[test]
fn no_layer_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let layers: Vec<&str> = ALLOWED.iter().map(|(l, _)| *l).collect();
    let mut found = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let Some(layer) = layer_of(rel) else { continue };
        let allowed = ALLOWED
            .iter()
            .find(|(l, _)| *l == layer)
            .unwrap_or_else(|| panic!("{} is in no layer: add `{layer}` to ALLOWED", rel.display()))
            .1;
        let text = std::fs::read_to_string(f).unwrap();
        for m in named_modules(&text) {
            if m == layer || !layers.contains(&m.as_str()) {
                continue; // its own layer, or a crate-root item (REDIS_VERSION...)
            }
            if !allowed.contains(&m.as_str()) {
                found.insert((rel.display().to_string(), m));
            }
        }
    }
    assert!(
        found.is_empty(),
        "imports of a layer above (untie them: pass what is needed down, or reach up through a \
         trait the lower layer defines): {found:?}"
    );
}

#[test]
fn the_scanner_sees_inline_and_grouped_paths_but_not_comments() {
    let text = "use crate::{engine, net::client::Client};\nlet x = crate::app::server::f();\n\
                // crate::persist in a comment\nlet y = tine_core::keyspace::Db::new(0);\n";
    let got: Vec<String> = named_modules(text).into_iter().collect();
    assert_eq!(got, ["app", "engine", "net"]);
}
