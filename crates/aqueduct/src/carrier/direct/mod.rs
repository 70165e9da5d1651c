//! The direct carrier: calls between a client and a server in the same process,
//! with no HTTP/2 framing, no HPACK and no byte stream.
//!
//! A call travels as its request head (the same `http::Request` an HTTP/2 client
//! would send, so routing, metadata, `grpc-timeout` and content-type checks run
//! unchanged) and two bounded pipes of encoded gRPC messages, one each way. The
//! server runs the call exactly as it runs one from HTTP/2: the same decoder, size
//! limits, deadline guard, status and trailers. Each pipe holds at most
//! [`WINDOW`] bytes before its writer waits, as an HTTP/2 stream's flow-control
//! window would make it; cancelling a call from either side wakes the other, as
//! `RST_STREAM` would.
//!
//! Serve a [`DirectListener`] with
//! [`ServerBuilder::serve`](crate::ServerBuilder::serve) and call
//! it through [`Channel::direct`](crate::Channel::direct) with the listener's
//! [`connector`](DirectListener::connector).

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::mpsc;

use crate::status::Status;

mod server;

pub(crate) use server::Connection as ServerConnection;

/// Bytes one direction of a direct call holds before its writer waits: the same
/// bound an HTTP/2 stream window of 1 MiB gives.
pub const WINDOW: usize = 1024 * 1024;

/// Connections dialed but not yet taken up by the server.
const BACKLOG: usize = 64;

/// Calls queued on one connection before the server's connection task takes them;
/// a caller beyond it waits, as for a full `MAX_CONCURRENT_STREAMS`.
const CALL_QUEUE: usize = 256;

/// Which way a half of a call flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Client to server: the request messages.
    Up,
    /// Server to client: the response head, messages and trailers.
    Down,
}

/// Why a call was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reset {
    /// The client cancelled it.
    Cancelled,
    /// The server stopped (drain deadline passed) with the call still running.
    Stopped,
}

/// One direction's bytes and end.
#[derive(Debug, Default)]
struct Half {
    data: VecDeque<Bytes>,
    queued: usize,
    /// The writer ended the stream (END_STREAM, or trailers).
    ended: bool,
    trailers: Option<HeaderMap>,
    writer_gone: bool,
    reader_gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

#[derive(Debug, Default)]
struct CallState {
    up: Half,
    down: Half,
    /// The response head, until the client takes it.
    head: Option<http::Response<()>>,
    reset: Option<Reset>,
    /// The server's call task, waiting to learn of a reset.
    reset_watch: Option<Waker>,
}

impl CallState {
    fn half(&mut self, dir: Dir) -> &mut Half {
        match dir {
            Dir::Up => &mut self.up,
            Dir::Down => &mut self.down,
        }
    }

    fn wake_all(&mut self) {
        for waker in [
            self.up.reader.take(),
            self.up.writer.take(),
            self.down.reader.take(),
            self.down.writer.take(),
            self.reset_watch.take(),
        ]
        .into_iter()
        .flatten()
        {
            waker.wake();
        }
    }
}

/// The shared state of one direct call.
#[derive(Debug, Default)]
struct Call(Mutex<CallState>);

impl Call {
    fn lock(&self) -> MutexGuard<'_, CallState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reset(&self, why: Reset) {
        let mut state = self.lock();
        if state.reset.is_none() {
            state.reset = Some(why);
            state.wake_all();
        }
    }
}

fn store(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// The status a reader sees for a reset call.
fn reset_status(why: Reset, dir: Dir) -> Status {
    match (why, dir) {
        // The server reads the requests: the client went away.
        (Reset::Cancelled, Dir::Up) => Status::cancelled("the client cancelled the call"),
        (Reset::Cancelled, Dir::Down) => Status::cancelled("the call was cancelled"),
        (Reset::Stopped, _) => Status::unavailable("the server stopped before the call finished"),
    }
}

/// The reading end of one direction of a direct call.
#[derive(Debug)]
pub(crate) struct PipeReader {
    call: Arc<Call>,
    dir: Dir,
}

/// The writing end of one direction of a direct call.
#[derive(Debug)]
pub(crate) struct PipeWriter {
    call: Arc<Call>,
    dir: Dir,
}

impl PipeReader {
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        let mut state = self.call.lock();
        if let Some(why) = state.reset {
            return Poll::Ready(Some(Err(reset_status(why, self.dir))));
        }
        let half = state.half(self.dir);
        if let Some(chunk) = half.data.pop_front() {
            half.queued -= chunk.len();
            if let Some(w) = half.writer.take() {
                w.wake();
            }
            return Poll::Ready(Some(Ok(chunk)));
        }
        if half.ended {
            return Poll::Ready(None);
        }
        if half.writer_gone {
            return Poll::Ready(Some(Err(writer_gone(self.dir))));
        }
        store(&mut half.reader, cx);
        Poll::Pending
    }

    /// The trailers (the response direction), once the data has ended.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        let mut state = self.call.lock();
        if let Some(why) = state.reset {
            return Poll::Ready(Err(reset_status(why, self.dir)));
        }
        let half = state.half(self.dir);
        if let Some(trailers) = half.trailers.take() {
            return Poll::Ready(Ok(Some(trailers)));
        }
        if half.ended {
            return Poll::Ready(Ok(None));
        }
        if half.writer_gone {
            return Poll::Ready(Err(writer_gone(self.dir)));
        }
        store(&mut half.reader, cx);
        Poll::Pending
    }

    /// The response head (the response direction).
    pub(crate) fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<http::Response<()>, Status>> {
        let mut state = self.call.lock();
        if let Some(why) = state.reset {
            return Poll::Ready(Err(reset_status(why, self.dir)));
        }
        if let Some(head) = state.head.take() {
            return Poll::Ready(Ok(head));
        }
        let half = state.half(self.dir);
        if half.writer_gone {
            return Poll::Ready(Err(writer_gone(self.dir)));
        }
        store(&mut half.reader, cx);
        Poll::Pending
    }

    /// Whether nothing more will arrive: no data queued, no trailers, ended.
    pub(crate) fn is_end_stream(&self) -> bool {
        let mut state = self.call.lock();
        let half = state.half(self.dir);
        half.ended && half.data.is_empty() && half.trailers.is_none()
    }
}

/// The status for a stream whose writer went away without ending it.
fn writer_gone(dir: Dir) -> Status {
    match dir {
        Dir::Up => Status::cancelled("the client cancelled the call"),
        Dir::Down => Status::cancelled("the server ended the call without a status"),
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        let mut state = self.call.lock();
        let half = state.half(self.dir);
        half.reader_gone = true;
        if let Some(w) = half.writer.take() {
            w.wake();
        }
        if let Some(w) = state.reset_watch.take() {
            w.wake();
        }
    }
}

impl PipeWriter {
    /// Queues all of `data` once the reader's window has room, then ends the
    /// stream if `end_stream`.
    pub(crate) fn poll_send(
        &mut self,
        data: &mut Bytes,
        end_stream: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Status>> {
        let mut state = self.call.lock();
        if let Some(why) = state.reset {
            return Poll::Ready(Err(reset_status(why, self.dir)));
        }
        let half = state.half(self.dir);
        if half.reader_gone {
            return Poll::Ready(Err(Status::unavailable("the stream is closed")));
        }
        if !data.is_empty() {
            if half.queued >= WINDOW {
                store(&mut half.writer, cx);
                return Poll::Pending;
            }
            let chunk = std::mem::take(data);
            half.queued += chunk.len();
            half.data.push_back(chunk);
        }
        if end_stream {
            half.ended = true;
        }
        if let Some(w) = half.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }

    /// Queues `data` and ends the stream, whatever the window.
    pub(crate) fn send_last(&mut self, data: Bytes) {
        let mut state = self.call.lock();
        let half = state.half(self.dir);
        if !data.is_empty() {
            half.queued += data.len();
            half.data.push_back(data);
        }
        half.ended = true;
        if let Some(w) = half.reader.take() {
            w.wake();
        }
    }

    /// Ends the stream with trailers.
    pub(crate) fn send_trailers(&mut self, trailers: HeaderMap) {
        let mut state = self.call.lock();
        let half = state.half(self.dir);
        half.trailers = Some(trailers);
        half.ended = true;
        if let Some(w) = half.reader.take() {
            w.wake();
        }
    }

    /// Sends the response head (the response direction); with `end_stream` it is
    /// the whole response.
    pub(crate) fn send_head(&mut self, head: http::Response<()>, end_stream: bool) {
        let mut state = self.call.lock();
        state.head = Some(head);
        let half = state.half(self.dir);
        if end_stream {
            half.ended = true;
        }
        if let Some(w) = half.reader.take() {
            w.wake();
        }
    }

    /// Ready once the call was reset or the reader went away.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.call.lock();
        if state.reset.is_some() || state.half(self.dir).reader_gone {
            return Poll::Ready(());
        }
        store(&mut state.reset_watch, cx);
        Poll::Pending
    }

    /// Cancels the whole call, both directions.
    pub(crate) fn cancel(&mut self) {
        self.call.reset(Reset::Cancelled);
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        let mut state = self.call.lock();
        let half = state.half(self.dir);
        half.writer_gone = true;
        if let Some(w) = half.reader.take() {
            w.wake();
        }
    }
}

/// A call on its way to the server.
#[derive(Debug)]
pub(crate) struct DirectCall {
    pub(crate) head: http::Request<()>,
    pub(crate) requests: PipeReader,
    pub(crate) responses: PipeWriter,
}

impl DirectCall {
    /// A handle the server keeps to stop the call at its drain deadline.
    pub(crate) fn stopper(&self) -> CallStopper {
        CallStopper(Arc::downgrade(&self.requests.call))
    }
}

/// Stops one call if it is still running.
#[derive(Debug)]
pub(crate) struct CallStopper(std::sync::Weak<Call>);

impl CallStopper {
    pub(crate) fn stop(&self) {
        if let Some(call) = self.0.upgrade() {
            call.reset(Reset::Stopped);
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.0.strong_count() == 0
    }
}

/// A new call: what the client keeps and what goes to the server.
fn new_call(head: http::Request<()>) -> (PipeWriter, PipeReader, DirectCall) {
    let call = Arc::new(Call::default());
    let client = (
        PipeWriter {
            call: call.clone(),
            dir: Dir::Up,
        },
        PipeReader {
            call: call.clone(),
            dir: Dir::Down,
        },
    );
    let server = DirectCall {
        head,
        requests: PipeReader {
            call: call.clone(),
            dir: Dir::Up,
        },
        responses: PipeWriter {
            call,
            dir: Dir::Down,
        },
    };
    (client.0, client.1, server)
}

/// A server's end of one client's direct connection: the calls it sends.
#[derive(Debug)]
pub struct DirectConnection {
    pub(crate) calls: mpsc::Receiver<DirectCall>,
}

/// A listener for direct calls. Serve it with
/// [`ServerBuilder::serve`](crate::ServerBuilder::serve); call it
/// through [`Channel::direct`](crate::Channel::direct) and its
/// [`connector`](Self::connector).
///
/// Dropping it (the server does when it stops) refuses further calls with
/// `UNAVAILABLE`.
pub struct DirectListener {
    incoming: mpsc::Receiver<DirectConnection>,
    queue: mpsc::Sender<DirectConnection>,
}

impl DirectListener {
    /// A listener reachable only through its [`connector`](Self::connector).
    #[must_use]
    pub fn new() -> Self {
        let (queue, incoming) = mpsc::channel(BACKLOG);
        Self { incoming, queue }
    }

    /// A handle that opens connections to this listener. It does not keep the
    /// listener open.
    #[must_use]
    pub fn connector(&self) -> DirectConnector {
        DirectConnector {
            queue: self.queue.downgrade(),
        }
    }

    /// Waits for the next client connection.
    pub(crate) async fn accept(&mut self) -> Option<DirectConnection> {
        self.incoming.recv().await
    }
}

impl Default for DirectListener {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DirectListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectListener").finish_non_exhaustive()
    }
}

/// Opens direct connections to one [`DirectListener`]. Cheap to clone.
#[derive(Clone)]
pub struct DirectConnector {
    queue: mpsc::WeakSender<DirectConnection>,
}

impl fmt::Debug for DirectConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectConnector").finish_non_exhaustive()
    }
}

impl DirectConnector {
    /// Opens a connection: the server starts a task that takes its calls.
    pub(crate) async fn connect(&self) -> Result<DirectClient, Status> {
        let closed = || Status::unavailable("the direct listener is closed");
        let queue = self.queue.upgrade().ok_or_else(closed)?;
        let (calls, incoming) = mpsc::channel(CALL_QUEUE);
        queue
            .send(DirectConnection { calls: incoming })
            .await
            .map_err(|_| closed())?;
        Ok(DirectClient { calls })
    }

    pub(crate) fn same_listener(&self, other: &DirectConnector) -> bool {
        match (self.queue.upgrade(), other.queue.upgrade()) {
            (Some(a), Some(b)) => a.same_channel(&b),
            _ => false,
        }
    }
}

/// The byte stream a direct connection does not have: no value of it exists.
/// It fills the byte-stream slot of carrier-neutral types.
#[doc(hidden)]
#[derive(Debug)]
pub enum NoIo {}

impl tokio::io::AsyncRead for NoIo {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match *self {}
    }
}

impl tokio::io::AsyncWrite for NoIo {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match *self {}
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        match *self {}
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        match *self {}
    }
}

/// A client's open direct connection.
#[derive(Debug, Clone)]
pub(crate) struct DirectClient {
    calls: mpsc::Sender<DirectCall>,
}

impl DirectClient {
    /// Starts a call: hands the head `head` makes to the server and returns
    /// the request writer and the response reader. Fails, to be retried on a
    /// new connection, when this one is closed.
    pub(crate) async fn open(
        self,
        head: &(dyn Fn() -> Result<http::Request<()>, Status> + Sync),
    ) -> Result<(crate::carrier::ResponseFuture, crate::carrier::SendBody), crate::carrier::OpenError>
    {
        use crate::carrier::{OpenError, ResponseFuture, SendBody};
        let (requests, responses, call) = new_call(head().map_err(OpenError::fatal)?);
        match self.calls.send(call).await {
            Ok(()) => Ok((
                ResponseFuture::Direct(Some(responses)),
                SendBody::Direct(requests),
            )),
            Err(_) => Err(OpenError::retry(Status::unavailable(
                "the direct server is not accepting calls",
            ))),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.calls.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    fn head() -> http::Request<()> {
        http::Request::new(())
    }

    fn poll_once<T>(f: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        let waker = Waker::noop();
        f(&mut Context::from_waker(waker))
    }

    #[tokio::test]
    async fn a_full_window_makes_the_writer_wait_until_the_reader_reads() {
        let (mut up, _down, mut server) = new_call(head());
        let mut big = Bytes::from(vec![1u8; WINDOW]);
        poll_fn(|cx| up.poll_send(&mut big, false, cx))
            .await
            .unwrap();
        let mut more = Bytes::from_static(b"more");
        assert!(poll_once(|cx| up.poll_send(&mut more, false, cx)).is_pending());
        assert_eq!(more.len(), 4, "nothing was queued past the window");
        let first = poll_fn(|cx| server.requests.poll_data(cx))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.len(), WINDOW);
        poll_fn(|cx| up.poll_send(&mut more, true, cx))
            .await
            .unwrap();
        let second = poll_fn(|cx| server.requests.poll_data(cx))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&second[..], b"more");
        assert!(poll_fn(|cx| server.requests.poll_data(cx)).await.is_none());
    }

    #[tokio::test]
    async fn a_client_cancel_reaches_the_server_both_ways() {
        let (mut up, mut down, mut server) = new_call(head());
        assert!(poll_once(|cx| server.responses.poll_reset(cx)).is_pending());
        up.cancel();
        assert!(poll_once(|cx| server.responses.poll_reset(cx)).is_ready());
        let status = poll_fn(|cx| server.requests.poll_data(cx))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(status.code(), crate::Code::Cancelled);
        let status = poll_fn(|cx| down.poll_head(cx)).await.unwrap_err();
        assert_eq!(status.code(), crate::Code::Cancelled);
    }

    #[tokio::test]
    async fn a_dropped_client_response_reader_resets_the_server_side() {
        let (_up, down, mut server) = new_call(head());
        drop(down);
        assert!(poll_once(|cx| server.responses.poll_reset(cx)).is_ready());
        let mut data = Bytes::from_static(b"late");
        let sent = poll_fn(|cx| server.responses.poll_send(&mut data, false, cx)).await;
        assert!(sent.is_err());
    }

    #[tokio::test]
    async fn head_messages_and_trailers_arrive_in_order() {
        let (mut up, mut down, mut server) = new_call(head());
        up.send_last(Bytes::from_static(b"request"));
        let got = poll_fn(|cx| server.requests.poll_data(cx))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got[..], b"request");
        assert!(poll_fn(|cx| server.requests.poll_data(cx)).await.is_none());
        server.responses.send_head(http::Response::new(()), false);
        let mut body = Bytes::from_static(b"reply");
        poll_fn(|cx| server.responses.poll_send(&mut body, false, cx))
            .await
            .unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        server.responses.send_trailers(trailers);
        poll_fn(|cx| down.poll_head(cx)).await.unwrap();
        assert!(!down.is_end_stream());
        let got = poll_fn(|cx| down.poll_data(cx)).await.unwrap().unwrap();
        assert_eq!(&got[..], b"reply");
        assert!(poll_fn(|cx| down.poll_data(cx)).await.is_none());
        let trailers = poll_fn(|cx| down.poll_trailers(cx)).await.unwrap().unwrap();
        assert_eq!(trailers.get("grpc-status").unwrap(), "0");
    }

    #[tokio::test]
    async fn a_stopped_call_is_unavailable_to_the_client() {
        let (_up, mut down, server) = new_call(head());
        let stopper = server.stopper();
        assert!(!stopper.is_done());
        stopper.stop();
        let status = poll_fn(|cx| down.poll_head(cx)).await.unwrap_err();
        assert_eq!(status.code(), crate::Code::Unavailable);
        drop(server);
        drop(down);
        drop(_up);
        assert!(stopper.is_done());
    }

    #[tokio::test]
    async fn a_server_that_drops_the_call_without_a_status_is_cancelled() {
        let (_up, mut down, server) = new_call(head());
        drop(server);
        let status = poll_fn(|cx| down.poll_head(cx)).await.unwrap_err();
        assert_eq!(status.code(), crate::Code::Cancelled);
    }

    #[tokio::test]
    async fn connecting_to_a_dropped_listener_is_unavailable() {
        let listener = DirectListener::new();
        let connector = listener.connector();
        drop(listener);
        let status = connector.connect().await.unwrap_err();
        assert_eq!(status.code(), crate::Code::Unavailable);
    }
}
