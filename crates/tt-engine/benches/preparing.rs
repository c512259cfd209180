//! The `preparing` benchmark, run with `cargo bench -p tt-engine --bench preparing`: the
//! preparing stage's work on a 10,000-example dataset, step by step: `compile_spec` (a
//! spec's 500 examples plus 9,500 extra ones), `rows_to_jsonl`, `count_tokens` over the
//! JSONL, and storing it through a run's `attach_dataset` under a lease, on SQLite.
//!
//! Each step is timed over several rounds (a fresh run each round) and the median is
//! reported. Stdout gets only markdown table rows `| group | figure | value | unit |`.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark reports on stdout")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tt_domain::{
    Clock, DatasetStatus, Example, Hyperparameters, SpecDraft, compile_spec, count_tokens,
    rows_to_jsonl,
};
use tt_engine::SystemClock;
use tt_store::{NewDataset, StartRun, Store};
use tt_store_sql::SqliteStore;

/// Rows in the dataset.
const ROWS: usize = 10_000;
/// The most examples a spec holds; the rest are passed to `compile_spec` as extra rows.
const SPEC_EXAMPLES: usize = 500;
/// Measured rounds; the median of each step is reported.
const ROUNDS: usize = 5;

/// Prints one figure as a markdown table row.
fn row(figure: &str, value: impl std::fmt::Display, unit: &str) {
    println!("| preparing | {figure} | {value} | {unit} |");
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// `n` distinct support-bot examples of a realistic length.
fn examples(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| Example {
            input: format!(
                "Hi, I ordered a pair of boots last week (order #{i}) and need to change the \
                 delivery address because I am moving. How do I do that?"
            ),
            output: format!(
                "Open Orders, pick order #{i} and choose Change address. You can change it until \
                 the parcel ships; after that, contact the carrier with your tracking number."
            ),
        })
        .collect()
}

/// Timings of one round.
struct Round {
    compile: Duration,
    jsonl: Duration,
    count: Duration,
    store: Duration,
    tokens: u64,
    bytes: usize,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    runtime.block_on(bench());
}

async fn bench() {
    let all = examples(ROWS);
    let (own, extra) = all.split_at(SPEC_EXAMPLES);
    let spec = SpecDraft {
        name: "Support bot".into(),
        system_prompt: "You are the support assistant of an online shoe shop.".into(),
        guidelines: vec!["Be concise".into(), "Name the menu to use".into()],
        constraints: vec!["Never promise refunds".into()],
        examples: own.to_vec(),
        base_model: Some("meta-llama/Llama-3.2-3B-Instruct".into()),
        ..SpecDraft::default()
    }
    .validate()
    .expect("a valid spec");

    // The tokenizer loads its ranks on first use; that one-off cost is reported apart.
    let warm = Instant::now();
    count_tokens("warm up");
    let tokenizer_load = warm.elapsed();

    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("tt.db");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(path.to_str().expect("a UTF-8 temp path"))
            .await
            .expect("the store opens"),
    );
    let now = SystemClock.now();
    let account = store.create_account("bench", false, now).await.expect("account").id;
    store.topup(account, 1_000_000_000, now).await.expect("topup");
    let spec_id = store.create_spec(account, spec.clone(), now).await.expect("spec").id;

    let mut rounds = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let start = StartRun {
            spec_id,
            spec_snapshot: spec.clone(),
            hyperparameters: Hyperparameters::default(),
            estimated_cost_cents: 100,
        };
        store.start_run(account, start, SystemClock.now()).await.expect("run starts");
        let claimed = store
            .claim_runs("preparing-bench", SystemClock.now(), 60_000, 1)
            .await
            .expect("claim")
            .pop()
            .expect("the new run is claimable");

        let began = Instant::now();
        let rows = compile_spec(&spec, extra);
        let compiled = Instant::now();
        let content = rows_to_jsonl(&rows);
        let written = Instant::now();
        let tokens = count_tokens(&content);
        let counted = Instant::now();
        let bytes = content.len();
        let dataset = NewDataset {
            name: format!("bench round {round}"),
            description: format!("{} rows", rows.len()),
            row_count: rows.len() as u64,
            content,
            status: DatasetStatus::Validated,
            errors: Vec::new(),
        };
        store
            .attach_dataset(&claimed.lease, dataset, SystemClock.now())
            .await
            .expect("the dataset is stored");
        let stored = Instant::now();
        assert_eq!(rows.len(), ROWS, "every example became a row");
        eprintln!(
            "preparing: round {round}: {:.1} ms in all",
            millis(stored.duration_since(began))
        );
        rounds.push(Round {
            compile: compiled - began,
            jsonl: written - compiled,
            count: counted - written,
            store: stored - counted,
            tokens,
            bytes,
        });
    }

    let compile = median(rounds.iter().map(|r| r.compile).collect());
    let jsonl = median(rounds.iter().map(|r| r.jsonl).collect());
    let count = median(rounds.iter().map(|r| r.count).collect());
    let stored = median(rounds.iter().map(|r| r.store).collect());
    let total = median(rounds.iter().map(|r| r.compile + r.jsonl + r.count + r.store).collect());
    let (tokens, bytes) = (rounds[0].tokens, rounds[0].bytes);
    let mb = bytes as f64 / (1024.0 * 1024.0);

    row(
        &format!("compile_spec, {ROWS} rows (median of {ROUNDS})"),
        format!("{:.1}", millis(compile)),
        "ms",
    );
    row(&format!("rows_to_jsonl, {ROWS} rows, {mb:.1} MiB"), format!("{:.1}", millis(jsonl)), "ms");
    row(
        &format!("count_tokens over the JSONL, {tokens} tokens (cl100k)"),
        format!("{:.1}", millis(count)),
        "ms",
    );
    row(
        "count_tokens: one-off tokenizer load, first call",
        format!("{:.1}", millis(tokenizer_load)),
        "ms",
    );
    row(&format!("attach_dataset, {mb:.1} MiB on SQLite"), format!("{:.1}", millis(stored)), "ms");
    row(
        &format!("compile + JSONL + count + store, {ROWS} rows"),
        format!("{:.1}", millis(total)),
        "ms",
    );
    row("overall throughput", format!("{:.0}", ROWS as f64 / total.as_secs_f64()), "rows/s");
}
