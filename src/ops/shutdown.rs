//! Graceful drain: on SIGTERM or Ctrl-C the health checks turn 503 at once, so the load
//! balancer stops sending new work; after the drain timeout the server stops accepting
//! connections, lets requests in flight finish, and the process exits 0.

use std::sync::Arc;
use std::time::Duration;

use super::lifecycle::Lifecycle;

pub async fn drain_on_signal(lifecycle: Arc<Lifecycle>, drain_timeout: Duration) {
    wait_for_signal().await;
    tracing::info!(?drain_timeout, "signal received: draining");
    lifecycle.start_draining();
    tokio::time::sleep(drain_timeout).await;
    tracing::info!("drain finished: closing");
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
