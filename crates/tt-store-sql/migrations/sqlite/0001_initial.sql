-- The whole schema of Tuned Tensor on SQLite. Ids are hyphenated UUID text, instants are
-- unix milliseconds, money is integer cents, JSON documents are text.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL,
    balance_cents BIGINT NOT NULL DEFAULT 0,
    reserved_cents BIGINT NOT NULL DEFAULT 0,
    lifetime_topup_cents BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    key_hash BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at);

CREATE TABLE specs (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content TEXT NOT NULL,
    next_run_number BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX specs_by_account ON specs (account_id, created_at);

CREATE TABLE runs (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    spec_id TEXT NOT NULL REFERENCES specs (id) ON DELETE CASCADE,
    run_number BIGINT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('preparing', 'training', 'evaluating', 'completed', 'failed', 'cancelled')),
    spec_snapshot TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    dataset_id TEXT,
    fine_tune_job_id TEXT,
    model_id TEXT,
    eval_summary TEXT,
    avg_score REAL,
    estimated_cost_cents BIGINT NOT NULL CHECK (estimated_cost_cents >= 0),
    cost_cents BIGINT,
    error TEXT,
    started_at BIGINT NOT NULL,
    completed_at BIGINT,
    provider_file_id TEXT,
    provider_events_seen BIGINT NOT NULL DEFAULT 0,
    training_tokens BIGINT,
    trainer TEXT,
    provider_cancel_pending BOOLEAN NOT NULL DEFAULT FALSE,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_wake_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_token BIGINT NOT NULL DEFAULT 0,
    lease_expires_at BIGINT,
    last_event_seq BIGINT NOT NULL DEFAULT 0,
    UNIQUE (spec_id, run_number)
);
CREATE INDEX runs_by_account ON runs (account_id, started_at);
CREATE INDEX runs_claim_scan ON runs (status, next_wake_at);

CREATE TABLE run_events (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE evals (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    example_key TEXT NOT NULL,
    prompt TEXT NOT NULL,
    expected TEXT NOT NULL,
    actual TEXT NOT NULL,
    score REAL NOT NULL,
    passed BOOLEAN NOT NULL,
    reasoning TEXT NOT NULL,
    latency_ms BIGINT NOT NULL,
    judge_error TEXT,
    PRIMARY KEY (run_id, example_key)
);

CREATE TABLE datasets (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('validated', 'invalid')),
    row_count BIGINT NOT NULL,
    file_size_bytes BIGINT NOT NULL,
    errors TEXT NOT NULL,
    content TEXT NOT NULL,
    run_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX datasets_by_account ON datasets (account_id, created_at);

CREATE TABLE models (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_model_id TEXT NOT NULL,
    base_model TEXT NOT NULL,
    fine_tune_job_id TEXT NOT NULL,
    run_id TEXT,
    behavior_spec_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX models_by_account ON models (account_id, created_at);

CREATE TABLE ledger (
    entry_no INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('topup', 'hold', 'release', 'debit_run', 'adjustment')),
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    balance_after_cents BIGINT NOT NULL,
    reference_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_by_account ON ledger (account_id, entry_no);
-- A run holds, releases, is debited and is adjusted at most once each: settling or
-- releasing twice cannot write a second entry even if the code above it were wrong.
CREATE UNIQUE INDEX ledger_once_per_run ON ledger (reference_id, kind) WHERE kind <> 'topup';
