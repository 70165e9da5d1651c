//! A peek-and-route front: accept TCP, read each connection's first gRPC
//! request, pick a backend process by the service it calls (or by its
//! authority), and hand the live connection to that backend. `aqueduct route`
//! runs it.
//!
//! Routing is per connection: HTTP/2 multiplexes, and the whole connection
//! moves, so every later request on it goes to the same backend, whatever
//! service it names. Clients that call services living in different backends
//! should use one channel per service (gRPC clients usually do: one channel per
//! target).
//!
//! The front writes the HTTP/2 server preface (a SETTINGS frame of defaults
//! and a 100-stream limit, [`SERVER_PREFACE`]) the moment it accepts a connection: most clients
//! (grpc-go, so `grpcurl`; grpc-core, so Python `grpcio`) send no request
//! before they have the server's SETTINGS. It hands the connection over with
//! [`HandoffSender::send_connection_after_preface`], and the backend's
//! [`HandoffListener`](crate::HandoffListener) drops the client's ACK of those
//! SETTINGS (see [`Prefixed::after_server_preface`](crate::Prefixed::after_server_preface)),
//! so the backend's HTTP/2 stack sees only the ACK of its own. Everything else
//! the client sent (its SETTINGS, WINDOW_UPDATE, PING) reaches the backend,
//! which answers it.
//!
//! A connection whose first request names no known service, or whose backend
//! is not running, gets a real gRPC answer, `UNAVAILABLE` with a message, in a
//! minimal HTTP/2 response, then a GOAWAY; one that is not HTTP/2, is
//! malformed, or does not send its first request within the peek timeout is
//! closed. Never a hang: every read and every hand-off has a deadline.

use std::collections::HashMap;
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
use crate::peek::{FirstRequest, PeekError, SERVER_PREFACE, peek_first_request};

/// Connections being peeked at once; more wait in the kernel's accept queue.
const MAX_PEEKING: usize = 1024;
/// How long a refused connection is given to read its answer before it is closed.
const LINGER: Duration = Duration::from_secs(1);
/// The pause after a failed accept (out of descriptors), so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long connecting to a backend may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where connections go: backends (their hand-off sockets) by gRPC service
/// name, and by `:authority`.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    services: HashMap<String, PathBuf>,
    authorities: HashMap<String, PathBuf>,
}

impl Routes {
    /// No routes yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections whose first request calls `service` (`package.Service`) go
    /// to the backend listening for hand-offs at `backend`.
    #[must_use]
    pub fn service(mut self, service: &str, backend: impl Into<PathBuf>) -> Self {
        self.services.insert(service.to_owned(), backend.into());
        self
    }

    /// Connections whose first request names `authority` (`host` or
    /// `host:port`) go to `backend`. Services are matched first.
    #[must_use]
    pub fn authority(mut self, authority: &str, backend: impl Into<PathBuf>) -> Self {
        self.authorities
            .insert(authority.to_ascii_lowercase(), backend.into());
        self
    }

    /// The backend for a connection whose first request is `first`: by
    /// service, then by authority as sent, then by its host without the port.
    #[must_use]
    pub fn pick(&self, first: &FirstRequest) -> Option<&Path> {
        if let Some(backend) = first.service().and_then(|s| self.services.get(s)) {
            return Some(backend);
        }
        let authority = first.authority.as_deref()?.to_ascii_lowercase();
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(authority.as_str(), |(host, _)| host);
        self.authorities
            .get(&authority)
            .or_else(|| self.authorities.get(host))
            .map(PathBuf::as_path)
    }

    fn backends(&self) -> impl Iterator<Item = &PathBuf> {
        self.services.values().chain(self.authorities.values())
    }
}

/// The front's settings.
#[derive(Debug, Clone)]
pub struct FrontConfig {
    /// How long a client has to send its first request (from when the front
    /// has accepted it and sent its SETTINGS). Default 5 s.
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

async fn route_one(
    mut stream: TcpStream,
    peer: SocketAddr,
    routes: &Routes,
    backends: &Backends,
    config: &FrontConfig,
) {
    let mut peeked = Vec::with_capacity(1024);
    let start = async {
        stream.write_all(&SERVER_PREFACE).await?;
        read_first_request(&mut stream, &mut peeked).await
    };
    let first = match tokio::time::timeout(config.peek_timeout, start).await {
        Ok(Ok(first)) => first,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "route: closed a connection");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "route: no first request in time; closed");
            return;
        }
    };
    let Some(backend) = routes.pick(&first) else {
        // The client's own text, cut short: the answer must fit one frame.
        let what: String = first
            .service()
            .unwrap_or(&first.path)
            .chars()
            .take(200)
            .collect();
        refuse(stream, &first, &format!("no backend serves {what}")).await;
        return;
    };
    let local = match stream.local_addr() {
        Ok(local) => local,
        Err(_) => return,
    };
    match hand_off(backends, backend, &stream, &peeked, local, peer).await {
        // Our copy closes here; the backend's lives on.
        Ok(()) => {}
        Err(e) => {
            tracing::warn!(backend = %backend.display(), error = %e, "route: backend unavailable");
            refuse(
                stream,
                &first,
                "the backend for this service is unavailable",
            )
            .await;
        }
    }
}

/// Reads until the first request is complete, never past [`MAX_PEEKED`].
async fn read_first_request(
    stream: &mut TcpStream,
    peeked: &mut Vec<u8>,
) -> Result<FirstRequest, Box<dyn std::error::Error + Send + Sync>> {
    loop {
        if let Some(first) = peek_first_request(peeked)? {
            return Ok(first);
        }
        // Read into the buffer's own spare room, never past the bound.
        let room = MAX_PEEKED.saturating_sub(peeked.len());
        if room == 0 {
            return Err(PeekError::TooLarge.into());
        }
        let n = (&mut *stream).take(room as u64).read_buf(peeked).await?;
        if n == 0 {
            return Err("closed before its first request".into());
        }
    }
}

/// Hands the connection to `backend`, over its open channel or a new one
/// (once more if the open one turns out broken).
async fn hand_off(
    backends: &Backends,
    backend: &Path,
    stream: &TcpStream,
    peeked: &[u8],
    local: SocketAddr,
    peer: SocketAddr,
) -> io::Result<()> {
    let channel = backends
        .get(backend)
        .ok_or_else(|| io::Error::other("backend not in the routes"))?;
    let mut channel = channel.lock().await;
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
        let sent = sender.send_connection_after_preface(stream, peeked, local, peer);
        match sent.await {
            Ok(()) => return Ok(()),
            Err(_) => *channel = None,
        }
    }
    Err(io::Error::other("hand-off failed twice"))
}

/// Answers the first request with `UNAVAILABLE` in a minimal HTTP/2 response,
/// says GOAWAY, and closes once the client has read it (or after a moment).
async fn refuse(mut stream: TcpStream, first: &FirstRequest, message: &str) {
    let response = unavailable_response(first.stream_id, message);
    let answered = async {
        stream.write_all(&response).await?;
        stream.shutdown().await?;
        // Read what the client still sends until it closes, so closing does
        // not reset the connection before it has read the answer.
        let mut sink = [0; 1024];
        while stream.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(LINGER, answered).await;
}

/// The rest of the server's side (after [`SERVER_PREFACE`]) of an HTTP/2
/// connection that answers one request with gRPC status 14 and goes away: the
/// ACK of the client's SETTINGS, a trailers-only response on `stream_id`,
/// GOAWAY.
pub(crate) fn unavailable_response(stream_id: u32, message: &str) -> Vec<u8> {
    const SETTINGS: u8 = 0x4;
    const HEADERS: u8 = 0x1;
    const GOAWAY: u8 = 0x7;
    const ACK: u8 = 0x1;
    const END_STREAM_AND_HEADERS: u8 = 0x1 | 0x4;
    let message = percent_encode(message);
    let block = loona_hpack::Encoder::new().encode([
        (&b":status"[..], &b"200"[..]),
        (b"content-type", b"application/grpc"),
        (b"grpc-status", b"14"),
        (b"grpc-message", message.as_bytes()),
    ]);
    let mut goaway = stream_id.to_be_bytes().to_vec();
    goaway.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
    let mut out = Vec::new();
    for (kind, flags, id, payload) in [
        (SETTINGS, ACK, 0, &[][..]),
        (HEADERS, END_STREAM_AND_HEADERS, stream_id, &block[..]),
        (GOAWAY, 0, 0, &goaway[..]),
    ] {
        // Payloads here are far under the 16 KiB default frame size (the
        // message is at most ~250 characters, percent-encoded).
        let len = payload.len() as u32;
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.extend_from_slice(&[kind, flags]);
        out.extend_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
        out.extend_from_slice(payload);
    }
    out
}

/// `grpc-message` encoding: printable ASCII but `%` as is, the rest `%XX`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn first(path: &str, authority: Option<&str>) -> FirstRequest {
        FirstRequest {
            path: path.into(),
            authority: authority.map(str::to_owned),
            stream_id: 1,
        }
    }

    #[test]
    fn services_first_then_authority_then_host() {
        let routes = Routes::new()
            .service("notes.v1.Notes", "/n.sock")
            .authority("Api.Example:443", "/a443.sock")
            .authority("api.example", "/a.sock");
        let pick = |path, authority| routes.pick(&first(path, authority)).map(Path::to_path_buf);
        assert_eq!(
            pick("/notes.v1.Notes/GetNote", Some("api.example:443")),
            Some("/n.sock".into())
        );
        assert_eq!(
            pick("/x.v1.X/Call", Some("api.example:443")),
            Some("/a443.sock".into())
        );
        assert_eq!(
            pick("/x.v1.X/Call", Some("API.example:8080")),
            Some("/a.sock".into())
        );
        assert_eq!(pick("/x.v1.X/Call", Some("other:443")), None);
        assert_eq!(pick("/x.v1.X/Call", None), None);
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("no backend: 100%"), "no backend: 100%25");
        assert_eq!(percent_encode("é\n"), "%C3%A9%0A");
    }
}
