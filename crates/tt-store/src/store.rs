//! The store trait and the records it reads and writes.

use async_trait::async_trait;
use serde::Serialize;
use tt_domain::{
    AccountId, ApiKeyId, Balance, BehaviorSpec, Cents, DatasetId, DatasetStatus, EvalResult,
    EvalSummary, ExampleScore, FineTunedModel, Hyperparameters, JsonlIssue, LedgerEntry, ModelId,
    Run, RunEvent, RunId, RunLogEvent, RunStatus, SpecContent, SpecId, Timestamp,
};

/// What can go wrong in the store. Backend messages never leak into other variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row does not exist, or belongs to another account.
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for (`run`, `spec`, …).
        entity: &'static str,
    },
    /// A uniqueness or state rule refused the write.
    #[error("conflict: {message}")]
    Conflict {
        /// What collided, in words a user can act on.
        message: String,
    },
    /// Available credit is below the run's estimate.
    #[error("insufficient credits: {required_cents} required, {available_cents} available")]
    InsufficientCredits {
        /// The estimate.
        required_cents: Cents,
        /// What was available.
        available_cents: Cents,
    },
    /// The event does not apply to the run's current status.
    #[error(transparent)]
    InvalidTransition(#[from] tt_domain::InvalidTransition),
    /// The caller's lease expired or was taken over, or the run reached a terminal status
    /// meanwhile: the caller must stop working on the run.
    #[error("the lease on run {run_id} was lost")]
    LeaseLost {
        /// The run.
        run_id: RunId,
    },
    /// The database failed or is unreachable.
    #[error("storage backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// How often a key's `last_used_at` is brought up to date, at most.
pub const KEY_USE_RECORD_INTERVAL_MS: i64 = 60_000;

/// A page request: `page` is 1-based, `per_page` is 1–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Items per page, 1–100.
    pub per_page: u32,
}

impl PageRequest {
    /// The most items a page may hold.
    pub const MAX_PER_PAGE: u32 = 100;

    /// Rows to skip.
    pub fn offset(self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, per_page: 20 }
    }
}

/// One page of items and the total across all pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Items across all pages.
    pub total: u64,
}

/// An account (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Its name.
    pub name: String,
    /// Admins may grant credits.
    pub is_admin: bool,
    /// When it was made.
    pub created_at: Timestamp,
}

/// An API key record (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyRecord {
    /// Its id.
    pub id: ApiKeyId,
    /// The owning account.
    #[serde(skip)]
    pub account_id: AccountId,
    /// A label.
    pub name: String,
    /// The non-secret lookup prefix.
    pub prefix: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it last authenticated a request.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// The result of checking a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// No key with that prefix and hash.
    Unknown,
    /// The key exists but was revoked.
    Revoked,
    /// A valid key.
    Valid {
        /// The key's account.
        account_id: AccountId,
        /// The key's id.
        key_id: ApiKeyId,
        /// Whether the account is an admin.
        is_admin: bool,
    },
}

/// A spec in a list, with its run statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecListItem {
    /// The spec.
    #[serde(flatten)]
    pub spec: BehaviorSpec,
    /// Runs started from it.
    #[serde(rename = "_run_count")]
    pub run_count: u64,
    /// The newest run's status.
    #[serde(rename = "_latest_run_status")]
    pub latest_run_status: Option<RunStatus>,
    /// The newest completed run's average score.
    #[serde(rename = "_latest_run_score")]
    pub latest_run_score: Option<f64>,
}

/// A run in the all-runs list, with its spec's name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunListItem {
    /// The run.
    #[serde(flatten)]
    pub run: Run,
    /// The spec's current name.
    #[serde(rename = "_spec_name")]
    pub spec_name: String,
}

/// What starting a run needs; the store checks credit, numbers the run, inserts it and
/// places the hold in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRun {
    /// The spec to run.
    pub spec_id: SpecId,
    /// The spec frozen at start.
    pub spec_snapshot: SpecContent,
    /// Training settings.
    pub hyperparameters: Hyperparameters,
    /// The credit to hold.
    pub estimated_cost_cents: Cents,
}

/// A dataset record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    /// Its id.
    pub id: DatasetId,
    /// The owning account.
    #[serde(skip)]
    pub account_id: AccountId,
    /// Its name (`"<Spec name> - Run #N"` for compiled ones).
    pub name: String,
    /// What it is.
    pub description: String,
    /// Always `jsonl`.
    pub format: &'static str,
    /// Whether every line checked out.
    pub status: DatasetStatus,
    /// Rows (non-blank lines).
    pub row_count: u64,
    /// Size of the content in bytes.
    pub file_size_bytes: u64,
    /// The checker's findings, for an invalid dataset.
    pub errors: Vec<JsonlIssue>,
    /// The run it was compiled for.
    pub run_id: Option<RunId>,
    /// When it was stored.
    pub created_at: Timestamp,
}

/// A dataset to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDataset {
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// The JSONL content.
    pub content: String,
    /// Rows.
    pub row_count: u64,
    /// Checker verdict.
    pub status: DatasetStatus,
    /// Checker findings.
    pub errors: Vec<JsonlIssue>,
}

/// A fine-tuned model to record for a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewModel {
    /// `<base short name>-ft-<first 8 of job id>`.
    pub name: String,
    /// `together` or `local`.
    pub provider: String,
    /// The provider's name for it.
    pub provider_model_id: String,
    /// The base model.
    pub base_model: String,
    /// The training job.
    pub fine_tune_job_id: String,
}

/// One entry of a run's event log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    /// Increasing per run, from 1.
    pub seq: i64,
    /// The event.
    pub event: RunLogEvent,
    /// When it was appended.
    pub created_at: Timestamp,
}

/// A worker's claim on a run. Every worker write presents it and fails with
/// [`StoreError::LeaseLost`] if the lease is no longer this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The run.
    pub run_id: RunId,
    /// The worker holding it.
    pub owner: String,
    /// Increases with every claim: a newer claim fences out older holders.
    pub token: i64,
    /// When it runs out unless renewed.
    pub expires_at: Timestamp,
}

/// The engine's bookkeeping for a run, beyond the run object itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkState {
    /// The trainer's id of the uploaded training file.
    pub provider_file_id: Option<String>,
    /// Provider job events already copied into the run's log.
    pub provider_events_seen: i64,
    /// Training tokens reported by the trainer.
    pub training_tokens: Option<u64>,
    /// The provider name of the trainer used (`together`, `local`).
    pub trainer: Option<String>,
    /// Set when the run was cancelled while a provider job may still be running: the
    /// worker must cancel it at the provider, then clear this.
    pub provider_cancel_pending: bool,
    /// Consecutive transient failures, for backoff.
    pub attempts: i64,
}

/// A claimed run and everything the worker needs to continue it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// The lease to present on every write.
    pub lease: Lease,
    /// The run.
    pub run: Run,
    /// The engine's bookkeeping.
    pub work: WorkState,
}

/// Fields a worker may set on a run as it progresses (only the `Some` ones change).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunProgress {
    /// The uploaded training file.
    pub provider_file_id: Option<String>,
    /// The trainer's job id.
    pub fine_tune_job_id: Option<String>,
    /// Provider events already copied.
    pub provider_events_seen: Option<i64>,
    /// Training tokens reported.
    pub training_tokens: Option<u64>,
    /// The trainer used.
    pub trainer: Option<String>,
    /// Consecutive transient failures.
    pub attempts: Option<i64>,
}

/// What a terminal or stage transition writes along with the status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransitionDetails {
    /// The failure message, for `Fail`.
    pub error: Option<String>,
    /// The eval summary, for `Evaluated`.
    pub eval_summary: Option<EvalSummary>,
    /// The provider-reported cost in cents, for `Evaluated`: the run is settled at it.
    pub actual_cost_cents: Option<Cents>,
}

/// A hint that something changed, delivered to every subscriber in this process and, on
/// PostgreSQL, in every process sharing the database (through `LISTEN/NOTIFY`). Hints can
/// be lost (a lagging receiver, a dropped connection): always poll as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreNotice {
    /// A run may need work now (it was started, or cancelled with a provider job pending).
    RunReady(RunId),
    /// An event was appended to a run's log.
    Event {
        /// The run.
        run_id: RunId,
        /// The event's sequence number.
        seq: i64,
    },
}

/// Storage for everything Tuned Tensor keeps.
#[async_trait]
pub trait Store: Send + Sync {
    /// Subscribes to change hints.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StoreNotice>;

    /// Checks that the database answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;

    // ---- accounts and keys ----

    /// Creates an account.
    async fn create_account(
        &self,
        name: &str,
        is_admin: bool,
        now: Timestamp,
    ) -> Result<Account, StoreError>;
    /// Reads an account.
    async fn get_account(&self, account: AccountId) -> Result<Account, StoreError>;
    /// Stores a key's prefix and hash (never the key).
    async fn create_api_key(
        &self,
        account: AccountId,
        name: &str,
        prefix: &str,
        hash: [u8; 32],
        now: Timestamp,
    ) -> Result<ApiKeyRecord, StoreError>;
    /// Checks a presented key: finds it by prefix, compares hashes in constant time, and
    /// records the use (at most once per [`KEY_USE_RECORD_INTERVAL_MS`] per key, so that
    /// authenticating is not a write on every request).
    async fn check_api_key(
        &self,
        prefix: &str,
        hash: [u8; 32],
        now: Timestamp,
    ) -> Result<KeyCheck, StoreError>;
    /// The account's keys, newest first.
    async fn list_api_keys(&self, account: AccountId) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes a key; revoking twice is fine.
    async fn revoke_api_key(
        &self,
        account: AccountId,
        key: ApiKeyId,
        now: Timestamp,
    ) -> Result<ApiKeyRecord, StoreError>;

    // ---- specs ----

    /// Stores a new spec.
    async fn create_spec(
        &self,
        account: AccountId,
        content: SpecContent,
        now: Timestamp,
    ) -> Result<BehaviorSpec, StoreError>;
    /// Reads a spec.
    async fn get_spec(&self, account: AccountId, spec: SpecId) -> Result<BehaviorSpec, StoreError>;
    /// Replaces a spec's content.
    async fn update_spec(
        &self,
        account: AccountId,
        spec: SpecId,
        content: SpecContent,
        now: Timestamp,
    ) -> Result<BehaviorSpec, StoreError>;
    /// Deletes a spec and its runs; refused with `Conflict` while one of its runs is active.
    async fn delete_spec(&self, account: AccountId, spec: SpecId) -> Result<(), StoreError>;
    /// Specs newest first, with run statistics.
    async fn list_specs(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<SpecListItem>, StoreError>;

    // ---- runs ----

    /// Starts a run in one transaction: checks available credit against the estimate,
    /// gives it the spec's next run number, inserts it in `preparing`, places the hold and
    /// appends the first status event.
    async fn start_run(
        &self,
        account: AccountId,
        start: StartRun,
        now: Timestamp,
    ) -> Result<Run, StoreError>;
    /// Reads a run.
    async fn get_run(&self, account: AccountId, run: RunId) -> Result<Run, StoreError>;
    /// A run's evaluated examples, worst score first.
    async fn list_evals(
        &self,
        account: AccountId,
        run: RunId,
    ) -> Result<Vec<EvalResult>, StoreError>;
    /// Runs newest first, of one spec or of all.
    async fn list_runs(
        &self,
        account: AccountId,
        spec: Option<SpecId>,
        page: PageRequest,
    ) -> Result<Page<RunListItem>, StoreError>;
    /// Cancels a run in one transaction: applies `Cancel` (so a finished run is an
    /// `InvalidTransition`), releases its hold, marks a provider cancel as pending and
    /// appends the status event.
    async fn cancel_run(
        &self,
        account: AccountId,
        run: RunId,
        now: Timestamp,
    ) -> Result<Run, StoreError>;
    /// A run's events with `seq > after`, in order.
    async fn list_events(
        &self,
        account: AccountId,
        run: RunId,
        after: i64,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    // ---- worker side, fenced by leases ----

    /// Claims up to `limit` runs that need work: non-terminal runs (or cancelled runs with
    /// a provider cancel pending) whose wake-up time has come and whose lease is free or
    /// expired. PostgreSQL uses `FOR UPDATE SKIP LOCKED`; SQLite `BEGIN IMMEDIATE`.
    async fn claim_runs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedRun>, StoreError>;
    /// Extends a lease; `LeaseLost` if it is no longer held.
    async fn renew_lease(
        &self,
        lease: &Lease,
        now: Timestamp,
        lease_ms: i64,
    ) -> Result<Lease, StoreError>;
    /// Gives a lease back and schedules the run's next wake-up.
    async fn release_lease(&self, lease: &Lease, next_wake_at: Timestamp)
    -> Result<(), StoreError>;
    /// Reads a leased run again (to see a cancellation, for example).
    async fn load_claimed(&self, lease: &Lease, now: Timestamp) -> Result<ClaimedRun, StoreError>;
    /// Records progress fields.
    async fn record_progress(
        &self,
        lease: &Lease,
        progress: RunProgress,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Stores the run's compiled dataset and links it to the run; if the run already has
    /// one, returns it unchanged.
    async fn attach_dataset(
        &self,
        lease: &Lease,
        dataset: NewDataset,
        now: Timestamp,
    ) -> Result<DatasetId, StoreError>;
    /// Records the run's fine-tuned model and links it; if the run already has one,
    /// returns it unchanged.
    async fn attach_model(
        &self,
        lease: &Lease,
        model: NewModel,
        now: Timestamp,
    ) -> Result<ModelId, StoreError>;
    /// Stores one evaluated example; storing the same example key twice keeps one row.
    async fn save_eval(&self, lease: &Lease, result: EvalResult) -> Result<(), StoreError>;
    /// The example keys already evaluated for the leased run.
    async fn evaluated_keys(&self, lease: &Lease)
    -> Result<Vec<tt_domain::ExampleKey>, StoreError>;
    /// The scores of the spec's latest completed run before this one (empty if none).
    async fn previous_scores(&self, lease: &Lease) -> Result<Vec<ExampleScore>, StoreError>;
    /// Applies a lifecycle event in one transaction with its consequences: the status
    /// event in the log; for `Evaluated`, the summary and the settlement (release the
    /// hold, `debit_run` up to it, `adjustment` beyond it); for `Fail`, the error and the
    /// release. Settling or releasing twice changes nothing.
    async fn transition(
        &self,
        lease: &Lease,
        event: RunEvent,
        details: TransitionDetails,
        now: Timestamp,
    ) -> Result<Run, StoreError>;
    /// Clears a pending provider cancel once the provider job is cancelled.
    async fn clear_provider_cancel(&self, lease: &Lease) -> Result<(), StoreError>;
    /// Appends progress to the run's event log and returns its sequence number.
    async fn append_event(
        &self,
        lease: &Lease,
        event: &RunLogEvent,
        now: Timestamp,
    ) -> Result<i64, StoreError>;

    // ---- datasets and models ----

    /// Stores an uploaded dataset.
    async fn create_dataset(
        &self,
        account: AccountId,
        dataset: NewDataset,
        now: Timestamp,
    ) -> Result<Dataset, StoreError>;
    /// Reads a dataset.
    async fn get_dataset(
        &self,
        account: AccountId,
        dataset: DatasetId,
    ) -> Result<Dataset, StoreError>;
    /// A dataset's JSONL content.
    async fn dataset_content(
        &self,
        account: AccountId,
        dataset: DatasetId,
    ) -> Result<String, StoreError>;
    /// Datasets newest first.
    async fn list_datasets(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<Dataset>, StoreError>;
    /// Deletes a dataset (runs keep their id, the content goes).
    async fn delete_dataset(
        &self,
        account: AccountId,
        dataset: DatasetId,
    ) -> Result<(), StoreError>;
    /// Reads a model.
    async fn get_model(
        &self,
        account: AccountId,
        model: ModelId,
    ) -> Result<FineTunedModel, StoreError>;
    /// Models newest first.
    async fn list_models(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<FineTunedModel>, StoreError>;
    /// Deletes a model record (not the provider's copy).
    async fn delete_model(&self, account: AccountId, model: ModelId) -> Result<(), StoreError>;

    // ---- credits ----

    /// Grants credit.
    async fn topup(
        &self,
        account: AccountId,
        cents: Cents,
        now: Timestamp,
    ) -> Result<Balance, StoreError>;
    /// The account's credit position.
    async fn balance(&self, account: AccountId) -> Result<Balance, StoreError>;
    /// Ledger entries newest first.
    async fn list_transactions(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, StoreError>;
}
