//! Error decoding: envelopes, bare statuses, transport failures.

use std::time::Duration;

use serde_json::json;
use tt_client::{Client, ClientError, RunRequest};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{KEY, RUN_ID, SPEC_ID, client};

#[tokio::test]
async fn a_402_envelope_keeps_code_message_and_credit_details() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/behavior-specs/{SPEC_ID}/runs")))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({"error": {
            "code": "insufficient_credits",
            "message": "This run is estimated at $0.42 but you have $0.10 available.",
            "details": {"required_cents": 42, "available_cents": 10, "topup_url": "/dashboard/billing"}}})))
        .mount(&server)
        .await;

    let err = client(&server)
        .start_run(SPEC_ID.parse().unwrap(), &RunRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(402));
    assert_eq!(err.code(), Some("insufficient_credits"));
    assert_eq!(err.insufficient_credits(), Some((42, 10)));
    assert_eq!(
        err.to_string(),
        "This run is estimated at $0.42 but you have $0.10 available. (insufficient_credits, HTTP 402)"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_answer_without_an_envelope_becomes_an_http_code() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/runs/{RUN_ID}")))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .mount(&server)
        .await;

    let err = client(&server).get_run(RUN_ID.parse().unwrap()).await.unwrap_err();
    match &err {
        ClientError::Api { status, code, message, details } => {
            assert_eq!((*status, code.as_str(), details), (502, "http_502", &None));
            assert!(message.contains("Bad Gateway"));
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_success_body_that_does_not_fit_is_a_decode_error_naming_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/billing/balance"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"balance_cents": "lots"}})),
        )
        .mount(&server)
        .await;

    let err = client(&server).balance().await.unwrap_err();
    assert!(matches!(err, ClientError::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("GET /billing/balance"), "{err}");
}

#[tokio::test]
async fn a_slow_server_gives_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/billing/balance"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;

    let err = client(&server).balance().await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_server_gives_a_connect_error_naming_the_base_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let err = Client::new(&base_url, KEY).unwrap().balance().await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("could not reach the Tuned Tensor server at {base_url}"));
}

#[test]
fn a_base_url_that_is_not_http_is_refused() {
    assert!(matches!(
        Client::new("ftp://example.org", KEY),
        Err(ClientError::InvalidBaseUrl { .. })
    ));
    assert!(matches!(Client::new("not a url", KEY), Err(ClientError::InvalidBaseUrl { .. })));
}

#[test]
fn the_debug_form_hides_the_key() {
    let client = Client::new("http://127.0.0.1:8080/", KEY).unwrap();
    assert!(!format!("{client:?}").contains(KEY));
    assert_eq!(client.base_url(), "http://127.0.0.1:8080");
}
