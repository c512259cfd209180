//! `cargo xtask schemathesis`: fuzzes the REST API with schemathesis, from its own OpenAPI
//! document, against the real `tt-server` binary.
//!
//! Builds `tt-server`, installs schemathesis from PyPI into `target/schemathesis-venv` (once;
//! the only step that needs the network, which is why `ci` does not run this), starts the
//! server on a temporary SQLite database with an admin account and `TT_ROLE=api` (fuzzed
//! runs are stored, never trained), and runs schemathesis with that account's key. It fails
//! on any 5xx, on answers that do not conform to the schema, and (through the hook in
//! `xtask/schemathesis/tt_hooks.py`) on error answers outside the error envelope.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The schemathesis release line the command line below is written for.
const SCHEMATHESIS: &str = "schemathesis>=4.32,<5";

/// Examples per operation unless `SCHEMATHESIS_MAX_EXAMPLES` says otherwise.
const DEFAULT_MAX_EXAMPLES: &str = "25";

/// The checks run on every answer (the hook adds `error_envelope`).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

#[expect(clippy::print_stderr, reason = "xtask reports progress on stderr")]
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let root = super::workspace_root();
    super::cargo(&["build", "--quiet", "-p", "tt-server", "--bin", "tt-server"])?;
    let server_bin = root.join("target/debug/tt-server");
    let venv = root.join("target/schemathesis-venv");
    let st = venv.join("bin/schemathesis");
    if !st.exists() {
        eprintln!("xtask: installing {SCHEMATHESIS} into {}", venv.display());
        run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run_ok(Command::new(venv.join("bin/pip")).args(["install", "--quiet", SCHEMATHESIS]))?;
    }

    let work = std::env::temp_dir().join(format!("tt-schemathesis-{}", std::process::id()));
    std::fs::create_dir_all(&work).context("could not create a temporary directory")?;
    let result = fuzz(&server_bin, &st, &work, args);
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Starts the server in `work`, fuzzes it, and stops it whatever happened.
#[expect(clippy::print_stderr, reason = "xtask reports progress on stderr")]
fn fuzz(server_bin: &Path, st: &Path, work: &Path, args: &[String]) -> anyhow::Result<()> {
    let server = |command: &mut Command| {
        command
            .env("TT_DATA_DIR", work.join("data"))
            .env("TT_DATABASE_URL", format!("sqlite://{}", work.join("data/tt.db").display()))
            .env("TT_TRAINER", "local")
            .env("TT_ROLE", "api")
            .env("TT_LISTEN", "127.0.0.1:0")
            .env("TT_LOG_FORMAT", "json")
            .env("TT_LOG", "warn,tt_server=info");
    };
    let mut admin = Command::new(server_bin);
    server(&mut admin);
    let out = admin
        .args(["admin", "create-account", "--name", "schemathesis", "--admin", "--json"])
        .args(["--credits", "100000000"])
        .output()
        .context("could not run tt-server admin")?;
    if !out.status.success() {
        bail!("create-account failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let account: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("create-account --json printed no JSON")?;
    let key = account["api_key"].as_str().context("no api_key in create-account's answer")?;

    let log_path = work.join("tt-server.log");
    let log = std::fs::File::create(&log_path).context("could not create the server log")?;
    let mut serve = Command::new(server_bin);
    server(&mut serve);
    let child = serve
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("could not start tt-server")?;
    let mut child = KillOnDrop(child);
    let address = wait_for_address(&log_path, &mut child.0)?;
    eprintln!("xtask: tt-server listening on {address}; fuzzing");

    let max_examples =
        std::env::var("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or_else(|_| DEFAULT_MAX_EXAMPLES.into());
    let hooks = super::workspace_root().join("xtask/schemathesis");
    let status = Command::new(st)
        .env("PYTHONPATH", &hooks)
        .env("SCHEMATHESIS_HOOKS", "tt_hooks")
        .args(["run", &format!("http://{address}/api/v1/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args(["--checks", &format!("{CHECKS},error_envelope")])
        .args(["--max-examples", &max_examples, "--seed", "1", "--workers", "2"])
        .args(["--request-timeout", "30", "--no-color"])
        .args(args)
        .status()
        .context("could not run schemathesis")?;
    let server_log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let panics: Vec<&str> = server_log.lines().filter(|line| line.contains("panicked")).collect();
    if !panics.is_empty() {
        eprintln!("xtask: the server panicked:\n{}", panics.join("\n"));
    }
    if !status.success() {
        bail!("schemathesis found problems ({status}); see its report above");
    }
    Ok(())
}

/// Waits for the `tt-server listening` JSON log line and returns its `address`.
fn wait_for_address(log_path: &Path, child: &mut Child) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let log = std::fs::read_to_string(log_path).unwrap_or_default();
        let address = log
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|line| line["fields"]["message"] == "tt-server listening")
            .and_then(|line| line["fields"]["address"].as_str().map(str::to_owned));
        if let Some(address) = address {
            return Ok(address);
        }
        if let Some(status) = child.try_wait().context("could not check on tt-server")? {
            bail!("tt-server exited ({status}) before listening:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("tt-server did not log its address within a minute ({})", log_path.display())
}

/// Runs a set-up command and fails if it fails.
fn run_ok(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("could not run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

/// The server process, killed when the task ends however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hook_file_exists_where_the_task_points_schemathesis() {
        let hooks = crate::workspace_root().join("xtask/schemathesis/tt_hooks.py");
        let text = std::fs::read_to_string(&hooks).expect("the hook file");
        assert!(text.contains("def error_envelope"), "{}", hooks.display());
    }
}
