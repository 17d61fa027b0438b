//! Serving: the router on a listener, until a shutdown signal, then a bounded drain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::routes::router;
use crate::service::Service;

/// How long in-flight requests may run after a shutdown signal before the process stops.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// Serves `service` on `listener` until `shutdown` completes; then stops accepting, lets
/// requests in flight finish for up to `deadline`, and returns.
pub async fn serve(
    listener: TcpListener,
    service: Service,
    shutdown: impl Future<Output = ()> + Send,
    deadline: Duration,
) -> std::io::Result<()> {
    let stop = Arc::new(Notify::new());
    let stopped = Arc::clone(&stop);
    let server = axum::serve(listener, router(service))
        .with_graceful_shutdown(async move { stopped.notified().await });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        done = &mut server => return done,
        () = shutdown => {}
    }
    tracing::info!(
        deadline_seconds = deadline.as_secs(),
        "shutting down: draining requests"
    );
    stop.notify_one();
    match tokio::time::timeout(deadline, server).await {
        Ok(done) => done,
        Err(_) => {
            tracing::warn!("requests still running at the drain deadline were cut off");
            Ok(())
        }
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
