//! What a page costs the database, counted by the server itself: round trips per route
//! (`http_database_round_trips_total`) beside the requests (`http_requests_total`).

use crate::common::{TestApp, add_to_cart, get_json, metrics_text};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The sum of a counter's series for GET requests of `route`.
async fn counted(app: &TestApp, name: &str, route: &str) -> f64 {
    counted_for(app, name, "GET", route).await
}

/// The sum of a counter's series for `method` requests of `route`.
async fn counted_for(app: &TestApp, name: &str, method: &str, route: &str) -> f64 {
    let text = metrics_text(&app.client(), app).await;
    let labels = [format!("method=\"{method}\""), format!("route=\"{route}\"")];
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The round trips of one `method` request of `route`: those `send` made, after checking
/// that it made exactly one such request.
async fn round_trips_of<F: Future<Output = ()>>(
    app: &TestApp,
    method: &str,
    route: &str,
    send: F,
) -> f64 {
    let trips = counted_for(app, "http_database_round_trips_total", method, route).await;
    let requests = counted_for(app, "http_requests_total", method, route).await;
    send.await;
    assert_eq!(
        counted_for(app, "http_requests_total", method, route).await - requests,
        1.0,
        "{method} {route} counted once"
    );
    counted_for(app, "http_database_round_trips_total", method, route).await - trips
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

/// At most: the session, the cart with the variant added (one query), the line's upsert;
/// the answer's cart is the one read, with the new quantity.
const ADD_TO_CART_ROUND_TRIPS: f64 = 3.0;

#[tokio::test]
async fn adding_to_the_cart_costs_at_most_three_round_trips_and_answers_the_cart_as_stored() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("addtrips").await;
    let mug = app.variant_of("Coffee Radar Mug").await;
    let bag = app.variant_of("Coffee Radar Bag").await;
    // A new line, a second line, then more of the first: each answers with the whole cart,
    // the same as reading it afterwards.
    for (variant, quantity, first_in_cart) in [(mug, 1, 1), (bag, 1, 1), (mug, 2, 3)] {
        let mut answer = Value::Null;
        let trips = round_trips_of(&app, "POST", "/api/v1/cart/items", async {
            let added = shopper
                .post(app.url("/api/v1/cart/items"))
                .json(&json!({"variant_id": variant, "quantity": quantity}))
                .send()
                .await
                .unwrap();
            assert_eq!(added.status(), StatusCode::CREATED);
            answer = added.json().await.unwrap();
        })
        .await;
        assert_eq!(answer["items"][0]["quantity"], first_in_cart, "{answer}");
        let stored = get_json(&shopper, app.url("/api/v1/cart")).await;
        assert_eq!(answer, stored, "the answer is the cart as stored");
        assert!(
            trips <= ADD_TO_CART_ROUND_TRIPS,
            "adding {quantity} to the cart took {trips} round trips"
        );
    }
}

/// At most, whatever the cart holds: the session, the delivery options, the saved address,
/// the cart, BEGIN, taking the lines out of the cart, the order (whose key a replay fails
/// on), the stock of every line at once, the order's lines, its history, COMMIT.
const CHECKOUT_ROUND_TRIPS: f64 = 11.0;

#[tokio::test]
async fn a_checkout_of_three_lines_costs_at_most_eleven_round_trips() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("ordertrips").await;
    let mut variants = Vec::new();
    for product in [
        "Coffee Radar Mug",
        "Coffee Radar Bag",
        "Coffee Radar Passport cover",
    ] {
        let variant = app.variant_of(product).await;
        add_to_cart(&app, &shopper, variant, 2).await;
        variants.push((variant, app.stock_of(variant).await));
    }
    let trips = round_trips_of(&app, "POST", "/api/v1/orders", async {
        let placed = shopper
            .post(app.url("/api/v1/orders"))
            .header("idempotency-key", "trips-1")
            .send()
            .await
            .unwrap();
        assert_eq!(placed.status(), StatusCode::CREATED);
    })
    .await;
    for (variant, stock) in variants {
        assert_eq!(
            app.stock_of(variant).await,
            stock - 2,
            "the order took its stock"
        );
    }
    assert!(
        trips <= CHECKOUT_ROUND_TRIPS,
        "a checkout took {trips} round trips"
    );
}
