//! Integration tests of the OpenAI-compatible adapter: the HTTP contract against wiremock,
//! and the client, `LlmJudge` and `LlmAugmenter` end to end against `tt-testkit`'s fake server.

mod fake_server;
mod wire_contract;

use std::time::Duration;

use tt_domain::{ChatMessage, ChatRole};
use tt_openai::{OpenAiClient, OpenAiConfig};
use tt_providers::ChatRequest;

/// A client for `base_url` with short timeouts and backoff, so failure tests stay fast.
fn fast_client(base_url: &str, max_retries: usize) -> OpenAiClient {
    OpenAiClient::new(OpenAiConfig {
        request_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        max_retries,
        min_backoff: Duration::from_millis(10),
        max_retry_wait: Duration::from_secs(2),
        ..OpenAiConfig::new(base_url)
    })
    .expect("the test client builds")
}

fn hello_request() -> ChatRequest {
    ChatRequest {
        model: "test-model".into(),
        messages: vec![
            ChatMessage { role: ChatRole::System, content: "Be brief.".into() },
            ChatMessage { role: ChatRole::User, content: "hello".into() },
        ],
        max_tokens: Some(16),
        temperature: None,
    }
}
