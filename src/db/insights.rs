//! The rows the sales insights are computed from (see [`crate::services::insights`]).

use super::{Backend, Db};
use crate::domain::OrderStatus;
use crate::error::AppResult;

#[derive(sqlx::FromRow)]
pub struct OrderFact {
    pub user_id: Option<i64>,
    pub total_cents: i64,
    pub delivery_cents: i64,
    pub discount_cents: i64,
    pub refunded_cents: i64,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
pub struct LineFact {
    pub variant_id: i64,
    pub product_name: String,
    pub color: String,
    pub size: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
}

#[derive(sqlx::FromRow)]
pub struct VariantStock {
    pub id: i64,
    pub name: String,
    pub color: String,
    pub size: String,
    pub stock: i64,
}

/// Everything one report needs, read in a handful of queries.
pub struct SalesFacts {
    /// The period's orders that count: not cancelled, not still awaiting payment.
    pub orders: Vec<OrderFact>,
    pub lines: Vec<LineFact>,
    /// Each customer's first order before the period's end: (user id, when).
    pub first_orders: Vec<(i64, i64)>,
    /// Events of the period counted by (kind, area).
    pub events: Vec<(String, Option<String>, i64)>,
    pub stock: Vec<VariantStock>,
}

impl Db {
    /// What the insights of `[start, end)` (UTC milliseconds) are computed from.
    pub async fn sales_facts(&self, start: i64, end: i64) -> AppResult<SalesFacts> {
        let pool = self.pool().for_long_reads();
        let orders: Vec<OrderFact> = self
            .query_as(
                "SELECT user_id, total_cents, delivery_cents, discount_cents, refunded_cents, created_at \
                 FROM orders WHERE created_at >= ? AND created_at < ? AND status NOT IN (?, ?)",
            )
            .bind(start)
            .bind(end)
            .bind(OrderStatus::Cancelled.as_str())
            .bind(OrderStatus::AwaitingPayment.as_str())
            .fetch_all(&pool)
            .await?;
        let lines: Vec<LineFact> = self
            .query_as(
                "SELECT l.variant_id, l.product_name, l.color, l.size, l.unit_price_cents, l.quantity \
                 FROM order_lines l JOIN orders o ON o.id = l.order_id \
                 WHERE o.created_at >= ? AND o.created_at < ? AND o.status NOT IN (?, ?)",
            )
            .bind(start)
            .bind(end)
            .bind(OrderStatus::Cancelled.as_str())
            .bind(OrderStatus::AwaitingPayment.as_str())
            .fetch_all(&pool)
            .await?;
        let first_orders: Vec<(i64, i64)> = self
            .query_as(
                "SELECT user_id, MIN(created_at) FROM orders \
                 WHERE user_id IS NOT NULL AND status NOT IN (?, ?) AND created_at < ? GROUP BY user_id",
            )
            .bind(OrderStatus::Cancelled.as_str())
            .bind(OrderStatus::AwaitingPayment.as_str())
            .bind(end)
            .fetch_all(&pool)
            .await?;
        // SUM gives a decimal on the servers; the count is read as a 64-bit integer.
        let count_events = match self.backend() {
            Backend::Sqlite => {
                "SELECT kind, area, SUM(occurrences) FROM events \
                 WHERE occurred_at >= ? AND occurred_at < ? GROUP BY kind, area"
            }
            Backend::Postgres => {
                "SELECT kind, area, CAST(SUM(occurrences) AS BIGINT) FROM events \
                 WHERE occurred_at >= ? AND occurred_at < ? GROUP BY kind, area"
            }
            Backend::MySql => {
                "SELECT kind, area, CAST(SUM(occurrences) AS SIGNED) FROM events \
                 WHERE occurred_at >= ? AND occurred_at < ? GROUP BY kind, area"
            }
        };
        let events: Vec<(String, Option<String>, i64)> = self
            .query_as(count_events)
            .bind(start)
            .bind(end)
            .fetch_all(&pool)
            .await?;
        let stock: Vec<VariantStock> = self
            .query_as(
                "SELECT v.id, p.name, v.color, v.size, v.stock FROM variants v JOIN products p ON p.id = v.product_id",
            )
            .fetch_all(&pool)
            .await?;
        Ok(SalesFacts {
            orders,
            lines,
            first_orders,
            events,
            stock,
        })
    }
}
