//! `tt models list | get | delete`.

use serde_json::json;
use tt_client::FineTunedModel;

use crate::cli::ModelsCommand;
use crate::errors::{ClientResultExt, Resource};
use crate::output::or_dash;
use crate::{Ctx, Outcome, resolve};

/// Runs one `tt models` command.
pub(crate) async fn run(ctx: &Ctx, command: ModelsCommand) -> anyhow::Result<Outcome> {
    let client = ctx.client()?;
    match command {
        ModelsCommand::List(page) => {
            let page = client.list_models(page.into()).await.about(Resource::Model)?;
            ctx.out.page(
                &page,
                "models",
                &["ID", "NAME", "PROVIDER", "BASE MODEL", "RUN", "CREATED"],
                |m| {
                    vec![
                        ctx.out.short_id(m.id),
                        m.name.clone(),
                        m.provider.clone(),
                        m.base_model.clone(),
                        or_dash(m.run_id.map(|id| ctx.out.short_id(id))),
                        m.created_at.to_string(),
                    ]
                },
            )?;
        }
        ModelsCommand::Get { id } => {
            let id = resolve::model(&client, &id).await?;
            let model = client.get_model(id).await.about(Resource::Model)?;
            show(ctx, &model)?;
        }
        ModelsCommand::Delete { id } => {
            let id = resolve::model(&client, &id).await?;
            client.delete_model(id).await.about(Resource::Model)?;
            if ctx.out.is_json() {
                ctx.out.json(&json!({ "deleted": id }))?;
            } else {
                ctx.out.line(format_args!("Deleted model record {id}."))?;
                ctx.out.note("The provider may still hold the model; delete it there separately.");
            }
        }
    }
    Ok(Outcome::Success)
}

fn show(ctx: &Ctx, model: &FineTunedModel) -> anyhow::Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json(model);
    }
    ctx.out.heading(format_args!("{}  {}", model.name, model.id))?;
    ctx.out.fields(&[
        ("provider", model.provider.clone()),
        ("provider model", model.provider_model_id.clone()),
        ("base model", model.base_model.clone()),
        ("job", model.fine_tune_job_id.clone()),
        ("run", or_dash(model.run_id)),
        ("spec", or_dash(model.behavior_spec_id)),
        ("created", model.created_at.to_string()),
    ])?;
    Ok(())
}
