//! Forgot password: a single-use link by mail that never reveals whether an account exists.

use crate::common::{PASSWORD, TestApp, choose_password, csrf_token, location, reset_link};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_password_reset_works_once_from_the_mailed_link() {
    let app = TestApp::spawn().await;
    app.signed_in("nora").await;
    let browser = app.client();

    let csrf = csrf_token(&browser, &app.url("/password/forgot")).await;
    let asked = browser
        .post(app.url("/password/forgot"))
        .form(&[("csrf", csrf.as_str()), ("email", "Nora@Example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let unknown = browser
        .post(app.url("/password/forgot"))
        .form(&[("csrf", csrf.as_str()), ("email", "ghost@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        asked.status(),
        "the answer is the same for an unknown address"
    );
    assert_eq!(location(&unknown), location(&asked));

    let mails = app.mails_about("Reset your Coffee Radar password", 1).await;
    assert_eq!(mails.len(), 1, "only the real account gets mail");
    assert!(mails[0].contains("To: nora@example.com"));
    let link = reset_link(&mails[0]);

    let form = browser.get(app.url(&link)).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let csrf = csrf_token(&browser, &app.url(&link)).await;
    let too_short = choose_password(&browser, &app.url(&link), &csrf, "short", "short").await;
    assert_eq!(too_short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let reset = choose_password(
        &browser,
        &app.url(&link),
        &csrf,
        "a brand new secret",
        "a brand new secret",
    )
    .await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);

    let reused = choose_password(
        &browser,
        &app.url(&link),
        &csrf,
        "yet another secret",
        "yet another secret",
    )
    .await;
    assert_eq!(
        reused.status(),
        StatusCode::NOT_FOUND,
        "the link works once"
    );
    assert_eq!(
        browser.get(app.url(&link)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let sign_in = |password: &'static str| {
        app.client()
            .post(app.url("/api/v1/sessions"))
            .json(&json!({"username": "nora", "password": password}))
            .send()
    };
    assert_eq!(
        sign_in("a brand new secret").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        sign_in(PASSWORD).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in("yet another secret").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let forged = browser
        .get(app.url("/password/reset/not-a-real-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("oscar").await;
    let csrf = csrf_token(&client, &app.url("/profile")).await;
    let wrong = client
        .post(app.url("/profile/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", "guess"),
            ("new_password", "new secret 123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let right = client
        .post(app.url("/profile/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "new secret 123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let again = app
        .client()
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"username": "oscar", "password": "new secret 123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn deleting_the_account_keeps_its_orders_for_the_books() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("paula").await;
    let variant = app.variant_of("Coffee maker").await;
    client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    client
        .post(app.url("/api/v1/orders"))
        .header("idempotency-key", "p1")
        .send()
        .await
        .unwrap();
    let csrf = csrf_token(&client, &app.url("/profile")).await;
    let wrong = client
        .post(app.url("/profile/delete"))
        .form(&[("csrf", csrf.as_str()), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("users").await, 1);
    let deleted = client
        .post(app.url("/profile/delete"))
        .form(&[("csrf", csrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn how_long_a_sign_in_and_a_reset_link_last_are_settings() {
    let app = TestApp::spawn_with(&["--session-secs", "2", "--reset-link-secs", "2"]).await;
    let client = app.signed_in("brief").await;
    let me = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    let browser = app.client();
    let link = app.url(&app.mailed_reset_link(&browser, "brief@example.com").await);
    let mail = app.mails_about("Reset your Coffee Radar password", 1).await;
    assert!(
        crate::common::mail_text(&mail[0]).contains("the link works once, for 2 seconds"),
        "the mail says how long the link works"
    );
    let signing_in = app
        .client()
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "username": "brief", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = signing_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("cr_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(
        cookie.contains("Max-Age=2"),
        "the cookie lasts as the session: {cookie}"
    );

    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let expired = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(
        expired.status(),
        StatusCode::UNAUTHORIZED,
        "the sign-in ran out"
    );
    let late = browser.get(&link).send().await.unwrap();
    assert_eq!(late.status(), StatusCode::NOT_FOUND, "the link ran out");
}
