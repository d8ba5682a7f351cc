//! The shop under hostile and careless clients: throttles that hold under concurrency and
//! lock out nobody but the attacker, redirects that stay on the site, headers that keep
//! private pages private, data that does not grow without bound, and staff-only effects
//! that nobody else can trigger.

use std::time::Duration;

use crate::common::{
    PASSWORD, TestApp, attr_of, csrf_token, document, get_json, location, reset_link,
};
use futures::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// A generous bound for "did not hang" (never a speed test).
const HANG: Duration = Duration::from_secs(10);

async fn sign_in_as(app: &TestApp, client: &Client, login: &str, password: &str) -> StatusCode {
    client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "username": login, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

/// Signs in with the sign-in page's form.
async fn sign_in_on_the_page(
    app: &TestApp,
    client: &Client,
    login: &str,
    password: &str,
) -> reqwest::Response {
    let csrf = csrf_token(client, &app.url("/signin")).await;
    client
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", login),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// A client whose requests the load balancer says come from `ip`.
fn from_address(ip: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn register(client: &Client, app: &TestApp, username: &str) -> reqwest::Response {
    client
        .post(app.url("/api/v1/users"))
        .json(&json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": PASSWORD,
            "first_name": "Test",
        }))
        .send()
        .await
        .unwrap()
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

// --- sign-in throttles ---

/// The subject of a password reset mail.
const RESET: &str = "Reset your Coffee Radar password";

#[tokio::test]
async fn concurrent_wrong_passwords_are_counted_exactly_and_stop_at_the_limit() {
    let app = TestApp::spawn().await;
    app.signed_in("target").await;
    let hashes_before = metric(&app, "password_hashes_total").await;
    let attempts = (0..40).map(|_| async {
        let client = app.client();
        sign_in_as(&app, &client, "target", "wrong password 1").await
    });
    let answers = join_all(attempts).await;
    let refused_wrong = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (refused_wrong, throttled),
        (5, 35),
        "five attempts are checked, the rest refused before any hash: {answers:?}"
    );
    assert_eq!(
        metric(&app, "password_hashes_total").await - hashes_before,
        5.0,
        "a refused attempt costs no hash"
    );
    assert_eq!(
        sign_in_as(&app, &app.client(), "target", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "from the attacker's address the account stays locked, even with the password"
    );
}

#[tokio::test]
async fn an_attacker_at_one_address_does_not_lock_out_the_owner_at_another() {
    let app = TestApp::spawn_with(&["--behind-proxy"]).await;
    app.signed_in("owner").await;
    let attacker = from_address("203.0.113.7");
    for _ in 0..5 {
        assert_eq!(
            sign_in_as(&app, &attacker, "owner", "guess guess guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let refused = attacker
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "username": "owner", "password": "guess guess guess" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let message: Value = refused.json().await.unwrap();
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("reset your password"),
        "{message}"
    );
    let owner = from_address("198.51.100.2");
    assert_eq!(
        sign_in_as(&app, &owner, "owner", PASSWORD).await,
        StatusCode::OK,
        "the owner, at another address, signs in"
    );
    // The username and the email name the same account, with the same counters.
    assert_eq!(
        sign_in_as(&app, &attacker, "owner@example.com", "guess guess guess").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        sign_in_as(
            &app,
            &from_address("198.51.100.3"),
            "OWNER@example.com",
            PASSWORD
        )
        .await,
        StatusCode::OK,
        "the email signs in as well as the username"
    );
}

#[tokio::test]
async fn an_attack_from_many_addresses_is_stopped_and_a_password_reset_lifts_it() {
    let app =
        TestApp::spawn_with(&["--behind-proxy", "--rate-limit-signin-per-account", "3"]).await;
    app.signed_in("popular").await;
    for n in 1..=3 {
        let bot = from_address(&format!("192.0.2.{n}"));
        assert_eq!(
            sign_in_as(&app, &bot, "popular", "wrong password 1").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let owner = from_address("198.51.100.9");
    assert_eq!(
        sign_in_as(&app, &owner, "popular", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the account-wide ceiling holds for every address"
    );

    // The owner resets the password by mail; that lifts the account's counters.
    let asked = ask_reset(&app, &owner, "popular@example.com").await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let mails = app.mails_about(RESET, 1).await;
    let link = reset_link(mails.last().expect("a reset mail"));
    let csrf = csrf_token(&owner, &app.url(&link)).await;
    let reset = owner
        .post(app.url(&link))
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", "fresh start in spring"),
            ("password_confirm", "fresh start in spring"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        sign_in_as(&app, &owner, "popular", "fresh start in spring").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_stopped_while_other_addresses_sign_in() {
    let app =
        TestApp::spawn_with(&["--behind-proxy", "--rate-limit-signin-per-address", "3"]).await;
    for n in 1..=4 {
        app.signed_in(&format!("member{n}")).await;
    }
    let guesser = from_address("203.0.113.77");
    for n in 1..=3 {
        assert_eq!(
            sign_in_as(&app, &guesser, &format!("member{n}"), "wrong password 1").await,
            StatusCode::UNAUTHORIZED,
            "one failure per account is far below the per-account limits"
        );
    }
    let refused = guesser
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "username": "member4", "password": "wrong password 1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let message: Value = refused.json().await.unwrap();
    let message = message["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("from your network") && message.contains("Wait 15 minutes"),
        "{message}"
    );
    assert_eq!(
        sign_in_as(&app, &guesser, "member4", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is refused whatever the account and password"
    );
    // The sign-in page says the same.
    let page = sign_in_on_the_page(&app, &guesser, "member4", "wrong password 1").await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = document(&page.text().await.unwrap());
    assert!(
        crate::common::text_of(&html, "[role=alert]")
            .unwrap_or_default()
            .contains("from your network")
    );

    let neighbour = from_address("198.51.100.77");
    assert_eq!(
        sign_in_as(&app, &neighbour, "member1", "wrong password 1").await,
        StatusCode::UNAUTHORIZED,
        "another address has its own count"
    );
    assert_eq!(
        sign_in_as(&app, &neighbour, "member4", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_in_inputs_are_bounded_before_they_reach_the_database() {
    let app = TestApp::spawn().await;
    let huge = "u".repeat(4 * 1024 * 1024);
    let answer = app
        .client()
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "username": huge, "password": "whatever it is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let long = "u".repeat(20_000);
    let client = app.client();
    assert_eq!(
        sign_in_as(&app, &client, &long, "whatever it is").await,
        StatusCode::UNAUTHORIZED,
        "a name longer than any account is simply wrong"
    );
    let form = sign_in_on_the_page(&app, &client, &"a".repeat(300), "whatever it is").await;
    assert_eq!(form.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count("rate_limits").await,
        0,
        "nothing was stored for it"
    );
    let (longest,): (i64,) = app
        .db
        .query_as("SELECT COALESCE(MAX(LENGTH(subject)), 0) FROM rate_limits")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert!(longest <= 100);
}

// --- registration and passwords ---

#[tokio::test]
async fn one_address_may_create_only_so_many_accounts_an_hour() {
    let app =
        TestApp::spawn_with(&["--behind-proxy", "--rate-limit-registrations-per-hour", "2"]).await;
    let bot = from_address("203.0.113.50");
    assert_eq!(
        register(&bot, &app, "bot1").await.status(),
        StatusCode::CREATED
    );
    // A refused registration does not count.
    assert_eq!(
        register(&bot, &app, "bot1").await.status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        register(&bot, &app, "bot2").await.status(),
        StatusCode::CREATED
    );
    let third = register(&bot, &app, "bot3").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let message: Value = third.json().await.unwrap();
    assert!(message["error"].as_str().unwrap().contains("network"));
    let someone_else = from_address("198.51.100.20");
    assert_eq!(
        register(&someone_else, &app, "human").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(app.count("users").await, 3);

    // The page says so on the form, with what was typed kept.
    let csrf = csrf_token(&bot, &app.url("/register")).await;
    let page = bot
        .post(app.url("/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "bot4"),
            ("email", "bot4@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
            ("first_name", "Bot"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = document(&page.text().await.unwrap());
    assert_eq!(
        attr_of(&html, "input[name=username]", "value").as_deref(),
        Some("bot4")
    );
}

#[tokio::test]
async fn common_and_personal_passwords_are_refused_with_a_helpful_message() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for weak in [
        "password",
        "12345678",
        "        ",
        "maria.lopez",
        "maria.lopez@example.com",
    ] {
        let answer = client
            .post(app.url("/api/v1/users"))
            .json(&json!({
                "username": "maria.lopez",
                "email": "maria.lopez@example.com",
                "password": weak,
                "first_name": "María",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{weak:?}"
        );
        let body: Value = answer.json().await.unwrap();
        let message = body["fields"]["password"].as_str().unwrap_or_default();
        assert!(
            message.contains("guess") || message.contains("username"),
            "{weak:?}: {message}"
        );
    }
    assert_eq!(app.count("users").await, 0);
}

// --- forgotten passwords ---

async fn ask_reset(app: &TestApp, client: &Client, email: &str) -> reqwest::Response {
    let csrf = csrf_token(client, &app.url("/password/forgot")).await;
    client
        .post(app.url("/password/forgot"))
        .form(&[("csrf", csrf.as_str()), ("email", email)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn many_reset_requests_send_few_mails_and_only_the_newest_link_works() {
    let app =
        TestApp::spawn_with(&["--rate-limit-reset-requests-per-address-per-hour", "100"]).await;
    app.signed_in("forgetful").await;
    let browser = app.client();
    for _ in 0..30 {
        let asked = ask_reset(&app, &browser, "forgetful@example.com").await;
        assert_eq!(asked.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&asked), "/signin");
    }
    let mails = app.mails_about(RESET, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.mails_about(RESET, 3).await.len(),
        3,
        "three mails an hour per account"
    );
    let (live,): (i64,) = app
        .db
        .query_as("SELECT COUNT(*) FROM password_resets WHERE used_at IS NULL")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(live, 1, "a new link replaces the old one");
    let mut working = 0;
    for mail in &mails {
        let status = browser
            .get(app.url(&reset_link(mail)))
            .send()
            .await
            .unwrap()
            .status();
        assert!(matches!(status, StatusCode::OK | StatusCode::NOT_FOUND));
        working += usize::from(status == StatusCode::OK);
    }
    assert_eq!(working, 1, "only the newest link works");
}

#[tokio::test]
async fn reset_requests_are_limited_per_address_and_answer_the_same_for_unknown_emails() {
    let app = TestApp::spawn_with(&["--rate-limit-reset-requests-per-address-per-hour", "3"]).await;
    app.signed_in("known").await;
    let browser = app.client();
    let known = ask_reset(&app, &browser, "known@example.com").await;
    let unknown = ask_reset(&app, &browser, "nobody@example.com").await;
    assert_eq!(known.status(), unknown.status());
    assert_eq!(location(&known), location(&unknown));
    let cookie = |r: &reqwest::Response| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| v.starts_with("cr_flash"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(cookie(&known), cookie(&unknown));
    assert_eq!(
        ask_reset(&app, &browser, "malformed").await.status(),
        StatusCode::SEE_OTHER
    );
    let over = ask_reset(&app, &browser, "known@example.com").await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = document(&over.text().await.unwrap());
    assert!(
        crate::common::text_of(&html, "[role=alert]")
            .unwrap_or_default()
            .contains("network")
    );
    assert_eq!(app.mails_about(RESET, 1).await.len(), 1);
}

#[tokio::test]
async fn a_reset_request_does_not_wait_for_a_mail_server_that_hangs() {
    // A mail server that accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn_with(&["--smtp-host", "127.0.0.1", "--smtp-port", &port]).await;
    app.signed_in("patient").await;
    let browser = app.client();
    let answer = tokio::time::timeout(HANG, ask_reset(&app, &browser, "patient@example.com"))
        .await
        .expect("the answer does not wait for the mail server");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/signin");
}

#[tokio::test]
async fn a_reset_link_is_checked_before_the_new_password() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let csrf = csrf_token(&browser, &app.url("/signin")).await;
    let hashes_before = metric(&app, "password_hashes_total").await;
    let strong = browser
        .post(app.url("/password/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", "a perfectly fine secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(strong.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        metric(&app, "password_hashes_total").await,
        hashes_before,
        "nothing is hashed for a link that does not exist"
    );
    let forged = browser
        .post(app.url("/password/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .form(&[("csrf", csrf.as_str()), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::NOT_FOUND,
        "a link that does not exist is refused whatever the password"
    );
}

// --- redirects ---

#[tokio::test]
async fn sign_in_never_sends_anyone_to_another_site() {
    let app = TestApp::spawn().await;
    app.signed_in("walker").await;
    let payloads = [
        "//evil.example",
        "///evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n",
        "/\n",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "https://evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "data:text/html,hi",
        " //evil.example",
        "/..//evil.example",
        "/./%2F/evil.example",
        "/%2F%2Fevil.example",
        "/%09/evil.example",
        "evil.example",
        "@evil.example",
        "/\u{3000}/evil.example",
    ];
    for next in payloads {
        let client = app.client();
        let csrf = csrf_token(&client, &app.url("/signin")).await;
        let posted = client
            .post(app.url("/signin"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "walker"),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_stays_here(&location(&posted), next);

        let signed_in = app.signed_in_again("walker").await;
        let query = url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
        let got = signed_in
            .get(app.url(&format!("/signin?next={query}")))
            .send()
            .await
            .unwrap();
        assert!(got.status().is_redirection(), "{next:?}: {}", got.status());
        assert_stays_here(&location(&got), next);
    }
    // Local targets still work, with their query.
    let local = app.signed_in_again("walker").await;
    let got = local
        .get(app.url("/signin?next=%2Fshop%3Fq%3Dblack%20mug"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&got), "/shop?q=black%20mug");
}

fn assert_stays_here(target: &str, payload: &str) {
    assert!(
        target.starts_with('/')
            && !target.starts_with("//")
            && !target.contains('\\')
            && !target.chars().any(|c| c.is_control() || c.is_whitespace()),
        "{payload:?} redirected to {target:?}"
    );
}

// --- headers ---

#[tokio::test]
async fn https_behind_the_load_balancer_gets_hsts_and_private_answers_are_not_stored() {
    let app = TestApp::spawn_with(&["--behind-proxy"]).await;
    let client = app.signed_in("private").await;
    let over_https = client
        .get(app.url("/profile"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let hsts = over_https
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(hsts.starts_with("max-age=31536000"), "{hsts:?}");
    let over_http = client.get(app.url("/profile")).send().await.unwrap();
    assert!(
        over_http
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    for path in [
        "/profile",
        "/orders",
        "/cart",
        "/api/v1/me",
        "/api/v1/orders",
    ] {
        let answer = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        assert_eq!(
            answer
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{path}"
        );
    }
    let html = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let stylesheet = attr_of(&document(&html), "link[rel=stylesheet]", "href").unwrap();
    let asset = client.get(app.url(&stylesheet)).send().await.unwrap();
    assert_ne!(
        asset
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "static files keep their own caching"
    );
}

#[tokio::test]
async fn error_pages_go_back_with_a_link_that_works_under_the_shops_own_policy() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let from_our_page = client
        .get(app.url("/no/such/page"))
        .header("referer", app.url("/shop?category=Mugs"))
        .send()
        .await
        .unwrap();
    assert_eq!(from_our_page.status(), StatusCode::NOT_FOUND);
    let html = from_our_page.text().await.unwrap();
    assert!(!html.contains("javascript:"));
    let page = document(&html);
    let back = attr_of(&page, ".error-page a.button--secondary", "href").unwrap();
    assert_eq!(back, "/shop?category=Mugs");
    let from_elsewhere = client
        .get(app.url("/no/such/page"))
        .header("referer", "https://evil.example/phish")
        .send()
        .await
        .unwrap();
    let page = document(&from_elsewhere.text().await.unwrap());
    assert_eq!(
        attr_of(&page, ".error-page a.button--secondary", "href").as_deref(),
        Some("/")
    );
}

// --- data that would grow without bound ---

#[tokio::test]
async fn expired_guest_sessions_carts_and_spent_links_are_cleaned_up() {
    let app = TestApp::spawn_with(&[
        "--guest-session-secs",
        "1",
        "--retention-interval-secs",
        "1",
        "--retain-reset-links-days",
        "0",
        "--retain-events-days",
        "30",
    ])
    .await;
    let shopper = app.signed_in("stays").await;
    let variant = app.variant_of("Coffee maker").await;
    assert_eq!(
        add_to_cart(&app, &shopper, variant).await,
        StatusCode::CREATED
    );
    for _ in 0..50 {
        // Cookieless: every call starts a new guest session and cart.
        assert_eq!(
            add_to_cart(&app, &app.client(), variant).await,
            StatusCode::CREATED
        );
    }
    // A spent reset link, and an event from long ago.
    ask_reset(&app, &app.client(), "stays@example.com").await;
    app.db
        .query("UPDATE password_resets SET used_at = ?")
        .bind(coffee_radar::db::now_ms() - 1000)
        .execute(app.db.pool())
        .await
        .unwrap();
    app.db
        .query("INSERT INTO events (id, kind, occurred_at) VALUES (?, 'page_view', ?)")
        .bind(424_242_i64)
        .bind(coffee_radar::db::now_ms() - 400 * 24 * 3600 * 1000)
        .execute(app.db.pool())
        .await
        .unwrap();

    let mut cleaned = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if app.count("sessions").await == 1
            && app.count("cart_items").await == 1
            && app.count("password_resets").await == 0
        {
            cleaned = true;
            break;
        }
    }
    assert!(
        cleaned,
        "sessions {}, cart lines {}, reset links {}",
        app.count("sessions").await,
        app.count("cart_items").await,
        app.count("password_resets").await
    );
    let (old_events,): (i64,) = app
        .db
        .query_as("SELECT COUNT(*) FROM events WHERE id = 424242")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(old_events, 0, "events past their retention are pruned");
    let cart: Value = get_json(&shopper, app.url("/api/v1/cart")).await;
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        1,
        "the signed-in cart stays"
    );
    assert!(metric(&app, "retention_deleted_total{kind=\"sessions\"}").await >= 50.0);
    assert!(metric(&app, "retention_deleted_total{kind=\"guest_cart_lines\"}").await >= 50.0);
}

/// Puts one of `variant` in the cart of `client` (a guest's new cart when it has no cookie).
async fn add_to_cart(app: &TestApp, client: &Client, variant: i64) -> StatusCode {
    client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap()
        .status()
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Waits (a bound against hanging, not a speed test) until `done` holds; says whether it did.
async fn eventually(mut done: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..300 {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn insert_rate_limit(app: &TestApp, subject: &str, window_start: i64) {
    app.db
        .query("INSERT INTO rate_limits (subject, window_start, hits) VALUES (?, ?, 1)")
        .bind(subject.to_owned())
        .bind(window_start)
        .execute(app.db.pool())
        .await
        .unwrap();
}

async fn rate_limits_started_before(app: &TestApp, before_ms: i64) -> i64 {
    let (n,): (i64,) = app
        .db
        .query_as("SELECT COUNT(*) FROM rate_limits WHERE window_start < ?")
        .bind(before_ms)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn old_throttle_counters_go_after_their_retention_and_fresh_ones_keep_counting() {
    let app = TestApp::spawn_with(&[
        "--behind-proxy",
        "--retention-interval-secs",
        "1",
        "--retain-rate-limits-days",
        "2",
    ])
    .await;
    app.signed_in("watched").await;
    let guesser = from_address("203.0.113.90");
    for _ in 0..2 {
        assert_eq!(
            sign_in_as(&app, &guesser, "watched", "wrong password 1").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let fresh = app.count("rate_limits").await;
    assert!(fresh >= 3, "counters of the failures and the registration");
    let now = coffee_radar::db::now_ms();
    insert_rate_limit(&app, "signin:addr:192.0.2.1", now - 3 * DAY_MS).await;
    insert_rate_limit(&app, "signin:acct:u999", now - 4 * DAY_MS).await;
    // Within the two days kept, though long past any throttle's two windows.
    insert_rate_limit(&app, "signin:addr:192.0.2.2", now - 36 * 3600 * 1000).await;

    assert!(
        eventually(async || rate_limits_started_before(&app, now - 2 * DAY_MS).await == 0).await,
        "counters older than two days are deleted"
    );
    assert_eq!(
        app.count("rate_limits").await,
        fresh + 1,
        "the fresh counters and the one within its retention stay"
    );
    assert_eq!(
        metric(&app, "retention_deleted_total{kind=\"rate_limits\"}").await,
        2.0
    );
    // The fresh counters still count: two failures so far, the limit is five.
    for _ in 0..3 {
        assert_eq!(
            sign_in_as(&app, &guesser, "watched", "wrong password 1").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        sign_in_as(&app, &guesser, "watched", "wrong password 1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Warnings and errors the shop logs while it lives (the whole process's, from now on).
#[derive(Clone, Default)]
struct Warnings(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Warnings {
    fn capture() -> Self {
        let warnings = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("coffee_radar=warn"))
            .with_ansi(false)
            .with_writer(warnings.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other log capture");
        warnings
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Warnings {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Warnings {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// Inserts `n` rows, a few hundred a statement; `bind(query, i)` binds the values of row `i`.
async fn insert_rows(
    app: &TestApp,
    head: &'static str,
    group: &'static str,
    n: usize,
    bind: impl Fn(
        sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>,
        usize,
    ) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>,
) {
    let rows: Vec<usize> = (0..n).collect();
    for chunk in rows.chunks(250) {
        let mut insert = app.db.query(coffee_radar::db::Sql::repeated(
            head,
            group,
            chunk.len(),
            "",
        ));
        for &i in chunk {
            insert = bind(insert, i);
        }
        insert.execute(app.db.pool()).await.unwrap();
    }
}

/// How many rows of `table` have a key starting with `prefix` (the test's own rows).
async fn rows_named(app: &TestApp, sql: &'static str, prefix: &str) -> i64 {
    let (n,): (i64,) = app
        .db
        .query_as(sql)
        .bind(format!("{prefix}%"))
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_cleaning_up_at_once_delete_each_old_row_once_and_nothing_fresh() {
    let warnings = Warnings::capture();
    // An instance that does not clean up makes the database and the rows to clean up, so
    // that both cleaning instances start with all of them: each round then takes longer
    // than the instances' offset from each other, and their rounds overlap.
    let first_dir = tempfile::tempdir().unwrap();
    let database_url = crate::common::test_database_url(&first_dir).await;
    let setup = TestApp::start(
        first_dir,
        database_url.clone(),
        &[
            "--instance-id",
            "test-setup",
            "--retention-interval-secs",
            "0",
        ],
    )
    .await;
    let shopper = setup.signed_in("keeper").await;
    let variant = setup.variant_of("Coffee maker").await;
    assert_eq!(
        add_to_cart(&setup, &shopper, variant).await,
        StatusCode::CREATED
    );
    assert_eq!(
        add_to_cart(&setup, &setup.client(), variant).await,
        StatusCode::CREATED
    );
    let (user_id,): (i64,) = setup
        .db
        .query_as("SELECT id FROM users WHERE username = 'keeper'")
        .fetch_one(setup.db.pool())
        .await
        .unwrap();

    // Old rows of every kind, more than one batch of some, and fresh rows beside them.
    let now = coffee_radar::db::now_ms();
    const SESSIONS: usize = 20_000;
    const ORPHAN_LINES: usize = 1000;
    const LINKS: usize = 40;
    const COUNTERS: usize = 1000;
    const EVENTS: usize = 20_000;
    const FRESH: usize = 50;
    let sessions = "INSERT INTO sessions (id, created_at, expires_at) VALUES ";
    let lines = "INSERT INTO cart_items (owner, variant_id, quantity, added_at) VALUES ";
    insert_rows(&setup, sessions, "(?, ?, ?)", SESSIONS, |q, i| {
        q.bind(format!("old-{i}"))
            .bind(now - DAY_MS)
            .bind(now - 1000)
    })
    .await;
    insert_rows(&setup, lines, "(?, ?, 1, ?)", SESSIONS, |q, i| {
        q.bind(format!("s:old-{i}"))
            .bind(variant)
            .bind(now - DAY_MS)
    })
    .await;
    insert_rows(&setup, lines, "(?, ?, 1, ?)", ORPHAN_LINES, |q, i| {
        q.bind(format!("s:gone-{i}"))
            .bind(variant)
            .bind(now - 2 * 3600 * 1000)
    })
    .await;
    insert_rows(
        &setup,
        "INSERT INTO password_resets (token_hash, user_id, expires_at, used_at) VALUES ",
        "(?, ?, ?, ?)",
        LINKS,
        |q, i| {
            q.bind(format!("old-{i}"))
                .bind(user_id)
                .bind(now + 600_000)
                .bind(now - 1000)
        },
    )
    .await;
    insert_rows(
        &setup,
        "INSERT INTO rate_limits (subject, window_start, hits) VALUES ",
        "(?, ?, 1)",
        COUNTERS,
        |q, i| q.bind(format!("old-{i}")).bind(now - 2 * DAY_MS),
    )
    .await;
    insert_rows(
        &setup,
        "INSERT INTO events (id, kind, occurred_at) VALUES ",
        "(?, 'page_view', ?)",
        EVENTS,
        |q, i| q.bind(-1 - i as i64).bind(now - 40 * DAY_MS),
    )
    .await;
    insert_rows(&setup, sessions, "(?, ?, ?)", FRESH, |q, i| {
        q.bind(format!("fresh-{i}")).bind(now).bind(now + 3_600_000)
    })
    .await;
    insert_rows(&setup, lines, "(?, ?, 1, ?)", FRESH, |q, i| {
        q.bind(format!("s:fresh-{i}")).bind(variant).bind(now)
    })
    .await;
    insert_rows(
        &setup,
        "INSERT INTO rate_limits (subject, window_start, hits) VALUES ",
        "(?, ?, 1)",
        FRESH,
        |q, i| q.bind(format!("fresh-{i}")).bind(now - 12 * 3600 * 1000),
    )
    .await;
    insert_rows(
        &setup,
        "INSERT INTO events (id, kind, occurred_at) VALUES ",
        "(?, 'page_view', ?)",
        FRESH,
        |q, i| q.bind(-100_000 - i as i64).bind(now - 20 * DAY_MS),
    )
    .await;

    let flags = |instance: &'static str| {
        [
            "--instance-id",
            instance,
            "--retention-interval-secs",
            "1",
            "--guest-session-secs",
            "3600",
            "--retain-reset-links-days",
            "0",
            "--retain-events-days",
            "30",
            "--retain-rate-limits-days",
            "1",
        ]
    };
    let (flags_a, flags_b) = (flags("test-a1"), flags("test-b1"));
    let (a, b) = tokio::join!(
        TestApp::start(tempfile::tempdir().unwrap(), database_url.clone(), &flags_a),
        TestApp::start(tempfile::tempdir().unwrap(), database_url, &flags_b),
    );

    // Shoppers keep coming while both instances clean up.
    let mut guests = 1;
    let all_old_gone = eventually(async || {
        for app in [&a, &b] {
            assert_eq!(
                add_to_cart(app, &app.client(), variant).await,
                StatusCode::CREATED
            );
            guests += 1;
        }
        let old = rows_named(&a, "SELECT COUNT(*) FROM sessions WHERE id LIKE ?", "old-").await
            + rows_named(
                &a,
                "SELECT COUNT(*) FROM cart_items WHERE owner LIKE ?",
                "s:old-",
            )
            .await
            + rows_named(
                &a,
                "SELECT COUNT(*) FROM cart_items WHERE owner LIKE ?",
                "s:gone-",
            )
            .await
            + rows_named(
                &a,
                "SELECT COUNT(*) FROM password_resets WHERE token_hash LIKE ?",
                "old-",
            )
            .await
            + rows_named(
                &a,
                "SELECT COUNT(*) FROM rate_limits WHERE subject LIKE ?",
                "old-",
            )
            .await;
        let (old_events,): (i64,) =
            a.db.query_as("SELECT COUNT(*) FROM events WHERE occurred_at < ?")
                .bind(now - 30 * DAY_MS)
                .fetch_one(a.db.pool())
                .await
                .unwrap();
        old + old_events == 0
    })
    .await;
    assert!(all_old_gone, "every old row is deleted");
    // A few more rounds on both instances, which find nothing more to delete.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let deleted =
        async |kind: &str| metric(&a, &format!("retention_deleted_total{{kind=\"{kind}\"}}")).await;
    // Both instances share this process's metrics: these are their sums.
    assert_eq!(
        deleted("sessions").await,
        SESSIONS as f64,
        "each session once"
    );
    assert_eq!(
        deleted("guest_cart_lines").await,
        (SESSIONS + ORPHAN_LINES) as f64
    );
    assert_eq!(deleted("reset_links").await, LINKS as f64);
    assert_eq!(deleted("rate_limits").await, COUNTERS as f64);
    assert_eq!(deleted("events").await, EVENTS as f64);

    let fresh = FRESH as i64;
    assert_eq!(
        rows_named(
            &a,
            "SELECT COUNT(*) FROM sessions WHERE id LIKE ?",
            "fresh-"
        )
        .await,
        fresh
    );
    assert_eq!(
        rows_named(
            &a,
            "SELECT COUNT(*) FROM cart_items WHERE owner LIKE ?",
            "s:fresh-"
        )
        .await,
        fresh
    );
    assert_eq!(
        rows_named(
            &a,
            "SELECT COUNT(*) FROM rate_limits WHERE subject LIKE ?",
            "fresh-"
        )
        .await,
        fresh
    );
    let (fresh_events,): (i64,) =
        a.db.query_as("SELECT COUNT(*) FROM events WHERE id <= -100000")
            .fetch_one(a.db.pool())
            .await
            .unwrap();
    assert_eq!(fresh_events, fresh);
    // Through the front door: the guests' carts and the shopper's stay.
    let (guest_lines,): (i64,) =
        a.db.query_as(
            "SELECT COUNT(*) FROM cart_items WHERE owner LIKE 's:%' AND owner NOT LIKE 's:fresh-%'",
        )
        .fetch_one(a.db.pool())
        .await
        .unwrap();
    assert_eq!(guest_lines, guests, "every guest who came has a cart");
    let cart: Value = get_json(&shopper, a.url("/api/v1/cart")).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    for app in [&a, &b] {
        let ready = app.client().get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
    }
    assert_eq!(warnings.text(), "", "no warning or error was logged");
}

// --- staff-only effects ---

#[tokio::test]
async fn only_a_successful_staff_write_drops_the_catalog_snapshot() {
    let app = TestApp::spawn_with(&["--catalog-cache-ms", "600000"]).await;
    let staff = app.signed_in("boss").await;
    app.grant_admin("boss");
    let variant = app.variant_of("Coffee maker").await;
    let stock_shown = async |client: Client| {
        let products: Value = get_json(&client, app.url("/api/v1/products")).await;
        products
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["variants"].as_array().unwrap().clone())
            .find(|v| v["id"] == variant)
            .unwrap()["stock"]
            .as_i64()
            .unwrap()
    };
    let before = stock_shown(app.client()).await;
    app.set_stock(variant, before + 7).await;

    // Anyone can POST under /admin: it is refused and the snapshot stays.
    let anonymous = app
        .client()
        .post(app.url(&format!("/admin/variants/{variant}")))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert!(!anonymous.status().is_success());
    let shopper = app.signed_in("nosy").await;
    let csrf = csrf_token(&shopper, &app.url("/profile")).await;
    let forbidden = shopper
        .post(app.url(&format!("/admin/variants/{variant}")))
        .form(&[("csrf", csrf.as_str()), ("stock", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(stock_shown(app.client()).await, before, "snapshot kept");

    // A staff write that succeeds shows at once.
    let page = staff
        .get(app.url("/admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let product_id = {
        let selector = scraper::Selector::parse("a[href^='/admin/products/']").unwrap();
        document(&page)
            .select(&selector)
            .filter_map(|a| a.value().attr("href"))
            .map(|href| href.trim_start_matches("/admin/products/").to_owned())
            .find(|id| id.chars().all(|c| c.is_ascii_digit()))
            .expect("a product to edit")
    };
    let edit = staff
        .get(app.url(&format!("/admin/products/{product_id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = document(&edit);
    let csrf = attr_of(&form, "input[name=csrf]", "value").unwrap();
    let name = attr_of(&form, "input[name=name]", "value").unwrap();
    let saved = staff
        .post(app.url(&format!("/admin/products/{product_id}")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", name.as_str()),
            (
                "description",
                crate::common::text_of(&form, "textarea[name=description]")
                    .unwrap_or_default()
                    .as_str(),
            ),
            (
                "category",
                attr_of(&form, "input[name=category]", "value")
                    .unwrap_or_default()
                    .as_str(),
            ),
            (
                "price",
                attr_of(&form, "input[name=price]", "value")
                    .unwrap_or_default()
                    .as_str(),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(stock_shown(app.client()).await, before + 7);
}

#[tokio::test]
async fn insights_for_dates_out_of_range_are_refused_not_crashed() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in("analyst").await;
    app.grant_admin("analyst");
    for query in [
        "to=9999-12-31",
        "to=-9999-01-01",
        "from=-9999-01-01&to=-9999-01-20",
        "from=1969-12-01&to=1969-12-31",
    ] {
        let api = staff
            .get(app.url(&format!("/api/v1/admin/insights?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        let body: Value = api.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("Dates"), "{body}");
        let page = staff
            .get(app.url(&format!("/admin/insights?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
}

// --- answers the layers below the handlers make ---

/// Sends a request head announcing a body that never comes in full, and reads what the
/// server answers once its request timeout passes.
async fn answer_to_a_stalled_body(app: &TestApp, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket
        .write_all(b"only the start of the body")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(HANG, socket.read_to_end(&mut answer))
        .await
        .expect("the server answers once the request runs out of time")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_request_that_runs_out_of_time_is_explained_in_json_or_a_page_with_retry_after() {
    let app = TestApp::spawn_with(&["--request-timeout-secs", "1"]).await;
    let api = answer_to_a_stalled_body(
        &app,
        "POST /api/v1/sessions HTTP/1.1\r\nHost: shop.test\r\nContent-Type: application/json\r\n\
         Content-Length: 5000\r\n\r\n",
    )
    .await
    .to_ascii_lowercase();
    assert!(api.starts_with("http/1.1 503"), "{api}");
    assert!(api.contains("retry-after: 2"), "{api}");
    assert!(api.contains("content-type: application/json"), "{api}");
    assert!(api.contains("\"error\":\"the shop is busy"), "{api}");
    assert!(
        api.contains("x-served-by: test-a1"),
        "the other headers stay: {api}"
    );

    let page = answer_to_a_stalled_body(
        &app,
        "POST /signin HTTP/1.1\r\nHost: shop.test\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n",
    )
    .await
    .to_ascii_lowercase();
    assert!(page.starts_with("http/1.1 503"), "{page}");
    assert!(page.contains("retry-after: 2"), "{page}");
    assert!(page.contains("content-type: text/html"), "{page}");
    assert!(page.contains("class=\"error-page"), "{page}");
}
