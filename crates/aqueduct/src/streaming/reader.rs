//! The message reader both sides share: a call's body into whole gRPC
//! messages, with the receive limit, the stream's `grpc-encoding`, the
//! message hooks interceptors installed, and flow-control window handed back
//! only for what is consumed.

use std::sync::Arc;
use std::task::{Context, Poll, ready};

use aqueduct_wire::compression::Encoding;
use aqueduct_wire::frame::{Decoder, Frame};
use bytes::Bytes;

use crate::carrier::RecvBody;
use crate::codec;
use crate::interceptor::{AnyMessage, MessageHooks};
use crate::status::{Code, Status};

/// How a side reads its body's next chunk: [`RecvBody::poll_request_data`] on
/// the server, [`RecvBody::poll_response_data`] on the client.
pub(crate) trait ReadData:
    Fn(&mut RecvBody, &mut Context<'_>) -> Poll<Option<Result<Bytes, Status>>>
{
}

impl<F> ReadData for F where
    F: Fn(&mut RecvBody, &mut Context<'_>) -> Poll<Option<Result<Bytes, Status>>>
{
}

/// A body's bytes into messages.
pub(crate) struct MessageReader {
    decoder: Decoder,
    /// The stream's `grpc-encoding`; compressed messages are decoded with it.
    pub(super) encoding: Option<Encoding>,
    pub(super) limit: usize,
    pub(super) last_compressed: bool,
    /// Bytes read from the carrier so far, and how many of them were handed
    /// back to the peer as flow-control window. The difference is held here:
    /// complete messages not yet consumed (bounded by the window, as if the
    /// carrier still held them).
    read: u64,
    released: u64,
    /// The body ended (reached while pumping; acted on once the decoder is empty).
    pub(super) body_eof: bool,
    /// The body failed while pumping; reported after the messages before it.
    pub(super) body_error: Option<Status>,
    /// Message hooks interceptors installed, run on each message received.
    pub(super) messages: Option<Arc<MessageHooks>>,
}

impl MessageReader {
    pub(super) fn new(encoding: Option<Encoding>, limit: usize) -> Self {
        Self {
            decoder: Decoder::new(limit),
            encoding,
            limit,
            last_compressed: false,
            read: 0,
            released: 0,
            body_eof: false,
            body_error: None,
            messages: None,
        }
    }

    /// The next whole frame of `recv`, or `Ok(None)` once the body has ended
    /// cleanly (no partial message left). An error is the stream's end.
    pub(super) fn poll_body(
        &mut self,
        recv: &mut RecvBody,
        cx: &mut Context<'_>,
        read_data: impl ReadData,
    ) -> Poll<Result<Option<Frame>, Status>> {
        loop {
            match self.decoder.decode() {
                Ok(Some(frame)) => {
                    self.settle_window(recv);
                    return Poll::Ready(Ok(Some(frame)));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(frame_error(&e))),
            }
            if let Some(status) = self.body_error.take() {
                return Poll::Ready(Err(status));
            }
            if self.body_eof {
                return Poll::Ready(match self.decoder.finish() {
                    Ok(()) => Ok(None),
                    Err(e) => Err(Status::internal(e.to_string())),
                });
            }
            match ready!(read_data(recv, cx)) {
                Some(Ok(chunk)) => {
                    self.read += chunk.len() as u64;
                    self.decoder.push(chunk);
                    self.settle_window(recv);
                }
                Some(Err(status)) => return Poll::Ready(Err(status)),
                None => self.body_eof = true,
            }
        }
    }

    /// Takes one chunk of `recv` into the decoder, without consuming
    /// messages: `Pending` when none is there yet. An error or the end is
    /// kept for [`poll_body`](Self::poll_body) to report after the messages.
    pub(super) fn poll_read_ahead(
        &mut self,
        recv: &mut RecvBody,
        cx: &mut Context<'_>,
        read_data: impl ReadData,
    ) -> Poll<()> {
        let polled = read_data(recv, cx);
        let ready = match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                self.read += chunk.len() as u64;
                self.decoder.push(chunk);
                true
            }
            Poll::Ready(Some(Err(status))) => {
                self.body_error = Some(status);
                true
            }
            Poll::Ready(None) => {
                self.body_eof = true;
                true
            }
            Poll::Pending => false,
        };
        self.settle_window(recv);
        if ready {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Drains whatever DATA the carrier has for this stream into the decoder,
    /// without consuming messages. The server's call guard runs it each time
    /// the call task wakes, so a client streaming many tiny messages to a
    /// handler that is not reading yet does not exhaust h2's budget for
    /// buffered small frames (which would close the connection). Flow control
    /// still bounds what is held: window is handed back only for consumed
    /// messages and for a message still arriving.
    pub(super) fn pump(
        &mut self,
        recv: &mut RecvBody,
        cx: &mut Context<'_>,
        read_data: impl ReadData,
    ) {
        while !self.body_eof && self.body_error.is_none() {
            // One whole message beyond the limit is the most worth holding.
            if self.decoder.buffered() > self.limit.saturating_add(aqueduct_wire::frame::HEADER_LEN)
            {
                break;
            }
            match read_data(recv, cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    self.read += chunk.len() as u64;
                    self.decoder.push(chunk);
                }
                Poll::Ready(Some(Err(status))) => self.body_error = Some(status),
                Poll::Ready(None) => self.body_eof = true,
                Poll::Pending => break,
            }
        }
        self.settle_window(recv);
    }

    /// Decodes `frame` into a message and runs the message hooks on it.
    pub(super) fn decode<T: prost::Message + Default + 'static>(
        &mut self,
        frame: Frame,
    ) -> Result<T, Status> {
        let compressed = frame.compressed;
        let mut msg: T = codec::decode(frame, self.encoding, self.limit)?;
        if let Some(hooks) = &self.messages {
            hooks.received(&mut msg as &mut dyn AnyMessage)?;
        }
        self.last_compressed = compressed;
        Ok(msg)
    }

    /// Hands flow-control window back to the peer for every byte read except
    /// those of complete messages not yet consumed: consumed bytes, and a
    /// message still arriving (it can only complete if the peer may send the
    /// rest).
    fn settle_window(&mut self, recv: &mut RecvBody) {
        let target = if self.decoder.has_complete() {
            self.read.saturating_sub(self.decoder.buffered() as u64)
        } else {
            self.read
        };
        if target > self.released {
            let n = usize::try_from(target - self.released).unwrap_or(usize::MAX);
            recv.release(n);
            self.released = target;
        }
    }
}

/// The status for a byte stream that cannot be split into messages.
pub(super) fn frame_error(e: &aqueduct_wire::frame::DecodeError) -> Status {
    let code = match e {
        aqueduct_wire::frame::DecodeError::TooLarge { .. } => Code::ResourceExhausted,
        _ => Code::Internal,
    };
    Status::new(code, e.to_string())
}
