//! Hand-written Prometheus metrics: requests by route, method and status, their latency, and
//! runs started. No global recorder is installed, so any number of routers can live in one
//! process (tests build many).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Latency histogram bucket bounds in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    /// Observations at or below each bound of [`BUCKETS`].
    buckets: [u64; BUCKETS.len()],
}

#[derive(Debug, Default)]
struct Registry {
    /// Keyed by (method, route, status).
    requests: BTreeMap<(String, String, u16), Series>,
    runs_started: u64,
}

/// A handle on this router's metrics; clones share the same counters.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        // A panic while holding the lock leaves plain counters behind: still usable.
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut registry)
    }

    /// Counts one request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.with(|registry| {
            let series =
                registry.requests.entry((method.to_owned(), route.to_owned(), status)).or_default();
            series.count += 1;
            series.sum_seconds += seconds;
            for (bound, bucket) in BUCKETS.iter().zip(series.buckets.iter_mut()) {
                if seconds <= *bound {
                    *bucket += 1;
                }
            }
        });
    }

    /// Counts one run started.
    pub fn run_started(&self) {
        self.with(|registry| registry.runs_started += 1);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.with(|registry| {
            let mut out = String::new();
            out.push_str("# HELP tt_http_requests_total HTTP requests by method, route and status.\n");
            out.push_str("# TYPE tt_http_requests_total counter\n");
            for ((method, route, status), series) in &registry.requests {
                let _ = writeln!(
                    out,
                    "tt_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                    series.count
                );
            }
            out.push_str("# HELP tt_http_request_duration_seconds HTTP request latency.\n");
            out.push_str("# TYPE tt_http_request_duration_seconds histogram\n");
            for ((method, route, status), series) in &registry.requests {
                let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
                for (bound, bucket) in BUCKETS.iter().zip(series.buckets) {
                    let _ = writeln!(out, "tt_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {bucket}");
                }
                let _ =
                    writeln!(out, "tt_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", series.count);
                let _ = writeln!(out, "tt_http_request_duration_seconds_sum{{{labels}}} {}", series.sum_seconds);
                let _ = writeln!(out, "tt_http_request_duration_seconds_count{{{labels}}} {}", series.count);
            }
            out.push_str("# HELP tt_runs_started_total Runs started through the API.\n");
            out.push_str("# TYPE tt_runs_started_total counter\n");
            let _ = writeln!(out, "tt_runs_started_total {}", registry.runs_started);
            out
        })
    }
}

/// Middleware: runs the request inside a span named by its route and records it.
/// Unmatched paths are counted under one label, so probing cannot grow the series.
pub(crate) async fn track(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!("request", http.method = %method, http.route = %route, http.status = tracing::field::Empty);
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.status", status);
    metrics.observe_request(&method, &route, status, started.elapsed().as_secs_f64());
    response
}
