//! Integration tests of the local trainer through its provider traits.

mod hf;
mod jobs;
mod support;
mod training;
