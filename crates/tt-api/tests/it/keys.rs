use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{TestAccount, TestApp, UNKNOWN_KEY};

#[tokio::test]
async fn a_new_key_is_shown_once_and_works_at_once() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let reply = app.post("/api/v1/api-keys", &alice, json!({"name": "laptop"})).await;
    let created = reply.data(StatusCode::CREATED).clone();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tt_") && key.len() == 43, "{key}");
    assert_eq!(created["prefix"], &key[3..11]);
    assert_eq!(created["name"], "laptop");
    assert!(created["revoked_at"].is_null());

    let with_new_key = TestAccount { id: alice.id, key: key.clone() };
    assert_eq!(app.get("/api/v1/billing/balance", &with_new_key).await.status, StatusCode::OK);

    let list = app.get("/api/v1/api-keys", &alice).await;
    assert_eq!(list.json["meta"]["total"], 2);
    for record in list.json["data"].as_array().unwrap() {
        assert!(record.get("key").is_none(), "listing never shows a key: {record}");
        assert!(!list.text.contains(&key));
    }
    let unnamed = app.call(Method::POST, "/api/v1/api-keys", &alice, None).await;
    assert_eq!(unnamed.data(StatusCode::CREATED)["name"], "API key");
}

#[tokio::test]
async fn a_revoked_key_is_refused_with_403() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let created = app.post("/api/v1/api-keys", &alice, json!({"name": "ci"})).await;
    let created = created.data(StatusCode::CREATED).clone();
    let revoked =
        app.delete(&format!("/api/v1/api-keys/{}", created["id"].as_str().unwrap()), &alice).await;
    assert!(revoked.data(StatusCode::OK)["revoked_at"].is_string());
    let old = TestAccount { id: alice.id, key: created["key"].as_str().unwrap().to_owned() };
    let reply = app.get("/api/v1/billing/balance", &old).await;
    reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(app.get("/api/v1/billing/balance", &alice).await.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_malformed_and_unknown_keys_are_unauthorized() {
    let app = TestApp::new().await;
    let no_key =
        app.send_raw(Method::GET, "/api/v1/behavior-specs", None, Vec::new(), None, &[]).await;
    no_key.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    for header in
        ["Bearer nope", "Basic dXNlcjpwYXNz", "Bearer", "tt_only", &format!("Bearer {UNKNOWN_KEY}")]
    {
        let reply = app
            .send_raw(
                Method::GET,
                "/api/v1/behavior-specs",
                None,
                Vec::new(),
                None,
                &[("authorization", header)],
            )
            .await;
        reply.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn a_bad_key_name_is_refused_and_another_accounts_key_cannot_be_revoked() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let mallory = app.account("mallory", false, 0).await;
    for body in [
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({"name": 7}),
        json!({"label": "x"}),
    ] {
        app.post("/api/v1/api-keys", &alice, body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "validation_error");
    }
    let list = app.get("/api/v1/api-keys", &alice).await;
    let id = list.json["data"][0]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/api/v1/api-keys/{id}"), &mallory)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get("/api/v1/api-keys", &mallory).await.json["meta"]["total"], 1);
    assert_eq!(app.get("/api/v1/billing/balance", &alice).await.status, StatusCode::OK);
}
