//! PostgreSQL, for several `tt-server` processes sharing one database.
//!
//! Row locks serialise what must not interleave: a credit transaction locks the account
//! row (`FOR UPDATE`) before the run row, and claims skip rows another worker is claiming
//! (`FOR UPDATE SKIP LOCKED`). Change hints are sent with `NOTIFY` inside the writing
//! transaction (so they arrive after commit), and a listener task forwards every hint from
//! any process into this store's channel.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::broadcast;

use crate::rows::{active_statuses, db_error, run_columns};
use crate::shared::{decode_notice, impl_store};
use tt_store::{StoreError, StoreNotice};

/// The PostgreSQL schema, embedded.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The `LISTEN/NOTIFY` channel for change hints.
const CHANNEL: &str = "tt_store";

/// A [`Store`](tt_store::Store) on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    notices: broadcast::Sender<StoreNotice>,
    _listener: Arc<ListenerTask>,
}

/// Stops the listener task when the last clone of the store is dropped.
#[derive(Debug)]
struct ListenerTask(tokio::task::AbortHandle);

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PgStore {
    const LOCK_ACCOUNT_SQL: &'static str = "SELECT balance_cents, reserved_cents, lifetime_topup_cents FROM accounts WHERE id = $1 FOR UPDATE";
    const LOCK_RUN_SQL: &'static str =
        concat!("SELECT ", run_columns!(), " FROM runs WHERE id = $1 FOR UPDATE");
    const CLAIM_SQL: &'static str = concat!(
        "UPDATE runs SET lease_owner = $1, lease_token = lease_token + 1, lease_expires_at = $3, next_wake_at = $3 ",
        "WHERE id IN (SELECT id FROM runs WHERE (status IN ",
        active_statuses!(),
        " OR (status = 'cancelled' AND provider_cancel_pending = TRUE)) ",
        "AND next_wake_at <= $2 AND (lease_owner IS NULL OR lease_expires_at <= $2) ",
        "ORDER BY next_wake_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING ",
        run_columns!()
    );
    const NOTIFY_SQL: Option<&'static str> = Some("SELECT pg_notify('tt_store', $1)");

    /// Connects to the database at `url` (`postgres://…`), applies the migrations (under
    /// PostgreSQL's advisory lock, so several servers may start at once) and starts
    /// listening for change hints.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(db_error)?;
        MIGRATOR.run(&pool).await.map_err(|err| StoreError::Backend(Box::new(err)))?;
        let mut listener = PgListener::connect_with(&pool).await.map_err(db_error)?;
        listener.listen(CHANNEL).await.map_err(db_error)?;
        let (notices, _) = broadcast::channel(1024);
        let forward = notices.clone();
        let task = tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(notification) => {
                        if let Some(notice) = decode_notice(notification.payload()) {
                            // Nobody listening is fine: notices are hints.
                            let _ = forward.send(notice);
                        }
                    }
                    Err(err) => {
                        // The listener reconnects on the next call; hints sent meanwhile
                        // are lost, which subscribers cover by polling.
                        tracing::warn!(error.message = %err, "store notification listener failed; reconnecting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Self { pool, notices, _listener: Arc::new(ListenerTask(task.abort_handle())) })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        self.pool.begin().await.map_err(db_error)
    }

    fn writes(&self) -> &PgPool {
        &self.pool
    }
}

impl_store!(PgStore, sqlx::Postgres);
