//! A fake fine-tuning job: its timeline of statuses and events, fixed at creation and
//! read at "now", so that progress depends only on the time since creation.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tt_domain::Timestamp;

use super::FakeJob;

/// Events logged while training, at most (plus one per epoch).
const MAX_STEP_EVENTS: u64 = 50;

/// Together's list price for LoRA SFT up to 16B, in nano-dollars per token ($0.48/M).
const NANO_DOLLARS_PER_TOKEN: u64 = 480;

/// Everything a job was created with.
pub(super) struct NewJob {
    pub(super) id: String,
    pub(super) model: String,
    pub(super) training_file: String,
    pub(super) suffix: String,
    pub(super) n_epochs: u32,
    pub(super) batch_size: Value,
    pub(super) learning_rate: f64,
    pub(super) training_type: Value,
    pub(super) training_method: Value,
    pub(super) token_count: u64,
    pub(super) file_lines: u64,
    pub(super) file_bytes: u64,
    pub(super) request: Value,
}

/// One point of a job's timeline: from `at` after creation the job has `status`, and the
/// event (when `kind` is set) is visible.
struct Entry {
    at: Duration,
    status: &'static str,
    kind: &'static str,
    level: &'static str,
    message: String,
    step: u64,
    epoch: u32,
}

pub(super) struct JobRecord {
    pub(super) id: String,
    pub(super) output_name: String,
    job: NewJob,
    created: Instant,
    created_ms: i64,
    total_steps: u64,
    timeline: Vec<Entry>,
}

impl JobRecord {
    /// A job created now, walking its statuses over `duration`; it fails halfway through
    /// training when `fail_with` is set.
    pub(super) fn new(
        job: NewJob,
        created_ms: i64,
        duration: Duration,
        fail_with: Option<&str>,
    ) -> Self {
        let short_model =
            job.model.trim_end_matches('/').rsplit('/').next().unwrap_or(&job.model).to_owned();
        let hex = job.id.trim_start_matches("ft-").replace('-', "");
        let output_name =
            format!("fake-user/{short_model}-{}-{}", job.suffix, &hex[..8.min(hex.len())]);
        let batch = job.batch_size.as_u64().unwrap_or(8).max(1);
        let steps_per_epoch = job.file_lines.div_ceil(batch).max(1);
        let total_steps = steps_per_epoch * u64::from(job.n_epochs);
        let mut record = Self {
            id: job.id.clone(),
            output_name,
            created: Instant::now(),
            created_ms,
            total_steps,
            timeline: Vec::new(),
            job,
        };
        record.plan(duration, steps_per_epoch);
        if let Some(message) = fail_with {
            let halfway = duration.mul_f64(0.5);
            record.truncate_at(halfway);
            record.push(halfway, "error", "JOB_ERROR", "error", message.to_owned());
        }
        record
    }

    fn plan(&mut self, duration: Duration, steps_per_epoch: u64) {
        let at = |fraction: f64| duration.mul_f64(fraction);
        let model = self.job.model.clone();
        self.push(
            at(0.0),
            "pending",
            "JOB_PENDING",
            "info",
            "Fine tune request created".to_owned(),
        );
        self.push(at(0.1), "queued", "JOB_PENDING", "info", "Job queued, position 1".to_owned());
        self.push(at(0.2), "running", "JOB_START", "info", "Job started".to_owned());
        self.push(
            at(0.2),
            "running",
            "MODEL_DOWNLOAD_COMPLETE",
            "info",
            "Model data downloaded".to_owned(),
        );
        self.push(
            at(0.2),
            "running",
            "TRAINING_DATA_DOWNLOAD_COMPLETE",
            "info",
            "Training data downloaded".to_owned(),
        );
        self.push(
            at(0.2),
            "running",
            "TRAINING_START",
            "info",
            format!("Training started for model {model}"),
        );
        let total = self.total_steps;
        let stride = total.div_ceil(MAX_STEP_EVENTS).max(1);
        for step in 1..=total {
            let when = at(0.2 + 0.6 * step as f64 / total as f64);
            let epoch = u32::try_from(step.div_ceil(steps_per_epoch)).unwrap_or(u32::MAX);
            if step % stride == 0 || step == total {
                let loss = 0.2 + 2.0 * (-3.0 * step as f64 / total as f64).exp();
                let message = format!("Epoch {epoch}, step {step}/{total}: loss {loss:.4}");
                self.push_step(when, "TRAINING_PROGRESS", message, step, epoch);
            }
            if step % steps_per_epoch == 0 {
                let completed = u32::try_from(step / steps_per_epoch).unwrap_or(u32::MAX);
                let message = format!("Epoch {completed} completed, at step {step}");
                self.push_step(when, "EPOCH_COMPLETE", message, step, completed);
            }
        }
        self.push(
            at(0.8),
            "compressing",
            "TRAINING_COMPLETE",
            "info",
            "Training completed".to_owned(),
        );
        self.push(
            at(0.8),
            "compressing",
            "COMPRESSING_MODEL",
            "info",
            "Compressing output model".to_owned(),
        );
        self.push(
            at(0.9),
            "uploading",
            "MODEL_COMPRESSION_COMPLETE",
            "info",
            "Model compression complete".to_owned(),
        );
        self.push(
            at(0.9),
            "uploading",
            "MODEL_UPLOADING",
            "info",
            "Uploading output model".to_owned(),
        );
        self.push(
            at(1.0),
            "completed",
            "MODEL_UPLOAD_COMPLETE",
            "info",
            "Model upload complete".to_owned(),
        );
        self.push(
            at(1.0),
            "completed",
            "JOB_COMPLETE",
            "info",
            format!("Job finished, output model {}", self.output_name),
        );
    }

    fn push(
        &mut self,
        at: Duration,
        status: &'static str,
        kind: &'static str,
        level: &'static str,
        message: String,
    ) {
        let (step, epoch) = self.timeline.last().map_or((0, 0), |last| (last.step, last.epoch));
        self.timeline.push(Entry { at, status, kind, level, message, step, epoch });
    }

    fn push_step(
        &mut self,
        at: Duration,
        kind: &'static str,
        message: String,
        step: u64,
        epoch: u32,
    ) {
        self.timeline.push(Entry {
            at,
            status: "running",
            kind,
            level: "info",
            message,
            step,
            epoch,
        });
    }

    fn truncate_at(&mut self, at: Duration) {
        self.timeline.retain(|entry| entry.at <= at);
    }

    fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created)
    }

    fn visible(&self, now: Instant) -> impl Iterator<Item = &Entry> {
        let elapsed = self.elapsed(now);
        self.timeline.iter().filter(move |entry| entry.at <= elapsed)
    }

    fn current(&self, now: Instant) -> Option<&Entry> {
        self.visible(now).last()
    }

    /// Together's status now.
    pub(super) fn status(&self, now: Instant) -> &'static str {
        self.current(now).map_or("pending", |entry| entry.status)
    }

    /// Whether the job has ended or is being cancelled (Together refuses to cancel then).
    pub(super) fn is_cancellable(&self, now: Instant) -> bool {
        !matches!(
            self.status(now),
            "completed" | "cancelled" | "cancel_requested" | "error" | "user_error"
        )
    }

    /// Cancels the job: `cancel_requested` now, `cancelled` after `delay`.
    pub(super) fn cancel(&mut self, now: Instant, delay: Duration) {
        let at = self.elapsed(now);
        self.truncate_at(at);
        self.push(
            at,
            "cancel_requested",
            "CANCEL_REQUESTED",
            "info",
            "Cancel requested".to_owned(),
        );
        self.push(
            at + delay,
            "cancelled",
            "JOB_STOPPED",
            "info",
            "Job cancelled; billed for completed steps only".to_owned(),
        );
    }

    /// Fails the job now; false when it has already ended.
    pub(super) fn fail(&mut self, now: Instant, message: &str) -> bool {
        if matches!(self.status(now), "completed" | "cancelled" | "error" | "user_error") {
            return false;
        }
        let at = self.elapsed(now);
        self.truncate_at(at);
        self.push(at, "error", "JOB_ERROR", "error", message.to_owned());
        true
    }

    fn tokenized(&self, now: Instant) -> bool {
        !matches!(self.status(now), "pending" | "queued")
    }

    /// The job in Together's `FinetuneResponse` shape (with `events` when `full`).
    pub(super) fn to_json(&self, now: Instant, full: bool) -> Value {
        let current = self.current(now);
        let status = current.map_or("pending", |entry| entry.status);
        let (token_count, total_price) = if self.tokenized(now) {
            let tokens = self.job.token_count;
            (tokens, tokens * u64::from(self.job.n_epochs) * NANO_DOLLARS_PER_TOKEN)
        } else {
            (0, 0)
        };
        let updated_ms = self.created_ms + current.map_or(0, |entry| millis(entry.at));
        let mut value = json!({
            "id": self.id,
            "object": "finetune",
            "status": status,
            "created_at": Timestamp::from_millis(self.created_ms).to_string(),
            "updated_at": Timestamp::from_millis(updated_ms).to_string(),
            "user_id": "fake-user",
            "owner_address": "0xfake",
            "model": self.job.model,
            "training_file": self.job.training_file,
            "validation_file": "",
            "suffix": self.job.suffix,
            "model_output_name": self.output_name,
            "n_epochs": self.job.n_epochs,
            "n_checkpoints": 1,
            "n_evals": 0,
            "batch_size": self.job.batch_size,
            "learning_rate": self.job.learning_rate,
            "training_type": self.job.training_type,
            "training_method": self.job.training_method,
            "token_count": token_count,
            "param_count": 0,
            "total_price": total_price,
            "total_steps": self.total_steps,
            "steps_completed": current.map_or(0, |entry| entry.step),
            "epochs_completed": current.map_or(0, |entry| entry.epoch),
            "evals_completed": 0,
            "queue_depth": u64::from(status == "queued"),
            "trainingfile_numlines": self.job.file_lines,
            "trainingfile_size": self.job.file_bytes,
        });
        if full {
            value["events"] = Value::Array(self.events_json(now));
        }
        value
    }

    /// The events visible now, in Together's `FineTuneEvent` shape.
    pub(super) fn events_json(&self, now: Instant) -> Vec<Value> {
        let token_count = if self.tokenized(now) { self.job.token_count } else { 0 };
        self.visible(now)
            .enumerate()
            .map(|(index, entry)| {
                json!({
                    "object": "fine-tune-event",
                    "created_at": Timestamp::from_millis(self.created_ms + millis(entry.at)).to_string(),
                    "level": entry.level,
                    "message": entry.message,
                    "type": entry.kind,
                    "param_count": 0,
                    "token_count": token_count,
                    "total_steps": self.total_steps,
                    "wandb_url": "",
                    "step": entry.step,
                    "checkpoint_path": "",
                    "model_path": "",
                    "training_offset": 0,
                    "hash": format!("{}-{index}", self.id),
                })
            })
            .collect()
    }

    /// What [`super::FakeTogether::job`] shows.
    pub(super) fn snapshot(&self, now: Instant) -> FakeJob {
        let lora = |key: &str| self.job.training_type.get(key).and_then(Value::as_u64);
        FakeJob {
            id: self.id.clone(),
            status: self.status(now).to_owned(),
            model: self.job.model.clone(),
            training_file: self.job.training_file.clone(),
            suffix: self.job.suffix.clone(),
            model_output_name: self.output_name.clone(),
            n_epochs: self.job.n_epochs,
            learning_rate: self.job.learning_rate,
            lora_r: lora("lora_r"),
            lora_alpha: lora("lora_alpha"),
            token_count: self.job.token_count,
            total_steps: self.total_steps,
            steps_completed: self.current(now).map_or(0, |entry| entry.step),
            request: self.job.request.clone(),
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
