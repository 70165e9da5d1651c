//! One server connection, whatever its carrier: the TLS handshake (when the
//! server has TLS) and the HTTP/2 handshake under one deadline, then the one
//! connection loop every carrier runs (the handler cap, graceful shutdown).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;

use super::call::{self, CallLimits};
use super::router::Router;
use super::{Running, RunningGuard, ServerConfig};
use crate::carrier::{self, ServerConnection};
use crate::request::Peer;

/// Where the server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Serving,
    /// Shutdown started: send GOAWAY, let calls finish.
    Draining,
    /// The drain deadline passed: cancel calls, close now.
    Stopped,
}

pub(crate) struct Shared {
    pub(crate) router: Arc<Router>,
    pub(crate) config: ServerConfig,
    /// Run when graceful shutdown starts (the health service turns
    /// `NOT_SERVING`).
    pub(crate) on_shutdown: Vec<Arc<dyn Fn() + Send + Sync>>,
    /// TLS for every connection, when set.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::ServerTls>,
}

/// Serves one connection of bytes (TCP, Unix, memory pipe, a user's).
pub(crate) async fn serve_connection<IO>(
    io: IO,
    remote: Option<SocketAddr>,
    shared: Arc<Shared>,
    phase: watch::Receiver<Phase>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // One deadline for the TLS and HTTP/2 handshakes together: a client
    // cannot stretch the time it holds a connection by dribbling both.
    let deadline = Instant::now() + shared.config.handshake_timeout;
    #[cfg(feature = "tls")]
    if let Some(tls) = shared.tls.clone() {
        // Boxed: a TLS connection's state (rustls's, inline in the stream)
        // would otherwise size every connection's task, plaintext ones too.
        return Box::pin(serve_tls(io, remote, tls, deadline, shared, phase)).await;
    }
    serve_http2(io, Peer::plaintext(remote), deadline, shared, phase).await;
}

/// The TLS handshake under the connection's deadline, then HTTP/2 over it.
#[cfg(feature = "tls")]
async fn serve_tls<IO>(
    io: IO,
    remote: Option<SocketAddr>,
    tls: crate::tls::ServerTls,
    deadline: Instant,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handshake = tokio::time::timeout_at(deadline, tls.accept(io));
    let (stream, info) = tokio::select! {
        result = handshake => match result {
            Ok(Ok(accepted)) => accepted,
            Ok(Err(crate::tls::Refused { why, policy: true })) => {
                tracing::info!(peer = ?remote, "TLS connection {why}");
                return;
            }
            Ok(Err(crate::tls::Refused { why, .. })) => {
                tracing::debug!(peer = ?remote, "{why}; closing the connection");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = ?remote, "TLS handshake timed out; closing the connection");
                return;
            }
        },
        _ = phase.wait_for(|p| *p == Phase::Stopped) => return,
    };
    let peer = Peer {
        addr: remote,
        tls: Some(info),
    };
    serve_http2(stream, peer, deadline, shared, phase).await;
}

/// The HTTP/2 handshake under the connection's deadline, then its calls.
async fn serve_http2<IO>(
    io: IO,
    peer: Peer,
    deadline: Instant,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handshake = tokio::time::timeout_at(deadline, ServerConnection::http2(io, &shared.config));
    let conn = tokio::select! {
        result = handshake => match result {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "HTTP/2 handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("HTTP/2 handshake timed out; closing the connection");
                return;
            }
        },
        // Draining does not end a handshake: the client may have sent its
        // request already, and a connection closed without a GOAWAY fails it
        // (UNAVAILABLE). Once the handshake is done the loop sends the
        // GOAWAY; the handshake timeout and the drain deadline bound the wait.
        _ = phase.wait_for(|p| *p == Phase::Stopped) => return,
    };
    serve_calls(conn, peer, shared, phase).await;
}

/// Serves one client's direct connection.
pub(crate) async fn serve_direct(
    conn: carrier::direct::DirectConnection,
    shared: Arc<Shared>,
    phase: watch::Receiver<Phase>,
) {
    let conn = ServerConnection::direct(conn, shared.config.max_concurrent_streams as usize);
    serve_calls(conn, Peer::default(), shared, phase).await;
}

/// The connection loop, the same for every carrier: takes calls while fewer
/// than the cap's handlers run, and spawns each; on shutdown, drains (GOAWAY),
/// then past the drain deadline stops what still runs.
async fn serve_calls<IO>(
    mut conn: ServerConnection<IO>,
    peer: Peer,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = &shared.config;
    let limits = CallLimits {
        max_recv: config.max_recv_message_size,
        max_send: config.max_send_message_size,
    };
    let max_running = config.max_concurrent_streams as usize;
    let running = Arc::new(Running::default());
    let mut draining = false;
    loop {
        if !draining && *phase.borrow() != Phase::Serving {
            conn.drain();
            draining = true;
        }
        if *phase.borrow() == Phase::Stopped {
            conn.stop().await;
            return;
        }
        // At the cap, stop accepting but keep driving the connection: new calls
        // wait in the carrier's queue (h2's accept queue, bounded by the
        // MAX_CONCURRENT_STREAMS we advertise) until a handler ends. Refusing
        // them instead would fail a well-behaved client that opens a stream the
        // moment it sees the previous one's trailers, before that handler's
        // task has ended.
        let at_cap = running.count() >= max_running;
        let next = std::future::poll_fn(|cx| conn.poll_next(cx, !at_cap));
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            next = next => match next {
                Some(Ok(incoming)) => {
                    let Some(guard) = RunningGuard::try_new(&running, max_running) else {
                        incoming.refuse();
                        continue;
                    };
                    // A plain spawn: when the connection goes away, the carrier
                    // wakes each call's reset watch, and the call guard drops its
                    // handler.
                    let (request, respond) = incoming.into_call();
                    match call::start_call(request, respond, &shared.router, limits, peer.clone(), guard) {
                        Some((call, None)) => {
                            tokio::spawn(call);
                        }
                        // The method's handlers run on a pool of their own.
                        Some((call, Some(slot))) => slot.spawn(call),
                        None => {}
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "connection error");
                    break;
                }
                None => break,
            },
            () = running.ended(), if at_cap => {}
        }
    }
    let stopped = async move {
        let _ = phase.wait_for(|p| *p == Phase::Stopped).await;
    };
    conn.close(&running, stopped).await;
}
