//! Concurrency on one account and one run queue: no overspending, no run held twice, and
//! an expired lease taken over with the old holder fenced out.

use std::collections::HashSet;
use std::sync::Arc;

use tt_domain::RunEvent;
use tt_store::{RunProgress, Store, StoreError, TransitionDetails};

use crate::harness::{account_with, at, claim_one, spec_content, start_of};

pub(crate) async fn fifty_concurrent_starts_never_overspend(store: Arc<dyn Store>) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            let start = start_of(&spec, 10);
            tokio::spawn(async move { store.start_run(account, start, at(10 + i)).await })
        })
        .collect();
    let mut numbers = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(run) => numbers.push(run.run_number),
            Err(StoreError::InsufficientCredits { required_cents: 10, available_cents }) => {
                assert!((0..10).contains(&available_cents), "available {available_cents}");
                refused += 1;
            }
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=10).collect::<Vec<u32>>());
    assert_eq!(refused, 40);
    let balance = store.balance(account).await.unwrap();
    assert_eq!(
        (balance.balance_cents, balance.reserved_cents, balance.available_cents()),
        (100, 100, 0)
    );
    let entries = store
        .list_transactions(account, tt_store::PageRequest { page: 1, per_page: 100 })
        .await
        .unwrap();
    assert_eq!(entries.total, 11);
    assert!(entries.items.iter().all(|entry| entry.balance_after_cents == 100));
}

pub(crate) async fn concurrent_claims_never_hand_one_run_to_two_workers(store: Arc<dyn Store>) {
    let account = account_with(&*store, 1_000).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    for i in 0..30 {
        store.start_run(account, start_of(&spec, 1), at(10 + i)).await.unwrap();
    }
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let owner = format!("worker-{w}");
                let mut held = Vec::new();
                loop {
                    let claimed = store.claim_runs(&owner, at(1_000), 60_000, 4).await.unwrap();
                    if claimed.is_empty() {
                        return held;
                    }
                    for run in &claimed {
                        assert_eq!(run.lease.owner, owner);
                        store
                            .record_progress(&run.lease, RunProgress::default(), at(1_001))
                            .await
                            .unwrap();
                    }
                    held.extend(claimed.into_iter().map(|run| run.run.id));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (30, 30), "every run claimed exactly once");
}

pub(crate) async fn an_expired_lease_is_taken_over_and_the_old_holder_is_fenced_out(
    store: Arc<dyn Store>,
) {
    let account = account_with(&*store, 100).await;
    let spec = store.create_spec(account, spec_content("s", &["a"]), at(1)).await.unwrap();
    let run = store.start_run(account, start_of(&spec, 10), at(2)).await.unwrap();
    let old = store.claim_runs("old", at(1_000), 5_000, 1).await.unwrap().remove(0);
    assert!(
        store.claim_runs("new", at(5_999), 5_000, 1).await.unwrap().is_empty(),
        "not expired yet"
    );
    let new = claim_one(&*store, "new", at(6_000)).await;
    assert_eq!((new.run.id, new.lease.token), (run.id, old.lease.token + 1));

    let lost = |result: Result<(), StoreError>| {
        assert!(matches!(result, Err(StoreError::LeaseLost { .. })), "{result:?}")
    };
    lost(store.record_progress(&old.lease, RunProgress::default(), at(5_500)).await);
    lost(
        store
            .transition(&old.lease, RunEvent::Prepared, TransitionDetails::default(), at(5_500))
            .await
            .map(drop),
    );
    lost(store.renew_lease(&old.lease, at(5_500), 5_000).await.map(drop));
    lost(store.release_lease(&old.lease, at(5_500)).await);

    let moved = store
        .transition(&new.lease, RunEvent::Prepared, TransitionDetails::default(), at(6_100))
        .await
        .unwrap();
    assert_eq!(moved.status(), tt_domain::RunStatus::Training);
}
