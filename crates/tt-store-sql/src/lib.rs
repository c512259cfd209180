//! The SQLite (embedded default) and PostgreSQL (several servers on one database)
//! implementations of `tt_store::Store`, with their migrations, applied at open.
//!
//! Use [`open`] to choose the backend from a database URL. No sqlx type appears in this
//! crate's public API.
//!
//! This crate must not depend on axum or reqwest.

mod postgres;
mod rows;
mod shared;
mod sqlite;

use std::sync::Arc;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
use tt_store::{Store, StoreError};

/// Opens the store that `url` names, applying migrations: `postgres://` or `postgresql://`
/// selects PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a plain file path selects SQLite.
/// Any other scheme is refused.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::connect(url).await?));
    }
    if !url.starts_with("sqlite:")
        && let Some((scheme, _)) = url.split_once("://")
    {
        return Err(StoreError::Backend(
            format!(
                "unsupported database URL scheme `{scheme}`: use postgres://…, sqlite://PATH or a plain SQLite file path"
            )
            .into(),
        ));
    }
    Ok(Arc::new(SqliteStore::open(url).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let versions = |migrator: &sqlx::migrate::Migrator| {
            migrator.iter().map(|m| m.version).collect::<Vec<_>>()
        };
        let sqlite = versions(&sqlite::MIGRATOR);
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, versions(&postgres::MIGRATOR));
    }

    #[tokio::test]
    async fn an_unknown_url_scheme_is_refused_with_a_clear_message() {
        let err = open("mysql://root@localhost/tt").await.err().expect("mysql is not supported");
        assert!(err.to_string().contains("unsupported database URL scheme `mysql`"), "{err}");
    }

    #[test]
    fn notices_round_trip_through_their_payloads() {
        let run_id = tt_domain::RunId::from_uuid(uuid::Uuid::new_v4());
        for notice in [
            tt_store::StoreNotice::RunReady(run_id),
            tt_store::StoreNotice::Event { run_id, seq: 7 },
        ] {
            assert_eq!(shared::decode_notice(&shared::encode_notice(notice)), Some(notice));
        }
        assert_eq!(shared::decode_notice("ready:not-a-uuid"), None);
        assert_eq!(shared::decode_notice(&format!("event:{run_id}:1:extra")), None);
    }
}
