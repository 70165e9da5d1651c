//! The response side of a client-streaming or bidirectional call, shared by
//! the response [`Streaming`](super::Streaming) (the reader) and the call's
//! [`RequestSink`](crate::RequestSink), which reads ahead to the call's final
//! status when a send fails because the server has ended the call.
//!
//! ```text
//!  RequestSink ── send fails ──► ClientCall::final_status ─┐
//!                                                          ├─► Inbound (one, locked)
//!  Streaming (responses) ── message() ─────────────────────┘     poll_final: body into
//!                                                                the decoder, trailers
//!                                                                read ahead, all kept
//! ```
//!
//! Why it holds: a send fails only once the stream can take no more, that is
//! when the server reset or ended it or the connection failed, and each of
//! those also ends the response side (the trailers arrive, or the carrier
//! reports the reset or the broken connection); the call's deadline, if any,
//! bounds the wait as well.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker, ready};

use super::{Inbound, NoResponse, State, recv_data, settle_window};
use crate::metadata::MetadataMap;
use crate::status::{Code, Status};

/// The inbound half of a client-streaming or bidirectional call, shared by its
/// response stream (the reader) and its request sink.
///
/// Both may poll it from different tasks, and the carrier keeps one waker per
/// stream, so neither may register its own: each stores its waker here and
/// polls with the joint waker, which wakes both. Without that, the sink's poll
/// would replace the reader's waker and the reader would never learn of the
/// data the sink's wake-up brought.
pub(crate) struct ClientCall {
    inbound: Mutex<Inbound>,
    wakers: Arc<JointWaker>,
    joint: Waker,
    /// The reader was dropped: the response side is gone (released to the
    /// carrier), and a failed send reports the carrier's own error.
    reader_gone: AtomicBool,
}

/// Which side of a [`ClientCall`] polls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Reader = 0,
    Sink = 1,
}

/// The wakers of both sides of a [`ClientCall`]; waking it wakes both.
#[derive(Default)]
struct JointWaker(Mutex<[Option<Waker>; 2]>);

impl Wake for JointWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl ClientCall {
    pub(crate) fn new(inbound: Inbound) -> Arc<Self> {
        let wakers = Arc::new(JointWaker::default());
        Arc::new(Self {
            inbound: Mutex::new(inbound),
            joint: Waker::from(wakers.clone()),
            wakers,
            reader_gone: AtomicBool::new(false),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inbound> {
        self.inbound.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Polls the inbound half for `side`, with the joint waker.
    pub(crate) fn poll<R>(
        &self,
        cx: &mut Context<'_>,
        side: Side,
        f: impl FnOnce(&mut Inbound, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        {
            let mut slots = self.wakers.0.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = &mut slots[side as usize];
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        let mut joint = Context::from_waker(&self.joint);
        f(&mut self.lock(), &mut joint)
    }

    /// The call's final status, for a sink whose send failed with
    /// `send_error`: read ahead on the response side (see
    /// [`Inbound::poll_final`]), or `send_error` itself once the reader is
    /// gone and nobody wants the responses.
    pub(crate) async fn final_status(&self, send_error: Status) -> Status {
        if self.reader_gone.load(Ordering::Acquire) {
            // What the reader learned before it went, if it learned the end.
            return self.lock().outcome.clone().unwrap_or(send_error);
        }
        poll_fn(|cx| self.poll(cx, Side::Sink, Inbound::poll_final)).await
    }

    /// The reader was dropped: lets go of the response side at once, as an
    /// unshared one would be (the carrier frees its buffers and window, the
    /// server learns nobody reads), and tells the interceptors the call
    /// ended, cancelled, as dropping it did before it was shared.
    pub(super) fn drop_reader(&self) {
        let (state, end) = {
            let mut inbound = self.lock();
            // A final status already known stays for the sink to report.
            inbound.outcome = inbound.known_final();
            let state = std::mem::replace(&mut inbound.state, State::Done(None));
            (state, inbound.end.take())
        };
        self.reader_gone.store(true, Ordering::Release);
        drop((state, end));
    }

    /// Moves headers and trailers that have arrived into the reader's slots.
    pub(super) fn move_metadata(
        &self,
        headers: &mut Option<MetadataMap>,
        trailers: &mut Option<MetadataMap>,
    ) {
        if headers.is_some() && trailers.is_some() {
            return;
        }
        self.lock().move_metadata(headers, trailers);
    }
}

impl Inbound {
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
}

impl Inbound {
    /// The call's final status if it is known without waiting.
    fn known_final(&self) -> Option<Status> {
        if let Some(status) = &self.outcome {
            return Some(status.clone());
        }
        match &self.state {
            State::Done(Some(status)) => Some(status.clone()),
            State::Done(None) => Some(finished_ok()),
            State::Body { .. } => self
                .body_error
                .clone()
                .or_else(|| self.ahead.clone().map(|s| s.unwrap_or_else(finished_ok))),
            State::Pending(_) | State::Trailers(_) => None,
        }
    }

    /// Client side: the call's final status, read ahead of the reader. Takes
    /// the rest of the body into the decoder (flow control bounds it: window
    /// goes back only for consumed messages and a message still arriving) and
    /// reads the trailers, leaving every message, and the status itself, for
    /// the reader to get as if nothing had looked.
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
                State::Body { recv, client } => {
                    if self.body_eof {
                        let polled = ready!(recv.poll_trailers(cx));
                        self.ahead = Some(self.on_trailers(polled));
                        continue;
                    }
                    let client = *client;
                    let pending = match recv_data(recv, cx, client) {
                        Poll::Ready(Some(Ok(chunk))) => {
                            self.read += chunk.len() as u64;
                            self.decoder.push(chunk);
                            false
                        }
                        Poll::Ready(Some(Err(status))) => {
                            self.body_error = Some(status);
                            false
                        }
                        Poll::Ready(None) => {
                            self.body_eof = true;
                            false
                        }
                        Poll::Pending => true,
                    };
                    settle_window(recv, &mut self.decoder, self.read, &mut self.released);
                    if pending {
                        return Poll::Pending;
                    }
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
