//! A fake OpenAI-compatible chat server: `POST /v1/chat/completions` answered by a function
//! the test supplies, with fixed latency, fault injection at a configurable rate, and
//! counters and a request log that tests assert on.
//!
//! ```no_run
//! # async fn demo() {
//! use tt_testkit::openai::{FakeOpenAi, FakeOpenAiConfig, Fault, judge_responder};
//!
//! let fake = FakeOpenAi::start(
//!     FakeOpenAiConfig::new(judge_responder(0.8, "close enough")).with_faults(0.2, vec![Fault::Unavailable]),
//! )
//! .await;
//! let base_url = fake.base_url(); // http://127.0.0.1:PORT/v1
//! # let _ = base_url;
//! # }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tt_domain::{ChatMessage, ChatRole};

/// Builds the assistant's reply text from the request.
pub type Responder = Arc<dyn Fn(&ChatCompletionView) -> String + Send + Sync>;

/// A chat completion request as the fake received it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatCompletionView {
    /// The requested model.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// The requested token limit.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// The requested temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// The `Authorization` header, if one was sent.
    #[serde(skip)]
    pub authorization: Option<String>,
}

impl ChatCompletionView {
    /// The text of the last user message (empty when there is none).
    pub fn last_user_message(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == ChatRole::User)
            .map_or("", |m| m.content.as_str())
    }

    /// The text of the system message, if any.
    pub fn system_message(&self) -> Option<&str> {
        self.messages.iter().find(|m| m.role == ChatRole::System).map(|m| m.content.as_str())
    }
}

/// A failure the fake can answer with instead of a completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: {retry_after_secs}`.
    RateLimited {
        /// The wait the fake asks for.
        retry_after_secs: u64,
    },
    /// 500 with an OpenAI-style error body.
    ServerError,
    /// 503 with an OpenAI-style error body.
    Unavailable,
    /// Never answers (until the fake is dropped), so the client's timeout fires.
    Hang,
    /// 200 with a body that is not valid JSON.
    MalformedBody,
}

/// How the fake behaves.
#[derive(Clone)]
pub struct FakeOpenAiConfig {
    /// Writes the assistant's reply.
    pub responder: Responder,
    /// Added before every answer, faults included.
    pub latency: Duration,
    /// The chance, 0–1, that a request gets a fault instead of a completion.
    pub fault_rate: f64,
    /// The faults to pick from (uniformly) when one is due; none means no faults.
    pub faults: Vec<Fault>,
    /// At most this many faults in total (`Some(1)` with rate 1 fails exactly the first request).
    pub max_faults: Option<usize>,
    /// Seeds the fault dice, so a run of the fake is reproducible.
    pub seed: u64,
    /// When set, requests without `Authorization: Bearer {key}` get 401.
    pub required_api_key: Option<String>,
}

impl FakeOpenAiConfig {
    /// A fake that answers every request with `responder`, at once and without faults.
    pub fn new(responder: Responder) -> Self {
        Self {
            responder,
            latency: Duration::ZERO,
            fault_rate: 0.0,
            faults: Vec::new(),
            max_faults: None,
            seed: 0,
            required_api_key: None,
        }
    }

    /// Adds `latency` before every answer.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Answers a share `rate` of requests with one of `faults`.
    pub fn with_faults(mut self, rate: f64, faults: Vec<Fault>) -> Self {
        self.fault_rate = rate;
        self.faults = faults;
        self
    }

    /// Fails exactly the first `n` requests, with `fault`.
    pub fn failing_first(mut self, n: usize, fault: Fault) -> Self {
        self.fault_rate = 1.0;
        self.faults = vec![fault];
        self.max_faults = Some(n);
        self
    }

    /// Requires `Authorization: Bearer {key}`.
    pub fn with_required_api_key(mut self, key: impl Into<String>) -> Self {
        self.required_api_key = Some(key.into());
        self
    }
}

impl Default for FakeOpenAiConfig {
    /// An echo server with no latency or faults.
    fn default() -> Self {
        Self::new(echo_responder())
    }
}

impl fmt::Debug for FakeOpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeOpenAiConfig")
            .field("latency", &self.latency)
            .field("fault_rate", &self.fault_rate)
            .field("faults", &self.faults)
            .field("max_faults", &self.max_faults)
            .field("seed", &self.seed)
            .field("required_api_key", &self.required_api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// A responder that answers with the last user message.
pub fn echo_responder() -> Responder {
    Arc::new(|request: &ChatCompletionView| request.last_user_message().to_owned())
}

/// A responder that answers like an LLM judge: `{"score": score, "reasoning": reasoning}`.
pub fn judge_responder(score: f64, reasoning: &str) -> Responder {
    let reply = json!({ "score": score, "reasoning": reasoning }).to_string();
    Arc::new(move |_: &ChatCompletionView| reply.clone())
}

/// A responder that always answers with `text`.
pub fn fixed_responder(text: &str) -> Responder {
    let text = text.to_owned();
    Arc::new(move |_: &ChatCompletionView| text.clone())
}

struct Shared {
    config: FakeOpenAiConfig,
    requests: AtomicUsize,
    faults: AtomicUsize,
    log: Mutex<Vec<ChatCompletionView>>,
    dice: Mutex<StdRng>,
    shutdown: watch::Receiver<bool>,
}

/// A running fake; it stops when dropped.
pub struct FakeOpenAi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl FakeOpenAi {
    /// Starts the fake on `127.0.0.1` on a free port.
    pub async fn start(config: FakeOpenAiConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0 succeeds");
        let addr = listener.local_addr().expect("a bound listener has an address");
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            dice: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            requests: AtomicUsize::new(0),
            faults: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            shutdown: shutdown_rx,
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the fake server runs until aborted");
        });
        Self { addr, shared, shutdown, server }
    }

    /// The API root to configure clients with: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests received so far, faulted ones included.
    pub fn request_count(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Faults injected so far.
    pub fn fault_count(&self) -> usize {
        self.shared.faults.load(Ordering::SeqCst)
    }

    /// Every well-formed request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ChatCompletionView> {
        self.shared.log.lock().expect("the request log lock is never poisoned").clone()
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        // Wakes hanging handlers so that their connections close instead of lingering.
        let _ = self.shutdown.send(true);
        self.server.abort();
    }
}

impl fmt::Debug for FakeOpenAi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeOpenAi")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .finish()
    }
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let authorization =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let fault = shared.next_fault();
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    if let Some(fault) = fault {
        return shared.fault_response(&fault).await;
    }
    if let Some(key) = &shared.config.required_api_key
        && authorization.as_deref() != Some(format!("Bearer {key}").as_str())
    {
        return error_response(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "Incorrect API key provided.",
        );
    }
    let mut view: ChatCompletionView = match serde_json::from_slice(&body) {
        Ok(view) => view,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &err.to_string(),
            );
        }
    };
    view.authorization = authorization;
    shared.log.lock().expect("the request log lock is never poisoned").push(view.clone());
    let content = (shared.config.responder)(&view);
    let prompt_words: usize =
        view.messages.iter().map(|m| m.content.split_whitespace().count()).sum();
    let completion_words = content.split_whitespace().count();
    let body = json!({
        "id": format!("chatcmpl-fake-{n}"),
        "object": "chat.completion",
        "created": 0,
        "model": view.model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop",
        }],
        // Word counts stand in for tokens: close enough for a fake, and free of a tokenizer.
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": completion_words,
            "total_tokens": prompt_words + completion_words,
        },
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

impl Shared {
    fn next_fault(&self) -> Option<Fault> {
        let config = &self.config;
        if config.faults.is_empty() || config.fault_rate <= 0.0 {
            return None;
        }
        // The dice lock also serialises the budget check, so `max_faults` is exact under
        // concurrent requests.
        let mut dice = self.dice.lock().expect("the dice lock is never poisoned");
        if config.max_faults.is_some_and(|max| self.faults.load(Ordering::SeqCst) >= max) {
            return None;
        }
        if !dice.random_bool(config.fault_rate.min(1.0)) {
            return None;
        }
        self.faults.fetch_add(1, Ordering::SeqCst);
        Some(config.faults[dice.random_range(0..config.faults.len())].clone())
    }

    async fn fault_response(&self, fault: &Fault) -> Response {
        match fault {
            Fault::RateLimited { retry_after_secs } => {
                let mut response = error_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_exceeded",
                    "Rate limit reached.",
                );
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    retry_after_secs.to_string().parse().expect("digits are a valid header value"),
                );
                response
            }
            Fault::ServerError => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The server had an error.",
            ),
            Fault::Unavailable => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "The engine is currently overloaded.",
            ),
            Fault::Hang => {
                let mut shutdown = self.shutdown.clone();
                // Returns when the fake is dropped (or its sender is gone).
                let _ = shutdown.wait_for(|stopped| *stopped).await;
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "The fake is shutting down.",
                )
            }
            Fault::MalformedBody => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"id":"chatcmpl-broken","choices":[{"#,
            )
                .into_response(),
        }
    }
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "error": { "message": message, "type": code, "code": code } });
    (status, axum::Json(body)).into_response()
}
