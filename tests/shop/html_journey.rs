//! The shopper journey through the HTML forms, with their CSRF tokens, as a browser
//! without JavaScript would do it.

use crate::common::{
    PASSWORD, TestApp, attr_of, count_of, csrf_token, document, get_page, location, png, text_of,
};
use reqwest::StatusCode;

#[tokio::test]
async fn a_shopper_walks_from_registration_to_order_history_with_forms() {
    let app = TestApp::spawn().await;
    let browser = app.client();

    // As a guest: put a mug in the cart first.
    let shop = get_page(&browser, app.url("/shop")).await;
    assert_eq!(text_of(&shop, "h1").as_deref(), Some("Shop"));
    assert_eq!(count_of(&shop, "article.product-card"), 5);
    assert_eq!(
        text_of(&shop, ".served-by").as_deref(),
        Some("Served by test-a1")
    );
    let product_html = browser
        .get(app.url("/shop/coffee-radar-mug"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let product = document(&product_html);
    assert_eq!(text_of(&product, "h1").as_deref(), Some("Coffee Radar Mug"));
    // The form sends the chosen colour and size, as a browser without script would.
    let field = |selector: &str| attr_of(&product, selector, "value").unwrap();
    let added = browser
        .post(app.url("/cart/items"))
        .form(&[
            ("csrf", field("input[name=csrf]")),
            ("product_id", field("input[name=product_id]")),
            ("color", field("input[name=color]")),
            ("size", field("fieldset.sizes:not([hidden]) input[checked]")),
            ("quantity", "2".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&added), "/cart");
    let cart = get_page(&browser, app.url("/cart")).await;
    assert_eq!(text_of(&cart, ".cart-link .badge").as_deref(), Some("2"));
    assert!(
        text_of(&cart, ".flash")
            .unwrap()
            .contains("Added to your cart")
    );

    // Register: the guest cart comes along.
    let csrf = csrf_token(&browser, &app.url("/register")).await;
    let registered = browser
        .post(app.url("/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "lucia"),
            ("email", "lucia@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
            ("first_name", "Lucía"),
            ("address", "Gran Vía 2\n28013 Madrid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    let cart = get_page(&browser, app.url("/cart")).await;
    assert_eq!(
        text_of(&cart, ".cart-link .badge").as_deref(),
        Some("2"),
        "the guest cart is carried over"
    );
    assert!(text_of(&cart, ".account").unwrap().contains("Lucía"));

    // Checkout: the name is prefilled from the profile, the rest is typed once.
    let checkout = get_page(&browser, app.url("/checkout")).await;
    assert_eq!(
        attr_of(&checkout, "input#name", "value").as_deref(),
        Some("Lucía")
    );
    let key = attr_of(&checkout, "input[name=idempotency_key]", "value").unwrap();
    let csrf = attr_of(&checkout, "input[name=csrf]", "value").unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("delivery_option", "1"),
        ("name", "Lucía Pérez"),
        ("line1", "Gran Vía 2"),
        ("city", "Madrid"),
        ("postal_code", "28013"),
        ("country", "ES"),
        ("save_address", "on"),
        ("action", "place"),
    ];
    let placed = browser
        .post(app.url("/checkout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::SEE_OTHER);
    let order_url = location(&placed);
    assert!(
        order_url.starts_with("/orders/") && order_url.len() == "/orders/".len() + 6,
        "{order_url}"
    );

    // Submitting the same form again (a double click) creates no second order.
    let again = browser
        .post(app.url("/checkout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&again), order_url);
    assert_eq!(app.count("orders").await, 1);

    let order = get_page(&browser, app.url(&order_url)).await;
    assert_eq!(text_of(&order, ".status").as_deref(), Some("placed"));
    assert_eq!(
        text_of(&order, ".totals .subtotal").as_deref(),
        Some("$24.00")
    );
    assert_eq!(
        text_of(&order, ".totals .delivery").as_deref(),
        Some("$4.95")
    );
    assert_eq!(text_of(&order, ".totals .total").as_deref(), Some("$28.95"));
    assert_eq!(
        text_of(&order, ".address").as_deref(),
        Some("Lucía Pérez\nGran Vía 2\n28013 Madrid\nSpain")
    );
    assert!(
        text_of(&order, ".flash")
            .unwrap()
            .contains("order is placed")
    );
    let history = get_page(&browser, app.url("/orders")).await;
    assert_eq!(
        attr_of(&history, "table.data a", "href").as_deref(),
        Some(order_url.as_str())
    );

    // Profile: picture upload (multipart, with the token) and details.
    let csrf = csrf_token(&browser, &app.url("/profile")).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "photo",
            reqwest::multipart::Part::bytes(png(300, 200))
                .file_name("me.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let uploaded = browser
        .post(app.url("/profile/photo"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let profile = get_page(&browser, app.url("/profile")).await;
    let avatar = attr_of(&profile, "img.avatar", "src").unwrap();
    assert_eq!(
        browser.get(app.url(&avatar)).send().await.unwrap().status(),
        StatusCode::OK
    );

    let saved = browser
        .post(app.url("/profile"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("first_name", "Lucy"),
            ("email", "lucy@example.com"),
            ("address", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let profile = get_page(&browser, app.url("/profile")).await;
    assert_eq!(
        attr_of(&profile, "#first_name", "value").as_deref(),
        Some("Lucy")
    );
    assert_eq!(text_of(&profile, "#address").as_deref(), Some(""));

    // Sign out.
    let csrf = csrf_token(&browser, &app.url("/profile")).await;
    let out = browser
        .post(app.url("/signout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let profile = browser.get(app.url("/profile")).send().await.unwrap();
    assert_eq!(location(&profile), "/signin?next=%2Fprofile");
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    csrf_token(&browser, &app.url("/register")).await;
    let form = [
        ("username", "mallory"),
        ("email", "m@example.com"),
        ("password", PASSWORD),
        ("first_name", "M"),
    ];
    let missing = browser
        .post(app.url("/register"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("did not come from this shop")
    );
    let mut forged = form.to_vec();
    forged.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let wrong = browser
        .post(app.url("/register"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let cross_site = browser
        .post(app.url("/register"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn signing_in_rotates_the_session_and_returns_to_the_page_asked_for() {
    let app = TestApp::spawn().await;
    app.signed_in("marta").await;
    let browser = app.client();
    // A guest session exists before signing in (the cart).
    let csrf = csrf_token(&browser, &app.url("/shop/coffee-radar-bag")).await;
    let variant = app.variant_of("Coffee Radar Bag").await.to_string();
    let added = browser
        .post(app.url("/cart/items"))
        .form(&[("csrf", csrf.as_str()), ("variant_id", &variant)])
        .send()
        .await
        .unwrap();
    let guest_cookie = added
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();

    let redirect = browser.get(app.url("/orders")).send().await.unwrap();
    assert_eq!(location(&redirect), "/signin?next=%2Forders");
    let page = get_page(&browser, app.url("/signin?next=%2Forders")).await;
    let csrf = attr_of(&page, "input[name=csrf]", "value").unwrap();
    let next = attr_of(&page, "input[name=next]", "value").unwrap();

    let wrong = browser
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "marta"),
            ("password", "nope"),
            ("next", &next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        text_of(&document(&wrong.text().await.unwrap()), ".flash--error")
            .unwrap()
            .contains("do not match")
    );

    let signed_in = browser
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "Marta"),
            ("password", PASSWORD),
            ("next", &next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&signed_in), "/orders");
    let cookies: Vec<_> = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("cr_session="))
        .unwrap();
    assert_ne!(
        session_cookie.split(';').next(),
        guest_cookie.split(';').next(),
        "a new session id at sign-in"
    );

    // An open redirect is not possible.
    let evil = browser
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "marta"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await;
    if let Ok(response) = evil {
        assert!(!location(&response).contains("evil"));
    }
}

#[tokio::test]
async fn cookies_are_secure_when_the_load_balancer_says_https() {
    let app = TestApp::spawn_with(&["--behind-proxy"]).await;
    let response = app
        .client()
        .get(app.url("/shop"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn pages_work_and_unknown_addresses_get_a_helpful_404_page() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    for path in [
        "/",
        "/shop",
        "/shop?category=Apparel",
        "/shop?q=mug",
        "/radar",
        "/radar?city=madrid",
        "/cart",
        "/signin",
        "/register",
        "/password/forgot",
    ] {
        let response = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["x-served-by"], "test-a1");
    }
    let apparel = get_page(&browser, app.url("/shop?category=Apparel")).await;
    assert_eq!(count_of(&apparel, "article.product-card"), 1);
    let search = get_page(&browser, app.url("/shop?q=MUG")).await;
    assert_eq!(
        text_of(&search, "article.product-card h2").as_deref(),
        Some("Coffee Radar Mug")
    );
    let radar = get_page(&browser, app.url("/radar?city=madrid")).await;
    assert!(count_of(&radar, "li.place") >= 3);
    assert!(
        text_of(&radar, "li.place .address")
            .unwrap()
            .contains("Madrid")
    );

    for path in ["/no-such-page", "/shop/no-such-product", "/orders/ABC"] {
        let response = browser.get(app.url(path)).send().await.unwrap();
        assert!(
            matches!(
                response.status(),
                StatusCode::NOT_FOUND | StatusCode::SEE_OTHER
            ),
            "{path}"
        );
    }
    let missing = browser
        .get(app.url("/shop/no-such-product"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = document(&missing.text().await.unwrap());
    assert_eq!(text_of(&page, ".error-page p").as_deref(), Some("404"));
}

#[tokio::test]
async fn forms_from_the_public_address_are_accepted_behind_a_cdn() {
    let app = TestApp::spawn_with(&["--public-url", "https://shop.example.com"]).await;
    let browser = app.client();
    let csrf = csrf_token(&browser, &app.url("/register")).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("username", "viewer"),
        ("email", "viewer@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
        ("first_name", "V"),
    ];
    // The CDN forwards the viewer's Origin while the Host is the origin server's own name.
    let via_cdn = browser
        .post(app.url("/register"))
        .header("origin", "https://shop.example.com")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(via_cdn.status(), StatusCode::SEE_OTHER);
    let elsewhere = browser
        .post(app.url("/register"))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
}
