//! Every call's exact request (method, path, bearer key, body) and how its reply is read.

use std::time::Duration;

use serde_json::json;
use tt_domain::{ChatMessage, ChatRole};
use tt_providers::{ChatRequest, FineTuner, Inference, JobStatus};
use wiremock::matchers::{
    body_partial_json, body_string_contains, header, header_regex, method, path,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{KEY, client, fine_tune_request, run_id};

fn job(status: &str) -> serde_json::Value {
    json!({
        "id": "ft-1", "status": status, "created_at": "2026-03-06T10:30:00.000Z",
        "suffix": "support-bot-tt-0123abcd4567",
        "model_output_name": "acct/Meta-Llama-3.1-8B-Instruct-Reference-support-bot-tt-0123abcd4567-1a2b3c4d",
        "token_count": 1234, "total_steps": 40, "steps_completed": 10, "epochs_completed": 1,
    })
}

#[tokio::test]
async fn upload_posts_the_file_as_multipart_for_fine_tuning() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/files/upload"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header_regex("content-type", "^multipart/form-data; boundary="))
        .and(body_string_contains("name=\"purpose\"\r\n\r\nfine-tune"))
        .and(body_string_contains("name=\"file_name\"\r\n\r\ntrain.jsonl"))
        .and(body_string_contains("name=\"file\"; filename=\"train.jsonl\""))
        .and(body_string_contains("{\"messages\":[]}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "file-9", "object": "file", "created_at": 1690432046, "filename": "train.jsonl",
            "bytes": 15, "purpose": "fine-tune", "FileType": "jsonl", "LineCount": 1, "Processed": true,
        })))
        .expect(1)
        .mount(&server)
        .await;

    let file = client(&format!("{}/v1", server.uri()))
        .upload_dataset(run_id(), "train.jsonl", "{\"messages\":[]}\n")
        .await
        .unwrap();

    assert_eq!((file.id.as_str(), file.bytes), ("file-9", 15));
}

#[tokio::test]
async fn create_sends_a_lora_job_whose_suffix_carries_the_run() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/fine-tunes"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/fine-tunes"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "training_file": "file-9",
            "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
            "n_epochs": 4,
            "learning_rate": 1e-5,
            "batch_size": 8,
            "suffix": "support-bot-tt-0123abcd4567",
            "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "lora_trainable_modules": "all-linear"},
            "training_method": {"method": "sft", "train_on_inputs": "auto"},
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(job("pending")))
        .expect(1)
        .mount(&server)
        .await;

    let job = client(&format!("{}/v1", server.uri()))
        .create_job(&fine_tune_request("file-9"))
        .await
        .unwrap();

    assert_eq!((job.id.as_str(), job.status, job.output_model), ("ft-1", JobStatus::Running, None));
}

#[tokio::test]
async fn a_job_is_read_with_its_status_progress_tokens_and_output_model() {
    let server = MockServer::start().await;
    let cases = [
        ("pending", JobStatus::Running),
        ("queued", JobStatus::Running),
        ("running", JobStatus::Running),
        ("compressing", JobStatus::Running),
        ("uploading", JobStatus::Running),
        ("cancel_requested", JobStatus::Running),
        ("completed", JobStatus::Completed),
        ("cancelled", JobStatus::Cancelled),
    ];
    let client = client(&format!("{}/v1", server.uri()));
    for (together_status, expected) in cases {
        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/v1/fine-tunes/ft-1"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(job(together_status)))
            .expect(1)
            .mount(&server)
            .await;

        let job = client.get_job("ft-1").await.unwrap();

        assert_eq!(job.status, expected, "{together_status}");
        assert_eq!(job.token_count, Some(1234));
        assert_eq!(
            job.output_model.is_some(),
            expected == JobStatus::Completed,
            "{together_status}"
        );
        let progress = job.progress.unwrap();
        assert_eq!(
            (progress.step, progress.total_steps, progress.epoch),
            (Some(10), Some(40), Some(1))
        );
        let percent = if expected == JobStatus::Completed { 100.0 } else { 25.0 };
        assert_eq!(progress.percent, Some(percent), "{together_status}");
    }
}

#[tokio::test]
async fn a_failed_job_carries_the_providers_message_from_its_events() {
    let server = MockServer::start().await;
    for status in ["error", "user_error"] {
        server.reset().await;
        let mut body = job(status);
        body["events"] = json!([
            {"type": "JOB_START", "level": "info", "message": "Job started"},
            {"type": "JOB_ERROR", "level": "error", "message": "Training data has no assistant turns"},
        ]);
        Mock::given(method("GET"))
            .and(path("/v1/fine-tunes/ft-1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;

        let job = client(&format!("{}/v1", server.uri())).get_job("ft-1").await.unwrap();

        assert_eq!(job.status, JobStatus::Failed);
        assert_eq!(job.error.as_deref(), Some("Training data has no assistant turns"));
    }
}

#[tokio::test]
async fn events_after_the_given_index_are_returned_with_their_figures() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/fine-tunes/ft-1/events"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": [
            {"type": "JOB_PENDING", "message": "Fine tune request created", "step": 0, "total_steps": 0},
            {"type": "TRAINING_START", "message": "Training started", "step": 0, "total_steps": 0},
            {"type": "TRAINING_PROGRESS", "message": "Epoch 1, step 5/10: loss 1.5", "step": 5, "total_steps": 10},
            {"type": "EPOCH_COMPLETE", "message": "Epoch completed, at step 10", "step": 10, "total_steps": 10},
        ]})))
        .mount(&server)
        .await;

    let events = client(&format!("{}/v1", server.uri())).job_events("ft-1", 2).await.unwrap();

    assert_eq!(events.len(), 2);
    let first = &events[0].progress;
    assert_eq!(
        (first.epoch, first.step, first.total_steps, first.loss, first.percent),
        (Some(1), Some(5), Some(10), Some(1.5), Some(50.0))
    );
    assert_eq!(events[1].progress.step, Some(10));
    assert_eq!(events[1].progress.message.as_deref(), Some("Epoch completed, at step 10"));
}

#[tokio::test]
async fn cancel_posts_to_the_jobs_cancel_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/fine-tunes/ft-1/cancel"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(job("cancel_requested")))
        .expect(1)
        .mount(&server)
        .await;

    let job = client(&format!("{}/v1", server.uri())).cancel_job("ft-1").await.unwrap();

    assert_eq!(job.status, JobStatus::Running);
}

#[tokio::test]
async fn cancelling_a_finished_job_returns_it_rather_than_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/fine-tunes/ft-1/cancel"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"message": "job is not cancellable"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/fine-tunes/ft-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(job("completed")))
        .expect(1)
        .mount(&server)
        .await;

    let job = client(&format!("{}/v1", server.uri())).cancel_job("ft-1").await.unwrap();

    assert_eq!(job.status, JobStatus::Completed);
}

fn chat_request(temperature: Option<f32>) -> ChatRequest {
    ChatRequest {
        model: "acct/my-model".to_owned(),
        messages: vec![
            ChatMessage { role: ChatRole::System, content: "Be brief.".to_owned() },
            ChatMessage { role: ChatRole::User, content: "Hi".to_owned() },
        ],
        max_tokens: Some(64),
        temperature,
    }
}

#[tokio::test]
async fn a_chat_completion_is_greedy_by_default_and_its_latency_is_measured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "acct/my-model",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "max_tokens": 64,
            "temperature": 0.0,
            "stream": false,
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(50))
                .set_body_json(json!({
                    "id": "x", "object": "chat.completion", "created": 1754499896, "model": "acct/my-model", "prompt": [],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!", "tool_calls": []}, "logprobs": null, "finish_reason": "stop", "seed": null}],
                    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11, "cache_hit_rate": 0.0},
                })),
        )
        .expect(1)
        .mount(&server)
        .await;

    let response =
        client(&format!("{}/v1", server.uri())).complete(&chat_request(None)).await.unwrap();

    assert_eq!((response.content.as_str(), response.completion_tokens), ("Hello!", Some(2)));
    assert!(response.latency_ms >= 50, "latency {} ms", response.latency_ms);
}

#[tokio::test]
async fn a_given_temperature_is_sent_as_is() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"temperature": 0.5})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"choices": [{"message": {"content": "ok"}}], "usage": null})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let response =
        client(&format!("{}/v1", server.uri())).complete(&chat_request(Some(0.5))).await.unwrap();

    assert_eq!((response.content.as_str(), response.completion_tokens), ("ok", None));
}
