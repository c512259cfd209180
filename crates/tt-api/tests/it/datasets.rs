use axum::http::{Method, StatusCode, header};
use serde_json::json;

use crate::TestApp;

const GOOD: &str = concat!(
    r#"{"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hello"},{"role":"assistant","content":"Hi!"}]}"#,
    "\n",
    r#"{"messages":[{"role":"user","content":"Bye"},{"role":"assistant","content":"Bye!"}]}"#,
    "\n",
);

#[tokio::test]
async fn a_valid_upload_is_stored_validated_and_its_content_comes_back_as_ndjson() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let reply = app
        .post(
            "/api/v1/datasets",
            &alice,
            json!({"name": "greetings", "description": "hand-made", "content": GOOD}),
        )
        .await;
    let dataset = reply.data(StatusCode::CREATED).clone();
    assert_eq!(dataset["name"], "greetings");
    assert_eq!(dataset["description"], "hand-made");
    assert_eq!(dataset["format"], "jsonl");
    assert_eq!(dataset["status"], "validated");
    assert_eq!(dataset["row_count"], 2);
    assert_eq!(dataset["file_size_bytes"], GOOD.len());
    assert_eq!(dataset["errors"], json!([]));
    let id = dataset["id"].as_str().unwrap();

    assert_eq!(
        app.get(&format!("/api/v1/datasets/{id}"), &alice).await.data(StatusCode::OK),
        &dataset
    );
    let content = app.get(&format!("/api/v1/datasets/{id}/content"), &alice).await;
    assert_eq!(content.status, StatusCode::OK);
    assert_eq!(content.headers[header::CONTENT_TYPE], "application/x-ndjson");
    assert_eq!(content.text, GOOD);

    let list = app.get("/api/v1/datasets", &alice).await;
    assert_eq!(list.json["meta"], json!({"page": 1, "per_page": 20, "total": 1}));
    assert_eq!(list.json["data"][0]["id"], id);

    assert_eq!(
        app.delete(&format!("/api/v1/datasets/{id}"), &alice).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/api/v1/datasets/{id}"), &alice)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn an_invalid_upload_is_stored_invalid_with_every_bad_line() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let content = format!(
        "{GOOD}not json\n{{\"messages\":[{{\"role\":\"assistant\",\"content\":\"Hi\"}}]}}\n"
    );
    let reply =
        app.post("/api/v1/datasets", &alice, json!({"name": "broken", "content": content})).await;
    let dataset = reply.data(StatusCode::CREATED);
    assert_eq!(dataset["status"], "invalid");
    assert_eq!(dataset["row_count"], 4);
    let lines: Vec<u64> =
        dataset["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 4]);
    assert!(dataset["errors"][0]["reason"].as_str().unwrap().contains("not valid JSON"));
}

#[tokio::test]
async fn an_upload_without_a_name_or_content_is_refused() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let cases = [
        (json!({"name": "x"}), "content"),
        (json!({"content": GOOD}), "name"),
        (json!({"name": " ", "content": GOOD}), "name"),
        (json!({"name": "x", "content": 3}), "content"),
        (json!({"name": "x", "content": GOOD, "format": "csv"}), "format"),
    ];
    for (body, field) in cases {
        let reply = app.post("/api/v1/datasets", &alice, body.clone()).await;
        let error = reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
        assert_eq!(error["details"]["field"], field, "{body}: {error}");
    }
}

#[tokio::test]
async fn another_accounts_dataset_is_not_found_by_any_route() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let mallory = app.account("mallory", false, 0).await;
    let reply =
        app.post("/api/v1/datasets", &alice, json!({"name": "greetings", "content": GOOD})).await;
    let id = reply.data(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    for path in [format!("/api/v1/datasets/{id}"), format!("/api/v1/datasets/{id}/content")] {
        app.get(&path, &mallory).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    app.delete(&format!("/api/v1/datasets/{id}"), &mallory)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get("/api/v1/datasets", &mallory).await.json["meta"]["total"], 0);
    assert_eq!(app.get(&format!("/api/v1/datasets/{id}"), &alice).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_multipart_upload_with_a_file_field_is_accepted() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let boundary = "XyZ";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nfrom a form\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"training.jsonl\"\r\n\
         Content-Type: application/jsonl\r\n\r\n{GOOD}\r\n--{boundary}--\r\n"
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let reply = app
        .send_raw(
            Method::POST,
            "/api/v1/datasets",
            Some(&alice.key),
            form.into_bytes(),
            Some(&content_type),
            &[],
        )
        .await;
    let dataset = reply.data(StatusCode::CREATED);
    assert_eq!(dataset["name"], "training.jsonl");
    assert_eq!(dataset["description"], "from a form");
    assert_eq!(dataset["status"], "validated");
    assert_eq!(dataset["row_count"], 2);

    let no_file = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--{boundary}--\r\n"
    );
    let reply = app
        .send_raw(
            Method::POST,
            "/api/v1/datasets",
            Some(&alice.key),
            no_file.into_bytes(),
            Some(&content_type),
            &[],
        )
        .await;
    assert_eq!(
        reply.assert_error(StatusCode::BAD_REQUEST, "validation_error")["details"]["field"],
        "file"
    );
}
