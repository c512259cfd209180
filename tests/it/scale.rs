//! Several servers on one PostgreSQL: three `tt-server` processes share a database and a
//! batch of runs (light: 30, heavy: 200); one is SIGKILLed midway and not restarted. Every
//! run completes exactly once: one provider job and one debit per run.

use std::sync::Arc;
use std::time::Duration;

use tt_client::RunRequest;
use tt_domain::{HyperparametersInput, RunStatus};
use tt_testkit::together::{ChatCompletionRequestView, FakeTogether, FakeTogetherConfig};

use crate::support::{
    ServerProcess, audit, heavy, postgres_url, spec_draft, wait_until_all_terminal,
};

const CREDITS: i64 = 100_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_one_postgres_complete_every_run_once_when_one_is_killed() {
    let Some(admin) = postgres_url() else { return };
    let database_url = tt_testkit::postgres::fresh_database(&admin, "tt_e2e").await;
    let runs = if heavy() { 200 } else { 30 };
    let together = FakeTogether::start(FakeTogetherConfig {
        job_duration: Duration::from_secs(2),
        chat: Arc::new(|request: &ChatCompletionRequestView| {
            request.last_user_message().replace("question", "answer").replace('?', ".")
        }),
        ..FakeTogetherConfig::default()
    })
    .await;
    let mut dirs = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = ServerProcess::together_env(Some(&database_url), dir.path(), &together);
        servers.push(ServerProcess::start(env, dir.path()).await);
        dirs.push(dir);
    }
    let (_, key) = servers[0].create_account("busy", CREDITS);
    let clients: Vec<_> = servers.iter().map(|server| server.client(&key)).collect();

    let request = RunRequest {
        augment: Some(false),
        hyperparameters: HyperparametersInput {
            n_epochs: Some(1),
            ..HyperparametersInput::default()
        },
    };
    let pairs = [("q question 1?", "q answer 1."), ("q question 2?", "q answer 2.")];
    for i in 0..runs {
        let client = &clients[i % clients.len()];
        let spec = client.create_spec(&spec_draft(&format!("s{i}"), &pairs)).await.expect("spec");
        client.start_run(spec.id, &request).await.expect("run starts");
    }

    // Midway: once half the runs have left preparing, kill the third server.
    let survivor = clients[0].clone();
    let midway = crate::support::eventually(Duration::from_secs(120), || {
        let survivor = survivor.clone();
        async move {
            let all = tt_client::collect_pages(|page| survivor.list_runs(page)).await;
            all.is_ok_and(|all| {
                all.iter().filter(|run| run.status != RunStatus::Preparing).count() * 2 >= runs
            })
        }
    })
    .await;
    assert!(midway, "half the runs never got past preparing");
    servers[2].kill();

    let limit = Duration::from_secs(if heavy() { 540 } else { 150 });
    let finished = wait_until_all_terminal(&survivor, limit).await;
    assert_eq!(finished.len(), runs);
    let not_completed: Vec<_> = finished
        .iter()
        .filter(|run| run.status != RunStatus::Completed)
        .map(|run| (run.id, run.status, run.error.clone()))
        .collect();
    assert!(not_completed.is_empty(), "{not_completed:?}");
    audit(&survivor, &finished, CREDITS, Some(&together)).await;
    assert_eq!(together.jobs_created(), runs as u64, "exactly one provider job per run");
}
