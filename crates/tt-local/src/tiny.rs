//! `tt-local/tiny`: a small Llama-shaped model whose weights are drawn on this machine from a
//! fixed seed, with the byte-level tokenizer.
//!
//! It knows nothing before training: it is a random network that LoRA adapters (on every
//! projection, MLP included) teach to answer like the training rows.
//! It exists so that the whole loop runs offline in a couple of minutes on two cores.

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use crate::error::LocalError;
use crate::model::{Llama, ModelConfig};
use crate::rng::SeededRng;
use crate::tokenizer::BYTE_VOCAB;

/// The name of the built-in model.
pub const TINY_MODEL: &str = "tt-local/tiny";

const TINY_SEED: u64 = 0x7474_6c6f_6361_6c31;

/// The shape of `tt-local/tiny`: 4 layers of width 256, 8 query heads sharing 2 key/value
/// heads, MLP width 512, byte vocabulary (about 2.4M parameters).
pub fn tiny_config() -> ModelConfig {
    ModelConfig {
        vocab_size: BYTE_VOCAB,
        hidden_size: 256,
        intermediate_size: 512,
        num_hidden_layers: 4,
        num_attention_heads: 8,
        num_key_value_heads: Some(2),
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        tie_word_embeddings: false,
        attention_bias: false,
    }
}

/// Hugging Face–named tensors for `config`, drawn from `seed`: unit-variance embeddings,
/// projections with variance `1 / fan_in` (so activations keep their scale through the random
/// layers), unit norms, and an output head scaled so that initial logits have unit variance.
pub fn random_tensors(
    config: &ModelConfig,
    seed: u64,
    device: &Device,
) -> Result<HashMap<String, Tensor>, LocalError> {
    let mut rng = SeededRng::new(seed);
    let mut tensors = HashMap::new();
    let h = config.hidden_size;
    let mut normal = |rows: usize, cols: usize, std: f64| {
        Tensor::from_vec(rng.normals(rows * cols, std), (rows, cols), device)
    };
    tensors.insert("model.embed_tokens.weight".to_owned(), normal(config.vocab_size, h, 1.0)?);
    for layer in 0..config.num_hidden_layers {
        for (projection, fan_in, fan_out) in config.projections() {
            let name = format!("model.layers.{layer}.{}", projection.hf_name());
            tensors.insert(
                format!("{name}.weight"),
                normal(fan_out, fan_in, 1.0 / (fan_in as f64).sqrt())?,
            );
            if config.attention_bias
                && projection.hf_name().starts_with("self_attn")
                && projection.hf_name() != "self_attn.o_proj"
            {
                tensors.insert(
                    format!("{name}.bias"),
                    Tensor::zeros(fan_out, candle_core::DType::F32, device)?,
                );
            }
        }
        for norm in ["input_layernorm", "post_attention_layernorm"] {
            tensors.insert(
                format!("model.layers.{layer}.{norm}.weight"),
                Tensor::ones(h, candle_core::DType::F32, device)?,
            );
        }
    }
    tensors
        .insert("model.norm.weight".to_owned(), Tensor::ones(h, candle_core::DType::F32, device)?);
    if !config.tie_word_embeddings {
        tensors.insert(
            "lm_head.weight".to_owned(),
            normal(config.vocab_size, h, 1.0 / (h as f64).sqrt())?,
        );
    }
    Ok(tensors)
}

/// Builds `tt-local/tiny` on `device`.
pub fn tiny_model(device: &Device) -> Result<Llama, LocalError> {
    let config = tiny_config();
    let tensors = random_tensors(&config, TINY_SEED, device)?;
    Llama::from_tensors(config, &tensors, device)
}
