//! The error every provider call can return, with meaningful variants rather than strings.

use std::time::Duration;

/// Why a provider call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The key was missing, wrong or lacks permission.
    #[error("the provider refused the credentials: {message}")]
    Unauthorized {
        /// The provider's explanation.
        message: String,
    },
    /// The job, file or model does not exist at the provider.
    #[error("not found at the provider: {what}")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Too many requests; `retry_after` is the wait the provider asked for, if any.
    #[error("rate limited by the provider{}", .retry_after.map(|d| format!(" (retry after {:.1}s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// The wait the provider asked for.
        retry_after: Option<Duration>,
    },
    /// The provider failed (5xx).
    #[error("the provider failed with HTTP {status}: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The request was refused as invalid (4xx other than auth, not found and rate limits):
    /// retrying the same request will not help.
    #[error("the provider rejected the request: {message}")]
    Rejected {
        /// The provider's message.
        message: String,
    },
    /// The connection failed or timed out.
    #[error("could not reach the provider: {message}")]
    Transport {
        /// What went wrong.
        message: String,
    },
    /// The provider answered with something we could not understand.
    #[error("the provider's reply could not be understood: {message}")]
    InvalidResponse {
        /// What was wrong with it.
        message: String,
    },
    /// The work was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl ProviderError {
    /// Whether the same call may succeed if tried again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Server { .. } | Self::Transport { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rate_limits_server_errors_and_transport_failures_are_transient() {
        assert!(ProviderError::RateLimited { retry_after: None }.is_transient());
        assert!(ProviderError::Server { status: 503, message: String::new() }.is_transient());
        assert!(ProviderError::Transport { message: String::new() }.is_transient());
        assert!(!ProviderError::Unauthorized { message: String::new() }.is_transient());
        assert!(!ProviderError::Rejected { message: String::new() }.is_transient());
        assert!(!ProviderError::InvalidResponse { message: String::new() }.is_transient());
    }

    #[test]
    fn a_rate_limit_says_how_long_to_wait() {
        let err = ProviderError::RateLimited { retry_after: Some(Duration::from_millis(1500)) };
        assert_eq!(err.to_string(), "rate limited by the provider (retry after 1.5s)");
    }
}
