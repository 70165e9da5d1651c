//! What the CLI tests share: starting a server process and reading its address.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts a process that prints `... HOST:PORT` as its first line; returns it
/// and the address.
pub(crate) fn spawn_server(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    (child, addr)
}
