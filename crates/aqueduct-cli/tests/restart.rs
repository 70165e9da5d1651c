//! Restarts that drop nothing: while `aqueduct serve --control` is replaced by
//! a new process three times, clients of three stacks call without pause:
//! ours on 20 long-lived connections and from 4 tasks that connect per call,
//! Python `grpcio` on one channel and with a channel per call, and `grpcurl`
//! (grpc-go), a process and a connection per call. Each new process takes the
//! listening socket over; each old one drains and exits 0. Every kind of
//! client makes progress between restarts, not one call fails, and no
//! connection is refused (a refused connection would fail a call with
//! UNAVAILABLE).
//!
//! Clients that connect per call are the ones that catch a connection still
//! in its HTTP/2 handshake when draining starts (issue 16, item 11).

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use aqueduct::{Channel, Request};
use common::Killed;
use interop::pb::Empty;
use interop::pb::test_service_client::TestServiceClient;
use tokio::sync::watch;

const LONG_LIVED: usize = 20;
const PER_CALL: usize = 16;
const RESTARTS: usize = 3;
/// Calls each kind of client must make after each restart (and before the
/// first) before the next one.
const BETWEEN: Progress = Progress {
    long_lived: 500,
    per_call: 50,
    grpcio: 20,
    grpcio_per_call: 10,
    grpcurl: 2,
};
/// Every wait ends.
const LIMIT: Duration = Duration::from_secs(60);
/// Each call's deadline.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Calls that succeeded, by kind of client.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    long_lived: u64,
    per_call: u64,
    grpcio: u64,
    grpcio_per_call: u64,
    grpcurl: u64,
}

impl Progress {
    fn plus(self, more: Self) -> Self {
        Self {
            long_lived: self.long_lived + more.long_lived,
            per_call: self.per_call + more.per_call,
            grpcio: self.grpcio + more.grpcio,
            grpcio_per_call: self.grpcio_per_call + more.grpcio_per_call,
            grpcurl: self.grpcurl + more.grpcurl,
        }
    }

    fn reached(&self, target: &Self) -> bool {
        self.long_lived >= target.long_lived
            && self.per_call >= target.per_call
            && self.grpcio >= target.grpcio
            && self.grpcio_per_call >= target.grpcio_per_call
            && self.grpcurl >= target.grpcurl
    }
}

/// What the clients share: progress, watched by the test, and failures.
#[derive(Clone)]
struct Tally {
    progress: Arc<watch::Sender<Progress>>,
    failures: Arc<Mutex<Vec<String>>>,
}

impl Tally {
    fn count(&self, kind: fn(&mut Progress) -> &mut u64) {
        self.progress.send_modify(|p| *kind(p) += 1);
    }

    fn fail(&self, what: String) {
        self.failures.lock().unwrap().push(what);
    }

    /// Waits, within the limit, until every kind has made `more` calls
    /// since `from`.
    async fn reach(&self, from: Progress, more: Progress) {
        let target = from.plus(more);
        let mut rx = self.progress.subscribe();
        let reached = tokio::time::timeout(LIMIT, rx.wait_for(|p| p.reached(&target))).await;
        assert!(
            reached.is_ok(),
            "calls stopped progressing: {:?}, expected {target:?}; failures: {:?}",
            *self.progress.borrow(),
            self.failures.lock().unwrap()
        );
    }
}

/// Starts a server generation, killed if the test ends early.
fn start(control: &std::path::Path) -> (Killed, String) {
    let (child, addr) = common::spawn_server(Command::new(env!("CARGO_BIN_EXE_aqueduct")).args([
        "serve",
        "--port",
        "0",
        "--service",
        "grpc.testing.TestService",
        "--control",
        control.to_str().unwrap(),
    ]));
    (Killed::new(child), addr)
}

/// Waits for `generation` to exit, within the limit; true if it exited 0.
async fn exited_cleanly(generation: Killed) -> bool {
    let mut child = generation.take();
    let pid = child.id();
    let wait = tokio::task::spawn_blocking(move || child.wait());
    match tokio::time::timeout(LIMIT, wait).await {
        Ok(status) => status.unwrap().unwrap().success(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the old server did not exit within {LIMIT:?}");
        }
    }
}

/// A `calls.py` process: grpcio calling until its stdin closes.
struct Grpcio {
    child: Killed,
    stdin: Option<ChildStdin>,
    /// Its final line, `done OK FAILED`, and the failures it printed.
    result: mpsc::Receiver<(Option<String>, Vec<String>)>,
}

impl Grpcio {
    fn spawn(
        port: &str,
        per_call: bool,
        tally: Tally,
        kind: fn(&mut Progress) -> &mut u64,
    ) -> Self {
        let mut child = Command::new(common::python())
            .arg(common::repo_file("interop/python/calls.py"))
            .args(["--server_host", "127.0.0.1", "--server_port", port])
            .args([
                "--connection_per_call",
                if per_call { "true" } else { "false" },
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, result) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut done, mut failures) = (None, Vec::new());
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ok ").and_then(|n| n.parse().ok()) {
                    tally.progress.send_modify(|p| *kind(p) = n);
                } else if line.starts_with("done ") {
                    done = Some(line);
                } else {
                    failures.push(line);
                }
            }
            let _ = tx.send((done, failures));
        });
        Self {
            child: Killed::new(child),
            stdin,
            result,
        }
    }

    /// Closes its stdin and returns its failures (none if it made every
    /// call); fails the test if it did not end within the limit.
    fn stop(mut self, name: &str) -> Vec<String> {
        drop(self.stdin.take());
        let (done, failures) = self
            .result
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("{name} did not stop within {LIMIT:?}"));
        let status = self.child.take().wait().unwrap();
        assert!(status.success(), "{name} failed ({status}): {failures:?}");
        let done = done.unwrap_or_else(|| panic!("{name} ended without a result"));
        println!("{name}: {done} (done OK FAILED)");
        if done.ends_with(" 0") {
            Vec::new()
        } else {
            failures
                .into_iter()
                .map(|f| format!("{name}: {f}"))
                .collect()
        }
    }
}

#[test]
fn three_restarts_under_load_fail_no_call_and_refuse_no_connection() {
    let dir = std::env::temp_dir().join(format!("aqueduct-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let control = dir.join("control.sock");
    let (mut current, addr) = start(&control);
    let uri = format!("http://{addr}");
    let port = addr.rsplit(':').next().unwrap().to_owned();

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let tally = Tally {
            progress: Arc::new(watch::channel(Progress::default()).0),
            failures: Arc::default(),
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut clients = tokio::task::JoinSet::new();
        for i in 0..LONG_LIVED + PER_CALL {
            let per_call = i >= LONG_LIVED;
            let (tally, stop_rx, uri) = (tally.clone(), stop_rx.clone(), uri.clone());
            // One channel, one connection; or a channel (and connection) per call.
            let long_lived = TestServiceClient::new(Channel::from_uri(&uri).unwrap());
            clients.spawn(async move {
                while !*stop_rx.borrow() {
                    let fresh;
                    let client = if per_call {
                        fresh = TestServiceClient::new(Channel::from_uri(&uri).unwrap());
                        &fresh
                    } else {
                        &long_lived
                    };
                    let request = Request::new(Empty {}).with_timeout(CALL_TIMEOUT);
                    match client.empty_call(request).await {
                        Ok(_) if per_call => tally.count(|p| &mut p.per_call),
                        Ok(_) => tally.count(|p| &mut p.long_lived),
                        Err(status) => tally.fail(format!("ours (per call: {per_call}): {status}")),
                    }
                }
            });
        }
        let grpcio = Grpcio::spawn(&port, false, tally.clone(), |p| &mut p.grpcio);
        let grpcio_per_call = Grpcio::spawn(&port, true, tally.clone(), |p| &mut p.grpcio_per_call);
        let grpcurl = grpcurl_loop(&addr, tally.clone());

        tally.reach(Progress::default(), BETWEEN).await;
        for restart in 1..=RESTARTS {
            let (next, next_addr) = start(&control);
            assert_eq!(next_addr, addr, "the new process serves the same socket");
            let old = std::mem::replace(&mut current, next);
            assert!(
                exited_cleanly(old).await,
                "restart {restart}: the old server failed"
            );
            let now = *tally.progress.borrow();
            tally.reach(now, BETWEEN).await;
        }

        stop_tx.send(true).unwrap();
        let mut failures = grpcio.stop("grpcio");
        failures.extend(grpcio_per_call.stop("grpcio, a channel per call"));
        grpcurl.stop();
        tokio::time::timeout(LIMIT, async {
            while clients.join_next().await.is_some() {}
        })
        .await
        .expect("clients did not stop");
        failures.extend(std::mem::take(&mut *tally.failures.lock().unwrap()));
        assert!(
            failures.is_empty(),
            "{} calls failed across {RESTARTS} restarts: {failures:?}",
            failures.len(),
        );
        println!(
            "{:?} calls, 0 failed, across {RESTARTS} restarts",
            *tally.progress.borrow()
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// `grpcurl` calling EmptyCall, one process (and connection) per call, on
/// its own thread until stopped; its calls and failures go in the tally.
struct GrpcurlLoop {
    stop: Arc<AtomicBool>,
    done: mpsc::Receiver<()>,
}

fn grpcurl_loop(addr: &str, tally: Tally) -> GrpcurlLoop {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, done) = mpsc::channel();
    let (addr, stopping) = (addr.to_owned(), stop.clone());
    std::thread::spawn(move || {
        while !stopping.load(Ordering::SeqCst) {
            // grpcurl's own deadline bounds each run.
            let out = Command::new(common::grpcurl_path())
                .args(["-plaintext", "-max-time", "10", &addr])
                .arg("grpc.testing.TestService/EmptyCall")
                .output();
            match out {
                Ok(out) if out.status.success() => tally.count(|p| &mut p.grpcurl),
                Ok(out) => tally.fail(format!(
                    "grpcurl: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(e) => tally.fail(format!("grpcurl did not run: {e}")),
            }
        }
        let _ = tx.send(());
    });
    GrpcurlLoop { stop, done }
}

impl GrpcurlLoop {
    /// Stops it after its current call.
    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.done
            .recv_timeout(LIMIT)
            .expect("grpcurl did not stop within the limit");
    }
}
