//! The response side of a server call: headers, messages through flow control,
//! trailers.

use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use aqueduct_wire::compression::{AcceptEncodings, Encoding};
use aqueduct_wire::headers;
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, StatusCode};

use crate::carrier::{Respond, SendBody};
use crate::codec;
use crate::interceptor::{AnyMessage, ServerHooks};
use crate::metadata::MetadataMap;
use crate::status::Code;
use crate::status::Status;

const GRPC_ENCODING: http::HeaderName = http::HeaderName::from_static(headers::GRPC_ENCODING);
const GRPC_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static(headers::GRPC_ACCEPT_ENCODING);

/// Writes one call's response.
///
/// ```text
///  Fresh ──send headers──► Streaming ──trailers──► Done
///    └──── trailers-only (status in headers) ─────────┘
/// ```
pub(crate) struct ResponseWriter {
    respond: Option<Respond>,
    stream: Option<SendBody>,
    /// Bytes handed to flow control but not yet taken by h2 (waiting for window).
    pending: Bytes,
    /// Encoded messages not yet handed to h2: several small messages go out as one
    /// DATA frame. Flushed when it reaches `COALESCE_LIMIT`, when the handler
    /// yields, and when the call ends.
    out: BytesMut,
    /// Custom response headers, sent with the first message (or the trailers).
    headers: MetadataMap,
    /// Compression for response messages, already checked against what the client
    /// accepts.
    encoding: Option<Encoding>,
    accept: AcceptEncodings,
    send_limit: usize,
    done: bool,
    /// Whether the response headers carry `grpc-accept-encoding`.
    advertise_accept: bool,
    /// The route's interceptors, once they have run: their trailers go out with
    /// the status, and their `on_end` runs when the call ends.
    hooks: Option<Box<ServerHooks>>,
}

impl ResponseWriter {
    pub(crate) fn new(respond: Respond, accept: AcceptEncodings, send_limit: usize) -> Self {
        Self {
            respond: Some(respond),
            stream: None,
            pending: Bytes::new(),
            out: BytesMut::new(),
            headers: MetadataMap::new(),
            encoding: None,
            accept,
            send_limit,
            done: false,
            advertise_accept: false,
            hooks: None,
        }
    }

    /// Hands the writer the call's interceptors, after their `on_call` ran.
    pub(crate) fn install_hooks(&mut self, hooks: Box<ServerHooks>) {
        self.hooks = Some(hooks);
    }

    /// Runs the interceptors' `on_end` with the call's final code, once.
    fn end_hooks(&mut self, code: Code) {
        if let Some(hooks) = self.hooks.take() {
            hooks.end(code);
        }
    }

    pub(crate) fn headers_sent(&self) -> bool {
        self.respond.is_none()
    }

    /// Chooses compression for the response, if the client accepts it.
    pub(crate) fn set_compression(&mut self, encoding: Option<Encoding>) {
        if !self.headers_sent() {
            self.encoding =
                encoding.filter(|e| *e != Encoding::Identity && self.accept.contains(*e));
        }
    }

    pub(crate) fn headers_mut(&mut self) -> Option<&mut MetadataMap> {
        (!self.headers_sent()).then_some(&mut self.headers)
    }

    fn base_response(&self) -> http::Response<()> {
        let mut response = http::Response::new(());
        *response.status_mut() = StatusCode::OK;
        let h = response.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(aqueduct_wire::CONTENT_TYPE),
        );
        if self.advertise_accept {
            h.insert(
                GRPC_ACCEPT_ENCODING,
                HeaderValue::from_static(Encoding::accept_header()),
            );
        }
        response
    }

    /// Adds `grpc-accept-encoding` to the response headers: for a client whose
    /// `grpc-encoding` was refused, or that compresses, so it learns what we take.
    pub(crate) fn advertise_accept_encoding(&mut self) {
        self.advertise_accept = true;
    }

    fn send_headers(&mut self) -> Result<(), Status> {
        let Some(respond) = self.respond.take() else {
            return Ok(());
        };
        let mut response = self.base_response();
        let h = response.headers_mut();
        if let Some(enc) = self.encoding {
            h.insert(GRPC_ENCODING, HeaderValue::from_static(enc.name()));
        }
        self.headers.write_into(h);
        let stream = respond.send_response(response, false)?;
        self.stream = Some(stream);
        Ok(())
    }

    /// Encodes one message into the coalescing buffer (sending the headers first if
    /// this is the first message); [`poll_flush`](Self::poll_flush) sends it.
    ///
    /// The call's message hooks see it first; one refusing it ends the call
    /// with its status.
    pub(crate) fn queue_message<M: prost::Message + 'static>(
        &mut self,
        msg: &mut M,
        compress: bool,
    ) -> Result<(), Status> {
        if self.done {
            return Err(Status::internal("response already finished"));
        }
        if let Some(messages) = self.hooks.as_ref().and_then(|h| h.messages()) {
            if let Err(status) = messages.sending(msg as &mut dyn AnyMessage) {
                self.finish(&status, &MetadataMap::new());
                return Err(status);
            }
        }
        let encoding = if compress { self.encoding } else { None };
        codec::encode_into(msg, encoding, self.send_limit, &mut self.out)?;
        self.send_headers()
    }

    /// Bytes queued but not yet taken by h2.
    pub(crate) fn buffered(&self) -> usize {
        self.out.len() + self.pending.len()
    }

    /// Pushes everything queued through flow control.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        loop {
            if !self.pending.is_empty() {
                let Some(stream) = self.stream.as_mut() else {
                    return Poll::Ready(Err(Status::internal("response stream missing")));
                };
                ready!(stream.poll_send(&mut self.pending, false, cx))?;
            }
            if self.out.is_empty() {
                return Poll::Ready(Ok(()));
            }
            self.pending = self.out.split().freeze();
        }
    }

    /// Ready once the client has reset the stream or the connection is gone.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(respond) = self.respond.as_mut() {
            respond.poll_reset(cx)
        } else if let Some(stream) = self.stream.as_mut() {
            stream.poll_reset(cx)
        } else {
            Poll::Pending
        }
    }

    /// Ends the response with `status` and `trailers`: as trailers after the
    /// messages, or as a trailers-only response when nothing was sent yet.
    pub(crate) fn finish(&mut self, status: &Status, trailers: &MetadataMap) {
        self.finish_with(status.code(), trailers, |h| status.write_trailers(h));
    }

    /// Ends the response with `OK` and `trailers`.
    pub(crate) fn finish_ok(&mut self, trailers: &MetadataMap) {
        self.finish_with(Code::Ok, trailers, Status::write_ok);
    }

    fn finish_with(
        &mut self,
        code: Code,
        trailers: &MetadataMap,
        write_status: impl FnOnce(&mut HeaderMap),
    ) {
        if self.done {
            return;
        }
        self.done = true;
        let hooks = self.hooks.take();
        let hook_trailers = hooks.as_ref().map(|h| h.trailers());
        self.pending = Bytes::new();
        self.out.clear();
        if let Some(respond) = self.respond.take() {
            let mut response = self.base_response();
            let h = response.headers_mut();
            self.headers.write_into(h);
            trailers.write_into(h);
            if let Some(extra) = hook_trailers {
                extra.write_into(h);
            }
            write_status(h);
            let _ = respond.send_response(response, true);
        } else if let Some(stream) = self.stream.as_mut() {
            let mut h = HeaderMap::new();
            trailers.write_into(&mut h);
            if let Some(extra) = hook_trailers {
                extra.write_into(&mut h);
            }
            write_status(&mut h);
            stream.send_trailers(h);
        }
        if let Some(hooks) = hooks {
            hooks.end(code);
        }
    }

    /// Sends a plain HTTP error response (not gRPC), such as 415.
    pub(crate) fn finish_http(&mut self, code: StatusCode, status: &Status) {
        self.done = true;
        self.end_hooks(status.code());
        if let Some(respond) = self.respond.take() {
            let mut response = http::Response::new(());
            *response.status_mut() = code;
            // A gRPC status too, so gRPC clients that read it get the precise code.
            status.write_trailers(response.headers_mut());
            let _ = respond.send_response(response, true);
        }
    }
}

impl Drop for ResponseWriter {
    fn drop(&mut self) {
        // Ended without a status sent: the client went away first.
        self.end_hooks(Code::Cancelled);
    }
}

/// A response writer shared between a streaming handler's sink and the call task,
/// which watches it for resets while the handler runs. The lock is only ever taken
/// from the one task that runs the call, so it is never contended.
pub(crate) type SharedWriter = Arc<Mutex<ResponseWriter>>;

pub(crate) fn lock(w: &SharedWriter) -> std::sync::MutexGuard<'_, ResponseWriter> {
    w.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many bytes of small messages a streaming response queues before `send`
/// waits for them to go out: the largest DATA frame coalescing produces.
pub(crate) const COALESCE_LIMIT: usize = 32 * 1024;

/// The outbound messages of a server-streaming or bidirectional call.
///
/// [`send`](Self::send) waits for HTTP/2 flow control, so a slow client slows the
/// handler instead of filling memory. The handler gets it as `&mut`, so two tasks
/// cannot interleave sends on one stream, and it cannot outlive the call.
pub struct ServerSink<T> {
    writer: SharedWriter,
    trailers: MetadataMap,
    _marker: PhantomData<fn(T)>,
}

impl<T> ServerSink<T> {
    pub(crate) fn new(writer: SharedWriter) -> Self {
        Self {
            writer,
            trailers: MetadataMap::new(),
            _marker: PhantomData,
        }
    }

    pub(crate) fn writer(&self) -> &SharedWriter {
        &self.writer
    }

    pub(crate) fn take_trailers(&mut self) -> MetadataMap {
        std::mem::take(&mut self.trailers)
    }

    /// Response headers; `None` once they have been sent (with the first message).
    pub fn with_headers<R>(&mut self, f: impl FnOnce(&mut MetadataMap) -> R) -> Option<R> {
        lock(&self.writer).headers_mut().map(f)
    }

    /// Trailers sent when the call ends, whatever its status.
    pub fn trailers_mut(&mut self) -> &mut MetadataMap {
        &mut self.trailers
    }

    /// Compresses the response messages with `encoding` if the client accepts it.
    /// Takes effect only before the first message.
    pub fn set_compression(&mut self, encoding: Encoding) {
        lock(&self.writer).set_compression(Some(encoding));
    }
}

impl<T: prost::Message + 'static> ServerSink<T> {
    /// Sends one message.
    ///
    /// Small messages are coalesced: the message is queued and goes out, with any
    /// others queued after it, as one DATA frame when the handler next waits on
    /// something else, when 32 KiB are queued, or when the call
    /// ends. Once that many bytes are queued, `send` waits for HTTP/2 flow control,
    /// so a slow client slows the handler instead of filling memory.
    ///
    /// Fails when the client has gone away or reset the stream; the handler should
    /// then return.
    pub async fn send(&mut self, msg: T) -> Result<(), Status> {
        self.send_with(msg, true).await
    }

    /// Sends one message, compressed or not (when compression is set), waiting for
    /// flow control.
    pub async fn send_with(&mut self, mut msg: T, compress: bool) -> Result<(), Status> {
        poll_fn(|cx| {
            let mut w = lock(&self.writer);
            if w.buffered() >= COALESCE_LIMIT {
                w.poll_flush(cx)
            } else {
                Poll::Ready(Ok(()))
            }
        })
        .await?;
        lock(&self.writer).queue_message(&mut msg, compress)
    }
}

impl<T> fmt::Debug for ServerSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSink").finish_non_exhaustive()
    }
}

/// Called each time a streaming handler yields: flushes what it queued (so small
/// messages sent in a burst share a DATA frame), then reports whether the client
/// has reset the stream.
pub(crate) fn poll_yield(w: &SharedWriter, cx: &mut Context<'_>) -> Poll<()> {
    let mut w = lock(w);
    // A flush error means the stream is gone; poll_reset reports it.
    let _ = w.poll_flush(cx);
    w.poll_reset(cx)
}
