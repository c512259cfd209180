//! `tt quickstart`: the offline main job. It starts an embedded server (SQLite and the
//! local trainer in a fresh data directory, the offline judge and augmenter), creates an
//! account and a sample spec, starts a run, streams it live through every stage, and
//! prints the eval summary and the worst examples.
//!
//! Each invocation recreates its data directory from scratch, so a second run behaves
//! exactly like the first; the directory is left behind afterwards for inspection.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tt_client::{Client, RunRequest};
use tt_domain::{Example, HyperparametersInput, SpecDraft};
use tt_server::{Server, Settings};

use crate::cli::QuickstartArgs;
use crate::commands::watch::watch;
use crate::{Ctx, Outcome};

/// The file that marks a directory as ours, so that recreating it never deletes anything
/// a user put there.
const MARKER: &str = ".tt-quickstart";

/// Epochs for the sample run: the built-in tiny model starts from random weights and needs
/// about a dozen passes over 30 rows to reproduce its answers (measured: similarity 1.00 after
/// 12 epochs, against 0.07 after 4).
const QUICKSTART_EPOCHS: u32 = 12;

/// The sample spec: a support-desk triage bot with short, learnable answers.
fn sample_spec() -> SpecDraft {
    let pairs = [
        ("I was charged twice this month.", "Billing: refund the duplicate."),
        ("The app crashes when I open it.", "Bug: ask for the app version."),
        ("How do I reset my password?", "Account: send the reset link."),
        ("Can I export my data to CSV?", "How-to: Settings > Export."),
        ("I want to cancel my plan.", "Billing: offer the cancel page."),
        ("The website is very slow today.", "Outage: check the status page."),
    ];
    SpecDraft {
        name: "Support triage (quickstart)".to_owned(),
        description: "Sorts a customer message into a category and the next step.".to_owned(),
        // Kept short on purpose: the system message is in every training row, and the tiny
        // model learns faster when its rows are mostly the answers it must learn.
        system_prompt: "Triage the message.".to_owned(),
        guidelines: Vec::new(),
        constraints: Vec::new(),
        examples: pairs
            .iter()
            .map(|(input, output)| Example {
                input: (*input).to_owned(),
                output: (*output).to_owned(),
            })
            .collect(),
        base_model: Some(tt_domain::DEFAULT_BASE_MODEL.to_owned()),
    }
}

/// Empties `dir` if it is a previous quickstart's (or does not exist yet); refuses to
/// touch a non-empty directory that is not.
fn recreate(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let ours = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("could not read {}", dir.display()))?
            .next()
            .is_none();
        if !ours && !empty {
            bail!(
                "{} exists and was not made by `tt quickstart`; pass --data-dir with another directory",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("could not clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "made by tt quickstart; deleted and recreated by the next one\n",
    )
    .with_context(|| format!("could not write to {}", dir.display()))?;
    Ok(())
}

pub(crate) async fn run(ctx: &Ctx, args: QuickstartArgs) -> anyhow::Result<Outcome> {
    let data_dir: PathBuf = args.data_dir;
    recreate(&data_dir)?;
    ctx.out.note(format_args!(
        "starting an embedded server in {} (SQLite, local trainer, offline judge)",
        data_dir.display()
    ));

    // The server gets its own multi-threaded runtime on its own thread, as a separate
    // process would, so the watch below never competes with it for this thread.
    let settings = Settings::embedded(data_dir.clone());
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_thread = std::thread::spawn(move || -> anyhow::Result<()> {
        let runtime =
            tokio::runtime::Runtime::new().context("could not start the server runtime")?;
        runtime.block_on(async move {
            let server = Server::build(&settings).await?;
            let listener = tokio::net::TcpListener::bind(&settings.listen)
                .await
                .context("could not listen")?;
            let address = listener.local_addr().context("the listener has no address")?;
            let store = server.store().clone();
            let _ = ready_tx.send((address, store));
            server
                .serve(listener, async {
                    let _ = stop_rx.await;
                })
                .await
        })
    });
    let Ok((address, store)) = ready_rx.await else {
        return match server_thread.join() {
            Ok(Err(err)) => Err(err.context("the embedded server did not start")),
            _ => bail!("the embedded server did not start"),
        };
    };

    let (_, key) =
        tt_server::create_account_with_key(store.as_ref(), "quickstart", true, "quickstart", 0)
            .await?;
    let base_url = format!("http://{address}");
    let client = Client::new(&base_url, key.key.clone())?;

    let spec =
        client.create_spec(&sample_spec()).await.context("could not create the sample spec")?;
    ctx.out.note(format_args!(
        "created spec \"{}\" with {} examples",
        spec.name,
        spec.examples.len()
    ));
    let request = RunRequest {
        augment: Some(true),
        hyperparameters: HyperparametersInput {
            n_epochs: Some(args.epochs.unwrap_or(QUICKSTART_EPOCHS)),
            ..HyperparametersInput::default()
        },
    };
    let run = client.start_run(spec.id, &request).await.context("could not start the run")?;
    ctx.out.note(format_args!("started run #{} ({}); streaming it live", run.run_number, run.id));

    let outcome = watch(ctx, &client, run.id).await;

    let _ = stop_tx.send(());
    match server_thread.join() {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            ctx.out.warn(format_args!("the embedded server stopped with an error: {err:#}"))
        }
        Err(_) => ctx.out.warn("the embedded server thread panicked"),
    }
    ctx.out.note(format_args!(
        "everything is kept in {}; run `tt-server --data-dir {}` to serve it with this key: {}",
        data_dir.display(),
        data_dir.display(),
        key.key
    ));
    outcome
}
