//! The `aqueduct` command.
//!
//! - `aqueduct demo`: runs the helloworld Greeter server and client in one process
//!   and prints each call's result;
//! - `aqueduct serve --port P`: runs the gRPC interop test service on
//!   `127.0.0.1:P`;
//! - `aqueduct bench`: a load generator for any gRPC server.

mod bench;
mod raw;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "aqueduct", version, about = "Aqueduct gRPC framework tools")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Greeter server and client in one process, one call of each kind.
    Demo,
    /// Serve the gRPC interop test service (grpc.testing.TestService).
    Serve {
        /// TCP port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// Server threads, each with its own single-threaded runtime and listener
        /// (default: the CPUs this process may run on).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Load-test a gRPC server: calls/s, latency percentiles, errors by code.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let result = match Args::parse().command {
        // Thread-per-core: the server brings its own runtimes.
        Command::Serve { port, threads } => serve(port, threads),
        Command::Demo => block_on(None, demo()),
        Command::Bench(b) => block_on(b.threads, bench::run(b)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `fut` on a work-stealing runtime with `threads` workers (default: one per
/// CPU this process may run on).
fn block_on(
    threads: Option<usize>,
    fut: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.build().context("cannot start the async runtime")?;
    runtime.block_on(fut)
}

async fn demo() -> anyhow::Result<()> {
    use helloworld::pb::greeter_server::GreeterServer;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("Greeter server listening on {addr}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        aqueduct::Server::builder()
            .add_service(GreeterServer::new(helloworld::MyGreeter))
            .serve_with_shutdown(listener, async {
                let _ = stop_rx.await;
            }),
    );
    let channel = aqueduct::Channel::from_uri(&format!("http://{addr}"))?;
    let lines = helloworld::run_client(channel)
        .await
        .context("demo client call failed");
    let _ = stop_tx.send(());
    server
        .await
        .context("server task failed")?
        .context("server failed")?;
    for line in lines? {
        println!("{line}");
    }
    println!("all four call kinds succeeded; server shut down cleanly");
    Ok(())
}

fn serve(port: u16, threads: Option<usize>) -> anyhow::Result<()> {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let server = interop::server::builder()
        .serve_thread_per_core(addr, threads)
        .with_context(|| format!("binding {addr}"))?;
    println!("interop test service listening on {}", server.local_addr());
    eprintln!("{threads} server threads, one single-threaded runtime each; Ctrl-C stops");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    server.shutdown()?;
    Ok(())
}
