//! The workspace's end-to-end tests live in `it/`; this library is empty on purpose; it
//! only gives the test binary a package. They start the real server (in-process on port 0,
//! or as a `tt-server` process) with SQLite, and with PostgreSQL when
//! `TT_TEST_POSTGRES_URL` is set, and drive it through `tt-client` and the `tt` binary.
//!
//! Nothing may depend on this crate.
