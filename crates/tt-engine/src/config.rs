//! What the engine is built from: its tuning knobs and the providers it calls.

use std::sync::Arc;
use std::time::Duration;

use tt_domain::RateCard;
use tt_providers::{Augmenter, FineTuner, Inference, Judge};

/// Engine settings. The defaults suit a server; tests shorten the times.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This worker's name, recorded on the leases it holds (unique per process).
    pub worker_id: String,
    /// How long a lease lasts without renewal; it is renewed every third of this.
    pub lease: Duration,
    /// How often the worker looks for work when no wake-up hint arrives.
    pub poll_interval: Duration,
    /// The most runs this worker carries at once.
    pub max_runs_in_flight: usize,
    /// Examples evaluated concurrently per run (`TT_EVAL_CONCURRENCY`).
    pub eval_concurrency: usize,
    /// Provider calls in flight at once across all runs of this worker: with a thousand
    /// runs in flight, an unbounded number of open connections costs memory for nothing.
    pub max_provider_calls: usize,
    /// The first wait between looks at a training job.
    pub training_poll_min: Duration,
    /// The longest wait between looks at a training job.
    pub training_poll_max: Duration,
    /// Tries of one provider call within a step before the step is put off.
    pub call_attempts: u32,
    /// The first wait between tries of a provider call (doubling, capped at 5 s, and
    /// never shorter than a rate limit's `Retry-After`).
    pub call_backoff: Duration,
    /// Consecutive put-off steps after which the run fails.
    pub max_step_failures: i64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            worker_id: "worker".to_owned(),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            max_runs_in_flight: 2_000,
            eval_concurrency: 16,
            max_provider_calls: 128,
            training_poll_min: Duration::from_millis(500),
            training_poll_max: Duration::from_secs(10),
            call_attempts: 4,
            call_backoff: Duration::from_millis(250),
            max_step_failures: 8,
        }
    }
}

/// A trainer and the inference that serves the models it makes.
#[derive(Clone)]
pub struct Trainer {
    /// Runs fine-tuning jobs.
    pub fine_tuner: Arc<dyn FineTuner>,
    /// Answers with the resulting models (and base models).
    pub inference: Arc<dyn Inference>,
}

/// The providers a run uses.
#[derive(Clone)]
pub struct Providers {
    /// The in-process trainer, for `tt-local/…` names and local model directories.
    pub local: Option<Trainer>,
    /// The hosted trainer (Together AI), for hub-named base models.
    pub hosted: Option<Trainer>,
    /// Scores answers.
    pub judge: Arc<dyn Judge>,
    /// Makes extra training examples.
    pub augmenter: Arc<dyn Augmenter>,
    /// Prices per base model.
    pub rate_card: Arc<RateCard>,
}

impl Providers {
    /// The trainer for `base_model`, or a message saying what to configure.
    pub fn trainer_for(&self, base_model: &str) -> Result<&Trainer, String> {
        if RateCard::is_local_model(base_model) {
            return self.local.as_ref().ok_or_else(|| {
                format!("base model `{base_model}` needs the local trainer, which this server was started without")
            });
        }
        self.hosted.as_ref().ok_or_else(|| {
            format!(
                "base model `{base_model}` needs a hosted trainer: start the server with TT_TRAINER=together and TOGETHER_API_KEY set, or use a local model such as tt-local/tiny"
            )
        })
    }

    /// The trainer whose provider name is `name`.
    pub(crate) fn trainer_named(&self, name: &str) -> Option<&Trainer> {
        [self.local.as_ref(), self.hosted.as_ref()]
            .into_iter()
            .flatten()
            .find(|t| t.fine_tuner.provider_name() == name)
    }
}
