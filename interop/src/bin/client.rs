//! `interop-client --server_host H --server_port P --test_case NAME|all`: runs the
//! interop test cases against a server and exits non-zero if any fails.
//! `--help` prints the flags; an unknown flag is an error (exit 2).

use std::process::ExitCode;

use interop::flags::{Flag, Parsed, USE_TLS};

const SYNOPSIS: &str = "interop-client --server_host H --server_port P --test_case NAME|all";

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
    if let Err(e) = interop::flags::plaintext_only(&flags) {
        return usage_error(&e);
    }
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
    let uri = format!("http://{host}:{port}");
    let channel = match aqueduct::Channel::from_uri(&uri) {
        Ok(c) => c,
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
