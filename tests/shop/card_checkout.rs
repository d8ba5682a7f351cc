//! Paying an order by card through the shop, against localstripe (see `payments`): the
//! order moves to paid only once the server has seen the payment succeed, from the
//! shopper reporting back or a signed webhook; declined cards, replays, forged webhooks,
//! abandoned orders, late payments and refunds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::{TestApp, add_to_cart, document, get_json, text_of};
use crate::payments::{
    DECLINED_CARD, SECRET_KEY, SUCCEEDING_CARD, localstripe_base, pay_with_card,
};
use coffee_radar::payments::{PaymentIntentId, signature_header};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

pub const WEBHOOK_SECRET: &str = "whsec_coffee_radar_shop";
/// The mug, White 200 ml: $12.00, 25 in stock.
pub const MUG: i64 = 1;

pub async fn shop_taking_cards(extra: &[&str]) -> TestApp {
    let base = localstripe_base();
    let stripe_js = format!("{base}/js.stripe.com/v3/");
    let mut args = vec![
        "--stripe-secret-key",
        SECRET_KEY,
        "--stripe-publishable-key",
        "pk_test_coffee_radar",
        "--stripe-webhook-secret",
        WEBHOOK_SECRET,
        "--stripe-api-base",
        base.as_str(),
        "--stripe-js-url",
        stripe_js.as_str(),
    ];
    args.extend_from_slice(extra);
    TestApp::spawn_with(&args).await
}

pub async fn shopper_with_mugs(app: &TestApp, username: &str, quantity: i64) -> Client {
    let client = app.signed_in(username).await;
    add_to_cart(app, &client, MUG, quantity).await;
    client
}

async fn card_order(app: &TestApp, client: &Client, key: &str) -> Value {
    let placed = client
        .post(app.url("/api/v1/orders"))
        .header("Idempotency-Key", key)
        .json(&json!({"payment_method": "stripe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    placed.json().await.unwrap()
}

async fn check(app: &TestApp, client: &Client, code: &str) -> Value {
    let answer = client
        .post(app.url(&format!("/api/v1/orders/{code}/payment/check")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

fn intent_of(order: &Value) -> PaymentIntentId {
    PaymentIntentId::parse(order["payment"]["payment_intent_id"].as_str().unwrap()).unwrap()
}

pub async fn mug_stock(app: &TestApp) -> i64 {
    let mug = get_json(&app.client(), app.url("/api/v1/products/1")).await;
    mug["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == MUG)
        .unwrap()["stock"]
        .as_i64()
        .unwrap()
}

/// Waits (at most half a minute: only so that a bug cannot hang the suite) until the
/// order's status is `status`.
async fn until_status(app: &TestApp, client: &Client, code: &str, status: &str) -> Value {
    for _ in 0..300 {
        let order = get_json(client, app.url(&format!("/api/v1/orders/{code}"))).await;
        if order["status"] == status {
            return order;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("order {code} never became {status}");
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn webhook(app: &TestApp, event: &Value, secret: &str) -> StatusCode {
    let body = serde_json::to_vec(event).unwrap();
    app.client()
        .post(app.url("/webhooks/stripe"))
        .header("Stripe-Signature", signature_header(secret, now(), &body))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

fn succeeded_event(id: &str, intent: &PaymentIntentId) -> Value {
    json!({
        "id": id,
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": intent.as_str(), "object": "payment_intent", "status": "succeeded"}},
    })
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn an_order_paid_by_card_is_paid_only_once_the_server_has_seen_it_succeed() {
    let app = shop_taking_cards(&[]).await;
    let shopper = shopper_with_mugs(&app, "cardholder", 2).await;
    let order = card_order(&app, &shopper, "card-1").await;
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["payment_method"], "stripe");
    assert_eq!(order["payment"]["provider"], "stripe");
    assert_eq!(order["payment"]["publishable_key"], "pk_test_coffee_radar");
    assert!(order["payment"]["client_secret"].as_str().unwrap().len() > 10);
    assert_eq!(
        mug_stock(&app).await,
        23,
        "the stock is held while it awaits payment"
    );
    let code = order["code"].as_str().unwrap();

    // Asking before paying changes nothing; the same request again gives the same intent.
    let unpaid = check(&app, &shopper, code).await;
    assert_eq!(unpaid["status"], "awaiting_payment");
    let again = card_order(&app, &shopper, "card-1").await;
    assert_eq!(again["code"], code);
    assert_eq!(intent_of(&again), intent_of(&order));

    assert!(
        pay_with_card(&intent_of(&order), SUCCEEDING_CARD)
            .await
            .is_success()
    );
    let paid = check(&app, &shopper, code).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(mug_stock(&app).await, 23);
    assert!(paid.get("payment").is_none(), "nothing left to pay");
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_declined_card_leaves_the_order_awaiting_payment_with_why_and_another_card_pays_it() {
    let app = shop_taking_cards(&[]).await;
    let shopper = shopper_with_mugs(&app, "unlucky", 1).await;
    let order = card_order(&app, &shopper, "declined-1").await;
    let code = order["code"].as_str().unwrap();
    let declined = pay_with_card(&intent_of(&order), DECLINED_CARD).await;
    assert_eq!(declined, StatusCode::PAYMENT_REQUIRED);

    let after = check(&app, &shopper, code).await;
    assert_eq!(after["status"], "awaiting_payment");
    assert_eq!(after["payment_error"], "Your card was declined.");
    let retry = intent_of(&after);
    assert_ne!(
        retry,
        intent_of(&order),
        "a declined intent cannot take another card"
    );

    assert!(pay_with_card(&retry, SUCCEEDING_CARD).await.is_success());
    let paid = check(&app, &shopper, code).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(paid["payment_error"], Value::Null);
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_signed_webhook_pays_the_order_a_forged_one_is_refused_and_a_replay_changes_nothing() {
    let app = shop_taking_cards(&[]).await;
    let shopper = shopper_with_mugs(&app, "hooked", 1).await;
    let order = card_order(&app, &shopper, "hook-1").await;
    let code = order["code"].as_str().unwrap();
    let intent = intent_of(&order);
    assert!(pay_with_card(&intent, SUCCEEDING_CARD).await.is_success());

    let event = succeeded_event(&format!("evt_{code}_1"), &intent);
    assert_eq!(
        webhook(&app, &event, "whsec_someone_else").await,
        StatusCode::BAD_REQUEST
    );
    let forged = get_json(&shopper, app.url(&format!("/api/v1/orders/{code}"))).await;
    assert_eq!(
        forged["status"], "awaiting_payment",
        "a bad signature changes nothing"
    );

    assert_eq!(webhook(&app, &event, WEBHOOK_SECRET).await, StatusCode::OK);
    let paid = get_json(&shopper, app.url(&format!("/api/v1/orders/{code}"))).await;
    assert_eq!(paid["status"], "paid");

    // Cancelled (and refunded), then the same event again: the order stays cancelled.
    let cancelled = shopper
        .post(app.url(&format!("/api/v1/orders/{code}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["refunded_cents"], cancelled["total_cents"]);
    let page = document(
        &shopper
            .get(app.url(&format!("/orders/{code}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(
        text_of(&page, ".refund").as_deref(),
        Some("Refunded $16.95 to your card.")
    );
    assert_eq!(webhook(&app, &event, WEBHOOK_SECRET).await, StatusCode::OK);
    let replayed = get_json(&shopper, app.url(&format!("/api/v1/orders/{code}"))).await;
    assert_eq!(replayed["status"], "cancelled");
    assert_eq!(mug_stock(&app).await, 25);
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn an_abandoned_order_is_released_after_its_hold_and_a_late_payment_takes_it_back() {
    let app =
        shop_taking_cards(&["--payment-hold-secs", "1", "--payment-reconcile-secs", "1"]).await;
    let shopper = shopper_with_mugs(&app, "slowpoke", 3).await;
    let order = card_order(&app, &shopper, "late-1").await;
    let code = order["code"].as_str().unwrap();
    assert_eq!(mug_stock(&app).await, 22);
    until_status(&app, &shopper, code, "cancelled").await;
    assert_eq!(mug_stock(&app).await, 25, "the stock came back");

    // The card goes through after all: the stock is still there, so the order comes back.
    assert!(
        pay_with_card(&intent_of(&order), SUCCEEDING_CARD)
            .await
            .is_success()
    );
    let revived = check(&app, &shopper, code).await;
    assert_eq!(revived["status"], "paid", "{revived}");
    assert_eq!(revived["refunded_cents"], 0);
    assert_eq!(mug_stock(&app).await, 22);
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_late_payment_whose_stock_was_sold_meanwhile_is_refunded_never_oversold() {
    let app =
        shop_taking_cards(&["--payment-hold-secs", "1", "--payment-reconcile-secs", "1"]).await;
    let late = shopper_with_mugs(&app, "dawdler", 2).await;
    let order = card_order(&app, &late, "sold-1").await;
    let code = order["code"].as_str().unwrap();
    until_status(&app, &late, code, "cancelled").await;

    // Meanwhile someone else buys every mug, paying on delivery.
    let quick = shopper_with_mugs(&app, "quick", 25).await;
    let bought = quick
        .post(app.url("/api/v1/orders"))
        .header("Idempotency-Key", "sold-2")
        .send()
        .await
        .unwrap();
    assert_eq!(bought.status(), StatusCode::CREATED);
    assert_eq!(mug_stock(&app).await, 0);

    assert!(
        pay_with_card(&intent_of(&order), SUCCEEDING_CARD)
            .await
            .is_success()
    );
    let refunded = check(&app, &late, code).await;
    assert_eq!(refunded["status"], "cancelled");
    assert_eq!(refunded["refunded_cents"], refunded["total_cents"]);
    assert_eq!(mug_stock(&app).await, 0, "never oversold");
}

#[tokio::test]
async fn without_card_settings_the_shop_takes_payment_on_delivery_only() {
    let app = TestApp::spawn().await;
    let shopper = shopper_with_mugs(&app, "cashonly", 1).await;
    let refused = shopper
        .post(app.url("/api/v1/orders"))
        .header("Idempotency-Key", "cash-1")
        .json(&json!({"payment_method": "stripe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("orders").await, 0);
    let hook = app
        .client()
        .post(app.url("/webhooks/stripe"))
        .header("Stripe-Signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), StatusCode::NOT_FOUND);
}
