//! The `aqueduct` binary as a user runs it.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::spawn_server;

/// Runs `aqueduct demo` with `args` and checks it made every kind of call over
/// the transport it names.
fn assert_demo(args: &[&str], transport_uri: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .arg("demo")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("listening on {transport_uri}")),
        "demo {args:?} did not use {transport_uri}:\n{stdout}"
    );
    for kind in [
        "unary",
        "server streaming",
        "client streaming",
        "bidirectional",
    ] {
        assert!(stdout.contains(kind), "no {kind} line in:\n{stdout}");
    }
    assert!(stdout.contains("Hello, Ada!"), "{stdout}");
    assert!(stdout.contains("all four call kinds succeeded"), "{stdout}");
}

#[test]
fn demo_runs_all_four_call_kinds_over_the_memory_pipe_by_default() {
    assert_demo(&[], "mem://");
}

#[test]
fn demo_runs_over_each_transport() {
    assert_demo(&["--transport", "mem"], "mem://");
    assert_demo(&["--transport", "tcp"], "http://127.0.0.1:");
    assert_demo(&["--transport", "unix"], "unix:/");
    assert_demo(&["--transport", "direct"], "the direct carrier");
}

#[test]
fn demo_refuses_an_unknown_transport() {
    let out = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["demo", "--transport", "carrier-pigeon"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("carrier-pigeon") && stderr.contains("mem"),
        "{stderr}"
    );
}

#[test]
fn serve_runs_the_interop_service() {
    let (mut child, addr) =
        spawn_server(Command::new(env!("CARGO_BIN_EXE_aqueduct")).args(["serve", "--port", "0"]));
    let result = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let channel = aqueduct::Channel::from_uri(&format!("http://{addr}")).unwrap();
        let mut failures = Vec::new();
        for case in interop::client::ALL {
            if let Err(e) = interop::client::run(case, &channel).await {
                failures.push(format!("{case}: {e}"));
            }
        }
        // The health service is on, the server and the test service SERVING.
        for service in ["", "grpc.testing.TestService"] {
            let request = aqueduct::Request::new(aqueduct::health::HealthCheckRequest {
                service: service.to_owned(),
            });
            let status = channel
                .unary::<_, aqueduct::health::HealthCheckResponse>(aqueduct::health::CHECK, request)
                .await
                .map(|r| r.into_inner().status);
            if status.as_ref().ok() != Some(&(aqueduct::health::ServingStatus::Serving as i32)) {
                failures.push(format!("health of {service:?}: {status:?}"));
            }
        }
        failures
    });
    assert!(
        result.is_empty(),
        "interop cases failed against aqueduct serve: {result:?}"
    );
    // Ctrl-C shuts every server thread down gracefully and the process exits 0.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let exit = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("aqueduct serve did not exit after SIGINT")
        .unwrap();
    assert!(exit.success(), "aqueduct serve exited with {exit}");
}

#[test]
fn bad_arguments_are_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["serve", "--port", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--port"), "{stderr}");
}

fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .arg("bench")
        .args(args)
        .args(["--json", "--quiet"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn bench_against_aqueduct_serve_over_tcp() {
    let (mut server, addr) =
        spawn_server(Command::new(env!("CARGO_BIN_EXE_aqueduct")).args(["serve", "--port", "0"]));
    let target = format!("http://{addr}");
    let unary = bench(&[
        "--target",
        &target,
        "--call",
        "testservice-unary",
        "--requests",
        "300",
        "--payload",
        "100",
    ]);
    assert!(unary.contains("\"ok\":300,"), "{unary}");
    assert!(unary.contains("\"errors\":{}"), "{unary}");
    let stream = bench(&[
        "--target",
        &target,
        "--call",
        "testservice-stream",
        "--requests",
        "20",
        "--stream-messages",
        "50",
        "--connections",
        "2",
    ]);
    assert!(stream.contains("\"ok\":20,\"messages\":1000,"), "{stream}");
    // A method the server does not have: every call is an error, counted by code.
    let out = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args([
            "bench",
            "--target",
            &target,
            "--call",
            "raw",
            "--method",
            "/no.Such/Method",
            "--requests",
            "5",
            "--json",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"UNIMPLEMENTED\":5"), "{stdout}");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn bench_over_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("aqueduct-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.sock");
    let _ = std::fs::remove_file(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(async { tokio::net::UnixListener::bind(&path) })
        .unwrap();
    rt.spawn(interop::server::builder().serve(listener));
    let out = bench(&[
        "--target",
        &format!("unix:{}", path.display()),
        "--call",
        "testservice-unary",
        "--requests",
        "200",
    ]);
    assert!(out.contains("\"ok\":200,"), "{out}");
}

#[test]
fn bench_against_the_grpcio_interop_server() {
    let python = std::env::var_os("AQUEDUCT_PYTHON").expect(
        "AQUEDUCT_PYTHON is not set: run scripts/test, which prepares the Python venv with grpcio",
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/python/server.py");
    let (mut server, addr) = spawn_server(Command::new(python).arg(script).args(["--port", "0"]));
    let out = bench(&[
        "--target",
        &format!("http://{addr}"),
        "--call",
        "testservice-unary",
        "--requests",
        "200",
        "--concurrency",
        "4",
    ]);
    assert!(out.contains("\"ok\":200,"), "{out}");
    let _ = server.kill();
    let _ = server.wait();
}
