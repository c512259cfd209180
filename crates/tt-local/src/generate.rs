//! Decoding: greedy by default, seeded temperature sampling when asked, with a key/value cache.

use candle_core::{D, Tensor};

use crate::error::LocalError;
use crate::model::{KvCache, Llama, LoraWeights};
use crate::rng::SeededRng;

/// How to decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DecodeOptions {
    /// The most new tokens.
    pub(crate) max_tokens: usize,
    /// 0 (or less) means greedy.
    pub(crate) temperature: f32,
    /// Seeds the sampler when `temperature > 0`.
    pub(crate) seed: u64,
}

/// New token ids after `prompt`, up to (not including) the first stop id.
pub(crate) fn generate(
    model: &Llama,
    lora: Option<&LoraWeights>,
    prompt: &[u32],
    stops: &[u32],
    options: &DecodeOptions,
) -> Result<Vec<u32>, LocalError> {
    let mut cache = KvCache::default();
    let mut rng = SeededRng::new(options.seed);
    let mut generated = Vec::new();
    let mut input = prompt.to_vec();
    while generated.len() < options.max_tokens {
        let ids = Tensor::from_vec(input.clone(), (1, input.len()), model.device())?;
        let logits = model.forward(&ids, lora, Some(&mut cache), false)?;
        let last = logits.squeeze(0)?.get(input.len() - 1)?;
        let next = pick(&last, options.temperature, &mut rng)?;
        if stops.contains(&next) {
            break;
        }
        generated.push(next);
        input = vec![next];
    }
    Ok(generated)
}

fn pick(logits: &Tensor, temperature: f32, rng: &mut SeededRng) -> Result<u32, LocalError> {
    if temperature <= 0.0 {
        return Ok(logits.argmax(D::Minus1)?.to_scalar::<u32>()?);
    }
    let probs =
        candle_nn::ops::softmax_last_dim(&(logits / f64::from(temperature))?.unsqueeze(0)?)?
            .squeeze(0)?;
    let probs: Vec<f32> = probs.to_vec1()?;
    let mut threshold = rng.uniform() as f32;
    for (id, p) in probs.iter().enumerate() {
        threshold -= p;
        if threshold <= 0.0 {
            return Ok(id as u32);
        }
    }
    Ok((probs.len() - 1) as u32)
}
