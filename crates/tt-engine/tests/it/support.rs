//! Shared set-up: a fresh SQLite store, an account with credit, a spec, and scripted
//! providers that count what they were asked to do.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tt_domain::{
    AccountId, Clock, Example, Hyperparameters, ProgressEvent, RateCard, Run, RunId, RunStatus,
    ScoringMethod, SpecContent, SpecDraft, estimate_run,
};
use tt_engine::{Engine, EngineConfig, Providers, SystemClock, Trainer};
use tt_providers::{
    Augmenter, ChatRequest, ChatResponse, FineTuneJob, FineTuneRequest, FineTuner, Inference,
    JobEvent, JobStatus, Judge, JudgeCase, ProviderError, UploadedFile, Verdict,
};
use tt_store::{StartRun, Store};
use tt_store_sql::{PgStore, SqliteStore};

pub(crate) const HOSTED_MODEL: &str = "meta-llama/Llama-3.2-3B-Instruct";

pub(crate) struct Fixture {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) account: AccountId,
    pub(crate) spec: tt_domain::SpecId,
    _dir: tempfile::TempDir,
}

pub(crate) fn spec_content(outputs: &[&str]) -> SpecContent {
    SpecDraft {
        name: "Support bot".into(),
        system_prompt: "Answer briefly.".into(),
        guidelines: vec!["Be concise".into()],
        examples: outputs
            .iter()
            .enumerate()
            .map(|(i, out)| Example { input: format!("question {i}"), output: (*out).to_owned() })
            .collect(),
        base_model: Some(HOSTED_MODEL.into()),
        ..SpecDraft::default()
    }
    .validate()
    .expect("valid spec")
}

pub(crate) async fn fixture(outputs: &[&str], credit_cents: i64) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tt.db");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(path.to_str().expect("utf-8 path")).await.expect("store"));
    seed(store, dir, outputs, credit_cents).await
}

/// A fixture on a fresh PostgreSQL database, or `None` (with a note) when
/// `TT_TEST_POSTGRES_URL` is unset; with it set, an unreachable server fails the test.
#[expect(clippy::print_stderr, reason = "a skipped variant says so")]
pub(crate) async fn postgres_fixture(outputs: &[&str], credit_cents: i64) -> Option<Fixture> {
    let Some(admin) = std::env::var("TT_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())
    else {
        eprintln!("skipped: TT_TEST_POSTGRES_URL is not set");
        return None;
    };
    let url = tt_testkit::postgres::fresh_database(&admin, "tt_engine").await;
    let store: Arc<dyn Store> = Arc::new(PgStore::connect(&url).await.expect("store"));
    Some(seed(store, tempfile::tempdir().expect("temp dir"), outputs, credit_cents).await)
}

async fn seed(
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
    outputs: &[&str],
    credit_cents: i64,
) -> Fixture {
    let now = SystemClock.now();
    let account = store.create_account("acme", false, now).await.expect("account").id;
    store.topup(account, credit_cents, now).await.expect("topup");
    let spec = store.create_spec(account, spec_content(outputs), now).await.expect("spec").id;
    Fixture { store, account, spec, _dir: dir }
}

impl Fixture {
    pub(crate) async fn start_run(&self) -> Run {
        let spec = self.store.get_spec(self.account, self.spec).await.expect("spec");
        let hyperparameters = Hyperparameters::default();
        let estimate = estimate_run(&spec.content, &hyperparameters, &RateCard::default());
        let start = StartRun {
            spec_id: self.spec,
            spec_snapshot: spec.content,
            hyperparameters,
            estimated_cost_cents: estimate.estimated_cost_cents,
        };
        self.store.start_run(self.account, start, SystemClock.now()).await.expect("run starts")
    }

    pub(crate) async fn run(&self, id: RunId) -> Run {
        self.store.get_run(self.account, id).await.expect("run")
    }

    /// Waits until the run's status satisfies `done`, up to a generous limit.
    pub(crate) async fn wait_for(&self, id: RunId, done: impl Fn(RunStatus) -> bool) -> Run {
        for _ in 0..600 {
            let run = self.run(id).await;
            if done(run.status()) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("run {id} never reached the expected status; it is {}", self.run(id).await.status());
    }
}

pub(crate) fn test_config(worker: &str) -> EngineConfig {
    EngineConfig {
        worker_id: worker.to_owned(),
        lease: Duration::from_millis(600),
        poll_interval: Duration::from_millis(50),
        training_poll_min: Duration::from_millis(10),
        training_poll_max: Duration::from_millis(40),
        call_backoff: Duration::from_millis(5),
        ..EngineConfig::default()
    }
}

pub(crate) fn engine(
    store: &Arc<dyn Store>,
    trainer: &Arc<ScriptedTrainer>,
    worker: &str,
) -> Engine {
    Engine::new(
        Arc::clone(store),
        providers(trainer, None),
        Arc::new(SystemClock),
        test_config(worker),
    )
}

pub(crate) fn providers(trainer: &Arc<ScriptedTrainer>, judge_fails_on: Option<&str>) -> Providers {
    Providers {
        local: None,
        hosted: Some(Trainer { fine_tuner: trainer.clone(), inference: trainer.clone() }),
        judge: Arc::new(ExactJudge { fail_on: Mutex::new(judge_fails_on.map(str::to_owned)) }),
        augmenter: Arc::new(PrefixAugmenter),
        rate_card: Arc::new(RateCard::default()),
    }
}

/// Runs `engine` until the run satisfies `done`.
pub(crate) async fn run_until(
    fixture: &Fixture,
    engine: &Engine,
    id: RunId,
    done: impl Fn(RunStatus) -> bool,
) -> Run {
    tokio::select! {
        () = engine.run(std::future::pending()) => unreachable!("the engine runs until stopped"),
        run = fixture.wait_for(id, done) => run,
    }
}

#[derive(Default)]
struct Job {
    run_id: Option<RunId>,
    polls: u32,
    cancelled: bool,
}

/// A trainer and inference that behave like a provider, scripted by the test.
pub(crate) struct ScriptedTrainer {
    /// Looks at a job before it completes.
    pub(crate) polls_to_complete: u32,
    /// When set, jobs fail with this message.
    pub(crate) fail_with: Option<String>,
    /// The next this-many calls fail with a 503.
    pub(crate) transient_failures: AtomicU32,
    /// Answers by input; anything else gets "no idea".
    pub(crate) answers: HashMap<String, String>,
    /// Delay of each inference call.
    pub(crate) inference_delay: Duration,
    /// Delay of each upload.
    pub(crate) upload_delay: Duration,
    pub(crate) uploads: AtomicUsize,
    pub(crate) jobs_created: AtomicUsize,
    pub(crate) cancels: AtomicUsize,
    pub(crate) completions: AtomicUsize,
    jobs: Mutex<HashMap<String, Job>>,
}

impl ScriptedTrainer {
    pub(crate) fn new(answers: &[(&str, &str)]) -> Self {
        Self {
            polls_to_complete: 3,
            fail_with: None,
            transient_failures: AtomicU32::new(0),
            answers: answers.iter().map(|(q, a)| ((*q).to_owned(), (*a).to_owned())).collect(),
            inference_delay: Duration::ZERO,
            upload_delay: Duration::ZERO,
            uploads: AtomicUsize::new(0),
            jobs_created: AtomicUsize::new(0),
            cancels: AtomicUsize::new(0),
            completions: AtomicUsize::new(0),
            jobs: Mutex::new(HashMap::new()),
        }
    }

    fn maybe_fail(&self) -> Result<(), ProviderError> {
        let left = self.transient_failures.load(Ordering::SeqCst);
        if left > 0
            && self
                .transient_failures
                .compare_exchange(left, left - 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            return Err(ProviderError::Server { status: 503, message: "overloaded".into() });
        }
        Ok(())
    }

    fn view(&self, id: &str, job: &Job) -> FineTuneJob {
        let status = if job.cancelled {
            JobStatus::Cancelled
        } else if job.polls < self.polls_to_complete {
            JobStatus::Running
        } else if self.fail_with.is_some() {
            JobStatus::Failed
        } else {
            JobStatus::Completed
        };
        FineTuneJob {
            id: id.to_owned(),
            status,
            progress: None,
            token_count: Some(250_000),
            output_model: (status == JobStatus::Completed).then(|| format!("acme/{id}")),
            error: self.fail_with.clone(),
        }
    }
}

#[async_trait]
impl FineTuner for ScriptedTrainer {
    fn provider_name(&self) -> &'static str {
        "together"
    }

    async fn upload_dataset(
        &self,
        _run: RunId,
        _name: &str,
        jsonl: &str,
    ) -> Result<UploadedFile, ProviderError> {
        self.maybe_fail()?;
        tokio::time::sleep(self.upload_delay).await;
        self.uploads.fetch_add(1, Ordering::SeqCst);
        Ok(UploadedFile {
            id: format!("file-{}", self.uploads.load(Ordering::SeqCst)),
            bytes: jsonl.len() as u64,
        })
    }

    async fn create_job(&self, request: &FineTuneRequest) -> Result<FineTuneJob, ProviderError> {
        self.maybe_fail()?;
        let mut jobs = self.jobs.lock().expect("lock");
        if let Some((id, job)) = jobs.iter().find(|(_, job)| job.run_id == Some(request.run_id)) {
            return Ok(self.view(id, job));
        }
        self.jobs_created.fetch_add(1, Ordering::SeqCst);
        let id = format!("ft-{}", uuid::Uuid::new_v4());
        let job = Job { run_id: Some(request.run_id), ..Job::default() };
        let view = self.view(&id, &job);
        jobs.insert(id, job);
        Ok(view)
    }

    async fn get_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError> {
        self.maybe_fail()?;
        let mut jobs = self.jobs.lock().expect("lock");
        let job = jobs
            .get_mut(job_id)
            .ok_or_else(|| ProviderError::NotFound { what: job_id.to_owned() })?;
        job.polls += 1;
        Ok(self.view(job_id, job))
    }

    async fn job_events(&self, job_id: &str, after: usize) -> Result<Vec<JobEvent>, ProviderError> {
        let jobs = self.jobs.lock().expect("lock");
        let job =
            jobs.get(job_id).ok_or_else(|| ProviderError::NotFound { what: job_id.to_owned() })?;
        let total = job.polls as usize;
        Ok((after..total)
            .map(|step| JobEvent {
                progress: ProgressEvent {
                    step: Some(step as u64 + 1),
                    loss: Some(2.0 / (step as f64 + 1.0)),
                    ..ProgressEvent::default()
                },
            })
            .collect())
    }

    async fn cancel_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        let mut jobs = self.jobs.lock().expect("lock");
        let job = jobs
            .get_mut(job_id)
            .ok_or_else(|| ProviderError::NotFound { what: job_id.to_owned() })?;
        job.cancelled = true;
        Ok(self.view(job_id, job))
    }
}

#[async_trait]
impl Inference for ScriptedTrainer {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.maybe_fail()?;
        tokio::time::sleep(self.inference_delay).await;
        self.completions.fetch_add(1, Ordering::SeqCst);
        let input = &request.messages.last().expect("a user message").content;
        let content = self.answers.get(input).cloned().unwrap_or_else(|| "no idea".to_owned());
        Ok(ChatResponse { content, latency_ms: 5, completion_tokens: None })
    }
}

/// Scores 1 for an exact answer and 0 otherwise; fails on one chosen prompt.
pub(crate) struct ExactJudge {
    pub(crate) fail_on: Mutex<Option<String>>,
}

#[async_trait]
impl Judge for ExactJudge {
    fn scoring_method(&self) -> ScoringMethod {
        ScoringMethod::Similarity
    }

    async fn judge(&self, _spec: &SpecContent, case: &JudgeCase) -> Result<Verdict, ProviderError> {
        if self.fail_on.lock().expect("lock").as_deref() == Some(case.prompt.as_str()) {
            return Err(ProviderError::InvalidResponse { message: "not JSON".into() });
        }
        let score = if case.actual == case.expected { 1.0 } else { 0.0 };
        Ok(Verdict { score, reasoning: format!("scored {score}") })
    }
}

/// Adds one "please" variant per example.
pub(crate) struct PrefixAugmenter;

#[async_trait]
impl Augmenter for PrefixAugmenter {
    async fn augment(
        &self,
        spec: &SpecContent,
        max_new: usize,
        _seed: u64,
    ) -> Result<Vec<Example>, ProviderError> {
        Ok(spec
            .examples()
            .iter()
            .map(|e| Example { input: format!("please, {}", e.input), output: e.output.clone() })
            .take(max_new)
            .collect())
    }
}
