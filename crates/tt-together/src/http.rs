//! Sending a request: retries with backoff for calls that are safe to repeat, `Retry-After`
//! honoured up to a cap, and HTTP failures turned into [`ProviderError`] variants.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use tt_providers::{ProviderError, retry_after_delay};

use crate::client::TogetherClient;

/// Whether a call may be sent again after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads, cancels, uploads and chat completions: repeating them has no effect beyond
    /// the first (or, for uploads and chat, only an unused file or a few billed tokens).
    OnTransient,
    /// Job creation: one attempt, reconciled by the caller.
    Never,
}

impl TogetherClient {
    /// Sends the request `build` makes (once more per retry), and decodes a 2xx JSON body
    /// as `T`. `what` names the thing asked for, for error messages.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        what: &str,
        retry: Retry,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<T, ProviderError> {
        let attempt = || async { decode(what, build().send().await.map_err(transport)?).await };
        match retry {
            Retry::Never => attempt().await,
            Retry::OnTransient => {
                attempt
                    .retry(self.backoff())
                    .when(ProviderError::is_transient)
                    .adjust(|err, backoff| retry_delay(err, backoff, self.max_retry_after))
                    .notify(|err, wait| tracing::warn!(what, error = %err, wait_ms = wait.as_millis() as u64, "retrying a Together call"))
                    .await
            }
        }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.retry_min_delay)
            .with_max_delay(self.retry_max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
    }
}

/// The wait before the next attempt: none when the backoff is spent; the provider's
/// `Retry-After` when it gave one no longer than `cap`; none (give up, so that the caller
/// sees how long to wait) when it asked for longer; else the backoff's own delay.
pub(crate) fn retry_delay(
    err: &ProviderError,
    backoff: Option<Duration>,
    cap: Duration,
) -> Option<Duration> {
    let backoff = backoff?;
    match err {
        ProviderError::RateLimited { retry_after: Some(wait) } if *wait > cap => None,
        ProviderError::RateLimited { retry_after: Some(wait) } => Some(*wait),
        _ => Some(backoff),
    }
}

/// A 2xx body decoded as `T`, or the error the response stands for.
#[expect(
    clippy::disallowed_methods,
    reason = "an HTTP-date Retry-After is relative to the wall clock at the moment of the reply"
)]
async fn decode<T: DeserializeOwned>(what: &str, response: Response) -> Result<T, ProviderError> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        return Err(error_from_status(
            what,
            status,
            &headers,
            &String::from_utf8_lossy(&body),
            SystemTime::now(),
        ));
    }
    serde_json::from_slice(&body)
        .map_err(|err| ProviderError::InvalidResponse { message: format!("{what}: {err}") })
}

/// A reqwest failure: a connection or timeout problem, or a body that could not be read.
pub(crate) fn transport(err: reqwest::Error) -> ProviderError {
    if err.is_decode() {
        ProviderError::InvalidResponse { message: error_chain(&err) }
    } else {
        ProviderError::Transport { message: error_chain(&err) }
    }
}

/// The error and its causes, joined with `: ` (reqwest hides the useful part in sources).
pub(crate) fn error_chain(err: &dyn StdError) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// The error a non-2xx response stands for.
pub(crate) fn error_from_status(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: SystemTime,
) -> ProviderError {
    let message = provider_message(body).unwrap_or_else(|| status.to_string());
    match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized { message },
        404 => ProviderError::NotFound { what: format!("{what} ({message})") },
        429 => ProviderError::RateLimited { retry_after: retry_after(headers, now) },
        500..=599 => ProviderError::Server { status: status.as_u16(), message },
        _ => ProviderError::Rejected { message },
    }
}

/// The message of Together's error body `{"error": {"message": …}}`, of the bare
/// `{"message": …}` some endpoints send, or the (shortened) text of a non-JSON body.
fn provider_message(body: &str) -> Option<String> {
    const MAX_CHARS: usize = 500;
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        let found = value
            .pointer("/error/message")
            .or_else(|| value.get("message"))
            .or_else(|| value.get("error"))
            .and_then(serde_json::Value::as_str);
        if let Some(message) = found {
            return Some(message.to_owned());
        }
    }
    let text = body.trim();
    (!text.is_empty()).then(|| text.chars().take(MAX_CHARS).collect())
}

/// How long a 429 asks us to wait: `retry-after-ms`, then `retry-after` (seconds or an
/// HTTP date), then Together's `x-ratelimit-reset` (seconds, or a Unix time).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header =
        |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    let seconds = |text: &str| text.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0);
    if let Some(millis) = header("retry-after-ms").and_then(seconds) {
        return Some(Duration::from_secs_f64(millis / 1000.0));
    }
    if let Some(wait) = header("retry-after").and_then(|text| retry_after_delay(text, now)) {
        return Some(wait);
    }
    let reset = header("x-ratelimit-reset").and_then(seconds)?;
    // A value this large is a Unix time rather than a number of seconds.
    const UNIX_TIME_THRESHOLD: f64 = 1_000_000_000.0;
    if reset >= UNIX_TIME_THRESHOLD {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(reset);
        return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
    }
    Some(Duration::from_secs_f64(reset))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderName, HeaderValue};

    use super::*;

    const NOW: Duration = Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (HeaderName::from_static(name), HeaderValue::from_str(value).unwrap())
            })
            .collect()
    }

    fn wait(pairs: &[(&'static str, &str)]) -> Option<Duration> {
        retry_after(&headers(pairs), SystemTime::UNIX_EPOCH + NOW)
    }

    #[test]
    fn retry_after_is_read_from_seconds_milliseconds_dates_and_reset_headers() {
        assert_eq!(wait(&[("retry-after", "2")]), Some(Duration::from_secs(2)));
        assert_eq!(
            wait(&[("retry-after-ms", "250"), ("retry-after", "9")]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            wait(&[("retry-after", "Wed, 21 Oct 2015 07:28:30 GMT")]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(wait(&[("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT")]), Some(Duration::ZERO));
        assert_eq!(wait(&[("x-ratelimit-reset", "1.5")]), Some(Duration::from_millis(1500)));
        assert_eq!(wait(&[("x-ratelimit-reset", "1445412490")]), Some(Duration::from_secs(10)));
        assert_eq!(wait(&[("retry-after", "soon")]), None);
        assert_eq!(wait(&[]), None);
    }

    fn status_error(status: u16, body: &str) -> ProviderError {
        error_from_status(
            "fine-tuning job ft-1",
            StatusCode::from_u16(status).unwrap(),
            &headers(&[("retry-after", "3")]),
            body,
            SystemTime::UNIX_EPOCH + NOW,
        )
    }

    #[test]
    fn each_status_class_maps_to_its_error_with_the_providers_message() {
        let envelope = r#"{"error":{"message":"Invalid API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        assert_eq!(
            status_error(401, envelope),
            ProviderError::Unauthorized { message: "Invalid API key provided.".to_owned() }
        );
        assert!(matches!(status_error(403, envelope), ProviderError::Unauthorized { .. }));
        assert_eq!(
            status_error(404, r#"{"message":"no such job"}"#),
            ProviderError::NotFound { what: "fine-tuning job ft-1 (no such job)".to_owned() }
        );
        assert_eq!(
            status_error(429, envelope),
            ProviderError::RateLimited { retry_after: Some(Duration::from_secs(3)) }
        );
        assert_eq!(
            status_error(503, "upstream overloaded"),
            ProviderError::Server { status: 503, message: "upstream overloaded".to_owned() }
        );
        assert_eq!(
            status_error(400, r#"{"error":"bad batch size"}"#),
            ProviderError::Rejected { message: "bad batch size".to_owned() }
        );
        assert_eq!(
            status_error(422, ""),
            ProviderError::Rejected { message: "422 Unprocessable Entity".to_owned() }
        );
    }

    #[test]
    fn a_retry_after_within_the_cap_replaces_the_backoff_and_a_longer_one_stops_retrying() {
        let cap = Duration::from_secs(60);
        let backoff = Some(Duration::from_millis(500));
        let limited =
            |secs| ProviderError::RateLimited { retry_after: Some(Duration::from_secs(secs)) };
        assert_eq!(retry_delay(&limited(5), backoff, cap), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(&limited(120), backoff, cap), None);
        assert_eq!(
            retry_delay(&ProviderError::RateLimited { retry_after: None }, backoff, cap),
            backoff
        );
        assert_eq!(
            retry_delay(&ProviderError::Transport { message: String::new() }, backoff, cap),
            backoff
        );
        assert_eq!(retry_delay(&limited(5), None, cap), None);
    }
}
