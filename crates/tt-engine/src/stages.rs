//! One leased run, carried as far as it can go: each stage first reads what is already
//! stored, does only the missing steps, and stores each step's result before the next.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tt_domain::{
    Clock, Example, ExampleKey, ProgressEvent, Run, RunEvent, RunLogEvent, RunStatus, Stage,
    augmented_row_target, compile_spec, model_name, passes, prompt_messages, rows_to_jsonl,
    summarize,
};
use tt_providers::{ChatRequest, FineTuneRequest, JobStatus, JudgeCase, ProviderError};
use tt_store::{
    ClaimedRun, Lease, NewDataset, NewModel, RunProgress, Store, StoreError, TransitionDetails,
    WorkState,
};

use crate::config::{EngineConfig, Providers, Trainer};
use crate::retry::{step_backoff, with_retries};

/// Why a stage stopped short.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// The lease is gone or the run was finished elsewhere: stop touching it.
    #[error("lease lost")]
    Lost,
    /// The process is shutting down: give the run back for another worker.
    #[error("shutting down")]
    ShuttingDown,
    /// A provider failed; transient ones put the step off, others fail the run.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The run cannot go on, for a reason a user can act on.
    #[error("{0}")]
    Fatal(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for StepError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::LeaseLost { .. } => Self::Lost,
            other => Self::Store(other),
        }
    }
}

/// What to do with the lease when a stage returns.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// The run moved to its next status: carry on.
    Continue,
    /// The run is finished.
    Done,
}

/// Everything a task needs to carry one leased run.
pub(crate) struct RunTask {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) providers: Arc<Providers>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: EngineConfig,
    pub(crate) lease: Lease,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Set by the lease renewer when a renewal is refused.
    pub(crate) lost: Arc<AtomicBool>,
    /// Permits for provider calls, shared by every run of this worker.
    pub(crate) provider_calls: Arc<tokio::sync::Semaphore>,
}

impl RunTask {
    /// Carries the claimed run as far as it goes, then gives the lease back with the time
    /// it should be looked at again.
    pub(crate) async fn drive(mut self, claimed: ClaimedRun) {
        let run_id = claimed.run.id;
        let mut current = claimed;
        loop {
            let outcome = self.step(&current).await;
            match outcome {
                Ok(Next::Continue) => {
                    match self.store.load_claimed(&self.lease, self.clock.now()).await {
                        Ok(next) => current = next,
                        Err(err) => {
                            tracing::debug!(%run_id, error = %err, "could not reload the run; giving it back");
                            self.give_back(Duration::ZERO).await;
                            return;
                        }
                    }
                }
                Ok(Next::Done) => {
                    self.give_back(Duration::ZERO).await;
                    return;
                }
                Err(StepError::Lost) => {
                    tracing::info!(%run_id, "lease lost or run finished elsewhere; stopping");
                    self.give_back(Duration::ZERO).await;
                    return;
                }
                Err(StepError::ShuttingDown) => {
                    self.give_back(Duration::ZERO).await;
                    return;
                }
                Err(StepError::Fatal(message)) => {
                    self.fail(&message).await;
                    return;
                }
                Err(StepError::Provider(err)) if err.is_transient() => {
                    self.put_off(&current.work, &err.to_string()).await;
                    return;
                }
                Err(StepError::Provider(err)) => {
                    self.fail(&err.to_string()).await;
                    return;
                }
                Err(StepError::Store(err)) => {
                    tracing::warn!(%run_id, error = %err, "store failure; the run will be tried again");
                    self.give_back(Duration::from_secs(1)).await;
                    return;
                }
            }
        }
    }

    async fn step(&mut self, claimed: &ClaimedRun) -> Result<Next, StepError> {
        self.checkpoint()?;
        let run = &claimed.run;
        match run.status() {
            RunStatus::Preparing => self.prepare(run, &claimed.work).await,
            RunStatus::Training => self.train(run, &claimed.work).await,
            RunStatus::Evaluating => self.evaluate(run, &claimed.work).await,
            RunStatus::Cancelled if claimed.work.provider_cancel_pending => {
                self.cancel_at_provider(run, &claimed.work).await?;
                Ok(Next::Done)
            }
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled => Ok(Next::Done),
        }
    }

    /// Stops at a safe point when the lease was lost or the process is shutting down.
    fn checkpoint(&self) -> Result<(), StepError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(StepError::Lost);
        }
        if *self.shutdown.borrow() {
            return Err(StepError::ShuttingDown);
        }
        Ok(())
    }

    /// Sleeps, waking early for shutdown.
    async fn pause(&mut self, wait: Duration) -> Result<(), StepError> {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = self.shutdown.changed() => {}
        }
        self.checkpoint()
    }

    async fn call<T, F, Fut>(&self, call: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let mut call = call;
        with_retries(self.config.call_attempts, self.config.call_backoff, || {
            let attempt = call();
            async {
                let _permit =
                    self.provider_calls.acquire().await.expect("the semaphore is never closed");
                attempt.await
            }
        })
        .await
    }

    async fn progress(&self, stage: Stage, progress: ProgressEvent) -> Result<(), StepError> {
        let event = RunLogEvent::Progress { stage, progress };
        self.store.append_event(&self.lease, &event, self.clock.now()).await?;
        Ok(())
    }

    async fn say(&self, stage: Stage, message: String) -> Result<(), StepError> {
        self.progress(stage, ProgressEvent { message: Some(message), ..ProgressEvent::default() })
            .await
    }

    // ---- preparing ----

    async fn prepare(&mut self, run: &Run, work: &WorkState) -> Result<Next, StepError> {
        let spec = &run.spec_snapshot;
        let trainer =
            self.providers.trainer_for(spec.base_model()).map_err(StepError::Fatal)?.clone();
        let dataset_id = match run.dataset_id {
            Some(id) => id,
            None => {
                let extra = if run.hyperparameters.augment() {
                    self.augment(run).await?
                } else {
                    Vec::new()
                };
                let rows = compile_spec(spec, &extra);
                let content = rows_to_jsonl(&rows);
                let augmented = if extra.is_empty() { "" } else { " (augmented)" };
                let dataset = NewDataset {
                    name: format!("{} - Run #{}", spec.name(), run.run_number),
                    description: format!(
                        "Auto-compiled from behaviour spec. {} examples{augmented}.",
                        rows.len()
                    ),
                    row_count: rows.len() as u64,
                    content,
                    status: tt_domain::DatasetStatus::Validated,
                    errors: Vec::new(),
                };
                let id = self.store.attach_dataset(&self.lease, dataset, self.clock.now()).await?;
                self.say(Stage::Preparing, format!("compiled {} training rows", rows.len()))
                    .await?;
                id
            }
        };
        self.checkpoint()?;
        if work.provider_file_id.is_none() {
            let content = self.store.dataset_content(run.account_id, dataset_id).await?;
            let file_name = format!("tt-run-{}.jsonl", run.id);
            let file = self
                .call(|| trainer.fine_tuner.upload_dataset(run.id, &file_name, &content))
                .await?;
            let progress = RunProgress {
                provider_file_id: Some(file.id.clone()),
                trainer: Some(trainer.fine_tuner.provider_name().to_owned()),
                attempts: Some(0),
                ..RunProgress::default()
            };
            self.store.record_progress(&self.lease, progress, self.clock.now()).await?;
            let provider = trainer.fine_tuner.provider_name();
            self.say(
                Stage::Preparing,
                format!("uploaded the training file to {provider} ({} bytes)", file.bytes),
            )
            .await?;
        }
        self.store
            .transition(
                &self.lease,
                RunEvent::Prepared,
                TransitionDetails::default(),
                self.clock.now(),
            )
            .await?;
        Ok(Next::Continue)
    }

    /// New examples for training. A permanent augmenter failure does not fail the run: it
    /// trains on the spec's own examples and says so in the log.
    async fn augment(&self, run: &Run) -> Result<Vec<Example>, StepError> {
        let spec = &run.spec_snapshot;
        let n = spec.examples().len();
        let wanted = augmented_row_target(n).saturating_sub(n);
        let seed = run.id.as_uuid().as_u64_pair().0;
        let augmenter = &self.providers.augmenter;
        match self.call(|| augmenter.augment(spec, wanted, seed)).await {
            Ok(extra) => {
                let eval_inputs: HashSet<ExampleKey> =
                    spec.examples().iter().map(Example::key).collect();
                let extra: Vec<Example> = extra
                    .into_iter()
                    .filter(|e| !eval_inputs.contains(&e.key()))
                    .take(wanted)
                    .collect();
                self.say(
                    Stage::Preparing,
                    format!("augmented {n} examples with {} new rows", extra.len()),
                )
                .await?;
                Ok(extra)
            }
            Err(err) if err.is_transient() => Err(err.into()),
            Err(err) => {
                self.say(
                    Stage::Preparing,
                    format!("augmentation failed ({err}); training on the spec's examples only"),
                )
                .await?;
                Ok(Vec::new())
            }
        }
    }

    // ---- training ----

    fn trainer_of(&self, work: &WorkState) -> Result<Trainer, StepError> {
        let name = work.trainer.as_deref().unwrap_or_default();
        self.providers.trainer_named(name).cloned().ok_or_else(|| {
            StepError::Fatal(format!(
                "the trainer `{name}` this run was started on is not configured any more"
            ))
        })
    }

    async fn train(&mut self, run: &Run, work: &WorkState) -> Result<Next, StepError> {
        let trainer = self.trainer_of(work)?;
        let job_id = match &run.fine_tune_job_id {
            Some(id) => id.clone(),
            None => self.create_job(run, work, &trainer).await?,
        };
        let mut seen = work.provider_events_seen;
        let mut wait = self.config.training_poll_min;
        loop {
            let events = self
                .call(|| trainer.fine_tuner.job_events(&job_id, usize::try_from(seen).unwrap_or(0)))
                .await?;
            if !events.is_empty() {
                for event in &events {
                    self.progress(Stage::Training, event.progress.clone()).await?;
                }
                seen += events.len() as i64;
                let progress =
                    RunProgress { provider_events_seen: Some(seen), ..RunProgress::default() };
                self.store.record_progress(&self.lease, progress, self.clock.now()).await?;
                wait = self.config.training_poll_min;
            }
            let job = self.call(|| trainer.fine_tuner.get_job(&job_id)).await?;
            match job.status {
                JobStatus::Running => {
                    // A cancellation from the API finishes the run; notice it between looks.
                    let current = self.store.load_claimed(&self.lease, self.clock.now()).await?;
                    if current.run.status() != RunStatus::Training {
                        return Err(StepError::Lost);
                    }
                    self.pause(wait).await?;
                    wait = (wait * 3 / 2).min(self.config.training_poll_max);
                }
                JobStatus::Completed => {
                    let output = job.output_model.ok_or_else(|| {
                        StepError::Fatal(
                            "the trainer reported the job complete but named no model".to_owned(),
                        )
                    })?;
                    let base_model = run.spec_snapshot.base_model();
                    let model = NewModel {
                        name: model_name(base_model, &job_id),
                        provider: trainer.fine_tuner.provider_name().to_owned(),
                        provider_model_id: output,
                        base_model: base_model.to_owned(),
                        fine_tune_job_id: job_id.clone(),
                    };
                    self.store.attach_model(&self.lease, model, self.clock.now()).await?;
                    let progress = RunProgress {
                        training_tokens: job.token_count,
                        attempts: Some(0),
                        ..RunProgress::default()
                    };
                    self.store.record_progress(&self.lease, progress, self.clock.now()).await?;
                    self.store
                        .transition(
                            &self.lease,
                            RunEvent::Trained,
                            TransitionDetails::default(),
                            self.clock.now(),
                        )
                        .await?;
                    return Ok(Next::Continue);
                }
                JobStatus::Failed => {
                    let reason = job.error.unwrap_or_else(|| "no reason given".to_owned());
                    return Err(StepError::Fatal(format!(
                        "training failed at {}: {reason}",
                        trainer.fine_tuner.provider_name()
                    )));
                }
                JobStatus::Cancelled => {
                    return Err(StepError::Fatal(format!(
                        "the training job {job_id} was cancelled at {}",
                        trainer.fine_tuner.provider_name()
                    )));
                }
            }
        }
    }

    /// Creates the job (the trainer returns the existing one for this run if a previous
    /// attempt got that far) and records its id. If the run was cancelled meanwhile, the
    /// new job is cancelled at once so that nothing keeps training unrecorded.
    async fn create_job(
        &self,
        run: &Run,
        work: &WorkState,
        trainer: &Trainer,
    ) -> Result<String, StepError> {
        let training_file_id = work.provider_file_id.clone().ok_or_else(|| {
            StepError::Fatal("the run reached training without an uploaded file".to_owned())
        })?;
        let simple = run.id.as_uuid().simple().to_string();
        let request = FineTuneRequest {
            run_id: run.id,
            training_file_id,
            base_model: run.spec_snapshot.base_model().to_owned(),
            hyperparameters: run.hyperparameters,
            suffix: format!("tt-{}", &simple[..12]),
        };
        let job = self.call(|| trainer.fine_tuner.create_job(&request)).await?;
        let progress =
            RunProgress { fine_tune_job_id: Some(job.id.clone()), ..RunProgress::default() };
        if let Err(err) = self.store.record_progress(&self.lease, progress, self.clock.now()).await
        {
            if matches!(err, StoreError::LeaseLost { .. }) {
                let _ = trainer.fine_tuner.cancel_job(&job.id).await;
            }
            return Err(err.into());
        }
        self.say(Stage::Training, format!("training job {} created", job.id)).await?;
        Ok(job.id)
    }

    // ---- evaluating ----

    async fn evaluate(&mut self, run: &Run, work: &WorkState) -> Result<Next, StepError> {
        let trainer = self.trainer_of(work)?;
        let model_id = run.model_id.ok_or_else(|| {
            StepError::Fatal("the run reached evaluation without a model".to_owned())
        })?;
        let model = self.store.get_model(run.account_id, model_id).await?.provider_model_id;
        let spec = &run.spec_snapshot;
        let done: HashSet<ExampleKey> =
            self.store.evaluated_keys(&self.lease).await?.into_iter().collect();
        let total = spec.examples().len();
        let todo: Vec<Example> =
            spec.examples().iter().filter(|e| !done.contains(&e.key())).cloned().collect();

        // Each example stores its own result, and logs progress about fifty times in all, as
        // soon as it is judged: a slow write never holds back the other examples, and the
        // loop below awaits nothing but the stream, so no example can sit on a store
        // connection while this loop waits for one.
        let (this, trainer, model) = (&*self, &trainer, model.as_str());
        let finished = std::sync::atomic::AtomicUsize::new(done.len());
        let every = (total / 50).max(1);
        let finished = &finished;
        let mut results = futures::stream::iter(todo)
            .map(move |example| async move {
                let result = this.evaluate_one(trainer, model, run, &example).await?;
                this.store.save_eval(&this.lease, result).await?;
                let count = finished.fetch_add(1, Ordering::SeqCst) + 1;
                if count.is_multiple_of(every) || count == total {
                    let progress = ProgressEvent {
                        percent: Some(100.0 * count as f64 / total as f64),
                        step: Some(count as u64),
                        total_steps: Some(total as u64),
                        ..ProgressEvent::default()
                    };
                    this.progress(Stage::Evaluating, progress).await?;
                }
                Ok::<(), StepError>(())
            })
            .buffer_unordered(self.config.eval_concurrency.max(1));
        while let Some(result) = results.next().await {
            self.checkpoint()?;
            result?;
        }
        drop(results);

        let evals = self.store.list_evals(run.account_id, run.id).await?;
        let scores: Vec<_> = evals.iter().map(tt_domain::EvalResult::to_score).collect();
        let previous = self.store.previous_scores(&self.lease).await?;
        let summary = summarize(&scores, &previous, self.providers.judge.scoring_method());
        let cost = match work.training_tokens {
            Some(tokens) => self.providers.rate_card.cost(
                spec.base_model(),
                run.hyperparameters.n_epochs(),
                tokens,
            ),
            // A trainer that reports no token count is charged what was held.
            None => run.estimated_cost_cents,
        };
        let details = TransitionDetails {
            eval_summary: Some(summary),
            actual_cost_cents: Some(cost),
            ..TransitionDetails::default()
        };
        self.store.transition(&self.lease, RunEvent::Evaluated, details, self.clock.now()).await?;
        Ok(Next::Done)
    }

    /// Answers one example with the trained model and judges the answer. A judge failure
    /// is recorded on the example; an inference failure stops the stage.
    async fn evaluate_one(
        &self,
        trainer: &Trainer,
        model: &str,
        run: &Run,
        example: &Example,
    ) -> Result<tt_domain::EvalResult, StepError> {
        let spec = &run.spec_snapshot;
        let request = ChatRequest {
            model: model.to_owned(),
            messages: prompt_messages(spec, &example.input),
            max_tokens: None,
            temperature: None,
        };
        let answer = self.call(|| trainer.inference.complete(&request)).await?;
        let case = JudgeCase {
            prompt: example.input.clone(),
            expected: example.output.clone(),
            actual: answer.content.clone(),
        };
        let judge = &self.providers.judge;
        let (score, reasoning, judge_error) = match self.call(|| judge.judge(spec, &case)).await {
            Ok(verdict) => (verdict.score.clamp(0.0, 1.0), verdict.reasoning, None),
            Err(err) => (
                0.0,
                format!("the judge could not score this answer: {err}"),
                Some(err.to_string()),
            ),
        };
        Ok(tt_domain::EvalResult {
            example_key: example.key(),
            prompt: example.input.clone(),
            expected: example.output.clone(),
            actual: answer.content,
            score,
            passed: judge_error.is_none() && passes(score),
            reasoning,
            latency_ms: answer.latency_ms,
            judge_error,
        })
    }

    // ---- endings ----

    async fn cancel_at_provider(&self, run: &Run, work: &WorkState) -> Result<(), StepError> {
        if let (Some(job_id), Some(trainer)) = (
            &run.fine_tune_job_id,
            work.trainer.as_deref().and_then(|name| self.providers.trainer_named(name)),
        ) {
            match self.call(|| trainer.fine_tuner.cancel_job(job_id)).await {
                Ok(_) | Err(ProviderError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        self.store.clear_provider_cancel(&self.lease).await?;
        Ok(())
    }

    async fn fail(&self, message: &str) {
        tracing::warn!(run_id = %self.lease.run_id, %message, "run failed");
        let details =
            TransitionDetails { error: Some(message.to_owned()), ..TransitionDetails::default() };
        if let Err(err) =
            self.store.transition(&self.lease, RunEvent::Fail, details, self.clock.now()).await
        {
            tracing::warn!(run_id = %self.lease.run_id, error = %err, "could not record the failure");
        }
        self.give_back(Duration::ZERO).await;
    }

    /// A transient failure outlasted the call's retries: try the step again later, or fail
    /// the run after too many consecutive put-offs.
    async fn put_off(&self, work: &WorkState, reason: &str) {
        let failures = work.attempts + 1;
        if failures >= self.config.max_step_failures {
            self.fail(&format!(
                "the provider kept failing ({failures} attempts); last error: {reason}"
            ))
            .await;
            return;
        }
        let progress = RunProgress { attempts: Some(failures), ..RunProgress::default() };
        if let Err(err) = self.store.record_progress(&self.lease, progress, self.clock.now()).await
        {
            tracing::debug!(run_id = %self.lease.run_id, error = %err, "could not count the failure");
        }
        tracing::info!(run_id = %self.lease.run_id, failures, %reason, "provider failing; the step will be tried again");
        self.give_back(step_backoff(failures)).await;
    }

    async fn give_back(&self, after: Duration) {
        let wake =
            self.clock.now().plus_millis(i64::try_from(after.as_millis()).unwrap_or(i64::MAX));
        if let Err(err) = self.store.release_lease(&self.lease, wake).await {
            tracing::debug!(run_id = %self.lease.run_id, error = %err, "could not release the lease");
        }
    }
}
