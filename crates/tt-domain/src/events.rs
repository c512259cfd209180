//! What a run's event log records: status changes and progress steps, as `watch` shows them.

use serde::{Deserialize, Serialize};

use crate::run::RunStatus;

/// The working stages of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Compiling, augmenting, uploading.
    Preparing,
    /// Fine-tuning.
    Training,
    /// Evaluating.
    Evaluating,
}

/// A progress step within a stage; every field beyond the stage is optional because
/// trainers report different things.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressEvent {
    /// Percent complete, 0–100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Current epoch (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// Current step (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// Total steps, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_steps: Option<u64>,
    /// Training loss at this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// A line for humans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One entry of a run's append-only event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunLogEvent {
    /// The run changed status.
    Status {
        /// The status it left (absent for the first event).
        from: Option<RunStatus>,
        /// The status it entered.
        to: RunStatus,
        /// Why, for failures and cancellations.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Progress within a stage.
    Progress {
        /// The stage.
        stage: Stage,
        /// The figures.
        #[serde(flatten)]
        progress: ProgressEvent,
    },
}

impl RunLogEvent {
    /// Whether this event ends the log (a terminal status).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Status { to, .. } if to.is_terminal())
    }

    /// The name of the event, used as the SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::Progress { .. } => "progress",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_tagged_and_round_trip() {
        let event = RunLogEvent::Progress {
            stage: Stage::Training,
            progress: ProgressEvent {
                percent: Some(50.0),
                epoch: Some(2),
                step: Some(10),
                loss: Some(1.25),
                ..Default::default()
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "progress", "stage": "training", "percent": 50.0, "epoch": 2, "step": 10, "loss": 1.25})
        );
        assert_eq!(serde_json::from_value::<RunLogEvent>(json).unwrap(), event);
        let done = RunLogEvent::Status {
            from: Some(RunStatus::Evaluating),
            to: RunStatus::Completed,
            message: None,
        };
        assert!(done.is_terminal());
        assert!(!event.is_terminal());
    }
}
