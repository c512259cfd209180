//! Fine-tuned models: list, read, delete (the record only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tt_domain::{FineTunedModel, ModelId};

use crate::AppState;
use crate::envelope::{Data, List, list as list_page, ok};
use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller, Id, PageQuery};

/// `GET /models`.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<FineTunedModel>>, ApiError> {
    let page = query.resolve()?;
    Ok(list_page(state.store.list_models(caller.account_id, page).await?, page))
}

/// `GET /models/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<ModelId>,
) -> Result<Json<Data<FineTunedModel>>, ApiError> {
    Ok(ok(state.store.get_model(caller.account_id, id).await?))
}

/// `DELETE /models/{id}`: 204; the provider's copy stays.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<ModelId>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_model(caller.account_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
