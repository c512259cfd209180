//! The training loop: padded batches, loss on the assistant tokens only, AdamW on the LoRA
//! factors while the base weights stay frozen.

use candle_core::backprop::GradStore;
use candle_core::{D, DType, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::adapter::LoraAdapter;
use crate::error::LocalError;
use crate::model::Llama;
use crate::rng::SeededRng;
use crate::tokenizer::Encoded;

/// Gradients are rescaled to at most this global norm before each update.
const MAX_GRAD_NORM: f64 = 1.0;

/// How to train, resolved from the run's hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrainOptions {
    pub(crate) epochs: u32,
    pub(crate) batch_size: usize,
    pub(crate) learning_rate: f64,
    /// Seeds the data order of every epoch.
    pub(crate) seed: u64,
}

/// One finished optimiser step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StepReport {
    /// 1-based epoch.
    pub(crate) epoch: u32,
    /// 1-based step, counted over all epochs.
    pub(crate) step: u64,
    pub(crate) total_steps: u64,
    /// Mean loss over the batch's trained tokens.
    pub(crate) loss: f64,
    /// Tokens in the batch (padding excluded).
    pub(crate) tokens: u64,
}

/// What the loop reports to, and asks whether to go on.
pub(crate) trait TrainObserver {
    /// Called between steps; an error (such as [`LocalError::Cancelled`]) stops training.
    fn before_step(&mut self) -> Result<(), LocalError>;
    /// Called after every step.
    fn on_step(&mut self, report: &StepReport, adapter: &LoraAdapter) -> Result<(), LocalError>;
}

/// Steps in a run over `n_rows` rows.
pub(crate) fn total_steps(n_rows: usize, options: &TrainOptions) -> u64 {
    n_rows.div_ceil(options.batch_size.max(1)) as u64 * u64::from(options.epochs)
}

/// Trains `adapter` on `rows`, skipping the first `done_steps` steps (already done before a
/// restart; the data order is the same because it depends on the seed and the epoch only).
pub(crate) fn train(
    model: &Llama,
    adapter: &LoraAdapter,
    rows: &[Encoded],
    options: &TrainOptions,
    done_steps: u64,
    observer: &mut dyn TrainObserver,
) -> Result<(), LocalError> {
    if rows.iter().all(|row| !row.trained.iter().skip(1).any(|&trained| trained)) {
        return Err(LocalError::InvalidInput {
            message: "no assistant tokens to train on".to_owned(),
        });
    }
    let params =
        ParamsAdamW { lr: options.learning_rate, weight_decay: 0.0, ..ParamsAdamW::default() };
    let vars = adapter.vars();
    let mut optimizer = AdamW::new(vars.clone(), params)?;
    let weights = adapter.weights();
    let total_steps = total_steps(rows.len(), options);
    let mut step = 0u64;
    for epoch in 1..=options.epochs {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        SeededRng::new(options.seed ^ u64::from(epoch)).shuffle(&mut order);
        for chunk in order.chunks(options.batch_size.max(1)) {
            step += 1;
            if step <= done_steps {
                continue;
            }
            observer.before_step()?;
            let batch: Vec<&Encoded> = chunk.iter().map(|&index| &rows[index]).collect();
            let (loss, tokens) = batch_loss(model, &weights, &batch)?;
            optimizer.set_learning_rate(scheduled_rate(options.learning_rate, step, total_steps));
            let grads = clipped_gradients(&loss, &vars)?;
            optimizer.step(&grads)?;
            let loss = f64::from(loss.to_scalar::<f32>()?);
            observer.on_step(&StepReport { epoch, step, total_steps, loss, tokens }, adapter)?;
        }
    }
    Ok(())
}

/// The rate at `step` (1-based): linear decay from `peak` to a tenth of it at the last step,
/// which keeps the large rates that tiny needs from undoing the last steps' progress.
fn scheduled_rate(peak: f64, step: u64, total_steps: u64) -> f64 {
    let progress = (step.saturating_sub(1)) as f64 / total_steps.saturating_sub(1).max(1) as f64;
    peak * (1.0 - 0.9 * progress)
}

/// Gradients whose global norm is at most [`MAX_GRAD_NORM`].
fn clipped_gradients(loss: &Tensor, vars: &[Var]) -> Result<GradStore, LocalError> {
    let mut grads = loss.backward()?;
    let mut squared = 0f64;
    for var in vars {
        if let Some(grad) = grads.get(var) {
            squared += f64::from(grad.sqr()?.sum_all()?.to_scalar::<f32>()?);
        }
    }
    let norm = squared.sqrt();
    if norm > MAX_GRAD_NORM {
        let factor = MAX_GRAD_NORM / norm;
        for var in vars {
            if let Some(grad) = grads.remove(var) {
                grads.insert(var, (grad * factor)?);
            }
        }
    }
    Ok(grads)
}

/// Mean cross-entropy over the trained tokens of a right-padded batch, and its token count.
pub(crate) fn batch_loss(
    model: &Llama,
    weights: &crate::model::LoraWeights,
    batch: &[&Encoded],
) -> Result<(Tensor, u64), LocalError> {
    let width = batch.iter().map(|row| row.ids.len().saturating_sub(1)).max().unwrap_or(0).max(1);
    let mut inputs = Vec::with_capacity(batch.len() * width);
    let mut targets = Vec::with_capacity(batch.len() * width);
    let mut mask = Vec::with_capacity(batch.len() * width);
    let mut tokens = 0u64;
    for row in batch {
        tokens += row.ids.len() as u64;
        for position in 0..width {
            let next = position + 1;
            if next < row.ids.len() {
                inputs.push(row.ids[position]);
                targets.push(row.ids[next]);
                mask.push(if row.trained[next] { 1f32 } else { 0.0 });
            } else {
                // Padding sits after the real tokens, so the causal mask already hides it
                // from them; its own positions are masked out of the loss.
                inputs.push(0);
                targets.push(0);
                mask.push(0.0);
            }
        }
    }
    let device = model.device();
    let shape = (batch.len(), width);
    let inputs = Tensor::from_vec(inputs, shape, device)?;
    let targets = Tensor::from_vec(targets, shape, device)?;
    let mask = Tensor::from_vec(mask, shape, device)?;
    let logits = model.forward(&inputs, Some(weights), None, true)?;
    let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let picked = log_probs.gather(&targets.unsqueeze(2)?, 2)?.squeeze(2)?;
    let n_trained = mask.sum_all()?.to_scalar::<f32>()?.max(1.0);
    let loss = ((picked * &mask)?.sum_all()? / f64::from(-n_trained))?;
    Ok((loss.to_dtype(DType::F32)?, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_decays_linearly_to_a_tenth_of_the_peak() {
        assert_eq!(scheduled_rate(1.0, 1, 11), 1.0);
        assert!((scheduled_rate(1.0, 6, 11) - 0.55).abs() < 1e-12);
        assert!((scheduled_rate(1.0, 11, 11) - 0.1).abs() < 1e-12);
        assert_eq!(scheduled_rate(0.5, 1, 1), 0.5);
    }

    #[test]
    fn steps_count_partial_batches() {
        let options = TrainOptions { epochs: 3, batch_size: 8, learning_rate: 0.1, seed: 0 };
        assert_eq!(total_steps(17, &options), 9);
    }
}
