//! What the CLI tests share: starting a server process and reading its
//! address, and child processes that end with the test. (Each test file uses
//! some of it.)
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A peer program from `env`, or where `scripts/test` installs it (a path
/// relative to the repository); never skipped.
pub(crate) fn tool(env: &str, installed_at: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(installed_at)
        },
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "{} not found ({env} unset or wrong): run scripts/test, which installs it",
        path.display()
    );
    path
}

/// `grpcurl`, from `AQUEDUCT_GRPCURL`.
pub(crate) fn grpcurl_path() -> PathBuf {
    tool("AQUEDUCT_GRPCURL", ".venv/bin/grpcurl")
}

/// The Python with `grpcio`, from `AQUEDUCT_PYTHON`.
pub(crate) fn python() -> PathBuf {
    tool("AQUEDUCT_PYTHON", ".venv/bin/python")
}

/// A file of the repository, by its path from the root.
pub(crate) fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// A child process, killed when dropped unless taken back first.
pub(crate) struct Killed(Option<Child>);

impl Killed {
    pub(crate) fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// The child, no longer killed on drop.
    pub(crate) fn take(mut self) -> Child {
        self.0.take().expect("taken once")
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts a process that prints `... HOST:PORT` as its first line; returns it
/// and the address.
pub(crate) fn spawn_server(cmd: &mut Command) -> (Child, String) {
    let (child, line) = spawn_announcing(cmd);
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    (child, addr)
}

/// Starts a process and returns it with the first line it prints.
pub(crate) fn spawn_announcing(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

/// Runs `cmd` to its end within `limit` (killed past it, failing the test);
/// asserts it succeeded and returns its stdout.
pub(crate) fn run_within(cmd: &mut Command, limit: std::time::Duration) -> String {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(limit) else {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        panic!("{cmd:?} did not finish within {limit:?}");
    };
    let output = output.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
