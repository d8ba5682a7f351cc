//! Throttle counters shared by the whole fleet.
//!
//! Each subject (say, sign-ins of one account from one address) counts hits per fixed
//! window. A request takes its hits for every subject that applies in one transaction: the
//! counters are incremented first, which locks their rows, then read; if any is over its
//! limit the transaction is rolled back, so a refused attempt counts nowhere. Concurrent
//! attempts therefore queue on the row lock and are counted exactly, on SQLite, MySQL and
//! PostgreSQL alike.

use super::{Backend, Db, Tx};
use crate::error::AppResult;

/// One counter to take a hit from: at most `limit` hits per `window_ms`.
#[derive(Debug, Clone)]
pub struct Hit {
    pub subject: String,
    pub window_ms: i64,
    pub limit: i64,
}

impl Hit {
    fn window_start(&self, now_ms: i64) -> i64 {
        now_ms - now_ms.rem_euclid(self.window_ms.max(1))
    }
}

impl Db {
    /// Takes one hit from each counter, all or none. Returns the index of the first counter
    /// that is already at its limit (nothing is counted then), or `None` when all were taken.
    ///
    /// The estimate over a window also weighs the previous window by how much of it still
    /// overlaps the last `window_ms` (a sliding window), so that a burst at the turn of a
    /// window does not get twice the limit.
    pub async fn take_hits(&self, hits: &[Hit], now_ms: i64) -> AppResult<Option<usize>> {
        // InnoDB can report a deadlock when concurrent upserts create the same new row:
        // nothing was counted then, so the attempt is simply made again.
        Ok(super::retry_on_conflict(|| self.take_hits_once(hits, now_ms)).await?)
    }

    async fn take_hits_once(
        &self,
        hits: &[Hit],
        now_ms: i64,
    ) -> Result<Option<usize>, sqlx::Error> {
        // Rows are locked in one order everywhere, so two takers never wait on each other
        // in a circle.
        let mut order: Vec<usize> = (0..hits.len()).collect();
        order.sort_by(|&a, &b| hits[a].subject.cmp(&hits[b].subject));
        let mut tx = self.begin_write().await?;
        for &i in &order {
            self.increment_in(&mut tx, &hits[i], now_ms).await?;
        }
        for &i in &order {
            let hit = &hits[i];
            let current_start = hit.window_start(now_ms);
            let rows: Vec<(i64, i64)> = self
                .query_as(
                    "SELECT window_start, hits FROM rate_limits \
                     WHERE subject = ? AND window_start IN (?, ?)",
                )
                .bind(&hit.subject)
                .bind(current_start)
                .bind(current_start - hit.window_ms)
                .fetch_all(&mut *tx)
                .await?;
            let current = rows
                .iter()
                .find(|(start, _)| *start == current_start)
                .map_or(0, |r| r.1);
            let previous = rows
                .iter()
                .find(|(start, _)| *start != current_start)
                .map_or(0, |r| r.1);
            let elapsed = now_ms - current_start;
            let overlap = (hit.window_ms - elapsed) as f64 / hit.window_ms as f64;
            if current as f64 + previous as f64 * overlap > hit.limit as f64 {
                tx.rollback().await?;
                return Ok(Some(i));
            }
        }
        tx.commit().await?;
        Ok(None)
    }

    /// Gives back a hit taken by [`Db::take_hits`] in the current window (an attempt that
    /// turned out not to count, such as a successful sign-in).
    pub async fn give_back_hits(&self, hits: &[Hit], now_ms: i64) -> AppResult<()> {
        let mut sorted: Vec<&Hit> = hits.iter().collect();
        sorted.sort_by(|a, b| a.subject.cmp(&b.subject));
        let mut tx = self.begin_write().await?;
        for hit in sorted {
            self.query(
                "UPDATE rate_limits SET hits = hits - 1 \
                 WHERE subject = ? AND window_start = ? AND hits > 0",
            )
            .bind(&hit.subject)
            .bind(hit.window_start(now_ms))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets every window of these subjects (e.g. after the account's password is reset).
    pub async fn clear_hits(&self, subjects: &[&str]) -> AppResult<()> {
        for subject in subjects {
            self.query("DELETE FROM rate_limits WHERE subject = ?")
                .bind(*subject)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Forgets every subject that starts with `prefix`.
    pub async fn clear_hits_with_prefix(&self, prefix: &str) -> AppResult<()> {
        self.query("DELETE FROM rate_limits WHERE subject LIKE ? ESCAPE '!'")
            .bind(format!("{}%", super::users::like_escape(prefix)))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn increment_in(&self, tx: &mut Tx, hit: &Hit, now_ms: i64) -> Result<(), sqlx::Error> {
        let sql = match self.backend() {
            Backend::MySql => {
                "INSERT INTO rate_limits (subject, window_start, hits) VALUES (?, ?, 1) \
                 ON DUPLICATE KEY UPDATE hits = hits + 1"
            }
            Backend::Sqlite | Backend::Postgres => {
                "INSERT INTO rate_limits (subject, window_start, hits) VALUES (?, ?, 1) \
                 ON CONFLICT (subject, window_start) DO UPDATE SET hits = rate_limits.hits + 1"
            }
        };
        self.query(sql)
            .bind(&hit.subject)
            .bind(hit.window_start(now_ms))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
