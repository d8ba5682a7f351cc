//! How fast the staff Insights page and API answer over a year of orders: seeds the
//! database behind a running instance with orders, lines and events spread over the past
//! 365 days, signs in a staff member, and times the page and the API for that year.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::shop::{self, client, database, register_and_sign_in, run_id};
use crate::stats::{Latencies, ms};

#[derive(clap::Args)]
pub struct Args {
    /// The instance to measure (a loopback URL).
    #[arg(long)]
    pub base: String,
    /// Its database (sqlite://FILE or postgres://…), where the year of orders is written.
    #[arg(long)]
    pub database_url: String,
    /// Orders to spread over the year.
    #[arg(long, default_value_t = 20_000)]
    pub orders: usize,
    /// Timed requests to the page and to the API each.
    #[arg(long, default_value_t = 30)]
    pub requests: usize,
}

const DAY_MS: i64 = 86_400_000;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let db = database(&args.database_url).await?;
    seed(&db, args.orders).await?;

    let staff = format!("staff{}", run_id());
    let client = client(true, Duration::from_secs(60))?;
    register_and_sign_in(&client, &args.base, &staff).await?;
    // Placeholders as $1…: PostgreSQL's, and numbered parameters SQLite accepts too.
    sqlx::query("UPDATE users SET role = 'admin' WHERE username = $1")
        .bind(&staff)
        .execute(&db)
        .await
        .context("promoting the staff member")?;

    let today = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64 / 86_400;
    let (from, to) = (date(today - 364), date(today));
    println!(
        "Insights over {from} … {to} with {} seeded orders (plus what the shop had):",
        args.orders
    );
    println!(
        "{:<28} {:>8} {:>9} {:>9} {:>9}",
        "request", "count", "p50", "p99", "max"
    );
    for (name, path) in [
        (
            "page /admin/insights",
            format!("/admin/insights?from={from}&to={to}"),
        ),
        (
            "api /api/v1/admin/insights",
            format!("/api/v1/admin/insights?from={from}&to={to}"),
        ),
    ] {
        let mut latencies = Latencies::default();
        for _ in 0..args.requests {
            let started = Instant::now();
            let outcome = shop::send(shop::get(&client, &args.base, &path), 200).await;
            if !outcome.is(200) {
                bail!("{name}: {}", outcome.describe());
            }
            latencies.push(started.elapsed());
        }
        println!(
            "{name:<28} {:>8} {:>9} {:>9} {:>9}",
            args.requests,
            ms(latencies.percentile(0.5)),
            ms(latencies.percentile(0.99)),
            ms(latencies.max())
        );
    }
    Ok(())
}

/// Orders (1 to 3 lines each), and ten events per order, spread evenly over the year.
async fn seed(db: &sqlx::AnyPool, orders: usize) -> anyhow::Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let base_id = now * 1000;
    let kinds = [
        "page_view",
        "product_view",
        "product_view",
        "add_to_cart",
        "checkout_started",
    ];
    for chunk_start in (0..orders).step_by(500) {
        let chunk = chunk_start..(chunk_start + 500).min(orders);
        let mut tx = db.begin().await?;
        for i in chunk {
            let n = i as i64;
            let id = base_id + n;
            let at = now - (n * 365 * DAY_MS / orders.max(1) as i64) - (n % 24) * 3_600_000;
            let lines: Vec<(i64, i64, i64, i64)> = (1..=1 + n % 3)
                .map(|line| {
                    (
                        line,
                        1 + (n + line) % 24,
                        [1200, 2000, 8900, 1500, 1000][(n + line) as usize % 5],
                        1 + n % 2,
                    )
                })
                .collect();
            let total: i64 = lines
                .iter()
                .map(|(_, _, price, quantity)| price * quantity)
                .sum();
            let status = [
                "placed",
                "paid",
                "shipped",
                "delivered",
                "delivered",
                "cancelled",
            ][i % 6];
            sqlx::query(
                "INSERT INTO orders (id, code, user_id, username, status, total_cents, shipping_address, created_at, updated_at) \
                 VALUES ($1, $2, NULL, 'bench', $3, $4, 'Bench Road 1', $5, $5)",
            )
            .bind(id)
            .bind(format!("Y{:05}", i % 100_000))
            .bind(status)
            .bind(total)
            .bind(at)
            .execute(&mut *tx)
            .await
            .context("seeding orders (a second run on the same database repeats codes: use a fresh one)")?;
            for (line, variant, price, quantity) in lines {
                sqlx::query(
                    "INSERT INTO order_lines (order_id, line_no, product_id, variant_id, product_name, color, size, unit_price_cents, quantity) \
                     VALUES ($1, $2, $3, $4, $5, 'White', 'U', $6, $7)",
                )
                .bind(id)
                .bind(line)
                .bind(1 + variant % 5)
                .bind(variant)
                .bind(format!("Product {}", variant % 5))
                .bind(price)
                .bind(quantity)
                .execute(&mut *tx)
                .await?;
            }
            for (k, kind) in kinds.iter().cycle().take(10).enumerate() {
                sqlx::query(
                    "INSERT INTO events (id, kind, area, occurred_at) VALUES ($1, $2, 'shop', $3)",
                )
                .bind(id * 16 + k as i64)
                .bind(*kind)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (civil-from-days).
fn date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
