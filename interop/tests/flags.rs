//! The interop binaries' command lines: `--help` prints the usage (exit 0),
//! an unknown flag is refused with the list of known ones (exit 2), and
//! `--use_tls` with anything but `false` is refused rather than ignored.

use std::process::{Command, Output};

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
            &["--port PORT", "--use_tls false", "--help"][..],
        ),
        (
            CLIENT,
            "-h",
            &[
                "--server_host HOST",
                "--server_port PORT",
                "--test_case NAME",
                "--use_tls false",
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
        &["--server_port", "1", "--server_host_override", "x"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "interop-client: unknown flag --server_host_override; the flags are \
             --server_host, --server_port, --test_case, --use_tls\nusage: interop-client"
        ),
        "{stderr}"
    );
    // A flag given no value is refused too, not taken for a switch.
    let out = run(SERVER, &["--verbose"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr)
            .starts_with("interop-server: unknown flag --verbose; the flags are --port, --use_tls"),
        "{out:?}"
    );
}

#[test]
fn use_tls_true_is_refused_not_ignored() {
    for (binary, args) in [
        (SERVER, &["--port", "0", "--use_tls", "true"][..]),
        (CLIENT, &["--server_port=1", "--use_tls=true"]),
    ] {
        let out = run(binary, args);
        assert_eq!(out.status.code(), Some(2), "{binary}: {out:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("--use_tls true: TLS is not supported yet; only --use_tls=false"),
            "{stderr}"
        );
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
