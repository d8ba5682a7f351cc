//! The product page: colour swatches and size buttons that work as links and a plain form,
//! sold-out pairs marked, the chosen pair's price and colour's picture, breadcrumbs, and
//! "you may also like" from the same category.
//!
//! The demo catalog's mug (product 1) comes in White, Gray and Black, each in 200 ml
//! ($12.00) and 350 ml ($15.00); the T-shirt's Green/Brown XL is sold out.

use crate::common::{
    NewProduct, TestApp, attr_of, count_of, csrf_token, document, get_json, get_page, location,
    png, text_of,
};
use reqwest::{Client, StatusCode};
use scraper::{Html, Selector};
use serde_json::Value;

const MUG: &str = "/shop/coffee-radar-mug";
const SHIRT: &str = "/shop/coffee-radar-t-shirt";

fn texts(page: &Html, selector: &str) -> Vec<String> {
    let selector = Selector::parse(selector).unwrap();
    page.select(&selector)
        .map(|e| {
            e.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn attrs(page: &Html, selector: &str, attr: &str) -> Vec<String> {
    let selector = Selector::parse(selector).unwrap();
    page.select(&selector)
        .filter_map(|e| e.value().attr(attr).map(str::to_owned))
        .collect()
}

/// The sizes on offer for the chosen colour (the one group of sizes that is not hidden).
const SIZES: &str = "fieldset.sizes:not([hidden]) input[name=size]";

/// What a product page shows chosen: the current swatch's colour, the size checked, the
/// price, and the colour the add form sends.
fn shown_choice(page: &Html) -> [String; 4] {
    let first = |selector: &str, attr: Option<&str>| {
        match attr {
            Some(attr) => attr_of(page, selector, attr),
            None => text_of(page, selector),
        }
        .unwrap_or_default()
    };
    [
        first("a.swatch[aria-current=true]", Some("data-color")),
        first(&format!("{SIZES}[checked]"), Some("value")),
        first(".product-info .price", None),
        first(
            "form[action='/cart/items'] input[name=color]",
            Some("value"),
        ),
    ]
}

/// Posts the product page's add form as a browser without script would.
async fn post_add_form(
    app: &TestApp,
    browser: &Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = csrf_token(browser, &app.url(MUG)).await;
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser
        .post(app.url("/cart/items"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Adds `quantity` of the product's pair in (colour, size) as the page's form sends it.
async fn add_pair(
    app: &TestApp,
    browser: &Client,
    product_id: &str,
    (color, size): (&str, &str),
    quantity: &str,
) -> reqwest::Response {
    let fields = [
        ("product_id", product_id),
        ("color", color),
        ("size", size),
        ("quantity", quantity),
    ];
    post_add_form(app, browser, &fields).await
}

async fn cart_pairs(app: &TestApp, browser: &Client) -> Vec<(String, String, i64)> {
    let cart = get_json(browser, app.url("/api/v1/cart")).await;
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["color"].as_str().unwrap().to_owned(),
                line["size"].as_str().unwrap().to_owned(),
                line["quantity"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_product_page_offers_one_group_of_colour_swatches_and_one_of_sizes() {
    let app = TestApp::spawn().await;
    let page = get_page(&app.client(), app.url(MUG)).await;
    assert_eq!(
        count_of(&page, "fieldset.variant-picker"),
        0,
        "no flat list"
    );

    // Colours: links that reload the page with that colour, named for screen readers.
    assert_eq!(
        texts(
            &page,
            "[role=group][aria-labelledby=colour-label] a.swatch .visually-hidden"
        ),
        ["White", "Gray", "Black"]
    );
    assert_eq!(
        attrs(&page, "a.swatch", "href"),
        [
            "/shop/coffee-radar-mug?color=White",
            "/shop/coffee-radar-mug?color=Gray",
            "/shop/coffee-radar-mug?color=Black"
        ]
    );
    assert_eq!(
        count_of(&page, "a.swatch .swatch-tone.swatch-tone--white"),
        1,
        "the swatch shows its colour"
    );
    assert_eq!(
        attrs(&page, "a.swatch[aria-current=true]", "data-color"),
        ["White"],
        "the first colour in stock is chosen"
    );
    assert_eq!(text_of(&page, "#chosen-colour").as_deref(), Some("White"));

    // Sizes: one group of radio buttons for the chosen colour, the first in stock chosen.
    assert_eq!(attrs(&page, SIZES, "value"), ["200 ml", "350 ml"]);
    assert_eq!(shown_choice(&page), ["White", "200 ml", "$12.00", "White"]);
    // Sizes of one colour differ in price, so each says its own.
    assert_eq!(
        texts(&page, "fieldset.sizes:not([hidden]) .size-price"),
        ["$12.00", "$15.00"]
    );
}

#[tokio::test]
async fn a_colour_and_size_in_the_address_choose_that_pair_its_price_and_picture() {
    let app = TestApp::spawn().await;
    let page = get_page(
        &app.client(),
        app.url(&format!("{MUG}?color=Gray&size=350%20ml")),
    )
    .await;
    assert_eq!(shown_choice(&page), ["Gray", "350 ml", "$15.00", "Gray"]);
    assert_eq!(
        attr_of(&page, "#product-picture", "alt").as_deref(),
        Some("Coffee Radar Mug in Gray")
    );

    // A colour the product does not come in is no error: the page shows its first choice.
    let unknown = app
        .client()
        .get(app.url(&format!("{MUG}?color=Purple&size=9")))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::OK);
    let unknown = document(&unknown.text().await.unwrap());
    assert_eq!(
        attrs(&unknown, "a.swatch[aria-current=true]", "data-color"),
        ["White"]
    );
}

#[tokio::test]
async fn the_add_form_sends_colour_and_size_and_the_server_finds_the_pair() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let page = get_page(&browser, app.url(&format!("{MUG}?color=Black"))).await;
    let product_id = attr_of(
        &page,
        "form[action='/cart/items'] input[name=product_id]",
        "value",
    )
    .expect("the form names its product");
    let added = add_pair(&app, &browser, &product_id, ("Black", "350 ml"), "2").await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&added), "/cart");
    assert_eq!(
        cart_pairs(&app, &browser).await,
        [("Black".to_owned(), "350 ml".to_owned(), 2)]
    );

    // The variant's id still works, as the API and older pages send it.
    let white_small = app.variant_of("Coffee Radar Mug").await.to_string();
    let by_id = post_add_form(&app, &browser, &[("variant_id", &white_small)]).await;
    assert_eq!(by_id.status(), StatusCode::SEE_OTHER);
    assert_eq!(cart_pairs(&app, &browser).await.len(), 2);
}

#[tokio::test]
async fn a_missing_or_sold_out_pair_answers_the_product_page_with_a_message_by_the_picker() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("ines").await;
    let shirt = get_page(&shopper, app.url(SHIRT)).await;
    let shirt_id = attr_of(&shirt, "input[name=product_id]", "value").unwrap();

    let sold_out = add_pair(&app, &shopper, &shirt_id, ("Green/Brown", "XL"), "3").await;
    assert_eq!(sold_out.status(), StatusCode::CONFLICT);
    let page = document(&sold_out.text().await.unwrap());
    assert_eq!(
        text_of(&page, "h1").as_deref(),
        Some("Coffee Radar T-Shirt")
    );
    assert_eq!(
        text_of(&page, "#size-error").as_deref(),
        Some("Green/Brown · XL is sold out. Choose another size or colour.")
    );
    assert_eq!(attr_of(&page, "#quantity", "value").as_deref(), Some("3"));
    assert_eq!(
        attrs(&page, "a.swatch[aria-current=true]", "data-color"),
        ["Green/Brown"],
        "the colour asked for stays chosen"
    );
    assert!(
        text_of(&page, ".account").unwrap().contains("Hi, Test"),
        "the shopper's header is kept"
    );

    let refused_pair = |color: &'static str, size: &'static str| {
        let (app, shopper, shirt_id) = (&app, &shopper, &shirt_id);
        async move {
            let refused = add_pair(app, shopper, shirt_id, (color, size), "1").await;
            let status = refused.status();
            let page = document(&refused.text().await.unwrap());
            (status, text_of(&page, "#size-error").unwrap_or_default())
        }
    };
    assert_eq!(
        refused_pair("White", "XXXL").await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "The Coffee Radar T-Shirt does not come in White · XXXL. Choose a size.".to_owned()
        )
    );
    assert_eq!(
        refused_pair("White", "").await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a size.".to_owned()
        )
    );

    let no_product = add_pair(&app, &shopper, "999", ("White", "S"), "1").await;
    assert_eq!(no_product.status(), StatusCode::NOT_FOUND);
    assert!(cart_pairs(&app, &shopper).await.is_empty());
}

#[tokio::test]
async fn sold_out_sizes_are_marked_in_text_and_cannot_be_chosen_and_few_left_are_counted() {
    // No snapshot: stock changed behind the shop's back shows at once.
    let app = TestApp::spawn_with(&["--catalog-cache-ms", "0"]).await;
    let small = variant_id(&app, "Coffee Radar T-Shirt", "Green/Brown", "S").await;
    app.set_stock(small, 3).await;
    let page = get_page(
        &app.client(),
        app.url(&format!("{SHIRT}?color=Green%2FBrown")),
    )
    .await;
    let sizes = texts(&page, "fieldset.sizes:not([hidden]) label.size-option");
    assert_eq!(sizes, ["S only 3 left", "M", "L", "XL sold out"]);
    assert_eq!(attrs(&page, &format!("{SIZES}[disabled]"), "value"), ["XL"]);
    assert_eq!(
        count_of(&page, "fieldset.sizes:not([hidden]) label.size-option--out"),
        1
    );
    // One price for every size: the sizes do not repeat it.
    assert_eq!(count_of(&page, ".size-price"), 0);

    // A colour whose sizes are all gone is marked sold out on its swatch.
    for size in ["S", "M", "L"] {
        let id = variant_id(&app, "Coffee Radar T-Shirt", "Green/Brown", size).await;
        app.set_stock(id, 0).await;
    }
    let page = get_page(&app.client(), app.url(SHIRT)).await;
    assert_eq!(
        texts(&page, "a.swatch.swatch--out .visually-hidden"),
        ["Green/Brown (sold out)"]
    );
}

async fn variant_id(app: &TestApp, product: &str, color: &str, size: &str) -> i64 {
    let products = get_json(&app.client(), app.url("/api/v1/products")).await;
    products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == product)
        .and_then(|p| {
            p["variants"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["color"] == color && v["size"] == size)
        })
        .and_then(|v| v["id"].as_i64())
        .unwrap()
}

#[tokio::test]
async fn breadcrumbs_lead_from_home_to_the_product_and_are_structured_data_too() {
    let app = TestApp::spawn().await;
    let page = get_page(&app.client(), app.url(MUG)).await;
    let crumbs = "nav.breadcrumbs[aria-label=Breadcrumb] ol li a";
    assert_eq!(
        texts(&page, crumbs),
        ["Home", "Shop", "Drinkware", "Coffee Radar Mug"]
    );
    assert_eq!(
        attrs(&page, crumbs, "href"),
        ["/", "/shop", "/shop?category=Drinkware", MUG]
    );
    assert_eq!(
        attrs(&page, &format!("{crumbs}[aria-current=page]"), "href"),
        [MUG]
    );

    let data: Vec<Value> = texts(&page, "script[type='application/ld+json']")
        .iter()
        .map(|json| serde_json::from_str(json).unwrap())
        .collect();
    assert_eq!(
        data[0]["@type"], "Product",
        "the product's data comes first"
    );
    let trail = data
        .iter()
        .find(|d| d["@type"] == "BreadcrumbList")
        .expect("a BreadcrumbList");
    let items = trail["itemListElement"].as_array().unwrap();
    let names: Vec<_> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Home", "Shop", "Drinkware", "Coffee Radar Mug"]);
    for (item, position) in items.iter().zip(1..) {
        assert_eq!(item["@type"], "ListItem");
        assert_eq!(item["position"], position);
        assert!(
            item["item"].as_str().unwrap().starts_with(&app.base),
            "{item}"
        );
    }
}

/// Staff create a visible product in `category` with one variant of `stock`.
async fn staff_product(app: &TestApp, staff: &Client, name: &str, category: &str, stock: i64) {
    let product = NewProduct {
        name,
        description: "Made for the test.",
        category,
        price: "5",
        variant: ("Black", "U", stock),
    };
    app.staff_create_product(staff, &product).await;
}

#[tokio::test]
async fn you_may_also_like_shows_other_products_of_the_category_in_stock_first() {
    let app = TestApp::spawn_with(&["--related-products", "2"]).await;
    let staff = app.signed_in("owner").await;
    app.grant_admin("owner");
    staff_product(&app, &staff, "Cup Sleeve", "Accessories", 0).await;
    staff_product(&app, &staff, "Key Ring", "Accessories", 4).await;
    staff_product(&app, &staff, "Tote", "Accessories", 4).await;

    let related = "section.related article.product-card h3 a";
    let bag = get_page(&app.client(), app.url("/shop/coffee-radar-bag")).await;
    assert_eq!(
        text_of(&bag, "section.related h2").as_deref(),
        Some("You may also like")
    );
    // Passport cover, key ring and tote are in stock (shop order); the sleeve is not.
    assert_eq!(
        texts(&bag, related),
        ["Coffee Radar Passport cover", "Key Ring"]
    );

    let wide = TestApp::spawn().await;
    let mug = get_page(&wide.client(), wide.url(MUG)).await;
    assert_eq!(count_of(&mug, "section.related"), 0, "no other Drinkware");
    let bag = get_page(&wide.client(), wide.url("/shop/coffee-radar-bag")).await;
    assert_eq!(texts(&bag, related), ["Coffee Radar Passport cover"]);
}

/// Uploads `picture` for `color` of product 1 (the mug) as staff.
async fn upload_colour_picture(
    app: &TestApp,
    staff: &Client,
    color: &str,
    picture: Vec<u8>,
) -> reqwest::Response {
    let csrf = csrf_token(staff, &app.url("/admin/products/1")).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("color", color.to_owned())
        .part(
            "picture",
            reqwest::multipart::Part::bytes(picture)
                .file_name("colour.png")
                .mime_str("image/png")
                .unwrap(),
        );
    staff
        .post(app.url("/admin/products/1/color-pictures"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn staff_give_a_colour_its_own_picture_replace_it_and_remove_it() {
    let app = TestApp::spawn().await;
    let shopper = app.client();
    // The demo catalog gives the gray and black mugs pictures of their own; white has none.
    let page = |color: &str| get_page(&shopper, app.url(&format!("{MUG}?color={color}")));
    let picture_of = |page: &Html| attr_of(page, "#product-picture", "src").unwrap();
    let product_picture = picture_of(&page("White").await);
    let seeded_gray = picture_of(&page("Gray").await);
    assert_ne!(seeded_gray, product_picture);

    // Only staff may.
    let stranger = app.signed_in("stranger").await;
    assert_eq!(
        upload_colour_picture(&app, &stranger, "Gray", png(300, 300))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    let staff = app.signed_in("owner").await;
    app.grant_admin("owner");
    let uploaded = upload_colour_picture(&app, &staff, "Gray", png(300, 300)).await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&uploaded), "/admin/products/1");
    let admin = get_page(&staff, app.url("/admin/products/1")).await;
    let gray_picture =
        attr_of(&admin, "img[data-color-picture=Gray]", "src").expect("shown to staff");
    assert_ne!(gray_picture, product_picture);
    assert_eq!(
        shopper
            .get(app.url(&gray_picture))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // The product page shows the chosen colour's picture, else the product's.
    assert_eq!(picture_of(&page("Gray").await), gray_picture);
    assert_ne!(gray_picture, seeded_gray);
    let white = page("White").await;
    assert_eq!(picture_of(&white), product_picture);
    // Each swatch carries its picture, for switching without a reload.
    assert_eq!(
        attrs(&white, "a.swatch", "data-picture")[..2],
        [product_picture.clone(), gray_picture.clone()]
    );

    // Replacing it.
    let replaced = upload_colour_picture(&app, &staff, "Gray", png(200, 120)).await;
    assert_eq!(replaced.status(), StatusCode::SEE_OTHER);
    let gray = get_page(&shopper, app.url(&format!("{MUG}?color=Gray"))).await;
    let replacement = attr_of(&gray, "#product-picture", "src").unwrap();
    assert_ne!(replacement, gray_picture);
    assert_ne!(replacement, product_picture);

    // A colour the product does not come in is refused on the staff page.
    let refused = upload_colour_picture(&app, &staff, "Purple", png(300, 300)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("The Coffee Radar Mug does not come in Purple.")
    );

    // Removing it brings back the product's picture.
    let csrf = csrf_token(&staff, &app.url("/admin/products/1")).await;
    let removed = staff
        .post(app.url("/admin/products/1/color-pictures/remove"))
        .form(&[("csrf", csrf.as_str()), ("color", "Gray")])
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let gray = get_page(&shopper, app.url(&format!("{MUG}?color=Gray"))).await;
    assert_eq!(
        attr_of(&gray, "#product-picture", "src"),
        Some(product_picture)
    );
    let admin = get_page(&staff, app.url("/admin/products/1")).await;
    assert_eq!(count_of(&admin, "img[data-color-picture=Gray]"), 0);
}
