//! [`Streaming`]: the inbound messages of a call, on either side.

use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use aqueduct_wire::compression::Encoding;
use aqueduct_wire::frame::{Decoder, Frame};
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

use crate::carrier::{NoResponse, RecvBody, ResponseFuture};
use crate::codec;
use crate::interceptor::{AnyMessage, ClientHooks, MessageHooks};
use crate::metadata::MetadataMap;
use crate::status::{Code, GRPC_STATUS, Status};

mod client_call;

pub(crate) use client_call::{ClientCall, Side};

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
    /// Owned: the client side, and single-message requests.
    Owned(Inbound),
    /// Server side, streaming requests: shared with the call guard, which drains h2
    /// into it whenever the call task wakes (see [`Inbound::pump`]). Locked only from
    /// the call's own task, so never contended.
    Shared(SharedInbound),
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

/// An inbound half shared between a handler's [`Streaming`] and its call guard.
pub(crate) type SharedInbound = Arc<Mutex<Inbound>>;

pub(crate) fn lock_inbound(shared: &SharedInbound) -> std::sync::MutexGuard<'_, Inbound> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The part of [`Streaming`] that does not depend on the message type.
pub(crate) struct Inbound {
    state: State,
    decoder: Decoder,
    /// The stream's `grpc-encoding`; compressed messages are decoded with it.
    encoding: Option<Encoding>,
    limit: usize,
    /// Client side: response headers, once received.
    headers: Option<MetadataMap>,
    /// Client side: trailers, once received.
    trailers: Option<MetadataMap>,
    /// Client side: the call's deadline.
    deadline: Option<Pin<Box<Sleep>>>,
    last_compressed: bool,
    /// Client side: the server refused the stream (`REFUSED_STREAM`) before
    /// processing it, so the call may be retried transparently.
    refused: bool,
    /// Bytes read from h2 so far, and how many of them were handed back to the
    /// peer as flow-control window. The difference is held here: complete messages
    /// not yet consumed (bounded by the window, as if h2 still held them).
    read: u64,
    released: u64,
    /// The body ended (reached while pumping; acted on once the decoder is empty).
    body_eof: bool,
    /// The body failed while pumping; reported after the messages before it.
    body_error: Option<Status>,
    /// Message hooks interceptors installed, run on each message received.
    messages: Option<Arc<MessageHooks>>,
    /// Client side, streaming calls: the interceptors owed the call's end.
    end: Option<Box<ClientHooks>>,
    /// Client side: the trailers' status, read ahead of messages still in the
    /// decoder by [`poll_final`](Self::poll_final) (`None` inside: `OK`).
    ahead: Option<Option<Status>>,
    /// Client side: the error the stream ended with, once returned to the
    /// reader (the state no longer holds it).
    outcome: Option<Status>,
}

enum State {
    /// Client: waiting for the response headers.
    Pending(ResponseFuture),
    /// Reading DATA frames.
    Body { recv: RecvBody, client: bool },
    /// Client: DATA is done, waiting for trailers.
    Trailers(RecvBody),
    /// Finished; a final status still to report, if any.
    Done(Option<Status>),
}

impl<T> Streaming<T> {
    pub(crate) fn new(inner: Inbound) -> Self {
        Self {
            source: Source::Owned(inner),
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

    /// A stream over an inbound half shared with the call guard.
    pub(crate) fn shared(shared: SharedInbound) -> Self {
        Self {
            source: Source::Shared(shared),
            _marker: PhantomData,
        }
    }

    /// Response headers (client side), once they have arrived. Use
    /// [`headers`](Self::headers) to wait for them.
    #[must_use]
    pub fn headers_now(&self) -> Option<&MetadataMap> {
        match &self.source {
            Source::Owned(inner) => inner.headers.as_ref(),
            Source::Shared(_) => None,
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
            Source::Owned(inner) => {
                poll_fn(|cx| inner.poll_headers(cx)).await?;
                Ok(inner.headers.get_or_insert_with(MetadataMap::new))
            }
            Source::Shared(_) => Ok(&NONE),
            Source::Call {
                call,
                headers,
                trailers,
            } => {
                let polled = poll_fn(|cx| call.poll(cx, Side::Reader, Inbound::poll_headers)).await;
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
            Source::Owned(inner) => inner.trailers.as_ref(),
            Source::Shared(_) => None,
            Source::Call { trailers, .. } => trailers.as_ref(),
        }
    }

    /// Takes the response headers and trailers (client side, after the end).
    pub(crate) fn take_metadata(&mut self) -> (MetadataMap, MetadataMap) {
        match &mut self.source {
            Source::Owned(inner) => (inner.take_headers(), inner.take_trailers()),
            Source::Shared(_) => (MetadataMap::new(), MetadataMap::new()),
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
            Source::Owned(inner) => inner.last_compressed,
            Source::Shared(shared) => lock_inbound(shared).last_compressed,
            Source::Call { call, .. } => call.lock().last_compressed,
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
            Source::Owned(inner) => poll_message_on(inner, cx),
            Source::Shared(shared) => poll_message_on(&mut lock_inbound(shared), cx),
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

fn poll_message_on<T: prost::Message + Default + 'static>(
    inner: &mut Inbound,
    cx: &mut Context<'_>,
) -> Poll<Result<Option<T>, Status>> {
    match ready!(inner.poll_frame(cx)) {
        Ok(Some(frame)) => {
            let compressed = frame.compressed;
            let mut msg: T = match codec::decode(frame, inner.encoding, inner.limit) {
                Ok(msg) => msg,
                Err(status) => return Poll::Ready(Err(inner.fail(status))),
            };
            if let Some(hooks) = &inner.messages {
                if let Err(status) = hooks.received(&mut msg as &mut dyn AnyMessage) {
                    return Poll::Ready(Err(inner.fail(status)));
                }
            }
            inner.last_compressed = compressed;
            Poll::Ready(Ok(Some(msg)))
        }
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
            Source::Owned(inner) => d
                .field("encoding", &inner.encoding)
                .field("headers", &inner.headers)
                .field("trailers", &inner.trailers),
            Source::Shared(_) => d.field("source", &"server request stream"),
            Source::Call {
                headers, trailers, ..
            } => d.field("headers", headers).field("trailers", trailers),
        };
        d.finish_non_exhaustive()
    }
}

impl Inbound {
    /// Server side: the request body.
    pub(crate) fn server(
        recv: RecvBody,
        encoding: Option<Encoding>,
        limit: usize,
        messages: Option<Arc<MessageHooks>>,
    ) -> Self {
        let mut inbound = Self::with_state(
            State::Body {
                recv,
                client: false,
            },
            encoding,
            limit,
            None,
        );
        inbound.messages = messages;
        inbound
    }

    /// Client side: runs `messages` on each response, and (for a streaming
    /// call) ends `end` with the call's final status.
    pub(crate) fn with_hooks(
        mut self,
        messages: Option<Arc<MessageHooks>>,
        end: Option<Box<ClientHooks>>,
    ) -> Self {
        self.messages = messages;
        self.end = end;
        self
    }

    /// Client side: a response still to come.
    pub(crate) fn client(
        response: ResponseFuture,
        limit: usize,
        deadline: Option<Instant>,
    ) -> Self {
        Self::with_state(
            State::Pending(response),
            None,
            limit,
            deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        )
    }

    fn with_state(
        state: State,
        encoding: Option<Encoding>,
        limit: usize,
        deadline: Option<Pin<Box<Sleep>>>,
    ) -> Self {
        Self {
            state,
            decoder: Decoder::new(limit),
            encoding,
            limit,
            headers: None,
            trailers: None,
            deadline,
            last_compressed: false,
            refused: false,
            read: 0,
            released: 0,
            body_eof: false,
            body_error: None,
            messages: None,
            end: None,
            ahead: None,
            outcome: None,
        }
    }

    /// Whether the server refused the stream unprocessed (`REFUSED_STREAM`).
    pub(crate) fn was_refused(&self) -> bool {
        self.refused
    }

    pub(crate) fn take_headers(&mut self) -> MetadataMap {
        self.headers.take().unwrap_or_default()
    }

    pub(crate) fn take_trailers(&mut self) -> MetadataMap {
        self.trailers.take().unwrap_or_default()
    }

    /// Marks the stream finished after `status` and hands it back for returning.
    fn fail(&mut self, status: Status) -> Status {
        self.state = State::Done(None);
        self.end_hooks(status.code());
        self.outcome = Some(status.clone());
        status
    }

    /// Client side: tells the interceptors how the call ended, once.
    fn end_hooks(&mut self, code: Code) {
        if let Some(mut end) = self.end.take() {
            end.end(code);
        }
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Result<(), Status> {
        if let Some(sleep) = self.deadline.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                self.deadline = None;
                return Err(self.fail(Status::deadline_exceeded("deadline exceeded")));
            }
        }
        Ok(())
    }

    /// Client side: waits until the response headers are in (or the call failed).
    pub(crate) fn poll_headers(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        if let Err(s) = self.poll_deadline(cx) {
            return Poll::Ready(Err(s));
        }
        if let State::Pending(fut) = &mut self.state {
            let response = match ready!(fut.poll_response(cx)) {
                Ok(r) => r,
                Err(NoResponse { status, refused }) => {
                    self.refused = refused;
                    return Poll::Ready(Err(self.fail(status)));
                }
            };
            match self.on_response(response) {
                Ok(()) => {}
                Err(s) => return Poll::Ready(Err(self.fail(s))),
            }
        }
        if let State::Done(Some(status)) = &self.state {
            if status.code() != Code::Ok {
                let status = status.clone();
                self.end_hooks(status.code());
                return Poll::Ready(Err(status));
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Client side: checks the response headers and moves to reading the body.
    fn on_response(&mut self, response: http::Response<RecvBody>) -> Result<(), Status> {
        let (parts, recv) = response.into_parts();
        let headers = parts.headers;
        if parts.status != http::StatusCode::OK {
            let code = Code::from_http_status(parts.status.as_u16());
            return Err(Status::new(
                code,
                format!("unexpected HTTP status code {} from server", parts.status),
            ));
        }
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !is_grpc_content_type(content_type) {
            return Err(Status::unknown(format!(
                "invalid content-type {:?} in response",
                String::from_utf8_lossy(content_type)
            )));
        }
        // A `-bin` value that is not base64 fails the call, whatever its
        // status says (as grpc-go does).
        crate::metadata::check_received_headers(&headers)?;
        if recv.is_end_stream() {
            // Trailers-only: the status is in the headers.
            let status = Status::from_trailers(&headers).unwrap_or_else(|| {
                Status::internal("server ended the response without a grpc-status")
            });
            self.trailers = Some(MetadataMap::from_headers(&headers));
            self.headers = Some(MetadataMap::new());
            self.state = State::Done(Some(status));
            return Ok(());
        }
        if let Some(enc) = headers.get("grpc-encoding") {
            match Encoding::from_name(enc.as_bytes()) {
                Some(e) => self.encoding = Some(e),
                None => {
                    return Err(Status::internal(format!(
                        "server sent unsupported grpc-encoding {:?}",
                        String::from_utf8_lossy(enc.as_bytes())
                    )));
                }
            }
        }
        self.headers = Some(MetadataMap::from_header_map(headers));
        self.state = State::Body { recv, client: true };
        Ok(())
    }

    /// Client side: the status the trailers give (`None`: `OK`); keeps them.
    fn on_trailers(&mut self, polled: Result<Option<http::HeaderMap>, Status>) -> Option<Status> {
        match polled {
            Ok(Some(trailers)) => {
                if let Err(status) = crate::metadata::check_received_headers(&trailers) {
                    return Some(status);
                }
                // The common case, `grpc-status: 0`, needs no Status built.
                let ok = trailers.get(GRPC_STATUS).map(|v| v.as_bytes()) == Some(b"0");
                let status = if ok {
                    None
                } else {
                    Some(Status::from_trailers(&trailers).unwrap_or_else(|| {
                        Status::internal("server sent trailers without grpc-status")
                    }))
                };
                self.trailers = Some(MetadataMap::from_header_map(trailers));
                status
            }
            Ok(None) => Some(Status::internal(
                "server closed the stream without trailers",
            )),
            Err(status) => Some(status),
        }
    }

    /// The next whole frame, or the end of the stream.
    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Frame>, Status>> {
        let polled = self.poll_frame_inner(cx);
        // The deadline timer is only polled when the stream would wait: checking it
        // on every message costs more than the message. A stream that keeps
        // delivering past the deadline is stopped by the server, which enforces
        // the same deadline.
        if polled.is_pending() {
            if let Err(s) = self.poll_deadline(cx) {
                return Poll::Ready(Err(s));
            }
        }
        polled
    }

    fn poll_frame_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, Status>> {
        loop {
            match &mut self.state {
                State::Pending(_) => {
                    ready!(self.poll_headers(cx))?;
                }
                State::Body { recv, client } => {
                    match self.decoder.decode() {
                        Ok(Some(frame)) => {
                            settle_window(recv, &mut self.decoder, self.read, &mut self.released);
                            return Poll::Ready(Ok(Some(frame)));
                        }
                        Ok(None) => {}
                        Err(e) => return Poll::Ready(Err(self.fail(frame_error(&e)))),
                    }
                    if let Some(status) = self.body_error.take() {
                        return Poll::Ready(Err(self.fail(status)));
                    }
                    if !self.body_eof {
                        let client = *client;
                        match ready!(recv_data(recv, cx, client)) {
                            Some(Ok(chunk)) => {
                                self.read += chunk.len() as u64;
                                self.decoder.push(chunk);
                                settle_window(
                                    recv,
                                    &mut self.decoder,
                                    self.read,
                                    &mut self.released,
                                );
                            }
                            Some(Err(status)) => {
                                return Poll::Ready(Err(self.fail(status)));
                            }
                            None => self.body_eof = true,
                        }
                        continue;
                    }
                    if let Err(e) = self.decoder.finish() {
                        return Poll::Ready(Err(self.fail(Status::internal(e.to_string()))));
                    }
                    let state = std::mem::replace(&mut self.state, State::Done(None));
                    if let Some(status) = self.ahead.take() {
                        // The trailers were read ahead (see `poll_final`).
                        self.state = State::Done(status);
                    } else if let State::Body { recv, client: true } = state {
                        self.state = State::Trailers(recv);
                    }
                }
                State::Trailers(recv) => {
                    let polled = ready!(recv.poll_trailers(cx));
                    let status = self.on_trailers(polled);
                    self.state = State::Done(status);
                }
                State::Done(status) => {
                    let result = match status.take() {
                        Some(s) if s.code() != Code::Ok => {
                            self.outcome = Some(s.clone());
                            Err(s)
                        }
                        _ => Ok(None),
                    };
                    self.end_hooks(result.as_ref().err().map_or(Code::Ok, Status::code));
                    return Poll::Ready(result);
                }
            }
        }
    }
}

impl Inbound {
    /// Drains whatever DATA h2 has for this stream into the decoder, without
    /// consuming messages. The call guard runs it each time the call task wakes, so
    /// a client streaming many tiny messages to a handler that is not reading yet
    /// does not exhaust h2's budget for buffered small frames (which would close
    /// the connection). Flow control still bounds what is held: window is handed
    /// back only for consumed messages and for a message still arriving.
    pub(crate) fn pump(&mut self, cx: &mut Context<'_>) {
        let State::Body { recv, client } = &mut self.state else {
            return;
        };
        let client = *client;
        while !self.body_eof && self.body_error.is_none() {
            // One whole message beyond the limit is the most worth holding.
            if self.decoder.buffered() > self.limit.saturating_add(aqueduct_wire::frame::HEADER_LEN)
            {
                break;
            }
            match recv_data(recv, cx, client) {
                Poll::Ready(Some(Ok(chunk))) => {
                    self.read += chunk.len() as u64;
                    self.decoder.push(chunk);
                }
                Poll::Ready(Some(Err(status))) => self.body_error = Some(status),
                Poll::Ready(None) => self.body_eof = true,
                Poll::Pending => break,
            }
        }
        settle_window(recv, &mut self.decoder, self.read, &mut self.released);
    }
}

/// The one message of a unary or server-streaming request, read straight from h2.
///
/// A lean sibling of [`Inbound`] for the most common request shape: without the
/// client-side state it is half the size, which keeps a unary call's future small
/// (the call future is boxed, and its size decides whether that allocation is a
/// cheap one). Resolves once the request stream has ended: to the message and
/// whether it arrived compressed, or to the status for a request that is empty,
/// has more than one message, or is malformed.
pub(crate) struct SingleMessage<T> {
    recv: RecvBody,
    decoder: Decoder,
    encoding: Option<Encoding>,
    /// The message, once framed; decoded when the stream has ended.
    first: Option<Frame>,
    _marker: PhantomData<fn() -> T>,
}

impl<T> SingleMessage<T> {
    pub(crate) fn new(recv: RecvBody, encoding: Option<Encoding>, limit: usize) -> Self {
        Self {
            recv,
            decoder: Decoder::new(limit),
            encoding,
            first: None,
            _marker: PhantomData,
        }
    }
}

impl<T: prost::Message + Default> Future for SingleMessage<T> {
    type Output = Result<(T, bool), Status>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match this.decoder.decode() {
                Ok(Some(frame)) => {
                    if this.first.is_some() {
                        return Poll::Ready(Err(Status::internal(
                            "grpc: more than one request message for a unary request",
                        )));
                    }
                    this.first = Some(frame);
                    continue;
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(frame_error(&e))),
            }
            match ready!(this.recv.poll_request_data(cx)) {
                Some(Ok(chunk)) => {
                    // Window goes back at once: what is held is bounded without it,
                    // by the limit on the one message and the error on a second.
                    this.recv.release(chunk.len());
                    this.decoder.push(chunk);
                }
                Some(Err(status)) => return Poll::Ready(Err(status)),
                None => break,
            }
        }
        if let Err(e) = this.decoder.finish() {
            return Poll::Ready(Err(Status::internal(e.to_string())));
        }
        let Some(frame) = this.first.take() else {
            return Poll::Ready(Err(Status::internal(
                "grpc: request stream ended with no message for a unary request",
            )));
        };
        let compressed = frame.compressed;
        let decoded = codec::decode(frame, this.encoding, this.decoder.limit());
        Poll::Ready(decoded.map(|m| (m, compressed)))
    }
}

/// The status for a byte stream that cannot be split into messages.
fn frame_error(e: &aqueduct_wire::frame::DecodeError) -> Status {
    let code = match e {
        aqueduct_wire::frame::DecodeError::TooLarge { .. } => Code::ResourceExhausted,
        _ => Code::Internal,
    };
    Status::new(code, e.to_string())
}

/// Hands flow-control window back to the peer for every byte read except those of
/// complete messages not yet consumed: consumed bytes, and a message still
/// arriving (it can only complete if the peer may send the rest).
fn settle_window(recv: &mut RecvBody, decoder: &mut Decoder, read: u64, released: &mut u64) {
    let target = if decoder.has_complete() {
        read.saturating_sub(decoder.buffered() as u64)
    } else {
        read
    };
    if target > *released {
        let n = usize::try_from(target - *released).unwrap_or(usize::MAX);
        recv.release(n);
        *released = target;
    }
}

/// Whether a `content-type` is gRPC: `application/grpc` or `application/grpc+...`
/// or `application/grpc;...`.
pub(crate) fn is_grpc_content_type(value: &[u8]) -> bool {
    match value.strip_prefix(b"application/grpc") {
        Some(rest) => rest.is_empty() || rest.starts_with(b"+") || rest.starts_with(b";"),
        None => false,
    }
}

/// The next chunk of a body, read by the client (`client`) or the server.
pub(crate) fn recv_data(
    recv: &mut RecvBody,
    cx: &mut Context<'_>,
    client: bool,
) -> Poll<Option<Result<bytes::Bytes, Status>>> {
    if client {
        recv.poll_response_data(cx)
    } else {
        recv.poll_request_data(cx)
    }
}
