//! A bridge to `tower` middleware (feature `tower`): wrap a service's calls,
//! or every call of the server, in any `tower::Layer`.
//!
//! The middleware sees each call as an `http::Request<`[`CallBody`]`>`: method
//! `POST`, the URI's path the full method name, the request metadata as
//! headers, and the call's extensions (which interceptors and the handler then
//! read, so a layer can hand values to them). The service it wraps,
//! [`CallService`], runs the call — interceptors, handler, response — and resolves
//! when the call is over, so middleware that holds something for the length of
//! a request (a concurrency permit, a timer, a span) holds it for the call.
//!
//! The layers added to one scope (the server, or one service) form one stack,
//! the first added outermost, as with tower's `ServiceBuilder`; the stack is
//! built once and shared by every method in the scope, so a concurrency limit
//! limits the scope's calls together. Layers wrap the whole call, interceptors
//! included: the server's stack outermost, then the service's, then the
//! interceptors in their own order.
//!
//! When the middleware fails a call instead of running it (a load shedder, a
//! rate limiter, a filter), its error becomes the call's status: a
//! [`Status`] returned as the error is sent as it is; any other error is sent as
//! `UNAVAILABLE` with the error's message. Middleware that drops a call it has
//! started (a timeout) ends it with the stream reset; prefer
//! [`DeadlinePolicy`](crate::interceptor::DeadlinePolicy) and the call's own
//! deadline for time limits. A call still waiting in middleware (for a permit,
//! say) when its deadline passes ends with `DEADLINE_EXCEEDED`.
//!
//! (Not compiled as a doctest: it needs the `tower` crate's middleware, which
//! this crate does not depend on, and a generated service. The conformance
//! suite runs these very layers, `tests/conformance.rs`
//! `tower_layers_see_and_refuse_calls`.)
//!
//! ```ignore
//! use tower::limit::ConcurrencyLimitLayer;
//! use tower::load_shed::LoadShedLayer;
//!
//! let server = Server::builder()
//!     // At most 64 calls at once on this server; more are refused at once.
//!     .layer(LoadShedLayer::new())
//!     .layer(ConcurrencyLimitLayer::new(64))
//!     .add_service(GreeterServiceServer::new(MyGreeter));
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::server::router::Wrap;
use crate::server::{Handler, ServerCall};

use crate::status::Status;

/// The error type middleware may fail a call with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A call as middleware sees it.
pub type CallRequest = http::Request<CallBody>;

/// The body of a [`CallRequest`]: the call itself, which the innermost
/// [`CallService`] runs.
/// Opaque to middleware.
pub struct CallBody {
    slot: Arc<Mutex<Option<Pending>>>,
}

/// A call not yet run, and the method handler that runs it.
struct Pending {
    call: ServerCall,
    handler: Arc<dyn Handler>,
}

impl fmt::Debug for CallBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallBody").finish_non_exhaustive()
    }
}

/// The service middleware wraps: boxed, so layers of any types stack. The
/// innermost one runs the call (interceptors, handler, response) and resolves
/// when it is over; it is always ready, so readiness is the middleware's.
pub struct CallService(Box<dyn CloneService>);

impl CallService {
    /// The innermost service: runs the call.
    fn run() -> Self {
        Self::new(RunCall)
    }

    fn new<S>(service: S) -> Self
    where
        S: Service<CallRequest, Response = ()> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Self(Box::new(service))
    }
}

impl Clone for CallService {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

impl fmt::Debug for CallService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallService").finish_non_exhaustive()
    }
}

type CallFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

impl Service<CallRequest> for CallService {
    type Response = ();
    type Error = BoxError;
    type Future = CallFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready_boxed(cx)
    }

    fn call(&mut self, request: CallRequest) -> CallFuture {
        self.0.call_boxed(request)
    }
}

/// A [`Service`] of calls, object-safe and cloneable.
trait CloneService: Send {
    fn poll_ready_boxed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>>;
    fn call_boxed(&mut self, request: CallRequest) -> CallFuture;
    fn clone_box(&self) -> Box<dyn CloneService>;
}

impl<S> CloneService for S
where
    S: Service<CallRequest, Response = ()> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    fn poll_ready_boxed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.poll_ready(cx).map_err(Into::into)
    }

    fn call_boxed(&mut self, request: CallRequest) -> CallFuture {
        let call = self.call(request);
        Box::pin(async move { call.await.map_err(Into::into) })
    }

    fn clone_box(&self) -> Box<dyn CloneService> {
        Box::new(self.clone())
    }
}

/// Runs the call in the request's body.
#[derive(Clone, Copy)]
struct RunCall;

impl Service<CallRequest> for RunCall {
    type Response = ();
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<(), Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: CallRequest) -> Self::Future {
        let (parts, body) = request.into_parts();
        let pending = lock(&body.slot).take();
        let Some(Pending { mut call, handler }) = pending else {
            // Run twice (a retry layer): the call has already run.
            return Box::pin(async { Ok(()) });
        };
        call.restore_head(parts);
        let run = handler.call(call);
        Box::pin(async move {
            run.await;
            Ok(())
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A `tower::Layer` that can wrap calls: one that wraps a [`CallService`] in a
/// service that takes a [`CallRequest`], answers `()`, and fails with anything
/// that converts into a [`BoxError`]. Implemented for every such layer; pass it
/// to [`ServerBuilder::layer`](crate::ServerBuilder::layer) or
/// [`ServiceScope::layer`](crate::ServiceScope::layer).
pub trait CallLayer: Send + Sync + 'static {
    /// Wraps `inner`, with the layer's types erased.
    #[doc(hidden)]
    fn wrap_service(&self, inner: CallService) -> CallService;
}

impl<L> CallLayer for L
where
    L: Layer<CallService> + Send + Sync + 'static,
    L::Service: Service<CallRequest, Response = ()> + Clone + Send + 'static,
    <L::Service as Service<CallRequest>>::Error: Into<BoxError>,
    <L::Service as Service<CallRequest>>::Future: Send + 'static,
{
    fn wrap_service(&self, inner: CallService) -> CallService {
        CallService::new(self.layer(inner))
    }
}

/// The layers of one scope (the server, or one service), outermost first.
#[derive(Default)]
pub(crate) struct Stack(Vec<Box<dyn CallLayer>>);

impl Stack {
    pub(crate) fn push(&mut self, layer: impl CallLayer) {
        self.0.push(Box::new(layer));
    }

    /// Builds the scope's one service stack, shared by every method in the
    /// scope; `None` without layers.
    pub(crate) fn into_wrap(self) -> Option<Wrap> {
        if self.0.is_empty() {
            return None;
        }
        let service = self
            .0
            .iter()
            .rev()
            .fold(CallService::run(), |inner, layer| layer.wrap_service(inner));
        let service = Arc::new(Mutex::new(service));
        Some(Arc::new(move |path, handler| {
            Arc::new(Layered {
                service: service.clone(),
                handler,
                path,
            })
        }))
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("layers", &self.0.len())
            .finish()
    }
}

/// One method's handler behind its scope's middleware. The service is cloned
/// for each call (tower's way of sharing one between concurrent requests),
/// under a lock held only for the clone.
struct Layered {
    service: Arc<Mutex<CallService>>,
    handler: Arc<dyn Handler>,
    path: &'static str,
}

impl Handler for Layered {
    fn call(&self, mut call: ServerCall) -> crate::server::BoxFuture {
        let mut service = lock(&self.service).clone();
        let head = call.take_head(self.path);
        let deadline = call.deadline();
        let slot = Arc::new(Mutex::new(Some(Pending {
            call,
            handler: self.handler.clone(),
        })));
        let request = head.map(|()| CallBody { slot: slot.clone() });
        Box::pin(async move {
            let run = async {
                poll_fn(|cx| service.poll_ready(cx)).await?;
                service.call(request).await
            };
            let status = match deadline {
                None => run.await.err().map(status_of),
                Some(deadline) => match tokio::time::timeout_at(deadline, run).await {
                    Ok(result) => result.err().map(status_of),
                    Err(_) => Some(Status::deadline_exceeded("deadline exceeded")),
                },
            };
            // Still here: the middleware did not run the call.
            let left = lock(&slot).take();
            if let Some(Pending { call, .. }) = left {
                let status = status.unwrap_or_else(|| {
                    Status::internal("middleware ended the call without running it")
                });
                call.reject(&status);
            }
        })
    }
}

/// The status for a middleware error.
fn status_of(error: BoxError) -> Status {
    match error.downcast::<Status>() {
        Ok(status) => *status,
        Err(error) => Status::unavailable(error.to_string()),
    }
}
