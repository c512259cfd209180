//! Errors as the user sees them: a message with its causes, and the next command to run.

use std::fmt;

use tt_client::ClientError;

use crate::output::ErrorReport;

/// The kind of thing a command was working on, so that a 404 can name the right list command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    /// A behaviour spec.
    Spec,
    /// A run.
    Run,
    /// A dataset.
    Dataset,
    /// A fine-tuned model.
    Model,
    /// An API key.
    Key,
    /// A credit top-up.
    Topup,
}

impl Resource {
    /// The noun, for messages.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::Spec => "spec",
            Self::Run => "run",
            Self::Dataset => "dataset",
            Self::Model => "model",
            Self::Key => "API key",
            Self::Topup => "top-up",
        }
    }

    /// The command that lists things of this kind.
    pub(crate) fn list_command(self) -> &'static str {
        match self {
            Self::Spec => "tt specs list",
            Self::Run => "tt runs list",
            Self::Dataset => "tt datasets list",
            Self::Model => "tt models list",
            Self::Key => "tt keys list",
            Self::Topup => "tt transactions",
        }
    }
}

/// A failure the CLI explains itself.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The API or the network failed while working on `resource`.
    #[error("{source}")]
    Client {
        /// The client's error.
        source: ClientError,
        /// What was being worked on.
        resource: Option<Resource>,
    },
    /// The user asked for something that cannot be done as asked.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do instead.
        hint: Option<String>,
        /// A machine-readable code.
        code: &'static str,
    },
}

impl CliError {
    /// A usage error with a hint.
    pub(crate) fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        Self::Usage { message: message.into(), hint: hint.into(), code: "usage_error" }
    }

    /// A "no such thing" error that names the list command.
    pub(crate) fn not_found(resource: Resource, what: impl fmt::Display) -> Self {
        Self::Usage {
            message: format!("no {} matches `{what}`", resource.noun()),
            hint: Some(format!("list them with `{}`", resource.list_command())),
            code: "not_found",
        }
    }

    /// The missing-key error.
    pub(crate) fn no_key() -> Self {
        Self::Usage {
            message: "no API key given".to_owned(),
            hint: Some(LOGIN_HINT.to_owned()),
            code: "unauthorized",
        }
    }
}

const LOGIN_HINT: &str = "run `tt auth login <key>` or set TT_API_KEY";

/// Attaches the resource a client call was about, for better hints.
pub(crate) trait ClientResultExt<T> {
    /// Wraps the error as a [`CliError::Client`] about `resource`.
    fn about(self, resource: Resource) -> Result<T, CliError>;
}

impl<T> ClientResultExt<T> for Result<T, ClientError> {
    fn about(self, resource: Resource) -> Result<T, CliError> {
        self.map_err(|source| CliError::Client { source, resource: Some(resource) })
    }
}

/// Builds the report shown for any error that ends a command.
pub(crate) fn report(err: &anyhow::Error) -> ErrorReport {
    let message = format!("{err:#}");
    if let Some(cli) = err.downcast_ref::<CliError>() {
        return match cli {
            CliError::Client { source, resource } => client_report(source, *resource, message),
            CliError::Usage { hint, code, .. } => {
                ErrorReport { code: (*code).to_owned(), message, details: None, hint: hint.clone() }
            }
        };
    }
    if let Some(source) = err.downcast_ref::<ClientError>() {
        return client_report(source, None, message);
    }
    ErrorReport { code: "error".to_owned(), message, details: None, hint: None }
}

fn client_report(err: &ClientError, resource: Option<Resource>, message: String) -> ErrorReport {
    match err {
        ClientError::Api { status, code, message: api_message, details } => {
            let hint = api_hint(err, *status, resource);
            // The 402 details are folded into the hint; others (validation fields) are shown.
            let details = if *status == 402 { None } else { details.clone() };
            ErrorReport { code: code.clone(), message: api_message.clone(), details, hint }
        }
        ClientError::Connect { base_url, .. } => ErrorReport {
            code: "connection_error".to_owned(),
            message,
            details: None,
            hint: Some(format!(
                "is the server running? start it with `tt-server`, or point --base-url / TT_BASE_URL at one (tried {base_url})"
            )),
        },
        ClientError::Timeout { .. } => ErrorReport {
            code: "timeout".to_owned(),
            message,
            details: None,
            hint: Some("try again; if it persists, check the server's logs".to_owned()),
        },
        ClientError::Decode { .. } => ErrorReport {
            code: "decode_error".to_owned(),
            message,
            details: None,
            hint: Some(
                "the server may run a different version of Tuned Tensor than this `tt`".to_owned(),
            ),
        },
        _ => ErrorReport { code: "error".to_owned(), message, details: None, hint: None },
    }
}

fn api_hint(err: &ClientError, status: u16, resource: Option<Resource>) -> Option<String> {
    match (status, resource) {
        (401, _) => Some(LOGIN_HINT.to_owned()),
        (402, _) => {
            let needed = err.insufficient_credits().map_or(100, |(required, available)| (required - available).max(1));
            Some(format!(
                "ask an operator for credit: `tt topup --cents {needed}` with an admin key, or `tt-server admin topup --account ID --cents {needed}` on the server; see the balance with `tt balance`"
            ))
        }
        (403, Some(Resource::Topup)) => Some(
            "top-ups need an admin key; an operator can run `tt-server admin topup --account ID --cents N`".to_owned(),
        ),
        (403, _) => Some("this key was revoked; log in with another: `tt auth login <key>`".to_owned()),
        (404, Some(resource)) => Some(format!("list them with `{}`", resource.list_command())),
        (409, Some(Resource::Run)) => Some("the run has already finished; see it with `tt runs get ID`".to_owned()),
        (500.., _) => Some("the server failed; check its logs (`TT_LOG=debug tt-server`)".to_owned()),
        _ => None,
    }
}

/// Whether the error is a closed stdout (`tt runs list | head`), which counts as success.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
