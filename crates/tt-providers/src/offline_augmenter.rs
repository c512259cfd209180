//! [`OfflineAugmenter`]: deterministic, rule-based variants of the spec's inputs.

use std::collections::HashSet;

use async_trait::async_trait;
use tt_domain::{Example, ExampleKey, SpecContent};

use crate::error::ProviderError;
use crate::text::is_punctuation;
use crate::traits::Augmenter;

/// Tries per wanted variant before giving up: short inputs have few distinct variants.
const ATTEMPTS_PER_VARIANT: usize = 20;

const PREFIXES: &[&str] = &[
    "Quick question: ",
    "Hi, ",
    "Hey! ",
    "Hello, ",
    "Excuse me, ",
    "Can you help? ",
    "Um, ",
    "So, ",
];
const SUFFIXES: &[&str] =
    &[" please", ", please", " thanks", ", thank you", " pls", " - thanks in advance"];
const ENDINGS: &[&str] = &["", "?", "!", ".", "??", "..."];

/// Makes new training examples without a model: each variant rewrites a spec example's
/// input with one or two rules (lower case, capitalised first letter, a different ending
/// mark, a filler phrase before or after such as "Quick question: " or "please", a small
/// typo, a space before the end mark or none after commas) and keeps its output unchanged.
///
/// Variants are taken round-robin over the examples, so every example gets some before any
/// gets many. No variant's input has the [`ExampleKey`] of a spec input (the evaluation
/// inputs) or of another variant. The randomness is a splitmix64 generator seeded with
/// `seed` alone: the same spec and seed give the same variants, and nothing ambient (OS
/// randomness, the clock) is read. Text is edited by `char`, so any script is safe.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineAugmenter;

impl OfflineAugmenter {
    /// Up to `max_new` variants of `examples`, deterministic in `seed`.
    pub fn variants(examples: &[Example], max_new: usize, seed: u64) -> Vec<Example> {
        let mut rng = SplitMix64(seed);
        let mut seen: HashSet<ExampleKey> = examples.iter().map(Example::key).collect();
        let mut out = Vec::with_capacity(max_new);
        let mut attempts_left = max_new.saturating_mul(ATTEMPTS_PER_VARIANT);
        while out.len() < max_new && attempts_left > 0 {
            for example in examples {
                if out.len() == max_new || attempts_left == 0 {
                    break;
                }
                attempts_left -= 1;
                let input = vary(&example.input, &mut rng);
                if !input.trim().is_empty() && seen.insert(ExampleKey::of_input(&input)) {
                    out.push(Example { input, output: example.output.clone() });
                }
            }
        }
        out
    }
}

#[async_trait]
impl Augmenter for OfflineAugmenter {
    async fn augment(
        &self,
        spec: &SpecContent,
        max_new: usize,
        seed: u64,
    ) -> Result<Vec<Example>, ProviderError> {
        Ok(Self::variants(spec.examples(), max_new, seed))
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's splitmix64); plenty for
/// picking rewrite rules, and reproducible across platforms.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must be positive. The modulo bias is negligible for small `n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// One or two rules applied to `input`.
fn vary(input: &str, rng: &mut SplitMix64) -> String {
    let mut text = input.trim().to_owned();
    let n_rules = 1 + rng.below(2);
    for _ in 0..n_rules {
        text = match rng.below(7) {
            0 => text.to_lowercase(),
            1 => capitalise(&text),
            2 => with_ending(&text, rng.pick(ENDINGS)),
            3 => with_prefix(&text, rng.pick(PREFIXES)),
            4 => with_suffix(&text, rng.pick(SUFFIXES)),
            5 => with_typo(&text, rng),
            _ => respaced(&text, rng),
        };
    }
    text
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// `text` without its end marks, and its end marks.
fn split_ending(text: &str) -> (&str, &str) {
    let body = text.trim_end_matches(is_punctuation);
    (body, &text[body.len()..])
}

fn with_ending(text: &str, ending: &str) -> String {
    format!("{}{ending}", split_ending(text).0)
}

/// The filler goes first; the old first letter is lowered unless the first word looks like
/// an acronym or a name spelled in capitals ("API", "I").
fn with_prefix(text: &str, prefix: &str) -> String {
    let mut words = text.splitn(2, ' ');
    let first_word = words.next().unwrap_or_default();
    let all_caps = first_word.chars().filter(|c| c.is_alphabetic()).all(char::is_uppercase);
    if all_caps {
        return format!("{prefix}{text}");
    }
    let mut chars = text.chars();
    let lowered: String =
        chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default();
    format!("{prefix}{lowered}")
}

/// The filler goes before the end marks: "How do I reset it, please?".
fn with_suffix(text: &str, suffix: &str) -> String {
    let (body, ending) = split_ending(text);
    format!("{body}{suffix}{ending}")
}

/// Swaps, drops or doubles one letter inside a word of at least four letters.
fn with_typo(text: &str, rng: &mut SplitMix64) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let candidates: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].chars().filter(|c| c.is_alphabetic()).count() >= 4)
        .collect();
    if candidates.is_empty() {
        return text.to_owned();
    }
    let target = candidates[rng.below(candidates.len())];
    let mut chars: Vec<char> = words[target].chars().collect();
    // Interior positions only, so the word stays recognisable.
    let at = 1 + rng.below(chars.len() - 2);
    match rng.below(3) {
        0 => chars.swap(at, at + 1),
        1 => {
            chars.remove(at);
        }
        _ => chars.insert(at, chars[at]),
    }
    let typo: String = chars.into_iter().collect();
    words
        .iter()
        .enumerate()
        .map(|(i, word)| if i == target { typo.as_str() } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A space before the end mark ("reset it ?") or none after commas ("Hi,can you").
fn respaced(text: &str, rng: &mut SplitMix64) -> String {
    if text.contains(", ") && rng.below(2) == 0 {
        return text.replace(", ", ",");
    }
    let (body, ending) = split_ending(text);
    if ending.is_empty() { text.to_owned() } else { format!("{body} {ending}") }
}

#[cfg(test)]
mod tests;
