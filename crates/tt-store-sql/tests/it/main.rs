//! The store's integration tests: one conformance suite and the concurrency tests, run
//! against SQLite (a fresh temp file per test) and, when `TT_TEST_POSTGRES_URL` is set,
//! against PostgreSQL (a fresh database per test).

// A skipped PostgreSQL variant says so on stderr, as the test plan requires.
#![allow(clippy::print_stderr)]

mod concurrency;
mod harness;
mod stories;

/// Generates, for each story, a test on SQLite and a test on PostgreSQL.
macro_rules! on_both_backends {
    ($($module:ident :: $story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    let backend = crate::harness::sqlite().await;
                    crate::$module::$story(backend.store()).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    let Some(backend) = crate::harness::postgres().await else { return };
                    crate::$module::$story(backend.store()).await;
                }
            )*
        }
    };
}

on_both_backends!(
    stories::accounts_and_keys_round_trip,
    stories::a_revoked_key_is_refused,
    stories::specs_are_created_read_updated_listed_and_deleted,
    stories::a_spec_with_an_active_run_cannot_be_deleted,
    stories::lists_are_paged_newest_first_with_totals,
    stories::run_numbers_count_up_per_spec,
    stories::a_start_holds_credit_and_is_refused_beyond_the_available_credit,
    stories::a_completed_run_is_settled_once,
    stories::a_cost_beyond_the_hold_is_an_adjustment_that_may_go_negative,
    stories::a_failed_run_releases_its_hold_once,
    stories::a_cancelled_run_releases_its_hold_once_and_refuses_further_transitions,
    stories::a_run_cancelled_while_training_is_claimable_until_the_provider_cancel_is_cleared,
    stories::an_event_that_does_not_apply_is_an_invalid_transition,
    stories::another_account_sees_none_of_the_resources,
    stories::worker_writes_are_fenced_by_the_lease,
    stories::datasets_round_trip_with_their_findings,
    stories::previous_scores_come_from_the_last_completed_run_of_the_spec,
    stories::subscribers_hear_of_starts_and_events,
    concurrency::fifty_concurrent_starts_never_overspend,
    concurrency::concurrent_claims_never_hand_one_run_to_two_workers,
    concurrency::an_expired_lease_is_taken_over_and_the_old_holder_is_fenced_out,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_second_server_hears_of_starts_and_events_through_notify() {
    let Some(backend) = harness::postgres().await else { return };
    let (first, second) = (backend.store(), backend.second_server().await);
    let mut heard = second.subscribe();
    let account = harness::account_with(&*first, 100).await;
    let spec = first
        .create_spec(account, harness::spec_content("s", &["a"]), harness::at(1))
        .await
        .unwrap();
    let run = first.start_run(account, harness::start_of(&spec, 10), harness::at(2)).await.unwrap();
    let mut wanted = vec![
        tt_store::StoreNotice::RunReady(run.id),
        tt_store::StoreNotice::Event { run_id: run.id, seq: 1 },
    ];
    while !wanted.is_empty() {
        let notice = tokio::time::timeout(std::time::Duration::from_secs(5), heard.recv())
            .await
            .expect("the other server's notices arrive within seconds")
            .unwrap();
        wanted.retain(|want| *want != notice);
    }
}
