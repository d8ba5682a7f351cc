//! The Stripe client against localstripe, a stateful fake of Stripe's API that test.sh
//! starts on loopback (scripts/localstripe.sh) and names in TEST_STRIPE_API_BASE; without
//! it these tests are ignored. Payments are made as the shopper's browser makes them with
//! Stripe.js. The tests for a provider that cannot be reached need no server and always run.

use std::time::Duration;

use coffee_radar::config::StripeConfig;
use coffee_radar::domain::{Cents, OrderCode};
use coffee_radar::payments::{
    PaymentError, PaymentIntent, PaymentIntentId, PaymentIntentStatus, RefundStatus, StripeClient,
};
use reqwest::StatusCode;

pub const SECRET_KEY: &str = "sk_test_coffee_radar";
pub const SUCCEEDING_CARD: &str = "4242424242424242";
/// Stripe's test card that is declined when the payment is confirmed.
pub const DECLINED_CARD: &str = "4000000000000341";

fn config(api_base: &str, timeout: Duration) -> StripeConfig {
    StripeConfig {
        secret_key: SECRET_KEY.into(),
        publishable_key: "pk_test_coffee_radar".into(),
        webhook_secret: "whsec_coffee_radar".into(),
        api_base: api_base.parse().expect("a URL"),
        js_url: "https://js.stripe.com/v3/".parse().expect("a URL"),
        currency: "usd".into(),
        timeout,
        webhook_tolerance: Duration::from_secs(300),
    }
}

pub fn localstripe_base() -> String {
    std::env::var("TEST_STRIPE_API_BASE")
        .expect("TEST_STRIPE_API_BASE: localstripe's URL (scripts/localstripe.sh start DIR)")
}

fn localstripe() -> StripeClient {
    StripeClient::new(&config(&localstripe_base(), Duration::from_secs(10))).unwrap()
}

/// A key no earlier run has used (localstripe keeps its state for the whole of test.sh).
fn fresh_idempotency_key() -> String {
    format!(
        "test-{}{}",
        OrderCode::generate().as_str(),
        OrderCode::generate().as_str()
    )
}

/// A PaymentIntent for a new order.
async fn new_intent(stripe: &StripeClient, cents: i64) -> PaymentIntent {
    stripe
        .create_payment_intent(
            Cents::new(cents),
            &OrderCode::generate(),
            &fresh_idempotency_key(),
        )
        .await
        .unwrap()
}

fn assert_try_again<T: std::fmt::Debug>(result: Result<T, PaymentError>) {
    assert!(
        matches!(result, Err(PaymentError::Unavailable(_))),
        "expected a try-again error, got {result:?}"
    );
}

/// What Stripe.js does in the shopper's browser: a card PaymentMethod, set on the intent,
/// then the confirmation. Returns the confirmation's status.
pub async fn pay_with_card(intent: &PaymentIntentId, number: &str) -> StatusCode {
    let http = reqwest::Client::new();
    let base = localstripe_base();
    let method: serde_json::Value = http
        .post(format!("{base}/v1/payment_methods"))
        .basic_auth(SECRET_KEY, None::<&str>)
        .form(&[
            ("type", "card"),
            ("card[number]", number),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2040"),
            ("card[cvc]", "123"),
        ])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    http.post(format!("{base}/v1/payment_intents/{intent}"))
        .basic_auth(SECRET_KEY, None::<&str>)
        .form(&[("payment_method", method["id"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    http.post(format!("{base}/v1/payment_intents/{intent}/confirm"))
        .basic_auth(SECRET_KEY, None::<&str>)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_new_payment_intent_awaits_a_card_and_carries_the_order_code() {
    let stripe = localstripe();
    let order = OrderCode::generate();
    let created = stripe
        .create_payment_intent(Cents::new(1250), &order, &fresh_idempotency_key())
        .await
        .unwrap();
    assert_eq!(created.status, PaymentIntentStatus::RequiresPaymentMethod);
    assert_eq!(created.amount, Cents::new(1250));
    assert_eq!(created.currency, "usd");
    assert_eq!(created.order_code, Some(order));
    assert!(created.client_secret.starts_with(created.id.as_str()));
    assert_eq!(created.last_error, None);

    let retrieved = stripe.retrieve_payment_intent(&created.id).await.unwrap();
    assert_eq!(retrieved, created);
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn an_intent_paid_with_the_4242_card_is_retrieved_as_succeeded() {
    let stripe = localstripe();
    let intent = new_intent(&stripe, 890).await;

    assert_eq!(
        pay_with_card(&intent.id, SUCCEEDING_CARD).await,
        StatusCode::OK
    );

    let paid = stripe.retrieve_payment_intent(&intent.id).await.unwrap();
    assert_eq!(paid.status, PaymentIntentStatus::Succeeded);
    assert_eq!(paid.amount, Cents::new(890));
    assert_eq!(paid.last_error, None);
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_declined_card_leaves_the_intent_awaiting_a_card_with_the_providers_message() {
    let stripe = localstripe();
    let intent = new_intent(&stripe, 890).await;

    assert_eq!(
        pay_with_card(&intent.id, DECLINED_CARD).await,
        StatusCode::PAYMENT_REQUIRED
    );

    let declined = stripe.retrieve_payment_intent(&intent.id).await.unwrap();
    assert_eq!(declined.status, PaymentIntentStatus::RequiresPaymentMethod);
    assert_eq!(
        declined.last_error.as_deref(),
        Some("Your card was declined.")
    );
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_succeeded_intent_is_refunded_whole() {
    let stripe = localstripe();
    let intent = new_intent(&stripe, 2400).await;
    pay_with_card(&intent.id, SUCCEEDING_CARD).await;

    let refund = stripe
        .refund_payment_intent(&intent.id, &fresh_idempotency_key())
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount, Cents::new(2400));
    assert!(refund.id.starts_with("re_"), "{}", refund.id);
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn what_the_provider_refuses_comes_back_with_its_message() {
    let stripe = localstripe();
    let intent = new_intent(&stripe, 890).await;
    pay_with_card(&intent.id, DECLINED_CARD).await;

    let refused = stripe
        .refund_payment_intent(&intent.id, &fresh_idempotency_key())
        .await
        .unwrap_err();
    match refused {
        PaymentError::Refused {
            status, message, ..
        } => {
            assert_eq!(status, 400);
            assert_eq!(message, "Cannot refund a failed payment.");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn the_same_idempotency_key_gives_the_same_intent_and_another_key_a_new_one() {
    let stripe = localstripe();
    let order = OrderCode::generate();
    let key = fresh_idempotency_key();
    let first = stripe
        .create_payment_intent(Cents::new(1250), &order, &key)
        .await
        .unwrap();
    let again = stripe
        .create_payment_intent(Cents::new(1250), &order, &key)
        .await
        .unwrap();
    assert_eq!(again.id, first.id);

    let other = stripe
        .create_payment_intent(Cents::new(1250), &order, &fresh_idempotency_key())
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
}

#[tokio::test]
async fn a_provider_that_never_answers_is_a_try_again_error_after_the_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", silent.local_addr().unwrap());
    // Accepts connections and keeps them open without a word.
    let keeper = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            open.push(connection);
        }
    });
    let stripe = StripeClient::new(&config(&base, Duration::from_millis(300))).unwrap();

    let result = stripe
        .create_payment_intent(Cents::new(1250), &OrderCode::generate(), "key-1")
        .await;

    assert_try_again(result);
    keeper.abort();
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_a_try_again_error() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let stripe = StripeClient::new(&config(&base, Duration::from_secs(5))).unwrap();

    let id = PaymentIntentId::parse("pi_123").unwrap();
    assert_try_again(stripe.retrieve_payment_intent(&id).await);
}
