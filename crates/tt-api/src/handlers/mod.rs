//! Request handlers, one module per resource. Each handler extracts, parses into domain
//! types, calls the store, and maps the result.

pub(crate) mod billing;
pub(crate) mod datasets;
pub(crate) mod events;
pub(crate) mod keys;
pub(crate) mod models;
pub(crate) mod playground;
pub(crate) mod runs;
pub(crate) mod specs;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::{Value, json};

use crate::AppState;
use crate::envelope::{Data, ok};
use crate::error::ApiError;

/// `GET /healthz`: 200 when the store answers, 503 otherwise.
pub(crate) async fn health(State(state): State<AppState>) -> Result<Json<Data<Value>>, ApiError> {
    state.store.ping().await.map_err(ApiError::Unavailable)?;
    Ok(ok(json!({"status": "ok"})))
}

/// `GET /metrics`: Prometheus text.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

/// `GET /api/v1/openapi.json`: the document built from the route table.
pub(crate) async fn openapi(Extension(document): Extension<Arc<Value>>) -> Json<Value> {
    Json(document.as_ref().clone())
}

/// Any path no route matches.
pub(crate) async fn fallback(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

/// A known path with a method it does not answer.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
