//! A real `nats-server` on a free loopback port, stopped when dropped.
//! (Shared by aqueduct-broadcast's NATS tests and examples/chat's.)

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `nats-server` process.
pub(crate) struct NatsServer {
    child: Child,
    /// `nats://127.0.0.1:PORT`.
    pub(crate) url: String,
}

impl NatsServer {
    /// Starts `$AQUEDUCT_NATS_SERVER` (default: `nats-server` on `PATH`;
    /// `scripts/test` installs it) on a port the kernel picks, and waits
    /// until it accepts clients.
    pub(crate) fn start() -> Self {
        let program =
            std::env::var("AQUEDUCT_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let mut child = Command::new(&program)
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {program:?} ({error}): these tests need a real nats-server; \
                     scripts/test installs it (apt-get install nats-server)"
                )
            });
        let Some(stderr) = child.stderr.take() else {
            panic!("nats-server's stderr is piped");
        };
        let mut lines = BufReader::new(stderr).lines();
        // nats-server logs its client address, then "Server is ready".
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.unwrap_or_default();
            if let Some(addr) = line.split("Listening for client connections on ").nth(1) {
                url = Some(format!("nats://{}", addr.trim()));
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        let Some(url) = url else {
            let _ = child.kill();
            panic!("nats-server exited before it was ready");
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
