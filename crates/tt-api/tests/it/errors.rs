use axum::http::{Method, StatusCode, header};
use serde_json::json;

use crate::TestApp;

/// Every route that takes a JSON body, with a path whose ids exist for the caller.
async fn body_routes(app: &TestApp, account: &crate::TestAccount) -> Vec<(Method, String)> {
    let spec = app.spec(account, None).await;
    vec![
        (Method::POST, "/api/v1/behavior-specs".to_owned()),
        (Method::PUT, format!("/api/v1/behavior-specs/{spec}")),
        (Method::POST, format!("/api/v1/behavior-specs/{spec}/runs")),
        (Method::POST, format!("/api/v1/behavior-specs/{spec}/runs/estimate")),
        (Method::POST, "/api/v1/datasets".to_owned()),
        (Method::POST, "/api/v1/billing/topup".to_owned()),
        (Method::POST, "/api/v1/api-keys".to_owned()),
        (Method::POST, "/api/v1/playground/completions".to_owned()),
    ]
}

#[tokio::test]
async fn malformed_json_wrong_types_and_foreign_content_types_are_400_on_every_body_route() {
    let app = TestApp::new().await;
    let admin = app.account("ops", true, 0).await;
    for (method, path) in body_routes(&app, &admin).await {
        for body in [&b"{\"name\": "[..], b"{} trailing", b"[1, 2, 3]", b"\"text\"", b"null"] {
            let reply = app
                .send_raw(
                    method.clone(),
                    &path,
                    Some(&admin.key),
                    body.to_vec(),
                    Some("application/json"),
                    &[],
                )
                .await;
            // `null` (like an empty body) means "all defaults" where the whole body is optional.
            if body == b"null"
                && (path.ends_with("/runs")
                    || path.ends_with("/estimate")
                    || path.ends_with("api-keys"))
            {
                assert!(reply.status.is_success(), "{method} {path}: {}", reply.text);
                continue;
            }
            let error = reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
            assert!(error["details"]["field"].is_string(), "{method} {path} {body:?}: {error}");
        }
        let form = app
            .send_raw(
                method.clone(),
                &path,
                Some(&admin.key),
                b"a=1".to_vec(),
                Some("application/x-www-form-urlencoded"),
                &[],
            )
            .await;
        assert_eq!(
            form.assert_error(StatusCode::BAD_REQUEST, "validation_error")["details"]["field"],
            "Content-Type"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_in_the_envelope() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let huge = json!({"name": "big", "content": "x".repeat(tt_api::BODY_LIMIT_BYTES + 1)});
    let reply = app.post("/api/v1/datasets", &alice, huge).await;
    let error = reply.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "validation_error");
    assert_eq!(error["details"]["limit_bytes"], tt_api::BODY_LIMIT_BYTES);
}

#[tokio::test]
async fn bad_paging_is_refused_on_every_list() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let lists = [
        "/api/v1/behavior-specs".to_owned(),
        format!("/api/v1/behavior-specs/{spec}/runs"),
        "/api/v1/runs".to_owned(),
        "/api/v1/datasets".to_owned(),
        "/api/v1/models".to_owned(),
        "/api/v1/billing/transactions".to_owned(),
        "/api/v1/api-keys".to_owned(),
    ];
    let bad = [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=1.5", "per_page"),
        ("page=1&page=2", "query"),
    ];
    for list in &lists {
        for (query, field) in bad {
            let reply = app.get(&format!("{list}?{query}"), &alice).await;
            let error = reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
            assert_eq!(error["details"]["field"], field, "{list}?{query}: {error}");
        }
        let ok = app.get(&format!("{list}?page=3&per_page=100"), &alice).await;
        assert_eq!(ok.json["meta"]["page"], 3, "{list}: {}", ok.text);
        assert_eq!(ok.json["meta"]["per_page"], 100);
        assert_eq!(ok.json["data"], json!([]));
    }
}

#[tokio::test]
async fn malformed_and_unknown_ids_are_not_found_on_every_id_route() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let unknown = "3b241101-e2bb-4255-8caf-4136c566a962";
    for id in ["not-a-uuid", "1234", unknown] {
        let routes = [
            (Method::GET, format!("/api/v1/behavior-specs/{id}")),
            (Method::PUT, format!("/api/v1/behavior-specs/{id}")),
            (Method::DELETE, format!("/api/v1/behavior-specs/{id}")),
            (Method::POST, format!("/api/v1/behavior-specs/{id}/runs")),
            (Method::POST, format!("/api/v1/behavior-specs/{id}/runs/estimate")),
            (Method::GET, format!("/api/v1/behavior-specs/{id}/runs")),
            (Method::GET, format!("/api/v1/runs/{id}")),
            (Method::GET, format!("/api/v1/runs/{id}/events")),
            (Method::POST, format!("/api/v1/runs/{id}/cancel")),
            (Method::GET, format!("/api/v1/datasets/{id}")),
            (Method::GET, format!("/api/v1/datasets/{id}/content")),
            (Method::DELETE, format!("/api/v1/datasets/{id}")),
            (Method::GET, format!("/api/v1/models/{id}")),
            (Method::DELETE, format!("/api/v1/models/{id}")),
            (Method::DELETE, format!("/api/v1/api-keys/{id}")),
        ];
        for (method, path) in routes {
            let body = if method == Method::PUT { Some(json!({"name": "x"})) } else { None };
            let reply = app.call(method.clone(), &path, &alice, body).await;
            reply.assert_error(StatusCode::NOT_FOUND, "not_found");
        }
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    app.get("/api/v1/nothing-here", &alice).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    app.get("/", &alice).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    let reply = app.call(Method::PATCH, "/api/v1/behavior-specs", &alice, None).await;
    reply.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let reply = app.call(Method::DELETE, "/api/v1/runs", &alice, None).await;
    reply.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn health_and_metrics_need_no_key_and_metrics_count_requests_and_runs() {
    let app = TestApp::new().await;
    let health = app.send_raw(Method::GET, "/healthz", None, Vec::new(), None, &[]).await;
    assert_eq!(health.data(StatusCode::OK), &json!({"status": "ok"}));

    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    app.run(&alice, &spec).await;
    app.get("/api/v1/runs/not-a-uuid", &alice).await;
    let metrics = app.send_raw(Method::GET, "/metrics", None, Vec::new(), None, &[]).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    let text = &metrics.text;
    assert!(text.contains("tt_runs_started_total 1\n"), "{text}");
    assert!(
        text.contains(r#"tt_http_requests_total{method="POST",route="/api/v1/behavior-specs/{id}/runs",status="201"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"tt_http_requests_total{method="GET",route="/api/v1/runs/{id}",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"tt_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1"#), "{text}");
}
