//! An adapter for any OpenAI-compatible chat completions endpoint (OpenAI, Together, vLLM,
//! Ollama, llama.cpp): [`OpenAiClient`] implements [`tt_providers::Inference`] against
//! `POST {base_url}/chat/completions`, maps HTTP failures to [`tt_providers::ProviderError`]
//! variants and retries transient failures with backoff, honouring `Retry-After`.
//!
//! The judge and augmenter that use an LLM (`tt_providers::LlmJudge`,
//! `tt_providers::LlmAugmenter`) take this client as their `Arc<dyn Inference>`.
//!
//! This crate must not depend on sqlx or axum.

mod client;
mod config;
mod errors;
mod wire;

pub use client::{BuildError, OpenAiClient};
pub use config::OpenAiConfig;
