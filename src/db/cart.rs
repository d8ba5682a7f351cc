//! Carts live in the database, keyed by their owner: a signed-in user, or a guest's session.

use const_format::concatcp;
use sqlx::FromRow;

use super::{Backend, Db, Sql, Tx, now_ms};
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

/// A variant for sale as a cart sees it: its stock, and how many the cart holds (0: none).
#[derive(Debug, Clone, Copy, FromRow)]
pub struct CartSlot {
    pub stock: i64,
    pub in_cart: i64,
}

pub fn cart_total(lines: &[CartLine]) -> Cents {
    lines.iter().map(CartLine::line_total).sum()
}

/// A cart line's columns, but its quantity and stock, from `variants v JOIN products p`.
const LINE_HEAD: &str = "SELECT v.id AS variant_id, p.id AS product_id, p.name AS product_name, p.slug, \
     p.image_key, v.color, v.size, COALESCE(v.price_cents, p.price_cents) AS unit_price_cents, ";
/// The lines of the cart of `?` that are for sale, in the order they were added.
const LINES_FROM: &str = "FROM cart_items c JOIN variants v ON v.id = c.variant_id \
     JOIN products p ON p.id = v.product_id WHERE c.owner = ? AND v.hidden = 0 AND p.hidden = 0 ";
const LINE_QUERY: &str = concatcp!(
    LINE_HEAD,
    "c.quantity, v.stock ",
    LINES_FROM,
    "ORDER BY c.added_at, c.variant_id"
);
/// The cart's lines, and first the variant `?` (if it is for sale) as a line of none.
const LINES_AND_VARIANT_QUERY: &str = concatcp!(
    LINE_HEAD,
    "c.quantity, v.stock, c.added_at AS sort_at ",
    LINES_FROM,
    "UNION ALL ",
    LINE_HEAD,
    "0 AS quantity, v.stock, 0 AS sort_at FROM variants v JOIN products p ON p.id = v.product_id \
     WHERE v.id = ? AND v.hidden = 0 AND p.hidden = 0 ORDER BY sort_at, variant_id"
);

impl Db {
    pub async fn cart_lines(&self, owner: &CartOwner) -> AppResult<Vec<CartLine>> {
        Ok(self
            .query_as(LINE_QUERY)
            .bind(owner.key())
            .fetch_all(self.pool())
            .await?)
    }

    /// The cart, and the variant as a cart line holding none of it, in one query; none for
    /// the variant when it is not for sale.
    pub async fn cart_and_variant(
        &self,
        owner: &CartOwner,
        variant_id: i64,
    ) -> AppResult<(Vec<CartLine>, Option<CartLine>)> {
        let rows: Vec<CartLine> = self
            .query_as(LINES_AND_VARIANT_QUERY)
            .bind(owner.key())
            .bind(variant_id)
            .fetch_all(self.pool())
            .await?;
        // A cart line holds one or more; the variant's own row, none.
        let (variant, lines): (Vec<_>, Vec<_>) = rows.into_iter().partition(|l| l.quantity == 0);
        Ok((lines, variant.into_iter().next()))
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

    /// A variant for sale and what the cart holds of it, in one query; none when the
    /// variant is not for sale.
    pub async fn cart_slot(
        &self,
        owner: &CartOwner,
        variant_id: i64,
    ) -> AppResult<Option<CartSlot>> {
        Ok(self
            .query_as(
                "SELECT v.stock, COALESCE(c.quantity, 0) AS in_cart \
                 FROM variants v JOIN products p ON p.id = v.product_id \
                 LEFT JOIN cart_items c ON c.variant_id = v.id AND c.owner = ? \
                 WHERE v.id = ? AND v.hidden = 0 AND p.hidden = 0",
            )
            .bind(owner.key())
            .bind(variant_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Sets the quantity of a variant in the cart, adding the line if it is new: one
    /// upsert, so that two requests adding the same line never collide.
    pub async fn set_cart_quantity(
        &self,
        owner: &CartOwner,
        variant_id: i64,
        quantity: Quantity,
    ) -> AppResult<()> {
        let sql = match self.backend() {
            Backend::MySql => {
                "INSERT INTO cart_items (owner, variant_id, quantity, added_at) VALUES (?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE quantity = VALUES(quantity)"
            }
            Backend::Sqlite | Backend::Postgres => {
                "INSERT INTO cart_items (owner, variant_id, quantity, added_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (owner, variant_id) DO UPDATE SET quantity = excluded.quantity"
            }
        };
        self.query(sql)
            .bind(owner.key())
            .bind(variant_id)
            .bind(quantity.get())
            .bind(now_ms())
            .execute(self.pool())
            .await?;
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

    /// Takes the lines an order is placed from out of the cart, as they were read: false
    /// (when the caller must roll back) unless every one was still there with the quantity
    /// read. Of concurrent checkouts of one cart only one finds them (the others' DELETE
    /// waits for its row locks or the writers' turn, then finds nothing), so a cart is
    /// placed once; a line added meanwhile stays in the cart.
    pub async fn take_cart_lines(
        &self,
        tx: &mut Tx,
        owner: &CartOwner,
        lines: &[CartLine],
    ) -> AppResult<bool> {
        let sql = Sql::repeated(
            "DELETE FROM cart_items WHERE owner = ? AND (variant_id, quantity) IN (",
            "(?, ?)",
            lines.len(),
            ")",
        );
        let mut take = self.query(sql).bind(owner.key());
        for line in lines {
            take = take.bind(line.variant_id).bind(line.quantity);
        }
        let taken = take.execute(&mut **tx).await?;
        Ok(taken.rows_affected() == lines.len() as u64)
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
