//! [`OpenAiClient`]: chat completions over HTTP with retries.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use reqwest::Url;
use tt_providers::{ChatRequest, ChatResponse, Inference, ProviderError};

use crate::config::OpenAiConfig;
use crate::errors;
use crate::wire::{ChatCompletionRequest, ChatCompletionResponse};

/// Why a client could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The base URL is not an absolute `http` or `https` URL.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be initialised (e.g. the TLS backend failed to load).
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// A client of an OpenAI-compatible `POST /chat/completions` endpoint.
///
/// Chat completion has no side effects, so every transient failure (connection error,
/// timeout, 429, 5xx) is retried up to `max_retries` times with jittered exponential backoff.
/// A 429's `Retry-After` replaces the backoff delay; when it asks for longer than
/// `max_retry_wait` the client gives up at once and returns
/// [`ProviderError::RateLimited`] with the wait, so the caller can schedule it instead.
#[derive(Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    endpoint: Url,
    api_key: Option<String>,
    backoff: ExponentialBuilder,
    max_retry_wait: Duration,
}

impl OpenAiClient {
    /// Builds a client with the configuration's timeouts.
    pub fn new(config: OpenAiConfig) -> Result<Self, BuildError> {
        let endpoint = chat_endpoint(&config.base_url)?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("tuned-tensor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(BuildError::Client)?;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(config.min_backoff)
            .with_max_delay(config.max_retry_wait)
            .with_max_times(config.max_retries)
            .with_jitter();
        Ok(Self {
            http,
            endpoint,
            api_key: config.api_key,
            backoff,
            max_retry_wait: config.max_retry_wait,
        })
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// One HTTP attempt, without retries. The latency covers sending the request and reading
    /// the whole reply.
    async fn attempt(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = ChatCompletionRequest {
            model: &request.model,
            messages: &request.messages,
            max_tokens: request.max_tokens,
            temperature: request.temperature.unwrap_or(0.0),
        };
        let mut builder = self.http.post(self.endpoint.clone()).json(&body);
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key);
        }
        let started = Instant::now();
        let response = builder.send().await.map_err(|err| errors::from_transport(&err))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|err| errors::from_transport(&err))?;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if !status.is_success() {
            return Err(errors::from_status(status, &headers, &bytes, &request.model));
        }
        parse_completion(&bytes, latency_ms)
    }

    /// The delay before the next retry, or `None` to give up.
    fn next_wait(&self, err: &ProviderError, backoff: Option<Duration>) -> Option<Duration> {
        let backoff = backoff?;
        match err {
            ProviderError::RateLimited { retry_after: Some(asked) } => {
                (*asked <= self.max_retry_wait).then_some(*asked)
            }
            _ => Some(backoff.min(self.max_retry_wait)),
        }
    }
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("max_retry_wait", &self.max_retry_wait)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Inference for OpenAiClient {
    #[tracing::instrument(skip_all, fields(model = %request.model))]
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        (|| self.attempt(request))
            .retry(self.backoff)
            .when(ProviderError::is_transient)
            .adjust(|err, backoff| self.next_wait(err, backoff))
            .notify(|err, wait| tracing::warn!(error.message = %err, wait_ms = wait.as_millis(), "retrying chat completion"))
            .await
    }
}

fn chat_endpoint(base_url: &str) -> Result<Url, BuildError> {
    let invalid = |reason: String| BuildError::InvalidBaseUrl { url: base_url.to_owned(), reason };
    let url = Url::parse(&format!("{}/chat/completions", base_url.trim_end_matches('/')))
        .map_err(|err| invalid(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("scheme {:?} is not http or https", url.scheme())));
    }
    Ok(url)
}

fn parse_completion(bytes: &[u8], latency_ms: u64) -> Result<ChatResponse, ProviderError> {
    let invalid = |message: String| ProviderError::InvalidResponse { message };
    let parsed: ChatCompletionResponse = serde_json::from_slice(bytes)
        .map_err(|err| invalid(format!("not a chat completion: {err}")))?;
    let completion_tokens = parsed.usage.and_then(|usage| usage.completion_tokens);
    let choice = parsed
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| invalid("the completion has no choices".into()))?;
    let content = choice
        .message
        .content
        .ok_or_else(|| invalid("the completion's message has no text content".into()))?;
    Ok(ChatResponse { content, latency_ms, completion_tokens })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_the_base_url_plus_chat_completions_with_or_without_a_trailing_slash() {
        for base in ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/"] {
            assert_eq!(
                chat_endpoint(base).unwrap().as_str(),
                "http://127.0.0.1:8000/v1/chat/completions"
            );
        }
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        assert!(matches!(
            chat_endpoint("ftp://example.com/v1"),
            Err(BuildError::InvalidBaseUrl { .. })
        ));
        assert!(matches!(chat_endpoint("not a url"), Err(BuildError::InvalidBaseUrl { .. })));
    }

    #[test]
    fn the_api_key_never_appears_in_the_clients_debug_output() {
        let client = OpenAiClient::new(
            OpenAiConfig::new("http://127.0.0.1:1/v1").with_api_key("sk-very-secret"),
        )
        .unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("sk-very-secret") && debug.contains("[redacted]"), "{debug}");
    }

    #[test]
    fn a_completion_without_choices_or_text_is_an_invalid_response() {
        for body in
            [r#"{"choices":[]}"#, r#"{"choices":[{"message":{"content":null}}]}"#, r#"{"id":"x"}"#]
        {
            let err = parse_completion(body.as_bytes(), 1).unwrap_err();
            assert!(matches!(err, ProviderError::InvalidResponse { .. }), "{body}: {err:?}");
        }
    }

    #[test]
    fn a_completion_gives_its_text_and_token_count() {
        let body = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"completion_tokens":3}}"#;
        let response = parse_completion(body.as_bytes(), 42).unwrap();
        assert_eq!(
            response,
            ChatResponse { content: "hi".into(), latency_ms: 42, completion_tokens: Some(3) }
        );
    }
}
