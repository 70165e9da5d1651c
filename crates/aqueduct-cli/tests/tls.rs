//! `aqueduct serve` and `aqueduct bench` over TLS and mutual TLS, with
//! certificates `interop::certs` makes for each test (PEM files in a
//! temporary directory; no key is committed), and the errors both give for
//! bad material: at start, non-zero, naming the flag and the file.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::Killed;
use interop::certs::{TempDir, TestPki};

/// Every process a test waits for ends within this.
const LIMIT: Duration = Duration::from_secs(60);

/// A CA, a server certificate for `names` and a client certificate, written
/// to a temporary directory.
struct Files {
    dir: TempDir,
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
}

impl Files {
    fn new(names: &[&str]) -> Self {
        let dir = TempDir::new();
        let pki = TestPki::new("Aqueduct CLI Test CA");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, pki.ca_pem()).unwrap();
        let server = pki.server(names).write(dir.path(), "server");
        let client = pki
            .client("spiffe://example.org/ns/cli/sa/bench")
            .write(dir.path(), "client");
        Self {
            dir,
            ca,
            server,
            client,
        }
    }

    /// A file in the directory with `contents`.
    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `aqueduct serve` on a free port with `args` after it, once it has said it
/// listens: the process, the address, and its first line.
fn serve(args: &[&str]) -> (Killed, String, String) {
    let (child, line) = common::spawn_announcing(
        Command::new(env!("CARGO_BIN_EXE_aqueduct"))
            .args(["serve", "--port", "0", "--threads", "1"])
            .args(args),
    );
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    (Killed::new(child), addr, line)
}

/// `aqueduct` with `args`, to its end within [`LIMIT`].
fn run(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(LIMIT) else {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        panic!("aqueduct {args:?} did not finish within {LIMIT:?}");
    };
    output.unwrap()
}

/// Its stdout and stderr, for messages.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `aqueduct bench --json --quiet` with `args`; asserts it succeeded.
fn bench(args: &[&str]) -> String {
    let out = run(&[&["bench", "--json", "--quiet"], args].concat());
    assert!(
        out.status.success(),
        "bench {args:?} failed:\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `aqueduct bench` (text report) with `args`; asserts it failed.
fn bench_fails(args: &[&str]) -> String {
    let out = run(&[&["bench", "--quiet"], args].concat());
    assert!(
        !out.status.success(),
        "bench {args:?} succeeded:\n{}",
        text(&out)
    );
    text(&out)
}

/// `aqueduct serve` with `args`; asserts it exited non-zero without serving,
/// and returns its stderr.
fn serve_fails(args: &[&str]) -> String {
    let out = run(&[&["serve", "--port", "0", "--threads", "1"], args].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && !stdout.contains("listening"),
        "serve {args:?} did not fail at start:\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn serve_over_tls_and_bench_against_it() {
    let files = Files::new(&["localhost", "127.0.0.1"]);
    let (cert, key) = &files.server;
    let (_server, addr, line) = serve(&["--tls-cert", s(cert), "--tls-key", s(key)]);
    assert!(line.contains("(TLS) listening on"), "{line}");
    let target = format!("https://{addr}");
    let unary = bench(&[
        "--target",
        &target,
        "--ca-file",
        s(&files.ca),
        "--call",
        "testservice-unary",
        "--requests",
        "200",
        "--connections",
        "2",
    ]);
    assert!(unary.contains("\"ok\":200,"), "{unary}");
    assert!(unary.contains("\"errors\":{}"), "{unary}");
    // A new connection, so a full handshake, for every call.
    let churn = bench(&[
        "--target",
        &target,
        "--ca-file",
        s(&files.ca),
        "--call",
        "testservice-unary",
        "--connection-per-call",
        "--requests",
        "20",
        "--concurrency",
        "4",
    ]);
    assert!(churn.contains("\"ok\":20,"), "{churn}");
    // Plaintext HTTP/2 to the TLS port: nothing succeeds.
    let plain = bench_fails(&["--target", &format!("http://{addr}"), "--requests", "3"]);
    assert!(
        plain.contains("cannot connect") || plain.contains("UNAVAILABLE"),
        "{plain}"
    );
}

#[test]
fn bench_checks_the_server_name_it_is_told() {
    let files = Files::new(&["grpc.aqueduct.test"]);
    let (cert, key) = &files.server;
    let (_server, addr, _) = serve(&["--tls-cert", s(cert), "--tls-key", s(key)]);
    let target = format!("https://{addr}");
    let ca = s(&files.ca);
    let wrong = bench_fails(&["--target", &target, "--ca-file", ca, "--requests", "3"]);
    assert!(
        wrong.contains("not valid for name \"127.0.0.1\"") && wrong.contains("grpc.aqueduct.test"),
        "{wrong}"
    );
    let named = bench(&[
        "--target",
        &target,
        "--ca-file",
        ca,
        "--server-name",
        "grpc.aqueduct.test",
        "--call",
        "testservice-unary",
        "--requests",
        "50",
    ]);
    assert!(named.contains("\"ok\":50,"), "{named}");
}

#[test]
fn mutual_tls_required_and_optional() {
    let files = Files::new(&["localhost", "127.0.0.1"]);
    let (cert, key) = &files.server;
    let (client_cert, client_key) = &files.client;
    let ca = s(&files.ca);
    let (_required, addr, line) = serve(&[
        "--tls-cert",
        s(cert),
        "--tls-key",
        s(key),
        "--client-ca",
        ca,
    ]);
    assert!(
        line.contains("(TLS, client certificates required) listening on"),
        "{line}"
    );
    let target = format!("https://{addr}");
    let with_cert = [
        "--target",
        &target,
        "--ca-file",
        ca,
        "--cert",
        s(client_cert),
        "--key",
        s(client_key),
        "--call",
        "testservice-unary",
    ];
    let out = bench(&[&with_cert[..], &["--requests", "100"]].concat());
    assert!(out.contains("\"ok\":100,"), "{out}");
    let out = bench(
        &[
            &with_cert[..],
            &["--requests", "10", "--connection-per-call"],
        ]
        .concat(),
    );
    assert!(out.contains("\"ok\":10,"), "{out}");
    // Refused in the handshake. (Under TLS 1.3 the client's side of it is
    // done before the server checks the certificate, so the client may see
    // the connection close before it reads the server's alert.)
    let refused = bench_fails(&[
        "--target",
        &target,
        "--ca-file",
        ca,
        "--call",
        "testservice-unary",
        "--requests",
        "3",
    ]);
    assert!(refused.contains("UNAVAILABLE: 3"), "{refused}");
    // grpc-go (grpcurl) as the client, with its certificate.
    let grpcurl = Command::new(common::grpcurl_path())
        .args([
            "-cacert",
            ca,
            "-cert",
            s(client_cert),
            "-key",
            s(client_key),
        ])
        .args([&addr, "grpc.testing.TestService/EmptyCall"])
        .output()
        .unwrap();
    assert!(grpcurl.status.success(), "grpcurl: {}", text(&grpcurl));

    let (_optional, addr, line) = serve(&[
        "--tls-cert",
        s(cert),
        "--tls-key",
        s(key),
        "--client-ca",
        ca,
        "--client-auth",
        "optional",
    ]);
    assert!(
        line.contains("(TLS, client certificates optional) listening on"),
        "{line}"
    );
    let target = format!("https://{addr}");
    let out = bench(&[
        "--target",
        &target,
        "--ca-file",
        ca,
        "--call",
        "testservice-unary",
        "--requests",
        "20",
    ]);
    assert!(out.contains("\"ok\":20,"), "{out}");
    let out = bench(&[&with_cert[..], &["--requests", "20"]].concat());
    assert!(out.contains("\"ok\":20,"), "{out}");
}

#[test]
fn restartable_serve_over_tls() {
    let files = Files::new(&["localhost", "127.0.0.1"]);
    let (cert, key) = &files.server;
    let control = files.dir.path().join("serve.ctl");
    let (_server, addr, line) = {
        let (child, line) =
            common::spawn_announcing(Command::new(env!("CARGO_BIN_EXE_aqueduct")).args([
                "serve",
                "--port",
                "0",
                "--control",
                s(&control),
                "--tls-cert",
                s(cert),
                "--tls-key",
                s(key),
            ]));
        let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
        (Killed::new(child), addr, line)
    };
    assert!(line.contains("(TLS) listening on"), "{line}");
    let out = bench(&[
        "--target",
        &format!("https://{addr}"),
        "--ca-file",
        s(&files.ca),
        "--call",
        "testservice-unary",
        "--requests",
        "50",
    ]);
    assert!(out.contains("\"ok\":50,"), "{out}");
    // A successor whose key is bad fails before taking the listener over.
    let bad_key = files.file("bad.key", "not a key\n");
    let out = run(&[
        "serve",
        "--port",
        "0",
        "--control",
        s(&control),
        "--tls-cert",
        s(cert),
        "--tls-key",
        s(&bad_key),
    ]);
    assert!(!out.status.success(), "{}", text(&out));
    let out = bench(&[
        "--target",
        &format!("https://{addr}"),
        "--ca-file",
        s(&files.ca),
        "--call",
        "testservice-unary",
        "--requests",
        "10",
    ]);
    assert!(out.contains("\"ok\":10,"), "{out}");
}

#[test]
fn bad_tls_material_is_a_clear_error_at_start() {
    let files = Files::new(&["localhost"]);
    let (cert, key) = &files.server;
    let (client_cert, client_key) = &files.client;

    let garbage = files.file("garbage.key", "-----BEGIN NOTHING-----\n");
    let err = serve_fails(&["--tls-cert", s(cert), "--tls-key", s(&garbage)]);
    assert!(
        err.contains("--tls-key") && err.contains(s(&garbage)) && err.contains("no private key"),
        "{err}"
    );

    // A key, but another certificate's.
    let err = serve_fails(&["--tls-cert", s(cert), "--tls-key", s(client_key)]);
    assert!(
        err.contains("does not match") && err.contains(s(client_key)) && err.contains(s(cert)),
        "{err}"
    );

    let missing = files.dir.path().join("missing.pem");
    let err = serve_fails(&["--tls-cert", s(&missing), "--tls-key", s(key)]);
    assert!(
        err.contains("cannot read") && err.contains(s(&missing)),
        "{err}"
    );

    let not_a_ca = files.file("not-a-ca.pem", "hello\n");
    let err = serve_fails(&[
        "--tls-cert",
        s(cert),
        "--tls-key",
        s(key),
        "--client-ca",
        s(&not_a_ca),
    ]);
    assert!(
        err.contains("--client-ca") && err.contains(s(&not_a_ca)),
        "{err}"
    );

    // Flags that need others.
    let err = serve_fails(&["--tls-key", s(key)]);
    assert!(err.contains("--tls-cert"), "{err}");
    let err = serve_fails(&["--client-ca", s(&files.ca)]);
    assert!(err.contains("--tls-cert"), "{err}");

    // bench: a TLS flag with a plaintext target, and a bad file.
    let err = bench_fails(&["--target", "http://127.0.0.1:1", "--ca-file", s(&files.ca)]);
    assert!(err.contains("https://127.0.0.1:1"), "{err}");
    let err = bench_fails(&["--target", "https://127.0.0.1:1", "--ca-file", s(&not_a_ca)]);
    assert!(
        err.contains("--ca-file") && err.contains(s(&not_a_ca)),
        "{err}"
    );
    let err = bench_fails(&[
        "--target",
        "https://127.0.0.1:1",
        "--cert",
        s(client_cert),
        "--key",
        s(&garbage),
    ]);
    assert!(err.contains("--key") && err.contains(s(&garbage)), "{err}");
}

/// A client that offers no ALPN (`openssl s_client` offers none unless told)
/// is refused, and `aqueduct serve` says so on stderr, as the issue asks: a
/// clear log line, not a silent close.
#[test]
fn a_client_without_alpn_is_refused_with_a_log_line() {
    use std::io::BufRead as _;
    let files = Files::new(&["localhost", "127.0.0.1"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["serve", "--port", "0", "--threads", "1"])
        .args([
            "--tls-cert",
            s(&files.server.0),
            "--tls-key",
            s(&files.server.1),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    let stderr = child.stderr.take().unwrap();
    let _server = Killed::new(child);
    let (lines, logged) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let openssl = std::env::var_os("AQUEDUCT_OPENSSL").unwrap_or_else(|| "openssl".into());
    let out = Command::new(openssl)
        .args(["s_client", "-connect", &addr, "-servername", "localhost"])
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client (scripts/test installs openssl)");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("No ALPN negotiated"), "{said}");
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = logged
            .recv_timeout(left)
            .expect("aqueduct serve logged no refusal");
        if line.contains("offered no ALPN protocol") {
            assert!(line.contains("INFO"), "{line}");
            break;
        }
    }
}
