//! Bad input gets a clear 4xx with a message and changes nothing: never a 500.

use crate::common::{TestApp, attr_of, csrf_token, document, get_json, png};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("errors are JSON");
    (
        status,
        body["error"].as_str().expect("an error message").to_owned(),
    )
}

#[tokio::test]
async fn malformed_and_mistyped_json_is_refused_with_a_message() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("eve").await;
    let cases: Vec<(&str, &str, StatusCode)> = vec![
        ("/api/v1/users", "{\"username\": ", StatusCode::BAD_REQUEST),
        (
            "/api/v1/users",
            "[1, 2, 3]",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/users",
            "{\"username\": 5, \"email\": [], \"password\": null, \"first_name\": {}}",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/sessions",
            "not json at all",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/cart/items",
            "{\"variant_id\": \"1\", \"quantity\": 1}",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/cart/items",
            "{\"variant_id\": 1, \"quantity\": 1.5}",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/cart/items",
            "{\"variant_id\": 99999999999999999999, \"quantity\": 1}",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (path, body, expected) in cases {
        let response = client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, message) = error_of(response).await;
        assert_eq!(status, expected, "{path} {body}: {message}");
        assert!(!message.is_empty());
    }
    let no_type = client
        .post(app.url("/api/v1/cart/items"))
        .body("{\"variant_id\": 1, \"quantity\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("cart_items").await, 0);
}

#[tokio::test]
async fn the_api_refuses_what_a_cross_site_form_could_send() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("frank").await;
    let variant = app.variant_of("Coffee Radar Mug").await;
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let response = client
            .post(app.url("/api/v1/cart/items"))
            .header("content-type", content_type)
            .body(format!("{{\"variant_id\": {variant}, \"quantity\": 1}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    let order = client
        .post(app.url("/api/v1/orders"))
        .header("idempotency-key", "k1")
        .header("content-type", "text/plain")
        .body("shipping_address=x")
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn quantities_and_ids_out_of_range_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("gina").await;
    let variant = app.variant_of("Coffee Radar Mug").await;
    for (variant_id, quantity, expected) in [
        (variant, 0, StatusCode::UNPROCESSABLE_ENTITY),
        (variant, -5, StatusCode::UNPROCESSABLE_ENTITY),
        (variant, 100, StatusCode::UNPROCESSABLE_ENTITY),
        (variant, 10_000, StatusCode::UNPROCESSABLE_ENTITY),
        (987_654, 1, StatusCode::NOT_FOUND),
        (-1, 1, StatusCode::NOT_FOUND),
    ] {
        let response = client
            .post(app.url("/api/v1/cart/items"))
            .json(&json!({"variant_id": variant_id, "quantity": quantity}))
            .send()
            .await
            .unwrap();
        let (status, message) = error_of(response).await;
        assert_eq!(status, expected, "{variant_id} × {quantity}: {message}");
    }
    app.set_stock(variant, 2).await;
    let too_many = client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant, "quantity": 3}))
        .send()
        .await
        .unwrap();
    let (status, message) = error_of(too_many).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::CONFLICT, "Only 2 left in stock.")
    );
    assert_eq!(app.count("cart_items").await, 0);

    for path in [
        "/api/v1/products/abc",
        "/api/v1/products/0",
        "/api/v1/products/99999",
        "/api/v1/orders/NOPE00",
        "/api/v1/orders/x'--",
        "/api/v1/nothing",
    ] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    let patch_missing = client
        .patch(app.url(&format!("/api/v1/cart/items/{variant}")))
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        patch_missing.status(),
        StatusCode::NOT_FOUND,
        "not in the cart"
    );
    let empty_checkout = client
        .post(app.url("/api/v1/orders"))
        .header("idempotency-key", "empty")
        .send()
        .await
        .unwrap();
    let (status, message) = error_of(empty_checkout).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::CONFLICT, "Your cart is empty.")
    );
    let no_key = client.post(app.url("/api/v1/orders")).send().await.unwrap();
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sql_and_html_in_fields_are_stored_as_text_and_shown_escaped() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let sneaky = "<script>alert(1)</script>'; DROP TABLE users; --";
    let created = client
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "robert", "email": "bobby@example.com", "password": "correct horse 42", "first_name": sneaky, "address": sneaky}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let user: Value = created.json().await.unwrap();
    assert_eq!(user["first_name"], sneaky);
    let html_client = app.client();
    let csrf = csrf_token(&html_client, &app.url("/signin")).await;
    html_client
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "robert"),
            ("password", "correct horse 42"),
        ])
        .send()
        .await
        .unwrap();
    let profile = html_client
        .get(app.url("/profile"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !profile.contains("<script>alert(1)</script>"),
        "HTML is escaped"
    );
    let page = document(&profile);
    assert_eq!(
        attr_of(&page, "#first_name", "value").as_deref(),
        Some(sneaky),
        "shown as the text it is"
    );
    assert_eq!(
        app.count("users").await,
        1,
        "the users table is still there"
    );

    let injected = client
        .get(app.url("/api/v1/products?q=%27%20OR%201%3D1%20--"))
        .send()
        .await
        .unwrap();
    assert_eq!(injected.status(), StatusCode::OK);
    assert_eq!(injected.json::<Value>().await.unwrap(), json!([]));
    let wildcard = client
        .get(app.url("/api/v1/products?q=%25"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        wildcard.json::<Value>().await.unwrap(),
        json!([]),
        "% is a literal, not a wildcard"
    );
    let shop = client
        .get(app.url("/shop?q=%3Cb%3Ebold%3C%2Fb%3E"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!shop.contains("<b>bold</b>"));
}

#[tokio::test]
async fn fake_huge_and_bomb_images_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("hugo").await;
    let put = |body: Vec<u8>, content_type: &'static str| {
        client
            .put(app.url("/api/v1/me/photo"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, _) = error_of(
        put(b"GIF89a not really".to_vec(), "image/png")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = error_of(
        put(b"<svg onload=alert(1)></svg>".to_vec(), "image/svg+xml")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut truncated = png(64, 64);
    truncated.truncate(60);
    let (status, message) = error_of(put(truncated, "image/png").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
    let huge = vec![0u8; 6 * 1024 * 1024];
    let response = put(huge, "image/jpeg").await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A PNG whose header (its checksum fixed) claims 30000 × 30000 pixels: refused for its
    // size before any memory is spent on it. Real bombs: tests/pictures.rs.
    let bomb = {
        let mut header = png(1, 1);
        header[16..20].copy_from_slice(&30_000u32.to_be_bytes());
        header[20..24].copy_from_slice(&30_000u32.to_be_bytes());
        // The IHDR chunk's CRC covers its type and data (bytes 12..29).
        let crc = crc32fast::hash(&header[12..29]);
        header[29..33].copy_from_slice(&crc.to_be_bytes());
        header
    };
    let (status, message) = error_of(put(bomb, "image/png").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        message.contains("30000 × 30000") && message.contains("up to 24 megapixels"),
        "{message}"
    );
    let me: Value = get_json(&client, app.url("/api/v1/me")).await;
    assert_eq!(me["photo_url"], Value::Null, "no picture was stored");

    // The same through the HTML form: a page with the message, not a 500.
    let csrf = csrf_token(&client, &app.url("/profile")).await;
    let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
        "photo",
        reqwest::multipart::Part::bytes(b"%PDF-1.4 fake".to_vec()).file_name("cv.pdf"),
    );
    let response = client
        .post(app.url("/profile/photo"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let page = document(&response.text().await.unwrap());
    assert!(
        attr_of(&page, "input[name=csrf]", "value").is_some(),
        "the profile page comes back"
    );
}

#[tokio::test]
async fn malformed_html_forms_get_a_page_not_a_crash() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("ivan").await;
    let csrf = csrf_token(&client, &app.url("/shop/coffee-radar-mug")).await;
    for body in [
        format!("csrf={csrf}&variant_id=abc&quantity=1"),
        format!("csrf={csrf}&quantity=1"),
        format!("csrf={csrf}&variant_id=1&quantity=-3"),
        format!("csrf={csrf}&variant_id=1&quantity=99999999999999999999999"),
    ] {
        let response = client
            .post(app.url("/cart/items"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{body}: {}",
            response.status()
        );
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
    }
    assert_eq!(app.count("cart_items").await, 0);
    let registration = client
        .post(app.url("/register"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&username=%00%00&email=x&password=&first_name="
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(registration.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("users").await, 1);
}
