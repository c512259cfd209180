use axum::http::StatusCode;
use serde_json::json;

use crate::TestApp;

#[tokio::test]
async fn a_recorded_model_is_listed_read_and_deleted() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    let id = app.model(&run, "tiny-ft-12345678").await;

    let list = app.get("/api/v1/models", &alice).await;
    assert_eq!(list.json["meta"], json!({"page": 1, "per_page": 20, "total": 1}));
    let model = app.get(&format!("/api/v1/models/{id}"), &alice).await;
    let model = model.data(StatusCode::OK);
    assert_eq!(&list.json["data"][0], model);
    assert_eq!(model["name"], "tiny-ft-12345678");
    assert_eq!(model["provider"], "local");
    assert_eq!(model["base_model"], "tt-local/tiny");
    assert_eq!(model["fine_tune_job_id"], "job-12345678");
    assert_eq!(model["run_id"], run.as_str());
    assert_eq!(model["behavior_spec_id"], spec.as_str());

    assert_eq!(
        app.delete(&format!("/api/v1/models/{id}"), &alice).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/api/v1/models/{id}"), &alice)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn another_accounts_model_is_not_found_by_any_route() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let mallory = app.account("mallory", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    let id = app.model(&run, "tiny-ft-12345678").await;
    app.get(&format!("/api/v1/models/{id}"), &mallory)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.delete(&format!("/api/v1/models/{id}"), &mallory)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get("/api/v1/models", &mallory).await.json["meta"]["total"], 0);
    assert_eq!(app.get(&format!("/api/v1/models/{id}"), &alice).await.status, StatusCode::OK);
}
