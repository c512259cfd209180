//! The client, the LLM judge and the LLM augmenter end to end against the fake
//! OpenAI-compatible server, with injected faults.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tt_domain::{Example, SpecContent, SpecDraft};
use tt_openai::{OpenAiClient, OpenAiConfig};
use tt_providers::{Augmenter, Inference, Judge, JudgeCase, LlmAugmenter, LlmJudge, ProviderError};
use tt_testkit::openai::{
    ChatCompletionView, FakeOpenAi, FakeOpenAiConfig, Fault, echo_responder, fixed_responder,
    judge_responder,
};

use crate::{fast_client, hello_request};

fn spec() -> SpecContent {
    SpecDraft {
        name: "support".into(),
        system_prompt: "You are a support agent.".into(),
        examples: vec![
            Example {
                input: "How do I reset my password?".into(),
                output: "Use Settings > Security.".into(),
            },
            Example { input: "Where is my invoice?".into(), output: "Under Billing.".into() },
        ],
        ..SpecDraft::default()
    }
    .validate()
    .unwrap()
}

#[tokio::test]
async fn the_client_gets_the_fakes_answer_and_the_fake_sees_the_request() {
    let fake =
        FakeOpenAi::start(FakeOpenAiConfig::new(echo_responder()).with_required_api_key("sk-fake"))
            .await;
    let client =
        OpenAiClient::new(OpenAiConfig::new(fake.base_url()).with_api_key("sk-fake")).unwrap();
    let response = client.complete(&hello_request()).await.unwrap();
    assert_eq!(response.content, "hello");
    assert_eq!(response.completion_tokens, Some(1));
    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].model, "test-model");
    assert_eq!(seen[0].system_message(), Some("Be brief."));
    assert_eq!(seen[0].temperature, Some(0.0));
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer sk-fake"));
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized() {
    let fake =
        FakeOpenAi::start(FakeOpenAiConfig::default().with_required_api_key("sk-right")).await;
    let client =
        OpenAiClient::new(OpenAiConfig::new(fake.base_url()).with_api_key("sk-wrong")).unwrap();
    let err = client.complete(&hello_request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn the_client_retries_through_injected_server_failures_and_rate_limits() {
    for fault in
        [Fault::ServerError, Fault::Unavailable, Fault::RateLimited { retry_after_secs: 0 }]
    {
        let fake =
            FakeOpenAi::start(FakeOpenAiConfig::default().failing_first(2, fault.clone())).await;
        let response = fast_client(&fake.base_url(), 3).complete(&hello_request()).await.unwrap();
        assert_eq!(response.content, "hello", "{fault:?}");
        assert_eq!((fake.request_count(), fake.fault_count()), (3, 2), "{fault:?}");
    }
}

#[tokio::test]
async fn a_fault_rate_is_absorbed_by_retries() {
    let faults =
        vec![Fault::Unavailable, Fault::RateLimited { retry_after_secs: 0 }, Fault::ServerError];
    let fake = FakeOpenAi::start(FakeOpenAiConfig::default().with_faults(0.3, faults)).await;
    let client = fast_client(&fake.base_url(), 8);
    for _ in 0..20 {
        assert_eq!(client.complete(&hello_request()).await.unwrap().content, "hello");
    }
    assert!(fake.fault_count() > 0, "a 30% rate over 20+ requests injects faults");
    assert_eq!(fake.request_count(), 20 + fake.fault_count());
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    let fake = FakeOpenAi::start(FakeOpenAiConfig::default().failing_first(1, Fault::Hang)).await;
    let err = fast_client(&fake.base_url(), 0).complete(&hello_request()).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Transport { message } if message.contains("timed out")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_malformed_body_is_an_invalid_response() {
    let fake =
        FakeOpenAi::start(FakeOpenAiConfig::default().failing_first(1, Fault::MalformedBody)).await;
    let err = fast_client(&fake.base_url(), 3).complete(&hello_request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidResponse { .. }), "{err:?}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn latency_is_measured_across_the_fakes_delay() {
    let fake =
        FakeOpenAi::start(FakeOpenAiConfig::default().with_latency(Duration::from_millis(40)))
            .await;
    let response = fast_client(&fake.base_url(), 0).complete(&hello_request()).await.unwrap();
    assert!(response.latency_ms >= 40, "{}", response.latency_ms);
}

#[tokio::test]
async fn the_llm_judge_scores_through_the_client_despite_a_transient_failure() {
    let fake = FakeOpenAi::start(
        FakeOpenAiConfig::new(judge_responder(0.75, "mostly right"))
            .failing_first(1, Fault::Unavailable),
    )
    .await;
    let judge = LlmJudge::new(Arc::new(fast_client(&fake.base_url(), 2)), "judge-model");
    let case = JudgeCase {
        prompt: "How do I reset my password?".into(),
        expected: "Use Settings > Security.".into(),
        actual: "Go to Settings.".into(),
    };
    let verdict = judge.judge(&spec(), &case).await.unwrap();
    assert_eq!((verdict.score, verdict.reasoning.as_str()), (0.75, "mostly right"));
    let seen = fake.requests();
    assert_eq!(seen[0].model, "judge-model");
    assert!(
        seen[0].last_user_message().contains("<model_answer>\nGo to Settings.\n</model_answer>")
    );
}

#[tokio::test]
async fn the_llm_judge_gives_up_after_two_unreadable_replies() {
    let fake =
        FakeOpenAi::start(FakeOpenAiConfig::new(fixed_responder("I'd say it's decent."))).await;
    let judge = LlmJudge::new(Arc::new(fast_client(&fake.base_url(), 0)), "judge-model");
    let case = JudgeCase { prompt: "q".into(), expected: "a".into(), actual: "b".into() };
    let err = judge.judge(&spec(), &case).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidResponse { .. }), "{err:?}");
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn the_llm_augmenter_collects_rewrites_through_the_client() {
    let responder = Arc::new(|request: &ChatCompletionView| {
        let prompt = request.last_user_message();
        let topic = if prompt.contains("password") { "password" } else { "invoice" };
        json!({"examples": [
            {"input": format!("Help with my {topic}?"), "output": format!("About your {topic}.")},
            {"input": format!("{topic} question"), "output": format!("About your {topic}.")},
            {"input": "How do I reset my password?", "output": "an evaluation input: dropped"},
        ]})
        .to_string()
    });
    let fake =
        FakeOpenAi::start(FakeOpenAiConfig::new(responder).failing_first(1, Fault::ServerError))
            .await;
    let augmenter = LlmAugmenter::new(Arc::new(fast_client(&fake.base_url(), 2)), "writer-model");
    let rows = augmenter.augment(&spec(), 10, 0).await.unwrap();
    let inputs: Vec<&str> = rows.iter().map(|row| row.input.as_str()).collect();
    assert_eq!(
        inputs,
        [
            "Help with my password?",
            "password question",
            "Help with my invoice?",
            "invoice question"
        ]
    );
    assert_eq!(fake.requests().len(), 2);
}
