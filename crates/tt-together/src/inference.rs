//! Chat completions (`POST /chat/completions`) against a base or fine-tuned model.

use std::time::Instant;

use async_trait::async_trait;
use reqwest::Method;
use tt_providers::{ChatRequest, ChatResponse, Inference, ProviderError};

use crate::client::TogetherClient;
use crate::http::Retry;
use crate::wire::{ChatBody, ChatCompletion};

#[async_trait]
impl Inference for TogetherClient {
    /// One non-streaming completion; greedy (`temperature: 0`) unless a temperature is
    /// given. Retried on transient failures: a completion changes nothing at Together, a
    /// repeat only costs its tokens. `latency_ms` is the whole call, retries included.
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = ChatBody {
            model: &request.model,
            messages: &request.messages,
            max_tokens: request.max_tokens,
            temperature: request.temperature.unwrap_or(0.0),
            stream: false,
        };
        let what = format!("chat completion from model {}", request.model);
        let started = Instant::now();
        let completion: ChatCompletion = self
            .call(&what, Retry::OnTransient, || {
                self.request(Method::POST, &["chat", "completions"]).json(&body)
            })
            .await?;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let choice = completion.choices.into_iter().next().ok_or_else(|| {
            ProviderError::InvalidResponse { message: format!("{what}: the reply has no choices") }
        })?;
        Ok(ChatResponse {
            content: choice.message.content.unwrap_or_default(),
            latency_ms,
            completion_tokens: completion.usage.and_then(|usage| usage.completion_tokens),
        })
    }
}
