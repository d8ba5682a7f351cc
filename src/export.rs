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
    let lines = db.all_order_lines().await?;
    let mut items: BTreeMap<i64, i64> = BTreeMap::new();
    for line in &lines {
        *items.entry(line.order_id).or_default() += line.quantity;
    }
    let mut codes: BTreeMap<i64, (String, i64)> = BTreeMap::new();
    for order in db.all_order_rows().await? {
        let item_count = items.get(&order.id).copied().unwrap_or_default();
        orders.add(
            order.created_at,
            vec![
                order.code.clone(),
                text(order.user_id),
                order.status.to_string(),
                order.total_cents.to_string(),
                item_count.to_string(),
                iso(order.created_at),
                iso(order.updated_at),
            ],
        );
        codes.insert(order.id, (order.code, order.created_at));
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
    for line in lines {
        let Some((code, created)) = codes.get(&line.order_id) else {
            continue;
        };
        order_lines.add(
            *created,
            vec![
                code.clone(),
                line.line_no.to_string(),
                line.product_id.to_string(),
                line.variant_id.to_string(),
                line.product_name,
                line.color,
                line.size,
                line.unit_price_cents.to_string(),
                line.quantity.to_string(),
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
            "occurrences",
        ],
    );
    for e in db.all_events().await? {
        events.add(
            e.occurred_at,
            vec![
                e.kind,
                e.area.unwrap_or_default(),
                text(e.user_id),
                text(e.product_id),
                text(e.variant_id),
                iso(e.occurred_at),
                e.occurrences.to_string(),
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
