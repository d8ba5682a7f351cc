//! Staff: the admin command, product and order management, and who may see it.

use crate::common::{
    TestApp, attr_of, count_of, csrf_token, document, get_json, get_page, location, png, text_of,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn the_admin_command_promotes_users_and_names_unknown_ones() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("clerk").await;
    assert_eq!(
        shopper
            .get(app.url("/admin/products"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );

    let unknown = app
        .command()
        .args(["admin", "grant", "nobody"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("No user is registered as \"nobody\"")
    );

    app.grant_admin("clerk");
    let page = shopper
        .get(app.url("/admin/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        count_of(
            &document(&page.text().await.unwrap()),
            "table.data tbody tr"
        ),
        5
    );
    assert_eq!(
        app.client()
            .get(app.url("/admin/orders"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn staff_create_a_product_with_a_variant_and_a_picture() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in("owner").await;
    app.grant_admin("owner");
    let csrf = csrf_token(&staff, &app.url("/admin/products/new")).await;

    let invalid = staff
        .post(app.url("/admin/products"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", ""),
            ("description", ""),
            ("category", "Brewing"),
            ("price", "abc"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("products").await, 5);

    let created = staff
        .post(app.url("/admin/products"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Pour-over Kettle"),
            ("description", "Gooseneck, 1 litre."),
            ("category", "Brewing"),
            ("price", "39.90"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let edit_url = location(&created);
    let id: i64 = edit_url.rsplit('/').next().unwrap().parse().unwrap();

    let variant = staff
        .post(app.url(&format!("/admin/products/{id}/variants")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("color", "Steel"),
            ("size", "1 l"),
            ("price", ""),
            ("stock", "7"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(variant.status(), StatusCode::SEE_OTHER);
    let bad_stock = staff
        .post(app.url(&format!("/admin/products/{id}/variants")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("color", "Black"),
            ("size", "1 l"),
            ("price", ""),
            ("stock", "-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_stock.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "picture",
            reqwest::multipart::Part::bytes(png(900, 900))
                .file_name("kettle.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let uploaded = staff
        .post(app.url(&format!("/admin/products/{id}/picture")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);

    let product: Value = app
        .client()
        .get(app.url(&format!("/api/v1/products/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(product["name"], "Pour-over Kettle");
    assert_eq!(product["slug"], "pour-over-kettle");
    assert_eq!(product["price_cents"], 3990);
    assert_eq!(
        product["variants"],
        json!([{"id": product["variants"][0]["id"], "color": "Steel", "size": "1 l", "price_cents": 3990, "stock": 7}])
    );
    let picture = app
        .client()
        .get(app.url(product["image_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(picture.headers()["content-type"], "image/jpeg");

    // Hiding the product takes it out of the shop.
    let hidden = staff
        .post(app.url(&format!("/admin/products/{id}")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Pour-over Kettle"),
            ("description", "Gooseneck."),
            ("category", "Brewing"),
            ("price", "42"),
            ("hidden", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.client()
            .get(app.url(&format!("/api/v1/products/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.client()
            .get(app.url("/shop/pour-over-kettle"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn staff_advance_orders_and_cancel_with_restock() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in("boss").await;
    app.grant_admin("boss");
    let shopper = app.signed_in("customer").await;
    let variant = app.variant_of("Coffee Radar T-Shirt").await;
    let stock = app.stock_of(variant).await;
    let mut codes = Vec::new();
    for key in ["o1", "o2"] {
        shopper
            .post(app.url("/api/v1/cart/items"))
            .json(&json!({"variant_id": variant, "quantity": 1}))
            .send()
            .await
            .unwrap();
        let order: Value = shopper
            .post(app.url("/api/v1/orders"))
            .header("idempotency-key", key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        codes.push(order["code"].as_str().unwrap().to_owned());
    }
    assert_eq!(app.stock_of(variant).await, stock - 2);
    let csrf = csrf_token(&staff, &app.url("/admin/orders")).await;
    for _ in 0..3 {
        let advanced = staff
            .post(app.url(&format!("/admin/orders/{}/advance", codes[0])))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(advanced.status(), StatusCode::SEE_OTHER);
    }
    let delivered: Value =
        get_json(&shopper, app.url(&format!("/api/v1/orders/{}", codes[0]))).await;
    assert_eq!(delivered["status"], "delivered");
    let beyond = staff
        .post(app.url(&format!("/admin/orders/{}/advance", codes[0])))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::CONFLICT);
    let late_cancel = staff
        .post(app.url(&format!("/admin/orders/{}/cancel", codes[0])))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        late_cancel.status(),
        StatusCode::CONFLICT,
        "a delivered order cannot be cancelled"
    );

    let cancelled = staff
        .post(app.url(&format!("/admin/orders/{}/cancel", codes[1])))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.stock_of(variant).await,
        stock - 1,
        "the cancelled order's stock is back"
    );

    let filtered = get_page(&staff, app.url("/admin/orders?status=cancelled")).await;
    assert_eq!(count_of(&filtered, "table.data tbody tr"), 1);
    assert!(
        text_of(&filtered, "table.data tbody tr td")
            .unwrap()
            .starts_with(&codes[1])
    );
    assert_eq!(
        staff
            .get(app.url("/admin/orders?status=bogus"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );

    let users = get_page(&staff, app.url("/admin/users?q=CUSTOM")).await;
    assert_eq!(count_of(&users, "table.data tbody tr"), 1);
    assert_eq!(
        text_of(&users, "table.data tbody td").as_deref(),
        Some("customer")
    );
    let _ = attr_of(&users, "input[name=q]", "value");
}

#[tokio::test]
async fn staff_creating_products_and_variants_at_the_same_moment_all_get_them() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in("rush").await;
    app.grant_admin("rush");
    let csrf = csrf_token(&staff, &app.url("/admin/products/new")).await;
    let products = (0..12).map(|n| {
        let (staff, csrf, url) = (staff.clone(), csrf.clone(), app.url("/admin/products"));
        async move {
            let name = format!("Rush blend {n}");
            let answer = staff
                .post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("name", name.as_str()),
                    ("description", "Roasted in a hurry."),
                    ("category", "coffee"),
                    ("price", "9.50"),
                ])
                .send()
                .await
                .unwrap();
            (answer.status(), answer.text().await.unwrap())
        }
    });
    for (status, body) in futures::future::join_all(products).await {
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    }
    assert_eq!(app.count("products").await, 5 + 12);

    let variants = (0..8).map(|n| {
        let (staff, csrf) = (staff.clone(), csrf.clone());
        let url = app.url("/admin/products/1/variants");
        async move {
            let colour = format!("Colour {n}");
            let answer = staff
                .post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("color", colour.as_str()),
                    ("size", "U"),
                    ("stock", "3"),
                ])
                .send()
                .await
                .unwrap();
            (answer.status(), answer.text().await.unwrap())
        }
    });
    let before = app.count("variants").await;
    for (status, body) in futures::future::join_all(variants).await {
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    }
    assert_eq!(app.count("variants").await, before + 8);
}

#[tokio::test]
async fn staff_set_up_delivery_and_discount_codes_on_their_page_and_checkout_offers_them() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("peeker").await;
    assert_eq!(
        shopper
            .get(app.url("/admin/checkout"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let staff = app.signed_in("planner").await;
    app.grant_admin("planner");
    let csrf = csrf_token(&staff, &app.url("/admin/checkout")).await;
    let added = staff
        .post(app.url("/admin/delivery-options"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Bike courier"),
            ("price", "3.50"),
            ("estimated_days", "1"),
            ("active", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let code = staff
        .post(app.url("/admin/discount-codes"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", "spring"),
            ("kind", "percent"),
            ("amount", "12.5"),
            ("min_subtotal", "10.00"),
            ("expires_on", "2099-03-31"),
            ("active", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(code.status(), StatusCode::SEE_OTHER);
    let refused = staff
        .post(app.url("/admin/discount-codes"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", "x"),
            ("kind", "fixed"),
            ("amount", "lots"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let page = get_page(&staff, app.url("/admin/checkout")).await;
    let codes = text_of(&page, "#discount-codes tbody").unwrap();
    assert!(
        codes.contains("SPRING") && codes.contains("12.50 %"),
        "{codes}"
    );
    assert!(codes.contains("2099-03-31"), "{codes}");
    let offered = get_json(&app.client(), app.url("/api/v1/delivery-options")).await;
    assert_eq!(offered[3]["name"], "Bike courier");
    assert_eq!(offered[3]["price_cents"], 350);

    // Ticked off, the option is no longer offered.
    let retired = staff
        .post(app.url(&format!("/admin/delivery-options/{}", offered[3]["id"])))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Bike courier"),
            ("price", "3.50"),
            ("estimated_days", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(retired.status(), StatusCode::SEE_OTHER);
    let offered = get_json(&app.client(), app.url("/api/v1/delivery-options")).await;
    assert_eq!(offered.as_array().unwrap().len(), 3);
}
