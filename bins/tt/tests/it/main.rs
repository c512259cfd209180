//! End-to-end tests of the `tt` binary against wiremock servers that serve the API's envelope.

mod auth;
mod commands;
mod errors;
mod watch;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::MockServer;

pub(crate) const KEY: &str = "tt_ABCDEFGH0123456789abcdefghijklmnopqrstuv";
pub(crate) const OTHER_KEY: &str = "tt_ZYXWVUTS0123456789abcdefghijklmnopqrstuv";
pub(crate) const RUN_A: &str = "aaaa1111-2c65-4199-89a1-fc54a6a6010c";
pub(crate) const RUN_B: &str = "bbbb2222-2c65-4199-89a1-fc54a6a6010c";
pub(crate) const SPEC_ID: &str = "cafd8799-0000-4000-8000-000000000001";

/// A `tt` invocation with a private config directory and no key in the environment.
pub(crate) struct Tt {
    config: TempDir,
}

impl Tt {
    pub(crate) fn new() -> Self {
        Self { config: tempfile::tempdir().unwrap() }
    }

    pub(crate) fn config_dir(&self) -> &Path {
        self.config.path()
    }

    pub(crate) fn command(&self, server: Option<&MockServer>, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tt"));
        command
            .args(args)
            .env_remove("TT_API_KEY")
            .env_remove("TUNED_TENSOR_API_KEY")
            .env_remove("TT_BASE_URL")
            .env("XDG_CONFIG_HOME", self.config.path())
            .env("NO_COLOR", "1");
        if let Some(server) = server {
            command.env("TT_BASE_URL", server.uri());
        }
        command
    }

    /// Runs `tt` with the key in `TT_API_KEY`, off the async runtime.
    pub(crate) async fn run(&self, server: &MockServer, args: &[&str]) -> Output {
        let mut command = self.command(Some(server), args);
        command.env("TT_API_KEY", KEY);
        output(command).await
    }
}

pub(crate) async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

pub(crate) fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

pub(crate) fn run_json(id: &str, status: &str) -> Value {
    json!({
        "id": id,
        "behavior_spec_id": SPEC_ID,
        "run_number": 1,
        "status": status,
        "spec_snapshot": {"name": "Support bot", "description": "", "system_prompt": "", "guidelines": [], "constraints": [],
                          "examples": [{"input": "Hi", "output": "Hello."}], "base_model": "tt-local/tiny"},
        "dataset_id": null,
        "fine_tune_job_id": null,
        "model_id": null,
        "hyperparameters": {"augment": true, "n_epochs": 4, "learning_rate": "auto", "batch_size": 8, "lora_rank": 8, "lora_alpha": 16},
        "eval_summary": null,
        "estimated_cost_cents": 42,
        "cost_cents": null,
        "error": null,
        "started_at": "2026-03-06T10:30:00.000Z",
        "completed_at": null
    })
}

pub(crate) fn eval_json(key: &str, prompt: &str, score: f64) -> Value {
    json!({"example_key": key, "prompt": prompt, "expected": "x", "actual": "y", "score": score,
           "passed": score >= 0.7, "reasoning": "judged", "latency_ms": 100, "judge_error": null})
}

pub(crate) fn spec_json(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "description": "", "system_prompt": "", "guidelines": [], "constraints": [],
        "examples": [{"input": "Hi", "output": "Hello."}], "base_model": "tt-local/tiny",
        "created_at": "2026-03-06T10:30:00.000Z", "updated_at": "2026-03-06T10:30:00.000Z",
        "_run_count": 2, "_latest_run_status": "completed", "_latest_run_score": 0.82})
}

pub(crate) fn list(items: Vec<Value>) -> Value {
    let total = items.len();
    json!({"data": items, "meta": {"page": 1, "per_page": 100, "total": total}})
}
