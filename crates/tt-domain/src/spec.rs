//! Behaviour specs: the user's description of the behaviour a model should learn.
//!
//! A [`SpecDraft`] is what a user sends; [`SpecContent`] is a draft that passed every rule,
//! and the only form the rest of the system accepts.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{AccountId, SpecId};
use crate::time::Timestamp;

/// The base model used when a spec names none: the built-in local model, so that the
/// embedded default trains with no account, network or GPU.
pub const DEFAULT_BASE_MODEL: &str = "tt-local/tiny";

const MAX_NAME_CHARS: usize = 255;
const MAX_LIST_ITEMS: usize = 50;
const MAX_EXAMPLES: usize = 500;
/// Long texts are refused so one spec cannot exhaust the server's memory or the trainer's context.
const MAX_TEXT_CHARS: usize = 32_000;
const MAX_BASE_MODEL_CHARS: usize = 512;

/// One input → expected output pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// What the user says.
    pub input: String,
    /// What the model should answer.
    pub output: String,
}

impl Example {
    /// The example's stable key, derived from its input alone: editing the expected output
    /// or reordering the examples keeps the key, so runs still compare example by example.
    pub fn key(&self) -> ExampleKey {
        ExampleKey::of_input(&self.input)
    }
}

/// A stable, content-derived key of an example (`ex_` and 16 hex digits of SHA-256 of the
/// input with whitespace collapsed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExampleKey(String);

impl ExampleKey {
    /// The key of an example whose input is `input`.
    pub fn of_input(input: &str) -> Self {
        let normalised = input.split_whitespace().collect::<Vec<_>>().join(" ");
        let digest = Sha256::digest(normalised.as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Self(format!("ex_{hex}"))
    }

    /// Rebuilds a key read back from storage.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExampleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A spec as a user submits it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecDraft {
    /// Human-readable name, 1–255 characters.
    pub name: String,
    /// What the spec is for.
    #[serde(default)]
    pub description: String,
    /// The system message that sets the model's persona.
    #[serde(default)]
    pub system_prompt: String,
    /// Rules the model should follow, at most 50.
    #[serde(default)]
    pub guidelines: Vec<String>,
    /// Things the model must not do, at most 50.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// Training and evaluation examples, 1–500.
    #[serde(default)]
    pub examples: Vec<Example>,
    /// The model to fine-tune; [`DEFAULT_BASE_MODEL`] when absent.
    #[serde(default)]
    pub base_model: Option<String>,
}

/// A partial update: absent fields keep their current value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New system prompt.
    pub system_prompt: Option<String>,
    /// New guidelines.
    pub guidelines: Option<Vec<String>>,
    /// New constraints.
    pub constraints: Option<Vec<String>>,
    /// New examples.
    pub examples: Option<Vec<Example>>,
    /// New base model.
    pub base_model: Option<String>,
}

/// One broken rule: the field (a JSON path such as `examples[3].output`) and the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldViolation {
    /// The offending field.
    pub field: String,
    /// The rule it broke.
    pub rule: String,
}

/// Why a spec was refused: every broken rule, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("invalid behaviour spec: {}", .violations.iter().map(|v| format!("{}: {}", v.field, v.rule)).collect::<Vec<_>>().join("; "))]
pub struct SpecError {
    /// The broken rules, in field order.
    pub violations: Vec<FieldViolation>,
}

/// The validated content of a spec. It can only be built through [`SpecDraft::validate`]
/// (also when deserialised), so every holder can rely on the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SpecDraft")]
pub struct SpecContent {
    name: String,
    description: String,
    system_prompt: String,
    guidelines: Vec<String>,
    constraints: Vec<String>,
    examples: Vec<Example>,
    base_model: String,
}

impl TryFrom<SpecDraft> for SpecContent {
    type Error = SpecError;

    fn try_from(draft: SpecDraft) -> Result<Self, SpecError> {
        draft.validate()
    }
}

impl SpecDraft {
    /// Checks every rule and returns the validated content, or every violation found.
    pub fn validate(self) -> Result<SpecContent, SpecError> {
        let mut violations = Vec::new();
        let mut fail =
            |field: String, rule: String| violations.push(FieldViolation { field, rule });

        let name = self.name.trim().to_owned();
        let name_chars = name.chars().count();
        if name_chars == 0 {
            fail("name".into(), "must be 1–255 characters and not blank".into());
        } else if name_chars > MAX_NAME_CHARS {
            fail("name".into(), format!("must be 1–255 characters, got {name_chars}"));
        }
        for (field, text) in
            [("description", &self.description), ("system_prompt", &self.system_prompt)]
        {
            if text.chars().count() > MAX_TEXT_CHARS {
                fail(field.into(), format!("must be at most {MAX_TEXT_CHARS} characters"));
            }
        }
        for (field, items) in [("guidelines", &self.guidelines), ("constraints", &self.constraints)]
        {
            if items.len() > MAX_LIST_ITEMS {
                fail(
                    field.into(),
                    format!("must have at most {MAX_LIST_ITEMS} items, got {}", items.len()),
                );
            }
            for (i, item) in items.iter().enumerate() {
                if item.trim().is_empty() {
                    fail(format!("{field}[{i}]"), "must not be empty".into());
                } else if item.chars().count() > MAX_TEXT_CHARS {
                    fail(
                        format!("{field}[{i}]"),
                        format!("must be at most {MAX_TEXT_CHARS} characters"),
                    );
                }
            }
        }
        if self.examples.is_empty() || self.examples.len() > MAX_EXAMPLES {
            fail(
                "examples".into(),
                format!("must have 1–{MAX_EXAMPLES} items, got {}", self.examples.len()),
            );
        }
        let mut seen: HashMap<ExampleKey, usize> = HashMap::new();
        for (i, example) in self.examples.iter().enumerate() {
            for (part, text) in [("input", &example.input), ("output", &example.output)] {
                if text.trim().is_empty() {
                    fail(format!("examples[{i}].{part}"), "must not be empty".into());
                } else if text.chars().count() > MAX_TEXT_CHARS {
                    fail(
                        format!("examples[{i}].{part}"),
                        format!("must be at most {MAX_TEXT_CHARS} characters"),
                    );
                }
            }
            if let Some(first) = seen.insert(example.key(), i) {
                fail(
                    format!("examples[{i}].input"),
                    format!("repeats the input of examples[{first}]; inputs must be distinct"),
                );
            }
        }
        let base_model = match self.base_model {
            None => DEFAULT_BASE_MODEL.to_owned(),
            Some(model) => model.trim().to_owned(),
        };
        if base_model.is_empty() || base_model.chars().count() > MAX_BASE_MODEL_CHARS {
            fail(
                "base_model".into(),
                format!("must be 1–{MAX_BASE_MODEL_CHARS} characters when given"),
            );
        }

        if !violations.is_empty() {
            return Err(SpecError { violations });
        }
        Ok(SpecContent {
            name,
            description: self.description,
            system_prompt: self.system_prompt,
            guidelines: self.guidelines,
            constraints: self.constraints,
            examples: self.examples,
            base_model,
        })
    }
}

impl SpecContent {
    /// The spec's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What the spec is for.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The system prompt.
    pub fn system_prompt(&self) -> &str {
        &self.system_prompt
    }
    /// Rules to follow.
    pub fn guidelines(&self) -> &[String] {
        &self.guidelines
    }
    /// Things not to do.
    pub fn constraints(&self) -> &[String] {
        &self.constraints
    }
    /// The examples, 1–500, with distinct inputs.
    pub fn examples(&self) -> &[Example] {
        &self.examples
    }
    /// The base model to fine-tune.
    pub fn base_model(&self) -> &str {
        &self.base_model
    }

    /// The draft this content came from, for editing.
    pub fn to_draft(&self) -> SpecDraft {
        SpecDraft {
            name: self.name.clone(),
            description: self.description.clone(),
            system_prompt: self.system_prompt.clone(),
            guidelines: self.guidelines.clone(),
            constraints: self.constraints.clone(),
            examples: self.examples.clone(),
            base_model: Some(self.base_model.clone()),
        }
    }

    /// Applies a partial update and validates the result as a whole.
    pub fn patched(&self, patch: SpecPatch) -> Result<Self, SpecError> {
        let current = self.to_draft();
        SpecDraft {
            name: patch.name.unwrap_or(current.name),
            description: patch.description.unwrap_or(current.description),
            system_prompt: patch.system_prompt.unwrap_or(current.system_prompt),
            guidelines: patch.guidelines.unwrap_or(current.guidelines),
            constraints: patch.constraints.unwrap_or(current.constraints),
            examples: patch.examples.unwrap_or(current.examples),
            base_model: patch.base_model.or(current.base_model),
        }
        .validate()
    }
}

/// A stored behaviour spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BehaviorSpec {
    /// The spec's id.
    pub id: SpecId,
    /// The owning account.
    #[serde(skip)]
    pub account_id: AccountId,
    /// The validated content.
    #[serde(flatten)]
    pub content: SpecContent,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> SpecDraft {
        SpecDraft {
            name: "Support bot".into(),
            examples: vec![Example {
                input: "How do I cancel?".into(),
                output: "Go to Settings > Billing.".into(),
            }],
            ..SpecDraft::default()
        }
    }

    fn fields(err: SpecError) -> Vec<String> {
        err.violations.into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_minimal_spec_is_valid_and_gets_the_default_base_model() {
        let spec = draft().validate().unwrap();
        assert_eq!(spec.base_model(), DEFAULT_BASE_MODEL);
        assert_eq!(spec.name(), "Support bot");
    }

    #[test]
    fn a_name_of_255_characters_is_accepted_and_256_is_refused() {
        let mut ok = draft();
        ok.name = "é".repeat(255);
        assert!(ok.validate().is_ok());
        let mut long = draft();
        long.name = "é".repeat(256);
        assert_eq!(fields(long.validate().unwrap_err()), ["name"]);
    }

    #[test]
    fn a_blank_name_is_refused() {
        let mut d = draft();
        d.name = "   ".into();
        let err = d.validate().unwrap_err();
        assert_eq!(fields(err.clone()), ["name"]);
        assert!(err.to_string().contains("1–255"));
    }

    #[test]
    fn fifty_guidelines_are_accepted_and_fifty_one_are_refused() {
        let mut d = draft();
        d.guidelines = vec!["be kind".into(); 50];
        d.constraints = vec!["no refunds".into(); 50];
        assert!(d.clone().validate().is_ok());
        d.guidelines.push("one more".into());
        d.constraints.push("one more".into());
        assert_eq!(fields(d.validate().unwrap_err()), ["guidelines", "constraints"]);
    }

    #[test]
    fn examples_must_number_between_one_and_five_hundred() {
        let mut none = draft();
        none.examples.clear();
        assert_eq!(fields(none.validate().unwrap_err()), ["examples"]);
        let mut many = draft();
        many.examples =
            (0..501).map(|i| Example { input: format!("q{i}"), output: "a".into() }).collect();
        assert_eq!(fields(many.clone().validate().unwrap_err()), ["examples"]);
        many.examples.pop();
        assert!(many.validate().is_ok());
    }

    #[test]
    fn every_broken_rule_is_reported_with_its_field() {
        let mut d = draft();
        d.name = String::new();
        d.examples.push(Example { input: " ".into(), output: String::new() });
        d.base_model = Some(" ".into());
        assert_eq!(
            fields(d.validate().unwrap_err()),
            ["name", "examples[1].input", "examples[1].output", "base_model"]
        );
    }

    #[test]
    fn repeated_inputs_are_refused_because_they_would_share_a_key() {
        let mut d = draft();
        d.examples.push(Example { input: "How  do I\tcancel?".into(), output: "other".into() });
        let err = d.validate().unwrap_err();
        assert_eq!(fields(err.clone()), ["examples[1].input"]);
        assert!(err.to_string().contains("examples[0]"));
    }

    #[test]
    fn the_example_key_ignores_output_edits_and_whitespace() {
        let a = Example { input: "How do I cancel?".into(), output: "x".into() };
        let b = Example { input: " How do  I cancel? ".into(), output: "y".into() };
        let c = Example { input: "How do I pay?".into(), output: "x".into() };
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        assert!(a.key().as_str().starts_with("ex_"));
        assert_eq!(a.key().as_str().len(), 19);
    }

    #[test]
    fn deserialising_content_goes_through_validation() {
        let bad = serde_json::json!({"name": "", "examples": []});
        assert!(serde_json::from_value::<SpecContent>(bad).is_err());
        let good = serde_json::json!({"name": "n", "examples": [{"input": "i", "output": "o"}]});
        assert_eq!(serde_json::from_value::<SpecContent>(good).unwrap().name(), "n");
    }

    #[test]
    fn a_patch_changes_only_the_given_fields_and_is_validated() {
        let spec = draft().validate().unwrap();
        let renamed =
            spec.patched(SpecPatch { name: Some("New".into()), ..SpecPatch::default() }).unwrap();
        assert_eq!(renamed.name(), "New");
        assert_eq!(renamed.examples(), spec.examples());
        assert!(
            spec.patched(SpecPatch { examples: Some(vec![]), ..SpecPatch::default() }).is_err()
        );
    }

    /// Short texts, blanks, and texts just over each length limit.
    fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            6 => "\\PC{0,12}",
            2 => "\\s{0,3}",
            1 => Just("n".repeat(MAX_NAME_CHARS + 1)),
            1 => Just("t".repeat(MAX_TEXT_CHARS + 1)),
        ]
    }

    fn any_draft() -> impl proptest::strategy::Strategy<Value = SpecDraft> {
        use proptest::collection::vec;
        use proptest::prelude::*;
        let example =
            (any_text(), any_text()).prop_map(|(input, output)| Example { input, output });
        (
            (any_text(), any_text(), any_text()),
            vec(any_text(), 0..=MAX_LIST_ITEMS + 1),
            vec(any_text(), 0..3),
            vec(example, 0..6),
            proptest::option::of(any_text()),
        )
            .prop_map(
                |(
                    (name, description, system_prompt),
                    guidelines,
                    constraints,
                    examples,
                    base_model,
                )| {
                    SpecDraft {
                        name,
                        description,
                        system_prompt,
                        guidelines,
                        constraints,
                        examples,
                        base_model,
                    }
                },
            )
    }

    /// Whether `field` names a part of `draft`: a top-level field, or an item of a list
    /// (with `.input`/`.output` for examples) whose index exists.
    fn names_a_field_of(field: &str, draft: &SpecDraft) -> bool {
        const TOP: [&str; 7] = [
            "name",
            "description",
            "system_prompt",
            "guidelines",
            "constraints",
            "examples",
            "base_model",
        ];
        if TOP.contains(&field) {
            return true;
        }
        let Some((list, rest)) = field.split_once('[') else { return false };
        let Some((index, tail)) = rest.split_once(']') else { return false };
        let Ok(index) = index.parse::<usize>() else { return false };
        match (list, tail) {
            ("guidelines", "") => index < draft.guidelines.len(),
            ("constraints", "") => index < draft.constraints.len(),
            ("examples", ".input" | ".output") => index < draft.examples.len(),
            _ => false,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(256))]
        #[test]
        fn validation_never_panics_and_every_violation_names_a_field(draft in any_draft()) {
            match draft.clone().validate() {
                Ok(content) => {
                    proptest::prop_assert!(!content.name().is_empty());
                    proptest::prop_assert_eq!(content.to_draft().validate(), Ok(content));
                }
                Err(err) => {
                    proptest::prop_assert!(!err.violations.is_empty());
                    for violation in &err.violations {
                        proptest::prop_assert!(
                            names_a_field_of(&violation.field, &draft),
                            "`{}` is not a field of the draft", violation.field
                        );
                        proptest::prop_assert!(!violation.rule.is_empty());
                    }
                }
            }
        }
    }
}
