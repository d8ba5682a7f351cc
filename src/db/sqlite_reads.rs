//! SQLite reads on the request's own thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: a statement is handed to that
//! thread and its rows handed back, two thread wake-ups a statement. For the read nearly
//! every request of a signed-in shopper begins with (the session, a primary-key look-up
//! answered from SQLite's page cache in microseconds) the hand-off cost several times the
//! read itself: a quarter of the server's samples were futex waits and wake-ups, and
//! signed-in pages ran at a third of the anonymous ones' speed.
//!
//! Such reads run here instead, on the calling thread, on connections kept for them (read
//! only: `query_only`). A read in WAL mode never waits for the writer, so the thread is
//! held for the read alone. Writes stay on the pool, in their turn (see [`super::bounded`]).
//! Nothing is cached: each read sees the last commit, so a session signed out on one
//! instance fails on every instance sharing the file at once.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Params};

/// A row type read both through sqlx (the servers) and here (SQLite), from one list of
/// fields named as the query's columns.
pub trait FromSqliteRow: Sized {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// Declares a row struct that both drivers read: `sqlx::FromRow` and [`FromSqliteRow`],
/// each field from the column of its name.
macro_rules! read_row {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(sqlx::FromRow)]
        $vis struct $name { $($field: $ty),* }

        impl $crate::db::sqlite_reads::FromSqliteRow for $name {
            fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok(Self { $($field: row.get(stringify!($field))?),* })
            }
        }
    };
}
pub(crate) use read_row;

/// The connections for reads on the calling thread, opened as needed; as many stay open as
/// threads have read at once (the runtime's workers, a few).
pub struct SqliteReads {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReads")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteReads {
    /// For the database at `url` (`sqlite://FILE?…`).
    pub fn new(url: &str, busy_timeout: Duration) -> Self {
        let file = url.strip_prefix("sqlite://").unwrap_or(url);
        let file = file.split('?').next().unwrap_or_default();
        Self {
            path: PathBuf::from(file),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Every row `sql` gives for `params`. `sql` is the shop's own (see [`super::Sql`]),
    /// prepared once per connection.
    pub fn fetch_all<T: FromSqliteRow>(
        &self,
        sql: &'static str,
        params: impl Params,
    ) -> rusqlite::Result<Vec<T>> {
        crate::ops::metrics::database_round_trip();
        self.with_connection(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            let rows = statement.query_map(params, T::from_sqlite_row)?;
            rows.collect()
        })
    }

    fn with_connection<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let idle = self.idle.lock().map(|mut idle| idle.pop()).ok().flatten();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let outcome = read(&conn);
        // A connection whose read failed is closed: the next one starts afresh.
        if outcome.is_ok()
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(conn);
        }
        outcome
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }
}
