//! A service whose methods are named Send, Status, Result, Request,
//! Response, Streaming, ServerSink, Option, Sync and Future, and services
//! named Status and Send, compile, serve and answer (the generated code
//! spells every name out in full).

#![allow(clippy::unwrap_used)]

mod pb {
    #![allow(missing_docs, unreachable_pub, dead_code, clippy::all)]
    aqueduct::include_proto!("names.v1");
}

use aqueduct::{Channel, MemoryListener, Request, Response, Server, ServerSink, Status, Streaming};
use pb::Ping;
use pb::names_service_client::NamesServiceClient;
use pb::names_service_server::{NamesService, NamesServiceServer};

struct Echo;

fn echo(text: &str) -> Result<Response<Ping>, Status> {
    Ok(Response::new(Ping { text: text.into() }))
}

impl NamesService for Echo {
    async fn send(&self, r: Request<Ping>) -> Result<Response<Ping>, Status> {
        echo(&format!("send {}", r.into_inner().text))
    }
    async fn status(&self, _: Request<Ping>) -> Result<Response<Ping>, Status> {
        echo("status")
    }
    async fn result(&self, _: Request<Ping>, out: &mut ServerSink<Ping>) -> Result<(), Status> {
        out.send(Ping {
            text: "result".into(),
        })
        .await
    }
    async fn request(&self, _: Request<Streaming<Ping>>) -> Result<Response<Ping>, Status> {
        echo("request")
    }
    async fn response(
        &self,
        _: Request<Streaming<Ping>>,
        _: &mut ServerSink<Ping>,
    ) -> Result<(), Status> {
        Ok(())
    }
    async fn streaming(&self, _: Request<Ping>) -> Result<Response<Ping>, Status> {
        echo("streaming")
    }
    async fn server_sink(&self, _: Request<Ping>) -> Result<Response<Ping>, Status> {
        echo("server_sink")
    }
    async fn option(&self, _: Request<Ping>) -> Result<Response<Ping>, Status> {
        echo("option")
    }
    async fn sync(&self, _: Request<Ping>) -> Result<Response<Ping>, Status> {
        echo("sync")
    }
    async fn future(&self, _: Request<Ping>) -> Result<Response<Ping>, Status> {
        echo("future")
    }
}

impl pb::status_server::Status for Echo {
    async fn check(&self, _: Request<Ping>) -> Result<Response<Ping>, Status> {
        echo("check")
    }
}

impl pb::send_server::Send for Echo {
    async fn result(
        &self,
        request: Request<Streaming<Ping>>,
        out: &mut ServerSink<Ping>,
    ) -> Result<(), Status> {
        let mut pings = request.into_inner();
        while let Some(ping) = pings.message().await? {
            out.send(ping).await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn services_named_like_generated_code_uses_work() {
    let listener = MemoryListener::anonymous();
    let channel = Channel::memory(listener.connector());
    tokio::spawn(
        Server::builder()
            .add_service(pb::status_server::StatusServer::new(Echo))
            .add_service(pb::send_server::SendServer::new(Echo))
            .serve(listener),
    );
    let status = pb::status_client::StatusClient::new(channel.clone());
    assert_eq!(
        status
            .check(Ping { text: "x".into() })
            .await
            .unwrap()
            .into_inner()
            .text,
        "check"
    );
    let send = pb::send_client::SendClient::new(channel);
    let mut call = send.result(aqueduct::CallOptions::new()).await.unwrap();
    call.requests
        .send(Ping {
            text: "echo".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        call.responses.message().await.unwrap().unwrap().text,
        "echo"
    );
}

#[tokio::test]
async fn methods_named_like_generated_code_uses_work() {
    let listener = MemoryListener::anonymous();
    let channel = Channel::memory(listener.connector());
    tokio::spawn(
        Server::builder()
            .add_service(NamesServiceServer::new(Echo))
            .serve(listener),
    );
    let client = NamesServiceClient::new(channel);
    let ping = || Ping { text: "x".into() };
    assert_eq!(
        client.send(ping()).await.unwrap().into_inner().text,
        "send x"
    );
    assert_eq!(
        client.status(ping()).await.unwrap().into_inner().text,
        "status"
    );
    assert_eq!(client.sync(ping()).await.unwrap().into_inner().text, "sync");
    let mut results = client.result(ping()).await.unwrap();
    assert_eq!(results.message().await.unwrap().unwrap().text, "result");
}
