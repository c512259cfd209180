//! The cost formula and the rate card.
//!
//! `cost_cents = ceil(epochs × training_tokens × rate / 1_000_000)`, where `rate` is the
//! base model's price in cents per million training tokens per epoch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Money in integer cents. Never a float.
pub type Cents = i64;

/// The cost of a run in cents, rounded up to the next whole cent.
///
/// Computed in 128-bit integers, so no token count a provider can report overflows, and
/// saturated to `i64::MAX` for absurd inputs.
pub fn cost_cents(epochs: u32, training_tokens: u64, cents_per_mtok: u64) -> Cents {
    let product =
        (u128::from(epochs) * u128::from(training_tokens)).checked_mul(u128::from(cents_per_mtok));
    product.and_then(|p| i64::try_from(p.div_ceil(1_000_000)).ok()).unwrap_or(i64::MAX)
}

/// Renders cents as dollars, e.g. `42` → `$0.42`, `-250` → `-$2.50`.
pub fn format_dollars(cents: Cents) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}${}.{:02}", abs / 100, abs % 100)
}

/// The training tokens a run will be charged for, estimated before it starts from the
/// compiled dataset's token count. With augmentation the dataset grows to
/// `augmented_rows` rows of about the same size, so the count is scaled by that ratio.
pub fn estimate_training_tokens(
    compiled_tokens: u64,
    compiled_rows: usize,
    augmented_rows: usize,
) -> u64 {
    if compiled_rows == 0 || augmented_rows <= compiled_rows {
        return compiled_tokens;
    }
    let scaled = u128::from(compiled_tokens) * augmented_rows as u128 / compiled_rows as u128;
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

/// A rate card that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid rate card: {0}")]
pub struct RateCardError(String);

/// Prices per base model in cents per million training tokens per epoch.
///
/// The file form (TOML) is:
///
/// ```toml
/// default_cents_per_mtok = 48   # any hub model not listed
/// local_cents_per_mtok = 0      # tt-local/… models and local model directories
/// [models]
/// "meta-llama/Llama-3.2-3B-Instruct" = 48
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCard {
    /// The rate for hub models not listed in `models`.
    pub default_cents_per_mtok: u64,
    /// The rate for models trained on this machine by the local trainer.
    #[serde(default)]
    pub local_cents_per_mtok: u64,
    /// Per-model rates.
    #[serde(default)]
    pub models: BTreeMap<String, u64>,
}

/// Together's LoRA SFT price for models up to 16B parameters, $0.48 per million tokens,
/// which covers every hosted base model the product lists.
const SMALL_MODEL_CENTS_PER_MTOK: u64 = 48;

impl Default for RateCard {
    fn default() -> Self {
        let models = [
            "Qwen/Qwen3.5-2B",
            "Qwen/Qwen3.5-4B",
            "meta-llama/Llama-3.2-3B-Instruct",
            "google/gemma-4-E2B-it",
            "Qwen/Qwen3-VL-2B-Instruct",
        ]
        .into_iter()
        .map(|name| (name.to_owned(), SMALL_MODEL_CENTS_PER_MTOK))
        .collect();
        Self { default_cents_per_mtok: SMALL_MODEL_CENTS_PER_MTOK, local_cents_per_mtok: 0, models }
    }
}

impl RateCard {
    /// Parses the TOML form.
    pub fn parse_toml(text: &str) -> Result<Self, RateCardError> {
        toml::from_str(text).map_err(|err| RateCardError(err.to_string()))
    }

    /// Whether a base model name is trained by the local trainer: the built-in `tt-local/…`
    /// models and any filesystem path to a model directory.
    pub fn is_local_model(base_model: &str) -> bool {
        base_model.starts_with("tt-local/")
            || base_model.starts_with('/')
            || base_model.starts_with("./")
            || base_model.starts_with("../")
            || base_model.starts_with('~')
    }

    /// The rate for `base_model`: its own entry, else the local or the default rate.
    pub fn rate_for(&self, base_model: &str) -> u64 {
        match self.models.get(base_model) {
            Some(rate) => *rate,
            None if Self::is_local_model(base_model) => self.local_cents_per_mtok,
            None => self.default_cents_per_mtok,
        }
    }

    /// The cost of training `base_model` for `epochs` on `training_tokens`.
    pub fn cost(&self, base_model: &str, epochs: u32, training_tokens: u64) -> Cents {
        cost_cents(epochs, training_tokens, self.rate_for(base_model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_rounds_up_to_the_next_cent() {
        assert_eq!(cost_cents(1, 0, 48), 0);
        assert_eq!(cost_cents(1, 1, 48), 1);
        assert_eq!(cost_cents(4, 250_000, 48), 48);
        assert_eq!(cost_cents(4, 250_001, 48), 49);
        assert_eq!(cost_cents(3, 1_000_000, 100), 300);
    }

    #[test]
    fn huge_token_counts_do_not_overflow() {
        assert_eq!(
            cost_cents(20, u64::MAX, 1),
            i64::try_from((20u128 * u128::from(u64::MAX)).div_ceil(1_000_000)).unwrap()
        );
        assert_eq!(cost_cents(u32::MAX, u64::MAX, u64::MAX), i64::MAX);
    }

    #[test]
    fn dollars_render_with_two_decimals() {
        assert_eq!(format_dollars(42), "$0.42");
        assert_eq!(format_dollars(10), "$0.10");
        assert_eq!(format_dollars(12_345), "$123.45");
        assert_eq!(format_dollars(-250), "-$2.50");
        assert_eq!(format_dollars(0), "$0.00");
    }

    #[test]
    fn the_rate_card_prefers_a_models_own_rate_then_local_then_default() {
        let card = RateCard::parse_toml(
            "default_cents_per_mtok = 48\nlocal_cents_per_mtok = 1\n[models]\n\"big/model\" = 290\n",
        )
        .unwrap();
        assert_eq!(card.rate_for("big/model"), 290);
        assert_eq!(card.rate_for("tt-local/tiny"), 1);
        assert_eq!(card.rate_for("/models/smollm"), 1);
        assert_eq!(card.rate_for("other/model"), 48);
        assert!(RateCard::parse_toml("default_cents_per_mtok = -1").is_err());
        assert!(RateCard::parse_toml("default_cents_per_mtok = 1\nprice = 2").is_err());
    }

    #[test]
    fn the_default_card_prices_hosted_models_and_makes_local_training_free() {
        let card = RateCard::default();
        assert_eq!(card.rate_for("meta-llama/Llama-3.2-3B-Instruct"), 48);
        assert_eq!(card.cost("tt-local/tiny", 4, 1_000_000), 0);
    }

    #[test]
    fn augmentation_scales_the_token_estimate_by_the_row_ratio() {
        assert_eq!(estimate_training_tokens(1000, 10, 50), 5000);
        assert_eq!(estimate_training_tokens(1000, 10, 10), 1000);
        assert_eq!(estimate_training_tokens(1000, 0, 0), 1000);
    }

    proptest::proptest! {
        #[test]
        fn cost_is_monotonic_in_each_input(e in 1u32..=20, t in 0u64..10_000_000_000, r in 0u64..10_000, de in 0u32..5, dt in 0u64..1_000_000, dr in 0u64..100) {
            let base = cost_cents(e, t, r);
            proptest::prop_assert!(cost_cents(e + de, t, r) >= base);
            proptest::prop_assert!(cost_cents(e, t + dt, r) >= base);
            proptest::prop_assert!(cost_cents(e, t, r + dr) >= base);
        }
    }
}
