//! The server's side of an HTTP/2 connection on h2: the handshake with the
//! server's settings, and what the server's connection loop asks of a
//! connection (the next stream, driving it while at the handler cap,
//! graceful and abrupt GOAWAY).

use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::carrier::{IncomingCall, RecvBody, Respond};
use crate::server::ServerConfig;

/// How long closing a connection at the drain deadline may take to send its
/// GOAWAY.
const GOAWAY_FLUSH: Duration = Duration::from_millis(100);

/// A server connection after its HTTP/2 handshake.
pub(crate) struct Connection<IO>(::h2::server::Connection<IO, Bytes>);

/// A stream h2 accepted: the request head and body, and the response handle.
pub(crate) struct Accepted {
    request: http::Request<::h2::RecvStream>,
    respond: ::h2::server::SendResponse<Bytes>,
}

/// The HTTP/2 handshake with the server's settings: the preface, and the
/// SETTINGS exchange. The caller bounds it with the handshake timeout.
pub(crate) async fn handshake<IO>(io: IO, config: &ServerConfig) -> Result<Connection<IO>, String>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut builder = ::h2::server::Builder::new();
    builder
        .max_concurrent_streams(config.max_concurrent_streams)
        .max_header_list_size(config.max_header_list_size)
        .initial_window_size(config.initial_stream_window_size)
        .initial_connection_window_size(config.initial_connection_window_size)
        .max_send_buffer_size(config.max_send_buffer_size);
    builder
        .handshake::<_, Bytes>(io)
        .await
        .map(Connection)
        .map_err(|e| e.to_string())
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Connection<IO> {
    /// The next stream (`accept`), or, at the handler cap, only drives the
    /// connection: new streams then wait in h2's accept queue (bounded by the
    /// MAX_CONCURRENT_STREAMS advertised). `None` once the connection is done.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        accept: bool,
    ) -> Poll<Option<Result<IncomingCall, String>>> {
        if !accept {
            return self
                .0
                .poll_closed(cx)
                .map(|r| r.err().map(|e| Err(e.to_string())));
        }
        self.0.poll_accept(cx).map(|next| {
            next.map(|r| {
                r.map(|(request, respond)| IncomingCall::H2(Accepted { request, respond }))
                    .map_err(|e| e.to_string())
            })
        })
    }

    /// Starts the graceful shutdown: h2 sends GOAWAY and a PING, then the final
    /// GOAWAY; streams already open run to their end.
    pub(crate) fn drain(&mut self) {
        self.0.graceful_shutdown();
    }

    /// Past the drain deadline: tells the client its open streams are
    /// cancelled (GOAWAY CANCEL, not the graceful NO_ERROR, which clients may
    /// take as "not processed" and retry), and flushes that for a moment.
    /// Dropping the connection then errors every stream still open, which
    /// wakes the call guards: their handlers are dropped.
    pub(crate) async fn stop(mut self) {
        self.0.abrupt_shutdown(::h2::Reason::CANCEL);
        let flush = std::future::poll_fn(|cx| self.0.poll_closed(cx));
        let _ = tokio::time::timeout(GOAWAY_FLUSH, flush).await;
    }
}

impl Accepted {
    /// The request and the response handle, carrier-neutral.
    pub(crate) fn into_call(self) -> (http::Request<RecvBody>, Respond) {
        (self.request.map(RecvBody::H2), Respond::H2(self.respond))
    }

    /// Refuses the stream unprocessed (`REFUSED_STREAM`): the client may retry.
    pub(crate) fn refuse(mut self) {
        self.respond.send_reset(::h2::Reason::REFUSED_STREAM);
    }
}
