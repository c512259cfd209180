//! Fixtures shared by this crate's unit tests.

use tt_domain::{Example, SpecContent, SpecDraft};

use crate::traits::ChatResponse;

/// A support-bot spec with the given example inputs (outputs are derived from them).
pub(crate) fn spec_with_inputs(inputs: &[&str]) -> SpecContent {
    SpecDraft {
        name: "support bot".into(),
        system_prompt: "You are a concise support agent.".into(),
        guidelines: vec!["Mention the Settings page when relevant.".into()],
        constraints: vec!["Never promise refunds.".into()],
        examples: inputs
            .iter()
            .map(|input| Example {
                input: (*input).to_owned(),
                output: format!("Answer to: {input}"),
            })
            .collect(),
        ..SpecDraft::default()
    }
    .validate()
    .expect("the fixture spec is valid")
}

/// A completion with `content`.
pub(crate) fn reply(content: &str) -> ChatResponse {
    ChatResponse { content: content.to_owned(), latency_ms: 5, completion_tokens: None }
}
