//! Runs and their lifecycle: `preparing → training → evaluating → completed`, with `failed`
//! or `cancelled` reachable from every non-terminal status.
//!
//! [`RunStatus::apply`] is the one place where a status changes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::eval::EvalSummary;
use crate::hyper::Hyperparameters;
use crate::ids::{AccountId, DatasetId, ModelId, RunId, SpecId};
use crate::spec::SpecContent;
use crate::time::Timestamp;

/// Where a run is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Compiling the spec, augmenting examples, uploading to the trainer.
    Preparing,
    /// The fine-tuning job is running.
    Training,
    /// The trained model is being tested against the spec's examples.
    Evaluating,
    /// Eval results are available.
    Completed,
    /// Something went wrong; the run's `error` says what.
    Failed,
    /// Cancelled by the user.
    Cancelled,
}

/// What can happen to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunEvent {
    /// The dataset is compiled and uploaded: training starts.
    Prepared,
    /// The fine-tune job succeeded: evaluation starts.
    Trained,
    /// Every example is evaluated: the run is complete.
    Evaluated,
    /// A permanent failure.
    Fail,
    /// The user cancelled.
    Cancel,
}

/// An event that does not apply to the run's current status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a run that is {from} cannot take the event {event:?}")]
pub struct InvalidTransition {
    /// The status the run was in.
    pub from: RunStatus,
    /// The event refused.
    pub event: RunEvent,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::Preparing,
        Self::Training,
        Self::Evaluating,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The status after `event`, or an error when the event does not apply.
    pub fn apply(self, event: RunEvent) -> Result<Self, InvalidTransition> {
        use RunEvent as E;
        use RunStatus as S;
        match (self, event) {
            (S::Preparing, E::Prepared) => Ok(S::Training),
            (S::Training, E::Trained) => Ok(S::Evaluating),
            (S::Evaluating, E::Evaluated) => Ok(S::Completed),
            (S::Preparing | S::Training | S::Evaluating, E::Fail) => Ok(S::Failed),
            (S::Preparing | S::Training | S::Evaluating, E::Cancel) => Ok(S::Cancelled),
            (from, event) => Err(InvalidTransition { from, event }),
        }
    }

    /// Whether the run is finished for good.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The name used in the API and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preparing => "preparing",
            Self::Training => "training",
            Self::Evaluating => "evaluating",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown run status `{0}`; expected one of preparing, training, evaluating, completed, failed, cancelled"
)]
pub struct UnknownStatus(pub String);

impl FromStr for RunStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// One end-to-end cycle from spec to evaluated model.
///
/// Every field of the seed page's run object is here, plus `error` and the costs.
/// The status is private: it changes only through [`Run::apply`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// The run's id.
    pub id: RunId,
    /// The owning account.
    #[serde(skip)]
    pub account_id: AccountId,
    /// The spec it was started from.
    pub behavior_spec_id: SpecId,
    /// 1, 2, 3… per spec.
    pub run_number: u32,
    status: RunStatus,
    /// The spec frozen at start.
    pub spec_snapshot: SpecContent,
    /// The compiled training dataset, once stored.
    pub dataset_id: Option<DatasetId>,
    /// The trainer's job id, once created.
    pub fine_tune_job_id: Option<String>,
    /// The fine-tuned model, once recorded.
    pub model_id: Option<ModelId>,
    /// Training settings.
    pub hyperparameters: Hyperparameters,
    /// Eval results, once evaluated.
    pub eval_summary: Option<EvalSummary>,
    /// The credit held at start, in cents.
    pub estimated_cost_cents: i64,
    /// The credit debited at completion, in cents.
    pub cost_cents: Option<i64>,
    /// What went wrong, for a failed run.
    pub error: Option<String>,
    /// When the run was started.
    pub started_at: Timestamp,
    /// When it reached a terminal status.
    pub completed_at: Option<Timestamp>,
}

/// Everything needed to create a run in `preparing`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// The run's id.
    pub id: RunId,
    /// The owning account.
    pub account_id: AccountId,
    /// The spec it starts from.
    pub behavior_spec_id: SpecId,
    /// Its number within the spec.
    pub run_number: u32,
    /// The frozen spec.
    pub spec_snapshot: SpecContent,
    /// Training settings.
    pub hyperparameters: Hyperparameters,
    /// The credit held, in cents.
    pub estimated_cost_cents: i64,
    /// The start instant.
    pub started_at: Timestamp,
}

impl Run {
    /// A new run in `preparing`.
    pub fn start(new: NewRun) -> Self {
        Self {
            id: new.id,
            account_id: new.account_id,
            behavior_spec_id: new.behavior_spec_id,
            run_number: new.run_number,
            status: RunStatus::Preparing,
            spec_snapshot: new.spec_snapshot,
            dataset_id: None,
            fine_tune_job_id: None,
            model_id: None,
            hyperparameters: new.hyperparameters,
            eval_summary: None,
            estimated_cost_cents: new.estimated_cost_cents,
            cost_cents: None,
            error: None,
            started_at: new.started_at,
            completed_at: None,
        }
    }

    /// Rebuilds a run read back from storage, with the status it was stored in.
    /// Only storage backends call this; everything else changes status through [`Run::apply`].
    pub fn restore(new: NewRun, status: RunStatus) -> Self {
        Self { status, ..Self::start(new) }
    }

    /// The current status.
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// Applies `event`; a terminal status also stamps `completed_at`.
    pub fn apply(
        &mut self,
        event: RunEvent,
        now: Timestamp,
    ) -> Result<RunStatus, InvalidTransition> {
        self.status = self.status.apply(event)?;
        if self.status.is_terminal() {
            self.completed_at = Some(now);
        }
        Ok(self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_and_event_pair_has_the_expected_outcome() {
        use RunEvent as E;
        use RunStatus as S;
        #[rustfmt::skip]
        let table: [(S, E, Option<S>); 30] = [
            (S::Preparing, E::Prepared, Some(S::Training)),
            (S::Preparing, E::Trained, None),
            (S::Preparing, E::Evaluated, None),
            (S::Preparing, E::Fail, Some(S::Failed)),
            (S::Preparing, E::Cancel, Some(S::Cancelled)),
            (S::Training, E::Prepared, None),
            (S::Training, E::Trained, Some(S::Evaluating)),
            (S::Training, E::Evaluated, None),
            (S::Training, E::Fail, Some(S::Failed)),
            (S::Training, E::Cancel, Some(S::Cancelled)),
            (S::Evaluating, E::Prepared, None),
            (S::Evaluating, E::Trained, None),
            (S::Evaluating, E::Evaluated, Some(S::Completed)),
            (S::Evaluating, E::Fail, Some(S::Failed)),
            (S::Evaluating, E::Cancel, Some(S::Cancelled)),
            (S::Completed, E::Prepared, None),
            (S::Completed, E::Trained, None),
            (S::Completed, E::Evaluated, None),
            (S::Completed, E::Fail, None),
            (S::Completed, E::Cancel, None),
            (S::Failed, E::Prepared, None),
            (S::Failed, E::Trained, None),
            (S::Failed, E::Evaluated, None),
            (S::Failed, E::Fail, None),
            (S::Failed, E::Cancel, None),
            (S::Cancelled, E::Prepared, None),
            (S::Cancelled, E::Trained, None),
            (S::Cancelled, E::Evaluated, None),
            (S::Cancelled, E::Fail, None),
            (S::Cancelled, E::Cancel, None),
        ];
        for (from, event, expected) in table {
            check(from, event, expected);
        }
    }

    fn check(from: RunStatus, event: RunEvent, expected: Option<RunStatus>) {
        match (from.apply(event), expected) {
            (Ok(to), Some(want)) => assert_eq!(to, want, "{from} + {event:?}"),
            (Err(err), None) => assert_eq!(err, InvalidTransition { from, event }),
            (got, want) => panic!("{from} + {event:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert!("running".parse::<RunStatus>().is_err());
    }

    proptest::proptest! {
        #[test]
        fn no_sequence_of_events_leaves_a_terminal_status(events in proptest::collection::vec(0u8..5, 0..20)) {
            let mut status = RunStatus::Preparing;
            let mut terminal_seen: Option<RunStatus> = None;
            for code in events {
                let event = [RunEvent::Prepared, RunEvent::Trained, RunEvent::Evaluated, RunEvent::Fail, RunEvent::Cancel][code as usize];
                if let Ok(next) = status.apply(event) {
                    status = next;
                }
                if let Some(terminal) = terminal_seen {
                    proptest::prop_assert_eq!(status, terminal);
                }
                if status.is_terminal() {
                    terminal_seen = Some(status);
                }
            }
        }
    }
}
