//! Test doubles for the outside world: an in-process fake Together AI server and a fake
//! OpenAI-compatible chat server (axum on port 0), each with configurable latency and fault
//! injection and counters that tests assert on.
//!
//! This crate is a dev-dependency only: no production crate may depend on it.

pub mod openai;
pub mod postgres;
pub mod together;
