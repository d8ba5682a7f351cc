//! Carts live in the database, keyed by their owner: a signed-in user, or a guest's session.

use sqlx::FromRow;

use super::{Db, Tx, now_ms};
use crate::domain::{Cents, Quantity};
use crate::error::AppResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOwner {
    User(i64),
    Guest(String),
}

impl CartOwner {
    pub fn key(&self) -> String {
        match self {
            Self::User(id) => format!("u:{id}"),
            Self::Guest(session_id) => format!("s:{session_id}"),
        }
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct CartLine {
    pub variant_id: i64,
    pub product_id: i64,
    pub product_name: String,
    pub slug: String,
    pub image_key: Option<String>,
    pub color: String,
    pub size: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
    pub stock: i64,
}

impl CartLine {
    pub fn unit_price(&self) -> Cents {
        Cents::new(self.unit_price_cents)
    }

    pub fn line_total(&self) -> Cents {
        self.unit_price().times(self.quantity)
    }
}

pub fn cart_total(lines: &[CartLine]) -> Cents {
    lines.iter().map(CartLine::line_total).sum()
}

const LINE_QUERY: &str = "SELECT c.variant_id, p.id AS product_id, p.name AS product_name, p.slug, p.image_key, \
     v.color, v.size, COALESCE(v.price_cents, p.price_cents) AS unit_price_cents, c.quantity, v.stock \
     FROM cart_items c JOIN variants v ON v.id = c.variant_id JOIN products p ON p.id = v.product_id \
     WHERE c.owner = ? AND v.hidden = 0 AND p.hidden = 0 ORDER BY c.added_at, c.variant_id";

impl Db {
    pub async fn cart_lines(&self, owner: &CartOwner) -> AppResult<Vec<CartLine>> {
        Ok(self
            .query_as(LINE_QUERY)
            .bind(owner.key())
            .fetch_all(self.pool())
            .await?)
    }

    /// The cart as seen inside a checkout transaction.
    pub async fn cart_lines_in(&self, tx: &mut Tx, owner: &CartOwner) -> AppResult<Vec<CartLine>> {
        Ok(self
            .query_as(LINE_QUERY)
            .bind(owner.key())
            .fetch_all(&mut **tx)
            .await?)
    }

    pub async fn cart_quantity(&self, owner: &CartOwner, variant_id: i64) -> AppResult<i64> {
        let row: Option<(i64,)> = self
            .query_as("SELECT quantity FROM cart_items WHERE owner = ? AND variant_id = ?")
            .bind(owner.key())
            .bind(variant_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map_or(0, |r| r.0))
    }

    /// Sets the quantity of a variant in the cart, adding the line if it is new.
    pub async fn set_cart_quantity(
        &self,
        owner: &CartOwner,
        variant_id: i64,
        quantity: Quantity,
    ) -> AppResult<()> {
        let owner = owner.key();
        let updated = self
            .query("UPDATE cart_items SET quantity = ? WHERE owner = ? AND variant_id = ?")
            .bind(quantity.get())
            .bind(&owner)
            .bind(variant_id)
            .execute(self.pool())
            .await?;
        if updated.rows_affected() == 0 {
            let inserted = self
                .query("INSERT INTO cart_items (owner, variant_id, quantity, added_at) VALUES (?, ?, ?, ?)")
                .bind(&owner)
                .bind(variant_id)
                .bind(quantity.get())
                .bind(now_ms())
                .execute(self.pool())
                .await;
            match inserted {
                // Another request added the line first: ours sets the quantity.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    self.query(
                        "UPDATE cart_items SET quantity = ? WHERE owner = ? AND variant_id = ?",
                    )
                    .bind(quantity.get())
                    .bind(&owner)
                    .bind(variant_id)
                    .execute(self.pool())
                    .await?;
                }
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    pub async fn remove_cart_line(&self, owner: &CartOwner, variant_id: i64) -> AppResult<bool> {
        let done = self
            .query("DELETE FROM cart_items WHERE owner = ? AND variant_id = ?")
            .bind(owner.key())
            .bind(variant_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn clear_cart_in(&self, tx: &mut Tx, owner: &CartOwner) -> AppResult<()> {
        self.query("DELETE FROM cart_items WHERE owner = ?")
            .bind(owner.key())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Carries a guest's cart over to the account that just signed in: quantities of a
    /// variant already in the account's cart are added, up to the per-item maximum.
    pub async fn merge_carts(&self, from: &CartOwner, into: &CartOwner) -> AppResult<()> {
        let guest_lines: Vec<(i64, i64)> = self
            .query_as("SELECT variant_id, quantity FROM cart_items WHERE owner = ?")
            .bind(from.key())
            .fetch_all(self.pool())
            .await?;
        for (variant_id, quantity) in guest_lines {
            let existing = self.cart_quantity(into, variant_id).await?;
            let merged = (existing + quantity).min(Quantity::MAX);
            if let Ok(merged) = Quantity::parse(merged) {
                self.set_cart_quantity(into, variant_id, merged).await?;
            }
        }
        self.query("DELETE FROM cart_items WHERE owner = ?")
            .bind(from.key())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

impl CartLine {
    pub fn image_url(&self) -> String {
        crate::assets::image_url(self.image_key.as_deref())
    }
}
