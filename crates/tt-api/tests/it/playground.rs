use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::json;

use crate::{Options, TestApp};

#[tokio::test]
async fn the_playground_lists_base_and_fine_tuned_models() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    let model = app.model(&run, "tiny-ft-12345678").await;
    let reply = app.get("/api/v1/playground/models", &alice).await;
    assert_eq!(
        reply.data(StatusCode::OK),
        &json!({
            "base_models": [{"id": "tt-local/tiny", "name": "tiny", "type": "base"}],
            "fine_tuned_models": [{"id": model, "name": "tiny-ft-12345678", "type": "fine-tuned", "base_model": "tt-local/tiny"}],
        })
    );
}

#[tokio::test]
async fn a_base_model_answers_a_prompt() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let reply = app
        .post(
            "/api/v1/playground/completions",
            &alice,
            json!({"model": "tt-local/tiny", "prompt": "hello", "max_tokens": 64}),
        )
        .await;
    assert_eq!(
        reply.data(StatusCode::OK),
        &json!({"content": "tt-local/tiny [user] hello", "latency_ms": 7, "model": "tt-local/tiny"})
    );
}

#[tokio::test]
async fn a_fine_tuned_model_answers_by_id_or_name_with_its_specs_system_message() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    let id = app.model(&run, "tiny-ft-12345678").await;
    let messages = json!([{"role": "user", "content": "How do I cancel?"}]);
    for model in [id.as_str(), "tiny-ft-12345678"] {
        let reply = app
            .post(
                "/api/v1/playground/completions",
                &alice,
                json!({"model": model, "messages": messages, "temperature": 0}),
            )
            .await;
        let completion = reply.data(StatusCode::OK);
        assert_eq!(
            completion["content"],
            "/adapters/tiny-ft-12345678 [system,user] How do I cancel?"
        );
        assert_eq!(completion["model"], model);
    }
}

#[tokio::test]
async fn a_model_without_an_inference_provider_is_unavailable() {
    let app = TestApp::with(Options { inference: HashMap::new(), ..Options::default() }).await;
    let alice = app.account("alice", false, 0).await;
    for model in ["tt-local/tiny", "Qwen/Qwen3.5-2B"] {
        let reply = app
            .post("/api/v1/playground/completions", &alice, json!({"model": model, "prompt": "hi"}))
            .await;
        let error = reply.assert_error(StatusCode::NOT_IMPLEMENTED, "playground_unavailable");
        assert!(error["message"].as_str().unwrap().contains(model), "{error}");
    }
}

#[tokio::test]
async fn a_bad_completion_request_is_refused_naming_the_field() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let cases = [
        (json!({"model": "tt-local/tiny"}), "messages"),
        (
            json!({"model": "tt-local/tiny", "prompt": "a", "messages": [{"role": "user", "content": "b"}]}),
            "messages",
        ),
        (
            json!({"model": "tt-local/tiny", "messages": [{"role": "robot", "content": "b"}]}),
            "messages[0].role",
        ),
        (json!({"model": "tt-local/tiny", "prompt": "a", "max_tokens": 10}), "max_tokens"),
        (json!({"model": "tt-local/tiny", "prompt": "a", "max_tokens": 5000}), "max_tokens"),
        (json!({"model": "tt-local/tiny", "prompt": "a", "temperature": 2.5}), "temperature"),
        (json!({"model": "", "prompt": "a"}), "model"),
        (json!({"prompt": "a"}), "model"),
        (json!({"model": "tt-local/tiny", "messages": [{"role": "user"}]}), "messages[0].content"),
        (json!({"model": "tt-local/tiny", "prompt": "a", "top_p": 0.9}), "top_p"),
    ];
    for (body, field) in cases {
        let reply = app.post("/api/v1/playground/completions", &alice, body.clone()).await;
        let error = reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
        assert_eq!(error["details"]["field"], field, "{body}: {error}");
    }
}

#[tokio::test]
async fn another_accounts_model_cannot_be_used_in_the_playground() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let mallory = app.account("mallory", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    let id = app.model(&run, "tiny-ft-12345678").await;
    let reply = app
        .post("/api/v1/playground/completions", &mallory, json!({"model": id, "prompt": "hi"}))
        .await;
    reply.assert_error(StatusCode::NOT_FOUND, "not_found");
    let models = app.get("/api/v1/playground/models", &mallory).await;
    assert_eq!(models.data(StatusCode::OK)["fine_tuned_models"], json!([]));
}
