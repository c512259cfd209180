//! Credit races against the real `tt-server` binary: 50 starts at once on an account whose
//! credit covers exactly 10 of them; exactly 10 are accepted and 40 refused with 402, on
//! SQLite and on PostgreSQL.

use std::time::Duration;

use tt_client::RunRequest;
use tt_domain::HyperparametersInput;
use tt_testkit::together::{FakeTogether, FakeTogetherConfig};

use crate::support::{Backend, ServerProcess, postgres_url, spec_draft};

const STARTS: usize = 50;
const AFFORDABLE: usize = 10;

async fn fifty_starts_on_credit_for_ten(backend: Backend) {
    let database_url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let Some(admin) = postgres_url() else { return };
            Some(tt_testkit::postgres::fresh_database(&admin, "tt_e2e").await)
        }
    };
    // Jobs last long enough that nothing settles while the starts race.
    let together = FakeTogether::start(FakeTogetherConfig {
        job_duration: Duration::from_secs(600),
        ..FakeTogetherConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let env = ServerProcess::together_env(database_url.as_deref(), dir.path(), &together);
    let server = ServerProcess::start(env, dir.path()).await;

    // Price one start with a rich account, then give the racing account exactly ten.
    let (_, rich) = server.create_account("rich", 10_000_000);
    let draft = spec_draft("Support", &[("How do I cancel?", "Settings > Billing.")]);
    let request = RunRequest {
        augment: Some(false),
        hyperparameters: HyperparametersInput {
            n_epochs: Some(1),
            ..HyperparametersInput::default()
        },
    };
    let priced = server.client(&rich).create_spec(&draft).await.expect("spec");
    let each = server
        .client(&rich)
        .estimate_run(priced.id, &request)
        .await
        .expect("estimate")
        .estimated_cost_cents;
    assert!(each > 0);
    let (_, key) = server.create_account("racer", each * AFFORDABLE as i64);
    let client = server.client(&key);
    let spec = client.create_spec(&draft).await.expect("spec");

    let starts = (0..STARTS).map(|_| {
        let client = client.clone();
        async move { client.start_run(spec.id, &request).await }
    });
    let results = futures::future::join_all(starts).await;

    let mut accepted = Vec::new();
    let mut refused = 0;
    for result in results {
        match result {
            Ok(run) => accepted.push(run),
            Err(err) if err.code() == Some("insufficient_credits") => {
                assert_eq!(err.status(), Some(402), "{err}");
                refused += 1;
            }
            Err(err) => panic!("a start failed for another reason than credit: {err}"),
        }
    }
    assert_eq!((accepted.len(), refused), (AFFORDABLE, STARTS - AFFORDABLE));
    let mut numbers: Vec<u32> = accepted.iter().map(|run| run.run_number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=AFFORDABLE as u32).collect::<Vec<_>>(), "run numbers are unique");
    let balance = client.balance().await.expect("balance");
    assert_eq!(balance.reserved_cents, each * AFFORDABLE as i64);
    assert_eq!(balance.available_cents, 0);
    let runs = tt_client::collect_pages(|page| client.list_runs(page)).await.expect("runs");
    assert_eq!(runs.len(), AFFORDABLE, "refused starts leave no run behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_starts_on_credit_for_ten_accept_exactly_ten_on_sqlite() {
    fifty_starts_on_credit_for_ten(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_starts_on_credit_for_ten_accept_exactly_ten_on_postgres() {
    fifty_starts_on_credit_for_ten(Backend::Postgres).await;
}
