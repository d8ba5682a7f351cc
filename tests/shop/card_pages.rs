//! Paying by card in the browser, as the pages do it with Stripe.js against localstripe:
//! checkout offers the card, the pay page loads Stripe.js (and only there may it), the
//! browser turns the card into a token and posts it, and the server confirms the payment
//! itself. Declined cards and 3-D Secure come back to the pay page.

use crate::card_checkout::{MUG, mug_stock, shop_taking_cards, shopper_with_mugs};
use crate::common::{
    TestApp, add_to_cart, attr_of, csrf_token, document, get_page, location, mail_text, text_of,
};
use crate::payments::{DECLINED_CARD, SUCCEEDING_CARD, localstripe_base};
use reqwest::{Client, StatusCode};
use serde_json::Value;

const PUBLISHABLE_KEY: &str = "pk_test_coffee_radar";
/// Stripe's test card that asks for 3-D Secure.
const AUTHENTICATED_CARD: &str = "4000002500003155";

/// What Stripe.js's `createToken(card)` does in the browser: the card goes to the
/// provider, with the publishable key, and a token comes back. Returns the id the page
/// posts (the token's card).
async fn card_from_browser(number: &str) -> String {
    let token: Value = reqwest::Client::new()
        .post(format!("{}/v1/tokens", localstripe_base()))
        .form(&[
            ("card[number]", number),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2040"),
            ("card[cvc]", "123"),
            ("key", PUBLISHABLE_KEY),
        ])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    token["card"]["id"].as_str().unwrap().to_owned()
}

/// Places the cart as a card order through the checkout page (with `extra` fields, such as
/// a guest's email); returns the order code.
async fn card_checkout(app: &TestApp, shopper: &Client, extra: &[(&str, &str)]) -> String {
    let checkout = get_page(shopper, app.url("/checkout")).await;
    assert!(
        attr_of(
            &checkout,
            "input[name=payment_method][value=stripe]",
            "value"
        )
        .is_some(),
        "checkout offers the card when the shop takes cards"
    );
    let csrf = attr_of(&checkout, "input[name=csrf]", "value").unwrap();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("idempotency_key", "page-card-1"),
        ("name", "Ana García"),
        ("line1", "Calle Mayor 1"),
        ("city", "Madrid"),
        ("postal_code", "28013"),
        ("country", "ES"),
        ("payment_method", "stripe"),
        ("action", "place"),
    ];
    form.extend_from_slice(extra);
    let placed = shopper
        .post(app.url("/checkout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::SEE_OTHER);
    let to = location(&placed);
    let code = to
        .strip_prefix("/orders/")
        .and_then(|rest| rest.strip_suffix("/pay"))
        .unwrap_or_else(|| panic!("a card order goes to its pay page, not {to}"));
    code.to_owned()
}

async fn pay(app: &TestApp, shopper: &Client, code: &str, card: &str) -> reqwest::Response {
    let csrf = csrf_token(shopper, &app.url(&format!("/orders/{code}/pay"))).await;
    shopper
        .post(app.url(&format!("/orders/{code}/pay")))
        .form(&[("csrf", csrf.as_str()), ("payment_method", card)])
        .send()
        .await
        .unwrap()
}

/// Pays the order with a test card, as the pay page does.
async fn pay_by(app: &TestApp, shopper: &Client, code: &str, number: &str) -> reqwest::Response {
    pay(app, shopper, code, &card_from_browser(number).await).await
}

/// The status its page shows the order in.
async fn order_status(app: &TestApp, shopper: &Client, code: &str) -> String {
    let page = get_page(shopper, app.url(&format!("/orders/{code}"))).await;
    text_of(&page, ".status").unwrap_or_default()
}

fn csp(response: &reqwest::Response) -> String {
    response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_card_order_is_paid_on_its_pay_page_with_stripe_js_allowed_there_only() {
    let app = shop_taking_cards(&[]).await;
    let shopper = shopper_with_mugs(&app, "pagepayer", 2).await;
    let code = card_checkout(&app, &shopper, &[]).await;
    assert_eq!(mug_stock(&app).await, 23, "held while it awaits payment");

    let order_page = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    assert_eq!(
        attr_of(&order_page, "a.pay", "href").as_deref(),
        Some(format!("/orders/{code}/pay").as_str()),
        "the order page leads to paying it"
    );

    let pay_page = shopper
        .get(app.url(&format!("/orders/{code}/pay")))
        .send()
        .await
        .unwrap();
    assert_eq!(pay_page.status(), StatusCode::OK);
    let base = localstripe_base();
    let policy = csp(&pay_page);
    assert!(
        policy.contains(&format!("script-src 'self' {base}")),
        "{policy}"
    );
    assert!(
        policy.contains(&format!("connect-src 'self' {base}")),
        "{policy}"
    );
    let html = document(&pay_page.text().await.unwrap());
    assert_eq!(
        attr_of(&html, "script[src*=stripe]", "src").unwrap(),
        format!("{base}/js.stripe.com/v3/")
    );
    assert_eq!(
        attr_of(&html, "#pay-form", "data-publishable-key").as_deref(),
        Some(PUBLISHABLE_KEY)
    );
    // Two mugs and Standard delivery.
    assert_eq!(text_of(&html, ".pay-total").as_deref(), Some("$28.95"));

    let shop = app.client().get(app.url("/shop")).send().await.unwrap();
    assert!(
        !csp(&shop).contains(&base),
        "other pages do not allow the provider's scripts"
    );

    let paid = pay_by(&app, &shopper, &code, SUCCEEDING_CARD).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&paid), format!("/orders/{code}"));
    let order_page = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    assert_eq!(text_of(&order_page, ".status").as_deref(), Some("paid"));
    assert_eq!(
        text_of(&order_page, ".paid-by").as_deref(),
        Some("Paid by card.")
    );
    assert_eq!(mug_stock(&app).await, 23);

    let again = shopper
        .get(app.url(&format!("/orders/{code}/pay")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "nothing left to pay");
    assert_eq!(location(&again), format!("/orders/{code}"));
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_declined_card_comes_back_to_the_pay_page_with_why_and_another_card_pays() {
    let app = shop_taking_cards(&[]).await;
    let shopper = shopper_with_mugs(&app, "pagedeclined", 1).await;
    let code = card_checkout(&app, &shopper, &[]).await;

    let declined = pay_by(&app, &shopper, &code, DECLINED_CARD).await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    let page = document(&declined.text().await.unwrap());
    assert_eq!(
        text_of(&page, ".payment-error").as_deref(),
        Some("Your card was declined.")
    );
    assert!(
        attr_of(&page, "#pay-form", "action").is_some(),
        "the form is there to try again"
    );

    let paid = pay_by(&app, &shopper, &code, SUCCEEDING_CARD).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    assert_eq!(order_status(&app, &shopper, &code).await, "paid");
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_card_that_asks_for_3d_secure_is_authenticated_in_the_browser_then_checked() {
    let app = shop_taking_cards(&[]).await;
    let shopper = shopper_with_mugs(&app, "pagesecure", 1).await;
    let code = card_checkout(&app, &shopper, &[]).await;

    let asked = pay_by(&app, &shopper, &code, AUTHENTICATED_CARD).await;
    assert_eq!(asked.status(), StatusCode::OK);
    let page = document(&asked.text().await.unwrap());
    assert_eq!(
        attr_of(&page, "#pay-form", "data-stage").as_deref(),
        Some("authenticate")
    );
    let secret = attr_of(&page, "#pay-form", "data-client-secret").unwrap();
    let checked_at = attr_of(&page, "#payment-check", "action").unwrap();
    assert_eq!(checked_at, format!("/orders/{code}/payment/check"));

    // What Stripe.js's confirmCardPayment does when the shopper completes 3-D Secure.
    let intent = secret.split("_secret_").next().unwrap();
    reqwest::Client::new()
        .post(format!(
            "{}/v1/payment_intents/{intent}/_authenticate?success=true",
            localstripe_base()
        ))
        .json(&serde_json::json!({"key": PUBLISHABLE_KEY, "client_secret": secret}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();

    let csrf = attr_of(&page, "#payment-check input[name=csrf]", "value").unwrap();
    let checked = shopper
        .post(app.url(&checked_at))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(checked.status(), StatusCode::SEE_OTHER);
    assert_eq!(order_status(&app, &shopper, &code).await, "paid");
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn nobody_else_can_open_or_pay_an_order_and_a_made_up_card_is_refused() {
    let app = shop_taking_cards(&[]).await;
    let shopper = shopper_with_mugs(&app, "pageowner", 1).await;
    let code = card_checkout(&app, &shopper, &[]).await;
    let stranger = app.signed_in("pagestranger").await;

    let peek = stranger
        .get(app.url(&format!("/orders/{code}/pay")))
        .send()
        .await
        .unwrap();
    assert_eq!(peek.status(), StatusCode::NOT_FOUND);
    let csrf = csrf_token(&stranger, &app.url("/cart")).await;
    let card = card_from_browser(SUCCEEDING_CARD).await;
    let pay_for = stranger
        .post(app.url(&format!("/orders/{code}/pay")))
        .form(&[("csrf", csrf.as_str()), ("payment_method", card.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(pay_for.status(), StatusCode::NOT_FOUND);

    let made_up = pay(&app, &shopper, &code, "card'; DROP TABLE orders; --").await;
    assert_eq!(made_up.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = document(&made_up.text().await.unwrap());
    assert!(text_of(&page, ".payment-error").is_some());
    assert_eq!(
        app.stock_of(MUG).await,
        24,
        "still held, nothing else changed"
    );
}

#[tokio::test]
async fn without_card_settings_there_is_no_card_choice_and_no_pay_page() {
    let app = TestApp::spawn().await;
    let shopper = shopper_with_mugs(&app, "pagecash", 1).await;
    let checkout = get_page(&shopper, app.url("/checkout")).await;
    assert!(
        attr_of(
            &checkout,
            "input[name=payment_method][value=stripe]",
            "value"
        )
        .is_none()
    );
    let order: Value = shopper
        .post(app.url("/api/v1/orders"))
        .header("Idempotency-Key", "page-cash-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = order["code"].as_str().unwrap();
    let pay_page = shopper
        .get(app.url(&format!("/orders/{code}/pay")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        pay_page.status(),
        StatusCode::SEE_OTHER,
        "nothing to pay by card"
    );
    assert_eq!(location(&pay_page), format!("/orders/{code}"));
}

#[tokio::test]
#[ignore = "needs localstripe: TEST_STRIPE_API_BASE"]
async fn a_guest_pays_by_card_without_an_account() {
    let app = shop_taking_cards(&[]).await;
    let guest = app.client();
    add_to_cart(&app, &guest, MUG, 1).await;
    let code = card_checkout(&app, &guest, &[("email", "cardguest@example.test")]).await;
    let paid = pay_by(&app, &guest, &code, SUCCEEDING_CARD).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let order_page = get_page(&guest, app.url(&location(&paid))).await;
    assert_eq!(text_of(&order_page, ".status").as_deref(), Some("paid"));
    let paid_mail = app.mails_about("is paid", 1).await;
    assert!(paid_mail[0].contains("To: cardguest@example.test"));
    assert!(
        mail_text(&paid_mail[0])
            .contains("The link in your order confirmation mail opens your order."),
        "later news sends the guest to the confirmation's link, not to a page they cannot open"
    );
}
