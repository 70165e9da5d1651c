//! The response side of a client-streaming or bidirectional call, shared by
//! the response [`Streaming`](super::Streaming) (the reader) and the call's
//! [`RequestSink`](crate::RequestSink), which reads ahead to the call's final
//! status when a send fails because the server has ended the call.
//!
//! ```text
//!  RequestSink ── send fails ──► ClientCall::final_status ─┐
//!                                                          ├─► ResponseStream (locked)
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
use std::task::{Context, Poll, Wake, Waker};

use super::ResponseStream;
use super::response::State;
use crate::metadata::MetadataMap;
use crate::status::Status;

/// The inbound half of a client-streaming or bidirectional call, shared by its
/// response stream (the reader) and its request sink.
///
/// Both may poll it from different tasks, and the carrier keeps one waker per
/// stream, so neither may register its own: each stores its waker here and
/// polls with the joint waker, which wakes both. Without that, the sink's poll
/// would replace the reader's waker and the reader would never learn of the
/// data the sink's wake-up brought.
pub(crate) struct ClientCall {
    inbound: Mutex<ResponseStream>,
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
    pub(crate) fn new(inbound: ResponseStream) -> Arc<Self> {
        let wakers = Arc::new(JointWaker::default());
        Arc::new(Self {
            inbound: Mutex::new(inbound),
            joint: Waker::from(wakers.clone()),
            wakers,
            reader_gone: AtomicBool::new(false),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, ResponseStream> {
        self.inbound.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Polls the inbound half for `side`, with the joint waker.
    pub(crate) fn poll<R>(
        &self,
        cx: &mut Context<'_>,
        side: Side,
        f: impl FnOnce(&mut ResponseStream, &mut Context<'_>) -> Poll<R>,
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
    /// [`ResponseStream::poll_final`]), or `send_error` itself once the reader is
    /// gone and nobody wants the responses.
    pub(crate) async fn final_status(&self, send_error: Status) -> Status {
        if self.reader_gone.load(Ordering::Acquire) {
            // What the reader learned before it went, if it learned the end.
            return self.lock().outcome.clone().unwrap_or(send_error);
        }
        poll_fn(|cx| self.poll(cx, Side::Sink, ResponseStream::poll_final)).await
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
