use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{TestApp, spec_body};

#[tokio::test]
async fn a_created_spec_comes_back_with_its_id_timestamps_and_the_default_base_model() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let reply = app.post("/api/v1/behavior-specs", &alice, spec_body("Support Bot")).await;
    let spec = reply.data(StatusCode::CREATED);
    assert_eq!(spec["name"], "Support Bot");
    assert_eq!(spec["base_model"], "tt-local/tiny");
    assert_eq!(spec["guidelines"], json!(["Be concise", "Show empathy"]));
    assert_eq!(spec["created_at"], "2026-03-06T10:30:00.000Z");
    let id = spec["id"].as_str().unwrap();
    let fetched = app.get(&format!("/api/v1/behavior-specs/{id}"), &alice).await;
    assert_eq!(fetched.data(StatusCode::OK), spec);
}

#[tokio::test]
async fn the_spec_list_is_paged_and_carries_run_statistics() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let first = app.spec(&alice, None).await;
    app.spec(&alice, None).await;
    app.spec(&alice, None).await;
    app.run(&alice, &first).await;

    let page_one = app.get("/api/v1/behavior-specs?per_page=2", &alice).await;
    assert_eq!(page_one.status, StatusCode::OK);
    assert_eq!(page_one.json["meta"], json!({"page": 1, "per_page": 2, "total": 3}));
    assert_eq!(page_one.json["data"].as_array().unwrap().len(), 2);
    let all = app.get("/api/v1/behavior-specs", &alice).await;
    assert_eq!(all.json["meta"], json!({"page": 1, "per_page": 20, "total": 3}));
    let items = all.json["data"].as_array().unwrap();
    let with_run = items.iter().find(|item| item["id"] == first.as_str()).unwrap();
    assert_eq!(with_run["_run_count"], 1);
    assert_eq!(with_run["_latest_run_status"], "preparing");
    assert!(with_run["_latest_run_score"].is_null());
    let without = items.iter().find(|item| item["id"] != first.as_str()).unwrap();
    assert_eq!(without["_run_count"], 0);
    assert!(without["_latest_run_status"].is_null());
    let page_two = app.get("/api/v1/behavior-specs?page=2&per_page=2", &alice).await;
    assert_eq!(page_two.json["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_partial_update_keeps_absent_fields_and_a_deleted_spec_is_gone() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let id = app.spec(&alice, None).await;
    let path = format!("/api/v1/behavior-specs/{id}");
    app.clock.advance(60_000);
    let updated = app.call(Method::PUT, &path, &alice, Some(json!({"name": "Renamed"}))).await;
    let spec = updated.data(StatusCode::OK);
    assert_eq!(spec["name"], "Renamed");
    assert_eq!(spec["examples"].as_array().unwrap().len(), 2);
    assert_eq!(spec["updated_at"], "2026-03-06T10:31:00.000Z");

    let bad = app.call(Method::PUT, &path, &alice, Some(json!({"examples": []}))).await;
    assert_eq!(
        bad.assert_error(StatusCode::BAD_REQUEST, "validation_error")["details"]["field"],
        "examples"
    );

    let deleted = app.delete(&path, &alice).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.text.is_empty());
    app.get(&path, &alice).await.assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn an_invalid_spec_is_refused_with_every_violation() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let reply =
        app.post("/api/v1/behavior-specs", &alice, json!({"name": "  ", "examples": []})).await;
    let error = reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
    assert_eq!(error["details"]["field"], "name");
    let fields: Vec<&str> = error["details"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "examples"]);
}

#[tokio::test]
async fn wrong_types_and_unknown_fields_in_a_spec_name_the_field() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let mut wrong_type = spec_body("Bot");
    wrong_type["examples"][1]["output"] = json!(42);
    let reply = app.post("/api/v1/behavior-specs", &alice, wrong_type).await;
    assert_eq!(
        reply.assert_error(StatusCode::BAD_REQUEST, "validation_error")["details"]["field"],
        "examples[1].output"
    );

    let mut unknown = spec_body("Bot");
    unknown["temperature"] = json!(0.5);
    let reply = app.post("/api/v1/behavior-specs", &alice, unknown).await;
    let error = reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
    assert!(error["message"].as_str().unwrap().contains("unknown field `temperature`"), "{error}");

    let reply = app.post("/api/v1/behavior-specs", &alice, json!(["not", "an", "object"])).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
}

#[tokio::test]
async fn a_spec_with_an_active_run_cannot_be_deleted() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let id = app.spec(&alice, None).await;
    app.run(&alice, &id).await;
    app.delete(&format!("/api/v1/behavior-specs/{id}"), &alice)
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn another_accounts_spec_is_not_found_by_any_route() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let mallory = app.account("mallory", false, 1000).await;
    let id = app.spec(&alice, None).await;
    let path = format!("/api/v1/behavior-specs/{id}");
    app.get(&path, &mallory).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::PUT, &path, &mallory, Some(json!({"name": "Mine"})))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.delete(&path, &mallory).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    app.get(&format!("{path}/runs"), &mallory)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.post(&format!("{path}/runs"), &mallory, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.post(&format!("{path}/runs/estimate"), &mallory, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let list = app.get("/api/v1/behavior-specs", &mallory).await;
    assert_eq!(list.json["meta"]["total"], 0);
    // The spec is untouched.
    assert_eq!(app.get(&path, &alice).await.data(StatusCode::OK)["name"], "Support Bot");
}
