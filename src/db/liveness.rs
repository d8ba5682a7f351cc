//! Connections the database dropped.
//!
//! A connection used a moment ago goes straight to its next statement (checking it first
//! costs a round trip a statement, see DATABASE_CHECK_IDLE_AFTER_MS). When the database
//! drops its connections all at once (a restart, a failover, sessions ended by an
//! operator), the first statement to meet a dead one fails; from then on every connection
//! that sat idle since before that moment is checked before its next use, and the read
//! that failed runs once more, on a live connection.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static PROCESS_START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// When a statement last met a dropped connection, in milliseconds since
/// [`PROCESS_START`], plus one (zero: never).
static LAST_DROP: AtomicU64 = AtomicU64::new(0);

/// Whether `error` says that the connection itself is gone, as opposed to the statement
/// failing on a live one (or this side's own timeout, see `bounded`).
pub fn is_dropped_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(e) => e.kind() != std::io::ErrorKind::TimedOut,
        sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(e) => {
            let code = e.code().unwrap_or_default();
            // A broken connection; PostgreSQL's session ended by an administrator or a
            // crash; MariaDB's "connection was killed".
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "70100")
        }
        _ => false,
    }
}

/// Notes the moment if `result` met a dropped connection.
pub fn note<T>(result: &Result<T, sqlx::Error>) {
    if let Err(error) = result
        && is_dropped_connection(error)
    {
        let now = PROCESS_START.elapsed().as_millis() as u64 + 1;
        LAST_DROP.fetch_max(now, Ordering::Relaxed);
    }
}

/// Whether a connection idle for `idle_for` was already idle when a statement last met a
/// dropped connection: it may be dead too, so it is checked before its next use.
pub fn idle_since_a_drop(idle_for: Duration) -> bool {
    let last = LAST_DROP.load(Ordering::Relaxed);
    if last == 0 {
        return false;
    }
    let idle_since = PROCESS_START.elapsed().saturating_sub(idle_for);
    (idle_since.as_millis() as u64) < last
}

/// Runs `read`, and once more if it met a dropped connection. Only for reads: a write that
/// met one may have been applied before the connection went.
pub async fn read_again_if_dropped<T, Fut>(read: impl Fn() -> Fut) -> Result<T, sqlx::Error>
where
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    match read().await {
        Err(error) if is_dropped_connection(&error) => read().await,
        done => done,
    }
}
