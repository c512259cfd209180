//! The `engine` benchmark, run with `cargo bench -p tt-engine --bench engine`:
//!
//! - evaluation throughput: one run's 500 examples answered through `tt_openai::OpenAiClient`
//!   and judged by `tt_providers::LlmJudge`, both against `tt_testkit`'s fake OpenAI server
//!   with 100 ms latency, at `eval_concurrency` 32, timed from `evaluating` to `completed`;
//!   then the same calls without the engine (no store, the engine's two writes per result
//!   awaited in the draining loop, the same writes on another task), to place the overhead;
//! - scale: 1,000 runs carried at once by one engine against the fake Together server
//!   (through `tt_together::TogetherClient`; the fake runs in a child process, this binary
//!   started again with `TT_ENGINE_BENCH_FAKE_TOGETHER` set, so that its memory is not
//!   counted), on SQLite, with the engine process's peak memory.
//!
//! Stdout gets only markdown table rows `| group | figure | value | unit |`; progress and
//! the engine's warnings (`RUST_LOG`, default `warn`) go to stderr.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark reports on stdout")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::oneshot;
use tt_domain::{
    AccountId, Clock, EvalResult, Example, Hyperparameters, ProgressEvent, RateCard, Run, RunId,
    RunLogEvent, RunStatus, SpecContent, SpecDraft, SpecId, Stage, estimate_run, passes,
    prompt_messages,
};
use tt_engine::{Engine, EngineConfig, Providers, SystemClock, Trainer};
use tt_openai::{OpenAiClient, OpenAiConfig};
use tt_providers::{
    ChatRequest, FineTuneJob, FineTuneRequest, FineTuner, Inference, JobEvent, JobStatus, Judge,
    JudgeCase, LlmJudge, OfflineAugmenter, ProviderError, SimilarityJudge, UploadedFile,
};
use tt_store::{PageRequest, StartRun, Store};
use tt_store_sql::SqliteStore;
use tt_testkit::openai::{ChatCompletionView, FakeOpenAi, FakeOpenAiConfig, judge_responder};
use tt_testkit::together::{FakeTogether, FakeTogetherConfig};
use tt_together::{TogetherClient, TogetherConfig};

/// A hub-named base model, so runs go to the hosted trainer.
const HOSTED_MODEL: &str = "meta-llama/Llama-3.2-3B-Instruct";
/// Examples evaluated in the throughput measurement (the most a spec holds).
const EVAL_EXAMPLES: usize = 500;
/// `EngineConfig::eval_concurrency` in the throughput measurement.
const EVAL_CONCURRENCY: usize = 32;
/// The fakes' latency, for inference and for the judge alike.
const LATENCY: Duration = Duration::from_millis(100);
/// Runs carried at once in the scale measurement.
const RUNS: usize = 1_000;
/// Examples per spec in the scale measurement.
const SCALE_EXAMPLES: usize = 5;
/// How long the fake Together takes to train one job.
const JOB_DURATION: Duration = Duration::from_secs(3);
/// The scale measurement gives up after this long.
const SCALE_DEADLINE: Duration = Duration::from_secs(480);

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    if std::env::var_os(FAKE_CHILD_ENV).is_some() {
        runtime.block_on(serve_fake_together());
        return;
    }
    runtime.block_on(async {
        evaluation_throughput().await;
        runs_in_flight().await;
    });
}

/// Prints one figure as a markdown table row.
fn row(figure: &str, value: impl std::fmt::Display, unit: &str) {
    println!("| engine | {figure} | {value} | {unit} |");
}

/// A SQLite store in a temporary directory, with one account holding plenty of credit.
struct Bench {
    store: Arc<dyn Store>,
    account: AccountId,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn new() -> Self {
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
        Self { store, account, _dir: dir }
    }

    async fn create_spec(&self, content: SpecContent) -> SpecId {
        self.store.create_spec(self.account, content, SystemClock.now()).await.expect("spec").id
    }

    async fn start_run(&self, spec: SpecId) -> Run {
        let spec = self.store.get_spec(self.account, spec).await.expect("spec");
        let hyperparameters = Hyperparameters::default();
        let estimate = estimate_run(&spec.content, &hyperparameters, &RateCard::default());
        let start = StartRun {
            spec_id: spec.id,
            spec_snapshot: spec.content,
            hyperparameters,
            estimated_cost_cents: estimate.estimated_cost_cents,
        };
        self.store.start_run(self.account, start, SystemClock.now()).await.expect("run starts")
    }

    /// Runs by status, read a page of 100 at a time.
    async fn statuses(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for page in 1.. {
            let request = PageRequest { page, per_page: PageRequest::MAX_PER_PAGE };
            let items =
                self.store.list_runs(self.account, None, request).await.expect("runs").items;
            if items.is_empty() {
                break;
            }
            for item in items {
                *counts.entry(item.run.status().to_string()).or_insert(0) += 1;
            }
        }
        counts
    }
}

/// A spec of `n` distinct examples whose expected outputs no fake will give.
fn spec(n: usize) -> SpecContent {
    SpecDraft {
        name: format!("Support bot ({n} examples)"),
        system_prompt: "You answer customer questions briefly.".into(),
        guidelines: vec!["Be concise".into(), "Name the menu to use".into()],
        examples: (0..n)
            .map(|i| Example {
                input: format!("How do I change the delivery address of order #{i}?"),
                output: format!("Open Orders, pick order #{i} and choose Change address."),
            })
            .collect(),
        base_model: Some(HOSTED_MODEL.into()),
        ..SpecDraft::default()
    }
    .validate()
    .expect("a valid spec")
}

/// Starts `engine` on its own task; the returned sender stops it.
fn spawn_engine(engine: Engine) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        engine
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
}

// ---- evaluation throughput ----

/// A trainer whose jobs are complete as soon as they are created.
struct InstantTrainer;

fn instant_job(id: &str, status: JobStatus) -> FineTuneJob {
    FineTuneJob {
        id: id.to_owned(),
        status,
        progress: None,
        token_count: Some(100_000),
        output_model: (status == JobStatus::Completed).then(|| format!("bench/{id}")),
        error: None,
    }
}

#[async_trait]
impl FineTuner for InstantTrainer {
    fn provider_name(&self) -> &'static str {
        "instant"
    }

    async fn upload_dataset(
        &self,
        run: RunId,
        _name: &str,
        jsonl: &str,
    ) -> Result<UploadedFile, ProviderError> {
        Ok(UploadedFile { id: format!("file-{run}"), bytes: jsonl.len() as u64 })
    }

    async fn create_job(&self, request: &FineTuneRequest) -> Result<FineTuneJob, ProviderError> {
        Ok(instant_job(&format!("ft-{}", request.run_id), JobStatus::Completed))
    }

    async fn get_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError> {
        Ok(instant_job(job_id, JobStatus::Completed))
    }

    async fn job_events(
        &self,
        _job_id: &str,
        _after: usize,
    ) -> Result<Vec<JobEvent>, ProviderError> {
        Ok(Vec::new())
    }

    async fn cancel_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError> {
        Ok(instant_job(job_id, JobStatus::Cancelled))
    }
}

fn openai_client(base_url: String) -> Arc<OpenAiClient> {
    Arc::new(OpenAiClient::new(OpenAiConfig::new(base_url)).expect("a client for the fake"))
}

async fn evaluation_throughput() {
    // The model's answers differ from the expected outputs, so the judge is always asked.
    let answers = Arc::new(|request: &ChatCompletionView| {
        format!("I would try the settings page: {}", request.last_user_message())
    });
    let inference_fake =
        FakeOpenAi::start(FakeOpenAiConfig::new(answers).with_latency(LATENCY)).await;
    let judge_fake = FakeOpenAi::start(
        FakeOpenAiConfig::new(judge_responder(0.7, "close")).with_latency(LATENCY),
    )
    .await;
    let inference: Arc<dyn Inference> = openai_client(inference_fake.base_url());
    let judge: Arc<dyn Judge> =
        Arc::new(LlmJudge::new(openai_client(judge_fake.base_url()), "judge"));
    let providers = Providers {
        local: None,
        hosted: Some(Trainer {
            fine_tuner: Arc::new(InstantTrainer),
            inference: inference.clone(),
        }),
        judge: judge.clone(),
        augmenter: Arc::new(OfflineAugmenter),
        rate_card: Arc::new(RateCard::default()),
    };
    let config = EngineConfig {
        worker_id: "eval-bench".into(),
        poll_interval: Duration::from_millis(50),
        training_poll_min: Duration::from_millis(10),
        eval_concurrency: EVAL_CONCURRENCY,
        ..EngineConfig::default()
    };
    let bench = Bench::new().await;
    let content = spec(EVAL_EXAMPLES);
    let spec = bench.create_spec(content.clone()).await;
    let run = bench.start_run(spec).await;
    let engine = Engine::new(Arc::clone(&bench.store), providers, Arc::new(SystemClock), config);
    eprintln!("engine/eval: evaluating {EVAL_EXAMPLES} examples at concurrency {EVAL_CONCURRENCY}");
    let (stop, task) = spawn_engine(engine);

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut entered = None;
    let (done, finished) = loop {
        let current = bench.store.get_run(bench.account, run.id).await.expect("the run");
        let now = Instant::now();
        if current.status() == RunStatus::Evaluating && entered.is_none() {
            entered = Some(now);
        }
        if current.status().is_terminal() || now > deadline {
            break (current, now);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let _ = stop.send(());
    task.await.expect("the engine task ends");

    let ideal = EVAL_EXAMPLES as f64 * 2.0 * LATENCY.as_secs_f64() / EVAL_CONCURRENCY as f64;
    let evals = bench.store.list_evals(bench.account, run.id).await.expect("evals").len();
    eprintln!(
        "engine/eval: run {}, {evals} evals stored, {} inference and {} judge requests{}",
        done.status(),
        inference_fake.request_count(),
        judge_fake.request_count(),
        done.error.as_deref().map(|e| format!(", error: {e}")).unwrap_or_default(),
    );
    let figure = format!(
        "eval of {EVAL_EXAMPLES} examples, concurrency {EVAL_CONCURRENCY} (ideal {ideal:.3} s)"
    );
    match (done.status(), entered) {
        (RunStatus::Completed, Some(entered)) if evals == EVAL_EXAMPLES => {
            let seconds = (finished - entered).as_secs_f64();
            row(&figure, format!("{seconds:.2}"), "s");
            row("eval time / ideal (goal ≤ 1.1)", format!("{:.2}", seconds / ideal), "×");
            for (writes, what) in [
                (Writes::None, "no store (HTTP floor)"),
                (
                    Writes::Inline,
                    "2 store writes per result awaited in the draining loop, as the engine does",
                ),
                (Writes::Aside, "the same writes on another task"),
            ] {
                let floor = eval_floor(&bench, spec, &content, &inference, &judge, writes).await;
                row(
                    &format!(
                        "same {EVAL_EXAMPLES} answer + judge calls at concurrency {EVAL_CONCURRENCY} without the engine: {what}"
                    ),
                    format!("{floor:.2}"),
                    "s",
                );
            }
        }
        (status, _) => {
            row(&figure, format!("not measured: the run ended {status} with {evals} evals"), "-")
        }
    }
}

/// Where [`eval_floor`] stores each result.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writes {
    /// Nowhere: the HTTP calls alone.
    None,
    /// As the engine does: `save_eval` and a progress event awaited in the loop that drains
    /// the calls, so no call moves on while they are written.
    Inline,
    /// The same writes on another task, so the calls keep moving while they are written.
    Aside,
}

/// Seconds the evaluation's calls take without the engine: each example answered and then
/// judged, `EVAL_CONCURRENCY` examples at a time, with results stored as `writes` says
/// (under a lease on a fresh run).
async fn eval_floor(
    bench: &Bench,
    spec_id: SpecId,
    spec: &SpecContent,
    inference: &Arc<dyn Inference>,
    judge: &Arc<dyn Judge>,
    writes: Writes,
) -> f64 {
    bench.start_run(spec_id).await;
    let lease = bench
        .store
        .claim_runs("floor", SystemClock.now(), 60_000, 1)
        .await
        .expect("claim")
        .pop()
        .expect("the new run is claimable")
        .lease;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<EvalResult>();
    let writer = {
        let (store, lease) = (Arc::clone(&bench.store), lease.clone());
        tokio::spawn(async move {
            while let Some(result) = rx.recv().await {
                store_result(&*store, &lease, result).await;
            }
        })
    };
    let began = Instant::now();
    let mut calls = futures::stream::iter(spec.examples())
        .map(|example| async move {
            let request = ChatRequest {
                model: "bench/model".into(),
                messages: prompt_messages(spec, &example.input),
                max_tokens: None,
                temperature: None,
            };
            let answer = inference.complete(&request).await.expect("the fake answers");
            let case = JudgeCase {
                prompt: example.input.clone(),
                expected: example.output.clone(),
                actual: answer.content.clone(),
            };
            let verdict = judge.judge(spec, &case).await.expect("the fake judges");
            EvalResult {
                example_key: example.key(),
                prompt: case.prompt,
                expected: case.expected,
                actual: answer.content,
                score: verdict.score,
                passed: passes(verdict.score),
                reasoning: verdict.reasoning,
                latency_ms: answer.latency_ms,
                judge_error: None,
            }
        })
        .buffer_unordered(EVAL_CONCURRENCY);
    while let Some(result) = calls.next().await {
        match writes {
            Writes::None => {}
            Writes::Inline => store_result(&*bench.store, &lease, result).await,
            Writes::Aside => tx.send(result).expect("the writer runs"),
        }
    }
    drop(tx);
    writer.await.expect("the writer ends");
    began.elapsed().as_secs_f64()
}

/// The engine's two writes per evaluated example.
async fn store_result(store: &dyn Store, lease: &tt_store::Lease, result: EvalResult) {
    store.save_eval(lease, result).await.expect("the result is stored");
    let event = RunLogEvent::Progress {
        stage: Stage::Evaluating,
        progress: ProgressEvent { message: Some("one more".into()), ..ProgressEvent::default() },
    };
    store.append_event(lease, &event, SystemClock.now()).await.expect("the event is stored");
}

// ---- 1,000 runs in flight ----

/// Set in the environment of the child process that serves the fake Together, so that the
/// fake's memory is not counted in the engine's.
const FAKE_CHILD_ENV: &str = "TT_ENGINE_BENCH_FAKE_TOGETHER";

/// A field of `/proc/{pid}/status` (`self` for this process), in kB.
fn proc_status_kb(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

fn megabytes(kb: Option<u64>) -> f64 {
    kb.unwrap_or(0) as f64 / 1024.0
}

/// The child's side: serves the fake Together, writes its base URL and key on stdout (a
/// pipe to the parent), and stops when stdin closes, reporting its counters on stderr.
async fn serve_fake_together() {
    use std::io::{Read, Write};

    let fake = FakeTogether::start(FakeTogetherConfig {
        job_duration: JOB_DURATION,
        ..FakeTogetherConfig::default()
    })
    .await;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}\n{}", fake.base_url(), fake.api_key()).expect("the parent reads the pipe");
    out.flush().expect("the parent reads the pipe");
    drop(out);
    tokio::task::spawn_blocking(|| {
        let mut rest = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut rest);
    })
    .await
    .expect("stdin is read to its end");
    eprintln!(
        "engine/scale: fake Together saw {} requests, {} uploads, {} jobs, {} chat completions; its peak RSS {:.0} MB",
        fake.requests(),
        fake.files_uploaded(),
        fake.jobs_created(),
        fake.chat_completions(),
        megabytes(proc_status_kb("self", "VmHWM")),
    );
}

/// The fake Together in a child process (this benchmark run with [`FAKE_CHILD_ENV`] set).
struct FakeChild {
    child: std::process::Child,
    base_url: String,
    api_key: String,
}

impl FakeChild {
    fn start() -> Self {
        use std::io::BufRead;
        use std::process::{Command, Stdio};

        let exe = std::env::current_exe().expect("the benchmark knows its own path");
        let mut child = Command::new(exe)
            .env(FAKE_CHILD_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the fake Together child starts");
        let mut lines =
            std::io::BufReader::new(child.stdout.take().expect("a piped stdout")).lines();
        let mut line = || lines.next().expect("the child writes a line").expect("a UTF-8 line");
        let (base_url, api_key) = (line(), line());
        Self { child, base_url, api_key }
    }

    /// The child's peak RSS in MB.
    fn peak_mb(&self) -> f64 {
        megabytes(proc_status_kb(&self.child.id().to_string(), "VmHWM"))
    }

    /// Closes the child's stdin and waits for it to report and exit.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

async fn runs_in_flight() {
    // Forget the first measurement's peak, so that VmHWM is this measurement's.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let baseline_mb = megabytes(proc_status_kb("self", "VmRSS"));

    let fake = FakeChild::start();
    let client = Arc::new(
        TogetherClient::new(TogetherConfig::new(&fake.api_key).with_base_url(&fake.base_url))
            .expect("a client for the fake"),
    );
    let providers = Providers {
        local: None,
        hosted: Some(Trainer { fine_tuner: client.clone(), inference: client }),
        judge: Arc::new(SimilarityJudge),
        augmenter: Arc::new(OfflineAugmenter),
        rate_card: Arc::new(RateCard::default()),
    };
    let config = EngineConfig {
        worker_id: "scale-bench".into(),
        lease: Duration::from_secs(60),
        max_runs_in_flight: RUNS,
        ..EngineConfig::default()
    };
    let bench = Bench::new().await;
    let spec = bench.create_spec(spec(SCALE_EXAMPLES)).await;
    let started = Instant::now();
    for _ in 0..RUNS {
        bench.start_run(spec).await;
    }
    let start_seconds = started.elapsed().as_secs_f64();
    eprintln!("engine/scale: {RUNS} runs started in {start_seconds:.2} s; starting the engine");

    let engine = Engine::new(Arc::clone(&bench.store), providers, Arc::new(SystemClock), config);
    let began = Instant::now();
    let began_at = SystemClock.now();
    let (stop, task) = spawn_engine(engine);
    let mut slowest_look = Duration::ZERO;
    let mut peak_fds = 0;
    let counts = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let look = Instant::now();
        let counts = bench.statuses().await;
        slowest_look = slowest_look.max(look.elapsed());
        let fds = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count);
        peak_fds = peak_fds.max(fds);
        let terminal: usize = ["completed", "failed", "cancelled"]
            .iter()
            .map(|s| counts.get(*s).copied().unwrap_or(0))
            .sum();
        eprintln!(
            "engine/scale: {:>5.1} s {counts:?}, RSS {:.0} MB, {fds} open fds (listing took {:.1} s)",
            began.elapsed().as_secs_f64(),
            megabytes(proc_status_kb("self", "VmRSS")),
            look.elapsed().as_secs_f64(),
        );
        if terminal == RUNS || began.elapsed() > SCALE_DEADLINE {
            break counts;
        }
    };
    let _ = stop.send(());
    task.await.expect("the engine task ends");
    let peak_mb = megabytes(proc_status_kb("self", "VmHWM"));
    let fake_peak_mb = fake.peak_mb();
    fake.stop();

    let mut last_completed = began_at;
    let mut shown = 0;
    for page in 1.. {
        let request = PageRequest { page, per_page: PageRequest::MAX_PER_PAGE };
        let items = bench.store.list_runs(bench.account, None, request).await.expect("runs").items;
        if items.is_empty() {
            break;
        }
        for item in items {
            if let Some(at) = item.run.completed_at {
                last_completed = last_completed.max(at);
            }
            if item.run.status() != RunStatus::Completed && shown < 5 {
                shown += 1;
                eprintln!(
                    "engine/scale: run {} is {} ({:?})",
                    item.run.id,
                    item.run.status(),
                    item.run.error
                );
            }
        }
    }
    let wall = (last_completed.as_millis() - began_at.as_millis()) as f64 / 1_000.0;
    let completed = counts.get("completed").copied().unwrap_or(0);
    row(
        &format!("{RUNS} runs in flight, one engine, SQLite: completed"),
        format!("{completed}/{RUNS}"),
        "runs",
    );
    row(
        &format!(
            "{RUNS} runs in flight: engine start to last run completed (fake job {} s, {SCALE_EXAMPLES} examples each)",
            JOB_DURATION.as_secs()
        ),
        format!("{wall:.1}"),
        "s",
    );
    let scope = if reset { "this measurement" } else { "the whole bench process" };
    row(
        &format!(
            "{RUNS} runs in flight: peak RSS of the engine process ({scope}, VmHWM; baseline {baseline_mb:.0} MB), goal < 200 MB"
        ),
        format!("{peak_mb:.0}"),
        "MB",
    );
    row(
        &format!("{RUNS} runs in flight: peak RSS of the fake Together (separate process)"),
        format!("{fake_peak_mb:.0}"),
        "MB",
    );
    row(
        &format!(
            "{RUNS} runs in flight: slowest list_runs of 10 pages meanwhile (API read latency under load)"
        ),
        format!("{:.1}", slowest_look.as_secs_f64()),
        "s",
    );
    row(
        &format!(
            "{RUNS} runs in flight: most open file descriptors seen (mostly HTTP connections to the fake)"
        ),
        peak_fds,
        "fds",
    );
    row(
        &format!("{RUNS} run starts before the engine (store.start_run, sequential)"),
        format!("{start_seconds:.2}"),
        "s",
    );
}
