//! The cost estimate a run holds at start, from the compiled dataset's token count.

use serde::Serialize;

use crate::cost::{Cents, RateCard, estimate_training_tokens};
use crate::dataset::{augmented_row_target, compile_spec, count_tokens, rows_to_jsonl};
use crate::hyper::Hyperparameters;
use crate::spec::SpecContent;

/// What starting a run would hold, and how it was worked out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunEstimate {
    /// The credit the start would hold.
    pub estimated_cost_cents: Cents,
    /// Estimated training tokens per epoch (after augmentation).
    pub training_tokens: u64,
    /// Rows the training set is expected to have.
    pub rows: u64,
    /// Epochs.
    pub n_epochs: u32,
    /// The base model.
    pub base_model: String,
    /// Its rate in cents per million tokens per epoch.
    pub rate_cents_per_mtok: u64,
}

/// Estimates a run of `spec` with `hyperparameters` under `rate_card`: the compiled
/// dataset's tokens, scaled to the augmented size when augmentation is on.
pub fn estimate_run(
    spec: &SpecContent,
    hyperparameters: &Hyperparameters,
    rate_card: &RateCard,
) -> RunEstimate {
    let rows = compile_spec(spec, &[]);
    let compiled_tokens = count_tokens(&rows_to_jsonl(&rows));
    let target_rows =
        if hyperparameters.augment() { augmented_row_target(rows.len()) } else { rows.len() };
    let training_tokens = estimate_training_tokens(compiled_tokens, rows.len(), target_rows);
    let rate = rate_card.rate_for(spec.base_model());
    RunEstimate {
        estimated_cost_cents: rate_card.cost(
            spec.base_model(),
            hyperparameters.n_epochs(),
            training_tokens,
        ),
        training_tokens,
        rows: target_rows as u64,
        n_epochs: hyperparameters.n_epochs(),
        base_model: spec.base_model().to_owned(),
        rate_cents_per_mtok: rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hyper::HyperparametersInput;
    use crate::spec::{Example, SpecDraft};

    fn spec(base_model: &str) -> SpecContent {
        SpecDraft {
            name: "Bot".into(),
            examples: (0..6)
                .map(|i| Example {
                    input: format!("question {i}"),
                    output: format!("answer number {i}"),
                })
                .collect(),
            base_model: Some(base_model.into()),
            ..SpecDraft::default()
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn augmentation_multiplies_rows_and_tokens_and_the_cost_follows_the_formula() {
        let card = RateCard::default();
        let plain =
            HyperparametersInput { augment: Some(false), ..Default::default() }.resolve().unwrap();
        let augmented = Hyperparameters::default();
        let model = "meta-llama/Llama-3.2-3B-Instruct";
        let a = estimate_run(&spec(model), &plain, &card);
        let b = estimate_run(&spec(model), &augmented, &card);
        assert_eq!(a.rows, 6);
        assert_eq!(b.rows, 30);
        assert_eq!(b.training_tokens, a.training_tokens * 5);
        assert_eq!(b.estimated_cost_cents, crate::cost_cents(4, b.training_tokens, 48));
        assert!(b.estimated_cost_cents >= 1);
    }

    #[test]
    fn local_models_are_estimated_free_by_default() {
        assert_eq!(
            estimate_run(&spec("tt-local/tiny"), &Hyperparameters::default(), &RateCard::default())
                .estimated_cost_cents,
            0
        );
    }
}
