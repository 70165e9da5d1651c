//! Serves the note store with health and reflection on 127.0.0.1:50052 (or the
//! port given as the first argument), until Ctrl-C. Then, from another shell:
//!
//! ```text
//! grpcurl -plaintext 127.0.0.1:50052 list
//! grpcurl -plaintext 127.0.0.1:50052 describe notes.v1.Note
//! grpcurl -plaintext -d '{"title": "milk", "tags": ["shopping"]}' \
//!     127.0.0.1:50052 notes.v1.Notes/CreateNote
//! buf curl --protocol grpc --http2-prior-knowledge \
//!     http://127.0.0.1:50052/notes.v1.Notes/ListNotes
//! ```

use aqueduct::Server;
use aqueduct::health::HealthReporter;
use notes::NoteStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port
            .parse()
            .map_err(|_| std::io::Error::other(format!("not a port: {port}")))?,
        None => 50052,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("notes server on {}", listener.local_addr()?);

    let health = HealthReporter::new();
    health.set_serving("notes.v1.Notes");
    Server::builder()
        .add_service(NoteStore::service())
        .add_health(health)
        // Describes every service above, imports and well-known types included.
        .add_reflection()
        .serve_with_shutdown(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
