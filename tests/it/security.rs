//! Hostile and careless callers against the real `tt-server` binary: keys are stored only
//! as hashes, never logged (even at debug level), a revoked key fails on the very next
//! request, and an oversized body is refused in the error envelope, never with a 5xx.

use std::path::Path;
use std::time::Duration;

use sqlx::{Connection, Row};
use tt_testkit::together::{FakeTogether, FakeTogetherConfig};

use crate::support::{ServerProcess, spec_draft};

const PAIRS: [(&str, &str); 2] =
    [("How do I cancel?", "Settings > Billing."), ("Card?", "Yes, any card.")];

/// The secret part of a key: what follows `tt_` and the 8-character lookup prefix.
fn secret(key: &str) -> &str {
    &key["tt_".len() + 8..]
}

/// Every text value of every column of every table in the SQLite file at `path`.
async fn every_stored_text(path: &Path) -> String {
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.expect("open the SQLite file");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut db)
            .await
            .expect("tables");
    let mut all = String::new();
    for table in tables {
        let columns = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info(\"{table}\")")))
            .fetch_all(&mut db)
            .await
            .expect("columns");
        for column in columns {
            let name: String = column.get("name");
            let bytes: Option<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT CAST(group_concat(CAST(\"{name}\" AS TEXT), char(10)) AS BLOB) FROM \"{table}\""
            )))
            .fetch_one(&mut db)
            .await
            .expect("column values");
            all.push_str(&String::from_utf8_lossy(&bytes.unwrap_or_default()));
            all.push('\n');
        }
    }
    all
}

/// Every byte of every file in `dir` (the database, its WAL, the trainer's files), lossily.
fn every_file_byte(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).expect("data dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.push_str(&every_file_byte(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_stored_hashed_never_logged_and_a_revoked_key_fails_at_once() {
    let together = FakeTogether::start(FakeTogetherConfig::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = tempfile::tempdir().expect("log dir");
    let mut env = ServerProcess::together_env(None, dir.path(), &together);
    env.retain(|(name, _)| name != "TT_LOG");
    env.push(("TT_LOG".to_owned(), "debug".to_owned()));
    let server = ServerProcess::start(env, logs.path()).await;
    let (_, admin_key) = server.create_account("owner", 100_000);
    let owner = server.client(&admin_key);

    // Use the keys: the first, a second made through the API, a third revoked at once.
    let spec = owner.create_spec(&spec_draft("Support", &PAIRS)).await.expect("spec");
    let second = owner.create_key(Some("second")).await.expect("second key");
    let revoked = owner.create_key(Some("revoked")).await.expect("third key");
    server.client(&second.key).get_spec(spec.id).await.expect("the second key works");
    server.client(&revoked.key).balance().await.expect("the third key works before revoking");
    owner.revoke_key(revoked.record.id).await.expect("revoke");
    let err = server.client(&revoked.key).balance().await.expect_err("revoked");
    assert_eq!((err.status(), err.code()), (Some(403), Some("forbidden")), "{err}");
    let err = server.client(&revoked.key).get_spec(spec.id).await.expect_err("revoked");
    assert_eq!(err.status(), Some(403), "{err}");

    // Wrong keys: right prefix with a wrong secret, a malformed key, no key at all.
    let mut forged = admin_key.clone();
    forged.pop();
    forged.push(if admin_key.ends_with('A') { 'B' } else { 'A' });
    for bad in [forged.as_str(), "tt_short", "not-a-key", ""] {
        let err = server.client(bad).balance().await.expect_err("a bad key is refused");
        assert_eq!((err.status(), err.code()), (Some(401), Some("unauthorized")), "{bad}: {err}");
    }

    // Stored only as hashes: no column, and no byte of the data directory, holds a key's
    // secret.
    let stored = every_stored_text(&dir.path().join("tt.db")).await;
    let on_disk = every_file_byte(dir.path());
    let keys = [admin_key.as_str(), second.key.as_str(), revoked.key.as_str(), forged.as_str()];
    for key in keys {
        assert!(!stored.contains(secret(key)), "a key's secret is stored in a column");
        assert!(!on_disk.contains(secret(key)), "a key's secret is in the data directory");
    }
    assert!(stored.contains(&admin_key[3..11]), "the lookup prefix is stored (the scan works)");

    // Never logged, even at debug level, whether the key was good, wrong or revoked.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.logs();
    assert!(log.contains("\"level\":\"DEBUG\""), "the server logged at debug level");
    for key in keys {
        assert!(!log.contains(secret(key)), "a key's secret appears in the server log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused_in_the_envelope_and_never_with_a_5xx() {
    let together = FakeTogether::start(FakeTogetherConfig::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let env = ServerProcess::together_env(None, dir.path(), &together);
    let server = ServerProcess::start(env, dir.path()).await;
    let (_, key) = server.create_account("big", 100_000);
    let http =
        reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("HTTP client");

    let nine_mib = "x".repeat(9 * 1024 * 1024);
    let dataset = serde_json::json!({"name": "big", "content": nine_mib}).to_string();
    let mut spec = serde_json::to_value(spec_draft("Big", &PAIRS)).expect("json");
    spec["system_prompt"] = serde_json::Value::String(nine_mib.clone());
    let spec = spec.to_string();
    let cases = [
        ("/api/v1/datasets", dataset.clone(), "application/json"),
        ("/api/v1/behavior-specs", spec, "application/json"),
        ("/api/v1/api-keys", dataset.clone(), "application/json"),
        ("/api/v1/datasets", nine_mib, "text/plain"),
    ];
    for (path, body, content_type) in cases {
        let sent = http
            .post(format!("{}{path}", server.base_url))
            .bearer_auth(&key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await;
        // The server stops reading at the limit and answers at once; while the client is
        // still writing the rest, that answer can arrive as a closed connection instead.
        // Either way the body is refused: what must never happen is a 2xx or a 5xx.
        let Ok(response) = sent else { continue };
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("a JSON error body");
        assert!(matches!(status, 400 | 413 | 415), "{path} ({content_type}): {status} {body}");
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{path}: not the error envelope: {body}"
        );
    }
    // Nothing oversized was stored.
    let client = server.client(&key);
    let page = tt_client::PageParams::default();
    assert!(client.list_datasets(page).await.expect("datasets").items.is_empty());
    assert!(client.list_specs(page).await.expect("specs").items.is_empty());
    // The server is still healthy and serving after the refused bodies.
    server.client(&key).balance().await.expect("still serving");
}
