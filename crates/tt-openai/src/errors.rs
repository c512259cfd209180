//! HTTP failures → [`ProviderError`]: status classes, `Retry-After` and the vendor's message.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{DATE, HeaderMap, RETRY_AFTER};
use tt_providers::{ProviderError, parse_http_date, retry_after_delay};

/// The most characters of a vendor message kept in an error, so a whole HTML error page
/// never ends up in a run's log.
const MAX_MESSAGE_CHARS: usize = 500;

/// Maps a non-success response to the matching error.
pub(crate) fn from_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    model: &str,
) -> ProviderError {
    let message = error_message(status, body);
    match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized { message },
        404 => ProviderError::NotFound { what: format!("model {model}: {message}") },
        429 => ProviderError::RateLimited { retry_after: retry_after(headers) },
        code @ 500..=599 => ProviderError::Server { status: code, message },
        _ => ProviderError::Rejected { message },
    }
}

/// Maps a reqwest failure (connect, timeout, body read) to the matching error.
pub(crate) fn from_transport(err: &reqwest::Error) -> ProviderError {
    let what = if err.is_timeout() {
        "the request timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "the response body could not be read"
    } else {
        "the request failed"
    };
    ProviderError::Transport { message: format!("{what}: {}", error_chain(err)) }
}

/// The error and its sources on one line: reqwest's own message rarely says what failed.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

/// The vendor's explanation: `error.message` (OpenAI, Together, vLLM), `error` as a string
/// (Ollama, llama.cpp), `message` or `detail`; otherwise the body text, shortened; otherwise
/// the status line.
fn error_message(status: StatusCode, body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|value| {
        let candidates = [
            value.pointer("/error/message"),
            value.get("error"),
            value.get("message"),
            value.get("detail"),
        ];
        candidates.into_iter().flatten().find_map(|v| v.as_str().map(str::to_owned))
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    if text.is_empty() {
        return format!("HTTP {status}");
    }
    shorten(&text)
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    short.push('…');
    short
}

/// The wait a `Retry-After` header asks for (see [`retry_after_delay`]). A date is measured
/// against the response's own `Date` header when present, so a skewed local clock does not
/// matter; otherwise against the system clock.
#[expect(
    clippy::disallowed_methods,
    reason = "an HTTP-date Retry-After is relative to the wall clock when the reply has no Date header"
)]
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let now = headers
        .get(DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(parse_http_date)
        .unwrap_or_else(SystemTime::now);
    retry_after_delay(value, now)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_in_seconds_is_read_as_a_duration() {
        assert_eq!(retry_after(&headers(&[(RETRY_AFTER, "7")])), Some(Duration::from_secs(7)));
    }

    #[test]
    fn retry_after_as_a_date_is_measured_from_the_response_date() {
        let map = headers(&[
            (RETRY_AFTER, "Wed, 21 Oct 2015 07:28:30 GMT"),
            (DATE, "Wed, 21 Oct 2015 07:28:00 GMT"),
        ]);
        assert_eq!(retry_after(&map), Some(Duration::from_secs(30)));
    }

    #[test]
    fn retry_after_in_the_past_or_garbled_gives_no_wait() {
        let past = headers(&[
            (RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT"),
            (DATE, "Wed, 21 Oct 2015 07:29:00 GMT"),
        ]);
        assert_eq!(retry_after(&past), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[(RETRY_AFTER, "soon")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn the_vendor_message_is_taken_from_the_usual_json_shapes() {
        let ok = StatusCode::BAD_REQUEST;
        assert_eq!(
            error_message(ok, br#"{"error":{"message":"bad model","type":"x"}}"#),
            "bad model"
        );
        assert_eq!(error_message(ok, br#"{"error":"model not loaded"}"#), "model not loaded");
        assert_eq!(error_message(ok, br#"{"detail":"nope"}"#), "nope");
        assert_eq!(error_message(ok, b"plain text failure\n"), "plain text failure");
        assert_eq!(error_message(ok, b""), "HTTP 400 Bad Request");
    }

    #[test]
    fn a_huge_error_body_is_shortened() {
        let body = "x".repeat(10_000);
        let message = error_message(StatusCode::BAD_GATEWAY, body.as_bytes());
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
