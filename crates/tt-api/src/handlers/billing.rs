//! Credits: the balance, the ledger, and top-ups by admin keys.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tt_domain::{AccountId, Balance, Cents, LedgerEntry};

use crate::AppState;
use crate::envelope::{Data, List, list, ok};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, PageQuery};

/// The most one top-up may grant: $1,000,000, far beyond any real budget, so a typo of a
/// few extra digits is refused.
const MAX_TOPUP_CENTS: Cents = 100_000_000;

/// An account's credit position with the derived `available_cents`.
#[derive(Debug, Serialize)]
pub(crate) struct BalanceView {
    balance_cents: Cents,
    reserved_cents: Cents,
    available_cents: Cents,
    lifetime_topup_cents: Cents,
}

impl From<Balance> for BalanceView {
    fn from(balance: Balance) -> Self {
        Self {
            balance_cents: balance.balance_cents,
            reserved_cents: balance.reserved_cents,
            available_cents: balance.available_cents(),
            lifetime_topup_cents: balance.lifetime_topup_cents,
        }
    }
}

/// A grant of credit, to the caller's account or to `account_id`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopupRequest {
    amount_cents: Cents,
    account_id: Option<AccountId>,
}

/// `GET /billing/balance`.
pub(crate) async fn balance(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Data<BalanceView>>, ApiError> {
    Ok(ok(state.store.balance(caller.account_id).await?.into()))
}

/// `GET /billing/transactions`: ledger entries, newest first.
pub(crate) async fn transactions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<LedgerEntry>>, ApiError> {
    let page = query.resolve()?;
    Ok(list(state.store.list_transactions(caller.account_id, page).await?, page))
}

/// `POST /billing/topup`: admin keys only; returns the credited account's balance.
pub(crate) async fn topup(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<TopupRequest>,
) -> Result<Json<Data<BalanceView>>, ApiError> {
    if !caller.is_admin {
        return Err(ApiError::Forbidden(
            "only admin keys can grant credits; an operator can run `tt-server admin topup --account ID --cents N`"
                .to_owned(),
        ));
    }
    if !(1..=MAX_TOPUP_CENTS).contains(&request.amount_cents) {
        return Err(ApiError::field(
            "amount_cents",
            format!(
                "amount_cents must be from 1 to {MAX_TOPUP_CENTS}, got {}",
                request.amount_cents
            ),
        ));
    }
    let account = request.account_id.unwrap_or(caller.account_id);
    // A top-up for an account that does not exist is a 404, never a ledger row.
    state.store.get_account(account).await?;
    let balance = state.store.topup(account, request.amount_cents, state.clock.now()).await?;
    tracing::info!(account_id = %account, amount_cents = request.amount_cents, "credit granted");
    Ok(ok(balance.into()))
}
