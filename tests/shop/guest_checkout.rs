//! Checking out without an account: an email instead, and the order page reached through
//! the link in the confirmation mail, which nobody without it can open.

use crate::common::{
    TestApp, add_to_cart, attr_of, csrf_token, document, get_page, location, mail_text, text_of,
};
use reqwest::{Client, StatusCode};

/// The mug, White 200 ml: $12.00, 25 in stock.
const MUG: i64 = 1;

async fn guest_with_mugs(app: &TestApp, quantity: i64) -> Client {
    let guest = app.client();
    add_to_cart(app, &guest, MUG, quantity).await;
    guest
}

/// The checkout form as a guest fills it in.
pub(crate) fn guest_form<'a>(csrf: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("idempotency_key", "guest-1"),
        ("email", email),
        ("name", "Ana García"),
        ("line1", "Calle Mayor 1"),
        ("city", "Madrid"),
        ("postal_code", "28013"),
        ("country", "ES"),
        ("action", "place"),
    ]
}

/// The order link in a mail.
fn order_link(mail: &str, app: &TestApp) -> String {
    let mail = mail_text(mail);
    let start = mail
        .find(&app.url("/orders/"))
        .expect("the mail links to the order");
    mail[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

#[tokio::test]
async fn a_guest_checks_out_with_an_email_and_opens_the_order_from_the_mail_link() {
    let app = TestApp::spawn().await;
    let guest = guest_with_mugs(&app, 2).await;

    let checkout = guest.get(app.url("/checkout")).send().await.unwrap();
    assert_eq!(checkout.status(), StatusCode::OK, "no account needed");
    let page = document(&checkout.text().await.unwrap());
    assert!(attr_of(&page, "input[name=email]", "name").is_some());
    assert_eq!(
        attr_of(&page, "a.sign-in-instead", "href").as_deref(),
        Some("/signin?next=%2Fcheckout")
    );

    let csrf = csrf_token(&guest, &app.url("/checkout")).await;
    let without = guest
        .post(app.url("/checkout"))
        .form(&guest_form(&csrf, "not an email"))
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = document(&without.text().await.unwrap());
    assert!(text_of(&page, "#email + .field-error").is_some());
    assert_eq!(
        attr_of(&page, "#line1", "value").as_deref(),
        Some("Calle Mayor 1"),
        "what was typed is kept"
    );
    assert_eq!(app.count("orders").await, 0);

    let placed = guest
        .post(app.url("/checkout"))
        .form(&guest_form(&csrf, "ana@example.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::SEE_OTHER);
    // The browser that placed it sees the order (its guest session placed it).
    let to = location(&placed);
    assert!(to.starts_with("/orders/"), "{to}");
    let order = get_page(&guest, app.url(&to)).await;
    assert_eq!(text_of(&order, ".status").as_deref(), Some("placed"));
    assert_eq!(text_of(&order, ".totals .total").as_deref(), Some("$28.95"));
    assert_eq!(app.stock_of(MUG).await, 23);
    let cart = get_page(&guest, app.url("/cart")).await;
    assert_eq!(text_of(&cart, ".cart-link .badge").as_deref(), Some("0"));

    let mails = app.mails_about("Coffee Radar order", 1).await;
    assert_eq!(mails.len(), 1, "one confirmation");
    assert!(mails[0].contains("To: ana@example.test"), "{}", mails[0]);
    let link = order_link(&mails[0], &app);
    assert!(link.contains(&format!("{to}?key=")), "{link}");

    // The link opens the order anywhere, for anyone who has it: a new browser, say.
    let elsewhere = get_page(&app.client(), link.as_str()).await;
    assert_eq!(
        text_of(&elsewhere, ".order-code"),
        text_of(&order, ".order-code")
    );

    let code = text_of(&order, ".order-code").unwrap();
    let stranger = app.client();
    let no_key = stranger
        .get(app.url(&format!("/orders/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_key.status(),
        StatusCode::SEE_OTHER,
        "to the sign-in page"
    );
    let wrong_key = stranger
        .get(app.url(&format!(
            "/orders/{code}?key=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), StatusCode::NOT_FOUND);
    let signed_in = app.signed_in("nosy").await;
    let other = signed_in
        .get(app.url(&format!("/orders/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "not somebody else's");

    // The guest may cancel from the page the link opens, after saying yes.
    let fresh = app.client();
    let order_page = get_page(&fresh, link.as_str()).await;
    let ask = attr_of(&order_page, "a.cancel-order", "href").unwrap();
    assert!(ask.contains("?key="), "the question keeps the key: {ask}");
    let page = get_page(&fresh, app.url(&ask)).await;
    let action = attr_of(&page, "form.cancel", "action").unwrap();
    assert!(action.contains("?key="), "the form keeps the key: {action}");
    let csrf = attr_of(&page, "form.cancel input[name=csrf]", "value").unwrap();
    let cancelled = fresh
        .post(app.url(&action))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    let page = get_page(&fresh, link.as_str()).await;
    assert_eq!(text_of(&page, ".status").as_deref(), Some("cancelled"));
    assert_eq!(app.stock_of(MUG).await, 25, "the stock came back");
}

#[tokio::test]
async fn a_guest_checkout_replayed_with_its_key_places_one_order() {
    let app = TestApp::spawn().await;
    let guest = guest_with_mugs(&app, 1).await;
    let csrf = csrf_token(&guest, &app.url("/checkout")).await;
    let form = guest_form(&csrf, "twice@example.test");
    let first = guest
        .post(app.url("/checkout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let again = guest
        .post(app.url("/checkout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&first), location(&again), "the same order");
    assert_eq!(app.count("orders").await, 1);
}
