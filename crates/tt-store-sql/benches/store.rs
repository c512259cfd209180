//! The `store` benchmark: run starts per second and lease claims per second, on SQLite (a
//! temp file) and on PostgreSQL (a fresh database, when `TT_TEST_POSTGRES_URL` is set).
//! Prints a markdown table. Run with `cargo bench -p tt-store --bench store`.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use tt_domain::{AccountId, Example, Hyperparameters, SpecDraft, Timestamp};
use tt_store::{StartRun, Store};
use tt_store_sql::{PgStore, SqliteStore};

/// Runs started (and then claimed) per measurement.
const RUNS: usize = 2_000;
/// Concurrent clients in the concurrent measurements.
const CLIENTS: usize = 8;

struct Figure {
    backend: &'static str,
    operation: &'static str,
    clients: usize,
    ops: usize,
    seconds: f64,
}

fn now() -> Timestamp {
    Timestamp::from_millis(1_772_793_000_000)
}

async fn prepare(store: &dyn Store) -> (AccountId, StartRun) {
    let account = store.create_account("bench", false, now()).await.expect("account");
    store.topup(account.id, i64::MAX / 4, now()).await.expect("topup");
    let content = SpecDraft {
        name: "bench".to_owned(),
        examples: vec![Example { input: "hi".to_owned(), output: "hello".to_owned() }],
        ..SpecDraft::default()
    }
    .validate()
    .expect("valid spec");
    let spec = store.create_spec(account.id, content, now()).await.expect("spec");
    let start = StartRun {
        spec_id: spec.id,
        spec_snapshot: spec.content,
        hyperparameters: Hyperparameters::default(),
        estimated_cost_cents: 42,
    };
    (account.id, start)
}

/// Starts `RUNS` runs from `clients` concurrent tasks and returns the seconds taken.
async fn starts(store: &Arc<dyn Store>, clients: usize) -> f64 {
    let (account, start) = prepare(&**store).await;
    let began = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let store = store.clone();
            let start = start.clone();
            tokio::spawn(async move {
                for _ in 0..RUNS / clients {
                    store.start_run(account, start.clone(), now()).await.expect("start");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    began.elapsed().as_secs_f64()
}

/// Claims every claimable run one at a time from `clients` concurrent workers and returns
/// the runs claimed and the seconds taken.
async fn claims(store: &Arc<dyn Store>, clients: usize) -> (usize, f64) {
    let began = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|worker| {
            let store = store.clone();
            tokio::spawn(async move {
                let owner = format!("worker-{worker}");
                let mut claimed = 0;
                loop {
                    let got = store.claim_runs(&owner, now(), 60_000, 1).await.expect("claim");
                    if got.is_empty() {
                        return claimed;
                    }
                    claimed += got.len();
                }
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("task");
    }
    (total, began.elapsed().as_secs_f64())
}

async fn measure(backend: &'static str, store: Arc<dyn Store>, figures: &mut Vec<Figure>) {
    for clients in [1, CLIENTS] {
        let seconds = starts(&store, clients).await;
        figures.push(Figure { backend, operation: "start_run", clients, ops: RUNS, seconds });
        let (ops, seconds) = claims(&store, clients).await;
        figures.push(Figure {
            backend,
            operation: "claim_runs (1 per claim)",
            clients,
            ops,
            seconds,
        });
    }
}

async fn postgres() -> Option<Arc<dyn Store>> {
    let admin_url = std::env::var("TT_TEST_POSTGRES_URL").ok()?;
    let url = tt_testkit::postgres::fresh_database(&admin_url, "tt_bench").await;
    Some(Arc::new(PgStore::connect(&url).await.expect("connect")))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut figures = Vec::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(dir.path().join("bench.db").to_str().expect("utf-8 path"))
        .await
        .expect("open");
    measure("sqlite", Arc::new(sqlite), &mut figures).await;
    let postgres = postgres().await;
    let skipped = postgres.is_none();
    if let Some(store) = postgres {
        measure("postgres", store, &mut figures).await;
    }

    // One `| group | figure | value | unit |` row per figure, as `cargo xtask bench` collects them.
    for f in &figures {
        println!(
            "| store | {} {}, {} client(s), {} ops | {:.0} | ops/s |",
            f.backend,
            f.operation,
            f.clients,
            f.ops,
            f.ops as f64 / f.seconds
        );
    }
    if skipped {
        println!("| store | postgres: skipped (TT_TEST_POSTGRES_URL is not set) | - | - |");
    }
}
