//! The account pages as a shopper meets them: signing in comes back to the page they were
//! on, a new password is typed twice, a spent reset link says what happened, and the
//! header offers only what the visitor can use.

use crate::common::{
    PASSWORD, TestApp, attr_of, choose_password, count_of, csrf_token, document, get_page,
    location, text_of,
};
use reqwest::StatusCode;

#[tokio::test]
async fn signing_in_or_registering_from_the_header_comes_back_to_the_page_the_visitor_was_on() {
    let app = TestApp::spawn().await;
    app.signed_in("pia").await;
    let browser = app.client();

    let shop = get_page(&browser, app.url("/shop?q=mug&sort=name")).await;
    let sign_in = attr_of(&shop, ".account a[href^='/signin']", "href").unwrap();
    assert_eq!(sign_in, "/signin?next=%2Fshop%3Fq%3Dmug%26sort%3Dname");
    let form = get_page(&browser, app.url(&sign_in)).await;
    let csrf = attr_of(&form, "input[name=csrf]", "value").unwrap();
    let next = attr_of(&form, "input[name=next]", "value").unwrap();
    let signed_in = browser
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "pia"),
            ("password", PASSWORD),
            ("next", &next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&signed_in), "/shop?q=mug&sort=name");

    // Registering from a product page comes back to it too.
    let newcomer = app.client();
    let product = get_page(&newcomer, app.url("/shop/coffee-radar-bag")).await;
    let register = attr_of(&product, ".account a[href^='/register']", "href").unwrap();
    assert_eq!(register, "/register?next=%2Fshop%2Fcoffee-radar-bag");
    let form = get_page(&newcomer, app.url(&register)).await;
    let csrf = attr_of(&form, "input[name=csrf]", "value").unwrap();
    let next = attr_of(&form, "input[name=next]", "value").unwrap();
    let registered = newcomer
        .post(app.url("/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "newcomer"),
            ("email", "newcomer@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
            ("first_name", "New"),
            ("next", &next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&registered), "/shop/coffee-radar-bag");

    // The account pages themselves do not send the visitor back to them.
    let page = get_page(&app.client(), app.url("/signin")).await;
    assert_eq!(
        attr_of(&page, ".account a[href^='/signin']", "href").as_deref(),
        Some("/signin")
    );
}

#[tokio::test]
async fn the_profile_link_is_only_for_visitors_who_are_signed_in() {
    let app = TestApp::spawn().await;
    let guest = get_page(&app.client(), app.url("/")).await;
    assert_eq!(count_of(&guest, "header a[href='/profile']"), 0);
    let shopper = app.signed_in("quinn").await;
    let home = get_page(&shopper, app.url("/")).await;
    assert_eq!(count_of(&home, "header a[href='/profile']"), 1);
}

#[tokio::test]
async fn registering_asks_for_the_password_twice_and_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let csrf = csrf_token(&browser, &app.url("/register")).await;
    let refused = browser
        .post(app.url("/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "rosa"),
            ("email", "rosa@example.com"),
            ("password", PASSWORD),
            ("password_confirm", "correct horse 24"),
            ("first_name", "Rosa"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = document(&refused.text().await.unwrap());
    assert!(
        text_of(&page, "#password_confirm-error")
            .unwrap()
            .contains("not the same")
    );
    assert_eq!(
        attr_of(&page, "#password_confirm", "aria-invalid").as_deref(),
        Some("true")
    );
    assert_eq!(
        attr_of(&page, "#username", "value").as_deref(),
        Some("rosa")
    );
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn a_reset_asks_for_the_password_twice_and_a_spent_link_explains_itself() {
    let app = TestApp::spawn().await;
    app.signed_in("sara").await;
    let browser = app.client();
    let link = app.mailed_reset_link(&browser, "sara@example.com").await;
    let csrf = csrf_token(&browser, &app.url(&link)).await;

    let form = get_page(&browser, app.url(&link)).await;
    assert_eq!(count_of(&form, "input[type=password]"), 2);
    let different = choose_password(
        &browser,
        &app.url(&link),
        &csrf,
        "a brand new secret",
        "a brand new secert",
    )
    .await;
    assert_eq!(different.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = document(&different.text().await.unwrap());
    assert!(
        text_of(&page, "#password_confirm-error")
            .unwrap()
            .contains("not the same")
    );

    let reset = choose_password(
        &browser,
        &app.url(&link),
        &csrf,
        "a brand new secret",
        "a brand new secret",
    )
    .await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);

    for again in [
        browser.get(app.url(&link)).send().await.unwrap(),
        choose_password(
            &browser,
            &app.url(&link),
            &csrf,
            "yet another secret",
            "yet another secret",
        )
        .await,
    ] {
        assert_eq!(again.status(), StatusCode::NOT_FOUND);
        let page = document(&again.text().await.unwrap());
        assert_eq!(
            text_of(&page, "h1").as_deref(),
            Some("This reset link no longer works")
        );
        assert!(text_of(&page, "main").unwrap().contains("already used"));
        assert_eq!(
            attr_of(&page, "main a.button--primary", "href").as_deref(),
            Some("/password/forgot")
        );
    }
}
