//! `interop-client --server_host H --server_port P --test_case NAME|all`: runs the
//! interop test cases against a server and exits non-zero if any fails.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match interop::flags::parse(std::env::args().skip(1)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "interop-client: {e}\nusage: interop-client --server_host H --server_port P --test_case NAME|all"
            );
            return ExitCode::from(2);
        }
    };
    let host = flags.get("server_host").map_or("127.0.0.1", String::as_str);
    let Some(port) = flags.get("server_port") else {
        eprintln!("interop-client: --server_port is required");
        return ExitCode::from(2);
    };
    let case = flags.get("test_case").map_or("large_unary", String::as_str);
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let channel = match aqueduct::Channel::from_uri(&format!("http://{host}:{port}")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("interop-client: {e}");
            return ExitCode::from(2);
        }
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
