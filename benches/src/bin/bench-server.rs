//! `bench-server --impl aqueduct|aqueduct-intercepted|tonic|h2 [--port P]
//! [--runtime current|multi] [--threads N]`: the Greeter on one implementation
//! (`aqueduct-intercepted`: Aqueduct with a chain of three empty server-wide
//! interceptors, for the cost of interception). Prints `listening on ADDR`
//! first; on SIGINT or SIGTERM it shuts down and prints `allocations N` (heap
//! allocations over the process's life) to stderr.

use anyhow::Context as _;
use aqueduct_benches::{CountingAlloc, RuntimeKind, allocations, flag};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// An interceptor that does nothing: what the chain itself costs.
struct Empty;

impl aqueduct::interceptor::Interceptor for Empty {}

fn main() -> std::process::ExitCode {
    aqueduct_benches::exit("bench-server", run())
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = flag(&args, "impl").unwrap_or_else(|| "aqueduct".into());
    let port: u16 = flag(&args, "port")
        .map_or(Ok(0), |p| p.parse())
        .context("--port")?;
    let threads: usize = flag(&args, "threads")
        .map_or(Ok(1), |p| p.parse())
        .context("--threads")?;
    let runtime = RuntimeKind::parse(
        &flag(&args, "runtime").unwrap_or_else(|| "current".into()),
        threads,
    )?;
    let runtime = runtime.build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let stop = aqueduct::shutdown_signal();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        println!("listening on {}", listener.local_addr()?);
        match which.as_str() {
            "aqueduct" => {
                use helloworld::pb::greeter_service_server::GreeterServiceServer;
                aqueduct::Server::builder()
                    .add_service(GreeterServiceServer::new(helloworld::MyGreeter))
                    .serve_with_shutdown(listener, stop)
                    .await?;
            }
            "aqueduct-intercepted" => {
                use helloworld::pb::greeter_service_server::GreeterServiceServer;
                aqueduct::Server::builder()
                    .intercept(Empty)
                    .intercept(Empty)
                    .intercept(Empty)
                    .add_service(GreeterServiceServer::new(helloworld::MyGreeter))
                    .serve_with_shutdown(listener, stop)
                    .await?;
            }
            "tonic" => {
                use aqueduct_benches::tonic_pb::greeter_service_server::GreeterServiceServer;
                // `Server::tcp_nodelay` is ignored with an incoming stream of
                // our own (tonic documents it so): set it on the stream, as
                // Aqueduct and bare h2 set it on every accepted socket.
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                tonic::transport::Server::builder()
                    .add_service(GreeterServiceServer::new(
                        aqueduct_benches::tonic_greeter::TonicGreeter,
                    ))
                    .serve_with_incoming_shutdown(incoming, stop)
                    .await?;
            }
            "h2" => {
                tokio::select! {
                    () = aqueduct_benches::bare::serve(listener) => {}
                    () = stop => {}
                }
            }
            other => anyhow::bail!(
                "--impl must be aqueduct, aqueduct-intercepted, tonic or h2, not {other:?}"
            ),
        }
        eprintln!("allocations {}", allocations());
        Ok(())
    })
}
