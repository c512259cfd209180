//! Retrying one provider call within a step: transient failures are tried again with a
//! doubling wait (at least what a rate limit asks for); permanent ones return at once.

use std::future::Future;
use std::time::Duration;

use tt_providers::ProviderError;

/// The longest wait between two tries of one call.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Calls `call` up to `attempts` times while it fails transiently.
pub(crate) async fn with_retries<T, F, Fut>(
    attempts: u32,
    backoff: Duration,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut wait = backoff;
    let mut tried = 0;
    loop {
        tried += 1;
        match call().await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_transient() && tried < attempts => {
                let asked = match &err {
                    ProviderError::RateLimited { retry_after: Some(after) } => *after,
                    _ => Duration::ZERO,
                };
                tracing::debug!(error = %err, tried, "transient provider failure, trying again");
                tokio::time::sleep(wait.max(asked).min(MAX_BACKOFF.max(asked))).await;
                wait = (wait * 2).min(MAX_BACKOFF);
            }
            Err(err) => return Err(err),
        }
    }
}

/// The wait before a put-off step is tried again: doubling from one second, capped at a minute.
pub(crate) fn step_backoff(failures: i64) -> Duration {
    let exponent = u32::try_from(failures.clamp(0, 6)).expect("clamped to 0..=6");
    Duration::from_secs(1 << exponent).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = with_retries(4, Duration::from_millis(10), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(ProviderError::Server { status: 503, message: "busy".into() })
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_failure_is_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(4, Duration::from_millis(10), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::Rejected { message: "bad model".into() })
        })
        .await;
        assert!(matches!(result, Err(ProviderError::Rejected { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_wait_is_honoured_and_attempts_are_bounded() {
        let start = tokio::time::Instant::now();
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(3, Duration::from_millis(10), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::RateLimited { retry_after: Some(Duration::from_secs(2)) })
        })
        .await;
        assert!(matches!(result, Err(ProviderError::RateLimited { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(start.elapsed() >= Duration::from_secs(4));
    }

    #[test]
    fn step_backoff_doubles_and_is_capped() {
        assert_eq!(step_backoff(0), Duration::from_secs(1));
        assert_eq!(step_backoff(3), Duration::from_secs(8));
        assert_eq!(step_backoff(50), Duration::from_secs(60));
    }
}
