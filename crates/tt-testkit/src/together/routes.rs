//! The fake's HTTP surface: the gate every request passes (latency, auth, faults) and one
//! handler per Together endpoint.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::jobs::{JobRecord, NewJob};
use super::{ChatCompletionRequestView, FaultKind, FaultScope, Shared, StoredFile, rough_tokens};

type AppState = State<Arc<Shared>>;

/// Training files may be large; Together takes up to many gigabytes, tests far less.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Together's documented suffix limit.
const MAX_SUFFIX_LEN: usize = 40;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/files/upload", post(upload_file))
        .route("/v1/files/{id}", get(get_file))
        .route("/v1/files/{id}/content", get(get_file_content))
        .route("/v1/fine-tunes", post(create_job).get(list_jobs))
        .route("/v1/fine-tunes/{id}", get(get_job))
        .route("/v1/fine-tunes/{id}/events", get(job_events))
        .route("/v1/fine-tunes/{id}/cancel", post(cancel_job))
        .route("/v1/chat/completions", post(chat_completion))
        .fallback(|| async {
            error(StatusCode::NOT_FOUND, "Not found", "invalid_request_error", None)
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), gate))
        .with_state(shared)
}

/// Together's error envelope.
fn error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, Json(body)).into_response()
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message, "invalid_request_error", None)
}

fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("{what} not found"),
        "invalid_request_error",
        Some("not_found"),
    )
}

/// Latency, then authentication, then fault injection, then the handler.
async fn gate(State(shared): AppState, request: Request, next: Next) -> Response {
    shared.counters.requests.fetch_add(1, Ordering::SeqCst);
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let expected = format!("Bearer {}", shared.config.api_key);
    if request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok())
        != Some(expected.as_str())
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.",
            "invalid_request_error",
            Some("invalid_api_key"),
        );
    }
    let path = request.uri().path();
    let scope = if path.starts_with("/v1/files") {
        FaultScope::Files
    } else if path.starts_with("/v1/fine-tunes") {
        FaultScope::FineTuning
    } else {
        FaultScope::Chat
    };
    let Some((kind, faults)) = shared.draw_fault(scope) else {
        return next.run(request).await;
    };
    match kind {
        FaultKind::RateLimited => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "You have been rate limited.",
                "dynamic_request_limited",
                None,
            );
            let wait = faults.retry_after;
            let headers = response.headers_mut();
            let mut set = |name: &'static str, value: String| {
                headers.insert(
                    name,
                    HeaderValue::from_str(&value).expect("numbers are valid header values"),
                );
            };
            set("retry-after", wait.as_secs_f64().ceil().to_string());
            set("retry-after-ms", wait.as_millis().to_string());
            set("x-ratelimit-limit", "60".to_owned());
            set("x-ratelimit-remaining", "0".to_owned());
            set("x-ratelimit-reset", format!("{:.3}", wait.as_secs_f64()));
            response
        }
        FaultKind::ServerError => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error", "server_error", None)
        }
        FaultKind::Unavailable => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is overloaded or not ready yet.",
            "service_unavailable",
            None,
        ),
        FaultKind::Hang => {
            tokio::time::sleep(faults.hang_for).await;
            error(StatusCode::GATEWAY_TIMEOUT, "Gateway timeout", "server_error", None)
        }
        FaultKind::Malformed => {
            ([(header::CONTENT_TYPE, "application/json")], "{\"id\": \"ft-trunc").into_response()
        }
        FaultKind::ServerErrorAfterProcessing => {
            drop(next.run(request).await);
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error", "server_error", None)
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the fake moves jobs along in real time, across client restarts"
)]
fn now_unix_ms() -> i64 {
    let since_epoch =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

fn file_json(file: &StoredFile) -> Value {
    json!({
        "id": file.id,
        "object": "file",
        "created_at": file.created_unix,
        "filename": file.filename,
        "bytes": file.content.len(),
        "purpose": file.purpose,
        "FileType": "jsonl",
        "LineCount": file.lines,
        "Processed": true,
    })
}

async fn upload_file(State(shared): AppState, mut multipart: Multipart) -> Response {
    let (mut content, mut file_name, mut purpose) = (None, None, None);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => return bad_request(&format!("malformed multipart body: {err}")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let Ok(data) = field.bytes().await else {
            return bad_request("malformed multipart body");
        };
        let text = String::from_utf8_lossy(&data).into_owned();
        match name.as_str() {
            "file" => content = Some(text),
            "file_name" => file_name = Some(text),
            "purpose" => purpose = Some(text),
            _ => {}
        }
    }
    let (Some(content), Some(file_name), Some(purpose)) = (content, file_name, purpose) else {
        return bad_request("`file`, `file_name` and `purpose` are required");
    };
    if !["fine-tune", "eval", "batch-api"].contains(&purpose.as_str()) {
        return bad_request(&format!("unknown purpose `{purpose}`"));
    }
    let mut lines = 0;
    for (index, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if !serde_json::from_str::<Value>(line).is_ok_and(|value| value.is_object()) {
            return bad_request(&format!(
                "Invalid file format: line {} is not a JSON object",
                index + 1
            ));
        }
        lines += 1;
    }
    if lines == 0 {
        return bad_request("Invalid file format: the file is empty");
    }
    let file = StoredFile {
        id: format!("file-{}", uuid::Uuid::new_v4()),
        created_unix: u64::try_from(now_unix_ms() / 1000).unwrap_or(0),
        filename: file_name,
        purpose,
        content,
        lines,
    };
    let body = file_json(&file);
    shared.state().files.insert(file.id.clone(), file);
    shared.counters.files_uploaded.fetch_add(1, Ordering::SeqCst);
    Json(body).into_response()
}

async fn get_file(State(shared): AppState, Path(id): Path<String>) -> Response {
    match shared.state().files.get(&id) {
        Some(file) => Json(file_json(file)).into_response(),
        None => not_found(&format!("file {id}")),
    }
}

async fn get_file_content(State(shared): AppState, Path(id): Path<String>) -> Response {
    match shared.state().files.get(&id) {
        Some(file) => file.content.clone().into_response(),
        None => not_found(&format!("file {id}")),
    }
}

/// Checks a create request as Together does (reference §2.3) and builds the job.
fn new_job(shared: &Shared, body: &Value) -> Result<NewJob, String> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let training_file = text("training_file").ok_or("`training_file` is required")?;
    let model = text("model").filter(|m| !m.is_empty()).ok_or("`model` is required")?;
    let n_epochs = match body.get("n_epochs") {
        None => 1,
        Some(value) => {
            value.as_u64().filter(|n| (1..=20).contains(n)).ok_or("`n_epochs` must be 1–20")?
        }
    };
    let learning_rate = match body.get("learning_rate") {
        None => 1e-5,
        Some(value) => value
            .as_f64()
            .filter(|lr| *lr > 0.0 && *lr <= 1.0)
            .ok_or("`learning_rate` must be in (0, 1]")?,
    };
    let batch_size = match body.get("batch_size") {
        None => json!("max"),
        Some(value) if value == "max" || value.as_u64().is_some_and(|b| b >= 1) => value.clone(),
        Some(_) => return Err("`batch_size` must be a positive integer or \"max\"".to_owned()),
    };
    let suffix = text("suffix").unwrap_or_default();
    if suffix.chars().count() > MAX_SUFFIX_LEN {
        return Err(format!("`suffix` must be at most {MAX_SUFFIX_LEN} characters"));
    }
    let training_type = body
        .get("training_type")
        .cloned()
        .unwrap_or_else(|| json!({"type": "Lora", "lora_r": 8, "lora_alpha": 16}));
    if training_type.get("type").and_then(Value::as_str) == Some("Lora") {
        let lora_r = training_type.get("lora_r").and_then(Value::as_u64).unwrap_or(8);
        if !(1..=64).contains(&lora_r) {
            return Err("`lora_r` must be 1–64".to_owned());
        }
    }
    let state = shared.state();
    let file = state
        .files
        .get(&training_file)
        .ok_or_else(|| format!("training file {training_file} not found"))?;
    Ok(NewJob {
        id: format!("ft-{}", uuid::Uuid::new_v4()),
        model,
        training_file,
        suffix,
        n_epochs: u32::try_from(n_epochs).expect("checked to be at most 20"),
        batch_size,
        learning_rate,
        training_type,
        training_method: body
            .get("training_method")
            .cloned()
            .unwrap_or_else(|| json!({"method": "sft"})),
        token_count: rough_tokens(&file.content),
        file_lines: file.lines,
        file_bytes: file.content.len() as u64,
        request: body.clone(),
    })
}

async fn create_job(State(shared): AppState, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("the body is not valid JSON");
    };
    let job = match new_job(&shared, &body) {
        Ok(job) => job,
        Err(message) => return bad_request(&message),
    };
    let record = JobRecord::new(
        job,
        now_unix_ms(),
        shared.config.job_duration,
        shared.config.fail_jobs_with.as_deref(),
    );
    let response = record.to_json(Instant::now(), false);
    shared.state().jobs.push(record);
    shared.counters.jobs_created.fetch_add(1, Ordering::SeqCst);
    Json(response).into_response()
}

async fn list_jobs(State(shared): AppState) -> Response {
    let now = Instant::now();
    let data: Vec<Value> = shared.state().jobs.iter().map(|job| job.to_json(now, false)).collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

async fn get_job(State(shared): AppState, Path(id): Path<String>) -> Response {
    let now = Instant::now();
    match shared.state().jobs.iter().find(|job| job.id == id) {
        Some(job) => Json(job.to_json(now, true)).into_response(),
        None => not_found(&format!("fine-tune job {id}")),
    }
}

async fn job_events(State(shared): AppState, Path(id): Path<String>) -> Response {
    let now = Instant::now();
    match shared.state().jobs.iter().find(|job| job.id == id) {
        Some(job) => Json(json!({"object": "list", "data": job.events_json(now)})).into_response(),
        None => not_found(&format!("fine-tune job {id}")),
    }
}

async fn cancel_job(State(shared): AppState, Path(id): Path<String>) -> Response {
    let now = Instant::now();
    let mut state = shared.state();
    let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
        return not_found(&format!("fine-tune job {id}"));
    };
    if !job.is_cancellable(now) {
        return bad_request(&format!("job {id} cannot be cancelled in status {}", job.status(now)));
    }
    job.cancel(now, shared.config.cancel_delay);
    let mut response = job.to_json(now, false);
    response["status"] = json!("cancel_requested");
    shared.counters.cancels.fetch_add(1, Ordering::SeqCst);
    Json(response).into_response()
}

async fn chat_completion(State(shared): AppState, body: Bytes) -> Response {
    let request: ChatCompletionRequestView = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => return bad_request(&format!("invalid chat completion request: {err}")),
    };
    let servable = {
        let now = Instant::now();
        let state = shared.state();
        match state.jobs.iter().find(|job| job.output_name == request.model) {
            Some(job) => job.status(now) == "completed",
            None => !shared.config.strict_models,
        }
    };
    if !servable {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "Unable to access model {}. Please visit https://api.together.ai/models to view the list of supported models.",
                request.model
            ),
            "invalid_request_error",
            Some("model_not_available"),
        );
    }
    let answer = (shared.config.chat)(&request);
    let prompt_tokens: u64 = request.messages.iter().map(|m| rough_tokens(&m.content)).sum();
    let completion_tokens = rough_tokens(&answer);
    let created = now_unix_ms() / 1000;
    let response = json!({
        "id": format!("fake-{}", uuid::Uuid::new_v4().simple()),
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "prompt": [],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer, "tool_calls": []},
            "logprobs": null,
            "finish_reason": "stop",
            "seed": null,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    });
    shared.state().chats.push(request);
    shared.counters.chat_completions.fetch_add(1, Ordering::SeqCst);
    Json(response).into_response()
}
