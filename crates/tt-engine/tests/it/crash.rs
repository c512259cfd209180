//! Crash-resume: an engine is dropped (as a killed process would stop) at each stage
//! boundary and in the middle of each stage; a new engine on the same database finishes
//! the run with one job, one debit and complete evals.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tt_domain::{LedgerKind, RunStatus};
use tt_engine::{Engine, SystemClock};
use tt_store::PageRequest;

use crate::support::{
    Fixture, ScriptedTrainer, fixture, postgres_fixture, providers, run_until, test_config,
};

const OUTPUTS: [&str; 4] = ["one", "two", "three", "four"];

#[derive(Debug, Clone, Copy)]
enum KillPoint {
    MidPreparing,
    EnteredTraining,
    MidTraining,
    EnteredEvaluating,
    MidEvaluating,
}

async fn reached(fx: &Fixture, run: tt_domain::RunId, point: KillPoint) -> bool {
    let current = fx.run(run).await;
    match point {
        KillPoint::MidPreparing => current.dataset_id.is_some() && current.status() == RunStatus::Preparing,
        KillPoint::EnteredTraining => current.status() == RunStatus::Training,
        KillPoint::MidTraining => {
            current.fine_tune_job_id.is_some()
                && fx.store.list_events(fx.account, run, 0).await.expect("events").iter().any(|e| {
                    matches!(&e.event, tt_domain::RunLogEvent::Progress { stage: tt_domain::Stage::Training, progress } if progress.step.is_some())
                })
        }
        KillPoint::EnteredEvaluating => current.status() == RunStatus::Evaluating,
        KillPoint::MidEvaluating => !fx.store.list_evals(fx.account, run).await.expect("evals").is_empty(),
    }
}

fn scripted() -> ScriptedTrainer {
    let mut trainer = ScriptedTrainer::new(&[
        ("question 0", "one"),
        ("question 1", "two"),
        ("question 2", "three"),
    ]);
    trainer.polls_to_complete = 6;
    trainer.inference_delay = Duration::from_millis(40);
    trainer.upload_delay = Duration::from_millis(150);
    trainer
}

async fn crash_and_resume(point: KillPoint) {
    let fx = fixture(&OUTPUTS, 10_000).await;
    let trainer = Arc::new(scripted());
    let run = fx.start_run().await;

    let mut first_config = test_config("doomed");
    first_config.eval_concurrency = 1;
    let first = Engine::new(
        fx.store.clone(),
        providers(&trainer, None),
        Arc::new(SystemClock),
        first_config,
    );
    tokio::select! {
        () = first.run(std::future::pending()) => unreachable!(),
        () = async {
            while !reached(&fx, run.id, point).await {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        } => {}
    }
    // Dropping the engine's future aborts its tasks without releasing their leases, as a
    // killed process would; the next engine waits for the lease to expire.
    drop(first);

    let second = Engine::new(
        fx.store.clone(),
        providers(&trainer, None),
        Arc::new(SystemClock),
        test_config("survivor"),
    );
    let done = run_until(&fx, &second, run.id, |s| s.is_terminal()).await;

    assert_eq!(done.status(), RunStatus::Completed, "{point:?}: {:?}", done.error);
    assert_eq!(trainer.jobs_created.load(Ordering::SeqCst), 1, "{point:?}: one provider job");
    let uploads = trainer.uploads.load(Ordering::SeqCst);
    match point {
        // An upload in flight when the process died was never recorded, so it is sent again.
        KillPoint::MidPreparing => {
            assert!((1..=2).contains(&uploads), "{point:?}: {uploads} uploads")
        }
        _ => assert_eq!(uploads, 1, "{point:?}: one upload"),
    }
    let evals = fx.store.list_evals(fx.account, run.id).await.expect("evals");
    assert_eq!(evals.len(), OUTPUTS.len(), "{point:?}: every example evaluated once");
    assert_eq!(done.eval_summary.expect("summary").total, 4);

    let ledger = fx
        .store
        .list_transactions(fx.account, PageRequest { page: 1, per_page: 100 })
        .await
        .expect("ledger");
    let count = |kind| ledger.items.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(LedgerKind::DebitRun), 1, "{point:?}: one debit");
    assert_eq!(count(LedgerKind::Hold), 1);
    assert_eq!(count(LedgerKind::Release), 1);
    let balance = fx.store.balance(fx.account).await.expect("balance");
    assert_eq!(
        (balance.balance_cents, balance.reserved_cents),
        (10_000 - done.cost_cents.expect("cost"), 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_in_the_middle_of_preparing_resumes_and_completes_once() {
    crash_and_resume(KillPoint::MidPreparing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_as_training_begins_resumes_and_completes_once() {
    crash_and_resume(KillPoint::EnteredTraining).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_in_the_middle_of_training_resumes_and_completes_once() {
    crash_and_resume(KillPoint::MidTraining).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_as_evaluation_begins_resumes_and_completes_once() {
    crash_and_resume(KillPoint::EnteredEvaluating).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_in_the_middle_of_evaluation_resumes_and_completes_once() {
    crash_and_resume(KillPoint::MidEvaluating).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_sqlite_database_do_every_run_exactly_once() {
    two_engines_do_every_run_exactly_once(fixture(&OUTPUTS, 100_000).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_postgres_database_do_every_run_exactly_once() {
    if let Some(fx) = postgres_fixture(&OUTPUTS, 100_000).await {
        two_engines_do_every_run_exactly_once(fx).await;
    }
}

async fn two_engines_do_every_run_exactly_once(fx: Fixture) {
    let trainer = Arc::new(scripted());
    let mut runs = Vec::new();
    for _ in 0..6 {
        runs.push(fx.start_run().await.id);
    }
    let a = Engine::new(
        fx.store.clone(),
        providers(&trainer, None),
        Arc::new(SystemClock),
        test_config("a"),
    );
    let b = Engine::new(
        fx.store.clone(),
        providers(&trainer, None),
        Arc::new(SystemClock),
        test_config("b"),
    );
    tokio::select! {
        () = a.run(std::future::pending()) => unreachable!(),
        () = b.run(std::future::pending()) => unreachable!(),
        () = async {
            for id in &runs {
                fx.wait_for(*id, |s| s.is_terminal()).await;
            }
        } => {}
    }
    for id in &runs {
        assert_eq!(fx.run(*id).await.status(), RunStatus::Completed);
    }
    assert_eq!(trainer.jobs_created.load(Ordering::SeqCst), runs.len());
    let ledger = fx
        .store
        .list_transactions(fx.account, PageRequest { page: 1, per_page: 100 })
        .await
        .expect("ledger");
    assert_eq!(ledger.items.iter().filter(|e| e.kind == LedgerKind::DebitRun).count(), runs.len());
}
