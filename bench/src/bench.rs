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

use crate::shop::{self, Outcome, Product};
use crate::stats::{Latencies, ms};

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
    /// Concurrent connections (and, for the cart and checkout, signed-in shoppers).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// The shop's database (sqlite://… or postgres://…): stock is raised there before the
    /// checkout scenario so that it cannot run out. Without it, checkouts stop at sold-out.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Only these scenarios (home, catalog, product, cart, checkout), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Home,
    Catalog,
    Product,
    Cart,
    Checkout,
}

impl Scenario {
    const ALL: [Scenario; 5] = [
        Scenario::Home,
        Scenario::Catalog,
        Scenario::Product,
        Scenario::Cart,
        Scenario::Checkout,
    ];

    fn key(self) -> &'static str {
        match self {
            Scenario::Home => "home",
            Scenario::Catalog => "catalog",
            Scenario::Product => "product",
            Scenario::Cart => "cart",
            Scenario::Checkout => "checkout",
        }
    }

    fn label(self, product: &str) -> String {
        match self {
            Scenario::Home => "home: GET /".into(),
            Scenario::Catalog => "catalog: GET /shop".into(),
            Scenario::Product => format!("product: GET /shop/{product}"),
            Scenario::Cart => "add to cart: POST /api/v1/cart/items".into(),
            Scenario::Checkout => "checkout: POST /api/v1/orders".into(),
        }
    }

    fn needs_shoppers(self) -> bool {
        matches!(self, Scenario::Cart | Scenario::Checkout)
    }
}

#[derive(Default)]
struct Result {
    latencies: Latencies,
    ok: u64,
    errors: BTreeMap<String, u64>,
    elapsed: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let base = args.base.trim_end_matches('/').to_owned();
    let scenarios: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.key()))
        .collect();
    if scenarios.is_empty() {
        bail!("--only names none of home, catalog, product, cart, checkout");
    }
    let products = Arc::new(shop::catalog(&base).await?);
    let product = products[0].slug.clone();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "bench {base}: {} connections, {} s per scenario after {} s of warm-up, {cores} cores shared by client and server",
        args.connections, args.duration, args.warmup
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
    for scenario in scenarios.iter().copied() {
        if scenario.needs_shoppers() && shoppers.is_empty() {
            // The shoppers are made only now, so that the pages' figures (memory too) come
            // before any password hashing.
            if let Some(url) = &args.database_url {
                let pool = shop::database(url).await?;
                let raised =
                    sqlx::query("UPDATE variants SET stock = 1000000 WHERE stock < 1000000")
                        .execute(&pool)
                        .await
                        .context("raising stock")?;
                println!(
                    "  (stock raised to 1,000,000 on {} variants)",
                    raised.rows_affected()
                );
                pool.close().await;
            } else if scenarios.contains(&Scenario::Checkout) {
                println!("  (no --database-url: checkouts will stop when the demo stock runs out)");
            }
            let started = Instant::now();
            shoppers = make_shoppers(&base, args.connections).await?;
            println!(
                "  ({} shoppers registered and signed in in {:.1} s; server peak memory now {})",
                shoppers.len(),
                started.elapsed().as_secs_f64(),
                peak(&args.server_pid)
            );
        }
        if scenario == Scenario::Checkout {
            clear_carts(&base, &shoppers).await;
        }
        let mut result = run_scenario(scenario, &base, &args, &products, &shoppers).await?;
        let rate = result.ok as f64 / result.elapsed.as_secs_f64();
        let error_count: u64 = result.errors.values().sum();
        println!(
            "{:<38} {:>9} {:>6} {:>8.0} {:>8} {:>8} {:>8} {:>8} {:>7}",
            scenario.label(&product),
            result.ok,
            error_count,
            rate,
            ms(result.latencies.percentile(0.50)),
            ms(result.latencies.percentile(0.99)),
            ms(result.latencies.percentile(0.999)),
            ms(result.latencies.max()),
            peak(&args.server_pid),
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
        "\n(peak: the server's VmHWM after the scenario; checkout: each order of one item is preceded by an add to cart that is not timed)"
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

fn print_header() {
    println!();
    println!(
        "{:<38} {:>9} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "scenario", "requests", "errors", "req/s", "p50", "p99", "p99.9", "max", "peak"
    );
}

async fn make_shoppers(base: &str, count: usize) -> anyhow::Result<Vec<reqwest::Client>> {
    let run = shop::run_id();
    let usernames = (0..count).map(|i| format!("b{run}-{i}")).collect();
    let shoppers = shop::signed_in_shoppers(base, usernames, Duration::from_secs(30)).await?;
    Ok(shoppers.into_iter().map(|(_, client)| client).collect())
}

/// Empties every shopper's cart (after the cart scenario filled them).
async fn clear_carts(base: &str, shoppers: &[reqwest::Client]) {
    #[derive(serde::Deserialize)]
    struct Cart {
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        variant_id: i64,
    }
    for client in shoppers {
        let outcome = shop::send(shop::get(client, base, "/api/v1/cart"), 200).await;
        let Ok(cart) = serde_json::from_slice::<Cart>(&outcome.body) else {
            continue;
        };
        for item in cart.items {
            let _ = client
                .delete(format!("{base}/api/v1/cart/items/{}", item.variant_id))
                .send()
                .await;
        }
    }
}

async fn run_scenario(
    scenario: Scenario,
    base: &str,
    args: &Args,
    products: &Arc<Vec<Product>>,
    shoppers: &[reqwest::Client],
) -> anyhow::Result<Result> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(args.duration);
    // Variants with stock, spread over the connections.
    let variants: Arc<Vec<i64>> = Arc::new(
        products
            .iter()
            .flat_map(|p| p.variants.iter().filter(|v| v.stock > 0).map(|v| v.id))
            .collect(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..args.connections {
        let client = if scenario.needs_shoppers() {
            shoppers
                .get(connection)
                .cloned()
                .context("one signed-in shopper per connection")?
        } else {
            shop::client(false, Duration::from_secs(30))?
        };
        let base = base.to_owned();
        let products = products.clone();
        let variants = variants.clone();
        let run = shop::run_id();
        tasks.spawn(async move {
            let mut result = Result::default();
            let mut n: usize = connection;
            while Instant::now() < end {
                n += 1;
                let product = &products[0].slug;
                let variant = variants[n % variants.len().max(1)];
                let sent = Instant::now();
                let outcome: Outcome = match scenario {
                    Scenario::Home => shop::send(shop::get(&client, &base, "/"), 200).await,
                    Scenario::Catalog => shop::send(shop::get(&client, &base, "/shop"), 200).await,
                    Scenario::Product => {
                        shop::send(shop::get(&client, &base, &format!("/shop/{product}")), 200)
                            .await
                    }
                    Scenario::Cart => {
                        let outcome =
                            shop::send(shop::add_to_cart(&client, &base, variant), 201).await;
                        if outcome.is(422) {
                            // 99 of this variant already: empty that line and go on.
                            let _ = client
                                .delete(format!("{base}/api/v1/cart/items/{variant}"))
                                .send()
                                .await;
                        }
                        outcome
                    }
                    Scenario::Checkout => {
                        let added =
                            shop::send(shop::add_to_cart(&client, &base, variant), 201).await;
                        if !added.is(201) {
                            if sent >= measure_from {
                                *result
                                    .errors
                                    .entry(format!("add before checkout: {}", added.describe()))
                                    .or_default() += 1;
                            }
                            continue;
                        }
                        let key = format!("bench-{run}-{connection}-{n}");
                        shop::send(shop::checkout(&client, &base, &key), 201).await
                    }
                };
                if sent < measure_from {
                    continue;
                }
                let expected = if scenario.needs_shoppers() { 201 } else { 200 };
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
