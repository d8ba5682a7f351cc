//! Prometheus metrics: requests by route and status, a latency histogram, requests in
//! flight, orders placed, connections open, refused beyond the cap and closed by the
//! server's timers, and the database pool's connections (what shows a queue building up).

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process-wide recorder, installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the recorder, so that what happens while the app starts (its first database
/// connections) is counted too.
pub fn install() {
    handle();
}

tokio::task_local! {
    /// How many round trips to the database the request being served has made.
    static DATABASE_ROUND_TRIPS: Cell<u64>;
}

/// Counts one round trip to the database for the request being served (none outside one:
/// background jobs are not requests).
pub fn database_round_trip() {
    let _ = DATABASE_ROUND_TRIPS.try_with(|n| n.set(n.get() + 1));
}

pub async fn track(request: Request, next: Next) -> Response {
    handle();
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let _in_flight = InFlight::start();
    let (response, round_trips) = DATABASE_ROUND_TRIPS
        .scope(Cell::new(0), async {
            let response = next.run(request).await;
            (response, DATABASE_ROUND_TRIPS.with(Cell::get))
        })
        .await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    // What each route costs the database: with http_requests_total, round trips per request.
    metrics::counter!("http_database_round_trips_total", &labels[..2]).increment(round_trips);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}

/// Counts a request in flight for as long as it lives, even when its client goes away and
/// the request is dropped unfinished.
struct InFlight;

impl InFlight {
    fn start() -> Self {
        metrics::gauge!("http_requests_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("http_requests_in_flight").decrement(1.0);
    }
}

/// The database pool as it is now: connections open and idle, and its ceiling.
pub fn database_pool(open: u32, idle: usize, size: u32) {
    metrics::gauge!("database_pool_connections", "state" => "open").set(open);
    metrics::gauge!("database_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("database_pool_size").set(size);
}

pub fn order_placed() {
    metrics::counter!("orders_placed_total").increment(1);
}

/// Makes the connection metrics visible from the start, before anything happened to count.
pub fn connections_described() {
    handle();
    metrics::gauge!("http_connections_open").increment(0.0);
    metrics::counter!("http_connections_refused_total").increment(0);
    for reason in ["header_read", "keep_alive"] {
        metrics::counter!("http_connections_timed_out_total", "reason" => reason).increment(0);
    }
    metrics::counter!("http_accept_errors_total").increment(0);
}

pub fn connection_opened() {
    metrics::gauge!("http_connections_open").increment(1.0);
}

pub fn connection_closed() {
    metrics::gauge!("http_connections_open").decrement(1.0);
}

/// A connection beyond MAX_CONNECTIONS, answered 503.
pub fn connection_refused() {
    metrics::counter!("http_connections_refused_total").increment(1);
}

/// A connection closed by the header-read or the keep-alive timer.
pub fn connection_timed_out(reason: &'static str) {
    metrics::counter!("http_connections_timed_out_total", "reason" => reason).increment(1);
}

pub fn accept_failed() {
    metrics::counter!("http_accept_errors_total").increment(1);
}

pub async fn render() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response()
}
