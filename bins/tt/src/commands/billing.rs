//! `tt balance`, `tt transactions`, `tt topup`.

use tt_client::Topup;
use tt_domain::{AccountId, format_dollars};

use crate::cli::{PageArgs, TopupArgs};
use crate::errors::{CliError, ClientResultExt, Resource};
use crate::output::or_dash;
use crate::{Ctx, Outcome};

/// Below this many available cents, `tt balance` warns (the hosted CLI's $1 rule).
const LOW_BALANCE_CENTS: i64 = 100;

/// `tt balance`.
pub(crate) async fn balance(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let balance = ctx.client()?.balance().await?;
    if ctx.out.is_json() {
        ctx.out.json(&balance)?;
    } else {
        ctx.out.fields(&[
            ("available", format_dollars(balance.available_cents)),
            ("balance", format_dollars(balance.balance_cents)),
            ("on hold", format_dollars(balance.reserved_cents)),
            ("lifetime top-ups", format_dollars(balance.lifetime_topup_cents)),
        ])?;
    }
    if balance.available_cents < LOW_BALANCE_CENTS {
        ctx.out.warn(format_args!(
            "low balance: {} available; ask an operator for `tt topup --cents N` (admin key) or `tt-server admin topup --account ID --cents N`",
            format_dollars(balance.available_cents)
        ));
    }
    Ok(Outcome::Success)
}

/// `tt transactions`.
pub(crate) async fn transactions(ctx: &Ctx, page: PageArgs) -> anyhow::Result<Outcome> {
    let page = ctx.client()?.transactions(page.into()).await?;
    ctx.out.page(
        &page,
        "entries",
        &["WHEN", "KIND", "AMOUNT", "BALANCE AFTER", "REFERENCE"],
        |entry| {
            vec![
                entry.created_at.to_string(),
                entry.kind.as_str().to_owned(),
                format_dollars(entry.amount_cents),
                format_dollars(entry.balance_after_cents),
                or_dash(entry.reference_id.as_deref()),
            ]
        },
    )?;
    Ok(Outcome::Success)
}

/// `tt topup --cents N [--account ID]` (admin keys only).
pub(crate) async fn topup(ctx: &Ctx, args: TopupArgs) -> anyhow::Result<Outcome> {
    let account_id = match &args.account {
        Some(text) => Some(text.parse::<AccountId>().map_err(|_| {
            CliError::usage(
                format!("`{text}` is not an account ID (a UUID)"),
                Some("`tt-server admin create-account --json` prints account IDs".to_owned()),
            )
        })?),
        None => None,
    };
    let client = ctx.client()?;
    let answer = client
        .topup(&Topup { amount_cents: args.cents, account_id })
        .await
        .about(Resource::Topup)?;
    if ctx.out.is_json() {
        ctx.out.json(&answer)?;
    } else {
        let whom = args
            .account
            .as_deref()
            .map_or_else(|| "your account".to_owned(), |id| format!("account {id}"));
        ctx.out.line(format_args!("Granted {} to {whom}.", format_dollars(args.cents)))?;
    }
    Ok(Outcome::Success)
}
