//! `interop-server` and SIGTERM, as Kubernetes, systemd and `docker stop`
//! send it: the graceful shutdown starts (announced on stderr), a call in
//! flight finishes with OK, and the process exits 0, not 143. And a port that
//! is taken is a sentence naming the address.

#![allow(clippy::unwrap_used)]

#[path = "common/in_flight.rs"]
mod in_flight;
#[path = "common/stopping.rs"]
mod stopping;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use in_flight::InFlight;
use stopping::{exits_0, refused_port, sigterm, within};

const SERVER: &str = env!("CARGO_BIN_EXE_interop-server");

/// The line the server prints to stderr when a signal starts its shutdown.
const DRAINING: &str = "interop-server: stopping: calls in flight finish";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_call_in_flight_finish_and_exits_0() {
    let mut child = Command::new(SERVER)
        .args(["--port", "0", "--use_tls=false"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let channel = aqueduct::Channel::from_uri(&format!("http://{addr}")).unwrap();

    let mut call = InFlight::open(&channel).await.unwrap();
    sigterm(child.id());
    // The server has taken the signal (and not died of it) once it says so.
    let announced = within(tokio::task::spawn_blocking(move || {
        stderr
            .lines()
            .map_while(Result::ok)
            .find(|line| line == DRAINING)
    }))
    .await
    .unwrap();
    assert!(
        announced.is_some(),
        "interop-server never announced its shutdown"
    );

    // The call begun before the signal carries on to its end.
    call.exchange(1000).await.unwrap();
    call.finish().await.unwrap();
    // With the channel still open: the server closes the connection itself.
    exits_0(child, "interop-server").await;
    drop(channel);
}

#[test]
fn a_port_in_use_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(SERVER)
        .args(["--port", &port])
        .output()
        .unwrap();
    refused_port(
        &out,
        &format!("interop-server: cannot listen on 127.0.0.1:{port}: "),
    );
}
