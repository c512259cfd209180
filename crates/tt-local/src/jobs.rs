//! Job state on disk, under `data_dir/local/jobs/<job id>/`:
//! `job.json` (the record), `events.jsonl` (one progress event per line), `checkpoint/`
//! (the adapter at the last finished epoch) and, once completed, `adapter.safetensors` and
//! `adapter_config.json`.
//!
//! Every file is replaced atomically (written aside, then renamed), so a crash leaves either
//! the old or the new version.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tt_domain::{ProgressEvent, RunId};
use tt_providers::{FineTuneJob, JobStatus};

use crate::error::LocalError;

/// The persisted state of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct JobRecord {
    pub(crate) id: String,
    pub(crate) run_id: RunId,
    pub(crate) base_model: String,
    pub(crate) training_file_id: String,
    pub(crate) epochs: u32,
    pub(crate) batch_size: usize,
    pub(crate) learning_rate: f64,
    pub(crate) lora_rank: usize,
    pub(crate) lora_alpha: f64,
    pub(crate) status: JobStatus,
    pub(crate) token_count: Option<u64>,
    pub(crate) output_model: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) progress: Option<ProgressEvent>,
    /// Steps whose result the checkpoint holds.
    pub(crate) checkpoint_step: u64,
    /// How many times training was (re)started.
    pub(crate) attempts: u32,
    /// The process that trains it. The record's modification time is its heartbeat: the
    /// owner rewrites it after every step.
    pub(crate) owner: Owner,
}

/// Which process (and which trainer in it) is training a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Owner {
    pub(crate) pid: u32,
    pub(crate) instance: String,
}

impl Owner {
    /// Whether the owning process is known to be gone: on Linux, its `/proc` entry is missing.
    /// Elsewhere nothing is known and only the heartbeat tells.
    pub(crate) fn is_dead(&self) -> bool {
        let proc = Path::new("/proc");
        proc.join("self").exists() && !proc.join(self.pid.to_string()).exists()
    }
}

impl JobRecord {
    /// The provider-level view.
    pub(crate) fn to_job(&self) -> FineTuneJob {
        FineTuneJob {
            id: self.id.clone(),
            status: self.status,
            progress: self.progress.clone(),
            token_count: self.token_count,
            output_model: self.output_model.clone(),
            error: self.error.clone(),
        }
    }
}

/// The files of the local trainer under a data directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("local") }
    }

    pub(crate) fn files_dir(&self) -> PathBuf {
        self.root.join("files")
    }

    pub(crate) fn job_dir(&self, job_id: &str) -> PathBuf {
        self.root.join("jobs").join(job_id)
    }

    pub(crate) fn checkpoint_dir(&self, job_id: &str) -> PathBuf {
        self.job_dir(job_id).join("checkpoint")
    }

    fn record_path(&self, job_id: &str) -> PathBuf {
        self.job_dir(job_id).join("job.json")
    }

    fn events_path(&self, job_id: &str) -> PathBuf {
        self.job_dir(job_id).join("events.jsonl")
    }

    /// The record, or `None` when the job was never created.
    pub(crate) fn read_record(&self, job_id: &str) -> Result<Option<JobRecord>, LocalError> {
        let path = self.record_path(job_id);
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// How long ago the record was last written, when the file system says.
    pub(crate) fn record_age(&self, job_id: &str) -> Option<Duration> {
        std::fs::metadata(self.record_path(job_id))
            .and_then(|meta| meta.modified())
            .ok()?
            .elapsed()
            .ok()
    }

    pub(crate) fn write_record(&self, record: &JobRecord) -> Result<(), LocalError> {
        let dir = self.job_dir(&record.id);
        std::fs::create_dir_all(&dir).map_err(|err| LocalError::io("creating", &dir, err))?;
        write_json_atomically(&self.record_path(&record.id), record)
    }

    pub(crate) fn append_event(
        &self,
        job_id: &str,
        event: &ProgressEvent,
    ) -> Result<(), LocalError> {
        let path = self.events_path(job_id);
        let mut line = serde_json::to_string(event).expect("progress events always serialise");
        line.push('\n');
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(line.as_bytes()))
            .map_err(|err| LocalError::io("appending to", &path, err))
    }

    /// Events after the first `after`. A line cut short by a crash is skipped.
    pub(crate) fn read_events(
        &self,
        job_id: &str,
        after: usize,
    ) -> Result<Vec<ProgressEvent>, LocalError> {
        let path = self.events_path(job_id);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(LocalError::io("reading", &path, err)),
        };
        Ok(text.lines().filter_map(|line| serde_json::from_str(line).ok()).skip(after).collect())
    }
}

/// Reads and parses a JSON file.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, LocalError> {
    let text = std::fs::read_to_string(path).map_err(|err| LocalError::io("reading", path, err))?;
    serde_json::from_str(&text).map_err(|source| LocalError::Json { path: path.to_owned(), source })
}

/// Writes `value` as pretty JSON to a side file, then renames it over `path`.
pub(crate) fn write_json_atomically<T: Serialize>(
    path: &Path,
    value: &T,
) -> Result<(), LocalError> {
    let text = serde_json::to_string_pretty(value).expect("records always serialise");
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(|err| LocalError::io("writing", &partial, err))?;
    std::fs::rename(&partial, path).map_err(|err| LocalError::io("renaming", &partial, err))
}
