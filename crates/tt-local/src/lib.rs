//! The local trainer: LoRA fine-tuning and chat inference of Llama-family models, in this
//! process, with candle (CPU by default, CUDA with the `cuda` feature).
//!
//! [`LocalTrainer`] implements the provider traits [`tt_providers::FineTuner`] (provider
//! `local`) and [`tt_providers::Inference`].
//! It trains the built-in [`TINY_MODEL`] (a small random network with a byte tokenizer that
//! learns from scratch in minutes, see [`tiny`]) or any local Hugging Face model directory in
//! Llama or Qwen2 layout.
//! Jobs live under `data_dir/local/jobs/<job id>/` and survive a crash of the process: a job
//! left running is restarted from its last epoch checkpoint when it is next read.
//! Fine-tuned models are named `local:<job id>`.
//!
//! Nothing here reaches the network. This crate must not depend on sqlx, axum or reqwest.

mod adapter;
mod error;
pub mod figures;
mod generate;
mod hf;
mod jobs;
mod model;
mod rng;
pub mod tiny;
mod tokenizer;
mod train;
mod trainer;

pub use adapter::{ADAPTER_CONFIG_FILE, ADAPTER_FILE, AdapterConfig};
pub use error::LocalError;
pub use model::{Llama, ModelConfig, Projection};
pub use tiny::TINY_MODEL;
pub use trainer::{
    DeviceChoice, LOCAL_MODEL_PREFIX, LocalConfig, LocalTrainer, builtin_models, is_local_model,
};
