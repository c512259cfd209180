//! The worker loop: claim runs that need work, carry each on its own task with its lease
//! renewed in the background, and wake early on the store's hints.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;
use tt_domain::Clock;
use tt_store::{ClaimedRun, Lease, Store, StoreError, StoreNotice};

use crate::config::{EngineConfig, Providers};
use crate::stages::RunTask;

/// Carries runs through their lifecycle. Several engines (in one process or many, on one
/// PostgreSQL database) share the work through the store's leases.
pub struct Engine {
    store: Arc<dyn Store>,
    providers: Arc<Providers>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    provider_calls: Arc<tokio::sync::Semaphore>,
}

impl Engine {
    /// An engine over `store` calling `providers`.
    pub fn new(
        store: Arc<dyn Store>,
        providers: Providers,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Self {
        let provider_calls =
            Arc::new(tokio::sync::Semaphore::new(config.max_provider_calls.max(1)));
        Self { store, providers: Arc::new(providers), clock, config, provider_calls }
    }

    /// The providers this engine calls (the API uses the same ones for the playground).
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// Works until `shutdown` completes, then stops taking runs, lets every run reach a
    /// safe point, and gives their leases back so another worker can continue at once.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut hints = self.store.subscribe();
        let mut tasks = JoinSet::new();
        let mut in_flight = std::collections::HashSet::new();
        tokio::pin!(shutdown);
        loop {
            while let Some(done) = tasks.try_join_next() {
                match done {
                    Ok(run_id) => {
                        in_flight.remove(&run_id);
                    }
                    Err(err) => tracing::error!(error = %err, "a run task panicked"),
                }
            }
            let room = self.config.max_runs_in_flight.saturating_sub(tasks.len());
            if room > 0 {
                match self.claim(room).await {
                    Ok(claimed) => {
                        for run in claimed {
                            if in_flight.insert(run.run.id) {
                                tasks.spawn(self.task(run, stop_rx.clone()));
                            }
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "could not claim runs"),
                }
            }
            // Wait for a reason to claim: a run that may need work, room freed by a finished
            // task, or the polling tick. Event hints (progress of runs in hand) are skipped
            // here, so a busy event log does not turn into a stream of claim queries.
            let poll = tokio::time::sleep(self.config.poll_interval);
            tokio::pin!(poll);
            let stopping = loop {
                tokio::select! {
                    () = &mut shutdown => break true,
                    hint = hints.recv() => match hint {
                        Ok(StoreNotice::Event { .. }) => {}
                        Ok(StoreNotice::RunReady(_)) | Err(broadcast::error::RecvError::Lagged(_)) => break false,
                        Err(broadcast::error::RecvError::Closed) => {
                            hints = self.store.subscribe();
                            break false;
                        }
                    },
                    Some(done) = tasks.join_next() => {
                        if let Ok(run_id) = done {
                            in_flight.remove(&run_id);
                        }
                        break false;
                    }
                    () = &mut poll => break false,
                }
            };
            if stopping {
                break;
            }
        }
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
    }

    async fn claim(&self, room: usize) -> Result<Vec<ClaimedRun>, StoreError> {
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX);
        let limit = u32::try_from(room.min(64)).expect("at most 64");
        self.store.claim_runs(&self.config.worker_id, self.clock.now(), lease_ms, limit).await
    }

    fn task(
        &self,
        claimed: ClaimedRun,
        shutdown: watch::Receiver<bool>,
    ) -> impl Future<Output = tt_domain::RunId> + Send + 'static {
        let run_id = claimed.run.id;
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = renew_lease(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            claimed.lease.clone(),
            self.config.lease,
            Arc::clone(&lost),
        );
        let task = RunTask {
            store: Arc::clone(&self.store),
            providers: Arc::clone(&self.providers),
            clock: Arc::clone(&self.clock),
            config: self.config.clone(),
            lease: claimed.lease.clone(),
            shutdown,
            lost,
            provider_calls: Arc::clone(&self.provider_calls),
        };
        async move {
            // Abort the renewer however this task ends, including when it is itself aborted.
            let _renewer = AbortOnDrop(tokio::spawn(renewer));
            task.drive(claimed).await;
            run_id
        }
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the lease every third of its length until it is refused.
async fn renew_lease(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    lease: Lease,
    length: Duration,
    lost: Arc<AtomicBool>,
) {
    let length_ms = i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::time::sleep(length / 3).await;
        match store.renew_lease(&lease, clock.now(), length_ms).await {
            Ok(_) => {}
            Err(StoreError::LeaseLost { .. }) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(err) => {
                tracing::warn!(run_id = %lease.run_id, error = %err, "could not renew a lease")
            }
        }
    }
}
