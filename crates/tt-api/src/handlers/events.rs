//! `GET /runs/{id}/events`: a run's event log as server-sent events.
//!
//! The handler subscribes to store notices *first*, then replays the log after the
//! client's `Last-Event-ID` (or `?after=`), then follows live events, woken by notices and,
//! because notices can be lost, by a poll tick. Events are deduplicated by sequence number.
//! After the terminal status event it sends `event: end` with `{"status": …}` and closes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, interval_at};
use tt_domain::{AccountId, RunId, RunLogEvent, RunStatus};
use tt_store::{Store, StoreError, StoreNotice, StoredEvent};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller, Id};

/// How often the log is read again when no notice arrives.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often a comment line keeps idle connections (and proxies) alive.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// Events buffered for a slow client before the pump waits.
const BUFFER: usize = 64;

/// `?after=<seq>`, for clients that cannot set `Last-Event-ID`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EventsQuery {
    after: Option<String>,
}

/// The sequence number to resume after: the `Last-Event-ID` header, else `?after=`, else 0.
fn resume_after(headers: &HeaderMap, query: &EventsQuery) -> Result<i64, ApiError> {
    let (field, text) = match headers.get("last-event-id") {
        Some(value) => ("Last-Event-ID", value.to_str().unwrap_or("").to_owned()),
        None => match &query.after {
            Some(after) => ("after", after.clone()),
            None => return Ok(0),
        },
    };
    match text.trim().parse::<i64>() {
        Ok(seq) if seq >= 0 => Ok(seq),
        _ => Err(ApiError::field(
            field,
            format!("{field} must be an event sequence number ≥ 0, got \"{text}\""),
        )),
    }
}

/// `GET /runs/{id}/events`.
pub(crate) async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Id(run_id): Id<RunId>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let after = resume_after(&headers, &query)?;
    // Subscribe before reading anything, so no event can fall between replay and live.
    let notices = state.store.subscribe();
    // A missing or foreign run is a plain 404, before the stream starts.
    state.store.get_run(caller.account_id, run_id).await?;
    let (sender, mut receiver) = mpsc::channel(BUFFER);
    let pump = Pump {
        store: state.store.clone(),
        account: caller.account_id,
        run_id,
        last_seq: after,
        sender,
    };
    tokio::spawn(pump.run(notices));
    let events =
        futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)).map(Ok::<Event, Infallible>);
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE_INTERVAL));
    Ok((
        [
            (CACHE_CONTROL, "no-cache"),
            (axum::http::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        sse,
    ))
}

/// Why the pump stopped early.
enum Stop {
    /// The client went away.
    Disconnected,
    /// The store failed; the stream ends and the client may resume.
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// Moves a run's events from the store to one client.
struct Pump {
    store: Arc<dyn Store>,
    account: AccountId,
    run_id: RunId,
    last_seq: i64,
    sender: mpsc::Sender<Event>,
}

impl Pump {
    async fn run(mut self, notices: broadcast::Receiver<StoreNotice>) {
        match self.follow(notices).await {
            Ok(()) | Err(Stop::Disconnected) => {}
            Err(Stop::Store(err)) => {
                tracing::warn!(run_id = %self.run_id, error.message = %err, "run event stream ended by a store error");
            }
        }
    }

    async fn follow(&mut self, notices: broadcast::Receiver<StoreNotice>) -> Result<(), Stop> {
        let mut notices = Some(notices);
        let mut tick = interval_at(Instant::now() + POLL_INTERVAL, POLL_INTERVAL);
        loop {
            if let Some(status) = self.send_new_events().await? {
                return self.end(status).await;
            }
            let run = self.store.get_run(self.account, self.run_id).await?;
            if run.status().is_terminal() {
                // The terminal event was before the resume point (or landed just now).
                if let Some(status) = self.send_new_events().await? {
                    return self.end(status).await;
                }
                return self.end(run.status()).await;
            }
            self.wait_for_change(&mut notices, &mut tick).await?;
        }
    }

    /// Sends every event after `last_seq`; returns the terminal status if one was sent.
    async fn send_new_events(&mut self) -> Result<Option<RunStatus>, Stop> {
        for stored in self.store.list_events(self.account, self.run_id, self.last_seq).await? {
            if stored.seq <= self.last_seq {
                continue;
            }
            self.last_seq = stored.seq;
            let terminal = match &stored.event {
                RunLogEvent::Status { to, .. } if to.is_terminal() => Some(*to),
                _ => None,
            };
            self.send(to_sse(&stored)).await?;
            if terminal.is_some() {
                return Ok(terminal);
            }
        }
        Ok(None)
    }

    async fn end(&self, status: RunStatus) -> Result<(), Stop> {
        let data = serde_json::json!({ "status": status }).to_string();
        self.send(Event::default().event("end").data(data)).await
    }

    async fn send(&self, event: Event) -> Result<(), Stop> {
        self.sender.send(event).await.map_err(|_| Stop::Disconnected)
    }

    /// Waits for a notice about this run, a lost-notice signal, or the poll tick.
    async fn wait_for_change(
        &self,
        notices: &mut Option<broadcast::Receiver<StoreNotice>>,
        tick: &mut Interval,
    ) -> Result<(), Stop> {
        loop {
            let notice = async {
                match notices.as_mut() {
                    Some(receiver) => receiver.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => return Ok(()),
                () = self.sender.closed() => return Err(Stop::Disconnected),
                received = notice => match received {
                    Ok(StoreNotice::Event { run_id, seq }) if run_id == self.run_id && seq > self.last_seq => return Ok(()),
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return Ok(()),
                    // No more notices: the poll tick alone drives the stream.
                    Err(RecvError::Closed) => *notices = None,
                },
            }
        }
    }
}

/// One stored event as SSE: `id` is its sequence number, `event` its kind.
fn to_sse(stored: &StoredEvent) -> Event {
    let data = serde_json::to_string(&stored.event).expect("run log events always serialise");
    Event::default().id(stored.seq.to_string()).event(stored.event.kind()).data(data)
}
