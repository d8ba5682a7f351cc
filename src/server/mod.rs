//! The HTTP server loop: accepts TCP connections and serves the router on each (HTTP/1.1,
//! and HTTP/2 without TLS), with the limits that axum's own `serve` has no settings for.
//!
//! - A client has `HEADER_READ_TIMEOUT_SECS` to send a request's headers, counted from their
//!   first byte: a client dribbling its headers cannot hold a connection.
//! - A connection with no request in flight is closed after `KEEP_ALIVE_TIMEOUT_SECS`. That
//!   is longer than the load balancer's idle timeout, so the load balancer is always the side
//!   that gives up an idle connection and never sends a request on one the app has just
//!   closed (the client would get a 502).
//! - At most `MAX_CONNECTIONS` are served at once. The next ones are accepted, answered
//!   `503 Service Unavailable` with `Retry-After` and `Connection: close`, and closed. The
//!   client, or the load balancer's health check, learns at once that this instance is full;
//!   leaving them in the kernel's backlog instead would make them wait unseen, where none of
//!   our timers and metrics reach.
//!
//! Why not hyper's own `header_read_timeout`: hyper 1 starts that timer whenever it waits for
//! a request head, also while a kept-alive connection waits for its next request with nothing
//! received yet (`poll_read_head` in hyper's `proto/h1/conn.rs`). It would close idle
//! connections after the header timeout, well before the load balancer's idle timeout. Each
//! connection's watchdog ([`connection`]) keeps the two timers apart.
//!
//! Shutdown: when the shutdown future completes the loop stops accepting, asks every
//! connection to close once the requests in flight on it are answered (idle ones close at
//! once), and returns when all are closed.

mod connection;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

pub use crate::config::ConnectionSettings;
use crate::ops::metrics;

/// The two per-connection timers, from the settings.
#[derive(Debug, Clone, Copy)]
struct Timers {
    header_read: Duration,
    keep_alive: Duration,
}

/// After an accept error that is not the client's doing (typically out of file descriptors),
/// wait this long before accepting again instead of failing in a tight loop.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(250);

/// While the cap refuses connections, say so in the log at most this often (the metric
/// counts each one).
const CAP_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in
/// flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) {
    let timers = Timers {
        header_read: Duration::from_secs(settings.header_read_timeout_secs),
        keep_alive: Duration::from_secs(settings.keep_alive_timeout_secs),
    };
    let cap = settings.max_connections as usize;
    let slots = Arc::new(Semaphore::new(cap));
    // Refused connections linger a little (see `refuse`); beyond as many again, they are
    // closed at once.
    let refusals = Arc::new(Semaphore::new(cap));
    let refusal = Arc::new(refusal_response());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Off: the watchdog times header reads instead (see the module documentation).
    builder.http1().header_read_timeout(None);
    let builder = Arc::new(builder);
    let (closing, closing_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut last_cap_warning: Option<Instant> = None;
    metrics::connections_described();

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(finished) = connections.join_next(), if !connections.is_empty() => {
                if let Err(error) = finished {
                    tracing::error!(%error, "a connection task failed");
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        connections.spawn(connection::serve(
                            stream,
                            peer,
                            router.clone(),
                            builder.clone(),
                            timers,
                            closing_seen.clone(),
                            connection::Open::new(slot),
                        ));
                    }
                    Err(_) => {
                        metrics::connection_refused();
                        if last_cap_warning.is_none_or(|at| at.elapsed() >= CAP_WARNING_EVERY) {
                            last_cap_warning = Some(Instant::now());
                            tracing::warn!(
                                max_connections = cap,
                                "connection cap reached: new connections are answered 503"
                            );
                        }
                        if let Ok(permit) = refusals.clone().try_acquire_owned() {
                            let refusal = refusal.clone();
                            tokio::spawn(async move {
                                refuse(stream, &refusal, timers.header_read).await;
                                drop(permit);
                            });
                        }
                    }
                },
                Err(error) => pause_after_accept_error(error).await,
            },
        }
    }

    drop(listener);
    tracing::info!(
        open = connections.len(),
        "stopped accepting; closing connections once their requests are answered"
    );
    let _ = closing.send(true);
    while let Some(finished) = connections.join_next().await {
        if let Err(error) = finished {
            tracing::error!(%error, "a connection task failed");
        }
    }
}

/// The whole answer to a connection beyond the cap, the same whatever it asked.
fn refusal_response() -> Vec<u8> {
    let body = "This server has too many connections open; please try again in a moment.\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection beyond the cap without parsing anything, then waits (at most
/// `linger`) for the client to close: closing a socket with unread data sends a reset, which
/// can destroy the answer before the client has read it.
async fn refuse(mut stream: TcpStream, response: &[u8], linger: Duration) {
    let mut discarded = [0u8; 1024];
    let _ = tokio::time::timeout(linger, async {
        stream.write_all(response).await?;
        stream.shutdown().await?;
        while stream.read(&mut discarded).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}

/// Accept errors that are the client's doing (it gave up) are passed over; others, such as
/// running out of file descriptors, are logged and followed by a pause so the loop does not
/// spin while they last.
async fn pause_after_accept_error(error: io::Error) {
    metrics::accept_failed();
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, pause = ?ACCEPT_ERROR_PAUSE, "cannot accept connections");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}
