//! Carriers: what moves a call's head, messages and trailers between a client
//! and a server.
//!
//! | carrier | moves a call as | over |
//! |---|---|---|
//! | `h2` (internal) | an HTTP/2 stream | any byte transport ([`transport`](crate::transport)), TLS or not |
//! | [`direct`] | its head and encoded messages through in-process pipes | nothing: same process |
//!
//! Everything above a carrier (framing, decoding, limits, deadlines, status,
//! interceptors) is the same code for every carrier: inside the crate it sees a
//! call through this module's types (the halves of a call's body, the response
//! handle, a server connection and the calls it accepts, a client connection
//! and the streams it opens), each an enum over the carriers with one `match`
//! per operation. Nothing outside this module names the `h2` crate. What is
//! public is [`direct`]'s: its listener, connector and server-side connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;

use crate::status::Status;
use direct::{PipeReader, PipeWriter};

pub mod direct;
pub(crate) mod h2;

/// Where a call's inbound body comes from.
#[derive(Debug)]
pub(crate) enum RecvBody {
    H2(::h2::RecvStream),
    Direct(PipeReader),
}

impl RecvBody {
    /// The server's read of the request body: the next chunk, `None` at its
    /// end. A stream the client reset with `CANCEL` is the call cancelled.
    #[inline]
    pub(crate) fn poll_request_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        match self {
            RecvBody::H2(recv) => h2::poll_data(recv, cx, true),
            RecvBody::Direct(pipe) => pipe.poll_data(cx),
        }
    }

    /// The client's read of the response body: the next chunk, `None` at its
    /// end.
    #[inline]
    pub(crate) fn poll_response_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        match self {
            RecvBody::H2(recv) => h2::poll_data(recv, cx, false),
            RecvBody::Direct(pipe) => pipe.poll_data(cx),
        }
    }

    /// Hands `n` consumed bytes of window back to the sender. The direct pipe
    /// frees its window as chunks are taken, so there it does nothing.
    pub(crate) fn release(&mut self, n: usize) {
        if let RecvBody::H2(recv) = self {
            let _ = recv.flow_control().release_capacity(n);
        }
    }

    /// The trailers, once the body has ended.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        match self {
            RecvBody::H2(recv) => recv.poll_trailers(cx).map_err(|e| Status::from_h2(&e)),
            RecvBody::Direct(pipe) => pipe.poll_trailers(cx),
        }
    }

    /// Whether the sender already ended the stream (no body, no trailers follow).
    pub(crate) fn is_end_stream(&self) -> bool {
        match self {
            RecvBody::H2(recv) => recv.is_end_stream(),
            RecvBody::Direct(pipe) => pipe.is_end_stream(),
        }
    }
}

/// Where a call's outbound body goes.
#[derive(Debug)]
pub(crate) enum SendBody {
    H2(::h2::SendStream<Bytes>),
    Direct(PipeWriter),
}

impl SendBody {
    /// Sends all of `data` as the receiver's window allows, ending the stream
    /// after it when `end_stream` is set. On `Pending`, `data` holds the rest.
    pub(crate) fn poll_send(
        &mut self,
        data: &mut Bytes,
        end_stream: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Status>> {
        match self {
            SendBody::H2(stream) => h2::poll_send_data(stream, data, end_stream, cx),
            SendBody::Direct(pipe) => pipe.poll_send(data, end_stream, cx),
        }
    }

    /// Sends `data` and ends the stream without waiting for window: for the last
    /// few bytes of a stream, which the caller has already bounded.
    pub(crate) fn send_last(&mut self, data: Bytes) {
        match self {
            SendBody::H2(stream) => {
                let _ = stream.send_data(data, true);
            }
            SendBody::Direct(pipe) => pipe.send_last(data),
        }
    }

    /// Ends the stream with trailers.
    pub(crate) fn send_trailers(&mut self, trailers: HeaderMap) {
        match self {
            SendBody::H2(stream) => {
                let _ = stream.send_trailers(trailers);
            }
            SendBody::Direct(pipe) => pipe.send_trailers(trailers),
        }
    }

    /// Ready once the receiver has cancelled the stream or gone away.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            SendBody::H2(stream) => stream.poll_reset(cx).map(|_| ()),
            SendBody::Direct(pipe) => pipe.poll_reset(cx),
        }
    }

    /// Cancels the whole call (`RST_STREAM(CANCEL)` over HTTP/2).
    pub(crate) fn cancel(&mut self) {
        match self {
            SendBody::H2(stream) => stream.send_reset(::h2::Reason::CANCEL),
            SendBody::Direct(pipe) => pipe.cancel(),
        }
    }
}

/// The server's handle for a call's response, before the response headers go out.
#[derive(Debug)]
pub(crate) enum Respond {
    H2(::h2::server::SendResponse<Bytes>),
    Direct(PipeWriter),
}

impl Respond {
    /// Sends the response headers; with `end_stream` they are the whole response
    /// (trailers-only). Returns the body half.
    pub(crate) fn send_response(
        self,
        response: http::Response<()>,
        end_stream: bool,
    ) -> Result<SendBody, Status> {
        match self {
            Respond::H2(mut respond) => respond
                .send_response(response, end_stream)
                .map(SendBody::H2)
                .map_err(|e| Status::from_h2(&e)),
            Respond::Direct(mut pipe) => {
                pipe.send_head(response, end_stream);
                Ok(SendBody::Direct(pipe))
            }
        }
    }

    /// Ready once the client has cancelled the call or gone away.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Respond::H2(respond) => respond.poll_reset(cx).map(|_| ()),
            Respond::Direct(pipe) => pipe.poll_reset(cx),
        }
    }
}

/// The client's wait for the response headers.
#[derive(Debug)]
pub(crate) enum ResponseFuture {
    H2(::h2::client::ResponseFuture),
    Direct(Option<PipeReader>),
}

/// Why a call got no response headers.
#[derive(Debug)]
pub(crate) struct NoResponse {
    pub(crate) status: Status,
    /// The server refused the stream before processing it (`REFUSED_STREAM`): the
    /// call may be retried.
    pub(crate) refused: bool,
}

impl ResponseFuture {
    pub(crate) fn poll_response(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<http::Response<RecvBody>, NoResponse>> {
        match self {
            ResponseFuture::H2(fut) => match ready!(Pin::new(fut).poll(cx)) {
                Ok(response) => Poll::Ready(Ok(response.map(RecvBody::H2))),
                Err(e) => Poll::Ready(Err(NoResponse {
                    refused: h2::unprocessed(&e),
                    status: Status::from_h2(&e),
                })),
            },
            ResponseFuture::Direct(slot) => {
                let Some(pipe) = slot.as_mut() else {
                    return Poll::Ready(Err(NoResponse {
                        status: Status::internal("response already taken"),
                        refused: false,
                    }));
                };
                let head = ready!(pipe.poll_head(cx));
                let taken = slot.take();
                Poll::Ready(match (head, taken) {
                    (Ok(head), Some(pipe)) => Ok(head.map(|()| RecvBody::Direct(pipe))),
                    (Ok(_), None) => Err(NoResponse {
                        status: Status::internal("response already taken"),
                        refused: false,
                    }),
                    (Err(status), _) => Err(NoResponse {
                        status,
                        refused: false,
                    }),
                })
            }
        }
    }
}

/// A call a server connection accepted, before it is routed.
// Lives on the stack for one loop turn; boxing the large variant would cost an
// allocation per call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum IncomingCall {
    H2(h2::Accepted),
    Direct(direct::DirectCall),
}

impl IncomingCall {
    /// The request and the response handle.
    pub(crate) fn into_call(self) -> (http::Request<RecvBody>, Respond) {
        match self {
            IncomingCall::H2(accepted) => accepted.into_call(),
            IncomingCall::Direct(call) => call.into_call(),
        }
    }

    /// Refuses a call over the handler cap, unprocessed, so the client may
    /// retry it.
    pub(crate) fn refuse(self) {
        match self {
            IncomingCall::H2(accepted) => accepted.refuse(),
            IncomingCall::Direct(call) => call.refuse(),
        }
    }
}

/// One server connection, past its handshakes, as the server's connection
/// loop drives it.
// One per connection task, inline in its future, as h2's connection was
// before: boxing it would add an allocation per connection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ServerConnection<IO> {
    H2(h2::ServerConnection<IO>),
    Direct(direct::ServerConnection),
}

impl ServerConnection<direct::NoIo> {
    /// A client's direct connection; `max_running` is the handler cap.
    pub(crate) fn direct(conn: direct::DirectConnection, max_running: usize) -> Self {
        ServerConnection::Direct(direct::ServerConnection::new(conn, max_running))
    }
}

impl<IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> ServerConnection<IO> {
    /// An HTTP/2 connection over `io`, after its handshake (the preface and
    /// the SETTINGS exchange) with the server's settings. The caller bounds it
    /// with the handshake timeout.
    pub(crate) async fn http2(
        io: IO,
        config: &crate::server::ServerConfig,
    ) -> Result<Self, String> {
        h2::handshake(io, config).await.map(ServerConnection::H2)
    }

    /// The next call, or with `accept` false (at the handler cap) only drives
    /// the connection. `None` once the connection is done; `Err` says why it
    /// failed.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        accept: bool,
    ) -> Poll<Option<Result<IncomingCall, String>>> {
        match self {
            ServerConnection::H2(conn) => conn.poll_next(cx, accept),
            ServerConnection::Direct(conn) => conn.poll_next(cx, accept),
        }
    }

    /// Starts the graceful shutdown: no new calls (GOAWAY over HTTP/2), calls
    /// in flight run on.
    pub(crate) fn drain(&mut self) {
        match self {
            ServerConnection::H2(conn) => conn.drain(),
            ServerConnection::Direct(conn) => conn.drain(),
        }
    }

    /// Past the drain deadline: cancels the calls still running and closes.
    pub(crate) async fn stop(self) {
        match self {
            ServerConnection::H2(conn) => conn.stop().await,
            ServerConnection::Direct(conn) => conn.stop(),
        }
    }

    /// The connection loop is done: closes the connection. Over HTTP/2 that
    /// errors every stream still open, which stops their handlers; a direct
    /// connection's calls have their own pipes, and run on until they end or
    /// the drain deadline (`stopped`) passes.
    pub(crate) async fn close(
        self,
        running: &crate::server::Running,
        stopped: impl Future<Output = ()>,
    ) {
        match self {
            ServerConnection::H2(conn) => drop(conn),
            ServerConnection::Direct(conn) => {
                let mut stopped = std::pin::pin!(stopped);
                while running.count() > 0 {
                    tokio::select! {
                        () = running.ended() => {}
                        () = &mut stopped => {
                            conn.stop();
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Where a channel connects: a byte transport (HTTP/2 runs over it), or a
/// direct listener in this process.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Bytes(crate::transport::ByteTarget),
    /// A direct-carrier listener: calls, not bytes (see [`direct`]).
    Direct(direct::DirectConnector),
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Target::Bytes(a), Target::Bytes(b)) => a == b,
            (Target::Direct(a), Target::Direct(b)) => a.same_listener(b),
            _ => false,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Bytes(target) => target.fmt(f),
            Target::Direct(_) => f.write_str("a direct listener"),
        }
    }
}

/// How a dial is made: the target, the authority a user's connector gets,
/// TLS over the bytes when the channel has it, the HTTP/2 settings.
pub(crate) struct Dial<'a> {
    pub(crate) target: &'a Target,
    pub(crate) authority: &'a str,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<&'a crate::tls::TlsConnector>,
    pub(crate) config: &'a crate::client::ChannelConfig,
}

impl Dial<'_> {
    /// Opens a connection; `on_close` runs when an HTTP/2 connection's driver
    /// ends (a direct connection says it is closed when asked).
    pub(crate) async fn connect(
        &self,
        on_close: impl FnOnce() + Send + 'static,
    ) -> Result<Connection, String> {
        let target = match self.target {
            Target::Direct(connector) => {
                return connector
                    .connect()
                    .await
                    .map(Connection::Direct)
                    .map_err(|status| status.message().to_owned());
            }
            Target::Bytes(target) => target,
        };
        let io = target
            .connect(self.authority)
            .await
            .map_err(|e| e.to_string())?;
        #[cfg(feature = "tls")]
        let io = match self.tls {
            Some(tls) => crate::transport::ClientIo::Tls(Box::new(tls.connect(io).await?)),
            None => io,
        };
        h2::dial(io, self.config, on_close)
            .await
            .map(Connection::H2)
    }
}

/// A client's open connection; clones share it.
#[derive(Debug, Clone)]
pub(crate) enum Connection {
    H2(h2::Sender),
    Direct(direct::DirectClient),
}

/// Why a call's stream could not be opened.
#[derive(Debug)]
pub(crate) struct OpenError {
    pub(crate) status: Status,
    /// The connection is unusable (closed, going away): forget it, and the
    /// call may try once more on a new one.
    pub(crate) retry: bool,
}

impl OpenError {
    pub(crate) fn retry(status: Status) -> Self {
        Self {
            status,
            retry: true,
        }
    }

    pub(crate) fn fatal(status: Status) -> Self {
        Self {
            status,
            retry: false,
        }
    }
}

impl Connection {
    /// Whether the connection is known to be closed, so a new one is needed.
    /// (An HTTP/2 connection says so through its `on_close` instead.)
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Connection::H2(_) => false,
            Connection::Direct(client) => client.is_closed(),
        }
    }

    /// Opens a call's stream with the request `head` makes (called once,
    /// when the connection has room).
    pub(crate) async fn open(
        self,
        head: &(dyn Fn() -> Result<http::Request<()>, Status> + Sync),
    ) -> Result<(ResponseFuture, SendBody), OpenError> {
        match self {
            Connection::H2(sender) => h2::open(sender, head).await,
            Connection::Direct(client) => client.open(head).await,
        }
    }
}
