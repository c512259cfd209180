//! The Tuned Tensor server, as a library: settings, the composition of store, providers,
//! engine and API, and `serve` with graceful shutdown. `main.rs` parses the command line and
//! calls into this; tests and `tt quickstart` call it directly with a port-0 listener.
//!
//! This is the one place that names concrete implementations (SQLite or PostgreSQL, the
//! local trainer, Together, the OpenAI-compatible client).

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tt_api::{AppState, Metrics, TrainerCatalog};
use tt_domain::{Clock, RateCard};
use tt_engine::{Engine, EngineConfig, Providers, Trainer};
use tt_local::{LocalConfig, LocalTrainer};
use tt_openai::{OpenAiClient, OpenAiConfig};
use tt_providers::{
    Augmenter, Inference, Judge, LlmAugmenter, LlmJudge, OfflineAugmenter, SimilarityJudge,
};
use tt_store::Store;
use tt_together::{TogetherClient, TogetherConfig};

pub use tt_api::generate_api_key;
pub use tt_engine::SystemClock;

/// Which parts of the server a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// The REST API only.
    Api,
    /// The run workers only.
    Worker,
    /// Both (the default).
    All,
}

/// Which trainer fine-tunes hub-named base models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainerKind {
    /// Only the in-process trainer (`tt-local/…` names and local model directories).
    Local,
    /// Together AI for hub-named models, the local trainer for the rest.
    Together,
}

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Every setting, from flags or the environment. Secrets are never printed: this type has
/// no `Debug`.
#[derive(Clone, clap::Args)]
pub struct Settings {
    /// Database URL: `postgres://…` for PostgreSQL, else a SQLite file (default under the data directory).
    #[arg(long, env = "TT_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Where the SQLite file and the local trainer's files live.
    #[arg(long, env = "TT_DATA_DIR", default_value = "./tt-data", global = true)]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "TT_LISTEN", default_value = "127.0.0.1:8080", global = true)]
    pub listen: String,
    /// Which parts to run.
    #[arg(long, env = "TT_ROLE", value_enum, default_value = "all", global = true)]
    pub role: Role,
    /// The trainer for hub-named base models.
    #[arg(long, env = "TT_TRAINER", value_enum, default_value = "local", global = true)]
    pub trainer: TrainerKind,
    /// Together AI API key (needed with `TT_TRAINER=together`).
    #[arg(long, env = "TOGETHER_API_KEY", hide_env_values = true, global = true)]
    pub together_api_key: Option<String>,
    /// Together AI base URL.
    #[arg(long, env = "TOGETHER_BASE_URL", global = true)]
    pub together_base_url: Option<String>,
    /// Seconds one Together request may take before it is abandoned (and retried when
    /// that is safe); the client's default (120 s) when unset.
    #[arg(long, env = "TOGETHER_TIMEOUT_SECONDS", global = true)]
    pub together_timeout_seconds: Option<u64>,
    /// An OpenAI-compatible endpoint for the LLM judge and augmenter; without it the
    /// similarity judge and the offline augmenter are used.
    #[arg(long, env = "TT_LLM_BASE_URL", global = true)]
    pub llm_base_url: Option<String>,
    /// The key for `TT_LLM_BASE_URL`.
    #[arg(long, env = "TT_LLM_API_KEY", hide_env_values = true, global = true)]
    pub llm_api_key: Option<String>,
    /// The judge's model at `TT_LLM_BASE_URL`.
    #[arg(long, env = "TT_JUDGE_MODEL", default_value = "gpt-4o-mini", global = true)]
    pub judge_model: String,
    /// The augmenter's model at `TT_LLM_BASE_URL`.
    #[arg(long, env = "TT_AUGMENT_MODEL", default_value = "gpt-4o-mini", global = true)]
    pub augment_model: String,
    /// A TOML rate card (cents per million training tokens per epoch, per base model).
    #[arg(long, env = "TT_RATE_CARD", global = true)]
    pub rate_card: Option<PathBuf>,
    /// Examples evaluated concurrently per run.
    #[arg(long, env = "TT_EVAL_CONCURRENCY", default_value_t = 16, global = true)]
    pub eval_concurrency: usize,
    /// Seconds a worker's lease on a run lasts without renewal.
    #[arg(long, env = "TT_LEASE_SECONDS", default_value_t = 30, global = true)]
    pub lease_seconds: u64,
    /// Log filter (`info`, `tt_engine=debug`, …).
    #[arg(long, env = "TT_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Log format.
    #[arg(long, env = "TT_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
}

impl Settings {
    /// The embedded default, whatever the environment says: SQLite and the local trainer in
    /// `data_dir`, the offline judge and augmenter, on a port the OS picks. `tt quickstart`
    /// runs this.
    pub fn embedded(data_dir: PathBuf) -> Self {
        Self {
            database_url: None,
            data_dir,
            listen: "127.0.0.1:0".to_owned(),
            role: Role::All,
            trainer: TrainerKind::Local,
            together_api_key: None,
            together_base_url: None,
            together_timeout_seconds: None,
            llm_base_url: None,
            llm_api_key: None,
            judge_model: String::new(),
            augment_model: String::new(),
            rate_card: None,
            eval_concurrency: 4,
            lease_seconds: 30,
            log: "warn".to_owned(),
            log_format: LogFormat::Text,
        }
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("tt.db").display()))
    }
}

/// Opens the store the settings name (migrating it) and makes sure the data directory exists.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!("could not create the data directory {}", settings.data_dir.display())
    })?;
    let url = settings.database_url();
    tt_store_sql::open(&url)
        .await
        .with_context(|| format!("could not open the database at {}", redact_url(&url)))
}

/// A database URL with any password replaced, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Creates an account, its first API key (named `key_name`) and, when `credits_cents` is
/// positive, its opening credit: what `admin create-account` and `tt quickstart` do.
/// Returns the account and the key, whose full text exists only in the result.
pub async fn create_account_with_key(
    store: &dyn Store,
    name: &str,
    is_admin: bool,
    key_name: &str,
    credits_cents: i64,
) -> anyhow::Result<(tt_store::Account, tt_domain::NewApiKey)> {
    let now = SystemClock.now();
    let account =
        store.create_account(name, is_admin, now).await.context("could not create the account")?;
    let key = generate_api_key()?;
    store
        .create_api_key(account.id, key_name, &key.prefix, key.hash, now)
        .await
        .context("could not store the key")?;
    if credits_cents > 0 {
        store
            .topup(account.id, credits_cents, now)
            .await
            .context("could not grant the opening credit")?;
    }
    Ok((account, key))
}

/// A composed server, ready to serve.
pub struct Server {
    store: Arc<dyn Store>,
    engine: Option<Engine>,
    router: Option<axum::Router>,
}

impl Server {
    /// Builds everything the settings ask for.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let store = open_store(settings).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let rate_card = Arc::new(load_rate_card(settings)?);

        let local = Arc::new(
            LocalTrainer::new(LocalConfig::new(&settings.data_dir))
                .context("could not start the local trainer")?,
        );
        let local_trainer = Trainer { fine_tuner: local.clone(), inference: local };
        let hosted = match settings.trainer {
            TrainerKind::Local => None,
            TrainerKind::Together => {
                let Some(key) = settings.together_api_key.clone() else {
                    bail!(
                        "TT_TRAINER=together needs TOGETHER_API_KEY: set it, or use TT_TRAINER=local"
                    );
                };
                let mut config = TogetherConfig::new(key);
                if let Some(url) = &settings.together_base_url {
                    config = config.with_base_url(url.clone());
                }
                if let Some(seconds) = settings.together_timeout_seconds {
                    config.request_timeout = Duration::from_secs(seconds.max(1));
                }
                let client = Arc::new(
                    TogetherClient::new(config).context("could not set up the Together client")?,
                );
                Some(Trainer { fine_tuner: client.clone(), inference: client })
            }
        };
        let (judge, augmenter) = judge_and_augmenter(settings)?;

        let mut inference: HashMap<String, Arc<dyn Inference>> = HashMap::new();
        inference.insert(
            local_trainer.fine_tuner.provider_name().to_owned(),
            local_trainer.inference.clone(),
        );
        if let Some(trainer) = &hosted {
            inference
                .insert(trainer.fine_tuner.provider_name().to_owned(), trainer.inference.clone());
        }
        let trainers = if hosted.is_some() {
            TrainerCatalog::with_together()
        } else {
            TrainerCatalog::default()
        };

        let router = (settings.role != Role::Worker).then(|| {
            tt_api::router(AppState {
                store: store.clone(),
                clock: clock.clone(),
                rate_card: rate_card.clone(),
                trainers,
                inference,
                metrics: Metrics::default(),
            })
        });
        let engine = (settings.role != Role::Api).then(|| {
            let providers =
                Providers { local: Some(local_trainer), hosted, judge, augmenter, rate_card };
            let config = EngineConfig {
                worker_id: format!(
                    "{}-{}",
                    std::process::id(),
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ),
                lease: Duration::from_secs(settings.lease_seconds.max(1)),
                eval_concurrency: settings.eval_concurrency.max(1),
                ..EngineConfig::default()
            };
            Engine::new(store.clone(), providers, clock, config)
        });
        Ok(Self { store, engine, router })
    }

    /// The store this server uses.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Serves until `shutdown` completes: requests in flight finish, workers stop at a
    /// safe point and give their leases back.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let api = async {
            match self.router {
                Some(router) => axum::serve(listener, router)
                    .with_graceful_shutdown(stopped(stop_rx.clone()))
                    .await
                    .context("the API server failed"),
                None => Ok(()),
            }
        };
        let workers = async {
            if let Some(engine) = &self.engine {
                engine.run(stopped(stop_rx.clone())).await;
            }
        };
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests and giving leases back");
            let _ = stop_tx.send(true);
        };
        let (api, (), ()) = tokio::join!(api, workers, signal);
        api
    }
}

fn load_rate_card(settings: &Settings) -> anyhow::Result<RateCard> {
    let Some(path) = &settings.rate_card else { return Ok(RateCard::default()) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the rate card {}", path.display()))?;
    RateCard::parse_toml(&text)
        .with_context(|| format!("the rate card {} is invalid", path.display()))
}

fn judge_and_augmenter(
    settings: &Settings,
) -> anyhow::Result<(Arc<dyn Judge>, Arc<dyn Augmenter>)> {
    let Some(base_url) = &settings.llm_base_url else {
        return Ok((Arc::new(SimilarityJudge), Arc::new(OfflineAugmenter)));
    };
    let mut config = OpenAiConfig::new(base_url.clone());
    if let Some(key) = &settings.llm_api_key {
        config = config.with_api_key(key.clone());
    }
    let client: Arc<dyn Inference> = Arc::new(
        OpenAiClient::new(config)
            .with_context(|| format!("TT_LLM_BASE_URL `{base_url}` is not usable"))?,
    );
    Ok((
        Arc::new(LlmJudge::new(client.clone(), settings.judge_model.clone())),
        Arc::new(LlmAugmenter::new(client, settings.augment_model.clone())),
    ))
}

/// Sets up logging to stderr: text or JSON lines, filtered by `TT_LOG`.
pub fn init_telemetry(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Resolves when the process gets Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted_in_messages() {
        assert_eq!(redact_url("postgres://tt:s3cret@db:5432/tt"), "postgres://tt:***@db:5432/tt");
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/tt"),
            "postgres://postgres@127.0.0.1/tt"
        );
        assert_eq!(redact_url("sqlite://./tt-data/tt.db"), "sqlite://./tt-data/tt.db");
    }
}
