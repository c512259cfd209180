//! Row structs shared by both backends, their conversion into domain types, and the error
//! mapping from sqlx to [`StoreError`].
//!
//! Every column type used here (`TEXT`, `BIGINT`, `BOOLEAN`, `REAL`/`DOUBLE PRECISION`,
//! `BLOB`/`BYTEA`) decodes into the same Rust type on SQLite and PostgreSQL, so one
//! `FromRow` struct serves both. A row that does not parse into a domain type is a
//! [`StoreError::Backend`] error, never a panic.

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tt_domain::{
    AccountId, Balance, BehaviorSpec, DatasetStatus, EvalResult, ExampleKey, FineTunedModel,
    JsonlIssue, LedgerEntry, NewRun, Run, RunLogEvent, RunStatus, Timestamp,
};

use tt_store::{
    Account, ApiKeyRecord, ClaimedRun, Dataset, Lease, SpecListItem, StoreError, StoredEvent,
    WorkState,
};

/// Columns of `runs` that [`RunRow`] reads, for `SELECT` and `RETURNING` lists.
macro_rules! run_columns {
    () => {
        "id, account_id, spec_id, run_number, status, spec_snapshot, hyperparameters, dataset_id, \
         fine_tune_job_id, model_id, eval_summary, estimated_cost_cents, cost_cents, error, started_at, \
         completed_at, provider_file_id, provider_events_seen, training_tokens, trainer, \
         provider_cancel_pending, attempts, lease_owner, lease_token, lease_expires_at"
    };
}
pub(crate) use run_columns;

/// The statuses in which a run still needs a worker, as an SQL list.
macro_rules! active_statuses {
    () => {
        "('preparing', 'training', 'evaluating')"
    };
}
pub(crate) use active_statuses;

/// A row that could not be turned into a domain value: the data is corrupt or was
/// written by a newer version.
pub(crate) fn corrupt(what: &str, detail: impl Display) -> StoreError {
    StoreError::Backend(format!("stored {what} is unreadable: {detail}").into())
}

/// Maps a sqlx error: a missing row is `NotFound`, a broken uniqueness or reference rule
/// is `Conflict` with a message for users, everything else is `Backend`.
pub(crate) fn db_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::RowNotFound => StoreError::NotFound { entity: "record" },
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            message: "a record with the same unique value already exists".to_owned(),
        },
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::Conflict { message: "a record it refers to does not exist".to_owned() }
        }
        _ => StoreError::Backend(Box::new(err)),
    }
}

/// Maps an error inserting an API key: a taken prefix is a `Conflict`, a missing account
/// `NotFound`.
pub(crate) fn key_insert_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            message: "an API key with this prefix already exists".to_owned(),
        },
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound { entity: "account" }
        }
        _ => db_error(err),
    }
}

pub(crate) fn parse_text<T>(what: &str, text: &str) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: Display,
{
    text.parse().map_err(|err| corrupt(what, err))
}

pub(crate) fn parse_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|err| corrupt(what, err))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain values always serialise to JSON")
}

fn parse_opt<T>(what: &str, text: Option<&str>) -> Result<Option<T>, StoreError>
where
    T: FromStr,
    T::Err: Display,
{
    text.map(|text| parse_text(what, text)).transpose()
}

fn unsigned(what: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|err| corrupt(what, err))
}

/// Converts a count or size for storage; no real count reaches `i64::MAX`.
pub(crate) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A new random id, hyphenated, as every table stores it.
pub(crate) fn new_uuid() -> uuid::Uuid {
    uuid::Uuid::new_v4()
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: String,
    name: String,
    is_admin: bool,
    created_at: i64,
}

impl AccountRow {
    pub(crate) fn into_account(self) -> Result<Account, StoreError> {
        Ok(Account {
            id: parse_text("account id", &self.id)?,
            name: self.name,
            is_admin: self.is_admin,
            created_at: Timestamp::from_millis(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BalanceRow {
    balance_cents: i64,
    reserved_cents: i64,
    lifetime_topup_cents: i64,
}

impl From<BalanceRow> for Balance {
    fn from(row: BalanceRow) -> Self {
        Self {
            balance_cents: row.balance_cents,
            reserved_cents: row.reserved_cents,
            lifetime_topup_cents: row.lifetime_topup_cents,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: String,
    account_id: String,
    name: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl ApiKeyRow {
    pub(crate) fn into_record(self) -> Result<ApiKeyRecord, StoreError> {
        Ok(ApiKeyRecord {
            id: parse_text("api key id", &self.id)?,
            account_id: parse_text("account id", &self.account_id)?,
            name: self.name,
            prefix: self.prefix,
            created_at: Timestamp::from_millis(self.created_at),
            last_used_at: self.last_used_at.map(Timestamp::from_millis),
            revoked_at: self.revoked_at.map(Timestamp::from_millis),
        })
    }
}

/// What `check_api_key` needs to decide.
#[derive(sqlx::FromRow)]
pub(crate) struct KeyCheckRow {
    pub(crate) id: String,
    pub(crate) account_id: String,
    pub(crate) key_hash: Vec<u8>,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) is_admin: bool,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SpecRow {
    id: String,
    account_id: String,
    content: String,
    created_at: i64,
    updated_at: i64,
}

impl SpecRow {
    pub(crate) fn into_spec(self) -> Result<BehaviorSpec, StoreError> {
        Ok(BehaviorSpec {
            id: parse_text("spec id", &self.id)?,
            account_id: parse_text("account id", &self.account_id)?,
            content: parse_json("spec content", &self.content)?,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SpecListRow {
    #[sqlx(flatten)]
    spec: SpecRow,
    run_count: i64,
    latest_run_status: Option<String>,
    latest_run_score: Option<f64>,
}

impl SpecListRow {
    pub(crate) fn into_item(self) -> Result<SpecListItem, StoreError> {
        Ok(SpecListItem {
            spec: self.spec.into_spec()?,
            run_count: unsigned("run count", self.run_count)?,
            latest_run_status: parse_opt("run status", self.latest_run_status.as_deref())?,
            latest_run_score: self.latest_run_score,
        })
    }
}

/// A run with the engine's bookkeeping and its lease.
#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: String,
    account_id: String,
    spec_id: String,
    run_number: i64,
    status: String,
    spec_snapshot: String,
    hyperparameters: String,
    dataset_id: Option<String>,
    fine_tune_job_id: Option<String>,
    model_id: Option<String>,
    eval_summary: Option<String>,
    estimated_cost_cents: i64,
    cost_cents: Option<i64>,
    error: Option<String>,
    started_at: i64,
    completed_at: Option<i64>,
    provider_file_id: Option<String>,
    provider_events_seen: i64,
    training_tokens: Option<i64>,
    trainer: Option<String>,
    provider_cancel_pending: bool,
    attempts: i64,
    pub(crate) lease_owner: Option<String>,
    pub(crate) lease_token: i64,
    pub(crate) lease_expires_at: Option<i64>,
}

impl RunRow {
    /// The stored status name.
    pub(crate) fn status(&self) -> &str {
        &self.status
    }

    /// Whether `lease` is the run's current, unexpired lease.
    pub(crate) fn is_leased_by(&self, lease: &Lease, now: Timestamp) -> bool {
        self.lease_owner.as_deref() == Some(lease.owner.as_str())
            && self.lease_token == lease.token
            && self.lease_expires_at.is_some_and(|expires| expires > now.as_millis())
    }

    pub(crate) fn into_run(self) -> Result<Run, StoreError> {
        Ok(self.into_parts()?.0)
    }

    pub(crate) fn into_claimed(self) -> Result<ClaimedRun, StoreError> {
        let (run, work, lease) = self.into_parts()?;
        let lease = lease.ok_or_else(|| corrupt("lease", "a claimed run has no lease"))?;
        Ok(ClaimedRun { lease, run, work })
    }

    fn into_parts(self) -> Result<(Run, WorkState, Option<Lease>), StoreError> {
        let run_id = parse_text("run id", &self.id)?;
        let status: RunStatus = parse_text("run status", &self.status)?;
        let new = NewRun {
            id: run_id,
            account_id: parse_text("account id", &self.account_id)?,
            behavior_spec_id: parse_text("spec id", &self.spec_id)?,
            run_number: u32::try_from(self.run_number).map_err(|err| corrupt("run number", err))?,
            spec_snapshot: parse_json("spec snapshot", &self.spec_snapshot)?,
            hyperparameters: parse_json("hyperparameters", &self.hyperparameters)?,
            estimated_cost_cents: self.estimated_cost_cents,
            started_at: Timestamp::from_millis(self.started_at),
        };
        let mut run = Run::restore(new, status);
        run.dataset_id = parse_opt("dataset id", self.dataset_id.as_deref())?;
        run.fine_tune_job_id = self.fine_tune_job_id;
        run.model_id = parse_opt("model id", self.model_id.as_deref())?;
        run.eval_summary = self
            .eval_summary
            .as_deref()
            .map(|text| parse_json("eval summary", text))
            .transpose()?;
        run.cost_cents = self.cost_cents;
        run.error = self.error;
        run.completed_at = self.completed_at.map(Timestamp::from_millis);
        let work = WorkState {
            provider_file_id: self.provider_file_id,
            provider_events_seen: self.provider_events_seen,
            training_tokens: self
                .training_tokens
                .map(|tokens| unsigned("training tokens", tokens))
                .transpose()?,
            trainer: self.trainer,
            provider_cancel_pending: self.provider_cancel_pending,
            attempts: self.attempts,
        };
        let lease = match (self.lease_owner, self.lease_expires_at) {
            (Some(owner), Some(expires_at)) => Some(Lease {
                run_id,
                owner,
                token: self.lease_token,
                expires_at: Timestamp::from_millis(expires_at),
            }),
            _ => None,
        };
        Ok((run, work, lease))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunListRow {
    #[sqlx(flatten)]
    run: RunRow,
    spec_name: String,
}

impl RunListRow {
    pub(crate) fn into_item(self) -> Result<tt_store::RunListItem, StoreError> {
        Ok(tt_store::RunListItem { run: self.run.into_run()?, spec_name: self.spec_name })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    event: String,
    created_at: i64,
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<StoredEvent, StoreError> {
        let event: RunLogEvent = parse_json("run event", &self.event)?;
        Ok(StoredEvent {
            seq: self.seq,
            event,
            created_at: Timestamp::from_millis(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EvalRow {
    example_key: String,
    prompt: String,
    expected: String,
    actual: String,
    score: f64,
    passed: bool,
    reasoning: String,
    latency_ms: i64,
    judge_error: Option<String>,
}

impl EvalRow {
    pub(crate) fn into_result(self) -> Result<EvalResult, StoreError> {
        Ok(EvalResult {
            example_key: ExampleKey::from_stored(self.example_key),
            prompt: self.prompt,
            expected: self.expected,
            actual: self.actual,
            score: self.score,
            passed: self.passed,
            reasoning: self.reasoning,
            latency_ms: unsigned("latency", self.latency_ms)?,
            judge_error: self.judge_error,
        })
    }
}

/// A dataset finding as stored in the `errors` JSON column (the domain type is not
/// deserialisable, and the stored shape should not change with it anyway).
#[derive(Serialize, Deserialize)]
struct StoredIssue {
    line: usize,
    reason: String,
}

pub(crate) fn issues_to_json(issues: &[JsonlIssue]) -> String {
    let stored: Vec<StoredIssue> = issues
        .iter()
        .map(|issue| StoredIssue { line: issue.line, reason: issue.reason.clone() })
        .collect();
    to_json(&stored)
}

#[derive(sqlx::FromRow)]
pub(crate) struct DatasetRow {
    id: String,
    account_id: String,
    name: String,
    description: String,
    status: String,
    row_count: i64,
    file_size_bytes: i64,
    errors: String,
    run_id: Option<String>,
    created_at: i64,
}

impl DatasetRow {
    pub(crate) fn into_dataset(self) -> Result<Dataset, StoreError> {
        let status: DatasetStatus = serde_json::from_value(serde_json::Value::String(self.status))
            .map_err(|err| corrupt("dataset status", err))?;
        let issues: Vec<StoredIssue> = parse_json("dataset errors", &self.errors)?;
        Ok(Dataset {
            id: parse_text("dataset id", &self.id)?,
            account_id: parse_text("account id", &self.account_id)?,
            name: self.name,
            description: self.description,
            format: "jsonl",
            status,
            row_count: unsigned("row count", self.row_count)?,
            file_size_bytes: unsigned("file size", self.file_size_bytes)?,
            errors: issues
                .into_iter()
                .map(|issue| JsonlIssue { line: issue.line, reason: issue.reason })
                .collect(),
            run_id: parse_opt("run id", self.run_id.as_deref())?,
            created_at: Timestamp::from_millis(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ModelRow {
    id: String,
    account_id: String,
    name: String,
    provider: String,
    provider_model_id: String,
    base_model: String,
    fine_tune_job_id: String,
    run_id: Option<String>,
    behavior_spec_id: Option<String>,
    created_at: i64,
}

impl ModelRow {
    pub(crate) fn into_model(self) -> Result<FineTunedModel, StoreError> {
        Ok(FineTunedModel {
            id: parse_text("model id", &self.id)?,
            account_id: Some(parse_text::<AccountId>("account id", &self.account_id)?),
            name: self.name,
            provider: self.provider,
            provider_model_id: self.provider_model_id,
            base_model: self.base_model,
            fine_tune_job_id: self.fine_tune_job_id,
            run_id: parse_opt("run id", self.run_id.as_deref())?,
            behavior_spec_id: parse_opt("spec id", self.behavior_spec_id.as_deref())?,
            created_at: Timestamp::from_millis(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LedgerRow {
    id: String,
    account_id: String,
    kind: String,
    amount_cents: i64,
    balance_after_cents: i64,
    reference_id: Option<String>,
    created_at: i64,
}

impl LedgerRow {
    pub(crate) fn into_entry(self) -> Result<LedgerEntry, StoreError> {
        Ok(LedgerEntry {
            id: parse_text("ledger entry id", &self.id)?,
            account_id: Some(parse_text("account id", &self.account_id)?),
            kind: parse_text("ledger kind", &self.kind)?,
            amount_cents: self.amount_cents,
            balance_after_cents: self.balance_after_cents,
            reference_id: self.reference_id,
            created_at: Timestamp::from_millis(self.created_at),
        })
    }
}
