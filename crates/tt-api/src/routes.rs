//! The route table: every route once, with its handler and its documentation. The router
//! and the OpenAPI document are both built from it.

use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::AppState;
use crate::handlers::{billing, datasets, events, keys, models, playground, runs, specs};

/// An HTTP method a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    fn filter(self) -> MethodFilter {
        match self {
            Self::Get => MethodFilter::GET,
            Self::Post => MethodFilter::POST,
            Self::Put => MethodFilter::PUT,
            Self::Delete => MethodFilter::DELETE,
        }
    }

    /// The lowercase name, as OpenAPI writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Put => "put",
            Self::Delete => "delete",
        }
    }
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `{"data": <schema>}` with this status.
    Data(u16, &'static str),
    /// `{"data": [<schema>], "meta": …}`; the route takes `page` and `per_page`.
    List(&'static str),
    /// 204 with no body.
    NoContent,
    /// A non-JSON body of this media type (not enveloped).
    Raw(&'static str),
}

/// One route's documentation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteDoc {
    pub(crate) verb: Verb,
    /// The axum path, which is also the OpenAPI path (`{id}` parameters).
    pub(crate) path: &'static str,
    pub(crate) operation_id: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) tag: &'static str,
    /// Whether a bearer key is required.
    pub(crate) auth: bool,
    /// The request body schema, if any.
    pub(crate) body: Option<&'static str>,
    pub(crate) reply: Reply,
    /// Extra query parameters beyond paging: (name, description).
    pub(crate) query: &'static [(&'static str, &'static str)],
}

/// A documented route and its handler.
pub(crate) struct Route {
    pub(crate) doc: RouteDoc,
    pub(crate) handler: MethodRouter<AppState>,
}

/// Builds a route; the method router is made from the documented verb, so they agree.
fn route<H: Handler<T, AppState>, T: 'static>(doc: RouteDoc, handler: H) -> Route {
    Route { handler: on(doc.verb.filter(), handler), doc }
}

const fn doc(
    verb: Verb,
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
) -> RouteDoc {
    RouteDoc {
        verb,
        path,
        operation_id,
        summary,
        tag: "",
        auth: true,
        body: None,
        reply: Reply::NoContent,
        query: &[],
    }
}

impl RouteDoc {
    const fn tag(mut self, tag: &'static str) -> Self {
        self.tag = tag;
        self
    }
    const fn public(mut self) -> Self {
        self.auth = false;
        self
    }
    const fn body(mut self, schema: &'static str) -> Self {
        self.body = Some(schema);
        self
    }
    const fn reply(mut self, reply: Reply) -> Self {
        self.reply = reply;
        self
    }
    const fn query(mut self, query: &'static [(&'static str, &'static str)]) -> Self {
        self.query = query;
        self
    }
}

use Reply::{Data, List, NoContent, Raw};
use Verb::{Delete, Get, Post, Put};

/// Every route of the API.
pub(crate) fn table() -> Vec<Route> {
    vec![
        route(
            doc(Get, "/healthz", "health", "Checks that the server and its database answer")
                .tag("ops")
                .public()
                .reply(Data(200, "Health")),
            crate::handlers::health,
        ),
        route(
            doc(Get, "/metrics", "metrics", "Prometheus metrics")
                .tag("ops")
                .public()
                .reply(Raw("text/plain")),
            crate::handlers::metrics,
        ),
        route(
            doc(Get, "/api/v1/openapi.json", "openapi", "This OpenAPI document")
                .tag("ops")
                .public()
                .reply(Raw("application/json")),
            crate::handlers::openapi,
        ),
        // ---- behaviour specs ----
        route(
            doc(Post, "/api/v1/behavior-specs", "createSpec", "Creates a behaviour spec")
                .tag("specs")
                .body("SpecInput")
                .reply(Data(201, "BehaviorSpec")),
            specs::create,
        ),
        route(
            doc(
                Get,
                "/api/v1/behavior-specs",
                "listSpecs",
                "Lists behaviour specs with their run statistics",
            )
            .tag("specs")
            .reply(List("SpecListItem")),
            specs::list,
        ),
        route(
            doc(Get, "/api/v1/behavior-specs/{id}", "getSpec", "Reads a behaviour spec")
                .tag("specs")
                .reply(Data(200, "BehaviorSpec")),
            specs::get,
        ),
        route(
            doc(
                Put,
                "/api/v1/behavior-specs/{id}",
                "updateSpec",
                "Updates a behaviour spec (absent fields are kept)",
            )
            .tag("specs")
            .body("SpecPatch")
            .reply(Data(200, "BehaviorSpec")),
            specs::update,
        ),
        route(
            doc(
                Delete,
                "/api/v1/behavior-specs/{id}",
                "deleteSpec",
                "Deletes a behaviour spec and its runs",
            )
            .tag("specs")
            .reply(NoContent),
            specs::delete,
        ),
        // ---- runs ----
        route(
            doc(
                Post,
                "/api/v1/behavior-specs/{id}/runs",
                "startRun",
                "Starts a run; returns at once in `preparing`",
            )
            .tag("runs")
            .body("StartRunRequest")
            .reply(Data(201, "Run")),
            runs::start,
        ),
        route(
            doc(
                Post,
                "/api/v1/behavior-specs/{id}/runs/estimate",
                "estimateRun",
                "The credit a start would hold",
            )
            .tag("runs")
            .body("StartRunRequest")
            .reply(Data(200, "RunEstimate")),
            runs::estimate,
        ),
        route(
            doc(
                Get,
                "/api/v1/behavior-specs/{id}/runs",
                "listSpecRuns",
                "Lists a spec's runs, newest first",
            )
            .tag("runs")
            .reply(List("RunListItem")),
            runs::list_for_spec,
        ),
        route(
            doc(
                Get,
                "/api/v1/runs",
                "listRuns",
                "Lists every run, newest first, with `_spec_name`",
            )
            .tag("runs")
            .reply(List("RunListItem")),
            runs::list_all,
        ),
        route(
            doc(Get, "/api/v1/runs/{id}", "getRun", "Reads a run with `_evals`, worst score first")
                .tag("runs")
                .reply(Data(200, "RunDetail")),
            runs::get,
        ),
        route(
            doc(
                Get,
                "/api/v1/runs/{id}/events",
                "runEvents",
                "Streams a run's events as server-sent events",
            )
            .tag("runs")
            .reply(Raw("text/event-stream"))
            .query(&[(
                "after",
                "Replay events after this sequence number (like the Last-Event-ID header)",
            )]),
            events::stream,
        ),
        route(
            doc(
                Post,
                "/api/v1/runs/{id}/cancel",
                "cancelRun",
                "Cancels a preparing, training or evaluating run",
            )
            .tag("runs")
            .reply(Data(200, "Run")),
            runs::cancel,
        ),
        // ---- datasets ----
        route(
            doc(Get, "/api/v1/datasets", "listDatasets", "Lists datasets")
                .tag("datasets")
                .reply(List("Dataset")),
            datasets::list,
        ),
        route(
            doc(
                Post,
                "/api/v1/datasets",
                "uploadDataset",
                "Uploads a JSONL dataset (JSON, or multipart with a `file` field); it is checked line by line",
            )
            .tag("datasets")
            .body("DatasetUpload")
            .reply(Data(201, "Dataset")),
            datasets::create,
        ),
        route(
            doc(Get, "/api/v1/datasets/{id}", "getDataset", "Reads a dataset")
                .tag("datasets")
                .reply(Data(200, "Dataset")),
            datasets::get,
        ),
        route(
            doc(
                Get,
                "/api/v1/datasets/{id}/content",
                "getDatasetContent",
                "Downloads a dataset's JSONL",
            )
            .tag("datasets")
            .reply(Raw("application/x-ndjson")),
            datasets::content,
        ),
        route(
            doc(Delete, "/api/v1/datasets/{id}", "deleteDataset", "Deletes a dataset")
                .tag("datasets")
                .reply(NoContent),
            datasets::delete,
        ),
        // ---- models ----
        route(
            doc(Get, "/api/v1/models", "listModels", "Lists fine-tuned models")
                .tag("models")
                .reply(List("Model")),
            models::list,
        ),
        route(
            doc(Get, "/api/v1/models/{id}", "getModel", "Reads a fine-tuned model")
                .tag("models")
                .reply(Data(200, "Model")),
            models::get,
        ),
        route(
            doc(
                Delete,
                "/api/v1/models/{id}",
                "deleteModel",
                "Deletes a model record (not the provider's copy)",
            )
            .tag("models")
            .reply(NoContent),
            models::delete,
        ),
        // ---- billing ----
        route(
            doc(Get, "/api/v1/billing/balance", "getBalance", "The account's credit position")
                .tag("billing")
                .reply(Data(200, "BalanceView")),
            billing::balance,
        ),
        route(
            doc(
                Get,
                "/api/v1/billing/transactions",
                "listTransactions",
                "Ledger entries, newest first",
            )
            .tag("billing")
            .reply(List("LedgerEntry")),
            billing::transactions,
        ),
        route(
            doc(Post, "/api/v1/billing/topup", "topup", "Grants credit (admin keys only)")
                .tag("billing")
                .body("TopupRequest")
                .reply(Data(200, "BalanceView")),
            billing::topup,
        ),
        // ---- API keys ----
        route(
            doc(
                Get,
                "/api/v1/api-keys",
                "listApiKeys",
                "Lists the account's keys (never the keys themselves)",
            )
            .tag("api-keys")
            .reply(List("ApiKey")),
            keys::list,
        ),
        route(
            doc(
                Post,
                "/api/v1/api-keys",
                "createApiKey",
                "Creates a key; the full key is shown once",
            )
            .tag("api-keys")
            .body("CreateApiKeyRequest")
            .reply(Data(201, "CreatedApiKey")),
            keys::create,
        ),
        route(
            doc(Delete, "/api/v1/api-keys/{id}", "revokeApiKey", "Revokes a key")
                .tag("api-keys")
                .reply(Data(200, "ApiKey")),
            keys::revoke,
        ),
        // ---- playground ----
        route(
            doc(
                Get,
                "/api/v1/playground/models",
                "playgroundModels",
                "Base and fine-tuned models to chat with",
            )
            .tag("playground")
            .reply(Data(200, "PlaygroundModels")),
            playground::models,
        ),
        route(
            doc(
                Post,
                "/api/v1/playground/completions",
                "playgroundCompletion",
                "One completion from a model",
            )
            .tag("playground")
            .body("CompletionRequest")
            .reply(Data(200, "Completion")),
            playground::complete,
        ),
    ]
}
