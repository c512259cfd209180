//! The crate's error type and its mapping onto the provider layer's [`ProviderError`].

use tt_providers::ProviderError;

/// What can go wrong in the local trainer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Reading or writing the data directory failed.
    #[error("{action} `{path}` failed: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A stored JSON file could not be read.
    #[error("`{path}` is not valid: {source}")]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The model is not one this trainer knows (not `tt-local/…`, not a model directory, not
    /// a `local:` fine-tune).
    #[error("unknown model `{name}`: {reason}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// Why it was not found.
        reason: String,
    },
    /// The model files are present but unusable.
    #[error("unsupported model: {message}")]
    BadModel {
        /// What is wrong.
        message: String,
    },
    /// The tokenizer could not be loaded or failed to encode.
    #[error("tokenizer error: {message}")]
    Tokenizer {
        /// What went wrong.
        message: String,
    },
    /// The training data or request is unusable.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What is wrong.
        message: String,
    },
    /// The job does not exist.
    #[error("no local job `{job_id}`")]
    JobNotFound {
        /// The job id asked for.
        job_id: String,
    },
    /// The requested device is not available in this build.
    #[error("device unavailable: {message}")]
    Device {
        /// Why.
        message: String,
    },
    /// Training was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl LocalError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { action, path: path.to_owned(), source }
    }
}

impl From<LocalError> for ProviderError {
    fn from(err: LocalError) -> Self {
        match err {
            LocalError::UnknownModel { .. } | LocalError::JobNotFound { .. } => {
                Self::NotFound { what: err.to_string() }
            }
            LocalError::InvalidInput { .. }
            | LocalError::BadModel { .. }
            | LocalError::Device { .. } => Self::Rejected { message: err.to_string() },
            LocalError::Cancelled => Self::Cancelled,
            LocalError::Tensor(_)
            | LocalError::Io { .. }
            | LocalError::Json { .. }
            | LocalError::Tokenizer { .. } => {
                Self::Server { status: 500, message: err.to_string() }
            }
        }
    }
}
