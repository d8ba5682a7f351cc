//! The API keeps the contract its OpenAPI document states: errors are JSON with a message
//! whatever refused the request (a body limit, the cross-site check), and the document
//! says what the handlers really take.

use crate::common::{TestApp, document, get_json, text_of};
use reqwest::StatusCode;
use serde_json::Value;

/// The answer's status and its JSON `error` message; fails when the body is not JSON.
async fn json_error(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{status} answered as {content_type:?}"
    );
    let body: Value = response.json().await.expect("a JSON body");
    let message = body["error"].as_str().expect("an error message").to_owned();
    (status, message)
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_as_json() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("olga").await;
    let oversized = vec![0u8; 6 * 1024 * 1024];
    let photo = client
        .put(app.url("/api/v1/me/photo"))
        .header("content-type", "image/png")
        .body(oversized.clone())
        .send()
        .await
        .unwrap();
    let (status, message) = json_error(photo).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("larger than 5 MB"), "{message}");

    let order = client
        .post(app.url("/api/v1/orders"))
        .header("content-type", "application/json")
        .header("idempotency-key", "big-body-1")
        .body(oversized)
        .send()
        .await
        .unwrap();
    let (status, _) = json_error(order).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_cross_site_api_write_is_refused_with_a_json_message() {
    let app = TestApp::spawn().await;
    let refused = app
        .client()
        .post(app.url("/api/v1/sessions"))
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({ "username": "olga", "password": "correct horse 42" }))
        .send()
        .await
        .unwrap();
    let (status, message) = json_error(refused).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("another site"), "{message}");
}

#[tokio::test]
async fn a_cross_site_form_is_refused_with_the_error_page() {
    let app = TestApp::spawn().await;
    let refused = app
        .client()
        .post(app.url("/signin"))
        .header("origin", "http://evil.example")
        .form(&[("username", "olga"), ("password", "correct horse 42")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let content_type = refused.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = document(&refused.text().await.unwrap());
    assert_eq!(text_of(&page, ".error-page .code").as_deref(), Some("403"));
    let message = text_of(&page, ".error-page h1 + p").unwrap_or_default();
    assert!(message.contains("another site"), "{message}");
}

#[tokio::test]
async fn places_without_coordinates_are_listed_by_city_and_name() {
    let app = TestApp::spawn().await;
    let response = app
        .client()
        .get(app.url("/api/v1/places"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let places: Value = response.json().await.unwrap();
    let places = places.as_array().expect("a list of places");
    assert!(places.len() >= 20, "{} places", places.len());
    assert!(places.iter().all(|p| p["distance_km"].is_null()));
    let order: Vec<(String, String)> = places
        .iter()
        .map(|p| {
            (
                p["city"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
}

#[tokio::test]
async fn places_need_both_coordinates_or_neither() {
    let app = TestApp::spawn().await;
    for (query, field) in [("lat=40.4", "lon"), ("lon=-3.7", "lat")] {
        let response = app
            .client()
            .get(app.url(&format!("/api/v1/places?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["fields"][field].is_string(), "{query}: {body}");
    }
}

#[tokio::test]
async fn the_document_states_the_real_parameters_and_limits() {
    let app = TestApp::spawn().await;
    let doc = get_json(&app.client(), app.url("/api/openapi.json")).await;
    // Both coordinates or neither: one optional object parameter, exploded into the query.
    let point = &doc["paths"]["/api/v1/places"]["get"]["parameters"][0];
    assert_eq!(point["in"], "query");
    assert_eq!(point["required"], false);
    assert_eq!(
        (&point["style"], &point["explode"]),
        (&"form".into(), &true.into())
    );
    let schemas = &doc["components"]["schemas"];
    let coordinates = &schemas["Point"];
    assert_eq!(coordinates["required"], serde_json::json!(["lat", "lon"]));
    for (name, bound) in [("lat", 90.0), ("lon", 180.0)] {
        let coordinate = &coordinates["properties"][name];
        assert_eq!(coordinate["minimum"].as_f64(), Some(-bound), "{name}");
        assert_eq!(coordinate["maximum"].as_f64(), Some(bound), "{name}");
    }
    for schema in ["AddItem", "SetQuantity"] {
        let quantity = &schemas[schema]["properties"]["quantity"];
        assert_eq!(quantity["minimum"], 1, "{schema}");
        assert_eq!(quantity["maximum"], 99, "{schema}");
    }
    let username = &schemas["Registration"]["properties"]["username"];
    assert_eq!(username["maxLength"], 32);
    assert_eq!(
        schemas["SignIn"]["properties"]["password"]["maxLength"],
        128
    );
    // Every operation that takes a JSON body says how a bad one is answered.
    for (path, method) in [("/api/v1/users", "post"), ("/api/v1/cart/items", "post")] {
        let responses = &doc["paths"][path][method]["responses"];
        for status in ["400", "413", "415", "422", "503"] {
            assert!(
                responses[status].is_object(),
                "{method} {path} documents {status}"
            );
        }
    }
    let sign_in = &doc["paths"]["/api/v1/sessions"]["post"]["responses"];
    let register = &doc["paths"]["/api/v1/users"]["post"]["responses"];
    assert!(sign_in["429"].is_object() && register["429"].is_object());
}

#[tokio::test]
async fn a_whole_number_written_with_a_fraction_is_an_integer() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let added = client
        .post(app.url("/api/v1/cart/items"))
        .json(&serde_json::json!({ "variant_id": 1.0, "quantity": 2.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let cart: Value = added.json().await.unwrap();
    assert_eq!(cart["items"][0]["quantity"], 2);
    let halves = client
        .patch(app.url("/api/v1/cart/items/1"))
        .json(&serde_json::json!({ "quantity": 2.5 }))
        .send()
        .await
        .unwrap();
    let (status, _) = json_error(halves).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_order_body_of_null_means_no_options() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("nora").await;
    let added = client
        .post(app.url("/api/v1/cart/items"))
        .json(&serde_json::json!({ "variant_id": 1, "quantity": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let placed = client
        .post(app.url("/api/v1/orders"))
        .header("idempotency-key", "null-body-1")
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order: Value = placed.json().await.unwrap();
    assert_eq!(order["shipping_address"], "1 Coffee Street, Madrid");
}

#[tokio::test]
async fn adding_past_the_most_of_one_item_is_a_conflict_with_the_cart() {
    let app = TestApp::spawn().await;
    app.set_stock(1, 500).await;
    let client = app.client();
    let add = |quantity: i64| {
        client
            .post(app.url("/api/v1/cart/items"))
            .json(&serde_json::json!({ "variant_id": 1, "quantity": quantity }))
            .send()
    };
    assert_eq!(add(60).await.unwrap().status(), StatusCode::CREATED);
    // Each request is valid on its own; together they would pass the most of one item.
    let (status, message) = json_error(add(60).await.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("60"), "{message}");
    let cart = get_json(&client, app.url("/api/v1/cart")).await;
    assert_eq!(cart["items"][0]["quantity"], 60);
}

#[tokio::test]
async fn a_method_the_endpoint_does_not_take_is_refused_as_json_with_allow() {
    let app = TestApp::spawn().await;
    let response = app
        .client()
        .put(app.url("/api/v1/users"))
        .send()
        .await
        .unwrap();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, message) = json_error(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(allow.as_deref(), Some("POST"));
    assert!(
        message.contains("PUT") && message.contains("Allow"),
        "{message}"
    );
}
