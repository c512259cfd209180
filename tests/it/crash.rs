//! Crash safety of the real `tt-server` binary: a batch of runs (on the fake Together and on
//! the local trainer) while the server is SIGKILLed at random moments in preparing,
//! training and evaluating and started again on the same database; afterwards every run is
//! terminal, no hold is left, each completed run is debited once and the provider saw at
//! most one job per run.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tt_client::{Client, RunRequest};
use tt_domain::{HyperparametersInput, RunStatus};
use tt_testkit::together::{ChatCompletionRequestView, FakeTogether, FakeTogetherConfig};

use crate::support::{ServerProcess, audit, heavy, spec_draft, wait_until_all_terminal};

/// The seed of the kill moments; change it to explore other interleavings.
const SEED: u64 = 0x7e57_c4a5_0001;

/// Credit granted to the account: far more than the batch needs.
const CREDITS: i64 = 10_000_000;

/// The stages the kills aim at, in turn.
const TARGETS: [RunStatus; 3] = [RunStatus::Preparing, RunStatus::Training, RunStatus::Evaluating];

/// A spec with enough examples that evaluation lasts long enough to be interrupted.
fn many_examples(name: &str) -> tt_domain::SpecDraft {
    let pairs: Vec<(String, String)> =
        (0..24).map(|i| (format!("{name} question {i}?"), format!("{name} answer {i}."))).collect();
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(q, a)| (q.as_str(), a.as_str())).collect();
    spec_draft(name, &borrowed)
}

fn epochs(n: u32) -> RunRequest {
    RunRequest {
        augment: Some(true),
        hyperparameters: HyperparametersInput {
            n_epochs: Some(n),
            ..HyperparametersInput::default()
        },
    }
}

/// The statuses of every run now, or none while the server does not answer.
async fn statuses(client: &Client) -> Vec<RunStatus> {
    tt_client::collect_pages(|page| client.list_runs(page))
        .await
        .map(|runs| runs.into_iter().map(|run| run.status).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stderr, reason = "each kill is logged so that a failure can be replayed")]
async fn runs_survive_sigkills_in_every_stage_and_are_billed_once() {
    let (together_runs, kills) = if heavy() { (24, 12) } else { (6, 4) };
    let mut rng = StdRng::seed_from_u64(SEED);
    let together = FakeTogether::start(FakeTogetherConfig {
        job_duration: Duration::from_secs(3),
        latency: Duration::from_millis(40),
        chat: Arc::new(|request: &ChatCompletionRequestView| {
            request.last_user_message().replace("question", "answer").replace('?', ".")
        }),
        ..FakeTogetherConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let env = ServerProcess::together_env(None, dir.path(), &together);
    let mut server = ServerProcess::start(env, dir.path()).await;
    let (_, key) = server.create_account("crashy", CREDITS);

    let client = server.client(&key);
    let mut local = spec_draft("Local", &[("hi", "hello"), ("bye", "goodbye")]);
    local.base_model = Some("tt-local/tiny".to_owned());
    let local = client.create_spec(&local).await.expect("local spec");
    let mut specs = Vec::new();
    for i in 0..together_runs {
        specs.push(client.create_spec(&many_examples(&format!("s{i}"))).await.expect("spec").id);
    }

    let mut seen = HashSet::new();
    let mut started = 0;
    for kill in 0..kills {
        let client = server.client(&key);
        if kill == 0 {
            client.start_run(local.id, &epochs(1)).await.expect("local run starts");
        }
        // Each wave starts its share of the batch, so that every kill finds fresh runs.
        let wave_end = together_runs * (kill + 1) / kills;
        for spec in &specs[started..wave_end] {
            client.start_run(*spec, &epochs(2)).await.expect("run starts");
        }
        started = wave_end;
        let target = TARGETS
            .get(kill)
            .copied()
            .unwrap_or_else(|| TARGETS[rng.random_range(0..TARGETS.len())]);
        let jitter = Duration::from_millis(rng.random_range(0..250));
        tokio::time::sleep(jitter).await;
        let mut now = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            now = statuses(&client).await;
            if now.contains(&target) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seen.extend(now.iter().copied().filter(|status| !status.is_terminal()));
        eprintln!("kill {kill}: aimed at {target:?} after {jitter:?}; runs were {now:?}");
        server.kill();
        server.restart().await;
    }

    let client = server.client(&key);
    let runs = wait_until_all_terminal(&client, Duration::from_secs(180)).await;
    assert_eq!(runs.len(), together_runs + 1);
    for stage in TARGETS {
        assert!(seen.contains(&stage), "no kill landed while a run was {stage:?}: {seen:?}");
    }
    let failed: Vec<_> = runs
        .iter()
        .filter(|run| run.status != RunStatus::Completed)
        .map(|run| (run.id, run.status, run.error.clone()))
        .collect();
    assert!(failed.is_empty(), "a crash must not fail or lose a run: {failed:?}");
    audit(&client, &runs, CREDITS, Some(&together)).await;
    assert!(together.jobs_created() <= together_runs as u64);
}
