//! chat-server's errors are sentences naming what it could not open, with
//! exit code 1, never a `Debug` dump (`Os { code: 98, ... }`).

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn chat_server(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(args)
        .output()
        .unwrap()
}

fn assert_fails_with(out: &Output, start: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with(start), "{stderr}");
    assert!(!stderr.contains("Os {"), "{stderr}");
}

#[test]
fn a_port_in_use_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = chat_server(&["--port", &port]);
    assert_fails_with(
        &out,
        &format!("chat-server: cannot listen on 127.0.0.1:{port}: Address already in use"),
    );
}

#[test]
fn a_nats_server_that_is_not_there_names_the_url() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let out = chat_server(&["--port", "0", "--nats", &url]);
    assert_fails_with(
        &out,
        &format!("chat-server: UNAVAILABLE: cannot reach NATS at {url}: "),
    );
}

#[test]
fn a_bad_argument_is_a_sentence_with_the_usage() {
    let out = chat_server(&["--port", "http"]);
    assert_fails_with(&out, "chat-server: not a port: http");
    let out = chat_server(&["--colour"]);
    assert_fails_with(
        &out,
        "chat-server: unknown argument --colour\nusage: chat-server",
    );
}
