//! One module per command group; each exposes `run(ctx, command)` or one function per command.

pub(crate) mod auth;
pub(crate) mod billing;
pub(crate) mod datasets;
mod diff;
pub(crate) mod keys;
pub(crate) mod models;
pub(crate) mod runs;
pub(crate) mod specs;
pub(crate) mod watch;
