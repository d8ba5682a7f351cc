//! Server-side sessions. The cookie holds a random token; the database holds only its
//! SHA-256, so a leaked database cannot be replayed as cookies.

use super::users::UserRow;
use super::{Db, now_ms};
use crate::domain::Role;
use crate::error::AppResult;

/// A session as loaded for a request: its id (the token's hash) and who is signed in.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub user: Option<UserRow>,
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
}

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

    /// The live session with this id and its user, in one query.
    ///
    /// An account's role is read as in [`UserRow`]: one this shop does not know is an
    /// error, not a shopper.
    pub async fn session(&self, id: &str) -> AppResult<Option<SessionRow>> {
        let row: Option<SessionJoin> = self
            .query_as(
                "SELECT s.id AS session_id, u.id, u.username, u.email, u.password_hash, \
                 u.first_name, u.address, u.photo_key, u.role, u.created_at \
                 FROM sessions s LEFT JOIN users u ON u.id = s.user_id \
                 WHERE s.id = ? AND s.expires_at > ?",
            )
            .bind(id)
            .bind(now_ms())
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
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
