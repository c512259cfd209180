//! `tt`, the command-line client of Tuned Tensor: specs, runs (with live watch and diff),
//! datasets, models, credits and keys, over the REST API through `tt-client`.
//!
//! This binary holds no HTTP details (those live in `tt-client`) and no domain rules
//! (those live in `tt-domain`); it parses arguments, calls the client and prints.
//! Exit codes: 0 success, 1 the thing asked for ended badly, 2 usage, auth, network or
//! server error. A closed stdout (`tt runs list | head`) counts as success.

mod cli;
mod commands;
mod config;
mod errors;
mod output;
mod quickstart;
mod resolve;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use tt_client::Client;

use crate::cli::{Cli, Command};
use crate::config::{KeySource, ResolvedKey};
use crate::errors::CliError;
use crate::output::Output;

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the run failed, the diff regressed, the file is invalid.
    Failure,
}

/// What every command gets: the printer, the server and the key.
pub(crate) struct Ctx {
    /// The printer.
    pub(crate) out: Output,
    /// The server's base URL.
    pub(crate) base_url: String,
    /// The key given by flag or `TT_API_KEY`, with its source.
    key_arg: Option<(String, KeySource)>,
}

impl Ctx {
    /// The key in use, looked up only by commands that need one, so that `datasets check`
    /// and `auth logout` work even without a home directory or with a damaged file.
    pub(crate) fn key(&self) -> anyhow::Result<Option<ResolvedKey>> {
        config::resolve_key(self.key_arg.clone())
    }

    /// A client of the server, or the "log in first" error when there is no key.
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        let key = self.key()?.ok_or_else(CliError::no_key)?;
        Client::new(&self.base_url, key.key)
            .map_err(|source| CliError::Client { source, resource: None }.into())
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let key_source = match matches.value_source("api_key") {
        Some(ValueSource::EnvVariable) => KeySource::Env("TT_API_KEY"),
        _ => KeySource::Flag,
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let out = Output::new(cli.json);

    let ctx =
        Ctx { out, base_url: cli.base_url, key_arg: cli.api_key.map(|key| (key, key_source)) };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(dispatch(&ctx, cli.command)));
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Err(err) if errors::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&errors::report(&err));
            ExitCode::from(2)
        }
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Auth(command) => commands::auth::run(ctx, command).await,
        Command::Specs(command) => commands::specs::run(ctx, command).await,
        Command::Runs(command) => commands::runs::run(ctx, command).await,
        Command::Datasets(command) => commands::datasets::run(ctx, command).await,
        Command::Models(command) => commands::models::run(ctx, command).await,
        Command::Balance => commands::billing::balance(ctx).await,
        Command::Transactions(page) => commands::billing::transactions(ctx, page).await,
        Command::Topup(args) => commands::billing::topup(ctx, args).await,
        Command::Keys(command) => commands::keys::run(ctx, command).await,
        Command::Quickstart(args) => quickstart::run(ctx, args).await,
    }
}
