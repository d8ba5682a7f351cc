//! The test harness: each test starts the real application on a random port with its own
//! temporary database, object store and mail outbox, and talks to it over HTTP.
//!
//! The database is SQLite by default; set TEST_DATABASE_URL to a MySQL/MariaDB or
//! PostgreSQL server URL (whose user may create databases) to run the same tests there:
//! each test then gets a database of its own (on a throwaway server that test.sh removes).
//! Set TEST_S3_ENDPOINT (with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) to keep pictures in a
//! fresh bucket on that S3-compatible server instead of local files.

#![allow(dead_code)]

use std::path::PathBuf;

use clap::Parser;
use coffee_radar::app::Application;
use coffee_radar::config::{Cli, Command};
use coffee_radar::db::{Db, PoolSettings};
use coffee_radar::state::AppState;
use coffee_radar::storage::Storage;
use reqwest::{Client, StatusCode, redirect};
use scraper::{Html, Selector};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse 42";

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    /// The app's database and object store, for checks the HTTP interface cannot make.
    pub db: Db,
    pub storage: Storage,
    pub data_dir: TempDir,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts the app with extra `serve` flags.
    pub async fn spawn_with(extra: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary folder");
        let database_url = test_database_url(&data_dir).await;
        Self::start(data_dir, database_url, extra).await
    }

    /// Starts `n` instances at once on one fresh, empty database, as a fleet would.
    pub async fn spawn_fleet(n: usize) -> Vec<Self> {
        let first_dir = tempfile::tempdir().expect("temporary folder");
        let database_url = test_database_url(&first_dir).await;
        let mut dirs = vec![first_dir];
        dirs.extend((1..n).map(|_| tempfile::tempdir().expect("temporary folder")));
        let starts = dirs
            .into_iter()
            .map(|dir| Self::start(dir, database_url.clone(), &[]));
        futures::future::join_all(starts).await
    }

    /// Starts the app on a given database (e.g. reached through a test's own proxy).
    pub async fn start(data_dir: TempDir, database_url: String, extra: &[&str]) -> Self {
        let mut args: Vec<String> = [
            "coffee-radar",
            "--data-dir",
            data_dir.path().to_str().unwrap(),
            "--database-url",
            &database_url,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--drain-timeout-secs",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A test that names its own store keeps it.
        let own_store = extra.contains(&"--storage-url");
        if !own_store
            && let Some(endpoint) = std::env::var("TEST_S3_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty())
        {
            let bucket = format!("test-{}", uuid_like());
            let created = Client::new()
                .put(format!("{endpoint}/{bucket}"))
                .send()
                .await
                .expect("S3 server answers");
            assert!(
                created.status().is_success(),
                "bucket {bucket} created: {}",
                created.status()
            );
            args.extend([
                "--storage-url".into(),
                format!("s3://{bucket}/pictures"),
                "--s3-endpoint".into(),
                endpoint,
            ]);
        }
        if !extra
            .iter()
            .any(|a| *a == "--instance-id" || *a == "--aws-instance-metadata")
        {
            args.extend(["--instance-id".into(), "test-a1".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let cli = Cli::parse_from(args);
        let Some(Command::Serve(serve)) = cli.command else {
            unreachable!("the arguments name the serve command")
        };
        let app = Application::build(&cli.common, &serve)
            .await
            .expect("the application starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.serve(async {
            let _ = rx.await;
        }));
        let db = Db::open(
            &cli.common.database_url(),
            &PoolSettings {
                max_connections: 4,
                ..PoolSettings::from_settings(&cli.common)
            },
        )
        .expect("the test's own pool");
        let storage = Storage::open(&cli.common, serve.storage_url.as_deref())
            .expect("the test's own store client");
        Self {
            base,
            state,
            db,
            storage,
            data_dir,
            database_url,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client: keeps cookies, does not follow redirects (tests check them).
    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// Registers `username` through the API and returns a client signed in as them.
    pub async fn signed_in(&self, username: &str) -> Client {
        let client = self.client();
        let created = client
            .post(self.url("/api/v1/users"))
            .json(&json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
                "first_name": "Test",
                "address": "1 Coffee Street, Madrid",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            created.status(),
            StatusCode::CREATED,
            "{}",
            created.text().await.unwrap()
        );
        let signed_in = client
            .post(self.url("/api/v1/sessions"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), StatusCode::OK);
        client
    }

    /// A new client signed in as `username`, who registered with [`PASSWORD`].
    pub async fn signed_in_again(&self, username: &str) -> Client {
        let client = self.client();
        let signed_in = client
            .post(self.url("/api/v1/sessions"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), StatusCode::OK);
        client
    }

    /// The real `coffee-radar` command, pointed at this app's database and object store,
    /// as an operator on the same instance would run it.
    pub fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_coffee-radar"));
        command
            .args(["--data-dir", self.data_dir.path().to_str().unwrap()])
            .args(["--database-url", &self.database_url])
            .env("STORAGE_URL", self.state.services.describe().1);
        if let Some(endpoint) = std::env::var("TEST_S3_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
        {
            command.args(["--s3-endpoint", &endpoint]);
        }
        command
    }

    /// Makes `username` an admin with the real command line, as an operator would.
    pub fn grant_admin(&self, username: &str) {
        let output = self
            .command()
            .args(["admin", "grant", username])
            .output()
            .expect("coffee-radar runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The mails written to the outbox, oldest first.
    pub fn outbox(&self) -> Vec<String> {
        let dir: PathBuf = self.data_dir.path().join("outbox");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        files
            .iter()
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .map(|path| std::fs::read_to_string(path).unwrap_or_default())
            .collect()
    }

    /// The outbox once it holds at least `n` mails (they are sent in the background), or
    /// whatever it holds after ten seconds. A mail being written can be read half-way, so
    /// the outbox counts once two reads a moment apart agree.
    pub async fn mails_when(&self, n: usize) -> Vec<String> {
        let mut previous = Vec::new();
        for _ in 0..100 {
            let mails = self.outbox();
            if mails.len() >= n && mails == previous {
                return mails;
            }
            previous = mails;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.outbox()
    }

    /// The mails whose subject contains `subject`, once at least `n` of them are in the
    /// outbox (or whatever there is after ten seconds), oldest first.
    pub async fn mails_about(&self, subject: &str, n: usize) -> Vec<String> {
        let about = |mails: Vec<String>| -> Vec<String> {
            mails
                .into_iter()
                .filter(|m| {
                    m.lines()
                        .any(|l| l.starts_with("Subject: ") && l.contains(subject))
                })
                .collect()
        };
        for _ in 0..100 {
            let mails = about(self.mails_when(0).await);
            if mails.len() >= n {
                return mails;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        about(self.outbox())
    }

    /// Asks for a password reset for `email` with the forgot-password form, as `browser`,
    /// and returns the link the mail brought (the last one, should there be several).
    pub async fn mailed_reset_link(&self, browser: &Client, email: &str) -> String {
        let csrf = csrf_token(browser, &self.url("/password/forgot")).await;
        let asked = browser
            .post(self.url("/password/forgot"))
            .form(&[("csrf", csrf.as_str()), ("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(asked.status(), StatusCode::SEE_OTHER);
        let mails = self
            .mails_about("Reset your Coffee Radar password", 1)
            .await;
        reset_link(mails.last().expect("a reset mail"))
    }

    /// Sets a variant's stock directly, as staff would.
    pub async fn set_stock(&self, variant_id: i64, stock: i64) {
        self.db
            .query("UPDATE variants SET stock = ? WHERE id = ?")
            .bind(stock)
            .bind(variant_id)
            .execute(self.db.pool())
            .await
            .unwrap();
    }

    pub async fn stock_of(&self, variant_id: i64) -> i64 {
        let (stock,): (i64,) = self
            .db
            .query_as("SELECT stock FROM variants WHERE id = ?")
            .bind(variant_id)
            .fetch_one(self.db.pool())
            .await
            .unwrap();
        stock
    }

    pub async fn count(&self, table: &'static str) -> i64 {
        let sql = match table {
            "orders" => "SELECT COUNT(*) FROM orders",
            "order_lines" => "SELECT COUNT(*) FROM order_lines",
            "users" => "SELECT COUNT(*) FROM users",
            "cart_items" => "SELECT COUNT(*) FROM cart_items",
            "products" => "SELECT COUNT(*) FROM products",
            "variants" => "SELECT COUNT(*) FROM variants",
            "sessions" => "SELECT COUNT(*) FROM sessions",
            "password_resets" => "SELECT COUNT(*) FROM password_resets",
            "events" => "SELECT COUNT(*) FROM events",
            "rate_limits" => "SELECT COUNT(*) FROM rate_limits",
            other => panic!("no count for {other}"),
        };
        let (n,): (i64,) = self
            .db
            .query_as(sql)
            .fetch_one(self.db.pool())
            .await
            .unwrap();
        n
    }

    /// Puts one of `variant` in `shopper`'s cart through the API.
    pub async fn add_one_to_cart(&self, shopper: &Client, variant: i64) {
        let added = shopper
            .post(self.url("/api/v1/cart/items"))
            .json(&json!({"variant_id": variant, "quantity": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), StatusCode::CREATED);
    }

    /// `shopper` orders one of `product_name` through the API; returns the order's code.
    pub async fn order_one(&self, shopper: &Client, product_name: &str) -> String {
        let variant = self.variant_of(product_name).await;
        self.add_one_to_cart(shopper, variant).await;
        self.order_cart(shopper, &format!("order-one-{variant}"))
            .await
    }

    /// `shopper` orders their cart through the API with this idempotency key; returns the
    /// order's code.
    pub async fn order_cart(&self, shopper: &Client, key: &str) -> String {
        let order: Value = shopper
            .post(self.url("/api/v1/orders"))
            .header("idempotency-key", key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        order["code"].as_str().expect("an order code").to_owned()
    }

    /// `staff` (signed in with the admin role) creates a visible product through the admin
    /// pages, with one variant; returns the product's id.
    pub async fn staff_create_product(&self, staff: &Client, product: &NewProduct<'_>) -> i64 {
        let csrf = csrf_token(staff, &self.url("/admin/products/new")).await;
        let created = staff
            .post(self.url("/admin/products"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", product.name),
                ("description", product.description),
                ("category", product.category),
                ("price", product.price),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        let id = location(&created)
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let (color, size, stock) = product.variant;
        let variant = staff
            .post(self.url(&format!("/admin/products/{id}/variants")))
            .form(&[
                ("csrf", csrf.as_str()),
                ("color", color),
                ("size", size),
                ("price", ""),
                ("stock", &stock.to_string()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(variant.status(), StatusCode::SEE_OTHER);
        id
    }

    /// The first variant of a product that has stock, from the API.
    pub async fn variant_of(&self, product_name: &str) -> i64 {
        let products: Value = self
            .client()
            .get(self.url("/api/v1/products"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        products
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == product_name)
            .and_then(|p| {
                p["variants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["stock"].as_i64() > Some(0))
            })
            .and_then(|v| v["id"].as_i64())
            .unwrap_or_else(|| panic!("{product_name} has a variant in stock"))
    }
}

/// A product as staff type it into the admin pages, with its one variant's colour, size
/// and stock.
pub struct NewProduct<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    /// In dollars, as typed: "18", "12.50".
    pub price: &'a str,
    pub variant: (&'a str, &'a str, i64),
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// SQLite in the test's folder, or a fresh database on the server named by TEST_DATABASE_URL.
pub async fn test_database_url(data_dir: &TempDir) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let name = format!("test_{}", uuid_like());
            let mut conn = sqlx::AnyConnection::connect(&server)
                .await
                .expect("test database server answers");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let (base, query) = server
                .split_once('?')
                .map_or((server.as_str(), ""), |(b, q)| (b, q));
            let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
            if query.is_empty() {
                format!("{base}/{name}")
            } else {
                format!("{base}/{name}?{query}")
            }
        }
        _ => format!(
            "sqlite://{}?mode=rwc",
            data_dir.path().join("shop.db").display()
        ),
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:04x}", nanos, std::process::id() & 0xffff)
}

// --- HTML helpers ---

pub fn document(html: &str) -> Html {
    Html::parse_document(html)
}

/// Text of the first element matching `selector`.
pub fn text_of(html: &Html, selector: &str) -> Option<String> {
    let selector = Selector::parse(selector).expect("valid selector");
    html.select(&selector)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_owned())
}

pub fn count_of(html: &Html, selector: &str) -> usize {
    let selector = Selector::parse(selector).expect("valid selector");
    html.select(&selector).count()
}

pub fn attr_of(html: &Html, selector: &str, attr: &str) -> Option<String> {
    let selector = Selector::parse(selector).expect("valid selector");
    html.select(&selector)
        .next()
        .and_then(|e| e.value().attr(attr))
        .map(str::to_owned)
}

/// Fetches a page and returns the CSRF token its forms carry.
pub async fn csrf_token(client: &Client, url: &str) -> String {
    let html = client.get(url).send().await.unwrap().text().await.unwrap();
    attr_of(&document(&html), "input[name=csrf]", "value")
        .expect("the page has a form with a CSRF token")
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A real PNG picture of the given size.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Puts `quantity` of a variant in the client's cart through the API (a guest's cart when
/// the client is not signed in).
pub async fn add_to_cart(app: &TestApp, client: &Client, variant_id: i64, quantity: i64) {
    let added = client
        .post(app.url("/api/v1/cart/items"))
        .json(&serde_json::json!({"variant_id": variant_id, "quantity": quantity}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), reqwest::StatusCode::CREATED);
}

/// GETs a page and parses its HTML.
pub async fn get_page(client: &Client, url: impl reqwest::IntoUrl) -> Html {
    document(&client.get(url).send().await.unwrap().text().await.unwrap())
}

/// GETs a JSON document.
pub async fn get_json(client: &Client, url: impl reqwest::IntoUrl) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// A counter's value on the app's /metrics page (0 when it has not been counted yet).
pub async fn metric(client: &Client, app: &TestApp, name: &str) -> f64 {
    metrics_text(client, app)
        .await
        .lines()
        .filter_map(|line| line.strip_prefix(name))
        .find_map(|rest| rest.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_default()
}

/// The app's /metrics page, as text.
pub async fn metrics_text(client: &Client, app: &TestApp) -> String {
    let page = client.get(app.url("/metrics")).send().await.unwrap();
    page.text().await.unwrap()
}

/// Sends the new-password form of a reset link: the password, and typed again.
pub async fn choose_password(
    browser: &Client,
    link_url: &str,
    csrf: &str,
    password: &str,
    again: &str,
) -> reqwest::Response {
    browser
        .post(link_url)
        .form(&[
            ("csrf", csrf),
            ("password", password),
            ("password_confirm", again),
        ])
        .send()
        .await
        .unwrap()
}

/// The reset link in a password-reset mail.
/// A mail as its reader sees it: quoted-printable soft line breaks joined and `=XX`
/// escapes decoded (the whole message, headers and both parts).
pub fn mail_text(mail: &str) -> String {
    let joined = mail.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=')
            .then(|| joined.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn reset_link(mail: &str) -> String {
    // Quoted-printable may wrap long lines with "=\r\n"; undo that first.
    let unwrapped = mail.replace("=\r\n", "").replace("=\n", "");
    let start = unwrapped
        .find("/password/reset/")
        .expect("the mail has a reset link");
    unwrapped[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Whether `check` comes true within `tries` tries, `pause` apart: for what recovers by
/// itself (a server starting, a database coming back).
pub async fn eventually<Fut: Future<Output = bool>>(
    tries: u32,
    pause: std::time::Duration,
    mut check: impl FnMut() -> Fut,
) -> bool {
    for _ in 0..tries {
        if check().await {
            return true;
        }
        tokio::time::sleep(pause).await;
    }
    false
}

/// Whether GET `url` answers 200 within `tries` tries, `pause` apart.
pub async fn answers_ok(
    client: &Client,
    url: &str,
    tries: u32,
    pause: std::time::Duration,
) -> bool {
    eventually(tries, pause, || async {
        client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await
}
