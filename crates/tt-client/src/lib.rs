//! Typed Rust client of the Tuned Tensor REST API (`/api/v1`): one async method per
//! endpoint, records as typed structs, failures as one [`ClientError`], and a run's live
//! event stream that resumes by itself after a dropped connection.
//!
//! The `tt` CLI and the end-to-end tests drive the server through this crate, and other Rust
//! services can embed it the same way: build one [`Client`] at start-up (it holds a
//! connection pool; clone it freely) and call it from any task.
//!
//! ```no_run
//! use futures::StreamExt;
//! use tt_client::{Client, RunEventMessage, RunRequest};
//!
//! # async fn demo() -> Result<(), tt_client::ClientError> {
//! let client = Client::new("http://127.0.0.1:8080", "tt_…")?;
//! let spec = client.list_specs(Default::default()).await?.items.remove(0);
//! let run = client.start_run(spec.id, &RunRequest::default()).await?;
//! let mut events = Box::pin(client.watch_events(run.id, None));
//! while let Some(message) = events.next().await {
//!     match message? {
//!         RunEventMessage::Event { event, .. } => println!("{event:?}"),
//!         RunEventMessage::End { status } => println!("finished: {status}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! This crate must not depend on sqlx or axum: it knows the API only by its JSON.

mod error;
mod events;
mod types;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tt_domain::{ApiKeyId, DatasetId, ModelId, RunId, SpecDraft, SpecId};

pub use error::ClientError;
pub use types::{
    AccountId, ApiKey, Balance, Completion, CompletionRequest, CreatedApiKey, Dataset,
    DatasetIssue, FineTunedModel, LedgerEntry, ListMeta, NewDataset, PageParams, Paged,
    PlaygroundModel, PlaygroundModels, Run, RunEstimate, RunEventMessage, RunRequest, Spec,
    SpecPatch, Topup,
};

/// Timeouts and reconnection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// How long to wait for a TCP connection.
    pub connect_timeout: Duration,
    /// How long a whole ordinary request may take.
    pub request_timeout: Duration,
    /// How long the event stream may stay silent before the connection counts as dead.
    /// The server sends a keep-alive every 15 s, so the default is three times that.
    pub stream_read_timeout: Duration,
    /// The first wait before reconnecting the event stream; it doubles up to `reconnect_max_delay`.
    pub reconnect_min_delay: Duration,
    /// The longest wait between reconnection attempts.
    pub reconnect_max_delay: Duration,
    /// Reconnection attempts in a row (without an event in between) before giving up.
    pub max_reconnects: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            stream_read_timeout: Duration::from_secs(45),
            reconnect_min_delay: Duration::from_millis(500),
            reconnect_max_delay: Duration::from_secs(10),
            max_reconnects: 8,
        }
    }
}

/// A client of one Tuned Tensor server, authenticated with one API key.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    stream_http: reqwest::Client,
    base_url: String,
    api_key: String,
    options: ClientOptions,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is a bearer secret: never let it reach a log line.
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// A request's answer, decoded from the `{"data": …}` envelope.
#[derive(serde::Deserialize)]
struct DataEnvelope<T> {
    data: T,
}

/// A list answer: `{"data": [...], "meta": {...}}`.
#[derive(serde::Deserialize)]
struct ListEnvelope<T> {
    data: Vec<T>,
    meta: ListMeta,
}

impl Client {
    /// A client of the server at `base_url` (such as `http://127.0.0.1:8080`) with the
    /// default [`ClientOptions`].
    pub fn new(base_url: &str, api_key: impl Into<String>) -> Result<Self, ClientError> {
        Self::with_options(base_url, api_key, ClientOptions::default())
    }

    /// A client with explicit timeouts and reconnection settings.
    pub fn with_options(
        base_url: &str,
        api_key: impl Into<String>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let parsed = reqwest::Url::parse(base_url).map_err(|err| ClientError::InvalidBaseUrl {
            base_url: base_url.to_owned(),
            reason: err.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::InvalidBaseUrl {
                base_url: base_url.to_owned(),
                reason: "the scheme must be http or https".to_owned(),
            });
        }
        let user_agent = concat!("tt-client/", env!("CARGO_PKG_VERSION"));
        let base_url = base_url.trim_end_matches('/').to_owned();
        let setup_error = |err: reqwest::Error| ClientError::Connect {
            base_url: base_url.clone(),
            source: Box::new(err),
        };
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .build()
            .map_err(setup_error)?;
        // The event stream is long-lived, so it has no total timeout, only a read timeout
        // that notices a connection gone silent.
        let stream_http = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.stream_read_timeout)
            .build()
            .map_err(setup_error)?;
        Ok(Self { http, stream_http, base_url, api_key: api_key.into(), options })
    }

    /// The base URL this client talks to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    // ---- health ----

    /// `GET /healthz`: whether the server and its database answer.
    pub async fn healthz(&self) -> Result<(), ClientError> {
        let request = self.http.get(format!("{}/healthz", self.base_url));
        self.execute(request).await.map(drop)
    }

    // ---- behaviour specs ----

    /// `POST /behavior-specs`: creates a spec.
    pub async fn create_spec(&self, draft: &SpecDraft) -> Result<Spec, ClientError> {
        self.send_json(Method::POST, "/behavior-specs", Some(draft)).await
    }

    /// `GET /behavior-specs`: one page of specs, with their run statistics.
    pub async fn list_specs(&self, page: PageParams) -> Result<Paged<Spec>, ClientError> {
        self.get_list("/behavior-specs", page).await
    }

    /// `GET /behavior-specs/:id`.
    pub async fn get_spec(&self, id: SpecId) -> Result<Spec, ClientError> {
        self.send_json(Method::GET, &format!("/behavior-specs/{id}"), None::<&()>).await
    }

    /// `PUT /behavior-specs/:id`: a partial update; absent fields keep their value.
    pub async fn update_spec(&self, id: SpecId, patch: &SpecPatch) -> Result<Spec, ClientError> {
        self.send_json(Method::PUT, &format!("/behavior-specs/{id}"), Some(patch)).await
    }

    /// `DELETE /behavior-specs/:id`.
    pub async fn delete_spec(&self, id: SpecId) -> Result<(), ClientError> {
        self.send_no_content(Method::DELETE, &format!("/behavior-specs/{id}")).await
    }

    // ---- runs ----

    /// `POST /behavior-specs/:id/runs`: starts a run; it comes back in `preparing`.
    pub async fn start_run(
        &self,
        spec_id: SpecId,
        request: &RunRequest,
    ) -> Result<Run, ClientError> {
        self.send_json(Method::POST, &format!("/behavior-specs/{spec_id}/runs"), Some(request))
            .await
    }

    /// `POST /behavior-specs/:id/runs/estimate`: what a start would hold, without starting.
    pub async fn estimate_run(
        &self,
        spec_id: SpecId,
        request: &RunRequest,
    ) -> Result<RunEstimate, ClientError> {
        self.send_json(
            Method::POST,
            &format!("/behavior-specs/{spec_id}/runs/estimate"),
            Some(request),
        )
        .await
    }

    /// `GET /runs`: one page of runs across specs, each with `spec_name`.
    pub async fn list_runs(&self, page: PageParams) -> Result<Paged<Run>, ClientError> {
        self.get_list("/runs", page).await
    }

    /// `GET /behavior-specs/:id/runs`: one page of one spec's runs.
    pub async fn list_runs_for_spec(
        &self,
        spec_id: SpecId,
        page: PageParams,
    ) -> Result<Paged<Run>, ClientError> {
        self.get_list(&format!("/behavior-specs/{spec_id}/runs"), page).await
    }

    /// `GET /runs/:id`: the run with its per-example `evals`, worst first.
    pub async fn get_run(&self, id: RunId) -> Result<Run, ClientError> {
        self.send_json(Method::GET, &format!("/runs/{id}"), None::<&()>).await
    }

    /// `POST /runs/:id/cancel`: cancels a run that has not finished (409 `conflict` otherwise).
    pub async fn cancel_run(&self, id: RunId) -> Result<(), ClientError> {
        self.send_no_content(Method::POST, &format!("/runs/{id}/cancel")).await
    }

    // ---- datasets ----

    /// `GET /datasets`.
    pub async fn list_datasets(&self, page: PageParams) -> Result<Paged<Dataset>, ClientError> {
        self.get_list("/datasets", page).await
    }

    /// `GET /datasets/:id`.
    pub async fn get_dataset(&self, id: DatasetId) -> Result<Dataset, ClientError> {
        self.send_json(Method::GET, &format!("/datasets/{id}"), None::<&()>).await
    }

    /// `GET /datasets/:id/content`: the JSONL text.
    pub async fn dataset_content(&self, id: DatasetId) -> Result<String, ClientError> {
        let path = format!("/datasets/{id}/content");
        let request = self.authorized(Method::GET, &path);
        let body = self.execute(request).await?;
        String::from_utf8(body.to_vec()).map_err(|err| ClientError::Decode {
            request: format!("GET {path}"),
            reason: err.to_string(),
        })
    }

    /// `POST /datasets`: uploads JSONL; the server checks every line and stores the verdict.
    pub async fn upload_dataset(&self, dataset: &NewDataset) -> Result<Dataset, ClientError> {
        self.send_json(Method::POST, "/datasets", Some(dataset)).await
    }

    /// `DELETE /datasets/:id`.
    pub async fn delete_dataset(&self, id: DatasetId) -> Result<(), ClientError> {
        self.send_no_content(Method::DELETE, &format!("/datasets/{id}")).await
    }

    // ---- models ----

    /// `GET /models`.
    pub async fn list_models(
        &self,
        page: PageParams,
    ) -> Result<Paged<FineTunedModel>, ClientError> {
        self.get_list("/models", page).await
    }

    /// `GET /models/:id`.
    pub async fn get_model(&self, id: ModelId) -> Result<FineTunedModel, ClientError> {
        self.send_json(Method::GET, &format!("/models/{id}"), None::<&()>).await
    }

    /// `DELETE /models/:id`: deletes the record (not the provider's copy).
    pub async fn delete_model(&self, id: ModelId) -> Result<(), ClientError> {
        self.send_no_content(Method::DELETE, &format!("/models/{id}")).await
    }

    // ---- billing ----

    /// `GET /billing/balance`.
    pub async fn balance(&self) -> Result<Balance, ClientError> {
        self.send_json(Method::GET, "/billing/balance", None::<&()>).await
    }

    /// `GET /billing/transactions`: one page of ledger entries, newest first.
    pub async fn transactions(&self, page: PageParams) -> Result<Paged<LedgerEntry>, ClientError> {
        self.get_list("/billing/transactions", page).await
    }

    /// `POST /billing/topup` (admin keys only): grants credit; returns the credited
    /// account's new balance.
    pub async fn topup(&self, topup: &Topup) -> Result<Balance, ClientError> {
        self.send_json(Method::POST, "/billing/topup", Some(topup)).await
    }

    // ---- API keys ----

    /// `GET /api-keys`.
    pub async fn list_keys(&self, page: PageParams) -> Result<Paged<ApiKey>, ClientError> {
        self.get_list("/api-keys", page).await
    }

    /// `POST /api-keys`: makes a key; the full key is in the answer and never again.
    pub async fn create_key(&self, name: Option<&str>) -> Result<CreatedApiKey, ClientError> {
        #[derive(Serialize)]
        struct CreateKey<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            name: Option<&'a str>,
        }
        self.send_json(Method::POST, "/api-keys", Some(&CreateKey { name })).await
    }

    /// `DELETE /api-keys/:id`: revokes a key.
    pub async fn revoke_key(&self, id: ApiKeyId) -> Result<(), ClientError> {
        self.send_no_content(Method::DELETE, &format!("/api-keys/{id}")).await
    }

    // ---- playground ----

    /// `GET /playground/models`.
    pub async fn playground_models(&self) -> Result<PlaygroundModels, ClientError> {
        self.send_json(Method::GET, "/playground/models", None::<&()>).await
    }

    /// `POST /playground/completions`.
    pub async fn completion(&self, request: &CompletionRequest) -> Result<Completion, ClientError> {
        self.send_json(Method::POST, "/playground/completions", Some(request)).await
    }

    // ---- plumbing ----

    fn authorized(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1{path}", self.base_url))
            .bearer_auth(&self.api_key)
    }

    /// Sends the request and returns the body of a success answer, or the error.
    async fn execute(&self, request: RequestBuilder) -> Result<bytes::Bytes, ClientError> {
        let response =
            request.send().await.map_err(|err| ClientError::transport(&self.base_url, err))?;
        let status = response.status();
        let body =
            response.bytes().await.map_err(|err| ClientError::transport(&self.base_url, err))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(ClientError::from_response(status.as_u16(), &body))
        }
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, ClientError> {
        let what = format!("{method} {path}");
        let mut request = self.authorized(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let bytes = self.execute(request).await?;
        decode::<DataEnvelope<T>>(&bytes, &what).map(|envelope| envelope.data)
    }

    async fn send_no_content(&self, method: Method, path: &str) -> Result<(), ClientError> {
        let request = self.authorized(method, path);
        self.execute(request).await.map(drop)
    }

    async fn get_list<T: DeserializeOwned>(
        &self,
        path: &str,
        page: PageParams,
    ) -> Result<Paged<T>, ClientError> {
        let what = format!("GET {path}");
        let request = self.authorized(Method::GET, path).query(&page);
        let bytes = self.execute(request).await?;
        let envelope = decode::<ListEnvelope<T>>(&bytes, &what)?;
        Ok(Paged { items: envelope.data, meta: envelope.meta })
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ClientError> {
    serde_json::from_slice(bytes)
        .map_err(|err| ClientError::Decode { request: what.to_owned(), reason: err.to_string() })
}

/// Fetches every page of a list, `PageParams::MAX_PER_PAGE` items at a time.
///
/// ```no_run
/// # async fn demo(client: &tt_client::Client) -> Result<(), tt_client::ClientError> {
/// let every_run = tt_client::collect_pages(|page| client.list_runs(page)).await?;
/// # Ok(()) }
/// ```
pub async fn collect_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, ClientError>
where
    F: FnMut(PageParams) -> Fut,
    Fut: Future<Output = Result<Paged<T>, ClientError>>,
{
    let mut all = Vec::new();
    let mut page = PageParams { page: 1, per_page: PageParams::MAX_PER_PAGE };
    loop {
        let Paged { items, meta } = fetch(page).await?;
        let empty = items.is_empty();
        all.extend(items);
        if empty || !meta.has_more() {
            return Ok(all);
        }
        page.page += 1;
    }
}
