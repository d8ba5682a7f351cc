//! Prometheus metrics: requests by route and status, a latency histogram, requests in
//! flight, orders placed, connections open, refused beyond the cap and closed by the
//! server's timers, and the database pool's connections (what shows a queue building up).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How often the histograms' samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// The process-wide recorder, installed on first use.
///
/// The recorder keeps each histogram sample (16 bytes and more) until something folds them
/// into the buckets: a scrape of /metrics, or the upkeep below. Without it, an instance
/// nobody scrapes grows by every request it serves (the bench's 1.3 million page requests
/// took about 30 MB).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
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

/// Runs `answer`, the request's handling, and counts it: requests by method, route and
/// status, round trips to the database and the latency by method and route, and the
/// request in flight while it runs.
pub async fn track<F>(method: &Method, route: Option<&MatchedPath>, answer: F) -> Response
where
    F: Future<Output = Response>,
{
    handle();
    let started = Instant::now();
    let route = route.map_or("unmatched", MatchedPath::as_str);
    let _in_flight = InFlight::start();
    let (response, round_trips) = DATABASE_ROUND_TRIPS
        .scope(Cell::new(0), async {
            let response = answer.await;
            (response, DATABASE_ROUND_TRIPS.with(Cell::get))
        })
        .await;
    let counted = RequestMetrics::of(method, route, response.status());
    counted.requests.increment(1);
    // What each route costs the database: with http_requests_total, round trips per request.
    counted.round_trips.increment(round_trips);
    counted.duration.record(started.elapsed().as_secs_f64());
    response
}

/// The handles of one method, route and status's metrics. Registered once and kept: a
/// lookup in the registry builds the labels and hashes them, which cost more than the
/// rest of a small request.
struct RequestMetrics {
    requests: Counter,
    round_trips: Counter,
    duration: Histogram,
}

/// The handles by route, then by method and status (a route sees a handful of those).
type Kept = HashMap<Box<str>, Vec<(Method, StatusCode, Arc<RequestMetrics>)>>;

impl RequestMetrics {
    fn of(method: &Method, route: &str, status: StatusCode) -> Arc<Self> {
        static KEPT: OnceLock<RwLock<Kept>> = OnceLock::new();
        let kept = KEPT.get_or_init(Default::default);
        let find = |kept: &Kept| {
            kept.get(route).and_then(|seen| {
                seen.iter()
                    .find(|(m, s, _)| m == method && *s == status)
                    .map(|(_, _, metrics)| metrics.clone())
            })
        };
        if let Some(metrics) = find(&kept.read().unwrap_or_else(PoisonError::into_inner)) {
            return metrics;
        }
        let metrics = Arc::new(Self::register(method, route, status));
        // A method the standard does not name is counted but not kept: whoever sends one
        // chooses its name, and the memory kept for it would be theirs to fill.
        if is_standard(method) {
            let mut kept = kept.write().unwrap_or_else(PoisonError::into_inner);
            if find(&kept).is_none() {
                kept.entry(route.into()).or_default().push((
                    method.clone(),
                    status,
                    metrics.clone(),
                ));
            }
        }
        metrics
    }

    fn register(method: &Method, route: &str, status: StatusCode) -> Self {
        let labels = [
            ("method", method.as_str().to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_str().to_owned()),
        ];
        Self {
            requests: metrics::counter!("http_requests_total", &labels),
            round_trips: metrics::counter!("http_database_round_trips_total", &labels[..2]),
            duration: metrics::histogram!("http_request_duration_seconds", &labels[..2]),
        }
    }
}

fn is_standard(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ]
    .contains(method)
}

/// Counts a request in flight for as long as it lives, even when its client goes away and
/// the request is dropped unfinished.
struct InFlight;

impl InFlight {
    fn gauge() -> &'static Gauge {
        static GAUGE: OnceLock<Gauge> = OnceLock::new();
        GAUGE.get_or_init(|| metrics::gauge!("http_requests_in_flight"))
    }

    fn start() -> Self {
        Self::gauge().increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        Self::gauge().decrement(1.0);
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
