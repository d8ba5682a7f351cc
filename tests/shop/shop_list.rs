//! The shop list as shoppers use it: search that finds what people type, sort, a price
//! filter, a result count and pages, on the page and through the API; and one way of
//! showing a price on every page.

use crate::common::{NewProduct, TestApp, attr_of, count_of, get_json, get_page, text_of};
use reqwest::{Client, StatusCode};
use scraper::{Html, Selector};
use serde_json::Value;

/// The product names of a shop page, in the order shown.
fn names_on(page: &Html) -> Vec<String> {
    let selector = Selector::parse("article.product-card h2").unwrap();
    page.select(&selector)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

/// The product names the API lists for `query`, in its order.
async fn api_names(app: &TestApp, query: &str) -> Vec<String> {
    let products = get_json(&app.client(), app.url(&format!("/api/v1/products?{query}"))).await;
    products
        .as_array()
        .unwrap_or_else(|| panic!("{query}: {products}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn shop_names(app: &TestApp, browser: &Client, query: &str) -> Vec<String> {
    names_on(&get_page(browser, app.url(&format!("/shop?{query}"))).await)
}

const MUG: &str = "Coffee Radar Mug";
const SHIRT: &str = "Coffee Radar T-Shirt";
const MAKER: &str = "Coffee maker";
const BAG: &str = "Coffee Radar Bag";
const PASSPORT: &str = "Coffee Radar Passport cover";

#[tokio::test]
async fn search_forgives_plurals_typos_and_hyphens_and_looks_at_colours_sizes_and_categories() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    for (typed, expected) in [
        ("mugs", vec![MUG]),
        ("shirts", vec![SHIRT]),
        ("tshirt", vec![SHIRT]),
        ("T-Shirts", vec![SHIRT]),
        ("black", vec![MUG, SHIRT, MAKER, PASSPORT]),
        ("blak mug", vec![MUG]),
        ("drinkware", vec![MUG]),
        ("accessory", vec![BAG, PASSPORT]),
        ("xl", vec![SHIRT]),
        ("350 ml", vec![MUG]),
        ("canvas tote", vec![BAG]),
        ("%", vec![]),
        ("purple", vec![]),
    ] {
        let query = format!(
            "q={}",
            url::form_urlencoded::byte_serialize(typed.as_bytes()).collect::<String>()
        );
        assert_eq!(
            shop_names(&app, &browser, &query).await,
            expected,
            "{typed} on the page"
        );
        assert_eq!(
            api_names(&app, &query).await,
            expected,
            "{typed} through the API"
        );
    }
}

#[tokio::test]
async fn best_matches_come_first_and_the_header_search_box_is_on_every_page() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in("owner").await;
    app.grant_admin("owner");
    // The mug's description speaks of espresso; this product's name is it.
    let cups = NewProduct {
        name: "Espresso Cups",
        description: "Two small cups.",
        category: "Drinkware",
        price: "18",
        variant: ("White", "90 ml", 4),
    };
    app.staff_create_product(&staff, &cups).await;

    let browser = app.client();
    assert_eq!(
        shop_names(&app, &browser, "q=espresso").await,
        ["Espresso Cups", MUG],
        "the name's match before the description's, though the mug comes first in the shop"
    );
    assert_eq!(api_names(&app, "q=espresso").await, ["Espresso Cups", MUG]);
    assert_eq!(
        shop_names(&app, &browser, "sort=newest")
            .await
            .first()
            .map(String::as_str),
        Some("Espresso Cups")
    );

    for path in ["/", "/radar", "/cart", "/signin", "/shop/coffee-radar-mug"] {
        let page = get_page(&browser, app.url(path)).await;
        assert_eq!(
            attr_of(&page, "header form[role=search]", "action").as_deref(),
            Some("/shop"),
            "{path}"
        );
        assert_eq!(
            count_of(&page, "header form[role=search] input[type=search][name=q]"),
            1,
            "{path}"
        );
    }
    let searched = get_page(&browser, app.url("/shop?q=cups")).await;
    assert_eq!(
        attr_of(&searched, "header input[name=q]", "value").as_deref(),
        Some("cups"),
        "the search stays in the box"
    );
}

#[tokio::test]
async fn the_shop_list_sorts_filters_by_price_counts_and_pages_with_plain_links() {
    let app = TestApp::spawn_with(&["--shop-page-size", "2"]).await;
    let browser = app.client();

    // Prices: passport $10, mug from $12, bag $15, shirt $20, maker $89.
    let cheapest_first = [PASSPORT, MUG, BAG, SHIRT, MAKER];
    assert_eq!(
        api_names(&app, "sort=price").await,
        cheapest_first,
        "the API lists everything, unpaged"
    );
    let mut dearest_first = cheapest_first;
    dearest_first.reverse();
    assert_eq!(api_names(&app, "sort=price-desc").await, dearest_first);
    assert_eq!(
        api_names(&app, "sort=name").await,
        [MAKER, BAG, MUG, PASSPORT, SHIRT]
    );
    assert_eq!(
        api_names(&app, "min_price_cents=1300&max_price_cents=2000&sort=price").await,
        [MUG, BAG, SHIRT],
        "the mug is in range by its $15 variant"
    );

    // The page: two to a page, with a count and links that keep the choices.
    let first = get_page(&browser, app.url("/shop?sort=price")).await;
    assert_eq!(names_on(&first), [PASSPORT, MUG]);
    assert_eq!(
        text_of(&first, ".result-count").as_deref(),
        Some("Showing 1–2 of 5 products")
    );
    assert_eq!(
        attr_of(&first, "select#sort option[selected]", "value").as_deref(),
        Some("price")
    );
    let next = attr_of(&first, ".pager a[rel=next]", "href").unwrap();
    assert_eq!(next, "/shop?sort=price&page=2");
    assert_eq!(count_of(&first, ".pager a[aria-current=page]"), 1);
    let second = get_page(&browser, app.url(&next)).await;
    assert_eq!(names_on(&second), [BAG, SHIRT]);
    let last = get_page(&browser, app.url("/shop?sort=price&page=3")).await;
    assert_eq!(names_on(&last), [MAKER]);
    assert_eq!(
        text_of(&last, ".result-count").as_deref(),
        Some("Showing 5–5 of 5 products")
    );
    assert_eq!(
        attr_of(&last, ".pager a[rel=prev]", "href").as_deref(),
        Some("/shop?sort=price&page=2")
    );
    assert_eq!(count_of(&last, ".pager a[rel=next]"), 0);

    let filtered = get_page(
        &browser,
        app.url("/shop?min_price=13&max_price=20&sort=price-desc"),
    )
    .await;
    assert_eq!(names_on(&filtered), [SHIRT, BAG]);
    assert_eq!(
        text_of(&filtered, ".result-count").as_deref(),
        Some("Showing 1–2 of 3 products")
    );
    assert_eq!(
        attr_of(&filtered, "#min_price", "value").as_deref(),
        Some("13")
    );
    assert_eq!(
        attr_of(&filtered, ".pager a[rel=next]", "href").as_deref(),
        Some("/shop?sort=price-desc&min_price=13&max_price=20&page=2")
    );
    let searched = get_page(&browser, app.url("/shop?q=black&category=Accessories")).await;
    assert_eq!(names_on(&searched), [PASSPORT]);
    assert_eq!(
        text_of(&searched, ".result-count").as_deref(),
        Some("1 product for “black” · Clear search")
    );
}

#[tokio::test]
async fn wrong_sort_price_or_page_values_are_explained_next_to_their_fields() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let response = browser
        .get(app.url("/shop?sort=cheapest&min_price=abc&max_price=10&page=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = crate::common::document(&response.text().await.unwrap());
    assert!(
        text_of(&page, "#sort-error")
            .unwrap()
            .contains("price-desc"),
        "the sorts are named"
    );
    assert_eq!(
        text_of(&page, "#min_price-error").as_deref(),
        Some("Enter a price such as 12 or 12.50.")
    );
    assert_eq!(
        attr_of(&page, "#min_price", "value").as_deref(),
        Some("abc"),
        "what was typed stays"
    );
    assert_eq!(
        attr_of(&page, "#min_price", "aria-invalid").as_deref(),
        Some("true")
    );
    assert!(
        text_of(&page, ".flash--error")
            .unwrap()
            .contains("page number")
    );
    // The bound that could be read still applies.
    assert_eq!(names_on(&page), [PASSPORT]);

    let upside_down = get_page(&browser, app.url("/shop?min_price=50&max_price=10")).await;
    assert_eq!(
        text_of(&upside_down, "#max_price-error").as_deref(),
        Some("The highest price must not be below the lowest.")
    );

    for query in ["sort=cheapest", "min_price_cents=-1", "max_price_cents=abc"] {
        let response = browser
            .get(app.url(&format!("/api/v1/products?{query}")))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(
                response.status(),
                StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "{query}: {}",
            response.status()
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{query}: {body}");
    }
    assert!(
        api_names(&app, "min_price_cents=500&max_price_cents=100")
            .await
            .is_empty(),
        "nothing is priced between an upside-down range"
    );
}

#[tokio::test]
async fn a_price_says_from_on_every_page_only_when_the_variants_differ() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let price_of = |page: &Html, name: &str| -> Option<String> {
        let cards = Selector::parse("article.product-card").unwrap();
        let title = Selector::parse("h2, h3").unwrap();
        let price = Selector::parse(".price").unwrap();
        page.select(&cards)
            .find(|card| {
                card.select(&title)
                    .next()
                    .is_some_and(|t| t.text().collect::<String>().trim() == name)
            })
            .and_then(|card| card.select(&price).next())
            .map(|p| p.text().collect::<String>().trim().to_owned())
    };
    let home = get_page(&browser, app.url("/")).await;
    let shop = get_page(&browser, app.url("/shop")).await;
    for page in [&home, &shop] {
        assert_eq!(price_of(page, MUG).as_deref(), Some("from $12.00"));
        assert_eq!(price_of(page, SHIRT).as_deref(), Some("$20.00"));
    }
    // A product page shows the price of the pair chosen: the mug's White 200 ml.
    let mug = get_page(&browser, app.url("/shop/coffee-radar-mug")).await;
    assert_eq!(
        text_of(&mug, ".product-info .price").as_deref(),
        Some("$12.00")
    );
    let shirt = get_page(&browser, app.url("/shop/coffee-radar-t-shirt")).await;
    assert_eq!(
        text_of(&shirt, ".product-info .price").as_deref(),
        Some("$20.00")
    );
}
