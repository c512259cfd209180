//! Whole runs and single stages.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tt_domain::{Clock, LedgerKind, RunLogEvent, RunStatus};
use tt_engine::{Engine, SystemClock};
use tt_store::PageRequest;

use crate::support::{
    Fixture, ScriptedTrainer, engine, fixture, providers, run_until, test_config,
};

const OUTPUTS: [&str; 3] = ["Go to Settings.", "Email us.", "Yes."];

fn trainer_answering_all_but_the_last() -> ScriptedTrainer {
    ScriptedTrainer::new(&[("question 0", "Go to Settings."), ("question 1", "Email us.")])
}

async fn ledger_kinds(fixture: &Fixture) -> Vec<(LedgerKind, i64)> {
    let page = PageRequest { page: 1, per_page: 100 };
    let mut entries =
        fixture.store.list_transactions(fixture.account, page).await.expect("ledger").items;
    entries.reverse();
    entries.into_iter().map(|e| (e.kind, e.amount_cents)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_goes_from_preparing_to_completed_with_evals_and_one_debit() {
    let fx = fixture(&OUTPUTS, 10_000).await;
    let trainer = Arc::new(trainer_answering_all_but_the_last());
    let run = fx.start_run().await;
    let engine = engine(&fx.store, &trainer, "w1");
    let done = run_until(&fx, &engine, run.id, |s| s.is_terminal()).await;

    assert_eq!(done.status(), RunStatus::Completed, "error: {:?}", done.error);
    let summary = done.eval_summary.expect("summary");
    assert_eq!(summary.total, 3);
    assert!((summary.avg_score - 2.0 / 3.0).abs() < 1e-9);
    assert!((summary.pass_rate - 2.0 / 3.0).abs() < 1e-9);
    assert!(
        done.dataset_id.is_some() && done.model_id.is_some() && done.fine_tune_job_id.is_some()
    );
    assert_eq!(trainer.uploads.load(Ordering::SeqCst), 1);
    assert_eq!(trainer.jobs_created.load(Ordering::SeqCst), 1);

    let evals = fx.store.list_evals(fx.account, run.id).await.expect("evals");
    assert_eq!(evals.len(), 3);
    assert_eq!(evals[0].actual, "no idea", "worst first");
    assert!(!evals[0].passed);

    // 250,000 tokens × 4 epochs × 48 cents per million = 48 cents.
    assert_eq!(done.cost_cents, Some(48));
    let kinds = ledger_kinds(&fx).await;
    let hold = run.estimated_cost_cents;
    assert_eq!(kinds[0], (LedgerKind::Topup, 10_000));
    assert_eq!(kinds[1], (LedgerKind::Hold, hold));
    assert!(kinds.contains(&(LedgerKind::Release, hold)));
    let debited: i64 = kinds
        .iter()
        .filter(|(k, _)| matches!(k, LedgerKind::DebitRun | LedgerKind::Adjustment))
        .map(|(_, a)| a)
        .sum();
    assert_eq!(debited, 48);
    let balance = fx.store.balance(fx.account).await.expect("balance");
    assert_eq!((balance.balance_cents, balance.reserved_cents), (10_000 - 48, 0));

    let dataset =
        fx.store.get_dataset(fx.account, done.dataset_id.expect("dataset")).await.expect("dataset");
    assert_eq!(dataset.name, "Support bot - Run #1");
    assert_eq!(dataset.row_count, 6, "three examples and three augmented rows");

    let events = fx.store.list_events(fx.account, run.id, 0).await.expect("events");
    let statuses: Vec<RunStatus> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunLogEvent::Status { to, .. } => Some(*to),
            RunLogEvent::Progress { .. } => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [RunStatus::Preparing, RunStatus::Training, RunStatus::Evaluating, RunStatus::Completed]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_training_job_fails_the_run_with_the_providers_message_and_releases_the_hold() {
    let fx = fixture(&OUTPUTS, 10_000).await;
    let mut scripted = trainer_answering_all_but_the_last();
    scripted.fail_with = Some("the training file has no assistant turns".into());
    let trainer = Arc::new(scripted);
    let run = fx.start_run().await;
    let done =
        run_until(&fx, &engine(&fx.store, &trainer, "w1"), run.id, |s| s.is_terminal()).await;

    assert_eq!(done.status(), RunStatus::Failed);
    let error = done.error.expect("an error");
    assert!(
        error.contains("training failed at together") && error.contains("no assistant turns"),
        "{error}"
    );
    let balance = fx.store.balance(fx.account).await.expect("balance");
    assert_eq!((balance.balance_cents, balance.reserved_cents), (10_000, 0));
    assert!(ledger_kinds(&fx).await.contains(&(LedgerKind::Release, run.estimated_cost_cents)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_failure_is_recorded_on_the_example_and_the_run_still_completes() {
    let fx = fixture(&OUTPUTS, 10_000).await;
    let trainer = Arc::new(trainer_answering_all_but_the_last());
    let engine = Engine::new(
        fx.store.clone(),
        providers(&trainer, Some("question 1")),
        Arc::new(SystemClock),
        test_config("w1"),
    );
    let run = fx.start_run().await;
    let done = run_until(&fx, &engine, run.id, |s| s.is_terminal()).await;

    assert_eq!(done.status(), RunStatus::Completed);
    assert_eq!(done.eval_summary.expect("summary").judge_errors, 1);
    let evals = fx.store.list_evals(fx.account, run.id).await.expect("evals");
    let failed = evals.iter().find(|e| e.prompt == "question 1").expect("evaluated");
    assert!(failed.judge_error.as_deref().is_some_and(|e| e.contains("not JSON")));
    assert!(!failed.passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_provider_failures_are_retried_and_the_run_completes() {
    let fx = fixture(&OUTPUTS, 10_000).await;
    let trainer = Arc::new(trainer_answering_all_but_the_last());
    trainer.transient_failures.store(9, Ordering::SeqCst);
    let run = fx.start_run().await;
    let done =
        run_until(&fx, &engine(&fx.store, &trainer, "w1"), run.id, |s| s.is_terminal()).await;

    assert_eq!(done.status(), RunStatus::Completed, "error: {:?}", done.error);
    assert_eq!(trainer.transient_failures.load(Ordering::SeqCst), 0);
    assert_eq!(trainer.jobs_created.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_always_fails_transiently_fails_the_run_and_releases_the_hold() {
    let fx = fixture(&OUTPUTS, 10_000).await;
    let trainer = Arc::new(trainer_answering_all_but_the_last());
    trainer.transient_failures.store(u32::MAX, Ordering::SeqCst);
    let mut config = test_config("w1");
    config.max_step_failures = 2;
    config.call_attempts = 2;
    let engine =
        Engine::new(fx.store.clone(), providers(&trainer, None), Arc::new(SystemClock), config);
    let run = fx.start_run().await;
    let done = run_until(&fx, &engine, run.id, |s| s.is_terminal()).await;

    assert_eq!(done.status(), RunStatus::Failed);
    assert!(done.error.expect("error").contains("kept failing"));
    assert_eq!(fx.store.balance(fx.account).await.expect("balance").reserved_cents, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_in_training_is_cancelled_at_the_provider_and_its_hold_released() {
    let fx = fixture(&OUTPUTS, 10_000).await;
    let mut scripted = trainer_answering_all_but_the_last();
    scripted.polls_to_complete = u32::MAX;
    let trainer = Arc::new(scripted);
    let run = fx.start_run().await;
    let engine = engine(&fx.store, &trainer, "w1");
    tokio::select! {
        () = engine.run(std::future::pending()) => unreachable!(),
        () = async {
            let training = fx.wait_for(run.id, |s| s == RunStatus::Training).await;
            // Wait for the job to exist so that there is something to cancel at the provider.
            while fx.run(training.id).await.fine_tune_job_id.is_none() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            fx.store.cancel_run(fx.account, run.id, SystemClock.now()).await.expect("cancel");
            while trainer.cancels.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        } => {}
    }
    let done = fx.run(run.id).await;
    assert_eq!(done.status(), RunStatus::Cancelled);
    assert_eq!(trainer.cancels.load(Ordering::SeqCst), 1);
    let balance = fx.store.balance(fx.account).await.expect("balance");
    assert_eq!((balance.balance_cents, balance.reserved_cents), (10_000, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_run_counts_regressions_and_improvements_against_the_first() {
    let fx = fixture(&OUTPUTS, 10_000).await;
    let first = Arc::new(trainer_answering_all_but_the_last());
    let run1 = fx.start_run().await;
    run_until(&fx, &engine(&fx.store, &first, "w1"), run1.id, |s| s.is_terminal()).await;

    // The second model gets question 2 right and question 0 wrong.
    let second =
        Arc::new(ScriptedTrainer::new(&[("question 1", "Email us."), ("question 2", "Yes.")]));
    let run2 = fx.start_run().await;
    assert_eq!(run2.run_number, 2);
    let done =
        run_until(&fx, &engine(&fx.store, &second, "w2"), run2.id, |s| s.is_terminal()).await;
    let summary = done.eval_summary.expect("summary");
    assert_eq!((summary.regressions, summary.improvements), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_model_without_a_configured_trainer_fails_with_what_to_configure() {
    let fx = fixture(&OUTPUTS, 10_000).await;
    let trainer = Arc::new(trainer_answering_all_but_the_last());
    let mut without_hosted = providers(&trainer, None);
    without_hosted.hosted = None;
    let engine =
        Engine::new(fx.store.clone(), without_hosted, Arc::new(SystemClock), test_config("w1"));
    let run = fx.start_run().await;
    let done = run_until(&fx, &engine, run.id, |s| s.is_terminal()).await;
    assert_eq!(done.status(), RunStatus::Failed);
    assert!(done.error.expect("error").contains("TT_TRAINER=together"));
    assert_eq!(trainer.uploads.load(Ordering::SeqCst), 0);
}

/// The preparing and training stages against mockall mocks: the request the trainer gets
/// carries the uploaded file, the base model, the run's hyperparameters and a run suffix,
/// and a job the provider reports failed fails the run with its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trainer_gets_the_uploaded_file_and_the_runs_settings_exactly_once() {
    use tt_providers::{FineTuneJob, JobStatus, MockFineTuner, MockInference, UploadedFile};

    let fx = fixture(&OUTPUTS, 10_000).await;
    let run = fx.start_run().await;
    let mut trainer = MockFineTuner::new();
    trainer.expect_provider_name().return_const("together");
    trainer
        .expect_upload_dataset()
        .times(1)
        .withf(move |run_id, name, jsonl| {
            *run_id == run.id && name.ends_with(".jsonl") && jsonl.lines().count() == 6
        })
        .returning(|_, _, jsonl| {
            Ok(UploadedFile { id: "file-42".into(), bytes: jsonl.len() as u64 })
        });
    let suffix_start = format!("tt-{}", &run.id.as_uuid().simple().to_string()[..12]);
    trainer
        .expect_create_job()
        .times(1)
        .withf(move |request| {
            request.training_file_id == "file-42"
                && request.base_model == crate::support::HOSTED_MODEL
                && request.hyperparameters.n_epochs() == 4
                && request.suffix == suffix_start
        })
        .returning(|_| {
            Ok(FineTuneJob {
                id: "ft-1".into(),
                status: JobStatus::Running,
                progress: None,
                token_count: None,
                output_model: None,
                error: None,
            })
        });
    trainer.expect_job_events().returning(|_, _| Ok(Vec::new()));
    trainer.expect_get_job().returning(|id| {
        Ok(FineTuneJob {
            id: id.to_owned(),
            status: JobStatus::Failed,
            progress: None,
            token_count: None,
            output_model: None,
            error: Some("learning rate too high".into()),
        })
    });
    let trainer = Arc::new(trainer);
    let mut providers = providers(&Arc::new(trainer_answering_all_but_the_last()), None);
    providers.hosted =
        Some(tt_engine::Trainer { fine_tuner: trainer, inference: Arc::new(MockInference::new()) });
    let engine = Engine::new(fx.store.clone(), providers, Arc::new(SystemClock), test_config("w1"));
    let done = run_until(&fx, &engine, run.id, |s| s.is_terminal()).await;

    assert_eq!(done.status(), RunStatus::Failed);
    assert_eq!(done.fine_tune_job_id.as_deref(), Some("ft-1"));
    assert!(done.error.expect("error").contains("learning rate too high"));
}
