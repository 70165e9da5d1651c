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
        /// TCP port on 127.0.0.1.
        #[arg(long, default_value_t = 50051)]
        port: u16,
    },
    /// Load-test a gRPC server: calls/s, latency percentiles, errors by code.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Command::Bench(b) = &args.command {
        if let Some(n) = b.threads {
            builder.worker_threads(n.max(1));
        }
    }
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.command {
            Command::Demo => demo().await,
            Command::Serve { port } => serve(port).await,
            Command::Bench(b) => bench::run(b).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
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

async fn serve(port: u16) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    println!(
        "interop test service listening on {}",
        listener.local_addr()?
    );
    interop::server::builder()
        .serve_with_shutdown(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
