//! [`LocalTrainer`]: the [`FineTuner`] and [`Inference`] implementations, with job threads,
//! crash recovery and the model cache.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use candle_core::Device;
use tt_domain::{ProgressEvent, RunId, validate_jsonl};
use tt_providers::{
    ChatRequest, ChatResponse, FineTuneJob, FineTuneRequest, FineTuner, Inference, JobEvent,
    JobStatus, ProviderError, UploadedFile,
};

use crate::adapter::{AdapterConfig, LoraAdapter, read_adapter_config};
use crate::error::LocalError;
use crate::generate::{DecodeOptions, generate};
use crate::jobs::{JobRecord, Layout, Owner};
use crate::model::{Llama, LoraWeights, Projection};
use crate::tiny::{TINY_MODEL, tiny_model};
use crate::tokenizer::{Encoded, TextTokenizer};
use crate::train::{StepReport, TrainObserver, TrainOptions, train};

/// The prefix of fine-tuned model names (`local:<job id>`).
pub const LOCAL_MODEL_PREFIX: &str = "local:";

/// A job owned by another live process is taken over when its heartbeat is this old
/// (only consulted where process liveness cannot be checked, i.e. outside Linux).
const STALE_AFTER: Duration = Duration::from_secs(600);
/// Training is restarted after a crash at most this many times.
const MAX_ATTEMPTS: u32 = 3;
/// Seeds adapter initialisation and data order, so that a restarted job redoes the same work.
const TRAIN_SEED: u64 = 0x5eed_10ca_1000_0001;

/// Where tensors live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU (the default).
    #[default]
    Cpu,
    /// An NVIDIA GPU by ordinal; needs the `cuda` feature, otherwise [`LocalTrainer::new`]
    /// fails with [`LocalError::Device`].
    Cuda(usize),
}

/// How to set up the local trainer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// The server's data directory; the trainer keeps its files under `local/` in it.
    pub data_dir: PathBuf,
    /// Where to compute.
    pub device: DeviceChoice,
    /// Jobs trained at the same time in this process; more wait their turn (at least 1).
    pub max_concurrent_jobs: usize,
}

impl LocalConfig {
    /// CPU, one job at a time.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into(), device: DeviceChoice::Cpu, max_concurrent_jobs: 1 }
    }
}

/// Whether `base_model` names a model the local trainer handles: `tt-local/…` or a directory
/// with a `config.json`. The engine routes these to the local trainer whatever `TT_TRAINER` says.
pub fn is_local_model(base_model: &str) -> bool {
    base_model.starts_with("tt-local/")
        || base_model.starts_with(LOCAL_MODEL_PREFIX)
        || crate::hf::is_model_dir(Path::new(base_model))
}

/// The built-in base models.
pub fn builtin_models() -> &'static [&'static str] {
    &[TINY_MODEL]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaseKind {
    Tiny,
    HuggingFace,
}

impl BaseKind {
    /// The `auto` learning rate. Tiny starts from random weights and has only a few dozen steps
    /// to learn its answers, so it takes a large rate; pretrained models take the usual LoRA rate.
    fn auto_learning_rate(self) -> f64 {
        match self {
            Self::Tiny => 1e-2,
            Self::HuggingFace => 2e-4,
        }
    }

    /// Tiny's random base knows nothing, so every projection (MLP included) is adapted;
    /// pretrained models adapt the attention projections.
    fn targets(self) -> Vec<Projection> {
        match self {
            Self::Tiny => Projection::ALL.to_vec(),
            Self::HuggingFace => Projection::ATTENTION.to_vec(),
        }
    }

    fn default_max_tokens(self) -> usize {
        match self {
            Self::Tiny => 200,
            Self::HuggingFace => 256,
        }
    }

    /// Longer training rows are cut to this many tokens.
    fn max_sequence(self) -> usize {
        match self {
            Self::Tiny => 768,
            Self::HuggingFace => 1024,
        }
    }
}

#[derive(Debug)]
struct BaseModel {
    kind: BaseKind,
    model: Llama,
    tokenizer: TextTokenizer,
}

#[derive(Debug)]
struct Inner {
    layout: Layout,
    device: Device,
    owner: Owner,
    max_jobs: usize,
    /// Serialises read-modify-write of job records in this process.
    records: Mutex<()>,
    /// Cancel flags of the jobs training in this process.
    active: Mutex<HashMap<String, Arc<AtomicBool>>>,
    training_now: Mutex<usize>,
    slot_freed: Condvar,
    models: Mutex<HashMap<String, Arc<BaseModel>>>,
    adapters: Mutex<HashMap<String, Arc<LoraWeights>>>,
}

/// Fine-tunes and runs Llama-family models in this process. Cheap to clone; clones share
/// jobs and the model cache.
#[derive(Debug, Clone)]
pub struct LocalTrainer {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind, still usable.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LocalTrainer {
    /// Sets up the trainer and its directories. Jobs left running by a dead process are
    /// restarted when they are next read.
    pub fn new(config: LocalConfig) -> Result<Self, LocalError> {
        let device = match config.device {
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Cuda(ordinal) => Device::new_cuda(ordinal)
                .map_err(|err| LocalError::Device { message: err.to_string() })?,
        };
        let layout = Layout::new(&config.data_dir);
        for dir in [layout.files_dir(), layout.job_dir("")] {
            std::fs::create_dir_all(&dir).map_err(|err| LocalError::io("creating", &dir, err))?;
        }
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        // Unique among live processes; a dead process whose pid is reused counts as this one,
        // which is right, since it is gone.
        let instance =
            format!("{}-{}", std::process::id(), INSTANCES.fetch_add(1, Ordering::Relaxed));
        Ok(Self {
            inner: Arc::new(Inner {
                layout,
                device,
                owner: Owner { pid: std::process::id(), instance },
                max_jobs: config.max_concurrent_jobs.max(1),
                records: Mutex::new(()),
                active: Mutex::new(HashMap::new()),
                training_now: Mutex::new(0),
                slot_freed: Condvar::new(),
                models: Mutex::new(HashMap::new()),
                adapters: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The job id for a run: `local-<run id>`.
    pub fn job_id(run_id: RunId) -> String {
        format!("local-{run_id}")
    }
}

fn file_path(layout: &Layout, file_id: &str) -> Result<PathBuf, LocalError> {
    let valid = file_id.strip_suffix(".jsonl").is_some_and(|stem| stem.parse::<RunId>().is_ok());
    if !valid {
        return Err(LocalError::InvalidInput {
            message: format!("`{file_id}` is not a local training file id"),
        });
    }
    Ok(layout.files_dir().join(file_id))
}

fn check_job_id(job_id: &str) -> Result<(), LocalError> {
    let valid = job_id.strip_prefix("local-").is_some_and(|run| run.parse::<RunId>().is_ok());
    if valid { Ok(()) } else { Err(LocalError::JobNotFound { job_id: job_id.to_owned() }) }
}

impl Inner {
    fn base(&self, name: &str) -> Result<Arc<BaseModel>, LocalError> {
        let mut models = lock(&self.models);
        if let Some(model) = models.get(name) {
            return Ok(model.clone());
        }
        let loaded = if name == TINY_MODEL {
            BaseModel {
                kind: BaseKind::Tiny,
                model: tiny_model(&self.device)?,
                tokenizer: TextTokenizer::bytes(),
            }
        } else if crate::hf::is_model_dir(Path::new(name)) {
            let (model, tokenizer) = crate::hf::load(Path::new(name), &self.device)?;
            BaseModel { kind: BaseKind::HuggingFace, model, tokenizer }
        } else {
            let reason = if name.starts_with("tt-local/") {
                format!("the built-in models are {}", builtin_models().join(", "))
            } else {
                "not a built-in model and not a directory with config.json, *.safetensors and tokenizer.json".to_owned()
            };
            return Err(LocalError::UnknownModel { name: name.to_owned(), reason });
        };
        let loaded = Arc::new(loaded);
        models.insert(name.to_owned(), loaded.clone());
        Ok(loaded)
    }

    /// The base model and adapter a model name stands for.
    fn resolve(
        &self,
        name: &str,
    ) -> Result<(Arc<BaseModel>, Option<Arc<LoraWeights>>), LocalError> {
        let Some(job_id) = name.strip_prefix(LOCAL_MODEL_PREFIX) else {
            return Ok((self.base(name)?, None));
        };
        check_job_id(job_id).map_err(|_| LocalError::UnknownModel {
            name: name.to_owned(),
            reason: "bad job id".to_owned(),
        })?;
        let dir = self.layout.job_dir(job_id);
        let config = read_adapter_config(&dir).map_err(|err| LocalError::UnknownModel {
            name: name.to_owned(),
            reason: format!("no finished adapter ({err})"),
        })?;
        let base = self.base(&config.base_model_name_or_path)?;
        let mut adapters = lock(&self.adapters);
        if let Some(weights) = adapters.get(job_id) {
            return Ok((base, Some(weights.clone())));
        }
        let weights =
            Arc::new(LoraAdapter::load(&dir, base.model.config(), &self.device)?.weights());
        adapters.insert(job_id.to_owned(), weights.clone());
        Ok((base, Some(weights)))
    }

    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LocalError> {
        let started = Instant::now();
        let (base, adapter) = self.resolve(&request.model)?;
        let prompt = base.tokenizer.encode_chat(&request.messages, true)?;
        let options = DecodeOptions {
            max_tokens: request
                .max_tokens
                .map_or(base.kind.default_max_tokens(), |max| max as usize),
            temperature: request.temperature.unwrap_or(0.0),
            seed: fnv1a(&prompt.ids),
        };
        let ids = generate(
            &base.model,
            adapter.as_deref(),
            &prompt.ids,
            base.tokenizer.stops(),
            &options,
        )?;
        let content = base.tokenizer.decode(&ids)?;
        Ok(ChatResponse {
            content,
            latency_ms: started.elapsed().as_millis() as u64,
            completion_tokens: Some(ids.len() as u32),
        })
    }

    fn is_active(&self, job_id: &str) -> bool {
        lock(&self.active).contains_key(job_id)
    }

    /// Reads a job, restarting its training if it was left running by a process that is
    /// gone (or by a thread of this one that died).
    fn load_job(self: &Arc<Self>, job_id: &str) -> Result<JobRecord, LocalError> {
        check_job_id(job_id)?;
        let _guard = lock(&self.records);
        let mut record = self
            .layout
            .read_record(job_id)?
            .ok_or_else(|| LocalError::JobNotFound { job_id: job_id.to_owned() })?;
        if record.status != JobStatus::Running || self.is_active(job_id) {
            return Ok(record);
        }
        let abandoned = record.owner.instance == self.owner.instance
            || record.owner.is_dead()
            || self.layout.record_age(job_id).is_some_and(|age| age > STALE_AFTER);
        if !abandoned {
            return Ok(record);
        }
        if record.attempts >= MAX_ATTEMPTS {
            record.status = JobStatus::Failed;
            record.error = Some(format!("training stopped unexpectedly {MAX_ATTEMPTS} times"));
            self.layout.write_record(&record)?;
            return Ok(record);
        }
        tracing::warn!(
            job_id,
            attempts = record.attempts,
            "restarting local training left by a stopped process"
        );
        self.start(&mut record)?;
        Ok(record)
    }

    /// Takes ownership of the job and starts its thread. Called with the records lock held.
    fn start(self: &Arc<Self>, record: &mut JobRecord) -> Result<(), LocalError> {
        record.owner = self.owner.clone();
        record.attempts += 1;
        self.layout.write_record(record)?;
        let cancel = Arc::new(AtomicBool::new(false));
        lock(&self.active).insert(record.id.clone(), cancel.clone());
        let inner = Arc::clone(self);
        let job_id = record.id.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("tt-local-{}", &job_id[..job_id.len().min(14)]))
            .spawn(move || inner.run_job(&job_id, &cancel));
        if let Err(err) = spawned {
            lock(&self.active).remove(&record.id);
            return Err(LocalError::io(
                "starting a training thread for",
                &self.layout.job_dir(&record.id),
                err,
            ));
        }
        Ok(())
    }

    /// Changes the record under the lock; `only_running` leaves finished jobs alone.
    fn update(
        &self,
        job_id: &str,
        only_running: bool,
        change: impl FnOnce(&mut JobRecord),
    ) -> Result<(), LocalError> {
        let _guard = lock(&self.records);
        let mut record = self
            .layout
            .read_record(job_id)?
            .ok_or_else(|| LocalError::JobNotFound { job_id: job_id.to_owned() })?;
        if only_running && record.status != JobStatus::Running {
            return Ok(());
        }
        change(&mut record);
        self.layout.write_record(&record)
    }

    fn run_job(&self, job_id: &str, cancel: &AtomicBool) {
        let outcome = {
            let _slot = self.wait_for_slot(cancel);
            std::panic::catch_unwind(AssertUnwindSafe(|| self.train_job(job_id, cancel)))
                .unwrap_or_else(|_| {
                    Err(LocalError::InvalidInput { message: "training panicked".to_owned() })
                })
        };
        let written = match outcome {
            Ok(()) => Ok(()),
            Err(LocalError::Cancelled) => {
                self.update(job_id, true, |record| record.status = JobStatus::Cancelled)
            }
            Err(err) => {
                tracing::warn!(job_id, error.message = %err, "local training failed");
                self.update(job_id, true, |record| {
                    record.status = JobStatus::Failed;
                    record.error = Some(err.to_string());
                })
            }
        };
        if let Err(err) = written {
            tracing::error!(job_id, error.message = %err, "could not record the end of local training");
        }
        lock(&self.active).remove(job_id);
    }

    fn wait_for_slot(&self, cancel: &AtomicBool) -> SlotGuard<'_> {
        let mut training_now = lock(&self.training_now);
        while *training_now >= self.max_jobs && !cancel.load(Ordering::Relaxed) {
            training_now = self
                .slot_freed
                .wait_timeout(training_now, Duration::from_millis(200))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        *training_now += 1;
        SlotGuard { inner: self }
    }

    fn train_job(&self, job_id: &str, cancel: &AtomicBool) -> Result<(), LocalError> {
        if cancel.load(Ordering::Relaxed) {
            return Err(LocalError::Cancelled);
        }
        let record = self
            .layout
            .read_record(job_id)?
            .ok_or_else(|| LocalError::JobNotFound { job_id: job_id.to_owned() })?;
        let base = self.base(&record.base_model)?;
        let rows = self.read_rows(&record, &base)?;
        let token_count: u64 = rows.iter().map(|row| row.ids.len() as u64).sum();
        self.update(job_id, true, |record| record.token_count = Some(token_count))?;
        let adapter_config = AdapterConfig::new(
            &record.base_model,
            record.lora_rank,
            record.lora_alpha,
            base.kind.targets(),
        );
        let checkpoint_dir = self.layout.checkpoint_dir(job_id);
        let (adapter, done_steps) = if record.checkpoint_step > 0 {
            let adapter = LoraAdapter::load(&checkpoint_dir, base.model.config(), &self.device)?;
            let message =
                format!("training resumed after a restart from step {}", record.checkpoint_step);
            self.layout.append_event(
                job_id,
                &ProgressEvent { message: Some(message), ..ProgressEvent::default() },
            )?;
            (adapter, record.checkpoint_step)
        } else {
            (LoraAdapter::new(adapter_config, base.model.config(), TRAIN_SEED, &self.device)?, 0)
        };
        let options = TrainOptions {
            epochs: record.epochs,
            batch_size: record.batch_size,
            learning_rate: record.learning_rate,
            seed: TRAIN_SEED,
        };
        let steps_per_epoch = rows.len().div_ceil(record.batch_size.max(1)) as u64;
        let mut observer = JobObserver {
            inner: self,
            job_id,
            cancel,
            checkpoint_dir: &checkpoint_dir,
            steps_per_epoch,
        };
        train(&base.model, &adapter, &rows, &options, done_steps, &mut observer)?;
        let job_dir = self.layout.job_dir(job_id);
        adapter.save(&job_dir)?;
        self.update(job_id, true, |record| {
            record.status = JobStatus::Completed;
            record.output_model = Some(format!("{LOCAL_MODEL_PREFIX}{job_id}"));
        })
    }

    fn read_rows(&self, record: &JobRecord, base: &BaseModel) -> Result<Vec<Encoded>, LocalError> {
        let path = file_path(&self.layout, &record.training_file_id)?;
        let text =
            std::fs::read_to_string(&path).map_err(|err| LocalError::io("reading", &path, err))?;
        let report = validate_jsonl(&text);
        if let Some(issue) = report.issues.first() {
            return Err(LocalError::InvalidInput {
                message: format!("training file line {}: {}", issue.line, issue.reason),
            });
        }
        let max = base.kind.max_sequence();
        report
            .valid_rows
            .iter()
            .map(|row| {
                let mut encoded = base.tokenizer.encode_chat(&row.messages, false)?;
                encoded.ids.truncate(max);
                encoded.trained.truncate(max);
                Ok(encoded)
            })
            .collect()
    }
}

struct SlotGuard<'a> {
    inner: &'a Inner,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.inner.training_now) -= 1;
        self.inner.slot_freed.notify_all();
    }
}

struct JobObserver<'a> {
    inner: &'a Inner,
    job_id: &'a str,
    cancel: &'a AtomicBool,
    checkpoint_dir: &'a Path,
    steps_per_epoch: u64,
}

impl TrainObserver for JobObserver<'_> {
    fn before_step(&mut self) -> Result<(), LocalError> {
        if self.cancel.load(Ordering::Relaxed) { Err(LocalError::Cancelled) } else { Ok(()) }
    }

    fn on_step(&mut self, report: &StepReport, adapter: &LoraAdapter) -> Result<(), LocalError> {
        let event = ProgressEvent {
            percent: Some(100.0 * report.step as f64 / report.total_steps.max(1) as f64),
            epoch: Some(report.epoch),
            step: Some(report.step),
            total_steps: Some(report.total_steps),
            loss: Some(report.loss),
            message: None,
        };
        self.inner.layout.append_event(self.job_id, &event)?;
        // The last epoch needs no checkpoint: the final adapter is saved right after it.
        let checkpoint = report.step.is_multiple_of(self.steps_per_epoch.max(1))
            && report.step < report.total_steps;
        if checkpoint {
            std::fs::create_dir_all(self.checkpoint_dir)
                .map_err(|err| LocalError::io("creating", self.checkpoint_dir, err))?;
            adapter.save(self.checkpoint_dir)?;
        }
        self.inner.update(self.job_id, true, |record| {
            if checkpoint {
                record.checkpoint_step = report.step;
            }
            record.progress = Some(event);
        })
    }
}

/// FNV-1a over token ids: a stable seed for sampling that depends on the prompt only.
fn fnv1a(ids: &[u32]) -> u64 {
    ids.iter().flat_map(|id| id.to_le_bytes()).fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LocalError> + Send + 'static,
) -> Result<T, ProviderError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(ProviderError::from),
        Err(err) => Err(ProviderError::Server {
            status: 500,
            message: format!("local worker stopped: {err}"),
        }),
    }
}

#[async_trait]
impl FineTuner for LocalTrainer {
    fn provider_name(&self) -> &'static str {
        "local"
    }

    async fn upload_dataset(
        &self,
        run_id: RunId,
        _file_name: &str,
        jsonl: &str,
    ) -> Result<UploadedFile, ProviderError> {
        let report = validate_jsonl(jsonl);
        if let Some(issue) = report.issues.first() {
            return Err(ProviderError::Rejected {
                message: format!("line {}: {}", issue.line, issue.reason),
            });
        }
        let id = format!("{run_id}.jsonl");
        let path = file_path(&self.inner.layout, &id)?;
        let text = jsonl.to_owned();
        blocking(move || {
            std::fs::write(&path, text).map_err(|err| LocalError::io("writing", &path, err))
        })
        .await?;
        Ok(UploadedFile { id, bytes: jsonl.len() as u64 })
    }

    async fn create_job(&self, request: &FineTuneRequest) -> Result<FineTuneJob, ProviderError> {
        let job_id = Self::job_id(request.run_id);
        let inner = self.inner.clone();
        let request = request.clone();
        blocking(move || {
            if inner.layout.read_record(&job_id)?.is_some() {
                return inner.load_job(&job_id).map(|record| record.to_job());
            }
            let training_file = file_path(&inner.layout, &request.training_file_id)?;
            if !training_file.is_file() {
                return Err(LocalError::InvalidInput {
                    message: format!(
                        "training file `{}` was not uploaded",
                        request.training_file_id
                    ),
                });
            }
            let base = inner.base(&request.base_model)?;
            let hyper = request.hyperparameters;
            let mut record = JobRecord {
                id: job_id.clone(),
                run_id: request.run_id,
                base_model: request.base_model.clone(),
                training_file_id: request.training_file_id.clone(),
                epochs: hyper.n_epochs(),
                batch_size: hyper.batch_size() as usize,
                learning_rate: hyper.learning_rate().or(base.kind.auto_learning_rate()),
                lora_rank: hyper.lora_rank() as usize,
                lora_alpha: f64::from(hyper.lora_alpha()),
                status: JobStatus::Running,
                token_count: None,
                output_model: None,
                error: None,
                progress: None,
                checkpoint_step: 0,
                attempts: 0,
                owner: inner.owner.clone(),
            };
            let guard = lock(&inner.records);
            if inner.layout.read_record(&job_id)?.is_none() {
                inner.start(&mut record)?;
                return Ok(record.to_job());
            }
            // Another caller created it meanwhile.
            drop(guard);
            inner.load_job(&job_id).map(|record| record.to_job())
        })
        .await
    }

    async fn get_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError> {
        let inner = self.inner.clone();
        let job_id = job_id.to_owned();
        blocking(move || inner.load_job(&job_id).map(|record| record.to_job())).await
    }

    async fn job_events(&self, job_id: &str, after: usize) -> Result<Vec<JobEvent>, ProviderError> {
        check_job_id(job_id)?;
        let inner = self.inner.clone();
        let job_id = job_id.to_owned();
        blocking(move || {
            if inner.layout.read_record(&job_id)?.is_none() {
                return Err(LocalError::JobNotFound { job_id });
            }
            let events = inner.layout.read_events(&job_id, after)?;
            Ok(events.into_iter().map(|progress| JobEvent { progress }).collect())
        })
        .await
    }

    async fn cancel_job(&self, job_id: &str) -> Result<FineTuneJob, ProviderError> {
        check_job_id(job_id)?;
        let inner = self.inner.clone();
        let job_id = job_id.to_owned();
        blocking(move || {
            if let Some(flag) = lock(&inner.active).get(&job_id) {
                flag.store(true, Ordering::Relaxed);
            }
            inner.update(&job_id, true, |record| record.status = JobStatus::Cancelled)?;
            inner
                .layout
                .read_record(&job_id)?
                .map(|record| record.to_job())
                .ok_or(LocalError::JobNotFound { job_id })
        })
        .await
    }
}

#[async_trait]
impl Inference for LocalTrainer {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let inner = self.inner.clone();
        let request = request.clone();
        blocking(move || inner.complete(&request)).await
    }
}
