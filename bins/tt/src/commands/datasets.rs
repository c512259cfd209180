//! `tt datasets list | get | download | upload | check | delete`.

use std::path::Path;

use anyhow::Context;
use serde_json::json;
use tt_client::{Dataset, NewDataset};
use tt_domain::{DatasetStatus, validate_jsonl};

use crate::cli::DatasetsCommand;
use crate::errors::{ClientResultExt, Resource};
use crate::output::{BAD, GOOD, or_dash};
use crate::{Ctx, Outcome, resolve};

/// Runs one `tt datasets` command.
pub(crate) async fn run(ctx: &Ctx, command: DatasetsCommand) -> anyhow::Result<Outcome> {
    // `check` needs no server or key, so the client is made only by the other commands.
    let client = || ctx.client();
    match command {
        DatasetsCommand::Check { file } => return check(ctx, &file),
        DatasetsCommand::List(page) => {
            let page = client()?.list_datasets(page.into()).await.about(Resource::Dataset)?;
            ctx.out.page(
                &page,
                "datasets",
                &["ID", "NAME", "STATUS", "ROWS", "BYTES", "RUN", "CREATED"],
                |d| {
                    vec![
                        ctx.out.short_id(d.id),
                        d.name.clone(),
                        d.status.as_str().to_owned(),
                        d.row_count.to_string(),
                        d.file_size_bytes.to_string(),
                        or_dash(d.run_id.map(|id| ctx.out.short_id(id))),
                        d.created_at.to_string(),
                    ]
                },
            )?;
        }
        DatasetsCommand::Get { id } => {
            let client = client()?;
            let id = resolve::dataset(&client, &id).await?;
            let dataset = client.get_dataset(id).await.about(Resource::Dataset)?;
            show(ctx, &dataset)?;
        }
        DatasetsCommand::Download { id, output } => {
            let client = client()?;
            let id = resolve::dataset(&client, &id).await?;
            let content = client.dataset_content(id).await.about(Resource::Dataset)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, &content)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    if ctx.out.is_json() {
                        ctx.out.json(&json!({ "id": id, "path": path, "bytes": content.len() }))?;
                    } else {
                        ctx.out.note(format_args!(
                            "Wrote {} bytes to {}.",
                            content.len(),
                            path.display()
                        ));
                    }
                }
                // The JSONL itself is the data; --json does not wrap it.
                None => ctx.out.line(content.trim_end_matches('\n'))?,
            }
        }
        DatasetsCommand::Upload { file, name, description } => {
            let content = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let name = name.unwrap_or_else(|| {
                file.file_stem().map_or_else(
                    || "dataset".to_owned(),
                    |stem| stem.to_string_lossy().into_owned(),
                )
            });
            let dataset = client()?
                .upload_dataset(&NewDataset { name, description, content })
                .await
                .about(Resource::Dataset)?;
            show(ctx, &dataset)?;
            if dataset.status == DatasetStatus::Invalid {
                return Ok(Outcome::Failure);
            }
        }
        DatasetsCommand::Delete { id } => {
            let client = client()?;
            let id = resolve::dataset(&client, &id).await?;
            client.delete_dataset(id).await.about(Resource::Dataset)?;
            if ctx.out.is_json() {
                ctx.out.json(&json!({ "deleted": id }))?;
            } else {
                ctx.out.line(format_args!("Deleted dataset {id}."))?;
            }
        }
    }
    Ok(Outcome::Success)
}

fn show(ctx: &Ctx, dataset: &Dataset) -> anyhow::Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json(dataset);
    }
    ctx.out.heading(format_args!("{}  {}", dataset.name, dataset.id))?;
    let status = match dataset.status {
        DatasetStatus::Validated => format!("{GOOD}validated{GOOD:#}"),
        DatasetStatus::Invalid => format!("{BAD}invalid{BAD:#}"),
    };
    ctx.out.fields(&[
        ("status", status),
        ("rows", dataset.row_count.to_string()),
        ("bytes", dataset.file_size_bytes.to_string()),
        ("format", dataset.format.clone()),
        ("description", dataset.description.clone()),
        ("run", or_dash(dataset.run_id)),
        ("created", dataset.created_at.to_string()),
    ])?;
    for issue in &dataset.errors {
        ctx.out.line(format_args!("  line {}: {}", issue.line, issue.reason))?;
    }
    Ok(())
}

/// Checks a JSONL file with the same rules the server applies; no server or key needed.
fn check(ctx: &Ctx, file: &Path) -> anyhow::Result<Outcome> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report = validate_jsonl(&text);
    let status = report.status();
    if ctx.out.is_json() {
        ctx.out.json(&json!({
            "file": file,
            "status": status,
            "valid_rows": report.valid_rows.len(),
            "issues": report.issues,
        }))?;
    } else {
        for issue in &report.issues {
            ctx.out.line(format_args!("{}:{}: {}", file.display(), issue.line, issue.reason))?;
        }
        let verdict = match status {
            DatasetStatus::Validated => format!("{GOOD}valid{GOOD:#}"),
            DatasetStatus::Invalid => format!("{BAD}invalid{BAD:#}"),
        };
        ctx.out.note(format_args!(
            "{}: {verdict}, {} good rows, {} bad lines",
            file.display(),
            report.valid_rows.len(),
            report.issues.len()
        ));
    }
    Ok(if status == DatasetStatus::Validated { Outcome::Success } else { Outcome::Failure })
}
