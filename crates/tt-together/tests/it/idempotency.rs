//! Creating a job is safe to repeat: the run's job is found through the jobs list.

use serde_json::json;
use tt_providers::{FineTuner, JobStatus, ProviderError};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{client, fine_tune_request};

fn listed(id: &str, status: &str, suffix: &str) -> serde_json::Value {
    json!({"id": id, "status": status, "suffix": suffix, "created_at": "2026-03-06T10:30:00.000Z"})
}

async fn mount_list(server: &MockServer, jobs: serde_json::Value, times: Option<u64>) {
    let mock = Mock::given(method("GET"))
        .and(path("/v1/fine-tunes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": jobs})));
    match times {
        Some(n) => mock.up_to_n_times(n).mount(server).await,
        None => mock.mount(server).await,
    }
}

async fn mount_create(server: &MockServer, response: ResponseTemplate, calls: u64) {
    Mock::given(method("POST"))
        .and(path("/v1/fine-tunes"))
        .respond_with(response)
        .expect(calls)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_job_already_created_for_the_run_is_returned_instead_of_a_new_one() {
    let server = MockServer::start().await;
    let jobs = json!([
        listed("ft-other", "running", "tt-ffffffffffff"),
        listed("ft-mine", "running", "support-bot-tt-0123abcd4567"),
    ]);
    mount_list(&server, jobs, None).await;
    mount_create(&server, ResponseTemplate::new(200), 0).await;

    let job = client(&format!("{}/v1", server.uri()))
        .create_job(&fine_tune_request("file-9"))
        .await
        .unwrap();

    assert_eq!((job.id.as_str(), job.status), ("ft-mine", JobStatus::Running));
}

#[tokio::test]
async fn a_failed_or_cancelled_job_of_the_run_is_not_reused() {
    let server = MockServer::start().await;
    let jobs = json!([
        listed("ft-failed", "error", "tt-0123abcd4567"),
        listed("ft-cancelled", "cancelled", "tt-0123abcd4567"),
    ]);
    mount_list(&server, jobs, None).await;
    mount_create(
        &server,
        ResponseTemplate::new(200).set_body_json(listed("ft-new", "pending", "tt-0123abcd4567")),
        1,
    )
    .await;

    let job = client(&format!("{}/v1", server.uri()))
        .create_job(&fine_tune_request("file-9"))
        .await
        .unwrap();

    assert_eq!(job.id, "ft-new");
}

#[tokio::test]
async fn after_an_ambiguous_failure_the_job_is_found_rather_than_created_again() {
    let server = MockServer::start().await;
    mount_list(&server, json!([]), Some(1)).await;
    mount_list(&server, json!([listed("ft-made", "pending", "support-bot-tt-0123abcd4567")]), None)
        .await;
    mount_create(&server, ResponseTemplate::new(500).set_body_string("oops"), 1).await;

    let job = client(&format!("{}/v1", server.uri()))
        .create_job(&fine_tune_request("file-9"))
        .await
        .unwrap();

    assert_eq!(job.id, "ft-made");
}

#[tokio::test]
async fn the_create_call_is_tried_at_most_twice() {
    let server = MockServer::start().await;
    mount_list(&server, json!([]), None).await;
    mount_create(&server, ResponseTemplate::new(502).set_body_string("bad gateway"), 2).await;

    let err = client(&format!("{}/v1", server.uri()))
        .create_job(&fine_tune_request("file-9"))
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::Server { status: 502, message: "bad gateway".to_owned() });
}

#[tokio::test]
async fn a_rejected_create_is_not_tried_again() {
    let server = MockServer::start().await;
    mount_list(&server, json!([]), None).await;
    mount_create(
        &server,
        ResponseTemplate::new(400)
            .set_body_json(json!({"error": {"message": "lora_r must be 1-64"}})),
        1,
    )
    .await;

    let err = client(&format!("{}/v1", server.uri()))
        .create_job(&fine_tune_request("file-9"))
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::Rejected { message: "lora_r must be 1-64".to_owned() });
}
