//! `cargo xtask bench`: runs the benchmark groups and gathers their figures into one table.
//!
//! Each group is a `harness = false` bench target that prints markdown table rows of the
//! form `| group | figure | value | unit |`; this task runs them in release mode and
//! prints every row under one header.

use std::process::Command;

use anyhow::{Context, bail};

/// Every group: its name, the package that holds it and the bench target.
const GROUPS: &[(&str, &str, &str)] = &[
    ("store", "tt-store-sql", "store"),
    ("engine", "tt-engine", "engine"),
    ("api", "tt-e2e", "api"),
    ("local", "tt-local", "local"),
    ("preparing", "tt-engine", "preparing"),
];

#[expect(clippy::print_stdout, reason = "the figures table is this task's output")]
pub(crate) fn run(names: &[String]) -> anyhow::Result<()> {
    let selected: Vec<&(&str, &str, &str)> = if names.is_empty() {
        GROUPS.iter().collect()
    } else {
        names
            .iter()
            .map(|name| {
                GROUPS.iter().find(|g| g.0 == name).with_context(|| {
                    let known: Vec<&str> = GROUPS.iter().map(|g| g.0).collect();
                    format!("unknown bench group `{name}`; known: {}", known.join(", "))
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut rows = Vec::new();
    for (name, package, target) in selected {
        let output = Command::new(env!("CARGO"))
            .args(["bench", "--quiet", "-p", package, "--bench", target])
            .current_dir(super::workspace_root())
            .output()
            .with_context(|| format!("could not run the {name} benchmarks"))?;
        if !output.status.success() {
            bail!("the {name} benchmarks failed:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        rows.extend(stdout.lines().filter(|line| is_figure_row(line)).map(str::to_owned));
    }
    println!("| group | figure | value | unit |");
    println!("|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

/// A figure row has four cells and is not a header or separator row.
fn is_figure_row(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('|')
        && line.matches('|').count() == 5
        && !line.contains("---")
        && !line.starts_with("| group |")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_cell_figure_rows_are_collected() {
        assert!(is_figure_row("| store | run starts/s (sqlite) | 812 | 1/s |"));
        assert!(!is_figure_row("| group | figure | value | unit |"));
        assert!(!is_figure_row("|---|---|---|---|"));
        assert!(!is_figure_row("running 3 iterations"));
        assert!(!is_figure_row("| a | b |"));
    }
}
