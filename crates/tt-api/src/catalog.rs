//! Which base models this server can train, and with which trainer.

use tt_domain::{DEFAULT_BASE_MODEL, RateCard};

use crate::error::ApiError;

/// The provider name of the Together trainer (and inference).
pub const TOGETHER_TRAINER: &str = "together";
/// The provider name of the in-process trainer (and inference).
pub(crate) const LOCAL_TRAINER: &str = "local";

/// The hub base models the hosted product lists for fine-tuning.
const HOSTED_BASE_MODELS: [&str; 9] = [
    "Qwen/Qwen3.5-2B",
    "Qwen/Qwen3.5-4B",
    "meta-llama/Llama-3.2-3B-Instruct",
    "google/gemma-4-E2B-it",
    "google/gemma-4-E4B-it",
    "microsoft/Phi-4-mini-instruct",
    "ibm-granite/granite-3.3-2b-instruct",
    "bigcode/starcoder2-3b",
    "Qwen/Qwen3-VL-2B-Instruct",
];

/// The trainers configured on this server. `tt-local/…` names and local model paths
/// ([`RateCard::is_local_model`]) are always trained by the local trainer; hub names only
/// when the Together trainer is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainerCatalog {
    /// Whether `TT_TRAINER=together` with a `TOGETHER_API_KEY` is configured.
    pub together: bool,
    /// Local base models listed in the playground.
    pub local_models: Vec<String>,
    /// Hub base models listed in the playground when Together is configured (any hub name
    /// can still be trained then).
    pub hub_models: Vec<String>,
}

impl Default for TrainerCatalog {
    /// The embedded default: only the local trainer.
    fn default() -> Self {
        Self {
            together: false,
            local_models: vec![DEFAULT_BASE_MODEL.to_owned()],
            hub_models: Vec::new(),
        }
    }
}

impl TrainerCatalog {
    /// The local trainer plus Together for hub models, listing the hosted product's models.
    pub fn with_together() -> Self {
        Self {
            together: true,
            hub_models: HOSTED_BASE_MODELS.iter().map(|name| (*name).to_owned()).collect(),
            ..Self::default()
        }
    }

    /// The trainer (`local` or `together`) for `base_model`, or a 400 that says what to
    /// configure.
    pub fn trainer_for(&self, base_model: &str) -> Result<&'static str, ApiError> {
        if RateCard::is_local_model(base_model) {
            return Ok(LOCAL_TRAINER);
        }
        if self.together {
            return Ok(TOGETHER_TRAINER);
        }
        Err(ApiError::field(
            "base_model",
            format!(
                "no configured trainer can train the base model `{base_model}`: set TT_TRAINER=together and \
                 TOGETHER_API_KEY to train hub models, or use a local model such as `{DEFAULT_BASE_MODEL}`"
            ),
        ))
    }

    /// Every base model to list, local ones first.
    pub fn base_models(&self) -> impl Iterator<Item = &str> {
        let hub: &[String] = if self.together { &self.hub_models } else { &[] };
        self.local_models.iter().chain(hub).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_models_always_train_locally_and_hub_models_need_together() {
        let local_only = TrainerCatalog::default();
        assert_eq!(local_only.trainer_for("tt-local/tiny").unwrap(), LOCAL_TRAINER);
        assert_eq!(local_only.trainer_for("/models/smol").unwrap(), LOCAL_TRAINER);
        let err = local_only.trainer_for("Qwen/Qwen3.5-2B").unwrap_err();
        assert!(err.to_string().contains("TT_TRAINER=together"), "{err}");
        assert!(err.to_string().contains("Qwen/Qwen3.5-2B"), "{err}");
        assert_eq!(
            TrainerCatalog::with_together().trainer_for("Qwen/Qwen3.5-2B").unwrap(),
            TOGETHER_TRAINER
        );
    }

    #[test]
    fn hub_models_are_listed_only_when_together_is_configured() {
        assert_eq!(
            TrainerCatalog::default().base_models().collect::<Vec<_>>(),
            vec!["tt-local/tiny"]
        );
        let catalog = TrainerCatalog::with_together();
        let with_together: Vec<_> = catalog.base_models().collect();
        assert_eq!(with_together.len(), 1 + HOSTED_BASE_MODELS.len());
        assert!(with_together.contains(&"meta-llama/Llama-3.2-3B-Instruct"));
    }
}
