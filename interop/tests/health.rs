//! The health service against a real peer: a Python `grpcio-health-checking`
//! client runs `Check` and `Watch` against our server, sees a status change
//! pushed, and sees `NOT_SERVING` when the server starts shutting down.
//!
//! Needs `AQUEDUCT_PYTHON` (set by `scripts/test`, which installs the package);
//! fails loudly without it, never skips.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use aqueduct::Server;
use aqueduct::health::HealthReporter;
use tokio::sync::{mpsc, oneshot};

mod common;
use common::process::Killed;
use common::{python, python_dir};

/// Waits for the client's next line, which must be `expected`.
async fn expect(lines: &mut mpsc::Receiver<String>, expected: &str) {
    let line = tokio::time::timeout(Duration::from_secs(30), lines.recv())
        .await
        .unwrap_or_else(|_| {
            panic!("no line from the Python client within 30 s; wanted {expected:?}")
        })
        .unwrap_or_else(|| panic!("the Python client exited; wanted {expected:?}"));
    assert_eq!(line, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_health_client_checks_watches_and_sees_shutdown() {
    let health = HealthReporter::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .add_health(health.clone())
            .serve(listener)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            }),
    );

    let mut child = Command::new(python())
        .arg(python_dir().join("health.py"))
        .arg(port.to_string())
        .arg("helloworld.v1.GreeterService")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the Python health client");
    let stdout = child.stdout.take().expect("stdout");
    let _client = Killed(child);
    let (tx, mut lines) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });

    expect(&mut lines, "check SERVING").await;
    expect(&mut lines, "check-unknown NOT_FOUND").await;
    // Not reported yet: Watch says so instead of failing...
    expect(&mut lines, "watch SERVICE_UNKNOWN").await;
    // ...and pushes every change.
    health.set_serving("helloworld.v1.GreeterService");
    expect(&mut lines, "watch SERVING").await;
    health.set_not_serving("helloworld.v1.GreeterService");
    expect(&mut lines, "watch NOT_SERVING").await;
    health.set_serving("helloworld.v1.GreeterService");
    expect(&mut lines, "watch SERVING").await;

    // Graceful shutdown: the watcher hears NOT_SERVING, then its stream ends.
    stop.send(()).unwrap();
    expect(&mut lines, "watch NOT_SERVING").await;
    expect(&mut lines, "watch ended").await;
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server drains and stops")
        .unwrap()
        .unwrap();
}
