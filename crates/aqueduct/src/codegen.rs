//! The one seam between generated code and the runtime.
//!
//! Code emitted by `aqueduct-build` does `use aqueduct::codegen::*`-style paths and
//! nothing else, so the runtime can change behind it. Not for direct use.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use crate::client::{BidiCall, Channel, ClientStreamingCall};
pub use crate::fieldmask;
pub use crate::request::{CallOptions, IntoRequest, Request, Response};
pub use crate::server::{ServerCall, ServerSink, Service};
pub use crate::status::Status;
pub use crate::streaming::Streaming;
pub use prost;

use crate::server::call;

/// A boxed call future, as the router stores it.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A type-erased method handler.
pub trait Handler: Send + Sync + 'static {
    /// Runs one call to completion.
    fn call(&self, call: ServerCall) -> BoxFuture;
}

/// One method's path and handler.
pub struct Route {
    pub(crate) path: &'static str,
    pub(crate) handler: Arc<dyn Handler>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A unary method of service `S`, implemented by a generated marker type.
pub trait UnaryMethod<S>: Send + Sync + 'static {
    /// Request message.
    type Request: prost::Message + Default + Send + 'static;
    /// Response message.
    type Response: prost::Message + Send + 'static;
    /// Calls the user's implementation.
    fn call(
        svc: &S,
        request: Request<Self::Request>,
    ) -> impl Future<Output = Result<Response<Self::Response>, Status>> + Send;
}

/// A server-streaming method of service `S`.
pub trait ServerStreamingMethod<S>: Send + Sync + 'static {
    /// Request message.
    type Request: prost::Message + Default + Send + 'static;
    /// Response message.
    type Response: prost::Message + Send + 'static;
    /// Calls the user's implementation.
    fn call(
        svc: &S,
        request: Request<Self::Request>,
        responses: &mut ServerSink<Self::Response>,
    ) -> impl Future<Output = Result<(), Status>> + Send;
}

/// A client-streaming method of service `S`.
pub trait ClientStreamingMethod<S>: Send + Sync + 'static {
    /// Request message.
    type Request: prost::Message + Default + Send + 'static;
    /// Response message.
    type Response: prost::Message + Send + 'static;
    /// Calls the user's implementation.
    fn call(
        svc: &S,
        request: Request<Streaming<Self::Request>>,
    ) -> impl Future<Output = Result<Response<Self::Response>, Status>> + Send;
}

/// A bidirectional-streaming method of service `S`.
pub trait BidiStreamingMethod<S>: Send + Sync + 'static {
    /// Request message.
    type Request: prost::Message + Default + Send + 'static;
    /// Response message.
    type Response: prost::Message + Send + 'static;
    /// Calls the user's implementation.
    fn call(
        svc: &S,
        request: Request<Streaming<Self::Request>>,
        responses: &mut ServerSink<Self::Response>,
    ) -> impl Future<Output = Result<(), Status>> + Send;
}

macro_rules! route_kind {
    ($(#[$doc:meta])* $fn_name:ident, $handler:ident, $trait:ident, $run:ident) => {
        struct $handler<S, M> {
            svc: Arc<S>,
            _method: std::marker::PhantomData<fn() -> M>,
        }

        impl<S: Send + Sync + 'static, M: $trait<S>> Handler for $handler<S, M> {
            fn call(&self, call: ServerCall) -> BoxFuture {
                Box::pin(call::$run::<S, M>(call, self.svc.clone()))
            }
        }

        $(#[$doc])*
        pub fn $fn_name<S: Send + Sync + 'static, M: $trait<S>>(path: &'static str, svc: Arc<S>) -> Route {
            Route {
                path,
                handler: Arc::new($handler::<S, M> {
                    svc,
                    _method: std::marker::PhantomData,
                }),
            }
        }
    };
}

route_kind!(
    /// The route for a unary method.
    unary, UnaryHandler, UnaryMethod, run_unary
);
route_kind!(
    /// The route for a server-streaming method.
    server_streaming, ServerStreamingHandler, ServerStreamingMethod, run_server_streaming
);
route_kind!(
    /// The route for a client-streaming method.
    client_streaming, ClientStreamingHandler, ClientStreamingMethod, run_client_streaming
);
route_kind!(
    /// The route for a bidirectional-streaming method.
    bidi_streaming, BidiStreamingHandler, BidiStreamingMethod, run_bidi_streaming
);
