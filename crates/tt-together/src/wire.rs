//! Together's request and response bodies, named after its wire fields. Responses accept
//! both spellings Together has used for a field (see the reference, §1.3 and §2.5) and
//! ignore fields we do not read.

use serde::{Deserialize, Serialize};
use tt_domain::ChatMessage;

/// `FileResponse` of `POST /files/upload`.
#[derive(Debug, Deserialize)]
pub(crate) struct FileResponse {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) bytes: Option<u64>,
}

/// `POST /fine-tunes` body.
#[derive(Debug, Serialize)]
pub(crate) struct CreateJobBody<'a> {
    pub(crate) training_file: &'a str,
    pub(crate) model: &'a str,
    pub(crate) n_epochs: u32,
    pub(crate) n_checkpoints: u32,
    pub(crate) learning_rate: f64,
    pub(crate) batch_size: u32,
    pub(crate) suffix: &'a str,
    pub(crate) training_type: TrainingType,
    pub(crate) training_method: TrainingMethod,
}

/// `training_type` of a LoRA job.
#[derive(Debug, Serialize)]
pub(crate) struct TrainingType {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) lora_r: u32,
    pub(crate) lora_alpha: u32,
    pub(crate) lora_dropout: f64,
    pub(crate) lora_trainable_modules: &'static str,
}

/// `training_method` of a supervised job.
#[derive(Debug, Serialize)]
pub(crate) struct TrainingMethod {
    pub(crate) method: &'static str,
    pub(crate) train_on_inputs: &'static str,
}

/// A fine-tuning job (`FinetuneResponse`, or its truncated list/create variant).
#[derive(Debug, Deserialize)]
pub(crate) struct JobResponse {
    pub(crate) id: String,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) created_at: Option<String>,
    #[serde(default)]
    pub(crate) suffix: Option<String>,
    #[serde(default, alias = "output_name", alias = "x_model_output_name")]
    pub(crate) model_output_name: Option<String>,
    #[serde(default)]
    pub(crate) token_count: Option<u64>,
    #[serde(default)]
    pub(crate) total_steps: Option<u64>,
    #[serde(default)]
    pub(crate) steps_completed: Option<u64>,
    #[serde(default)]
    pub(crate) epochs_completed: Option<u32>,
    #[serde(default)]
    pub(crate) events: Option<Vec<EventResponse>>,
}

/// `{"data": [...]}` of the list endpoints.
#[derive(Debug, Deserialize)]
pub(crate) struct ListResponse<T> {
    pub(crate) data: Vec<T>,
}

/// A `FineTuneEvent`.
#[derive(Debug, Deserialize)]
pub(crate) struct EventResponse {
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) level: Option<String>,
    #[serde(default)]
    pub(crate) step: Option<u64>,
    #[serde(default)]
    pub(crate) total_steps: Option<u64>,
}

/// `POST /chat/completions` body.
#[derive(Debug, Serialize)]
pub(crate) struct ChatBody<'a> {
    pub(crate) model: &'a str,
    pub(crate) messages: &'a [ChatMessage],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_tokens: Option<u32>,
    pub(crate) temperature: f32,
    pub(crate) stream: bool,
}

/// A chat completion.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatCompletion {
    pub(crate) choices: Vec<ChatChoice>,
    #[serde(default)]
    pub(crate) usage: Option<ChatUsage>,
}

/// One choice of a chat completion.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatChoice {
    pub(crate) message: ChatChoiceMessage,
}

/// The assistant message of a choice.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatChoiceMessage {
    #[serde(default)]
    pub(crate) content: Option<String>,
}

/// Token usage of a chat completion.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatUsage {
    #[serde(default)]
    pub(crate) completion_tokens: Option<u32>,
}
