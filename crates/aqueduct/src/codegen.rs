//! The one seam between generated code and the runtime.
//!
//! Code emitted by `aqueduct-build` names the runtime, prost and the
//! well-known types only through `::aqueduct::codegen::...` paths, so the
//! runtime can change behind them and a crate with generated code needs no
//! dependency but `aqueduct` (not `prost`, not `prost-types`). Hidden from the
//! docs: not for direct use. Services written by hand use [`crate::service`].

pub use crate::client::{BidiCall, Channel, ClientStreamingCall};
pub use crate::fieldmask;
pub use crate::request::{CallOptions, IntoRequest, Request, Response};
pub use crate::server::ServerSink;
pub use crate::service::{
    BidiStreamingMethod, ClientStreamingMethod, Route, ServerStreamingMethod, Service, UnaryMethod,
    bidi_streaming, client_streaming, server_streaming, unary,
};
pub use crate::status::Status;
pub use crate::streaming::Streaming;
pub use prost;
pub use prost_types;
