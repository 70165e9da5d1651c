//! [`Request`], [`Response`] and [`CallOptions`]: a message with the call's metadata.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::metadata::MetadataMap;
use aqueduct_wire::compression::Encoding;

/// How a client call is made: metadata to send, a timeout, and compression.
///
/// ```
/// use std::time::Duration;
/// use aqueduct::{CallOptions, Encoding};
///
/// let mut opts = CallOptions::new()
///     .with_timeout(Duration::from_secs(2))
///     .with_compression(Encoding::Gzip);
/// opts.metadata_mut().insert("x-tenant", "acme").unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    pub(crate) metadata: MetadataMap,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Encoding>,
    /// Made from inside a handler without inheriting its call's deadline.
    pub(crate) detached: bool,
}

impl CallOptions {
    /// No metadata, no deadline, no compression.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how long the call may take; sent to the server as `grpc-timeout` and
    /// enforced on this side too. Inside a handler, the call's deadline is the
    /// earlier of this and the inbound call's (see [`context`](crate::context)),
    /// unless the call is [`detached`](Self::detached).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Does not inherit the deadline of the call being served (when made from
    /// inside a handler): only this call's own timeout applies. For work that
    /// must outlive the inbound call, also run it outside the handler's future
    /// (a plain `tokio::spawn`): a call the handler awaits is cancelled with it.
    #[must_use]
    pub fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    /// Compresses request messages with `encoding`.
    #[must_use]
    pub fn with_compression(mut self, encoding: Encoding) -> Self {
        self.compression = Some(encoding);
        self
    }

    /// The metadata sent as request headers.
    #[must_use]
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// Mutable access to the metadata sent as request headers.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// The call's timeout, if any.
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

/// Who is at the other end of a served call's connection: its address and,
/// over TLS, what the handshake established. Shared by the connection's calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peer {
    pub(crate) addr: Option<SocketAddr>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<std::sync::Arc<crate::tls::TlsInfo>>,
}

impl Peer {
    /// A peer at `addr` (if it has one), not over TLS.
    pub(crate) fn plaintext(addr: Option<SocketAddr>) -> Self {
        Self {
            addr,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// A request message with its call's metadata.
///
/// On the client, build one to set metadata, a timeout or compression for a call
/// whose request is a single message. On the server, a handler receives one and reads
/// the metadata, the deadline and the peer from it.
///
/// ```
/// use std::time::Duration;
/// use aqueduct::Request;
///
/// let mut req = Request::new("payload").with_timeout(Duration::from_millis(500));
/// req.metadata_mut().insert("authorization", "Bearer t0ken").unwrap();
/// assert_eq!(*req.get_ref(), "payload");
/// ```
#[derive(Debug)]
pub struct Request<T> {
    pub(crate) options: CallOptions,
    pub(crate) message: T,
    pub(crate) deadline: Option<Instant>,
    pub(crate) peer: Peer,
    pub(crate) message_compressed: bool,
    pub(crate) extensions: http::Extensions,
}

impl<T> Request<T> {
    /// Wraps a message with no metadata.
    pub fn new(message: T) -> Self {
        Self {
            options: CallOptions::default(),
            message,
            deadline: None,
            peer: Peer::default(),
            message_compressed: false,
            extensions: http::Extensions::new(),
        }
    }

    /// Wraps a message with the given call options.
    pub fn with_options(message: T, options: CallOptions) -> Self {
        Self {
            options,
            ..Self::new(message)
        }
    }

    /// The request metadata (request headers, less the protocol's own).
    #[must_use]
    pub fn metadata(&self) -> &MetadataMap {
        &self.options.metadata
    }

    /// Mutable access to the request metadata.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.options.metadata
    }

    /// Sets the call's timeout (client side).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Does not inherit the deadline of the call being served; see
    /// [`CallOptions::detached`].
    #[must_use]
    pub fn detached(mut self) -> Self {
        self.options.detached = true;
        self
    }

    /// Compresses the request message with `encoding` (client side).
    #[must_use]
    pub fn with_compression(mut self, encoding: Encoding) -> Self {
        self.options.compression = Some(encoding);
        self
    }

    /// The call's deadline (server side): when the client's `grpc-timeout` runs out.
    /// `None` when the client set none.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the deadline; `None` when there is no deadline.
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The peer's address, when the transport has one (TCP).
    #[must_use]
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.peer.addr
    }

    /// The TLS connection the call came on (server side): the protocol,
    /// cipher and the client's verified certificate and identity. `None`
    /// for a call that did not come over TLS.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn peer_tls(&self) -> Option<&crate::tls::TlsInfo> {
        self.peer.tls.as_deref()
    }

    /// Typed values the server's interceptors attached to the call (see
    /// [`interceptor`](crate::interceptor)): read one with `get::<T>()`.
    #[must_use]
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// Typed values attached to the call, mutably.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// Whether the request message arrived compressed (server side, single-message
    /// requests).
    #[must_use]
    pub fn message_compressed(&self) -> bool {
        self.message_compressed
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// Mutable access to the message.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// Takes the message, dropping the metadata.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// Splits into call options and message.
    pub fn into_parts(self) -> (CallOptions, T) {
        (self.options, self.message)
    }
}

/// Turns a message, or a [`Request`] around one, into a `Request`; generated client
/// methods take `impl IntoRequest<M>` so both spellings work.
pub trait IntoRequest<T> {
    /// Wraps or passes through.
    fn into_request(self) -> Request<T>;
}

impl<T> IntoRequest<T> for T {
    fn into_request(self) -> Request<T> {
        Request::new(self)
    }
}

impl<T> IntoRequest<T> for Request<T> {
    fn into_request(self) -> Request<T> {
        self
    }
}

/// A response message with the call's response headers and trailers.
///
/// ```
/// use aqueduct::Response;
///
/// let mut resp = Response::new(42u32);
/// resp.metadata_mut().insert("x-served-by", "replica-1").unwrap();
/// resp.trailers_mut().insert("x-cost", "3").unwrap();
/// assert_eq!(resp.into_inner(), 42);
/// ```
#[derive(Debug)]
pub struct Response<T> {
    pub(crate) metadata: MetadataMap,
    pub(crate) trailers: MetadataMap,
    pub(crate) message: T,
    pub(crate) compression: Option<Encoding>,
    pub(crate) message_compressed: bool,
}

impl<T> Response<T> {
    /// Wraps a message with no metadata.
    pub fn new(message: T) -> Self {
        Self {
            metadata: MetadataMap::new(),
            trailers: MetadataMap::new(),
            message,
            compression: None,
            message_compressed: false,
        }
    }

    /// Whether the response message arrived compressed (client side).
    #[must_use]
    pub fn message_compressed(&self) -> bool {
        self.message_compressed
    }

    /// Response headers (custom metadata only).
    #[must_use]
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// Mutable access to the response headers.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// Trailers sent after the message (custom metadata only).
    #[must_use]
    pub fn trailers(&self) -> &MetadataMap {
        &self.trailers
    }

    /// Mutable access to the trailers.
    pub fn trailers_mut(&mut self) -> &mut MetadataMap {
        &mut self.trailers
    }

    /// Compresses this response's message with `encoding` (server side), if the
    /// client accepts it; otherwise it is sent uncompressed.
    #[must_use]
    pub fn with_compression(mut self, encoding: Encoding) -> Self {
        self.compression = Some(encoding);
        self
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// Mutable access to the message.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// Takes the message.
    pub fn into_inner(self) -> T {
        self.message
    }
}
