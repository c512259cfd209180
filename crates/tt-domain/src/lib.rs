//! The domain of Tuned Tensor: behaviour specs, the run lifecycle, hyperparameter rules,
//! eval-summary maths, the cost formula, credit rules and the spec → training-data compiler.
//!
//! This crate is pure.
//! It does no IO, has no async, and never reads the clock or a random source itself:
//! time comes in through [`Clock`] and ids through [`IdGen`] or as arguments.
//! It must not depend on tokio, sqlx, reqwest or axum (a tidy test in `xtask` enforces this).

mod api_key;
mod cost;
mod credit;
mod dataset;
mod estimate;
mod eval;
mod events;
mod hyper;
mod ids;
mod model;
mod run;
mod spec;
mod time;

pub use api_key::{API_KEY_RANDOM_BYTES, NewApiKey, api_key_prefix, hash_api_key, make_api_key};
pub use cost::{
    Cents, RateCard, RateCardError, cost_cents, estimate_training_tokens, format_dollars,
};
pub use credit::{
    Balance, CreditError, LedgerEntry, LedgerKind, Settlement, check_start, settle_completed,
};
pub use dataset::{
    ChatMessage, ChatRole, ChatRow, DatasetStatus, JsonlIssue, JsonlReport, MAX_TRAINING_ROWS,
    VARIANTS_PER_EXAMPLE, augmented_row_target, compile_spec, count_tokens, prompt_messages,
    rows_to_jsonl, system_message, validate_jsonl,
};
pub use estimate::{RunEstimate, estimate_run};
pub use eval::{
    CHANGE_THRESHOLD, EXACT_MATCH_THRESHOLD, EvalResult, EvalSummary, ExampleScore, PASS_THRESHOLD,
    ScoringMethod, passes, summarize,
};
pub use events::{ProgressEvent, RunLogEvent, Stage};
pub use hyper::{HyperparameterError, Hyperparameters, HyperparametersInput, LearningRate};
pub use ids::{AccountId, ApiKeyId, DatasetId, IdGen, LedgerEntryId, ModelId, RunId, SpecId};
pub use model::{FineTunedModel, model_name};
pub use run::{InvalidTransition, NewRun, Run, RunEvent, RunStatus, UnknownStatus};
pub use spec::{
    BehaviorSpec, DEFAULT_BASE_MODEL, Example, ExampleKey, FieldViolation, SpecContent, SpecDraft,
    SpecError, SpecPatch,
};
pub use time::{Clock, Timestamp};
