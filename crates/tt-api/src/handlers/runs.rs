//! Runs: start, estimate, list, read (with evals), cancel.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tt_domain::{
    BehaviorSpec, Cents, EvalResult, Hyperparameters, HyperparametersInput, Run, RunEstimate,
    RunId, SpecId, estimate_run,
};
use tt_store::{RunListItem, StartRun};

use crate::AppState;
use crate::envelope::{Data, List, created, list, ok};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, Id, PageQuery};

/// The body of a start or an estimate, as on the seed page. `augment` may be given at the
/// top level or inside `hyperparameters`; the top level wins. An empty body takes every
/// default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRunRequest {
    augment: Option<bool>,
    hyperparameters: Option<HyperparametersInput>,
}

impl StartRunRequest {
    fn resolve(self) -> Result<Hyperparameters, ApiError> {
        let mut input = self.hyperparameters.unwrap_or_default();
        if let Some(augment) = self.augment {
            input.augment = Some(augment);
        }
        Ok(input.resolve()?)
    }
}

/// An estimate and whether the account can afford it now.
#[derive(Debug, Serialize)]
pub(crate) struct EstimateView {
    #[serde(flatten)]
    estimate: RunEstimate,
    /// Credit available to new runs.
    available_cents: Cents,
    /// Whether a start would be accepted.
    sufficient: bool,
}

/// A run with its evaluated examples, worst score first.
#[derive(Debug, Serialize)]
pub(crate) struct RunDetail {
    #[serde(flatten)]
    run: Run,
    #[serde(rename = "_evals")]
    evals: Vec<EvalResult>,
}

/// Reads the spec, checks a trainer can train its base model, and estimates the run.
/// Counting tokens is CPU work, so it runs off the async workers.
async fn prepare(
    state: &AppState,
    caller: Caller,
    spec_id: SpecId,
    body: Option<StartRunRequest>,
) -> Result<(BehaviorSpec, Hyperparameters, RunEstimate), ApiError> {
    let hyperparameters = body.unwrap_or_default().resolve()?;
    let spec = state.store.get_spec(caller.account_id, spec_id).await?;
    state.trainers.trainer_for(spec.content.base_model())?;
    let content = spec.content.clone();
    let rate_card = state.rate_card.clone();
    let estimate =
        tokio::task::spawn_blocking(move || estimate_run(&content, &hyperparameters, &rate_card))
            .await
            .map_err(ApiError::internal)?;
    Ok((spec, hyperparameters, estimate))
}

/// `POST /behavior-specs/{id}/runs`: holds the estimate and starts the run in `preparing`;
/// 402 `insufficient_credits` when available credit is below the estimate.
pub(crate) async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Id(spec_id): Id<SpecId>,
    ApiJson(body): ApiJson<Option<StartRunRequest>>,
) -> Result<(StatusCode, Json<Data<Run>>), ApiError> {
    let (spec, hyperparameters, estimate) = prepare(&state, caller, spec_id, body).await?;
    let start = StartRun {
        spec_id,
        spec_snapshot: spec.content,
        hyperparameters,
        estimated_cost_cents: estimate.estimated_cost_cents,
    };
    let run = state.store.start_run(caller.account_id, start, state.clock.now()).await?;
    state.metrics.run_started();
    tracing::info!(run_id = %run.id, spec_id = %spec_id, estimated_cost_cents = run.estimated_cost_cents, "run started");
    Ok(created(run))
}

/// `POST /behavior-specs/{id}/runs/estimate`: what a start would hold, without starting.
pub(crate) async fn estimate(
    State(state): State<AppState>,
    caller: Caller,
    Id(spec_id): Id<SpecId>,
    ApiJson(body): ApiJson<Option<StartRunRequest>>,
) -> Result<Json<Data<EstimateView>>, ApiError> {
    let (_, _, estimate) = prepare(&state, caller, spec_id, body).await?;
    let available_cents = state.store.balance(caller.account_id).await?.available_cents();
    let sufficient = available_cents >= estimate.estimated_cost_cents;
    Ok(ok(EstimateView { estimate, available_cents, sufficient }))
}

/// `GET /behavior-specs/{id}/runs`.
pub(crate) async fn list_for_spec(
    State(state): State<AppState>,
    caller: Caller,
    Id(spec_id): Id<SpecId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<RunListItem>>, ApiError> {
    let page = query.resolve()?;
    // Another account's spec must be a 404, not an empty list.
    state.store.get_spec(caller.account_id, spec_id).await?;
    Ok(list(state.store.list_runs(caller.account_id, Some(spec_id), page).await?, page))
}

/// `GET /runs`: every run, with `_spec_name`.
pub(crate) async fn list_all(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<RunListItem>>, ApiError> {
    let page = query.resolve()?;
    Ok(list(state.store.list_runs(caller.account_id, None, page).await?, page))
}

/// `GET /runs/{id}`: the run with `_evals`, worst score first.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Id(run_id): Id<RunId>,
) -> Result<Json<Data<RunDetail>>, ApiError> {
    let run = state.store.get_run(caller.account_id, run_id).await?;
    let evals = state.store.list_evals(caller.account_id, run_id).await?;
    Ok(ok(RunDetail { run, evals }))
}

/// `POST /runs/{id}/cancel`: 409 `conflict` on a finished run. The worker cancels the
/// provider job.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Id(run_id): Id<RunId>,
) -> Result<Json<Data<Run>>, ApiError> {
    let run = state.store.cancel_run(caller.account_id, run_id, state.clock.now()).await?;
    tracing::info!(run_id = %run_id, "run cancelled");
    Ok(ok(run))
}
