//! The database's side, read once the load has stopped: every acknowledged order is there as
//! acknowledged, no Idempotency-Key placed two orders, and stock moved by exactly what was
//! sold. Only this run's orders count: their shoppers' usernames share the run's prefix.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::Context;
use sqlx::AnyPool;

use super::checks::Checks;
use super::state::{Ack, Results};

/// Stock that the run cannot sell out.
pub async fn raise_stock(pool: &AnyPool) -> anyhow::Result<()> {
    sqlx::query("UPDATE variants SET stock = 100000")
        .execute(pool)
        .await
        .context("raising stock")?;
    Ok(())
}

/// Each variant's stock.
pub async fn stocks(pool: &AnyPool) -> anyhow::Result<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT id, stock FROM variants")
        .fetch_all(pool)
        .await
        .context("reading stock")?;
    Ok(rows.into_iter().collect())
}

/// Runs the checks (a failure to read is a failed check too), then closes the pool.
pub async fn check(
    pool: AnyPool,
    prefix: &str,
    results: &Results,
    initial_stock: &HashMap<i64, i64>,
    checks: &mut Checks,
) {
    let started = Instant::now();
    if let Err(e) = run_checks(&pool, prefix, results, initial_stock, checks).await {
        checks.check("database checks ran", false, format!("{e:#}"));
    }
    pool.close().await;
    println!(
        "(database checked in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

async fn run_checks(
    pool: &AnyPool,
    prefix: &str,
    results: &Results,
    initial_stock: &HashMap<i64, i64>,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let (acks, unacked) = (&results.acks, &results.unacked);
    let orders = run_orders(pool, prefix).await?;
    println!(
        "database: {} orders of this run's shoppers; {} checkouts acknowledged, {} not",
        orders.len(),
        acks.len(),
        unacked.len()
    );
    for u in unacked.iter().take(10) {
        println!(
            "  not acknowledged: {} key {}: {}",
            u.username, u.key, u.last
        );
    }
    check_acknowledged(checks, acks, &orders);
    let twice = keys_used_twice(&orders);
    checks.check(
        "no Idempotency-Key has two orders",
        twice.is_empty(),
        twice.join("; "),
    );
    let unheard = unheard_of(acks, &orders);
    if unheard > 0 {
        println!("  {unheard} orders exist whose checkout was never acknowledged to the shopper");
    }
    checks.check(
        "every checkout was acknowledged in the end (retried with its key)",
        unacked.is_empty(),
        format!("{} checkouts never acknowledged", unacked.len()),
    );
    check_stock(pool, prefix, initial_stock, checks).await
}

/// One order as the database has it.
#[derive(Debug)]
struct OrderRow {
    code: String,
    idempotency_key: Option<String>,
    username: String,
    lines: i64,
    quantity: i64,
}

/// The orders of this run's shoppers.
async fn run_orders(pool: &AnyPool, prefix: &str) -> anyhow::Result<Vec<OrderRow>> {
    let rows: Vec<(String, Option<String>, String, i64, i64)> = sqlx::query_as(
        sqlx::AssertSqlSafe(format!(
        "SELECT o.code, o.idempotency_key, o.username, \
                (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id), \
                CAST((SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l WHERE l.order_id = o.id) AS {}) \
         FROM orders o WHERE o.username LIKE '{}%'",
        big_integer(pool),
        safe_prefix(prefix)
    )))
    .fetch_all(pool)
    .await
    .context("reading the run's orders")?;
    Ok(rows
        .into_iter()
        .map(
            |(code, idempotency_key, username, lines, quantity)| OrderRow {
                code,
                idempotency_key,
                username,
                lines,
                quantity,
            },
        )
        .collect())
}

/// The 64-bit integer type of a CAST: MySQL and MariaDB name it SIGNED (their SUM is a
/// DECIMAL), PostgreSQL and SQLite BIGINT.
fn big_integer(pool: &AnyPool) -> &'static str {
    match pool.connect_options().database_url.scheme() {
        "mysql" | "mariadb" => "SIGNED",
        _ => "BIGINT",
    }
}

/// The run's prefix is "ha<base36>u": letters and digits only, safe in a literal.
fn safe_prefix(prefix: &str) -> &str {
    debug_assert!(prefix.chars().all(|c| c.is_ascii_alphanumeric()));
    prefix
}

fn check_acknowledged(checks: &mut Checks, acks: &[Ack], orders: &[OrderRow]) {
    let lost = lost_or_changed(acks, orders);
    checks.check(
        "every acknowledged order exists with its lines",
        lost.is_empty() && !acks.is_empty(),
        if acks.is_empty() {
            "no checkout was acknowledged".into()
        } else {
            format!(
                "{} of {}: {}",
                lost.len(),
                acks.len(),
                lost.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            )
        },
    );
}

/// Each acknowledged order that is missing, or differs from what the shopper was told.
fn lost_or_changed(acks: &[Ack], orders: &[OrderRow]) -> Vec<String> {
    let by_code: HashMap<&str, &OrderRow> = orders.iter().map(|o| (o.code.as_str(), o)).collect();
    let mut lost = Vec::new();
    for ack in acks {
        let lines = ack.order.lines.len() as i64;
        let quantity: i64 = ack.order.lines.iter().map(|l| l.quantity).sum();
        let Some(row) = by_code.get(ack.order.code.as_str()) else {
            lost.push(format!("{} (key {}) missing", ack.order.code, ack.key));
            continue;
        };
        if row.idempotency_key.as_deref() != Some(ack.key.as_str())
            || row.username != ack.username
            || row.lines != lines
            || row.quantity != quantity
            || lines == 0
        {
            lost.push(format!(
                "{} differs: key {:?} user {} {} lines/{} items, acknowledged key {} user {} {lines} lines/{quantity} items",
                ack.order.code, row.idempotency_key, row.username, row.lines, row.quantity, ack.key, ack.username
            ));
        }
    }
    lost
}

/// "user/key: N orders" for each (username, Idempotency-Key) with more than one order.
fn keys_used_twice(orders: &[OrderRow]) -> Vec<String> {
    let mut per_key: HashMap<(&str, &str), usize> = HashMap::new();
    for order in orders {
        if let Some(key) = &order.idempotency_key {
            *per_key
                .entry((order.username.as_str(), key.as_str()))
                .or_default() += 1;
        }
    }
    per_key
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((u, k), n)| format!("{u}/{k}: {n} orders"))
        .collect()
}

/// Orders that no client heard of: committed, but every answer was lost and the run ended.
fn unheard_of(acks: &[Ack], orders: &[OrderRow]) -> usize {
    let acked_keys: HashSet<&str> = acks.iter().map(|a| a.key.as_str()).collect();
    orders
        .iter()
        .filter(|o| {
            o.idempotency_key
                .as_deref()
                .is_none_or(|k| !acked_keys.contains(k))
        })
        .count()
}

/// No stock below zero, and each variant's stock down by exactly what this run sold.
async fn check_stock(
    pool: &AnyPool,
    prefix: &str,
    initial_stock: &HashMap<i64, i64>,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let negative: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, stock FROM variants WHERE stock < 0")
            .fetch_all(pool)
            .await
            .context("reading stock")?;
    checks.check(
        "no stock went negative",
        negative.is_empty(),
        format!("{negative:?}"),
    );
    let sold: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT l.variant_id, CAST(SUM(l.quantity) AS {}) FROM order_lines l \
         JOIN orders o ON o.id = l.order_id WHERE o.username LIKE '{}%' GROUP BY l.variant_id",
        big_integer(pool),
        safe_prefix(prefix)
    )))
    .fetch_all(pool)
    .await
    .context("reading the quantities sold")?;
    let drift = stock_drift(
        initial_stock,
        &sold.into_iter().collect(),
        &stocks(pool).await?,
    );
    checks.check(
        "stock moved exactly by the quantities ordered",
        drift.is_empty(),
        drift.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
    );
    Ok(())
}

/// Each variant whose stock is not its stock before less the quantity sold.
fn stock_drift(
    before: &HashMap<i64, i64>,
    sold: &HashMap<i64, i64>,
    now: &HashMap<i64, i64>,
) -> Vec<String> {
    let mut drift = Vec::new();
    for (variant, before) in before {
        let sold = sold.get(variant).copied().unwrap_or(0);
        let expected = before - sold;
        let actual = now.get(variant).copied().unwrap_or(i64::MIN);
        if expected != actual {
            drift.push(format!(
                "variant {variant}: {before} - {sold} sold = {expected}, stock {actual}"
            ));
        }
    }
    drift
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::{Order, OrderLine};

    fn ack(code: &str, key: &str, quantities: &[i64]) -> Ack {
        Ack {
            username: "hau0".into(),
            key: key.into(),
            order: Order {
                code: code.into(),
                lines: quantities
                    .iter()
                    .map(|&quantity| OrderLine { quantity })
                    .collect(),
            },
        }
    }

    fn row(code: &str, key: Option<&str>, lines: i64, quantity: i64) -> OrderRow {
        OrderRow {
            code: code.into(),
            idempotency_key: key.map(str::to_owned),
            username: "hau0".into(),
            lines,
            quantity,
        }
    }

    #[test]
    fn an_acknowledged_order_must_be_stored_as_acknowledged() {
        let acks = [
            ack("A", "k1", &[1, 2]),
            ack("B", "k2", &[1]),
            ack("C", "k3", &[1]),
        ];
        let orders = [
            row("A", Some("k1"), 2, 3),
            row("B", Some("k2"), 1, 2), // one item more than acknowledged
        ];
        let lost = lost_or_changed(&acks, &orders);
        assert_eq!(lost.len(), 2, "{lost:?}");
        assert!(
            lost[0].starts_with("B differs: key Some(\"k2\")"),
            "{lost:?}"
        );
        assert_eq!(lost[1], "C (key k3) missing");
    }

    #[test]
    fn a_key_with_two_orders_is_found_and_unheard_orders_counted() {
        let orders = [
            row("A", Some("k1"), 1, 1),
            row("B", Some("k1"), 1, 1),
            row("C", Some("k2"), 1, 1),
            row("D", None, 1, 1),
        ];
        assert_eq!(keys_used_twice(&orders), ["hau0/k1: 2 orders"]);
        assert_eq!(unheard_of(&[ack("A", "k1", &[1])], &orders), 2);
    }

    #[test]
    fn stock_must_move_by_what_was_sold() {
        let before = HashMap::from([(1, 100), (2, 100), (3, 100)]);
        let sold = HashMap::from([(1, 5), (2, 1)]);
        let now = HashMap::from([(1, 95), (2, 98), (3, 100)]);
        assert_eq!(
            stock_drift(&before, &sold, &now),
            ["variant 2: 100 - 1 sold = 99, stock 98"]
        );
    }
}
