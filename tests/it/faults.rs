//! Provider faults against the real `tt-server` binary: with a fifth of Together's answers
//! rate limits, server errors or hangs every run still completes and is billed once; with
//! a provider that always fails, runs fail with a readable error and give their holds back.

use std::sync::Arc;
use std::time::Duration;

use tt_client::RunRequest;
use tt_domain::{HyperparametersInput, RunStatus};
use tt_testkit::together::{
    ChatCompletionRequestView, FakeTogether, FakeTogetherConfig, FaultConfig, FaultKind,
};

use crate::support::{ServerProcess, audit, heavy, spec_draft, wait_until_all_terminal};

const CREDITS: i64 = 10_000_000;

fn request() -> RunRequest {
    RunRequest {
        augment: Some(true),
        hyperparameters: HyperparametersInput {
            n_epochs: Some(2),
            ..HyperparametersInput::default()
        },
    }
}

fn pairs(name: &str) -> Vec<(String, String)> {
    (0..6).map(|i| (format!("{name} question {i}?"), format!("{name} answer {i}."))).collect()
}

/// Starts `runs` runs (one spec each) on a fresh `tt-server` in front of `together`, waits
/// for all to end, audits the ledger and returns them.
async fn run_batch(
    together: &FakeTogether,
    runs: usize,
    extra_env: &[(&str, &str)],
    limit: Duration,
) -> Vec<tt_client::Run> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = ServerProcess::together_env(None, dir.path(), together);
    env.extend(extra_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let server = ServerProcess::start(env, dir.path()).await;
    let (_, key) = server.create_account("faulty", CREDITS);
    let client = server.client(&key);
    for i in 0..runs {
        let pairs = pairs(&format!("s{i}"));
        let borrowed: Vec<(&str, &str)> =
            pairs.iter().map(|(q, a)| (q.as_str(), a.as_str())).collect();
        let spec =
            client.create_spec(&spec_draft(&format!("s{i}"), &borrowed)).await.expect("spec");
        client.start_run(spec.id, &request()).await.expect("run starts");
    }
    let finished = wait_until_all_terminal(&client, limit).await;
    assert_eq!(finished.len(), runs);
    audit(&client, &finished, CREDITS, Some(together)).await;
    finished
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_completes_when_a_fifth_of_provider_calls_fail_or_hang() {
    let runs = if heavy() { 24 } else { 4 };
    let faults = FaultConfig {
        hang_for: Duration::from_secs(5),
        seed: 20,
        ..FaultConfig::sometimes(
            0.2,
            &[FaultKind::RateLimited, FaultKind::ServerError, FaultKind::Hang],
        )
        .with_retry_after(Duration::from_millis(300))
    };
    let together = FakeTogether::start(FakeTogetherConfig {
        job_duration: Duration::from_secs(2),
        faults,
        chat: Arc::new(|request: &ChatCompletionRequestView| {
            request.last_user_message().replace("question", "answer").replace('?', ".")
        }),
        ..FakeTogetherConfig::default()
    })
    .await;
    // A hanging request is abandoned after a second and retried.
    let finished = run_batch(
        &together,
        runs,
        &[("TOGETHER_TIMEOUT_SECONDS", "1")],
        Duration::from_secs(if heavy() { 600 } else { 150 }),
    )
    .await;
    let not_completed: Vec<_> = finished
        .iter()
        .filter(|run| run.status != RunStatus::Completed)
        .map(|run| (run.status, run.error.clone()))
        .collect();
    assert!(not_completed.is_empty(), "{not_completed:?}");
    assert!(together.faults_injected() > 0, "faults were injected");
    assert_eq!(together.jobs_created(), runs as u64, "one job per run despite the faults");
}

/// Every run of the batch failed with an error that contains `expected`, and nothing of
/// their credit is held or spent.
fn all_failed_readably(finished: &[tt_client::Run], expected: &str) {
    for run in finished {
        assert_eq!(run.status, RunStatus::Failed, "{run:?}");
        let error = run.error.as_deref().unwrap_or_default();
        assert!(error.contains(expected), "the error should say `{expected}`: {error}");
        assert_eq!(run.cost_cents.unwrap_or_default(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_fail_readably_and_release_their_holds_when_every_job_fails_at_the_provider() {
    let together = FakeTogether::start(FakeTogetherConfig {
        job_duration: Duration::from_secs(2),
        fail_jobs_with: Some("no capacity for this base model".to_owned()),
        ..FakeTogetherConfig::default()
    })
    .await;
    let finished = run_batch(&together, 3, &[], Duration::from_secs(60)).await;
    all_failed_readably(&finished, "no capacity for this base model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_fail_readably_and_release_their_holds_when_the_provider_refuses_the_key() {
    let together = FakeTogether::start(FakeTogetherConfig::default()).await;
    let finished =
        run_batch(&together, 2, &[("TOGETHER_API_KEY", "a-wrong-key")], Duration::from_secs(60))
            .await;
    all_failed_readably(&finished, "credentials");
    assert_eq!(together.jobs_created(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stderr, reason = "a skipped variant says so")]
async fn runs_fail_readably_and_release_their_holds_when_the_provider_always_errors() {
    if !heavy() {
        eprintln!(
            "skipped: the always-5xx provider exhausts the engine's step back-off (minutes); set TT_HEAVY_TESTS=1"
        );
        return;
    }
    let together = FakeTogether::start(FakeTogetherConfig {
        faults: FaultConfig::always(FaultKind::ServerError),
        ..FakeTogetherConfig::default()
    })
    .await;
    let finished = run_batch(&together, 2, &[], Duration::from_secs(540)).await;
    all_failed_readably(&finished, "500");
}
