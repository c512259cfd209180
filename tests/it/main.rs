//! End-to-end tests: the real server driven through `tt-client` and the `tt` binary.

mod support;

mod crash;
mod faults;
mod flow;
mod quickstart;
mod races;
mod scale;
mod security;
