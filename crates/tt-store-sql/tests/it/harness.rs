//! Fresh stores for tests, and the fixtures the stories share.

use std::sync::Arc;

use tt_domain::{AccountId, Example, Hyperparameters, SpecContent, SpecDraft, Timestamp};
use tt_store::{ClaimedRun, StartRun, Store};
use tt_store_sql::{PgStore, SqliteStore};

/// A store and whatever must live as long as it.
pub(crate) struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    url: Option<String>,
}

impl Backend {
    pub(crate) fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Another store on the same PostgreSQL database, as a second server would open it.
    pub(crate) async fn second_server(&self) -> Arc<dyn Store> {
        let url = self.url.as_deref().expect("only PostgreSQL backends have a second server");
        Arc::new(PgStore::connect(url).await.unwrap())
    }
}

/// A store on a fresh SQLite file.
pub(crate) async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("nested/tt.db").to_str().unwrap()).await.unwrap();
    Backend { store: Arc::new(store), _dir: Some(dir), url: None }
}

/// A store on a fresh PostgreSQL database, or `None` (after saying so) when
/// `TT_TEST_POSTGRES_URL` is not set. With it set, an unreachable server fails the test.
pub(crate) async fn postgres() -> Option<Backend> {
    let Ok(admin_url) = std::env::var("TT_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped: TT_TEST_POSTGRES_URL is not set, so the PostgreSQL variant did not run"
        );
        return None;
    };
    let url = tt_testkit::postgres::fresh_database(&admin_url, "tt_test").await;
    let store = PgStore::connect(&url).await.unwrap();
    Some(Backend { store: Arc::new(store), _dir: None, url: Some(url) })
}

/// Milliseconds after a fixed instant, so tests never read the clock.
pub(crate) fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(1_772_793_000_000 + offset_ms)
}

/// A valid spec named `name` with examples for `inputs`.
pub(crate) fn spec_content(name: &str, inputs: &[&str]) -> SpecContent {
    SpecDraft {
        name: name.to_owned(),
        examples: inputs
            .iter()
            .map(|input| Example {
                input: (*input).to_owned(),
                output: format!("answer to {input}"),
            })
            .collect(),
        ..SpecDraft::default()
    }
    .validate()
    .unwrap()
}

/// A new account holding `cents` of credit.
pub(crate) async fn account_with(store: &dyn Store, cents: i64) -> AccountId {
    let account = store.create_account("acme", false, at(0)).await.unwrap();
    if cents > 0 {
        store.topup(account.id, cents, at(0)).await.unwrap();
    }
    account.id
}

/// What starting a run of `spec` estimated at `cents` needs.
pub(crate) fn start_of(spec: &tt_domain::BehaviorSpec, cents: i64) -> StartRun {
    StartRun {
        spec_id: spec.id,
        spec_snapshot: spec.content.clone(),
        hyperparameters: Hyperparameters::default(),
        estimated_cost_cents: cents,
    }
}

/// Claims the one claimable run as `owner`.
pub(crate) async fn claim_one(store: &dyn Store, owner: &str, now: Timestamp) -> ClaimedRun {
    let mut claimed = store.claim_runs(owner, now, 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "expected exactly one claimable run");
    claimed.remove(0)
}
