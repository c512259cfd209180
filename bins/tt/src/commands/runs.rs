//! `tt runs start | list | get | watch | cancel | estimate | diff`.

use tt_client::{Client, Run, RunRequest};
use tt_domain::{RunId, RunStatus, format_dollars};

use crate::cli::{RunFlags, RunsCommand};
use crate::commands::{diff, watch};
use crate::errors::{CliError, ClientResultExt, Resource};
use crate::output::{BAD, GOOD, or_dash, percent, score, truncate};
use crate::{Ctx, Outcome, resolve};

/// Examples shown by `runs get`, worst first.
const WORST_SHOWN: usize = 5;

/// Runs one `tt runs` command.
pub(crate) async fn run(ctx: &Ctx, command: RunsCommand) -> anyhow::Result<Outcome> {
    let client = ctx.client()?;
    match command {
        RunsCommand::Start { spec, flags, watch } => {
            let request = run_request(&flags)?;
            let spec_id = resolve::spec(&client, &spec).await?;
            let run = client.start_run(spec_id, &request).await.about(Resource::Spec)?;
            if watch {
                ctx.out.note(format_args!("Started run #{} ({}).", run.run_number, run.id));
                return watch::watch(ctx, &client, run.id).await;
            }
            if ctx.out.is_json() {
                ctx.out.json(&run)?;
            } else {
                ctx.out.line(format_args!(
                    "Started run #{} {} ({}, holding {}).",
                    run.run_number,
                    run.id,
                    run.status,
                    format_dollars(run.estimated_cost_cents)
                ))?;
                ctx.out.note(format_args!(
                    "Follow it with `tt runs watch {}`.",
                    ctx.out.short_id(run.id)
                ));
            }
            Ok(Outcome::Success)
        }
        RunsCommand::List { spec, page } => {
            let page = match spec {
                Some(spec) => {
                    let spec_id = resolve::spec(&client, &spec).await?;
                    client.list_runs_for_spec(spec_id, page.into()).await.about(Resource::Spec)?
                }
                None => client.list_runs(page.into()).await.about(Resource::Run)?,
            };
            ctx.out.page(
                &page,
                "runs",
                &["ID", "SPEC", "#", "STATUS", "SCORE", "PASS", "COST", "STARTED"],
                |run| {
                    let summary = run.eval_summary.as_ref();
                    vec![
                        ctx.out.short_id(run.id),
                        run.spec_name.clone().unwrap_or_else(|| run.spec_snapshot.name.clone()),
                        run.run_number.to_string(),
                        run.status.to_string(),
                        or_dash(summary.map(|s| score(s.avg_score))),
                        or_dash(summary.map(|s| percent(s.pass_rate))),
                        format_dollars(run.cost_cents.unwrap_or(run.estimated_cost_cents)),
                        run.started_at.to_string(),
                    ]
                },
            )?;
            Ok(Outcome::Success)
        }
        RunsCommand::Get { id } => {
            let id = resolve::run(&client, &id).await?;
            let run = client.get_run(id).await.about(Resource::Run)?;
            if ctx.out.is_json() {
                ctx.out.json(&run)?;
            } else {
                show_run(ctx, &run)?;
            }
            Ok(Outcome::Success)
        }
        RunsCommand::Watch { id } => {
            let id = resolve::run(&client, &id).await?;
            watch::watch(ctx, &client, id).await
        }
        RunsCommand::Cancel { id } => {
            let id = resolve::run(&client, &id).await?;
            client.cancel_run(id).await.about(Resource::Run)?;
            cancelled(ctx, &client, id).await
        }
        RunsCommand::Estimate { spec, flags } => {
            let request = run_request(&flags)?;
            let spec_id = resolve::spec(&client, &spec).await?;
            let estimate = client.estimate_run(spec_id, &request).await.about(Resource::Spec)?;
            if ctx.out.is_json() {
                ctx.out.json(&estimate)?;
                return Ok(Outcome::Success);
            }
            ctx.out.fields(&[
                ("estimated cost", format_dollars(estimate.estimated_cost_cents)),
                ("available", format_dollars(estimate.available_cents)),
                ("base model", estimate.base_model.clone()),
                ("training rows", estimate.rows.to_string()),
                ("tokens per epoch", estimate.training_tokens.to_string()),
                ("epochs", estimate.n_epochs.to_string()),
                (
                    "rate",
                    format!(
                        "{} per 1M tokens per epoch",
                        format_dollars(estimate.rate_cents_per_mtok as i64)
                    ),
                ),
            ])?;
            if estimate.sufficient {
                ctx.out.line(format_args!("{GOOD}Enough credit to start this run.{GOOD:#}"))?;
            } else {
                let needed = estimate.estimated_cost_cents - estimate.available_cents;
                ctx.out.warn(format_args!(
                    "not enough credit: {} more needed; ask an operator for `tt topup --cents {needed}` (admin key) or `tt-server admin topup --account ID --cents {needed}`",
                    format_dollars(needed)
                ));
            }
            Ok(Outcome::Success)
        }
        RunsCommand::Diff { a, b } => {
            let a = resolve::run(&client, &a).await?;
            let b = resolve::run(&client, &b).await?;
            let (a, b) = (
                client.get_run(a).await.about(Resource::Run)?,
                client.get_run(b).await.about(Resource::Run)?,
            );
            diff::show(ctx, &a, &b)
        }
    }
}

/// The start/estimate body from the flags, checked locally with the domain's rules first.
fn run_request(flags: &RunFlags) -> Result<RunRequest, CliError> {
    let hyperparameters = flags.hyperparameters();
    hyperparameters.resolve().map_err(|err| {
        CliError::usage(err.to_string(), Some("see `tt runs start --help`".to_owned()))
    })?;
    Ok(RunRequest { augment: flags.no_augment.then_some(false), hyperparameters })
}

async fn cancelled(ctx: &Ctx, client: &Client, id: RunId) -> anyhow::Result<Outcome> {
    let run = client.get_run(id).await.about(Resource::Run)?;
    if ctx.out.is_json() {
        ctx.out.json(&run)?;
    } else {
        ctx.out.line(format_args!("Run #{} {} is {}.", run.run_number, run.id, run.status))?;
    }
    Ok(Outcome::Success)
}

/// Prints a run's summary, cost and worst examples.
pub(crate) fn show_run(ctx: &Ctx, run: &Run) -> anyhow::Result<()> {
    let status = match run.status {
        RunStatus::Completed => format!("{GOOD}{}{GOOD:#}", run.status),
        RunStatus::Failed | RunStatus::Cancelled => format!("{BAD}{}{BAD:#}", run.status),
        other => other.to_string(),
    };
    let spec_name = run.spec_name.as_deref().unwrap_or(&run.spec_snapshot.name);
    ctx.out.heading(format_args!("Run #{} of {spec_name}  {}", run.run_number, run.id))?;
    let mut fields = vec![("status", status)];
    if let Some(error) = &run.error {
        fields.push(("error", error.clone()));
    }
    if let Some(summary) = &run.eval_summary {
        fields.extend([
            ("avg score", score(summary.avg_score)),
            ("pass rate", percent(summary.pass_rate)),
            ("exact match", percent(summary.exact_match_rate)),
            ("avg latency", format!("{:.0} ms", summary.avg_latency_ms)),
            ("regressions", summary.regressions.to_string()),
            ("improvements", summary.improvements.to_string()),
            ("judge errors", summary.judge_errors.to_string()),
            ("examples", summary.total.to_string()),
            ("scoring", summary.scoring_method.as_str().to_owned()),
        ]);
    }
    let cost = match run.cost_cents {
        Some(cost) => format!(
            "{} (estimated {})",
            format_dollars(cost),
            format_dollars(run.estimated_cost_cents)
        ),
        None => format!("{} held", format_dollars(run.estimated_cost_cents)),
    };
    fields.push(("cost", cost));
    fields.push(("model", or_dash(run.model_id)));
    fields.push(("started", run.started_at.to_string()));
    fields.push(("finished", or_dash(run.completed_at)));
    ctx.out.fields(&fields)?;
    if !run.evals.is_empty() {
        ctx.out.heading(format_args!("Worst {} examples", WORST_SHOWN.min(run.evals.len())))?;
        let rows = run
            .evals
            .iter()
            .take(WORST_SHOWN)
            .map(|eval| {
                vec![
                    score(eval.score),
                    if eval.passed { "pass".to_owned() } else { "FAIL".to_owned() },
                    truncate(&eval.prompt, 40),
                    truncate(&eval.expected, 40),
                    truncate(&eval.actual, 40),
                    truncate(eval.judge_error.as_deref().unwrap_or(&eval.reasoning), 40),
                ]
            })
            .collect();
        ctx.out.table(&["SCORE", "RESULT", "PROMPT", "EXPECTED", "ACTUAL", "REASONING"], rows)?;
    }
    Ok(())
}
