//! Request shapes and envelope decoding.

use serde_json::json;
use tt_client::{NewDataset, PageParams, RunRequest, collect_pages};
use tt_domain::{HyperparametersInput, LearningRate, RunStatus, SpecDraft};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{KEY, RUN_ID, SPEC_ID, client, run_json};

#[tokio::test]
async fn starting_a_run_posts_the_seed_body_with_the_bearer_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/behavior-specs/{SPEC_ID}/runs")))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_json(json!({
            "augment": false,
            "hyperparameters": {"augment": null, "n_epochs": 2, "learning_rate": 0.00002, "batch_size": null, "lora_rank": null, "lora_alpha": null}
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": run_json("preparing")})))
        .expect(1)
        .mount(&server)
        .await;

    let request = RunRequest {
        augment: Some(false),
        hyperparameters: HyperparametersInput {
            n_epochs: Some(2),
            learning_rate: Some(LearningRate::Fixed(0.00002)),
            ..Default::default()
        },
    };
    let run = client(&server).start_run(SPEC_ID.parse().unwrap(), &request).await.unwrap();
    assert_eq!(run.status, RunStatus::Preparing);
    assert_eq!(run.id.to_string(), RUN_ID);
    assert_eq!(run.hyperparameters.n_epochs(), 4);
}

#[tokio::test]
async fn lists_send_paging_and_decode_meta_and_extras() {
    let server = MockServer::start().await;
    let mut item = run_json("completed");
    item["_spec_name"] = json!("Support bot");
    Mock::given(method("GET"))
        .and(path("/api/v1/runs"))
        .and(query_param("page", "2"))
        .and(query_param("per_page", "5"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"data": [item], "meta": {"page": 2, "per_page": 5, "total": 6}}),
            ),
        )
        .mount(&server)
        .await;

    let page = client(&server).list_runs(PageParams { page: 2, per_page: 5 }).await.unwrap();
    assert_eq!(page.meta.total, 6);
    assert!(!page.meta.has_more());
    assert_eq!(page.items[0].spec_name.as_deref(), Some("Support bot"));
}

#[tokio::test]
async fn collect_pages_follows_meta_until_the_total_is_reached() {
    let server = MockServer::start().await;
    for page in 1..=2 {
        let data: Vec<_> =
            (0..if page == 1 { 100 } else { 1 }).map(|_| run_json("completed")).collect();
        Mock::given(method("GET"))
            .and(path("/api/v1/runs"))
            .and(query_param("page", page.to_string().as_str()))
            .and(query_param("per_page", "100"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"data": data, "meta": {"page": page, "per_page": 100, "total": 101}}),
            ))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = client(&server);
    let all = collect_pages(|page| client.list_runs(page)).await.unwrap();
    assert_eq!(all.len(), 101);
}

#[tokio::test]
async fn a_run_with_evals_decodes_them_worst_first_as_sent() {
    let server = MockServer::start().await;
    let mut run = run_json("completed");
    run["eval_summary"] = json!({"total": 2, "avg_score": 0.6, "pass_rate": 0.5, "exact_match_rate": 0.5, "avg_latency_ms": 120.0,
        "scoring_method": "similarity", "regressions": 1, "improvements": 0, "judge_errors": 0});
    run["_evals"] = json!([
        {"example_key": "ex_1", "prompt": "a", "expected": "b", "actual": "c", "score": 0.2, "passed": false, "reasoning": "off", "latency_ms": 100, "judge_error": null},
        {"example_key": "ex_2", "prompt": "d", "expected": "e", "actual": "e", "score": 1.0, "passed": true, "reasoning": "same", "latency_ms": 140, "judge_error": null}
    ]);
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/runs/{RUN_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": run})))
        .mount(&server)
        .await;

    let run = client(&server).get_run(RUN_ID.parse().unwrap()).await.unwrap();
    assert_eq!(run.evals.len(), 2);
    assert_eq!(run.evals[0].score, 0.2);
    assert_eq!(run.eval_summary.unwrap().regressions, 1);
}

#[tokio::test]
async fn creating_a_spec_and_uploading_a_dataset_send_json_bodies() {
    let server = MockServer::start().await;
    let spec = json!({"id": SPEC_ID, "name": "Bot", "description": "", "system_prompt": "", "guidelines": [], "constraints": [],
        "examples": [{"input": "Hi", "output": "Hello."}], "base_model": "tt-local/tiny",
        "created_at": "2026-03-06T10:30:00.000Z", "updated_at": "2026-03-06T10:30:00.000Z"});
    Mock::given(method("POST"))
        .and(path("/api/v1/behavior-specs"))
        .and(body_json(json!({"name": "Bot", "description": "", "system_prompt": "", "guidelines": [], "constraints": [],
            "examples": [{"input": "Hi", "output": "Hello."}], "base_model": null})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": spec})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/datasets"))
        .and(body_json(json!({"name": "train", "content": "{}\n"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {
            "id": "dc66546b-48b3-4490-8baf-9b50aa78130c", "name": "train", "description": "", "format": "jsonl",
            "status": "invalid", "row_count": 1, "file_size_bytes": 3, "errors": [{"line": 1, "reason": "bad"}],
            "run_id": null, "created_at": "2026-03-06T10:44:30.000Z"}})))
        .expect(1)
        .mount(&server)
        .await;

    let client = client(&server);
    let draft = SpecDraft {
        name: "Bot".into(),
        examples: vec![tt_domain::Example { input: "Hi".into(), output: "Hello.".into() }],
        ..SpecDraft::default()
    };
    assert_eq!(client.create_spec(&draft).await.unwrap().name, "Bot");
    let dataset = client
        .upload_dataset(&NewDataset {
            name: "train".into(),
            description: None,
            content: "{}\n".into(),
        })
        .await
        .unwrap();
    assert_eq!(dataset.errors[0].line, 1);
}

#[tokio::test]
async fn dataset_content_is_returned_as_raw_text() {
    let server = MockServer::start().await;
    let id = "dc66546b-48b3-4490-8baf-9b50aa78130c";
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/datasets/{id}/content")))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("{\"messages\":[]}\n", "application/x-ndjson"),
        )
        .mount(&server)
        .await;
    let text = client(&server).dataset_content(id.parse().unwrap()).await.unwrap();
    assert_eq!(text, "{\"messages\":[]}\n");
}

#[tokio::test]
async fn deletes_and_cancels_accept_an_empty_answer() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("/api/v1/behavior-specs/{SPEC_ID}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/runs/{RUN_ID}/cancel")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": run_json("cancelled")})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    client.delete_spec(SPEC_ID.parse().unwrap()).await.unwrap();
    client.cancel_run(RUN_ID.parse().unwrap()).await.unwrap();
}

#[tokio::test]
async fn billing_keys_and_playground_send_and_decode_their_records() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/billing/balance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "balance_cents": 500, "reserved_cents": 42, "available_cents": 458, "lifetime_topup_cents": 500}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/billing/topup"))
        .and(body_json(json!({"amount_cents": 500, "account_id": "11111111-2222-4333-8444-555555555555"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "balance_cents": 1000, "reserved_cents": 0, "available_cents": 1000, "lifetime_topup_cents": 1000}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/api-keys"))
        .and(body_json(json!({"name": "ci"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {
            "id": "11111111-2222-4333-8444-555555555555", "name": "ci", "prefix": "ABCDEFGH",
            "created_at": "2026-03-06T10:30:00.000Z", "last_used_at": null, "revoked_at": null, "key": KEY}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/playground/completions"))
        .and(body_json(json!({"model": "tt-local/tiny", "prompt": "Hi"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "content": "Hello.", "latency_ms": 12, "model": "tt-local/tiny"}})))
        .mount(&server)
        .await;

    let client = client(&server);
    assert_eq!(client.balance().await.unwrap().available_cents, 458);
    let topup = tt_client::Topup {
        amount_cents: 500,
        account_id: Some("11111111-2222-4333-8444-555555555555".parse().unwrap()),
    };
    assert_eq!(client.topup(&topup).await.unwrap().lifetime_topup_cents, 1000);
    let created = client.create_key(Some("ci")).await.unwrap();
    assert_eq!((created.key.as_str(), created.record.prefix.as_str()), (KEY, "ABCDEFGH"));
    let request = tt_client::CompletionRequest {
        model: "tt-local/tiny".into(),
        prompt: Some("Hi".into()),
        ..Default::default()
    };
    assert_eq!(client.completion(&request).await.unwrap().content, "Hello.");
}
