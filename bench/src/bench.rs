//! `bench`: closed-loop throughput and latency of the shop's main pages and actions.
//!
//! Each scenario runs N connections (one client each, keep-alive), every one sending its next
//! request as soon as the previous answer is read, for a warm-up and then the measured
//! duration. Requests/s count the expected answers of the measured part.

use crate::process::memory;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::hello::Ceiling;
use crate::shop::{self, Outcome};
use crate::stats::{Latencies, ms};
use crate::wire;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shop's base URL, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long)]
    pub base: String,
    /// The server's process id, for its peak memory (VmHWM); repeat for several instances.
    #[arg(long = "server-pid")]
    pub server_pid: Vec<u32>,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 8)]
    pub duration: u64,
    /// Warm-up seconds per scenario, not measured.
    #[arg(long, default_value_t = 1)]
    pub warmup: u64,
    /// Concurrent connections of the page and catalog scenarios (and of the ceiling).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Signed-in shoppers of the cart and checkout scenarios, one connection each.
    #[arg(long, default_value_t = 32)]
    pub buyers: usize,
    /// The shop's database (sqlite://…, postgres://… or mysql://…): stock is raised there
    /// before the cart and checkout scenarios so that it cannot run out. Without it,
    /// checkouts stop at sold-out.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Only these scenarios (see --help's list: hello, home, shop, product, api-products,
    /// api-product, home-signed-in, shop-signed-in, product-signed-in, cart, checkout).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    Hello,
    Home,
    Shop,
    Product,
    ApiProducts,
    ApiProduct,
    HomeSignedIn,
    ShopSignedIn,
    ProductSignedIn,
    Cart,
    Checkout,
}

impl Scenario {
    /// In the order they run: the anonymous pages before any password is hashed (their
    /// memory figures come first), each signed-in page after its anonymous twin.
    const ALL: [Scenario; 11] = [
        Scenario::Hello,
        Scenario::Home,
        Scenario::Shop,
        Scenario::Product,
        Scenario::ApiProducts,
        Scenario::ApiProduct,
        Scenario::HomeSignedIn,
        Scenario::ShopSignedIn,
        Scenario::ProductSignedIn,
        Scenario::Cart,
        Scenario::Checkout,
    ];

    fn key(self) -> &'static str {
        match self {
            Scenario::Hello => "hello",
            Scenario::Home => "home",
            Scenario::Shop => "shop",
            Scenario::Product => "product",
            Scenario::ApiProducts => "api-products",
            Scenario::ApiProduct => "api-product",
            Scenario::HomeSignedIn => "home-signed-in",
            Scenario::ShopSignedIn => "shop-signed-in",
            Scenario::ProductSignedIn => "product-signed-in",
            Scenario::Cart => "cart",
            Scenario::Checkout => "checkout",
        }
    }

    /// The path asked for, for the GET scenarios.
    fn path(self, target: &Target) -> String {
        match self {
            Scenario::Hello | Scenario::Home | Scenario::HomeSignedIn => "/".into(),
            Scenario::Shop | Scenario::ShopSignedIn => "/shop".into(),
            Scenario::Product | Scenario::ProductSignedIn => format!("/shop/{}", target.slug),
            Scenario::ApiProducts => "/api/v1/products".into(),
            Scenario::ApiProduct => format!("/api/v1/products/{}", target.product_id),
            Scenario::Cart => "/api/v1/cart/items".into(),
            Scenario::Checkout => "/api/v1/orders".into(),
        }
    }

    fn label(self, target: &Target) -> String {
        match self {
            Scenario::Hello => "hello world: GET / (ceiling)".into(),
            Scenario::Cart => "add to cart: POST /api/v1/cart/items".into(),
            Scenario::Checkout => "checkout: POST /api/v1/orders".into(),
            _ if self.anonymous_twin().is_some() => {
                format!("signed in: GET {}", self.path(target))
            }
            _ => format!("{}: GET {}", self.key(), self.path(target)),
        }
    }

    fn needs_shoppers(self) -> bool {
        self.anonymous_twin().is_some() || self.is_write()
    }

    fn is_write(self) -> bool {
        matches!(self, Scenario::Cart | Scenario::Checkout)
    }

    /// The same page for an anonymous visitor, for the signed-in pages.
    fn anonymous_twin(self) -> Option<Scenario> {
        match self {
            Scenario::HomeSignedIn => Some(Scenario::Home),
            Scenario::ShopSignedIn => Some(Scenario::Shop),
            Scenario::ProductSignedIn => Some(Scenario::Product),
            _ => None,
        }
    }
}

/// What the scenarios ask for: a product of the demo catalog and the variants with stock.
struct Target {
    slug: String,
    product_id: i64,
    variants: Vec<i64>,
}

/// A signed-in shopper: the Cookie header of their session.
#[derive(Clone)]
struct Shopper {
    cookie: String,
}

#[derive(Default)]
struct Result {
    latencies: Latencies,
    ok: u64,
    errors: BTreeMap<String, u64>,
    elapsed: Duration,
}

impl Result {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let base = args.base.trim_end_matches('/').to_owned();
    let scenarios: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.key()))
        .collect();
    if scenarios.is_empty() {
        bail!("--only names none of the scenarios (see --help)");
    }
    let products = shop::catalog(&base).await?;
    let target = Arc::new(Target {
        slug: products[0].slug.clone(),
        product_id: products[0].id,
        variants: products
            .iter()
            .flat_map(|p| p.variants.iter().filter(|v| v.stock > 0).map(|v| v.id))
            .collect(),
    });
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "bench {base}: {} connections for pages, {} buyers for the cart and checkout, {} s per scenario after {} s of warm-up, {cores} cores shared by client and server",
        args.connections, args.buyers, args.duration, args.warmup
    );

    let peak = |pids: &[u32]| -> String {
        let kb = pids
            .iter()
            .filter_map(|pid| memory(*pid).ok())
            .map(|m| m.0)
            .max();
        kb.map_or("-".into(), |kb| format!("{:.0} MB", kb as f64 / 1024.0))
    };
    println!(
        "server peak memory (VmHWM) before the run: {}",
        peak(&args.server_pid)
    );
    print_header();
    let mut shoppers = Vec::new();
    let mut error_lines = Vec::new();
    let mut rates: BTreeMap<&'static str, f64> = BTreeMap::new();
    for scenario in scenarios.iter().copied() {
        if scenario.needs_shoppers() && shoppers.is_empty() {
            // The shoppers are made only now, so that the pages' figures (memory too) come
            // before any password hashing.
            if let Some(url) = &args.database_url {
                raise_stock(url).await?;
            } else if scenarios.contains(&Scenario::Checkout) {
                println!("  (no --database-url: checkouts will stop when the demo stock runs out)");
            }
            let started = Instant::now();
            shoppers = make_shoppers(&base, args.buyers.max(1)).await?;
            // A signed-in page shows the cart badge: give each cart a line to count.
            fill_carts(&base, &shoppers, &target).await;
            println!(
                "  ({} shoppers registered and signed in in {:.1} s, one item in each cart; server peak memory now {})",
                shoppers.len(),
                started.elapsed().as_secs_f64(),
                peak(&args.server_pid)
            );
        }
        if scenario == Scenario::Checkout {
            clear_carts(&base, &shoppers).await;
        }
        let ceiling = match scenario {
            Scenario::Hello => Some(Ceiling::start().await?),
            _ => None,
        };
        let url = ceiling.as_ref().map_or(base.as_str(), |c| c.base.as_str());
        let mut result = run_scenario(scenario, url, &args, &target, &shoppers).await?;
        drop(ceiling);
        let rate = result.rate();
        rates.insert(scenario.key(), rate);
        let of = |key: &str| {
            rates
                .get(key)
                .filter(|_| scenario != Scenario::Hello)
                .map_or("".into(), |r| format!("{:.0} %", 100.0 * rate / r))
        };
        let error_count: u64 = result.errors.values().sum();
        println!(
            "{:<44} {:>5} {:>9} {:>6} {:>8.0} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7}",
            scenario.label(&target),
            connections(scenario, &args),
            result.ok,
            error_count,
            rate,
            of("hello"),
            scenario
                .anonymous_twin()
                .map_or("".into(), |twin| of(twin.key())),
            ms(result.latencies.percentile(0.50)),
            ms(result.latencies.percentile(0.99)),
            ms(result.latencies.percentile(0.999)),
            ms(result.latencies.max()),
            if scenario == Scenario::Hello {
                "-".into()
            } else {
                peak(&args.server_pid)
            },
        );
        for (what, count) in &result.errors {
            error_lines.push(format!("  {}: {count} × {what}", scenario.key()));
        }
    }
    if !error_lines.is_empty() {
        println!("\nerrors:");
        for line in error_lines {
            println!("{line}");
        }
    }
    println!(
        "\n(of hello: the scenario's requests/s against the hello-world server's, same client, same run; of anon: a signed-in page's against the same page anonymous; peak: the server's VmHWM after the scenario; checkout: each order of one item is preceded by an add to cart that is not timed)"
    );
    for pid in &args.server_pid {
        match memory(*pid) {
            Ok((hwm, rss)) => println!(
                "server pid {pid}: peak memory (VmHWM) {:.1} MB, resident now (VmRSS) {:.1} MB",
                hwm as f64 / 1024.0,
                rss as f64 / 1024.0
            ),
            Err(e) => println!("server pid {pid}: memory unknown ({e:#})"),
        }
    }
    Ok(())
}

fn connections(scenario: Scenario, args: &Args) -> usize {
    if scenario.is_write() {
        args.buyers
    } else {
        args.connections
    }
}

/// Raises every variant's stock to a million, so that the writes never run out.
async fn raise_stock(url: &str) -> anyhow::Result<()> {
    let pool = shop::database(url).await?;
    let raised = sqlx::query("UPDATE variants SET stock = 1000000 WHERE stock < 1000000")
        .execute(&pool)
        .await
        .context("raising stock")?;
    println!(
        "  (stock raised to 1,000,000 on {} variants)",
        raised.rows_affected()
    );
    pool.close().await;
    Ok(())
}

fn print_header() {
    println!();
    println!(
        "{:<44} {:>5} {:>9} {:>6} {:>8} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "scenario",
        "conns",
        "requests",
        "errors",
        "req/s",
        "of hello",
        "of anon",
        "p50",
        "p99",
        "p99.9",
        "max",
        "peak"
    );
}

/// Registers and signs in `count` shoppers, keeping each session's Cookie header.
async fn make_shoppers(base: &str, count: usize) -> anyhow::Result<Vec<Shopper>> {
    let run = shop::run_id();
    let usernames = (0..count).map(|i| format!("b{run}-{i}")).collect();
    let url = reqwest::Url::parse(base)?;
    shop::four_at_a_time(usernames, move |username| {
        let base = url.to_string();
        let url = url.clone();
        async move {
            let jar = Arc::new(reqwest::cookie::Jar::default());
            let client = reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .timeout(TIMEOUT)
                .build()?;
            shop::register_and_sign_in(&client, base.trim_end_matches('/'), &username).await?;
            let cookie = reqwest::cookie::CookieStore::cookies(jar.as_ref(), &url)
                .context("no session cookie after signing in")?;
            Ok(Shopper {
                cookie: cookie.to_str()?.to_owned(),
            })
        }
    })
    .await
}

/// How long one request may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Puts one item in every shopper's cart.
async fn fill_carts(base: &str, shoppers: &[Shopper], target: &Target) {
    for (n, shopper) in shoppers.iter().enumerate() {
        let mut connection = match wire::Connection::to(base) {
            Ok(connection) => connection,
            Err(_) => return,
        };
        let variant = target.variants[n % target.variants.len().max(1)];
        let headers = shopper.json_headers();
        let _ = connection
            .send(add_to_cart(&headers, variant), 201, TIMEOUT)
            .await;
    }
}

/// Empties every shopper's cart (after the cart scenario filled them).
async fn clear_carts(base: &str, shoppers: &[Shopper]) {
    #[derive(serde::Deserialize)]
    struct Cart {
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        variant_id: i64,
    }
    let Ok(mut connection) = wire::Connection::to(base) else {
        return;
    };
    for shopper in shoppers {
        let headers = [("cookie", shopper.cookie.as_str())];
        let outcome = connection
            .send(wire::Request::get("/api/v1/cart", &headers), 200, TIMEOUT)
            .await;
        let Ok(cart) = serde_json::from_slice::<Cart>(&outcome.body) else {
            continue;
        };
        for item in cart.items {
            let path = format!("/api/v1/cart/items/{}", item.variant_id);
            let delete = wire::Request {
                method: hyper::Method::DELETE,
                ..wire::Request::get(&path, &headers)
            };
            let _ = connection.send(delete, 204, TIMEOUT).await;
        }
    }
}

/// One item of `variant_id` into the cart of the shopper whose cookie `headers` carry
/// (with the JSON content type: [`Shopper::json_headers`]).
fn add_to_cart<'a>(headers: &'a [(&'a str, &'a str)], variant_id: i64) -> wire::Request<'a> {
    wire::Request::post(
        "/api/v1/cart/items",
        headers,
        format!(r#"{{"variant_id":{variant_id},"quantity":1}}"#).into(),
    )
}

async fn run_scenario(
    scenario: Scenario,
    base: &str,
    args: &Args,
    target: &Arc<Target>,
    shoppers: &[Shopper],
) -> anyhow::Result<Result> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(args.duration);
    let path = Arc::new(scenario.path(target));
    let mut tasks = tokio::task::JoinSet::new();
    for connection_no in 0..connections(scenario, args) {
        let shopper = if scenario.needs_shoppers() {
            Some(
                shoppers
                    .get(connection_no % shoppers.len().max(1))
                    .cloned()
                    .context("signed-in shoppers")?,
            )
        } else {
            None
        };
        let mut connection = wire::Connection::to(base)?;
        let target = target.clone();
        let path = path.clone();
        let run = shop::run_id();
        tasks.spawn(async move {
            let mut result = Result::default();
            let mut n: usize = connection_no;
            let cookie = shopper
                .as_ref()
                .map(|s| s.cookie.clone())
                .unwrap_or_default();
            let page_headers: Vec<(&str, &str)> = match &shopper {
                Some(_) => vec![("cookie", cookie.as_str())],
                None => Vec::new(),
            };
            let json_headers = [
                ("cookie", cookie.as_str()),
                ("content-type", "application/json"),
            ];
            while Instant::now() < end {
                n += 1;
                let variant = target.variants[n % target.variants.len().max(1)];
                let sent = Instant::now();
                let outcome: Outcome = match scenario {
                    Scenario::Cart => {
                        let outcome = connection
                            .send(add_to_cart(&json_headers, variant), 201, TIMEOUT)
                            .await;
                        if outcome.is(422) {
                            // 99 of this variant already: empty that line and go on.
                            let line = format!("/api/v1/cart/items/{variant}");
                            let delete = wire::Request {
                                method: hyper::Method::DELETE,
                                ..wire::Request::get(&line, &page_headers)
                            };
                            let _ = connection.send(delete, 204, TIMEOUT).await;
                        }
                        outcome
                    }
                    Scenario::Checkout => {
                        let added = connection
                            .send(add_to_cart(&json_headers, variant), 201, TIMEOUT)
                            .await;
                        if !added.is(201) {
                            if sent >= measure_from {
                                *result
                                    .errors
                                    .entry(format!("add before checkout: {}", added.describe()))
                                    .or_default() += 1;
                            }
                            continue;
                        }
                        let key = format!("bench-{run}-{connection_no}-{n}");
                        let headers = [("cookie", cookie.as_str()), ("idempotency-key", &key)];
                        let sent = Instant::now();
                        let mut outcome = connection
                            .send(
                                wire::Request::post(&path, &headers, Default::default()),
                                201,
                                TIMEOUT,
                            )
                            .await;
                        outcome.latency = sent.elapsed();
                        outcome
                    }
                    _ => {
                        connection
                            .send(wire::Request::get(&path, &page_headers), 200, TIMEOUT)
                            .await
                    }
                };
                if sent < measure_from {
                    continue;
                }
                let expected = if scenario.is_write() { 201 } else { 200 };
                if outcome.is(expected) {
                    result.ok += 1;
                    result.latencies.push(outcome.latency);
                } else {
                    let mut what = outcome.describe();
                    what.truncate(120);
                    *result.errors.entry(what).or_default() += 1;
                }
            }
            result
        });
    }
    let mut total = Result::default();
    while let Some(joined) = tasks.join_next().await {
        let result = joined?;
        total.ok += result.ok;
        total.latencies.extend(&result.latencies);
        for (what, count) in result.errors {
            *total.errors.entry(what).or_default() += count;
        }
    }
    total.elapsed = Instant::now().saturating_duration_since(measure_from);
    Ok(total)
}

impl Shopper {
    /// The headers of a JSON request in this shopper's session.
    fn json_headers(&self) -> [(&str, &str); 2] {
        [
            ("cookie", self.cookie.as_str()),
            ("content-type", "application/json"),
        ]
    }
}
