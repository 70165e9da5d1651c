//! The Greeter server on 127.0.0.1:50051 (or the port given as the first argument).

use aqueduct::Server;
use helloworld::MyGreeter;
use helloworld::pb::greeter_service_server::GreeterServiceServer;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "50051".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("Greeter listening on {}", listener.local_addr()?);
    Server::builder()
        .add_service(GreeterServiceServer::new(MyGreeter))
        .serve_with_shutdown(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
