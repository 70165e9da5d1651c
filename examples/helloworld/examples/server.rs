//! The Greeter server on 127.0.0.1:50051 (or the port given as the first
//! argument), until Ctrl-C or SIGTERM, which let calls in flight finish.

use std::process::ExitCode;

use aqueduct::Server;
use helloworld::MyGreeter;
use helloworld::pb::greeter_service_server::GreeterServiceServer;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("helloworld server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "50051".into());
    let addr = format!("127.0.0.1:{port}");
    // Installed now, so a signal from here on drains instead of killing.
    let stop = aqueduct::shutdown_signal();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the address of the listener on {addr}: {e}"))?;
    println!("Greeter listening on {addr}");
    Server::builder()
        .add_service(GreeterServiceServer::new(MyGreeter))
        .serve(listener)
        .with_graceful_shutdown(stop)
        .await
        .map_err(|e| format!("serving {addr} failed: {e}"))
}
