use axum::http::StatusCode;
use serde_json::json;

use tt_domain::Clock as _;
use tt_store::Store as _;

use crate::TestApp;

#[tokio::test]
async fn the_balance_has_all_four_figures() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 500).await;
    let reply = app.get("/api/v1/billing/balance", &alice).await;
    assert_eq!(
        reply.data(StatusCode::OK),
        &json!({"balance_cents": 500, "reserved_cents": 0, "available_cents": 500, "lifetime_topup_cents": 500})
    );
}

#[tokio::test]
async fn transactions_are_paged_ledger_entries() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 100).await;
    app.store.topup(alice.id, 250, app.clock.now()).await.unwrap();
    let reply = app.get("/api/v1/billing/transactions?per_page=1", &alice).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["meta"], json!({"page": 1, "per_page": 1, "total": 2}));
    let entry = &reply.json["data"][0];
    let mut keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["amount_cents", "balance_after_cents", "created_at", "id", "kind", "reference_id"]
    );
    assert_eq!(entry["kind"], "topup");
    let all = app.get("/api/v1/billing/transactions", &alice).await;
    let mut after: Vec<i64> = all.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["balance_after_cents"].as_i64().unwrap())
        .collect();
    after.sort_unstable();
    assert_eq!(after, [100, 350]);
}

#[tokio::test]
async fn an_admin_key_grants_credit_to_itself_or_another_account() {
    let app = TestApp::new().await;
    let admin = app.account("ops", true, 0).await;
    let alice = app.account("alice", false, 0).await;
    let own = app.post("/api/v1/billing/topup", &admin, json!({"amount_cents": 700})).await;
    assert_eq!(own.data(StatusCode::OK)["balance_cents"], 700);
    let other = app
        .post("/api/v1/billing/topup", &admin, json!({"amount_cents": 300, "account_id": alice.id}))
        .await;
    assert_eq!(
        other.data(StatusCode::OK),
        &json!({"balance_cents": 300, "reserved_cents": 0, "available_cents": 300, "lifetime_topup_cents": 300})
    );
    assert_eq!(
        app.get("/api/v1/billing/balance", &alice).await.data(StatusCode::OK)["balance_cents"],
        300
    );
}

#[tokio::test]
async fn a_non_admin_top_up_is_forbidden_and_names_the_admin_command() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let reply = app.post("/api/v1/billing/topup", &alice, json!({"amount_cents": 1000})).await;
    let error = reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(error["message"].as_str().unwrap().contains("tt-server admin topup"), "{error}");
    assert_eq!(
        app.get("/api/v1/billing/balance", &alice).await.data(StatusCode::OK)["balance_cents"],
        0
    );
}

#[tokio::test]
async fn a_bad_top_up_is_refused_naming_the_field() {
    let app = TestApp::new().await;
    let admin = app.account("ops", true, 0).await;
    let cases = [
        (json!({"amount_cents": 0}), "amount_cents"),
        (json!({"amount_cents": -5}), "amount_cents"),
        (json!({"amount_cents": 100_000_001}), "amount_cents"),
        (json!({"amount_cents": "ten"}), "amount_cents"),
        (json!({}), "amount_cents"),
        (json!({"amount_cents": 5, "account_id": "not-a-uuid"}), "account_id"),
        (json!({"amount_cents": 5, "currency": "usd"}), "currency"),
    ];
    for (body, field) in cases {
        let reply = app.post("/api/v1/billing/topup", &admin, body.clone()).await;
        let error = reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
        assert_eq!(error["details"]["field"], field, "{body}: {error}");
    }
    let unknown = app
        .post(
            "/api/v1/billing/topup",
            &admin,
            json!({"amount_cents": 5, "account_id": "00000000-0000-4000-8000-000000000000"}),
        )
        .await;
    unknown.assert_error(StatusCode::NOT_FOUND, "not_found");
}
