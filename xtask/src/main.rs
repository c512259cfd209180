//! `cargo xtask`: the project's build system, in Rust so it runs wherever cargo does.
//!
//! - `ci`: formatting check, clippy with warnings denied, and the whole test suite
//!   (cargo-nextest; the tidy checks are part of it as tests of this crate).
//! - `tidy`: only the tidy checks.
//! - `bench [GROUP…]`: runs benchmark groups (all when none is named) and prints one
//!   markdown table of their figures.
//! - `schemathesis`: fuzzes the API from its OpenAPI document with schemathesis (installed
//!   from PyPI into `target/schemathesis-venv`); not part of `ci`.

mod bench;
mod schemathesis;
#[cfg(test)]
mod tidy;

use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

#[expect(clippy::print_stderr, reason = "xtask reports progress on stderr")]
fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> anyhow::Result<()> {
    let (task, rest) = args.split_first().map_or(("help", &[][..]), |(t, r)| (t.as_str(), r));
    match task {
        "ci" => ci(),
        "tidy" => cargo(&["test", "--quiet", "-p", "xtask", "--", "tidy"]),
        "bench" => bench::run(rest),
        "schemathesis" => schemathesis::run(rest),
        "help" | "--help" | "-h" => {
            help();
            Ok(())
        }
        other => bail!("unknown task `{other}`; try `cargo xtask help`"),
    }
}

#[expect(clippy::print_stdout, reason = "xtask's help goes to stdout")]
fn help() {
    println!("cargo xtask ci | tidy | bench [store|engine|api|local|preparing]… | schemathesis");
}

fn ci() -> anyhow::Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])
        .context("code is not formatted: run `cargo fmt --all`")?;
    cargo(&["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"])?;
    let nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if nextest {
        cargo(&["nextest", "run", "--workspace", "--no-fail-fast"])
    } else {
        cargo(&["test", "--workspace", "--no-fail-fast"])
    }
}

/// Runs `cargo` with `args` in the workspace root and fails if it fails.
fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("could not run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}
