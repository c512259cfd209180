//! The four provider traits and the values they exchange.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tt_domain::{
    ChatMessage, Example, Hyperparameters, ProgressEvent, RunId, ScoringMethod, SpecContent,
};

use crate::error::ProviderError;

/// A training file stored at the trainer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedFile {
    /// The trainer's file id, passed to [`FineTuneRequest::training_file_id`].
    pub id: String,
    /// Size in bytes as the trainer counted it.
    pub bytes: u64,
}

/// Everything needed to create a LoRA fine-tuning job.
#[derive(Debug, Clone, PartialEq)]
pub struct FineTuneRequest {
    /// The run this job trains for. Creating a job twice for the same run must return the
    /// first job, never start a second one.
    pub run_id: RunId,
    /// The uploaded training file.
    pub training_file_id: String,
    /// The base model to fine-tune.
    pub base_model: String,
    /// The run's hyperparameters.
    pub hyperparameters: Hyperparameters,
    /// A short suffix for the output model's name (Together puts it in the model name).
    pub suffix: String,
}

/// Where a fine-tuning job is, mapped from the trainer's own statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Queued or running (including Together's pending, queued, running, compressing,
    /// uploading and cancel_requested).
    Running,
    /// Finished; `output_model` is set.
    Completed,
    /// Failed; `error` says why.
    Failed,
    /// Cancelled.
    Cancelled,
}

/// A fine-tuning job as the trainer reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct FineTuneJob {
    /// The trainer's job id.
    pub id: String,
    /// Where it is.
    pub status: JobStatus,
    /// The latest progress figures, when the trainer reports them.
    pub progress: Option<ProgressEvent>,
    /// Training tokens counted by the trainer (per epoch), which the cost is computed from.
    pub token_count: Option<u64>,
    /// The name to run inference against, once completed.
    pub output_model: Option<String>,
    /// The trainer's message, for a failed job.
    pub error: Option<String>,
}

/// One entry of a job's event stream.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    /// The event's figures and message.
    pub progress: ProgressEvent,
}

/// Fine-tunes models with LoRA.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FineTuner: Send + Sync {
    /// The provider label recorded on models (`together`, `local`).
    fn provider_name(&self) -> &'static str;

    /// Stores a JSONL training file for the run and returns its id.
    async fn upload_dataset(
        &self,
        run_id: RunId,
        file_name: &str,
        jsonl: &str,
    ) -> Result<UploadedFile, ProviderError>;

    /// Creates the job, or returns the job already created for `request.run_id`.
    async fn create_job(&self, request: &FineTuneRequest) -> Result<FineTuneJob, ProviderError>;

    /// Reads a job.
    async fn get_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError>;

    /// The job's events after the first `after` (so a caller that saw `n` asks for `after = n`).
    async fn job_events(&self, job_id: &str, after: usize) -> Result<Vec<JobEvent>, ProviderError>;

    /// Asks the trainer to cancel the job; cancelling a finished job is not an error.
    async fn cancel_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError>;
}

/// One chat completion request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model to answer (a base model or a fine-tuned model's provider id).
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// The most tokens to generate.
    pub max_tokens: Option<u32>,
    /// Sampling temperature; `None` or 0 means greedy.
    pub temperature: Option<f32>,
}

/// A chat completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The answer text.
    pub content: String,
    /// Wall-clock time of the call in milliseconds.
    pub latency_ms: u64,
    /// Tokens generated, when reported.
    pub completion_tokens: Option<u32>,
}

/// Answers chat requests.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Inference: Send + Sync {
    /// One completion, with its latency measured.
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError>;
}

/// One answer to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeCase {
    /// The input the model was given.
    pub prompt: String,
    /// The expected output.
    pub expected: String,
    /// The model's answer.
    pub actual: String,
}

/// A judge's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The score in 0–1.
    pub score: f64,
    /// Why.
    pub reasoning: String,
}

/// Scores answers against expected outputs.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Judge: Send + Sync {
    /// How this judge scores, recorded in the eval summary.
    fn scoring_method(&self) -> ScoringMethod;

    /// Scores one answer, given the spec's guidelines and constraints.
    async fn judge(&self, spec: &SpecContent, case: &JudgeCase) -> Result<Verdict, ProviderError>;
}

/// Makes new training examples from a spec's examples.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Augmenter: Send + Sync {
    /// Up to `max_new` new examples, none of whose inputs repeats an input of the spec
    /// (those are the evaluation inputs). `seed` makes seedable augmenters deterministic.
    async fn augment(
        &self,
        spec: &SpecContent,
        max_new: usize,
        seed: u64,
    ) -> Result<Vec<Example>, ProviderError>;
}
