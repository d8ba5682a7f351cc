//! Operations: health and readiness for load balancers, metrics, logs and draining.

pub mod instance;
pub mod logging;
pub mod metrics;
pub mod shutdown;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::AppState;

/// Where this instance is in its life: its database prepared (migrated) yet, draining yet.
#[derive(Debug, Default)]
pub struct Lifecycle {
    schema_ready: AtomicBool,
    draining: AtomicBool,
}

impl Lifecycle {
    pub fn mark_schema_ready(&self) {
        self.schema_ready.store(true, Ordering::SeqCst);
    }

    pub fn is_schema_ready(&self) -> bool {
        self.schema_ready.load(Ordering::SeqCst)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
}

/// Shallow liveness for the load balancer and the Auto Scaling group: the process serves.
/// It never looks at the database, so a database blip cannot get every instance replaced.
async fn healthz(State(state): State<AppState>) -> Response {
    if state.lifecycle.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else {
        (StatusCode::OK, "ok").into_response()
    }
}

/// Deep readiness: the database and the object store answer quickly, and we are not draining.
async fn readyz(State(state): State<AppState>) -> Response {
    const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
    let (database, storage) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, state.db.ping()),
        tokio::time::timeout(CHECK_TIMEOUT, state.storage.ping()),
    );
    let mut database = describe(database.map(|r| r.map_err(|e| e.to_string())));
    if database == "ok" && !state.lifecycle.is_schema_ready() {
        database = "error: not migrated yet".into();
    }
    let storage = describe(storage.map(|r| r.map_err(|e| e.to_string())));
    let draining = state.lifecycle.is_draining();
    let ready = database == "ok" && storage == "ok" && !draining;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "instance": state.config.instance_id,
        "database": database,
        "storage": storage,
        "draining": draining,
    });
    (status, Json(body)).into_response()
}

fn describe(check: Result<Result<(), String>, tokio::time::error::Elapsed>) -> String {
    match check {
        Ok(Ok(())) => "ok".into(),
        Ok(Err(error)) => format!("error: {error}"),
        Err(_) => "error: no answer within 2 s".into(),
    }
}
