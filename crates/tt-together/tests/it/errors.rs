//! HTTP failures become the right `ProviderError`, retried only when transient.

use std::time::Duration;

use serde_json::json;
use tt_providers::{FineTuner, ProviderError};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::client;

/// `GET /fine-tunes/ft-1` answered with `response`, expected `calls` times.
async fn get_job_answered_with(response: ResponseTemplate, calls: u64) -> ProviderError {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/fine-tunes/ft-1"))
        .respond_with(response)
        .expect(calls)
        .mount(&server)
        .await;
    let err = client(&format!("{}/v1", server.uri())).get_job("ft-1").await.unwrap_err();
    server.verify().await;
    err
}

fn envelope(message: &str) -> serde_json::Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})
}

#[tokio::test]
async fn a_refused_key_is_unauthorized_and_not_retried() {
    for status in [401, 403] {
        let err = get_job_answered_with(
            ResponseTemplate::new(status).set_body_json(envelope("Invalid API key provided.")),
            1,
        )
        .await;
        assert_eq!(
            err,
            ProviderError::Unauthorized { message: "Invalid API key provided.".to_owned() }
        );
    }
}

#[tokio::test]
async fn an_unknown_job_is_not_found() {
    let err = get_job_answered_with(
        ResponseTemplate::new(404).set_body_json(envelope("job not found")),
        1,
    )
    .await;
    assert_eq!(
        err,
        ProviderError::NotFound { what: "fine-tuning job ft-1 (job not found)".to_owned() }
    );
}

#[tokio::test]
async fn an_invalid_request_is_rejected_with_the_providers_message_and_not_retried() {
    let err = get_job_answered_with(
        ResponseTemplate::new(400).set_body_json(envelope("batch_size must be 8")),
        1,
    )
    .await;
    assert_eq!(err, ProviderError::Rejected { message: "batch_size must be 8".to_owned() });
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_with_their_status() {
    let err =
        get_job_answered_with(ResponseTemplate::new(503).set_body_string("engine overloaded"), 2)
            .await;
    assert_eq!(err, ProviderError::Server { status: 503, message: "engine overloaded".to_owned() });
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_cap_is_returned_at_once_with_its_wait() {
    let err =
        get_job_answered_with(ResponseTemplate::new(429).insert_header("retry-after", "120"), 1)
            .await;
    assert_eq!(err, ProviderError::RateLimited { retry_after: Some(Duration::from_secs(120)) });
}

#[tokio::test]
async fn a_malformed_body_is_an_invalid_response() {
    let err =
        get_job_answered_with(ResponseTemplate::new(200).set_body_string("{\"id\": \"ft-"), 1)
            .await;
    assert!(matches!(err, ProviderError::InvalidResponse { .. }), "{err:?}");
    let err =
        get_job_answered_with(ResponseTemplate::new(200).set_body_json(json!({"id": "ft-1"})), 1)
            .await;
    assert!(matches!(err, ProviderError::InvalidResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn a_request_that_outlives_the_timeout_is_a_transport_failure() {
    let slow = ResponseTemplate::new(200)
        .set_delay(Duration::from_secs(3))
        .set_body_json(json!({"id": "ft-1", "status": "running"}));
    let err = get_job_answered_with(slow, 2).await;
    assert!(matches!(err, ProviderError::Transport { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_failure() {
    // Port 9 (discard) on loopback refuses connections on test machines.
    let err = client("http://127.0.0.1:9/v1").get_job("ft-1").await.unwrap_err();
    assert!(matches!(err, ProviderError::Transport { .. }), "{err:?}");
}

#[tokio::test]
async fn a_retry_after_within_the_cap_is_waited_out_and_the_call_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/fine-tunes/ft-1"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after-ms", "30"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/fine-tunes/ft-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "ft-1", "status": "running"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let job = client(&format!("{}/v1", server.uri())).get_job("ft-1").await.unwrap();

    assert_eq!(job.id, "ft-1");
}
