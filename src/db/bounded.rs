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

use std::cell::Cell;
use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyConnection, AnyPool, Describe, Either, Execute, Executor, SqlStr};
use tokio::time::Instant;

/// The pool, whose every statement (waiting for a connection included) ends within `limit`.
#[derive(Debug, Clone)]
pub struct BoundedPool {
    pool: AnyPool,
    /// None: no bound.
    limit: Option<Duration>,
}

impl BoundedPool {
    /// A zero `limit` means no bound.
    pub fn new(pool: AnyPool, limit: Duration) -> Self {
        Self {
            pool,
            limit: (!limit.is_zero()).then_some(limit),
        }
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
    /// COMMIT within the limit.
    pub async fn begin_with(&self, begin: Option<&'static str>) -> Result<Tx, sqlx::Error> {
        let deadline = self.deadline();
        let started = async {
            match begin {
                Some(statement) => self.pool.begin_with(statement).await,
                None => self.pool.begin().await,
            }
        };
        crate::ops::metrics::database_round_trip();
        let tx = within(deadline, started).await?;
        Ok(Tx(TxConn { tx, deadline }))
    }
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
    result
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
        let started = Instant::now();
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        spend(started.elapsed());
        match next {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((Err(timed_out()), None)),
        }
    })
    .boxed()
}

type Step = Either<AnyQueryResult, AnyRow>;

/// Implements `Executor` for `$target` by running each statement on `$inner` within
/// `$deadline` (both read from `$this`, the executor).
macro_rules! bounded_executor {
    ($l:lifetime, $target:ty, |$this:ident| $deadline:expr, $inner:expr) => {
        impl<$l> Executor<$l> for $target {
            type Database = Any;

            fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Step, sqlx::Error>>
            where
                $l: 'e,
                E: 'q + Execute<'q, Any>,
            {
                let $this = self;
                crate::ops::metrics::database_round_trip();
                stream_within($deadline, $inner.fetch_many(query))
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
            where
                $l: 'e,
                E: 'q + Execute<'q, Any>,
            {
                let $this = self;
                crate::ops::metrics::database_round_trip();
                Box::pin(within($deadline, $inner.fetch_optional(query)))
            }

            fn prepare_with<'e>(
                self,
                sql: SqlStr,
                parameters: &'e [AnyTypeInfo],
            ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
            where
                $l: 'e,
            {
                let $this = self;
                Box::pin(within($deadline, $inner.prepare_with(sql, parameters)))
            }

            fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
            where
                $l: 'e,
            {
                let $this = self;
                Box::pin(within($deadline, $inner.describe(sql)))
            }
        }
    };
}

// The statements run on the pool, each within the limit from the moment it is sent.
bounded_executor!('p, &'p BoundedPool, |pool| pool.deadline(), &pool.pool);

// The statements of a transaction, each within the transaction's deadline.
bounded_executor!('c, &'c mut TxConn, |conn| conn.deadline, {
    let connection: &'c mut AnyConnection = &mut conn.tx;
    connection
});
