//! Where the API key comes from: the flag, the environment, or the credentials file that
//! `tt auth login` writes. This is the only module that reads environment variables itself.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The server the CLI talks to when neither `-u` nor `TT_BASE_URL` says otherwise.
pub(crate) const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

/// The second environment variable accepted for the key, after `TT_API_KEY` (which clap reads).
const LEGACY_KEY_ENV: &str = "TUNED_TENSOR_API_KEY";

/// Where the key in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `-k/--api-key`.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// The credentials file.
    File(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("the --api-key flag"),
            Self::Env(name) => write!(f, "the {name} environment variable"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The key in use and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedKey {
    /// The key.
    pub(crate) key: String,
    /// Its source.
    pub(crate) source: KeySource,
}

#[derive(Serialize, Deserialize)]
struct Credentials {
    api_key: String,
}

/// `$XDG_CONFIG_HOME/tt/credentials.toml`, or `~/.config/tt/credentials.toml`.
pub(crate) fn credentials_path() -> anyhow::Result<PathBuf> {
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        // The XDG spec says a relative value is invalid and must be ignored.
        .filter(|path| path.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .context("cannot find the config directory: set XDG_CONFIG_HOME or HOME")?;
    Ok(config_home.join("tt").join("credentials.toml"))
}

/// Picks the key: the flag (or `TT_API_KEY`, which clap reads into the same argument),
/// then `TUNED_TENSOR_API_KEY`, then the credentials file.
pub(crate) fn resolve_key(
    from_clap: Option<(String, KeySource)>,
) -> anyhow::Result<Option<ResolvedKey>> {
    if let Some((key, source)) = from_clap.filter(|(key, _)| !key.is_empty()) {
        return Ok(Some(ResolvedKey { key, source }));
    }
    if let Some(key) = std::env::var(LEGACY_KEY_ENV).ok().filter(|key| !key.is_empty()) {
        return Ok(Some(ResolvedKey { key, source: KeySource::Env(LEGACY_KEY_ENV) }));
    }
    let path = credentials_path()?;
    Ok(read_credentials(&path)?.map(|key| ResolvedKey { key, source: KeySource::File(path) }))
}

fn read_credentials(path: &Path) -> anyhow::Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let credentials: Credentials = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid credentials file; run `tt auth login <key>` again",
            path.display()
        )
    })?;
    Ok(Some(credentials.api_key))
}

/// Writes the key to `path` so that no other user can read it, even for a moment, and so
/// that a crash mid-write cannot leave a truncated file behind.
pub(crate) fn write_credentials(path: &Path, key: &str) -> anyhow::Result<()> {
    let dir = path.parent().context("the credentials path has no parent directory")?;
    create_private_dir(dir)?;
    let text = toml::to_string(&Credentials { api_key: key.to_owned() })
        .context("cannot encode the credentials")?;
    // A named temp file is created with mode 0600 from the start; renaming it over the old
    // file is atomic, so readers see either the old key or the new one.
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    file.write_all(text.as_bytes()).context("cannot write the credentials")?;
    file.as_file().sync_all().context("cannot flush the credentials")?;
    file.persist(path).with_context(|| format!("cannot save {}", path.display()))?;
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    // The directory may predate us with looser permissions; tighten it so the file's name
    // and its temp siblings are not listable by others.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Deletes the credentials file; `false` when there was none.
pub(crate) fn delete_credentials(path: &Path) -> anyhow::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err).with_context(|| format!("cannot delete {}", path.display())),
    }
}

/// Whether an environment variable would supply a key even after logout.
pub(crate) fn key_env_still_set() -> Option<&'static str> {
    ["TT_API_KEY", LEGACY_KEY_ENV]
        .into_iter()
        .find(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_deleting_twice_reports_absence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tt").join("credentials.toml");
        write_credentials(&path, "tt_key\"with quote").unwrap();
        assert_eq!(read_credentials(&path).unwrap().as_deref(), Some("tt_key\"with quote"));
        write_credentials(&path, "tt_second").unwrap();
        assert_eq!(read_credentials(&path).unwrap().as_deref(), Some("tt_second"));
        assert!(delete_credentials(&path).unwrap());
        assert!(!delete_credentials(&path).unwrap());
        assert_eq!(read_credentials(&path).unwrap(), None);
    }
}
