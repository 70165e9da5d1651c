//! Interop against a real peer, both ways: our `interop-client` against a Python
//! `grpcio` server, and a Python `grpcio` client against our `interop-server`;
//! in plaintext, over TLS and over mutual TLS (certificates made by
//! `interop::certs` for each test), and a handshake each side must refuse.
//!
//! Needs `AQUEDUCT_PYTHON`, a Python with grpcio and grpcio-tools; `scripts/test`
//! creates that venv and sets it. The tests fail, loudly, if it is missing: they
//! never skip.

use std::process::{Command, Output};

mod common;
#[path = "common/pki.rs"]
mod pki;

use common::process::{Killed, start};
use common::{python, python_dir};
use pki::PemFiles;

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

/// Our `interop-server` over TLS (`mtls`: requiring client certificates).
fn aqueduct_server(pem: &PemFiles, mtls: bool) -> (Killed, u16) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_interop-server"));
    cmd.args(["--port", "0"]).args(pem.server_flags(mtls));
    start(cmd)
}

/// The grpcio server over TLS (`mtls`: requiring client certificates).
fn grpcio_server(pem: &PemFiles, mtls: bool) -> (Killed, u16) {
    let mut cmd = Command::new(python());
    cmd.arg(python_dir().join("server.py"))
        .args(["--port", "0"])
        .args(pem.server_flags(mtls));
    start(cmd)
}

/// The grpcio client running `case` against 127.0.0.1:`port` with `tls`
/// flags.
fn grpcio_client(port: u16, case: &str, tls: &[std::ffi::OsString]) -> Output {
    Command::new(python())
        .arg(python_dir().join("client.py"))
        .args(["--server_host", "127.0.0.1", "--server_port"])
        .arg(port.to_string())
        .args(["--test_case", case])
        .args(tls)
        .output()
        .expect("run the grpcio client")
}

/// Our client running `case` against 127.0.0.1:`port` with `tls` flags.
fn aqueduct_client(port: u16, case: &str, tls: &[std::ffi::OsString]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_interop-client"))
        .args(["--server_host", "127.0.0.1"])
        .arg(format!("--server_port={port}"))
        .args(["--test_case", case])
        .args(tls)
        .output()
        .expect("run interop-client")
}

/// The name the server's certificate is checked against, instead of the
/// address: the certificate names both, so the TLS tests check by name and
/// the mutual TLS ones by IP address.
fn by_name() -> [std::ffi::OsString; 2] {
    ["--server_host_override".into(), "localhost".into()]
}

#[test]
fn grpcio_client_against_aqueduct_server_over_tls() {
    let pem = PemFiles::new();
    let (_server, port) = aqueduct_server(&pem, false);
    let mut tls = pem.client_flags(&pem.ca, false);
    tls.extend(by_name());
    let out = grpcio_client(port, "all", &tls);
    assert_all_passed(&out, "grpcio client against interop-server over TLS");
}

#[test]
fn grpcio_client_against_aqueduct_server_over_mtls() {
    let pem = PemFiles::new();
    let (_server, port) = aqueduct_server(&pem, true);
    let out = grpcio_client(port, "all", &pem.client_flags(&pem.ca, true));
    assert_all_passed(&out, "grpcio client against interop-server over mutual TLS");
}

#[test]
fn aqueduct_client_against_grpcio_server_over_tls() {
    let pem = PemFiles::new();
    let (_server, port) = grpcio_server(&pem, false);
    let mut tls = pem.client_flags(&pem.ca, false);
    tls.extend(by_name());
    let out = aqueduct_client(port, "all", &tls);
    assert_all_passed(&out, "interop-client against grpcio over TLS");
}

#[test]
fn aqueduct_client_against_grpcio_server_over_mtls() {
    let pem = PemFiles::new();
    let (_server, port) = grpcio_server(&pem, true);
    let out = aqueduct_client(port, "all", &pem.client_flags(&pem.ca, true));
    assert_all_passed(&out, "interop-client against grpcio over mutual TLS");
    // The certificate is what let it in: without one, the server refuses.
    let refused = aqueduct_client(port, "empty_unary", &pem.client_flags(&pem.ca, false));
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stdout).contains("interop: 0 passed, 1 failed"),
        "the grpcio server let in a client without a certificate: {refused:?}"
    );
}

/// Our mutual-TLS server refuses the handshake of a grpcio client that
/// presents no certificate; the client reports the call failed, and the
/// server, still running, serves the next client, which presents one.
#[test]
fn our_mtls_server_refuses_a_grpcio_client_without_a_certificate() {
    let pem = PemFiles::new();
    let (mut server, port) = aqueduct_server(&pem, true);

    let refused = grpcio_client(port, "empty_unary", &pem.client_flags(&pem.ca, false));
    let stdout = String::from_utf8_lossy(&refused.stdout);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("FAIL empty_unary: ")
            && stdout.contains("StatusCode.UNAVAILABLE")
            && stdout.contains("interop: 0 passed, 1 failed"),
        "the grpcio client did not report the refused handshake:\n{stdout}\n{stderr}"
    );
    // Why: under TLS 1.3 the client finishes its side of the handshake first,
    // then gets the server's alert (grpc core logs it at ERROR, the default).
    assert!(
        stderr.contains("CERTIFICATE_REQUIRED"),
        "the refusal was not the server's certificate_required alert:\n{stderr}"
    );

    assert!(
        server.0.try_wait().expect("query the server").is_none(),
        "interop-server exited after refusing a handshake"
    );
    let served = grpcio_client(port, "empty_unary", &pem.client_flags(&pem.ca, true));
    let stdout = String::from_utf8_lossy(&served.stdout);
    assert!(
        served.status.success() && stdout.contains("interop: 1 passed, 0 failed"),
        "the server did not serve a client with a certificate after refusing one:\n{stdout}\n{}",
        String::from_utf8_lossy(&served.stderr)
    );
}

/// Our client refuses a grpcio server whose certificate a CA it does not
/// trust signed, and says why.
#[test]
fn our_client_refuses_a_grpcio_server_signed_by_an_unknown_ca() {
    let pem = PemFiles::new();
    let (_server, port) = grpcio_server(&pem, false);
    let out = aqueduct_client(port, "empty_unary", &pem.client_flags(&pem.other_ca, false));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("FAIL empty_unary: ")
            && stdout.contains("unknown issuer")
            && stdout.contains("interop: 0 passed, 1 failed"),
        "interop-client did not say the server's issuer is unknown:\n{stdout}\n{stderr}"
    );
}

/// The Python peers take the TLS flags as our binaries do: refused without
/// `--use_tls true`, and an unknown flag refused rather than ignored.
#[test]
fn grpcio_peers_refuse_tls_flags_without_use_tls_true() {
    for (script, args, want) in [
        (
            "server.py",
            &["--port", "0", "--tls_cert_file", "server.pem"][..],
            "server.py: --tls_cert_file needs --use_tls true",
        ),
        (
            "client.py",
            &[
                "--server_port",
                "1",
                "--use_tls=false",
                "--ca_file",
                "ca.pem",
            ],
            "client.py: --ca_file needs --use_tls true",
        ),
        (
            "client.py",
            &["--server_port", "1", "--use_tls", "ture"],
            "client.py: --use_tls takes true or false, not 'ture'",
        ),
        (
            "client.py",
            &["--server_port", "1", "--client_cert_fle", "c.pem"],
            "client.py: unknown flag --client_cert_fle; the flags are --server_host,",
        ),
    ] {
        let out = Command::new(python())
            .arg(python_dir().join(script))
            .args(args)
            .output()
            .expect("run the Python peer");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{script} {args:?}: {stderr}");
        assert!(stderr.starts_with(want), "{script} {args:?}: {stderr}");
    }
}

/// `test.v1.Details/Fail`: always fails with INVALID_ARGUMENT and rich details.
mod details_service {
    use std::sync::Arc;

    use aqueduct::details::{ErrorDetails, FieldViolation};
    use aqueduct::service::{self, Route, UnaryMethod};
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
            vec![service::unary::<Details, Fail>(
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
