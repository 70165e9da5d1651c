//! A peek-and-route front: accept TCP, read each connection's first bytes,
//! pick a backend process by what they name, and hand the live connection to
//! that backend. `aqueduct route` runs it. Two kinds of connection share one
//! port, told apart by their first byte:
//!
//! - **Plaintext HTTP/2** (`P`, of `PRI * HTTP/2.0`): the backend is picked by
//!   the gRPC service the first request calls, or by its `:authority`.
//! - **TLS** (0x16, a handshake record): the backend is picked by the
//!   ClientHello's server name (SNI), read by
//!   [`client_hello`], without terminating TLS: the
//!   backend gets the connection with the ClientHello as its peeked bytes and
//!   terminates TLS itself, as if it had accepted it. The front holds no
//!   certificate or key.
//!
//! Routing is per connection: HTTP/2 multiplexes, and the whole connection
//! moves, so every later request on it goes to the same backend, whatever
//! service it names. Clients that call services living in different backends
//! should use one channel per service (gRPC clients usually do: one channel per
//! target).
//!
//! The front writes nothing before the client's first bytes: an HTTP/2 client
//! sends its connection preface at once, without waiting for the server (RFC
//! 9113 3.4), and a TLS client its ClientHello. Then, for plaintext, it writes
//! the HTTP/2 server preface (a SETTINGS frame of defaults and a 100-stream
//! limit, [`SERVER_PREFACE`]) at once: most clients (grpc-go, so `grpcurl`;
//! grpc-core, so Python `grpcio`) send no request before they have the
//! server's SETTINGS. It hands the connection over with
//! [`HandoffSender::send_connection_after_preface`], and the backend's
//! [`HandoffListener`](crate::HandoffListener) drops the client's ACK of those
//! SETTINGS (see [`Prefixed::after_server_preface`](crate::Prefixed::after_server_preface)),
//! so the backend's HTTP/2 stack sees only the ACK of its own. Everything else
//! the client sent (its SETTINGS, WINDOW_UPDATE, PING) reaches the backend,
//! which answers it. A TLS connection gets nothing from the front: it is
//! handed over with [`HandoffSender::send_connection`], and the backend
//! answers its ClientHello.
//!
//! A plaintext connection whose first request names no known service, or
//! whose backend is not running, gets a real gRPC answer, `UNAVAILABLE` with
//! a message, in a minimal HTTP/2 response, then `RST_STREAM(NO_ERROR)` if
//! the request is still open (so the client stops sending it and keeps the
//! answer, RFC 9113 8.1), then a GOAWAY; one that is not
//! HTTP/2, is malformed, or does not send its first request within the peek
//! timeout is closed. A TLS connection the front cannot route gets a fatal
//! alert record, then is closed:
//!
//! | case | alert |
//! |---|---|
//! | a server name no route matches | `unrecognized_name` (112) |
//! | no server name, and no [`Routes::without_server_name`] | `missing_extension` (109) |
//! | ALPN offered without `h2` | `no_application_protocol` (120) |
//! | the backend is not running | `internal_error` (80) |
//! | a malformed ClientHello, or more than 16 KiB | `decode_error` (50), `illegal_parameter` (47) for a bad server name |
//!
//! and one that does not finish its ClientHello within the peek timeout is
//! closed. Never a hang: every read and every hand-off has a deadline.

mod answers;
mod routes;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

use crate::HandoffSender;
use crate::MAX_PEEKED;
use crate::client_hello::{self, ClientHello, ClientHelloError, Progress};
use crate::peek::{FirstRequest, PeekError, SERVER_PREFACE, peek_first_request, request_ended};
use answers::{
    INTERNAL_ERROR, MISSING_EXTENSION, NO_APPLICATION_PROTOCOL, UNRECOGNIZED_NAME, alert_record,
    parse_alert, unavailable_response,
};

pub use routes::Routes;

/// Connections being peeked at once; more wait in the kernel's accept queue.
const MAX_PEEKING: usize = 1024;
/// How long a refused connection is given to read its answer before it is closed.
/// Long enough for a client on a loaded machine to be scheduled and read it:
/// closing with its later bytes (a SETTINGS ack) unread makes the kernel send
/// a reset, which discards the answer it has not read yet. At 1 s, one run in
/// four of the route test failed that way with four copies running at once.
const LINGER: Duration = Duration::from_secs(5);
/// The pause after a failed accept (out of descriptors), so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long connecting to a backend may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long waiting for a backend's hand-off channel, and sending one
/// connection over it, may take: a backend that stops reading its socket
/// must not hold the connections routed to it, nor the front's slots.
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(2);

/// The front's settings.
#[derive(Debug, Clone)]
pub struct FrontConfig {
    /// How long a client has to send its first request, or its whole
    /// ClientHello, from when the front has accepted it. Default 5 s.
    pub peek_timeout: Duration,
}

impl Default for FrontConfig {
    fn default() -> Self {
        Self {
            peek_timeout: Duration::from_secs(5),
        }
    }
}

/// One channel per backend, opened when first needed and again after it breaks.
type Backends = HashMap<PathBuf, Mutex<Option<HandoffSender>>>;

/// Runs the front on `listener` until `shutdown` completes: connections being
/// peeked at then are dropped; those handed off live on in their backends.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    config: FrontConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let backends: Backends = routes
        .backends()
        .map(|path| (path.clone(), Mutex::new(None)))
        .collect();
    let shared = Arc::new((routes, backends, config));
    let slots = Arc::new(Semaphore::new(MAX_PEEKING));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => return Ok(()),
        };
        let Ok(slot) = slot else {
            return Ok(());
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: say so, pause, go on.
                    tracing::warn!(error = %e, "route: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let shared = shared.clone();
        connections.spawn(async move {
            let (routes, backends, config) = &*shared;
            route_one(stream, peer, routes, backends, config).await;
            drop(slot);
        });
        while connections.try_join_next().is_some() {}
    }
}

/// What a connection starts with.
enum Start {
    /// Plaintext HTTP/2, to which the front has written its SETTINGS.
    Http2(FirstRequest),
    /// TLS, to which the front has written nothing.
    Tls(ClientHello),
}

/// Why a connection's start could not be read.
#[derive(Debug)]
enum StartError {
    Io(io::Error),
    /// The client closed first.
    Closed,
    Http2(PeekError),
    Tls(ClientHelloError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => e.fmt(f),
            Self::Closed => f.write_str("closed before its first request or ClientHello"),
            Self::Http2(e) => e.fmt(f),
            Self::Tls(e) => e.fmt(f),
        }
    }
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

async fn route_one(
    mut stream: TcpStream,
    peer: SocketAddr,
    routes: &Routes,
    backends: &Backends,
    config: &FrontConfig,
) {
    let mut peeked = Vec::with_capacity(1024);
    let start = read_start(&mut stream, &mut peeked);
    let start = match tokio::time::timeout(config.peek_timeout, start).await {
        Ok(Ok(start)) => start,
        Ok(Err(StartError::Tls(e))) => {
            tracing::debug!(%peer, error = %e, "route: refused a TLS connection");
            alert(stream, parse_alert(&e)).await;
            return;
        }
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "route: closed a connection");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "route: no first request or ClientHello in time; closed");
            return;
        }
    };
    let local = match stream.local_addr() {
        Ok(local) => local,
        Err(_) => return,
    };
    match start {
        Start::Http2(first) => {
            route_http2(stream, &first, &peeked, local, peer, routes, backends).await
        }
        Start::Tls(hello) => {
            route_tls(stream, &hello, &peeked, local, peer, routes, backends).await
        }
    }
}

/// Reads the connection's first bytes, then as far as its first request
/// (after writing the server preface) or the end of its ClientHello.
async fn read_start(stream: &mut TcpStream, peeked: &mut Vec<u8>) -> Result<Start, StartError> {
    // Nothing goes out before the client's first bytes: HTTP/2 clients send
    // their preface without waiting for the server, TLS clients their
    // ClientHello, and a TLS client must not get HTTP/2 SETTINGS.
    read_more(stream, peeked, MAX_PEEKED).await?;
    if client_hello::starts_tls(peeked) {
        return read_client_hello(stream, peeked).await.map(Start::Tls);
    }
    stream.write_all(&SERVER_PREFACE).await?;
    read_first_request(stream, peeked).await.map(Start::Http2)
}

/// Reads more into `buf`, at most `at_most` bytes, at least one.
async fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    at_most: usize,
) -> Result<(), StartError> {
    // Read into the buffer's own spare room, never past the bound.
    let n = (&mut *stream).take(at_most as u64).read_buf(buf).await?;
    if n == 0 {
        return Err(StartError::Closed);
    }
    Ok(())
}

/// Reads until the first request is complete, never past [`MAX_PEEKED`].
async fn read_first_request(
    stream: &mut TcpStream,
    peeked: &mut Vec<u8>,
) -> Result<FirstRequest, StartError> {
    loop {
        if let Some(first) = peek_first_request(peeked).map_err(StartError::Http2)? {
            return Ok(first);
        }
        let room = MAX_PEEKED.saturating_sub(peeked.len());
        if room == 0 {
            return Err(StartError::Http2(PeekError::TooLarge));
        }
        read_more(stream, peeked, room).await?;
    }
}

/// Reads until the ClientHello is complete: never a byte past it (past what
/// the first read brought), never past [`client_hello::MAX_LEN`].
async fn read_client_hello(
    stream: &mut TcpStream,
    peeked: &mut Vec<u8>,
) -> Result<ClientHello, StartError> {
    loop {
        match client_hello::parse(peeked).map_err(StartError::Tls)? {
            Progress::Complete(hello) => return Ok(hello),
            Progress::Incomplete { at_most } => read_more(stream, peeked, at_most).await?,
        }
    }
}

async fn route_http2(
    stream: TcpStream,
    first: &FirstRequest,
    peeked: &[u8],
    local: SocketAddr,
    peer: SocketAddr,
    routes: &Routes,
    backends: &Backends,
) {
    let Some(backend) = routes.pick(first) else {
        // The client's own text, cut short: the answer must fit one frame.
        let what: String = first
            .service()
            .unwrap_or(&first.path)
            .chars()
            .take(200)
            .collect();
        refuse(stream, first, peeked, &format!("no backend serves {what}")).await;
        return;
    };
    let handed = hand_off(backends, backend, &stream, peeked, local, peer, true);
    match handed.await {
        // Our copy closes here; the backend's lives on.
        Ok(()) => {}
        Err(e) => {
            tracing::warn!(%peer, backend = %backend.display(), error = %e, "route: backend unavailable");
            let message = "the backend for this service is unavailable";
            refuse(stream, first, peeked, message).await;
        }
    }
}

async fn route_tls(
    stream: TcpStream,
    hello: &ClientHello,
    peeked: &[u8],
    local: SocketAddr,
    peer: SocketAddr,
    routes: &Routes,
    backends: &Backends,
) {
    let server_name = hello.server_name.as_deref();
    let backend = match tls_backend(routes, hello) {
        Ok(backend) => backend,
        Err((description, why)) => {
            tracing::debug!(%peer, server_name, why, "route: refused a TLS connection");
            alert(stream, description).await;
            return;
        }
    };
    // No preface went out: the backend answers the ClientHello itself.
    let handed = hand_off(backends, backend, &stream, peeked, local, peer, false);
    match handed.await {
        Ok(()) => {}
        Err(e) => {
            tracing::warn!(%peer, server_name, backend = %backend.display(), error = %e, "route: backend unavailable");
            alert(stream, INTERNAL_ERROR).await;
        }
    }
}

/// The backend for a TLS connection, or the alert that refuses it and why.
fn tls_backend<'r>(
    routes: &'r Routes,
    hello: &ClientHello,
) -> Result<&'r Path, (u8, &'static str)> {
    let Some(backend) = routes.pick_server_name(hello.server_name.as_deref()) else {
        return Err(match hello.server_name {
            Some(_) => (UNRECOGNIZED_NAME, "no backend for its server name"),
            None => (MISSING_EXTENSION, "no server name, and no route for none"),
        });
    };
    // The backends speak gRPC, so HTTP/2 only.
    if !hello.allows_protocol(b"h2") {
        return Err((NO_APPLICATION_PROTOCOL, "its ALPN offers no h2"));
    }
    Ok(backend)
}

/// Sends a fatal alert, and closes once the client has read it (or after a
/// moment).
async fn alert(stream: TcpStream, description: u8) {
    answer_and_close(stream, &alert_record(description)).await;
}

/// Hands the connection to `backend`, over its open channel or a new one
/// (once more if the open one turns out broken), saying whether the front
/// wrote the HTTP/2 server preface.
async fn hand_off(
    backends: &Backends,
    backend: &Path,
    stream: &TcpStream,
    peeked: &[u8],
    local: SocketAddr,
    peer: SocketAddr,
    preface_sent: bool,
) -> io::Result<()> {
    let channel = backends
        .get(backend)
        .ok_or_else(|| io::Error::other("backend not in the routes"))?;
    let mut channel = tokio::time::timeout(HANDOFF_TIMEOUT, channel.lock())
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the backend's hand-off channel is busy",
            )
        })?;
    for _ in 0..2 {
        let sender = match channel.as_mut() {
            Some(sender) => sender,
            None => {
                let connect = HandoffSender::connect(backend);
                let sender = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                    .await
                    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
                channel.insert(sender)
            }
        };
        let send = async {
            if preface_sent {
                sender
                    .send_connection_after_preface(stream, peeked, local, peer)
                    .await
            } else {
                sender.send_connection(stream, peeked, local, peer).await
            }
        };
        match tokio::time::timeout(HANDOFF_TIMEOUT, send).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(_)) => *channel = None,
            // A message may be half written: the channel cannot be used again.
            Err(_) => {
                *channel = None;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the backend did not take the connection in time",
                ));
            }
        }
    }
    Err(io::Error::other("hand-off failed twice"))
}

/// Answers the first request with `UNAVAILABLE` in a minimal HTTP/2 response
/// (resetting the request if `peeked` does not end it), says GOAWAY, and
/// closes once the client has read it (or after a moment).
async fn refuse(stream: TcpStream, first: &FirstRequest, peeked: &[u8], message: &str) {
    let ended = request_ended(peeked, first.stream_id);
    let answer = unavailable_response(first.stream_id, message, ended);
    answer_and_close(stream, &answer).await;
}

/// Writes `answer`, then closes once the client has read it (or after a
/// moment).
async fn answer_and_close(mut stream: TcpStream, answer: &[u8]) {
    let answered = async {
        stream.write_all(answer).await?;
        stream.shutdown().await?;
        // Read what the client still sends until it closes, so closing does
        // not reset the connection before it has read the answer.
        let mut sink = [0; 1024];
        while stream.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(LINGER, answered).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn hello(server_name: Option<&str>, alpn: Option<&[&[u8]]>) -> ClientHello {
        ClientHello {
            server_name: server_name.map(str::to_owned),
            alpn: alpn.map(|list| list.iter().map(|p| p.to_vec()).collect()),
            len: 0,
        }
    }

    #[test]
    fn tls_connections_go_by_server_name_and_need_h2() {
        let routes = Routes::new()
            .server_name("a.test", "/a.sock")
            .server_name("*.b.test", "/b.sock");
        let decide = |name, alpn| tls_backend(&routes, &hello(name, alpn)).map(Path::to_path_buf);
        assert_eq!(decide(Some("a.test"), None), Ok("/a.sock".into()));
        assert_eq!(
            decide(Some("x.b.test"), Some(&[b"http/1.1", b"h2"])),
            Ok("/b.sock".into())
        );
        let refused = |name, alpn| decide(name, alpn).unwrap_err().0;
        assert_eq!(refused(Some("c.test"), None), UNRECOGNIZED_NAME);
        assert_eq!(refused(None, Some(&[b"h2"])), MISSING_EXTENSION);
        assert_eq!(
            refused(Some("a.test"), Some(&[b"http/1.1"])),
            NO_APPLICATION_PROTOCOL
        );
        // A route for connections without a name takes them, and only them.
        let routes = routes.clone().without_server_name("/default.sock");
        let decide = |name| tls_backend(&routes, &hello(name, None)).map(Path::to_path_buf);
        assert_eq!(decide(None), Ok("/default.sock".into()));
        assert_eq!(decide(Some("c.test")).unwrap_err().0, UNRECOGNIZED_NAME);
    }
}
