//! Integration tests of the REST API: the real router on a real `SqliteStore` in a temp
//! file, driven with `tower::ServiceExt::oneshot`. No network.

mod billing;
mod datasets;
mod errors;
mod events;
mod keys;
mod models;
mod openapi;
mod playground;
mod runs;
mod specs;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;
use tt_api::{AppState, Metrics, TrainerCatalog, generate_api_key, router};
use tt_domain::{AccountId, Clock, RateCard, RunId, Timestamp};
use tt_providers::{ChatRequest, ChatResponse, Inference, ProviderError};
use tt_store::{Lease, NewModel, Store};
use tt_store_sql::SqliteStore;

/// A clock the tests move by hand.
#[derive(Debug)]
pub(crate) struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

impl TestClock {
    pub(crate) fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

/// Inference that answers with the model name and the last message, so tests can see
/// what reached the provider.
#[derive(Debug)]
pub(crate) struct EchoInference;

#[async_trait]
impl Inference for EchoInference {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let roles: Vec<String> =
            request.messages.iter().map(|m| format!("{:?}", m.role).to_lowercase()).collect();
        let last = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
        Ok(ChatResponse {
            content: format!("{} [{}] {last}", request.model, roles.join(",")),
            latency_ms: 7,
            completion_tokens: None,
        })
    }
}

/// A router on a fresh SQLite file.
pub(crate) struct TestApp {
    pub(crate) router: Router,
    pub(crate) store: Arc<SqliteStore>,
    pub(crate) clock: Arc<TestClock>,
    _dir: TempDir,
}

/// One account and a valid key of it.
#[derive(Debug, Clone)]
pub(crate) struct TestAccount {
    pub(crate) id: AccountId,
    pub(crate) key: String,
}

/// A response, its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
    pub(crate) json: Value,
}

impl Reply {
    /// Asserts an error in the envelope with this status and code; returns the error object.
    #[track_caller]
    pub(crate) fn assert_error(&self, status: StatusCode, code: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.json["error"]["code"], code, "{}", self.text);
        assert!(
            self.json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.text
        );
        assert_eq!(
            self.json.as_object().map(|o| o.len()),
            Some(1),
            "only `error` at the top: {}",
            self.text
        );
        &self.json["error"]
    }

    /// Asserts a success with this status; returns `data`.
    #[track_caller]
    pub(crate) fn data(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.json["data"]
    }
}

pub(crate) struct Options {
    pub(crate) rate_card: RateCard,
    pub(crate) trainers: TrainerCatalog,
    pub(crate) inference: HashMap<String, Arc<dyn Inference>>,
}

impl Default for Options {
    fn default() -> Self {
        let mut inference: HashMap<String, Arc<dyn Inference>> = HashMap::new();
        inference.insert("local".to_owned(), Arc::new(EchoInference));
        Self { rate_card: RateCard::default(), trainers: TrainerCatalog::default(), inference }
    }
}

impl TestApp {
    pub(crate) async fn new() -> Self {
        Self::with(Options::default()).await
    }

    pub(crate) async fn with(options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(SqliteStore::open(dir.path().join("tt.db").to_str().unwrap()).await.unwrap());
        let clock = Arc::new(TestClock(AtomicI64::new(1_772_793_000_000)));
        let state = AppState {
            store: store.clone(),
            clock: clock.clone(),
            rate_card: Arc::new(options.rate_card),
            trainers: options.trainers,
            inference: options.inference,
            metrics: Metrics::default(),
        };
        Self { router: router(state), store, clock, _dir: dir }
    }

    /// A new account with `credits` cents and one key.
    pub(crate) async fn account(&self, name: &str, admin: bool, credits: i64) -> TestAccount {
        let now = self.clock.now();
        let account = self.store.create_account(name, admin, now).await.unwrap();
        let key = generate_api_key().unwrap();
        self.store.create_api_key(account.id, "test", &key.prefix, key.hash, now).await.unwrap();
        if credits > 0 {
            self.store.topup(account.id, credits, now).await.unwrap();
        }
        TestAccount { id: account.id, key: key.key }
    }

    /// Sends a request with an optional key and raw body and content type.
    pub(crate) async fn send_raw(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Vec<u8>,
        content_type: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response =
            self.router.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, json }
    }

    /// Sends JSON (or nothing) as `account`.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        account: &TestAccount,
        body: Option<Value>,
    ) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        self.send_raw(method, path, Some(&account.key), bytes, Some("application/json"), &[]).await
    }

    pub(crate) async fn get(&self, path: &str, account: &TestAccount) -> Reply {
        self.call(Method::GET, path, account, None).await
    }

    pub(crate) async fn post(&self, path: &str, account: &TestAccount, body: Value) -> Reply {
        self.call(Method::POST, path, account, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str, account: &TestAccount) -> Reply {
        self.call(Method::DELETE, path, account, None).await
    }

    /// Creates a spec (local base model unless given) and returns its id.
    pub(crate) async fn spec(&self, account: &TestAccount, base_model: Option<&str>) -> String {
        let mut body = spec_body("Support Bot");
        if let Some(model) = base_model {
            body["base_model"] = json!(model);
        }
        let reply = self.post("/api/v1/behavior-specs", account, body).await;
        reply.data(StatusCode::CREATED)["id"].as_str().unwrap().to_owned()
    }

    /// Starts a run of `spec` with defaults and returns its id.
    pub(crate) async fn run(&self, account: &TestAccount, spec: &str) -> String {
        let reply =
            self.post(&format!("/api/v1/behavior-specs/{spec}/runs"), account, json!({})).await;
        reply.data(StatusCode::CREATED)["id"].as_str().unwrap().to_owned()
    }

    /// Claims `run` as a worker would, for tests that need worker-side records.
    pub(crate) async fn claim(&self, run: &str) -> Lease {
        let claimed =
            self.store.claim_runs("test-worker", self.clock.now(), 60_000, 100).await.unwrap();
        claimed
            .into_iter()
            .find(|c| c.run.id.to_string() == run)
            .expect("the run is claimable")
            .lease
    }

    /// Records a fine-tuned model for `run` and returns its id.
    pub(crate) async fn model(&self, run: &str, name: &str) -> String {
        let lease = self.claim(run).await;
        let model = NewModel {
            name: name.to_owned(),
            provider: "local".to_owned(),
            provider_model_id: format!("/adapters/{name}"),
            base_model: "tt-local/tiny".to_owned(),
            fine_tune_job_id: "job-12345678".to_owned(),
        };
        let id = self.store.attach_model(&lease, model, self.clock.now()).await.unwrap();
        self.store.release_lease(&lease, self.clock.now()).await.unwrap();
        id.to_string()
    }

    /// Cancels a run through the store (the way a run becomes terminal in these tests).
    pub(crate) async fn cancel_in_store(&self, account: &TestAccount, run: &str) {
        let run_id: RunId = run.parse().unwrap();
        self.store.cancel_run(account.id, run_id, self.clock.now()).await.unwrap();
    }
}

/// A valid spec body.
pub(crate) fn spec_body(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Handles billing and support questions",
        "system_prompt": "You are a helpful support agent.",
        "guidelines": ["Be concise", "Show empathy"],
        "constraints": ["Never promise refunds"],
        "examples": [
            {"input": "How do I cancel?", "output": "Go to Settings > Billing and choose Cancel."},
            {"input": "Can I get a refund?", "output": "I can pass your request to our billing team."},
        ],
    })
}

/// A well-formed key that no account has.
pub(crate) const UNKNOWN_KEY: &str = "tt_0000000000000000000000000000000000000000";
