use std::sync::Arc;

use proptest::prelude::*;
use tt_domain::ChatRole;

use super::*;
use crate::test_support::{reply, spec_with_inputs};
use crate::traits::MockInference;

fn case(expected: &str, actual: &str) -> JudgeCase {
    JudgeCase {
        prompt: "How do I get a refund?".into(),
        expected: expected.into(),
        actual: actual.into(),
    }
}

fn judge_with(inference: MockInference) -> LlmJudge {
    LlmJudge::new(Arc::new(inference), "judge-model")
}

#[test]
fn a_plain_json_verdict_is_read() {
    let verdict = parse_verdict(r#"{"score": 0.8, "reasoning": "close"}"#).unwrap();
    assert_eq!(verdict, Verdict { score: 0.8, reasoning: "close".into() });
}

#[test]
fn a_verdict_inside_code_fences_and_prose_is_read() {
    let text = "Here is my evaluation:\n```json\n{\n  \"Score\": \"0.4\",\n  \"reasoning\": \"misses the refund step\"\n}\n```\nLet me know!";
    let verdict = parse_verdict(text).unwrap();
    assert_eq!(verdict, Verdict { score: 0.4, reasoning: "misses the refund step".into() });
}

#[test]
fn explicit_scales_are_converted_and_bare_numbers_are_not() {
    assert_eq!(parse_verdict(r#"{"score": "85%"}"#).unwrap().score, 0.85);
    assert_eq!(parse_verdict(r#"{"score": "8/10"}"#).unwrap().score, 0.8);
    assert_eq!(parse_verdict(r#"{"score": 8}"#), Err(VerdictError::OutOfRange(8.0)));
    assert_eq!(parse_verdict(r#"{"score": 85}"#), Err(VerdictError::OutOfRange(85.0)));
}

#[test]
fn float_noise_outside_the_range_is_clamped_and_absurd_scores_are_refused() {
    assert_eq!(parse_verdict(r#"{"score": 1.0000001}"#).unwrap().score, 1.0);
    assert_eq!(parse_verdict(r#"{"score": -0.0000001}"#).unwrap().score, 0.0);
    assert_eq!(parse_verdict(r#"{"score": 1.5}"#), Err(VerdictError::OutOfRange(1.5)));
    assert_eq!(parse_verdict(r#"{"score": -2}"#), Err(VerdictError::OutOfRange(-2.0)));
}

#[test]
fn replies_without_a_usable_score_are_errors_that_say_why() {
    assert_eq!(parse_verdict("I think it is fine."), Err(VerdictError::NoVerdict));
    assert_eq!(parse_verdict(r#"{"reasoning": "no score"}"#), Err(VerdictError::NoVerdict));
    assert_eq!(
        parse_verdict(r#"{"score": "high"}"#),
        Err(VerdictError::NotANumber("\"high\"".into()))
    );
    assert_eq!(parse_verdict(r#"{"score": null}"#), Err(VerdictError::NotANumber("null".into())));
}

#[test]
fn a_missing_reasoning_is_empty_and_a_later_good_object_wins() {
    let verdict = parse_verdict(r#"{"score": "bad"} {"score": 0.25}"#).unwrap();
    assert_eq!(verdict, Verdict { score: 0.25, reasoning: String::new() });
}

proptest! {
    #[test]
    fn parse_verdict_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_verdict(&text);
    }

    #[test]
    fn parse_verdict_never_panics_on_json_like_text(text in r#"[{}\[\]"a-z0-9:.,% /\-]{0,80}"#) {
        if let Ok(verdict) = parse_verdict(&text) {
            prop_assert!((0.0..=1.0).contains(&verdict.score));
        }
    }

    #[test]
    fn every_in_range_score_round_trips(score in 0.0f64..=1.0) {
        let verdict = parse_verdict(&format!(r#"{{"score": {score}, "reasoning": "r"}}"#)).unwrap();
        prop_assert!((verdict.score - score).abs() < 1e-12);
    }
}

#[tokio::test]
async fn an_answer_identical_to_the_expected_scores_one_without_a_call() {
    let mut inference = MockInference::new();
    inference.expect_complete().never();
    let verdict = judge_with(inference)
        .judge(&spec_with_inputs(&["q"]), &case("Yes.", "  Yes.\n"))
        .await
        .unwrap();
    assert_eq!(verdict.score, 1.0);
}

#[tokio::test]
async fn the_rubric_prompt_carries_the_spec_and_the_case() {
    let mut inference = MockInference::new();
    inference
        .expect_complete()
        .withf(|request| {
            let user = &request.messages[1].content;
            request.model == "judge-model"
                && request.temperature == Some(0.0)
                && request.messages[0].role == ChatRole::System
                && request.messages[0].content.contains("\"score\"")
                && user.contains("You are a concise support agent.")
                && user.contains("- Mention the Settings page when relevant.")
                && user.contains("- Never promise refunds.")
                && user.contains("<input>\nHow do I get a refund?\n</input>")
                && user.contains("<expected_output>\nOpen Settings.\n</expected_output>")
                && user.contains("<model_answer>\nAsk support.\n</model_answer>")
        })
        .times(1)
        .returning(|_| Ok(reply(r#"{"score": 0.3, "reasoning": "wrong place"}"#)));
    let judge = judge_with(inference);
    let verdict = judge
        .judge(&spec_with_inputs(&["q"]), &case("Open Settings.", "Ask support."))
        .await
        .unwrap();
    assert_eq!(verdict, Verdict { score: 0.3, reasoning: "wrong place".into() });
    assert_eq!(judge.scoring_method(), ScoringMethod::LlmJudge);
}

#[tokio::test]
async fn a_malformed_reply_is_retried_once_with_the_problem_explained() {
    let mut inference = MockInference::new();
    let mut seq = mockall::Sequence::new();
    inference
        .expect_complete()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(reply("Score: very good")));
    inference
        .expect_complete()
        .withf(|request| {
            request.messages.len() == 4
                && request.messages[2].content == "Score: very good"
                && request.messages[3].content.contains("no JSON object with a \"score\" field")
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(reply(r#"{"score": 0.9, "reasoning": "fine"}"#)));
    let verdict =
        judge_with(inference).judge(&spec_with_inputs(&["q"]), &case("a", "b")).await.unwrap();
    assert_eq!(verdict.score, 0.9);
}

#[tokio::test]
async fn two_malformed_replies_are_an_invalid_response() {
    let mut inference = MockInference::new();
    inference.expect_complete().times(2).returning(|_| Ok(reply(r#"{"score": 7}"#)));
    let err =
        judge_with(inference).judge(&spec_with_inputs(&["q"]), &case("a", "b")).await.unwrap_err();
    let ProviderError::InvalidResponse { message } = err else {
        panic!("expected an invalid response, got {err:?}")
    };
    assert!(message.contains("the score 7 is outside 0–1"), "{message}");
}

#[tokio::test]
async fn a_transient_inference_error_propagates_without_a_retry() {
    let mut inference = MockInference::new();
    inference
        .expect_complete()
        .times(1)
        .returning(|_| Err(ProviderError::RateLimited { retry_after: None }));
    let err =
        judge_with(inference).judge(&spec_with_inputs(&["q"]), &case("a", "b")).await.unwrap_err();
    assert_eq!(err, ProviderError::RateLimited { retry_after: None });
}
