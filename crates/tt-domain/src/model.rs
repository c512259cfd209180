//! Fine-tuned model records.

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, ModelId, RunId, SpecId};
use crate::time::Timestamp;

/// A model produced by a completed training job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FineTunedModel {
    /// The record's id.
    pub id: ModelId,
    /// The owning account.
    #[serde(skip)]
    pub account_id: Option<AccountId>,
    /// `<base short name>-ft-<first 8 of job id>`.
    pub name: String,
    /// Who serves it: `together` or `local`.
    pub provider: String,
    /// The provider's name for it (Together's output model name, or the local adapter path).
    pub provider_model_id: String,
    /// The model it was fine-tuned from.
    pub base_model: String,
    /// The training job.
    pub fine_tune_job_id: String,
    /// The run that made it.
    pub run_id: Option<RunId>,
    /// The spec that run came from.
    pub behavior_spec_id: Option<SpecId>,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// The display name of a fine-tuned model: the base model's last path segment, `-ft-`, and
/// the first 8 characters of the job id. A provider's `ft-` job prefix is skipped so that
/// the 8 characters carry information.
pub fn model_name(base_model: &str, fine_tune_job_id: &str) -> String {
    let short = base_model.trim_end_matches('/').rsplit('/').next().unwrap_or(base_model);
    let job = fine_tune_job_id.strip_prefix("ft-").unwrap_or(fine_tune_job_id);
    let job: String = job.chars().take(8).collect();
    format!("{short}-ft-{job}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_follow_the_hosted_pattern() {
        assert_eq!(model_name("Qwen/Qwen3.5-2B", "b3e2b918-81c1-41cb"), "Qwen3.5-2B-ft-b3e2b918");
        assert_eq!(
            model_name("meta-llama/Llama-3.2-3B-Instruct", "ft-8a3c5d2e-1111"),
            "Llama-3.2-3B-Instruct-ft-8a3c5d2e"
        );
        assert_eq!(model_name("tt-local/tiny", "abc"), "tiny-ft-abc");
        assert_eq!(model_name("/models/SmolLM2-135M/", "0123456789"), "SmolLM2-135M-ft-01234567");
    }
}
