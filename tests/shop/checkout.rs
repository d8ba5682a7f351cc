//! Checkout under pressure: concurrent buyers never oversell, retries never double-order,
//! and shoppers only ever see their own orders.

use crate::common::{TestApp, add_to_cart, eventually, get_json};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_checkouts_of_ten_in_stock_make_exactly_ten_orders() {
    // Fifty shoppers register from one address.
    let app = TestApp::spawn_with(&["--rate-limit-registrations-per-hour", "100"]).await;
    let variant = app.variant_of("Coffee Radar Passport cover").await;
    let mut buyers = Vec::new();
    for i in 0..50 {
        let client = app.signed_in(&format!("buyer{i:02}")).await;
        let added = client
            .post(app.url("/api/v1/cart/items"))
            .json(&json!({"variant_id": variant, "quantity": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), StatusCode::CREATED);
        buyers.push(client);
    }
    app.set_stock(variant, 10).await;

    let responses = join_all(buyers.iter().enumerate().map(|(i, client)| {
        client
            .post(app.url("/api/v1/orders"))
            .header("idempotency-key", format!("rush-{i}"))
            .send()
    }))
    .await;
    let statuses: Vec<StatusCode> = responses.into_iter().map(|r| r.unwrap().status()).collect();
    let placed = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| matches!(**s, StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY))
        .count();
    assert_eq!(placed, 10, "{statuses:?}");
    assert_eq!(refused, 40, "{statuses:?}");
    assert_eq!(app.stock_of(variant).await, 0);
    assert_eq!(app.count("orders").await, 10);
    assert_eq!(app.count("order_lines").await, 10);
}

/// On SQLite one writer works at a time. The instance's own writes wait for their turn in the
/// app, in order, rather than in SQLite's busy handler (which sleeps between tries and, with a
/// short busy timeout, gives up): with a busy timeout of 1 ms, twenty shoppers adding to their
/// carts and checking out all at once are all served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_on_sqlite_take_turns_in_the_app_not_in_the_busy_handler() {
    let app = TestApp::spawn_with(&[
        "--rate-limit-registrations-per-hour",
        "100",
        "--sqlite-busy-timeout-ms",
        "1",
    ])
    .await;
    if !app.database_url.starts_with("sqlite:") {
        return; // the servers take concurrent writers themselves
    }
    let variant = app.variant_of("Coffee Radar Passport cover").await;
    app.set_stock(variant, 1000).await;
    let mut shoppers = Vec::new();
    for i in 0..20 {
        shoppers.push(app.signed_in(&format!("turns{i:02}")).await);
    }
    let app = &app;
    let rounds = join_all(shoppers.iter().enumerate().map(|(i, client)| async move {
        let mut statuses = Vec::new();
        for round in 0..3 {
            let added = client
                .post(app.url("/api/v1/cart/items"))
                .json(&json!({"variant_id": variant, "quantity": 1}))
                .send()
                .await
                .unwrap();
            statuses.push(added.status());
            let placed = client
                .post(app.url("/api/v1/orders"))
                .header("idempotency-key", format!("turns-{i}-{round}"))
                .send()
                .await
                .unwrap();
            statuses.push(placed.status());
        }
        statuses
    }))
    .await;
    let statuses: Vec<StatusCode> = rounds.into_iter().flatten().collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "every add and checkout served: {statuses:?}"
    );
    assert_eq!(app.count("orders").await, 60);
    assert_eq!(app.stock_of(variant).await, 1000 - 60);
}

/// Two tabs (or a retry with a fresh key) checking out one cart at once: the cart is
/// placed once, and every other request is told so with a 409, never charged twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checkouts_of_one_cart_with_different_keys_place_it_once() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("twotabs").await;
    let mug = app.variant_of("Coffee Radar Mug").await;
    let bag = app.variant_of("Coffee Radar Bag").await;
    app.set_stock(mug, 1000).await;
    app.set_stock(bag, 1000).await;
    for round in 0..3 {
        add_to_cart(&app, &shopper, mug, 2).await;
        add_to_cart(&app, &shopper, bag, 1).await;
        let responses = join_all((0..8).map(|i| {
            shopper
                .post(app.url("/api/v1/orders"))
                .header("idempotency-key", format!("tab-{round}-{i}"))
                .send()
        }))
        .await;
        let mut placed = 0;
        for response in responses {
            let response = response.unwrap();
            match response.status() {
                StatusCode::CREATED => placed += 1,
                StatusCode::CONFLICT => {
                    let error: Value = response.json().await.unwrap();
                    assert!(
                        error.to_string().contains("cart"),
                        "the refusal says why: {error}"
                    );
                }
                other => panic!("a checkout answered {other}"),
            }
        }
        assert_eq!(placed, 1, "round {round}: the cart is placed once");
        assert_eq!(app.count("orders").await, round + 1);
        assert_eq!(app.count("order_lines").await, 2 * (round + 1));
        assert_eq!(app.stock_of(mug).await, 1000 - 2 * (round + 1));
        assert_eq!(app.stock_of(bag).await, 1000 - (round + 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replayed_idempotency_key_returns_the_same_order_and_creates_none() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("retry").await;
    let variant = app.variant_of("Coffee Radar Mug").await;
    let stock = app.stock_of(variant).await;
    client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant, "quantity": 2}))
        .send()
        .await
        .unwrap();

    // The client's first attempt and its retries arrive together.
    let attempts = join_all((0..5).map(|_| {
        client
            .post(app.url("/api/v1/orders"))
            .header("idempotency-key", "checkout-42")
            .send()
    }))
    .await;
    let mut orders = Vec::new();
    for response in attempts {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        orders.push(response.json::<Value>().await.unwrap());
    }
    assert!(
        orders.iter().all(|o| o == &orders[0]),
        "every retry answers with the same order"
    );
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.stock_of(variant).await, stock - 2);

    // Later, with a new cart, the same key still names the first order.
    client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    let replay = client
        .post(app.url("/api/v1/orders"))
        .header("idempotency-key", "checkout-42")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), orders[0]);
    assert_eq!(app.count("orders").await, 1);
    let fresh = client
        .post(app.url("/api/v1/orders"))
        .header("idempotency-key", "checkout-43")
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::CREATED);
    assert_eq!(app.count("orders").await, 2);
}

#[tokio::test]
async fn a_shopper_cannot_read_or_cancel_another_shoppers_order() {
    let app = TestApp::spawn().await;
    let alice = app.signed_in("alice").await;
    let mallory = app.signed_in("mallory").await;
    let variant = app.variant_of("Coffee Radar Bag").await;
    alice
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    let order: Value = alice
        .post(app.url("/api/v1/orders"))
        .header("idempotency-key", "a1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = order["code"].as_str().unwrap();

    let read = mallory
        .get(app.url(&format!("/api/v1/orders/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::NOT_FOUND);
    let cancel = mallory
        .post(app.url(&format!("/api/v1/orders/{code}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
    let page = mallory
        .get(app.url(&format!("/orders/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let list: Value = get_json(&mallory, app.url("/api/v1/orders")).await;
    assert_eq!(list, json!([]));
    let anonymous = app
        .client()
        .get(app.url(&format!("/api/v1/orders/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let still: Value = get_json(&alice, app.url(&format!("/api/v1/orders/{code}"))).await;
    assert_eq!(still["status"], "placed");
}

#[tokio::test]
async fn order_mails_come_as_text_and_html_with_the_lines_and_the_figures() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("mailed").await;
    let welcome = app.mails_about("Welcome to Coffee Radar", 1).await;
    assert!(
        welcome.len() == 1
            && welcome[0].contains("To: mailed@example.com")
            && welcome[0].contains("multipart/alternative"),
        "a welcome mail in text and HTML: {welcome:?}"
    );
    let order_mugs = |key: &'static str| {
        let (app, shopper) = (&app, &shopper);
        async move {
            let added = shopper
                .post(app.url("/api/v1/cart/items"))
                .json(&serde_json::json!({"variant_id": 1, "quantity": 2}))
                .send()
                .await
                .unwrap();
            assert_eq!(added.status(), StatusCode::CREATED);
            let placed: serde_json::Value = shopper
                .post(app.url("/api/v1/orders"))
                .header("Idempotency-Key", key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            placed["code"].as_str().unwrap().to_owned()
        }
    };
    let shipped = order_mugs("mail-1").await;
    let placed = app.mails_about(&shipped, 1).await;
    let mail = placed
        .iter()
        .find(|m| m.contains(&shipped))
        .expect("the confirmation");
    let mail = mail.replace("=\r\n", "");
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    assert!(mail.contains("Coffee Radar Mug"), "{mail}");
    // $24.00 of mugs and $4.95 of Standard delivery, in both parts.
    assert_eq!(mail.matches("$28.95").count(), 2, "{mail}");
    assert_eq!(mail.matches("$4.95").count(), 2, "{mail}");

    app.grant_admin("mailed");
    let csrf = crate::common::csrf_token(&shopper, &app.url("/admin/orders")).await;
    for _ in 0..2 {
        let advanced = shopper
            .post(app.url(&format!("/admin/orders/{shipped}/advance")))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(advanced.status(), StatusCode::SEE_OTHER);
    }
    let cancelled = order_mugs("mail-2").await;
    let answer = shopper
        .post(app.url(&format!("/api/v1/orders/{cancelled}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let mails = app.mails_about("Your Coffee Radar order", 4).await;
    let subjects: Vec<&str> = mails
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("Subject: ")))
        .collect();
    assert!(
        subjects
            .contains(&format!("Subject: Your Coffee Radar order {shipped} has shipped").as_str()),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(
            &format!("Subject: Your Coffee Radar order {cancelled} is cancelled").as_str()
        ),
        "{subjects:?}"
    );
}

/// SQLite's write-ahead log is copied into the database file beside the writers, so that
/// no commit waits for it: an order is soon in the file itself, not only in the log.
#[tokio::test]
async fn an_order_soon_reaches_the_sqlite_file_itself_not_only_its_log() {
    let app = TestApp::spawn().await;
    let Some(file) = app.database_url.strip_prefix("sqlite://") else {
        return; // the database servers keep their own logs
    };
    let file = file.split('?').next().unwrap().to_owned();
    let shopper = app.signed_in("walter").await;
    let code = app.order_one(&shopper, "Coffee Radar Mug").await;

    // Read as an immutable file, SQLite sees the database file alone, without its log.
    let in_the_file = || {
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        rusqlite::Connection::open_with_flags(format!("file:{file}?immutable=1"), flags)
            .and_then(|db| {
                db.query_row(
                    "SELECT COUNT(*) FROM orders WHERE code = ?",
                    [&code],
                    |row| row.get::<_, i64>(0),
                )
            })
            .is_ok_and(|orders| orders == 1)
    };
    assert!(
        eventually(100, Duration::from_millis(50), || std::future::ready(
            in_the_file()
        ))
        .await,
        "order {code} was checkpointed into {file}"
    );
}
