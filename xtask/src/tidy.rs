//! Tidy checks, run as tests so that plain `cargo test` enforces them: layering (which
//! crates may depend on what, transitively), a `//!` doc at the top of every crate root,
//! no `#[ignore]` or `#[should_panic]`, and no trailing whitespace.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// For each of our crates, the external crates it must not reach, even transitively.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("tt-domain", &["tokio", "sqlx", "reqwest", "axum"]),
    ("tt-providers", &["sqlx", "axum", "reqwest"]),
    ("tt-together", &["sqlx", "axum"]),
    ("tt-openai", &["sqlx", "axum"]),
    ("tt-local", &["sqlx", "axum", "reqwest"]),
    ("tt-store", &["sqlx", "axum", "reqwest"]),
    ("tt-store-sql", &["axum", "reqwest"]),
    ("tt-engine", &["axum", "sqlx", "reqwest"]),
    ("tt-api", &["sqlx", "reqwest"]),
    ("tt-client", &["sqlx", "axum"]),
];

/// The normal (non-dev, non-build) dependency graph of the workspace, by package name.
fn dependency_graph() -> HashMap<String, Vec<String>> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(super::workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name")))
        .collect();
    let mut graph = HashMap::new();
    for node in metadata["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let name = names[node["id"].as_str().expect("node id")].to_owned();
        let deps = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|dep| {
                dep["dep_kinds"]
                    .as_array()
                    .expect("dep_kinds")
                    .iter()
                    .any(|kind| kind["kind"].is_null())
            })
            .map(|dep| names[dep["pkg"].as_str().expect("pkg")].to_owned())
            .collect();
        graph.insert(name, deps);
    }
    graph
}

fn reachable<'a>(graph: &'a HashMap<String, Vec<String>>, from: &str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> =
        graph.get(from).map(|deps| deps.iter().map(String::as_str).collect()).unwrap_or_default();
    while let Some(name) = stack.pop() {
        if seen.insert(name) {
            stack.extend(graph.get(name).into_iter().flatten().map(String::as_str));
        }
    }
    seen
}

#[test]
fn tidy_layers_depend_only_inwards() {
    let graph = dependency_graph();
    let mut violations = Vec::new();
    for (krate, forbidden) in FORBIDDEN {
        if !graph.contains_key(*krate) {
            continue;
        }
        let reach = reachable(&graph, krate);
        violations.extend(
            forbidden
                .iter()
                .filter(|f| reach.contains(**f))
                .map(|f| format!("{krate} depends on {f}")),
        );
    }
    assert!(violations.is_empty(), "layering violations:\n{}", violations.join("\n"));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && !name.to_string_lossy().starts_with('.') {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn our_sources() -> Vec<PathBuf> {
    let root = super::workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "bins", "xtask", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    files
}

#[test]
fn tidy_every_crate_root_opens_with_a_doc_comment() {
    let missing: Vec<String> = our_sources()
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str());
            let in_src = p.parent().is_some_and(|d| d.ends_with("src"));
            in_src && matches!(name, Some("lib.rs" | "main.rs"))
        })
        .filter(|p| !std::fs::read_to_string(p).expect("readable source").starts_with("//!"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(missing.is_empty(), "crate roots without a `//!` doc:\n{}", missing.join("\n"));
}

#[test]
fn tidy_no_ignored_or_should_panic_tests_and_no_trailing_whitespace() {
    // Built from pieces so this file does not trip its own check.
    let banned = [format!("#[{}", "ignore"), format!("#[{}", "should_panic")];
    let mut problems = Vec::new();
    for path in our_sources() {
        let text = std::fs::read_to_string(&path).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            if banned.iter().any(|b| line.trim_start().starts_with(b.as_str())) {
                problems.push(format!(
                    "{}:{}: ignored or should_panic test",
                    path.display(),
                    n + 1
                ));
            }
            if line.ends_with(' ') || line.ends_with('\t') {
                problems.push(format!("{}:{}: trailing whitespace", path.display(), n + 1));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
