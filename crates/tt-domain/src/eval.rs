//! Eval-summary maths: pass and exact-match rates, averages, and the comparison with the
//! previous run example by example.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::spec::ExampleKey;

/// A score at or above this passes.
pub const PASS_THRESHOLD: f64 = 0.7;
/// A score at or above this counts as an exact match.
pub const EXACT_MATCH_THRESHOLD: f64 = 0.95;
/// A change of at least this much between runs is a regression or an improvement.
pub const CHANGE_THRESHOLD: f64 = 0.1;

/// Scores are decimals computed in binary floating point: `0.8 - 0.7` is `0.09999…98`.
/// Comparisons allow this much slack so that a change of exactly 0.1 counts.
const EPSILON: f64 = 1e-9;

fn at_least(value: f64, threshold: f64) -> bool {
    value >= threshold - EPSILON
}

/// How answers were scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoringMethod {
    /// An LLM judged each answer against the expected one.
    LlmJudge,
    /// The offline similarity judge compared the texts.
    Similarity,
}

impl ScoringMethod {
    /// The name used in the API and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LlmJudge => "llm_judge",
            Self::Similarity => "similarity",
        }
    }
}

/// Whether a score passes.
pub fn passes(score: f64) -> bool {
    at_least(score, PASS_THRESHOLD)
}

/// One example's outcome, as the summary needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleScore {
    /// The example's stable key.
    pub key: ExampleKey,
    /// The score in 0–1, or `None` when the judge failed on this example.
    pub score: Option<f64>,
    /// Inference latency in milliseconds.
    pub latency_ms: u64,
}

/// One evaluated example, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// The example's stable key.
    pub example_key: ExampleKey,
    /// The input sent to the model.
    pub prompt: String,
    /// The expected output.
    pub expected: String,
    /// What the model answered.
    pub actual: String,
    /// The score in 0–1 (0 when the judge failed).
    pub score: f64,
    /// Whether the score passes.
    pub passed: bool,
    /// The judge's explanation, or what went wrong with the judge.
    pub reasoning: String,
    /// Inference latency in milliseconds.
    pub latency_ms: u64,
    /// Set when the judge could not score this example.
    pub judge_error: Option<String>,
}

impl EvalResult {
    /// The summary's view of this result.
    pub fn to_score(&self) -> ExampleScore {
        ExampleScore {
            key: self.example_key.clone(),
            score: if self.judge_error.is_some() { None } else { Some(self.score) },
            latency_ms: self.latency_ms,
        }
    }
}

/// A run's eval summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Examples evaluated.
    pub total: u32,
    /// Mean score over the scored examples (0 when none).
    pub avg_score: f64,
    /// Fraction of all examples that passed (score ≥ 0.7).
    pub pass_rate: f64,
    /// Fraction of all examples that scored ≥ 0.95.
    pub exact_match_rate: f64,
    /// Mean inference latency in milliseconds.
    pub avg_latency_ms: f64,
    /// How answers were scored.
    pub scoring_method: ScoringMethod,
    /// Examples that scored at least 0.1 worse than in the previous run.
    pub regressions: u32,
    /// Examples that scored at least 0.1 better than in the previous run.
    pub improvements: u32,
    /// Examples the judge could not score.
    #[serde(default)]
    pub judge_errors: u32,
}

/// Summarises `current`, comparing it with `previous` (the last completed run of the same
/// spec) by example key. An example absent from the previous run, or unscored in either,
/// is neither a regression nor an improvement. An empty input gives an all-zero summary.
pub fn summarize(
    current: &[ExampleScore],
    previous: &[ExampleScore],
    method: ScoringMethod,
) -> EvalSummary {
    let total = current.len();
    let scored: Vec<f64> = current.iter().filter_map(|e| e.score).collect();
    let fraction = |count: usize| if total == 0 { 0.0 } else { count as f64 / total as f64 };
    let mean = |sum: f64, n: usize| if n == 0 { 0.0 } else { sum / n as f64 };

    let before: HashMap<&ExampleKey, f64> =
        previous.iter().filter_map(|e| e.score.map(|score| (&e.key, score))).collect();
    let mut regressions = 0;
    let mut improvements = 0;
    for example in current {
        let (Some(now), Some(&then)) = (example.score, before.get(&example.key)) else { continue };
        if at_least(then - now, CHANGE_THRESHOLD) {
            regressions += 1;
        } else if at_least(now - then, CHANGE_THRESHOLD) {
            improvements += 1;
        }
    }

    EvalSummary {
        total: u32::try_from(total).expect("a spec has at most 500 examples"),
        avg_score: mean(scored.iter().sum(), scored.len()),
        pass_rate: fraction(scored.iter().filter(|s| passes(**s)).count()),
        exact_match_rate: fraction(
            scored.iter().filter(|s| at_least(**s, EXACT_MATCH_THRESHOLD)).count(),
        ),
        avg_latency_ms: mean(current.iter().map(|e| e.latency_ms as f64).sum(), total),
        scoring_method: method,
        regressions,
        improvements,
        judge_errors: u32::try_from(total - scored.len()).expect("a spec has at most 500 examples"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(input: &str, score: f64) -> ExampleScore {
        ExampleScore { key: ExampleKey::of_input(input), score: Some(score), latency_ms: 100 }
    }

    #[test]
    fn an_empty_run_has_an_explicit_zero_summary() {
        let s = summarize(&[], &[], ScoringMethod::Similarity);
        assert_eq!(s.total, 0);
        for value in [s.avg_score, s.pass_rate, s.exact_match_rate, s.avg_latency_ms] {
            assert_eq!(value, 0.0);
        }
    }

    #[test]
    fn the_pass_threshold_is_inclusive_at_point_seven() {
        let s = summarize(
            &[ex("a", 0.7), ex("b", 0.6999), ex("c", 0.1 * 7.0)],
            &[],
            ScoringMethod::LlmJudge,
        );
        assert_eq!(s.pass_rate, 2.0 / 3.0);
    }

    #[test]
    fn the_exact_match_threshold_is_inclusive_at_point_ninety_five() {
        let s = summarize(
            &[ex("a", 0.95), ex("b", 0.9499), ex("c", 1.0), ex("d", 0.05 * 19.0)],
            &[],
            ScoringMethod::LlmJudge,
        );
        assert_eq!(s.exact_match_rate, 0.75);
    }

    #[test]
    fn a_change_of_exactly_point_one_counts_despite_floating_point_error() {
        // 0.8 - 0.7 and 0.7 - 0.6 are not exactly 0.1 in binary floating point.
        let previous = [ex("up", 0.6), ex("down", 0.8), ex("same", 0.5), ex("small", 0.5)];
        let current = [ex("up", 0.7), ex("down", 0.7), ex("same", 0.5), ex("small", 0.5999)];
        let s = summarize(&current, &previous, ScoringMethod::LlmJudge);
        assert_eq!((s.regressions, s.improvements), (1, 1));
    }

    #[test]
    fn an_example_without_a_previous_score_is_neither_regression_nor_improvement() {
        let unscored = ExampleScore { key: ExampleKey::of_input("b"), score: None, latency_ms: 0 };
        let s = summarize(&[ex("a", 1.0), ex("b", 0.0)], &[unscored], ScoringMethod::LlmJudge);
        assert_eq!((s.regressions, s.improvements), (0, 0));
    }

    #[test]
    fn judge_errors_are_counted_and_not_averaged() {
        let unscored =
            ExampleScore { key: ExampleKey::of_input("b"), score: None, latency_ms: 300 };
        let s = summarize(&[ex("a", 0.8), unscored], &[], ScoringMethod::LlmJudge);
        assert_eq!(s.judge_errors, 1);
        assert_eq!(s.avg_score, 0.8);
        assert_eq!(s.pass_rate, 0.5);
        assert_eq!(s.avg_latency_ms, 200.0);
    }

    #[test]
    fn the_summary_serialises_with_the_seed_field_names() {
        let s = summarize(&[ex("a", 1.0)], &[], ScoringMethod::LlmJudge);
        let json = serde_json::to_value(&s).unwrap();
        for field in [
            "total",
            "avg_score",
            "pass_rate",
            "exact_match_rate",
            "avg_latency_ms",
            "regressions",
            "improvements",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
        assert_eq!(json["scoring_method"], "llm_judge");
    }

    proptest::proptest! {
        #[test]
        fn the_summary_does_not_depend_on_input_order(scores in proptest::collection::vec(0.0f64..=1.0, 0..40), rotate in 0usize..40) {
            let current: Vec<ExampleScore> = scores.iter().enumerate().map(|(i, s)| ex(&format!("q{i}"), *s)).collect();
            let previous: Vec<ExampleScore> = scores.iter().enumerate().map(|(i, s)| ex(&format!("q{i}"), 1.0 - s)).collect();
            let mut shuffled = current.clone();
            shuffled.reverse();
            if !shuffled.is_empty() {
                let by = rotate % shuffled.len();
                shuffled.rotate_left(by);
            }
            let a = summarize(&current, &previous, ScoringMethod::Similarity);
            let b = summarize(&shuffled, &previous, ScoringMethod::Similarity);
            proptest::prop_assert_eq!((a.total, a.regressions, a.improvements), (b.total, b.regressions, b.improvements));
            proptest::prop_assert!((a.avg_score - b.avg_score).abs() < 1e-12);
            proptest::prop_assert_eq!(a.pass_rate, b.pass_rate);
            proptest::prop_assert!(a.avg_score >= 0.0 && a.avg_score <= 1.0 + 1e-12);
        }
    }
}
