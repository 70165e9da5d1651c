//! The Greeter example: a versioned-package service with one method of each call
//! kind, its implementation, and a client run that exercises all four.
//!
//! Run the server and client in one process with `aqueduct demo`, or separately with
//! `cargo run -p helloworld --example greeter-server` and `--example greeter-client`.

use aqueduct::{CallOptions, Channel, Request, Response, ServerSink, Status, Streaming};

/// Generated messages, server and client for `helloworld.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    aqueduct::include_proto!("helloworld.v1");
}

pub mod intercepted;
pub mod mtls;

use pb::greeter_service_client::GreeterServiceClient;
use pb::greeter_service_server::GreeterService;
use pb::*;

/// The Greeter implementation.
#[derive(Debug, Default)]
pub struct MyGreeter;

/// Greetings per streaming call, at most; a bound on what one request can ask for.
const MAX_COUNT: u32 = 1000;

impl GreeterService for MyGreeter {
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

    async fn say_hello_stream(
        &self,
        request: Request<SayHelloStreamRequest>,
        responses: &mut ServerSink<SayHelloStreamResponse>,
    ) -> Result<(), Status> {
        let SayHelloStreamRequest { name, count } = request.into_inner();
        if count > MAX_COUNT {
            return Err(Status::out_of_range(format!(
                "count must be at most {MAX_COUNT}"
            )));
        }
        for index in 0..count {
            responses
                .send(SayHelloStreamResponse {
                    message: format!("Hello #{index}, {name}!"),
                    index,
                })
                .await?;
        }
        Ok(())
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

    async fn chat(
        &self,
        request: Request<Streaming<ChatRequest>>,
        responses: &mut ServerSink<ChatResponse>,
    ) -> Result<(), Status> {
        let mut stream = request.into_inner();
        while let Some(msg) = stream.message().await? {
            responses
                .send(ChatResponse {
                    message: format!("Hello, {}!", msg.name),
                })
                .await?;
        }
        Ok(())
    }
}

/// Calls each of the four methods once on `channel` and returns a line per call.
pub async fn run_client(channel: Channel) -> Result<Vec<String>, Status> {
    let client = GreeterServiceClient::new(channel);
    let mut lines = Vec::new();

    let reply = client
        .say_hello(SayHelloRequest { name: "Ada".into() })
        .await?;
    lines.push(format!(
        "unary            SayHello       -> {:?}",
        reply.get_ref().message
    ));

    let mut stream = client
        .say_hello_stream(SayHelloStreamRequest {
            name: "Grace".into(),
            count: 3,
        })
        .await?;
    let mut got = Vec::new();
    while let Some(msg) = stream.message().await? {
        got.push(msg.message);
    }
    lines.push(format!("server streaming SayHelloStream -> {got:?}"));

    let mut call = client.say_hello_to_many(CallOptions::new()).await?;
    for name in ["Alan", "Barbara", "Edsger"] {
        call.send(SayHelloToManyRequest { name: name.into() })
            .await?;
    }
    let reply = call.finish().await?.into_inner();
    lines.push(format!(
        "client streaming SayHelloToMany -> {:?} ({} names)",
        reply.message, reply.count
    ));

    let aqueduct::BidiCall {
        mut requests,
        mut responses,
        ..
    } = client.chat(CallOptions::new()).await?;
    let mut got = Vec::new();
    for name in ["Ken", "Dennis"] {
        requests.send(ChatRequest { name: name.into() }).await?;
        match responses.message().await? {
            Some(reply) => got.push(reply.message),
            None => return Err(Status::internal("chat ended early")),
        }
    }
    requests.close();
    if responses.message().await?.is_some() {
        return Err(Status::internal("chat sent an extra reply"));
    }
    lines.push(format!("bidirectional    Chat           -> {got:?}"));
    Ok(lines)
}
