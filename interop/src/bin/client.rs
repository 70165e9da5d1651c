//! `interop-client --server_host H --server_port P --test_case NAME|all`: runs the
//! interop test cases against a server and exits non-zero if any fails.
//! `--use_tls true` runs them over TLS, trusting `--ca_file F` (or the
//! system's roots) and checking the server's certificate for
//! `--server_host_override NAME` (or the host); `--client_cert_file F
//! --client_key_file F` presents a client certificate (mutual TLS).
//! `--help` prints the flags; an unknown flag, or a TLS flag without
//! `--use_tls true`, is an error (exit 2), as is TLS material that cannot be
//! read.

use std::process::ExitCode;

use interop::flags::{Flag, Parsed, USE_TLS};
use interop::tls::FlagError;

const SYNOPSIS: &str = "interop-client --server_host H --server_port P --test_case NAME|all \
                        [--use_tls true [--ca_file F] [--server_host_override NAME] \
                        [--client_cert_file F --client_key_file F]]";

const FLAGS: &[Flag] = &[
    Flag {
        name: "server_host",
        value: "HOST",
        help: "the server's host name or IP address (default 127.0.0.1)",
    },
    Flag {
        name: "server_port",
        value: "PORT",
        help: "the server's port (required)",
    },
    Flag {
        name: "test_case",
        value: "NAME",
        help: "a test case, or all of them (default large_unary)",
    },
    USE_TLS,
    interop::tls::CA_FILE,
    interop::tls::USE_TEST_CA,
    interop::tls::SERVER_HOST_OVERRIDE,
    interop::tls::CLIENT_CERT_FILE,
    interop::tls::CLIENT_KEY_FILE,
];

/// A usage mistake: the message, then the usage; exit 2.
fn usage_error(message: &str) -> ExitCode {
    eprintln!(
        "interop-client: {message}\n{}",
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
            println!("test cases: {}", interop::client::ALL.join(", "));
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(&e),
    };
    let tls = match interop::tls::client(&flags) {
        Ok(tls) => tls,
        Err(FlagError::Usage(e)) => return usage_error(&e),
        Err(e) => {
            eprintln!("interop-client: {e}");
            return ExitCode::from(2);
        }
    };
    let host = flags.get("server_host").map_or("127.0.0.1", String::as_str);
    let Some(port) = flags.get("server_port") else {
        return usage_error("--server_port is required");
    };
    let case = flags.get("test_case").map_or("large_unary", String::as_str);
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let uri = format!("{scheme}://{host}:{port}");
    let channel = match aqueduct::Channel::builder(&uri) {
        Ok(builder) => match tls {
            Some(tls) => builder.tls(tls).build(),
            None => builder.build(),
        },
        Err(e) => return usage_error(&format!("--server_host and --server_port give {uri}: {e}")),
    };
    let cases: Vec<&str> = if case == "all" {
        interop::client::ALL.to_vec()
    } else {
        vec![case]
    };
    let (mut passed, mut failed) = (0, 0);
    for case in cases {
        match interop::client::run(case, &channel).await {
            Ok(()) => {
                passed += 1;
                println!("PASS {case}");
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {case}: {e}");
            }
        }
    }
    println!("interop: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
