//! What the pages show a shopper and staff beyond the journey itself: the footer's pages,
//! what search engines and link previews read (canonical address, Open Graph, a product's
//! structured data), headings in order, the cart's pictures and quantity buttons, the
//! Radar's picture, and the staff pages' current chip, field errors and order links.

use crate::common::{
    TestApp, attr_of, count_of, csrf_token, document, get_page, location, text_of,
};
use reqwest::StatusCode;
use scraper::{Html, Selector};
use serde_json::{Value, json};

fn all_attrs(html: &Html, selector: &str, attr: &str) -> Vec<String> {
    let selector = Selector::parse(selector).unwrap();
    html.select(&selector)
        .filter_map(|e| e.value().attr(attr).map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_footer_links_to_contact_delivery_privacy_and_terms_pages_that_exist() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let home = get_page(&browser, app.url("/")).await;
    let links = all_attrs(&home, "footer a", "href");
    for (path, heading) in [
        ("/contact", "Contact"),
        ("/delivery-and-returns", "Delivery and returns"),
        ("/privacy", "Privacy"),
        ("/terms", "Terms"),
    ] {
        assert!(
            links.iter().any(|l| l == path),
            "footer lacks {path}: {links:?}"
        );
        let page = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let page = document(&page.text().await.unwrap());
        assert_eq!(text_of(&page, "h1").as_deref(), Some(heading), "{path}");
        assert!(count_of(&page, "main p") >= 1, "{path} has no text");
        assert_eq!(
            text_of(&page, ".served-by").as_deref(),
            Some("Served by test-a1")
        );
    }
    let missing = browser.get(app.url("/pages/nothing")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_product_page_has_a_canonical_address_open_graph_and_product_data() {
    let app = TestApp::spawn().await;
    let page = get_page(&app.client(), app.url("/shop/coffee-radar-mug?utm=x")).await;
    let canonical = attr_of(&page, "link[rel=canonical]", "href").unwrap();
    assert_eq!(canonical, app.url("/shop/coffee-radar-mug"));
    assert_eq!(
        attr_of(&page, "meta[property='og:url']", "content").as_deref(),
        Some(canonical.as_str())
    );
    assert_eq!(
        attr_of(&page, "meta[property='og:title']", "content").as_deref(),
        Some("Coffee Radar Mug")
    );
    assert_eq!(
        attr_of(&page, "meta[property='og:type']", "content").as_deref(),
        Some("product")
    );
    let image = attr_of(&page, "meta[property='og:image']", "content").unwrap();
    assert!(
        image.starts_with("http://"),
        "og:image is absolute: {image}"
    );

    let data = text_of(&page, "script[type='application/ld+json']").expect("JSON-LD");
    let data: Value = serde_json::from_str(&data).expect("JSON-LD is JSON");
    assert_eq!(data["@context"], "https://schema.org");
    assert_eq!(data["@type"], "Product");
    assert_eq!(data["name"], "Coffee Radar Mug");
    assert_eq!(data["url"], json!(canonical));
    let offers = data["offers"].as_array().expect("offers");
    assert!(!offers.is_empty());
    for offer in offers {
        assert_eq!(offer["@type"], "Offer");
        assert_eq!(offer["priceCurrency"], "USD");
        assert!(
            offer["price"].as_str().unwrap().parse::<f64>().unwrap() > 0.0,
            "{offer}"
        );
        assert!(
            offer["availability"]
                .as_str()
                .unwrap()
                .starts_with("https://schema.org/"),
            "{offer}"
        );
    }
}

#[tokio::test]
async fn home_and_shop_titles_and_headings_read_well() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let home = get_page(&browser, app.url("/")).await;
    let title = text_of(&home, "title").unwrap();
    assert_eq!(title.matches("Coffee Radar").count(), 1, "{title}");
    for path in ["/", "/shop"] {
        let page = get_page(&browser, app.url(path)).await;
        let headings = Selector::parse("h1, h2, h3, h4, h5, h6").unwrap();
        let mut previous = 0;
        for heading in page.select(&headings) {
            let level: usize = heading.value().name()[1..].parse().unwrap();
            assert!(level <= previous + 1, "{path}: h{level} after h{previous}");
            previous = level;
        }
        assert!(previous > 0, "{path} has headings");
        let first_image = attr_of(&page, "main img", "loading");
        assert_ne!(first_image.as_deref(), Some("lazy"), "{path}");
        assert!(
            attr_of(&page, "link[rel=canonical]", "href").is_some(),
            "{path} has a canonical link"
        );
        // On a phone the links sit behind a Menu disclosure that opens without script.
        assert_eq!(
            text_of(&page, "nav[aria-label=Main] details > summary").as_deref(),
            Some("Menu"),
            "{path}"
        );
        assert_eq!(
            attr_of(&page, "body > a:first-child", "href").as_deref(),
            Some("#main"),
            "{path}: the skip link comes first"
        );
    }
}

#[tokio::test]
async fn cart_lines_have_pictures_and_quantity_buttons_that_work_without_javascript() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let variant = app.variant_of("Coffee Radar Mug").await;
    let csrf = csrf_token(&browser, &app.url("/shop/coffee-radar-mug")).await;
    let added = browser
        .post(app.url("/cart/items"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("variant_id", &variant.to_string()),
            ("quantity", "2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let cart = get_page(&browser, app.url("/cart")).await;
    assert_eq!(count_of(&cart, ".cart-line img.thumb"), 1);
    let action = format!("/cart/items/{variant}");
    // The − and + buttons are forms of their own that send the next quantity.
    let stepper = |quantity: i64| {
        format!(
            "form[action='{action}'] input[type=hidden][name=quantity][value='{quantity}'] + button"
        )
    };
    assert!(text_of(&cart, &stepper(1)).unwrap().contains('−'));
    assert!(text_of(&cart, &stepper(3)).unwrap().contains('+'));
    let step_to = |quantity: i64| {
        let browser = browser.clone();
        let url = app.url(&action);
        let csrf = csrf.clone();
        async move {
            let stepped = browser
                .post(url)
                .form(&[("csrf", csrf), ("quantity", quantity.to_string())])
                .send()
                .await
                .unwrap();
            assert_eq!(stepped.status(), StatusCode::SEE_OTHER);
            assert_eq!(location(&stepped), "/cart");
        }
    };
    step_to(3).await;
    let cart = get_page(&browser, app.url("/cart")).await;
    assert_eq!(text_of(&cart, ".cart-link .badge").as_deref(), Some("3"));
    assert!(text_of(&cart, &stepper(4)).is_some());
    assert!(text_of(&cart, &stepper(2)).is_some());
    // One fewer than one takes the line out.
    step_to(0).await;
    let cart = get_page(&browser, app.url("/cart")).await;
    assert_eq!(text_of(&cart, ".cart-link .badge").as_deref(), Some("0"));
    assert_eq!(count_of(&cart, ".cart-line"), 0);
}

#[tokio::test]
async fn the_radar_draws_the_places_around_the_city_and_links_them_to_map_apps() {
    let app = TestApp::spawn().await;
    let page = get_page(&app.client(), app.url("/radar?city=madrid")).await;
    let places = count_of(&page, "ol.places li.place");
    assert!(places >= 3, "{places} places");
    assert_eq!(attr_of(&page, "svg.radar", "role").as_deref(), Some("img"));
    assert!(
        text_of(&page, "svg.radar > title")
            .unwrap()
            .contains("Madrid")
    );
    assert!(count_of(&page, "svg.radar > desc") == 1);
    assert_eq!(count_of(&page, "svg.radar .blip"), places);
    let geo = all_attrs(&page, "li.place a", "href");
    assert_eq!(geo.iter().filter(|h| h.starts_with("geo:")).count(), places);
    assert_eq!(
        geo.iter()
            .filter(|h| h.starts_with("https://www.openstreetmap.org/?mlat="))
            .count(),
        places
    );
    let nothing = get_page(&app.client(), app.url("/radar")).await;
    assert_eq!(count_of(&nothing, "svg.radar"), 0);
}

#[tokio::test]
async fn staff_pages_show_the_current_chip_link_orders_and_keep_a_bad_stock_on_the_form() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in("chief").await;
    app.grant_admin("chief");
    for (path, chip) in [
        ("/admin/products", "Products"),
        ("/admin/orders", "Orders"),
        ("/admin/users", "Users"),
        ("/admin/checkout", "Delivery and discounts"),
        ("/admin/insights", "Insights"),
    ] {
        let page = get_page(&staff, app.url(path)).await;
        assert_eq!(
            text_of(&page, ".admin-nav a[aria-current=page]").as_deref(),
            Some(chip),
            "{path}"
        );
        assert_eq!(count_of(&page, ".admin-nav a[aria-current]"), 1, "{path}");
    }

    // Tables that may scroll sideways are keyboard stops with a name.
    let users = get_page(&staff, app.url("/admin/users")).await;
    let wrap = ".table-wrap[tabindex='0'][role=region]";
    assert_eq!(
        attr_of(&users, wrap, "aria-label").as_deref(),
        Some("Users")
    );
    assert_eq!(count_of(&users, ".table-wrap"), count_of(&users, wrap));

    // An order's code links to the order's own staff page.
    let shopper = app.signed_in("buyer").await;
    let code = app.order_one(&shopper, "Coffee Radar Mug").await;
    let code = code.as_str();
    let orders = get_page(&staff, app.url("/admin/orders")).await;
    let href = format!("/admin/orders/{code}");
    assert_eq!(count_of(&orders, &format!("a[href='{href}']")), 1);
    let detail = get_page(&staff, app.url(&href)).await;
    assert!(text_of(&detail, "h1").unwrap().contains(code));
    assert!(
        text_of(&detail, "main")
            .unwrap()
            .contains("Coffee Radar Mug")
    );
    let none = staff
        .get(app.url("/admin/orders/NOPE00"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::NOT_FOUND);

    // A negative stock comes back on the product's page, next to the field, as typed.
    let products = get_page(&staff, app.url("/admin/products")).await;
    let edit = attr_of(&products, "td a", "href").unwrap();
    let form_page = get_page(&staff, app.url(&edit)).await;
    let csrf = attr_of(&form_page, "input[name=csrf]", "value").unwrap();
    let variant_action = attr_of(&form_page, "form[action^='/admin/variants/']", "action").unwrap();
    let variant_id = variant_action.rsplit('/').next().unwrap();
    let refused = staff
        .post(app.url(&variant_action))
        .form(&[
            ("csrf", csrf.as_str()),
            ("color", "Black"),
            ("size", "U"),
            ("price", ""),
            ("stock", "-3"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = document(&refused.text().await.unwrap());
    assert_eq!(
        attr_of(&refused, "form[action='/admin/products']", "action"),
        None,
        "the product's own page, not a new-product form"
    );
    let stock_input = format!("input[form='variant-{variant_id}'][name=stock]");
    assert_eq!(
        attr_of(&refused, &stock_input, "value").as_deref(),
        Some("-3")
    );
    assert_eq!(
        attr_of(&refused, &stock_input, "aria-invalid").as_deref(),
        Some("true")
    );
    let error = text_of(&refused, ".field-error").expect("a field error");
    assert!(error.to_lowercase().contains("stock"), "{error}");

    let product_action = edit.clone();
    let new_variant = staff
        .post(app.url(&format!("{product_action}/variants")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("color", "Teal"),
            ("size", "U"),
            ("price", ""),
            ("stock", "-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(new_variant.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let new_variant = document(&new_variant.text().await.unwrap());
    assert_eq!(
        attr_of(&new_variant, "#new-color", "value").as_deref(),
        Some("Teal")
    );
    assert_eq!(
        attr_of(&new_variant, "#new-stock", "aria-invalid").as_deref(),
        Some("true")
    );
}
