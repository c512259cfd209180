//! Fine-tuning: training-file upload, job creation made idempotent per run, job status,
//! events and cancellation.
//!
//! Idempotent creation: every job's suffix carries the run's marker (`tt-` and the first
//! 12 hex digits of the run id). Before creating, the jobs list is searched for a job
//! whose suffix or output name carries the marker and that has not failed or been
//! cancelled; if there is one it is returned instead. The create call itself is never
//! retried blindly: after an ambiguous failure (timeout, 5xx, 429) the list is searched
//! again, and only if the job is still missing is the call tried once more.

use async_trait::async_trait;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use tt_domain::{ProgressEvent, RunId, Timestamp};
use tt_providers::{
    FineTuneJob, FineTuneRequest, FineTuner, JobEvent, JobStatus, ProviderError, UploadedFile,
};

use crate::client::TogetherClient;
use crate::http::{Retry, retry_delay};
use crate::wire::{
    CreateJobBody, EventResponse, FileResponse, JobResponse, ListResponse, TrainingMethod,
    TrainingType,
};

/// The learning rate sent when a run's rate is `auto`: the default of Together's own SDK
/// and CLI (`learning_rate = 1e-5`).
pub const AUTO_LEARNING_RATE: f64 = 1e-5;

/// The longest suffix sent: Together documents "up to 40 characters" (its newer SDK
/// allows 64; we keep to the stricter limit).
pub const MAX_SUFFIX_LEN: usize = 40;

/// Attempts of the create call: the first, and one more after an ambiguous failure.
const CREATE_ATTEMPTS: u32 = 2;

/// The run's marker in job suffixes: `tt-` and the first 12 hex digits of the run id.
pub fn run_marker(run_id: RunId) -> String {
    let hex = run_id.as_uuid().simple().to_string();
    format!("tt-{}", &hex[..12])
}

/// The suffix a run's job is created with: the requested suffix cleaned to lowercase
/// letters, digits and dashes and shortened, then the run's marker, at most
/// [`MAX_SUFFIX_LEN`] characters in all.
pub fn job_suffix(run_id: RunId, requested: &str) -> String {
    let marker = run_marker(run_id);
    let mut cleaned = String::new();
    for c in requested.chars() {
        let c = if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' };
        if !(c == '-' && (cleaned.is_empty() || cleaned.ends_with('-'))) {
            cleaned.push(c);
        }
    }
    let cleaned = cleaned.trim_end_matches('-');
    if cleaned.contains(&marker) && cleaned.len() <= MAX_SUFFIX_LEN {
        return cleaned.to_owned();
    }
    let room = MAX_SUFFIX_LEN - marker.len() - 1;
    let head = cleaned[..cleaned.len().min(room)].trim_end_matches('-');
    if head.is_empty() { marker } else { format!("{head}-{marker}") }
}

#[async_trait]
impl FineTuner for TogetherClient {
    fn provider_name(&self) -> &'static str {
        "together"
    }

    /// `POST /files/upload` (multipart: `file`, `file_name`, `purpose=fine-tune`,
    /// `file_type=jsonl`). Retried on transient failures: a repeat can at worst leave an
    /// unused file at Together, which costs nothing, and the id returned is the one used.
    async fn upload_dataset(
        &self,
        run_id: RunId,
        file_name: &str,
        jsonl: &str,
    ) -> Result<UploadedFile, ProviderError> {
        tracing::debug!(%run_id, file_name, bytes = jsonl.len(), "uploading a training file to Together");
        let form = || {
            Form::new()
                .text("purpose", "fine-tune")
                .text("file_name", file_name.to_owned())
                .text("file_type", "jsonl")
                .part(
                    "file",
                    Part::bytes(jsonl.as_bytes().to_vec()).file_name(file_name.to_owned()),
                )
        };
        let file: FileResponse = self
            .call(&format!("upload of {file_name}"), Retry::OnTransient, || {
                self.request(Method::POST, &["files", "upload"]).multipart(form())
            })
            .await?;
        Ok(UploadedFile { id: file.id, bytes: file.bytes.unwrap_or(jsonl.len() as u64) })
    }

    async fn create_job(&self, request: &FineTuneRequest) -> Result<FineTuneJob, ProviderError> {
        let marker = run_marker(request.run_id);
        if let Some(existing) = self.find_run_job(&marker).await? {
            tracing::info!(run_id = %request.run_id, job_id = %existing.id, "reusing the Together job already created for this run");
            return Ok(self.map_job(existing).await);
        }
        let suffix = job_suffix(request.run_id, &request.suffix);
        let hyper = &request.hyperparameters;
        let body = CreateJobBody {
            training_file: &request.training_file_id,
            model: &request.base_model,
            n_epochs: hyper.n_epochs(),
            n_checkpoints: 1,
            learning_rate: hyper.learning_rate().or(AUTO_LEARNING_RATE),
            batch_size: hyper.batch_size(),
            suffix: &suffix,
            training_type: TrainingType {
                kind: "Lora",
                lora_r: hyper.lora_rank(),
                lora_alpha: hyper.lora_alpha(),
                lora_dropout: 0.0,
                lora_trainable_modules: "all-linear",
            },
            training_method: TrainingMethod { method: "sft", train_on_inputs: "auto" },
        };
        let mut attempt = 1;
        loop {
            let created = self
                .call::<JobResponse>("new fine-tuning job", Retry::Never, || {
                    self.request(Method::POST, &["fine-tunes"]).json(&body)
                })
                .await;
            let err = match created {
                Ok(job) => return Ok(self.map_job(job).await),
                Err(err) if err.is_transient() && attempt < CREATE_ATTEMPTS => err,
                Err(err) => return Err(err),
            };
            let Some(wait) = retry_delay(&err, Some(self.retry_min_delay), self.max_retry_after)
            else {
                return Err(err);
            };
            tracing::warn!(run_id = %request.run_id, error = %err, "creating the Together job failed; looking it up before trying again");
            tokio::time::sleep(wait).await;
            if let Some(existing) = self.find_run_job(&marker).await? {
                return Ok(self.map_job(existing).await);
            }
            attempt += 1;
        }
    }

    async fn get_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError> {
        let job = self.fetch_job(job_id).await?;
        Ok(self.map_job(job).await)
    }

    async fn job_events(&self, job_id: &str, after: usize) -> Result<Vec<JobEvent>, ProviderError> {
        let events = self.fetch_events(job_id).await?;
        Ok(events
            .iter()
            .skip(after)
            .map(|event| JobEvent { progress: event_progress(event) })
            .collect())
    }

    /// `POST /fine-tunes/{id}/cancel`. Together refuses to cancel a job that has finished
    /// or is already being cancelled; then the job is read and returned as it is.
    async fn cancel_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError> {
        let cancelled = self
            .call::<JobResponse>(&format!("fine-tuning job {job_id}"), Retry::OnTransient, || {
                self.request(Method::POST, &["fine-tunes", job_id, "cancel"])
            })
            .await;
        match cancelled {
            Ok(job) => Ok(self.map_job(job).await),
            Err(refused @ ProviderError::Rejected { .. }) => {
                let job = self.fetch_job(job_id).await?;
                let status = job.status.to_ascii_lowercase();
                if status == "cancel_requested" || map_status(&status) != JobStatus::Running {
                    Ok(self.map_job(job).await)
                } else {
                    Err(refused)
                }
            }
            Err(err) => Err(err),
        }
    }
}

impl TogetherClient {
    async fn fetch_job(&self, job_id: &str) -> Result<JobResponse, ProviderError> {
        self.call(&format!("fine-tuning job {job_id}"), Retry::OnTransient, || {
            self.request(Method::GET, &["fine-tunes", job_id])
        })
        .await
    }

    async fn fetch_events(&self, job_id: &str) -> Result<Vec<EventResponse>, ProviderError> {
        let list: ListResponse<EventResponse> = self
            .call(&format!("events of fine-tuning job {job_id}"), Retry::OnTransient, || {
                self.request(Method::GET, &["fine-tunes", job_id, "events"])
            })
            .await?;
        Ok(list.data)
    }

    /// The newest job carrying `marker` that may still produce (or has produced) a model.
    async fn find_run_job(&self, marker: &str) -> Result<Option<JobResponse>, ProviderError> {
        let list: ListResponse<JobResponse> = self
            .call("fine-tuning jobs", Retry::OnTransient, || {
                self.request(Method::GET, &["fine-tunes"])
            })
            .await?;
        let carries_marker = |job: &JobResponse| {
            [&job.suffix, &job.model_output_name]
                .iter()
                .any(|name| name.as_deref().is_some_and(|n| n.contains(marker)))
        };
        let created =
            |job: &JobResponse| job.created_at.as_deref().and_then(Timestamp::parse_rfc3339);
        Ok(list
            .data
            .into_iter()
            .filter(|job| {
                carries_marker(job)
                    && matches!(map_status(&job.status), JobStatus::Running | JobStatus::Completed)
            })
            .max_by(|a, b| created(a).cmp(&created(b))))
    }

    /// The job in our terms; a failed job's message comes from its error event, read from
    /// the events endpoint when the response did not include the events.
    async fn map_job(&self, job: JobResponse) -> FineTuneJob {
        let status = map_status(&job.status);
        let error = if status == JobStatus::Failed {
            let inline = job.events.as_deref().and_then(failure_message);
            let message = match inline {
                Some(message) => Some(message),
                None => self.fetch_events(&job.id).await.ok().as_deref().and_then(failure_message),
            };
            Some(message.unwrap_or_else(|| {
                format!("the fine-tuning job ended with status `{}`", job.status)
            }))
        } else {
            None
        };
        FineTuneJob {
            progress: job_progress(&job, status),
            token_count: job.token_count.filter(|&n| n > 0),
            output_model: if status == JobStatus::Completed { job.model_output_name } else { None },
            id: job.id,
            status,
            error,
        }
    }
}

/// Together's status in our terms. An unknown status (Together adds some over time) is
/// taken as still running, so that polling continues, and logged.
fn map_status(status: &str) -> JobStatus {
    match status.to_ascii_lowercase().as_str() {
        "completed" => JobStatus::Completed,
        "error" | "user_error" => JobStatus::Failed,
        "cancelled" => JobStatus::Cancelled,
        "pending" | "queued" | "running" | "compressing" | "uploading" | "cancel_requested" => {
            JobStatus::Running
        }
        other => {
            tracing::warn!(status = other, "unknown Together job status; treating it as running");
            JobStatus::Running
        }
    }
}

fn job_progress(job: &JobResponse, status: JobStatus) -> Option<ProgressEvent> {
    if job.total_steps.is_none() && job.steps_completed.is_none() && job.epochs_completed.is_none()
    {
        return None;
    }
    let total_steps = job.total_steps.filter(|&n| n > 0);
    let percent = match (status, job.steps_completed, total_steps) {
        (JobStatus::Completed, _, _) => Some(100.0),
        (_, Some(done), Some(total)) => Some((done as f64 / total as f64 * 100.0).min(100.0)),
        _ => None,
    };
    Some(ProgressEvent {
        percent,
        epoch: job.epochs_completed.filter(|&n| n > 0),
        step: job.steps_completed.filter(|&n| n > 0),
        total_steps,
        loss: None,
        message: Some(format!("Together job {}", job.status.to_ascii_lowercase())),
    })
}

fn failure_message(events: &[EventResponse]) -> Option<String> {
    events
        .iter()
        .rev()
        .find(|event| {
            let kind = event.kind.as_deref().unwrap_or_default().to_ascii_lowercase();
            let level = event.level.as_deref().unwrap_or_default().to_ascii_lowercase();
            kind == "job_error" || kind == "job_user_error" || level == "error"
        })
        .and_then(|event| event.message.clone())
}

/// An event's figures: `step` and `total_steps` from its fields when set, else from its
/// message (`step 3/10`), and `loss` and `epoch` from its message (`loss: 1.23`, `epoch 2`).
fn event_progress(event: &EventResponse) -> ProgressEvent {
    let message = event.message.as_deref().unwrap_or_default();
    let step_in_message = number_after(message, "step");
    let step = event.step.filter(|&n| n > 0).or_else(|| step_in_message.map(|(n, _)| n as u64));
    let total_steps = event.total_steps.filter(|&n| n > 0).or_else(|| {
        let (_, rest) = step_in_message?;
        Some(leading_number(rest.strip_prefix('/')?)?.0 as u64)
    });
    let percent = match (step, total_steps) {
        (Some(step), Some(total)) => Some((step as f64 / total as f64 * 100.0).min(100.0)),
        _ => None,
    };
    ProgressEvent {
        percent,
        epoch: number_after(message, "epoch").map(|(n, _)| n as u32),
        step,
        total_steps,
        loss: number_after(message, "loss").map(|(n, _)| n),
        message: event.message.clone(),
    }
}

/// The first number that follows `keyword` (lowercase; matched case-insensitively) in
/// `text` after optional spaces, `:` or `=`, with the text after the number.
fn number_after<'a>(text: &'a str, keyword: &str) -> Option<(f64, &'a str)> {
    // ASCII lowercasing keeps every byte offset, so offsets into `lower` index `text`.
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(keyword) {
        let start = from + pos + keyword.len();
        if let Some(found) = leading_number(text[start..].trim_start_matches([' ', ':', '='])) {
            return Some(found);
        }
        from = start;
    }
    None
}

/// The number `text` starts with (a trailing `.` is punctuation), and the rest.
fn leading_number(text: &str) -> Option<(f64, &str)> {
    let len = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+')))
        .unwrap_or(text.len());
    let number = text[..len].trim_end_matches(['.', 'e', 'E', '-', '+']);
    let value = number.parse::<f64>().ok().filter(|v| v.is_finite())?;
    Some((value, &text[number.len()..]))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn run_id() -> RunId {
        RunId::from_uuid(Uuid::parse_str("0123abcd-4567-89ef-0123-456789abcdef").unwrap())
    }

    #[test]
    fn the_suffix_carries_the_run_marker_and_fits_togethers_limit() {
        assert_eq!(run_marker(run_id()), "tt-0123abcd4567");
        assert_eq!(job_suffix(run_id(), ""), "tt-0123abcd4567");
        assert_eq!(job_suffix(run_id(), "Support Bot!"), "support-bot-tt-0123abcd4567");
        let long = job_suffix(run_id(), &"a very long behaviour spec name ".repeat(5));
        assert!(long.len() <= MAX_SUFFIX_LEN, "{long}");
        assert!(long.ends_with("-tt-0123abcd4567"), "{long}");
        assert_eq!(job_suffix(run_id(), "spec-tt-0123abcd4567"), "spec-tt-0123abcd4567");
    }

    #[test]
    fn every_together_status_maps_to_ours() {
        for running in [
            "pending",
            "queued",
            "running",
            "compressing",
            "uploading",
            "cancel_requested",
            "Running",
        ] {
            assert_eq!(map_status(running), JobStatus::Running, "{running}");
        }
        assert_eq!(map_status("completed"), JobStatus::Completed);
        assert_eq!(map_status("error"), JobStatus::Failed);
        assert_eq!(map_status("user_error"), JobStatus::Failed);
        assert_eq!(map_status("cancelled"), JobStatus::Cancelled);
        assert_eq!(map_status("brand_new_status"), JobStatus::Running);
    }

    fn event(message: &str, step: Option<u64>) -> EventResponse {
        EventResponse {
            message: Some(message.to_owned()),
            kind: None,
            level: None,
            step,
            total_steps: None,
        }
    }

    #[test]
    fn loss_step_and_epoch_are_read_from_event_messages() {
        let progress = event_progress(&event("Epoch 2, step 30/60: loss = 1.2345.", None));
        assert_eq!(progress.epoch, Some(2));
        assert_eq!(progress.step, Some(30));
        assert_eq!(progress.total_steps, Some(60));
        assert_eq!(progress.loss, Some(1.2345));
        assert_eq!(progress.percent, Some(50.0));

        let progress = event_progress(&event("Epoch completed, at step 24", Some(24)));
        assert_eq!((progress.epoch, progress.step, progress.loss), (None, Some(24), None));

        let progress = event_progress(&event("Training started for model x", Some(0)));
        assert_eq!(
            progress,
            ProgressEvent {
                message: Some("Training started for model x".to_owned()),
                ..ProgressEvent::default()
            }
        );
    }

    #[test]
    fn a_failed_jobs_message_is_its_last_error_event() {
        let events = [
            EventResponse { kind: Some("JOB_START".to_owned()), ..event("started", None) },
            EventResponse { kind: Some("job_user_error".to_owned()), ..event("bad file", None) },
            EventResponse { level: Some("Error".to_owned()), ..event("out of memory", None) },
        ];
        assert_eq!(failure_message(&events).as_deref(), Some("out of memory"));
        assert_eq!(failure_message(&events[..2]).as_deref(), Some("bad file"));
        assert_eq!(failure_message(&events[..1]), None);
    }
}
