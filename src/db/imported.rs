//! Writing the accounts and orders imported from the original Flask shop (see
//! [`crate::import_flask`] for what is imported and how it is matched).

use super::{Db, new_id, now_ms};
use crate::domain::{Email, FirstName, OrderStatus, Role, Username};

pub struct ImportedAccount<'a> {
    pub username: &'a Username,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub first_name: &'a FirstName,
    pub photo_key: Option<&'a str>,
}

pub struct ImportedOrder<'a> {
    pub code: &'a str,
    pub user_id: Option<i64>,
    pub username: &'a str,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub shipping_address: &'a str,
    pub created_at: i64,
    pub lines: Vec<ImportedLine<'a>>,
}

pub struct ImportedLine<'a> {
    pub product_id: i64,
    pub variant_id: i64,
    pub product_name: &'a str,
    pub color: &'a str,
    pub size: &'a str,
    pub unit_price_cents: i64,
    pub quantity: i64,
}

impl Db {
    /// A shopper's account; a taken username or email is the database's unique violation.
    pub async fn insert_imported_account(
        &self,
        account: &ImportedAccount<'_>,
    ) -> Result<i64, sqlx::Error> {
        let id = new_id();
        self.query(
            "INSERT INTO users (id, username, email, password_hash, first_name, address, photo_key, role, created_at) \
             VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)",
        )
        .bind(id)
        .bind(account.username.as_str())
        .bind(account.email.as_str())
        .bind(account.password_hash)
        .bind(account.first_name.as_str())
        .bind(account.photo_key)
        .bind(Role::Shopper.as_str())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// An order with its lines, in one transaction; a code already used is the database's
    /// unique violation. No stock is taken: the goods left long ago.
    pub async fn insert_imported_order(
        &self,
        order: &ImportedOrder<'_>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let order_id = new_id();
        self.query(
            "INSERT INTO orders (id, code, user_id, username, status, subtotal_cents, total_cents, \
             shipping_address, idempotency_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
        )
        .bind(order_id)
        .bind(order.code)
        .bind(order.user_id)
        .bind(order.username)
        .bind(order.status.as_str())
        .bind(order.total_cents)
        .bind(order.total_cents)
        .bind(order.shipping_address)
        .bind(order.created_at)
        .bind(order.created_at)
        .execute(&mut *tx)
        .await?;
        for (line_no, line) in (1_i64..).zip(&order.lines) {
            self.query(
                "INSERT INTO order_lines (order_id, line_no, product_id, variant_id, product_name, \
                 color, size, unit_price_cents, quantity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(order_id)
            .bind(line_no)
            .bind(line.product_id)
            .bind(line.variant_id)
            .bind(line.product_name)
            .bind(line.color)
            .bind(line.size)
            .bind(line.unit_price_cents)
            .bind(line.quantity)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Who an order with this code belongs to and where it went, if there is one.
    pub async fn order_username_and_address(
        &self,
        code: &str,
    ) -> Result<Option<(String, String)>, sqlx::Error> {
        self.query_as("SELECT username, shipping_address FROM orders WHERE code = ?")
            .bind(code)
            .fetch_optional(self.pool())
            .await
    }
}
