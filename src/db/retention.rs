//! Deleting what the shop no longer needs, in small batches so that no statement holds
//! locks for long. Every statement is idempotent: instances running them at the same time
//! delete each row once between them.

use super::{Db, Sql};
use crate::error::AppResult;

/// Rows deleted per statement.
const BATCH: i64 = 500;

impl Db {
    /// Expired sessions (signed in or guest) and the guests' carts with them: how many of
    /// each were deleted.
    pub async fn delete_expired_sessions(&self, now_ms: i64) -> AppResult<(u64, u64)> {
        let mut deleted = (0, 0);
        loop {
            let ids: Vec<(String,)> = self
                .query_as("SELECT id FROM sessions WHERE expires_at <= ? ORDER BY id LIMIT ?")
                .bind(now_ms)
                .bind(BATCH)
                .fetch_all(self.pool())
                .await?;
            if ids.is_empty() {
                return Ok(deleted);
            }
            let mut tx = self.begin_write().await?;
            let mut carts = self.query(Sql::repeated(
                "DELETE FROM cart_items WHERE owner IN (",
                "?",
                ids.len(),
                ")",
            ));
            for (id,) in &ids {
                carts = carts.bind(super::cart::CartOwner::Guest(id.clone()).key());
            }
            deleted.1 += carts.execute(&mut *tx).await?.rows_affected();
            let mut sessions = self.query(Sql::repeated(
                "DELETE FROM sessions WHERE id IN (",
                "?",
                ids.len(),
                ")",
            ));
            for (id,) in &ids {
                sessions = sessions.bind(id.clone());
            }
            deleted.0 += sessions.execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            if (ids.len() as i64) < BATCH {
                return Ok(deleted);
            }
        }
    }

    /// Guest cart lines older than any guest session can live: their session is gone.
    pub async fn delete_orphan_guest_cart_lines(&self, added_before_ms: i64) -> AppResult<u64> {
        let done = self
            .query("DELETE FROM cart_items WHERE owner LIKE 's:%' AND added_at < ?")
            .bind(added_before_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Reset links used or expired before `before_ms`.
    pub async fn delete_spent_password_resets(&self, before_ms: i64) -> AppResult<u64> {
        let done = self
            .query(
                "DELETE FROM password_resets \
                 WHERE (used_at IS NOT NULL AND used_at < ?) OR expires_at < ?",
            )
            .bind(before_ms)
            .bind(before_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Throttle windows that started before `before_ms`.
    pub async fn delete_old_rate_limits(&self, before_ms: i64) -> AppResult<u64> {
        let done = self
            .query("DELETE FROM rate_limits WHERE window_start < ?")
            .bind(before_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Recorded events older than `before_ms`.
    pub async fn delete_old_events(&self, before_ms: i64) -> AppResult<u64> {
        let mut deleted = 0;
        loop {
            let ids: Vec<(i64,)> = self
                .query_as("SELECT id FROM events WHERE occurred_at < ? ORDER BY id LIMIT ?")
                .bind(before_ms)
                .bind(BATCH)
                .fetch_all(self.pool())
                .await?;
            if ids.is_empty() {
                return Ok(deleted);
            }
            let mut delete = self.query(Sql::repeated(
                "DELETE FROM events WHERE id IN (",
                "?",
                ids.len(),
                ")",
            ));
            for (id,) in &ids {
                delete = delete.bind(*id);
            }
            deleted += delete.execute(self.pool()).await?.rows_affected();
            if (ids.len() as i64) < BATCH {
                return Ok(deleted);
            }
        }
    }
}
