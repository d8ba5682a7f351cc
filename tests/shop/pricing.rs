//! Checkout's figures: delivery options, discount codes, tax and the quote, through the
//! API and the checkout page, against totals worked out by hand.

use crate::common::{TestApp, add_to_cart, attr_of, csrf_token, document, get_json, text_of};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// Tax added on top at 21 %, free delivery from $50.
const TAXED: &[&str] = &[
    "--tax-rate-bp",
    "2100",
    "--prices-include-tax",
    "false",
    "--free-delivery-from-cents",
    "5000",
];

/// The mug, White 200 ml: $12.00.
const MUG: i64 = 1;

async fn with_mugs(app: &TestApp, username: &str, quantity: i64) -> Client {
    let client = app.signed_in(username).await;
    add_to_cart(app, &client, MUG, quantity).await;
    client
}

async fn staff(app: &TestApp) -> Client {
    let staff = app.signed_in("keeper").await;
    app.grant_admin("keeper");
    staff
}

async fn new_code(app: &TestApp, staff: &Client, code: Value) -> Value {
    let created = staff
        .post(app.url("/api/v1/admin/discount-codes"))
        .json(&code)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    created.json().await.unwrap()
}

async fn quote(app: &TestApp, client: &Client, body: Value) -> (StatusCode, Value) {
    let answer = client
        .post(app.url("/api/v1/checkout/quote"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap())
}

fn totals(subtotal: i64, delivery: i64, discount: i64, tax: i64, total: i64) -> Value {
    json!({
        "subtotal_cents": subtotal,
        "delivery_cents": delivery,
        "discount_cents": discount,
        "tax_cents": tax,
        "total_cents": total,
    })
}

fn address() -> Value {
    json!({
        "name": "Ana García",
        "line1": "Calle Mayor 1",
        "city": "Madrid",
        "postal_code": "28013",
        "country": "ES",
    })
}

async fn order(app: &TestApp, client: &Client, key: &str, body: Value) -> (StatusCode, Value) {
    let answer = client
        .post(app.url("/api/v1/orders"))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap())
}

#[tokio::test]
async fn quotes_and_orders_match_the_figures_worked_out_by_hand() {
    let app = TestApp::spawn_with(TAXED).await;
    let options = get_json(&app.client(), app.url("/api/v1/delivery-options")).await;
    let names: Vec<&str> = options
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Standard", "Express", "Pick up at a coffee place"]);
    assert_eq!(options[1]["price_cents"], 1295);

    let shopper = with_mugs(&app, "counted", 2).await;
    // $24.00 + $4.95 = $28.95, tax 21 % = $6.0795 -> $6.08, total $35.03.
    let (status, standard) = quote(&app, &shopper, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{standard}");
    assert_eq!(standard, totals(2400, 495, 0, 608, 3503));
    // Express: $24.00 + $12.95 = $36.95, tax $7.7595 -> $7.76, total $44.71.
    let (_, express) = quote(&app, &shopper, json!({"delivery_option": 2})).await;
    assert_eq!(express, totals(2400, 1295, 0, 776, 4471));

    let staff = staff(&app).await;
    new_code(
        &app,
        &staff,
        json!({"code": "save10", "kind": "percent", "amount": 1000, "min_subtotal_cents": 2000}),
    )
    .await;
    // 10 % off $24.00 is $2.40: $21.60 + $12.95 = $34.55, tax $7.2555 -> $7.26, total $41.81.
    let (status, discounted) = quote(
        &app,
        &shopper,
        json!({"delivery_option": 2, "coupon": "Save10"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{discounted}");
    assert_eq!(discounted, totals(2400, 1295, 240, 726, 4181));

    let (status, placed) = order(
        &app,
        &shopper,
        "priced-1",
        json!({"delivery_option": 2, "coupon": "SAVE10", "address": address()}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    for (field, figure) in discounted.as_object().unwrap() {
        assert_eq!(
            &placed[field], figure,
            "{field} of the order is the quote's"
        );
    }
    assert_eq!(placed["delivery"], "Express");
    assert_eq!(placed["coupon"], "SAVE10");
    assert_eq!(
        placed["shipping_address"],
        "Ana García\nCalle Mayor 1\n28013 Madrid\nSpain"
    );
    let code = placed["code"].as_str().unwrap();
    let kept = get_json(&shopper, app.url(&format!("/api/v1/orders/{code}"))).await;
    assert_eq!(kept["tax_cents"], 726, "the order keeps its figures");

    // Free delivery from $50 of discounted goods: five mugs are $60.00.
    let big = with_mugs(&app, "bulk", 5).await;
    let (_, free) = quote(&app, &big, json!({})).await;
    assert_eq!(free, totals(6000, 0, 0, 1260, 7260));
}

#[tokio::test]
async fn with_prices_including_tax_the_total_stays_and_the_tax_is_shown() {
    let app = TestApp::spawn_with(&["--tax-rate-bp", "2100"]).await;
    let shopper = with_mugs(&app, "included", 2).await;
    // $28.95 including 21 %: tax is 28.95 * 21 / 121 = $5.0243... -> $5.02.
    let (_, standard) = quote(&app, &shopper, json!({})).await;
    assert_eq!(standard, totals(2400, 495, 0, 502, 2895));
}

#[tokio::test]
async fn refused_codes_say_why_and_change_nothing() {
    let app = TestApp::spawn().await;
    let shopper = with_mugs(&app, "hopeful", 1).await;
    let staff = staff(&app).await;
    new_code(
        &app,
        &staff,
        json!({"code": "BIGSPENDER", "kind": "fixed", "amount": 500, "min_subtotal_cents": 5000}),
    )
    .await;
    new_code(
        &app,
        &staff,
        json!({"code": "GONE", "kind": "fixed", "amount": 500, "expires_at": 1_000}),
    )
    .await;
    for (n, coupon, says) in [
        ("NOPE", "There is no discount code like that."),
        (
            "'; DROP TABLE orders; --",
            "There is no discount code like that.",
        ),
        (
            "BIGSPENDER",
            "That discount code needs an order of at least $50.00.",
        ),
        ("GONE", "That discount code has expired."),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (coupon, says))| (n, coupon, says))
    {
        let (status, body) = quote(&app, &shopper, json!({"coupon": coupon})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{coupon}: {body}");
        assert_eq!(body["fields"]["coupon"], says, "{coupon}: {body}");
        let key = format!("refused-{n}");
        let (status, _) = order(&app, &shopper, &key, json!({"coupon": coupon})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(app.count("orders").await, 0);
    let (status, body) = quote(&app, &shopper, json!({"delivery_option": 99})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["delivery_option"].is_string(), "{body}");
}

#[tokio::test]
async fn a_code_is_used_no_more_often_than_it_allows_and_a_cancel_gives_the_use_back() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    new_code(
        &app,
        &staff,
        json!({"code": "ONCE", "kind": "fixed", "amount": 300, "max_uses": 1}),
    )
    .await;
    let first = with_mugs(&app, "early", 1).await;
    let second = with_mugs(&app, "late", 1).await;
    let (status, placed) = order(&app, &first, "once-1", json!({"coupon": "ONCE"})).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["discount_cents"], 300);
    let (status, refused) = order(&app, &second, "once-2", json!({"coupon": "ONCE"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(
        refused["fields"]["coupon"],
        "That discount code has been used up."
    );

    let code = placed["code"].as_str().unwrap();
    let cancelled = first
        .post(app.url(&format!("/api/v1/orders/{code}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let (status, placed) = order(&app, &second, "once-3", json!({"coupon": "ONCE"})).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let codes = get_json(&staff, app.url("/api/v1/admin/discount-codes")).await;
    assert_eq!(codes[0]["uses"], 1);
}

#[tokio::test]
async fn concurrent_orders_never_use_a_code_more_often_than_it_allows() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    new_code(
        &app,
        &staff,
        json!({"code": "FEW", "kind": "percent", "amount": 500, "max_uses": 3}),
    )
    .await;
    let mut shoppers = Vec::new();
    for n in 0..8 {
        shoppers.push(with_mugs(&app, &format!("racer{n}"), 1).await);
    }
    let orders = shoppers.iter().enumerate().map(|(n, shopper)| {
        let app = &app;
        async move { order(app, shopper, &format!("few-{n}"), json!({"coupon": "FEW"})).await }
    });
    let answers = futures::future::join_all(orders).await;
    let placed = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(placed, 3, "{answers:?}");
    let codes = get_json(&staff, app.url("/api/v1/admin/discount-codes")).await;
    assert_eq!(codes[0]["uses"], 3);
}

#[tokio::test]
async fn picking_up_at_a_coffee_place_is_free_and_names_the_place() {
    let app = TestApp::spawn().await;
    let shopper = with_mugs(&app, "walker", 1).await;
    let (status, refused) = order(&app, &shopper, "pick-1", json!({"delivery_option": 3})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused["fields"]["pickup_place"].is_string(), "{refused}");
    let places = get_json(&app.client(), app.url("/api/v1/places")).await;
    let place = &places[0];
    let (status, placed) = order(
        &app,
        &shopper,
        "pick-2",
        json!({"delivery_option": 3, "pickup_place": place["id"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["delivery_cents"], 0);
    assert_eq!(placed["total_cents"], 1200);
    let label = placed["shipping_address"].as_str().unwrap();
    assert!(
        label.starts_with(&format!("Pick up at {}", place["name"].as_str().unwrap())),
        "{label}"
    );
}

#[tokio::test]
async fn an_address_is_checked_field_by_field_and_a_saved_one_is_used_next_time() {
    let app = TestApp::spawn().await;
    let shopper = with_mugs(&app, "mover", 1).await;
    let (status, refused) = order(
        &app,
        &shopper,
        "addr-1",
        json!({"address": {"name": "Ana", "line1": "", "city": "Madrid",
                           "postal_code": "<b>28013</b>", "country": "Narnia"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["address.line1", "address.postal_code", "address.country"] {
        assert!(refused["fields"][field].is_string(), "{field}: {refused}");
    }
    assert_eq!(app.count("orders").await, 0);

    let (status, _) = order(
        &app,
        &shopper,
        "addr-2",
        json!({"address": address(), "save_address": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    with_mugs_again(&app, &shopper).await;
    let (status, next) = order(&app, &shopper, "addr-3", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{next}");
    assert_eq!(
        next["shipping_address"],
        "Ana García\nCalle Mayor 1\n28013 Madrid\nSpain"
    );
    // The checkout page offers the saved address.
    with_mugs_again(&app, &shopper).await;
    let page = document(
        &shopper
            .get(app.url("/checkout"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(
        attr_of(&page, "input#line1", "value").as_deref(),
        Some("Calle Mayor 1")
    );
    assert_eq!(
        attr_of(&page, "select#country option[selected]", "value").as_deref(),
        Some("ES")
    );
}

async fn with_mugs_again(app: &TestApp, client: &Client) {
    let added = client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": MUG, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn staff_set_up_delivery_options_and_codes_and_shoppers_cannot() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("curious").await;
    let denied = shopper
        .post(app.url("/api/v1/admin/delivery-options"))
        .json(&json!({"name": "Drone", "price_cents": 100, "estimated_days": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let anonymous = app
        .client()
        .get(app.url("/api/v1/admin/discount-codes"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let staff = staff(&app).await;
    let invalid = staff
        .post(app.url("/api/v1/admin/delivery-options"))
        .json(&json!({"name": "", "price_cents": -5, "estimated_days": 400}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let created = staff
        .post(app.url("/api/v1/admin/delivery-options"))
        .json(&json!({"name": "Bike courier", "price_cents": 350, "estimated_days": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let offered = get_json(&app.client(), app.url("/api/v1/delivery-options")).await;
    assert_eq!(offered[3]["name"], "Bike courier");

    let id = created["id"].as_i64().unwrap();
    let retired = staff
        .put(app.url(&format!("/api/v1/admin/delivery-options/{id}")))
        .json(&json!({"name": "Bike courier", "price_cents": 350, "estimated_days": 1, "active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(retired.status(), StatusCode::OK);
    let offered = get_json(&app.client(), app.url("/api/v1/delivery-options")).await;
    assert_eq!(
        offered.as_array().unwrap().len(),
        3,
        "inactive options are not offered"
    );
    let all = get_json(&staff, app.url("/api/v1/admin/delivery-options")).await;
    assert_eq!(all.as_array().unwrap().len(), 4);

    let duplicate = staff
        .post(app.url("/api/v1/admin/discount-codes"))
        .json(&json!({"code": "TWICE", "kind": "fixed", "amount": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), StatusCode::CREATED);
    let again = staff
        .post(app.url("/api/v1/admin/discount-codes"))
        .json(&json!({"code": "twice", "kind": "fixed", "amount": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_checkout_page_updates_its_totals_and_keeps_what_was_typed_when_a_code_is_refused() {
    let app = TestApp::spawn().await;
    let shopper = with_mugs(&app, "browser", 2).await;
    let csrf = csrf_token(&shopper, &app.url("/checkout")).await;
    let form = |coupon: &'static str, delivery: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("delivery_option", delivery.to_owned()),
            ("coupon", coupon.to_owned()),
            ("name", "Ana García".to_owned()),
            ("line1", "Calle Mayor 1".to_owned()),
            ("city", "Madrid".to_owned()),
            ("postal_code", "28013".to_owned()),
            ("country", "ES".to_owned()),
            ("action", "quote".to_owned()),
        ]
    };
    let updated = shopper
        .post(app.url("/checkout"))
        .form(&form("", "2"))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    let page = document(&updated.text().await.unwrap());
    assert_eq!(
        text_of(&page, ".totals .delivery").as_deref(),
        Some("$12.95")
    );
    assert_eq!(text_of(&page, ".totals .total").as_deref(), Some("$36.95"));
    assert_eq!(
        app.count("orders").await,
        0,
        "updating the totals places nothing"
    );

    let refused = shopper
        .post(app.url("/checkout"))
        .form(&form("NOPE", "2"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = document(&refused.text().await.unwrap());
    assert_eq!(
        text_of(&page, "#coupon + .field-error").as_deref(),
        Some("There is no discount code like that.")
    );
    assert_eq!(
        attr_of(&page, "input#coupon", "value").as_deref(),
        Some("NOPE")
    );
    assert_eq!(
        attr_of(&page, "input#line1", "value").as_deref(),
        Some("Calle Mayor 1")
    );
    assert!(
        text_of(&page, ".account").is_some(),
        "the header still shows who is signed in"
    );
}

#[tokio::test]
async fn the_insights_count_delivery_and_discounts_and_leave_out_cancelled_orders() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    new_code(
        &app,
        &staff,
        json!({"code": "TWOOFF", "kind": "fixed", "amount": 200}),
    )
    .await;
    let buyer = with_mugs(&app, "counted-buyer", 2).await;
    let (_, kept) = order(&app, &buyer, "ins-1", json!({"coupon": "TWOOFF"})).await;
    with_mugs_again(&app, &buyer).await;
    let (_, dropped) = order(&app, &buyer, "ins-2", json!({})).await;
    let code = dropped["code"].as_str().unwrap();
    let cancelled = buyer
        .post(app.url(&format!("/api/v1/orders/{code}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);

    let report = get_json(&staff, app.url("/api/v1/admin/insights")).await;
    // $24.00 - $2.00 + $4.95 = $26.95; the cancelled order does not count.
    assert_eq!(kept["total_cents"], 2695);
    assert_eq!(report["orders"], 1, "{report}");
    assert_eq!(report["revenue_cents"], 2695);
    assert_eq!(report["delivery_cents"], 495);
    assert_eq!(report["discount_cents"], 200);
}
