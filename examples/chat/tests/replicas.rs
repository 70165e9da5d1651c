//! Two chat-server processes joined through a real nats-server: a member on
//! replica 1 receives what is sent on replica 2, in each sender's order; the
//! chat-client commands of the README work against them; shutting a replica
//! down ends its members' streams with UNAVAILABLE.

#![allow(clippy::unwrap_used)]

#[path = "../../../crates/aqueduct-broadcast/tests/common/nats_server.rs"]
mod nats_server;

// Child processes killed with the test, a server's first line.
#[path = "../../../crates/aqueduct-cli/tests/common/mod.rs"]
mod common;

use std::io::{BufRead as _, BufReader, Lines};
use std::process::{ChildStdout, Command, Stdio};

use aqueduct::{Channel, Code, Streaming};
use chat::pb::chat_service_client::ChatServiceClient;
use chat::pb::join_response::Event;
use chat::pb::{ChatMessage, JoinRequest, JoinResponse, SendRequest};
use common::Killed;
use nats_server::NatsServer;

/// Starts `chat-server ARGS...`; returns it and its address, read off its
/// first line (`chat server NAME on ADDRESS`).
fn chat_server(args: &[&str]) -> (Killed, String) {
    let (child, line) =
        common::spawn_announcing(Command::new(env!("CARGO_BIN_EXE_chat-server")).args(args));
    assert!(line.starts_with("chat server "), "{line}");
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    (Killed::new(child), addr)
}

/// A replica named `name` on a free port.
fn replica(nats: &NatsServer, name: &str) -> (Killed, String) {
    chat_server(&["--port", "0", "--nats", &nats.url, "--replica", name])
}

fn client(addr: &str) -> ChatServiceClient {
    ChatServiceClient::new(Channel::from_uri(&format!("http://{addr}")).unwrap())
}

/// Joins `room` and waits for the `joined` event: from then on, every
/// message sent to the room reaches this stream.
async fn join(addr: &str, room: &str) -> Streaming<JoinResponse> {
    let mut stream = client(addr)
        .join(JoinRequest { room: room.into() })
        .await
        .unwrap();
    let first = stream.message().await.unwrap().unwrap();
    assert!(
        matches!(first.event, Some(Event::Joined(ref j)) if j.room == room),
        "{first:?}"
    );
    stream
}

async fn next_message(stream: &mut Streaming<JoinResponse>) -> ChatMessage {
    match stream.message().await.unwrap().and_then(|r| r.event) {
        Some(Event::Message(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_every_replica_get_every_message_in_each_senders_order() {
    const N: usize = 200;
    let nats = NatsServer::start();
    let (_one, one) = replica(&nats, "one");
    let (_two, two) = replica(&nats, "two");
    let mut on_one = join(&one, "lobby").await;
    let mut on_two = join(&two, "lobby").await;

    // bob sends through replica two, carol through replica one, at once.
    let senders: Vec<_> = [("bob", two.clone()), ("carol", one.clone())]
        .into_iter()
        .map(|(user, addr)| {
            tokio::spawn(async move {
                let client = client(&addr);
                for i in 0..N {
                    let request = SendRequest {
                        room: "lobby".into(),
                        user: user.into(),
                        text: i.to_string(),
                    };
                    client.send(request).await.unwrap();
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }

    for stream in [&mut on_one, &mut on_two] {
        let (mut bob, mut carol) = (0, 0);
        for _ in 0..2 * N {
            let message = next_message(stream).await;
            let (next, via) = match message.user.as_str() {
                "bob" => (&mut bob, "two"),
                _ => (&mut carol, "one"),
            };
            assert_eq!(message.text, next.to_string(), "{message:?}");
            assert_eq!(message.replica, via);
            *next += 1;
        }
    }
}

#[tokio::test]
async fn bad_requests_get_invalid_argument() {
    let nats = NatsServer::start();
    let (_one, one) = replica(&nats, "one");
    let chat = client(&one);
    let long = "x".repeat(chat::MAX_TEXT + 1);
    for (room, user, text) in [
        ("", "bob", "hi"),
        ("lobby", "", "hi"),
        ("lobby", "bob", &long),
    ] {
        let request = SendRequest {
            room: room.into(),
            user: user.into(),
            text: text.into(),
        };
        let status = chat.send(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
    // A trailers-only answer: the call itself fails.
    let status = chat
        .join(JoinRequest {
            room: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

/// Runs `chat-client ARGS...` to completion; its stdout.
fn chat_client(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_chat-client"))
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "chat-client {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    lines.next().unwrap().unwrap()
}

/// The lines of the README's first fenced block in `language`.
fn readme_block(readme: &str, language: &str) -> Vec<String> {
    let fence = format!("```{language}\n");
    let start = readme.find(&fence).unwrap() + fence.len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].lines().map(str::to_owned).collect()
}

#[test]
fn the_readme_commands_talk_across_replicas() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let nats = NatsServer::start();
    // README address -> the address the test's process got.
    let mut addresses = vec![("nats://127.0.0.1:4222".to_owned(), nats.url.clone())];
    let real = |word: &str, addresses: &[(String, String)]| {
        addresses
            .iter()
            .find(|(readme, _)| readme == word)
            .map_or_else(|| word.to_owned(), |(_, real)| real.clone())
    };
    // What `join` prints, by the README.
    let printed = readme_block(&readme, "text");
    assert_eq!(printed.len(), 3, "{printed:?}");
    let mut servers = Vec::new();
    let mut joined = None;
    let mut lines = None;
    for command in readme_block(&readme, "sh") {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["nats-server", ..] => {} // the test's own, on a free port
            [
                "cargo",
                "run",
                "-p",
                "chat",
                "--bin",
                "chat-server",
                "--",
                args @ ..,
            ] => {
                let mut args: Vec<String> = args.iter().map(|a| real(a, &addresses)).collect();
                let port = args.iter().position(|a| a == "--port").unwrap() + 1;
                let readme_addr = format!("127.0.0.1:{}", args[port]);
                args[port] = "0".into();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let (process, addr) = chat_server(&args);
                servers.push(process);
                addresses.push((readme_addr, addr));
            }
            [
                "cargo",
                "run",
                "-p",
                "chat",
                "--bin",
                "chat-client",
                "--",
                args @ ..,
            ] => {
                let args: Vec<String> = args.iter().map(|a| real(a, &addresses)).collect();
                if args.get(1).map(String::as_str) == Some("join") {
                    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-client"))
                        .args(&args)
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
                    let stderr = child.stderr.take().unwrap();
                    let process = Killed::new(child);
                    // The subscription is live once `joined` is printed.
                    assert_eq!(next_line(&mut out), printed[0]);
                    lines = Some(out);
                    joined = Some((process, stderr));
                } else {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    assert_eq!(chat_client(&args), "");
                }
            }
            other => panic!("the test does not know how to run {other:?}"),
        }
    }
    let (Some((joined, mut joined_stderr)), Some(mut lines)) = (joined, lines) else {
        panic!("the README never joins a room");
    };
    for expected in &printed[1..] {
        assert_eq!(&next_line(&mut lines), expected);
    }

    // Replica one shuts down (SIGTERM): its member's stream ends with the
    // hub's status, and the client exits non-zero.
    let mut one = servers.remove(0).take();
    let pid = one.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    assert!(one.wait().unwrap().success());
    assert!(lines.next().is_none(), "no more lines");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut joined_stderr, &mut stderr).unwrap();
    assert!(!joined.take().wait().unwrap().success());
    assert!(
        stderr.contains("UNAVAILABLE: the chat server is shutting down"),
        "{stderr}"
    );
}
