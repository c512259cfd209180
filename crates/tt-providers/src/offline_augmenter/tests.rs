use std::collections::HashSet;

use super::*;
use crate::test_support::spec_with_inputs;

const INPUTS: &[&str] = &[
    "How do I reset my password?",
    "Where can I download my invoice, please?",
    "Café crème: est-ce possible?",
    "日本語で話せますか？",
    "Is the API down? 😢",
];

#[test]
fn the_same_seed_gives_the_same_variants_and_another_seed_differs() {
    let spec = spec_with_inputs(INPUTS);
    let first = OfflineAugmenter::variants(spec.examples(), 20, 7);
    assert_eq!(first, OfflineAugmenter::variants(spec.examples(), 20, 7));
    assert_ne!(first, OfflineAugmenter::variants(spec.examples(), 20, 8));
}

#[test]
fn variants_never_repeat_an_evaluation_input_or_each_other_and_keep_outputs() {
    let spec = spec_with_inputs(INPUTS);
    for seed in 0..20 {
        let variants = OfflineAugmenter::variants(spec.examples(), 20, seed);
        assert_eq!(variants.len(), 20, "seed {seed}");
        let eval_keys: HashSet<ExampleKey> = spec.examples().iter().map(Example::key).collect();
        let mut keys = HashSet::new();
        for variant in &variants {
            assert!(
                !eval_keys.contains(&variant.key()),
                "seed {seed}: {variant:?} repeats an evaluation input"
            );
            assert!(keys.insert(variant.key()), "seed {seed}: {variant:?} is a duplicate");
            let source = spec.examples().iter().find(|e| e.output == variant.output);
            assert!(source.is_some(), "seed {seed}: {variant:?} changed its output");
        }
    }
}

#[test]
fn every_example_gets_variants_before_any_gets_many() {
    let spec = spec_with_inputs(INPUTS);
    let variants = OfflineAugmenter::variants(spec.examples(), INPUTS.len(), 3);
    let outputs: HashSet<&str> = variants.iter().map(|v| v.output.as_str()).collect();
    assert!(outputs.len() >= INPUTS.len() - 1, "{variants:?}");
}

#[test]
fn a_tiny_input_with_few_variants_ends_without_looping_forever() {
    let spec = spec_with_inputs(&["a"]);
    let variants = OfflineAugmenter::variants(spec.examples(), 1_000, 1);
    assert!(!variants.is_empty() && variants.len() < 1_000, "{}", variants.len());
    let keys: HashSet<ExampleKey> = variants.iter().map(Example::key).collect();
    assert_eq!(keys.len(), variants.len());
}

#[test]
fn the_rules_edit_text_by_character() {
    assert_eq!(capitalise("été"), "Été");
    assert_eq!(with_ending("Ça va?!", "..."), "Ça va...");
    assert_eq!(with_prefix("How do I?", "Quick question: "), "Quick question: how do I?");
    assert_eq!(with_prefix("API down?", "Hi, "), "Hi, API down?");
    assert_eq!(with_suffix("日本語ですか？", " please"), "日本語ですか please？");
    let mut rng = SplitMix64(0);
    let typo = with_typo("password", &mut rng);
    assert_ne!(typo, "password");
    assert!(typo.starts_with('p') && typo.ends_with('d'), "{typo}");
    assert_eq!(with_typo("a b c", &mut rng), "a b c");
}

#[tokio::test]
async fn the_augmenter_trait_returns_the_variants() {
    let spec = spec_with_inputs(INPUTS);
    let rows = OfflineAugmenter.augment(&spec, 6, 42).await.unwrap();
    assert_eq!(rows, OfflineAugmenter::variants(spec.examples(), 6, 42));
}
