//! A fake Together AI server: the endpoints `tt-together` calls, in Together's wire format,
//! served by axum on `127.0.0.1:0` from a spawned task.
//!
//! - Files: `POST /v1/files/upload` (multipart), `GET /v1/files/{id}`, `GET /v1/files/{id}/content`.
//! - Fine-tuning: `POST /v1/fine-tunes`, `GET /v1/fine-tunes`, `GET /v1/fine-tunes/{id}`,
//!   `GET /v1/fine-tunes/{id}/events`, `POST /v1/fine-tunes/{id}/cancel`. A job walks
//!   `pending → queued → running → compressing → uploading → completed` over
//!   [`FakeTogetherConfig::job_duration`], measured from its creation (so a client that
//!   restarts finds it further along), with step/loss events while running.
//! - `POST /v1/chat/completions`, answered by [`FakeTogetherConfig::chat`].
//!
//! Every request needs `Authorization: Bearer <api_key>` (401 in Together's error envelope
//! otherwise), waits [`FakeTogetherConfig::latency`], and may be hit by an injected fault
//! ([`FaultConfig`]). Counters and [`FakeTogether::job`] let tests look inside.
//!
//! ```no_run
//! # async fn demo() {
//! use tt_testkit::together::{FakeTogether, FakeTogetherConfig};
//! let fake = FakeTogether::start(FakeTogetherConfig::default()).await;
//! // Point the client at `fake.base_url()` with the key `fake.api_key()`.
//! assert_eq!(fake.jobs_created(), 0);
//! # }
//! ```

mod jobs;
mod routes;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use self::jobs::JobRecord;

/// The key the fake expects unless configured otherwise.
pub const FAKE_TOGETHER_API_KEY: &str = "test-together-key";

/// Answers a chat completion request with the assistant's text.
pub type ChatResponder = Arc<dyn Fn(&ChatCompletionRequestView) -> String + Send + Sync>;

/// A chat completion request as the fake received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequestView {
    /// The model asked for.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessageView>,
    /// The most tokens to generate, if given.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// The sampling temperature, if given.
    #[serde(default)]
    pub temperature: Option<f64>,
}

impl ChatCompletionRequestView {
    /// The content of the last `user` message, or `""`.
    pub fn last_user_message(&self) -> &str {
        self.messages.iter().rev().find(|m| m.role == "user").map_or("", |m| m.content.as_str())
    }
}

/// One message of a chat completion request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessageView {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A fault the fake can inject instead of (or, for one kind, after) handling a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 with `retry-after`, `retry-after-ms` and `x-ratelimit-*` headers.
    RateLimited,
    /// 500 in Together's error envelope.
    ServerError,
    /// 503 ("engine overloaded").
    Unavailable,
    /// Sleeps [`FaultConfig::hang_for`] (longer than any client timeout), then 504.
    Hang,
    /// 200 with a body that is not valid JSON.
    Malformed,
    /// Handles the request (a job really is created, a cancel really happens), then
    /// answers 500: the ambiguous failure an idempotent client must survive.
    ServerErrorAfterProcessing,
}

/// Which endpoints faults apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultScope {
    /// Every endpoint.
    All,
    /// `/v1/files…`.
    Files,
    /// `/v1/fine-tunes…`.
    FineTuning,
    /// `/v1/chat/completions`.
    Chat,
}

/// Fault injection: each request in `scope` is faulted with probability `rate`, with a
/// kind drawn uniformly from `kinds`, from a random sequence seeded by `seed`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Probability in 0–1 that a request is faulted.
    pub rate: f64,
    /// The kinds to draw from; none means no faults.
    pub kinds: Vec<FaultKind>,
    /// The endpoints faults apply to.
    pub scope: FaultScope,
    /// The wait a 429 asks for.
    pub retry_after: Duration,
    /// How long a hanging request sleeps.
    pub hang_for: Duration,
    /// Seed of the fault draws, for reproducible runs.
    pub seed: u64,
}

impl Default for FaultConfig {
    /// No faults.
    fn default() -> Self {
        Self {
            rate: 0.0,
            kinds: Vec::new(),
            scope: FaultScope::All,
            retry_after: Duration::from_secs(1),
            hang_for: Duration::from_secs(60),
            seed: 0,
        }
    }
}

impl FaultConfig {
    /// Every request faulted with `kind`.
    pub fn always(kind: FaultKind) -> Self {
        Self { rate: 1.0, kinds: vec![kind], ..Self::default() }
    }

    /// Requests faulted with probability `rate`, with kinds drawn from `kinds`.
    pub fn sometimes(rate: f64, kinds: &[FaultKind]) -> Self {
        Self { rate, kinds: kinds.to_vec(), ..Self::default() }
    }

    /// The same faults, only on `scope`'s endpoints.
    #[must_use]
    pub fn in_scope(mut self, scope: FaultScope) -> Self {
        self.scope = scope;
        self
    }

    /// The same faults with another `Retry-After` wait.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = wait;
        self
    }
}

/// How the fake behaves.
#[derive(Clone)]
pub struct FakeTogetherConfig {
    /// The key requests must carry as `Authorization: Bearer …`.
    pub api_key: String,
    /// Time from a job's creation to `completed`.
    pub job_duration: Duration,
    /// Time from a cancel request (`cancel_requested`) to `cancelled`.
    pub cancel_delay: Duration,
    /// A fixed delay before every response.
    pub latency: Duration,
    /// Fault injection (changeable later with [`FakeTogether::set_faults`]).
    pub faults: FaultConfig,
    /// When set, every new job fails halfway through training with this message.
    pub fail_jobs_with: Option<String>,
    /// When set, chat completions are only served for completed jobs' output models
    /// (404 for any other model); otherwise base models are served too.
    pub strict_models: bool,
    /// Answers chat completions; the default echoes the last user message.
    pub chat: ChatResponder,
}

impl Default for FakeTogetherConfig {
    fn default() -> Self {
        Self {
            api_key: FAKE_TOGETHER_API_KEY.to_owned(),
            job_duration: Duration::from_secs(2),
            cancel_delay: Duration::ZERO,
            latency: Duration::ZERO,
            faults: FaultConfig::default(),
            fail_jobs_with: None,
            strict_models: false,
            chat: Arc::new(|request: &ChatCompletionRequestView| {
                format!("echo: {}", request.last_user_message())
            }),
        }
    }
}

impl fmt::Debug for FakeTogetherConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeTogetherConfig")
            .field("job_duration", &self.job_duration)
            .field("cancel_delay", &self.cancel_delay)
            .field("latency", &self.latency)
            .field("faults", &self.faults)
            .field("fail_jobs_with", &self.fail_jobs_with)
            .field("strict_models", &self.strict_models)
            .finish_non_exhaustive()
    }
}

/// A job as the fake sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeJob {
    /// `ft-<uuid>`.
    pub id: String,
    /// Together's status now (`pending` … `completed`, `cancel_requested`, `cancelled`, `error`).
    pub status: String,
    /// The base model.
    pub model: String,
    /// The training file id.
    pub training_file: String,
    /// The suffix sent.
    pub suffix: String,
    /// The output model's name (servable once completed).
    pub model_output_name: String,
    /// Epochs asked for.
    pub n_epochs: u32,
    /// Learning rate sent.
    pub learning_rate: f64,
    /// `training_type.lora_r`, for LoRA jobs.
    pub lora_r: Option<u64>,
    /// `training_type.lora_alpha`, for LoRA jobs.
    pub lora_alpha: Option<u64>,
    /// Training tokens per epoch (`ceil(bytes / 4)` of the training file).
    pub token_count: u64,
    /// Steps of the whole job.
    pub total_steps: u64,
    /// Steps done so far.
    pub steps_completed: u64,
    /// The create request's JSON body, as sent.
    pub request: serde_json::Value,
}

/// A running fake Together server; stopped when dropped.
pub struct FakeTogether {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl fmt::Debug for FakeTogether {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeTogether").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl FakeTogether {
    /// Binds `127.0.0.1:0` and serves from a spawned task.
    pub async fn start(config: FakeTogetherConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0 works in tests");
        let addr = listener.local_addr().expect("a bound listener has an address");
        let shared = Arc::new(Shared::new(config));
        let app = routes::router(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the fake Together server runs until dropped");
        });
        Self { addr, shared, task }
    }

    /// The API root to configure clients with: `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The key the fake accepts.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// Jobs created (`POST /v1/fine-tunes` that succeeded).
    pub fn jobs_created(&self) -> u64 {
        self.shared.counters.jobs_created.load(Ordering::SeqCst)
    }

    /// Files uploaded.
    pub fn files_uploaded(&self) -> u64 {
        self.shared.counters.files_uploaded.load(Ordering::SeqCst)
    }

    /// Cancel requests that cancelled a job.
    pub fn cancels(&self) -> u64 {
        self.shared.counters.cancels.load(Ordering::SeqCst)
    }

    /// Chat completions answered.
    pub fn chat_completions(&self) -> u64 {
        self.shared.counters.chat_completions.load(Ordering::SeqCst)
    }

    /// Faults injected.
    pub fn faults_injected(&self) -> u64 {
        self.shared.counters.faults_injected.load(Ordering::SeqCst)
    }

    /// Requests received, including refused and faulted ones.
    pub fn requests(&self) -> u64 {
        self.shared.counters.requests.load(Ordering::SeqCst)
    }

    /// A job as it is now.
    pub fn job(&self, id: &str) -> Option<FakeJob> {
        let now = Instant::now();
        self.shared.state().jobs.iter().find(|job| job.id == id).map(|job| job.snapshot(now))
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Vec<FakeJob> {
        let now = Instant::now();
        self.shared.state().jobs.iter().map(|job| job.snapshot(now)).collect()
    }

    /// The content of an uploaded file.
    pub fn file_content(&self, id: &str) -> Option<String> {
        self.shared.state().files.get(id).map(|file| file.content.clone())
    }

    /// Every chat completion request received, oldest first.
    pub fn chat_requests(&self) -> Vec<ChatCompletionRequestView> {
        self.shared.state().chats.clone()
    }

    /// Makes a job fail now with `message` (status `error`, with a `JOB_ERROR` event).
    /// Returns false when there is no such job or it has already ended.
    pub fn fail_job(&self, id: &str, message: &str) -> bool {
        let now = Instant::now();
        self.shared
            .state()
            .jobs
            .iter_mut()
            .find(|job| job.id == id)
            .is_some_and(|job| job.fail(now, message))
    }

    /// Replaces the fault injection settings (and restarts their random sequence).
    pub fn set_faults(&self, faults: FaultConfig) {
        *self.shared.faults.lock().expect("fault settings lock is never poisoned") =
            Faults::new(faults);
    }
}

impl Drop for FakeTogether {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// State shared by the handlers and the [`FakeTogether`] handle.
struct Shared {
    config: FakeTogetherConfig,
    faults: Mutex<Faults>,
    state: Mutex<State>,
    counters: Counters,
}

impl Shared {
    fn new(config: FakeTogetherConfig) -> Self {
        Self {
            faults: Mutex::new(Faults::new(config.faults.clone())),
            config,
            state: Mutex::new(State::default()),
            counters: Counters::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake Together state lock is never poisoned")
    }

    /// The fault to inject for a request in `scope`, if any, with the settings it uses.
    fn draw_fault(&self, scope: FaultScope) -> Option<(FaultKind, FaultConfig)> {
        let mut faults = self.faults.lock().expect("fault settings lock is never poisoned");
        let config = &faults.config;
        if config.kinds.is_empty()
            || config.rate <= 0.0
            || !(config.scope == FaultScope::All || config.scope == scope)
        {
            return None;
        }
        let rate = config.rate.min(1.0);
        let n_kinds = config.kinds.len();
        if !faults.rng.random_bool(rate) {
            return None;
        }
        let index = faults.rng.random_range(0..n_kinds);
        let kind = faults.config.kinds[index];
        self.counters.faults_injected.fetch_add(1, Ordering::SeqCst);
        Some((kind, faults.config.clone()))
    }
}

struct Faults {
    config: FaultConfig,
    rng: StdRng,
}

impl Faults {
    fn new(config: FaultConfig) -> Self {
        Self { rng: StdRng::seed_from_u64(config.seed), config }
    }
}

#[derive(Default)]
struct State {
    files: HashMap<String, StoredFile>,
    jobs: Vec<JobRecord>,
    chats: Vec<ChatCompletionRequestView>,
}

struct StoredFile {
    id: String,
    created_unix: u64,
    filename: String,
    purpose: String,
    content: String,
    lines: u64,
}

#[derive(Default)]
struct Counters {
    jobs_created: AtomicU64,
    files_uploaded: AtomicU64,
    cancels: AtomicU64,
    chat_completions: AtomicU64,
    faults_injected: AtomicU64,
    requests: AtomicU64,
}

/// Tokens the fake counts for a text: `ceil(bytes / 4)`, the usual rough estimate.
fn rough_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}
