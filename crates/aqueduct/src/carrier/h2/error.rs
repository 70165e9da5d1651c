//! h2's errors in gRPC's words: the [`Status`] of a failed stream or
//! connection, and which failures leave a call safe to retry.

use ::h2::Reason;

use crate::status::{Code, Status};

impl Status {
    /// The status a client reports for a failed HTTP/2 stream or connection.
    ///
    /// Stream resets map as gRPC's HTTP/2 spec says; connection-level failures are
    /// `UNAVAILABLE`, never `UNKNOWN`.
    pub(crate) fn from_h2(err: &::h2::Error) -> Status {
        if let Some(reason) = err.reason() {
            if err.is_remote() || err.is_reset() {
                let code = match reason {
                    Reason::CANCEL => Code::Cancelled,
                    Reason::REFUSED_STREAM => Code::Unavailable,
                    Reason::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
                    Reason::INADEQUATE_SECURITY => Code::PermissionDenied,
                    _ if err.is_go_away() => Code::Unavailable,
                    _ => Code::Internal,
                };
                return Status::new(code, format!("h2 stream error: {err}"));
            }
        }
        // TLS failures after the handshake (under TLS 1.3 a server refuses a
        // client certificate only then) say what failed, as handshake
        // failures do.
        #[cfg(feature = "tls")]
        if let Some(io) = err.get_io() {
            if let Some(why) = crate::tls::describe_transport(io) {
                return Status::unavailable(format!("transport error: TLS: {why}"));
            }
        }
        // A plaintext client reading a TLS server's answer (an alert record)
        // as an HTTP/2 frame header sees a frame of absurd size.
        if err.reason() == Some(Reason::FRAME_SIZE_ERROR) && !err.is_remote() {
            return Status::unavailable(format!(
                "transport error: {err} (if the server speaks TLS, dial it with https:// \
                 or ChannelBuilder::tls)"
            ));
        }
        Status::unavailable(format!("transport error: {err}"))
    }
}

/// The status for a request or response body that failed: on the server, a
/// `CANCEL` reset is the client cancelling the call.
pub(crate) fn body_error(e: &::h2::Error, server: bool) -> Status {
    if e.reason() == Some(Reason::CANCEL) && server {
        Status::cancelled("the client cancelled the call")
    } else {
        Status::from_h2(e)
    }
}

/// Whether a stream that ended without response headers is one the server
/// did not process, so the call may be retried: refused (`REFUSED_STREAM`), or
/// past the last stream a graceful GOAWAY (`NO_ERROR`) let through, which
/// h2 reports as that GOAWAY. (A client's stream written just after it
/// answered the server's shutdown PING lands there.) Our server ends streams
/// it abandons at its drain deadline with a `CANCEL` GOAWAY instead, so those
/// are never taken for unprocessed.
pub(crate) fn unprocessed(e: &::h2::Error) -> bool {
    match e.reason() {
        Some(Reason::REFUSED_STREAM) => true,
        Some(Reason::NO_ERROR) => e.is_go_away() && e.is_remote(),
        _ => false,
    }
}
