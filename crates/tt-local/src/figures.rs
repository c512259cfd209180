//! Throughput measurements for the `local` benchmark, run on the same code paths as real
//! training and inference.

use std::time::Instant;

use crate::adapter::{AdapterConfig, LoraAdapter};
use crate::error::LocalError;
use crate::generate::{DecodeOptions, generate};
use crate::model::{Llama, Projection};
use crate::rng::SeededRng;
use crate::tokenizer::Encoded;
use crate::train::{StepReport, TrainObserver, TrainOptions, train};

/// Training tokens per second over `steps` LoRA steps of `batch_size` random sequences of
/// `seq_len` tokens (every token trained), adapting `targets` with rank 8. The first step is
/// a warm-up and is not counted.
pub fn training_tokens_per_second(
    model: &Llama,
    targets: &[Projection],
    batch_size: usize,
    seq_len: usize,
    steps: usize,
) -> Result<f64, LocalError> {
    let mut rng = SeededRng::new(1);
    let vocab = model.config().vocab_size as u64;
    let rows: Vec<Encoded> = (0..batch_size * (steps + 1))
        .map(|_| Encoded {
            ids: (0..seq_len).map(|_| (rng.next_u64() % vocab) as u32).collect(),
            trained: vec![true; seq_len],
        })
        .collect();
    let adapter = LoraAdapter::new(
        AdapterConfig::new("bench", 8, 16.0, targets.to_vec()),
        model.config(),
        1,
        model.device(),
    )?;
    let options = TrainOptions { epochs: 1, batch_size, learning_rate: 1e-3, seed: 1 };
    let mut observer = Stopwatch { started: None, tokens: 0 };
    train(model, &adapter, &rows, &options, 0, &mut observer)?;
    let started = observer.started.expect("at least two steps ran");
    Ok(observer.tokens as f64 / started.elapsed().as_secs_f64())
}

struct Stopwatch {
    started: Option<Instant>,
    tokens: u64,
}

impl TrainObserver for Stopwatch {
    fn before_step(&mut self) -> Result<(), LocalError> {
        Ok(())
    }

    fn on_step(&mut self, report: &StepReport, _adapter: &LoraAdapter) -> Result<(), LocalError> {
        match self.started {
            None => self.started = Some(Instant::now()),
            Some(_) => self.tokens += report.tokens,
        }
        Ok(())
    }
}

/// Greedy decoding speed in new tokens per second, after a random prompt of `prompt_len`
/// tokens, generating exactly `new_tokens` (no stop token).
pub fn decode_tokens_per_second(
    model: &Llama,
    prompt_len: usize,
    new_tokens: usize,
) -> Result<f64, LocalError> {
    let mut rng = SeededRng::new(2);
    let vocab = model.config().vocab_size as u64;
    let prompt: Vec<u32> = (0..prompt_len).map(|_| (rng.next_u64() % vocab) as u32).collect();
    let options = DecodeOptions { max_tokens: new_tokens, temperature: 0.0, seed: 0 };
    let started = Instant::now();
    let ids = generate(model, None, &prompt, &[], &options)?;
    Ok(ids.len() as f64 / started.elapsed().as_secs_f64())
}
