//! Stopping a server process with SIGTERM and watching it exit: shared by the
//! interop and `aqueduct` CLI shutdown tests (each includes this file by
//! path).

#![allow(dead_code, reason = "each test that includes it uses what it needs")]

use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

/// `fut`, or a failed test after 30 s: a regression must not hang the suite.
pub(crate) async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("no progress within 30 s")
}

/// Sends SIGTERM to process `pid`, as `kill PID` (and Kubernetes, systemd,
/// `docker stop`) do.
pub(crate) fn sigterm(pid: u32) {
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -TERM {pid} failed");
}

/// Waits (at most 30 s) for `child` to exit, and asserts it exited 0: a
/// process killed by a signal has no exit code at all.
pub(crate) async fn exits_0(mut child: Child, what: &str) {
    let status: ExitStatus = within(tokio::task::spawn_blocking(move || child.wait()))
        .await
        .expect("the waiting task ran")
        .expect("wait works");
    assert_eq!(status.code(), Some(0), "{what} exited with {status}");
}

/// Asserts a process that could not listen on a taken `port` said so as a
/// sentence starting with `prefix`, exit code 1, and no `Debug` dump.
pub(crate) fn refused_port(out: &std::process::Output, prefix: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with(prefix), "{stderr}");
    assert!(!stderr.contains("Os {"), "{stderr}");
}
