//! Integration tests of the Together adapter: exact requests and error mapping against
//! wiremock, and whole flows against `tt-testkit`'s fake Together server.

mod errors;
mod fake;
mod idempotency;
mod requests;

use std::time::Duration;

use tt_domain::{Hyperparameters, RunId};
use tt_providers::FineTuneRequest;
use tt_together::{TogetherClient, TogetherConfig};

const KEY: &str = "test-key";

/// Settings for tests: short timeouts and backoff, one retry.
fn config(base_url: &str, key: &str) -> TogetherConfig {
    TogetherConfig {
        request_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        max_retries: 1,
        retry_min_delay: Duration::from_millis(10),
        retry_max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
        ..TogetherConfig::new(key).with_base_url(base_url)
    }
}

fn client(base_url: &str) -> TogetherClient {
    TogetherClient::new(config(base_url, KEY)).unwrap()
}

fn run_id() -> RunId {
    RunId::from_uuid(uuid::Uuid::parse_str("0123abcd-4567-89ef-0123-456789abcdef").unwrap())
}

fn fine_tune_request(training_file_id: &str) -> FineTuneRequest {
    FineTuneRequest {
        run_id: run_id(),
        training_file_id: training_file_id.to_owned(),
        base_model: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference".to_owned(),
        hyperparameters: Hyperparameters::default(),
        suffix: "support-bot".to_owned(),
    }
}
