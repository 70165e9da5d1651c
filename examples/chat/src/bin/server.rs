//! A chat server replica.
//!
//! ```text
//! chat-server [--port PORT] [--nats URL] [--replica NAME]
//! ```
//!
//! Serves `chat.v1.ChatService` (with reflection, for grpcurl) on
//! 127.0.0.1:PORT (default 50061; 0 picks a free one) until Ctrl-C or SIGTERM,
//! and prints `chat server NAME on ADDRESS` first. With `--nats`, its rooms
//! are shared with every replica on that NATS server. Shutting down ends every
//! joined stream with UNAVAILABLE.

use std::process::ExitCode;

use aqueduct::{Server, Status};
use chat::ChatRooms;

struct Args {
    port: u16,
    nats: Option<String>,
    replica: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        port: 50061,
        nats: None,
        replica: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                let port = value()?;
                parsed.port = port.parse().map_err(|_| format!("not a port: {port}"))?;
            }
            "--nats" => parsed.nats = Some(value()?),
            "--replica" => parsed.replica = Some(value()?),
            other => {
                return Err(format!(
                    "unknown argument {other}\nusage: chat-server [--port PORT] [--nats URL] [--replica NAME]"
                ));
            }
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chat-server: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until a signal; every error a sentence naming what failed.
async fn run() -> Result<(), String> {
    let args = parse(std::env::args().skip(1))?;
    // Before the address is printed: from then on, SIGTERM drains.
    let stop = aqueduct::shutdown_signal();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1:{}: {error}", args.port))?;
    let addr = listener.local_addr().map_err(|error| {
        format!(
            "cannot read the address of the listener on 127.0.0.1:{}: {error}",
            args.port
        )
    })?;
    let replica = args.replica.unwrap_or_else(|| addr.to_string());
    let rooms = match &args.nats {
        // The status names the NATS URL.
        Some(url) => ChatRooms::joined(url, replica.clone())
            .await
            .map_err(|status| status.to_string())?,
        None => ChatRooms::local(replica.clone()),
    };
    let hub = rooms.hub().clone();
    println!("chat server {replica} on {addr}");

    Server::builder()
        .add_service(rooms.service())
        .add_reflection()
        .serve(listener)
        .with_graceful_shutdown(async move {
            stop.await;
            hub.shutdown(Status::unavailable("the chat server is shutting down"))
                .await;
        })
        .await
        .map_err(|error| format!("serving {addr} failed: {error}"))
}
