//! Typed identifiers, so that a run id can never be passed where a spec id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A source of fresh identifiers; the domain never draws randomness itself.
pub trait IdGen: Send + Sync {
    /// A new, unique UUID.
    fn next_uuid(&self) -> Uuid;
}

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// A fresh id from the given generator.
            pub fn generate(ids: &dyn IdGen) -> Self {
                Self(ids.next_uuid())
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type!(
    /// Identifies an account (a tenant): every stored row belongs to one.
    AccountId,
    /// Identifies an API key record (not the secret key itself).
    ApiKeyId,
    /// Identifies a behaviour spec.
    SpecId,
    /// Identifies a run.
    RunId,
    /// Identifies a dataset.
    DatasetId,
    /// Identifies a fine-tuned model record.
    ModelId,
    /// Identifies one credit-ledger entry.
    LedgerEntryId,
);
