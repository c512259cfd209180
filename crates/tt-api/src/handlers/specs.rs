//! Behaviour specs: create, list (with run statistics), read, update, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tt_domain::{BehaviorSpec, SpecDraft, SpecId, SpecPatch};
use tt_store::SpecListItem;

use crate::AppState;
use crate::envelope::{Data, List, created, list as list_page, ok};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, Id, PageQuery};

/// `POST /behavior-specs`: the body is a spec draft; every broken rule is reported.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(draft): ApiJson<SpecDraft>,
) -> Result<(StatusCode, Json<Data<BehaviorSpec>>), ApiError> {
    let content = draft.validate()?;
    let spec = state.store.create_spec(caller.account_id, content, state.clock.now()).await?;
    Ok(created(spec))
}

/// `GET /behavior-specs`: newest first, with `_run_count`, `_latest_run_status`, `_latest_run_score`.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<SpecListItem>>, ApiError> {
    let page = query.resolve()?;
    Ok(list_page(state.store.list_specs(caller.account_id, page).await?, page))
}

/// `GET /behavior-specs/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<SpecId>,
) -> Result<Json<Data<BehaviorSpec>>, ApiError> {
    Ok(ok(state.store.get_spec(caller.account_id, id).await?))
}

/// `PUT /behavior-specs/{id}`: a partial update, validated as a whole.
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<SpecId>,
    ApiJson(patch): ApiJson<SpecPatch>,
) -> Result<Json<Data<BehaviorSpec>>, ApiError> {
    let current = state.store.get_spec(caller.account_id, id).await?;
    let content = current.content.patched(patch)?;
    Ok(ok(state.store.update_spec(caller.account_id, id, content, state.clock.now()).await?))
}

/// `DELETE /behavior-specs/{id}`: 204; 409 while one of its runs is active.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<SpecId>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_spec(caller.account_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
