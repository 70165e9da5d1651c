//! The interop binaries' command lines: `--help` prints the usage (exit 0),
//! an unknown flag is refused with the list of known ones (exit 2), the TLS
//! flags are taken and used, a TLS flag without `--use_tls true` is refused
//! rather than ignored, and TLS material that cannot be read is an error
//! that names the file (exit 2), not a panic.

use std::process::{Command, Output};

use interop::certs::{TempDir, TestPki};

#[path = "common/process.rs"]
mod process;
use process::start;

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .expect("run the binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SERVER: &str = env!("CARGO_BIN_EXE_interop-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_interop-client");

#[test]
fn help_prints_the_usage_and_exits_0() {
    for (binary, flag, flags) in [
        (
            SERVER,
            "--help",
            &[
                "--port PORT",
                "--use_tls true|false",
                "--tls_cert_file FILE",
                "--tls_key_file FILE",
                "--client_ca_file FILE",
                "--reflection true|false",
                "--help",
            ][..],
        ),
        (
            CLIENT,
            "-h",
            &[
                "--server_host HOST",
                "--server_port PORT",
                "--test_case NAME",
                "--use_tls true|false",
                "--ca_file FILE",
                "--use_test_ca true|false",
                "--server_host_override NAME",
                "--client_cert_file FILE",
                "--client_key_file FILE",
            ],
        ),
    ] {
        let out = run(binary, &[flag]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{binary} {flag}: {out:?}");
        assert!(stdout.starts_with("usage: interop-"), "{stdout}");
        for flag in flags {
            assert!(stdout.contains(flag), "{flag} missing from:\n{stdout}");
        }
    }
    // The client's help names its test cases.
    let stdout = text(&run(CLIENT, &["--help"]).stdout);
    assert!(
        stdout.contains("test cases: empty_unary, large_unary"),
        "{stdout}"
    );
}

#[test]
fn an_unknown_flag_is_refused_with_the_known_ones() {
    let out = run(
        CLIENT,
        &["--server_port", "1", "--server_host_overide", "x"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "interop-client: unknown flag --server_host_overide; the flags are \
             --server_host, --server_port, --test_case, --use_tls, --ca_file, --use_test_ca, \
             --server_host_override, --client_cert_file, --client_key_file\n\
             usage: interop-client"
        ),
        "{stderr}"
    );
    // A flag given no value is refused too, not taken for a switch.
    let out = run(SERVER, &["--verbose"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).starts_with(
            "interop-server: unknown flag --verbose; the flags are --port, --use_tls, \
             --tls_cert_file, --tls_key_file, --client_ca_file, --reflection"
        ),
        "{out:?}"
    );
}

/// The TLS flags, in both spellings, are taken and used: our client runs a
/// case against our server over mutual TLS, checking the server's
/// certificate by the override name.
#[test]
fn tls_flags_are_accepted_and_used() {
    let dir = TempDir::new();
    let pki = TestPki::new("flags test CA");
    let (server_cert, server_key) = pki.server(&["localhost"]).write(dir.path(), "server");
    let (client_cert, client_key) = pki
        .client("spiffe://example.org/flags")
        .write(dir.path(), "client");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();

    let mut server = Command::new(SERVER);
    server
        .args(["--port", "0", "--use_tls=true", "--tls_cert_file"])
        .arg(&server_cert)
        .arg(format!("--tls_key_file={}", server_key.display()))
        .arg("--client_ca_file")
        .arg(&ca);
    let (_server, port) = start(server);
    let out = Command::new(CLIENT)
        .args(["--server_host", "127.0.0.1", "--server_port"])
        .arg(port.to_string())
        .args(["--test_case", "empty_unary", "--use_tls", "true"])
        .args(["--use_test_ca", "true", "--ca_file"])
        .arg(&ca)
        .arg("--server_host_override=localhost")
        .arg("--client_cert_file")
        .arg(&client_cert)
        .arg("--client_key_file")
        .arg(&client_key)
        .output()
        .unwrap();
    assert!(
        out.status.success() && text(&out.stdout).contains("interop: 1 passed, 0 failed"),
        "{out:?}"
    );
}

#[test]
fn tls_flags_without_use_tls_true_are_refused_not_ignored() {
    for (binary, args, message) in [
        (
            SERVER,
            &["--port", "0", "--tls_cert_file", "server.pem"][..],
            "interop-server: --tls_cert_file needs --use_tls true\nusage: interop-server",
        ),
        (
            SERVER,
            &["--port=0", "--use_tls=false", "--client_ca_file=ca.pem"],
            "interop-server: --client_ca_file needs --use_tls true\n",
        ),
        (
            CLIENT,
            &["--server_port=1", "--ca_file", "ca.pem"],
            "interop-client: --ca_file needs --use_tls true\nusage: interop-client",
        ),
        (
            CLIENT,
            &["--server_port=1", "--server_host_override", "localhost"],
            "interop-client: --server_host_override needs --use_tls true\n",
        ),
        (
            CLIENT,
            &["--server_port=1", "--use_tls=yes"],
            "interop-client: --use_tls takes true or false, not \"yes\"\n",
        ),
        (
            SERVER,
            &["--port", "0", "--use_tls", "true"],
            "interop-server: --use_tls true needs --tls_cert_file and --tls_key_file \
             (no test certificate is built in)\n",
        ),
        (
            CLIENT,
            &["--server_port=1", "--use_tls=true", "--use_test_ca=true"],
            "interop-client: --use_test_ca true needs --ca_file (no test CA is built in)\n",
        ),
        (
            CLIENT,
            &[
                "--server_port=1",
                "--use_tls=true",
                "--client_key_file=c.key",
            ],
            "interop-client: --client_cert_file and --client_key_file go together\n",
        ),
    ] {
        let out = run(binary, args);
        assert_eq!(out.status.code(), Some(2), "{binary} {args:?}: {out:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with(message), "{args:?}: {stderr}");
    }
}

/// Files that cannot be read or used give a sentence naming the file, exit
/// 2, before any port is bound; no panic.
#[test]
fn unreadable_or_bad_pem_is_an_error_not_a_panic() {
    let dir = TempDir::new();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let (cert, key) = TestPki::new("flags test CA")
        .server(&["localhost"])
        .write(dir.path(), "server");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    for (binary, args, message) in [
        (
            SERVER,
            vec![
                "--use_tls=true".to_owned(),
                format!("--tls_cert_file={}", path(&missing)),
                format!("--tls_key_file={}", path(&key)),
            ],
            format!("interop-server: TLS: cannot read {}: ", missing.display()),
        ),
        (
            SERVER,
            vec![
                "--use_tls=true".to_owned(),
                format!("--tls_cert_file={}", path(&garbage)),
                format!("--tls_key_file={}", path(&key)),
            ],
            format!("interop-server: TLS: {}: not valid PEM", garbage.display()),
        ),
        (
            SERVER,
            vec![
                "--use_tls=true".to_owned(),
                format!("--tls_cert_file={}", path(&cert)),
                format!("--tls_key_file={}", path(&key)),
                format!("--client_ca_file={}", path(&missing)),
            ],
            format!("interop-server: TLS: cannot read {}: ", missing.display()),
        ),
        (
            CLIENT,
            vec![
                "--server_port=1".to_owned(),
                "--use_tls=true".to_owned(),
                format!("--ca_file={}", path(&garbage)),
            ],
            format!("interop-client: TLS: {}: not valid PEM", garbage.display()),
        ),
        (
            CLIENT,
            vec![
                "--server_port=1".to_owned(),
                "--use_tls=true".to_owned(),
                format!("--client_cert_file={}", path(&cert)),
                format!("--client_key_file={}", path(&missing)),
            ],
            format!("interop-client: TLS: cannot read {}: ", missing.display()),
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(binary, &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with(&message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
}

#[test]
fn a_bad_port_says_so() {
    let out = run(SERVER, &["--port", "http"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).starts_with("interop-server: --port must be a number from 0 to 65535"),
        "{out:?}"
    );
}
