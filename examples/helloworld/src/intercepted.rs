//! Interceptors and rich error details, end to end in one process: an
//! authentication interceptor on one method, an access log on the whole server,
//! and a refusal whose `ErrorInfo` the client reads. Run it with
//! `cargo run -p helloworld --example interceptors`.

use aqueduct::details::ErrorDetails;
use aqueduct::interceptor::{CallEnd, CallInfo, Interceptor};
use aqueduct::{Channel, MemoryListener, Request, Server, Status};
use tokio::sync::mpsc;

use crate::MyGreeter;
use crate::pb::SayHelloRequest;
use crate::pb::greeter_client::GreeterClient;
use crate::pb::greeter_server::GreeterServer;

/// The token [`Auth`] accepts.
pub const TOKEN: &str = "demo-token";

/// Refuses calls without `authorization: Bearer demo-token`, with an `ErrorInfo`
/// saying why, and hands the caller's name on as a typed value.
#[derive(Debug)]
pub struct Auth;

/// Who called, as [`Auth`] established it.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

impl Interceptor for Auth {
    async fn on_call(&self, call: &mut CallInfo<'_>) -> Result<(), Status> {
        let token = call
            .metadata()
            .get("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        match token {
            Some(TOKEN) => {
                call.extensions_mut().insert(Caller("demo user".into()));
                Ok(())
            }
            Some(_) => Err(Status::permission_denied("unknown token")),
            None => Err(
                Status::unauthenticated("missing bearer token").with_error_details(
                    ErrorDetails::new().error_info(
                        "TOKEN_MISSING",
                        "helloworld.example",
                        [("header", "authorization")],
                    ),
                ),
            ),
        }
    }
}

/// Reports every call's method, final code and duration.
#[derive(Debug)]
pub struct AccessLog(pub mpsc::Sender<String>);

impl Interceptor for AccessLog {
    fn on_end(&self, end: &CallEnd<'_>) {
        // A full log drops lines rather than slow the server down.
        let _ = self
            .0
            .try_send(format!("[access log] {} -> {:?}", end.method(), end.code()));
    }
}

/// Serves the Greeter with [`AccessLog`] on the server and [`Auth`] on
/// `SayHello`, calls it without and with a token, and returns what happened.
pub async fn run() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (log_tx, mut log_rx) = mpsc::channel(16);
    let listener = MemoryListener::anonymous();
    let channel = Channel::memory(listener.connector());
    tokio::spawn(
        Server::builder()
            .intercept(AccessLog(log_tx))
            .add_service_with(GreeterServer::new(MyGreeter), |scope| {
                scope.intercept_method("SayHello", Auth)
            })
            .serve(listener),
    );
    let client = GreeterClient::new(channel);
    let mut lines = Vec::new();

    let refused = client
        .say_hello(SayHelloRequest { name: "Ada".into() })
        .await
        .err()
        .ok_or("a call without a token succeeded")?;
    lines.push(format!(
        "without a token: {:?}: {}",
        refused.code(),
        refused.message()
    ));
    if let Some(info) = refused.error_details()?.error_info {
        lines.push(format!("  error info: {} in {}", info.reason, info.domain));
    }

    let mut request = Request::new(SayHelloRequest { name: "Ada".into() });
    request
        .metadata_mut()
        .insert("authorization", &format!("Bearer {TOKEN}"))?;
    let reply = client.say_hello(request).await?;
    lines.push(format!("with a token: {}", reply.into_inner().message));

    for _ in 0..2 {
        lines.push(log_rx.recv().await.ok_or("the access log closed")?);
    }
    Ok(lines)
}
