//! IDs given on the command line: a full UUID, or an unambiguous prefix of at least 4
//! characters, resolved by listing (the API itself only accepts full UUIDs).

use std::fmt::Display;
use std::future::Future;
use std::str::FromStr;

use tt_client::{Client, ClientError, collect_pages};
use tt_domain::{ApiKeyId, DatasetId, ModelId, RunId, SpecId};

use crate::errors::{CliError, ClientResultExt, Resource};

/// The shortest prefix accepted.
const MIN_PREFIX: usize = 4;
/// Candidates shown when a prefix is ambiguous.
const MAX_CANDIDATES: usize = 10;

/// Resolves a spec ID or prefix.
pub(crate) async fn spec(client: &Client, input: &str) -> Result<SpecId, CliError> {
    resolve(
        input,
        Resource::Spec,
        || collect_pages(|page| client.list_specs(page)),
        |s| s.id,
        |s| s.name.clone(),
    )
    .await
}

/// Resolves a run ID or prefix.
pub(crate) async fn run(client: &Client, input: &str) -> Result<RunId, CliError> {
    resolve(
        input,
        Resource::Run,
        || collect_pages(|page| client.list_runs(page)),
        |r| r.id,
        |r| {
            format!(
                "run #{} of {} ({})",
                r.run_number,
                r.spec_name.as_deref().unwrap_or(&r.spec_snapshot.name),
                r.status
            )
        },
    )
    .await
}

/// Resolves a dataset ID or prefix.
pub(crate) async fn dataset(client: &Client, input: &str) -> Result<DatasetId, CliError> {
    resolve(
        input,
        Resource::Dataset,
        || collect_pages(|page| client.list_datasets(page)),
        |d| d.id,
        |d| d.name.clone(),
    )
    .await
}

/// Resolves a model ID or prefix.
pub(crate) async fn model(client: &Client, input: &str) -> Result<ModelId, CliError> {
    resolve(
        input,
        Resource::Model,
        || collect_pages(|page| client.list_models(page)),
        |m| m.id,
        |m| m.name.clone(),
    )
    .await
}

/// Resolves an API key ID or prefix.
pub(crate) async fn key(client: &Client, input: &str) -> Result<ApiKeyId, CliError> {
    resolve(
        input,
        Resource::Key,
        || collect_pages(|page| client.list_keys(page)),
        |k| k.id,
        |k| k.name.clone(),
    )
    .await
}

async fn resolve<Id, T, Fut>(
    input: &str,
    resource: Resource,
    fetch_all: impl FnOnce() -> Fut,
    id_of: impl Fn(&T) -> Id,
    label: impl Fn(&T) -> String,
) -> Result<Id, CliError>
where
    Id: FromStr + Display + Copy,
    Fut: Future<Output = Result<Vec<T>, ClientError>>,
{
    let input = input.trim();
    if let Ok(id) = Id::from_str(input) {
        return Ok(id);
    }
    if input.chars().count() < MIN_PREFIX {
        return Err(CliError::usage(
            format!("`{input}` is too short to identify a {}", resource.noun()),
            Some(format!(
                "give the full ID or at least {MIN_PREFIX} characters of it; list them with `{}`",
                resource.list_command()
            )),
        ));
    }
    let prefix = input.to_ascii_lowercase();
    let items = fetch_all().await.about(resource)?;
    let matches: Vec<&T> =
        items.iter().filter(|item| id_of(item).to_string().starts_with(&prefix)).collect();
    match matches.as_slice() {
        [] => Err(CliError::not_found(resource, input)),
        [only] => Ok(id_of(only)),
        several => {
            let candidates: Vec<String> = several
                .iter()
                .take(MAX_CANDIDATES)
                .map(|item| format!("{}  {}", id_of(item), label(item)))
                .collect();
            let more = several.len().saturating_sub(MAX_CANDIDATES);
            let tail = if more > 0 { format!("\n  … and {more} more") } else { String::new() };
            Err(CliError::usage(
                format!(
                    "`{input}` matches {} {}s:\n  {}{tail}",
                    several.len(),
                    resource.noun(),
                    candidates.join("\n  ")
                ),
                Some("give more characters of the ID".to_owned()),
            ))
        }
    }
}
