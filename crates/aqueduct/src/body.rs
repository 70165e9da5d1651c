//! The two halves of a call's byte stream, whichever carrier moves them: an HTTP/2
//! stream (h2), or the direct carrier's in-process pipe. Everything above —
//! framing, decoding, limits, status — is the same code for both.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;

use crate::send::poll_send_data;
use crate::status::Status;
use crate::transport::direct::{PipeReader, PipeWriter};

/// Where a call's inbound body comes from.
#[derive(Debug)]
pub(crate) enum RecvBody {
    H2(h2::RecvStream),
    Direct(PipeReader),
}

impl RecvBody {
    /// The next chunk of the body; `None` at its end. `client` says which side
    /// reads, for the status of a cancelled stream.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
        client: bool,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        match self {
            RecvBody::H2(recv) => recv
                .poll_data(cx)
                .map(|chunk| chunk.map(|r| r.map_err(|e| body_error(&e, client)))),
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

/// The status for a request or response body that failed.
pub(crate) fn body_error(e: &h2::Error, client: bool) -> Status {
    if e.reason() == Some(h2::Reason::CANCEL) && !client {
        Status::cancelled("the client cancelled the call")
    } else {
        Status::from_h2(e)
    }
}

/// Where a call's outbound body goes.
#[derive(Debug)]
pub(crate) enum SendBody {
    H2(h2::SendStream<Bytes>),
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
            SendBody::H2(stream) => poll_send_data(stream, data, end_stream, cx),
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
            SendBody::H2(stream) => stream.send_reset(h2::Reason::CANCEL),
            SendBody::Direct(pipe) => pipe.cancel(),
        }
    }
}

/// The server's handle for a call's response, before the response headers go out.
#[derive(Debug)]
pub(crate) enum Respond {
    H2(h2::server::SendResponse<Bytes>),
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
    H2(h2::client::ResponseFuture),
    Direct(Option<PipeReader>),
}

/// Whether a stream that ended without response headers is one the server
/// did not process, so the call may be retried: refused (`REFUSED_STREAM`), or
/// past the last stream a graceful GOAWAY (`NO_ERROR`) let through, which
/// h2 reports as that GOAWAY. (A client's stream written just after it
/// answered the server's shutdown PING lands there.) Our server ends streams
/// it abandons at its drain deadline with a `CANCEL` GOAWAY instead, so those
/// are never taken for unprocessed.
fn unprocessed(e: &h2::Error) -> bool {
    match e.reason() {
        Some(h2::Reason::REFUSED_STREAM) => true,
        Some(h2::Reason::NO_ERROR) => e.is_go_away() && e.is_remote(),
        _ => false,
    }
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
                    refused: unprocessed(&e),
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
