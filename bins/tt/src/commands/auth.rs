//! `tt auth login | status | logout`.

use serde_json::json;

use crate::cli::AuthCommand;
use crate::config::{self, KeySource};
use crate::errors::CliError;
use crate::{Ctx, Outcome};

/// Runs one `tt auth` command.
pub(crate) async fn run(ctx: &Ctx, command: AuthCommand) -> anyhow::Result<Outcome> {
    match command {
        AuthCommand::Login { key } => login(ctx, &key),
        AuthCommand::Status => status(ctx).await,
        AuthCommand::Logout => logout(ctx),
    }
}

/// The key with its secret part hidden: `tt_ABCDEFGH…`.
fn masked(key: &str) -> String {
    match tt_domain::api_key_prefix(key) {
        Some(prefix) => format!("tt_{prefix}…"),
        None => format!("{}…", key.chars().take(6).collect::<String>()),
    }
}

fn login(ctx: &Ctx, key: &str) -> anyhow::Result<Outcome> {
    let key = key.trim();
    if tt_domain::api_key_prefix(key).is_none() {
        return Err(CliError::usage(
            "that does not look like a Tuned Tensor API key (`tt_` followed by 40 letters and digits)",
            Some("create one with `tt-server admin create-account --name NAME` or `tt keys create`".to_owned()),
        )
        .into());
    }
    let path = config::credentials_path()?;
    config::write_credentials(&path, key)?;
    if ctx.out.is_json() {
        ctx.out.json(&json!({ "saved": path, "key": masked(key) }))?;
    } else {
        ctx.out.line(format_args!(
            "Saved {} to {} (readable only by you).",
            masked(key),
            path.display()
        ))?;
        ctx.out.note("Check it against the server with `tt auth status`.");
    }
    if let Some(name) = config::key_env_still_set() {
        ctx.out.warn(format_args!("{name} is set and takes precedence over the saved key"));
    }
    Ok(Outcome::Success)
}

async fn status(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let key = ctx.key()?.ok_or_else(CliError::no_key)?;
    let client = ctx.client()?;
    let source = match &key.source {
        KeySource::File(path) => format!("credentials file {}", path.display()),
        other => other.to_string(),
    };
    ctx.out.note(format_args!(
        "Using {} from {source} against {}.",
        masked(&key.key),
        client.base_url()
    ));
    let balance = client.balance().await?;
    if ctx.out.is_json() {
        ctx.out.json(&json!({
            "key": masked(&key.key),
            "source": source,
            "base_url": client.base_url(),
            "valid": true,
            "available_cents": balance.available_cents,
        }))?;
    } else {
        ctx.out.line("Logged in.")?;
        ctx.out.fields(&[
            ("key", masked(&key.key)),
            ("from", source),
            ("server", client.base_url().to_owned()),
            ("available", tt_domain::format_dollars(balance.available_cents)),
        ])?;
    }
    Ok(Outcome::Success)
}

fn logout(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let path = config::credentials_path()?;
    let deleted = config::delete_credentials(&path)?;
    if ctx.out.is_json() {
        ctx.out.json(&json!({ "deleted": deleted, "path": path }))?;
    } else if deleted {
        ctx.out.line(format_args!("Deleted {}.", path.display()))?;
    } else {
        ctx.out.line(format_args!("Not logged in: {} does not exist.", path.display()))?;
    }
    if let Some(name) = config::key_env_still_set() {
        ctx.out.warn(format_args!("{name} is still set, so commands keep using that key"));
    }
    Ok(Outcome::Success)
}
