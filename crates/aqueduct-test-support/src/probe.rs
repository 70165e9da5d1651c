//! The probe service, `test.v1.Probe`, with `String` messages: handlers that
//! hang, wait, panic, flood or stop reading, and report what happens to them
//! in a shared [`ProbeState`].
//!
//! ```no_run
//! # async fn demo(listener: tokio::net::TcpListener) {
//! use std::sync::Arc;
//!
//! use aqueduct_test_support::probe::{ProbeServer, ProbeState};
//!
//! let state = Arc::new(ProbeState::default());
//! let server = aqueduct::Server::builder().add_service(ProbeServer::new(state.clone()));
//! let _ = server.serve(listener).await;
//! # }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use aqueduct::service::{
    self, BidiStreamingMethod, ClientStreamingMethod, Route, ServerStreamingMethod, UnaryMethod,
};
use aqueduct::{Request, Response, Service, Status};
use tokio::sync::Notify;

/// Returns its request, counting the call in [`ProbeState::echo_calls`].
pub const ECHO: &str = "/test.v1.Probe/Echo";
/// Answers with every value of `x-data-bin` it received, decoded, as a
/// debug-printed list of byte lists (`[[1, 2], [3]]`); counts in
/// [`ProbeState::echo_calls`].
pub const BIN_ECHO: &str = "/test.v1.Probe/BinEcho";
/// Never returns: ends only by deadline, cancellation or shutdown.
pub const HANG: &str = "/test.v1.Probe/Hang";
/// Returns its request once [`ProbeState::release`] is signalled.
pub const SLOW: &str = "/test.v1.Probe/Slow";
/// Panics.
pub const PANIC: &str = "/test.v1.Probe/Panic";
/// Server streaming: sends 100 messages of 64 KiB (`Vec<u8>`), counting each
/// completed send in [`ProbeState::sent`].
pub const FLOOD: &str = "/test.v1.Probe/Flood";
/// Client streaming: waits for [`ProbeState::release`], then counts the
/// messages of the request stream and answers the count (`u32`).
pub const SLOW_COUNT: &str = "/test.v1.Probe/SlowCount";
/// Returns the time remaining to the call's deadline in whole milliseconds, or
/// `"none"`.
pub const DEADLINE: &str = "/test.v1.Probe/Deadline";
/// Returns a string of as many bytes as the request asks for.
pub const SIZED: &str = "/test.v1.Probe/Sized";
/// Client streaming: reads one message and ends the call without reading more,
/// with `ABORTED` ([`EARLY_MESSAGE`]) if that message is `"abort"`, else `OK`
/// with the message as the response (trailing spaces trimmed: tests pad their
/// messages, so that the window holds few DATA frames).
pub const EARLY: &str = "/test.v1.Probe/Early";
/// Bidirectional: reads one message, sends it back, and ends the call without
/// reading more, as [`EARLY`] does.
pub const EARLY_BIDI: &str = "/test.v1.Probe/EarlyBidi";
/// Returns an error whose code is `OK`, as a handler that `?`-propagates a
/// streaming call's `send` on a call its server finished OK does.
pub const OK_ERROR: &str = "/test.v1.Probe/OkError";
/// The message of the `ABORTED` status [`EARLY`] and [`EARLY_BIDI`] end with.
pub const EARLY_MESSAGE: &str = "the probe stopped reading";

/// What the probe's handlers report.
#[derive(Debug, Default)]
pub struct ProbeState {
    /// Calls of Echo and BinEcho.
    pub echo_calls: AtomicUsize,
    /// Handlers running now (Hang, Slow, SlowCount).
    pub running: AtomicUsize,
    /// The most that ever ran at once.
    pub max_running: AtomicUsize,
    /// Handlers that started (Hang, Slow, SlowCount).
    pub started: AtomicUsize,
    /// Signalled whenever `started` grows.
    pub started_notify: Notify,
    /// Handlers dropped before or after finishing (Hang, Slow, SlowCount).
    pub dropped: AtomicUsize,
    /// Signalled whenever `dropped` grows.
    pub dropped_notify: Notify,
    /// Messages Flood has sent.
    pub sent: AtomicUsize,
    /// Lets every waiting Slow and SlowCount handler go on.
    pub release: Notify,
}

/// Counts a handler as started (and running) now, and as dropped when it goes
/// away, however that happens: its drop is how a test sees a handler future
/// being dropped. For other services' handlers to report in a
/// [`ProbeState`] too.
#[derive(Debug)]
pub struct Running(Arc<ProbeState>);

impl Running {
    /// Counts one more handler in `state`.
    pub fn new(state: &Arc<ProbeState>) -> Self {
        let now = state.running.fetch_add(1, SeqCst) + 1;
        state.max_running.fetch_max(now, SeqCst);
        state.started.fetch_add(1, SeqCst);
        state.started_notify.notify_waiters();
        Running(state.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, SeqCst);
        self.0.dropped.fetch_add(1, SeqCst);
        self.0.dropped_notify.notify_waiters();
    }
}

/// The handlers' receiver: the state they report to.
#[derive(Debug)]
pub struct Probe(Arc<ProbeState>);

/// The probe as a mountable service.
#[derive(Debug)]
pub struct ProbeServer(Arc<Probe>);

impl ProbeServer {
    /// The service, its handlers reporting to `state`.
    pub fn new(state: Arc<ProbeState>) -> Self {
        ProbeServer(Arc::new(Probe(state)))
    }
}

impl Service for ProbeServer {
    const NAME: &'static str = "test.v1.Probe";
    fn routes(&self) -> Vec<Route> {
        let probe = &self.0;
        vec![
            service::unary::<Probe, Echo>(ECHO, probe.clone()),
            service::unary::<Probe, BinEcho>(BIN_ECHO, probe.clone()),
            service::unary::<Probe, Hang>(HANG, probe.clone()),
            service::unary::<Probe, Slow>(SLOW, probe.clone()),
            service::unary::<Probe, Panic>(PANIC, probe.clone()),
            service::server_streaming::<Probe, Flood>(FLOOD, probe.clone()),
            service::client_streaming::<Probe, SlowCount>(SLOW_COUNT, probe.clone()),
            service::unary::<Probe, Deadline>(DEADLINE, probe.clone()),
            service::unary::<Probe, Sized>(SIZED, probe.clone()),
            service::unary::<Probe, OkError>(OK_ERROR, probe.clone()),
            service::client_streaming::<Probe, Early>(EARLY, probe.clone()),
            service::bidi_streaming::<Probe, EarlyBidi>(EARLY_BIDI, probe.clone()),
        ]
    }
}

struct Echo;
impl UnaryMethod<Probe> for Echo {
    type Request = String;
    type Response = String;
    async fn call(svc: &Probe, request: Request<String>) -> Result<Response<String>, Status> {
        svc.0.echo_calls.fetch_add(1, SeqCst);
        Ok(Response::new(request.into_inner()))
    }
}

struct BinEcho;
impl UnaryMethod<Probe> for BinEcho {
    type Request = String;
    type Response = String;
    async fn call(svc: &Probe, request: Request<String>) -> Result<Response<String>, Status> {
        svc.0.echo_calls.fetch_add(1, SeqCst);
        let values: Vec<Vec<u8>> = request.metadata().get_all_bin("x-data-bin").collect();
        Ok(Response::new(format!("{values:?}")))
    }
}

struct Hang;
impl UnaryMethod<Probe> for Hang {
    type Request = String;
    type Response = String;
    async fn call(svc: &Probe, _request: Request<String>) -> Result<Response<String>, Status> {
        let _running = Running::new(&svc.0);
        std::future::pending().await
    }
}

struct Slow;
impl UnaryMethod<Probe> for Slow {
    type Request = String;
    type Response = String;
    async fn call(svc: &Probe, request: Request<String>) -> Result<Response<String>, Status> {
        let released = svc.0.release.notified();
        let _running = Running::new(&svc.0);
        released.await;
        Ok(Response::new(request.into_inner()))
    }
}

struct Panic;
impl UnaryMethod<Probe> for Panic {
    type Request = String;
    type Response = String;
    async fn call(_svc: &Probe, _request: Request<String>) -> Result<Response<String>, Status> {
        panic!("probe handler panics on purpose")
    }
}

struct Flood;
impl ServerStreamingMethod<Probe> for Flood {
    type Request = String;
    type Response = Vec<u8>;
    async fn call(
        svc: &Probe,
        _request: Request<String>,
        sink: &mut aqueduct::ServerSink<Vec<u8>>,
    ) -> Result<(), Status> {
        for _ in 0..100 {
            sink.send(vec![7u8; 64 * 1024]).await?;
            svc.0.sent.fetch_add(1, SeqCst);
        }
        Ok(())
    }
}

struct SlowCount;
impl ClientStreamingMethod<Probe> for SlowCount {
    type Request = String;
    type Response = u32;
    async fn call(
        svc: &Probe,
        request: Request<aqueduct::Streaming<String>>,
    ) -> Result<Response<u32>, Status> {
        let released = svc.0.release.notified();
        let _running = Running::new(&svc.0);
        released.await;
        let mut stream = request.into_inner();
        let mut n = 0;
        while stream.message().await?.is_some() {
            n += 1;
        }
        Ok(Response::new(n))
    }
}

struct Deadline;
impl UnaryMethod<Probe> for Deadline {
    type Request = String;
    type Response = String;
    async fn call(_svc: &Probe, request: Request<String>) -> Result<Response<String>, Status> {
        let remaining = request
            .remaining()
            .map_or_else(|| "none".to_owned(), |d| d.as_millis().to_string());
        Ok(Response::new(remaining))
    }
}

struct Sized;
impl UnaryMethod<Probe> for Sized {
    type Request = String;
    type Response = String;
    async fn call(_svc: &Probe, request: Request<String>) -> Result<Response<String>, Status> {
        let n: usize = request
            .get_ref()
            .parse()
            .map_err(|_| Status::invalid_argument("send a byte count"))?;
        Ok(Response::new("x".repeat(n)))
    }
}

struct OkError;
impl UnaryMethod<Probe> for OkError {
    type Request = String;
    type Response = String;
    async fn call(_svc: &Probe, _request: Request<String>) -> Result<Response<String>, Status> {
        Err(Status::new(aqueduct::Code::Ok, "finished"))
    }
}

/// The first message of a request stream, and how [`EARLY`] ends after it.
async fn first_then_end(request: Request<aqueduct::Streaming<String>>) -> Result<String, Status> {
    let first = request.into_inner().message().await?.unwrap_or_default();
    let first = first.trim_end().to_owned();
    if first == "abort" {
        return Err(Status::aborted(EARLY_MESSAGE));
    }
    Ok(first)
}

struct Early;
impl ClientStreamingMethod<Probe> for Early {
    type Request = String;
    type Response = String;
    async fn call(
        _svc: &Probe,
        request: Request<aqueduct::Streaming<String>>,
    ) -> Result<Response<String>, Status> {
        first_then_end(request).await.map(Response::new)
    }
}

struct EarlyBidi;
impl BidiStreamingMethod<Probe> for EarlyBidi {
    type Request = String;
    type Response = String;
    async fn call(
        _svc: &Probe,
        request: Request<aqueduct::Streaming<String>>,
        responses: &mut aqueduct::ServerSink<String>,
    ) -> Result<(), Status> {
        let mut requests = request.into_inner();
        let first = requests.message().await?.unwrap_or_default();
        let first = first.trim_end().to_owned();
        responses.send(first.clone()).await?;
        if first == "abort" {
            return Err(Status::aborted(EARLY_MESSAGE));
        }
        Ok(())
    }
}
