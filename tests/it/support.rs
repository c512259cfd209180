//! Shared set-up: an in-process server on port 0 (SQLite, or PostgreSQL when
//! `TT_TEST_POSTGRES_URL` is set), the fake Together behind it, accounts with keys, and a
//! runner for the real `tt` and `tt-server` binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tt_client::Client;
use tt_domain::{Example, SpecDraft};
use tt_server::{Server, Settings, TrainerKind};
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
#[expect(clippy::print_stderr, reason = "a skipped variant says so")]
pub(crate) fn postgres_url() -> Option<String> {
    let url = std::env::var("TT_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty());
    if url.is_none() {
        eprintln!(
            "skipped: TT_TEST_POSTGRES_URL is not set, so the PostgreSQL variant does not run"
        );
    }
    url
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
            Backend::Postgres => {
                Some(tt_testkit::postgres::fresh_database(&postgres_url()?, "tt_e2e").await)
            }
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
        let (account, key) = tt_server::create_account_with_key(
            self.store.as_ref(),
            name,
            admin,
            "default",
            credits,
        )
        .await
        .expect("account and key");
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

/// Whether the heavy variants run (`TT_HEAVY_TESTS=1`); the light ones are the default.
pub(crate) fn heavy() -> bool {
    std::env::var("TT_HEAVY_TESTS").is_ok_and(|value| value == "1")
}

/// The real `tt-server` binary as a child process: its settings as environment variables,
/// its stderr captured to one file per start under `log_dir`, its address read from its
/// JSON `tt-server listening` line. [`ServerProcess::kill`] sends SIGKILL; a restart keeps
/// the database and the data directory.
pub(crate) struct ServerProcess {
    env: Vec<(String, String)>,
    log_dir: PathBuf,
    child: Option<std::process::Child>,
    starts: usize,
    pub(crate) base_url: String,
}

impl ServerProcess {
    /// The environment for a server on `database_url` (`None`: SQLite in `data_dir`) whose
    /// Together trainer is `together`, with short leases so restarts take runs over quickly.
    pub(crate) fn together_env(
        database_url: Option<&str>,
        data_dir: &Path,
        together: &FakeTogether,
    ) -> Vec<(String, String)> {
        let mut env = vec![
            ("TT_DATA_DIR".to_owned(), data_dir.display().to_string()),
            ("TT_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("TT_LOG_FORMAT".to_owned(), "json".to_owned()),
            ("TT_LOG".to_owned(), "info".to_owned()),
            ("TT_TRAINER".to_owned(), "together".to_owned()),
            ("TOGETHER_API_KEY".to_owned(), together.api_key().to_owned()),
            ("TOGETHER_BASE_URL".to_owned(), together.base_url()),
            ("TT_LEASE_SECONDS".to_owned(), "2".to_owned()),
            ("TT_EVAL_CONCURRENCY".to_owned(), "4".to_owned()),
        ];
        if let Some(url) = database_url {
            env.push(("TT_DATABASE_URL".to_owned(), url.to_owned()));
        }
        env
    }

    /// Starts the binary with `env` (nothing else of this process's `TT_*` environment
    /// leaks in), logging under `log_dir`, and waits until `/healthz` answers.
    pub(crate) async fn start(env: Vec<(String, String)>, log_dir: &Path) -> Self {
        let mut process = Self {
            env,
            log_dir: log_dir.to_path_buf(),
            child: None,
            starts: 0,
            base_url: String::new(),
        };
        process.restart().await;
        process
    }

    fn command(&self) -> Command {
        let mut command = Command::new(bin_dir().join("tt-server"));
        for (name, _) in std::env::vars() {
            if name.starts_with("TT_") || name.starts_with("TOGETHER_") {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Starts the server again (after [`ServerProcess::kill`]) on the same database and
    /// data directory, and waits until it serves.
    pub(crate) async fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        self.starts += 1;
        let log_path = self.log_dir.join(format!("tt-server-{}.log", self.starts));
        let log = std::fs::File::create(&log_path).expect("create the server log");
        let child = self
            .command()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tt-server starts");
        self.child = Some(child);
        let mut address = None;
        let found = eventually(Duration::from_secs(60), || {
            address = listening_address(&std::fs::read_to_string(&log_path).unwrap_or_default());
            let found = address.is_some();
            async move { found }
        })
        .await;
        assert!(
            found,
            "tt-server never logged its address:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        self.base_url = format!("http://{}", address.expect("found"));
        let health = Client::new(&self.base_url, String::new()).expect("client");
        let healthy = eventually(Duration::from_secs(30), || {
            let health = health.clone();
            async move { health.healthz().await.is_ok() }
        })
        .await;
        assert!(healthy, "tt-server at {} never answered /healthz", self.base_url);
    }

    /// SIGKILLs the server and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error here means it had already exited, which `wait` then reaps.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs `tt-server admin create-account` with this server's settings and returns the
    /// account id and its key.
    pub(crate) fn create_account(&self, name: &str, credits: i64) -> (String, String) {
        let out = self
            .command()
            .args(["admin", "create-account", "--name", name, "--json"])
            .args(["--credits", &credits.to_string()])
            .output()
            .expect("tt-server admin runs");
        assert!(out.status.success(), "create-account failed: {}", stderr(&out));
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("create-account --json prints JSON");
        let field = |name: &str| json[name].as_str().expect("string field").to_owned();
        (field("account_id"), field("api_key"))
    }

    pub(crate) fn client(&self, key: &str) -> Client {
        Client::new(&self.base_url, key.to_owned()).expect("client")
    }

    /// Everything every start of this server wrote to stderr.
    pub(crate) fn logs(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.log_dir.join(format!("tt-server-{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `address` of the last `tt-server listening` JSON log line in `log`.
fn listening_address(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "tt-server listening")
        .find_map(|line| line["fields"]["address"].as_str().map(str::to_owned))
}

/// Every run of the account behind `client`, once all are terminal (or `limit` passed).
pub(crate) async fn wait_until_all_terminal(
    client: &Client,
    limit: Duration,
) -> Vec<tt_client::Run> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut runs = Vec::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(all) = tt_client::collect_pages(|page| client.list_runs(page)).await {
            runs = all;
            if runs.iter().all(|run| run.status.is_terminal()) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    runs
}

/// Checks the promises every finished batch keeps, for the account behind `client` with
/// `runs` (all of its runs) and `topups` cents granted: every run is terminal; each has
/// exactly one hold, released in full; each completed run is debited exactly once (debit
/// plus adjustment is its cost) and no other run is debited; nothing stays reserved; the
/// balance is top-ups minus debits and adjustments; and the fake Together (if any) holds at
/// most one job per run and none for runs that do not exist.
pub(crate) async fn audit(
    client: &Client,
    runs: &[tt_client::Run],
    topups: i64,
    together: Option<&FakeTogether>,
) {
    use tt_domain::{LedgerKind, RunStatus};
    let ledger =
        tt_client::collect_pages(|page| client.transactions(page)).await.expect("transactions");
    let sum = |run: Option<&str>, kind: LedgerKind| -> (usize, i64) {
        let entries: Vec<_> = ledger
            .iter()
            .filter(|e| {
                e.kind == kind && run.is_none_or(|id| e.reference_id.as_deref() == Some(id))
            })
            .collect();
        (entries.len(), entries.iter().map(|e| e.amount_cents).sum())
    };
    for run in runs {
        let id = run.id.to_string();
        assert!(run.status.is_terminal(), "run {id} is still {:?}", run.status);
        let (holds, held) = sum(Some(&id), LedgerKind::Hold);
        let (releases, released) = sum(Some(&id), LedgerKind::Release);
        let (debits, debited) = sum(Some(&id), LedgerKind::DebitRun);
        let (_, adjusted) = sum(Some(&id), LedgerKind::Adjustment);
        assert_eq!((holds, releases), (1, 1), "run {id}: one hold, released once");
        assert_eq!(held, released, "run {id}: the whole hold is released");
        if run.status == RunStatus::Completed {
            assert_eq!(debits, 1, "completed run {id} is debited exactly once");
            assert_eq!(Some(debited + adjusted), run.cost_cents, "run {id}: debits match its cost");
        } else {
            assert_eq!((debits, adjusted), (0, 0), "{:?} run {id} costs nothing", run.status);
        }
    }
    let balance = client.balance().await.expect("balance");
    let (_, granted) = sum(None, LedgerKind::Topup);
    let (_, debited) = sum(None, LedgerKind::DebitRun);
    let (_, adjusted) = sum(None, LedgerKind::Adjustment);
    assert_eq!(granted, topups);
    assert_eq!(balance.reserved_cents, 0, "no hold is left on a terminal run");
    assert_eq!(balance.balance_cents, granted - debited - adjusted);
    if let Some(together) = together {
        for job in together.jobs() {
            let owners = runs
                .iter()
                .filter(|run| job.suffix.contains(&tt_together::run_marker(run.id)))
                .count();
            assert_eq!(owners, 1, "job {} belongs to exactly one run", job.id);
        }
        for run in runs {
            let jobs = together
                .jobs()
                .iter()
                .filter(|job| job.suffix.contains(&tt_together::run_marker(run.id)))
                .count();
            assert!(jobs <= 1, "run {} made {jobs} jobs at the provider", run.id);
        }
    }
}
