//! The shutdown signal a server process usually wants: SIGINT or SIGTERM.

use std::future::Future;

/// Completes when the process is asked to stop: on SIGINT (Ctrl-C) or SIGTERM
/// (what Kubernetes, systemd and `docker stop` send) on Unix, on Ctrl-C
/// elsewhere. Pass it to
/// [`with_graceful_shutdown`](crate::Serve::with_graceful_shutdown) and
/// either signal starts the graceful shutdown: health turns `NOT_SERVING`,
/// every connection gets a GOAWAY, calls in flight finish up to the drain
/// deadline, and then the server returns, so the process exits 0.
///
/// The handlers are installed when this is called, not when the future is
/// first polled: a signal that arrives in between (say, while the process
/// prints its address) is not lost, and does not kill the process. Once
/// installed they stay for the life of the process (Tokio never removes
/// them), so a second signal during the drain does not kill it either; the
/// drain deadline bounds how long it takes. A handler that cannot be
/// installed is logged (`tracing` warning) and that signal never completes
/// the future.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = aqueduct::MemoryListener::bind("shutdown-signal-doc")?;
/// let stop = aqueduct::shutdown_signal();
/// let server = tokio::spawn(
///     aqueduct::Server::builder()
///         // .add_service(GreeterServiceServer::new(MyGreeter))
///         .serve(listener).with_graceful_shutdown(stop),
/// );
/// // What `kill PID` (or `docker stop`) does:
/// std::process::Command::new("kill")
///     .args(["-TERM", &std::process::id().to_string()])
///     .status()?;
/// server.await??; // drained and returned: the process can exit 0
/// # Ok(())
/// # }
/// ```
///
/// # Panics
///
/// When called outside a Tokio runtime with its I/O driver enabled (as
/// `#[tokio::main]` and `Builder::enable_all` have it).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            tokio::select! {
                () = received(interrupt, "SIGINT") => {}
                () = received(terminate, "SIGTERM") => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::warn!(%error, "cannot listen for Ctrl-C; no shutdown signal");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Waits for one delivery of `signal`; never completes if it could not be
/// installed.
#[cfg(unix)]
async fn received(signal: std::io::Result<tokio::signal::unix::Signal>, name: &str) {
    match signal {
        Ok(mut signal) => {
            // `None` only once the runtime is shutting down, when nothing
            // polls this any more.
            let _ = signal.recv().await;
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for {name}; it will not stop the server");
            std::future::pending::<()>().await;
        }
    }
}
