//! The clean-up that keeps the database from growing without bound: expired sessions and
//! the guest carts with them, spent reset links, old throttle windows and, when asked,
//! old events. Every instance runs it at its own interval (with a random offset, so a
//! fleet started together does not clean up in step); each delete is idempotent, so
//! instances that do run at once only share the work.

use std::time::Duration;

use crate::config::{LimitSettings, RetentionSettings};
use crate::db::{Db, now_ms};
use crate::error::AppResult;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// What one clean-up deleted, by kind of row.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub sessions: u64,
    pub guest_cart_lines: u64,
    pub reset_links: u64,
    pub rate_limits: u64,
    pub events: u64,
}

/// Starts the clean-up loop on this instance (unless its interval is zero).
pub fn spawn(db: Db, retention: RetentionSettings, limits: LimitSettings) {
    if retention.retention_interval_secs == 0 {
        return;
    }
    tokio::spawn(async move {
        let interval = Duration::from_secs(retention.retention_interval_secs);
        loop {
            use rand::Rng;
            // Between half and the whole interval: instances drift apart.
            let pause = interval.mul_f64(rand::rng().random_range(0.5..=1.0));
            tokio::time::sleep(pause).await;
            match run_once(&db, &retention, &limits).await {
                Ok(deleted) if deleted != Deleted::default() => {
                    tracing::info!(?deleted, "retention clean-up");
                }
                Ok(_) => {}
                // The next round tries again; nothing here is urgent.
                Err(error) => tracing::warn!(error = %error, "retention clean-up failed"),
            }
        }
    });
}

/// One clean-up, now.
pub async fn run_once(
    db: &Db,
    retention: &RetentionSettings,
    limits: &LimitSettings,
) -> AppResult<Deleted> {
    let now = now_ms();
    let guest_lifetime_ms = retention.guest_session_secs.saturating_mul(1000) as i64;
    // A throttle reads two windows (the current one and the one it slides from): its
    // counters are kept at least that long, whatever the setting.
    let longest_window_ms = (limits.signin_window_secs * 1000).max(3600 * 1000) as i64;
    let rate_limits_kept_ms = days_ms(retention.retain_rate_limits_days).max(2 * longest_window_ms);
    let (sessions, carts_of_sessions) = db.delete_expired_sessions(now).await?;
    let deleted = Deleted {
        sessions,
        guest_cart_lines: carts_of_sessions
            + db.delete_orphan_guest_cart_lines(now - guest_lifetime_ms)
                .await?,
        reset_links: db
            .delete_spent_password_resets(now - days_ms(retention.retain_reset_links_days))
            .await?,
        rate_limits: db.delete_old_rate_limits(now - rate_limits_kept_ms).await?,
        events: match retention.retain_events_days {
            0 => 0,
            days => db.delete_old_events(now - days_ms(days)).await?,
        },
    };
    for (kind, n) in [
        ("sessions", deleted.sessions),
        ("guest_cart_lines", deleted.guest_cart_lines),
        ("reset_links", deleted.reset_links),
        ("rate_limits", deleted.rate_limits),
        ("events", deleted.events),
    ] {
        metrics::counter!("retention_deleted_total", "kind" => kind).increment(n);
    }
    Ok(deleted)
}

fn days_ms(days: u64) -> i64 {
    (days as i64).saturating_mul(DAY_MS)
}
