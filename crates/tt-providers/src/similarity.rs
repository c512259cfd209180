//! [`SimilarityJudge`]: the offline judge that compares texts without a model.

use std::collections::HashMap;

use async_trait::async_trait;
use tt_domain::{ScoringMethod, SpecContent};

use crate::error::ProviderError;
use crate::text::{normalise, tokens};
use crate::traits::{Judge, JudgeCase, Verdict};

/// Weight of token-level F1 in the blended score.
const F1_WEIGHT: f64 = 0.6;
/// Weight of character similarity (normalised Levenshtein) in the blended score.
const EDIT_WEIGHT: f64 = 0.4;
/// Levenshtein is quadratic; beyond this many characters per text only token F1 is used.
const MAX_EDIT_CHARS: usize = 2_000;
/// How many missing or extra words the reasoning names before summarising the rest.
const MAX_LISTED_TOKENS: usize = 5;

/// Scores an answer by how close its text is to the expected output.
///
/// - **Exact match**: both texts equal after [normalising](crate::text) case, whitespace
///   runs and punctuation at either end → 1.0.
/// - Otherwise the score is `0.6 × token F1 + 0.4 × character similarity`, where token F1 is
///   the harmonic mean of precision and recall of the answer's word multiset against the
///   expected one (CJK characters count as words), and character similarity is
///   `1 − levenshtein / max length` over the normalised texts, in `char`s. It is always
///   below 1.0. Texts over 2,000 characters use token F1 alone.
/// - An empty answer scores 0.0 (unless the expected output is empty too: 1.0).
///
/// The reasoning says what matched and what did not, e.g.
/// `token F1 0.62: missing 'refund', 'settings'; extra 'maybe'; character similarity 0.71`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimilarityJudge;

impl SimilarityJudge {
    /// Compares `actual` with `expected`.
    pub fn compare(expected: &str, actual: &str) -> Verdict {
        let (expected_empty, actual_empty) = (expected.trim().is_empty(), actual.trim().is_empty());
        if expected_empty || actual_empty {
            return match (expected_empty, actual_empty) {
                (true, true) => {
                    verdict(1.0, "both the answer and the expected output are empty".into())
                }
                (false, true) => verdict(0.0, "the answer is empty".into()),
                _ => verdict(0.0, "the expected output is empty but the answer is not".into()),
            };
        }
        let (expected_norm, actual_norm) = (normalise(expected), normalise(actual));
        if expected_norm == actual_norm {
            let how = if expected.trim() == actual.trim() {
                "exact match"
            } else {
                "exact match after normalising case, spacing and surrounding punctuation"
            };
            return verdict(1.0, how.into());
        }
        let overlap = TokenOverlap::of(&tokens(expected), &tokens(actual));
        let long = expected_norm.chars().count() > MAX_EDIT_CHARS
            || actual_norm.chars().count() > MAX_EDIT_CHARS;
        let (score, edit_note) = if long {
            (overlap.f1, "texts too long for character similarity; token F1 only".to_owned())
        } else {
            let edit = strsim::normalized_levenshtein(&expected_norm, &actual_norm);
            (F1_WEIGHT * overlap.f1 + EDIT_WEIGHT * edit, format!("character similarity {edit:.2}"))
        };
        verdict(score, format!("token F1 {:.2}: {}; {edit_note}", overlap.f1, overlap.describe()))
    }
}

fn verdict(score: f64, reasoning: String) -> Verdict {
    Verdict { score: score.clamp(0.0, 1.0), reasoning }
}

#[async_trait]
impl Judge for SimilarityJudge {
    fn scoring_method(&self) -> ScoringMethod {
        ScoringMethod::Similarity
    }

    async fn judge(&self, _spec: &SpecContent, case: &JudgeCase) -> Result<Verdict, ProviderError> {
        Ok(Self::compare(&case.expected, &case.actual))
    }
}

/// Word overlap of an answer with the expected output, as multisets.
struct TokenOverlap {
    f1: f64,
    /// Expected words the answer lacks, in the expected order, each once.
    missing: Vec<String>,
    /// Answer words the expected output lacks, in the answer's order, each once.
    extra: Vec<String>,
}

impl TokenOverlap {
    fn of(expected: &[String], actual: &[String]) -> Self {
        let missing = multiset_difference(expected, actual);
        let extra = multiset_difference(actual, expected);
        let common = expected.len() - missing.len();
        let f1 = if common == 0 {
            0.0
        } else {
            let precision = common as f64 / actual.len() as f64;
            let recall = common as f64 / expected.len() as f64;
            2.0 * precision * recall / (precision + recall)
        };
        Self { f1, missing: distinct(missing), extra: distinct(extra) }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing {}", list_tokens(&self.missing)));
        }
        if !self.extra.is_empty() {
            parts.push(format!("extra {}", list_tokens(&self.extra)));
        }
        if parts.is_empty() {
            return "same words, different punctuation or order".into();
        }
        parts.join("; ")
    }
}

/// The items of `left` not matched by an item of `right`, counting repeats.
fn multiset_difference(left: &[String], right: &[String]) -> Vec<String> {
    let mut available: HashMap<&str, usize> = HashMap::new();
    for token in right {
        *available.entry(token).or_default() += 1;
    }
    left.iter()
        .filter(|token| match available.get_mut(token.as_str()) {
            Some(count) if *count > 0 => {
                *count -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

fn distinct(tokens: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    for token in tokens {
        if !out.contains(&token) {
            out.push(token);
        }
    }
    out
}

fn list_tokens(tokens: &[String]) -> String {
    let listed: Vec<String> =
        tokens.iter().take(MAX_LISTED_TOKENS).map(|t| format!("'{t}'")).collect();
    let rest = tokens.len().saturating_sub(MAX_LISTED_TOKENS);
    if rest == 0 { listed.join(", ") } else { format!("{} and {rest} more", listed.join(", ")) }
}

#[cfg(test)]
mod tests {
    use tt_domain::{EXACT_MATCH_THRESHOLD, PASS_THRESHOLD};

    use super::*;

    #[test]
    fn identical_answers_are_an_exact_match() {
        let verdict = SimilarityJudge::compare("Go to Settings.", "Go to Settings.");
        assert_eq!(verdict, Verdict { score: 1.0, reasoning: "exact match".into() });
    }

    #[test]
    fn case_spacing_and_end_punctuation_do_not_count() {
        let verdict = SimilarityJudge::compare("Go to Settings.", "  go to   settings ");
        assert_eq!(verdict.score, 1.0);
        assert_eq!(
            verdict.reasoning,
            "exact match after normalising case, spacing and surrounding punctuation"
        );
    }

    #[test]
    fn a_near_answer_passes_but_is_not_exact_and_names_the_differences() {
        let verdict = SimilarityJudge::compare(
            "You can request a refund in Settings under Billing.",
            "You can request a refund in Settings, under Billing, maybe.",
        );
        assert!(
            verdict.score >= PASS_THRESHOLD && verdict.score < EXACT_MATCH_THRESHOLD,
            "{verdict:?}"
        );
        assert!(
            verdict.reasoning.starts_with("token F1 0.95: extra 'maybe'; character similarity"),
            "{verdict:?}"
        );
    }

    #[test]
    fn missing_words_are_listed_in_the_expected_order() {
        let verdict =
            SimilarityJudge::compare("open settings and ask for a refund", "open it and ask");
        assert!(
            verdict.reasoning.contains("missing 'settings', 'for', 'a', 'refund'; extra 'it'"),
            "{verdict:?}"
        );
        assert!(verdict.score < PASS_THRESHOLD, "{verdict:?}");
    }

    #[test]
    fn an_unrelated_answer_scores_low() {
        let verdict =
            SimilarityJudge::compare("Your order ships tomorrow.", "I like turtles very much.");
        assert!(verdict.score < 0.3, "{verdict:?}");
        assert!(verdict.reasoning.starts_with("token F1 0.00"), "{verdict:?}");
    }

    #[test]
    fn empty_answers_score_zero_and_say_so() {
        assert_eq!(SimilarityJudge::compare("Yes.", "   ").score, 0.0);
        assert_eq!(SimilarityJudge::compare("Yes.", "").reasoning, "the answer is empty");
        assert_eq!(SimilarityJudge::compare("", "something").score, 0.0);
        assert_eq!(SimilarityJudge::compare(" ", "").score, 1.0);
    }

    #[test]
    fn accented_cjk_and_emoji_answers_are_compared_by_character() {
        assert_eq!(SimilarityJudge::compare("Café crème 😀", "café CRÈME 😀").score, 1.0);
        let kanji = SimilarityJudge::compare("日本語を話します", "日本語を話しません");
        assert!(kanji.score > 0.6 && kanji.score < 1.0, "{kanji:?}");
        assert!(kanji.reasoning.contains("extra 'せ', 'ん'"), "{kanji:?}");
        let emoji = SimilarityJudge::compare("👍", "👎");
        assert!(emoji.score < 0.1, "{emoji:?}");
    }

    #[test]
    fn long_texts_use_token_f1_alone() {
        let expected = "word ".repeat(1_000);
        let actual = format!("{expected} extra");
        let verdict = SimilarityJudge::compare(&expected, &actual);
        assert!(verdict.reasoning.ends_with("token F1 only"), "{verdict:?}");
        assert!(verdict.score > 0.99 && verdict.score < 1.0, "{verdict:?}");
    }

    #[test]
    fn the_similarity_judge_reports_its_method() {
        assert_eq!(SimilarityJudge.scoring_method(), ScoringMethod::Similarity);
    }
}
