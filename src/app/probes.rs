//! The probes the load balancer and the monitoring call: health, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The metrics, with the database pool read at the moment of asking.
async fn metrics(State(state): State<AppState>) -> Response {
    let pool = state.services.database_pool();
    crate::ops::metrics::database_pool(pool.open, pool.idle, pool.size);
    crate::ops::metrics::render().await
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
        tokio::time::timeout(CHECK_TIMEOUT, state.services.ping_database()),
        tokio::time::timeout(CHECK_TIMEOUT, state.services.ping_storage()),
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
