//! Data access over one connection pool that speaks SQLite, MySQL/MariaDB or PostgreSQL,
//! chosen by the database URL. Queries are written once, in the SQL the three share, with
//! `?` placeholders; PostgreSQL gets them renumbered as `$1, $2, …`.

pub mod bounded;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod credentials;
pub mod events;
pub mod flask_source;
pub mod imported;
pub mod insights;
pub mod limits;
pub mod liveness;
pub mod orders;
pub mod places;
pub mod retention;
pub mod sessions;
pub mod sqlite_local;
pub mod users;

use std::borrow::Cow;
use std::time::Duration;

use backon::Retryable;

use credentials::CredentialSource;
use sqlite_local::SqliteLocal;

use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::query::{Query, QueryAs};
use sqlx::{Any, AssertSqlSafe, Connection, Executor};

static RELEASED_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The migrations this build applies. A migration the database has and this build lacks is
/// no error: during a rolling upgrade, and in a rollback, instances of the previous release
/// start on the schema the next one migrated, which expand-only migrations keep readable
/// to them (docs/upgrades.md).
static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> = std::sync::LazyLock::new(|| {
    #[allow(unused_mut)]
    let mut migrations = RELEASED_MIGRATIONS.migrations.to_vec();
    #[cfg(feature = "next-release-rehearsal")]
    migrations.push(sqlx::migrate::Migration::new(
        99990101000001,
        "rehearsal release column".into(),
        sqlx::migrate::MigrationType::Simple,
        sqlx::SqlSafeStr::into_sql_str(include_str!(
            "../../deploy/rehearsal/99990101000001_rehearsal_release_column.sql"
        )),
        false,
    ));
    let mut migrator = sqlx::migrate::Migrator::with_migrations(migrations);
    migrator.set_ignore_missing(true);
    migrator
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "mysql" | "mariadb" => Ok(Self::MySql),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            other => anyhow::bail!(
                "unsupported database URL scheme {other:?}: use sqlite://, mysql:// or postgres://"
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Zero means no limit.
    pub statement_timeout: Duration,
    /// The longest a call may take as the app sees it, wire included: a statement with its
    /// wait for a connection, or a transaction from BEGIN to COMMIT. Zero means no limit.
    pub call_timeout: Duration,
    pub migration_lock_wait: Duration,
    /// SQLite: how long a write waits for another process's lock.
    pub sqlite_busy_timeout: Duration,
    /// SQLite: how often the WAL is checkpointed beside the writer; zero: as SQLite does.
    pub sqlite_checkpoint_every: Duration,
    /// A connection idle for longer is checked before its next statement.
    pub check_idle_after: Duration,
    /// None: the password is the database URL's.
    pub password_command: Option<PasswordCommand>,
}

impl PoolSettings {
    pub fn from_settings(common: &crate::config::CommonSettings) -> Self {
        Self {
            max_connections: common.database_pool_size,
            acquire_timeout: Duration::from_millis(common.database_acquire_timeout_ms),
            statement_timeout: Duration::from_millis(common.database_statement_timeout_ms),
            call_timeout: Duration::from_millis(common.database_call_timeout_ms),
            migration_lock_wait: Duration::from_secs(common.database_migration_lock_wait_secs),
            sqlite_busy_timeout: Duration::from_millis(common.sqlite_busy_timeout_ms),
            sqlite_checkpoint_every: Duration::from_millis(common.sqlite_checkpoint_interval_ms),
            check_idle_after: Duration::from_millis(common.database_check_idle_after_ms),
            password_command: common.database_password_command.clone().map(|command| {
                PasswordCommand {
                    command,
                    timeout: Duration::from_millis(common.database_password_command_timeout_ms),
                    min_interval: Duration::from_millis(
                        common.database_password_reread_min_interval_ms,
                    ),
                }
            }),
        }
    }
}

#[derive(Clone)]
pub struct Db {
    pool: BoundedPool,
    backend: Backend,
    acquire_timeout: Duration,
    migration_lock_wait: Duration,
}

pub use bounded::{BoundedPool, PoolUse, Tx};
pub use credentials::PasswordCommand;

impl Db {
    /// Opens the pool lazily, so that an instance starts (and answers /healthz) even while
    /// its database is down, and connects once it returns.
    pub fn connect_lazy(url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::MySql => url.replacen("mariadb:", "mysql:", 1),
            _ => url.to_owned(),
        };
        let statement_timeout_ms = settings.statement_timeout.as_millis() as u64;
        let busy_timeout_ms = settings.sqlite_busy_timeout.as_millis() as u64;
        let check_idle_after = settings.check_idle_after;
        let options = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            // sqlx checks every connection as it takes it back; checking it again before each
            // statement costs a round trip more. Only a connection idle for longer than the
            // setting is checked first: the database may have dropped it since (a restart, a
            // failover), and the statement would fail on it; so is every connection idle
            // since a statement last met a dropped one (see `liveness`).
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if backend != Backend::Sqlite
                        && (meta.idle_for >= check_idle_after
                            || liveness::idle_since_a_drop(meta.idle_for))
                    {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match backend {
                        // WAL lets readers run beside the one writer; this instance's writers
                        // queue in `bounded`, the busy timeout covers another process's
                        // (a command run beside the server).
                        Backend::Sqlite => {
                            conn.execute(AssertSqlSafe(format!(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = {busy_timeout_ms}; PRAGMA foreign_keys = ON;"
                            )))
                            .await?;
                        }
                        _ if statement_timeout_ms == 0 => {}
                        Backend::Postgres => {
                            conn.execute(AssertSqlSafe(format!(
                                "SET statement_timeout = {statement_timeout_ms}"
                            )))
                            .await?;
                        }
                        Backend::MySql => {
                            // MySQL counts milliseconds (for SELECT); MariaDB counts seconds.
                            let (version,): (String,) = sqlx::query_as("SELECT VERSION()")
                                .fetch_one(&mut *conn)
                                .await?;
                            let set = if version.contains("MariaDB") {
                                format!(
                                    "SET SESSION max_statement_time = {}",
                                    statement_timeout_ms as f64 / 1000.0
                                )
                            } else {
                                format!("SET SESSION max_execution_time = {statement_timeout_ms}")
                            };
                            conn.execute(AssertSqlSafe(set)).await?;
                        }
                    }
                    Ok(())
                })
            });
        let credentials = match &settings.password_command {
            Some(command) => Some(CredentialSource::new(command.clone(), &url)?),
            None => None,
        };
        let pool = BoundedPool::new(
            options.connect_lazy(&url)?,
            settings.call_timeout,
            credentials,
            (backend == Backend::Sqlite).then(|| {
                SqliteLocal::new(
                    &url,
                    settings.sqlite_busy_timeout,
                    settings.sqlite_checkpoint_every,
                )
            }),
        );
        Ok(Self {
            pool,
            backend,
            acquire_timeout: settings.acquire_timeout,
            migration_lock_wait: settings.migration_lock_wait,
        })
    }

    /// Creates the SQLite file's folder when needed, then opens the pool.
    pub fn open(url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)?;
            }
        }
        Self::connect_lazy(url, settings)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where statements run, each bounded by the call timeout (see [`bounded`]).
    pub fn pool(&self) -> &BoundedPool {
        &self.pool
    }

    /// Applies pending migrations. A database-wide lock (sqlx's advisory lock on
    /// PostgreSQL, our own GET_LOCK on MySQL, see [`Self::lock_migrations`]) makes
    /// instances that start together apply each migration once.
    ///
    /// SQLite has no such lock: an instance that lost the race fails on a table the winner
    /// created, then finds the migration recorded when it tries again.
    ///
    /// Waiting for another instance's lock and running DDL can take longer than the
    /// statement timeout, so migrations run on a connection of their own without it; that
    /// connection is closed afterwards.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        (|| self.migrate_once())
            .retry(backoff(5, Duration::from_millis(200)))
            .notify(|error, pause| {
                tracing::info!(error = %format!("{error:#}"), ?pause, "migrations not applied yet; retrying");
            })
            .await
    }

    async fn migrate_once(&self) -> anyhow::Result<()> {
        if self.backend == Backend::Sqlite {
            return MIGRATOR
                .run(self.pool.inner())
                .await
                .map_err(anyhow::Error::from);
        }
        // The pool's connections set a statement timeout as they connect; this one
        // does not.
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(self.acquire_timeout)
            .connect_with(self.pool.connect_options().await?)
            .await?;
        // The lock is held by a connection of its own while the migrator uses the
        // other; closing the pool releases it.
        let mut lock = pool.acquire().await?;
        let outcome = match self.lock_migrations(&mut lock).await {
            Ok(()) => MIGRATOR.run(&pool).await.map_err(anyhow::Error::from),
            Err(error) => Err(error),
        };
        drop(lock);
        pool.close().await;
        outcome
    }

    /// Makes instances that start together migrate one after another. sqlx's own lock on
    /// MySQL is `GET_LOCK(name, -1)`, which MariaDB answers NULL at once instead of
    /// waiting, so on MariaDB two instances would run the same DDL side by side and
    /// leave a migration half applied. PostgreSQL's advisory lock (sqlx's) waits.
    async fn lock_migrations(&self, conn: &mut sqlx::AnyConnection) -> anyhow::Result<()> {
        if self.backend != Backend::MySql {
            return Ok(());
        }
        let wait = self.migration_lock_wait.as_secs().max(1) as i64;
        let (granted,): (Option<i64>,) =
            sqlx::query_as("SELECT GET_LOCK(CONCAT('coffee-radar-migrations:', DATABASE()), ?)")
                .bind(wait)
                .fetch_one(&mut *conn)
                .await?;
        match granted {
            Some(1) => Ok(()),
            _ => anyhow::bail!("another instance has been migrating for over {wait} s"),
        }
    }

    /// Starts a transaction that takes the write lock at once on SQLite, so that two
    /// writers never deadlock upgrading read locks.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with(Some("BEGIN IMMEDIATE")).await,
            _ => self.pool.begin_with(None).await,
        }
    }

    /// A query in the shared dialect.
    pub fn query(&self, sql: impl Into<Sql>) -> Query<'static, Any, AnyArguments> {
        match self.dialect(sql.into()) {
            Cow::Borrowed(sql) => sqlx::query(sql),
            Cow::Owned(sql) => sqlx::query(AssertSqlSafe(sql)),
        }
    }

    /// A query in the shared dialect mapped to a row type.
    pub fn query_as<T>(&self, sql: impl Into<Sql>) -> QueryAs<'static, Any, T, AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        match self.dialect(sql.into()) {
            Cow::Borrowed(sql) => sqlx::query_as(sql),
            Cow::Owned(sql) => sqlx::query_as(AssertSqlSafe(sql)),
        }
    }

    /// Runs a trivial query: the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    fn dialect(&self, sql: Sql) -> Cow<'static, str> {
        match self.backend {
            Backend::Postgres => Cow::Owned(numbered_placeholders(&sql.0)),
            _ => sql.0,
        }
    }
}

/// How the database layer retries what a passing error interrupted: `times` more tries,
/// after pauses growing from `first_pause`, with jitter so that instances retrying together
/// spread out.
pub fn backoff(times: usize, first_pause: Duration) -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(first_pause)
        .with_max_delay(first_pause * 8)
        .with_max_times(times)
        .with_jitter()
}

/// Runs `attempt` again (up to four more times, after a short random pause) when the
/// database aborted it for a deadlock or a serialization conflict: such a transaction
/// changed nothing, and the next try usually goes through.
pub async fn retry_on_conflict<T, F, Fut>(attempt: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    attempt
        .retry(backoff(4, Duration::from_millis(2)))
        .when(is_conflict)
        .await
}

fn is_conflict(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("40001" | "40P01")))
}

/// Rewrites `?` placeholders as `$1, $2, …` (no query of ours has a `?` inside a literal).
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// SQL text made only of the program's own string literals: a `&'static str`, or literals
/// around a run of repeated placeholder groups. Nothing a visitor sends can become part of
/// a statement; values always travel as bind parameters. (Literals built from column
/// lists use `const_format::concatcp!`, which joins them at compile time.)
#[derive(Debug, Clone)]
pub struct Sql(Cow<'static, str>);

impl From<&'static str> for Sql {
    fn from(sql: &'static str) -> Self {
        Self(Cow::Borrowed(sql))
    }
}

impl Sql {
    /// `head`, then `n` copies of `group` separated by commas, then `tail`: an
    /// `IN (?, ?, ?)` list, or the rows of a multi-row INSERT.
    pub fn repeated(head: &'static str, group: &'static str, n: usize, tail: &'static str) -> Self {
        Self::from(head).then_repeated(group, ", ", n).then(tail)
    }

    /// This text, then `n` copies of `group` separated by `separator` (the `WHEN ? THEN ?`
    /// arms of a CASE, say).
    pub fn then_repeated(self, group: &'static str, separator: &'static str, n: usize) -> Self {
        let mut sql = self.0.into_owned();
        sql.reserve(n * (group.len() + separator.len()));
        for i in 0..n {
            if i > 0 {
                sql.push_str(separator);
            }
            sql.push_str(group);
        }
        Self(Cow::Owned(sql))
    }

    /// This text, then `text`.
    pub fn then(self, text: &'static str) -> Self {
        let mut sql = self.0.into_owned();
        sql.push_str(text);
        Self(Cow::Owned(sql))
    }
}

/// Milliseconds since the Unix epoch, UTC: how every timestamp is stored.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A timestamp as people read it: `2026-11-28 08:24 UTC`.
pub fn format_ms(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A timestamp for a `datetime` attribute: `2026-11-28T08:24:05Z`.
pub fn iso_ms(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A random row id below 2^53, so that JavaScript clients read it exactly.
pub fn new_id() -> i64 {
    use rand::Rng;
    rand::rng().random_range(1..(1_i64 << 53))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
    }

    #[test]
    fn backends_are_chosen_by_url_scheme() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("mariadb://h/db").unwrap(), Backend::MySql);
        assert_eq!(
            Backend::from_url("postgres://h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("redis://h").is_err());
    }
}
