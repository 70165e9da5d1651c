//! The `aqueduct` binary as a user runs it.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn demo_runs_all_four_call_kinds_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .arg("demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
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
fn serve_runs_the_interop_service() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    let result = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let channel = aqueduct::Channel::from_uri(&format!("http://{addr}")).unwrap();
        let mut failures = Vec::new();
        for case in interop::client::ALL {
            if let Err(e) = interop::client::run(case, &channel).await {
                failures.push(format!("{case}: {e}"));
            }
        }
        failures
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        result.is_empty(),
        "interop cases failed against aqueduct serve: {result:?}"
    );
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
