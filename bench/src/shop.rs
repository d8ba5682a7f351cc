//! A shopper's side of the shop's HTTP interface: pages, the JSON API, and what each
//! request came back with.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::json;

pub const PASSWORD: &str = "dark roast every morning 42";

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub id: i64,
    pub slug: String,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Variant {
    pub id: i64,
    pub stock: i64,
}

/// One line of an order as the API acknowledged it.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderLine {
    pub quantity: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    pub code: String,
    pub lines: Vec<OrderLine>,
}

/// What one request came back with.
#[derive(Debug)]
pub struct Outcome {
    /// None: no HTTP answer (connection refused or reset, timeout).
    pub status: Option<u16>,
    pub latency: Duration,
    /// The transport error, or the start of an unexpected answer's body.
    pub error: Option<String>,
    /// X-Served-By: the instance that answered.
    pub served_by: Option<String>,
    /// X-Catalog-Stale: the answer came from a catalog snapshot past its time to live.
    pub stale: bool,
    pub body: Vec<u8>,
}

impl Outcome {
    pub fn is(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    /// Worth trying again with the same Idempotency-Key: no answer, or a server-side error.
    pub fn is_transient(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s >= 500,
        }
    }

    pub fn describe(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        let by = self
            .served_by
            .as_deref()
            .map(|s| format!(" from {s}"))
            .unwrap_or_default();
        match &self.error {
            Some(e) => format!("{status}{by}: {e}"),
            None => format!("{status}{by}"),
        }
    }
}

/// A client with its own connection pool (and cookie jar, for a signed-in shopper).
pub fn client(cookies: bool, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(cookies)
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(4)
        .tcp_nodelay(true)
        .build()?)
}

/// Sends one request and reads the whole answer; never fails: the outcome says what happened.
pub async fn send(request: reqwest::RequestBuilder, expected: u16) -> Outcome {
    let start = Instant::now();
    match request.send().await {
        Err(e) => Outcome {
            status: None,
            latency: start.elapsed(),
            error: Some(error_chain(&e)),
            served_by: None,
            stale: false,
            body: Vec::new(),
        },
        Ok(response) => {
            let status = response.status().as_u16();
            let served_by = response
                .headers()
                .get("x-served-by")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let stale = response.headers().contains_key("x-catalog-stale");
            let body = response.bytes().await;
            let latency = start.elapsed();
            match body {
                Err(e) => Outcome {
                    status: Some(status),
                    latency,
                    error: Some(format!("body cut: {}", error_chain(&e))),
                    served_by,
                    stale,
                    body: Vec::new(),
                },
                Ok(body) => Outcome {
                    status: Some(status),
                    latency,
                    error: (status != expected).then(|| summarize(&body)),
                    served_by,
                    stale,
                    body: body.to_vec(),
                },
            }
        }
    }
}

/// A short one-line account of an answer's body: an error page's heading and message, or
/// the start of a JSON or text body.
pub fn summarize(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let between = |from: usize, open: &str, close: &str| -> Option<(usize, String)> {
        let start = text[from..].find(open)? + from;
        let inner = text[start..].find('>')? + start + 1;
        let end = text[inner..].find(close)? + inner;
        Some((end, text[inner..end].to_owned()))
    };
    let squeeze = |s: &str| {
        let mut out = String::new();
        let mut in_tag = false;
        for c in s.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let summary = match between(0, "<h1", "</h1>") {
        Some((end, heading)) => {
            let message = between(end, "<p", "</p>")
                .map(|(_, p)| squeeze(&p))
                .unwrap_or_default();
            format!("page \"{}\": {message}", squeeze(&heading))
        }
        None => squeeze(&text),
    };
    summary.chars().take(160).collect()
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub fn get(client: &reqwest::Client, base: &str, path: &str) -> reqwest::RequestBuilder {
    client.get(format!("{base}{path}"))
}

pub fn add_to_cart(
    client: &reqwest::Client,
    base: &str,
    variant_id: i64,
) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/api/v1/cart/items"))
        .json(&json!({ "variant_id": variant_id, "quantity": 1 }))
}

pub fn checkout(client: &reqwest::Client, base: &str, key: &str) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/api/v1/orders"))
        .header("Idempotency-Key", key)
}

/// The catalog through the API, retried for a while (the service may be starting).
pub async fn catalog(base: &str) -> anyhow::Result<Vec<Product>> {
    let client = client(false, Duration::from_secs(5))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let outcome = send(get(&client, base, "/api/v1/products"), 200).await;
        if outcome.is(200) {
            let products: Vec<Product> =
                serde_json::from_slice(&outcome.body).context("reading /api/v1/products")?;
            if products.is_empty() {
                bail!("the shop has no products (start it without NO_DEMO_CATALOG)");
            }
            return Ok(products);
        }
        if Instant::now() > deadline {
            bail!("GET {base}/api/v1/products: {}", outcome.describe());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Registers a shopper and signs them in (the client keeps the session cookie). Transient
/// failures are retried a few times; a username taken by an earlier attempt whose answer was
/// lost is fine.
pub async fn register_and_sign_in(
    client: &reqwest::Client,
    base: &str,
    username: &str,
) -> anyhow::Result<()> {
    let registration = json!({
        "username": username,
        "email": format!("{username}@bench.example.com"),
        "password": PASSWORD,
        "first_name": "Bench",
        "address": "1 Loopback Road, 12700 Localhost",
    });
    let mut registered = false;
    for attempt in 0..8 {
        if !registered {
            let outcome = send(
                client
                    .post(format!("{base}/api/v1/users"))
                    .json(&registration),
                201,
            )
            .await;
            if outcome.is(201) || (attempt > 0 && outcome.is(409)) {
                registered = true;
            } else if !outcome.is_transient() {
                bail!("registering {username}: {}", outcome.describe());
            }
        }
        if registered {
            let outcome = send(
                client
                    .post(format!("{base}/api/v1/sessions"))
                    .json(&json!({ "username": username, "password": PASSWORD })),
                200,
            )
            .await;
            if outcome.is(200) {
                return Ok(());
            }
            if !outcome.is_transient() {
                bail!("signing {username} in: {}", outcome.describe());
            }
        }
        tokio::time::sleep(Duration::from_millis(300 * (attempt + 1))).await;
    }
    bail!("could not register and sign in {username}")
}

/// One client per username, each registered and signed in (the client keeps the session).
pub async fn signed_in_shoppers(
    base: &str,
    usernames: Vec<String>,
    timeout: Duration,
) -> anyhow::Result<Vec<(String, reqwest::Client)>> {
    four_at_a_time(usernames, |username| {
        let base = base.to_owned();
        async move {
            let client = client(true, timeout)?;
            register_and_sign_in(&client, &base, &username).await?;
            Ok((username, client))
        }
    })
    .await
}

/// Runs `prepare` once per username, four at a time: each registration hashes a password, and
/// more at once would only queue on the server. What each gave, in the order they finished.
pub async fn four_at_a_time<T, F, Fut>(usernames: Vec<String>, prepare: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(String) -> Fut,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let semaphore = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for username in usernames {
        let semaphore = semaphore.clone();
        let work = prepare(username);
        tasks.spawn(async move {
            let _permit = semaphore.acquire().await?;
            work.await
        });
    }
    let mut prepared = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        prepared.push(joined??);
    }
    Ok(prepared)
}

/// A short id, unique enough across runs: the time in milliseconds, base 36.
pub fn run_id() -> String {
    let mut n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Connects to the shop's database (the Any driver: PostgreSQL, SQLite, ...).
pub async fn database(url: &str) -> anyhow::Result<sqlx::AnyPool> {
    sqlx::any::install_default_drivers();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
        {
            Ok(pool) => return Ok(pool),
            Err(e) if Instant::now() < deadline => {
                eprintln!("database not reachable yet ({e}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e).context("connecting to the database"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::summarize;

    #[test]
    fn summarizes_error_pages_and_json() {
        let page = "<!doctype html>\n<html><body><section class=\"error-page card\">\n  <p class=\"code\">503</p>\n  <h1>Try again soon</h1>\n  <p>The shop's database is <b>not</b> answering.</p>\n</section></body></html>";
        assert_eq!(
            summarize(page.as_bytes()),
            "page \"Try again soon\": The shop's database is not answering."
        );
        assert_eq!(
            summarize(b"{\"error\": \"Your cart\n is empty.\"}"),
            "{\"error\": \"Your cart is empty.\"}"
        );
    }
}
