//! The client's side: a call's response, from its head to its trailers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use aqueduct_wire::compression::Encoding;
use aqueduct_wire::frame::Frame;
use tokio::time::{Instant, Sleep};

use aqueduct_wire::headers as wire_headers;
use aqueduct_wire::response::{
    ResponseError, ResponseErrorKind, ResponseHead, ResponseParser, TrailersParser,
};

use super::reader::MessageReader;
use crate::carrier::{NoResponse, RecvBody, ResponseFuture};
use crate::interceptor::{ClientHooks, MessageHooks};
use crate::metadata::MetadataMap;
use crate::status::{Code, Status};

/// A call's response: the head to wait for, the messages, the trailers.
pub(crate) struct ResponseStream {
    pub(super) state: State,
    pub(super) reader: MessageReader,
    /// Response headers, once received.
    pub(super) headers: Option<MetadataMap>,
    /// Trailers, once received.
    pub(super) trailers: Option<MetadataMap>,
    /// The call's deadline.
    pub(super) deadline: Option<Pin<Box<Sleep>>>,
    /// The server refused the stream (`REFUSED_STREAM`) before processing it,
    /// so the call may be retried transparently.
    refused: bool,
    /// For streaming calls: the interceptors owed the call's end.
    pub(super) end: Option<Box<ClientHooks>>,
    /// The trailers' status, read ahead of messages still in the decoder by
    /// [`poll_final`](Self::poll_final) (`None` inside: `OK`).
    pub(super) ahead: Option<Option<Status>>,
    /// The error the stream ended with, once returned to the reader (the
    /// state no longer holds it).
    pub(super) outcome: Option<Status>,
}

pub(super) enum State {
    /// Waiting for the response headers.
    Pending(ResponseFuture),
    /// Reading DATA frames.
    Body(RecvBody),
    /// DATA is done, waiting for trailers.
    Trailers(RecvBody),
    /// Finished; a final status still to report, if any.
    Done(Option<Status>),
}

impl ResponseStream {
    /// A response still to come.
    pub(crate) fn new(response: ResponseFuture, limit: usize, deadline: Option<Instant>) -> Self {
        Self {
            state: State::Pending(response),
            reader: MessageReader::new(None, limit),
            headers: None,
            trailers: None,
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
            refused: false,
            end: None,
            ahead: None,
            outcome: None,
        }
    }

    /// Runs `messages` on each response, and (for a streaming call) ends `end`
    /// with the call's final status.
    pub(crate) fn with_hooks(
        mut self,
        messages: Option<Arc<MessageHooks>>,
        end: Option<Box<ClientHooks>>,
    ) -> Self {
        self.reader.messages = messages;
        self.end = end;
        self
    }

    /// Whether the server refused the stream unprocessed (`REFUSED_STREAM`).
    pub(crate) fn was_refused(&self) -> bool {
        self.refused
    }

    pub(super) fn encoding(&self) -> Option<Encoding> {
        self.reader.encoding
    }

    pub(crate) fn take_headers(&mut self) -> MetadataMap {
        self.headers.take().unwrap_or_default()
    }

    pub(crate) fn take_trailers(&mut self) -> MetadataMap {
        self.trailers.take().unwrap_or_default()
    }

    /// Marks the stream finished after `status` and hands it back for returning.
    pub(super) fn fail(&mut self, status: Status) -> Status {
        self.state = State::Done(None);
        self.end_hooks(status.code());
        self.outcome = Some(status.clone());
        status
    }

    /// Tells the interceptors how the call ended, once.
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

    /// Waits until the response headers are in (or the call failed).
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

    /// Checks the response headers (aqueduct-wire's response parser) and
    /// moves to reading the body.
    fn on_response(&mut self, response: http::Response<RecvBody>) -> Result<(), Status> {
        let (parts, recv) = response.into_parts();
        let headers = parts.headers;
        let mut parser = ResponseParser::new();
        parser.field(
            wire_headers::STATUS.as_bytes(),
            parts.status.as_str().as_bytes(),
        );
        for (name, value) in &headers {
            parser.field(name.as_str().as_bytes(), value.as_bytes());
        }
        match parser.finish(recv.is_end_stream()).map_err(wire_error)? {
            ResponseHead::TrailersOnly(status) => {
                // The status is in the headers.
                let status = match status {
                    Ok(received) => {
                        Status::from_received(received, MetadataMap::from_headers(&headers))
                    }
                    Err(e) => wire_error(e),
                };
                self.trailers = Some(MetadataMap::from_headers(&headers));
                self.headers = Some(MetadataMap::new());
                self.state = State::Done(Some(status));
            }
            ResponseHead::Headers { encoding, .. } => {
                if let Some(encoding) = encoding {
                    self.reader.encoding = Some(encoding);
                }
                self.headers = Some(MetadataMap::from_header_map(headers));
                self.state = State::Body(recv);
            }
        }
        Ok(())
    }

    /// The status the trailers give (`None`: `OK`); keeps them.
    fn on_trailers(&mut self, polled: Result<Option<http::HeaderMap>, Status>) -> Option<Status> {
        let trailers = match polled {
            Ok(Some(trailers)) => trailers,
            Ok(None) => return Some(wire_error(ResponseError::no_trailers())),
            Err(status) => return Some(status),
        };
        let mut parser = TrailersParser::new();
        for (name, value) in &trailers {
            parser.field(name.as_str().as_bytes(), value.as_bytes());
        }
        let status = match parser.finish() {
            // A `-bin` value that is not base64 fails the call, whatever its
            // status says (as grpc-go does); the trailers are not kept.
            Err(e) if e.kind() == ResponseErrorKind::BinaryMetadata => return Some(wire_error(e)),
            // The common case, `grpc-status: 0`, needs no Status built.
            Ok(received) if received.is_plain_ok() => None,
            Ok(received) => Some(Status::from_received(
                received,
                MetadataMap::from_headers(&trailers),
            )),
            Err(e) => Some(wire_error(e)),
        };
        self.trailers = Some(MetadataMap::from_header_map(trailers));
        status
    }

    /// The next whole frame, or the end of the stream.
    pub(super) fn poll_frame(
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
                State::Body(recv) => {
                    match ready!(
                        self.reader
                            .poll_body(recv, cx, RecvBody::poll_response_data)
                    ) {
                        Ok(Some(frame)) => return Poll::Ready(Ok(Some(frame))),
                        Ok(None) => {}
                        Err(status) => return Poll::Ready(Err(self.fail(status))),
                    }
                    let state = std::mem::replace(&mut self.state, State::Done(None));
                    if let Some(status) = self.ahead.take() {
                        // The trailers were read ahead (see `poll_final`).
                        self.state = State::Done(status);
                    } else if let State::Body(recv) = state {
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

    /// Moves headers and trailers that have arrived into a reader's slots.
    pub(super) fn move_metadata(
        &mut self,
        headers: &mut Option<MetadataMap>,
        trailers: &mut Option<MetadataMap>,
    ) {
        if headers.is_none() && self.headers.is_some() {
            *headers = self.headers.take();
        }
        if trailers.is_none() && self.trailers.is_some() {
            *trailers = self.trailers.take();
        }
    }

    /// The call's final status if it is known without waiting.
    pub(super) fn known_final(&self) -> Option<Status> {
        if let Some(status) = &self.outcome {
            return Some(status.clone());
        }
        match &self.state {
            State::Done(Some(status)) => Some(status.clone()),
            State::Done(None) => Some(finished_ok()),
            State::Body(_) => self
                .reader
                .body_error
                .clone()
                .or_else(|| self.ahead.clone().map(|s| s.unwrap_or_else(finished_ok))),
            State::Pending(_) | State::Trailers(_) => None,
        }
    }

    /// The call's final status, read ahead of the reader. Takes the rest of
    /// the body into the decoder (flow control bounds it: window goes back
    /// only for consumed messages and a message still arriving) and reads the
    /// trailers, leaving every message, and the status itself, for the reader
    /// to get as if nothing had looked.
    pub(crate) fn poll_final(&mut self, cx: &mut Context<'_>) -> Poll<Status> {
        loop {
            // What is known already is the answer; the deadline only ends a wait.
            if let Some(status) = self.known_final() {
                return Poll::Ready(status);
            }
            // The timer is left running: the reader learns of it as well.
            if let Some(sleep) = self.deadline.as_mut() {
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Status::deadline_exceeded("deadline exceeded"));
                }
            }
            match &mut self.state {
                State::Pending(fut) => match ready!(fut.poll_response(cx)) {
                    Ok(response) => {
                        if let Err(status) = self.on_response(response) {
                            self.state = State::Done(Some(status));
                        }
                    }
                    Err(NoResponse { status, refused }) => {
                        self.refused = refused;
                        self.state = State::Done(Some(status));
                    }
                },
                State::Body(recv) => {
                    if self.reader.body_eof {
                        let polled = ready!(recv.poll_trailers(cx));
                        self.ahead = Some(self.on_trailers(polled));
                        continue;
                    }
                    ready!(
                        self.reader
                            .poll_read_ahead(recv, cx, RecvBody::poll_response_data)
                    );
                }
                State::Trailers(recv) => {
                    let polled = ready!(recv.poll_trailers(cx));
                    let status = self.on_trailers(polled);
                    self.state = State::Done(status);
                }
                State::Done(_) => {}
            }
        }
    }
}

/// The final status of a call the server finished with `OK`.
fn finished_ok() -> Status {
    Status::new(
        Code::Ok,
        "the server already finished the call with OK; its response has the result",
    )
}

/// The status for a response the checks refused.
fn wire_error(e: ResponseError) -> Status {
    Status::new(e.code(), e.into_message())
}
