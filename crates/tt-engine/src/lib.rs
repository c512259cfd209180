//! The run engine: carries each run through `preparing → training → evaluating →
//! completed` (or `failed`/`cancelled`), using only the [`tt_store::Store`] trait and the
//! provider traits of `tt-providers`.
//!
//! Durability comes from the store: every step's result is written before the next step
//! begins, and every step checks what is already written, so a process that dies anywhere
//! and starts again carries each run on from where it was (no second upload of an uploaded
//! file, no second provider job, no second debit, no lost eval rows).
//! Workers share runs through the store's leases, renewed while they work; a worker that
//! lost its lease stops touching the run.
//!
//! This crate must not depend on axum (nor on any concrete store or provider).

mod clock;
mod config;
mod retry;
mod stages;
mod worker;

pub use clock::SystemClock;
pub use config::{EngineConfig, Providers, Trainer};
pub use worker::Engine;
