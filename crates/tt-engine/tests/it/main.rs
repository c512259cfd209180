//! The engine's integration tests: each stage against mocks, whole runs against scripted
//! providers on a real SQLite store, crash-resume, cancellation and failures.

mod support;

mod crash;
mod runs;
