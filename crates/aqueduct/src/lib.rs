//! Aqueduct: a gRPC framework for Rust.
//!
//! Server and client over HTTP/2 (the `h2` crate, for now) with the four call kinds, code
//! generated from `.proto` files by `aqueduct-build` without `protoc`, status codes
//! with rich error [`details`], deadlines that follow calls across services
//! ([`context`]), metadata, compression and [`interceptor`]s, over TCP, Unix
//! sockets, an in-memory pipe ([`MemoryListener`]) and direct in-process calls
//! ([`DirectListener`]), with TLS and mutual TLS over the byte transports.
//!
//! # Layout
//!
//! Each layer is a folder (or module) of its own; a layer uses only those
//! below it. `docs/decisions/0005-one-seam-between-calls-and-carriers.md` says
//! why.
//!
//! ```text
//!  generated code     trait per service + client, from .proto   (aqueduct-build)
//!  codegen, service   the seam generated code uses (hidden); hand-written services (service)
//!  call model         Request / Response / Streaming / ServerSink / Status / MetadataMap
//!  server, client     Server::builder() ... serve(incoming);  Channel::from_uri(...)
//!  interceptors       server and client, scoped; tower bridge   (interceptor, tower)
//!  carriers           HTTP/2 on h2, direct in-process calls     (carrier)
//!  TLS                rustls over any byte transport; identities (tls, feature `tls`)
//!  byte transports    TCP, Unix sockets, memory pipe            (transport)
//!  wire (sans-I/O)    framing, grpc-timeout, status, metadata, compression,
//!                     the call protocol: header names, head and trailer checks (aqueduct-wire)
//! ```
//!
//! # A server and a client
//!
//! Not compiled as a doctest: `GreeterService` and its server and client are
//! the code `aqueduct-build` generates from a `.proto` in a build script, which
//! a doctest does not have. `examples/helloworld` is this example, compiled and
//! tested.
//!
//! ```ignore
//! // build.rs: aqueduct_build::compile(&["proto/helloworld.proto"], &["proto"])?;
//! struct MyGreeter;
//!
//! impl GreeterService for MyGreeter {
//!     async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
//!         let name = req.into_inner().name;
//!         Ok(Response::new(HelloReply { message: format!("Hello, {name}!") }))
//!     }
//! }
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
//! Server::builder()
//!     .add_service(GreeterServiceServer::new(MyGreeter))
//!     .serve(listener)
//!     .with_graceful_shutdown(aqueduct::shutdown_signal())
//!     .await?;
//!
//! let client = GreeterServiceClient::new(Channel::from_uri("http://127.0.0.1:50051")?);
//! let reply = client.say_hello(HelloRequest { name: "Ada".into() }).await?;
//! ```
//!
//! The full, runnable version is `examples/helloworld`; the guide is `docs/guide.md`.
//! A service with no `.proto` can be written by hand: see [`service`].
//!
//! # prost and the well-known types
//!
//! Messages are [`prost`] messages, and `google.protobuf.*` fields are
//! [`prost_types`]' well-known types. Both crates are re-exported here, and
//! generated code reaches them only through these re-exports, so a crate with
//! generated code depends on `aqueduct` (and `aqueduct-build` at build time)
//! and on neither of them: its versions are always the ones Aqueduct is built
//! with.
//!
//! ```
//! use aqueduct::prost::Message as _;
//! use aqueduct::prost_types::Timestamp;
//!
//! let created = Timestamp { seconds: 1_700_000_000, nanos: 0 };
//! let bytes = created.encode_to_vec();
//! assert_eq!(Timestamp::decode(&bytes[..]), Ok(created));
//! ```
//!
//! # What this crate does not do (yet)
//!
//! - No keepalive pings or their enforcement, no connection idle or age limits.
//! - A [`Channel`] dials one address: no resolver, load balancing or retries
//!   beyond the transparent retry of a stream the server refused unprocessed.
//! - No OpenTelemetry metrics yet; [`interceptor::Trace`] gives `tracing` spans.
//!
//! The README's "Status and what's not there yet" is kept current with these.
//!
//! # Feature flags
//!
//! - `tls` (on by default): TLS and mutual TLS with rustls and its `ring`
//!   provider, `https://` channels, peer identities ([`tls`]). Without it the
//!   build is plaintext-only and carries no crypto.
//! - `zstd`: zstd message compression (builds the zstd C library).
//! - `tower`: `ServerBuilder::layer` and `ServiceScope::layer` wrap calls in
//!   any `tower::Layer` (see the `tower` module).

pub mod carrier;
mod client;
mod codec;
#[doc(hidden)]
pub mod codegen;
pub mod context;
pub mod details;
pub mod fieldmask;
pub mod health;
pub mod interceptor;
mod metadata;
pub mod reflection;
mod request;
mod server;
pub mod service;
mod status;
mod streaming;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tower")]
pub mod tower;
pub mod transport;

#[doc(inline)]
pub use aqueduct_wire::compression::Encoding;
pub use carrier::direct::{DirectConnector, DirectListener};
#[doc(inline)]
pub use client::{BidiCall, Channel, ChannelBuilder, ClientStreamingCall, InvalidUri, RequestSink};
#[doc(inline)]
pub use metadata::{MetadataError, MetadataMap, MetadataValue};
#[doc(inline)]
pub use request::{CallOptions, IntoRequest, Request, Response};
#[doc(inline)]
pub use server::{
    HandlerPool, HandlerPoolBuilder, Incoming, Serve, Server, ServerBuilder, ServerSink, Service,
    ServiceScope, shutdown_signal,
};
#[doc(inline)]
pub use status::{Code, Status};
#[doc(inline)]
pub use streaming::Streaming;
#[doc(inline)]
pub use transport::Listener;
pub use transport::memory::MemoryListener;

/// The `prost` crate Aqueduct is built with: messages are `prost::Message`s,
/// and generated code derives them through this path.
pub use prost;
/// The protobuf well-known types (`Timestamp`, `Duration`, `Any`, `Struct`,
/// `FieldMask`...), as generated code uses them for `google.protobuf.*` fields.
pub use prost_types;

/// Includes the code `aqueduct-build` generated for a protobuf package.
///
/// (Not compiled as a doctest: the file is written into `OUT_DIR` by a build
/// script, which a doctest does not have.)
///
/// ```ignore
/// pub mod pb {
///     aqueduct::include_proto!("helloworld.v1");
/// }
/// ```
#[macro_export]
macro_rules! include_proto {
    ($package:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
    };
}

/// The encoded `FileDescriptorSet` that `aqueduct-build` wrote for this crate's
/// protos, every transitive import included, as a `&'static [u8]`.
#[macro_export]
macro_rules! include_file_descriptor_set {
    () => {
        include_bytes!(concat!(
            env!("OUT_DIR"),
            "/aqueduct_file_descriptor_set.bin"
        ))
    };
}
