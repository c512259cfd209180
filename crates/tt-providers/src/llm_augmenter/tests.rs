use std::sync::Arc;

use super::*;
use crate::test_support::{reply, spec_with_inputs};
use crate::traits::MockInference;

fn augmenter_with(inference: MockInference) -> LlmAugmenter {
    LlmAugmenter::new(Arc::new(inference), "writer-model").with_concurrency(2)
}

fn examples_json(pairs: &[(&str, &str)]) -> String {
    let items: Vec<Value> =
        pairs.iter().map(|(i, o)| serde_json::json!({"input": i, "output": o})).collect();
    serde_json::json!({ "examples": items }).to_string()
}

#[test]
fn examples_are_read_from_fenced_objects_and_bare_arrays_skipping_bad_items() {
    let fenced = format!("Sure:\n```json\n{}\n```", examples_json(&[("a", "b"), ("", "x")]));
    assert_eq!(
        parse_examples(&fenced).unwrap(),
        [Example { input: "a".into(), output: "b".into() }]
    );
    let bare = r#"[{"input": " c ", "output": "d", "note": 1}, {"input": 3, "output": "e"}]"#;
    assert_eq!(parse_examples(bare).unwrap(), [Example { input: "c".into(), output: "d".into() }]);
    assert_eq!(parse_examples(r#"{"examples": []}"#).unwrap(), []);
}

#[test]
fn replies_without_usable_examples_are_unreadable() {
    assert_eq!(
        parse_examples("Here are some ideas: ask nicely.").unwrap_err(),
        "no JSON list of examples"
    );
    assert!(
        parse_examples(r#"{"examples": [{"input": "x"}]}"#)
            .unwrap_err()
            .starts_with("none of the 1 items")
    );
}

#[tokio::test]
async fn rewrites_are_deduplicated_stripped_of_evaluation_inputs_and_capped() {
    let spec = spec_with_inputs(&["How do I reset my password?", "Where is my invoice?"]);
    let mut inference = MockInference::new();
    inference
        .expect_complete()
        .withf(|request| {
            request.model == "writer-model"
                && request.messages[1].content.contains("Write 3 new examples")
        })
        .times(2)
        .returning(|request| {
            let user = &request.messages[1].content;
            Ok(reply(&if user.contains("reset my password") {
                examples_json(&[
                    ("how do i reset my password", "eval input after normalising: dropped"),
                    ("How do I  reset my password?", "eval input by ExampleKey: dropped"),
                    ("I forgot my password", "kept 1"),
                    ("i forgot my password!", "duplicate after normalising: dropped"),
                    ("Password reset, how?", "kept 2"),
                ])
            } else {
                examples_json(&[
                    ("Where can I find invoices?", "kept 3"),
                    ("Invoice location?", "kept 4"),
                    ("x", "over the cap"),
                ])
            }))
        });
    let rows = augmenter_with(inference).augment(&spec, 5, 0).await.unwrap();
    let outputs: Vec<&str> = rows.iter().map(|row| row.output.as_str()).collect();
    assert_eq!(outputs, ["kept 1", "kept 2", "kept 3", "kept 4", "over the cap"]);
    let rows_capped = {
        let mut inference = MockInference::new();
        inference
            .expect_complete()
            .times(1)
            .returning(|_| Ok(reply(&examples_json(&[("a", "1"), ("b", "2")]))));
        augmenter_with(inference).augment(&spec_with_inputs(&["q"]), 1, 0).await.unwrap()
    };
    assert_eq!(rows_capped, [Example { input: "a".into(), output: "1".into() }]);
}

#[tokio::test]
async fn asking_for_nothing_makes_no_call() {
    let mut inference = MockInference::new();
    inference.expect_complete().never();
    assert!(
        augmenter_with(inference)
            .augment(&spec_with_inputs(&["q"]), 0, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_malformed_reply_is_retried_once_then_is_an_invalid_response() {
    let mut inference = MockInference::new();
    let mut seq = mockall::Sequence::new();
    inference
        .expect_complete()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(reply("I can't do JSON today")));
    inference
        .expect_complete()
        .withf(|request| {
            request.messages.len() == 4
                && request.messages[3].content.contains("no JSON list of examples")
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(reply(r#"{"examples": "soon"}"#)));
    let err = augmenter_with(inference).augment(&spec_with_inputs(&["q"]), 3, 0).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn a_malformed_reply_followed_by_a_good_one_succeeds() {
    let mut inference = MockInference::new();
    let mut seq = mockall::Sequence::new();
    inference
        .expect_complete()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(reply("{\"examples\": [")));
    inference
        .expect_complete()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(reply(&examples_json(&[("new question", "new answer")]))));
    let rows = augmenter_with(inference).augment(&spec_with_inputs(&["q"]), 3, 0).await.unwrap();
    assert_eq!(rows, [Example { input: "new question".into(), output: "new answer".into() }]);
}

#[tokio::test]
async fn a_transient_error_propagates() {
    let mut inference = MockInference::new();
    inference
        .expect_complete()
        .returning(|_| Err(ProviderError::Server { status: 503, message: "overloaded".into() }));
    let err =
        augmenter_with(inference).augment(&spec_with_inputs(&["q", "r"]), 4, 0).await.unwrap_err();
    assert_eq!(err, ProviderError::Server { status: 503, message: "overloaded".into() });
}
