use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::TestApp;

/// The routes of DESIGN.md's interface contract.
const CONTRACT: [(&str, &str); 31] = [
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/behavior-specs"),
    ("get", "/api/v1/behavior-specs"),
    ("get", "/api/v1/behavior-specs/{id}"),
    ("put", "/api/v1/behavior-specs/{id}"),
    ("delete", "/api/v1/behavior-specs/{id}"),
    ("post", "/api/v1/behavior-specs/{id}/runs"),
    ("post", "/api/v1/behavior-specs/{id}/runs/estimate"),
    ("get", "/api/v1/behavior-specs/{id}/runs"),
    ("get", "/api/v1/runs"),
    ("get", "/api/v1/runs/{id}"),
    ("get", "/api/v1/runs/{id}/events"),
    ("post", "/api/v1/runs/{id}/cancel"),
    ("get", "/api/v1/datasets"),
    ("get", "/api/v1/datasets/{id}"),
    ("get", "/api/v1/datasets/{id}/content"),
    ("post", "/api/v1/datasets"),
    ("delete", "/api/v1/datasets/{id}"),
    ("get", "/api/v1/models"),
    ("get", "/api/v1/models/{id}"),
    ("delete", "/api/v1/models/{id}"),
    ("get", "/api/v1/billing/balance"),
    ("get", "/api/v1/billing/transactions"),
    ("post", "/api/v1/billing/topup"),
    ("get", "/api/v1/api-keys"),
    ("post", "/api/v1/api-keys"),
    ("delete", "/api/v1/api-keys/{id}"),
    ("get", "/api/v1/playground/models"),
    ("post", "/api/v1/playground/completions"),
];

fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    out.insert(
                        inner
                            .as_str()
                            .unwrap()
                            .trim_start_matches("#/components/schemas/")
                            .to_owned(),
                    );
                } else {
                    refs(inner, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|inner| refs(inner, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_contracts_routes_and_resolves_every_schema() {
    let app = TestApp::new().await;
    let reply =
        app.send_raw(Method::GET, "/api/v1/openapi.json", None, Vec::new(), None, &[]).await;
    let document = reply.data(StatusCode::OK);
    assert!(document.is_null(), "the document is served bare, not enveloped");
    let document = &reply.json;
    assert_eq!(document["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}"
            );
            let public = ["/healthz", "/metrics", "/api/v1/openapi.json"].contains(&path.as_str());
            assert_eq!(
                operation["security"].as_array().unwrap().is_empty(),
                public,
                "{method} {path}"
            );
        }
    }
    let contract: BTreeSet<_> =
        CONTRACT.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(documented, contract);

    let mut referenced = BTreeSet::new();
    refs(document, &mut referenced);
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in &referenced {
        assert!(schemas.contains_key(name), "schema {name} is referenced but not defined");
    }
    for main in
        ["Error", "BehaviorSpec", "Run", "RunEstimate", "Dataset", "Model", "LedgerEntry", "ApiKey"]
    {
        assert!(referenced.contains(main), "{main} is used by some route");
    }
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = TestApp::new().await;
    for (method, path) in CONTRACT {
        let method: Method = method.to_uppercase().parse().unwrap();
        let path = path.replace("{id}", "3b241101-e2bb-4255-8caf-4136c566a962");
        let reply = app.send_raw(method.clone(), &path, None, Vec::new(), None, &[]).await;
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let unrouted = reply.status == StatusCode::NOT_FOUND
            && reply.json["error"]["message"].as_str().is_some_and(|m| m.starts_with("no route"));
        assert!(!unrouted, "{method} {path} is not routed");
    }
}
