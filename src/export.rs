//! `coffee-radar export`: orders, order lines and events as CSV files in the object store,
//! one file per table and day (`exports/orders/date=2026-03-02/orders.csv`), the layout
//! Athena and QuickSight read as partitions (docs/insights.md has the table definitions).

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};

use crate::db::Db;
use crate::storage::Storage;

#[derive(Debug, Default)]
pub struct ExportSummary {
    pub files: usize,
    pub orders: usize,
    pub lines: usize,
    pub events: usize,
}

impl fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Exported {} orders, {} order lines and {} events in {} files.",
            self.orders, self.lines, self.events, self.files
        )
    }
}

/// One table's rows grouped by day (`YYYY-MM-DD`), with its header.
struct Table {
    name: &'static str,
    header: &'static [&'static str],
    days: BTreeMap<String, Vec<Vec<String>>>,
}

impl Table {
    fn new(name: &'static str, header: &'static [&'static str]) -> Self {
        Self {
            name,
            header,
            days: BTreeMap::new(),
        }
    }

    fn add(&mut self, at_ms: i64, row: Vec<String>) {
        self.days.entry(day(at_ms)).or_default().push(row);
    }

    fn rows(&self) -> usize {
        self.days.values().map(Vec::len).sum()
    }
}

fn day(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn text(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

pub async fn run(db: &Db, storage: &Storage) -> anyhow::Result<ExportSummary> {
    let mut orders = Table::new(
        "orders",
        &[
            "code",
            "user_id",
            "status",
            "total_cents",
            "item_count",
            "created_at",
            "updated_at",
        ],
    );
    let rows: Vec<(i64, String, Option<i64>, String, i64, i64, i64)> = db
        .query_as("SELECT id, code, user_id, status, total_cents, created_at, updated_at FROM orders ORDER BY created_at")
        .fetch_all(db.pool())
        .await?;
    let lines: Vec<(i64, i64, i64, i64, String, String, String, i64, i64)> = db
        .query_as(
            "SELECT order_id, line_no, product_id, variant_id, product_name, color, size, unit_price_cents, quantity \
             FROM order_lines ORDER BY order_id, line_no",
        )
        .fetch_all(db.pool())
        .await?;
    let mut items: BTreeMap<i64, i64> = BTreeMap::new();
    for line in &lines {
        *items.entry(line.0).or_default() += line.8;
    }
    let mut codes: BTreeMap<i64, (String, i64)> = BTreeMap::new();
    for (id, code, user_id, status, total, created, updated) in rows {
        let item_count = items.get(&id).copied().unwrap_or_default();
        orders.add(
            created,
            vec![
                code.clone(),
                text(user_id),
                status,
                total.to_string(),
                item_count.to_string(),
                iso(created),
                iso(updated),
            ],
        );
        codes.insert(id, (code, created));
    }
    let mut order_lines = Table::new(
        "order_lines",
        &[
            "order_code",
            "line_no",
            "product_id",
            "variant_id",
            "product",
            "color",
            "size",
            "unit_price_cents",
            "quantity",
            "ordered_at",
        ],
    );
    for (order_id, line_no, product_id, variant_id, product, color, size, price, quantity) in lines
    {
        let Some((code, created)) = codes.get(&order_id) else {
            continue;
        };
        order_lines.add(
            *created,
            vec![
                code.clone(),
                line_no.to_string(),
                product_id.to_string(),
                variant_id.to_string(),
                product,
                color,
                size,
                price.to_string(),
                quantity.to_string(),
                iso(*created),
            ],
        );
    }
    let mut events = Table::new(
        "events",
        &[
            "kind",
            "area",
            "user_id",
            "product_id",
            "variant_id",
            "occurred_at",
        ],
    );
    let rows: Vec<(String, Option<String>, Option<i64>, Option<i64>, Option<i64>, i64)> = db
        .query_as("SELECT kind, area, user_id, product_id, variant_id, occurred_at FROM events ORDER BY occurred_at")
        .fetch_all(db.pool())
        .await?;
    for (kind, area, user_id, product_id, variant_id, at) in rows {
        events.add(
            at,
            vec![
                kind,
                area.unwrap_or_default(),
                text(user_id),
                text(product_id),
                text(variant_id),
                iso(at),
            ],
        );
    }

    let tables = [orders, order_lines, events];
    let files: usize = tables.iter().map(|t| t.days.len()).sum();
    let progress = ProgressBar::new(files as u64);
    if let Ok(style) = ProgressStyle::with_template("Exporting [{bar:40}] {pos}/{len} files") {
        progress.set_style(style.progress_chars("=> "));
    }
    for table in &tables {
        for (date, rows) in &table.days {
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(table.header)?;
            for row in rows {
                writer.write_record(row)?;
            }
            let key = format!("exports/{}/date={date}/{}.csv", table.name, table.name);
            storage
                .put(
                    &key,
                    Bytes::from(writer.into_inner()?),
                    "text/csv; charset=utf-8",
                )
                .await?;
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    Ok(ExportSummary {
        files,
        orders: tables[0].rows(),
        lines: tables[1].rows(),
        events: tables[2].rows(),
    })
}
