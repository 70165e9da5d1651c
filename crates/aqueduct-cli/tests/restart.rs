//! Restarts that drop nothing: 20 connections drive unary calls without pause
//! while `aqueduct serve --control` is replaced by a new process three times.
//! Each new process takes the listening socket over; each old one drains and
//! exits 0. Not one call fails, and no connection is refused (a refused
//! connection would fail a call with UNAVAILABLE).

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aqueduct::Channel;
use common::Killed;
use interop::pb::Empty;
use interop::pb::test_service_client::TestServiceClient;

const CONNECTIONS: usize = 20;
const RESTARTS: usize = 3;
/// Calls that must succeed after each restart before the next one.
const CALLS_BETWEEN: u64 = 500;
/// Every wait ends.
const LIMIT: Duration = Duration::from_secs(60);

/// Starts a server generation, killed if the test ends early.
fn start(control: &std::path::Path) -> (Killed, String) {
    let (child, addr) = common::spawn_server(Command::new(env!("CARGO_BIN_EXE_aqueduct")).args([
        "serve",
        "--port",
        "0",
        "--service",
        "grpc.testing.TestService",
        "--control",
        control.to_str().unwrap(),
    ]));
    (Killed::new(child), addr)
}

/// Waits for `generation` to exit, within the limit; true if it exited 0.
async fn exited_cleanly(generation: Killed) -> bool {
    let mut child = generation.take();
    let pid = child.id();
    let wait = tokio::task::spawn_blocking(move || child.wait());
    match tokio::time::timeout(LIMIT, wait).await {
        Ok(status) => status.unwrap().unwrap().success(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the old server did not exit within {LIMIT:?}");
        }
    }
}

#[test]
fn three_restarts_under_load_fail_no_call_and_refuse_no_connection() {
    let dir = std::env::temp_dir().join(format!("aqueduct-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let control = dir.join("control.sock");
    let (mut current, addr) = start(&control);

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (ok_tx, ok_rx) = tokio::sync::watch::channel(0u64);
        let ok_tx = Arc::new(ok_tx);
        let failures = Arc::new(Mutex::new(Vec::<String>::new()));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..CONNECTIONS {
            // One channel, one connection.
            let client =
                TestServiceClient::new(Channel::from_uri(&format!("http://{addr}")).unwrap());
            let (ok_tx, failures, stop_rx) = (ok_tx.clone(), failures.clone(), stop_rx.clone());
            clients.spawn(async move {
                while !*stop_rx.borrow() {
                    match client.empty_call(Empty {}).await {
                        Ok(_) => ok_tx.send_modify(|n| *n += 1),
                        Err(status) => failures.lock().unwrap().push(status.to_string()),
                    }
                }
            });
        }
        let mut ok_rx = ok_rx;
        let calls_reach = |ok_rx: &mut tokio::sync::watch::Receiver<u64>, target: u64| {
            let mut ok_rx = ok_rx.clone();
            async move {
                tokio::time::timeout(LIMIT, ok_rx.wait_for(|n| *n >= target))
                    .await
                    .expect("calls stopped progressing")
                    .unwrap();
            }
        };
        calls_reach(&mut ok_rx, CALLS_BETWEEN).await;
        for restart in 1..=RESTARTS {
            let (next, next_addr) = start(&control);
            assert_eq!(next_addr, addr, "the new process serves the same socket");
            let old = std::mem::replace(&mut current, next);
            assert!(
                exited_cleanly(old).await,
                "restart {restart}: the old server failed"
            );
            let now = *ok_rx.borrow();
            calls_reach(&mut ok_rx, now + CALLS_BETWEEN).await;
        }
        stop_tx.send(true).unwrap();
        tokio::time::timeout(LIMIT, async {
            while clients.join_next().await.is_some() {}
        })
        .await
        .expect("clients did not stop");
        let failures = failures.lock().unwrap();
        assert!(
            failures.is_empty(),
            "{} calls failed across {RESTARTS} restarts, e.g. {:?}",
            failures.len(),
            failures.first()
        );
        println!(
            "{} calls, 0 failed, across {RESTARTS} restarts",
            *ok_rx.borrow()
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
