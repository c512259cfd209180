//! The Together AI adapter: [`TogetherClient`] implements [`tt_providers::FineTuner`]
//! (training-file upload, LoRA fine-tuning jobs, their events and cancellation) and
//! [`tt_providers::Inference`] (chat completions) against Together's HTTP API
//! (`https://api.together.xyz/v1`).
//!
//! It is a thin adapter: private serde structs named after Together's wire fields, one
//! `reqwest::Client` with timeouts, retries with backoff for calls that are safe to repeat,
//! and HTTP failures mapped to [`tt_providers::ProviderError`] variants. Creating a job is
//! made idempotent per run by a suffix that carries the run id (see [`job_suffix`]).
//!
//! This crate must not depend on sqlx or axum (axum only reaches its tests, through
//! `tt-testkit`), and it never reads the environment: the binary builds [`TogetherConfig`].

mod client;
mod config;
mod fine_tune;
mod http;
mod inference;
mod wire;

pub use client::TogetherClient;
pub use config::{DEFAULT_BASE_URL, TogetherConfig};
pub use fine_tune::{AUTO_LEARNING_RATE, MAX_SUFFIX_LEN, job_suffix, run_marker};
