//! One server connection: the TLS handshake (when the server has TLS) and the
//! HTTP/2 handshake under one deadline, the accept loop, and its part in
//! graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;

use super::call::{self, CallLimits};
use super::router::Router;
use super::{Running, RunningGuard, ServerConfig};
use crate::body::{RecvBody, Respond};
use crate::request::Peer;

/// A stream h2 accepted: the request head and body, and the response handle.
type Accepted = (
    http::Request<h2::RecvStream>,
    h2::server::SendResponse<Bytes>,
);

/// One turn of the connection loop.
// Lives on the stack for one loop turn; boxing the large variant would cost an
// allocation per call.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// `poll_accept`'s result.
    Accepted(Option<Result<Accepted, h2::Error>>),
    /// `poll_closed`'s result, while at the handler cap.
    Closed(Option<h2::Error>),
}

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

/// How long closing a connection at the drain deadline may take to send its
/// GOAWAY.
const GOAWAY_FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

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

/// The connection once its bytes are plaintext HTTP/2.
async fn serve_http2<IO>(
    io: IO,
    peer: Peer,
    deadline: Instant,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = &shared.config;
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(config.max_concurrent_streams)
        .max_header_list_size(config.max_header_list_size)
        .initial_window_size(config.initial_stream_window_size)
        .initial_connection_window_size(config.initial_connection_window_size)
        .max_send_buffer_size(config.max_send_buffer_size);
    let handshake = tokio::time::timeout_at(deadline, builder.handshake::<_, Bytes>(io));
    let mut conn = tokio::select! {
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
        // (UNAVAILABLE). Once the handshake is done the loop below sends the
        // GOAWAY; the handshake timeout and the drain deadline bound the wait.
        _ = phase.wait_for(|p| *p == Phase::Stopped) => return,
    };

    let limits = CallLimits {
        max_recv: config.max_recv_message_size,
        max_send: config.max_send_message_size,
    };
    let max_running = config.max_concurrent_streams as usize;
    let running = Arc::new(Running::default());
    let mut draining = false;
    loop {
        if !draining && *phase.borrow() != Phase::Serving {
            conn.graceful_shutdown();
            draining = true;
        }
        if *phase.borrow() == Phase::Stopped {
            // Past the drain deadline: tell the client its open streams are
            // cancelled (GOAWAY CANCEL, not the graceful NO_ERROR, which
            // clients may take as "not processed" and retry), then close.
            conn.abrupt_shutdown(h2::Reason::CANCEL);
            let flush = std::future::poll_fn(|cx| conn.poll_closed(cx));
            let _ = tokio::time::timeout(GOAWAY_FLUSH, flush).await;
            break;
        }
        // At the cap, stop accepting but keep driving the connection: new streams
        // wait in h2's accept queue (bounded by the MAX_CONCURRENT_STREAMS we
        // advertise) until a handler ends. Refusing them instead would fail a
        // well-behaved client that opens a stream the moment it sees the previous
        // one's trailers, before that handler's task has ended.
        let at_cap = running.count() >= max_running;
        let step = std::future::poll_fn(|cx| {
            if at_cap {
                conn.poll_closed(cx).map(|r| Step::Closed(r.err()))
            } else {
                conn.poll_accept(cx).map(Step::Accepted)
            }
        });
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            step = step => match step {
                Step::Accepted(Some(Ok((request, mut respond)))) => {
                    let Some(guard) = RunningGuard::try_new(&running, max_running) else {
                        respond.send_reset(h2::Reason::REFUSED_STREAM);
                        continue;
                    };
                    // A plain spawn: when the connection goes away, h2 wakes each
                    // stream's reset watch, and the call guard drops its handler.
                    let request = request.map(RecvBody::H2);
                    if let Some(call) = call::start_call(request, Respond::H2(respond), &shared.router, limits, peer.clone(), guard) {
                        tokio::spawn(call);
                    }
                }
                Step::Accepted(Some(Err(e))) | Step::Closed(Some(e)) => {
                    tracing::debug!(error = %e, "connection error");
                    break;
                }
                Step::Accepted(None) | Step::Closed(None) => break,
            },
            () = running.ended(), if at_cap => {}
        }
    }
    // Dropping the connection here errors every stream still open, which wakes the
    // call guards: their handlers are dropped without being polled again.
}
