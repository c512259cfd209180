//! The embedded default: SQLite in WAL mode, one writer at a time.
//!
//! Write transactions start with `BEGIN IMMEDIATE`, so a transaction that reads and then
//! writes (a credit check, a claim) takes the write lock up front and waits for it within
//! the busy timeout instead of failing on the lock upgrade. Change hints go to an
//! in-process channel: one SQLite file has one server process.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::broadcast;

use crate::rows::{active_statuses, db_error, run_columns};
use crate::shared::impl_store;
use tt_store::{StoreError, StoreNotice};

/// The SQLite schema, embedded.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for the write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Store`](tt_store::Store) on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers (and the migrations' first connection).
    pool: SqlitePool,
    /// The one writer connection.
    writer: SqlitePool,
    notices: broadcast::Sender<StoreNotice>,
}

impl SqliteStore {
    const LOCK_ACCOUNT_SQL: &'static str =
        "SELECT balance_cents, reserved_cents, lifetime_topup_cents FROM accounts WHERE id = $1";
    const LOCK_RUN_SQL: &'static str =
        concat!("SELECT ", run_columns!(), " FROM runs WHERE id = $1");
    const CLAIM_SQL: &'static str = concat!(
        "UPDATE runs SET lease_owner = $1, lease_token = lease_token + 1, lease_expires_at = $3, next_wake_at = $3 ",
        "WHERE id IN (SELECT id FROM runs WHERE (status IN ",
        active_statuses!(),
        " OR (status = 'cancelled' AND provider_cancel_pending = TRUE)) ",
        "AND next_wake_at <= $2 AND (lease_owner IS NULL OR lease_expires_at <= $2) ",
        "ORDER BY next_wake_at LIMIT $4) RETURNING ",
        run_columns!()
    );
    const NOTIFY_SQL: Option<&'static str> = None;

    /// Opens (creating it and its parent folders if needed) the SQLite file at
    /// `url_or_path` (`sqlite://PATH`, `sqlite:PATH` or a plain path) and applies the
    /// migrations.
    pub async fn open(url_or_path: &str) -> Result<Self, StoreError> {
        let path = url_or_path
            .strip_prefix("sqlite://")
            .or_else(|| url_or_path.strip_prefix("sqlite:"))
            .unwrap_or(url_or_path);
        if path.is_empty() || path.starts_with(":memory:") {
            return Err(StoreError::Backend(
                "an in-memory SQLite database cannot be shared by a connection pool; give a file path".into(),
            ));
        }
        let path = Path::new(path);
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| StoreError::Backend(Box::new(err)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // SQLite has one writer at a time. Writers that race for the lock sleep in its busy
        // handler and, under load, starve each other; one writer connection instead queues
        // every write fairly in the pool, while readers share the other connections (WAL).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(db_error)?;
        MIGRATOR.run(&writer).await.map_err(|err| StoreError::Backend(Box::new(err)))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        let (notices, _) = broadcast::channel(1024);
        Ok(Self { pool, writer, notices })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
    }

    fn writes(&self) -> &SqlitePool {
        &self.writer
    }
}

impl_store!(SqliteStore, sqlx::Sqlite);
