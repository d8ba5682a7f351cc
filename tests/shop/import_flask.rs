//! `coffee-radar import-flask` against a real MySQL/MariaDB copy of the Flask shop
//! (fixtures/flask/flaskdb.sql), checked through the shop's API and database.
//!
//! Needs FLASK_SOURCE_TEST_URL: a MySQL/MariaDB server URL whose user may create databases,
//! e.g. mysql://shop:shoppw@127.0.0.1:3306/shop. Without it the test says so and passes.

use std::path::{Path, PathBuf};

use crate::common::TestApp;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/flask");

#[tokio::test]
#[ignore = "needs a MySQL/MariaDB server for the Flask shop's tables: FLASK_SOURCE_TEST_URL with --run-ignored all (test.sh runs it)"]
async fn the_flask_shop_is_imported_once_with_its_users_orders_and_pictures() {
    let server = std::env::var("FLASK_SOURCE_TEST_URL").unwrap_or_default();
    assert!(
        !server.is_empty(),
        "set FLASK_SOURCE_TEST_URL to a MySQL/MariaDB server URL to test import-flask"
    );
    let source = SourceDatabase::create(&server).await;
    let app = TestApp::spawn().await;

    let summary = import(&app, &source.url).await;
    for expected in [
        "testuser3 shares the email name@example.com with newuser2",
        "testuser3@imported.invalid",
        "orders by unknown user newuser kept without an account (2 orders)",
        "merged \"Coffe Radar Mug\" into \"Coffee Radar Mug\" (4 order lines)",
        "merged \"Coffe Radar T-Shirt\" into \"Coffee Radar T-Shirt\" (1 order line)",
        "missing picture cell.jpg of testuser3 was not found",
        "skipped order QTY000: row 27: quantity 0 is not positive",
        "Users: 3 imported, 0 already present, 0 skipped",
        "Pictures: 1 copied, 1 missing",
        "Orders: 16 imported (26 lines), 0 already imported, 1 skipped",
        "Coffee maker at $30 and $200",
        "0 products and 6 variants created",
    ] {
        assert!(
            summary.contains(expected),
            "{expected:?} is missing from:\n{summary}"
        );
    }

    the_orders_of_an_unknown_user_have_no_account(&app).await;
    old_passwords_sign_in(&app).await;
    daniela_sees_her_orders_and_picture(&app).await;
    testuser3_got_a_stand_in_email(&app).await;
    assert!(
        password_hash_of(&app, "daniela")
            .await
            .starts_with("$argon2id$"),
        "signing in rehashes the werkzeug hash"
    );

    let before = counts(&app).await;
    let again = import(&app, &source.url).await;
    assert_eq!(
        counts(&app).await,
        before,
        "a second import changes nothing"
    );
    for expected in [
        "Users: 0 imported, 3 already present, 0 skipped",
        "Orders: 0 imported (0 lines), 16 already imported, 1 skipped",
        "0 products and 0 variants created",
    ] {
        assert!(
            again.contains(expected),
            "{expected:?} is missing from:\n{again}"
        );
    }
    assert!(
        password_hash_of(&app, "daniela")
            .await
            .starts_with("$argon2id$"),
        "a second import leaves the upgraded password alone"
    );

    source.drop().await;
}

/// Runs the real binary, as an operator would, and returns the summary it prints.
async fn import(app: &TestApp, source_url: &str) -> String {
    let photos = std::path::absolute(Path::new(FIXTURE_DIR).join("photos")).unwrap();
    let mut command = app.command();
    command.args(["import-flask", "--from", source_url]);
    let output = tokio::process::Command::from(command)
        .args(["--photos-url", &format!("file://{}", photos.display())])
        .output()
        .await
        .expect("coffee-radar runs");
    let summary = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "import-flask failed:\n{summary}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    summary
}

async fn the_orders_of_an_unknown_user_have_no_account(app: &TestApp) {
    let orders: Vec<(String, Option<i64>, String)> = app
        .db
        .query_as("SELECT code, user_id, status FROM orders WHERE username = ? ORDER BY code")
        .bind("newuser")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert_eq!(
        orders,
        [
            ("LSGV3I".to_owned(), None, "delivered".to_owned()),
            ("UALXEO".to_owned(), None, "delivered".to_owned()),
        ]
    );
}

async fn old_passwords_sign_in(app: &TestApp) {
    for (username, password) in [
        ("daniela", "daniela-coffee-22"),
        ("newuser2", "newuser2-coffee-22"),
        ("testuser3", "testuser3-coffee-22"),
    ] {
        let response = sign_in(&app.client(), app, username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "{username} signs in");
    }
    let wrong = sign_in(&app.client(), app, "newuser2", "daniela-coffee-22").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

async fn daniela_sees_her_orders_and_picture(app: &TestApp) {
    let client = signed_in(app, "daniela", "daniela-coffee-22").await;
    let orders: Value = get_json(&client, &app.url("/api/v1/orders")).await;
    let orders = orders.as_array().unwrap();
    let codes: Vec<&str> = orders.iter().map(|o| o["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 14, "{codes:?}");
    for code in ["KNKUJ1", "5VAPCR", "F2N7N8", "GQWO24", "0SARJ9", "ZKV9KV"] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert_eq!(codes[0], "ZKV9KV", "newest first");
    assert!(!codes.contains(&"QTY000") && !codes.contains(&"LSGV3I"));

    let knkuj1 = orders.iter().find(|o| o["code"] == "KNKUJ1").unwrap();
    assert_eq!(knkuj1["status"], "delivered");
    assert_eq!(knkuj1["total_cents"], 31300);
    assert_eq!(knkuj1["created_at"], "2022-06-11T00:00:00Z");
    assert_eq!(
        knkuj1["shipping_address"],
        "Not recorded by the original shop"
    );
    let lines: Vec<(&str, &str, &str, i64, i64)> = knkuj1["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["product"].as_str().unwrap(),
                l["color"].as_str().unwrap(),
                l["size"].as_str().unwrap(),
                l["quantity"].as_i64().unwrap(),
                l["unit_price_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("Coffee Radar Mug", "White", "200 ml", 1, 1300),
            ("Coffee Radar T-Shirt", "Gray", "U", 2, 5000),
            ("Coffee maker", "White", "200 ml", 1, 20000),
        ]
    );

    let me: Value = get_json(&client, &app.url("/api/v1/me")).await;
    let photo_url = me["photo_url"].as_str().expect("daniela has her picture");
    let photo = client.get(app.url(photo_url)).send().await.unwrap();
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(photo.headers()["content-type"], "image/jpeg");
    let bytes = photo.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
}

async fn testuser3_got_a_stand_in_email(app: &TestApp) {
    let client = signed_in(app, "testuser3", "testuser3-coffee-22").await;
    let me: Value = get_json(&client, &app.url("/api/v1/me")).await;
    assert_eq!(me["email"], "testuser3@imported.invalid");
    assert_eq!(me["first_name"], "Jane");
    assert_eq!(me["photo_url"], Value::Null, "cell.jpg was missing");

    let client = signed_in(app, "newuser2", "newuser2-coffee-22").await;
    let me: Value = get_json(&client, &app.url("/api/v1/me")).await;
    assert_eq!(
        me["email"], "name@example.com",
        "the first by username keeps it"
    );
}

// --- helpers ---

async fn sign_in(
    client: &Client,
    app: &TestApp,
    username: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn signed_in(app: &TestApp, username: &str, password: &str) -> Client {
    let client = app.client();
    let response = sign_in(&client, app, username, password).await;
    assert_eq!(response.status(), StatusCode::OK, "{username} signs in");
    client
}

async fn get_json(client: &Client, url: &str) -> Value {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    response.json().await.unwrap()
}

async fn password_hash_of(app: &TestApp, username: &str) -> String {
    app.db
        .user_by_username(username)
        .await
        .unwrap()
        .expect("the user exists")
        .password_hash
}

/// Users, orders, order lines, products and variants.
async fn counts(app: &TestApp) -> [i64; 5] {
    let (variants,): (i64,) = app
        .db
        .query_as("SELECT COUNT(*) FROM variants")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    [
        app.count("users").await,
        app.count("orders").await,
        app.count("order_lines").await,
        app.count("products").await,
        variants,
    ]
}

/// A fresh database on the MySQL/MariaDB server, loaded with the Flask shop's fixture.
struct SourceDatabase {
    server: String,
    name: String,
    url: String,
}

impl SourceDatabase {
    async fn create(server: &str) -> Self {
        sqlx::any::install_default_drivers();
        let name = format!("flask_{}", unique_suffix());
        execute(server, &[format!("CREATE DATABASE {name}")]).await;
        let url = with_database(server, &name);
        execute(&url, &fixture_statements()).await;
        Self {
            server: server.to_owned(),
            name,
            url,
        }
    }

    async fn drop(self) {
        execute(&self.server, &[format!("DROP DATABASE {}", self.name)]).await;
    }
}

async fn execute(url: &str, statements: &[String]) {
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .expect("the MySQL/MariaDB server answers");
    for statement in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// The fixture's statements: each ends with `;` at the end of a line; `--` lines are comments.
fn fixture_statements() -> Vec<String> {
    let sql = std::fs::read_to_string(PathBuf::from(FIXTURE_DIR).join("flaskdb.sql")).unwrap();
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines().filter(|l| !l.trim_start().starts_with("--")) {
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    statements
}

/// The server URL with its database replaced by `name`, query string kept.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server.split_once('?').unwrap_or((server, ""));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        "" => format!("{base}/{name}"),
        query => format!("{base}/{name}?{query}"),
    }
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{:04x}", std::process::id() & 0xffff)
}
