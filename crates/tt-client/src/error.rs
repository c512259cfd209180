//! The one error type of the client: what the server refused, or why it could not be asked.

use std::error::Error as StdError;

use serde::Deserialize;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error envelope (`{"error": {"code", "message", "details"?}}`),
    /// or with a non-success status and no envelope (then `code` is `http_<status>`).
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The machine-readable code, such as `not_found` or `insufficient_credits`.
        code: String,
        /// The server's message for humans.
        message: String,
        /// Extra details, such as `required_cents` and `available_cents` on a 402.
        details: Option<serde_json::Value>,
    },
    /// The server could not be reached, or the connection dropped mid-answer.
    #[error("could not reach the Tuned Tensor server at {base_url}")]
    Connect {
        /// The base URL tried.
        base_url: String,
        /// What went wrong underneath.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The server answered, but not with what the API promises.
    #[error("could not understand the server's answer to {request}: {reason}")]
    Decode {
        /// The request, as `METHOD /path`.
        request: String,
        /// What did not fit.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("the Tuned Tensor server at {base_url} did not answer in time")]
    Timeout {
        /// The base URL tried.
        base_url: String,
    },
    /// The base URL given to [`Client::new`](crate::Client::new) is not an http(s) URL.
    #[error("`{base_url}` is not a valid server URL: {reason}")]
    InvalidBaseUrl {
        /// The URL given.
        base_url: String,
        /// Why it was refused.
        reason: String,
    },
}

impl ClientError {
    /// The HTTP status, for [`ClientError::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error code, for [`ClientError::Api`].
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The `(required_cents, available_cents)` of a 402 `insufficient_credits` answer.
    pub fn insufficient_credits(&self) -> Option<(i64, i64)> {
        let Self::Api { code, details: Some(details), .. } = self else { return None };
        if code != "insufficient_credits" {
            return None;
        }
        Some((details.get("required_cents")?.as_i64()?, details.get("available_cents")?.as_i64()?))
    }

    /// Whether trying again later may help: transport failures and 5xx answers.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } => true,
            Self::Api { status, .. } => *status >= 500,
            Self::Decode { .. } | Self::InvalidBaseUrl { .. } => false,
        }
    }

    /// Classifies a transport error from reqwest.
    pub(crate) fn transport(base_url: &str, err: reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::Timeout { base_url: base_url.to_owned() }
        } else {
            Self::Connect { base_url: base_url.to_owned(), source: Box::new(err) }
        }
    }

    /// Builds the error for a non-success answer from its status and body.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct ErrorEnvelope {
            error: ErrorBody,
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            code: String,
            message: String,
            #[serde(default)]
            details: Option<serde_json::Value>,
        }

        match serde_json::from_slice::<ErrorEnvelope>(body) {
            Ok(ErrorEnvelope { error }) => Self::Api {
                status,
                code: error.code,
                message: error.message,
                details: error.details,
            },
            Err(_) => {
                // A proxy or a crashed server answers without our envelope; keep a short
                // excerpt so the user sees what came back.
                let text = String::from_utf8_lossy(body);
                let excerpt: String = text.trim().chars().take(200).collect();
                let message = if excerpt.is_empty() {
                    format!("the server answered HTTP {status}")
                } else {
                    excerpt
                };
                Self::Api { status, code: format!("http_{status}"), message, details: None }
            }
        }
    }
}
