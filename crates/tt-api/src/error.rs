//! [`ApiError`]: every failure a handler can answer with, and the one JSON shape it takes.
//!
//! `{"error": {"code", "message", "details"?}}`. 4xx messages are written for the user.
//! 5xx answers carry a generic message; the real error is logged here, inside the request's
//! span, and never reaches the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tt_domain::{CreditError, HyperparameterError, InvalidTransition, SpecError};
use tt_providers::ProviderError;
use tt_store::StoreError;

/// Where the insufficient-credits answer sends the user to top up.
pub const TOPUP_URL: &str = "/dashboard/billing";

/// A request that failed, as the API answers it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 `validation_error`: the request is malformed or breaks a rule.
    #[error("{message}")]
    Validation {
        /// What is wrong, for the user.
        message: String,
        /// The offending fields: `{"field", "violations": [{"field", "rule"}]}`.
        details: Option<Value>,
    },
    /// 413 `validation_error`: the body is larger than the server accepts.
    #[error("the request body is larger than {limit_bytes} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit_bytes: usize,
    },
    /// 401 `unauthorized`: no key, a malformed key, or an unknown key.
    #[error("{0}")]
    Unauthorized(String),
    /// 402 `insufficient_credits`: available credit is below the run's estimate.
    #[error(transparent)]
    InsufficientCredits(CreditError),
    /// 403 `forbidden`: a revoked key, or an action this key may not take.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `not_found`: no such resource in the caller's account (or no such route).
    #[error("{0}")]
    NotFound(String),
    /// 405 `method_not_allowed`: the route exists but not with this method.
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    /// 409 `conflict`: the resource is in a state that refuses the request.
    #[error("{0}")]
    Conflict(String),
    /// 501 `playground_unavailable`: no inference provider is configured for the model.
    #[error("{0}")]
    PlaygroundUnavailable(String),
    /// 502 `provider_error`: the inference provider failed; the cause is only logged.
    #[error("the model provider failed")]
    Provider(#[source] ProviderError),
    /// 503 `unavailable`: the database does not answer (health check); the cause is only logged.
    #[error("the database does not answer")]
    Unavailable(#[source] StoreError),
    /// 500 `internal_error`: anything else; the cause is only logged.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 400 naming one offending field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        let details = json!({"field": field, "violations": [{"field": field, "rule": message}]});
        Self::Validation { message, details: Some(details) }
    }

    /// A 404 for an entity the caller cannot see (`behaviour spec`, `run`, …).
    pub fn not_found(entity: &str) -> Self {
        let mut message = entity.to_owned();
        if let Some(first) = message.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Self::NotFound(format!("{message} not found"))
    }

    /// A 500 from any error.
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientCredits(_) => StatusCode::PAYMENT_REQUIRED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PlaygroundUnavailable(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Provider(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } | Self::PayloadTooLarge { .. } => "validation_error",
            Self::Unauthorized(_) => "unauthorized",
            Self::InsufficientCredits(_) => "insufficient_credits",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PlaygroundUnavailable(_) => "playground_unavailable",
            Self::Provider(_) => "provider_error",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::Validation { details, .. } => details.clone(),
            Self::PayloadTooLarge { limit_bytes } => Some(json!({"limit_bytes": limit_bytes})),
            Self::InsufficientCredits(CreditError::Insufficient {
                required_cents,
                available_cents,
            }) => Some(
                json!({"required_cents": required_cents, "available_cents": available_cents, "topup_url": TOPUP_URL}),
            ),
            _ => None,
        }
    }

    fn log(&self) {
        let source = match self {
            Self::Internal(source) => source.as_ref() as &(dyn std::error::Error + 'static),
            Self::Provider(source) => source,
            Self::Unavailable(source) => source,
            _ => return,
        };
        let mut chain = Vec::new();
        let mut next = source.source();
        while let Some(cause) = next {
            chain.push(cause.to_string());
            next = cause.source();
        }
        tracing::error!(error.message = %source, error.cause_chain = ?chain, code = self.code(), "request failed");
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        if let Some(details) = self.details() {
            error["details"] = details;
        }
        (self.status(), Json(json!({ "error": error }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { entity } => Self::not_found(entity),
            StoreError::Conflict { message } => Self::Conflict(message),
            StoreError::InsufficientCredits { required_cents, available_cents } => {
                Self::InsufficientCredits(CreditError::Insufficient {
                    required_cents,
                    available_cents,
                })
            }
            StoreError::InvalidTransition(err) => err.into(),
            other => Self::internal(other),
        }
    }
}

impl From<InvalidTransition> for ApiError {
    fn from(err: InvalidTransition) -> Self {
        Self::Conflict(format!(
            "the run is {}; only runs that are preparing, training or evaluating can change now",
            err.from
        ))
    }
}

impl From<CreditError> for ApiError {
    fn from(err: CreditError) -> Self {
        Self::InsufficientCredits(err)
    }
}

impl From<SpecError> for ApiError {
    fn from(err: SpecError) -> Self {
        let field = err.violations.first().map(|v| v.field.clone());
        let details = json!({"field": field, "violations": err.violations});
        Self::Validation { message: err.to_string(), details: Some(details) }
    }
}

impl From<HyperparameterError> for ApiError {
    fn from(err: HyperparameterError) -> Self {
        Self::field(format!("hyperparameters.{}", err.field), err.to_string())
    }
}

impl From<ProviderError> for ApiError {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::NotFound { what } => {
                Self::NotFound(format!("not found at the model provider: {what}"))
            }
            ProviderError::Rejected { message } => Self::Validation {
                message: format!("the model provider rejected the request: {message}"),
                details: None,
            },
            other => Self::Provider(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(err: ApiError) -> (StatusCode, Value) {
        let response = err.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_backend_failure_is_a_generic_500_that_leaks_nothing() {
        let err: ApiError =
            StoreError::Backend("disk I/O error at /var/lib/tt/secret.db".into()).into();
        let (status, json) = body(err).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json, json!({"error": {"code": "internal_error", "message": "internal error"}}));
    }

    #[tokio::test]
    async fn a_provider_failure_is_a_502_without_the_vendors_message() {
        let err: ApiError =
            ProviderError::Server { status: 503, message: "upstream secret".into() }.into();
        let (status, json) = body(err).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(
            json,
            json!({"error": {"code": "provider_error", "message": "the model provider failed"}})
        );
    }

    #[tokio::test]
    async fn store_errors_map_to_their_codes() {
        let cases: [(StoreError, StatusCode, &str); 4] = [
            (StoreError::NotFound { entity: "run" }, StatusCode::NOT_FOUND, "not_found"),
            (StoreError::Conflict { message: "busy".into() }, StatusCode::CONFLICT, "conflict"),
            (
                StoreError::InsufficientCredits { required_cents: 42, available_cents: 10 },
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_credits",
            ),
            (
                StoreError::InvalidTransition(InvalidTransition {
                    from: tt_domain::RunStatus::Completed,
                    event: tt_domain::RunEvent::Cancel,
                }),
                StatusCode::CONFLICT,
                "conflict",
            ),
        ];
        for (store_error, status, code) in cases {
            let (got_status, json) = body(store_error.into()).await;
            assert_eq!((got_status, json["error"]["code"].as_str().unwrap()), (status, code));
        }
        let (_, json) = body(StoreError::NotFound { entity: "run" }.into()).await;
        assert_eq!(json["error"]["message"], "Run not found");
        let (_, json) = body(
            StoreError::InsufficientCredits { required_cents: 42, available_cents: 10 }.into(),
        )
        .await;
        assert_eq!(
            json,
            json!({"error": {
                "code": "insufficient_credits",
                "message": "This run is estimated at $0.42 but you have $0.10 available.",
                "details": {"required_cents": 42, "available_cents": 10, "topup_url": "/dashboard/billing"},
            }})
        );
    }
}
