//! Spec → training data: chat-format JSONL rows as Together accepts them, the checker for
//! user-supplied JSONL files, and token counting.

use serde::{Deserialize, Serialize};

use crate::spec::{Example, SpecContent};

/// How many augmented variants each example aims for when augmentation is on.
pub const VARIANTS_PER_EXAMPLE: usize = 4;
/// The most rows a compiled (and augmented) dataset may have.
pub const MAX_TRAINING_ROWS: usize = 5_000;

/// The rows an augmented dataset aims for: each example plus its variants, capped.
pub fn augmented_row_target(n_examples: usize) -> usize {
    (n_examples * (1 + VARIANTS_PER_EXAMPLE)).min(MAX_TRAINING_ROWS.max(n_examples))
}

/// A chat role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The user's turn.
    User,
    /// The model's turn (trained on).
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: ChatRole,
    /// What is said.
    pub content: String,
}

/// One training row in Together's conversation format: `{"messages": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRow {
    /// The conversation, ending with the assistant's answer.
    pub messages: Vec<ChatMessage>,
}

/// Whether a dataset passed the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetStatus {
    /// Every line is a valid row.
    Validated,
    /// At least one line is not.
    Invalid,
}

impl DatasetStatus {
    /// The name used in the API and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validated => "validated",
            Self::Invalid => "invalid",
        }
    }
}

/// The system message of a spec: its prompt, then its guidelines and constraints as lists.
/// `None` when the spec has none of the three.
pub fn system_message(spec: &SpecContent) -> Option<String> {
    let mut parts = Vec::new();
    if !spec.system_prompt().trim().is_empty() {
        parts.push(spec.system_prompt().trim().to_owned());
    }
    for (title, items) in [("Guidelines", spec.guidelines()), ("Constraints", spec.constraints())] {
        if !items.is_empty() {
            let list: Vec<String> = items.iter().map(|item| format!("- {}", item.trim())).collect();
            parts.push(format!("{title}:\n{}", list.join("\n")));
        }
    }
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// The chat messages that ask the model to answer `input` under `spec`.
pub fn prompt_messages(spec: &SpecContent, input: &str) -> Vec<ChatMessage> {
    let mut messages = Vec::with_capacity(3);
    if let Some(system) = system_message(spec) {
        messages.push(ChatMessage { role: ChatRole::System, content: system });
    }
    messages.push(ChatMessage { role: ChatRole::User, content: input.to_owned() });
    messages
}

/// Compiles a spec's examples, followed by `extra` (augmented) examples, into training rows.
pub fn compile_spec(spec: &SpecContent, extra: &[Example]) -> Vec<ChatRow> {
    spec.examples()
        .iter()
        .chain(extra)
        .map(|example| {
            let mut messages = prompt_messages(spec, &example.input);
            messages
                .push(ChatMessage { role: ChatRole::Assistant, content: example.output.clone() });
            ChatRow { messages }
        })
        .collect()
}

/// Rows as JSONL: one JSON object per line, each line ending in `\n`.
pub fn rows_to_jsonl(rows: &[ChatRow]) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(&serde_json::to_string(row).expect("chat rows always serialise"));
        out.push('\n');
    }
    out
}

/// Tokens in `text`, counted with the `cl100k_base` encoding. Open models tokenise
/// differently, so for them this is an estimate; the provider's count is what is charged.
pub fn count_tokens(text: &str) -> u64 {
    tiktoken_rs::cl100k_base_singleton().encode_ordinary(text).len() as u64
}

/// One bad line of a JSONL file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonlIssue {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// The checker's verdict on a JSONL file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonlReport {
    /// Rows that are valid.
    pub valid_rows: Vec<ChatRow>,
    /// Every bad line, in order.
    pub issues: Vec<JsonlIssue>,
}

impl JsonlReport {
    /// `validated` when there are rows and no issues.
    pub fn status(&self) -> DatasetStatus {
        if self.issues.is_empty() && !self.valid_rows.is_empty() {
            DatasetStatus::Validated
        } else {
            DatasetStatus::Invalid
        }
    }
}

/// Checks a JSONL training file line by line against Together's conversation format:
/// every non-blank line a JSON object with only `messages`; roles `system`, `user` or
/// `assistant`; an optional first system message; then user and assistant alternating,
/// starting with user and with at least one assistant message; no empty content.
/// Every bad line is reported with its number and reason.
pub fn validate_jsonl(text: &str) -> JsonlReport {
    let mut report = JsonlReport { valid_rows: Vec::new(), issues: Vec::new() };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match check_line(line) {
            Ok(row) => report.valid_rows.push(row),
            Err(reason) => report.issues.push(JsonlIssue { line: index + 1, reason }),
        }
    }
    if report.valid_rows.is_empty() && report.issues.is_empty() {
        report.issues.push(JsonlIssue { line: 1, reason: "the file has no rows".to_owned() });
    }
    report
}

fn check_line(line: &str) -> Result<ChatRow, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|err| format!("not valid JSON: {err}"))?;
    let object = value.as_object().ok_or("expected a JSON object with a `messages` array")?;
    if let Some(extra) = object.keys().find(|key| *key != "messages") {
        return Err(format!("unexpected key `{extra}`; only `messages` is allowed"));
    }
    let row: ChatRow =
        serde_json::from_value(value.clone()).map_err(|err| format!("bad `messages`: {err}"))?;
    let mut expected_next = ChatRole::User;
    let mut has_assistant = false;
    for (i, message) in row.messages.iter().enumerate() {
        if message.content.trim().is_empty() {
            return Err(format!("messages[{i}] has empty content"));
        }
        match (i, message.role) {
            (0, ChatRole::System) => continue,
            (_, ChatRole::System) => {
                return Err(format!("messages[{i}] is a system message; only the first may be"));
            }
            (_, role) if role != expected_next => {
                return Err(format!("messages[{i}] should be {expected_next:?} (user and assistant must alternate, starting with user)").to_lowercase());
            }
            (_, ChatRole::User) => expected_next = ChatRole::Assistant,
            (_, ChatRole::Assistant) => {
                has_assistant = true;
                expected_next = ChatRole::User;
            }
        }
    }
    if row.messages.is_empty() {
        return Err("`messages` is empty".to_owned());
    }
    if !has_assistant {
        return Err("no assistant message to train on".to_owned());
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SpecDraft;

    fn spec() -> SpecContent {
        SpecDraft {
            name: "Bot".into(),
            system_prompt: "You are terse.".into(),
            guidelines: vec!["Be concise".into()],
            constraints: vec!["Never promise refunds".into()],
            examples: vec![Example { input: "Hi".into(), output: "Hello.".into() }],
            ..SpecDraft::default()
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn a_spec_compiles_to_system_user_assistant_rows() {
        let rows = compile_spec(&spec(), &[Example { input: "Hey".into(), output: "Hi.".into() }]);
        assert_eq!(rows.len(), 2);
        let jsonl = rows_to_jsonl(&rows);
        let first = jsonl.lines().next().unwrap();
        assert_eq!(
            first,
            r#"{"messages":[{"role":"system","content":"You are terse.\n\nGuidelines:\n- Be concise\n\nConstraints:\n- Never promise refunds"},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}]}"#
        );
        let report = validate_jsonl(&jsonl);
        assert_eq!(report.status(), DatasetStatus::Validated);
        assert_eq!(report.valid_rows, rows);
    }

    #[test]
    fn a_spec_without_instructions_has_no_system_message() {
        let bare = SpecDraft {
            name: "b".into(),
            examples: spec().examples().to_vec(),
            ..SpecDraft::default()
        }
        .validate()
        .unwrap();
        assert_eq!(compile_spec(&bare, &[])[0].messages[0].role, ChatRole::User);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let text = [
            r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#,
            "not json",
            r#"{"messages":[{"role":"user","content":"a"}]}"#,
            "",
            r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"id":1}"#,
            r#"{"messages":[{"role":"assistant","content":"a"}]}"#,
            r#"{"messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]}"#,
            r#"{"messages":[{"role":"user","content":""},{"role":"assistant","content":"b"}]}"#,
            "[1,2]",
        ]
        .join("\n");
        let report = validate_jsonl(&text);
        let lines: Vec<usize> = report.issues.iter().map(|i| i.line).collect();
        assert_eq!(lines, [2, 3, 5, 6, 7, 8, 9]);
        assert_eq!(report.valid_rows.len(), 1);
        assert_eq!(report.status(), DatasetStatus::Invalid);
        assert!(report.issues[1].reason.contains("no assistant"), "{:?}", report.issues[1]);
        assert!(report.issues[2].reason.contains("`id`"));
    }

    #[test]
    fn an_empty_file_is_invalid() {
        assert_eq!(validate_jsonl("\n\n").status(), DatasetStatus::Invalid);
    }

    #[test]
    fn tokens_are_counted_and_grow_with_text() {
        assert_eq!(count_tokens(""), 0);
        let short = count_tokens("hello world");
        assert!(short >= 2);
        assert!(count_tokens(&"hello world ".repeat(10)) > short);
    }

    #[test]
    fn the_augmented_target_is_five_rows_per_example_capped() {
        assert_eq!(augmented_row_target(6), 30);
        assert_eq!(augmented_row_target(2_000), MAX_TRAINING_ROWS);
    }

    proptest::proptest! {
        #[test]
        fn the_checker_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
            let report = validate_jsonl(&text);
            proptest::prop_assert!(report.issues.iter().all(|i| i.line >= 1));
        }
    }
}
