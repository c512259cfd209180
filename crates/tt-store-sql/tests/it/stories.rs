//! The conformance suite: every story runs unchanged on every backend.

use std::sync::Arc;

use tt_domain::{
    DatasetStatus, EvalResult, ExampleKey, JsonlIssue, LedgerKind, RunEvent, RunLogEvent,
    RunStatus, ScoringMethod, summarize,
};
use tt_store::{
    KeyCheck, NewDataset, NewModel, PageRequest, RunProgress, Store, StoreError, StoreNotice,
    TransitionDetails,
};

use crate::harness::{account_with, at, claim_one, spec_content, start_of};

fn eval(input: &str, score: f64) -> EvalResult {
    EvalResult {
        example_key: ExampleKey::of_input(input),
        prompt: input.to_owned(),
        expected: format!("answer to {input}"),
        actual: "something".to_owned(),
        score,
        passed: tt_domain::passes(score),
        reasoning: "judged".to_owned(),
        latency_ms: 120,
        judge_error: None,
    }
}

fn dataset(name: &str) -> NewDataset {
    NewDataset {
        name: name.to_owned(),
        description: "training rows".to_owned(),
        content: "{\"messages\":[]}\n".to_owned(),
        row_count: 1,
        status: DatasetStatus::Validated,
        errors: Vec::new(),
    }
}

fn model() -> NewModel {
    NewModel {
        name: "tiny-ft-abc".to_owned(),
        provider: "local".to_owned(),
        provider_model_id: "/models/abc".to_owned(),
        base_model: "tt-local/tiny".to_owned(),
        fine_tune_job_id: "abc".to_owned(),
    }
}

fn kinds(entries: &[tt_domain::LedgerEntry]) -> Vec<(LedgerKind, i64)> {
    entries.iter().rev().map(|entry| (entry.kind, entry.amount_cents)).collect()
}

async fn ledger(store: &dyn Store, account: tt_domain::AccountId) -> Vec<tt_domain::LedgerEntry> {
    store.list_transactions(account, PageRequest { page: 1, per_page: 100 }).await.unwrap().items
}

fn page(page: u32, per_page: u32) -> PageRequest {
    PageRequest { page, per_page }
}

/// Starts a run, claims it and moves it to `evaluating` with the given evals saved.
async fn evaluating_run(
    store: &dyn Store,
    account: tt_domain::AccountId,
    spec: &tt_domain::BehaviorSpec,
    hold: i64,
    evals: &[EvalResult],
) -> tt_store::ClaimedRun {
    let run = store.start_run(account, start_of(spec, hold), at(10)).await.unwrap();
    let claimed = claim_one(store, "worker-a", at(20)).await;
    assert_eq!(claimed.run.id, run.id);
    store
        .transition(&claimed.lease, RunEvent::Prepared, TransitionDetails::default(), at(30))
        .await
        .unwrap();
    store
        .transition(&claimed.lease, RunEvent::Trained, TransitionDetails::default(), at(40))
        .await
        .unwrap();
    for result in evals {
        store.save_eval(&claimed.lease, result.clone()).await.unwrap();
    }
    claimed
}

fn evaluated(evals: &[EvalResult], cost: i64) -> TransitionDetails {
    let scores: Vec<_> = evals.iter().map(EvalResult::to_score).collect();
    TransitionDetails {
        eval_summary: Some(summarize(&scores, &[], ScoringMethod::Similarity)),
        actual_cost_cents: Some(cost),
        ..TransitionDetails::default()
    }
}

pub(crate) async fn accounts_and_keys_round_trip(store: Arc<dyn Store>) {
    let admin = store.create_account("ops", true, at(0)).await.unwrap();
    assert_eq!(store.get_account(admin.id).await.unwrap(), admin);
    let hash = tt_domain::hash_api_key("tt_AAAAAAAAsecret");
    let first = store.create_api_key(admin.id, "laptop", "AAAAAAAA", hash, at(1)).await.unwrap();
    let second = store.create_api_key(admin.id, "ci", "BBBBBBBB", [7; 32], at(2)).await.unwrap();

    let check = store.check_api_key("AAAAAAAA", hash, at(5)).await.unwrap();
    assert_eq!(check, KeyCheck::Valid { account_id: admin.id, key_id: first.id, is_admin: true });
    assert_eq!(store.check_api_key("AAAAAAAA", [0; 32], at(5)).await.unwrap(), KeyCheck::Unknown);
    assert_eq!(store.check_api_key("CCCCCCCC", hash, at(5)).await.unwrap(), KeyCheck::Unknown);

    let keys = store.list_api_keys(admin.id).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id).collect::<Vec<_>>(),
        [second.id, first.id],
        "newest first"
    );
    assert_eq!(keys[1].last_used_at, Some(at(5)));
    assert_eq!(keys[0].last_used_at, None);

    // Uses within a minute are not written again; a later one is.
    store.check_api_key("AAAAAAAA", hash, at(5 + 59_999)).await.unwrap();
    assert_eq!(store.list_api_keys(admin.id).await.unwrap()[1].last_used_at, Some(at(5)));
    store.check_api_key("AAAAAAAA", hash, at(5 + 60_000)).await.unwrap();
    assert_eq!(store.list_api_keys(admin.id).await.unwrap()[1].last_used_at, Some(at(60_005)));

    let taken =
        store.create_api_key(admin.id, "again", "AAAAAAAA", [1; 32], at(3)).await.unwrap_err();
    assert!(
        matches!(taken, StoreError::Conflict { ref message } if message.contains("prefix")),
        "{taken:?}"
    );
    let missing = tt_domain::AccountId::from_uuid(uuid::Uuid::new_v4());
    assert!(matches!(
        store.get_account(missing).await,
        Err(StoreError::NotFound { entity: "account" })
    ));
    store.ping().await.unwrap();
}

pub(crate) async fn a_revoked_key_is_refused(store: Arc<dyn Store>) {
    let account = account_with(&*store, 0).await;
    let key = store.create_api_key(account, "k", "RRRRRRRR", [9; 32], at(1)).await.unwrap();
    let revoked = store.revoke_api_key(account, key.id, at(2)).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at(2)));
    assert_eq!(store.check_api_key("RRRRRRRR", [9; 32], at(3)).await.unwrap(), KeyCheck::Revoked);
    let again = store.revoke_api_key(account, key.id, at(4)).await.unwrap();
    assert_eq!(again.revoked_at, Some(at(2)), "revoking twice keeps the first instant");
}

pub(crate) async fn specs_are_created_read_updated_listed_and_deleted(store: Arc<dyn Store>) {
    let account = account_with(&*store, 1_000).await;
    let spec =
        store.create_spec(account, spec_content("Support bot", &["hi"]), at(1)).await.unwrap();
    assert_eq!(store.get_spec(account, spec.id).await.unwrap(), spec);

    let updated = store
        .update_spec(account, spec.id, spec_content("Support bot v2", &["hi", "bye"]), at(2))
        .await
        .unwrap();
    assert_eq!(updated.content.name(), "Support bot v2");
    assert_eq!((updated.created_at, updated.updated_at), (at(1), at(2)));
    assert_eq!(store.get_spec(account, spec.id).await.unwrap(), updated);

    let listed = store.list_specs(account, PageRequest::default()).await.unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!((listed.items[0].run_count, listed.items[0].latest_run_status), (0, None));

    let run = store.start_run(account, start_of(&updated, 10), at(3)).await.unwrap();
    store.cancel_run(account, run.id, at(4)).await.unwrap();
    let listed = store.list_specs(account, PageRequest::default()).await.unwrap();
    assert_eq!(listed.items[0].run_count, 1);
    assert_eq!(listed.items[0].latest_run_status, Some(RunStatus::Cancelled));
    assert_eq!(listed.items[0].latest_run_score, None);

    store.delete_spec(account, spec.id).await.unwrap();
    assert!(matches!(
        store.get_spec(account, spec.id).await,
        Err(StoreError::NotFound { entity: "spec" })
    ));
    assert!(matches!(
        store.get_run(account, run.id).await,
        Err(StoreError::NotFound { entity: "run" })
    ));
    assert!(matches!(store.delete_spec(account, spec.id).await, Err(StoreError::NotFound { .. })));
}

pub(crate) async fn a_spec_with_an_active_run_cannot_be_deleted(store: Arc<dyn Store>) {
    let account = account_with(&*store, 1_000).await;
    let spec = store.create_spec(account, spec_content("s", &["q"]), at(1)).await.unwrap();
    let run = store.start_run(account, start_of(&spec, 10), at(2)).await.unwrap();
    let refused = store.delete_spec(account, spec.id).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict { .. }), "{refused:?}");
    store.cancel_run(account, run.id, at(3)).await.unwrap();
    store.delete_spec(account, spec.id).await.unwrap();
}

pub(crate) async fn lists_are_paged_newest_first_with_totals(store: Arc<dyn Store>) {
    let account = account_with(&*store, 10_000).await;
    let mut specs = Vec::new();
    for i in 0..5 {
        specs.push(
            store
                .create_spec(account, spec_content(&format!("spec {i}"), &["q"]), at(i))
                .await
                .unwrap(),
        );
        store.create_dataset(account, dataset(&format!("d{i}")), at(i)).await.unwrap();
    }
    let names = |items: &[tt_store::SpecListItem]| {
        items.iter().map(|i| i.spec.content.name().to_owned()).collect::<Vec<_>>()
    };
    let first = store.list_specs(account, page(1, 2)).await.unwrap();
    assert_eq!(
        (names(&first.items), first.total),
        (vec!["spec 4".to_owned(), "spec 3".to_owned()], 5)
    );
    let last = store.list_specs(account, page(3, 2)).await.unwrap();
    assert_eq!((names(&last.items), last.total), (vec!["spec 0".to_owned()], 5));
    assert!(store.list_specs(account, page(4, 2)).await.unwrap().items.is_empty());

    let datasets = store.list_datasets(account, page(2, 3)).await.unwrap();
    assert_eq!(datasets.total, 5);
    assert_eq!(datasets.items.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["d1", "d0"]);

    for (i, spec) in specs.iter().enumerate() {
        store.start_run(account, start_of(spec, 10), at(100 + i as i64)).await.unwrap();
    }
    let runs = store.list_runs(account, None, page(1, 3)).await.unwrap();
    assert_eq!(runs.total, 5);
    assert_eq!(
        runs.items.iter().map(|r| r.spec_name.as_str()).collect::<Vec<_>>(),
        ["spec 4", "spec 3", "spec 2"]
    );
    let of_one = store.list_runs(account, Some(specs[1].id), PageRequest::default()).await.unwrap();
    assert_eq!(of_one.total, 1);
    assert_eq!(of_one.items[0].run.behavior_spec_id, specs[1].id);

    let transactions = store.list_transactions(account, page(1, 2)).await.unwrap();
    assert_eq!(transactions.total, 6, "one top-up and five holds");
    assert!(transactions.items.iter().all(|entry| entry.kind == LedgerKind::Hold));
    let oversized = store.list_transactions(account, page(1, 1_000)).await.unwrap();
    assert_eq!(oversized.items.len(), 6, "per_page is capped, not refused");
}

pub(crate) async fn run_numbers_count_up_per_spec(store: Arc<dyn Store>) {
    let account = account_with(&*store, 1_000).await;
    let a = store.create_spec(account, spec_content("a", &["q"]), at(1)).await.unwrap();
    let b = store.create_spec(account, spec_content("b", &["q"]), at(1)).await.unwrap();
    let mut numbers = Vec::new();
    for (i, spec) in [&a, &a, &b, &a].into_iter().enumerate() {
        let run = store.start_run(account, start_of(spec, 1), at(10 + i as i64)).await.unwrap();
        assert_eq!(run.status(), RunStatus::Preparing);
        numbers.push(run.run_number);
    }
    assert_eq!(numbers, [1, 2, 1, 3]);
    let runs_of_a = store.list_runs(account, Some(a.id), PageRequest::default()).await.unwrap();
    assert_eq!(runs_of_a.items.iter().map(|r| r.run.run_number).collect::<Vec<_>>(), [3, 2, 1]);
}

pub(crate) async fn a_start_holds_credit_and_is_refused_beyond_the_available_credit(
    store: Arc<dyn Store>,
) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["q"]), at(1)).await.unwrap();
    let run = store.start_run(account, start_of(&spec, 60), at(2)).await.unwrap();
    assert_eq!(run.estimated_cost_cents, 60);
    let balance = store.balance(account).await.unwrap();
    assert_eq!(
        (balance.balance_cents, balance.reserved_cents, balance.available_cents()),
        (100, 60, 40)
    );
    assert_eq!(balance.lifetime_topup_cents, 100);

    let refused = store.start_run(account, start_of(&spec, 41), at(3)).await.unwrap_err();
    assert!(
        matches!(
            refused,
            StoreError::InsufficientCredits { required_cents: 41, available_cents: 40 }
        ),
        "{refused:?}"
    );
    store.start_run(account, start_of(&spec, 40), at(4)).await.unwrap();
    store.start_run(account, start_of(&spec, 0), at(5)).await.unwrap();
    assert_eq!(store.balance(account).await.unwrap().available_cents(), 0);

    let entries = ledger(&*store, account).await;
    assert_eq!(
        kinds(&entries),
        [
            (LedgerKind::Topup, 100),
            (LedgerKind::Hold, 60),
            (LedgerKind::Hold, 40),
            (LedgerKind::Hold, 0)
        ]
    );
    let hold = &entries[2];
    assert_eq!(
        (hold.reference_id.clone(), hold.balance_after_cents),
        (Some(run.id.to_string()), 100)
    );
    let events = store.list_events(account, run.id, 0).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].event,
        RunLogEvent::Status { from: None, to: RunStatus::Preparing, message: None }
    );
}

pub(crate) async fn a_completed_run_is_settled_once(store: Arc<dyn Store>) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["a", "b"]), at(1)).await.unwrap();
    let evals = [eval("a", 0.9), eval("b", 0.4)];
    let claimed = evaluating_run(&*store, account, &spec, 50, &evals).await;
    let keys = store.evaluated_keys(&claimed.lease).await.unwrap();
    assert_eq!(keys.len(), 2);

    let done = store
        .transition(&claimed.lease, RunEvent::Evaluated, evaluated(&evals, 30), at(50))
        .await
        .unwrap();
    assert_eq!(done.status(), RunStatus::Completed);
    assert_eq!((done.cost_cents, done.completed_at), (Some(30), Some(at(50))));
    let stored = store.get_run(account, claimed.run.id).await.unwrap();
    assert_eq!(stored, done);
    assert_eq!(stored.eval_summary.as_ref().map(|s| s.total), Some(2));

    let balance = store.balance(account).await.unwrap();
    assert_eq!((balance.balance_cents, balance.reserved_cents), (70, 0));
    let entries = ledger(&*store, account).await;
    let expected = [
        (LedgerKind::Topup, 100),
        (LedgerKind::Hold, 50),
        (LedgerKind::Release, 50),
        (LedgerKind::DebitRun, 30),
    ];
    assert_eq!(kinds(&entries), expected);
    assert_eq!(entries[0].balance_after_cents, 70);

    let twice = store
        .transition(&claimed.lease, RunEvent::Evaluated, evaluated(&evals, 30), at(60))
        .await
        .unwrap_err();
    assert!(matches!(twice, StoreError::LeaseLost { .. }), "{twice:?}");
    assert_eq!(ledger(&*store, account).await, entries, "settling twice changes nothing");

    let worst_first = store.list_evals(account, claimed.run.id).await.unwrap();
    assert_eq!(worst_first.iter().map(|e| e.score).collect::<Vec<_>>(), [0.4, 0.9]);
    let statuses: Vec<_> = store
        .list_events(account, claimed.run.id, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.event))
        .filter_map(|(seq, event)| match event {
            RunLogEvent::Status { to, .. } => Some((seq, to)),
            RunLogEvent::Progress { .. } => None,
        })
        .collect();
    use RunStatus::{Completed, Evaluating, Preparing, Training};
    assert_eq!(statuses, [(1, Preparing), (2, Training), (3, Evaluating), (4, Completed)]);
    let listed = store.list_specs(account, PageRequest::default()).await.unwrap();
    assert_eq!(listed.items[0].latest_run_score, Some(0.65));
    store.release_lease(&claimed.lease, at(70)).await.unwrap();
    assert!(
        store.claim_runs("worker-b", at(100), 1_000, 10).await.unwrap().is_empty(),
        "a finished run needs no work"
    );
}

pub(crate) async fn a_cost_beyond_the_hold_is_an_adjustment_that_may_go_negative(
    store: Arc<dyn Store>,
) {
    let account = account_with(&*store, 60).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    let evals = [eval("a", 1.0)];
    let claimed = evaluating_run(&*store, account, &spec, 50, &evals).await;
    store
        .transition(&claimed.lease, RunEvent::Evaluated, evaluated(&evals, 80), at(50))
        .await
        .unwrap();
    let entries = ledger(&*store, account).await;
    let expected = [
        (LedgerKind::Topup, 60),
        (LedgerKind::Hold, 50),
        (LedgerKind::Release, 50),
        (LedgerKind::DebitRun, 50),
        (LedgerKind::Adjustment, 30),
    ];
    assert_eq!(kinds(&entries), expected);
    assert_eq!(entries[0].balance_after_cents, -20);
    assert_eq!(entries[0].reference_id, Some(claimed.run.id.to_string()));
    let balance = store.balance(account).await.unwrap();
    assert_eq!(
        (balance.balance_cents, balance.reserved_cents, balance.available_cents()),
        (-20, 0, -20)
    );
    assert_eq!(store.get_run(account, claimed.run.id).await.unwrap().cost_cents, Some(80));
}

pub(crate) async fn a_failed_run_releases_its_hold_once(store: Arc<dyn Store>) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    let run = store.start_run(account, start_of(&spec, 70), at(2)).await.unwrap();
    let claimed = claim_one(&*store, "w", at(3)).await;
    let details = TransitionDetails {
        error: Some("trainer rejected the file".to_owned()),
        ..TransitionDetails::default()
    };
    let failed =
        store.transition(&claimed.lease, RunEvent::Fail, details.clone(), at(4)).await.unwrap();
    assert_eq!(
        (failed.status(), failed.error.as_deref()),
        (RunStatus::Failed, Some("trainer rejected the file"))
    );
    assert_eq!(store.get_run(account, run.id).await.unwrap(), failed);
    let balance = store.balance(account).await.unwrap();
    assert_eq!((balance.balance_cents, balance.reserved_cents), (100, 0));
    let entries = ledger(&*store, account).await;
    assert_eq!(
        kinds(&entries),
        [(LedgerKind::Topup, 100), (LedgerKind::Hold, 70), (LedgerKind::Release, 70)]
    );

    let again = store.transition(&claimed.lease, RunEvent::Fail, details, at(5)).await.unwrap_err();
    assert!(matches!(again, StoreError::LeaseLost { .. }), "{again:?}");
    let cancel = store.cancel_run(account, run.id, at(6)).await.unwrap_err();
    assert!(matches!(cancel, StoreError::InvalidTransition(_)), "{cancel:?}");
    assert_eq!(ledger(&*store, account).await, entries, "releasing twice changes nothing");
    let last = store.list_events(account, run.id, 1).await.unwrap();
    let expected = RunLogEvent::Status {
        from: Some(RunStatus::Preparing),
        to: RunStatus::Failed,
        message: Some("trainer rejected the file".to_owned()),
    };
    assert_eq!(last.iter().map(|e| e.event.clone()).collect::<Vec<_>>(), [expected]);
}

pub(crate) async fn a_cancelled_run_releases_its_hold_once_and_refuses_further_transitions(
    store: Arc<dyn Store>,
) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    let run = store.start_run(account, start_of(&spec, 70), at(2)).await.unwrap();
    let claimed = claim_one(&*store, "w", at(3)).await;
    let cancelled = store.cancel_run(account, run.id, at(4)).await.unwrap();
    assert_eq!((cancelled.status(), cancelled.completed_at), (RunStatus::Cancelled, Some(at(4))));
    let entries = ledger(&*store, account).await;
    assert_eq!(
        kinds(&entries),
        [(LedgerKind::Topup, 100), (LedgerKind::Hold, 70), (LedgerKind::Release, 70)]
    );

    let twice = store.cancel_run(account, run.id, at(5)).await.unwrap_err();
    assert!(
        matches!(twice, StoreError::InvalidTransition(t) if t.from == RunStatus::Cancelled && t.event == RunEvent::Cancel),
        "{twice:?}"
    );
    for event in [RunEvent::Prepared, RunEvent::Fail, RunEvent::Evaluated] {
        let refused = store
            .transition(&claimed.lease, event, TransitionDetails::default(), at(6))
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::LeaseLost { .. }), "{refused:?}");
    }
    let progress = RunProgress { attempts: Some(1), ..RunProgress::default() };
    assert!(matches!(
        store.record_progress(&claimed.lease, progress, at(6)).await,
        Err(StoreError::LeaseLost { .. })
    ));
    assert_eq!(ledger(&*store, account).await, entries);
    assert_eq!(store.balance(account).await.unwrap().available_cents(), 100);
    let seen = store.load_claimed(&claimed.lease, at(7)).await.unwrap();
    assert_eq!(
        seen.run.status(),
        RunStatus::Cancelled,
        "the holder can still see the cancellation"
    );
    assert!(!seen.work.provider_cancel_pending, "no provider job was recorded before training");
}

pub(crate) async fn a_run_cancelled_while_training_is_claimable_until_the_provider_cancel_is_cleared(
    store: Arc<dyn Store>,
) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    let run = store.start_run(account, start_of(&spec, 10), at(2)).await.unwrap();
    let claimed = claim_one(&*store, "w", at(3)).await;
    let job = RunProgress { fine_tune_job_id: Some("ft-123".to_owned()), ..RunProgress::default() };
    store.record_progress(&claimed.lease, job, at(4)).await.unwrap();
    store
        .transition(&claimed.lease, RunEvent::Prepared, TransitionDetails::default(), at(5))
        .await
        .unwrap();
    store.release_lease(&claimed.lease, at(1_000_000)).await.unwrap();
    assert!(
        store.claim_runs("w", at(6), 1_000, 10).await.unwrap().is_empty(),
        "not due until its wake-up time"
    );

    let mut notices = store.subscribe();
    store.cancel_run(account, run.id, at(7)).await.unwrap();
    let mut heard_ready = false;
    while let Ok(Ok(notice)) =
        tokio::time::timeout(std::time::Duration::from_secs(5), notices.recv()).await
    {
        if notice == StoreNotice::RunReady(run.id) {
            heard_ready = true;
            break;
        }
    }
    assert!(heard_ready, "a pending provider cancel wakes the workers");

    let again = claim_one(&*store, "w2", at(8)).await;
    assert_eq!(again.run.status(), RunStatus::Cancelled);
    assert_eq!(again.run.fine_tune_job_id.as_deref(), Some("ft-123"));
    assert!(again.work.provider_cancel_pending);
    assert_eq!(again.lease.token, claimed.lease.token + 1);
    store.clear_provider_cancel(&again.lease).await.unwrap();
    store.release_lease(&again.lease, at(9)).await.unwrap();
    assert!(store.claim_runs("w", at(10), 1_000, 10).await.unwrap().is_empty());
}

pub(crate) async fn an_event_that_does_not_apply_is_an_invalid_transition(store: Arc<dyn Store>) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    store.start_run(account, start_of(&spec, 10), at(2)).await.unwrap();
    let claimed = claim_one(&*store, "w", at(3)).await;
    let refused = store
        .transition(&claimed.lease, RunEvent::Trained, TransitionDetails::default(), at(4))
        .await;
    assert!(matches!(
        refused,
        Err(StoreError::InvalidTransition(t)) if t.from == RunStatus::Preparing && t.event == RunEvent::Trained
    ));
    let run = store.load_claimed(&claimed.lease, at(5)).await.unwrap().run;
    assert_eq!(run.status(), RunStatus::Preparing, "a refused event changes nothing");
    assert_eq!(store.list_events(account, run.id, 0).await.unwrap().len(), 1);
}

pub(crate) async fn another_account_sees_none_of_the_resources(store: Arc<dyn Store>) {
    let owner = account_with(&*store, 100).await;
    let other = account_with(&*store, 100).await;
    let spec = store.create_spec(owner, spec_content("mine", &["a"]), at(1)).await.unwrap();
    let run = store.start_run(owner, start_of(&spec, 10), at(2)).await.unwrap();
    let claimed = claim_one(&*store, "w", at(3)).await;
    store.attach_model(&claimed.lease, model(), at(4)).await.unwrap();
    let model_id = store.load_claimed(&claimed.lease, at(4)).await.unwrap().run.model_id.unwrap();
    let dataset = store.create_dataset(owner, dataset("mine"), at(5)).await.unwrap();
    let key = store.create_api_key(owner, "k", "OOOOOOOO", [1; 32], at(6)).await.unwrap();

    let not_found = |result: Result<(), StoreError>| {
        assert!(matches!(result, Err(StoreError::NotFound { .. })), "{result:?}")
    };
    not_found(store.get_spec(other, spec.id).await.map(drop));
    not_found(
        store.update_spec(other, spec.id, spec_content("theirs", &["a"]), at(7)).await.map(drop),
    );
    not_found(store.delete_spec(other, spec.id).await);
    not_found(store.start_run(other, start_of(&spec, 1), at(7)).await.map(drop));
    not_found(store.get_run(other, run.id).await.map(drop));
    not_found(store.cancel_run(other, run.id, at(7)).await.map(drop));
    not_found(store.list_events(other, run.id, 0).await.map(drop));
    not_found(store.list_evals(other, run.id).await.map(drop));
    not_found(store.get_dataset(other, dataset.id).await.map(drop));
    not_found(store.dataset_content(other, dataset.id).await.map(drop));
    not_found(store.delete_dataset(other, dataset.id).await);
    not_found(store.get_model(other, model_id).await.map(drop));
    not_found(store.delete_model(other, model_id).await);
    not_found(store.revoke_api_key(other, key.id, at(7)).await.map(drop));

    assert_eq!(store.list_specs(other, PageRequest::default()).await.unwrap().total, 0);
    assert_eq!(store.list_runs(other, None, PageRequest::default()).await.unwrap().total, 0);
    assert_eq!(
        store.list_runs(other, Some(spec.id), PageRequest::default()).await.unwrap().total,
        0
    );
    assert_eq!(store.list_datasets(other, PageRequest::default()).await.unwrap().total, 0);
    assert_eq!(store.list_models(other, PageRequest::default()).await.unwrap().total, 0);
    assert!(store.list_api_keys(other).await.unwrap().is_empty());
    assert_eq!(
        store.list_transactions(other, PageRequest::default()).await.unwrap().total,
        1,
        "only its own top-up"
    );

    assert_eq!(
        store.get_run(owner, run.id).await.unwrap().status(),
        RunStatus::Preparing,
        "still running"
    );
    assert_eq!(store.get_spec(owner, spec.id).await.unwrap().content.name(), "mine");
    assert_eq!(
        store.check_api_key("OOOOOOOO", [1; 32], at(8)).await.unwrap(),
        KeyCheck::Valid { account_id: owner, key_id: key.id, is_admin: false }
    );
}

pub(crate) async fn worker_writes_are_fenced_by_the_lease(store: Arc<dyn Store>) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    let run = store.start_run(account, start_of(&spec, 10), at(2)).await.unwrap();
    let claimed = claim_one(&*store, "w", at(1_000)).await;
    assert_eq!((claimed.lease.owner.as_str(), claimed.lease.expires_at), ("w", at(61_000)));
    assert!(
        store.claim_runs("w2", at(1_001), 1_000, 10).await.unwrap().is_empty(),
        "a held run is not claimable"
    );

    let progress = RunProgress {
        provider_file_id: Some("file-1".to_owned()),
        provider_events_seen: Some(3),
        training_tokens: Some(12_345),
        trainer: Some("local".to_owned()),
        attempts: Some(2),
        ..RunProgress::default()
    };
    store.record_progress(&claimed.lease, progress, at(1_100)).await.unwrap();
    store.record_progress(&claimed.lease, RunProgress::default(), at(1_150)).await.unwrap();
    let work = store.load_claimed(&claimed.lease, at(1_200)).await.unwrap().work;
    assert_eq!(work.provider_file_id.as_deref(), Some("file-1"));
    assert_eq!(
        (work.provider_events_seen, work.training_tokens, work.attempts),
        (3, Some(12_345), 2)
    );
    assert_eq!(work.trainer.as_deref(), Some("local"));

    let dataset_id =
        store.attach_dataset(&claimed.lease, dataset("s - Run #1"), at(1_300)).await.unwrap();
    let again = store.attach_dataset(&claimed.lease, dataset("other"), at(1_301)).await.unwrap();
    assert_eq!(again, dataset_id, "a second attach returns the first dataset");
    let stored = store.get_dataset(account, dataset_id).await.unwrap();
    assert_eq!((stored.run_id, stored.name.as_str()), (Some(run.id), "s - Run #1"));
    let model_id = store.attach_model(&claimed.lease, model(), at(1_400)).await.unwrap();
    assert_eq!(store.attach_model(&claimed.lease, model(), at(1_401)).await.unwrap(), model_id);
    let model = store.get_model(account, model_id).await.unwrap();
    assert_eq!(
        (model.run_id, model.behavior_spec_id, model.name.as_str()),
        (Some(run.id), Some(spec.id), "tiny-ft-abc")
    );
    assert_eq!(store.list_models(account, PageRequest::default()).await.unwrap().items, [model]);
    let linked = store.get_run(account, run.id).await.unwrap();
    assert_eq!((linked.dataset_id, linked.model_id), (Some(dataset_id), Some(model_id)));

    let progress_event = RunLogEvent::Progress {
        stage: tt_domain::Stage::Preparing,
        progress: tt_domain::ProgressEvent { percent: Some(50.0), ..Default::default() },
    };
    assert_eq!(store.append_event(&claimed.lease, &progress_event, at(1_500)).await.unwrap(), 2);
    assert_eq!(store.append_event(&claimed.lease, &progress_event, at(1_501)).await.unwrap(), 3);
    let tail = store.list_events(account, run.id, 2).await.unwrap();
    assert_eq!(tail.iter().map(|e| (e.seq, e.created_at)).collect::<Vec<_>>(), [(3, at(1_501))]);

    let renewed = store.renew_lease(&claimed.lease, at(50_000), 60_000).await.unwrap();
    assert_eq!(renewed.expires_at, at(110_000));
    store.record_progress(&renewed, RunProgress::default(), at(100_000)).await.unwrap();
    let expired = store.record_progress(&renewed, RunProgress::default(), at(110_000)).await;
    assert!(
        matches!(expired, Err(StoreError::LeaseLost { .. })),
        "an expired lease writes nothing"
    );
    assert!(matches!(
        store.renew_lease(&renewed, at(110_001), 1_000).await,
        Err(StoreError::LeaseLost { .. })
    ));

    let fresh = store.renew_lease(&claimed.lease, at(60_000), 60_000).await;
    assert!(fresh.is_ok(), "renewing with the same owner and token within the lease is fine");
    store.release_lease(&renewed, at(200_000)).await.unwrap();
    let released = [
        store.record_progress(&renewed, RunProgress::default(), at(100_001)).await,
        store.save_eval(&renewed, eval("a", 1.0)).await,
        store.clear_provider_cancel(&renewed).await,
        store.release_lease(&renewed, at(0)).await,
        store.append_event(&renewed, &progress_event, at(100_001)).await.map(drop),
        store.evaluated_keys(&renewed).await.map(drop),
        store.load_claimed(&renewed, at(100_001)).await.map(drop),
    ];
    for result in released {
        assert!(
            matches!(result, Err(StoreError::LeaseLost { run_id }) if run_id == run.id),
            "{result:?}"
        );
    }
    assert!(
        store.claim_runs("w2", at(199_999), 1_000, 10).await.unwrap().is_empty(),
        "asleep until its wake-up"
    );
    let next = claim_one(&*store, "w2", at(200_000)).await;
    assert_eq!(next.lease.token, claimed.lease.token + 1);
}

pub(crate) async fn datasets_round_trip_with_their_findings(store: Arc<dyn Store>) {
    let account = account_with(&*store, 0).await;
    let upload = NewDataset {
        name: "upload.jsonl".to_owned(),
        description: "mine".to_owned(),
        content: "not json\n{\"messages\":[]}\n".to_owned(),
        row_count: 2,
        status: DatasetStatus::Invalid,
        errors: vec![JsonlIssue { line: 1, reason: "not valid JSON".to_owned() }],
    };
    let created = store.create_dataset(account, upload.clone(), at(1)).await.unwrap();
    assert_eq!(
        (created.format, created.file_size_bytes, created.run_id),
        ("jsonl", upload.content.len() as u64, None)
    );
    assert_eq!(store.get_dataset(account, created.id).await.unwrap(), created);
    assert_eq!(store.dataset_content(account, created.id).await.unwrap(), upload.content);
    assert_eq!(
        store.list_datasets(account, PageRequest::default()).await.unwrap().items,
        std::slice::from_ref(&created)
    );
    store.delete_dataset(account, created.id).await.unwrap();
    assert!(matches!(
        store.get_dataset(account, created.id).await,
        Err(StoreError::NotFound { entity: "dataset" })
    ));
    assert!(matches!(
        store.delete_dataset(account, created.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn previous_scores_come_from_the_last_completed_run_of_the_spec(
    store: Arc<dyn Store>,
) {
    let account = account_with(&*store, 1_000).await;
    let spec = store.create_spec(account, spec_content("s", &["a", "b"]), at(1)).await.unwrap();
    let first_evals = [eval("a", 0.5), eval("b", 0.9)];
    let first = evaluating_run(&*store, account, &spec, 10, &first_evals).await;
    assert!(
        store.previous_scores(&first.lease).await.unwrap().is_empty(),
        "the first run has nothing to compare"
    );
    store
        .transition(&first.lease, RunEvent::Evaluated, evaluated(&first_evals, 5), at(50))
        .await
        .unwrap();
    store.release_lease(&first.lease, at(51)).await.unwrap();

    let failed = store.start_run(account, start_of(&spec, 10), at(60)).await.unwrap();
    store.cancel_run(account, failed.id, at(61)).await.unwrap();

    store.start_run(account, start_of(&spec, 10), at(70)).await.unwrap();
    let third = claim_one(&*store, "w", at(80)).await;
    assert_eq!(third.run.run_number, 3);
    let mut previous = store.previous_scores(&third.lease).await.unwrap();
    previous.sort_by(|x, y| x.key.cmp(&y.key));
    let mut expected: Vec<_> = first_evals.iter().map(EvalResult::to_score).collect();
    expected.sort_by(|x, y| x.key.cmp(&y.key));
    assert_eq!(previous, expected);

    store.save_eval(&third.lease, eval("a", 0.1)).await.unwrap();
    store.save_eval(&third.lease, eval("a", 0.2)).await.unwrap();
    let saved = store.list_evals(account, third.run.id).await.unwrap();
    assert_eq!(saved.iter().map(|e| e.score).collect::<Vec<_>>(), [0.2], "one row per example key");
}

pub(crate) async fn subscribers_hear_of_starts_and_events(store: Arc<dyn Store>) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    let mut notices = store.subscribe();
    let run = store.start_run(account, start_of(&spec, 10), at(2)).await.unwrap();
    let claimed = claim_one(&*store, "w", at(3)).await;
    let event =
        RunLogEvent::Progress { stage: tt_domain::Stage::Preparing, progress: Default::default() };
    let seq = store.append_event(&claimed.lease, &event, at(4)).await.unwrap();

    let wanted = [StoreNotice::RunReady(run.id), StoreNotice::Event { run_id: run.id, seq }];
    let mut heard = Vec::new();
    while heard.len() < wanted.len() {
        let notice = tokio::time::timeout(std::time::Duration::from_secs(5), notices.recv())
            .await
            .expect("the notices arrive within seconds")
            .unwrap();
        if wanted.contains(&notice) && !heard.contains(&notice) {
            heard.push(notice);
        }
    }
}
