//! Loading a local Hugging Face model directory in Llama or Qwen2 layout: `config.json`,
//! one or more `*.safetensors` files and `tokenizer.json`. Nothing is ever downloaded.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::Deserialize;

use crate::error::LocalError;
use crate::model::{Llama, ModelConfig};
use crate::tokenizer::TextTokenizer;

#[derive(Debug, Deserialize)]
struct HfConfig {
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    head_dim: Option<usize>,
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    #[serde(flatten)]
    shape: ModelConfig,
}

/// Whether `path` looks like a model directory (it has a `config.json`).
pub(crate) fn is_model_dir(path: &Path) -> bool {
    path.join("config.json").is_file()
}

/// Reads a model directory's shape; `model_type` must be `llama` or `qwen2` (Qwen2 gets
/// biases on the query, key and value projections), without `rope_scaling`.
pub(crate) fn read_config(dir: &Path) -> Result<ModelConfig, LocalError> {
    let hf: HfConfig = crate::jobs::read_json(&dir.join("config.json"))?;
    let mut config = hf.shape;
    match hf.model_type.as_deref() {
        Some("llama") | None => {}
        Some("qwen2") => config.attention_bias = true,
        Some(other) => {
            return Err(LocalError::BadModel {
                message: format!("model_type `{other}` is not supported (only llama and qwen2)"),
            });
        }
    }
    if hf.rope_scaling.as_ref().is_some_and(|scaling| !scaling.is_null()) {
        // Llama 3.1+ rescales the rotary frequencies; running it with plain rotary embeddings
        // would give wrong answers rather than an error, so it is refused.
        return Err(LocalError::BadModel { message: "rope_scaling is not supported".to_owned() });
    }
    if let Some(head_dim) = hf.head_dim
        && head_dim * config.num_attention_heads != config.hidden_size
    {
        return Err(LocalError::BadModel {
            message: format!("head_dim {head_dim} is not hidden_size / num_attention_heads"),
        });
    }
    config.validate()?;
    Ok(config)
}

/// Loads the model and its tokenizer from `dir` onto `device`.
pub(crate) fn load(dir: &Path, device: &Device) -> Result<(Llama, TextTokenizer), LocalError> {
    let config = read_config(dir)?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|err| LocalError::io("listing", dir, err))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(LocalError::BadModel {
            message: format!("no *.safetensors files in `{}`", dir.display()),
        });
    }
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for file in &files {
        tensors.extend(candle_core::safetensors::load(file, &Device::Cpu)?);
    }
    let model = Llama::from_tensors(config, &tensors, device)?;
    let tokenizer = TextTokenizer::from_file(&dir.join("tokenizer.json"))?;
    if tokenizer.vocab_size() > model.config().vocab_size {
        return Err(LocalError::BadModel {
            message: format!(
                "the tokenizer has {} tokens but the model only {}",
                tokenizer.vocab_size(),
                model.config().vocab_size
            ),
        });
    }
    Ok((model, tokenizer))
}
