//! A run's live event stream (`GET /runs/:id/events`, server-sent events), resumed with
//! `Last-Event-ID` whenever the connection drops, until the server's `end` event.

use std::pin::Pin;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tt_domain::{RunId, RunLogEvent, RunStatus};

use crate::{Client, ClientError, RunEventMessage};

type EventSource =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

struct Watch {
    client: Client,
    run_id: RunId,
    last_event_id: Option<u64>,
    source: Option<EventSource>,
    backoff: ExponentialBackoff,
    finished: bool,
}

impl Client {
    /// Streams a run's events: every status change and progress step after
    /// `last_event_id` (from the start when `None`), then [`RunEventMessage::End`].
    ///
    /// When the connection drops or goes silent, the stream reconnects with
    /// `Last-Event-ID` set to the last event seen, so no event is lost or repeated; it backs
    /// off between attempts and yields the error after [`ClientOptions::max_reconnects`]
    /// failures in a row. An error answer such as 404 ends the stream at once.
    ///
    /// [`ClientOptions::max_reconnects`]: crate::ClientOptions::max_reconnects
    pub fn watch_events(
        &self,
        run_id: RunId,
        last_event_id: Option<u64>,
    ) -> impl Stream<Item = Result<RunEventMessage, ClientError>> + Send + 'static {
        let state = Watch {
            client: self.clone(),
            run_id,
            last_event_id,
            source: None,
            backoff: self.reconnect_backoff(),
            finished: false,
        };
        futures::stream::unfold(state, |mut watch| async move {
            if watch.finished {
                return None;
            }
            let item = watch.next_message().await;
            if item.as_ref().is_err() || matches!(item, Ok(RunEventMessage::End { .. })) {
                watch.finished = true;
            }
            Some((item, watch))
        })
    }

    fn reconnect_backoff(&self) -> ExponentialBackoff {
        ExponentialBuilder::default()
            .with_min_delay(self.options.reconnect_min_delay)
            .with_max_delay(self.options.reconnect_max_delay)
            .with_max_times(self.options.max_reconnects)
            .build()
    }

    async fn open_events(
        &self,
        run_id: RunId,
        last_event_id: Option<u64>,
    ) -> Result<EventSource, ClientError> {
        let mut request = self
            .stream_http
            .get(format!("{}/api/v1/runs/{run_id}/events", self.base_url))
            .bearer_auth(&self.api_key)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response =
            request.send().await.map_err(|err| ClientError::transport(&self.base_url, err))?;
        let status = response.status();
        if !status.is_success() {
            let body = response
                .bytes()
                .await
                .map_err(|err| ClientError::transport(&self.base_url, err))?;
            return Err(ClientError::from_response(status.as_u16(), &body));
        }
        Ok(Box::pin(response.bytes_stream().eventsource()))
    }
}

impl Watch {
    /// The next message, reconnecting as often as the backoff allows.
    async fn next_message(&mut self) -> Result<RunEventMessage, ClientError> {
        loop {
            let Some(source) = self.source.as_mut() else {
                match self.client.open_events(self.run_id, self.last_event_id).await {
                    Ok(source) => self.source = Some(source),
                    Err(err) if err.is_transient() => self.wait_before_reconnecting(err).await?,
                    Err(err) => return Err(err),
                }
                continue;
            };
            match source.next().await {
                Some(Ok(event)) => {
                    let Some(message) = self.parse(&event)? else { continue };
                    if let RunEventMessage::Event { seq, .. } = message {
                        self.last_event_id = Some(seq);
                    }
                    self.backoff = self.client.reconnect_backoff();
                    return Ok(message);
                }
                Some(Err(err)) => {
                    self.source = None;
                    let err = ClientError::Connect {
                        base_url: self.client.base_url.clone(),
                        source: Box::new(err),
                    };
                    self.wait_before_reconnecting(err).await?;
                }
                None => {
                    // The server closed the stream before its `end` event: a restart or a
                    // proxy timeout. Resume from the last event seen.
                    self.source = None;
                    let err = ClientError::Connect {
                        base_url: self.client.base_url.clone(),
                        source: "the event stream closed before the run finished".into(),
                    };
                    self.wait_before_reconnecting(err).await?;
                }
            }
        }
    }

    /// Sleeps for the next backoff step, or gives `err` back when the attempts are spent.
    async fn wait_before_reconnecting(&mut self, err: ClientError) -> Result<(), ClientError> {
        match self.backoff.next() {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            None => Err(err),
        }
    }

    /// Decodes one SSE event; `None` for events that are not ours to show.
    fn parse(&self, event: &Event) -> Result<Option<RunEventMessage>, ClientError> {
        #[derive(Deserialize)]
        struct End {
            status: RunStatus,
        }

        let request = format!("GET /runs/{}/events", self.run_id);
        let bad = |reason: String| ClientError::Decode { request: request.clone(), reason };
        match event.event.as_str() {
            "end" => {
                let end: End = serde_json::from_str(&event.data)
                    .map_err(|err| bad(format!("bad `end` event data `{}`: {err}", event.data)))?;
                Ok(Some(RunEventMessage::End { status: end.status }))
            }
            "status" | "progress" => {
                let seq = event
                    .id
                    .parse::<u64>()
                    .map_err(|_| bad(format!("bad event id `{}`", event.id)))?;
                let log_event: RunLogEvent = serde_json::from_str(&event.data)
                    .map_err(|err| bad(format!("bad `{}` event data: {err}", event.event)))?;
                Ok(Some(RunEventMessage::Event { seq, event: log_event }))
            }
            _ => Ok(None),
        }
    }
}
