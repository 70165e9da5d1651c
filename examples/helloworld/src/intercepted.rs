//! Interceptors and rich error details, end to end in one process: an
//! authentication interceptor on one method, an access log and a deadline
//! policy on the whole server, a stream interceptor counting one method's
//! messages, a client interceptor that sends the token, and a refusal whose
//! `ErrorInfo` the client reads. Run it with
//! `cargo run -p helloworld --example interceptors`.

use std::time::Duration;

use aqueduct::details::ErrorDetails;
use aqueduct::interceptor::{
    AnyMessage, BearerToken, CallEnd, CallInfo, DeadlinePolicy, Interceptor, MessageHook,
};
use aqueduct::{CallOptions, Channel, MemoryListener, Request, Server, Status};
use tokio::sync::mpsc;

use crate::MyGreeter;
use crate::pb::greeter_service_client::GreeterServiceClient;
use crate::pb::greeter_service_server::GreeterServiceServer;
use crate::pb::{ChatRequest, SayHelloRequest};

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

/// A stream interceptor: counts each call's messages both ways, and reports
/// the counts when the call is over.
#[derive(Debug)]
pub struct CountMessages(pub mpsc::Sender<String>);

/// The per-call half of [`CountMessages`]: it lives as long as the call.
struct Counter {
    method: String,
    received: usize,
    sent: usize,
    report: mpsc::Sender<String>,
}

impl MessageHook for Counter {
    fn on_receive(&mut self, _message: &mut dyn AnyMessage) -> Result<(), Status> {
        self.received += 1;
        Ok(())
    }

    fn on_send(&mut self, _message: &mut dyn AnyMessage) -> Result<(), Status> {
        self.sent += 1;
        Ok(())
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        let line = format!(
            "[messages] {}: received {}, sent {}",
            self.method, self.received, self.sent
        );
        let _ = self.report.try_send(line);
    }
}

impl Interceptor for CountMessages {
    async fn on_call(&self, call: &mut CallInfo<'_>) -> Result<(), Status> {
        let counter = Counter {
            method: call.method().to_owned(),
            received: 0,
            sent: 0,
            report: self.0.clone(),
        };
        call.wrap_messages(counter);
        Ok(())
    }
}

/// Serves the Greeter with [`AccessLog`] and a [`DeadlinePolicy`] on the
/// server, [`Auth`] on `SayHello` and [`CountMessages`] on `Chat`; calls it
/// without a token, with one (sent by a [`BearerToken`] client interceptor),
/// with a deadline the policy refuses, and streams a chat; returns what
/// happened, the server's log lines last, sorted.
pub async fn run() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (log_tx, mut log_rx) = mpsc::channel(16);
    let listener = MemoryListener::anonymous();
    let channel = Channel::memory(listener.connector());
    let policy = DeadlinePolicy::new()
        .default_timeout(Duration::from_secs(10))
        .max(Duration::from_secs(60));
    tokio::spawn(
        Server::builder()
            .intercept(AccessLog(log_tx.clone()))
            .intercept(policy)
            .add_service_with(GreeterServiceServer::new(MyGreeter), |scope| {
                scope
                    .intercept_method("SayHello", Auth)
                    .intercept_method("Chat", CountMessages(log_tx))
            })
            .serve(listener),
    );
    let client = GreeterServiceClient::new(channel.clone());
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

    // The same connection, with a client interceptor that sends the token.
    let authed = GreeterServiceClient::new(channel.intercept(BearerToken::new(TOKEN)?));
    let reply = authed
        .say_hello(SayHelloRequest { name: "Ada".into() })
        .await?;
    lines.push(format!("with a token: {}", reply.into_inner().message));

    let too_long = Request::new(SayHelloRequest { name: "Ada".into() })
        .with_timeout(Duration::from_secs(3600));
    let refused = authed
        .say_hello(too_long)
        .await
        .err()
        .ok_or("a call with an hour's deadline succeeded")?;
    lines.push(format!(
        "with an hour's deadline: {:?}: {}",
        refused.code(),
        refused.message()
    ));

    let mut chat = client.chat(CallOptions::new()).await?;
    for name in ["Ada", "Grace", "Edsger"] {
        chat.requests
            .send(ChatRequest { name: name.into() })
            .await?;
        let reply = chat.responses.message().await?.ok_or("chat ended early")?;
        lines.push(format!("chat: {}", reply.message));
    }
    chat.requests.close();
    while chat.responses.message().await?.is_some() {}

    // Four access-log lines and the chat's message counts.
    let mut log = Vec::new();
    for _ in 0..5 {
        log.push(log_rx.recv().await.ok_or("the server's log closed")?);
    }
    log.sort();
    lines.extend(log);
    Ok(lines)
}
