//! Health, readiness, metrics, the instance name and the OpenAPI document.

use crate::common::{TestApp, metric, metrics_text};
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

/// The headers of every answer, whatever made it: a page, the API, a static file, the
/// probes, a page that does not exist, a refused cross-site form and a malformed request.
#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let mut answers = Vec::new();
    for path in [
        "/",
        "/shop/coffee-radar-mug",
        "/api/v1/products/1",
        "/static/app.css",
        "/healthz",
        "/metrics",
        "/nope",
        "/api/v1/nope",
    ] {
        answers.push((
            path.to_owned(),
            client.get(app.url(path)).send().await.unwrap(),
        ));
    }
    let cross_site = client
        .post(app.url("/cart/items"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("variant_id", "1"), ("quantity", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    answers.push(("cross-site form".to_owned(), cross_site));
    for (what, answer) in &answers {
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-served-by"), "test-a1", "{what}");
        assert!(!header("x-app-version").is_empty(), "{what}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
        assert_eq!(header("referrer-policy"), "same-origin", "{what}");
        let policy = header("content-security-policy");
        assert!(policy.contains("default-src 'self'"), "{what}: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{what}: {policy}");
        assert_eq!(header("x-request-id").len(), 32, "{what}");
        assert!(
            header("x-request-id")
                .bytes()
                .all(|b| b.is_ascii_hexdigit()),
            "{what}"
        );
        let caching = header("cache-control");
        if what.starts_with("/static/") {
            assert!(caching.contains("max-age"), "{what}: {caching}");
        } else {
            assert_eq!(caching, "no-store", "{what}");
        }
        assert!(
            answer.headers().get("strict-transport-security").is_none(),
            "{what}: plain HTTP"
        );
    }
}

/// Each route is counted under its own labels: requests by method, route and status;
/// round trips to the database and latency by method and route.
#[tokio::test]
async fn metrics_count_each_route_under_its_labels() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let shopper = app.signed_in("counted").await;
    for _ in 0..3 {
        shopper.get(app.url("/shop")).send().await.unwrap();
    }
    let missing = client.get(app.url("/shop/no-such-thing"));
    let not_allowed = client.delete(app.url("/api/v1/products"));
    for request in [missing, not_allowed] {
        request.send().await.unwrap();
    }
    let metrics = metrics_text(&client, &app).await;
    let value = |series: &str| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{series} in {metrics}"))
    };
    assert!(value("http_requests_total{method=\"GET\",route=\"/shop\",status=\"200\"}") >= 3.0);
    assert!(value("http_request_duration_seconds_count{method=\"GET\",route=\"/shop\"}") >= 3.0);
    // A signed-in page reads its session: at least one round trip each.
    assert!(value("http_database_round_trips_total{method=\"GET\",route=\"/shop\"}") >= 3.0);
    assert!(
        value("http_requests_total{method=\"GET\",route=\"/shop/{slug}\",status=\"404\"}") >= 1.0
    );
    assert!(
        value("http_requests_total{method=\"DELETE\",route=\"/api/v1/products\",status=\"405\"}")
            >= 1.0
    );
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

/// A page and a catalog answer are gzipped for a browser that accepts it, and read back
/// to the same text as the plain answer.
#[tokio::test]
async fn pages_and_the_catalog_are_gzipped_for_clients_that_accept_it() {
    use std::io::Read;
    let app = TestApp::spawn().await;
    let client = app.client();
    for (path, looks_like) in [("/shop", "</html>"), ("/api/v1/products", "\"slug\"")] {
        let response = client
            .get(app.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-encoding"], "gzip", "{path}");
        let zipped = response.bytes().await.unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_string(&mut text)
            .expect("gzip that reads back");
        assert!(text.contains(looks_like), "{path}: {text}");
        assert!(zipped.len() < text.len(), "{path}: compressed");
    }
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
