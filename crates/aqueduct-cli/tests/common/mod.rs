//! What the CLI tests share: starting a server process and reading its
//! address, and child processes that end with the test. (Each test file uses
//! some of it.)
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

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
