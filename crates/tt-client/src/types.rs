//! What the API sends and receives, as the client sees it.
//!
//! Records reuse tt-domain types wherever those deserialise as served ([`EvalResult`],
//! [`EvalSummary`], [`FineTunedModel`], [`LedgerEntry`], [`RunLogEvent`], ids, statuses).
//! The other records are client views: they keep every field the server sends and add the
//! list-only extras (`_run_count`, `_spec_name`, `_evals`) as optional fields.

use serde::{Deserialize, Serialize};
use tt_domain::{
    ApiKeyId, ChatMessage, DatasetId, DatasetStatus, EvalResult, EvalSummary, Example,
    Hyperparameters, HyperparametersInput, ModelId, RunId, RunLogEvent, RunStatus, SpecDraft,
    SpecId, Timestamp,
};

pub use tt_domain::{AccountId, FineTunedModel, LedgerEntry, SpecPatch};

/// Which page of a list to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageParams {
    /// 1-based page number.
    pub page: u32,
    /// Items per page, 1–100.
    pub per_page: u32,
}

impl PageParams {
    /// The most items the server puts on one page.
    pub const MAX_PER_PAGE: u32 = 100;
}

impl Default for PageParams {
    fn default() -> Self {
        Self { page: 1, per_page: 20 }
    }
}

/// The `meta` of a list answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMeta {
    /// This page's number.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Items across all pages.
    pub total: u64,
}

impl ListMeta {
    /// Whether pages follow this one.
    pub fn has_more(&self) -> bool {
        u64::from(self.page) * u64::from(self.per_page) < self.total
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paged<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Paging figures.
    pub meta: ListMeta,
}

/// A behaviour spec as served; list items also carry the `_run…` statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// Its id.
    pub id: SpecId,
    /// Its name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The system prompt.
    #[serde(default)]
    pub system_prompt: String,
    /// Rules to follow.
    #[serde(default)]
    pub guidelines: Vec<String>,
    /// Things not to do.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// The examples.
    #[serde(default)]
    pub examples: Vec<Example>,
    /// The model to fine-tune.
    pub base_model: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Runs started from it (list items only).
    #[serde(rename = "_run_count", default, skip_serializing_if = "Option::is_none")]
    pub run_count: Option<u64>,
    /// The newest run's status (list items only).
    #[serde(rename = "_latest_run_status", default, skip_serializing_if = "Option::is_none")]
    pub latest_run_status: Option<RunStatus>,
    /// The newest completed run's average score (list items only).
    #[serde(rename = "_latest_run_score", default, skip_serializing_if = "Option::is_none")]
    pub latest_run_score: Option<f64>,
}

/// A run as served. `spec_name` is set on the all-runs list; `evals` on a single run,
/// worst score first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// The spec it was started from.
    pub behavior_spec_id: SpecId,
    /// 1, 2, 3… per spec.
    pub run_number: u32,
    /// Where it is in its lifecycle.
    pub status: RunStatus,
    /// The spec frozen at start.
    pub spec_snapshot: SpecDraft,
    /// The compiled training dataset.
    pub dataset_id: Option<DatasetId>,
    /// The trainer's job id.
    pub fine_tune_job_id: Option<String>,
    /// The fine-tuned model.
    pub model_id: Option<ModelId>,
    /// Training settings.
    pub hyperparameters: Hyperparameters,
    /// Eval results, once evaluated.
    pub eval_summary: Option<EvalSummary>,
    /// The credit held at start, in cents.
    pub estimated_cost_cents: i64,
    /// The credit debited at completion, in cents.
    pub cost_cents: Option<i64>,
    /// What went wrong, for a failed run.
    pub error: Option<String>,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished.
    pub completed_at: Option<Timestamp>,
    /// The spec's name (all-runs list only).
    #[serde(rename = "_spec_name", default, skip_serializing_if = "Option::is_none")]
    pub spec_name: Option<String>,
    /// Per-example results, worst first (single run only).
    #[serde(rename = "_evals", default, skip_serializing_if = "Vec::is_empty")]
    pub evals: Vec<EvalResult>,
}

/// The body of a run start or estimate, in the seed page's shape (`augment` at the top).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RunRequest {
    /// Augment examples before training (default on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub augment: Option<bool>,
    /// Training settings; absent fields take their defaults.
    pub hyperparameters: HyperparametersInput,
}

/// What starting a run would hold, and whether the account can afford it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEstimate {
    /// The credit a start would hold, in cents.
    pub estimated_cost_cents: i64,
    /// Estimated training tokens per epoch.
    pub training_tokens: u64,
    /// Rows the training set is expected to have.
    pub rows: u64,
    /// Epochs.
    pub n_epochs: u32,
    /// The base model.
    pub base_model: String,
    /// Its rate in cents per million tokens per epoch.
    pub rate_cents_per_mtok: u64,
    /// Credit the account can still hold, in cents.
    pub available_cents: i64,
    /// Whether the available credit covers the estimate.
    pub sufficient: bool,
}

/// One message of a run's live event stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunEventMessage {
    /// A status change or progress step, with its sequence number (the SSE id).
    Event {
        /// The sequence number; pass it back as `last_event_id` to resume after it.
        seq: u64,
        /// What happened.
        event: RunLogEvent,
    },
    /// The stream's last message: the run reached a terminal status.
    End {
        /// The terminal status.
        status: RunStatus,
    },
}

/// One bad line of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetIssue {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// A dataset record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Its id.
    pub id: DatasetId,
    /// Its name.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: String,
    /// Always `jsonl`.
    pub format: String,
    /// Whether every line checked out.
    pub status: DatasetStatus,
    /// Rows.
    pub row_count: u64,
    /// Size in bytes.
    pub file_size_bytes: u64,
    /// The checker's findings, for an invalid dataset.
    #[serde(default)]
    pub errors: Vec<DatasetIssue>,
    /// The run it was compiled for.
    #[serde(default)]
    pub run_id: Option<RunId>,
    /// When it was stored.
    pub created_at: Timestamp,
}

/// The body of a dataset upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDataset {
    /// Its name.
    pub name: String,
    /// What it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSONL text.
    pub content: String,
}

/// An account's credit position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Top-ups minus debits and adjustments.
    pub balance_cents: i64,
    /// Held by runs in progress.
    pub reserved_cents: i64,
    /// What a new run can still hold: balance minus reserved.
    pub available_cents: i64,
    /// All top-ups ever.
    pub lifetime_topup_cents: i64,
}

/// The body of a top-up (admin keys only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Topup {
    /// Credit to grant, in cents.
    pub amount_cents: i64,
    /// The account to credit; the caller's own when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
}

/// An API key record (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// A label.
    pub name: String,
    /// The non-secret lookup prefix.
    pub prefix: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it last authenticated a request.
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// A freshly created key: the record and the full key, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    /// The record.
    #[serde(flatten)]
    pub record: ApiKey,
    /// The full key, `tt_…`.
    pub key: String,
}

/// A model the playground can answer with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaygroundModel {
    /// The id to pass as `model`.
    pub id: String,
    /// A display name.
    pub name: String,
    /// `base` or `fine-tuned`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The base model of a fine-tuned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
}

/// The playground's model inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaygroundModels {
    /// Base models that can be fine-tuned.
    pub base_models: Vec<PlaygroundModel>,
    /// The account's fine-tuned models.
    pub fine_tuned_models: Vec<PlaygroundModel>,
}

/// A playground completion request: either `messages` or `prompt`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompletionRequest {
    /// A base model name, or a fine-tuned model's id or name.
    pub model: String,
    /// The conversation so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    /// A single user prompt, instead of `messages`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The most tokens to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0–2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// A playground completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The model's answer.
    pub content: String,
    /// How long inference took.
    pub latency_ms: u64,
    /// The model that answered.
    pub model: String,
}
