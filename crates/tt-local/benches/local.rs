//! `cargo bench -p tt-local --bench local`: training and decoding throughput of the local
//! trainer on this machine, printed as a markdown table.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use candle_core::Device;
use tt_local::figures::{decode_tokens_per_second, training_tokens_per_second};
use tt_local::tiny::{random_tensors, tiny_config, tiny_model};
use tt_local::{Llama, ModelConfig, Projection};

/// SmolLM2-135M's shape, with random weights.
fn smollm2_135m_shape() -> ModelConfig {
    ModelConfig {
        vocab_size: 49_152,
        hidden_size: 576,
        intermediate_size: 1536,
        num_hidden_layers: 30,
        num_attention_heads: 9,
        num_key_value_heads: Some(3),
        rms_norm_eps: 1e-5,
        rope_theta: 100_000.0,
        tie_word_embeddings: true,
        attention_bias: false,
    }
}

fn main() -> Result<(), tt_local::LocalError> {
    let device = Device::Cpu;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    eprintln!("tt-local throughput on {threads} CPU threads, f32");

    let tiny = tiny_model(&device)?;
    let train = training_tokens_per_second(&tiny, &Projection::ALL, 8, 128, 5)?;
    let decode = decode_tokens_per_second(&tiny, 64, 128)?;
    row("tt-local/tiny", &tiny_config(), "all 7", "8 × 128", train, decode);

    let config = smollm2_135m_shape();
    let big = Llama::from_tensors(config.clone(), &random_tensors(&config, 3, &device)?, &device)?;
    let train = training_tokens_per_second(&big, &Projection::ATTENTION, 4, 128, 3)?;
    let decode = decode_tokens_per_second(&big, 64, 32)?;
    row("135M Llama shape (SmolLM2), random", &config, "q, k, v, o", "4 × 128", train, decode);
    Ok(())
}

fn row(name: &str, config: &ModelConfig, targets: &str, batch: &str, train: f64, decode: f64) {
    // One `| group | figure | value | unit |` row per figure, as `cargo xtask bench` collects them.
    let params = config.parameter_count() as f64 / 1e6;
    println!(
        "| local | {name} ({params:.1}M, LoRA on {targets}, batch {batch}): training | {train:.0} | tokens/s |"
    );
    println!("| local | {name}: greedy decode | {decode:.1} | tokens/s |");
}
