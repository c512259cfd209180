//! The playground: the models to chat with, and one completion from one of them.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tt_domain::{
    AccountId, ChatMessage, ChatRole, FineTunedModel, ModelId, RateCard, system_message,
};
use tt_providers::ChatRequest;
use tt_store::{PageRequest, StoreError};

use crate::AppState;
use crate::catalog::{LOCAL_TRAINER, TOGETHER_TRAINER};
use crate::envelope::{Data, ok};
use crate::error::ApiError;
use crate::extract::{ApiJson, Caller};

/// The playground's limits, as in the hosted product.
const MAX_TOKENS_RANGE: (u32, u32) = (64, 4096);
const MAX_TEMPERATURE: f32 = 2.0;

/// A base model to chat with.
#[derive(Debug, Serialize)]
pub(crate) struct BaseModelItem {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A fine-tuned model to chat with.
#[derive(Debug, Serialize)]
pub(crate) struct FineTunedItem {
    id: ModelId,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    base_model: String,
}

/// Every model the caller can chat with.
#[derive(Debug, Serialize)]
pub(crate) struct PlaygroundModels {
    base_models: Vec<BaseModelItem>,
    fine_tuned_models: Vec<FineTunedItem>,
}

/// A completion request: `messages` or a single `prompt`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompletionRequest {
    model: String,
    messages: Option<Vec<ChatMessage>>,
    prompt: Option<String>,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
}

/// A completion.
#[derive(Debug, Serialize)]
pub(crate) struct Completion {
    content: String,
    latency_ms: u64,
    model: String,
}

/// The account's models, all pages.
async fn all_models(state: &AppState, account: AccountId) -> Result<Vec<FineTunedModel>, ApiError> {
    let mut models = Vec::new();
    let mut request = PageRequest { page: 1, per_page: PageRequest::MAX_PER_PAGE };
    loop {
        let page = state.store.list_models(account, request).await?;
        let done = page.items.is_empty() || models.len() + page.items.len() >= page.total as usize;
        models.extend(page.items);
        if done {
            return Ok(models);
        }
        request.page += 1;
    }
}

/// `GET /playground/models`.
pub(crate) async fn models(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Data<PlaygroundModels>>, ApiError> {
    let base_models = state
        .trainers
        .base_models()
        .map(|id| BaseModelItem {
            name: id.trim_end_matches('/').rsplit('/').next().unwrap_or(id).to_owned(),
            id: id.to_owned(),
            kind: "base",
        })
        .collect();
    let fine_tuned_models = all_models(&state, caller.account_id)
        .await?
        .into_iter()
        .map(|model| FineTunedItem {
            id: model.id,
            name: model.name,
            kind: "fine-tuned",
            base_model: model.base_model,
        })
        .collect();
    Ok(ok(PlaygroundModels { base_models, fine_tuned_models }))
}

/// Where a completion goes: the provider, its name for the model, and the fine-tuned
/// model's record when it is one.
struct Target {
    provider: String,
    provider_model: String,
    fine_tuned: Option<FineTunedModel>,
}

/// A fine-tuned model by id or name, else a base model by name.
async fn resolve(state: &AppState, account: AccountId, model: &str) -> Result<Target, ApiError> {
    let fine_tuned = match model.parse::<ModelId>() {
        Ok(id) => Some(state.store.get_model(account, id).await?),
        Err(_) => all_models(state, account).await?.into_iter().find(|m| m.name == model),
    };
    Ok(match fine_tuned {
        Some(found) => Target {
            provider: found.provider.clone(),
            provider_model: found.provider_model_id.clone(),
            fine_tuned: Some(found),
        },
        None => {
            let provider =
                if RateCard::is_local_model(model) { LOCAL_TRAINER } else { TOGETHER_TRAINER };
            Target {
                provider: provider.to_owned(),
                provider_model: model.to_owned(),
                fine_tuned: None,
            }
        }
    })
}

fn check_request(request: &CompletionRequest) -> Result<Vec<ChatMessage>, ApiError> {
    if request.model.trim().is_empty() {
        return Err(ApiError::field("model", "model must name a base model or a fine-tuned model"));
    }
    let messages = match (&request.messages, &request.prompt) {
        (Some(messages), None) if !messages.is_empty() => messages.clone(),
        (None, Some(prompt)) if !prompt.trim().is_empty() => {
            vec![ChatMessage { role: ChatRole::User, content: prompt.clone() }]
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::field("messages", "give either messages or prompt, not both"));
        }
        _ => return Err(ApiError::field("messages", "give a non-empty messages list or a prompt")),
    };
    if let Some(max_tokens) = request.max_tokens {
        let (lo, hi) = MAX_TOKENS_RANGE;
        if !(lo..=hi).contains(&max_tokens) {
            return Err(ApiError::field(
                "max_tokens",
                format!("max_tokens must be {lo}–{hi}, got {max_tokens}"),
            ));
        }
    }
    if let Some(temperature) = request.temperature
        && !(temperature.is_finite() && (0.0..=MAX_TEMPERATURE).contains(&temperature))
    {
        return Err(ApiError::field(
            "temperature",
            format!("temperature must be 0–2, got {temperature}"),
        ));
    }
    Ok(messages)
}

/// `POST /playground/completions`: 501 `playground_unavailable` when no inference provider
/// serves the model. A fine-tuned model gets its spec's system message unless the request
/// brings one, since it was trained with it.
pub(crate) async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CompletionRequest>,
) -> Result<Json<Data<Completion>>, ApiError> {
    let mut messages = check_request(&request)?;
    let target = resolve(&state, caller.account_id, &request.model).await?;
    let Some(inference) = state.inference.get(&target.provider) else {
        return Err(ApiError::PlaygroundUnavailable(format!(
            "no `{}` inference provider is configured for the model `{}`{}",
            target.provider,
            request.model,
            if target.provider == TOGETHER_TRAINER {
                "; set TT_TRAINER=together and TOGETHER_API_KEY"
            } else {
                ""
            }
        )));
    };
    let has_system = messages.first().is_some_and(|m| m.role == ChatRole::System);
    if let Some(run_id) = target.fine_tuned.as_ref().and_then(|m| m.run_id)
        && !has_system
    {
        // The run goes when its spec is deleted; the model record stays usable without it.
        let system = match state.store.get_run(caller.account_id, run_id).await {
            Ok(run) => system_message(&run.spec_snapshot),
            Err(StoreError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        };
        if let Some(system) = system {
            messages.insert(0, ChatMessage { role: ChatRole::System, content: system });
        }
    }
    let chat = ChatRequest {
        model: target.provider_model,
        messages,
        max_tokens: request.max_tokens,
        temperature: request.temperature,
    };
    let response = inference.complete(&chat).await?;
    Ok(ok(Completion {
        content: response.content,
        latency_ms: response.latency_ms,
        model: request.model,
    }))
}
