//! Datasets: JSONL uploads checked line by line, their content, list, read, delete.

use axum::Json;
use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Deserialize;
use tt_domain::{DatasetId, validate_jsonl};
use tt_store::{Dataset, NewDataset};

use crate::envelope::{Data, List, created, list as list_page, ok};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, Id, PageQuery};
use crate::{AppState, BODY_LIMIT_BYTES};

const MAX_NAME_CHARS: usize = 255;

/// An upload: the JSONL text in `content`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatasetUpload {
    name: String,
    #[serde(default)]
    description: Option<String>,
    content: String,
}

/// An upload as JSON, or as `multipart/form-data` with a `file` field and optional `name`
/// and `description` fields (the name defaults to the file's name).
#[derive(Debug)]
pub(crate) struct UploadBody(DatasetUpload);

impl<S: Send + Sync> FromRequest<S> for UploadBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_multipart = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.to_ascii_lowercase().starts_with("multipart/form-data"));
        if !is_multipart {
            return ApiJson::from_request(req, state).await.map(|ApiJson(upload)| Self(upload));
        }
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|rejection| ApiError::field("body", rejection.body_text()))?;
        let (mut name, mut description, mut content, mut file_name) = (None, None, None, None);
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            let field_name = field.name().unwrap_or_default().to_owned();
            if field_name == "file" {
                file_name = field.file_name().map(str::to_owned);
            }
            let bytes = field.bytes().await.map_err(multipart_error)?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                ApiError::field(field_name.clone(), format!("{field_name} must be UTF-8 text"))
            })?;
            match field_name.as_str() {
                "file" => content = Some(text),
                "name" => name = Some(text),
                "description" => description = Some(text),
                other => {
                    return Err(ApiError::field(other, format!("unknown form field `{other}`")));
                }
            }
        }
        let content = content.ok_or_else(|| {
            ApiError::field("file", "the form needs a `file` field with the JSONL")
        })?;
        let name = name.or(file_name).unwrap_or_default();
        Ok(Self(DatasetUpload { name, description, content }))
    }
}

fn multipart_error(err: MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit_bytes: BODY_LIMIT_BYTES }
    } else {
        ApiError::field("body", err.body_text())
    }
}

/// `POST /datasets`: stored as `validated`, or as `invalid` with every bad line in `errors`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    UploadBody(upload): UploadBody,
) -> Result<(StatusCode, Json<Data<Dataset>>), ApiError> {
    let name = upload.name.trim().to_owned();
    let name_chars = name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME_CHARS {
        return Err(ApiError::field(
            "name",
            format!("name must be 1–{MAX_NAME_CHARS} characters and not blank"),
        ));
    }
    let content = upload.content;
    let (content, report) = tokio::task::spawn_blocking(move || {
        let report = validate_jsonl(&content);
        (content, report)
    })
    .await
    .map_err(ApiError::internal)?;
    let row_count = content.lines().filter(|line| !line.trim().is_empty()).count() as u64;
    let dataset = NewDataset {
        name,
        description: upload.description.unwrap_or_default(),
        row_count,
        status: report.status(),
        errors: report.issues,
        content,
    };
    Ok(created(state.store.create_dataset(caller.account_id, dataset, state.clock.now()).await?))
}

/// `GET /datasets`.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<Dataset>>, ApiError> {
    let page = query.resolve()?;
    Ok(list_page(state.store.list_datasets(caller.account_id, page).await?, page))
}

/// `GET /datasets/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<DatasetId>,
) -> Result<Json<Data<Dataset>>, ApiError> {
    Ok(ok(state.store.get_dataset(caller.account_id, id).await?))
}

/// `GET /datasets/{id}/content`: the JSONL itself, not enveloped.
pub(crate) async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<DatasetId>,
) -> Result<impl IntoResponse, ApiError> {
    let text = state.store.dataset_content(caller.account_id, id).await?;
    Ok(([(CONTENT_TYPE, "application/x-ndjson")], text))
}

/// `DELETE /datasets/{id}`: 204.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<DatasetId>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_dataset(caller.account_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
