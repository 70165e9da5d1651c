//! One call on the server: check the request head, route it, run the handler on its
//! own task, and end the response with a status.
//!
//! The handler future is polled inside [`guard`], which drops it at once when the
//! client resets the stream, when the deadline passes, or when it panics — so a reset
//! stream never leaves work running.

use std::any::Any;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::StatusCode;
use tokio::time::{Instant, Sleep};

use aqueduct_wire::compression::{AcceptEncodings, Encoding};
use aqueduct_wire::headers;
use aqueduct_wire::request::{RequestError, RequestHead, RequestParser};

use super::router::Router;
use super::sink::{ResponseWriter, ServerSink, SharedWriter, lock, poll_yield};
use super::{PoolSlot, RunningGuard};
use crate::carrier::{RecvBody, Respond};
use crate::context::{self, CallContext};
use crate::interceptor::{AnyMessage, Attached, Chain, HeadParts, MessageHooks, ServerHooks};
use crate::metadata::MetadataMap;
use crate::request::{CallOptions, Peer, Request};
use crate::service::{
    BidiStreamingMethod, ClientStreamingMethod, ServerStreamingMethod, UnaryMethod,
};
use crate::status::{Code, Status};
use crate::streaming::{RequestStream, SharedRequest, SingleMessage, Streaming, lock_request};

/// Limits that apply to each call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallLimits {
    pub(crate) max_recv: usize,
    pub(crate) max_send: usize,
}

/// Everything the carrier knows about an incoming call, handed to the generated
/// method adapter.
#[doc(hidden)]
pub(crate) struct ServerCall {
    head: CallHead,
    body: RecvBody,
    writer: ResponseWriter,
    limits: CallLimits,
    /// The route's interceptors, if it has any.
    intercept: Option<Chain>,
    _running: RunningGuard,
}

impl std::fmt::Debug for ServerCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCall").finish_non_exhaustive()
    }
}

struct CallHead {
    metadata: MetadataMap,
    deadline: Option<Instant>,
    peer: Peer,
    encoding: Option<Encoding>,
    extensions: http::Extensions,
    /// What the interceptors attached to the call, if anything.
    attached: Option<Arc<Attached>>,
}

impl CallHead {
    /// The call's context for its handler.
    fn context(&self) -> CallContext {
        CallContext::root(self.deadline, self.attached.clone())
    }

    fn messages(&self) -> Option<&Arc<MessageHooks>> {
        self.attached.as_ref().and_then(|a| a.messages.as_ref())
    }

    /// Runs the message hooks' `on_receive` on the request message. By value:
    /// a message borrowed in the call future would keep its room there while
    /// the handler runs.
    fn received<T: prost::Message + 'static>(&self, mut message: T) -> Result<T, Status> {
        match self.messages() {
            Some(hooks) => hooks
                .received(&mut message as &mut dyn AnyMessage)
                .map(|()| message),
            None => Ok(message),
        }
    }

    fn into_request<T>(mut self, message: T, compressed: bool) -> Request<T> {
        self.take_request(message, compressed)
    }

    /// The handler's request, leaving the head's other parts (what the
    /// interceptors attached) in place.
    fn take_request<T>(&mut self, message: T, compressed: bool) -> Request<T> {
        let mut options = CallOptions::new();
        options.metadata = std::mem::take(&mut self.metadata);
        Request {
            options,
            message,
            deadline: self.deadline,
            peer: self.peer.clone(),
            message_compressed: compressed,
            extensions: std::mem::take(&mut self.extensions),
        }
    }

    /// The span an interceptor set for the call, if any.
    fn span(&self) -> Option<&tracing::Span> {
        self.attached.as_ref().and_then(|a| a.span.as_ref())
    }
}

/// Checks an accepted stream's head and routes it: the handler's future to
/// spawn, with the handler pool slot it runs in if its method has a pool, or
/// `None` once an error response has been sent.
///
/// Synchronous on purpose: the spawned task holds only the boxed handler future, so
/// spawning it and storing its result copy a few bytes, not the request head.
pub(crate) fn start_call(
    request: http::Request<RecvBody>,
    respond: Respond,
    router: &Router,
    limits: CallLimits,
    peer: Peer,
    running: RunningGuard,
) -> Option<(crate::server::BoxFuture, Option<PoolSlot>)> {
    let (parts, body) = request.into_parts();
    // One pass over the fields for the checks gRPC makes (aqueduct-wire's
    // request parser), instead of a hashed lookup for each.
    let mut parser = RequestParser::new();
    if parts.method == http::Method::POST {
        parser.post();
    } else {
        parser.field(headers::METHOD.as_bytes(), parts.method.as_str().as_bytes());
    }
    for (name, value) in &parts.headers {
        parser.field(name.as_str().as_bytes(), value.as_bytes());
    }
    let checked = parser.finish();
    let accept = checked.as_ref().map_or_else(
        |_| AcceptEncodings::default(),
        RequestHead::accept_encodings,
    );
    let mut writer = ResponseWriter::new(respond, accept, limits.max_send);
    // Method, content-type, then a `-bin` value that is not base64: each fails
    // the call before routing, so no interceptor or handler sees it.
    let checked = match checked {
        Ok(checked) => checked,
        Err(e) => return refuse(&mut writer, e),
    };
    // Match the raw :path exactly: no normalising, so `//`, query strings and
    // percent-escapes never reach a handler (grpc-go CVE-2026-33186).
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let route = match router.lookup(path) {
        Ok(route) => route,
        Err(status) => {
            writer.finish(&status, &MetadataMap::new());
            return None;
        }
    };
    let deadline = match checked.timeout() {
        Ok(timeout) => timeout.and_then(|t| Instant::now().checked_add(t)),
        Err(e) => return refuse(&mut writer, e),
    };
    let encoding = match checked.encoding() {
        Ok(encoding) => encoding,
        Err(e) => return refuse(&mut writer, e),
    };
    if encoding.is_some() {
        writer.advertise_accept_encoding();
    }
    let slot = match &route.pool {
        None => None,
        Some(pool) => match pool.try_take() {
            Some(slot) => Some(slot),
            None => {
                let status = Status::resource_exhausted(format!(
                    "the handler pool of {path} is full ({} calls)",
                    pool.max_calls()
                ));
                writer.finish(&status, &MetadataMap::new());
                return None;
            }
        },
    };
    let head = CallHead {
        metadata: MetadataMap::from_header_map(parts.headers),
        deadline,
        peer,
        encoding,
        extensions: http::Extensions::new(),
        attached: None,
    };
    let call = ServerCall {
        head,
        body,
        writer,
        limits,
        intercept: route.chain.clone(),
        _running: running,
    };
    Some((route.handler.call(call), slot))
}

/// Answers a request the checks refused: a plain HTTP error (405, 415) with
/// the gRPC status too, or a trailers-only gRPC error.
fn refuse<T>(writer: &mut ResponseWriter, e: RequestError) -> Option<T> {
    if e.advertise_accept_encoding() {
        // Tell the client what it may use instead.
        writer.advertise_accept_encoding();
    }
    let http_status = e.http_status().and_then(|s| StatusCode::from_u16(s).ok());
    let status = Status::new(e.code(), e.into_message());
    match http_status {
        Some(http_status) => writer.finish_http(http_status, &status),
        None => writer.finish(&status, &MetadataMap::new()),
    }
    None
}

/// How a guarded handler future ended.
enum Outcome<T> {
    Done(T),
    DeadlineExceeded,
    Reset,
    Panicked(String),
}

/// Polls `fut` until it finishes, the client resets the stream, the deadline passes,
/// or it panics. In the last three cases the future is dropped without being polled
/// again.
///
/// Takes the future pinned where the caller built it: moved in by value, it would
/// take room twice in the caller's state (as argument and as pinned local), and a
/// larger call future costs a larger copy when it is boxed.
///
/// The deadline timer is the caller's, so the phases of one call share one timer
/// (registering a timer costs more than the rest of the guard). `span`, the one
/// an interceptor set for the call, is entered around each poll.
async fn guard<F: Future>(
    mut fut: Pin<&mut F>,
    mut sleep: Pin<&mut Option<Sleep>>,
    span: Option<&tracing::Span>,
    mut reset: impl FnMut(&mut Context<'_>) -> Poll<()>,
) -> Outcome<F::Output> {
    poll_fn(|cx| {
        let entered = span.map(tracing::Span::enter);
        let polled = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx)));
        drop(entered);
        match polled {
            Ok(Poll::Ready(v)) => return Poll::Ready(Outcome::Done(v)),
            Ok(Poll::Pending) => {}
            Err(panic) => return Poll::Ready(Outcome::Panicked(panic_message(&panic))),
        }
        if reset(cx).is_ready() {
            return Poll::Ready(Outcome::Reset);
        }
        if let Some(sleep) = sleep.as_mut().as_pin_mut() {
            if sleep.poll(cx).is_ready() {
                return Poll::Ready(Outcome::DeadlineExceeded);
            }
        }
        Poll::Pending
    })
    .await
}

impl<T> Outcome<Result<T, Status>> {
    /// The value of a phase that succeeded, or the outcome that ends the call (for
    /// the next phase's result type).
    fn ok_or_end<U>(self) -> Result<T, Outcome<Result<U, Status>>> {
        match self {
            Outcome::Done(Ok(value)) => Ok(value),
            Outcome::Done(Err(status)) => Err(Outcome::Done(Err(status))),
            Outcome::DeadlineExceeded => Err(Outcome::DeadlineExceeded),
            Outcome::Reset => Err(Outcome::Reset),
            Outcome::Panicked(msg) => Err(Outcome::Panicked(msg)),
        }
    }
}

fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "handler panicked".to_owned()
    }
}

/// Runs the route's interceptors before the handler, guarded like it. `Ok` lets
/// the call go on; `Err` is the outcome that ends it instead (a rejection, a
/// reset, the deadline). Either way the writer then holds the interceptors'
/// response headers and trailers, and runs their `on_end` when the call ends.
async fn intercept(
    intercept: Option<Chain>,
    head: &mut CallHead,
    mut timer: Pin<&mut Option<Sleep>>,
    writer: &mut ResponseWriter,
) -> Result<(), Outcome<Result<Infallible, Status>>> {
    let Some(chain) = intercept else {
        return Ok(());
    };
    // As little as possible is held across the await: this state is part of
    // every call future of the route, and a call future over about 1 KiB makes
    // its allocation a slow one.
    let mut hooks = ServerHooks::boxed(chain, head.deadline);
    let outcome = {
        let parts = HeadParts {
            metadata: &mut head.metadata,
            deadline: &mut head.deadline,
            peer: &head.peer,
            extensions: &mut head.extensions,
        };
        let run = pin!(hooks.start(parts));
        guard(run, timer.as_mut(), None, |cx| writer.poll_reset(cx)).await
    };
    settle(hooks, head, timer, writer);
    outcome.ok_or_end()
}

/// After the interceptors' `on_call`: applies what they asked for (a new
/// deadline, message hooks, propagated metadata, a span, response headers)
/// and hands the hooks to the writer for the call's end.
fn settle(
    mut hooks: Box<ServerHooks>,
    head: &mut CallHead,
    mut timer: Pin<&mut Option<Sleep>>,
    writer: &mut ResponseWriter,
) {
    let (moved, attached) = hooks.settle(head.deadline);
    if moved {
        // An interceptor gave the call another deadline: enforce that one.
        timer.set(head.deadline.map(tokio::time::sleep_until));
    }
    head.attached = attached;
    let headers = hooks.take_headers();
    writer.install_hooks(hooks);
    if let Some(h) = writer.headers_mut() {
        h.append_all(headers);
    }
}

impl Outcome<Result<Infallible, Status>> {
    /// The same end, for a phase whose result type is `Result<T, Status>`.
    fn widen<T>(self) -> Outcome<Result<T, Status>> {
        match self {
            Outcome::Done(Err(status)) => Outcome::Done(Err(status)),
            Outcome::Done(Ok(never)) => match never {},
            Outcome::DeadlineExceeded => Outcome::DeadlineExceeded,
            Outcome::Reset => Outcome::Reset,
            Outcome::Panicked(msg) => Outcome::Panicked(msg),
        }
    }
}

/// The status to send for an outcome that has no response message.
fn outcome_status<T>(outcome: Outcome<Result<T, Status>>) -> Option<Result<T, Status>> {
    match outcome {
        Outcome::Done(r) => Some(r),
        Outcome::DeadlineExceeded => Some(Err(Status::deadline_exceeded("deadline exceeded"))),
        Outcome::Reset => None,
        Outcome::Panicked(msg) => {
            tracing::error!(panic = %msg, "handler panicked");
            Some(Err(Status::internal("handler panicked")))
        }
    }
}

/// Sends a single-response call's outcome: the message, then `OK` with the
/// trailers; or the error status.
fn respond_single<T: prost::Message + 'static>(
    writer: &mut ResponseWriter,
    outcome: Outcome<Result<crate::Response<T>, Status>>,
) -> impl Future<Output = ()> {
    // Queued before the future is built: only the trailers wait across the flush.
    let trailers = queue_response(writer, outcome_status(outcome));
    async move {
        if let Some(trailers) = &trailers {
            if poll_fn(|cx| writer.poll_flush(cx)).await.is_ok() {
                writer.finish_ok(trailers);
            }
        }
    }
}

/// Queues the response message and returns the trailers to send once it is out;
/// `None` when the call already ended (error status sent, or nothing to send).
fn queue_response<T: prost::Message + 'static>(
    writer: &mut ResponseWriter,
    result: Option<Result<crate::Response<T>, Status>>,
) -> Option<MetadataMap> {
    let mut response = match result? {
        Err(status) if status.code() == Code::Ok => {
            // A single-response call that ends OK must carry its response:
            // `OK` with none would break the call's cardinality. (A handler
            // that `?`-propagates a streaming call's `send` can get here: the
            // call it made was finished OK by its server.)
            let status = Status::internal(format!(
                "the handler returned an error with code OK and no response: {}",
                status.message()
            ));
            writer.finish(&status, &MetadataMap::new());
            return None;
        }
        Err(status) => {
            writer.finish(&status, &MetadataMap::new());
            return None;
        }
        Ok(r) => r,
    };
    writer.set_compression(response.compression);
    if let Some(h) = writer.headers_mut() {
        h.append_all(response.metadata);
    }
    if let Err(status) = writer.queue_message(&mut response.message, true) {
        writer.finish(&status, &MetadataMap::new());
        return None;
    }
    Some(response.trailers)
}

/// Ends a streaming response: delivers every queued message, then the status and
/// the sink's trailers.
async fn finish_streaming<T>(mut sink: ServerSink<T>, result: Option<Result<(), Status>>) {
    let Some(result) = result else {
        return;
    };
    let trailers = sink.take_trailers();
    let writer = sink.writer();
    if poll_fn(|cx| lock(writer).poll_flush(cx)).await.is_err() {
        return; // the stream is gone; nothing more can reach the client
    }
    match result {
        Ok(()) => lock(writer).finish_ok(&trailers),
        Err(status) => lock(writer).finish(&status, &trailers),
    }
}

impl ServerCall {
    /// The request head as an `http::Request` (`POST path`, the metadata as
    /// headers, the extensions), taken out of the call for middleware that works
    /// on `http` types; [`restore_head`](Self::restore_head) puts it back.
    #[cfg(feature = "tower")]
    pub(crate) fn take_head(&mut self, path: &'static str) -> http::Request<()> {
        let mut request = http::Request::new(());
        *request.method_mut() = http::Method::POST;
        // Route paths were checked when the server was built.
        *request.uri_mut() =
            http::Uri::from_maybe_shared(bytes::Bytes::from_static(path.as_bytes()))
                .unwrap_or_default();
        *request.headers_mut() = std::mem::take(&mut self.head.metadata).into_header_map();
        *request.extensions_mut() = std::mem::take(&mut self.head.extensions);
        request
    }

    /// Puts back the head [`take_head`](Self::take_head) took, with whatever
    /// middleware changed in its headers and extensions.
    #[cfg(feature = "tower")]
    pub(crate) fn restore_head(&mut self, parts: http::request::Parts) {
        self.head.metadata = MetadataMap::from_header_map(parts.headers);
        self.head.extensions = parts.extensions;
    }

    /// The call's deadline, if it has one.
    #[cfg(feature = "tower")]
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.head.deadline
    }

    /// Ends the call with `status`, without running it.
    #[cfg(feature = "tower")]
    pub(crate) fn reject(mut self, status: &Status) {
        self.writer.finish(status, &MetadataMap::new());
    }

    /// Splits the call into its request, the response writer, and its slot in the
    /// running-handler count.
    fn split(self) -> (CallRequest, ResponseWriter, RunningGuard) {
        let request = CallRequest {
            head: self.head,
            body: self.body,
            limits: self.limits,
            intercept: self.intercept,
        };
        (request, self.writer, self._running)
    }
}

/// The request side of a call, before its body is read. Small on purpose: the
/// inbound decoder is built where it is used, not moved through futures.
struct CallRequest {
    head: CallHead,
    body: RecvBody,
    limits: CallLimits,
    intercept: Option<Chain>,
}

impl CallRequest {
    fn deadline(&self) -> Option<Instant> {
        self.head.deadline
    }

    /// Reads the single message of a unary or server-streaming request, guarded
    /// like the handler. Call it inside the call future, so the reader's room there
    /// is reused by the handler once the request is read.
    async fn read_single<T: prost::Message + Default>(
        body: RecvBody,
        head: &CallHead,
        max_recv: usize,
        timer: Pin<&mut Option<Sleep>>,
        writer: &mut ResponseWriter,
    ) -> Outcome<Result<(T, bool), Status>> {
        let mut read = SingleMessage::new(body, head.encoding, max_recv);
        guard(Pin::new(&mut read), timer, None, |cx| writer.poll_reset(cx)).await
    }

    /// A streaming request for the handler, and the shared inbound half the call
    /// guard pumps while the handler runs.
    fn streaming<T>(self) -> (Request<Streaming<T>>, SharedRequest) {
        let messages = self.head.messages().cloned();
        let inbound = RequestStream::new(
            self.body,
            self.head.encoding,
            self.limits.max_recv,
            messages,
        );
        let shared: SharedRequest = Arc::new(Mutex::new(inbound));
        (
            self.head
                .into_request(Streaming::request(shared.clone()), false),
            shared,
        )
    }
}

pub(crate) fn run_unary<S: Send + Sync + 'static, M: UnaryMethod<S>>(
    call: ServerCall,
    svc: Arc<S>,
) -> impl Future<Output = ()> + Send + 'static {
    // Split before the future is built: what it captures is all it holds, so the
    // call's parts are not stored twice (as argument and as locals). The call
    // future is boxed; kept under about 1 KiB, that allocation is a cheap one.
    let (request, mut writer, running) = call.split();
    let CallRequest {
        mut head,
        body,
        limits,
        intercept: interceptors,
    } = request;
    let max_recv = limits.max_recv;
    async move {
        let _slot = &running;
        let mut timer = pin!(head.deadline.map(tokio::time::sleep_until));
        // Intercepting, reading the request and running the handler are guarded
        // phases one after the other, so their states share room in the call
        // future instead of nesting. Values are bound before each await, not
        // matched across it, for the same reason.
        if let Err(end) = intercept(interceptors, &mut head, timer.as_mut(), &mut writer).await {
            return respond_single::<M::Response>(&mut writer, end.widen()).await;
        }
        let read = CallRequest::read_single(body, &head, max_recv, timer.as_mut(), &mut writer);
        let (message, compressed) = match read.await.ok_or_end() {
            Ok(read) => read,
            Err(end) => return respond_single::<M::Response>(&mut writer, end).await,
        };
        let message = match head.received(message) {
            Ok(message) => message,
            Err(status) => {
                let end = Outcome::Done(Err(status));
                return respond_single::<M::Response>(&mut writer, end).await;
            }
        };
        let outcome = {
            let ctx = head.context();
            let request = head.take_request(message, compressed);
            let handler = pin!(context::scope(ctx, M::call(&svc, request)));
            guard(handler, timer, head.span(), |cx| writer.poll_reset(cx)).await
        };
        respond_single(&mut writer, outcome).await;
    }
}

pub(crate) async fn run_client_streaming<S: Send + Sync + 'static, M: ClientStreamingMethod<S>>(
    call: ServerCall,
    svc: Arc<S>,
) {
    let (mut request, mut writer, _running) = call.split();
    let mut timer = pin!(request.deadline().map(tokio::time::sleep_until));
    let interceptors = request.intercept.take();
    let intercepted = intercept(interceptors, &mut request.head, timer.as_mut(), &mut writer).await;
    if let Err(end) = intercepted {
        return respond_single::<M::Response>(&mut writer, end.widen()).await;
    }
    let ctx = request.head.context();
    let attached = request.head.attached.clone();
    let span = attached.as_ref().and_then(|a| a.span.as_ref());
    let (request, pumped) = request.streaming();
    let handler = pin!(context::scope(ctx, M::call(&svc, request)));
    let outcome = guard(handler, timer, span, |cx| {
        lock_request(&pumped).pump(cx);
        writer.poll_reset(cx)
    })
    .await;
    respond_single(&mut writer, outcome).await;
}

pub(crate) fn run_server_streaming<S: Send + Sync + 'static, M: ServerStreamingMethod<S>>(
    call: ServerCall,
    svc: Arc<S>,
) -> impl Future<Output = ()> + Send + 'static {
    let (request, mut writer, running) = call.split();
    let CallRequest {
        mut head,
        body,
        limits,
        intercept: interceptors,
    } = request;
    let max_recv = limits.max_recv;
    async move {
        let _slot = &running;
        let mut timer = pin!(head.deadline.map(tokio::time::sleep_until));
        if let Err(end) = intercept(interceptors, &mut head, timer.as_mut(), &mut writer).await {
            if let Some(Err(status)) = outcome_status(end) {
                writer.finish(&status, &MetadataMap::new());
            }
            return;
        }
        let read = CallRequest::read_single(body, &head, max_recv, timer.as_mut(), &mut writer);
        let (message, compressed) = match read.await.ok_or_end::<()>() {
            Ok(read) => read,
            Err(end) => {
                if let Some(Err(status)) = outcome_status(end) {
                    writer.finish(&status, &MetadataMap::new());
                }
                return;
            }
        };
        let message = match head.received(message) {
            Ok(message) => message,
            Err(status) => {
                writer.finish(&status, &MetadataMap::new());
                return;
            }
        };
        let shared: SharedWriter = Arc::new(Mutex::new(writer));
        let mut sink = ServerSink::new(shared.clone());
        let outcome = {
            let ctx = head.context();
            let request = head.take_request(message, compressed);
            let handler = pin!(context::scope(ctx, M::call(&svc, request, &mut sink)));
            guard(handler, timer, head.span(), |cx| poll_yield(&shared, cx)).await
        };
        finish_streaming(sink, outcome_status(outcome)).await;
    }
}

pub(crate) async fn run_bidi_streaming<S: Send + Sync + 'static, M: BidiStreamingMethod<S>>(
    call: ServerCall,
    svc: Arc<S>,
) {
    let (mut request, mut writer, _running) = call.split();
    let mut timer = pin!(request.deadline().map(tokio::time::sleep_until));
    let interceptors = request.intercept.take();
    let intercepted = intercept(interceptors, &mut request.head, timer.as_mut(), &mut writer).await;
    if let Err(end) = intercepted {
        if let Some(Err(status)) = outcome_status(end) {
            writer.finish(&status, &MetadataMap::new());
        }
        return;
    }
    let ctx = request.head.context();
    let attached = request.head.attached.clone();
    let span = attached.as_ref().and_then(|a| a.span.as_ref());
    let shared: SharedWriter = Arc::new(Mutex::new(writer));
    let mut sink = ServerSink::new(shared.clone());
    let (request, pumped) = request.streaming();
    let outcome = {
        let handler = pin!(context::scope(ctx, M::call(&svc, request, &mut sink)));
        guard(handler, timer, span, |cx| {
            lock_request(&pumped).pump(cx);
            poll_yield(&shared, cx)
        })
        .await
    };
    finish_streaming(sink, outcome_status(outcome)).await;
}
