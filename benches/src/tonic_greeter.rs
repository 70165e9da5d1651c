//! The Greeter on tonic, written the way tonic's own examples write it, with the
//! same behaviour as `helloworld::MyGreeter`.

use std::pin::Pin;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::tonic_pb::greeter_service_server::GreeterService;
use crate::tonic_pb::*;

/// The tonic Greeter.
#[derive(Debug, Default)]
pub struct TonicGreeter;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl GreeterService for TonicGreeter {
    async fn say_hello(
        &self,
        request: Request<SayHelloRequest>,
    ) -> Result<Response<SayHelloResponse>, Status> {
        let name = request.into_inner().name;
        if name.is_empty() {
            return Err(Status::invalid_argument("name must not be empty"));
        }
        Ok(Response::new(SayHelloResponse {
            message: format!("Hello, {name}!"),
        }))
    }

    type SayHelloStreamStream = BoxStream<SayHelloStreamResponse>;

    async fn say_hello_stream(
        &self,
        request: Request<SayHelloStreamRequest>,
    ) -> Result<Response<Self::SayHelloStreamStream>, Status> {
        let SayHelloStreamRequest { name, count } = request.into_inner();
        if count > 1000 {
            return Err(Status::out_of_range("count must be at most 1000"));
        }
        let stream = tokio_stream::iter(0..count).map(move |index| {
            Ok(SayHelloStreamResponse {
                message: format!("Hello #{index}, {name}!"),
                index,
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn say_hello_to_many(
        &self,
        request: Request<Streaming<SayHelloToManyRequest>>,
    ) -> Result<Response<SayHelloToManyResponse>, Status> {
        let mut names = Vec::new();
        let mut stream = request.into_inner();
        while let Some(msg) = stream.message().await? {
            names.push(msg.name);
        }
        Ok(Response::new(SayHelloToManyResponse {
            message: format!("Hello, {}!", names.join(" and ")),
            count: names.len() as u32,
        }))
    }

    type ChatStream = BoxStream<ChatResponse>;

    async fn chat(
        &self,
        request: Request<Streaming<ChatRequest>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        let stream = request.into_inner().map(|msg| {
            msg.map(|m| ChatResponse {
                message: format!("Hello, {}!", m.name),
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
