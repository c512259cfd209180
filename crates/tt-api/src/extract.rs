//! Extractors whose rejection is always an [`ApiError`], so that malformed JSON, bad query
//! strings, bad ids and missing keys all answer in the envelope.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tt_domain::{
    AccountId, ApiKeyId, DatasetId, ModelId, RunId, SpecId, api_key_prefix, hash_api_key,
};
use tt_store::{KeyCheck, PageRequest};

use crate::error::ApiError;
use crate::{AppState, BODY_LIMIT_BYTES};

/// A JSON body, parsed with the path of any offending field.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        check_json_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit_bytes: BODY_LIMIT_BYTES }
            } else {
                ApiError::Validation {
                    message: "the request body could not be read".to_owned(),
                    details: None,
                }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A missing content type is taken as JSON (curl users forget it); any other type is refused.
fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let is_json = value.to_str().is_ok_and(|text| {
        let mime = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        mime == "application/json" || mime.ends_with("+json")
    });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::field(
            "Content-Type",
            "the request body must be JSON (Content-Type: application/json)",
        ))
    }
}

/// Parses a JSON document, naming the offending field on a type or value error.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        // An empty body is fine where the whole body is optional (`Option<T>`).
        return serde_json::from_str("null")
            .map_err(|_| ApiError::field("body", "the request body must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            let message = format!("malformed JSON: {inner}");
            ApiError::Validation {
                details: Some(serde_json::json!({"field": "body", "line": inner.line(), "column": inner.column()})),
                message,
            }
        } else {
            let text = inner.to_string();
            let reason = strip_position(&text);
            // A missing field is reported at its parent; name the field itself.
            let missing = reason.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
            let field = match (path.as_str(), missing) {
                (".", Some(name)) => name.to_owned(),
                (_, Some(name)) => format!("{path}.{name}"),
                (".", None) => "body".to_owned(),
                (_, None) => path,
            };
            let message = format!("{field}: {reason}");
            ApiError::field(field, message)
        }
    })?;
    deserializer.end().map_err(|err| ApiError::field("body", format!("malformed JSON: {err}")))?;
    Ok(value)
}

/// serde_json appends ` at line L column C` to its messages; the field path says more.
fn strip_position(message: &str) -> &str {
    message.rfind(" at line ").map_or(message, |at| &message[..at])
}

/// A query string, parsed into `T`.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::field("query", rejection.body_text()))
    }
}

/// `?page=&per_page=` as given; checked by [`PageQuery::resolve`].
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    page: Option<String>,
    per_page: Option<String>,
}

impl PageQuery {
    /// The page request: `page` ≥ 1 (default 1), `per_page` 1–100 (default 20).
    pub(crate) fn resolve(&self) -> Result<PageRequest, ApiError> {
        let defaults = PageRequest::default();
        let page = parse_bounded(
            "page",
            self.page.as_deref(),
            defaults.page,
            1,
            u32::MAX,
            "a whole number ≥ 1",
        )?;
        let per_page = parse_bounded(
            "per_page",
            self.per_page.as_deref(),
            defaults.per_page,
            1,
            PageRequest::MAX_PER_PAGE,
            "a whole number from 1 to 100",
        )?;
        Ok(PageRequest { page, per_page })
    }
}

fn parse_bounded(
    field: &str,
    text: Option<&str>,
    default: u32,
    lo: u32,
    hi: u32,
    rule: &str,
) -> Result<u32, ApiError> {
    let Some(text) = text else {
        return Ok(default);
    };
    match text.trim().parse::<u32>() {
        Ok(value) if (lo..=hi).contains(&value) => Ok(value),
        _ => Err(ApiError::field(field, format!("{field} must be {rule}, got \"{text}\""))),
    }
}

/// A typed id from the path; a malformed id is a 404, like an id that does not exist.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Id<T>(pub(crate) T);

/// A kind of resource addressed by id in paths.
pub(crate) trait Resource: FromStr + Send {
    /// Its name in "… not found" messages.
    const ENTITY: &'static str;
}

impl Resource for SpecId {
    const ENTITY: &'static str = "behaviour spec";
}
impl Resource for RunId {
    const ENTITY: &'static str = "run";
}
impl Resource for DatasetId {
    const ENTITY: &'static str = "dataset";
}
impl Resource for ModelId {
    const ENTITY: &'static str = "model";
}
impl Resource for ApiKeyId {
    const ENTITY: &'static str = "API key";
}

impl<S: Send + Sync, T: Resource> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found(T::ENTITY))?;
        raw.parse().map(Id).map_err(|_| ApiError::not_found(T::ENTITY))
    }
}

/// The authenticated caller: the account and key of a valid `Authorization: Bearer tt_…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The key's account.
    pub(crate) account_id: AccountId,
    /// Whether the account may grant credits.
    pub(crate) is_admin: bool,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized("missing API key; send `Authorization: Bearer tt_…`".to_owned())
        })?;
        let malformed = || {
            ApiError::Unauthorized(
                "malformed API key; send `Authorization: Bearer tt_…` with a key made by `tt keys create`".to_owned(),
            )
        };
        let value = header.to_str().map_err(|_| malformed())?.trim();
        let (scheme, key) = value.split_once(' ').ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(malformed());
        }
        let key = key.trim();
        let prefix = api_key_prefix(key).ok_or_else(malformed)?;
        match state.store.check_api_key(prefix, hash_api_key(key), state.clock.now()).await? {
            KeyCheck::Unknown => Err(ApiError::Unauthorized("unknown API key".to_owned())),
            KeyCheck::Revoked => {
                Err(ApiError::Forbidden("this API key has been revoked".to_owned()))
            }
            KeyCheck::Valid { account_id, is_admin, .. } => Ok(Self { account_id, is_admin }),
        }
    }
}
