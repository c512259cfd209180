//! Live view of a run: one line per status change on stderr, progress bars for training
//! (steps and loss) and evaluation (examples), then the run's summary on stdout.

use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tt_client::{Client, RunEventMessage};
use tt_domain::{ProgressEvent, RunId, RunLogEvent, RunStatus, Stage};

use crate::commands::runs::show_run;
use crate::errors::{ClientResultExt, Resource};
use crate::output::{BAD, BOLD, GOOD};
use crate::{Ctx, Outcome};

/// Streams the run until it ends, prints its summary, and says whether it completed.
pub(crate) async fn watch(ctx: &Ctx, client: &Client, run_id: RunId) -> anyhow::Result<Outcome> {
    let mut display = Display::new(ctx);
    let mut events = pin!(client.watch_events(run_id, None));
    while let Some(message) = events.next().await {
        match message.about(Resource::Run)? {
            RunEventMessage::Event { event: RunLogEvent::Status { to, message, .. }, .. } => {
                display.status(to, message)
            }
            RunEventMessage::Event { event: RunLogEvent::Progress { stage, progress }, .. } => {
                display.progress(stage, &progress);
            }
            RunEventMessage::End { .. } => break,
        }
    }
    display.finish();

    let run = client.get_run(run_id).await.about(Resource::Run)?;
    if ctx.out.is_json() {
        ctx.out.json(&run)?;
    } else {
        show_run(ctx, &run)?;
    }
    if run.status == RunStatus::Completed {
        return Ok(Outcome::Success);
    }
    let why = run.error.as_deref().unwrap_or("no reason given");
    ctx.out.note(format_args!("{BAD}run #{} {}:{BAD:#} {why}", run.run_number, run.status));
    Ok(Outcome::Failure)
}

struct Display<'a> {
    ctx: &'a Ctx,
    bar: Option<(Stage, ProgressBar)>,
    last_message: Option<String>,
}

impl<'a> Display<'a> {
    fn new(ctx: &'a Ctx) -> Self {
        Self { ctx, bar: None, last_message: None }
    }

    /// One line per status change; a stage's bar ends with its stage.
    fn status(&mut self, to: RunStatus, message: Option<String>) {
        self.finish();
        let status = match to {
            RunStatus::Completed => format!("{GOOD}{to}{GOOD:#}"),
            RunStatus::Failed | RunStatus::Cancelled => format!("{BAD}{to}{BAD:#}"),
            other => format!("{BOLD}{other}{BOLD:#}"),
        };
        match message {
            Some(message) => self.ctx.out.note(format_args!("→ {status}: {message}")),
            None => self.ctx.out.note(format_args!("→ {status}")),
        }
    }

    fn progress(&mut self, stage: Stage, progress: &ProgressEvent) {
        let counted = progress.total_steps.zip(progress.step);
        if stage == Stage::Preparing || (counted.is_none() && progress.percent.is_none()) {
            // Preparing reports steps in words (compiling, augmenting, uploading).
            if let Some(message) = &progress.message
                && self.last_message.as_ref() != Some(message)
            {
                self.line(format_args!("  {message}"));
                self.last_message = Some(message.clone());
            }
            return;
        }
        let bar = self.bar_for(stage);
        match counted {
            Some((total, step)) => {
                bar.set_length(total);
                bar.set_position(step.min(total));
            }
            None => {
                bar.set_length(100);
                bar.set_position(progress.percent.map_or(0, |p| p.clamp(0.0, 100.0) as u64));
            }
        }
        let mut detail = Vec::new();
        if let Some(epoch) = progress.epoch {
            detail.push(format!("epoch {epoch}"));
        }
        if let Some(loss) = progress.loss {
            detail.push(format!("loss {loss:.4}"));
        }
        if let Some(message) = &progress.message {
            detail.push(message.clone());
        }
        bar.set_message(detail.join("  "));
    }

    fn bar_for(&mut self, stage: Stage) -> &ProgressBar {
        if self.bar.as_ref().is_none_or(|(current, _)| *current != stage) {
            self.finish();
            let (prefix, unit) = match stage {
                Stage::Training => ("training", "steps"),
                Stage::Evaluating => ("evaluating", "examples"),
                Stage::Preparing => ("preparing", "steps"),
            };
            let style = ProgressStyle::with_template(&format!(
                "{{prefix:>10}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{msg}}"
            ))
            .expect("the progress template is valid")
            .progress_chars("=> ");
            // With --json, or when stderr is not a terminal, bars would only be noise;
            // indicatif hides itself on a non-terminal already, and hidden here for --json.
            let target = if self.ctx.out.is_json() {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            };
            let bar = ProgressBar::with_draw_target(Some(0), target).with_prefix(prefix);
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some((stage, bar));
        }
        &self.bar.as_ref().expect("a bar was just set").1
    }

    /// Prints a line above the bar, if there is one.
    fn line(&self, text: impl std::fmt::Display) {
        match &self.bar {
            Some((_, bar)) => bar.suspend(|| self.ctx.out.note(&text)),
            None => self.ctx.out.note(text),
        }
    }

    fn finish(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
