//! Serves the note store with health and reflection on 127.0.0.1:50052 (or the
//! port given as the first argument), until Ctrl-C or SIGTERM. Then, from
//! another shell:
//!
//! ```text
//! grpcurl -plaintext 127.0.0.1:50052 list
//! grpcurl -plaintext 127.0.0.1:50052 describe notes.v1.Note
//! grpcurl -plaintext -d '{"title": "milk", "tags": ["shopping"]}' \
//!     127.0.0.1:50052 notes.v1.Notes/CreateNote
//! buf curl --protocol grpc --http2-prior-knowledge \
//!     http://127.0.0.1:50052/notes.v1.Notes/ListNotes
//! ```

use std::process::ExitCode;

use aqueduct::Server;
use aqueduct::health::HealthReporter;
use notes::NoteStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("notes server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port.parse().map_err(|_| format!("not a port: {port}"))?,
        None => 50052,
    };
    // Installed now, so a signal from here on drains instead of killing.
    let stop = aqueduct::shutdown_signal();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the address of the listener on 127.0.0.1:{port}: {e}"))?;
    println!("notes server on {addr}");

    let health = HealthReporter::new();
    health.set_serving("notes.v1.Notes");
    Server::builder()
        .add_service(NoteStore::service())
        .add_health(health)
        // Describes every service above, imports and well-known types included.
        .add_reflection()
        // Ctrl-C or SIGTERM: health turns NOT_SERVING, calls in flight finish.
        .serve(listener)
        .with_graceful_shutdown(stop)
        .await
        .map_err(|e| format!("serving {addr} failed: {e}"))
}
