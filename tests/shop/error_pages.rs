//! Refusals as a shopper meets them: a product or form that refuses shows why on the same
//! page, with what was typed; a whole error page still shows who is signed in.

use crate::common::{TestApp, attr_of, csrf_token, document, text_of};
use reqwest::{Client, StatusCode};
use scraper::Html;

/// A signed-in shopper ("Test") with one bag in the cart.
async fn shopper_with_a_bag(app: &TestApp) -> Client {
    let shopper = app.signed_in("nora").await;
    let csrf = csrf_token(&shopper, &app.url("/shop/coffee-radar-bag")).await;
    let bag = app.variant_of("Coffee Radar Bag").await.to_string();
    let added = shopper
        .post(app.url("/cart/items"))
        .form(&[("csrf", csrf.as_str()), ("variant_id", &bag)])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    shopper
}

fn assert_signed_in_with_one_item(page: &Html, what: &str) {
    let account = text_of(page, ".account").unwrap_or_default();
    assert!(account.contains("Hi, Test"), "{what}: {account}");
    assert!(!account.contains("Sign in"), "{what}: {account}");
    assert_eq!(
        text_of(page, ".cart-link .badge").as_deref(),
        Some("1"),
        "{what}"
    );
}

#[tokio::test]
async fn asking_for_more_than_the_stock_answers_the_product_page_with_the_shopper_signed_in() {
    let app = TestApp::spawn().await;
    let shopper = shopper_with_a_bag(&app).await;
    let mug = app.variant_of("Coffee Radar Mug").await;
    app.set_stock(mug, 3).await;
    let csrf = csrf_token(&shopper, &app.url("/shop/coffee-radar-mug")).await;

    let refused = shopper
        .post(app.url("/cart/items"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("variant_id", &mug.to_string()),
            ("quantity", "5"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let page = document(&refused.text().await.unwrap());
    assert_eq!(text_of(&page, "h1").as_deref(), Some("Coffee Radar Mug"));
    assert_eq!(
        text_of(&page, "#quantity-error").as_deref(),
        Some("Only 3 left in stock.")
    );
    assert_eq!(attr_of(&page, "#quantity", "value").as_deref(), Some("5"));
    assert_eq!(
        attr_of(&page, "#quantity", "aria-describedby").as_deref(),
        Some("quantity-error")
    );
    assert_eq!(
        attr_of(&page, "a.swatch[aria-current=true]", "data-color").as_deref(),
        Some("White"),
        "the colour asked for stays chosen"
    );
    assert_eq!(
        attr_of(
            &page,
            "fieldset.sizes:not([hidden]) input[checked]",
            "value"
        )
        .as_deref(),
        Some("200 ml"),
        "the size asked for stays chosen"
    );
    assert_signed_in_with_one_item(&page, "over-stock add");

    // Not a number: the same page, the same place.
    let typo = shopper
        .post(app.url("/cart/items"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("variant_id", &mug.to_string()),
            ("quantity", "two"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(typo.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = document(&typo.text().await.unwrap());
    assert!(
        text_of(&page, "#quantity-error")
            .unwrap()
            .contains("whole number")
    );
    assert_eq!(attr_of(&page, "#quantity", "value").as_deref(), Some("two"));
    assert_eq!(app.count("cart_items").await, 1, "only the bag");
}

#[tokio::test]
async fn a_cart_quantity_over_the_stock_is_refused_on_its_line_of_the_cart_page() {
    let app = TestApp::spawn().await;
    let shopper = shopper_with_a_bag(&app).await;
    let bag = app.variant_of("Coffee Radar Bag").await;
    app.set_stock(bag, 4).await;
    let csrf = csrf_token(&shopper, &app.url("/cart")).await;
    let change = |quantity: &'static str| {
        shopper
            .post(app.url(&format!("/cart/items/{bag}")))
            .form(&[("csrf", csrf.as_str()), ("quantity", quantity)])
            .send()
    };

    let refused = change("6").await.unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let page = document(&refused.text().await.unwrap());
    assert_eq!(text_of(&page, "h1").as_deref(), Some("Your cart"));
    let field = format!("#qty-{bag}");
    assert_eq!(
        text_of(&page, &format!("{field}-error")).as_deref(),
        Some("Only 4 left in stock.")
    );
    assert_eq!(attr_of(&page, &field, "value").as_deref(), Some("6"));
    assert_eq!(
        attr_of(&page, &field, "aria-invalid").as_deref(),
        Some("true")
    );
    assert_signed_in_with_one_item(&page, "cart");

    let typo = change("lots").await.unwrap();
    assert_eq!(typo.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = document(&typo.text().await.unwrap());
    assert_eq!(attr_of(&page, &field, "value").as_deref(), Some("lots"));

    assert_eq!(change("3").await.unwrap().status(), StatusCode::SEE_OTHER);
    let cart = crate::common::get_page(&shopper, app.url("/cart")).await;
    assert_eq!(attr_of(&cart, &field, "value").as_deref(), Some("3"));
}

#[tokio::test]
async fn error_pages_keep_the_shoppers_header() {
    let app = TestApp::spawn().await;
    let shopper = shopper_with_a_bag(&app).await;

    let missing = shopper
        .get(app.url("/shop/no-such-product"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let page = document(&missing.text().await.unwrap());
    assert_eq!(text_of(&page, ".error-page .code").as_deref(), Some("404"));
    assert_signed_in_with_one_item(&page, "404");

    let staff_only = shopper
        .get(app.url("/admin/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(staff_only.status(), StatusCode::FORBIDDEN);
    assert_signed_in_with_one_item(&document(&staff_only.text().await.unwrap()), "403");

    let forged = shopper
        .post(app.url("/cart/items"))
        .form(&[("csrf", "not-the-token"), ("variant_id", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let page = document(&forged.text().await.unwrap());
    assert_signed_in_with_one_item(&page, "refused form");
    assert!(
        attr_of(
            &page,
            "header form[action='/signout'] input[name=csrf]",
            "value"
        )
        .is_some_and(|token| !token.is_empty()),
        "signing out still works from an error page"
    );

    // A visitor who is not signed in still sees the sign-in links.
    let guest = app.client().get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(guest.status(), StatusCode::NOT_FOUND);
    assert!(
        text_of(&document(&guest.text().await.unwrap()), ".account")
            .unwrap()
            .contains("Sign in")
    );
}
