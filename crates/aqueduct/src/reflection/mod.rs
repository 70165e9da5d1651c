//! Server reflection, `grpc.reflection.v1.ServerReflection` and its older
//! twin `grpc.reflection.v1alpha`, as `grpcurl`, `buf curl`, `grpcui` and
//! Postman use it to list a server's services and learn their message types.
//!
//! One line turns it on, and there is nothing to register:
//!
//! ```
//! let server = aqueduct::Server::builder()
//!     // .add_service(GreeterServiceServer::new(MyGreeter))
//!     .add_reflection();
//! # drop(server);
//! ```
//!
//! Every service `aqueduct-build` generates carries its descriptors
//! ([`Service::FILE_DESCRIPTOR_SET`]):
//! the `.proto` file declaring it and every file it imports, transitively,
//! well-known types included. When the server starts, reflection indexes the
//! descriptors of exactly the services mounted on it, whenever they were
//! added, so every type a client can reach resolves. The standard services
//! Aqueduct ships (health, reflection itself) carry theirs too, and the
//! `google.rpc` error details ([`crate::details`]: `google/rpc/status.proto`
//! and `google/rpc/error_details.proto`) are always served, so `grpcurl`
//! prints the details a handler attached to a status decoded; a mounted
//! service's own copy of those files wins over the bundled one. A service
//! written by hand, with no descriptors, is listed but cannot be described;
//! the server logs a warning for it at startup.
//!
//! Both protocol versions are served from one index (tools try `v1` and fall
//! back to `v1alpha`). Each request on the stream gets one response, in order;
//! a lookup that fails gets an error response (`NOT_FOUND`) and the stream goes
//! on. A file is always sent with its transitive imports. When the server's
//! graceful shutdown starts, open reflection streams end, so they do not hold
//! up the drain.

mod index;

use std::sync::Arc;

use tokio::sync::watch;

pub(crate) use index::Index;

use crate::server::{ServerSink, Service};
use crate::service::{self, BidiStreamingMethod, Route};
use crate::{Request, Status, Streaming};

/// `/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`.
pub const V1_INFO: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
/// `/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo`.
pub const V1ALPHA_INFO: &str = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

/// `ServerReflectionRequest` (the same message in `v1` and `v1alpha`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerReflectionRequest {
    /// The host the request is for; echoed in the response.
    #[prost(string, tag = "1")]
    pub host: String,
    /// What is asked.
    #[prost(oneof = "MessageRequest", tags = "3, 4, 5, 6, 7")]
    pub message_request: Option<MessageRequest>,
}

/// What a [`ServerReflectionRequest`] asks.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MessageRequest {
    /// A file by its name, as in an `import` statement.
    #[prost(string, tag = "3")]
    FileByFilename(String),
    /// The file declaring a fully qualified symbol: service, method, message,
    /// enum, enum value, field, oneof or extension.
    #[prost(string, tag = "4")]
    FileContainingSymbol(String),
    /// The file declaring an extension of a message, by number.
    #[prost(message, tag = "5")]
    FileContainingExtension(ExtensionRequest),
    /// The extension numbers declared for a message, by its full name.
    #[prost(string, tag = "6")]
    AllExtensionNumbersOfType(String),
    /// The services the server exposes (the string is ignored).
    #[prost(string, tag = "7")]
    ListServices(String),
}

/// `ExtensionRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtensionRequest {
    /// Full name of the extended message.
    #[prost(string, tag = "1")]
    pub containing_type: String,
    /// The extension's field number.
    #[prost(int32, tag = "2")]
    pub extension_number: i32,
}

/// `ServerReflectionResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerReflectionResponse {
    /// The request's host.
    #[prost(string, tag = "1")]
    pub valid_host: String,
    /// The request answered.
    #[prost(message, optional, tag = "2")]
    pub original_request: Option<ServerReflectionRequest>,
    /// The answer.
    #[prost(oneof = "MessageResponse", tags = "4, 5, 6, 7")]
    pub message_response: Option<MessageResponse>,
}

/// The answer in a [`ServerReflectionResponse`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MessageResponse {
    /// Files, for the three file requests.
    #[prost(message, tag = "4")]
    FileDescriptorResponse(FileDescriptorResponse),
    /// For [`MessageRequest::AllExtensionNumbersOfType`].
    #[prost(message, tag = "5")]
    AllExtensionNumbersResponse(ExtensionNumberResponse),
    /// For [`MessageRequest::ListServices`].
    #[prost(message, tag = "6")]
    ListServicesResponse(ListServiceResponse),
    /// The lookup failed.
    #[prost(message, tag = "7")]
    ErrorResponse(ErrorResponse),
}

/// `FileDescriptorResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileDescriptorResponse {
    /// Encoded `google.protobuf.FileDescriptorProto`s: the file asked for, then
    /// its transitive imports.
    #[prost(bytes = "bytes", repeated, tag = "1")]
    pub file_descriptor_proto: Vec<bytes::Bytes>,
}

/// `ExtensionNumberResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtensionNumberResponse {
    /// Full name of the extended message.
    #[prost(string, tag = "1")]
    pub base_type_name: String,
    /// Its extension numbers, ascending.
    #[prost(int32, repeated, tag = "2")]
    pub extension_number: Vec<i32>,
}

/// `ListServiceResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListServiceResponse {
    /// The services, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub service: Vec<ServiceResponse>,
}

/// `ServiceResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServiceResponse {
    /// Full service name.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `ErrorResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorResponse {
    /// A status code ([`Code`](crate::Code) as a number).
    #[prost(int32, tag = "1")]
    pub error_code: i32,
    /// What went wrong.
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// What both reflection services answer from: the index, and whether the
/// server is shutting down.
#[derive(Debug)]
pub(crate) struct Reflection {
    index: Index,
    shutting_down: watch::Sender<bool>,
}

impl Reflection {
    pub(crate) fn new(index: Index) -> Arc<Self> {
        Arc::new(Self {
            index,
            shutting_down: watch::Sender::new(false),
        })
    }

    /// Ends open reflection streams; called when graceful shutdown starts.
    pub(crate) fn shutdown(&self) {
        self.shutting_down.send_replace(true);
    }
}

/// `grpc.reflection.v1.ServerReflection`.
pub(crate) struct V1(pub(crate) Arc<Reflection>);
/// `grpc.reflection.v1alpha.ServerReflection`.
pub(crate) struct V1Alpha(pub(crate) Arc<Reflection>);

impl Service for V1 {
    const NAME: &'static str = "grpc.reflection.v1.ServerReflection";
    const FILE_DESCRIPTOR_SET: &'static [u8] =
        include_bytes!("../../descriptors/reflection_v1.bin");

    fn routes(&self) -> Vec<Route> {
        vec![service::bidi_streaming::<Reflection, Info>(
            V1_INFO,
            self.0.clone(),
        )]
    }
}

impl Service for V1Alpha {
    const NAME: &'static str = "grpc.reflection.v1alpha.ServerReflection";
    const FILE_DESCRIPTOR_SET: &'static [u8] =
        include_bytes!("../../descriptors/reflection_v1alpha.bin");

    fn routes(&self) -> Vec<Route> {
        vec![service::bidi_streaming::<Reflection, Info>(
            V1ALPHA_INFO,
            self.0.clone(),
        )]
    }
}

/// `ServerReflectionInfo`, the one method of both versions.
struct Info;

impl BidiStreamingMethod<Reflection> for Info {
    type Request = ServerReflectionRequest;
    type Response = ServerReflectionResponse;

    async fn call(
        svc: &Reflection,
        request: Request<Streaming<ServerReflectionRequest>>,
        responses: &mut ServerSink<ServerReflectionResponse>,
    ) -> Result<(), Status> {
        let mut requests = request.into_inner();
        let mut shutting_down = svc.shutting_down.subscribe();
        loop {
            let request = tokio::select! {
                biased;
                _ = shutting_down.wait_for(|stop| *stop) => return Ok(()),
                request = requests.message() => request?,
            };
            let Some(request) = request else {
                return Ok(());
            };
            responses.send(svc.index.answer(request)).await?;
        }
    }
}
