//! [`Streaming`]: the inbound messages of a call, on either side.
//!
//! ```text
//!  Streaming<T> ─┬─ server: RequestStream (request.rs), shared with the call guard
//!                ├─ client: ResponseStream (response.rs): head, messages, trailers
//!                └─ client, streaming calls: ClientCall (client_call.rs), a
//!                   ResponseStream shared with the RequestSink
//!          both sides read messages with one MessageReader (reader.rs)
//! ```

use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use aqueduct_wire::frame::Frame;
use futures_core::Stream;

use crate::metadata::MetadataMap;
use crate::status::Status;

mod client_call;
mod reader;
mod request;
mod response;

pub(crate) use client_call::{ClientCall, Side};
pub(crate) use request::{RequestStream, SingleMessage};
pub(crate) use response::ResponseStream;

/// A stream of inbound messages.
///
/// A server handler gets one for a client-streaming or bidirectional call; a client
/// gets one for the responses of a server-streaming or bidirectional call. Read it with
/// [`message`](Self::message) or as a [`Stream`].
///
/// On the client, the stream ends with `Ok(None)` only when the server finished with
/// `OK`; any other status is returned as the final `Err`, after which the stream is
/// done. Response headers and trailers are readable once they have arrived.
pub struct Streaming<T> {
    source: Source,
    _marker: PhantomData<fn() -> T>,
}

/// Where a [`Streaming`]'s inbound half lives.
// The owned variant is the common one (every client call, every single-message
// request); boxing it would cost an allocation per call.
#[allow(clippy::large_enum_variant)]
enum Source {
    /// Client side, unary and server-streaming calls: the response, owned.
    Response(ResponseStream),
    /// Server side, streaming requests: shared with the call guard, which drains
    /// the carrier into it whenever the call task wakes (see
    /// [`RequestStream::pump`]). Locked only from the call's own task, so never
    /// contended.
    Request(SharedRequest),
    /// Client side, client-streaming and bidirectional calls: shared with the
    /// call's [`RequestSink`](crate::RequestSink), which reads ahead to the final
    /// status when a send fails because the server has ended the call. Headers
    /// and trailers are moved out here as they arrive, so they can be lent out.
    Call {
        call: Arc<ClientCall>,
        headers: Option<MetadataMap>,
        trailers: Option<MetadataMap>,
    },
}

/// A request stream shared between a handler's [`Streaming`] and its call
/// guard.
pub(crate) type SharedRequest = Arc<Mutex<RequestStream>>;

pub(crate) fn lock_request(shared: &SharedRequest) -> std::sync::MutexGuard<'_, RequestStream> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> Streaming<T> {
    /// A client stream over a response it owns.
    pub(crate) fn response(inner: ResponseStream) -> Self {
        Self {
            source: Source::Response(inner),
            _marker: PhantomData,
        }
    }

    /// A client stream over an inbound half shared with the call's request sink.
    pub(crate) fn client_call(call: Arc<ClientCall>) -> Self {
        Self {
            source: Source::Call {
                call,
                headers: None,
                trailers: None,
            },
            _marker: PhantomData,
        }
    }

    /// A server stream over a request shared with the call guard.
    pub(crate) fn request(shared: SharedRequest) -> Self {
        Self {
            source: Source::Request(shared),
            _marker: PhantomData,
        }
    }

    /// Response headers (client side), once they have arrived. Use
    /// [`headers`](Self::headers) to wait for them.
    #[must_use]
    pub fn headers_now(&self) -> Option<&MetadataMap> {
        match &self.source {
            Source::Response(inner) => inner.headers.as_ref(),
            Source::Request(_) => None,
            Source::Call { headers, .. } => headers.as_ref(),
        }
    }

    /// Waits for the response headers (client side) and returns them.
    ///
    /// For a response that carried only a status ("trailers-only"), and on the
    /// server side, the headers are empty; a trailers-only status is returned by the
    /// next [`message`](Self::message).
    pub async fn headers(&mut self) -> Result<&MetadataMap, Status> {
        static NONE: std::sync::LazyLock<MetadataMap> = std::sync::LazyLock::new(MetadataMap::new);
        match &mut self.source {
            Source::Response(inner) => {
                poll_fn(|cx| inner.poll_headers(cx)).await?;
                Ok(inner.headers.get_or_insert_with(MetadataMap::new))
            }
            Source::Request(_) => Ok(&NONE),
            Source::Call {
                call,
                headers,
                trailers,
            } => {
                let polled =
                    poll_fn(|cx| call.poll(cx, Side::Reader, ResponseStream::poll_headers)).await;
                call.move_metadata(headers, trailers);
                polled?;
                Ok(headers.get_or_insert_with(MetadataMap::new))
            }
        }
    }

    /// Trailers (client side), once the stream has ended.
    #[must_use]
    pub fn trailers(&self) -> Option<&MetadataMap> {
        match &self.source {
            Source::Response(inner) => inner.trailers.as_ref(),
            Source::Request(_) => None,
            Source::Call { trailers, .. } => trailers.as_ref(),
        }
    }

    /// Takes the response headers and trailers (client side, after the end).
    pub(crate) fn take_metadata(&mut self) -> (MetadataMap, MetadataMap) {
        match &mut self.source {
            Source::Response(inner) => (inner.take_headers(), inner.take_trailers()),
            Source::Request(_) => (MetadataMap::new(), MetadataMap::new()),
            Source::Call {
                call,
                headers,
                trailers,
            } => {
                call.move_metadata(headers, trailers);
                (
                    headers.take().unwrap_or_default(),
                    trailers.take().unwrap_or_default(),
                )
            }
        }
    }

    /// Whether the last message returned arrived compressed.
    #[must_use]
    pub fn last_message_compressed(&self) -> bool {
        match &self.source {
            Source::Response(inner) => inner.reader.last_compressed,
            Source::Request(shared) => lock_request(shared).reader.last_compressed,
            Source::Call { call, .. } => call.lock().reader.last_compressed,
        }
    }
}

impl<T: prost::Message + Default + 'static> Streaming<T> {
    /// The next message; `Ok(None)` when the stream ended cleanly.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        poll_fn(|cx| self.poll_message(cx)).await
    }

    /// Polls for the next message.
    pub fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        match &mut self.source {
            Source::Response(inner) => poll_message_on(inner, cx),
            Source::Request(shared) => poll_message_on(&mut *lock_request(shared), cx),
            Source::Call {
                call,
                headers,
                trailers,
            } => {
                // Headers and trailers move out under the same lock.
                call.poll(cx, Side::Reader, |inbound, cx| {
                    let polled = poll_message_on(inbound, cx);
                    if polled.is_ready() {
                        inbound.move_metadata(headers, trailers);
                    }
                    polled
                })
            }
        }
    }
}

/// What [`Streaming`] reads messages from: either side's stream.
trait Frames {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, Status>>;
    fn reader(&mut self) -> &mut reader::MessageReader;
    fn fail(&mut self, status: Status) -> Status;
}

impl Frames for RequestStream {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, Status>> {
        RequestStream::poll_frame(self, cx)
    }

    fn reader(&mut self) -> &mut reader::MessageReader {
        &mut self.reader
    }

    fn fail(&mut self, status: Status) -> Status {
        RequestStream::fail(self, status)
    }
}

impl Frames for ResponseStream {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, Status>> {
        ResponseStream::poll_frame(self, cx)
    }

    fn reader(&mut self) -> &mut reader::MessageReader {
        &mut self.reader
    }

    fn fail(&mut self, status: Status) -> Status {
        ResponseStream::fail(self, status)
    }
}

fn poll_message_on<T: prost::Message + Default + 'static>(
    inner: &mut impl Frames,
    cx: &mut Context<'_>,
) -> Poll<Result<Option<T>, Status>> {
    match ready!(inner.poll_frame(cx)) {
        Ok(Some(frame)) => match inner.reader().decode(frame) {
            Ok(msg) => Poll::Ready(Ok(Some(msg))),
            Err(status) => Poll::Ready(Err(inner.fail(status))),
        },
        Ok(None) => Poll::Ready(Ok(None)),
        Err(status) => Poll::Ready(Err(status)),
    }
}

impl<T: prost::Message + Default + 'static> Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_message(cx).map(Result::transpose)
    }
}

impl<T> Drop for Streaming<T> {
    fn drop(&mut self) {
        // The sink keeps the shared response side alive: let go of it now, as
        // dropping an unshared one would.
        if let Source::Call { call, .. } = &self.source {
            call.drop_reader();
        }
    }
}

impl<T> fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Streaming");
        match &self.source {
            Source::Response(inner) => d
                .field("encoding", &inner.encoding())
                .field("headers", &inner.headers)
                .field("trailers", &inner.trailers),
            Source::Request(_) => d.field("source", &"server request stream"),
            Source::Call {
                headers, trailers, ..
            } => d.field("headers", headers).field("trailers", trailers),
        };
        d.finish_non_exhaustive()
    }
}
