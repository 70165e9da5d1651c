//! Child processes that end with the test, and servers that announce their
//! port. Part of `common`; included by path by tests that need only this.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A child process that is killed when the test ends, pass or fail.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server that prints `listening on HOST:PORT` first; returns it and
/// the port. Its listener is bound by then, so no wait is needed.
#[allow(dead_code, reason = "health.rs starts no server process")]
pub(crate) fn start(mut cmd: Command) -> (Killed, u16) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start server");
    let stdout = child.stdout.take().expect("stdout");
    let server = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read server's first line");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("server did not report its port; it printed {line:?}"));
    (server, port)
}
