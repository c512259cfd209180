//! [`LlmAugmenter`]: an LLM writes varied rewrites of each spec example.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, stream};
use serde_json::Value;
use tt_domain::{ChatMessage, ChatRole, Example, ExampleKey, SpecContent, system_message};

use crate::error::ProviderError;
use crate::json_reply::find_json;
use crate::llm_judge::quote;
use crate::text::normalise;
use crate::traits::{Augmenter, ChatRequest, Inference};

/// The most rewrites asked for in one call; longer replies get truncated or sloppy.
const MAX_PER_CALL: usize = 10;
/// Calls in flight at once, by default.
const DEFAULT_CONCURRENCY: usize = 4;
/// Variety matters more than precision when rewriting.
const AUGMENT_TEMPERATURE: f32 = 0.9;
/// Room for ten short input/output pairs.
const AUGMENT_MAX_TOKENS: u32 = 4_000;

const INSTRUCTIONS: &str = "\
You write training data for fine-tuning a chat model to follow a behaviour spec. \
Given one example, you write new examples that a real user might send, each with the answer \
the model should give.

- Vary the inputs: wording, length, tone, formality, typos, and the details of the request.
- Each output must answer its own input and follow the spec's guidelines and constraints, in \
the style of the example's output.
- Never repeat the example's input.

Reply with only a JSON object, no other text:
{\"examples\": [{\"input\": \"...\", \"output\": \"...\"}]}";

/// Makes new training examples by asking an LLM, through any [`Inference`], for varied
/// rewrites of each spec example (one call per example, a few in flight at once).
///
/// The replies are read tolerantly (code fences and text around the JSON are ignored, as is
/// a bare array of examples; items without a non-empty `input` and `output` are skipped).
/// Duplicates after normalising case, spacing and surrounding punctuation are removed, as is
/// every row whose input repeats a spec example's input (those are the evaluation inputs):
/// same [`ExampleKey`], or the same input after that normalisation. The result is capped at
/// `max_new`, taken in spec order.
///
/// An unreadable reply is retried once, then fails as [`ProviderError::InvalidResponse`];
/// transient inference errors propagate. The `seed` is not used: chat requests carry no
/// seed, so an LLM's rewrites are not reproducible.
#[derive(Clone)]
pub struct LlmAugmenter {
    inference: Arc<dyn Inference>,
    model: String,
    concurrency: usize,
}

impl LlmAugmenter {
    /// An augmenter that asks `model` through `inference`, four calls at a time.
    pub fn new(inference: Arc<dyn Inference>, model: impl Into<String>) -> Self {
        Self { inference, model: model.into(), concurrency: DEFAULT_CONCURRENCY }
    }

    /// The same augmenter with at most `concurrency` calls in flight (at least one).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Asks for `count` rewrites of `example`; one retry when the reply is unreadable.
    async fn rewrites(
        &self,
        spec: &SpecContent,
        example: &Example,
        count: usize,
    ) -> Result<Vec<Example>, ProviderError> {
        let mut request = ChatRequest {
            model: self.model.clone(),
            messages: augment_messages(spec, example, count),
            max_tokens: Some(AUGMENT_MAX_TOKENS),
            temperature: Some(AUGMENT_TEMPERATURE),
        };
        let first = self.inference.complete(&request).await?;
        let problem = match parse_examples(&first.content) {
            Ok(examples) => return Ok(examples),
            Err(problem) => problem,
        };
        tracing::debug!(problem, "the augmenter's reply was unreadable; asking again");
        request.messages.push(ChatMessage { role: ChatRole::Assistant, content: first.content });
        request.messages.push(ChatMessage {
            role: ChatRole::User,
            content: format!(
                "That reply could not be read ({problem}). Reply with only a JSON object such as \
                 {{\"examples\": [{{\"input\": \"...\", \"output\": \"...\"}}]}}."
            ),
        });
        let second = self.inference.complete(&request).await?;
        parse_examples(&second.content).map_err(|problem| ProviderError::InvalidResponse {
            message: format!(
                "the augmenter's reply has no examples ({problem}), twice; last reply: {}",
                quote(&second.content)
            ),
        })
    }
}

impl std::fmt::Debug for LlmAugmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmAugmenter")
            .field("model", &self.model)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

fn augment_messages(spec: &SpecContent, example: &Example, count: usize) -> Vec<ChatMessage> {
    let spec_text = system_message(spec)
        .unwrap_or_else(|| "(no system prompt, guidelines or constraints)".into());
    let user = format!(
        "<behaviour_spec>\n{spec_text}\n</behaviour_spec>\n\n<example_input>\n{}\n</example_input>\n\n\
         <example_output>\n{}\n</example_output>\n\nWrite {count} new examples. Reply with only the JSON object.",
        example.input.trim(),
        example.output.trim(),
    );
    vec![
        ChatMessage { role: ChatRole::System, content: INSTRUCTIONS.to_owned() },
        ChatMessage { role: ChatRole::User, content: user },
    ]
}

/// The examples in a reply: `{"examples": [...]}` or a bare `[...]`, skipping items without a
/// non-empty string `input` and `output`. An error says why the reply is unreadable: no such
/// list, or a non-empty list with no usable item.
fn parse_examples(text: &str) -> Result<Vec<Example>, String> {
    let items = find_json(text, |value| match value {
        Value::Array(items) => Some(items),
        Value::Object(mut object) => match object.remove("examples") {
            Some(Value::Array(items)) => Some(items),
            _ => None,
        },
        _ => None,
    })
    .ok_or_else(|| "no JSON list of examples".to_owned())?;
    let n_items = items.len();
    let examples: Vec<Example> = items
        .into_iter()
        .filter_map(|item| {
            let text_of = |name: &str| {
                item.get(name).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty())
            };
            Some(Example {
                input: text_of("input")?.to_owned(),
                output: text_of("output")?.to_owned(),
            })
        })
        .collect();
    if examples.is_empty() && n_items > 0 {
        return Err(format!(
            "none of the {n_items} items has a non-empty \"input\" and \"output\""
        ));
    }
    Ok(examples)
}

#[async_trait]
impl Augmenter for LlmAugmenter {
    async fn augment(
        &self,
        spec: &SpecContent,
        max_new: usize,
        _seed: u64,
    ) -> Result<Vec<Example>, ProviderError> {
        let examples = spec.examples();
        if max_new == 0 || examples.is_empty() {
            return Ok(Vec::new());
        }
        let per_example = max_new.div_ceil(examples.len()).min(MAX_PER_CALL);
        let eval_keys: HashSet<ExampleKey> = examples.iter().map(Example::key).collect();
        let mut seen: HashSet<String> = examples.iter().map(|e| normalise(&e.input)).collect();

        // `buffered` keeps spec order, so the result does not depend on which call ends first;
        // dropping the stream once enough rows are in cancels the calls still running.
        // The calls are built up front (futures do nothing until polled): a closure inside
        // the stream would make the future not `Send` under `async_trait`.
        let calls: Vec<_> =
            examples.iter().map(|example| self.rewrites(spec, example, per_example)).collect();
        let mut replies = stream::iter(calls).buffered(self.concurrency);
        let mut out = Vec::with_capacity(max_new);
        while let Some(reply) = replies.next().await {
            for candidate in reply? {
                if out.len() == max_new {
                    break;
                }
                if !eval_keys.contains(&candidate.key()) && seen.insert(normalise(&candidate.input))
                {
                    out.push(candidate);
                }
            }
            if out.len() == max_new {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
