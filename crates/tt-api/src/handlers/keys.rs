//! API keys: list, create (the full key is shown once), revoke.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use tt_domain::{API_KEY_RANDOM_BYTES, ApiKeyId, NewApiKey, make_api_key};
use tt_store::ApiKeyRecord;

use crate::AppState;
use crate::envelope::{Data, List, created, list as list_page, ok, page_of};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, Id, PageQuery};

const DEFAULT_KEY_NAME: &str = "API key";
const MAX_NAME_CHARS: usize = 100;

/// The OS random source failed, so no key could be made.
#[derive(Debug, thiserror::Error)]
#[error("the OS random source failed")]
pub struct KeyGenError(#[source] rand::rand_core::OsError);

/// Makes a new API key from the OS random source (for the API and for `tt-server admin`).
pub fn generate_api_key() -> Result<NewApiKey, KeyGenError> {
    let mut random = [0u8; API_KEY_RANDOM_BYTES];
    OsRng.try_fill_bytes(&mut random).map_err(KeyGenError)?;
    Ok(make_api_key(&random))
}

/// A key to create.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateApiKeyRequest {
    name: Option<String>,
}

/// A created key: the record plus the full key, shown this once.
#[derive(Debug, Serialize)]
pub(crate) struct CreatedApiKey {
    #[serde(flatten)]
    record: ApiKeyRecord,
    key: String,
}

/// `GET /api-keys`: newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<ApiKeyRecord>>, ApiError> {
    let page = query.resolve()?;
    let keys = state.store.list_api_keys(caller.account_id).await?;
    Ok(list_page(page_of(keys, page), page))
}

/// `POST /api-keys`: 201 with the record and `key`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<Option<CreateApiKeyRequest>>,
) -> Result<(StatusCode, Json<Data<CreatedApiKey>>), ApiError> {
    let name = request
        .unwrap_or_default()
        .name
        .map_or_else(|| DEFAULT_KEY_NAME.to_owned(), |n| n.trim().to_owned());
    let name_chars = name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME_CHARS {
        return Err(ApiError::field(
            "name",
            format!("name must be 1–{MAX_NAME_CHARS} characters and not blank"),
        ));
    }
    let new_key = generate_api_key().map_err(ApiError::internal)?;
    let record = state
        .store
        .create_api_key(caller.account_id, &name, &new_key.prefix, new_key.hash, state.clock.now())
        .await?;
    Ok(created(CreatedApiKey { record, key: new_key.key }))
}

/// `DELETE /api-keys/{id}`: revokes at once; returns the record with `revoked_at`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<ApiKeyId>,
) -> Result<Json<Data<ApiKeyRecord>>, ApiError> {
    Ok(ok(state.store.revoke_api_key(caller.account_id, id, state.clock.now()).await?))
}
