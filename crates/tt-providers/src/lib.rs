//! The provider layer's contracts: the traits the run engine calls to fine-tune, run
//! inference, judge answers and augment examples, and the one error type they share.
//!
//! Implementations that need no network live here: the offline [`SimilarityJudge`] and
//! [`OfflineAugmenter`], and the [`LlmJudge`] and [`LlmAugmenter`], which drive any
//! [`Inference`]. The HTTP adapters live elsewhere: `tt-together` and `tt-openai` speak
//! HTTP, `tt-local` trains in-process. With the `mocks` feature every trait has a mockall
//! mock (`MockFineTuner`, …) for other crates' tests. [`retry_after_delay`] reads a
//! `Retry-After` value for the HTTP adapters.
//!
//! This crate must not depend on sqlx, axum, reqwest or a tokio runtime.

mod error;
mod json_reply;
mod llm_augmenter;
mod llm_judge;
mod offline_augmenter;
mod retry_after;
mod similarity;
#[cfg(test)]
mod test_support;
mod text;
mod traits;

pub use error::ProviderError;
pub use llm_augmenter::LlmAugmenter;
pub use llm_judge::{LlmJudge, VerdictError, parse_verdict};
pub use offline_augmenter::OfflineAugmenter;
pub use retry_after::{parse_http_date, retry_after_delay};
pub use similarity::SimilarityJudge;
pub use traits::{
    Augmenter, ChatRequest, ChatResponse, FineTuneJob, FineTuneRequest, FineTuner, Inference,
    JobEvent, JobStatus, Judge, JudgeCase, UploadedFile, Verdict,
};
#[cfg(feature = "mocks")]
pub use traits::{MockAugmenter, MockFineTuner, MockInference, MockJudge};
