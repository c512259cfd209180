use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use futures::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{TestAccount, TestApp};

/// One parsed server-sent event.
#[derive(Debug, PartialEq)]
struct SseEvent {
    id: Option<String>,
    event: String,
    data: Value,
}

/// Parses an SSE body, skipping comment-only blocks (keep-alives).
fn parse(body: &str) -> Vec<SseEvent> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut event = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("id: ").or_else(|| line.strip_prefix("id:"))
                {
                    id = Some(value.to_owned());
                } else if let Some(value) =
                    line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:"))
                {
                    event = Some(value.to_owned());
                } else if let Some(value) =
                    line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:"))
                {
                    data = Some(serde_json::from_str(value).unwrap());
                }
            }
            Some(SseEvent { id, event: event?, data: data? })
        })
        .collect()
}

async fn events(
    app: &TestApp,
    account: &TestAccount,
    path: &str,
    last_event_id: Option<&str>,
) -> Vec<SseEvent> {
    let extra: Vec<(&str, &str)> =
        last_event_id.map(|id| ("last-event-id", id)).into_iter().collect();
    let reply = app.send_raw(Method::GET, path, Some(&account.key), Vec::new(), None, &extra).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "text/event-stream");
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-cache");
    parse(&reply.text)
}

async fn finished_run(app: &TestApp) -> (TestAccount, String) {
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    app.cancel_in_store(&alice, &run).await;
    (alice, run)
}

#[tokio::test]
async fn a_finished_runs_events_are_replayed_then_the_stream_ends() {
    let app = TestApp::new().await;
    let (alice, run) = finished_run(&app).await;
    let got = events(&app, &alice, &format!("/api/v1/runs/{run}/events"), None).await;
    assert_eq!(
        got,
        vec![
            SseEvent {
                id: Some("1".into()),
                event: "status".into(),
                data: json!({"type": "status", "from": null, "to": "preparing"})
            },
            SseEvent { id: Some("2".into()), event: "status".into(), data: got[1].data.clone() },
            SseEvent { id: None, event: "end".into(), data: json!({"status": "cancelled"}) },
        ]
    );
    assert_eq!(got[1].data["type"], "status");
    assert_eq!(got[1].data["from"], "preparing");
    assert_eq!(got[1].data["to"], "cancelled");
}

#[tokio::test]
async fn the_stream_resumes_after_last_event_id_or_the_after_parameter() {
    let app = TestApp::new().await;
    let (alice, run) = finished_run(&app).await;
    let path = format!("/api/v1/runs/{run}/events");
    let resumed = events(&app, &alice, &path, Some("1")).await;
    let ids: Vec<_> = resumed.iter().map(|e| (e.id.clone(), e.event.clone())).collect();
    assert_eq!(ids, [(Some("2".into()), "status".into()), (None, "end".into())]);

    let by_query = events(&app, &alice, &format!("{path}?after=1"), None).await;
    assert_eq!(by_query, resumed);

    // Resuming after the terminal event still says how the run ended.
    let after_end = events(&app, &alice, &path, Some("2")).await;
    assert_eq!(
        after_end,
        vec![SseEvent { id: None, event: "end".into(), data: json!({"status": "cancelled"}) }]
    );
}

#[tokio::test]
async fn live_events_stream_until_the_run_ends() {
    let app = TestApp::new().await;
    let alice = app.account("alice", false, 0).await;
    let spec = app.spec(&alice, None).await;
    let run = app.run(&alice, &spec).await;
    let request = Request::get(format!("/api/v1/runs/{run}/events"))
        .header(header::AUTHORIZATION, format!("Bearer {}", alice.key))
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();

    // The replayed first event arrives while the run is still going.
    let first =
        tokio::time::timeout(Duration::from_secs(10), body.next()).await.unwrap().unwrap().unwrap();
    let first = String::from_utf8(first.to_vec()).unwrap();
    assert_eq!(parse(&first)[0].id.as_deref(), Some("1"), "{first}");

    app.cancel_in_store(&alice, &run).await;
    let mut rest = String::new();
    let collect = async {
        while let Some(chunk) = body.next().await {
            rest.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(10), collect)
        .await
        .expect("the stream closes after the terminal event");
    let got = parse(&rest);
    let kinds: Vec<_> = got.iter().map(|e| (e.id.clone(), e.event.clone())).collect();
    assert_eq!(kinds, [(Some("2".into()), "status".into()), (None, "end".into())]);
}

#[tokio::test]
async fn a_malformed_resume_point_is_refused() {
    let app = TestApp::new().await;
    let (alice, run) = finished_run(&app).await;
    let path = format!("/api/v1/runs/{run}/events");
    let reply = app
        .send_raw(
            Method::GET,
            &path,
            Some(&alice.key),
            Vec::new(),
            None,
            &[("last-event-id", "abc")],
        )
        .await;
    assert_eq!(
        reply.assert_error(StatusCode::BAD_REQUEST, "validation_error")["details"]["field"],
        "Last-Event-ID"
    );
    let reply = app.get(&format!("{path}?after=-4"), &alice).await;
    assert_eq!(
        reply.assert_error(StatusCode::BAD_REQUEST, "validation_error")["details"]["field"],
        "after"
    );
}
