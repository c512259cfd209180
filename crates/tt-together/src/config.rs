//! How to reach Together: base URL, key, timeouts and retry limits.

use std::fmt;
use std::time::Duration;

/// Together's public API root, as its Python SDK uses it.
pub const DEFAULT_BASE_URL: &str = "https://api.together.xyz/v1";

/// Settings of a [`crate::TogetherClient`]. The binary fills it from `TOGETHER_API_KEY` and
/// `TOGETHER_BASE_URL`; this crate never reads the environment.
#[derive(Clone)]
pub struct TogetherConfig {
    /// The API root, ending in `/v1` (tests point it at wiremock or the fake server).
    pub base_url: String,
    /// The key sent as `Authorization: Bearer …`; hidden in `Debug`.
    pub api_key: String,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long one request may take, body included.
    pub request_timeout: Duration,
    /// Retries after the first attempt of a call that is safe to repeat.
    pub max_retries: usize,
    /// The first backoff delay; later ones double (with jitter) up to `retry_max_delay`.
    pub retry_min_delay: Duration,
    /// The longest backoff delay.
    pub retry_max_delay: Duration,
    /// The longest `Retry-After` wait honoured inside one call; a longer one is returned to
    /// the caller as [`tt_providers::ProviderError::RateLimited`] so that it can schedule
    /// the retry itself.
    pub max_retry_after: Duration,
}

impl TogetherConfig {
    /// Defaults for the public API with the given key: 10 s to connect, 120 s per request,
    /// 3 retries from 0.5 s to 8 s, `Retry-After` honoured up to 60 s (as Together's Python
    /// SDK does).
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: api_key.into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_retries: 3,
            retry_min_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// The same settings against another API root.
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }
}

impl fmt::Debug for TogetherConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TogetherConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"[redacted]")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_min_delay", &self.retry_min_delay)
            .field("retry_max_delay", &self.retry_max_delay)
            .field("max_retry_after", &self.max_retry_after)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_key_never_appears_in_debug_output() {
        let config = TogetherConfig::new("sk-very-secret");
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert!(shown.contains(DEFAULT_BASE_URL));
    }
}
