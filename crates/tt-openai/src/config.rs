//! How to reach an OpenAI-compatible endpoint.

use std::fmt;
use std::time::Duration;

/// Where and how to call an OpenAI-compatible chat endpoint.
///
/// Fields are public because there is no invariant to keep; [`OpenAiConfig::new`] fills in
/// defaults that suit a remote LLM.
#[derive(Clone, PartialEq)]
pub struct OpenAiConfig {
    /// The API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`;
    /// requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The bearer token; `None` sends no `Authorization` header (local servers need none).
    /// Hidden in `Debug`.
    pub api_key: Option<String>,
    /// The limit on one HTTP attempt, from connecting to reading the whole body.
    pub request_timeout: Duration,
    /// The limit on opening the connection.
    pub connect_timeout: Duration,
    /// How many times a transient failure (connection error, timeout, 429, 5xx) is retried
    /// after the first attempt.
    pub max_retries: usize,
    /// The first backoff delay; later ones double, with jitter.
    pub min_backoff: Duration,
    /// The longest the client waits before a retry, also when the server's `Retry-After`
    /// asks for more (the request then fails with the rate limit instead of stalling).
    pub max_retry_wait: Duration,
}

impl OpenAiConfig {
    /// A configuration for `base_url` with no key, a 60 s request timeout, a 10 s connect
    /// timeout, 3 retries starting at 500 ms and waits capped at 30 s.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            min_backoff: Duration::from_millis(500),
            max_retry_wait: Duration::from_secs(30),
        }
    }

    /// The same configuration with `api_key` as the bearer token.
    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("min_backoff", &self.min_backoff)
            .field("max_retry_wait", &self.max_retry_wait)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_key_never_appears_in_debug_output() {
        let config = OpenAiConfig::new("http://127.0.0.1:1/v1").with_api_key("sk-very-secret");
        let debug = format!("{config:?}");
        assert!(!debug.contains("sk-very-secret"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }
}
