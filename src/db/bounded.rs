//! Database calls bounded in time on this side of the wire.
//!
//! The servers' own statement timeouts (PostgreSQL's `statement_timeout`, MariaDB's
//! `max_statement_time`) count only the time a statement runs on the server: over a slow or
//! lossy link a call can take far longer while the server sees nothing wrong. So every call
//! is also bounded here: a statement on the pool (waiting for a connection included), and a
//! whole transaction, from its BEGIN to its COMMIT. A call past its bound fails as a
//! connection failure would, and the request answers 503 at once instead of queueing.
//!
//! One request makes several calls, one after the other: each within the bound, they could
//! still keep the request (and a connection, and a place in the queue) waiting several times
//! as long. So the calls of one request share one budget, the same bound, and spend it as
//! they wait for the database ([`BoundedPool::within_budget`]); time spent elsewhere (an
//! object store, a payment provider) does not count.
//!
//! SQLite takes one writer at a time, and a writer that finds the database locked sleeps in
//! SQLite's busy handler (1, 2, 5 … up to 100 ms between tries): under concurrent checkouts
//! that made the tail (p99 over 100 ms, a maximum of a second) while the file sat idle
//! between tries. On SQLite the writes therefore queue here, in order, on one async lock:
//! each transaction holds it from BEGIN to COMMIT, each write statement outside one for its
//! run. Reads never wait for it (WAL lets them run beside the writer). SQLite's statements
//! run on the calling thread ([`super::sqlite_local`]), so only the wait for that turn can
//! pass a deadline.
//!
//! With credentials read by command ([`super::credentials`]), a statement first gets a
//! connection the server accepted: when a new connection's credentials are refused, they
//! are read again and the connection tried once more, within the same bound.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Describe, Either, Execute, Executor, SqlStr};
use tokio::time::Instant;

use super::credentials::{CredentialSource, is_refused_credentials};
use super::sqlite_local::{SqliteLocal, WriterTurn};

/// The pool, whose every statement (waiting for a connection included) ends within `limit`.
#[derive(Debug, Clone)]
pub struct BoundedPool {
    pool: AnyPool,
    /// None: no bound.
    limit: Option<Duration>,
    /// None: the credentials are those of the database URL.
    credentials: Option<Arc<CredentialSource>>,
    /// SQLite, whose statements run on the calling thread; None for the servers.
    sqlite: Option<Arc<SqliteLocal>>,
    /// Its reads may take long (see [`BoundedPool::for_long_reads`]).
    long_reads: bool,
}

impl BoundedPool {
    /// A zero `limit` means no bound. `sqlite`: the statements run there, not on `pool`
    /// (which then only applies the migrations).
    pub fn new(
        pool: AnyPool,
        limit: Duration,
        credentials: Option<CredentialSource>,
        sqlite: Option<SqliteLocal>,
    ) -> Self {
        Self {
            pool,
            limit: (!limit.is_zero()).then_some(limit),
            credentials: credentials.map(Arc::new),
            sqlite: sqlite.map(Arc::new),
            long_reads: false,
        }
    }

    /// The pool for reads that may take long (a report over every order of a period).
    ///
    /// SQLite's statements run on the calling thread, a worker of the runtime, whose other
    /// tasks wait meanwhile: a read of a few hundred milliseconds would stall the requests
    /// sharing that worker. So these reads hand the worker's tasks over to another thread
    /// while they run, which costs a thread wake-up: too much for the short reads of pages.
    pub fn for_long_reads(&self) -> Self {
        Self {
            long_reads: true,
            ..self.clone()
        }
    }

    /// The options new connections are opened with, credentials read if need be (for a
    /// connection outside the pool, such as the migrations').
    pub async fn connect_options(&self) -> Result<sqlx::any::AnyConnectOptions, sqlx::Error> {
        if let Some(credentials) = &self.credentials {
            credentials.read_once(&self.pool).await?;
        }
        Ok((*self.pool.connect_options()).clone())
    }

    /// Runs `attempt` (which opens a connection) with the credentials read; when the server
    /// refuses them, reads them again and runs it once more.
    async fn with_credentials<T, Fut>(&self, attempt: impl Fn() -> Fut) -> Result<T, sqlx::Error>
    where
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let Some(credentials) = &self.credentials else {
            return attempt().await;
        };
        credentials.read_once(&self.pool).await?;
        let tried_at = Instant::now();
        match attempt().await {
            Err(error) if is_refused_credentials(&error) => {
                if credentials.reread_after_refusal(&self.pool, tried_at).await {
                    attempt().await
                } else {
                    Err(error)
                }
            }
            outcome => outcome,
        }
    }

    async fn acquire(&self) -> Result<PoolConnection<Any>, sqlx::Error> {
        self.with_credentials(|| self.pool.acquire()).await
    }

    /// The pool itself, unbounded (migrations, closing).
    pub fn inner(&self) -> &AnyPool {
        &self.pool
    }

    /// Its connections now: open, idle, and how many it may open.
    pub fn usage(&self) -> PoolUse {
        PoolUse {
            open: self.pool.size(),
            idle: self.pool.num_idle(),
            size: self.pool.options().get_max_connections(),
        }
    }

    /// Runs `work` (one request) with its database calls, all together, bounded by the
    /// limit: once they have waited that long, the next call fails at once.
    pub async fn within_budget<F: Future>(&self, work: F) -> F::Output {
        match self.limit {
            None => work.await,
            Some(limit) => BUDGET.scope(Cell::new(limit), work).await,
        }
    }

    /// When a call starting now must end: within the limit, and within what is left of the
    /// request's budget.
    fn deadline(&self) -> Option<Instant> {
        let left = BUDGET.try_with(Cell::get).ok();
        let bound = match (self.limit, left) {
            (Some(limit), Some(left)) => Some(limit.min(left)),
            (limit, left) => limit.or(left),
        };
        bound.map(|bound| Instant::now() + bound)
    }

    /// A transaction started with `begin` (e.g. `BEGIN IMMEDIATE`), which must reach its
    /// COMMIT within the limit. On SQLite it waits its turn among the writers.
    pub async fn begin_with(&self, begin: Option<&'static str>) -> Result<Tx, sqlx::Error> {
        let deadline = self.deadline();
        crate::ops::metrics::database_round_trip();
        let on = match &self.sqlite {
            Some(sqlite) => {
                let started = async {
                    let mut turn = sqlite.turn().await?;
                    turn.run_when_free(begin.unwrap_or("BEGIN"), None).await?;
                    Ok(turn)
                };
                TxOn::Sqlite(within(deadline, started).await?)
            }
            None => {
                let started = self.with_credentials(|| async {
                    match begin {
                        Some(statement) => self.pool.begin_with(statement).await,
                        None => self.pool.begin().await,
                    }
                });
                TxOn::Server(within(deadline, started).await?)
            }
        };
        Ok(Tx(TxConn { on, deadline }))
    }
}

/// Whether a statement changes the database (the shop's own SQL: one statement each).
fn writes(sql: &str) -> bool {
    let verb = sql
        .trim_start()
        .split_ascii_whitespace()
        .next()
        .unwrap_or("");
    ["INSERT", "UPDATE", "DELETE", "REPLACE"]
        .iter()
        .any(|w| verb.eq_ignore_ascii_case(w))
}

/// A pool's connections at one moment.
#[derive(Debug, Clone, Copy)]
pub struct PoolUse {
    pub open: u32,
    pub idle: usize,
    pub size: u32,
}

/// A transaction with a deadline: every statement in it, and its commit, fail once it has
/// passed. Statements run on `&mut *tx`, as on a plain sqlx transaction.
pub struct Tx(TxConn);

/// The connection of a [`Tx`], on which its statements run.
pub struct TxConn {
    on: TxOn,
    deadline: Option<Instant>,
}

enum TxOn {
    Server(sqlx::Transaction<'static, Any>),
    /// The writers' turn, held until the transaction ends.
    Sqlite(WriterTurn),
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.end(true).await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.end(false).await
    }

    /// Commits (or rolls back) the transaction within its deadline.
    async fn end(self, commit: bool) -> Result<(), sqlx::Error> {
        crate::ops::metrics::database_round_trip();
        let TxConn { on, deadline } = self.0;
        match on {
            TxOn::Server(tx) if commit => within(deadline, tx.commit()).await,
            TxOn::Server(tx) => within(deadline, tx.rollback()).await,
            TxOn::Sqlite(mut turn) => {
                let end = if commit { "COMMIT" } else { "ROLLBACK" };
                turn.run(end, None).map(drop)
            }
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = TxConn;

    fn deref(&self) -> &TxConn {
        &self.0
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut TxConn {
        &mut self.0
    }
}

impl fmt::Debug for TxConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxConn")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

tokio::task_local! {
    /// What is left of the current request's database time (see
    /// [`BoundedPool::within_budget`]); absent outside requests.
    static BUDGET: Cell<Duration>;
}

/// Takes `spent` off the current request's budget, if there is one.
fn spend(spent: Duration) {
    let _ = BUDGET.try_with(|left| left.set(left.get().saturating_sub(spent)));
}

/// The error of a call past its bound: the database counts as not answering.
fn timed_out() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the database call took longer than DATABASE_CALL_TIMEOUT_MS",
    ))
}

async fn within<T>(
    deadline: Option<Instant>,
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    let started = Instant::now();
    let result = match deadline {
        None => call.await,
        Some(deadline) => tokio::time::timeout_at(deadline, call)
            .await
            .unwrap_or_else(|_| Err(timed_out())),
    };
    spend(started.elapsed());
    super::liveness::note(&result);
    result
}

/// `stream`, ended with the timeout error once `deadline` has passed.
fn stream_within<'e, T: Send + 'e>(
    deadline: Option<Instant>,
    stream: BoxStream<'e, Result<T, sqlx::Error>>,
) -> BoxStream<'e, Result<T, sqlx::Error>> {
    let Some(deadline) = deadline else {
        return stream.inspect(super::liveness::note).boxed();
    };
    futures::stream::unfold(Some(stream), move |stream| async move {
        let mut stream = stream?;
        let started = Instant::now();
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        spend(started.elapsed());
        if let Ok(Some(step)) = &next {
            super::liveness::note(step);
        }
        match next {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((Err(timed_out()), None)),
        }
    })
    .boxed()
}

/// What a statement gives, step by step: its rows, then its count of changed rows.
pub(super) type Step = Either<AnyQueryResult, AnyRow>;

/// Runs a statement on SQLite: a write in the writers' turn, a read on a read connection
/// (off the runtime's workers if it may take long).
async fn on_sqlite(
    sqlite: &SqliteLocal,
    query: Peeked,
    long_read: bool,
) -> Result<Vec<Step>, sqlx::Error> {
    let (sql, arguments) = query.into_parts()?;
    let sql = sql.as_str();
    if writes(sql) {
        sqlite
            .turn()
            .await?
            .run_when_free(sql, arguments.as_ref())
            .await
    } else if long_read {
        beside_the_workers(|| sqlite.read(sql, arguments.as_ref()))
    } else {
        sqlite.read(sql, arguments.as_ref())
    }
}

/// Runs `work`, which may take long, while this worker's other tasks go on on another
/// thread (on a single-threaded runtime there is no other: they wait).
fn beside_the_workers<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|runtime| runtime.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// The steps of a statement run at once, as the stream sqlx's executors give.
fn gathered<'e>(steps: Result<Vec<Step>, sqlx::Error>) -> BoxStream<'e, Result<Step, sqlx::Error>> {
    match steps {
        Ok(steps) => futures::stream::iter(steps.into_iter().map(Ok)).boxed(),
        Err(error) => futures::stream::iter([Err(error)]).boxed(),
    }
}

/// The first row of a statement run at once.
fn first_row(steps: Result<Vec<Step>, sqlx::Error>) -> Result<Option<AnyRow>, sqlx::Error> {
    Ok(steps?.into_iter().find_map(Either::right))
}

/// A statement taken apart so that its SQL can be read before it runs (sqlx's `sql()`
/// consumes it), then run as it was.
struct Peeked {
    sql: SqlStr,
    arguments: Option<Result<Option<AnyArguments>, BoxDynError>>,
    persistent: bool,
}

impl Peeked {
    /// Its SQL and its bound values, for a driver of our own (SQLite's, on this thread).
    fn into_parts(mut self) -> Result<(SqlStr, Option<AnyArguments>), sqlx::Error> {
        let arguments = self.take_arguments().map_err(sqlx::Error::Encode)?;
        Ok((self.sql, arguments))
    }

    fn of<'q>(mut query: impl Execute<'q, Any>) -> Self {
        let arguments = Some(query.take_arguments());
        let persistent = query.persistent();
        Self {
            sql: query.sql(),
            arguments,
            persistent,
        }
    }
}

impl Execute<'_, Any> for Peeked {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&AnyStatement> {
        None
    }

    fn take_arguments(&mut self) -> Result<Option<AnyArguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// Implements `Executor` for `$target`: each method binds the executor to `$this` and its
/// arguments to the names given, then evaluates the body given for it.
macro_rules! bounded_executor {
    ($l:lifetime, $target:ty, |$this:ident| {
        fetch_many($query:ident) => $fetch_many:expr,
        fetch_optional($query2:ident) => $fetch_optional:expr,
        prepare_with($sql:ident, $parameters:ident) => $prepare_with:expr,
        describe($sql2:ident) => $describe:expr $(,)?
    }) => {
        impl<$l> Executor<$l> for $target {
            type Database = Any;

            fn fetch_many<'e, 'q: 'e, E>(
                self,
                $query: E,
            ) -> BoxStream<'e, Result<Step, sqlx::Error>>
            where
                $l: 'e,
                E: 'q + Execute<'q, Any>,
            {
                let $this = self;
                crate::ops::metrics::database_round_trip();
                $fetch_many
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                $query2: E,
            ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
            where
                $l: 'e,
                E: 'q + Execute<'q, Any>,
            {
                let $this = self;
                crate::ops::metrics::database_round_trip();
                Box::pin($fetch_optional)
            }

            fn prepare_with<'e>(
                self,
                $sql: SqlStr,
                $parameters: &'e [AnyTypeInfo],
            ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
            where
                $l: 'e,
            {
                let $this = self;
                Box::pin($prepare_with)
            }

            fn describe<'e>(
                self,
                $sql2: SqlStr,
            ) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
            where
                $l: 'e,
            {
                let $this = self;
                Box::pin($describe)
            }
        }
    };
}

// The statements run on the pool, each within the limit from the moment it is sent, on a
// connection whose credentials the server accepted; on SQLite the writes after their turn.
bounded_executor!('p, &'p BoundedPool, |pool| {
    fetch_many(query) => pool.fetch_many_bounded(query),
    fetch_optional(query) => pool.fetch_optional_bounded(query),
    prepare_with(sql, parameters) => within(pool.deadline(), async move {
        pool.acquire().await?.prepare_with(sql, parameters).await
    }),
    describe(sql) => within(pool.deadline(), async move {
        pool.acquire().await?.describe(sql).await
    }),
});

impl BoundedPool {
    fn fetch_many_bounded<'e, 'q: 'e, E>(
        &'e self,
        query: E,
    ) -> BoxStream<'e, Result<Step, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        let deadline = self.deadline();
        if let Some(sqlite) = &self.sqlite {
            let query = Peeked::of(query);
            return futures::stream::once(within(
                deadline,
                on_sqlite(sqlite, query, self.long_reads),
            ))
            .flat_map(gathered)
            .boxed();
        }
        if self.credentials.is_none() {
            return stream_within(deadline, self.pool.fetch_many(query));
        }
        // The connection must outlive the stream of its results: they are gathered first.
        let gathered = async move {
            let mut conn = self.acquire().await?;
            Ok::<_, sqlx::Error>(conn.fetch_many(query).collect::<Vec<_>>().await)
        };
        let steps = futures::stream::once(gathered).flat_map(|gathered| match gathered {
            Ok(steps) => futures::stream::iter(steps).left_stream(),
            Err(error) => futures::stream::iter([Err(error)]).right_stream(),
        });
        stream_within(deadline, steps.boxed())
    }

    fn fetch_optional_bounded<'e, 'q: 'e, E>(
        &'e self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        let deadline = self.deadline();
        if let Some(sqlite) = &self.sqlite {
            let query = Peeked::of(query);
            return Box::pin(async move {
                first_row(within(deadline, on_sqlite(sqlite, query, self.long_reads)).await)
            });
        }
        if self.credentials.is_none() {
            return Box::pin(within(deadline, self.pool.fetch_optional(query)));
        }
        Box::pin(within(deadline, async move {
            self.acquire().await?.fetch_optional(query).await
        }))
    }
}

// The statements of a transaction, each within the transaction's deadline (a transaction
// begun for writing already has its turn).
bounded_executor!('c, &'c mut TxConn, |conn| {
    fetch_many(query) => match &mut conn.on {
        TxOn::Server(tx) => stream_within(conn.deadline, tx.fetch_many(query)),
        TxOn::Sqlite(turn) => gathered(turn.run_peeked(Peeked::of(query))),
    },
    fetch_optional(query) => async move {
        match &mut conn.on {
            TxOn::Server(tx) => within(conn.deadline, tx.fetch_optional(query)).await,
            TxOn::Sqlite(turn) => first_row(turn.run_peeked(Peeked::of(query))),
        }
    },
    prepare_with(sql, parameters) => async move {
        match &mut conn.on {
            TxOn::Server(tx) => within(conn.deadline, tx.prepare_with(sql, parameters)).await,
            TxOn::Sqlite(_) => Err(prepared_statements_unsupported()),
        }
    },
    describe(sql) => async move {
        match &mut conn.on {
            TxOn::Server(tx) => within(conn.deadline, tx.describe(sql)).await,
            TxOn::Sqlite(_) => Err(prepared_statements_unsupported()),
        }
    },
});

impl WriterTurn {
    /// Runs a statement of this turn's transaction.
    fn run_peeked(&mut self, query: Peeked) -> Result<Vec<Step>, sqlx::Error> {
        let (sql, arguments) = query.into_parts()?;
        self.run(sql.as_str(), arguments.as_ref())
    }
}

/// The shop runs its statements directly; it never prepares one apart on SQLite.
fn prepared_statements_unsupported() -> sqlx::Error {
    sqlx::Error::AnyDriverError("statements are not prepared apart on SQLite".into())
}
