//! Database calls bounded in time on this side of the wire.
//!
//! The servers' own statement timeouts (PostgreSQL's `statement_timeout`, MariaDB's
//! `max_statement_time`) count only the time a statement runs on the server: over a slow or
//! lossy link a call can take far longer while the server sees nothing wrong. So every call
//! is also bounded here: a statement on the pool (waiting for a connection included), and a
//! whole transaction, from its BEGIN to its COMMIT. A call past its bound fails as a
//! connection failure would, and the request answers 503 at once instead of queueing.
//!
//! With credentials read by command ([`super::credentials`]), a statement first gets a
//! connection the server accepted: when a new connection's credentials are refused, they
//! are read again and the connection tried once more, within the same bound.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Describe, Either, Execute, Executor, SqlStr};
use tokio::time::Instant;

use super::credentials::{CredentialSource, is_refused_credentials};

/// The pool, whose every statement (waiting for a connection included) ends within `limit`.
#[derive(Debug, Clone)]
pub struct BoundedPool {
    pool: AnyPool,
    /// None: no bound.
    limit: Option<Duration>,
    /// None: the credentials are those of the database URL.
    credentials: Option<Arc<CredentialSource>>,
}

impl BoundedPool {
    /// A zero `limit` means no bound.
    pub fn new(pool: AnyPool, limit: Duration, credentials: Option<CredentialSource>) -> Self {
        Self {
            pool,
            limit: (!limit.is_zero()).then_some(limit),
            credentials: credentials.map(Arc::new),
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

    fn deadline(&self) -> Option<Instant> {
        self.limit.map(|limit| Instant::now() + limit)
    }

    /// A transaction started with `begin` (e.g. `BEGIN IMMEDIATE`), which must reach its
    /// COMMIT within the limit.
    pub async fn begin_with(&self, begin: Option<&'static str>) -> Result<Tx, sqlx::Error> {
        let deadline = self.deadline();
        let started = self.with_credentials(|| async {
            match begin {
                Some(statement) => self.pool.begin_with(statement).await,
                None => self.pool.begin().await,
            }
        });
        crate::ops::metrics::database_round_trip();
        let tx = within(deadline, started).await?;
        Ok(Tx(TxConn { tx, deadline }))
    }
}

/// A transaction with a deadline: every statement in it, and its commit, fail once it has
/// passed. Statements run on `&mut *tx`, as on a plain sqlx transaction.
pub struct Tx(TxConn);

/// The connection of a [`Tx`], on which its statements run.
pub struct TxConn {
    tx: sqlx::Transaction<'static, Any>,
    deadline: Option<Instant>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let TxConn { tx, deadline } = self.0;
        crate::ops::metrics::database_round_trip();
        within(deadline, tx.commit()).await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        let TxConn { tx, deadline } = self.0;
        crate::ops::metrics::database_round_trip();
        within(deadline, tx.rollback()).await
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
    match deadline {
        None => call.await,
        Some(deadline) => tokio::time::timeout_at(deadline, call)
            .await
            .unwrap_or_else(|_| Err(timed_out())),
    }
}

/// `stream`, ended with the timeout error once `deadline` has passed.
fn stream_within<'e, T: Send + 'e>(
    deadline: Option<Instant>,
    stream: BoxStream<'e, Result<T, sqlx::Error>>,
) -> BoxStream<'e, Result<T, sqlx::Error>> {
    let Some(deadline) = deadline else {
        return stream;
    };
    futures::stream::unfold(Some(stream), move |stream| async move {
        let mut stream = stream?;
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((Err(timed_out()), None)),
        }
    })
    .boxed()
}

type Step = Either<AnyQueryResult, AnyRow>;

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
// connection whose credentials the server accepted.
bounded_executor!('p, &'p BoundedPool, |pool| {
    fetch_many(query) => pool.fetch_many_bounded(query),
    fetch_optional(query) => within(pool.deadline(), async move {
        pool.acquire().await?.fetch_optional(query).await
    }),
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
}

// The statements of a transaction, each within the transaction's deadline.
bounded_executor!('c, &'c mut TxConn, |conn| {
    fetch_many(query) => stream_within(conn.deadline, conn.tx.fetch_many(query)),
    fetch_optional(query) => within(conn.deadline, conn.tx.fetch_optional(query)),
    prepare_with(sql, parameters) => within(conn.deadline, conn.tx.prepare_with(sql, parameters)),
    describe(sql) => within(conn.deadline, conn.tx.describe(sql)),
});
