//! Storage for Tuned Tensor: the [`Store`] trait, which speaks only domain types, and its
//! SQLite (embedded default) and PostgreSQL (several servers on one database) backends.
//!
//! Every account-facing method takes the caller's [`AccountId`] and never reads or changes
//! another account's rows. Worker-facing methods are fenced by a [`Lease`]: a worker whose
//! lease expired or was taken over gets [`StoreError::LeaseLost`] before anything is written.
//!
//! This crate must not depend on axum or reqwest, and no sqlx type appears in its public API.

mod store;

pub use store::*;
