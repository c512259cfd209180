//! The command tree, as clap derive structs. Each group's behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tt_domain::{HyperparametersInput, LearningRate};

use crate::config::DEFAULT_BASE_URL;

/// Tuned Tensor: turn a behaviour spec into a LoRA fine-tuned, evaluated model.
///
/// Exit codes: 0 success; 1 the thing asked for ended badly (a watched run failed or was
/// cancelled, a diff found regressions, a checked file is invalid); 2 usage, auth, network
/// or server error.
#[derive(Debug, Parser)]
#[command(name = "tt", version, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    /// API key (`tt_…`); falls back to TT_API_KEY, TUNED_TENSOR_API_KEY, then `tt auth login`'s file.
    #[arg(short = 'k', long, env = "TT_API_KEY", global = true, hide_env_values = true)]
    pub(crate) api_key: Option<String>,

    /// Server URL.
    #[arg(short = 'u', long, env = "TT_BASE_URL", global = true, default_value = DEFAULT_BASE_URL, hide_env_values = true)]
    pub(crate) base_url: String,

    /// Print one JSON document on stdout instead of tables (errors as `{"error": {…}}`).
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Store, check or forget the API key.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Behaviour specs.
    #[command(subcommand)]
    Specs(SpecsCommand),
    /// Runs: start, watch, inspect, compare.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Training datasets (JSONL).
    #[command(subcommand)]
    Datasets(DatasetsCommand),
    /// Fine-tuned models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Show the credit balance.
    Balance,
    /// Show the credit ledger.
    Transactions(PageArgs),
    /// Grant credit (admin keys only).
    Topup(TopupArgs),
    /// API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The offline main job: an embedded server, a sample spec, a live run, its evals.
    Quickstart(QuickstartArgs),
}

/// `tt quickstart`
#[derive(Debug, clap::Args)]
pub(crate) struct QuickstartArgs {
    /// Where the embedded server keeps its database and models; recreated on every run.
    #[arg(long, default_value = "./tt-quickstart")]
    pub(crate) data_dir: std::path::PathBuf,
    /// Training epochs (default 12: the tiny model learns from scratch).
    #[arg(long)]
    pub(crate) epochs: Option<u32>,
}

/// `tt auth …`
#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Save a key to the credentials file (mode 0600).
    Login {
        /// The key, `tt_…`.
        key: String,
    },
    /// Show which key is in use, where it came from, and whether the server accepts it.
    Status,
    /// Delete the credentials file.
    Logout,
}

/// Paging of list commands.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct PageArgs {
    /// Page number, from 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) page: u32,
    /// Items per page, 1–100.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) per_page: u32,
}

impl From<PageArgs> for tt_client::PageParams {
    fn from(args: PageArgs) -> Self {
        Self { page: args.page, per_page: args.per_page }
    }
}

/// `tt specs …`
#[derive(Debug, Subcommand)]
pub(crate) enum SpecsCommand {
    /// Create a spec from a JSON file.
    Create {
        /// The spec file (`name`, `examples`, and optionally `description`, `system_prompt`,
        /// `guidelines`, `constraints`, `base_model`).
        #[arg(short, long)]
        file: PathBuf,
    },
    /// List specs.
    List(PageArgs),
    /// Show one spec.
    Get {
        /// Spec ID or a prefix of at least 4 characters.
        id: String,
    },
    /// Update a spec from a JSON file; absent fields keep their value.
    Update {
        /// Spec ID or prefix.
        id: String,
        /// The file with the fields to change.
        #[arg(short, long)]
        file: PathBuf,
    },
    /// Delete a spec.
    Delete {
        /// Spec ID or prefix.
        id: String,
    },
}

/// Training settings shared by `runs start` and `runs estimate`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct RunFlags {
    /// Training epochs, 1–20 (default 4).
    #[arg(long)]
    pub(crate) epochs: Option<u32>,
    /// Learning rate: `auto` or a number in (0, 1].
    #[arg(long, value_parser = parse_learning_rate)]
    pub(crate) lr: Option<LearningRate>,
    /// Batch size, 8–256 (default 8).
    #[arg(long)]
    pub(crate) batch_size: Option<u32>,
    /// LoRA rank, 1–256 (default 8).
    #[arg(long)]
    pub(crate) lora_rank: Option<u32>,
    /// LoRA alpha, 1–512 (default 16).
    #[arg(long)]
    pub(crate) lora_alpha: Option<u32>,
    /// Train on the spec's examples only, without augmentation.
    #[arg(long)]
    pub(crate) no_augment: bool,
}

impl RunFlags {
    /// The hyperparameters as given; absent ones take the server's defaults.
    pub(crate) fn hyperparameters(&self) -> HyperparametersInput {
        HyperparametersInput {
            augment: None,
            n_epochs: self.epochs,
            learning_rate: self.lr,
            batch_size: self.batch_size,
            lora_rank: self.lora_rank,
            lora_alpha: self.lora_alpha,
        }
    }
}

fn parse_learning_rate(text: &str) -> Result<LearningRate, String> {
    if text == "auto" {
        return Ok(LearningRate::Auto);
    }
    text.parse::<f64>()
        .map(LearningRate::Fixed)
        .map_err(|_| format!("expected `auto` or a number, got `{text}`"))
}

/// `tt runs …`
#[derive(Debug, Subcommand)]
pub(crate) enum RunsCommand {
    /// Start a run of a spec.
    Start {
        /// Spec ID or prefix.
        spec: String,
        #[command(flatten)]
        flags: RunFlags,
        /// Stream the run until it finishes, then print its summary.
        #[arg(long)]
        watch: bool,
    },
    /// List runs, of all specs or of one.
    List {
        /// Only runs of this spec (ID or prefix).
        #[arg(long)]
        spec: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a run: its eval summary and worst examples.
    Get {
        /// Run ID or prefix.
        id: String,
    },
    /// Stream a run live until it finishes; exit 1 if it failed or was cancelled.
    Watch {
        /// Run ID or prefix.
        id: String,
    },
    /// Cancel a run that has not finished.
    Cancel {
        /// Run ID or prefix.
        id: String,
    },
    /// Show what a run would cost and the credit available, without starting it.
    Estimate {
        /// Spec ID or prefix.
        spec: String,
        #[command(flatten)]
        flags: RunFlags,
    },
    /// Compare two runs example by example; exit 1 if B regressed.
    Diff {
        /// The earlier run (ID or prefix).
        a: String,
        /// The later run (ID or prefix).
        b: String,
    },
}

/// `tt datasets …`
#[derive(Debug, Subcommand)]
pub(crate) enum DatasetsCommand {
    /// List datasets.
    List(PageArgs),
    /// Show one dataset and its problems.
    Get {
        /// Dataset ID or prefix.
        id: String,
    },
    /// Download a dataset's JSONL.
    Download {
        /// Dataset ID or prefix.
        id: String,
        /// Write to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Upload a JSONL file.
    Upload {
        /// The JSONL file.
        file: PathBuf,
        /// Its name (default: the file name).
        #[arg(short, long)]
        name: Option<String>,
        /// What it is.
        #[arg(short, long)]
        description: Option<String>,
    },
    /// Check a JSONL file locally, without a server; exit 1 if any line is bad.
    Check {
        /// The JSONL file.
        file: PathBuf,
    },
    /// Delete a dataset.
    Delete {
        /// Dataset ID or prefix.
        id: String,
    },
}

/// `tt models …`
#[derive(Debug, Subcommand)]
pub(crate) enum ModelsCommand {
    /// List fine-tuned models.
    List(PageArgs),
    /// Show one model.
    Get {
        /// Model ID or prefix.
        id: String,
    },
    /// Delete a model record (not the provider's copy).
    Delete {
        /// Model ID or prefix.
        id: String,
    },
}

/// `tt topup`
#[derive(Debug, Args)]
pub(crate) struct TopupArgs {
    /// Credit to grant, in cents.
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub(crate) cents: i64,
    /// The account to credit (default: the key's own).
    #[arg(long)]
    pub(crate) account: Option<String>,
}

/// `tt keys …`
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// List API keys.
    List(PageArgs),
    /// Create a key; the full key is shown once.
    Create {
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
    },
    /// Revoke a key.
    Revoke {
        /// Key ID or prefix.
        id: String,
    },
}
