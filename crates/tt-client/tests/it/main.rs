//! Integration tests of the client against wiremock servers that serve the API's envelope.

mod errors;
mod events;
mod requests;

use std::time::Duration;

use serde_json::{Value, json};
use tt_client::{Client, ClientOptions};
use wiremock::MockServer;

pub(crate) const KEY: &str = "tt_ABCDEFGH0123456789abcdefghijklmnopqrstuv";
pub(crate) const RUN_ID: &str = "e0b7694b-2c65-4199-89a1-fc54a6a6010c";
pub(crate) const SPEC_ID: &str = "cafd8799-0000-4000-8000-000000000001";

pub(crate) fn client(server: &MockServer) -> Client {
    let options = ClientOptions {
        request_timeout: Duration::from_millis(500),
        reconnect_min_delay: Duration::from_millis(10),
        reconnect_max_delay: Duration::from_millis(20),
        max_reconnects: 3,
        ..ClientOptions::default()
    };
    Client::with_options(&server.uri(), KEY, options).unwrap()
}

pub(crate) fn run_json(status: &str) -> Value {
    json!({
        "id": RUN_ID,
        "behavior_spec_id": SPEC_ID,
        "run_number": 1,
        "status": status,
        "spec_snapshot": {"name": "Bot", "description": "", "system_prompt": "", "guidelines": [], "constraints": [],
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
