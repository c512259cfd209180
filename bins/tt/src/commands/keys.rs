//! `tt keys list | create | revoke`.

use serde_json::json;

use crate::cli::KeysCommand;
use crate::errors::{ClientResultExt, Resource};
use crate::output::{WARN, or_dash};
use crate::{Ctx, Outcome, resolve};

/// Runs one `tt keys` command.
pub(crate) async fn run(ctx: &Ctx, command: KeysCommand) -> anyhow::Result<Outcome> {
    let client = ctx.client()?;
    match command {
        KeysCommand::List(page) => {
            let page = client.list_keys(page.into()).await.about(Resource::Key)?;
            ctx.out.page(
                &page,
                "keys",
                &["ID", "NAME", "KEY", "CREATED", "LAST USED", "REVOKED"],
                |k| {
                    vec![
                        ctx.out.short_id(k.id),
                        k.name.clone(),
                        format!("tt_{}…", k.prefix),
                        k.created_at.to_string(),
                        or_dash(k.last_used_at),
                        or_dash(k.revoked_at),
                    ]
                },
            )?;
        }
        KeysCommand::Create { name } => {
            let created = client.create_key(name.as_deref()).await.about(Resource::Key)?;
            if ctx.out.is_json() {
                ctx.out.json(&created)?;
            } else {
                ctx.out.line(&created.key)?;
                ctx.out.note(format_args!(
                    "{WARN}This is the only time the key is shown.{WARN:#} Save it, e.g. with `tt auth login <key>`. (id {})",
                    created.record.id
                ));
            }
        }
        KeysCommand::Revoke { id } => {
            let id = resolve::key(&client, &id).await?;
            client.revoke_key(id).await.about(Resource::Key)?;
            if ctx.out.is_json() {
                ctx.out.json(&json!({ "revoked": id }))?;
            } else {
                ctx.out.line(format_args!("Revoked key {id}."))?;
            }
        }
    }
    Ok(Outcome::Success)
}
