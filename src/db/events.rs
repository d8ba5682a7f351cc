//! The events the insights count (see [`crate::events`] for how they are recorded).

use super::{Db, Sql, new_id};
use crate::error::AppResult;

/// One recorded event, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub kind: String,
    pub area: Option<String>,
    pub user_id: Option<i64>,
    pub product_id: Option<i64>,
    pub variant_id: Option<i64>,
    pub occurred_at: i64,
    /// How many identical events this row stands for (recorded within one batch).
    pub occurrences: i64,
}

/// Most events one INSERT writes (8 values each, well under every database's limit).
pub const EVENTS_PER_INSERT: usize = 500;

impl Db {
    /// Writes `events` in as few statements as [`EVENTS_PER_INSERT`] allows.
    pub async fn insert_events(&self, events: &[EventRow]) -> AppResult<()> {
        for batch in events.chunks(EVENTS_PER_INSERT) {
            let sql = Sql::repeated(
                "INSERT INTO events (id, kind, area, user_id, product_id, variant_id, occurred_at, occurrences) VALUES ",
                "(?, ?, ?, ?, ?, ?, ?, ?)",
                batch.len(),
                "",
            );
            let mut query = self.query(sql);
            for event in batch {
                query = query
                    .bind(new_id())
                    .bind(event.kind.clone())
                    .bind(event.area.clone())
                    .bind(event.user_id)
                    .bind(event.product_id)
                    .bind(event.variant_id)
                    .bind(event.occurred_at)
                    .bind(event.occurrences);
            }
            query.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// Every event, oldest first (for the export).
    pub async fn all_events(&self) -> AppResult<Vec<EventRow>> {
        Ok(self
            .query_as(
                "SELECT kind, area, user_id, product_id, variant_id, occurred_at, occurrences FROM events ORDER BY occurred_at",
            )
            .fetch_all(self.pool())
            .await?)
    }
}
