//! `interop-server --port P`: serves grpc.testing.TestService on 127.0.0.1:P.
//! With `--port 0` it picks a free port; either way it prints the address it
//! listens on as its first line. `--use_tls true --tls_cert_file F
//! --tls_key_file F` serves over TLS, and `--client_ca_file F` also requires
//! client certificates signed by those CAs (mutual TLS); `--reflection true`
//! adds server reflection. SIGINT or SIGTERM starts a graceful shutdown
//! (announced on stderr): calls in flight finish, then it exits 0. `--help`
//! prints the flags; an unknown flag, or a TLS flag without `--use_tls true`,
//! is an error (exit 2), as is TLS material that cannot be read.

use std::process::ExitCode;

use interop::flags::{Flag, Parsed, USE_TLS, boolean};
use interop::tls::{CLIENT_CA_FILE, FlagError, TLS_CERT_FILE, TLS_KEY_FILE};

const SYNOPSIS: &str = "interop-server --port P \
                        [--use_tls true --tls_cert_file F --tls_key_file F [--client_ca_file F]] \
                        [--reflection true]";

/// `--reflection`: ours, not grpc-go's; for tools such as grpcurl.
const REFLECTION: Flag = Flag {
    name: "reflection",
    value: "true|false",
    help: "also serve server reflection, for grpcurl (default false)",
};

const FLAGS: &[Flag] = &[
    Flag {
        name: "port",
        value: "PORT",
        help: "the TCP port on 127.0.0.1, 0 for a free one (default 50051)",
    },
    USE_TLS,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    CLIENT_CA_FILE,
    REFLECTION,
];

/// What the server prints (to stderr) when a signal starts its graceful
/// shutdown.
const DRAINING: &str = "interop-server: stopping: calls in flight finish";

/// A usage mistake: the message, then the usage; exit 2.
fn usage_error(message: &str) -> ExitCode {
    eprintln!(
        "interop-server: {message}\n{}",
        interop::flags::usage(SYNOPSIS, FLAGS)
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match interop::flags::parse(std::env::args().skip(1), FLAGS) {
        Ok(Parsed::Run(flags)) => flags,
        Ok(_) => {
            print!("{}", interop::flags::usage(SYNOPSIS, FLAGS));
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(&e),
    };
    let tls = match interop::tls::server(&flags) {
        Ok(tls) => tls,
        Err(FlagError::Usage(e)) => return usage_error(&e),
        Err(e) => {
            eprintln!("interop-server: {e}");
            return ExitCode::from(2);
        }
    };
    let reflection = match boolean(&flags, REFLECTION.name) {
        Ok(on) => on,
        Err(e) => return usage_error(&e),
    };
    let port: u16 = match flags.get("port").map(|p| p.parse()) {
        Some(Ok(p)) => p,
        None => 50051,
        Some(Err(_)) => return usage_error("--port must be a number from 0 to 65535"),
    };
    // Before the address is printed: from then on, SIGTERM drains.
    let stop = aqueduct::shutdown_signal();
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("interop-server: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!(
                "interop-server: cannot read the address of the listener on 127.0.0.1:{port}: {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {addr}");
    let mut builder = interop::server::builder();
    if let Some(tls) = tls {
        builder = builder.tls(tls);
    }
    if reflection {
        builder = builder.add_reflection();
    }
    let served = builder
        .serve(listener)
        .with_graceful_shutdown(async {
            stop.await;
            eprintln!("{DRAINING}");
        })
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interop-server: serving {addr} failed: {e}");
            ExitCode::FAILURE
        }
    }
}
