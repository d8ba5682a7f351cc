//! One connection: hyper serves it while a watchdog applies the header-read and keep-alive
//! timers.
//!
//! The watchdog knows where the connection is from two sources: the socket wrapper
//! ([`Watched`]) sees bytes arrive, and the service sees a request start and its response
//! body end ([`InFlight`]). With that, three states:
//!
//! - a request in flight (from its parsed head to the last byte of its response): no timer,
//!   however slow the upload, the handler or the download (the request timeout and the
//!   client bound those);
//! - HTTP/1 bytes of a new request head arrived: the head must be complete within the header
//!   timeout, or the connection is dropped;
//! - nothing in flight and nothing arriving: after the keep-alive time hyper is asked to close
//!   gracefully (an HTTP/2 client gets a GOAWAY).
//!
//! HTTP/2 connections carry control frames at any time, so their bytes never start the header
//! timer once their first request has come.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Version};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use super::Timers;
use crate::ops::metrics;

/// A connection counted against the cap and in the open-connections gauge while it lives.
pub(super) struct Open {
    _slot: OwnedSemaphorePermit,
}

impl Open {
    pub(super) fn new(slot: OwnedSemaphorePermit) -> Self {
        metrics::connection_opened();
        Self { _slot: slot }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::connection_closed();
    }
}

/// Serves one connection until it closes, the client goes quiet, or shutdown has closed it.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    timers: Timers,
    mut closing: watch::Receiver<bool>,
    _open: Open,
) {
    // Small responses go out at once instead of waiting for more to send.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |mut request: Request<Incoming>| {
            let in_flight = activity.request_started(request.version());
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = router.clone().oneshot(request);
            async move {
                let response = response.await?;
                Ok::<_, Infallible>(response.map(|body| UntilSent {
                    body,
                    _in_flight: in_flight,
                }))
            }
        }
    });
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);

    let mut asked_to_close = false;
    loop {
        let deadline = activity.deadline(timers, asked_to_close);
        tokio::select! {
            finished = connection.as_mut() => {
                if let Err(error) = finished {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            _ = closing.wait_for(|closing| *closing), if !asked_to_close => {
                asked_to_close = true;
                connection.as_mut().graceful_shutdown();
            }
            () = activity.changed.notified() => {}
            () = sleep_until(deadline), if deadline.is_some() => match deadline {
                Some(Deadline::HeaderRead(_)) => {
                    metrics::connection_timed_out("header_read");
                    tracing::debug!(%peer, "request headers too slow: connection dropped");
                    return;
                }
                Some(Deadline::KeepAlive(_)) => {
                    metrics::connection_timed_out("keep_alive");
                    asked_to_close = true;
                    connection.as_mut().graceful_shutdown();
                }
                None => {}
            },
        }
    }
}

async fn sleep_until(deadline: Option<Deadline>) {
    match deadline {
        Some(Deadline::HeaderRead(at) | Deadline::KeepAlive(at)) => {
            tokio::time::sleep_until(at).await;
        }
        None => std::future::pending().await,
    }
}

/// The next timer to fire on a connection.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    HeaderRead(Instant),
    KeepAlive(Instant),
}

/// Where a connection is, shared by its socket, its requests and its watchdog.
struct Activity {
    state: Mutex<State>,
    /// Wakes the watchdog when the state changes, so it recomputes its deadline.
    changed: Notify,
}

struct State {
    /// Requests whose response has not been sent whole yet (several at once on HTTP/2).
    in_flight: usize,
    /// When the last request in flight ended, or the connection opened.
    idle_since: Instant,
    /// When the first byte of an incomplete HTTP/1 request head arrived.
    head_started: Option<Instant>,
    http2: bool,
}

impl Activity {
    fn new() -> Self {
        Self {
            state: Mutex::new(State {
                in_flight: 0,
                idle_since: Instant::now(),
                head_started: None,
                http2: false,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived on the socket.
    fn received(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && !state.http2 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A request head was parsed: the connection is busy until the guard is dropped.
    fn request_started(self: &Arc<Self>, version: Version) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.head_started = None;
        state.http2 |= version == Version::HTTP_2;
        drop(state);
        self.changed.notify_one();
        InFlight(self.clone())
    }

    fn request_finished(&self) {
        let mut state = self.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
        drop(state);
        self.changed.notify_one();
    }

    /// The timer that applies now. Once the connection was asked to close, only a head
    /// that is too slow still cuts it.
    fn deadline(&self, timers: Timers, asked_to_close: bool) -> Option<Deadline> {
        let state = self.state();
        if state.in_flight > 0 {
            None
        } else if let Some(started) = state.head_started {
            Some(Deadline::HeaderRead(started + timers.header_read))
        } else if asked_to_close {
            None
        } else {
            Some(Deadline::KeepAlive(state.idle_since + timers.keep_alive))
        }
    }
}

/// Held from a request's parsed head until its response body is sent whole and dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that keeps its request in flight until hyper has sent and dropped it.
struct UntilSent {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for UntilSent {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The TCP stream, telling the connection's [`Activity`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.received();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
