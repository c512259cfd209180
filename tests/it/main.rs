//! End-to-end tests: the real server driven through `tt-client` and the `tt` binary.

mod support;

mod flow;
