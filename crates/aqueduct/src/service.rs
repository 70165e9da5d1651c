//! Services written by hand: a [`Service`] lists one [`Route`] per method, each
//! built from a method type that implements one of the four method traits.
//!
//! `aqueduct-build` writes all of this for every service in a `.proto`. Write it
//! yourself for a service that has no `.proto`: a test probe, a method whose
//! messages are prost's own (`String` for `google.protobuf.StringValue`,
//! `Vec<u8>`, `()` for `google.protobuf.Empty`), a service put together at
//! startup.
//!
//! A method is a marker type implementing, for the type `S` that holds the
//! service's state, the trait of its call kind:
//!
//! | call kind | trait | route |
//! |---|---|---|
//! | unary | [`UnaryMethod<S>`] | [`unary`] |
//! | server streaming | [`ServerStreamingMethod<S>`] | [`server_streaming`] |
//! | client streaming | [`ClientStreamingMethod<S>`] | [`client_streaming`] |
//! | bidirectional streaming | [`BidiStreamingMethod<S>`] | [`bidi_streaming`] |
//!
//! The route pairs the method with its path, `/` + [`Service::NAME`] + `/` +
//! the method's name, and the shared `Arc<S>`. The server matches a call's
//! path exactly, so a call to a path no route has gets `UNIMPLEMENTED` before
//! any code of the service runs. A hand-written service leaves
//! [`Service::FILE_DESCRIPTOR_SET`] empty, and reflection does not describe it.
//!
//! # Example
//!
//! `test.v1.Echo/Say`, mounted on a server and called over the memory pipe:
//!
//! ```
//! use std::sync::Arc;
//!
//! use aqueduct::service::{self, Route, Service, UnaryMethod};
//! use aqueduct::{Channel, MemoryListener, Request, Response, Server, Status};
//!
//! /// The state the service's methods share.
//! struct Echo {
//!     prefix: String,
//! }
//!
//! /// `Say`: StringValue in, StringValue out, as prost's `String`.
//! struct Say;
//!
//! impl UnaryMethod<Echo> for Say {
//!     type Request = String;
//!     type Response = String;
//!
//!     async fn call(svc: &Echo, request: Request<String>) -> Result<Response<String>, Status> {
//!         Ok(Response::new(format!("{}{}", svc.prefix, request.into_inner())))
//!     }
//! }
//!
//! /// What is mounted on the server.
//! struct EchoServer(Arc<Echo>);
//!
//! impl Service for EchoServer {
//!     const NAME: &'static str = "test.v1.Echo";
//!
//!     fn routes(&self) -> Vec<Route> {
//!         vec![service::unary::<Echo, Say>("/test.v1.Echo/Say", self.0.clone())]
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = MemoryListener::bind("service-doc")?;
//! let echo = EchoServer(Arc::new(Echo { prefix: "echo: ".into() }));
//! tokio::spawn(Server::builder().add_service(echo).serve(listener));
//!
//! let channel = Channel::from_uri("mem://service-doc")?;
//! let reply = channel
//!     .unary::<String, String>("/test.v1.Echo/Say", Request::new("hi".into()))
//!     .await?;
//! assert_eq!(reply.into_inner(), "echo: hi");
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;

#[doc(no_inline)]
pub use crate::server::Service;

use crate::request::{Request, Response};
use crate::server::call;
use crate::server::{BoxFuture, Handler};
use crate::server::{ServerCall, ServerSink};
use crate::status::Status;
use crate::streaming::Streaming;

/// One method of a [`Service`]: its path and what runs its calls. Made by
/// [`unary`], [`server_streaming`], [`client_streaming`] or [`bidi_streaming`].
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

/// A unary method of service `S`: one request, one response. Route it with
/// [`unary`].
pub trait UnaryMethod<S>: Send + Sync + 'static {
    /// Request message.
    type Request: prost::Message + Default + Send + 'static;
    /// Response message.
    type Response: prost::Message + Send + 'static;
    /// Answers one call.
    fn call(
        svc: &S,
        request: Request<Self::Request>,
    ) -> impl Future<Output = Result<Response<Self::Response>, Status>> + Send;
}

/// A server-streaming method of service `S`: one request, responses sent into
/// a [`ServerSink`]. Route it with [`server_streaming`].
pub trait ServerStreamingMethod<S>: Send + Sync + 'static {
    /// Request message.
    type Request: prost::Message + Default + Send + 'static;
    /// Response message.
    type Response: prost::Message + Send + 'static;
    /// Answers one call; the call ends with `OK` when this returns `Ok`.
    fn call(
        svc: &S,
        request: Request<Self::Request>,
        responses: &mut ServerSink<Self::Response>,
    ) -> impl Future<Output = Result<(), Status>> + Send;
}

/// A client-streaming method of service `S`: requests read from a
/// [`Streaming`], one response. Route it with [`client_streaming`].
pub trait ClientStreamingMethod<S>: Send + Sync + 'static {
    /// Request message.
    type Request: prost::Message + Default + Send + 'static;
    /// Response message.
    type Response: prost::Message + Send + 'static;
    /// Answers one call.
    fn call(
        svc: &S,
        request: Request<Streaming<Self::Request>>,
    ) -> impl Future<Output = Result<Response<Self::Response>, Status>> + Send;
}

/// A bidirectional-streaming method of service `S`: requests read from a
/// [`Streaming`], responses sent into a [`ServerSink`]. Route it with
/// [`bidi_streaming`].
pub trait BidiStreamingMethod<S>: Send + Sync + 'static {
    /// Request message.
    type Request: prost::Message + Default + Send + 'static;
    /// Response message.
    type Response: prost::Message + Send + 'static;
    /// Answers one call; the call ends with `OK` when this returns `Ok`.
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
    /// The route for unary method `M` of `svc`, at `path`
    /// (`/package.Service/Method`).
    unary, UnaryHandler, UnaryMethod, run_unary
);
route_kind!(
    /// The route for server-streaming method `M` of `svc`, at `path`
    /// (`/package.Service/Method`).
    server_streaming, ServerStreamingHandler, ServerStreamingMethod, run_server_streaming
);
route_kind!(
    /// The route for client-streaming method `M` of `svc`, at `path`
    /// (`/package.Service/Method`).
    client_streaming, ClientStreamingHandler, ClientStreamingMethod, run_client_streaming
);
route_kind!(
    /// The route for bidirectional-streaming method `M` of `svc`, at `path`
    /// (`/package.Service/Method`).
    bidi_streaming, BidiStreamingHandler, BidiStreamingMethod, run_bidi_streaming
);
