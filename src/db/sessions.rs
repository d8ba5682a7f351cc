//! Server-side sessions. The cookie holds a random token; the database holds only its
//! SHA-256, so a leaked database cannot be replayed as cookies.

use super::users::UserRow;
use super::{Db, now_ms};
use crate::domain::Role;
use crate::error::AppResult;

/// A session as loaded for a request: its id (the token's hash), who is signed in, and how
/// many items their cart holds (the header's badge).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub user: Option<UserRow>,
    pub cart_count: i64,
}

#[derive(sqlx::FromRow)]
struct SessionJoin {
    session_id: String,
    id: Option<i64>,
    username: Option<String>,
    email: Option<String>,
    password_hash: Option<String>,
    first_name: Option<String>,
    address: Option<String>,
    photo_key: Option<String>,
    role: Option<String>,
    created_at: Option<i64>,
    cart_quantity: Option<i64>,
}

/// The session, its user and the quantities of its cart's lines: one row per line (or one
/// row for an empty cart). The cart's owner key is built as `CartOwner::key` builds it (the
/// account's cart when signed in, else the guest session's); the quantities are summed in
/// Rust because SUM's result type differs by database.
const SESSION_WITH_CART: &str = "SELECT s.id AS session_id, u.id, u.username, u.email, u.password_hash, \
     u.first_name, u.address, u.photo_key, u.role, u.created_at, c.quantity AS cart_quantity \
     FROM sessions s LEFT JOIN users u ON u.id = s.user_id \
     LEFT JOIN cart_items c ON c.owner = CASE WHEN u.id IS NULL THEN CONCAT('s:', s.id) \
     ELSE CONCAT('u:', u.id) END \
     WHERE s.id = ? AND s.expires_at > ?";

impl Db {
    pub async fn create_session(
        &self,
        id: &str,
        user_id: Option<i64>,
        expires_at: i64,
    ) -> AppResult<()> {
        self.query(
            "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(user_id)
        .bind(now_ms())
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The live session with this id, its user and its cart badge, in one query: what a
    /// signed-in page needs costs one round trip.
    ///
    /// An account's role is read as in [`UserRow`]: one this shop does not know is an
    /// error, not a shopper.
    pub async fn session(&self, id: &str) -> AppResult<Option<SessionRow>> {
        // Most requests begin here: the read that meets a connection the database dropped.
        let rows: Vec<SessionJoin> = super::liveness::read_again_if_dropped(|| {
            self.query_as(SESSION_WITH_CART)
                .bind(id)
                .bind(now_ms())
                .fetch_all(self.pool())
        })
        .await?;
        let cart_count = rows.iter().filter_map(|r| r.cart_quantity).sum();
        let Some(r) = rows.into_iter().next() else {
            return Ok(None);
        };
        let user = match r.id {
            Some(id) => Some(UserRow {
                id,
                username: r.username.unwrap_or_default(),
                email: r.email.unwrap_or_default(),
                password_hash: r.password_hash.unwrap_or_default(),
                first_name: r.first_name.unwrap_or_default(),
                address: r.address,
                photo_key: r.photo_key,
                role: Role::try_from(r.role.unwrap_or_default()).map_err(anyhow::Error::from)?,
                created_at: r.created_at.unwrap_or_default(),
            }),
            None => None,
        };
        Ok(Some(SessionRow {
            id: r.session_id,
            user,
            cart_count,
        }))
    }

    pub async fn delete_session(&self, id: &str) -> AppResult<()> {
        self.query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Signs a user out of every other session (after a password change).
    pub async fn delete_other_sessions(&self, user_id: i64, keep: &str) -> AppResult<()> {
        self.query("DELETE FROM sessions WHERE user_id = ? AND id <> ?")
            .bind(user_id)
            .bind(keep)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
