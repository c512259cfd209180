//! The live event stream: SSE parsing, resume with `Last-Event-ID`, and giving up.

use futures::StreamExt;
use serde_json::json;
use tt_client::{ClientError, RunEventMessage};
use tt_domain::{RunLogEvent, RunStatus, Stage};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{RUN_ID, client};

fn sse(events: &[(u64, &str, serde_json::Value)], end: Option<&str>) -> ResponseTemplate {
    let mut body = String::from(": keep-alive\n\n");
    for (id, name, data) in events {
        body.push_str(&format!("id: {id}\nevent: {name}\ndata: {data}\n\n"));
    }
    if let Some(status) = end {
        body.push_str(&format!("event: end\ndata: {}\n\n", json!({"status": status})));
    }
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

fn events_path() -> String {
    format!("/api/v1/runs/{RUN_ID}/events")
}

async fn collect(
    server: &MockServer,
    last_event_id: Option<u64>,
) -> Vec<Result<RunEventMessage, ClientError>> {
    client(server).watch_events(RUN_ID.parse().unwrap(), last_event_id).collect().await
}

#[tokio::test]
async fn events_are_parsed_in_order_and_the_stream_ends_after_end() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(events_path()))
        .and(header("accept", "text/event-stream"))
        .respond_with(sse(
            &[
                (1, "status", json!({"type": "status", "from": "preparing", "to": "training"})),
                (2, "progress", json!({"type": "progress", "stage": "training", "step": 3, "total_steps": 10, "loss": 1.5})),
                (3, "status", json!({"type": "status", "from": "training", "to": "failed", "message": "trainer crashed"})),
            ],
            Some("failed"),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let messages: Vec<RunEventMessage> =
        collect(&server, None).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(messages.len(), 4);
    let RunEventMessage::Event { seq: 2, event: RunLogEvent::Progress { stage, progress } } =
        &messages[1]
    else {
        panic!("expected progress #2, got {:?}", messages[1]);
    };
    assert_eq!((*stage, progress.step, progress.loss), (Stage::Training, Some(3), Some(1.5)));
    assert_eq!(messages[3], RunEventMessage::End { status: RunStatus::Failed });
}

#[tokio::test]
async fn a_dropped_stream_resumes_with_the_last_event_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(events_path()))
        .and(header("last-event-id", "2"))
        .respond_with(sse(
            &[(3, "status", json!({"type": "status", "from": "evaluating", "to": "completed"}))],
            Some("completed"),
        ))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(events_path()))
        .respond_with(sse(
            &[
                (1, "status", json!({"type": "status", "from": "training", "to": "evaluating"})),
                (
                    2,
                    "progress",
                    json!({"type": "progress", "stage": "evaluating", "step": 1, "total_steps": 2}),
                ),
            ],
            None,
        ))
        .with_priority(2)
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;

    let seqs: Vec<Option<u64>> = collect(&server, None)
        .await
        .into_iter()
        .map(|message| match message.unwrap() {
            RunEventMessage::Event { seq, .. } => Some(seq),
            RunEventMessage::End { .. } => None,
        })
        .collect();
    assert_eq!(seqs, [Some(1), Some(2), Some(3), None]);
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("last-event-id").is_none());
}

#[tokio::test]
async fn a_caller_can_resume_from_a_known_event() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(events_path()))
        .and(header("last-event-id", "7"))
        .respond_with(sse(&[], Some("cancelled")))
        .expect(1)
        .mount(&server)
        .await;
    let messages = collect(&server, Some(7)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].as_ref().unwrap(),
        &RunEventMessage::End { status: RunStatus::Cancelled }
    );
}

#[tokio::test]
async fn an_error_answer_ends_the_stream_without_retrying() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(events_path()))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": {"code": "not_found", "message": "run not found"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let messages = collect(&server, None).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].as_ref().unwrap_err().code(), Some("not_found"));
}

#[tokio::test]
async fn a_stream_that_keeps_closing_gives_up_after_the_allowed_reconnects() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(events_path()))
        .respond_with(sse(&[], None))
        .expect(4)
        .mount(&server)
        .await;
    let messages = collect(&server, None).await;
    assert_eq!(messages.len(), 1);
    assert!(matches!(messages[0], Err(ClientError::Connect { .. })), "{:?}", messages[0]);
}
