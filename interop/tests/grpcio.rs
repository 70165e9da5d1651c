//! Interop against a real peer, both ways: our `interop-client` against a Python
//! `grpcio` server, and a Python `grpcio` client against our `interop-server`.
//!
//! Needs `AQUEDUCT_PYTHON`, a Python with grpcio and grpcio-tools; `scripts/test`
//! creates that venv and sets it. The tests fail, loudly, if it is missing: they
//! never skip.

use std::process::{Command, Output};

mod common;
use common::process::start;
use common::{python, python_dir};

fn assert_all_passed(out: &Output, who: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{who} failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("interop: 18 passed, 0 failed"),
        "{who} did not run all 18 cases:\n{stdout}\n{stderr}"
    );
}

#[test]
fn aqueduct_client_against_grpcio_server() {
    let mut cmd = Command::new(python());
    cmd.arg(python_dir().join("server.py"))
        .args(["--port", "0"]);
    let (_server, port) = start(cmd);
    let out = Command::new(env!("CARGO_BIN_EXE_interop-client"))
        .args(["--server_host", "127.0.0.1"])
        .arg(format!("--server_port={port}"))
        .args(["--test_case", "all"])
        .output()
        .expect("run interop-client");
    assert_all_passed(&out, "interop-client against grpcio");
}

#[test]
fn grpcio_client_against_aqueduct_server() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_interop-server"));
    cmd.args(["--port", "0"]);
    let (_server, port) = start(cmd);
    let out = Command::new(python())
        .arg(python_dir().join("client.py"))
        .args(["--server_host", "127.0.0.1", "--server_port"])
        .arg(port.to_string())
        .args(["--test_case", "all"])
        .output()
        .expect("run the grpcio client");
    assert_all_passed(&out, "grpcio client against interop-server");
}

#[test]
fn aqueduct_client_against_aqueduct_server() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_interop-server"));
    cmd.args(["--port", "0"]);
    let (_server, port) = start(cmd);
    let out = Command::new(env!("CARGO_BIN_EXE_interop-client"))
        .args(["--server_host=127.0.0.1", "--server_port"])
        .arg(port.to_string())
        .arg("--test_case=all")
        .output()
        .expect("run interop-client");
    assert_all_passed(&out, "interop-client against interop-server");
}

/// `test.v1.Details/Fail`: always fails with INVALID_ARGUMENT and rich details.
mod details_service {
    use std::sync::Arc;

    use aqueduct::codegen::{self, Route, UnaryMethod};
    use aqueduct::details::{ErrorDetails, FieldViolation};
    use aqueduct::{Request, Response, Service, Status};

    pub(crate) struct Details;
    struct Fail;

    impl UnaryMethod<Details> for Fail {
        type Request = String;
        type Response = String;
        async fn call(
            _svc: &Details,
            _request: Request<String>,
        ) -> Result<Response<String>, Status> {
            Err(
                Status::invalid_argument("name is empty").with_error_details(
                    ErrorDetails::new()
                        .bad_request(vec![FieldViolation::new("name", "must not be empty")])
                        .error_info("NAME_EMPTY", "details.test", [("field", "name")]),
                ),
            )
        }
    }

    pub(crate) struct DetailsServer;

    impl Service for DetailsServer {
        const NAME: &'static str = "test.v1.Details";
        fn routes(&self) -> Vec<Route> {
            vec![codegen::unary::<Details, Fail>(
                "/test.v1.Details/Fail",
                Arc::new(Details),
            )]
        }
    }
}

#[test]
fn grpcio_status_client_reads_our_rich_error_details() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(
        aqueduct::Server::builder()
            .add_service(details_service::DetailsServer)
            .serve(listener),
    );
    let out = Command::new(python())
        .arg(python_dir().join("details.py"))
        .args(["client", "--port", &port.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("details: ok"),
        "grpcio-status client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn our_client_reads_rich_error_details_from_a_grpcio_server() {
    let mut cmd = Command::new(python());
    cmd.arg(python_dir().join("details.py"))
        .args(["server", "--port", "0"]);
    let (_server, port) = start(cmd);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        let channel = aqueduct::Channel::from_uri(&format!("http://127.0.0.1:{port}")).unwrap();
        channel
            .unary::<String, String>(
                "/test.v1.Details/Fail",
                aqueduct::Request::new(String::new()),
            )
            .await
            .unwrap_err()
    });
    assert_eq!(status.code(), aqueduct::Code::InvalidArgument, "{status}");
    assert_eq!(status.message(), "count is too big");
    let details = status.error_details().unwrap();
    let bad = details.bad_request.expect("BadRequest");
    assert_eq!(bad.field_violations[0].field, "count");
    assert_eq!(bad.field_violations[0].description, "too big");
    let info = details.error_info.expect("ErrorInfo");
    assert_eq!(info.reason, "COUNT_TOO_BIG");
    assert_eq!(info.domain, "python.test");
    assert_eq!(info.metadata.get("max").map(String::as_str), Some("10"));
}
