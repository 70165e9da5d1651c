//! The server's side: a call's request messages, for a handler.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use aqueduct_wire::compression::Encoding;
use aqueduct_wire::frame::{Decoder, Frame};

use super::reader::{MessageReader, frame_error};
use crate::carrier::RecvBody;
use crate::codec;
use crate::interceptor::MessageHooks;
use crate::status::Status;

/// The request messages of a client-streaming or bidirectional call.
pub(crate) struct RequestStream {
    /// The body; `None` once it has ended or failed.
    recv: Option<RecvBody>,
    pub(super) reader: MessageReader,
}

impl RequestStream {
    pub(crate) fn new(
        recv: RecvBody,
        encoding: Option<Encoding>,
        limit: usize,
        messages: Option<Arc<MessageHooks>>,
    ) -> Self {
        let mut reader = MessageReader::new(encoding, limit);
        reader.messages = messages;
        Self {
            recv: Some(recv),
            reader,
        }
    }

    /// The next whole frame, or the end of the stream.
    pub(super) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Frame>, Status>> {
        let Some(recv) = self.recv.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        match ready!(self.reader.poll_body(recv, cx, RecvBody::poll_request_data)) {
            Ok(Some(frame)) => Poll::Ready(Ok(Some(frame))),
            Ok(None) => {
                self.recv = None;
                Poll::Ready(Ok(None))
            }
            Err(status) => Poll::Ready(Err(self.fail(status))),
        }
    }

    /// Ends the stream after `status` and hands it back for returning.
    pub(super) fn fail(&mut self, status: Status) -> Status {
        self.recv = None;
        status
    }

    /// Drains what the carrier has into the decoder (see
    /// [`MessageReader::pump`]); the call guard runs it whenever the call
    /// task wakes.
    pub(crate) fn pump(&mut self, cx: &mut Context<'_>) {
        if let Some(recv) = self.recv.as_mut() {
            self.reader.pump(recv, cx, RecvBody::poll_request_data);
        }
    }
}

/// The one message of a unary or server-streaming request, read straight from
/// the carrier.
///
/// A lean sibling of [`RequestStream`] for the most common request shape:
/// small, which keeps a unary call's future small (the call future is boxed,
/// and its size decides whether that allocation is a cheap one). Resolves once
/// the request stream has ended: to the message and whether it arrived
/// compressed, or to the status for a request that is empty, has more than one
/// message, or is malformed.
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
