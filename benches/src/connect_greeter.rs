//! The Greeter on connect-rust (`connectrpc`), written the way its own
//! examples write it (zero-copy request views, owned buffa replies), with the
//! same behaviour as `helloworld::MyGreeter` and the tonic Greeter.

use connectrpc::{
    ConnectError, InboundStream, RequestContext, Response, ServiceRequest, ServiceResult,
    ServiceStream,
};
use tokio_stream::StreamExt as _;

use crate::connect_pb::helloworld::v1::*;

/// The connect-rust Greeter.
#[derive(Debug, Default)]
pub struct ConnectGreeter;

// Concrete reply types where the trait says `impl Encodable<_>`, as
// connect-rust's examples write them (its crates allow the lint too).
#[allow(refining_impl_trait)]
impl GreeterService for ConnectGreeter {
    async fn say_hello(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, SayHelloRequest>,
    ) -> ServiceResult<SayHelloResponse> {
        let name = request.name;
        if name.is_empty() {
            return Err(ConnectError::invalid_argument("name must not be empty"));
        }
        Response::ok(SayHelloResponse {
            message: format!("Hello, {name}!"),
            ..Default::default()
        })
    }

    async fn say_hello_stream(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, SayHelloStreamRequest>,
    ) -> ServiceResult<ServiceStream<SayHelloStreamResponse>> {
        let (name, count) = (request.name.to_owned(), request.count);
        if count > 1000 {
            return Err(ConnectError::out_of_range("count must be at most 1000"));
        }
        Response::stream_ok(tokio_stream::iter(0..count).map(move |index| {
            Ok(SayHelloStreamResponse {
                message: format!("Hello #{index}, {name}!"),
                index,
                ..Default::default()
            })
        }))
    }

    async fn say_hello_to_many(
        &self,
        _ctx: RequestContext,
        mut requests: InboundStream<SayHelloToManyRequest>,
    ) -> ServiceResult<SayHelloToManyResponse> {
        let mut names = Vec::new();
        while let Some(msg) = requests.next().await {
            names.push(msg?.view().name.to_owned());
        }
        Response::ok(SayHelloToManyResponse {
            message: format!("Hello, {}!", names.join(" and ")),
            count: names.len() as u32,
            ..Default::default()
        })
    }

    async fn chat(
        &self,
        _ctx: RequestContext,
        requests: InboundStream<ChatRequest>,
    ) -> ServiceResult<ServiceStream<ChatResponse>> {
        Response::stream_ok(requests.map(|msg| {
            msg.map(|m| ChatResponse {
                message: format!("Hello, {}!", m.view().name),
                ..Default::default()
            })
        }))
    }
}
