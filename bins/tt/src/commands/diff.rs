//! `tt runs diff A B`: per-example score changes between two runs, matched by example key.

use std::collections::BTreeMap;

use serde::Serialize;
use tt_client::Run;
use tt_domain::{EvalResult, ExampleKey, ScoringMethod, summarize};

use crate::output::{BAD, GOOD, or_dash, score, truncate};
use crate::{Ctx, Outcome};

/// How one example moved from A to B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Change {
    Regression,
    Improvement,
    Unchanged,
    /// Scored in only one of the runs, or unscored (judge error) in either.
    NotCompared,
}

#[derive(Debug, Serialize)]
struct ExampleDiff {
    example_key: ExampleKey,
    prompt: String,
    score_a: Option<f64>,
    score_b: Option<f64>,
    delta: Option<f64>,
    change: Change,
}

#[derive(Debug, Serialize)]
struct RunDiff {
    a: String,
    b: String,
    regressions: usize,
    improvements: usize,
    unchanged: usize,
    not_compared: usize,
    examples: Vec<ExampleDiff>,
}

/// Classifies one example with the domain's own rule: `summarize` over just this example
/// counts it as a regression or improvement exactly as a run's eval summary would (a change
/// of at least `CHANGE_THRESHOLD`, with the same floating-point allowance).
fn classify(a: &EvalResult, b: &EvalResult) -> Change {
    let (a, b) = (a.to_score(), b.to_score());
    if a.score.is_none() || b.score.is_none() {
        return Change::NotCompared;
    }
    let summary = summarize(&[b], &[a], ScoringMethod::Similarity);
    match (summary.regressions, summary.improvements) {
        (0, 0) => Change::Unchanged,
        (0, _) => Change::Improvement,
        _ => Change::Regression,
    }
}

fn compare(a: &Run, b: &Run) -> RunDiff {
    let mut pairs: BTreeMap<&ExampleKey, (Option<&EvalResult>, Option<&EvalResult>)> =
        BTreeMap::new();
    for eval in &a.evals {
        pairs.entry(&eval.example_key).or_default().0 = Some(eval);
    }
    for eval in &b.evals {
        pairs.entry(&eval.example_key).or_default().1 = Some(eval);
    }
    let mut examples: Vec<ExampleDiff> = pairs
        .into_iter()
        .map(|(key, (in_a, in_b))| {
            let change = match (in_a, in_b) {
                (Some(x), Some(y)) => classify(x, y),
                _ => Change::NotCompared,
            };
            let score_a = in_a.and_then(|e| e.to_score().score);
            let score_b = in_b.and_then(|e| e.to_score().score);
            let prompt = in_b.or(in_a).map(|e| e.prompt.clone()).unwrap_or_default();
            let delta = score_a.zip(score_b).map(|(x, y)| y - x);
            ExampleDiff { example_key: key.clone(), prompt, score_a, score_b, delta, change }
        })
        .collect();
    // Biggest drops first, then the rest by how much they moved.
    examples.sort_by(|x, y| x.delta.unwrap_or(0.0).total_cmp(&y.delta.unwrap_or(0.0)));
    let count = |change: Change| examples.iter().filter(|e| e.change == change).count();
    RunDiff {
        a: a.id.to_string(),
        b: b.id.to_string(),
        regressions: count(Change::Regression),
        improvements: count(Change::Improvement),
        unchanged: count(Change::Unchanged),
        not_compared: count(Change::NotCompared),
        examples,
    }
}

/// Prints the comparison; `Failure` when B has regressions.
pub(crate) fn show(ctx: &Ctx, a: &Run, b: &Run) -> anyhow::Result<Outcome> {
    let diff = compare(a, b);
    for run in [a, b] {
        if run.evals.is_empty() {
            ctx.out.warn(format_args!(
                "run #{} {} has no eval results ({})",
                run.run_number, run.id, run.status
            ));
        }
    }
    if ctx.out.is_json() {
        ctx.out.json(&diff)?;
    } else {
        let label = |run: &Run| format!("#{} {}", run.run_number, ctx.out.short_id(run.id));
        ctx.out.heading(format_args!("{} → {}", label(a), label(b)))?;
        let summary = |run: &Run| run.eval_summary.as_ref().map(|s| score(s.avg_score));
        ctx.out.fields(&[(
            "avg score",
            format!("{} → {}", or_dash(summary(a)), or_dash(summary(b))),
        )])?;
        let rows = diff
            .examples
            .iter()
            .map(|e| {
                let mark = match e.change {
                    Change::Regression => "▼ regression",
                    Change::Improvement => "▲ improvement",
                    Change::Unchanged => "",
                    Change::NotCompared => "not compared",
                };
                vec![
                    truncate(&e.prompt, 50),
                    or_dash(e.score_a.map(score)),
                    or_dash(e.score_b.map(score)),
                    or_dash(e.delta.map(|d| format!("{d:+.2}"))),
                    mark.to_owned(),
                ]
            })
            .collect();
        ctx.out.table(&["PROMPT", "A", "B", "Δ", "CHANGE"], rows)?;
        let regressions = if diff.regressions > 0 {
            format!("{BAD}{} regressions{BAD:#}", diff.regressions)
        } else {
            "0 regressions".to_owned()
        };
        ctx.out.line(format_args!(
            "{regressions}, {GOOD}{} improvements{GOOD:#}, {} unchanged, {} not compared",
            diff.improvements, diff.unchanged, diff.not_compared
        ))?;
    }
    Ok(if diff.regressions > 0 { Outcome::Failure } else { Outcome::Success })
}
