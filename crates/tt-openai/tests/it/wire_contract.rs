//! The HTTP contract, checked against wiremock: the exact request, and every error class.

use std::time::Duration;

use serde_json::json;
use tt_openai::{OpenAiClient, OpenAiConfig};
use tt_providers::{ChatRequest, ChatResponse, Inference, ProviderError};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{fast_client, hello_request};

fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }))
}

fn openai_error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"message": message, "type": "x", "code": null}}))
}

async fn complete_against(
    server: &MockServer,
    max_retries: usize,
) -> Result<ChatResponse, ProviderError> {
    fast_client(&format!("{}/v1", server.uri()), max_retries).complete(&hello_request()).await
}

#[tokio::test]
async fn the_request_is_a_post_to_chat_completions_with_bearer_auth_and_a_greedy_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "model": "test-model",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}],
            "max_tokens": 16,
            "temperature": 0.0,
        })))
        .respond_with(completion("Hi there").set_delay(Duration::from_millis(30)))
        .expect(1)
        .mount(&server)
        .await;
    let client = OpenAiClient::new(
        OpenAiConfig::new(format!("{}/v1/", server.uri())).with_api_key("sk-test"),
    )
    .unwrap();
    let response = client.complete(&hello_request()).await.unwrap();
    assert_eq!(response.content, "Hi there");
    assert_eq!(response.completion_tokens, Some(2));
    assert!(
        response.latency_ms >= 30,
        "latency {} ms must include the server's delay",
        response.latency_ms
    );
}

#[tokio::test]
async fn without_a_key_no_authorization_header_is_sent_and_the_temperature_passes_through() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(completion("ok")).expect(1).mount(&server).await;
    let request = ChatRequest { temperature: Some(0.7), max_tokens: None, ..hello_request() };
    fast_client(&server.uri(), 0).complete(&request).await.unwrap();
    let received = &server.received_requests().await.unwrap()[0];
    assert_eq!(received.url.path(), "/chat/completions");
    assert!(received.headers.get("authorization").is_none());
    let body: serde_json::Value = received.body_json().unwrap();
    assert!((body["temperature"].as_f64().unwrap() - 0.7).abs() < 1e-6, "{body}");
    assert!(body.get("max_tokens").is_none(), "{body}");
}

#[tokio::test]
async fn auth_failures_are_unauthorized_and_not_retried() {
    for status in [401, 403] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(openai_error(status, "Incorrect API key"))
            .expect(1)
            .mount(&server)
            .await;
        let err = complete_against(&server, 3).await.unwrap_err();
        assert_eq!(
            err,
            ProviderError::Unauthorized { message: "Incorrect API key".into() },
            "HTTP {status}"
        );
    }
}

#[tokio::test]
async fn an_unknown_model_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_error(404, "model does not exist"))
        .expect(1)
        .mount(&server)
        .await;
    let err = complete_against(&server, 3).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::NotFound { what: "model test-model: model does not exist".into() }
    );
}

#[tokio::test]
async fn other_client_errors_are_rejected_with_the_vendor_message_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_error(400, "max_tokens is too large"))
        .expect(1)
        .mount(&server)
        .await;
    let err = complete_against(&server, 3).await.unwrap_err();
    assert_eq!(err, ProviderError::Rejected { message: "max_tokens is too large".into() });

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"error": "bad messages"})))
        .mount(&server)
        .await;
    let err = complete_against(&server, 0).await.unwrap_err();
    assert_eq!(err, ProviderError::Rejected { message: "bad messages".into() });
}

#[tokio::test]
async fn a_rate_limit_is_retried_after_the_wait_the_server_asked_for() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_error(429, "slow down").insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(completion("after the wait"))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let response = complete_against(&server, 2).await.unwrap();
    assert_eq!(response.content, "after the wait");
    assert!(started.elapsed() >= Duration::from_secs(1), "the client must wait the Retry-After");
}

#[tokio::test]
async fn a_rate_limit_asking_for_longer_than_the_cap_fails_at_once_with_the_wait() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_error(429, "quota").insert_header("retry-after", "120"))
        .expect(1)
        .mount(&server)
        .await;
    let err = complete_against(&server, 5).await.unwrap_err();
    assert_eq!(err, ProviderError::RateLimited { retry_after: Some(Duration::from_secs(120)) });
}

#[tokio::test]
async fn a_rate_limit_with_a_date_reports_the_wait_once_retries_run_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "Wed, 21 Oct 2015 07:28:45 GMT")
                .insert_header("date", "Wed, 21 Oct 2015 07:28:00 GMT"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = complete_against(&server, 0).await.unwrap_err();
    assert_eq!(err, ProviderError::RateLimited { retry_after: Some(Duration::from_secs(45)) });
}

#[tokio::test]
async fn server_errors_are_retried_and_succeed_when_the_server_recovers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_error(500, "boom"))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(completion("recovered"))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(complete_against(&server, 3).await.unwrap().content, "recovered");
}

#[tokio::test]
async fn persistent_server_errors_fail_after_the_retries_with_the_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_error(503, "overloaded"))
        .expect(3)
        .mount(&server)
        .await;
    let err = complete_against(&server, 2).await.unwrap_err();
    assert_eq!(err, ProviderError::Server { status: 503, message: "overloaded".into() });
}

#[tokio::test]
async fn a_slow_server_times_out_as_a_transport_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion("too late").set_delay(Duration::from_secs(3)))
        .expect(2)
        .mount(&server)
        .await;
    let err = complete_against(&server, 1).await.unwrap_err();
    let ProviderError::Transport { message } = &err else {
        panic!("expected a transport error, got {err:?}")
    };
    assert!(message.starts_with("the request timed out"), "{message}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    // Bind then drop a listener, so the port is very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = fast_client(&format!("http://127.0.0.1:{port}/v1"), 1)
        .complete(&hello_request())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Transport { .. }), "{err:?}");
}

#[tokio::test]
async fn a_malformed_body_is_an_invalid_response_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"{"choices": [{"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = complete_against(&server, 3).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::InvalidResponse { message } if message.starts_with("not a chat completion")),
        "{err:?}"
    );
}
