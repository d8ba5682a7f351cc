//! SQLite on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: every statement is handed to
//! that thread and its rows handed back, two thread wake-ups a statement. The profile of
//! the shop under load showed a quarter of the server's samples in those futex waits and
//! wake-ups and SQLite's own work under 2 %: signed-in pages ran at a third of the
//! anonymous ones' speed, and SQLite's one writer spent its turn waiting for threads to be
//! scheduled (checkout: 630 orders/s, p99 94 ms).
//!
//! So on SQLite the statements of [`super::BoundedPool`] and [`super::Tx`] run here, on the
//! request's own thread, through rusqlite (the same SQLite library sqlx links), and come
//! back as sqlx's `Any` rows: the queries, their bindings and their row types stay
//! written once for the three databases. sqlx's SQLite driver still applies migrations.
//!
//! - Reads run on connections kept for them (`query_only`); in WAL mode a read never waits
//!   for the writer, and each sees the last commit (nothing is cached). A read that may
//!   take long (a staff report) first hands its worker's other tasks to another thread
//!   ([`super::BoundedPool::for_long_reads`]).
//! - Writes run on the one writer connection, whose lock is the writers' turn (see
//!   [`super::bounded`]): a write statement takes it for its run, a transaction from BEGIN
//!   to COMMIT. A turn that ends inside a transaction rolls it back.
//! - Another process's write lock (a command run beside the server, another instance on
//!   the same file) is waited for by sleeping between tries, up to the busy timeout, never
//!   by blocking the thread.
//!
//! The rows are built from sqlx's `Any` types, whose fields sqlx exposes for drivers
//! outside its tree (semver-exempt, hence the exact version of sqlx-core in Cargo.toml).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use sqlx::Either;
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx_core::any::{AnyColumn, AnyTypeInfo, AnyTypeInfoKind, AnyValue, AnyValueKind};
use sqlx_core::ext::ustr::UStr;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::bounded::Step;

/// Statements each connection keeps prepared: every statement of the shop, with room.
const PREPARED_STATEMENTS: usize = 256;
/// The pause between tries while another process holds the write lock.
const BUSY_PAUSE: Duration = Duration::from_millis(2);

/// The connections of one SQLite file.
pub struct SqliteLocal {
    path: PathBuf,
    busy_timeout: Duration,
    /// How often the checkpointer runs; zero: SQLite's automatic checkpoints instead.
    checkpoint_every: Duration,
    /// Dropped with this, which stops the checkpointer (started with the writer); None
    /// when it could not start.
    checkpointer: OnceLock<Option<mpsc::Sender<()>>>,
    /// Read connections not in use: as many stay open as threads have read at once.
    readers: Mutex<Vec<LocalConnection>>,
    /// The writer connection (opened at its first turn); its lock is the writers' turn.
    writer: Arc<tokio::sync::Mutex<Option<LocalConnection>>>,
}

/// A connection, with the column names of the statements it has run.
///
/// The rows carry their column names as sqlx's shared strings and a name-to-position map;
/// made afresh for each statement they were half the cost of a read (callgrind).
struct LocalConnection {
    conn: Connection,
    columns: KnownColumns,
}

/// The columns of each statement run, by its text.
#[derive(Default)]
struct KnownColumns(HashMap<Box<str>, Columns>);

impl KnownColumns {
    /// The columns of `statement` (the statement of `sql`), kept for its next rows.
    fn of(&mut self, sql: &str, statement: &rusqlite::Statement<'_>) -> Columns {
        if let Some(columns) = self.0.get(sql)
            && columns.describe(statement)
        {
            return columns.clone();
        }
        // As many texts as statements kept prepared: dynamic SQL stays bounded.
        if self.0.len() >= PREPARED_STATEMENTS {
            self.0.clear();
        }
        let columns = Columns::of(statement);
        self.0.insert(sql.into(), columns.clone());
        columns
    }
}

/// A statement's columns as its rows carry them.
#[derive(Clone)]
struct Columns {
    names: Arc<[UStr]>,
    positions: Arc<sqlx_core::HashMap<UStr, usize>>,
}

impl Columns {
    fn of(statement: &rusqlite::Statement<'_>) -> Self {
        let names: Arc<[UStr]> = statement
            .column_names()
            .into_iter()
            .map(UStr::new)
            .collect();
        let positions = Arc::new(
            names
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, n)| (n, i))
                .collect(),
        );
        Self { names, positions }
    }

    /// Whether these are still `statement`'s columns (a migration may change a `SELECT *`).
    fn describe(&self, statement: &rusqlite::Statement<'_>) -> bool {
        self.names.len() == statement.column_count()
            && self
                .names
                .iter()
                .enumerate()
                .all(|(i, name)| statement.column_name(i).is_ok_and(|n| n == &**name))
    }
}

impl std::fmt::Debug for SqliteLocal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLocal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteLocal {
    /// For the database at `url` (`sqlite://FILE?…`).
    pub fn new(url: &str, busy_timeout: Duration, checkpoint_every: Duration) -> Self {
        let file = url.strip_prefix("sqlite://").unwrap_or(url);
        let file = file.split('?').next().unwrap_or_default();
        Self {
            path: PathBuf::from(file),
            busy_timeout,
            checkpoint_every,
            checkpointer: OnceLock::new(),
            readers: Mutex::new(Vec::new()),
            writer: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// Runs the read `sql` on a read connection.
    pub fn read(
        &self,
        sql: &str,
        arguments: Option<&AnyArguments>,
    ) -> Result<Vec<Step>, sqlx::Error> {
        let idle = self
            .readers
            .lock()
            .map(|mut idle| idle.pop())
            .ok()
            .flatten();
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.open(true)?,
        };
        let steps = run(&mut conn, sql, arguments);
        // A connection whose statement failed is closed: the next one starts afresh.
        if steps.is_ok()
            && let Ok(mut idle) = self.readers.lock()
        {
            idle.push(conn);
        }
        steps
    }

    /// Waits for the writers' turn, then opens the writer if need be.
    pub async fn turn(&self) -> Result<WriterTurn, sqlx::Error> {
        let mut turn = self.writer.clone().lock_owned().await;
        if turn.is_none() {
            *turn = Some(self.open(false)?);
        }
        Ok(WriterTurn {
            conn: turn,
            busy_timeout: self.busy_timeout,
        })
    }

    fn open(&self, for_reading: bool) -> Result<LocalConnection, sqlx::Error> {
        let open = || -> rusqlite::Result<Connection> {
            // Never created here: the migrations create the file (as its URL allows).
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(&self.path, flags)?;
            conn.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
            conn.pragma_update(None, "foreign_keys", true)?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            if for_reading {
                conn.busy_timeout(self.busy_timeout)?;
                conn.pragma_update(None, "query_only", true)?;
            } else {
                // The writer never blocks its thread on a lock: see `WriterTurn::run_when_free`.
                conn.busy_timeout(Duration::ZERO)?;
                if self.checkpoints_beside() {
                    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                }
            }
            Ok(conn)
        };
        let conn = open().map_err(error)?;
        Ok(LocalConnection {
            conn,
            columns: KnownColumns::default(),
        })
    }

    /// Whether the checkpointer runs (starting it with the first writer).
    fn checkpoints_beside(&self) -> bool {
        !self.checkpoint_every.is_zero()
            && self
                .checkpointer
                .get_or_init(|| {
                    checkpointer(self.path.clone(), self.checkpoint_every)
                        .inspect_err(|error| {
                            tracing::warn!(%error, "no SQLite checkpointer: SQLite checkpoints as it commits");
                        })
                        .ok()
                })
                .is_some()
    }
}

/// Starts the thread that copies the WAL's committed pages into the database file every
/// `every`, until the sender it gives is dropped.
///
/// SQLite would otherwise checkpoint on the committing thread, once the WAL reaches 1,000
/// pages: writing and syncing the file there, in the writers' turn, while every other
/// write waited (checkout under load: p99 24 ms with it, 17 ms without). A passive
/// checkpoint waits for nobody, and writers go on appending to the WAL while it runs.
fn checkpointer(path: PathBuf, every: Duration) -> std::io::Result<mpsc::Sender<()>> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut conn = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let checkpointed = checkpoint(&mut conn, &path);
                if let Err(error) = checkpointed {
                    // Tried again, on a new connection, next time.
                    tracing::warn!(%error, "SQLite checkpoint failed");
                    conn = None;
                }
            }
        })?;
    Ok(stop)
}

/// One passive checkpoint, on `conn` (opened if need be).
fn checkpoint(conn: &mut Option<Connection>, path: &std::path::Path) -> rusqlite::Result<()> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?),
    };
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

/// The writers' turn, with the writer connection.
pub struct WriterTurn {
    conn: OwnedMutexGuard<Option<LocalConnection>>,
    busy_timeout: Duration,
}

impl WriterTurn {
    fn conn(&mut self) -> &mut LocalConnection {
        self.conn.as_mut().expect("a turn has its connection")
    }

    /// Runs `sql` now (inside a transaction of this turn: no other writer can hold the lock).
    pub fn run(
        &mut self,
        sql: &str,
        arguments: Option<&AnyArguments>,
    ) -> Result<Vec<Step>, sqlx::Error> {
        run(self.conn(), sql, arguments)
    }

    /// Runs `sql` (BEGIN IMMEDIATE, or a write outside a transaction), trying again after a
    /// short sleep while another process holds the write lock, up to the busy timeout.
    pub async fn run_when_free(
        &mut self,
        sql: &str,
        arguments: Option<&AnyArguments>,
    ) -> Result<Vec<Step>, sqlx::Error> {
        let give_up = Instant::now() + self.busy_timeout;
        loop {
            match run(self.conn(), sql, arguments) {
                Err(sqlx::Error::Database(e))
                    if is_busy(e.as_ref()) && Instant::now() < give_up =>
                {
                    tokio::time::sleep(BUSY_PAUSE).await;
                }
                done => return done,
            }
        }
    }
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        // A transaction left open (its request failed or was cancelled) changes nothing.
        if let Some(local) = self.conn.as_ref()
            && !local.conn.is_autocommit()
            && let Err(error) = local.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!(%error, "could not roll back an unfinished SQLite transaction");
            *self.conn = None;
        }
    }
}

/// Runs one statement and gathers what it gives.
fn run(
    local: &mut LocalConnection,
    sql: &str,
    arguments: Option<&AnyArguments>,
) -> Result<Vec<Step>, sqlx::Error> {
    let LocalConnection {
        conn,
        columns: known_columns,
    } = local;
    let mut statement = conn.prepare_cached(sql).map_err(error)?;
    for (i, value) in arguments
        .into_iter()
        .flat_map(|arguments| arguments.values.0.iter())
        .enumerate()
    {
        statement
            .raw_bind_parameter(i + 1, ToSqlOutput::Borrowed(bindable(value)))
            .map_err(error)?;
    }
    let read_only = statement.readonly();
    let mut steps = Vec::new();
    let mut named = None;
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next().map_err(error)? {
        // Named at the first row: a statement prepared before a schema change is prepared
        // again by its first step, and only then gives its new columns.
        let Columns { names, positions } =
            named.get_or_insert_with(|| known_columns.of(sql, row.as_ref()));
        let mut columns = Vec::with_capacity(names.len());
        let mut values = Vec::with_capacity(names.len());
        for (ordinal, name) in names.iter().enumerate() {
            let kind = readable(row.get_ref(ordinal).map_err(error)?)?;
            columns.push(AnyColumn {
                ordinal,
                name: name.clone(),
                type_info: AnyTypeInfo {
                    kind: type_of(&kind),
                },
            });
            values.push(AnyValue { kind });
        }
        steps.push(Either::Right(AnyRow {
            column_names: positions.clone(),
            columns,
            values,
        }));
    }
    drop(rows);
    steps.push(Either::Left(AnyQueryResult {
        rows_affected: if read_only { 0 } else { conn.changes() },
        last_insert_id: None,
    }));
    Ok(steps)
}

/// A bound value as SQLite takes it (as sqlx's SQLite driver binds it).
fn bindable(value: &AnyValueKind) -> ValueRef<'_> {
    match value {
        AnyValueKind::Bool(b) => ValueRef::Integer(i64::from(*b)),
        AnyValueKind::SmallInt(i) => ValueRef::Integer(i64::from(*i)),
        AnyValueKind::Integer(i) => ValueRef::Integer(i64::from(*i)),
        AnyValueKind::BigInt(i) => ValueRef::Integer(*i),
        AnyValueKind::Real(r) => ValueRef::Real(f64::from(*r)),
        AnyValueKind::Double(d) => ValueRef::Real(*d),
        AnyValueKind::Text(t) => ValueRef::Text(t.as_bytes()),
        AnyValueKind::TextSlice(t) => ValueRef::Text(t.as_bytes()),
        AnyValueKind::Blob(b) => ValueRef::Blob(b),
        _ => ValueRef::Null,
    }
}

/// A column's value as sqlx's `Any` rows hold it (by its storage class, as sqlx maps
/// SQLite's values).
fn readable(value: ValueRef<'_>) -> Result<AnyValueKind, sqlx::Error> {
    Ok(match value {
        ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
        ValueRef::Integer(i) => AnyValueKind::BigInt(i),
        ValueRef::Real(r) => AnyValueKind::Double(r),
        ValueRef::Text(t) => AnyValueKind::Text(Arc::new(
            String::from_utf8(t.to_vec()).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        )),
        ValueRef::Blob(b) => AnyValueKind::Blob(Arc::new(b.to_vec())),
    })
}

fn type_of(kind: &AnyValueKind) -> AnyTypeInfoKind {
    match kind {
        AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
        AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
        AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
        AnyValueKind::Blob(_) => AnyTypeInfoKind::Blob,
        _ => AnyTypeInfoKind::Null,
    }
}

fn is_busy(error: &dyn DatabaseError) -> bool {
    error
        .try_downcast_ref::<LocalError>()
        .is_some_and(|e| matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// rusqlite's error as sqlx's: SQLite's failures as database errors with SQLite's
/// extended result code (as sqlx's own SQLite driver reports them), the rest as what they are.
fn error(error: rusqlite::Error) -> sqlx::Error {
    match error {
        // The file is not there (yet): the database is away, not broken.
        rusqlite::Error::SqliteFailure(failure, _) if failure.code == ErrorCode::CannotOpen => {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                error.to_string(),
            ))
        }
        rusqlite::Error::SqliteFailure(failure, message) => {
            sqlx::Error::Database(Box::new(LocalError {
                code: failure.code,
                extended_code: failure.extended_code,
                message: message.unwrap_or_else(|| failure.to_string()),
            }))
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..)
        | rusqlite::Error::InvalidColumnType(..) => sqlx::Error::Decode(Box::new(error)),
        // A statement of ours SQLite could not take as given (two in one text, a wrong
        // number of values): a bug here, not the database being away.
        other => sqlx::Error::AnyDriverError(Box::new(other)),
    }
}

/// A statement SQLite refused.
#[derive(Debug)]
struct LocalError {
    code: ErrorCode,
    extended_code: i32,
    message: String,
}

impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LocalError {}

impl DatabaseError for LocalError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.extended_code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        // SQLite's extended result codes of constraint failures.
        match self.extended_code {
            2067 | 1555 => ErrorKind::UniqueViolation,
            787 => ErrorKind::ForeignKeyViolation,
            1299 => ErrorKind::NotNullViolation,
            275 => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_sqlite_cannot_take_is_an_error_of_ours_not_an_outage() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shop.db");
        Connection::open(&file).unwrap();
        let local = SqliteLocal::new(
            &format!("sqlite://{}", file.display()),
            Duration::ZERO,
            Duration::ZERO,
        );
        let Err(error) = local.read("SELECT 1; SELECT 2", None) else {
            panic!("two statements in one text are refused");
        };
        assert!(matches!(error, sqlx::Error::AnyDriverError(_)), "{error:?}");
        assert!(!crate::db::liveness::is_dropped_connection(&error));
        let answer = crate::error::AppError::from(error);
        assert!(
            matches!(answer, crate::error::AppError::Internal(_)),
            "{answer:?}"
        );
    }

    #[test]
    fn a_missing_file_is_the_database_being_away() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("absent.db");
        let local = SqliteLocal::new(
            &format!("sqlite://{}", file.display()),
            Duration::ZERO,
            Duration::ZERO,
        );
        let Err(error) = local.read("SELECT 1", None) else {
            panic!("a missing file is not read");
        };
        let answer = crate::error::AppError::from(error);
        assert!(
            matches!(answer, crate::error::AppError::Unavailable(_)),
            "{answer:?}"
        );
        assert!(!file.exists());
    }

    #[test]
    fn a_statement_whose_columns_were_renamed_gives_rows_with_the_new_names() {
        use sqlx::Row;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shop.db");
        let other = Connection::open(&file).unwrap();
        other
            .execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (7)")
            .unwrap();
        let local = SqliteLocal::new(
            &format!("sqlite://{}", file.display()),
            Duration::ZERO,
            Duration::ZERO,
        );
        let row = |steps: Vec<Step>| steps.into_iter().find_map(Either::right).unwrap();
        let before = row(local.read("SELECT * FROM t", None).unwrap());
        assert_eq!(before.try_get::<i64, _>("a").unwrap(), 7);

        // Same text, same number of columns, another name (a migration run beside it).
        other
            .execute_batch("ALTER TABLE t RENAME COLUMN a TO b")
            .unwrap();
        let after = row(local.read("SELECT * FROM t", None).unwrap());
        assert_eq!(after.try_get::<i64, _>("b").unwrap(), 7);
        assert!(after.try_get::<i64, _>("a").is_err());
    }
}
