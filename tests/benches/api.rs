//! The `api` benchmark group: `GET /api/v1/runs/:id` latency under 200 concurrent clients
//! on SQLite and PostgreSQL (when `TT_TEST_POSTGRES_URL` is set), and the wall time of
//! `tt runs list` from process start.
//!
//! Prints one `| group | figure | value | unit |` row per figure; progress goes to stderr.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tt_client::{Client, RunRequest};
use tt_domain::{Example, SpecDraft};
use tt_server::{Role, Server, Settings};

const CLIENTS: usize = 200;
const REQUESTS_PER_CLIENT: usize = 50;

struct Api {
    base_url: String,
    key: String,
    run_id: tt_domain::RunId,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(database_url: Option<String>) -> Api {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::embedded(dir.path().to_path_buf());
    settings.database_url = database_url;
    settings.role = Role::Api;
    let server = Server::build(&settings).await.expect("server");
    let store = server.store().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base_url = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));

    let (_, key) = tt_server::create_account_with_key(store.as_ref(), "bench", false, "bench", 0)
        .await
        .expect("account and key");
    let client = Client::new(&base_url, key.key.clone()).expect("client");
    let draft = SpecDraft {
        name: "Bench".to_owned(),
        system_prompt: "Answer briefly.".to_owned(),
        examples: (0..20)
            .map(|i| Example { input: format!("question {i}"), output: format!("answer {i}") })
            .collect(),
        ..SpecDraft::default()
    };
    let spec = client.create_spec(&draft).await.expect("spec");
    let run = client.start_run(spec.id, &RunRequest::default()).await.expect("run");
    Api { base_url, key: key.key, run_id: run.id, _dir: dir, _stop: stop }
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn get_run_latency(backend: &str, api: &Api) {
    let client = Client::new(&api.base_url, api.key.clone()).expect("client");
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let client = client.clone();
        let run_id = api.run_id;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(REQUESTS_PER_CLIENT);
            for _ in 0..REQUESTS_PER_CLIENT {
                let start = Instant::now();
                client.get_run(run_id).await.expect("get run");
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(CLIENTS * REQUESTS_PER_CLIENT);
    for task in tasks {
        all.extend(task.await.expect("client task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let n = all.len();
    println!(
        "| api | GET /runs/:id on {backend}, {CLIENTS} concurrent clients: p50 | {:.2} | ms |",
        percentile(&all, 0.5)
    );
    println!(
        "| api | GET /runs/:id on {backend}, {CLIENTS} concurrent clients: p99 | {:.2} | ms |",
        percentile(&all, 0.99)
    );
    println!(
        "| api | GET /runs/:id on {backend}: throughput ({n} requests) | {:.0} | req/s |",
        n as f64 / elapsed
    );
}

async fn postgres_url() -> Option<String> {
    let admin = std::env::var("TT_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())?;
    Some(tt_testkit::postgres::fresh_database(&admin, "tt_bench_api").await)
}

/// The `tt` binary of this profile (`target/release/tt` under `cargo bench`), built if absent.
fn tt_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("bench exe");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps").to_path_buf();
    let binary = dir.join("tt");
    if !binary.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet", "-p", "tt-cli", "--bin", "tt"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("cargo builds tt");
        assert!(status.success(), "building tt failed");
    }
    binary
}

fn tt_runs_list_wall_time(api: &Api) {
    let binary = tt_binary();
    let home = tempfile::tempdir().expect("home");
    let mut times = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        let output = Command::new(&binary)
            .args(["runs", "list"])
            .env("TT_BASE_URL", &api.base_url)
            .env("TT_API_KEY", &api.key)
            .env("XDG_CONFIG_HOME", home.path())
            .env("HOME", home.path())
            .output()
            .expect("tt runs");
        times.push(start.elapsed());
        assert!(
            output.status.success(),
            "tt runs list failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    times.sort();
    println!(
        "| api | `tt runs list` wall time from process start (median of 21) | {:.1} | ms |",
        percentile(&times, 0.5)
    );
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        eprintln!("api bench: SQLite");
        let sqlite = start(None).await;
        get_run_latency("sqlite", &sqlite).await;
        tt_runs_list_wall_time(&sqlite);
        match postgres_url().await {
            Some(url) => {
                eprintln!("api bench: PostgreSQL");
                let pg = start(Some(url)).await;
                get_run_latency("postgres", &pg).await;
            }
            None => {
                println!("| api | postgres: skipped (TT_TEST_POSTGRES_URL is not set) | - | - |")
            }
        }
    });
}
