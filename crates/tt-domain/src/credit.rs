//! Credit rules as pure logic: what a start needs, and what settling or releasing a hold
//! does to the ledger.
//!
//! `available = balance − reserved`. A start needs `available ≥ estimate` and places a hold
//! of the estimate. A completed run releases its hold and is debited the provider-reported
//! cost: up to the hold as `debit_run`, any overage as a separate `adjustment` (the balance
//! may then go below zero). A failed or cancelled run releases its hold and costs nothing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::cost::{Cents, format_dollars};
use crate::ids::{AccountId, LedgerEntryId};
use crate::time::Timestamp;

/// An account's credit position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Top-ups minus debits and adjustments.
    pub balance_cents: Cents,
    /// Held by runs in progress.
    pub reserved_cents: Cents,
    /// All top-ups ever.
    pub lifetime_topup_cents: Cents,
}

impl Balance {
    /// What a new run can still hold.
    pub fn available_cents(&self) -> Cents {
        self.balance_cents - self.reserved_cents
    }

    /// The position after one ledger entry.
    #[must_use]
    pub fn after(mut self, kind: LedgerKind, amount_cents: Cents) -> Self {
        match kind {
            LedgerKind::Topup => {
                self.balance_cents += amount_cents;
                self.lifetime_topup_cents += amount_cents;
            }
            LedgerKind::Hold => self.reserved_cents += amount_cents,
            LedgerKind::Release => self.reserved_cents -= amount_cents,
            LedgerKind::DebitRun | LedgerKind::Adjustment => self.balance_cents -= amount_cents,
        }
        self
    }
}

/// The kinds of ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Credit granted by an operator.
    Topup,
    /// Credit reserved for a run at start.
    Hold,
    /// A hold given back.
    Release,
    /// A completed run's cost, up to its hold.
    DebitRun,
    /// A correction, such as a run's cost beyond its hold.
    Adjustment,
}

impl LedgerKind {
    /// Every kind.
    pub const ALL: [Self; 5] =
        [Self::Topup, Self::Hold, Self::Release, Self::DebitRun, Self::Adjustment];

    /// The name used in the API and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Topup => "topup",
            Self::Hold => "hold",
            Self::Release => "release",
            Self::DebitRun => "debit_run",
            Self::Adjustment => "adjustment",
        }
    }
}

impl fmt::Display for LedgerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LedgerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown ledger kind `{s}`"))
    }
}

/// One ledger entry. `amount_cents` is never negative: the kind says which way it moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The entry's id.
    pub id: LedgerEntryId,
    /// The owning account.
    #[serde(skip)]
    pub account_id: Option<AccountId>,
    /// What kind of movement.
    pub kind: LedgerKind,
    /// How much, in cents.
    pub amount_cents: Cents,
    /// The balance after this entry.
    pub balance_after_cents: Cents,
    /// The run (or other record) it belongs to.
    pub reference_id: Option<String>,
    /// When it was written.
    pub created_at: Timestamp,
}

/// A start that the credit rules refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    /// Available credit is below the estimate.
    #[error("This run is estimated at {} but you have {} available.", format_dollars(*.required_cents), format_dollars(*.available_cents))]
    Insufficient {
        /// The estimate.
        required_cents: Cents,
        /// What is available.
        available_cents: Cents,
    },
}

/// Whether a run estimated at `estimate_cents` may start.
pub fn check_start(balance: &Balance, estimate_cents: Cents) -> Result<(), CreditError> {
    let available_cents = balance.available_cents();
    if available_cents < estimate_cents {
        return Err(CreditError::Insufficient { required_cents: estimate_cents, available_cents });
    }
    Ok(())
}

/// The ledger movements that settle a completed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// The hold given back.
    pub release_cents: Cents,
    /// The `debit_run` amount: the cost, up to the hold.
    pub debit_cents: Cents,
    /// The `adjustment` amount: the cost beyond the hold (0 when none).
    pub adjustment_cents: Cents,
}

/// Settles a completed run that held `hold_cents` and actually cost `actual_cents`.
pub fn settle_completed(hold_cents: Cents, actual_cents: Cents) -> Settlement {
    let actual_cents = actual_cents.max(0);
    Settlement {
        release_cents: hold_cents,
        debit_cents: actual_cents.min(hold_cents),
        adjustment_cents: (actual_cents - hold_cents).max(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_needs_available_credit_at_least_the_estimate() {
        let balance = Balance { balance_cents: 100, reserved_cents: 58, lifetime_topup_cents: 100 };
        assert_eq!(balance.available_cents(), 42);
        assert!(check_start(&balance, 42).is_ok());
        let err = check_start(&balance, 43).unwrap_err();
        assert_eq!(err, CreditError::Insufficient { required_cents: 43, available_cents: 42 });
    }

    #[test]
    fn the_refusal_reads_like_the_seed_page() {
        let balance = Balance { balance_cents: 10, ..Balance::default() };
        let err = check_start(&balance, 42).unwrap_err();
        assert_eq!(err.to_string(), "This run is estimated at $0.42 but you have $0.10 available.");
    }

    #[test]
    fn settling_within_the_hold_debits_the_actual_cost() {
        assert_eq!(
            settle_completed(50, 30),
            Settlement { release_cents: 50, debit_cents: 30, adjustment_cents: 0 }
        );
    }

    #[test]
    fn an_overage_is_an_adjustment_and_may_push_the_balance_below_zero() {
        let s = settle_completed(50, 80);
        assert_eq!(s, Settlement { release_cents: 50, debit_cents: 50, adjustment_cents: 30 });
        let balance = Balance { balance_cents: 60, reserved_cents: 0, lifetime_topup_cents: 60 }
            .after(LedgerKind::Hold, 50)
            .after(LedgerKind::Release, s.release_cents)
            .after(LedgerKind::DebitRun, s.debit_cents)
            .after(LedgerKind::Adjustment, s.adjustment_cents);
        assert_eq!(balance.balance_cents, -20);
        assert_eq!(balance.reserved_cents, 0);
    }

    proptest::proptest! {
        #[test]
        fn holds_placed_through_the_rules_never_make_available_credit_negative(
            topup in 0i64..10_000,
            estimates in proptest::collection::vec(0i64..2_000, 0..30),
        ) {
            let mut balance = Balance::default().after(LedgerKind::Topup, topup);
            for estimate in estimates {
                if check_start(&balance, estimate).is_ok() {
                    balance = balance.after(LedgerKind::Hold, estimate);
                }
                proptest::prop_assert!(balance.available_cents() >= 0);
            }
        }
    }
}
