//! `tt-server`: the Tuned Tensor API and run workers, plus `admin` and `migrate` commands.

use anyhow::Context;
use clap::{Parser, Subcommand};
use tt_domain::{AccountId, Clock, format_dollars};
use tt_engine::SystemClock;
use tt_server::{
    Server, Settings, create_account_with_key, init_telemetry, open_store, shutdown_signal,
};

#[derive(Parser)]
#[command(name = "tt-server", version, about = "The Tuned Tensor server: REST API and run workers")]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and run the workers (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts and credits.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Create an account and its first API key.
    CreateAccount {
        /// The account's name.
        #[arg(long)]
        name: String,
        /// Credit to grant at once, in cents.
        #[arg(long, default_value_t = 0)]
        credits: i64,
        /// Make it an admin account (its keys may grant credits).
        #[arg(long)]
        admin: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Grant credit to an account.
    Topup {
        /// The account's id.
        #[arg(long)]
        account: AccountId,
        /// Cents to grant.
        #[arg(long)]
        cents: i64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_telemetry(&cli.settings);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            report(&format!("error: {err:#}"));
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let server = Server::build(&settings).await?;
            let listener =
                tokio::net::TcpListener::bind(&settings.listen).await.with_context(|| {
                    format!(
                        "could not listen on {} (set TT_LISTEN to another address)",
                        settings.listen
                    )
                })?;
            let address = listener.local_addr().context("the listener has no address")?;
            tracing::info!(%address, role = ?settings.role, "tt-server listening");
            server.serve(listener, shutdown_signal()).await
        }
        Command::Migrate => {
            open_store(&settings).await?;
            report("migrations applied");
            Ok(())
        }
        Command::Admin(Admin::CreateAccount { name, credits, admin, json }) => {
            let store = open_store(&settings).await?;
            let (account, key) =
                create_account_with_key(store.as_ref(), &name, admin, "default", credits).await?;
            if json {
                let out = serde_json::json!({
                    "account_id": account.id, "name": account.name, "is_admin": account.is_admin,
                    "api_key": key.key, "credits_cents": credits,
                });
                print_out(&out.to_string());
            } else {
                print_out(&format!(
                    "account {} ({})\napi key {}  (shown once; store it now)\ncredit {}",
                    account.name,
                    account.id,
                    key.key,
                    format_dollars(credits)
                ));
            }
            Ok(())
        }
        Command::Admin(Admin::Topup { account, cents, json }) => {
            anyhow::ensure!(cents > 0, "--cents must be a positive number of cents");
            let store = open_store(&settings).await?;
            let balance = store
                .topup(account, cents, SystemClock.now())
                .await
                .with_context(|| format!("could not top up account {account}"))?;
            if json {
                let out = serde_json::json!({
                    "account_id": account, "balance_cents": balance.balance_cents,
                    "reserved_cents": balance.reserved_cents, "available_cents": balance.available_cents(),
                    "lifetime_topup_cents": balance.lifetime_topup_cents,
                });
                print_out(&out.to_string());
            } else {
                print_out(&format!(
                    "account {account}: balance {}, available {}",
                    format_dollars(balance.balance_cents),
                    format_dollars(balance.available_cents())
                ));
            }
            Ok(())
        }
    }
}

#[expect(clippy::print_stdout, reason = "admin commands print their result")]
fn print_out(text: &str) {
    println!("{text}");
}

#[expect(clippy::print_stderr, reason = "diagnostics go to stderr")]
fn report(text: &str) {
    eprintln!("{text}");
}
