//! `tt runs watch` and `tt runs start --watch`: stage lines, summary, exit codes.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{RUN_A, SPEC_ID, Tt, code, eval_json, run_json, stderr, stdout};

fn sse(events: &[Value], end: &str) -> ResponseTemplate {
    let mut body = String::new();
    for (i, data) in events.iter().enumerate() {
        body.push_str(&format!(
            "id: {}\nevent: {}\ndata: {data}\n\n",
            i + 1,
            data["type"].as_str().unwrap()
        ));
    }
    body.push_str(&format!("event: end\ndata: {}\n\n", json!({"status": end})));
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

async fn server_with_run(final_run: Value, events: &[Value]) -> MockServer {
    let server = MockServer::start().await;
    let status = final_run["status"].as_str().unwrap().to_owned();
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/runs/{RUN_A}/events")))
        .respond_with(sse(events, &status))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/runs/{RUN_A}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": final_run})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/behavior-specs/{SPEC_ID}/runs")))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"data": run_json(RUN_A, "preparing")})),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_failed_run_prints_its_stages_and_error_and_exits_1() {
    let mut failed = run_json(RUN_A, "failed");
    failed["error"] = json!("trainer crashed at step 3");
    let server = server_with_run(
        failed,
        &[
            json!({"type": "progress", "stage": "preparing", "message": "augmenting examples"}),
            json!({"type": "status", "from": "preparing", "to": "training"}),
            json!({"type": "progress", "stage": "training", "epoch": 1, "step": 3, "total_steps": 10, "loss": 1.25}),
            json!({"type": "status", "from": "training", "to": "failed", "message": "trainer crashed at step 3"}),
        ],
    )
    .await;

    let out = Tt::new().run(&server, &["runs", "watch", RUN_A]).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let progress = stderr(&out);
    assert!(progress.contains("augmenting examples"), "{progress}");
    assert!(progress.contains("→ training"), "{progress}");
    assert!(progress.contains("→ failed: trainer crashed at step 3"), "{progress}");
    assert!(
        stdout(&out).contains("trainer crashed at step 3"),
        "the summary shows the error: {}",
        stdout(&out)
    );
}

#[tokio::test]
async fn start_with_watch_follows_a_completed_run_to_its_summary_and_exits_0() {
    let mut completed = run_json(RUN_A, "completed");
    completed["eval_summary"] = json!({"total": 1, "avg_score": 0.91, "pass_rate": 1.0, "exact_match_rate": 0.0,
        "avg_latency_ms": 120.0, "scoring_method": "similarity", "regressions": 0, "improvements": 1, "judge_errors": 0});
    completed["_evals"] = json!([eval_json("ex_1", "How do I cancel?", 0.91)]);
    let server = server_with_run(
        completed,
        &[
            json!({"type": "status", "from": "preparing", "to": "training"}),
            json!({"type": "status", "from": "training", "to": "evaluating"}),
            json!({"type": "progress", "stage": "evaluating", "step": 1, "total_steps": 1}),
            json!({"type": "status", "from": "evaluating", "to": "completed"}),
        ],
    )
    .await;
    let tt = Tt::new();

    let out = tt.run(&server, &["runs", "start", SPEC_ID, "--watch"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("→ evaluating"));
    assert!(stderr(&out).contains("→ completed"));
    let summary = stdout(&out);
    assert!(summary.contains("0.91") && summary.contains("100.0%"), "{summary}");
    assert!(summary.contains("How do I cancel?"), "{summary}");

    let json_out = tt.run(&server, &["--json", "runs", "watch", RUN_A]).await;
    assert_eq!(code(&json_out), 0);
    let value: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert_eq!(value["status"], "completed");
}
