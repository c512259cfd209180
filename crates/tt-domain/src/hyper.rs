//! Training hyperparameters: the seed page's defaults and the allowed ranges.
//!
//! | field | default | allowed |
//! |---|---|---|
//! | `augment` | `true` | |
//! | `n_epochs` | 4 | 1–20 |
//! | `learning_rate` | `auto` | `auto` or a finite number in (0, 1] |
//! | `batch_size` | 8 | 8–256 |
//! | `lora_rank` | 8 | 1–256 |
//! | `lora_alpha` | 16 | 1–512 |
//!
//! Rank and alpha bounds are ours: ranks above 256 stop being "low-rank" for the models we
//! train, and alpha beyond twice the largest rank only rescales the learning rate.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The learning rate: chosen by the trainer (`auto`) or a fixed value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum LearningRate {
    /// The trainer's own default (documented by each trainer).
    #[default]
    Auto,
    /// A fixed rate in (0, 1].
    Fixed(f64),
}

impl LearningRate {
    /// The fixed value, or `auto_value` when the rate is `auto`.
    pub fn or(self, auto_value: f64) -> f64 {
        match self {
            Self::Auto => auto_value,
            Self::Fixed(value) => value,
        }
    }
}

impl fmt::Display for LearningRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Fixed(value) => write!(f, "{value}"),
        }
    }
}

impl Serialize for LearningRate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => serializer.serialize_str("auto"),
            Self::Fixed(value) => serializer.serialize_f64(*value),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LearningRateRepr {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for LearningRate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match LearningRateRepr::deserialize(deserializer)? {
            LearningRateRepr::Number(value) => Ok(Self::Fixed(value)),
            LearningRateRepr::Text(text) if text == "auto" => Ok(Self::Auto),
            LearningRateRepr::Text(text) => Err(serde::de::Error::custom(format!(
                "learning_rate must be \"auto\" or a number, got \"{text}\""
            ))),
        }
    }
}

/// A hyperparameter outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("hyperparameters.{field} must be {allowed}, got {got}")]
pub struct HyperparameterError {
    /// The field name, as in the API.
    pub field: &'static str,
    /// The allowed values, in words.
    pub allowed: &'static str,
    /// The value given.
    pub got: String,
}

/// Validated hyperparameters of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hyperparameters {
    augment: bool,
    n_epochs: u32,
    learning_rate: LearningRate,
    batch_size: u32,
    lora_rank: u32,
    lora_alpha: u32,
}

impl Default for Hyperparameters {
    fn default() -> Self {
        Self {
            augment: true,
            n_epochs: 4,
            learning_rate: LearningRate::Auto,
            batch_size: 8,
            lora_rank: 8,
            lora_alpha: 16,
        }
    }
}

impl<'de> Deserialize<'de> for Hyperparameters {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        HyperparametersInput::deserialize(deserializer)?.resolve().map_err(serde::de::Error::custom)
    }
}

impl Hyperparameters {
    /// Whether examples are augmented before training.
    pub fn augment(&self) -> bool {
        self.augment
    }
    /// Training epochs, 1–20.
    pub fn n_epochs(&self) -> u32 {
        self.n_epochs
    }
    /// The learning rate.
    pub fn learning_rate(&self) -> LearningRate {
        self.learning_rate
    }
    /// Examples per step, 8–256.
    pub fn batch_size(&self) -> u32 {
        self.batch_size
    }
    /// LoRA rank, 1–256.
    pub fn lora_rank(&self) -> u32 {
        self.lora_rank
    }
    /// LoRA alpha, 1–512.
    pub fn lora_alpha(&self) -> u32 {
        self.lora_alpha
    }
}

/// Hyperparameters as a caller gives them: any field may be absent and takes its default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HyperparametersInput {
    /// Augment examples before training.
    pub augment: Option<bool>,
    /// Training epochs.
    pub n_epochs: Option<u32>,
    /// Learning rate.
    pub learning_rate: Option<LearningRate>,
    /// Batch size.
    pub batch_size: Option<u32>,
    /// LoRA rank.
    pub lora_rank: Option<u32>,
    /// LoRA alpha.
    pub lora_alpha: Option<u32>,
}

fn in_range(
    field: &'static str,
    allowed: &'static str,
    value: u32,
    lo: u32,
    hi: u32,
) -> Result<u32, HyperparameterError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(HyperparameterError { field, allowed, got: value.to_string() })
    }
}

impl HyperparametersInput {
    /// Fills in defaults and checks every range; the first bad field is reported.
    pub fn resolve(self) -> Result<Hyperparameters, HyperparameterError> {
        let defaults = Hyperparameters::default();
        let learning_rate = match self.learning_rate.unwrap_or_default() {
            LearningRate::Auto => LearningRate::Auto,
            LearningRate::Fixed(value) if value.is_finite() && value > 0.0 && value <= 1.0 => {
                LearningRate::Fixed(value)
            }
            LearningRate::Fixed(value) => {
                return Err(HyperparameterError {
                    field: "learning_rate",
                    allowed: "\"auto\" or a finite number greater than 0 and at most 1",
                    got: value.to_string(),
                });
            }
        };
        Ok(Hyperparameters {
            augment: self.augment.unwrap_or(defaults.augment),
            n_epochs: in_range(
                "n_epochs",
                "1–20",
                self.n_epochs.unwrap_or(defaults.n_epochs),
                1,
                20,
            )?,
            learning_rate,
            batch_size: in_range(
                "batch_size",
                "8–256",
                self.batch_size.unwrap_or(defaults.batch_size),
                8,
                256,
            )?,
            lora_rank: in_range(
                "lora_rank",
                "1–256",
                self.lora_rank.unwrap_or(defaults.lora_rank),
                1,
                256,
            )?,
            lora_alpha: in_range(
                "lora_alpha",
                "1–512",
                self.lora_alpha.unwrap_or(defaults.lora_alpha),
                1,
                512,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_input_gives_the_seed_defaults() {
        let h = HyperparametersInput::default().resolve().unwrap();
        assert_eq!(h, Hyperparameters::default());
        assert_eq!(
            serde_json::to_value(h).unwrap(),
            serde_json::json!({"augment": true, "n_epochs": 4, "learning_rate": "auto", "batch_size": 8, "lora_rank": 8, "lora_alpha": 16})
        );
    }

    #[test]
    fn every_range_is_checked_at_both_ends() {
        let cases: [(HyperparametersInput, Option<&str>); 12] = [
            (HyperparametersInput { n_epochs: Some(0), ..Default::default() }, Some("n_epochs")),
            (HyperparametersInput { n_epochs: Some(1), ..Default::default() }, None),
            (HyperparametersInput { n_epochs: Some(20), ..Default::default() }, None),
            (HyperparametersInput { n_epochs: Some(21), ..Default::default() }, Some("n_epochs")),
            (
                HyperparametersInput { batch_size: Some(7), ..Default::default() },
                Some("batch_size"),
            ),
            (HyperparametersInput { batch_size: Some(8), ..Default::default() }, None),
            (HyperparametersInput { lora_rank: Some(0), ..Default::default() }, Some("lora_rank")),
            (
                HyperparametersInput { lora_rank: Some(257), ..Default::default() },
                Some("lora_rank"),
            ),
            (HyperparametersInput { lora_alpha: Some(512), ..Default::default() }, None),
            (
                HyperparametersInput { lora_alpha: Some(513), ..Default::default() },
                Some("lora_alpha"),
            ),
            (
                HyperparametersInput {
                    learning_rate: Some(LearningRate::Fixed(0.0)),
                    ..Default::default()
                },
                Some("learning_rate"),
            ),
            (
                HyperparametersInput {
                    learning_rate: Some(LearningRate::Fixed(f64::NAN)),
                    ..Default::default()
                },
                Some("learning_rate"),
            ),
        ];
        for (input, bad_field) in cases {
            match (input.resolve(), bad_field) {
                (Ok(_), None) => {}
                (Err(err), Some(field)) => assert_eq!(err.field, field, "{input:?}"),
                (res, expected) => {
                    panic!("{input:?}: got {res:?}, expected failure on {expected:?}")
                }
            }
        }
    }

    #[test]
    fn the_error_names_the_field_and_the_allowed_range() {
        let err = HyperparametersInput { n_epochs: Some(50), ..Default::default() }
            .resolve()
            .unwrap_err();
        assert_eq!(err.to_string(), "hyperparameters.n_epochs must be 1–20, got 50");
    }

    #[test]
    fn learning_rate_accepts_auto_or_a_number_in_json() {
        let auto: HyperparametersInput =
            serde_json::from_str(r#"{"learning_rate": "auto"}"#).unwrap();
        assert_eq!(auto.learning_rate, Some(LearningRate::Auto));
        let fixed: Hyperparameters = serde_json::from_str(r#"{"learning_rate": 0.00002}"#).unwrap();
        assert_eq!(fixed.learning_rate(), LearningRate::Fixed(0.00002));
        assert!(
            serde_json::from_str::<HyperparametersInput>(r#"{"learning_rate": "fast"}"#).is_err()
        );
        assert!(serde_json::from_str::<Hyperparameters>(r#"{"n_epochs": 0}"#).is_err());
        assert!(serde_json::from_str::<HyperparametersInput>(r#"{"epochs": 3}"#).is_err());
    }
}
