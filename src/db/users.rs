//! Accounts.

use const_format::concatcp;
use sqlx::FromRow;

use super::{Db, new_id, now_ms};
use crate::domain::address::{AddressFields, ShippingAddress};
use crate::domain::{Address, Email, FirstName, Role, Username};
use crate::error::{AppError, AppResult, on_unique_violation};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub address: Option<String>,
    pub photo_key: Option<String>,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_at: i64,
}

impl UserRow {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

pub struct NewUser<'a> {
    pub username: &'a Username,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub first_name: &'a FirstName,
    pub address: Option<&'a Address>,
}

const COLUMNS: &str =
    "id, username, email, password_hash, first_name, address, photo_key, role, created_at";

impl Db {
    pub async fn create_user(&self, user: NewUser<'_>) -> AppResult<i64> {
        if self
            .user_by_username(user.username.as_str())
            .await?
            .is_some()
        {
            return Err(AppError::Conflict("That username is already taken.".into()));
        }
        if self.user_by_email(user.email.as_str()).await?.is_some() {
            return Err(AppError::Conflict(
                "An account with that email already exists.".into(),
            ));
        }
        let id = new_id();
        self.query(
            "INSERT INTO users (id, username, email, password_hash, first_name, address, role, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(user.username.as_str())
        .bind(user.email.as_str())
        .bind(user.password_hash)
        .bind(user.first_name.as_str())
        .bind(user.address.map(Address::as_str))
        .bind(Role::Shopper.as_str())
        .bind(now_ms())
        .execute(self.pool())
        .await
        .map_err(|e| on_unique_violation(e, "That username or email is already taken."))?;
        Ok(id)
    }

    pub async fn user_by_id(&self, id: i64) -> AppResult<Option<UserRow>> {
        Ok(self
            .query_as(concatcp!("SELECT ", COLUMNS, " FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn user_by_username(&self, username: &str) -> AppResult<Option<UserRow>> {
        Ok(self
            .query_as(concatcp!(
                "SELECT ",
                COLUMNS,
                " FROM users WHERE username = ?"
            ))
            .bind(username)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn user_by_email(&self, email: &str) -> AppResult<Option<UserRow>> {
        Ok(self
            .query_as(concatcp!("SELECT ", COLUMNS, " FROM users WHERE email = ?"))
            .bind(email)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn update_profile(
        &self,
        id: i64,
        first_name: &FirstName,
        email: &Email,
        address: Option<&Address>,
    ) -> AppResult<()> {
        if let Some(other) = self.user_by_email(email.as_str()).await?
            && other.id != id
        {
            return Err(AppError::invalid(
                "email",
                "Another account already uses that email.",
            ));
        }
        self.query("UPDATE users SET first_name = ?, email = ?, address = ? WHERE id = ?")
            .bind(first_name.as_str())
            .bind(email.as_str())
            .bind(address.map(Address::as_str))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| on_unique_violation(e, "Another account already uses that email."))?;
        Ok(())
    }

    pub async fn set_password_hash(&self, id: i64, hash: &str) -> AppResult<()> {
        self.query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_photo(&self, id: i64, key: &str) -> AppResult<()> {
        self.query("UPDATE users SET photo_key = ? WHERE id = ?")
            .bind(key)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_role(&self, username: &str, role: Role) -> AppResult<()> {
        let done = self
            .query("UPDATE users SET role = ? WHERE username = ?")
            .bind(role.as_str())
            .bind(username)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(AppError::NotFound(format!(
                "No user is registered as {username:?}."
            )));
        }
        Ok(())
    }

    /// Deletes the account; its sessions, cart and reset links go with it, while its orders
    /// stay for the shop's books with the username they were placed under.
    pub async fn delete_user(&self, id: i64) -> AppResult<()> {
        let mut tx = self.begin_write().await?;
        self.query("DELETE FROM cart_items WHERE owner = ?")
            .bind(super::cart::CartOwner::User(id).key())
            .execute(&mut *tx)
            .await?;
        self.query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Users whose username, email or first name contains `search`, newest first.
    pub async fn search_users(&self, search: &str, limit: i64) -> AppResult<Vec<UserRow>> {
        let pattern = format!("%{}%", like_escape(&search.to_lowercase()));
        Ok(self
            .query_as(concatcp!("SELECT ", COLUMNS, " FROM users \
                 WHERE username LIKE ? ESCAPE '!' OR email LIKE ? ESCAPE '!' OR LOWER(first_name) LIKE ? ESCAPE '!' \
                 ORDER BY created_at DESC LIMIT ?"))
            .bind(pattern.clone())
            .bind(pattern.clone())
            .bind(pattern)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    // --- password reset links ---

    /// A new reset link for the account; any earlier unused link stops working, so only
    /// the newest mail's link is live.
    pub async fn replace_password_reset(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: i64,
    ) -> AppResult<()> {
        let mut tx = self.begin_write().await?;
        self.query("DELETE FROM password_resets WHERE user_id = ? AND used_at IS NULL")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        self.query(
            "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user a reset link belongs to, if it exists, is unused and has not expired.
    pub async fn valid_password_reset(&self, token_hash: &str) -> AppResult<Option<i64>> {
        Ok(self
            .query_as::<(i64,)>(
                "SELECT user_id FROM password_resets \
                 WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
            )
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(self.pool())
            .await?
            .map(|row| row.0))
    }

    /// Marks the link used and sets the new password in one step; a second use finds the
    /// link spent and changes nothing.
    pub async fn consume_password_reset(
        &self,
        token_hash: &str,
        new_hash: &str,
    ) -> AppResult<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let Some((user_id,)) = self
            .query_as::<(i64,)>(
                "SELECT user_id FROM password_resets \
                 WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
            )
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let claimed = self
            .query(
                "UPDATE password_resets SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
            )
            .bind(now_ms())
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        if claimed.rows_affected() != 1 {
            return Ok(None);
        }
        self.query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(new_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // A reset signs the account out everywhere.
        self.query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(user_id))
    }
}

/// Escapes LIKE wildcards with `!` so that a search for "50%" means the text "50%".
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

impl UserRow {
    pub fn photo_url(&self) -> Option<String> {
        self.photo_key.as_deref().map(crate::assets::public_url)
    }

    pub fn address_text(&self) -> &str {
        self.address.as_deref().unwrap_or_default()
    }

    pub fn joined_label(&self) -> String {
        super::format_ms(self.created_at)
    }

    pub fn initial(&self) -> String {
        self.first_name
            .chars()
            .next()
            .unwrap_or('?')
            .to_uppercase()
            .collect()
    }
}

impl Db {
    /// The shipping address the shopper saved, as stored (checked again where it is used).
    pub async fn saved_address(&self, user_id: i64) -> AppResult<Option<AddressFields>> {
        type Row = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = self
            .query_as(
                "SELECT ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country \
                 FROM users WHERE id = ? AND ship_line1 IS NOT NULL",
            )
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(
            |(name, line1, line2, city, postal_code, country)| AddressFields {
                name: name.unwrap_or_default(),
                line1: line1.unwrap_or_default(),
                line2: line2.unwrap_or_default(),
                city: city.unwrap_or_default(),
                postal_code: postal_code.unwrap_or_default(),
                country: country.unwrap_or_default(),
            },
        ))
    }

    pub async fn save_address(&self, user_id: i64, address: &ShippingAddress) -> AppResult<()> {
        self.query(
            "UPDATE users SET ship_name = ?, ship_line1 = ?, ship_line2 = ?, ship_city = ?, \
             ship_postal_code = ?, ship_country = ? WHERE id = ?",
        )
        .bind(address.name())
        .bind(address.line1())
        .bind(address.line2())
        .bind(address.city())
        .bind(address.postal_code())
        .bind(address.country_code())
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
