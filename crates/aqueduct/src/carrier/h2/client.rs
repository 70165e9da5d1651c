//! The client's side of an HTTP/2 connection on h2: the handshake and the
//! connection's driver task, and opening a call's stream on it.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::carrier::{OpenError, ResponseFuture, SendBody};
use crate::client::ChannelConfig;
use crate::status::Status;

/// Concurrent streams assumed on a new connection until the server's SETTINGS
/// arrive.
const INITIAL_MAX_SEND_STREAMS: usize = 100;

/// The handle calls open streams through; clones share the connection.
pub(crate) type Sender = ::h2::client::SendRequest<Bytes>;

/// The HTTP/2 handshake over `io`, then a task that drives the connection
/// until it ends and then calls `on_close`.
pub(crate) async fn dial<IO>(
    io: IO,
    config: &ChannelConfig,
    on_close: impl FnOnce() + Send + 'static,
) -> Result<Sender, String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = ::h2::client::Builder::new()
        // Until the server's SETTINGS say otherwise, assume the 100
        // concurrent streams RFC 9113 recommends as the least a server
        // allows: a burst of calls on a fresh connection then waits for
        // room instead of opening streams the server must refuse (h2
        // servers count such refusals, retries included, and answer
        // about a thousand of them with GOAWAY ENHANCE_YOUR_CALM).
        .initial_max_send_streams(INITIAL_MAX_SEND_STREAMS)
        .initial_window_size(config.initial_stream_window_size)
        .initial_connection_window_size(config.initial_connection_window_size)
        .max_header_list_size(config.max_header_list_size)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "client connection ended");
        }
        on_close();
    });
    Ok(sender)
}

/// Opens a stream for the request `head` makes, once the connection has room
/// for one.
pub(crate) async fn open(
    sender: Sender,
    head: &(dyn Fn() -> Result<http::Request<()>, Status> + Sync),
) -> Result<(ResponseFuture, SendBody), OpenError> {
    let mut ready = sender.ready().await.map_err(|e| {
        // Connection-level, always UNAVAILABLE; TLS alerts in words.
        let status = Status::from_h2(&e);
        OpenError::retry(Status::unavailable(format!(
            "connection failed: {}",
            status.message()
        )))
    })?;
    let head = head().map_err(OpenError::fatal)?;
    match ready.send_request(head, false) {
        Ok((response, stream)) => Ok((ResponseFuture::H2(response), SendBody::H2(stream))),
        Err(e) => Err(OpenError::retry(Status::from_h2(&e))),
    }
}
