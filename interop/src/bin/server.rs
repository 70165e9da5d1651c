//! `interop-server --port P`: serves grpc.testing.TestService on 127.0.0.1:P.
//! With `--port 0` it picks a free port; either way it prints the address it
//! listens on as its first line.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match interop::flags::parse(std::env::args().skip(1)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("interop-server: {e}\nusage: interop-server --port P");
            return ExitCode::from(2);
        }
    };
    let port: u16 = match flags.get("port").map(|p| p.parse()) {
        Some(Ok(p)) => p,
        None => 50051,
        Some(Err(_)) => {
            eprintln!("interop-server: --port must be a number from 0 to 65535");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("interop-server: cannot bind 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => eprintln!("interop-server: {e}"),
    }
    let served = interop::server::builder()
        .serve_with_shutdown(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interop-server: {e}");
            ExitCode::FAILURE
        }
    }
}
