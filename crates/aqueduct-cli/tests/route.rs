//! `aqueduct route` in front of two backend processes (`aqueduct serve
//! --handoff`), each serving a different service: generated clients reach both
//! through it, and so do `grpcurl` (grpc-go) and Python `grpcio`, which send no
//! request before they have the server's SETTINGS; an unknown service gets
//! UNAVAILABLE, and so does a service whose backend has stopped. TLS
//! connections go by `--server-name`, unterminated, to a backend in the test
//! process that gets the ClientHello replayed; an unknown name gets an alert.

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

/// A TLS 1.3-style ClientHello naming `server_name`, offering h2, in one
/// record: what the front routes by, no more.
fn client_hello(server_name: &str) -> Vec<u8> {
    let vec16 = |bytes: &[u8]| {
        let mut out = u16::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(bytes);
        out
    };
    let mut names = vec![0]; // host_name
    names.extend(vec16(server_name.as_bytes()));
    let mut extensions = vec![0, 0]; // server_name
    extensions.extend(vec16(&vec16(&names)));
    extensions.extend([0, 16]); // ALPN
    extensions.extend(vec16(&vec16(b"\x02h2")));
    let mut body = vec![3, 3];
    body.extend([0x5a; 32]); // random
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]); // session id, a suite, no compression
    body.extend(vec16(&extensions));
    let mut message = vec![1];
    message.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    message.extend(body);
    let mut record = vec![0x16, 3, 1];
    record.extend(vec16(&message));
    record
}

/// `fut`'s output, or a failed test if it takes over [`LIMIT`].
async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} took over {LIMIT:?}"))
}

#[test]
fn route_hands_tls_connections_over_by_server_name() {
    use aqueduct::Listener as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let dir = Dir(std::env::temp_dir().join(format!("aqueduct-route-tls-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir(&dir.0).unwrap();
    let socket = dir.0.join("a.sock");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut backend = aqueduct_handoff::HandoffListener::bind(&socket).unwrap();
        let (_route, addr) = aqueduct(&[
            "route",
            "--port",
            "0",
            "--server-name",
            &format!("*.Example.test={}", socket.display()),
        ]);

        // An unknown name: an unrecognized_name alert, then the close.
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(&client_hello("other.test")).await.unwrap();
        let mut answer = Vec::new();
        let read = tcp.read_to_end(&mut answer);
        within("the alert", read).await.unwrap();
        assert_eq!(answer, [0x15, 3, 3, 0, 2, 2, 112]);

        // A matching name: the backend gets the connection, the ClientHello
        // first, and talks to the client directly.
        let hello = client_hello("api.example.test");
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(&hello).await.unwrap();
        let accept = backend.accept();
        let (mut handed, peer) = within("the hand-off", accept).await.unwrap();
        assert_eq!(peer, Some(tcp.local_addr().unwrap()));
        let mut replayed = vec![0; hello.len()];
        handed.read_exact(&mut replayed).await.unwrap();
        assert_eq!(replayed, hello);
        handed.write_all(b"a ServerHello").await.unwrap();
        let mut got = [0; 13];
        let read = tcp.read_exact(&mut got);
        within("the answer", read).await.unwrap();
        assert_eq!(&got, b"a ServerHello", "the front wrote nothing of its own");
    });
}

/// Issue 17: foreign TLS clients through the front. grpcio and grpcurl dial
/// `aqueduct route`, which reads their ClientHello, routes it by SNI
/// (`localhost`), and hands the connection, still encrypted, to `aqueduct
/// serve --handoff --tls-cert ...`, which terminates TLS itself.
#[test]
fn foreign_tls_clients_reach_a_tls_backend_through_the_front_by_server_name() {
    let dir = Dir(std::env::temp_dir().join(format!("aqueduct-route-sni-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir(&dir.0).unwrap();
    let pki = interop::certs::TestPki::new("route test CA");
    let (cert, key) = pki.server(&["localhost"]).write(&dir.0, "server");
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let socket = dir.0.join("tls.sock");
    let (_backend, _) = aqueduct(&[
        "serve",
        "--handoff",
        socket.to_str().unwrap(),
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let (_route, addr) = aqueduct(&[
        "route",
        "--port",
        "0",
        "--server-name",
        &format!("localhost={}", socket.display()),
    ]);
    let port = addr.rsplit(':').next().unwrap();

    // grpcio: every interop case over TLS, SNI and name check `localhost`.
    let out = common::run_within(
        Command::new(common::python())
            .arg(common::repo_file("interop/python/client.py"))
            .args(["--server_host", "127.0.0.1", "--server_port", port])
            .args(["--use_tls", "true", "--ca_file", ca.to_str().unwrap()])
            .args(["--server_host_override", "localhost"])
            .args(["--test_case", "all"]),
        LIMIT,
    );
    assert!(out.contains("interop: 18 passed, 0 failed"), "{out}");

    // grpcurl, by reflection, over TLS.
    let reply = common::run_within(
        Command::new(common::grpcurl_path()).args([
            "-max-time",
            "30",
            "-cacert",
            ca.to_str().unwrap(),
            "-servername",
            "localhost",
            "-d",
            r#"{"response_size": 5}"#,
            &addr,
            "grpc.testing.TestService/UnaryCall",
        ]),
        LIMIT,
    );
    assert!(reply.contains(r#""body": "AAAAAAA=""#), "{reply}");
}
