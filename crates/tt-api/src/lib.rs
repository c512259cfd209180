//! The REST API of Tuned Tensor as a library: [`router`] builds the axum router that the
//! server binary serves, from an [`AppState`] holding the store, the clock, the rate card,
//! the trainer catalogue, the inference providers and the metrics.
//!
//! Every route is declared once, in the route table (`routes.rs`), from which both the
//! router and `GET /api/v1/openapi.json` are built, so the two cannot drift.
//! Every answer uses the envelope: `{"data": …, "meta"?}` on success and
//! `{"error": {"code", "message", "details"?}}` on failure ([`ApiError`]).
//!
//! This crate reaches storage only through the [`tt_store::Store`] trait: it must not depend
//! on sqlx or reqwest (a tidy test in `xtask` enforces this). It is the only crate that knows
//! HTTP status codes.

// The OpenAPI schemas are one large `json!` literal.
#![recursion_limit = "256"]

mod catalog;
mod envelope;
mod error;
mod extract;
mod handlers;
mod metrics;
mod openapi;
mod routes;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tt_domain::{Clock, RateCard};
use tt_providers::Inference;
use tt_store::Store;

pub use catalog::{TOGETHER_TRAINER, TrainerCatalog};
pub use error::{ApiError, TOPUP_URL};
pub use handlers::keys::{KeyGenError, generate_api_key};
pub use metrics::Metrics;

/// The largest request body accepted (8 MiB). A larger body is answered with 413 and the
/// code `validation_error`.
pub const BODY_LIMIT_BYTES: usize = 8 * 1024 * 1024;

/// Everything the handlers need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
    /// Prices per base model, for estimates.
    pub rate_card: Arc<RateCard>,
    /// Which base models can be trained here.
    pub trainers: TrainerCatalog,
    /// Inference providers for the playground, keyed by provider name (`local`, `together`).
    pub inference: HashMap<String, Arc<dyn Inference>>,
    /// Request and run counters, rendered at `GET /metrics`.
    pub metrics: Metrics,
}

/// The whole API: `/healthz`, `/metrics`, and everything under `/api/v1`.
pub fn router(state: AppState) -> Router {
    let table = routes::table();
    let document = Arc::new(openapi::document(table.iter().map(|route| &route.doc)));
    let mut router = Router::new();
    for route in table {
        router = router.route(route.doc.path, route.handler);
    }
    router
        .fallback(handlers::fallback)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::Extension(document))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .with_state(state)
}
