//! `aqueduct route` in front of two backend processes (`aqueduct serve
//! --handoff`), each serving a different service: generated clients reach both
//! through it, and so do `grpcurl` (grpc-go) and Python `grpcio`, which send no
//! request before they have the server's SETTINGS; an unknown service gets
//! UNAVAILABLE, and so does a service whose backend has stopped.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::Killed;

use aqueduct::{Channel, Code, Request};
use interop::pb::test_service_client::TestServiceClient;
use interop::pb::{Empty, Payload, SimpleRequest};
use notes::pb::notes_client::NotesClient;
use notes::pb::{CreateNoteRequest, GetNoteRequest};

fn aqueduct(args: &[&str]) -> (Killed, String) {
    let (child, addr) =
        common::spawn_server(Command::new(env!("CARGO_BIN_EXE_aqueduct")).args(args));
    (Killed::new(child), addr)
}

fn backend(socket: &Path, service: &str) -> Killed {
    aqueduct(&[
        "serve",
        "--handoff",
        socket.to_str().unwrap(),
        "--service",
        service,
    ])
    .0
}

/// Every peer program finishes within this.
const LIMIT: Duration = Duration::from_secs(120);

/// A private directory for the sockets, removed on drop.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn route_hands_each_connection_to_the_backend_of_its_service() {
    let dir = Dir(std::env::temp_dir().join(format!("aqueduct-route-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir(&dir.0).unwrap();
    let notes_socket = dir.0.join("notes.sock");
    let test_socket = dir.0.join("test.sock");
    let notes_backend = backend(&notes_socket, "notes.v1.Notes");
    let _test_backend = backend(&test_socket, "grpc.testing.TestService");
    let (_route, addr) = aqueduct(&[
        "route",
        "--port",
        "0",
        "--service",
        &format!("notes.v1.Notes={}", notes_socket.display()),
        "--service",
        &format!("grpc.testing.TestService={}", test_socket.display()),
        // So grpcurl can ask the test backend what it serves.
        "--service",
        &format!(
            "grpc.reflection.v1alpha.ServerReflection={}",
            test_socket.display()
        ),
    ]);
    let uri = format!("http://{addr}");

    // Issue 16, item 9: clients that wait for the server's SETTINGS.
    // grpcurl by reflection to the test backend, then with the proto to notes.
    let grpcurl = || {
        let mut cmd = Command::new(common::grpcurl_path());
        cmd.args(["-plaintext", "-max-time", "30"]);
        cmd
    };
    let reply = common::run_within(
        grpcurl().args([
            "-d",
            r#"{"response_size": 5}"#,
            &addr,
            "grpc.testing.TestService/UnaryCall",
        ]),
        LIMIT,
    );
    assert!(reply.contains(r#""body": "AAAAAAA=""#), "{reply}");
    let notes_proto = common::repo_file("examples/notes/proto");
    let reply = common::run_within(
        grpcurl().args([
            "-import-path",
            notes_proto.to_str().unwrap(),
            "-proto",
            "notes/v1/notes.proto",
            "-d",
            r#"{"title": "from grpcurl"}"#,
            &addr,
            "notes.v1.Notes/CreateNote",
        ]),
        LIMIT,
    );
    assert!(reply.contains("from grpcurl"), "{reply}");
    // grpcio: every interop case, on one channel through the router.
    let port = addr.rsplit(':').next().unwrap();
    let out = common::run_within(
        Command::new(common::python())
            .arg(common::repo_file("interop/python/client.py"))
            .args(["--server_host", "127.0.0.1", "--server_port", port])
            .args(["--test_case", "all"]),
        LIMIT,
    );
    assert!(out.contains(" 0 failed"), "{out}");

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        // The notes backend, through the router, with the generated client.
        let notes = NotesClient::new(Channel::from_uri(&uri).unwrap());
        let created = notes
            .create_note(CreateNoteRequest {
                title: "routed".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let got = notes
            .get_note(GetNoteRequest { id: created.id })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.title, "routed");

        // A first call larger than what the front reads gets through (our
        // client acknowledges the front's SETTINGS after a window of DATA;
        // the hand-off crate's route tests check the connection survives).
        let large = TestServiceClient::new(Channel::from_uri(&uri).unwrap());
        let reply = large
            .unary_call(SimpleRequest {
                response_size: 7,
                payload: Some(Payload {
                    body: vec![1; 200_000],
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.payload.unwrap().body.len(), 7);

        // The test backend on another connection: every interop case passes.
        let test_channel = Channel::from_uri(&uri).unwrap();
        let test = TestServiceClient::new(test_channel.clone());
        test.empty_call(Empty {}).await.unwrap();
        let mut failures = Vec::new();
        for case in interop::client::ALL {
            if let Err(e) = interop::client::run(case, &test_channel).await {
                failures.push(format!("{case}: {e}"));
            }
        }
        assert!(
            failures.is_empty(),
            "interop cases through the router: {failures:?}"
        );

        // Routing is per connection: a TestService call on the notes
        // connection reaches the notes backend, which does not have it.
        let stray = notes
            .channel()
            .unary::<SimpleRequest, interop::pb::SimpleResponse>(
                "/grpc.testing.TestService/UnaryCall",
                Request::new(SimpleRequest::default()),
            )
            .await
            .unwrap_err();
        assert_eq!(stray.code(), Code::Unimplemented, "{stray}");

        // A service no backend serves.
        let unknown = Channel::from_uri(&uri)
            .unwrap()
            .unary::<Empty, Empty>("/nope.v1.Nope/Call", Request::new(Empty {}))
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Code::Unavailable, "{unknown}");
        assert!(unknown.message().contains("nope.v1.Nope"), "{unknown}");

        // The notes backend stops (Ctrl-C): new notes connections are refused
        // with UNAVAILABLE, not left hanging.
        let status = Command::new("kill")
            .args(["-INT", &notes_backend.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(notes_backend.take().wait().unwrap().success());
        let gone = NotesClient::new(Channel::from_uri(&uri).unwrap())
            .get_note(GetNoteRequest { id: "1".into() })
            .await
            .unwrap_err();
        assert_eq!(gone.code(), Code::Unavailable, "{gone}");
    });
}
