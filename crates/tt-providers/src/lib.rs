//! The provider layer's contracts: the traits the run engine calls to fine-tune, run
//! inference, judge answers and augment examples, and the one error type they share.
//!
//! Implementations live elsewhere: `tt-together` and `tt-openai` speak HTTP, `tt-local`
//! trains in-process. With the `mocks` feature every trait has a mockall mock
//! (`MockFineTuner`, …) for other crates' tests.
//!
//! This crate must not depend on sqlx, axum or reqwest.

mod error;
mod traits;

pub use error::ProviderError;
pub use traits::{
    Augmenter, ChatRequest, ChatResponse, FineTuneJob, FineTuneRequest, FineTuner, Inference, JobEvent,
    JobStatus, JudgeCase, Judge, UploadedFile, Verdict,
};
#[cfg(feature = "mocks")]
pub use traits::{MockAugmenter, MockFineTuner, MockInference, MockJudge};
