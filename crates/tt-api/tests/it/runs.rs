use axum::http::{Method, StatusCode};
use serde_json::json;
use tt_api::{TOPUP_URL, TrainerCatalog};
use tt_domain::{EvalResult, ExampleKey, RateCard, format_dollars};

use tt_domain::Clock as _;
use tt_store::Store as _;

use crate::{Options, TestApp};

#[tokio::test]
async fn a_started_run_is_preparing_with_the_seed_defaults() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let reply = app.post(&format!("/api/v1/behavior-specs/{spec}/runs"), &alice, json!({})).await;
    let run = reply.data(StatusCode::CREATED);
    assert_eq!(run["status"], "preparing");
    assert_eq!(run["run_number"], 1);
    assert_eq!(run["behavior_spec_id"], spec.as_str());
    assert_eq!(
        run["hyperparameters"],
        json!({"augment": true, "n_epochs": 4, "learning_rate": "auto", "batch_size": 8, "lora_rank": 8, "lora_alpha": 16})
    );
    assert_eq!(run["spec_snapshot"]["name"], "Support Bot");
    assert!(run["completed_at"].is_null());
    // An empty body takes the defaults too, and numbers the next run.
    let empty =
        app.call(Method::POST, &format!("/api/v1/behavior-specs/{spec}/runs"), &alice, None).await;
    assert_eq!(empty.data(StatusCode::CREATED)["run_number"], 2);
}

#[tokio::test]
async fn the_seed_pages_body_is_accepted_and_top_level_augment_wins() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let body = json!({
        "augment": false,
        "hyperparameters": {"augment": true, "n_epochs": 3, "learning_rate": 0.00002, "batch_size": 16, "lora_rank": 4, "lora_alpha": 8}
    });
    let reply = app.post(&format!("/api/v1/behavior-specs/{spec}/runs"), &alice, body).await;
    let hyper = &reply.data(StatusCode::CREATED)["hyperparameters"];
    assert_eq!(
        hyper,
        &json!({"augment": false, "n_epochs": 3, "learning_rate": 0.00002, "batch_size": 16, "lora_rank": 4, "lora_alpha": 8})
    );
}

#[tokio::test]
async fn bad_hyperparameters_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let path = format!("/api/v1/behavior-specs/{spec}/runs");
    let cases = [
        (json!({"hyperparameters": {"n_epochs": 21}}), "hyperparameters.n_epochs"),
        (json!({"hyperparameters": {"batch_size": 4}}), "hyperparameters.batch_size"),
        (json!({"hyperparameters": {"learning_rate": 0}}), "hyperparameters.learning_rate"),
        (json!({"hyperparameters": {"learning_rate": "fast"}}), "hyperparameters.learning_rate"),
        (json!({"hyperparameters": {"n_epochs": "four"}}), "hyperparameters.n_epochs"),
        (json!({"hyperparameters": {"n_epochs": -1}}), "hyperparameters.n_epochs"),
        (json!({"hyperparameters": {"epochs": 3}}), "hyperparameters.epochs"),
        (json!({"augment": "yes"}), "augment"),
        (json!({"priority": "high"}), "priority"),
    ];
    for (body, field) in cases {
        for route in [path.clone(), format!("{path}/estimate")] {
            let reply = app.post(&route, &alice, body.clone()).await;
            let error = reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
            assert_eq!(error["details"]["field"], field, "{body}: {error}");
        }
    }
    let runs = app.get("/api/v1/runs", &alice).await;
    assert_eq!(runs.json["meta"]["total"], 0, "no refused request started a run");
}

#[tokio::test]
async fn a_hub_model_without_the_together_trainer_is_refused_saying_what_to_configure() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 10_000).await;
    let spec = app.spec(&alice, Some("meta-llama/Llama-3.2-3B-Instruct")).await;
    for route in ["runs", "runs/estimate"] {
        let reply =
            app.post(&format!("/api/v1/behavior-specs/{spec}/{route}"), &alice, json!({})).await;
        let error = reply.assert_error(StatusCode::BAD_REQUEST, "validation_error");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("meta-llama/Llama-3.2-3B-Instruct"), "{message}");
        assert!(
            message.contains("TT_TRAINER=together") && message.contains("TOGETHER_API_KEY"),
            "{message}"
        );
        assert_eq!(error["details"]["field"], "base_model");
    }
}

#[tokio::test]
async fn a_run_beyond_the_available_credit_is_refused_with_the_seed_pages_402() {
    // A price of one cent per token makes the small fixture spec cost dollars.
    let rate_card = RateCard { default_cents_per_mtok: 1_000_000, ..RateCard::default() };
    let options =
        Options { rate_card, trainers: TrainerCatalog::with_together(), ..Options::default() };
    let app = TestApp::with(options).await;
    let alice = app.account("alice", false, 10).await;
    let spec = app.spec(&alice, Some("example/unlisted-model")).await;
    let estimate =
        app.post(&format!("/api/v1/behavior-specs/{spec}/runs/estimate"), &alice, json!({})).await;
    let estimate = estimate.data(StatusCode::OK).clone();
    let required = estimate["estimated_cost_cents"].as_i64().unwrap();
    assert!(required > 10, "the fixture spec must cost more than 10 cents, got {required}");
    assert_eq!(estimate["available_cents"], 10);
    assert_eq!(estimate["sufficient"], false);
    assert_eq!(estimate["base_model"], "example/unlisted-model");
    assert_eq!(estimate["rate_cents_per_mtok"], 1_000_000);
    assert_eq!(estimate["n_epochs"], 4);

    let reply = app.post(&format!("/api/v1/behavior-specs/{spec}/runs"), &alice, json!({})).await;
    assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        reply.json,
        json!({"error": {
            "code": "insufficient_credits",
            "message": format!("This run is estimated at {} but you have $0.10 available.", format_dollars(required)),
            "details": {"required_cents": required, "available_cents": 10, "topup_url": TOPUP_URL},
        }})
    );
    assert_eq!(TOPUP_URL, "/dashboard/billing");

    // With enough credit the same start holds the estimate.
    app.store.topup(alice.id, required, app.clock.now()).await.unwrap();
    let started = app.post(&format!("/api/v1/behavior-specs/{spec}/runs"), &alice, json!({})).await;
    assert_eq!(started.data(StatusCode::CREATED)["estimated_cost_cents"], required);
    let balance = app.get("/api/v1/billing/balance", &alice).await;
    assert_eq!(balance.data(StatusCode::OK)["reserved_cents"], required);
}

#[tokio::test]
async fn an_estimate_starts_nothing() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let reply = app
        .post(
            &format!("/api/v1/behavior-specs/{spec}/runs/estimate"),
            &alice,
            json!({"augment": false}),
        )
        .await;
    let estimate = reply.data(StatusCode::OK);
    assert_eq!(estimate["estimated_cost_cents"], 0, "local training is free by default");
    assert_eq!(estimate["rows"], 2);
    assert_eq!(estimate["sufficient"], true);
    assert!(estimate["training_tokens"].as_u64().unwrap() > 0);
    assert_eq!(app.get("/api/v1/runs", &alice).await.json["meta"]["total"], 0);
}

#[tokio::test]
async fn runs_are_listed_per_spec_and_across_specs_with_the_spec_name() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let first = app.spec(&alice, None).await;
    let second = app.spec(&alice, None).await;
    app.run(&alice, &first).await;
    app.run(&alice, &first).await;
    app.run(&alice, &second).await;

    let per_spec = app.get(&format!("/api/v1/behavior-specs/{first}/runs"), &alice).await;
    assert_eq!(per_spec.json["meta"], json!({"page": 1, "per_page": 20, "total": 2}));
    assert!(
        per_spec.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|run| run["behavior_spec_id"] == first.as_str())
    );

    let all = app.get("/api/v1/runs?per_page=2", &alice).await;
    assert_eq!(all.json["meta"], json!({"page": 1, "per_page": 2, "total": 3}));
    let items = all.json["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|run| run["_spec_name"] == "Support Bot"));
}

#[tokio::test]
async fn a_run_is_read_with_its_evals_worst_first() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    let empty = app.get(&format!("/api/v1/runs/{run}"), &alice).await;
    assert_eq!(empty.data(StatusCode::OK)["_evals"], json!([]));

    let lease = app.claim(&run).await;
    for (input, score) in [("How do I cancel?", 0.9), ("Can I get a refund?", 0.2)] {
        let result = EvalResult {
            example_key: ExampleKey::of_input(input),
            prompt: input.to_owned(),
            expected: "expected".to_owned(),
            actual: "actual".to_owned(),
            score,
            passed: score >= 0.7,
            reasoning: "because".to_owned(),
            latency_ms: 12,
            judge_error: None,
        };
        app.store.save_eval(&lease, result).await.unwrap();
    }
    let reply = app.get(&format!("/api/v1/runs/{run}"), &alice).await;
    let detail = reply.data(StatusCode::OK);
    assert_eq!(detail["id"], run.as_str());
    assert_eq!(detail["status"], "preparing");
    let scores: Vec<f64> =
        detail["_evals"].as_array().unwrap().iter().map(|e| e["score"].as_f64().unwrap()).collect();
    assert_eq!(scores, [0.2, 0.9]);
    assert_eq!(detail["_evals"][0]["passed"], false);
    assert_eq!(detail["_evals"][0]["prompt"], "Can I get a refund?");
}

#[tokio::test]
async fn a_run_can_be_cancelled_once_and_then_conflicts() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    let reply = app.post(&format!("/api/v1/runs/{run}/cancel"), &alice, json!({})).await;
    let cancelled = reply.data(StatusCode::OK);
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["completed_at"].is_string());
    let again = app.post(&format!("/api/v1/runs/{run}/cancel"), &alice, json!({})).await;
    let error = again.assert_error(StatusCode::CONFLICT, "conflict");
    assert!(error["message"].as_str().unwrap().contains("cancelled"), "{error}");
}

#[tokio::test]
async fn another_accounts_run_is_not_found_by_any_route() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let mallory = app.account("mallory", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    app.get(&format!("/api/v1/runs/{run}"), &mallory)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.get(&format!("/api/v1/runs/{run}/events"), &mallory)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.post(&format!("/api/v1/runs/{run}/cancel"), &mallory, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get("/api/v1/runs", &mallory).await.json["meta"]["total"], 0);
    assert_eq!(
        app.get(&format!("/api/v1/runs/{run}"), &alice).await.data(StatusCode::OK)["status"],
        "preparing"
    );
}
