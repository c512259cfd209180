//! Shared set-up: an in-process server on port 0 (SQLite, or PostgreSQL when
//! `TT_TEST_POSTGRES_URL` is set), the fake Together behind it, accounts with keys, and a
//! runner for the real `tt` and `tt-server` binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tt_client::Client;
use tt_domain::{Clock, Example, SpecDraft};
use tt_server::{Server, Settings, SystemClock, TrainerKind};
use tt_store::Store;
use tt_testkit::together::{ChatCompletionRequestView, FakeTogether, FakeTogetherConfig};

/// The hub model the flows train through the fake Together.
pub(crate) const HUB_MODEL: &str = "meta-llama/Llama-3.2-3B-Instruct";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL admin URL, or `None` (and a note) when the suite should skip it.
pub(crate) fn postgres_url() -> Option<String> {
    let url = std::env::var("TT_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty());
    if url.is_none() {
        eprintln!(
            "skipped: TT_TEST_POSTGRES_URL is not set, so the PostgreSQL variant does not run"
        );
    }
    url
}

/// A fresh PostgreSQL database; with the variable set, an unreachable server fails the test.
pub(crate) async fn fresh_postgres_database(admin_url: &str) -> String {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("TT_TEST_POSTGRES_URL is set but PostgreSQL cannot be reached");
    let name = format!("tt_e2e_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create database");
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
    format!("{base}/{name}")
}

/// A running in-process server with the fake Together behind it.
pub(crate) struct TestServer {
    pub(crate) base_url: String,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) together: FakeTogether,
    pub(crate) data_dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// How the fake Together answers chat: the expected answers the test wants the trained
/// model to give, by prompt.
pub(crate) type Answers = Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>;

impl TestServer {
    /// Starts a server on `backend` whose Together trainer is a fake with `job_duration`,
    /// answering chat from `answers` (anything else gets "I do not know.").
    pub(crate) async fn start(
        backend: Backend,
        job_duration: Duration,
        answers: Answers,
    ) -> Option<Self> {
        Self::start_with_latency(backend, job_duration, Duration::ZERO, answers).await
    }

    /// Like [`TestServer::start`], with every fake Together response delayed by `latency`.
    pub(crate) async fn start_with_latency(
        backend: Backend,
        job_duration: Duration,
        latency: Duration,
        answers: Answers,
    ) -> Option<Self> {
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_database(&postgres_url()?).await),
        };
        let chat_answers = answers.clone();
        let together = FakeTogether::start(FakeTogetherConfig {
            job_duration,
            latency,
            chat: Arc::new(move |request: &ChatCompletionRequestView| {
                let prompt = request.last_user_message().to_owned();
                chat_answers
                    .lock()
                    .expect("lock")
                    .get(&prompt)
                    .cloned()
                    .unwrap_or_else(|| "I do not know.".to_owned())
            }),
            ..FakeTogetherConfig::default()
        })
        .await;
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::embedded(data_dir.path().to_path_buf());
        settings.database_url = database_url;
        settings.trainer = TrainerKind::Together;
        settings.together_api_key = Some(together.api_key().to_owned());
        settings.together_base_url = Some(together.base_url());
        settings.lease_seconds = 5;
        let server = Server::build(&settings).await.expect("server builds");
        let store = server.store().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("server runs");
        });
        Some(Self { base_url, store, together, data_dir, stop: Some(stop), task: Some(task) })
    }

    /// An account with `credits` cents and its key, made as an operator would.
    pub(crate) async fn account(
        &self,
        name: &str,
        credits: i64,
        admin: bool,
    ) -> (tt_domain::AccountId, String) {
        let now = SystemClock.now();
        let account = self.store.create_account(name, admin, now).await.expect("account");
        let key = tt_server::generate_api_key().expect("key");
        self.store
            .create_api_key(account.id, "default", &key.prefix, key.hash, now)
            .await
            .expect("key stored");
        if credits > 0 {
            self.store.topup(account.id, credits, now).await.expect("topup");
        }
        (account.id, key.key)
    }

    pub(crate) fn client(&self, key: &str) -> Client {
        Client::new(&self.base_url, key.to_owned()).expect("client")
    }

    /// Runs the `tt` binary against this server with `key`.
    pub(crate) fn tt(&self, key: &str, args: &[&str]) -> Output {
        tt_command(self.data_dir.path())
            .env("TT_BASE_URL", &self.base_url)
            .env("TT_API_KEY", key)
            .args(args)
            .output()
            .expect("tt runs")
    }

    /// Stops the server gracefully.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A spec draft for `HUB_MODEL` with these (input, output) pairs.
pub(crate) fn spec_draft(name: &str, pairs: &[(&str, &str)]) -> SpecDraft {
    SpecDraft {
        name: name.to_owned(),
        system_prompt: "Answer as the support desk.".to_owned(),
        guidelines: vec!["Be brief".to_owned()],
        examples: pairs
            .iter()
            .map(|(i, o)| Example { input: (*i).to_owned(), output: (*o).to_owned() })
            .collect(),
        base_model: Some(HUB_MODEL.to_owned()),
        ..SpecDraft::default()
    }
}

/// The directory holding this build's binaries (`target/debug`), building `tt` and
/// `tt-server` there first if they are missing or stale.
pub(crate) fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("test exe");
        let dir =
            exe.parent().and_then(Path::parent).expect("target/<profile>/deps/…").to_path_buf();
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "tt-cli", "-p", "tt-server", "--bins"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("cargo builds the binaries");
        assert!(status.success(), "building tt and tt-server failed");
        dir
    })
}

/// A `tt` command with a private config directory (so no real credentials are read).
pub(crate) fn tt_command(config_home: &Path) -> Command {
    let mut command = Command::new(bin_dir().join("tt"));
    command
        .env_remove("TT_API_KEY")
        .env_remove("TUNED_TENSOR_API_KEY")
        .env("XDG_CONFIG_HOME", config_home)
        .env("HOME", config_home)
        .env("NO_COLOR", "1");
    command
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits until `check` holds, polling, for at most `limit`.
pub(crate) async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
