//! `aqueduct serve` and SIGTERM (what Kubernetes, systemd and `docker stop`
//! send): health turns NOT_SERVING, a call in flight finishes with OK, and
//! the process exits 0, not 143. And a port that is taken is a sentence naming
//! the address, never a `Debug` dump.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../../interop/tests/common/in_flight.rs"]
mod in_flight;
#[path = "../../../interop/tests/common/stopping.rs"]
mod stopping;

use std::process::Command;

use aqueduct::health::{HealthCheckRequest, HealthCheckResponse, ServingStatus, WATCH};
use aqueduct::{Channel, Request, Streaming};
use in_flight::InFlight;
use stopping::{exits_0, refused_port, sigterm, within};

const AQUEDUCT: &str = env!("CARGO_BIN_EXE_aqueduct");

async fn watch_health(channel: &Channel) -> Streaming<HealthCheckResponse> {
    let request = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    channel
        .server_streaming::<_, HealthCheckResponse>(WATCH, request)
        .await
        .unwrap()
}

async fn next_status(watch: &mut Streaming<HealthCheckResponse>) -> Option<i32> {
    within(watch.message()).await.unwrap().map(|r| r.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_serve_and_it_exits_0() {
    let (child, addr) = common::spawn_server(Command::new(AQUEDUCT).args(["serve", "--port", "0"]));
    let child = common::Killed::new(child);
    let channel = Channel::from_uri(&format!("http://{addr}")).unwrap();
    let mut call = InFlight::open(&channel).await.unwrap();
    let mut health = watch_health(&channel).await;
    assert_eq!(
        next_status(&mut health).await,
        Some(ServingStatus::Serving as i32)
    );

    sigterm(child.id());
    // The shutdown has started: health says NOT_SERVING, then ends its watch.
    assert_eq!(
        next_status(&mut health).await,
        Some(ServingStatus::NotServing as i32)
    );
    assert_eq!(next_status(&mut health).await, None);
    // The call begun before the signal carries on to its end.
    call.exchange(1000).await.unwrap();
    call.finish().await.unwrap();
    // With the channel still open: the server closes the connection itself.
    exits_0(child.take(), "aqueduct serve").await;
    drop(channel);
}

#[test]
fn a_port_in_use_is_a_sentence_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let control = std::env::temp_dir().join(format!("aqueduct-port-in-use-{}", std::process::id()));
    let control = control.to_str().unwrap();
    for args in [
        &["serve", "--port", &port][..],
        &["serve", "--port", &port, "--control", control],
        &[
            "route",
            "--port",
            &port,
            "--service",
            "a.v1.A=/nonexistent.sock",
        ],
    ] {
        let out = Command::new(AQUEDUCT).args(args).output().unwrap();
        refused_port(
            &out,
            &format!("error: cannot listen on 127.0.0.1:{port}: Address already in use"),
        );
    }
    let _ = std::fs::remove_file(control);
}

/// `aqueduct route` stops on SIGTERM too, and exits 0 (a process killed by the
/// signal has no exit code at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_route_and_it_exits_0() {
    let (child, addr) = common::spawn_server(Command::new(AQUEDUCT).args([
        "route",
        "--port",
        "0",
        "--service",
        "a.v1.A=/nonexistent.sock",
    ]));
    let child = common::Killed::new(child);
    // It is up and accepting.
    let probe = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sigterm(child.id());
    exits_0(child.take(), "aqueduct route").await;
    drop(probe);
}
