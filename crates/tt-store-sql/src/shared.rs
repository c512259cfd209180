//! The [`Store`](tt_store::Store) implementation shared by both backends.
//!
//! The SQL below is portable (`$n` placeholders, `RETURNING`, `ON CONFLICT`), so it is
//! written once, in [`impl_store!`], and expanded for each backend's concrete pool type. What
//! differs lives in each backend as inherent items the macro calls:
//!
//! - `begin_write()`: a write transaction (`BEGIN IMMEDIATE` on SQLite).
//! - `writes()`: the pool single-statement writes go to (SQLite's one writer connection).
//! - `LOCK_ACCOUNT_SQL`, `LOCK_RUN_SQL`: reads that lock the row on PostgreSQL (`FOR UPDATE`);
//!   SQLite's one writer already serialises them.
//! - `CLAIM_SQL`: the lease claim (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//! - `NOTIFY_SQL`: how change hints leave the transaction (`pg_notify` on PostgreSQL; on
//!   SQLite, `None`: they go to the in-process channel after commit).
//!
//! A claim also moves the run's wake-up time to its lease expiry, so the claim scan over
//! `(status, next_wake_at)` passes over held runs without reading them.
//!
//! Transactions that touch credit lock the account row before the run row, always in that
//! order, so two of them can never wait on each other.

use tt_domain::RunStatus;

use tt_store::{PageRequest, StoreNotice};

/// `LIMIT` and `OFFSET` for a page, with `per_page` clamped to 1–100.
pub(crate) fn limits(page: PageRequest) -> (i64, i64) {
    let per_page = page.per_page.clamp(1, PageRequest::MAX_PER_PAGE);
    let page = PageRequest { page: page.page.max(1), per_page };
    (i64::from(per_page), page.offset())
}

/// A notice as a short text payload: `ready:<run id>` or `event:<run id>:<seq>`.
pub(crate) fn encode_notice(notice: StoreNotice) -> String {
    match notice {
        StoreNotice::RunReady(run_id) => format!("ready:{run_id}"),
        StoreNotice::Event { run_id, seq } => format!("event:{run_id}:{seq}"),
    }
}

/// The notice in a payload written by [`encode_notice`], or `None` for anything else.
pub(crate) fn decode_notice(payload: &str) -> Option<StoreNotice> {
    let mut parts = payload.split(':');
    let notice = match (parts.next()?, parts.next()?.parse().ok()?, parts.next()) {
        ("ready", run_id, None) => StoreNotice::RunReady(run_id),
        ("event", run_id, Some(seq)) => StoreNotice::Event { run_id, seq: seq.parse().ok()? },
        _ => return None,
    };
    parts.next().is_none().then_some(notice)
}

/// Whether a provider job may still be running for a run cancelled in `from`: it was
/// training, or a job was recorded before training began.
pub(crate) fn provider_cancel_needed(from: RunStatus, fine_tune_job_id: Option<&str>) -> bool {
    from == RunStatus::Training || (from == RunStatus::Preparing && fine_tune_job_id.is_some())
}

/// Implements [`Store`](tt_store::Store) for `$store`, whose `pool` field is a pool of `$db`.
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        type Tx = sqlx::Transaction<'static, $db>;

        impl $store {
            /// Locks the account's balance row and reads it.
            async fn locked_balance(
                tx: &mut Tx,
                account: tt_domain::AccountId,
            ) -> Result<Option<tt_domain::Balance>, tt_store::StoreError> {
                let row: Option<$crate::rows::BalanceRow> = sqlx::query_as(Self::LOCK_ACCOUNT_SQL)
                    .bind(account.to_string())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::rows::db_error)?;
                Ok(row.map(tt_domain::Balance::from))
            }

            /// Writes one ledger entry and the account's new position, and returns it.
            async fn post_ledger(
                tx: &mut Tx,
                account: tt_domain::AccountId,
                balance: tt_domain::Balance,
                kind: tt_domain::LedgerKind,
                amount_cents: tt_domain::Cents,
                reference: Option<tt_domain::RunId>,
                now: tt_domain::Timestamp,
            ) -> Result<tt_domain::Balance, tt_store::StoreError> {
                let after = balance.after(kind, amount_cents);
                sqlx::query(
                    "INSERT INTO ledger (id, account_id, kind, amount_cents, balance_after_cents, reference_id, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind($crate::rows::new_uuid().to_string())
                .bind(account.to_string())
                .bind(kind.as_str())
                .bind(amount_cents)
                .bind(after.balance_cents)
                .bind(reference.map(|run| run.to_string()))
                .bind(now.as_millis())
                .execute(&mut **tx)
                .await
                .map_err($crate::rows::db_error)?;
                sqlx::query(
                    "UPDATE accounts SET balance_cents = $2, reserved_cents = $3, lifetime_topup_cents = $4 \
                     WHERE id = $1",
                )
                .bind(account.to_string())
                .bind(after.balance_cents)
                .bind(after.reserved_cents)
                .bind(after.lifetime_topup_cents)
                .execute(&mut **tx)
                .await
                .map_err($crate::rows::db_error)?;
                Ok(after)
            }

            /// Whether the run's hold was already given back (released or settled).
            async fn hold_released(tx: &mut Tx, run: tt_domain::RunId) -> Result<bool, tt_store::StoreError> {
                let released: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM ledger WHERE reference_id = $1 AND kind = 'release'")
                        .bind(run.to_string())
                        .fetch_one(&mut **tx)
                        .await
                        .map_err($crate::rows::db_error)?;
                Ok(released > 0)
            }

            /// Releases a run's hold unless it was already released; `actual_cents` also
            /// settles it (`debit_run` up to the hold, `adjustment` beyond it).
            async fn release_hold(
                tx: &mut Tx,
                run: &tt_domain::Run,
                balance: tt_domain::Balance,
                actual_cents: Option<tt_domain::Cents>,
                now: tt_domain::Timestamp,
            ) -> Result<(), tt_store::StoreError> {
                use tt_domain::LedgerKind;
                if Self::hold_released(tx, run.id).await? {
                    return Ok(());
                }
                let hold = run.estimated_cost_cents;
                let settlement = match actual_cents {
                    Some(actual) => tt_domain::settle_completed(hold, actual),
                    None => tt_domain::Settlement { release_cents: hold, debit_cents: 0, adjustment_cents: 0 },
                };
                let account = run.account_id;
                let mut balance =
                    Self::post_ledger(tx, account, balance, LedgerKind::Release, settlement.release_cents, Some(run.id), now)
                        .await?;
                if actual_cents.is_some() {
                    balance =
                        Self::post_ledger(tx, account, balance, LedgerKind::DebitRun, settlement.debit_cents, Some(run.id), now)
                            .await?;
                }
                if settlement.adjustment_cents > 0 {
                    Self::post_ledger(
                        tx,
                        account,
                        balance,
                        LedgerKind::Adjustment,
                        settlement.adjustment_cents,
                        Some(run.id),
                        now,
                    )
                    .await?;
                }
                Ok(())
            }

            /// Appends an event to a run's log and returns its sequence number.
            async fn push_event(
                tx: &mut Tx,
                run: tt_domain::RunId,
                event: &tt_domain::RunLogEvent,
                now: tt_domain::Timestamp,
            ) -> Result<i64, tt_store::StoreError> {
                let seq: i64 = sqlx::query_scalar(
                    "UPDATE runs SET last_event_seq = last_event_seq + 1 WHERE id = $1 RETURNING last_event_seq",
                )
                .bind(run.to_string())
                .fetch_one(&mut **tx)
                .await
                .map_err($crate::rows::db_error)?;
                Self::insert_event(tx, run, seq, event, now).await?;
                Ok(seq)
            }

            async fn insert_event(
                tx: &mut Tx,
                run: tt_domain::RunId,
                seq: i64,
                event: &tt_domain::RunLogEvent,
                now: tt_domain::Timestamp,
            ) -> Result<(), tt_store::StoreError> {
                sqlx::query("INSERT INTO run_events (run_id, seq, event, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(run.to_string())
                    .bind(seq)
                    .bind($crate::rows::to_json(event))
                    .bind(now.as_millis())
                    .execute(&mut **tx)
                    .await
                    .map_err($crate::rows::db_error)?;
                Ok(())
            }

            /// Locks and reads a run by id alone (worker side).
            async fn locked_run(
                tx: &mut Tx,
                run: tt_domain::RunId,
            ) -> Result<Option<$crate::rows::RunRow>, tt_store::StoreError> {
                sqlx::query_as(Self::LOCK_RUN_SQL)
                    .bind(run.to_string())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::rows::db_error)
            }

            /// Checks `lease` against the run's row without an expiry check (for writes
            /// that carry no `now`): the owner and token must still match.
            async fn check_holder(&self, lease: &tt_store::Lease) -> Result<$crate::rows::RunRow, tt_store::StoreError> {
                let row: Option<$crate::rows::RunRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::rows::run_columns!(),
                    " FROM runs WHERE id = $1 AND lease_owner = $2 AND lease_token = $3"
                ))
                .bind(lease.run_id.to_string())
                .bind(&lease.owner)
                .bind(lease.token)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::rows::db_error)?;
                row.ok_or(tt_store::StoreError::LeaseLost { run_id: lease.run_id })
            }

            /// Locks the leased run for a worker write: the lease must be current and the
            /// run not terminal. Locks the account first, as every credit transaction does.
            async fn lock_leased(
                tx: &mut Tx,
                lease: &tt_store::Lease,
                now: tt_domain::Timestamp,
            ) -> Result<($crate::rows::RunRow, tt_domain::Balance), tt_store::StoreError> {
                let lost = || tt_store::StoreError::LeaseLost { run_id: lease.run_id };
                let account: Option<String> = sqlx::query_scalar("SELECT account_id FROM runs WHERE id = $1")
                    .bind(lease.run_id.to_string())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::rows::db_error)?;
                let account: tt_domain::AccountId = $crate::rows::parse_text("account id", &account.ok_or_else(lost)?)?;
                let balance = Self::locked_balance(tx, account).await?.ok_or_else(lost)?;
                let row = Self::locked_run(tx, lease.run_id).await?.ok_or_else(lost)?;
                let terminal = $crate::rows::parse_text::<tt_domain::RunStatus>("run status", row.status())?.is_terminal();
                if terminal || !row.is_leased_by(lease, now) {
                    return Err(lost());
                }
                Ok((row, balance))
            }

            /// One page of an account's rows, in the order `sql` gives: it binds the account as
            /// `$1`, the limit as `$2` and the offset as `$3`; `count_sql` counts them all from `$1`.
            async fn account_page<R, T>(
                &self,
                sql: &'static str,
                count_sql: &'static str,
                account: tt_domain::AccountId,
                page: tt_store::PageRequest,
                into_item: fn(R) -> Result<T, tt_store::StoreError>,
            ) -> Result<tt_store::Page<T>, tt_store::StoreError>
            where
                R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
            {
                let (limit, offset) = $crate::shared::limits(page);
                let rows: Vec<R> = sqlx::query_as(sql)
                    .bind(account.to_string())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::rows::db_error)?;
                let items = rows.into_iter().map(into_item).collect::<Result<_, _>>()?;
                let total: i64 = sqlx::query_scalar(count_sql)
                    .bind(account.to_string())
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::rows::db_error)?;
                Ok(tt_store::Page { items, total: u64::try_from(total).unwrap_or(0) })
            }

            /// The account's row `id` read with `sql` (which binds the id as `$1` and the
            /// account as `$2`), or `NotFound` for `entity`.
            async fn owned_row<R>(
                &self,
                sql: &'static str,
                id: String,
                account: tt_domain::AccountId,
                entity: &'static str,
            ) -> Result<R, tt_store::StoreError>
            where
                R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
            {
                let row: Option<R> = sqlx::query_as(sql)
                    .bind(id)
                    .bind(account.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::rows::db_error)?;
                row.ok_or(tt_store::StoreError::NotFound { entity })
            }

            /// Deletes the account's row `id` with `sql` (which binds the id as `$1` and the
            /// account as `$2`), or fails with `NotFound` for `entity`.
            async fn delete_owned(
                &self,
                sql: &'static str,
                id: String,
                account: tt_domain::AccountId,
                entity: &'static str,
            ) -> Result<(), tt_store::StoreError> {
                let deleted = sqlx::query(sql)
                    .bind(id)
                    .bind(account.to_string())
                    .execute(self.writes())
                    .await
                    .map_err($crate::rows::db_error)?;
                if deleted.rows_affected() == 0 {
                    return Err(tt_store::StoreError::NotFound { entity });
                }
                Ok(())
            }

            /// `sql` with the lease bound as `$1` (run id), `$2` (owner) and `$3` (token), for
            /// a write fenced by the lease; bind the rest and pass it to [`Self::fenced_write`].
            fn fenced(
                sql: &'static str,
                lease: &tt_store::Lease,
            ) -> sqlx::query::Query<'static, $db, <$db as sqlx::Database>::Arguments> {
                sqlx::query(sql).bind(lease.run_id.to_string()).bind(&lease.owner).bind(lease.token)
            }

            /// Runs a fenced write, failing with `LeaseLost` unless it changed the leased row.
            async fn fenced_write(
                &self,
                lease: &tt_store::Lease,
                query: sqlx::query::Query<'static, $db, <$db as sqlx::Database>::Arguments>,
            ) -> Result<(), tt_store::StoreError> {
                let updated = query.execute(self.writes()).await.map_err($crate::rows::db_error)?;
                if updated.rows_affected() != 1 {
                    return Err(tt_store::StoreError::LeaseLost { run_id: lease.run_id });
                }
                Ok(())
            }

            /// Fails with `NotFound` unless the run exists and belongs to the account.
            async fn owned_run(
                &self,
                account: tt_domain::AccountId,
                run: tt_domain::RunId,
            ) -> Result<(), tt_store::StoreError> {
                let found: Option<String> = sqlx::query_scalar("SELECT id FROM runs WHERE id = $1 AND account_id = $2")
                    .bind(run.to_string())
                    .bind(account.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::rows::db_error)?;
                found.map(|_| ()).ok_or(tt_store::StoreError::NotFound { entity: "run" })
            }

            /// Commits, delivering `notices` once the changes are visible: through `NOTIFY`
            /// (sent at commit) where the backend has it, else on the in-process channel.
            async fn finish(&self, mut tx: Tx, notices: &[tt_store::StoreNotice]) -> Result<(), tt_store::StoreError> {
                if let Some(sql) = Self::NOTIFY_SQL {
                    for notice in notices {
                        sqlx::query(sql)
                            .bind($crate::shared::encode_notice(*notice))
                            .execute(&mut *tx)
                            .await
                            .map_err($crate::rows::db_error)?;
                    }
                }
                tx.commit().await.map_err($crate::rows::db_error)?;
                if Self::NOTIFY_SQL.is_none() {
                    for notice in notices {
                        // Nobody listening is fine: notices are hints.
                        let _ = self.notices.send(*notice);
                    }
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl tt_store::Store for $store {
            fn subscribe(&self) -> tokio::sync::broadcast::Receiver<tt_store::StoreNotice> {
                self.notices.subscribe()
            }

            async fn ping(&self) -> Result<(), tt_store::StoreError> {
                sqlx::query("SELECT 1").execute(self.writes()).await.map_err($crate::rows::db_error)?;
                Ok(())
            }

            // ---- accounts and keys ----

            async fn create_account(
                &self,
                name: &str,
                is_admin: bool,
                now: tt_domain::Timestamp,
            ) -> Result<tt_store::Account, tt_store::StoreError> {
                let id = tt_domain::AccountId::from_uuid($crate::rows::new_uuid());
                sqlx::query("INSERT INTO accounts (id, name, is_admin, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(id.to_string())
                    .bind(name)
                    .bind(is_admin)
                    .bind(now.as_millis())
                    .execute(self.writes())
                    .await
                    .map_err($crate::rows::db_error)?;
                Ok(tt_store::Account { id, name: name.to_owned(), is_admin, created_at: now })
            }

            async fn get_account(&self, account: tt_domain::AccountId) -> Result<tt_store::Account, tt_store::StoreError> {
                let row: Option<$crate::rows::AccountRow> =
                    sqlx::query_as("SELECT id, name, is_admin, created_at FROM accounts WHERE id = $1")
                        .bind(account.to_string())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::rows::db_error)?;
                row.ok_or(tt_store::StoreError::NotFound { entity: "account" })?.into_account()
            }

            async fn create_api_key(
                &self,
                account: tt_domain::AccountId,
                name: &str,
                prefix: &str,
                hash: [u8; 32],
                now: tt_domain::Timestamp,
            ) -> Result<tt_store::ApiKeyRecord, tt_store::StoreError> {
                let id = tt_domain::ApiKeyId::from_uuid($crate::rows::new_uuid());
                sqlx::query(
                    "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id.to_string())
                .bind(account.to_string())
                .bind(name)
                .bind(prefix)
                .bind(hash.to_vec())
                .bind(now.as_millis())
                .execute(self.writes())
                .await
                .map_err($crate::rows::key_insert_error)?;
                Ok(tt_store::ApiKeyRecord {
                    id,
                    account_id: account,
                    name: name.to_owned(),
                    prefix: prefix.to_owned(),
                    created_at: now,
                    last_used_at: None,
                    revoked_at: None,
                })
            }

            async fn check_api_key(
                &self,
                prefix: &str,
                hash: [u8; 32],
                now: tt_domain::Timestamp,
            ) -> Result<tt_store::KeyCheck, tt_store::StoreError> {
                use subtle::ConstantTimeEq;
                let row: Option<$crate::rows::KeyCheckRow> = sqlx::query_as(
                    "SELECT k.id, k.account_id, k.key_hash, k.revoked_at, k.last_used_at, a.is_admin \
                     FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.prefix = $1",
                )
                .bind(prefix)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::rows::db_error)?;
                let Some(row) = row else { return Ok(tt_store::KeyCheck::Unknown) };
                if !bool::from(row.key_hash.as_slice().ct_eq(hash.as_slice())) {
                    return Ok(tt_store::KeyCheck::Unknown);
                }
                if row.revoked_at.is_some() {
                    return Ok(tt_store::KeyCheck::Revoked);
                }
                // Recording every use would make every request a write; once a minute is
                // enough to say when a key was last used.
                let stale = row.last_used_at.is_none_or(|last| now.as_millis() - last >= tt_store::KEY_USE_RECORD_INTERVAL_MS);
                if stale {
                    sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                        .bind(&row.id)
                        .bind(now.as_millis())
                        .execute(self.writes())
                        .await
                        .map_err($crate::rows::db_error)?;
                }
                Ok(tt_store::KeyCheck::Valid {
                    account_id: $crate::rows::parse_text("account id", &row.account_id)?,
                    key_id: $crate::rows::parse_text("api key id", &row.id)?,
                    is_admin: row.is_admin,
                })
            }

            async fn list_api_keys(
                &self,
                account: tt_domain::AccountId,
            ) -> Result<Vec<tt_store::ApiKeyRecord>, tt_store::StoreError> {
                let rows: Vec<$crate::rows::ApiKeyRow> = sqlx::query_as(
                    "SELECT id, account_id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys \
                     WHERE account_id = $1 ORDER BY created_at DESC, id DESC",
                )
                .bind(account.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::rows::db_error)?;
                rows.into_iter().map($crate::rows::ApiKeyRow::into_record).collect()
            }

            async fn revoke_api_key(
                &self,
                account: tt_domain::AccountId,
                key: tt_domain::ApiKeyId,
                now: tt_domain::Timestamp,
            ) -> Result<tt_store::ApiKeyRecord, tt_store::StoreError> {
                let row: Option<$crate::rows::ApiKeyRow> = sqlx::query_as(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND account_id = $2 \
                     RETURNING id, account_id, name, prefix, created_at, last_used_at, revoked_at",
                )
                .bind(key.to_string())
                .bind(account.to_string())
                .bind(now.as_millis())
                .fetch_optional(self.writes())
                .await
                .map_err($crate::rows::db_error)?;
                row.ok_or(tt_store::StoreError::NotFound { entity: "api key" })?.into_record()
            }

            // ---- specs ----

            async fn create_spec(
                &self,
                account: tt_domain::AccountId,
                content: tt_domain::SpecContent,
                now: tt_domain::Timestamp,
            ) -> Result<tt_domain::BehaviorSpec, tt_store::StoreError> {
                let id = tt_domain::SpecId::from_uuid($crate::rows::new_uuid());
                sqlx::query(
                    "INSERT INTO specs (id, account_id, name, content, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(id.to_string())
                .bind(account.to_string())
                .bind(content.name())
                .bind($crate::rows::to_json(&content))
                .bind(now.as_millis())
                .execute(self.writes())
                .await
                .map_err($crate::rows::db_error)?;
                Ok(tt_domain::BehaviorSpec { id, account_id: account, content, created_at: now, updated_at: now })
            }

            async fn get_spec(
                &self,
                account: tt_domain::AccountId,
                spec: tt_domain::SpecId,
            ) -> Result<tt_domain::BehaviorSpec, tt_store::StoreError> {
                let row: $crate::rows::SpecRow = self
                    .owned_row(
                        "SELECT id, account_id, content, created_at, updated_at FROM specs \
                         WHERE id = $1 AND account_id = $2",
                        spec.to_string(),
                        account,
                        "spec",
                    )
                    .await?;
                row.into_spec()
            }

            async fn update_spec(
                &self,
                account: tt_domain::AccountId,
                spec: tt_domain::SpecId,
                content: tt_domain::SpecContent,
                now: tt_domain::Timestamp,
            ) -> Result<tt_domain::BehaviorSpec, tt_store::StoreError> {
                let row: Option<$crate::rows::SpecRow> = sqlx::query_as(
                    "UPDATE specs SET name = $3, content = $4, updated_at = $5 WHERE id = $1 AND account_id = $2 \
                     RETURNING id, account_id, content, created_at, updated_at",
                )
                .bind(spec.to_string())
                .bind(account.to_string())
                .bind(content.name())
                .bind($crate::rows::to_json(&content))
                .bind(now.as_millis())
                .fetch_optional(self.writes())
                .await
                .map_err($crate::rows::db_error)?;
                row.ok_or(tt_store::StoreError::NotFound { entity: "spec" })?.into_spec()
            }

            async fn delete_spec(
                &self,
                account: tt_domain::AccountId,
                spec: tt_domain::SpecId,
            ) -> Result<(), tt_store::StoreError> {
                let mut tx = self.begin_write().await?;
                // Holding the account lock keeps a concurrent start from adding a run (and
                // its hold) to the spec between the check and the delete.
                if Self::locked_balance(&mut tx, account).await?.is_none() {
                    return Err(tt_store::StoreError::NotFound { entity: "spec" });
                }
                let active: Option<i64> = sqlx::query_scalar(concat!(
                    "SELECT (SELECT COUNT(*) FROM runs r WHERE r.spec_id = s.id AND r.status IN ",
                    $crate::rows::active_statuses!(),
                    ") FROM specs s WHERE s.id = $1 AND s.account_id = $2"
                ))
                .bind(spec.to_string())
                .bind(account.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::rows::db_error)?;
                match active {
                    None => return Err(tt_store::StoreError::NotFound { entity: "spec" }),
                    Some(0) => {}
                    Some(_) => {
                        return Err(tt_store::StoreError::Conflict {
                            message: "the spec has a run in progress; cancel it before deleting the spec".to_owned(),
                        });
                    }
                }
                sqlx::query("DELETE FROM specs WHERE id = $1 AND account_id = $2")
                    .bind(spec.to_string())
                    .bind(account.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::rows::db_error)?;
                tx.commit().await.map_err($crate::rows::db_error)
            }

            async fn list_specs(
                &self,
                account: tt_domain::AccountId,
                page: tt_store::PageRequest,
            ) -> Result<tt_store::Page<tt_store::SpecListItem>, tt_store::StoreError> {
                self.account_page(
                    "SELECT s.id, s.account_id, s.content, s.created_at, s.updated_at, \
                     (SELECT COUNT(*) FROM runs r WHERE r.spec_id = s.id) AS run_count, \
                     (SELECT r.status FROM runs r WHERE r.spec_id = s.id ORDER BY r.run_number DESC LIMIT 1) \
                       AS latest_run_status, \
                     (SELECT r.avg_score FROM runs r WHERE r.spec_id = s.id AND r.status = 'completed' \
                       ORDER BY r.run_number DESC LIMIT 1) AS latest_run_score \
                     FROM specs s WHERE s.account_id = $1 ORDER BY s.created_at DESC, s.id DESC LIMIT $2 OFFSET $3",
                    "SELECT COUNT(*) FROM specs WHERE account_id = $1",
                    account,
                    page,
                    $crate::rows::SpecListRow::into_item,
                )
                .await
            }

            // ---- runs ----

            async fn start_run(
                &self,
                account: tt_domain::AccountId,
                start: tt_store::StartRun,
                now: tt_domain::Timestamp,
            ) -> Result<tt_domain::Run, tt_store::StoreError> {
                if start.estimated_cost_cents < 0 {
                    return Err(tt_store::StoreError::Conflict {
                        message: "a run's estimated cost cannot be negative".to_owned(),
                    });
                }
                let mut tx = self.begin_write().await?;
                let balance = Self::locked_balance(&mut tx, account)
                    .await?
                    .ok_or(tt_store::StoreError::NotFound { entity: "account" })?;
                tt_domain::check_start(&balance, start.estimated_cost_cents).map_err(|err| match err {
                    tt_domain::CreditError::Insufficient { required_cents, available_cents } => {
                        tt_store::StoreError::InsufficientCredits { required_cents, available_cents }
                    }
                })?;
                let run_number: Option<i64> = sqlx::query_scalar(
                    "UPDATE specs SET next_run_number = next_run_number + 1 WHERE id = $1 AND account_id = $2 \
                     RETURNING next_run_number - 1",
                )
                .bind(start.spec_id.to_string())
                .bind(account.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::rows::db_error)?;
                let run_number = run_number.ok_or(tt_store::StoreError::NotFound { entity: "spec" })?;
                let run = tt_domain::Run::start(tt_domain::NewRun {
                    id: tt_domain::RunId::from_uuid($crate::rows::new_uuid()),
                    account_id: account,
                    behavior_spec_id: start.spec_id,
                    run_number: u32::try_from(run_number)
                        .map_err(|err| $crate::rows::corrupt("run number", err))?,
                    spec_snapshot: start.spec_snapshot,
                    hyperparameters: start.hyperparameters,
                    estimated_cost_cents: start.estimated_cost_cents,
                    started_at: now,
                });
                sqlx::query(
                    "INSERT INTO runs (id, account_id, spec_id, run_number, status, spec_snapshot, hyperparameters, \
                     estimated_cost_cents, started_at, next_wake_at, last_event_seq) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1)",
                )
                .bind(run.id.to_string())
                .bind(account.to_string())
                .bind(run.behavior_spec_id.to_string())
                .bind(run_number)
                .bind(run.status().as_str())
                .bind($crate::rows::to_json(&run.spec_snapshot))
                .bind($crate::rows::to_json(&run.hyperparameters))
                .bind(run.estimated_cost_cents)
                .bind(now.as_millis())
                .execute(&mut *tx)
                .await
                .map_err($crate::rows::db_error)?;
                let first = tt_domain::RunLogEvent::Status { from: None, to: run.status(), message: None };
                Self::insert_event(&mut tx, run.id, 1, &first, now).await?;
                Self::post_ledger(
                    &mut tx,
                    account,
                    balance,
                    tt_domain::LedgerKind::Hold,
                    run.estimated_cost_cents,
                    Some(run.id),
                    now,
                )
                .await?;
                let notices = [tt_store::StoreNotice::RunReady(run.id), tt_store::StoreNotice::Event { run_id: run.id, seq: 1 }];
                self.finish(tx, &notices).await?;
                Ok(run)
            }

            async fn get_run(
                &self,
                account: tt_domain::AccountId,
                run: tt_domain::RunId,
            ) -> Result<tt_domain::Run, tt_store::StoreError> {
                let row: $crate::rows::RunRow = self
                    .owned_row(
                        concat!("SELECT ", $crate::rows::run_columns!(), " FROM runs WHERE id = $1 AND account_id = $2"),
                        run.to_string(),
                        account,
                        "run",
                    )
                    .await?;
                row.into_run()
            }

            async fn list_evals(
                &self,
                account: tt_domain::AccountId,
                run: tt_domain::RunId,
            ) -> Result<Vec<tt_domain::EvalResult>, tt_store::StoreError> {
                self.owned_run(account, run).await?;
                let rows: Vec<$crate::rows::EvalRow> = sqlx::query_as(
                    "SELECT example_key, prompt, expected, actual, score, passed, reasoning, latency_ms, judge_error \
                     FROM evals WHERE run_id = $1 ORDER BY score ASC, example_key ASC",
                )
                .bind(run.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::rows::db_error)?;
                rows.into_iter().map($crate::rows::EvalRow::into_result).collect()
            }

            async fn list_runs(
                &self,
                account: tt_domain::AccountId,
                spec: Option<tt_domain::SpecId>,
                page: tt_store::PageRequest,
            ) -> Result<tt_store::Page<tt_store::RunListItem>, tt_store::StoreError> {
                let (limit, offset) = $crate::shared::limits(page);
                let spec = spec.map(|spec| spec.to_string());
                let rows: Vec<$crate::rows::RunListRow> = sqlx::query_as(concat!(
                    "SELECT s.name AS spec_name, ",
                    "r.id, r.account_id, r.spec_id, r.run_number, r.status, r.spec_snapshot, r.hyperparameters, ",
                    "r.dataset_id, r.fine_tune_job_id, r.model_id, r.eval_summary, r.estimated_cost_cents, ",
                    "r.cost_cents, r.error, r.started_at, r.completed_at, r.provider_file_id, ",
                    "r.provider_events_seen, r.training_tokens, r.trainer, r.provider_cancel_pending, r.attempts, ",
                    "r.lease_owner, r.lease_token, r.lease_expires_at ",
                    "FROM runs r JOIN specs s ON s.id = r.spec_id ",
                    "WHERE r.account_id = $1 AND ($2 IS NULL OR r.spec_id = $2) ",
                    "ORDER BY r.started_at DESC, r.run_number DESC, r.id DESC LIMIT $3 OFFSET $4"
                ))
                .bind(account.to_string())
                .bind(spec.clone())
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::rows::db_error)?;
                let items = rows.into_iter().map($crate::rows::RunListRow::into_item).collect::<Result<_, _>>()?;
                let total: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE account_id = $1 AND ($2 IS NULL OR spec_id = $2)")
                        .bind(account.to_string())
                        .bind(spec)
                        .fetch_one(&self.pool)
                        .await
                        .map_err($crate::rows::db_error)?;
                Ok(tt_store::Page { items, total: u64::try_from(total).unwrap_or(0) })
            }

            async fn cancel_run(
                &self,
                account: tt_domain::AccountId,
                run: tt_domain::RunId,
                now: tt_domain::Timestamp,
            ) -> Result<tt_domain::Run, tt_store::StoreError> {
                let not_found = || tt_store::StoreError::NotFound { entity: "run" };
                let mut tx = self.begin_write().await?;
                let balance = Self::locked_balance(&mut tx, account).await?.ok_or_else(not_found)?;
                let row = Self::locked_run(&mut tx, run).await?.ok_or_else(not_found)?;
                let mut current = row.into_run()?;
                if current.account_id != account {
                    return Err(not_found());
                }
                let from = current.status();
                current.apply(tt_domain::RunEvent::Cancel, now)?;
                let pending = $crate::shared::provider_cancel_needed(from, current.fine_tune_job_id.as_deref());
                let updated = sqlx::query(
                    "UPDATE runs SET status = $2, completed_at = $3, provider_cancel_pending = $4, next_wake_at = $3 \
                     WHERE id = $1 AND status = $5",
                )
                .bind(run.to_string())
                .bind(current.status().as_str())
                .bind(now.as_millis())
                .bind(pending)
                .bind(from.as_str())
                .execute(&mut *tx)
                .await
                .map_err($crate::rows::db_error)?;
                if updated.rows_affected() != 1 {
                    return Err(tt_domain::InvalidTransition { from, event: tt_domain::RunEvent::Cancel }.into());
                }
                Self::release_hold(&mut tx, &current, balance, None, now).await?;
                let event = tt_domain::RunLogEvent::Status {
                    from: Some(from),
                    to: current.status(),
                    message: Some("cancelled by the user".to_owned()),
                };
                let seq = Self::push_event(&mut tx, run, &event, now).await?;
                let mut notices = vec![tt_store::StoreNotice::Event { run_id: run, seq }];
                if pending {
                    notices.push(tt_store::StoreNotice::RunReady(run));
                }
                self.finish(tx, &notices).await?;
                Ok(current)
            }

            async fn list_events(
                &self,
                account: tt_domain::AccountId,
                run: tt_domain::RunId,
                after: i64,
            ) -> Result<Vec<tt_store::StoredEvent>, tt_store::StoreError> {
                self.owned_run(account, run).await?;
                let rows: Vec<$crate::rows::EventRow> = sqlx::query_as(
                    "SELECT seq, event, created_at FROM run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq",
                )
                .bind(run.to_string())
                .bind(after)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::rows::db_error)?;
                rows.into_iter().map($crate::rows::EventRow::into_event).collect()
            }

            // ---- worker side, fenced by leases ----

            async fn claim_runs(
                &self,
                owner: &str,
                now: tt_domain::Timestamp,
                lease_ms: i64,
                limit: u32,
            ) -> Result<Vec<tt_store::ClaimedRun>, tt_store::StoreError> {
                let mut tx = self.begin_write().await?;
                let rows: Vec<$crate::rows::RunRow> = sqlx::query_as(Self::CLAIM_SQL)
                    .bind(owner)
                    .bind(now.as_millis())
                    .bind(now.plus_millis(lease_ms).as_millis())
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($crate::rows::db_error)?;
                tx.commit().await.map_err($crate::rows::db_error)?;
                rows.into_iter().map($crate::rows::RunRow::into_claimed).collect()
            }

            async fn renew_lease(
                &self,
                lease: &tt_store::Lease,
                now: tt_domain::Timestamp,
                lease_ms: i64,
            ) -> Result<tt_store::Lease, tt_store::StoreError> {
                let expires_at = now.plus_millis(lease_ms);
                let query = Self::fenced(
                    "UPDATE runs SET lease_expires_at = $5, next_wake_at = $5 \
                     WHERE id = $1 AND lease_owner = $2 AND lease_token = $3 AND lease_expires_at > $4",
                    lease,
                );
                self.fenced_write(lease, query.bind(now.as_millis()).bind(expires_at.as_millis())).await?;
                Ok(tt_store::Lease { expires_at, ..lease.clone() })
            }

            async fn release_lease(
                &self,
                lease: &tt_store::Lease,
                next_wake_at: tt_domain::Timestamp,
            ) -> Result<(), tt_store::StoreError> {
                let query = Self::fenced(
                    "UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL, next_wake_at = $4 \
                     WHERE id = $1 AND lease_owner = $2 AND lease_token = $3",
                    lease,
                );
                self.fenced_write(lease, query.bind(next_wake_at.as_millis())).await
            }

            async fn load_claimed(
                &self,
                lease: &tt_store::Lease,
                now: tt_domain::Timestamp,
            ) -> Result<tt_store::ClaimedRun, tt_store::StoreError> {
                let row = self.check_holder(lease).await?;
                if !row.is_leased_by(lease, now) {
                    return Err(tt_store::StoreError::LeaseLost { run_id: lease.run_id });
                }
                row.into_claimed()
            }

            async fn record_progress(
                &self,
                lease: &tt_store::Lease,
                progress: tt_store::RunProgress,
                now: tt_domain::Timestamp,
            ) -> Result<(), tt_store::StoreError> {
                let query = Self::fenced(
                    concat!(
                        "UPDATE runs SET provider_file_id = COALESCE($5, provider_file_id), ",
                        "fine_tune_job_id = COALESCE($6, fine_tune_job_id), ",
                        "provider_events_seen = COALESCE($7, provider_events_seen), ",
                        "training_tokens = COALESCE($8, training_tokens), trainer = COALESCE($9, trainer), ",
                        "attempts = COALESCE($10, attempts) ",
                        "WHERE id = $1 AND lease_owner = $2 AND lease_token = $3 AND lease_expires_at > $4 ",
                        "AND status IN ",
                        $crate::rows::active_statuses!()
                    ),
                    lease,
                )
                .bind(now.as_millis())
                .bind(progress.provider_file_id)
                .bind(progress.fine_tune_job_id)
                .bind(progress.provider_events_seen)
                .bind(progress.training_tokens.map($crate::rows::signed))
                .bind(progress.trainer)
                .bind(progress.attempts);
                self.fenced_write(lease, query).await
            }

            async fn attach_dataset(
                &self,
                lease: &tt_store::Lease,
                dataset: tt_store::NewDataset,
                now: tt_domain::Timestamp,
            ) -> Result<tt_domain::DatasetId, tt_store::StoreError> {
                let mut tx = self.begin_write().await?;
                let (row, _) = Self::lock_leased(&mut tx, lease, now).await?;
                let run = row.into_run()?;
                if let Some(existing) = run.dataset_id {
                    return Ok(existing);
                }
                let id = tt_domain::DatasetId::from_uuid($crate::rows::new_uuid());
                Self::insert_dataset(&mut tx, id, run.account_id, &dataset, Some(run.id), now).await?;
                sqlx::query("UPDATE runs SET dataset_id = $2 WHERE id = $1")
                    .bind(run.id.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::rows::db_error)?;
                tx.commit().await.map_err($crate::rows::db_error)?;
                Ok(id)
            }

            async fn attach_model(
                &self,
                lease: &tt_store::Lease,
                model: tt_store::NewModel,
                now: tt_domain::Timestamp,
            ) -> Result<tt_domain::ModelId, tt_store::StoreError> {
                let mut tx = self.begin_write().await?;
                let (row, _) = Self::lock_leased(&mut tx, lease, now).await?;
                let run = row.into_run()?;
                if let Some(existing) = run.model_id {
                    return Ok(existing);
                }
                let id = tt_domain::ModelId::from_uuid($crate::rows::new_uuid());
                sqlx::query(
                    "INSERT INTO models (id, account_id, name, provider, provider_model_id, base_model, \
                     fine_tune_job_id, run_id, behavior_spec_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(id.to_string())
                .bind(run.account_id.to_string())
                .bind(model.name)
                .bind(model.provider)
                .bind(model.provider_model_id)
                .bind(model.base_model)
                .bind(model.fine_tune_job_id)
                .bind(run.id.to_string())
                .bind(run.behavior_spec_id.to_string())
                .bind(now.as_millis())
                .execute(&mut *tx)
                .await
                .map_err($crate::rows::db_error)?;
                sqlx::query("UPDATE runs SET model_id = $2 WHERE id = $1")
                    .bind(run.id.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::rows::db_error)?;
                tx.commit().await.map_err($crate::rows::db_error)?;
                Ok(id)
            }

            async fn save_eval(
                &self,
                lease: &tt_store::Lease,
                result: tt_domain::EvalResult,
            ) -> Result<(), tt_store::StoreError> {
                let row = self.check_holder(lease).await?;
                if $crate::rows::parse_text::<tt_domain::RunStatus>("run status", row.status())?.is_terminal() {
                    return Err(tt_store::StoreError::LeaseLost { run_id: lease.run_id });
                }
                sqlx::query(
                    "INSERT INTO evals (run_id, example_key, prompt, expected, actual, score, passed, reasoning, \
                     latency_ms, judge_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (run_id, example_key) DO UPDATE SET prompt = excluded.prompt, \
                     expected = excluded.expected, actual = excluded.actual, score = excluded.score, \
                     passed = excluded.passed, reasoning = excluded.reasoning, latency_ms = excluded.latency_ms, \
                     judge_error = excluded.judge_error",
                )
                .bind(lease.run_id.to_string())
                .bind(result.example_key.as_str())
                .bind(result.prompt)
                .bind(result.expected)
                .bind(result.actual)
                .bind(result.score)
                .bind(result.passed)
                .bind(result.reasoning)
                .bind($crate::rows::signed(result.latency_ms))
                .bind(result.judge_error)
                .execute(self.writes())
                .await
                .map_err($crate::rows::db_error)?;
                Ok(())
            }

            async fn evaluated_keys(
                &self,
                lease: &tt_store::Lease,
            ) -> Result<Vec<tt_domain::ExampleKey>, tt_store::StoreError> {
                self.check_holder(lease).await?;
                let keys: Vec<String> =
                    sqlx::query_scalar("SELECT example_key FROM evals WHERE run_id = $1 ORDER BY example_key")
                        .bind(lease.run_id.to_string())
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::rows::db_error)?;
                Ok(keys.into_iter().map(tt_domain::ExampleKey::from_stored).collect())
            }

            async fn previous_scores(
                &self,
                lease: &tt_store::Lease,
            ) -> Result<Vec<tt_domain::ExampleScore>, tt_store::StoreError> {
                let run = self.check_holder(lease).await?.into_run()?;
                let rows: Vec<$crate::rows::EvalRow> = sqlx::query_as(
                    "SELECT example_key, prompt, expected, actual, score, passed, reasoning, latency_ms, judge_error \
                     FROM evals WHERE run_id = (SELECT id FROM runs WHERE spec_id = $1 AND status = 'completed' \
                     AND run_number < $2 ORDER BY run_number DESC LIMIT 1) ORDER BY example_key",
                )
                .bind(run.behavior_spec_id.to_string())
                .bind(i64::from(run.run_number))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::rows::db_error)?;
                rows.into_iter().map(|row| Ok(row.into_result()?.to_score())).collect()
            }

            async fn transition(
                &self,
                lease: &tt_store::Lease,
                event: tt_domain::RunEvent,
                details: tt_store::TransitionDetails,
                now: tt_domain::Timestamp,
            ) -> Result<tt_domain::Run, tt_store::StoreError> {
                use tt_domain::RunEvent;
                let mut tx = self.begin_write().await?;
                let (row, balance) = Self::lock_leased(&mut tx, lease, now).await?;
                let mut run = row.into_run()?;
                let from = run.status();
                run.apply(event, now)?;
                let mut message = None;
                match event {
                    RunEvent::Evaluated => {
                        let actual = details.actual_cost_cents.unwrap_or(run.estimated_cost_cents).max(0);
                        Self::release_hold(&mut tx, &run, balance, Some(actual), now).await?;
                        run.eval_summary = details.eval_summary;
                        run.cost_cents = Some(actual);
                    }
                    RunEvent::Fail | RunEvent::Cancel => {
                        Self::release_hold(&mut tx, &run, balance, None, now).await?;
                        run.error = details.error;
                        message = run.error.clone();
                    }
                    RunEvent::Prepared | RunEvent::Trained => {}
                }
                sqlx::query(
                    "UPDATE runs SET status = $2, error = $3, eval_summary = $4, avg_score = $5, cost_cents = $6, \
                     completed_at = $7, attempts = 0 WHERE id = $1",
                )
                .bind(run.id.to_string())
                .bind(run.status().as_str())
                .bind(run.error.clone())
                .bind(run.eval_summary.as_ref().map($crate::rows::to_json))
                .bind(run.eval_summary.as_ref().map(|summary| summary.avg_score))
                .bind(run.cost_cents)
                .bind(run.completed_at.map(tt_domain::Timestamp::as_millis))
                .execute(&mut *tx)
                .await
                .map_err($crate::rows::db_error)?;
                let log = tt_domain::RunLogEvent::Status { from: Some(from), to: run.status(), message };
                let seq = Self::push_event(&mut tx, run.id, &log, now).await?;
                self.finish(tx, &[tt_store::StoreNotice::Event { run_id: run.id, seq }]).await?;
                Ok(run)
            }

            async fn clear_provider_cancel(&self, lease: &tt_store::Lease) -> Result<(), tt_store::StoreError> {
                let query = Self::fenced(
                    "UPDATE runs SET provider_cancel_pending = FALSE \
                     WHERE id = $1 AND lease_owner = $2 AND lease_token = $3",
                    lease,
                );
                self.fenced_write(lease, query).await
            }

            async fn append_event(
                &self,
                lease: &tt_store::Lease,
                event: &tt_domain::RunLogEvent,
                now: tt_domain::Timestamp,
            ) -> Result<i64, tt_store::StoreError> {
                let mut tx = self.begin_write().await?;
                let seq: Option<i64> = sqlx::query_scalar(concat!(
                    "UPDATE runs SET last_event_seq = last_event_seq + 1 ",
                    "WHERE id = $1 AND lease_owner = $2 AND lease_token = $3 AND lease_expires_at > $4 ",
                    "AND status IN ",
                    $crate::rows::active_statuses!(),
                    " RETURNING last_event_seq"
                ))
                .bind(lease.run_id.to_string())
                .bind(&lease.owner)
                .bind(lease.token)
                .bind(now.as_millis())
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::rows::db_error)?;
                let seq = seq.ok_or(tt_store::StoreError::LeaseLost { run_id: lease.run_id })?;
                Self::insert_event(&mut tx, lease.run_id, seq, event, now).await?;
                self.finish(tx, &[tt_store::StoreNotice::Event { run_id: lease.run_id, seq }]).await?;
                Ok(seq)
            }

            // ---- datasets and models ----

            async fn create_dataset(
                &self,
                account: tt_domain::AccountId,
                dataset: tt_store::NewDataset,
                now: tt_domain::Timestamp,
            ) -> Result<tt_store::Dataset, tt_store::StoreError> {
                let id = tt_domain::DatasetId::from_uuid($crate::rows::new_uuid());
                let mut tx = self.begin_write().await?;
                Self::insert_dataset(&mut tx, id, account, &dataset, None, now).await?;
                tx.commit().await.map_err($crate::rows::db_error)?;
                Ok(tt_store::Dataset {
                    id,
                    account_id: account,
                    file_size_bytes: u64::try_from(dataset.content.len()).unwrap_or(u64::MAX),
                    name: dataset.name,
                    description: dataset.description,
                    format: "jsonl",
                    status: dataset.status,
                    row_count: dataset.row_count,
                    errors: dataset.errors,
                    run_id: None,
                    created_at: now,
                })
            }

            async fn get_dataset(
                &self,
                account: tt_domain::AccountId,
                dataset: tt_domain::DatasetId,
            ) -> Result<tt_store::Dataset, tt_store::StoreError> {
                let row: $crate::rows::DatasetRow = self
                    .owned_row(
                        "SELECT id, account_id, name, description, status, row_count, file_size_bytes, errors, run_id, \
                         created_at FROM datasets WHERE id = $1 AND account_id = $2",
                        dataset.to_string(),
                        account,
                        "dataset",
                    )
                    .await?;
                row.into_dataset()
            }

            async fn dataset_content(
                &self,
                account: tt_domain::AccountId,
                dataset: tt_domain::DatasetId,
            ) -> Result<String, tt_store::StoreError> {
                let content: Option<String> =
                    sqlx::query_scalar("SELECT content FROM datasets WHERE id = $1 AND account_id = $2")
                        .bind(dataset.to_string())
                        .bind(account.to_string())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::rows::db_error)?;
                content.ok_or(tt_store::StoreError::NotFound { entity: "dataset" })
            }

            async fn list_datasets(
                &self,
                account: tt_domain::AccountId,
                page: tt_store::PageRequest,
            ) -> Result<tt_store::Page<tt_store::Dataset>, tt_store::StoreError> {
                self.account_page(
                    "SELECT id, account_id, name, description, status, row_count, file_size_bytes, errors, run_id, \
                     created_at FROM datasets WHERE account_id = $1 ORDER BY created_at DESC, id DESC \
                     LIMIT $2 OFFSET $3",
                    "SELECT COUNT(*) FROM datasets WHERE account_id = $1",
                    account,
                    page,
                    $crate::rows::DatasetRow::into_dataset,
                )
                .await
            }

            async fn delete_dataset(
                &self,
                account: tt_domain::AccountId,
                dataset: tt_domain::DatasetId,
            ) -> Result<(), tt_store::StoreError> {
                let sql = "DELETE FROM datasets WHERE id = $1 AND account_id = $2";
                self.delete_owned(sql, dataset.to_string(), account, "dataset").await
            }

            async fn get_model(
                &self,
                account: tt_domain::AccountId,
                model: tt_domain::ModelId,
            ) -> Result<tt_domain::FineTunedModel, tt_store::StoreError> {
                let row: $crate::rows::ModelRow = self
                    .owned_row(
                        "SELECT id, account_id, name, provider, provider_model_id, base_model, fine_tune_job_id, run_id, \
                         behavior_spec_id, created_at FROM models WHERE id = $1 AND account_id = $2",
                        model.to_string(),
                        account,
                        "model",
                    )
                    .await?;
                row.into_model()
            }

            async fn list_models(
                &self,
                account: tt_domain::AccountId,
                page: tt_store::PageRequest,
            ) -> Result<tt_store::Page<tt_domain::FineTunedModel>, tt_store::StoreError> {
                self.account_page(
                    "SELECT id, account_id, name, provider, provider_model_id, base_model, fine_tune_job_id, run_id, \
                     behavior_spec_id, created_at FROM models WHERE account_id = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
                    "SELECT COUNT(*) FROM models WHERE account_id = $1",
                    account,
                    page,
                    $crate::rows::ModelRow::into_model,
                )
                .await
            }

            async fn delete_model(
                &self,
                account: tt_domain::AccountId,
                model: tt_domain::ModelId,
            ) -> Result<(), tt_store::StoreError> {
                let sql = "DELETE FROM models WHERE id = $1 AND account_id = $2";
                self.delete_owned(sql, model.to_string(), account, "model").await
            }

            // ---- credits ----

            async fn topup(
                &self,
                account: tt_domain::AccountId,
                cents: tt_domain::Cents,
                now: tt_domain::Timestamp,
            ) -> Result<tt_domain::Balance, tt_store::StoreError> {
                if cents <= 0 {
                    return Err(tt_store::StoreError::Conflict {
                        message: "a top-up must be a positive number of cents".to_owned(),
                    });
                }
                let mut tx = self.begin_write().await?;
                let balance = Self::locked_balance(&mut tx, account)
                    .await?
                    .ok_or(tt_store::StoreError::NotFound { entity: "account" })?;
                let after =
                    Self::post_ledger(&mut tx, account, balance, tt_domain::LedgerKind::Topup, cents, None, now).await?;
                tx.commit().await.map_err($crate::rows::db_error)?;
                Ok(after)
            }

            async fn balance(&self, account: tt_domain::AccountId) -> Result<tt_domain::Balance, tt_store::StoreError> {
                let row: Option<$crate::rows::BalanceRow> = sqlx::query_as(
                    "SELECT balance_cents, reserved_cents, lifetime_topup_cents FROM accounts WHERE id = $1",
                )
                .bind(account.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::rows::db_error)?;
                Ok(row.ok_or(tt_store::StoreError::NotFound { entity: "account" })?.into())
            }

            async fn list_transactions(
                &self,
                account: tt_domain::AccountId,
                page: tt_store::PageRequest,
            ) -> Result<tt_store::Page<tt_domain::LedgerEntry>, tt_store::StoreError> {
                self.account_page(
                    "SELECT id, account_id, kind, amount_cents, balance_after_cents, reference_id, created_at \
                     FROM ledger WHERE account_id = $1 ORDER BY entry_no DESC LIMIT $2 OFFSET $3",
                    "SELECT COUNT(*) FROM ledger WHERE account_id = $1",
                    account,
                    page,
                    $crate::rows::LedgerRow::into_entry,
                )
                .await
            }
        }

        impl $store {
            async fn insert_dataset(
                tx: &mut Tx,
                id: tt_domain::DatasetId,
                account: tt_domain::AccountId,
                dataset: &tt_store::NewDataset,
                run: Option<tt_domain::RunId>,
                now: tt_domain::Timestamp,
            ) -> Result<(), tt_store::StoreError> {
                sqlx::query(
                    "INSERT INTO datasets (id, account_id, name, description, status, row_count, file_size_bytes, \
                     errors, content, run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(id.to_string())
                .bind(account.to_string())
                .bind(&dataset.name)
                .bind(&dataset.description)
                .bind(dataset.status.as_str())
                .bind($crate::rows::signed(dataset.row_count))
                .bind(i64::try_from(dataset.content.len()).unwrap_or(i64::MAX))
                .bind($crate::rows::issues_to_json(&dataset.errors))
                .bind(&dataset.content)
                .bind(run.map(|run| run.to_string()))
                .bind(now.as_millis())
                .execute(&mut **tx)
                .await
                .map_err($crate::rows::db_error)?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_store;
