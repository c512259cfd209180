//! Storage for Tuned Tensor, as a contract: the [`Store`] trait, which speaks only domain
//! types, and the records it reads and writes. The SQLite and PostgreSQL implementations
//! live in `tt-store-sql`; the engine and the API depend only on this crate.
//!
//! Every account-facing method takes the caller's [`AccountId`](tt_domain::AccountId) and
//! never reads or changes another account's rows. Worker-facing methods are fenced by a
//! [`Lease`]: a worker whose lease expired or was taken over gets [`StoreError::LeaseLost`]
//! before anything is written.
//!
//! This crate must not depend on sqlx, axum or reqwest.

mod store;

pub use store::*;
