//! What a page costs the database, counted by the server itself: round trips per route
//! (`http_database_round_trips_total`) beside the requests (`http_requests_total`).

use crate::common::{TestApp, add_to_cart, metrics_text};
use reqwest::{Client, StatusCode};

/// The sum of a counter's series for GET requests of `route`.
async fn counted(app: &TestApp, name: &str, route: &str) -> f64 {
    let text = metrics_text(&app.client(), app).await;
    let labels = format!("route=\"{route}\"");
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| line.contains("method=\"GET\"") && line.contains(&labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Round trips per request of `route`, over `times` GETs of `path` by `client`, each of
/// which must show `badge` in the header's cart badge.
async fn round_trips_per_page(
    app: &TestApp,
    client: &Client,
    route: &str,
    path: &str,
    badge: &str,
) -> f64 {
    let times = 5.0;
    let trips = counted(app, "http_database_round_trips_total", route).await;
    let requests = counted(app, "http_requests_total", route).await;
    for _ in 0..times as usize {
        let page = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "GET {path}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&format!("aria-label=\"{badge} items\">{badge}</span>")),
            "GET {path}: the cart badge shows {badge}"
        );
    }
    assert_eq!(
        counted(app, "http_requests_total", route).await - requests,
        times,
        "GET {path} counted"
    );
    (counted(app, "http_database_round_trips_total", route).await - trips) / times
}

#[tokio::test]
async fn a_signed_in_page_costs_one_round_trip_for_session_user_and_cart_badge() {
    // The catalog snapshot lasts the whole test: its refresh is not the page's cost.
    let app = TestApp::spawn_with(&["--catalog-cache-ms", "600000"]).await;
    let shopper = app.signed_in("onetrip").await;
    let mug = app.variant_of("Coffee Radar Mug").await;
    add_to_cart(&app, &shopper, mug, 2).await;
    // The first page loads the snapshot.
    assert_eq!(
        shopper.get(app.url("/shop")).send().await.unwrap().status(),
        StatusCode::OK
    );
    for (route, path) in [
        ("/", "/"),
        ("/shop", "/shop"),
        ("/shop/{slug}", "/shop/coffee-radar-mug"),
    ] {
        let per_page = round_trips_per_page(&app, &shopper, route, path, "2").await;
        assert_eq!(per_page, 1.0, "GET {path} signed in: round trips per page");
    }
}

#[tokio::test]
async fn a_guest_with_a_cart_costs_one_round_trip_and_an_anonymous_visitor_none() {
    let app = TestApp::spawn_with(&["--catalog-cache-ms", "600000"]).await;
    let guest = app.client();
    let mug = app.variant_of("Coffee Radar Mug").await;
    add_to_cart(&app, &guest, mug, 3).await;
    assert_eq!(
        guest.get(app.url("/shop")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let per_page = round_trips_per_page(&app, &guest, "/shop", "/shop", "3").await;
    assert_eq!(per_page, 1.0, "a guest's page: round trips per page");

    let visitor = app.client();
    let per_page = round_trips_per_page(&app, &visitor, "/", "/", "0").await;
    assert_eq!(per_page, 0.0, "an anonymous page comes from the snapshot");
}
