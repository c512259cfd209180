//! `tt specs create | list | get | update | delete`.

use std::path::Path;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde_json::json;
use tt_client::Spec;
use tt_domain::{SpecDraft, SpecPatch};

use crate::cli::SpecsCommand;
use crate::errors::{CliError, ClientResultExt, Resource};
use crate::output::{or_dash, score, truncate};
use crate::{Ctx, Outcome, resolve};

/// Fields the server adds to a spec; a file saved from `tt specs get --json` has them, and
/// they are dropped rather than refused so that such a file can be edited and sent back.
const SERVER_FIELDS: [&str; 7] = [
    "id",
    "created_at",
    "updated_at",
    "_run_count",
    "_latest_run_status",
    "_latest_run_score",
    "eval_cases",
];
/// Fields that only a run has: a file with them is a run, not a spec.
const RUN_FIELDS: [&str; 3] = ["spec_snapshot", "run_id", "behavior_spec_id"];

/// Runs one `tt specs` command.
pub(crate) async fn run(ctx: &Ctx, command: SpecsCommand) -> anyhow::Result<Outcome> {
    let client = ctx.client()?;
    match command {
        SpecsCommand::Create { file } => {
            let draft: SpecDraft = read_spec_file(&file)?;
            if let Err(err) = draft.clone().validate() {
                let rules: Vec<String> =
                    err.violations.iter().map(|v| format!("{}: {}", v.field, v.rule)).collect();
                return Err(CliError::usage(
                    format!("{} is not a valid spec:\n  {}", file.display(), rules.join("\n  ")),
                    Some("fix the fields above and run the command again".to_owned()),
                )
                .into());
            }
            let spec = client.create_spec(&draft).await.about(Resource::Spec)?;
            show(ctx, &spec)?;
            if !ctx.out.is_json() {
                ctx.out.note(format_args!(
                    "Start a run with `tt runs start {}`.",
                    ctx.out.short_id(spec.id)
                ));
            }
        }
        SpecsCommand::List(page) => {
            let page = client.list_specs(page.into()).await.about(Resource::Spec)?;
            ctx.out.page(
                &page,
                "specs",
                &["ID", "NAME", "BASE MODEL", "EXAMPLES", "RUNS", "LATEST", "SCORE"],
                |spec| {
                    vec![
                        ctx.out.short_id(spec.id),
                        spec.name.clone(),
                        spec.base_model.clone(),
                        spec.examples.len().to_string(),
                        or_dash(spec.run_count),
                        or_dash(spec.latest_run_status),
                        or_dash(spec.latest_run_score.map(score)),
                    ]
                },
            )?;
        }
        SpecsCommand::Get { id } => {
            let id = resolve::spec(&client, &id).await?;
            let spec = client.get_spec(id).await.about(Resource::Spec)?;
            show(ctx, &spec)?;
        }
        SpecsCommand::Update { id, file } => {
            let patch: SpecPatch = read_spec_file(&file)?;
            let id = resolve::spec(&client, &id).await?;
            let spec = client.update_spec(id, &patch).await.about(Resource::Spec)?;
            show(ctx, &spec)?;
        }
        SpecsCommand::Delete { id } => {
            let id = resolve::spec(&client, &id).await?;
            client.delete_spec(id).await.about(Resource::Spec)?;
            if ctx.out.is_json() {
                ctx.out.json(&json!({ "deleted": id }))?;
            } else {
                ctx.out.line(format_args!("Deleted spec {id}."))?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// Reads a spec file as a draft or a patch, dropping server-added fields.
fn read_spec_file<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let object = value.as_object_mut().ok_or_else(|| {
        CliError::usage(format!("{} must hold a JSON object", path.display()), None)
    })?;
    if let Some(field) = RUN_FIELDS.iter().find(|field| object.contains_key(**field)) {
        return Err(CliError::usage(
            format!("{} looks like a run (it has `{field}`), not a spec", path.display()),
            Some("save the spec itself with `tt specs get ID --json > spec.json`".to_owned()),
        )
        .into());
    }
    for field in SERVER_FIELDS {
        object.remove(field);
    }
    serde_json::from_value(value).map_err(|err| {
        CliError::usage(
            format!("{} is not a spec: {err}", path.display()),
            Some("allowed fields: name, description, system_prompt, guidelines, constraints, examples, base_model".to_owned()),
        )
        .into()
    })
}

fn show(ctx: &Ctx, spec: &Spec) -> anyhow::Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json(spec);
    }
    ctx.out.heading(format_args!("{}  {}", spec.name, spec.id))?;
    ctx.out.fields(&[
        ("base model", spec.base_model.clone()),
        ("description", truncate(&spec.description, 80)),
        ("system prompt", truncate(&spec.system_prompt, 80)),
        ("guidelines", spec.guidelines.len().to_string()),
        ("constraints", spec.constraints.len().to_string()),
        ("examples", spec.examples.len().to_string()),
        ("updated", spec.updated_at.to_string()),
    ])?;
    let rows = spec
        .examples
        .iter()
        .map(|example| vec![truncate(&example.input, 50), truncate(&example.output, 50)])
        .collect();
    ctx.out.table(&["INPUT", "OUTPUT"], rows)?;
    Ok(())
}
