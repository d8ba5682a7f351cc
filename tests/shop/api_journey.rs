//! The whole shopper journey through the JSON API.

use crate::common::{PASSWORD, TestApp, get_json, png};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_shopper_registers_shops_checks_out_and_cancels_through_the_api() {
    let app = TestApp::spawn().await;
    let client = app.client();

    // Register, then sign in.
    let created = client
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "Daniela", "email": "daniela@example.com", "password": PASSWORD, "first_name": "Daniela"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let user: Value = created.json().await.unwrap();
    assert_eq!(user["username"], "daniela");
    assert_eq!(user["photo_url"], Value::Null);
    assert!(user.get("password_hash").is_none());

    let me = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "registering does not sign in through the API"
    );

    let signed_in = client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"username": "daniela", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP without a proxy gets no Secure flag"
    );

    // Profile: fill in the address.
    let patched: Value = client
        .patch(app.url("/api/v1/me"))
        .json(&json!({"address": "Calle Mayor 1, Madrid"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["address"], "Calle Mayor 1, Madrid");
    assert_eq!(patched["first_name"], "Daniela");

    // Catalog.
    let products: Value = get_json(&client, app.url("/api/v1/products")).await;
    let names: Vec<&str> = products
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in [
        "Coffee Radar Mug",
        "Coffee Radar T-Shirt",
        "Coffee maker",
        "Coffee Radar Bag",
        "Coffee Radar Passport cover",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} is in the demo catalog: {names:?}"
        );
    }
    let mug = products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Coffee Radar Mug")
        .unwrap();
    let mug_id = mug["id"].as_i64().unwrap();
    let one: Value = get_json(&client, app.url(&format!("/api/v1/products/{mug_id}"))).await;
    assert_eq!(one["name"], "Coffee Radar Mug");
    let variant = &one["variants"][0];
    let variant_id = variant["id"].as_i64().unwrap();
    let price = variant["price_cents"].as_i64().unwrap();
    let stock_before = variant["stock"].as_i64().unwrap();
    assert!(
        one["image_url"]
            .as_str()
            .unwrap()
            .starts_with("/media/products/")
    );

    // Cart: add, change, add another product, remove it.
    let added = client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant_id, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let cart: Value = client
        .patch(app.url(&format!("/api/v1/cart/items/{variant_id}")))
        .json(&json!({"quantity": 3}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cart["items"][0]["quantity"], 3);
    assert_eq!(cart["total_cents"], price * 3);
    let bag = app.variant_of("Coffee Radar Bag").await;
    client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": bag, "quantity": 1}))
        .send()
        .await
        .unwrap();
    let removed = client
        .delete(app.url(&format!("/api/v1/cart/items/{bag}")))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    let cart: Value = get_json(&client, app.url("/api/v1/cart")).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);

    // Checkout, shipping to the profile's address.
    let placed = client
        .post(app.url("/api/v1/orders"))
        .header("Idempotency-Key", "journey-1")
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order: Value = placed.json().await.unwrap();
    let code = order["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert!(
        code.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(order["status"], "placed");
    // An order posted with no choices ships Standard ($4.95 under $50) and is paid on delivery.
    assert_eq!(order["subtotal_cents"], price * 3);
    assert_eq!(order["delivery"], "Standard");
    assert_eq!(order["delivery_cents"], 495);
    assert_eq!(order["total_cents"], price * 3 + 495);
    assert_eq!(order["payment_method"], "on_delivery");
    assert_eq!(order["shipping_address"], "Calle Mayor 1, Madrid");
    assert_eq!(
        order["lines"],
        json!([{
            "product": "Coffee Radar Mug",
            "color": variant["color"],
            "size": variant["size"],
            "quantity": 3,
            "unit_price_cents": price,
        }])
    );
    assert!(order["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(app.stock_of(variant_id).await, stock_before - 3);
    let cart: Value = get_json(&client, app.url("/api/v1/cart")).await;
    assert_eq!(cart["items"], json!([]), "checkout empties the cart");

    // The confirmation mail is in the outbox.
    let mut mailed = false;
    for _ in 0..50 {
        if app
            .outbox()
            .iter()
            .any(|m| m.contains(&code) && m.contains("daniela@example.com"))
        {
            mailed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(mailed, "an order confirmation is mailed");

    // History and the order itself.
    let history: Value = get_json(&client, app.url("/api/v1/orders")).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["code"], code.as_str());
    let fetched: Value = get_json(&client, app.url(&format!("/api/v1/orders/{code}"))).await;
    assert_eq!(fetched, order);

    // Cancel: stock comes back; a second cancel is refused.
    let cancelled = client
        .post(app.url(&format!("/api/v1/orders/{code}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(
        cancelled.json::<Value>().await.unwrap()["status"],
        "cancelled"
    );
    assert_eq!(app.stock_of(variant_id).await, stock_before);
    let again = client
        .post(app.url(&format!("/api/v1/orders/{code}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.stock_of(variant_id).await,
        stock_before,
        "a second cancel returns nothing twice"
    );

    // A profile picture as the request body.
    let photo = client
        .put(app.url("/api/v1/me/photo"))
        .header("content-type", "image/png")
        .body(png(800, 600))
        .send()
        .await
        .unwrap();
    assert_eq!(photo.status(), StatusCode::OK);
    let photo_url = photo.json::<Value>().await.unwrap()["photo_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let picture = client.get(app.url(&photo_url)).send().await.unwrap();
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(picture.headers()["content-type"], "image/jpeg");
    assert!(
        picture.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = picture.headers()["etag"].to_str().unwrap().to_owned();
    let stored = image::load_from_memory(&picture.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (stored.width(), stored.height()),
        (512, 384),
        "resized to at most 512 px"
    );
    let revalidated = client
        .get(app.url(&photo_url))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    // Sign out.
    let out = client
        .delete(app.url("/api/v1/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
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
async fn registration_refuses_duplicates_and_explains_each_invalid_field() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let body = json!({"username": "ana", "email": "ana@example.com", "password": PASSWORD, "first_name": "Ana"});
    assert_eq!(
        client
            .post(app.url("/api/v1/users"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );

    let duplicate = client
        .post(app.url("/api/v1/users"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    assert_eq!(
        duplicate.json::<Value>().await.unwrap()["error"],
        "That username is already taken."
    );

    let same_email = json!({"username": "ana2", "email": "ANA@example.com", "password": PASSWORD, "first_name": "Ana"});
    assert_eq!(
        client
            .post(app.url("/api/v1/users"))
            .json(&same_email)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CONFLICT
    );

    let invalid = client
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "x", "email": "not-an-email", "password": "short", "first_name": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let errors: Value = invalid.json().await.unwrap();
    for field in ["username", "email", "password", "first_name"] {
        assert!(
            errors["fields"][field].is_string(),
            "{field} has a message: {errors}"
        );
    }
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn wrong_credentials_get_401_and_repeated_failures_are_throttled() {
    let app = TestApp::spawn().await;
    app.signed_in("bruno").await;
    let client = app.client();
    let attempt = |password: &'static str| {
        client
            .post(app.url("/api/v1/sessions"))
            .json(&json!({"username": "bruno", "password": password}))
            .send()
    };
    let unknown = client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"username": "nobody", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let wrong = attempt("wrong password").await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        unknown.json::<Value>().await.unwrap()["error"],
        "no hint whether the user exists"
    );
    for _ in 0..4 {
        attempt("wrong password").await.unwrap();
    }
    let throttled = attempt(PASSWORD).await.unwrap();
    assert_eq!(
        throttled.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits once throttled"
    );
}

#[tokio::test]
async fn the_radar_sorts_places_by_distance() {
    let app = TestApp::spawn().await;
    let places: Value = app
        .client()
        .get(app.url("/api/v1/places?lat=40.4168&lon=-3.7038"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let places = places.as_array().unwrap();
    assert!(places.len() >= 20);
    assert_eq!(places[0]["city"], "Madrid");
    let distances: Vec<f64> = places
        .iter()
        .map(|p| p["distance_km"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    assert!(distances[0] < 15.0);

    let bad = app
        .client()
        .get(app.url("/api/v1/places?lat=200&lon=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let missing = app
        .client()
        .get(app.url("/api/v1/places?lat=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(missing.json::<Value>().await.unwrap()["error"].is_string());
}
