//! Insights for staff, checked against figures computed by hand from a fixture.

use crate::common::{TestApp, count_of, document, get_json, metric, text_of};
use coffee_radar::db::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// UTC milliseconds of a moment in 2026.
fn at(month: u8, day: u8, hour: u8, minute: u8) -> i64 {
    let date =
        time::Date::from_calendar_date(2026, time::Month::try_from(month).unwrap(), day).unwrap();
    let moment = date.with_hms(hour, minute, 0).unwrap().assume_utc();
    (moment.unix_timestamp_nanos() / 1_000_000) as i64
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    app.signed_in(username).await;
    let (id,): (i64,) = app
        .db
        .query_as("SELECT id FROM users WHERE username = ?")
        .bind(username)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    id
}

/// An order with its lines: (product, colour, size, variant id, unit price, quantity).
async fn order(
    app: &TestApp,
    code: &str,
    user: i64,
    when: i64,
    status: &str,
    lines: &[(&str, &str, &str, i64, i64, i64)],
) {
    let db = &app.db;
    let total: i64 = lines.iter().map(|l| l.4 * l.5).sum();
    let id = coffee_radar::db::new_id();
    db.query(
        "INSERT INTO orders (id, code, user_id, username, status, total_cents, shipping_address, created_at, updated_at) \
         VALUES (?, ?, ?, 'x', ?, ?, 'Somewhere 1', ?, ?)",
    )
    .bind(id)
    .bind(code)
    .bind(user)
    .bind(status)
    .bind(total)
    .bind(when)
    .bind(when)
    .execute(db.pool())
    .await
    .unwrap();
    for (line_no, (product, color, size, variant, price, quantity)) in (1_i64..).zip(lines) {
        db.query(
            "INSERT INTO order_lines (order_id, line_no, product_id, variant_id, product_name, color, size, unit_price_cents, quantity) \
             VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(line_no)
        .bind(*variant)
        .bind(*product)
        .bind(*color)
        .bind(*size)
        .bind(*price)
        .bind(*quantity)
        .execute(db.pool())
        .await
        .unwrap();
    }
}

async fn events(app: &TestApp, kind: &str, area: Option<&str>, count: usize, when: i64) {
    for _ in 0..count {
        app.db
            .query("INSERT INTO events (id, kind, area, occurred_at) VALUES (?, ?, ?, ?)")
            .bind(coffee_radar::db::new_id())
            .bind(kind)
            .bind(area)
            .bind(when)
            .execute(app.db.pool())
            .await
            .unwrap();
    }
}

/// The fixture, 1 to 10 March 2026:
/// - alice ordered on 20 Feb (before the period), and on 2 Mar 10:15: 2 × Mug $12 + 1 × Bag $15 = $39;
/// - bob's first order, 2 Mar 14:40: 1 × Coffee maker $89; then 9 Mar 10:05: 3 × Mug $12 = $36;
/// - carol's only order, 3 Mar, is cancelled: it counts nowhere.
///
/// So: revenue $164.00 over 3 orders, average $54.67; 1 new customer (bob), 1 returning
/// (alice); 2 Mar has 2 orders for $128, 9 Mar 1 for $36; ISO weeks 2026-W10 and W11;
/// top product by revenue Coffee maker ($89), then Mug (5 units, $60), then Bag; orders at
/// 10h: 2, at 14h: 1. The Mug (White, 200 ml) has 10 in stock and sold 5 in 10 days: 0.5
/// a day, 20 days left. Funnel: 10 views → 4 adds (40 %) → 3 checkouts (75 %) → 2 orders (66.7 %).
async fn fixture(app: &TestApp) {
    let mug = 1; // Coffee Radar Mug, White, 200 ml in the demo catalog
    app.set_stock(mug, 10).await;
    let (alice, bob, carol) = (
        user_id(app, "alice").await,
        user_id(app, "bob").await,
        user_id(app, "carol").await,
    );
    order(
        app,
        "OLD001",
        alice,
        at(2, 20, 9, 0),
        "delivered",
        &[("Coffee Radar Mug", "White", "200 ml", mug, 1200, 1)],
    )
    .await;
    order(
        app,
        "ALI001",
        alice,
        at(3, 2, 10, 15),
        "paid",
        &[
            ("Coffee Radar Mug", "White", "200 ml", mug, 1200, 2),
            ("Coffee Radar Bag", "Beige", "U", 20, 1500, 1),
        ],
    )
    .await;
    order(
        app,
        "BOB001",
        bob,
        at(3, 2, 14, 40),
        "placed",
        &[("Coffee maker", "Black", "U", 15, 8900, 1)],
    )
    .await;
    order(
        app,
        "BOB002",
        bob,
        at(3, 9, 10, 5),
        "shipped",
        &[("Coffee Radar Mug", "White", "200 ml", mug, 1200, 3)],
    )
    .await;
    order(
        app,
        "CAR001",
        carol,
        at(3, 3, 12, 0),
        "cancelled",
        &[("Coffee maker", "White", "U", 16, 5000, 1)],
    )
    .await;
    let when = at(3, 5, 12, 0);
    events(app, "product_view", None, 10, when).await;
    events(app, "add_to_cart", None, 4, when).await;
    events(app, "checkout_started", None, 3, when).await;
    events(app, "checkout_completed", None, 2, when).await;
    events(app, "page_view", Some("shop"), 7, when).await;
    events(app, "page_view", Some("home"), 3, when).await;
    events(app, "product_view", None, 5, at(3, 20, 12, 0)).await; // outside the period
}

#[tokio::test]
async fn the_insights_match_the_figures_computed_by_hand() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let staff = app.signed_in("owner").await;
    app.grant_admin("owner");

    let report: Value = get_json(
        &staff,
        app.url("/api/v1/admin/insights?from=2026-03-01&to=2026-03-10"),
    )
    .await;
    assert_eq!(report["orders"], 3);
    assert_eq!(report["revenue_cents"], 16400);
    assert_eq!(report["average_order_cents"], 5467);
    assert_eq!(report["customers"], json!({"new": 1, "returning": 1}));
    let daily = report["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 10);
    assert_eq!(
        daily[1],
        json!({"label": "2026-03-02", "orders": 2, "revenue_cents": 12800})
    );
    assert_eq!(
        daily[8],
        json!({"label": "2026-03-09", "orders": 1, "revenue_cents": 3600})
    );
    assert_eq!(daily[2]["orders"], 0, "the cancelled order counts nowhere");
    assert_eq!(
        report["weekly"],
        json!([
            {"label": "2026-W09", "orders": 0, "revenue_cents": 0},
            {"label": "2026-W10", "orders": 2, "revenue_cents": 12800},
            {"label": "2026-W11", "orders": 1, "revenue_cents": 3600},
        ])
    );
    assert_eq!(
        report["top_products"],
        json!([
            {"name": "Coffee maker", "units": 1, "revenue_cents": 8900},
            {"name": "Coffee Radar Mug", "units": 5, "revenue_cents": 6000},
            {"name": "Coffee Radar Bag", "units": 1, "revenue_cents": 1500},
        ])
    );
    assert_eq!(
        report["top_variants"][1],
        json!({"name": "Coffee Radar Mug (White, 200 ml)", "units": 5, "revenue_cents": 6000})
    );
    assert_eq!(
        report["funnel"],
        json!([
            {"step": "Product viewed", "count": 10, "rate_percent": null},
            {"step": "Added to cart", "count": 4, "rate_percent": 40.0},
            {"step": "Checkout started", "count": 3, "rate_percent": 75.0},
            {"step": "Order placed", "count": 2, "rate_percent": 66.7},
        ])
    );
    assert_eq!(
        report["page_views"],
        json!([{"area": "shop", "views": 7}, {"area": "home", "views": 3}])
    );
    let hours = report["orders_by_hour"].as_array().unwrap();
    assert_eq!(
        (hours[10].as_i64(), hours[14].as_i64(), hours[12].as_i64()),
        (Some(2), Some(1), Some(0))
    );
    assert_eq!(
        report["running_out"][0],
        json!({"variant_id": 1, "name": "Coffee Radar Mug (White, 200 ml)", "stock": 10, "units_per_day": 0.5, "days_left": 20.0})
    );

    // The page shows the same figures, with a chart and a table.
    let page = staff
        .get(app.url("/admin/insights?from=2026-03-01&to=2026-03-10"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = document(&page.text().await.unwrap());
    assert_eq!(text_of(&html, "#revenue").as_deref(), Some("$164.00"));
    assert_eq!(text_of(&html, "#orders").as_deref(), Some("3"));
    assert_eq!(
        count_of(&html, "svg.chart[role=img] title"),
        3 + 10 + 24 + 4,
        "chart titles and one per bar"
    );
    assert_eq!(
        text_of(&html, "#top-products tbody tr td").as_deref(),
        Some("Coffee maker")
    );
    assert_eq!(
        text_of(&html, "#funnel tbody tr:nth-child(4) td:nth-child(3)").as_deref(),
        Some("66.7 %")
    );
}

#[tokio::test]
async fn only_staff_see_the_insights() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("curious").await;
    assert_eq!(
        shopper
            .get(app.url("/api/v1/admin/insights"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        shopper
            .get(app.url("/admin/insights"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.client()
            .get(app.url("/api/v1/admin/insights"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.grant_admin("curious");
    let bad = shopper
        .get(app.url("/api/v1/admin/insights?from=March"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let default: Value = get_json(&shopper, app.url("/api/v1/admin/insights")).await;
    assert_eq!(
        default["daily"].as_array().unwrap().len(),
        30,
        "the last 30 days by default"
    );
}

#[tokio::test]
async fn shopping_records_events_without_personal_data() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("walker").await;
    client.get(app.url("/shop")).send().await.unwrap();
    client
        .get(app.url("/shop/coffee-radar-bag"))
        .send()
        .await
        .unwrap();
    let variant = app.variant_of("Coffee Radar Bag").await;
    client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    client
        .post(app.url("/api/v1/orders"))
        .header("idempotency-key", "e1")
        .send()
        .await
        .unwrap();
    client
        .get(app.url("/radar?city=paris"))
        .send()
        .await
        .unwrap();
    app.state.services.flush_events().await;
    let kinds: Vec<(String,)> = app
        .db
        .query_as("SELECT kind FROM events ORDER BY occurred_at, kind")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    let kinds: Vec<&str> = kinds.iter().map(|k| k.0.as_str()).collect();
    for expected in [
        "sign_up",
        "sign_in",
        "page_view",
        "product_view",
        "add_to_cart",
        "checkout_started",
        "checkout_completed",
        "radar_search",
    ] {
        assert!(kinds.contains(&expected), "{expected} in {kinds:?}");
    }
}

#[tokio::test]
async fn export_writes_csv_files_partitioned_by_date() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let out = tempfile::tempdir().unwrap();
    let stdout = export_to(&app, &format!("file://{}", out.path().display()));
    assert!(
        stdout.contains("Exported 5 orders, 6 order lines"),
        "{stdout}"
    );

    let day = std::fs::read_to_string(out.path().join("exports/orders/date=2026-03-02/orders.csv"))
        .unwrap();
    let mut rows: Vec<&str> = day.lines().collect();
    assert_eq!(
        rows.remove(0),
        "code,user_id,status,total_cents,item_count,created_at,updated_at"
    );
    rows.sort_unstable();
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].starts_with("ALI001,") && rows[0].contains(",paid,3900,3,2026-03-02T10:15:00Z,"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("BOB001,") && rows[1].contains(",placed,8900,1,"),
        "{}",
        rows[1]
    );
    let lines = std::fs::read_to_string(
        out.path()
            .join("exports/order_lines/date=2026-03-09/order_lines.csv"),
    )
    .unwrap();
    assert_eq!(
        lines.lines().nth(1),
        Some("BOB002,1,1,1,Coffee Radar Mug,White,200 ml,1200,3,2026-03-09T10:05:00Z")
    );
    let events =
        std::fs::read_to_string(out.path().join("exports/events/date=2026-03-05/events.csv"))
            .unwrap();
    assert_eq!(events.lines().count(), 1 + 10 + 4 + 3 + 2 + 7 + 3);
}

/// On AWS the export runs under a role that may only put objects under `exports/`: it must
/// write nothing else, wherever it is pointed. A folder here, or a bucket of the S3 server
/// named by TEST_S3_ENDPOINT (moto's in test.sh) when there is one.
#[tokio::test]
async fn export_writes_nothing_outside_exports() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let out = tempfile::tempdir().unwrap();
    let s3 = std::env::var("TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    let bucket = format!("export-{}", std::process::id());
    let to = match &s3 {
        Some(endpoint) => {
            let created = reqwest::Client::new()
                .put(format!("{endpoint}/{bucket}"))
                .send()
                .await
                .unwrap();
            assert!(created.status().is_success(), "{}", created.status());
            format!("s3://{bucket}")
        }
        None => format!("file://{}", out.path().display()),
    };
    export_to(&app, &to);

    let written = match &s3 {
        Some(endpoint) => {
            let listing = reqwest::get(format!("{endpoint}/{bucket}?list-type=2"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            listing
                .split("<Key>")
                .skip(1)
                .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
                .collect()
        }
        None => files_under(out.path()),
    };
    assert!(written.len() >= 3, "orders, lines and events: {written:?}");
    let outside: Vec<&String> = written
        .iter()
        .filter(|key| !key.starts_with("exports/"))
        .collect();
    assert!(outside.is_empty(), "written outside exports/: {outside:?}");
}

/// Runs `coffee-radar export --to TO` on the app's database; its standard output.
fn export_to(app: &TestApp, to: &str) -> String {
    let output = app.command().args(["export", "--to", to]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every file below `root`, as a path relative to it with `/` between its parts.
fn files_under(root: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                files.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files
}

#[tokio::test]
async fn repeated_views_are_stored_as_a_few_counted_rows_and_every_view_is_counted() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in("counter").await;
    app.grant_admin("counter");
    let visitor = app.client();
    for _ in 0..40 {
        let page = visitor.get(app.url("/shop")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
    }
    app.state.services.flush_events().await;

    let (rows,): (i64,) = app
        .db
        .query_as("SELECT COUNT(*) FROM events WHERE kind = 'page_view' AND area = 'shop'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert!(
        rows <= 3,
        "40 views of one page written together are one row with its count, not 40: {rows}"
    );
    let report: Value = get_json(&staff, app.url("/api/v1/admin/insights")).await;
    assert_eq!(
        report["page_views"],
        json!([{"area": "shop", "views": 40}]),
        "every view counts"
    );
}

/// A report over a big shop reads for a long while; on one worker thread (the whole
/// runtime here), the shop must keep answering other requests meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_long_report_does_not_hold_up_the_other_requests() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in("analyst").await;
    app.grant_admin("analyst");
    let when = at(3, 5, 12, 0);
    // 200,000 orders of the period (400 × 500: MariaDB bounds a recursion to 1,000 steps).
    let orders = match app.db.backend() {
        Backend::MySql => {
            "INSERT INTO orders (id, code, user_id, username, status, total_cents, shipping_address, created_at, updated_at) \
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 499), \
             ids(id) AS (SELECT a.i * 500 + b.i + 1 FROM n a CROSS JOIN n b WHERE a.i < 400) \
             SELECT id, CONCAT('LOAD-', id), NULL, 'x', 'placed', 1000, 'Somewhere 1', ?, ? FROM ids"
        }
        Backend::Sqlite | Backend::Postgres => {
            "INSERT INTO orders (id, code, user_id, username, status, total_cents, shipping_address, created_at, updated_at) \
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 499), \
             ids(id) AS (SELECT a.i * 500 + b.i + 1 FROM n a CROSS JOIN n b WHERE a.i < 400) \
             SELECT id, 'LOAD-' || id, NULL, 'x', 'placed', 1000, 'Somewhere 1', ?, ? FROM ids"
        }
    };
    app.db
        .query(orders)
        .bind(when)
        .bind(when)
        .execute(app.db.pool())
        .await
        .unwrap();

    let report = tokio::spawn(
        staff
            .get(app.url("/api/v1/admin/insights?from=2026-03-01&to=2026-03-10"))
            .send(),
    );
    // Until the report is done, the metrics are asked for again and again: the shop must
    // answer them while it still counts the report as in flight (beside the metrics call).
    let observer = app.client();
    let mut answered_beside_it = false;
    while !report.is_finished() {
        if metric(&observer, &app, "http_requests_in_flight").await >= 2.0 {
            answered_beside_it = true;
            break;
        }
    }
    let report = report.await.unwrap().unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    let report: Value = report.json().await.unwrap();
    assert_eq!(report["orders"], 200_000);
    assert!(
        answered_beside_it,
        "another request was answered while the report was being read"
    );
}
