//! The user's main loop through the real server, `tt-client` and the `tt` binary: create a
//! spec, start a run and watch it to the end, edit the spec, run again, diff; plus the 402
//! path, cancelling in each stage, key revocation and cross-account isolation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tt_client::{PageParams, RunRequest};
use tt_domain::{HyperparametersInput, RunStatus};

use crate::support::{Answers, Backend, TestServer, eventually, spec_draft, stderr, stdout};

const PAIRS: [(&str, &str); 3] = [
    ("How do I cancel?", "Go to Settings > Billing and press Cancel."),
    ("Where is my invoice?", "Invoices are under Billing > History."),
    ("Can I pay by card?", "Yes, every major card works."),
];

fn answers(correct: &[usize]) -> HashMap<String, String> {
    correct.iter().map(|&i| (PAIRS[i].0.to_owned(), PAIRS[i].1.to_owned())).collect()
}

fn two_epochs() -> RunRequest {
    RunRequest {
        augment: Some(true),
        hyperparameters: HyperparametersInput {
            n_epochs: Some(2),
            ..HyperparametersInput::default()
        },
    }
}

async fn create_watch_edit_rerun_and_diff(backend: Backend) {
    let answers: Answers = Arc::new(Mutex::new(answers(&[0, 2])));
    let Some(server) =
        TestServer::start(backend, Duration::from_millis(800), answers.clone()).await
    else {
        return;
    };
    let (_, key) = server.account("acme", 100_000, false).await;
    let client = server.client(&key);
    let spec = client.create_spec(&spec_draft("Support bot", &PAIRS)).await.expect("spec created");

    // Start and watch through the CLI, naming the spec by a prefix.
    let prefix = &spec.id.to_string()[..8];
    let out = server.tt(&key, &["runs", "start", prefix, "--epochs", "2", "--watch"]);
    assert_eq!(out.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("training") && stderr(&out).contains("evaluating"),
        "{}",
        stderr(&out)
    );
    let runs = client.list_runs_for_spec(spec.id, PageParams::default()).await.expect("runs").items;
    assert_eq!(runs.len(), 1);
    let first = client.get_run(runs[0].id).await.expect("run");
    assert_eq!(first.status, RunStatus::Completed);
    let summary = first.eval_summary.clone().expect("summary");
    assert_eq!(summary.total, 3);
    assert!((summary.pass_rate - 2.0 / 3.0).abs() < 1e-9, "{summary:?}");
    assert_eq!(first.evals.len(), 3);
    assert!(first.evals[0].score <= first.evals[2].score, "worst first");

    let out = server.tt(&key, &["runs", "get", &first.id.to_string(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("runs get --json prints JSON");
    assert_eq!(json["eval_summary"]["total"], 3);
    assert_eq!(json["status"], "completed");

    // Edit the spec through the CLI, then let the next model answer differently: the
    // invoice question improves and the cancel question regresses.
    let edited = server.data_dir.path().join("spec.json");
    let mut draft = spec_draft("Support bot v2", &PAIRS);
    draft.description = "Now with a description".to_owned();
    std::fs::write(&edited, serde_json::to_string(&draft).expect("json")).expect("write spec file");
    let out =
        server.tt(&key, &["specs", "update", prefix, "--file", edited.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(client.get_spec(spec.id).await.expect("spec").name, "Support bot v2");
    *answers.lock().expect("lock") = self::answers(&[1, 2]);

    let second = client.start_run(spec.id, &two_epochs()).await.expect("second run starts");
    assert_eq!(second.run_number, 2);
    let out = server.tt(&key, &["runs", "watch", &second.id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = client.get_run(second.id).await.expect("run");
    let summary = second.eval_summary.clone().expect("summary");
    assert_eq!((summary.regressions, summary.improvements), (1, 1));
    assert_eq!(second.spec_snapshot.name, "Support bot v2");
    assert_eq!(first.spec_snapshot.name, "Support bot", "the first run keeps what it trained on");

    let out = server.tt(&key, &["runs", "diff", &first.id.to_string(), &second.id.to_string()]);
    assert_eq!(out.status.code(), Some(1), "a diff with regressions exits 1: {}", stdout(&out));
    let text = stdout(&out).to_lowercase();
    assert!(text.contains("regress") && text.contains("improv"), "{text}");
    assert!(text.contains("how do i cancel?") && text.contains("where is my invoice?"), "{text}");

    // Two completed runs, each debited once, nothing left on hold.
    let balance = client.balance().await.expect("balance");
    assert_eq!(balance.reserved_cents, 0);
    let debits = first.cost_cents.expect("cost") + second.cost_cents.expect("cost");
    assert!(debits > 0);
    assert_eq!(balance.balance_cents, 100_000 - debits);
    assert_eq!(server.together.jobs_created(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_is_run_watched_edited_rerun_and_diffed_on_sqlite() {
    create_watch_edit_rerun_and_diff(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_is_run_watched_edited_rerun_and_diffed_on_postgres() {
    create_watch_edit_rerun_and_diff(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_beyond_the_available_credit_is_refused_with_the_seed_pages_402() {
    let answers: Answers = Arc::default();
    let server =
        TestServer::start(Backend::Sqlite, Duration::from_secs(1), answers).await.expect("sqlite");
    let (_, key) = server.account("broke", 0, false).await;
    let client = server.client(&key);
    let spec = client.create_spec(&spec_draft("Support bot", &PAIRS)).await.expect("spec");

    let err = client.start_run(spec.id, &two_epochs()).await.expect_err("no credit");
    assert_eq!(err.code(), Some("insufficient_credits"));
    let (required, available) = err.insufficient_credits().expect("402 details");
    assert!(required > 0);
    assert_eq!(available, 0);
    assert!(err.to_string().contains("but you have $0.00 available"), "{err}");

    let out = server.tt(&key, &["runs", "start", &spec.id.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("tt topup"),
        "the error names the top-up command: {}",
        stderr(&out)
    );
    assert!(
        client.list_runs(PageParams::default()).await.expect("runs").items.is_empty(),
        "nothing half-written"
    );
    assert_eq!(client.balance().await.expect("balance").reserved_cents, 0);
    server.stop().await;
}

/// Starts a run and cancels it once `ready` says the run is where the test wants it.
async fn cancel_when(
    server: &TestServer,
    key: &str,
    ready: impl Fn(&tt_client::Run) -> bool,
) -> tt_client::Run {
    let client = server.client(key);
    let spec = client.create_spec(&spec_draft("Support bot", &PAIRS)).await.expect("spec");
    let run = client.start_run(spec.id, &two_epochs()).await.expect("run");
    let reached = eventually(Duration::from_secs(30), || {
        let client = client.clone();
        let ready = &ready;
        async move { ready(&client.get_run(run.id).await.expect("run")) }
    })
    .await;
    assert!(reached, "the run never reached the stage to cancel in");
    let out = server.tt(key, &["runs", "cancel", &run.id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = client.get_run(run.id).await.expect("run");
    assert_eq!(run.status, RunStatus::Cancelled);
    let balance = client.balance().await.expect("balance");
    assert_eq!(
        (balance.reserved_cents, balance.balance_cents),
        (0, 100_000),
        "a cancelled run is free"
    );

    let out = server.tt(key, &["runs", "cancel", &run.id.to_string()]);
    assert_eq!(out.status.code(), Some(2), "cancelling a finished run is a conflict");
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_in_preparing_training_or_evaluating_stops_and_costs_nothing() {
    let answers: Answers = Arc::new(Mutex::new(answers(&[0, 1, 2])));

    // Preparing: the run is cancelled before the engine gets far.
    let server = TestServer::start(Backend::Sqlite, Duration::from_secs(60), answers.clone())
        .await
        .expect("sqlite");
    let (_, key) = server.account("acme", 100_000, false).await;
    cancel_when(&server, &key, |_| true).await;
    server.stop().await;

    // Training: the job exists at the provider and must be cancelled there too.
    let server = TestServer::start(Backend::Sqlite, Duration::from_secs(60), answers.clone())
        .await
        .expect("sqlite");
    let (_, key) = server.account("acme", 100_000, false).await;
    cancel_when(&server, &key, |run| {
        run.status == RunStatus::Training && run.fine_tune_job_id.is_some()
    })
    .await;
    let together = &server.together;
    assert!(
        eventually(Duration::from_secs(10), || async { together.cancels() == 1 }).await,
        "the provider job is cancelled"
    );
    server.stop().await;

    // Evaluating: slow answers keep the run in evaluation long enough to cancel it there.
    let many: Vec<(String, String)> =
        (0..40).map(|i| (format!("question {i}"), format!("answer {i}"))).collect();
    let server = TestServer::start_with_latency(
        Backend::Sqlite,
        Duration::from_millis(300),
        Duration::from_millis(150),
        answers.clone(),
    )
    .await
    .expect("sqlite");
    let (_, key) = server.account("acme", 100_000, false).await;
    let client = server.client(&key);
    let pairs: Vec<(&str, &str)> = many.iter().map(|(q, a)| (q.as_str(), a.as_str())).collect();
    let spec = client.create_spec(&spec_draft("Many", &pairs)).await.expect("spec");
    let run = client.start_run(spec.id, &two_epochs()).await.expect("run");
    let reached = eventually(Duration::from_secs(30), || {
        let client = client.clone();
        async move { client.get_run(run.id).await.expect("run").status == RunStatus::Evaluating }
    })
    .await;
    assert!(reached, "the run reached evaluation");
    let out = server.tt(&key, &["runs", "cancel", &run.id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cancelled = client.get_run(run.id).await.expect("run");
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert!(cancelled.eval_summary.is_none());
    assert_eq!(client.balance().await.expect("balance").reserved_cents, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_at_once_and_other_accounts_see_nothing() {
    let answers: Answers = Arc::new(Mutex::new(answers(&[0, 1, 2])));
    let server = TestServer::start(Backend::Sqlite, Duration::from_millis(300), answers)
        .await
        .expect("sqlite");
    let (_, owner_key) = server.account("owner", 100_000, false).await;
    let (_, other_key) = server.account("other", 100_000, false).await;
    let owner = server.client(&owner_key);
    let other = server.client(&other_key);

    let spec = owner.create_spec(&spec_draft("Support bot", &PAIRS)).await.expect("spec");
    let run = owner.start_run(spec.id, &two_epochs()).await.expect("run");
    let done = eventually(Duration::from_secs(30), || {
        let owner = owner.clone();
        async move { owner.get_run(run.id).await.expect("run").status.is_terminal() }
    })
    .await;
    assert!(done);
    let run = owner.get_run(run.id).await.expect("run");
    let dataset = run.dataset_id.expect("dataset");
    let model = run.model_id.expect("model");
    let extra = owner.create_key(Some("ci")).await.expect("key");

    // Every resource type answers 404 to another account.
    let not_found = |result: Result<(), tt_client::ClientError>| {
        let err = result.expect_err("another account's resource");
        assert_eq!(err.status(), Some(404), "{err}");
    };
    not_found(other.get_spec(spec.id).await.map(drop));
    not_found(other.get_run(run.id).await.map(drop));
    not_found(other.cancel_run(run.id).await);
    not_found(other.get_dataset(dataset).await.map(drop));
    not_found(other.dataset_content(dataset).await.map(drop));
    not_found(other.get_model(model).await.map(drop));
    not_found(other.delete_model(model).await);
    not_found(other.revoke_key(extra.record.id).await);
    not_found(other.list_runs_for_spec(spec.id, PageParams::default()).await.map(drop));
    assert!(other.list_runs(PageParams::default()).await.expect("list").items.is_empty());
    assert!(other.list_specs(PageParams::default()).await.expect("list").items.is_empty());

    // Revoke the extra key through the CLI: it is refused on the very next request.
    let out = server.tt(&owner_key, &["keys", "revoke", &extra.record.id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = server.client(&extra.key).balance().await.expect_err("revoked");
    assert_eq!((err.status(), err.code()), (Some(403), Some("forbidden")));
    let out = server.tt(&extra.key, &["balance"]);
    assert_eq!(out.status.code(), Some(2));
    server.stop().await;
}
