//! Health, readiness, metrics, the instance name and the OpenAPI document.

use crate::common::{TestApp, metric};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn health_is_shallow_and_readiness_checks_database_and_storage() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["storage"], "ok");
    assert_eq!(body["instance"], "test-a1");

    app.state.lifecycle.start_draining();
    assert_eq!(
        client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let draining = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(draining.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(draining.json::<Value>().await.unwrap()["draining"], true);
}

#[tokio::test]
async fn every_response_names_the_instance_and_metrics_count_requests() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for path in ["/", "/api/v1/products", "/static/app.css", "/nope"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["x-served-by"], "test-a1", "{path}");
        assert!(response.headers().contains_key("x-request-id"));
    }
    let metrics = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "http_requests_total{method=\"GET\",route=\"/api/v1/products\",status=\"200\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
}

/// What shows a queue building up: the requests in flight and the database pool's
/// connections, open and idle.
#[tokio::test]
async fn metrics_show_the_requests_in_flight_and_the_database_pool() {
    let app = TestApp::spawn_with(&["--database-pool-size", "3"]).await;
    let client = app.client();
    let shop = client.get(app.url("/shop")).send().await.unwrap();
    assert_eq!(shop.status(), StatusCode::OK);
    assert_eq!(
        metric(&client, &app, "http_requests_in_flight").await,
        1.0,
        "the metrics request itself, nothing else"
    );
    let open = metric(&client, &app, "database_pool_connections{state=\"open\"}").await;
    let idle = metric(&client, &app, "database_pool_connections{state=\"idle\"}").await;
    assert!((1.0..=3.0).contains(&open), "open connections: {open}");
    assert!(idle <= open, "idle {idle} of {open}");
    assert_eq!(
        metric(&client, &app, "database_pool_size").await,
        3.0,
        "the pool's ceiling"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/users",
        "/api/v1/sessions",
        "/api/v1/me",
        "/api/v1/me/photo",
        "/api/v1/products",
        "/api/v1/products/{id}",
        "/api/v1/cart",
        "/api/v1/cart/items",
        "/api/v1/cart/items/{variant_id}",
        "/api/v1/orders",
        "/api/v1/orders/{code}",
        "/api/v1/orders/{code}/cancel",
        "/api/v1/places",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert!(doc["components"]["schemas"]["OrderOut"].is_object());
}

#[tokio::test]
async fn static_files_are_fingerprinted_and_cached() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let home = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css = crate::common::attr_of(
        &crate::common::document(&home),
        "link[rel=stylesheet]",
        "href",
    )
    .unwrap();
    assert!(
        css.starts_with("/static/app.")
            && css.ends_with(".css")
            && css.len() == "/static/app.0123456789ab.css".len(),
        "{css}"
    );
    let response = client
        .get(app.url(&css))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn readiness_names_the_storage_in_use() {
    let app = TestApp::spawn().await;
    let expected = if std::env::var("TEST_S3_ENDPOINT").is_ok_and(|e| !e.is_empty()) {
        "s3://"
    } else {
        "file://"
    };
    assert!(
        app.state.services.describe().1.starts_with(expected),
        "{}",
        app.state.services.describe().1
    );
    let ready = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}
