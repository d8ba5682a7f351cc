//! The shopper's order pages: a timeline of the order's steps with their times, product
//! pictures on the lines, "buy again", and a question before cancelling.

use crate::common::{
    TestApp, add_to_cart, attr_of, count_of, csrf_token, document, get_page, text_of,
};
use reqwest::{Client, StatusCode};
use scraper::{Html, Selector};

/// The mug, White 200 ml: $12.00, 25 in stock.
const MUG: i64 = 1;

/// Presses a form's only button: a POST with the form's CSRF token and nothing else.
async fn press(client: &Client, url: impl reqwest::IntoUrl, csrf: &str) -> reqwest::Response {
    client
        .post(url)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

/// Staff move `code` one step along (placed → paid → shipped → delivered), `times` times.
async fn advance(app: &TestApp, staff: &Client, code: &str, times: usize) {
    let csrf = csrf_token(staff, &app.url("/admin/orders")).await;
    for _ in 0..times {
        let advanced = press(
            staff,
            app.url(&format!("/admin/orders/{code}/advance")),
            &csrf,
        )
        .await;
        assert_eq!(advanced.status(), StatusCode::SEE_OTHER);
    }
}

async fn staff(app: &TestApp) -> Client {
    let staff = app.signed_in("boss").await;
    app.grant_admin("boss");
    staff
}

/// The timeline's steps as (name, state, datetime attribute of its time, if any).
fn steps(page: &Html) -> Vec<(String, String, Option<String>)> {
    let step = Selector::parse("ol.timeline > li").unwrap();
    let name = Selector::parse(".step-name").unwrap();
    let time = Selector::parse("time").unwrap();
    page.select(&step)
        .map(|li| {
            let text = li
                .select(&name)
                .next()
                .map(|n| n.text().collect::<String>().trim().to_owned())
                .unwrap_or_default();
            let state = li.value().attr("data-state").unwrap_or_default().to_owned();
            let at = li
                .select(&time)
                .next()
                .and_then(|t| t.value().attr("datetime"))
                .map(str::to_owned);
            (text, state, at)
        })
        .collect()
}

#[tokio::test]
async fn the_order_page_shows_each_step_with_its_time_and_the_steps_to_come() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let shopper = app.signed_in("ana").await;
    let code = app.order_one(&shopper, "Coffee Radar Mug").await;
    advance(&app, &staff, &code, 2).await;

    let page = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    let steps = steps(&page);
    let names: Vec<_> = steps.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["Placed", "Paid", "Shipped", "Delivered"]);
    let states: Vec<_> = steps.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(states, ["done", "done", "current", "upcoming"]);
    for (name, _, at) in &steps[..3] {
        let at = at.as_deref().unwrap_or_else(|| panic!("{name} has a time"));
        assert!(at.ends_with('Z') && at.contains('T'), "{name}: {at}");
    }
    assert_eq!(steps[3].2, None, "delivery is still to come");
    assert!(
        text_of(&page, "ol.timeline > li:last-child")
            .unwrap()
            .contains("Not yet"),
        "upcoming is said in words, not only by colour"
    );
    assert_eq!(
        attr_of(&page, "ol.timeline", "aria-label").as_deref(),
        Some("Order progress")
    );
}

#[tokio::test]
async fn a_cancelled_order_shows_when_it_was_cancelled() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("ana").await;
    let code = app.order_one(&shopper, "Coffee Radar Mug").await;
    let url = app.url(&format!("/orders/{code}/cancel"));
    let csrf = csrf_token(&shopper, &url).await;
    let cancelled = press(&shopper, &url, &csrf).await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);

    let page = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    let steps = steps(&page);
    let names: Vec<_> = steps.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["Placed", "Cancelled"]);
    assert!(steps.iter().all(|s| s.2.is_some()), "{steps:?}");
    assert_eq!(steps[1].1, "current");
}

#[tokio::test]
async fn an_order_from_before_the_history_shows_what_is_known() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("ana").await;
    let code = app.order_one(&shopper, "Coffee Radar Mug").await;
    // As an order placed and shipped before the history was kept looks.
    app.db
        .query("DELETE FROM order_history")
        .execute(app.db.pool())
        .await
        .unwrap();
    app.db
        .query(
            "UPDATE orders SET status = 'shipped', created_at = ?, updated_at = ? WHERE code = ?",
        )
        .bind(1_700_000_000_000_i64)
        .bind(1_700_100_000_000_i64)
        .bind(&code)
        .execute(app.db.pool())
        .await
        .unwrap();

    let page = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    let steps = steps(&page);
    let known: Vec<_> = steps
        .iter()
        .map(|(name, state, at)| (name.as_str(), state.as_str(), at.as_deref()))
        .collect();
    assert_eq!(
        known,
        [
            ("Placed", "done", Some("2023-11-14T22:13:20Z")),
            ("Paid", "done", None),
            ("Shipped", "current", Some("2023-11-16T02:00:00Z")),
            ("Delivered", "upcoming", None),
        ]
    );
}

#[tokio::test]
async fn order_lines_show_the_products_pictures() {
    let app = TestApp::spawn_with(&["--catalog-cache-ms", "0"]).await;
    let shopper = app.signed_in("ana").await;
    let code = app.order_one(&shopper, "Coffee Radar Mug").await;
    let page = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    let src = attr_of(&page, ".order-lines img.thumb", "src").expect("a thumbnail");
    let product = get_page(&shopper, app.url("/shop/coffee-radar-mug")).await;
    let mug = attr_of(&product, "img[src^='/media/']", "src").expect("the mug's picture");
    assert_eq!(src, mug, "the product's own picture");
    assert_eq!(
        attr_of(&page, ".order-lines img.thumb", "alt").as_deref(),
        Some("")
    );
    let picture = shopper.get(app.url(&src)).send().await.unwrap();
    assert_eq!(picture.status(), StatusCode::OK, "{src}");

    // A product no longer shown has the shop's logo instead.
    app.db
        .query("UPDATE products SET hidden = 1")
        .execute(app.db.pool())
        .await
        .unwrap();
    let page = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    let src = attr_of(&page, ".order-lines img.thumb", "src").expect("a thumbnail");
    assert!(src.contains("favicon"), "{src}");
}

/// Places an order of `lines` (variant, quantity) for `shopper` through the API.
async fn order_of(app: &TestApp, shopper: &Client, lines: &[(i64, i64)], key: &str) -> String {
    for &(variant, quantity) in lines {
        add_to_cart(app, shopper, variant, quantity).await;
    }
    app.order_cart(shopper, key).await
}

#[tokio::test]
async fn buy_again_puts_what_is_still_for_sale_back_in_the_cart_and_says_what_is_not() {
    let app = TestApp::spawn_with(&["--catalog-cache-ms", "0"]).await;
    let shopper = app.signed_in("ana").await;
    let shirt = app.variant_of("Coffee Radar T-Shirt").await;
    let bag = app.variant_of("Coffee Radar Bag").await;
    let code = order_of(&app, &shopper, &[(MUG, 3), (shirt, 1), (bag, 1)], "k1").await;
    app.set_stock(MUG, 2).await;
    app.set_stock(bag, 0).await;
    app.db
        .query("UPDATE variants SET hidden = 1 WHERE id = ?")
        .bind(shirt)
        .execute(app.db.pool())
        .await
        .unwrap();

    let list = get_page(&shopper, app.url("/orders")).await;
    let action = attr_of(&list, "form.buy-again", "action").expect("buy again on the list");
    assert_eq!(action, format!("/orders/{code}/again"));
    let order_page = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    assert_eq!(
        attr_of(&order_page, "form.buy-again", "action"),
        Some(action.clone())
    );
    let csrf = attr_of(&order_page, "form.buy-again input[name=csrf]", "value").unwrap();

    let again = press(&shopper, app.url(&action), &csrf).await;
    assert_eq!(again.status(), StatusCode::OK);
    let cart = document(&again.text().await.unwrap());
    assert_eq!(text_of(&cart, "h1").as_deref(), Some("Your cart"));
    assert_eq!(count_of(&cart, "tr.cart-line"), 1, "only the mug");
    assert_eq!(
        attr_of(&cart, "#qty-1", "value").as_deref(),
        Some("2"),
        "capped by the stock"
    );
    let notes: Vec<String> = cart
        .select(&Selector::parse(".buy-again-notes li").unwrap())
        .map(|li| li.text().collect::<String>())
        .collect();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(
        notes[0].contains("Coffee Radar Mug") && notes[0].contains("only 2"),
        "{notes:?}"
    );
    assert!(
        notes[1].contains("Coffee Radar T-Shirt") && notes[1].contains("no longer for sale"),
        "{notes:?}"
    );
    assert!(
        notes[2].contains("Coffee Radar Bag") && notes[2].contains("sold out"),
        "{notes:?}"
    );

    // Never for somebody else's order.
    let nosy = app.signed_in("nosy").await;
    let csrf = csrf_token(&nosy, &app.url("/cart")).await;
    let refused = press(&nosy, app.url(&action), &csrf).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("cart_items").await, 1, "nothing added for them");
}

#[tokio::test]
async fn a_guest_buys_again_from_their_own_order_page() {
    let app = TestApp::spawn().await;
    let guest = app.client();
    add_to_cart(&app, &guest, MUG, 2).await;
    let csrf = csrf_token(&guest, &app.url("/checkout")).await;
    let placed = guest
        .post(app.url("/checkout"))
        .form(&crate::guest_checkout::guest_form(
            &csrf,
            "ana@example.test",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::SEE_OTHER);
    let to = crate::common::location(&placed);
    let page = get_page(&guest, app.url(&to)).await;
    let action = attr_of(&page, "form.buy-again", "action").expect("buy again");
    let csrf = attr_of(&page, "form.buy-again input[name=csrf]", "value").unwrap();
    let again = press(&guest, app.url(&action), &csrf).await;
    assert_eq!(again.status(), StatusCode::OK);
    let cart = document(&again.text().await.unwrap());
    assert_eq!(attr_of(&cart, "#qty-1", "value").as_deref(), Some("2"));
    assert_eq!(
        count_of(&cart, ".buy-again-notes li"),
        0,
        "all of it went back"
    );

    // Another browser without the link gets nothing.
    let stranger = app.client();
    let csrf = csrf_token(&stranger, &app.url("/shop/coffee-radar-mug")).await;
    let refused = press(&stranger, app.url(&action), &csrf).await;
    assert_ne!(refused.status(), StatusCode::OK);
    assert_eq!(
        app.count("cart_items").await,
        1,
        "only the guest's own line"
    );
}

#[tokio::test]
async fn cancelling_asks_first_on_a_page_of_its_own() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("ana").await;
    let code = app.order_one(&shopper, "Coffee Radar Mug").await;
    let stock = app.stock_of(MUG).await;

    let order_page = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    let ask = attr_of(&order_page, "a.cancel-order", "href").expect("a link to cancel");
    assert_eq!(ask, format!("/orders/{code}/cancel"));
    assert_eq!(
        count_of(&order_page, "form.cancel"),
        0,
        "no cancel in one click"
    );

    let question = shopper.get(app.url(&ask)).send().await.unwrap();
    assert_eq!(question.status(), StatusCode::OK);
    let question = document(&question.text().await.unwrap());
    assert_eq!(
        text_of(&question, "h1").as_deref(),
        Some(format!("Cancel order {code}?").as_str())
    );
    assert!(
        text_of(&question, ".order-lines")
            .unwrap()
            .contains("Coffee Radar Mug")
    );
    assert_eq!(
        attr_of(&question, "form.cancel", "method").as_deref(),
        Some("post")
    );
    assert_eq!(
        attr_of(&question, "a.keep-order", "href"),
        Some(format!("/orders/{code}"))
    );
    assert_eq!(app.stock_of(MUG).await, stock, "asking changes nothing");

    let nosy = app.signed_in("nosy").await;
    let theirs = nosy.get(app.url(&ask)).send().await.unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);

    let action = attr_of(&question, "form.cancel", "action").unwrap();
    let csrf = attr_of(&question, "form.cancel input[name=csrf]", "value").unwrap();
    let cancelled = press(&shopper, app.url(&action), &csrf).await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.stock_of(MUG).await, stock + 1);

    let again = shopper.get(app.url(&ask)).send().await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::CONFLICT,
        "a cancelled order cannot be cancelled"
    );
}

#[tokio::test]
async fn the_cart_shows_delivery_tax_and_total_as_checkout_computes_them() {
    let app =
        TestApp::spawn_with(&["--tax-rate-bp", "2100", "--prices-include-tax", "false"]).await;
    let shopper = app.signed_in("ana").await;
    add_to_cart(&app, &shopper, MUG, 2).await;
    let cart = get_page(&shopper, app.url("/cart")).await;
    let checkout = get_page(&shopper, app.url("/checkout")).await;
    // $24.00 of mugs, $4.95 Standard delivery, 21 % on top: $6.08 tax, $35.03 in all.
    for (figure, amount) in [
        ("subtotal", "$24.00"),
        ("delivery", "$4.95"),
        ("tax", "$6.08"),
        ("total", "$35.03"),
    ] {
        let selector = format!(".totals .{figure}");
        assert_eq!(
            text_of(&cart, &selector).as_deref(),
            Some(amount),
            "cart {figure}"
        );
        assert_eq!(
            text_of(&checkout, &selector).as_deref(),
            Some(amount),
            "checkout {figure}"
        );
    }
    assert!(
        text_of(&cart, ".totals").unwrap().contains("Standard"),
        "says which delivery the figure is for"
    );
}

/// Every sideways-scrolling table region on the page has a name and a keyboard stop, and
/// its table turns into cards on a phone with each cell labelled.
fn assert_tables_are_accessible(page: &Html, which: &str) {
    let wrap = Selector::parse(".table-wrap").unwrap();
    let cell = Selector::parse("tbody td").unwrap();
    let table = Selector::parse("table").unwrap();
    let mut seen = 0;
    for region in page.select(&wrap) {
        seen += 1;
        let attrs = region.value();
        assert_eq!(attrs.attr("tabindex"), Some("0"), "{which}");
        assert!(
            attrs.attr("aria-label").is_some() || attrs.attr("aria-labelledby").is_some(),
            "{which}: a named region"
        );
        assert_eq!(attrs.attr("role"), Some("region"), "{which}");
        let table = region.select(&table).next().unwrap();
        assert!(
            table.value().classes().any(|c| c == "cards-on-phone"),
            "{which}"
        );
        for td in region.select(&cell) {
            let first = td
                .value()
                .classes()
                .any(|c| c == "cart-item" || c == "line-item");
            let actions = td
                .value()
                .classes()
                .any(|c| c == "cart-remove" || c == "actions");
            assert!(
                first || actions || td.value().attr("data-label").is_some(),
                "{which}: {}",
                td.html()
            );
        }
    }
    assert!(seen > 0, "{which} has a table");
}

#[tokio::test]
async fn order_and_checkout_tables_are_named_regions_that_become_cards_on_phones() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let shopper = app.signed_in("ana").await;
    let code = app.order_one(&shopper, "Coffee Radar Mug").await;
    add_to_cart(&app, &shopper, MUG, 1).await;
    for path in ["/cart", "/checkout", "/orders", &format!("/orders/{code}")] {
        let page = get_page(&shopper, app.url(path)).await;
        assert_tables_are_accessible(&page, path);
    }
    let cancel = get_page(&shopper, app.url(&format!("/orders/{code}/cancel"))).await;
    assert_tables_are_accessible(&cancel, "cancel");

    // The staff order page shows the same totals block as the shopper's.
    let theirs = get_page(&staff, app.url(&format!("/admin/orders/{code}"))).await;
    let mine = get_page(&shopper, app.url(&format!("/orders/{code}"))).await;
    let totals = |page: &Html| {
        page.select(&Selector::parse(".totals dl").unwrap())
            .next()
            .map(|dl| dl.html())
    };
    assert!(totals(&mine).is_some());
    assert_eq!(totals(&theirs), totals(&mine));
}
