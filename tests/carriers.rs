//! The carriers the conformance suite runs over, serving the probe service
//! (`aqueduct_test_support::probe`, re-exported here), whose handlers report
//! what happens to them.
//!
//! Each test in `conformance.rs` is written once as `async fn case(carrier:
//! Carrier)` and instantiated for every [`Carrier`] by `conformance_suite!`, so a
//! behaviour proven over TCP is proven the same way over every other carrier.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use aqueduct::carrier::direct::{DirectConnector, DirectListener};
use aqueduct::service::{self, Route, UnaryMethod};
use aqueduct::{Channel, MemoryListener, Request, Response, ServerBuilder, Service, Status};
use aqueduct_test_support::probe::{ProbeServer, Running};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

pub use aqueduct_test_support::probe::{
    DEADLINE, EARLY, EARLY_BIDI, EARLY_MESSAGE, HANG, OK_ERROR, PANIC, ProbeState, SIZED, SLOW,
};
pub use aqueduct_test_support::wait_for;

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// HTTP/2 over TCP loopback.
    Tcp,
    /// HTTP/2 over a Unix socket.
    Unix,
    /// HTTP/2 over the in-process memory pipe, dialed by name (`mem://...`).
    Memory,
    /// The direct carrier: call heads and encoded messages through in-process
    /// pipes, no HTTP/2.
    Direct,
    /// HTTP/2 over TCP through `aqueduct_handoff::route`: the front reads each
    /// connection's first request and hands the live socket, with the bytes it
    /// read, to the server's `HandoffListener` over a Unix socket (SCM_RIGHTS).
    Handoff,
    /// HTTP/2 over TLS (rustls, ALPN h2) over TCP loopback: the server's
    /// certificate is signed by a test CA the channel trusts.
    TlsTcp,
    /// HTTP/2 over TLS over a Unix socket.
    TlsUnix,
    /// HTTP/2 over TLS over TCP through `aqueduct_handoff::route`: the front
    /// reads the ClientHello, routes it (the client dials 127.0.0.1, so it
    /// sends no SNI: the front's no-server-name route), and hands the
    /// connection, TLS unterminated, to a TLS server on a `HandoffListener`.
    TlsHandoff,
}

impl Carrier {
    /// Whether the server sees the client's TCP address.
    pub fn has_peer_address(self) -> bool {
        matches!(
            self,
            Carrier::Tcp | Carrier::Handoff | Carrier::TlsTcp | Carrier::TlsHandoff
        )
    }

    /// Whether calls run over TLS.
    pub fn is_tls(self) -> bool {
        matches!(
            self,
            Carrier::TlsTcp | Carrier::TlsUnix | Carrier::TlsHandoff
        )
    }
}

/// The test CA of the TLS carriers, and the server certificate it issued
/// (for `localhost` and `127.0.0.1`), made once per test process.
pub fn test_pki() -> &'static (interop::certs::TestPki, interop::certs::Issued) {
    static PKI: std::sync::OnceLock<(interop::certs::TestPki, interop::certs::Issued)> =
        std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        let pki = interop::certs::TestPki::new("Aqueduct conformance CA");
        let server = pki.server(&["localhost", "127.0.0.1"]);
        (pki, server)
    })
}

/// The TLS carriers' server settings.
fn server_tls() -> aqueduct::tls::ServerTls {
    aqueduct::tls::ServerTls::builder(test_pki().1.identity())
        .build()
        .unwrap()
}

/// The TLS carriers' client settings: trust the test CA.
pub fn client_tls() -> aqueduct::tls::ClientTls {
    aqueduct::tls::ClientTls::new().ca_certificates(test_pki().0.roots())
}

/// A running server on one carrier, the probe's state, and a channel to it.
#[derive(Debug)]
pub struct Served {
    /// A channel to the server over the carrier.
    pub channel: Channel,
    /// What the channel dials.
    pub target: Target,
    /// What the probe's handlers have seen.
    pub probe: Arc<ProbeState>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    socket: Option<PathBuf>,
    /// The hand-off carrier's front, stopped on drop.
    front: Option<JoinHandle<()>>,
}

impl Carrier {
    /// Starts the interop test service and the probe on this carrier, with the
    /// builder's settings changed by `configure`.
    pub async fn serve(self, configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> Served {
        self.serve_with_channel(configure, |b| b).await
    }

    /// [`serve`](Self::serve), with the client channel's settings changed too.
    pub async fn serve_with_channel(
        self,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
        channel: impl FnOnce(aqueduct::ChannelBuilder) -> aqueduct::ChannelBuilder,
    ) -> Served {
        let probe = Arc::new(ProbeState::default());
        let builder =
            configure(interop::server::builder().add_service(ProbeServer::new(probe.clone())));
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let mut front = None;
        let (target, socket, server) = match self {
            Carrier::TlsTcp => {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let uri = format!("https://{}", listener.local_addr().unwrap());
                let server = tokio::spawn(
                    builder
                        .tls(server_tls())
                        .serve(listener)
                        .with_graceful_shutdown(shutdown),
                );
                (Target::Tls(uri), None, server)
            }
            Carrier::TlsUnix => {
                let path = unique_socket_path();
                let listener = UnixListener::bind(&path).unwrap();
                let uri = format!("unix:{}", path.display());
                let server = tokio::spawn(
                    builder
                        .tls(server_tls())
                        .serve(listener)
                        .with_graceful_shutdown(shutdown),
                );
                (Target::Tls(uri), Some(path), server)
            }
            Carrier::TlsHandoff => {
                let path = unique_socket_path();
                let listener = aqueduct_handoff::HandoffListener::bind(&path).unwrap();
                let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let uri = format!("https://{}", tcp.local_addr().unwrap());
                let routes = aqueduct_handoff::route::Routes::new().without_server_name(&path);
                front = Some(tokio::spawn(async move {
                    let config = aqueduct_handoff::route::FrontConfig::default();
                    let _ =
                        aqueduct_handoff::route::serve(tcp, routes, config, std::future::pending())
                            .await;
                }));
                let server = tokio::spawn(
                    builder
                        .tls(server_tls())
                        .serve(listener)
                        .with_graceful_shutdown(shutdown),
                );
                (Target::Tls(uri), Some(path), server)
            }
            Carrier::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let uri = format!("http://{}", listener.local_addr().unwrap());
                let server = tokio::spawn(builder.serve(listener).with_graceful_shutdown(shutdown));
                (Target::Uri(uri), None, server)
            }
            Carrier::Unix => {
                let path = unique_socket_path();
                let listener = UnixListener::bind(&path).unwrap();
                let uri = format!("unix:{}", path.display());
                let server = tokio::spawn(builder.serve(listener).with_graceful_shutdown(shutdown));
                (Target::Uri(uri), Some(path), server)
            }
            Carrier::Memory => {
                let name = unique_name("conformance");
                let listener = MemoryListener::bind(&name).unwrap();
                let server = tokio::spawn(builder.serve(listener).with_graceful_shutdown(shutdown));
                (Target::Uri(format!("mem://{name}")), None, server)
            }
            Carrier::Direct => {
                let listener = DirectListener::new();
                let connector = listener.connector();
                let server = tokio::spawn(builder.serve(listener).with_graceful_shutdown(shutdown));
                (Target::Direct(connector), None, server)
            }
            Carrier::Handoff => {
                let path = unique_socket_path();
                let listener = aqueduct_handoff::HandoffListener::bind(&path).unwrap();
                let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let uri = format!("http://{}", tcp.local_addr().unwrap());
                // The real front: every connection's first request names
                // 127.0.0.1:port as its authority, routed by host.
                let routes = aqueduct_handoff::route::Routes::new().authority("127.0.0.1", &path);
                front = Some(tokio::spawn(async move {
                    let config = aqueduct_handoff::route::FrontConfig::default();
                    let _ =
                        aqueduct_handoff::route::serve(tcp, routes, config, std::future::pending())
                            .await;
                }));
                let server = tokio::spawn(builder.serve(listener).with_graceful_shutdown(shutdown));
                (Target::Uri(uri), Some(path), server)
            }
        };
        let channel = channel(target.builder()).build();
        Served {
            channel,
            target,
            probe,
            stop: Some(stop),
            server,
            socket,
            front,
        }
    }
}

impl Served {
    /// Starts a graceful shutdown and returns the server task, which ends when
    /// the server has stopped.
    pub fn begin_shutdown(&mut self) -> &mut JoinHandle<std::io::Result<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        &mut self.server
    }

    /// A unary call to one of the probe's methods.
    pub async fn probe(
        &self,
        method: &'static str,
        request: Request<String>,
    ) -> Result<String, Status> {
        self.channel
            .unary::<String, String>(method, request)
            .await
            .map(Response::into_inner)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(front) = &self.front {
            front.abort();
        }
        if let Some(path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where a carrier's channel connects.
#[derive(Debug, Clone)]
pub enum Target {
    /// A URI for [`Channel::builder`].
    Uri(String),
    /// A URI for [`Channel::builder`], dialed over TLS trusting the test CA.
    Tls(String),
    /// A direct listener's connector.
    Direct(DirectConnector),
}

impl Target {
    /// A channel builder for this target.
    pub fn builder(&self) -> aqueduct::ChannelBuilder {
        match self {
            Target::Uri(uri) => Channel::builder(uri).unwrap(),
            Target::Tls(uri) => Channel::builder(uri).unwrap().tls(client_tls()),
            Target::Direct(connector) => Channel::direct_builder(connector.clone()),
        }
    }
}

fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, SeqCst)
    )
}

fn unique_socket_path() -> PathBuf {
    std::env::temp_dir().join(format!("{}.sock", unique_name("aqueduct-conformance")))
}

/// The relay service, `test.v1.Relay`: each server of a chain calls the next.
#[derive(Debug)]
pub struct Relay {
    next: Option<Channel>,
    /// What the relay's own waiting handlers report.
    pub state: Arc<ProbeState>,
    detached: std::sync::Mutex<Option<oneshot::Sender<Result<String, Status>>>>,
}

/// Request `"N"` or `"N:hang"`: with N > 0, calls the next server's Relay with
/// N - 1; at 0, answers (or, with `hang`, never does). The reply lists the time
/// each server had left, in microseconds (or `none`), first server first.
pub const RELAY: &str = "/test.v1.Relay/Relay";
/// Starts a call to the next server's `Hang` with `aqueduct::context::spawn`,
/// then returns once [`ProbeState::release`] of the relay's state is signalled.
pub const RELAY_SPAWN: &str = "/test.v1.Relay/Spawn";
/// Starts a detached call to the next server's `Slow` on a plain `tokio::spawn`
/// (its result goes to [`Relay::detached_result`]), then never returns.
pub const RELAY_DETACHED: &str = "/test.v1.Relay/Detached";
/// Calls the next server's `Deadline` as a detached call and returns its answer.
pub const RELAY_DETACHED_DEADLINE: &str = "/test.v1.Relay/DetachedDeadline";

impl Relay {
    /// A relay to `next` (none for the last server of a chain).
    pub fn new(next: Option<Channel>) -> (Arc<Self>, oneshot::Receiver<Result<String, Status>>) {
        let (tx, rx) = oneshot::channel();
        let relay = Arc::new(Self {
            next,
            state: Arc::default(),
            detached: std::sync::Mutex::new(Some(tx)),
        });
        (relay, rx)
    }

    /// The service to add to a server.
    pub fn service(self: &Arc<Self>) -> RelayServer {
        RelayServer(self.clone())
    }

    fn next(&self) -> Result<&Channel, Status> {
        self.next
            .as_ref()
            .ok_or_else(|| Status::failed_precondition("last server of the chain"))
    }
}

fn remaining_micros() -> String {
    aqueduct::context::current()
        .and_then(|c| c.remaining())
        .map_or_else(|| "none".to_owned(), |d| d.as_micros().to_string())
}

struct RelayHop;
impl UnaryMethod<Relay> for RelayHop {
    type Request = String;
    type Response = String;
    async fn call(svc: &Relay, request: Request<String>) -> Result<Response<String>, Status> {
        let here = remaining_micros();
        let (hops, hang) = match request.get_ref().split_once(':') {
            Some((n, "hang")) => (n.to_owned(), true),
            _ => (request.get_ref().clone(), false),
        };
        let hops: u32 = hops.parse().map_err(|_| Status::invalid_argument("hops"))?;
        // An event in the handler: it lands in the call's span, if there is one.
        tracing::info!(hops, "relay hop");
        if hops == 0 {
            if hang {
                let _running = Running::new(&svc.state);
                std::future::pending::<()>().await;
            }
            return Ok(Response::new(here));
        }
        let onward = format!("{}{}", hops - 1, if hang { ":hang" } else { "" });
        // No timeout of its own: the deadline, if any, is the inherited one.
        let reply = svc
            .next()?
            .unary::<String, String>(RELAY, Request::new(onward))
            .await?
            .into_inner();
        Ok(Response::new(format!("{here},{reply}")))
    }
}

struct RelaySpawn;
impl UnaryMethod<Relay> for RelaySpawn {
    type Request = String;
    type Response = String;
    async fn call(svc: &Relay, _request: Request<String>) -> Result<Response<String>, Status> {
        let next = svc.next()?.clone();
        let released = svc.state.release.notified();
        let _running = Running::new(&svc.state);
        let _task = aqueduct::context::spawn(async move {
            next.unary::<String, String>(HANG, Request::new(String::new()))
                .await
        });
        released.await;
        Ok(Response::new("spawned".to_owned()))
    }
}

struct RelayDetached;
impl UnaryMethod<Relay> for RelayDetached {
    type Request = String;
    type Response = String;
    async fn call(svc: &Relay, _request: Request<String>) -> Result<Response<String>, Status> {
        let next = svc.next()?.clone();
        let report = svc.detached.lock().unwrap().take();
        tokio::spawn(async move {
            let outcome = next
                .unary::<String, String>(SLOW, Request::new("detached".to_owned()).detached())
                .await
                .map(Response::into_inner);
            if let Some(report) = report {
                let _ = report.send(outcome);
            }
        });
        std::future::pending().await
    }
}

struct RelayDetachedDeadline;
impl UnaryMethod<Relay> for RelayDetachedDeadline {
    type Request = String;
    type Response = String;
    async fn call(svc: &Relay, _request: Request<String>) -> Result<Response<String>, Status> {
        let request = Request::new(String::new()).detached();
        let reply = svc
            .next()?
            .unary::<String, String>(DEADLINE, request)
            .await?;
        Ok(reply)
    }
}

/// [`Relay`] as a mountable service.
#[derive(Debug)]
pub struct RelayServer(Arc<Relay>);

impl Service for RelayServer {
    const NAME: &'static str = "test.v1.Relay";
    fn routes(&self) -> Vec<Route> {
        vec![
            service::unary::<Relay, RelayHop>(RELAY, self.0.clone()),
            service::unary::<Relay, RelaySpawn>(RELAY_SPAWN, self.0.clone()),
            service::unary::<Relay, RelayDetached>(RELAY_DETACHED, self.0.clone()),
            service::unary::<Relay, RelayDetachedDeadline>(RELAY_DETACHED_DEADLINE, self.0.clone()),
        ]
    }
}

/// Interceptors that write what they see to a shared log.
#[derive(Debug, Default)]
pub struct InterceptLog {
    entries: std::sync::Mutex<Vec<String>>,
    /// Signalled on every new entry.
    pub changed: Notify,
    /// Calls the `Two` handler ran.
    pub two_ran: AtomicUsize,
}

impl InterceptLog {
    fn push(&self, entry: String) {
        self.entries.lock().unwrap().push(entry);
        self.changed.notify_waiters();
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<String> {
        self.entries.lock().unwrap().clone()
    }

    /// Waits until the log holds `n` entries.
    pub async fn wait_for_len(&self, n: usize) -> Vec<String> {
        wait_for(&self.changed, || self.entries.lock().unwrap().len() >= n).await;
        self.entries()
    }
}

/// Logs `name:call:Method` and `name:end:Code`; refuses calls that carry
/// `x-deny` when `denies` is set; attaches a [`Tag`] and response metadata when
/// `tags` is set.
#[derive(Debug)]
pub struct Recorder {
    /// How it appears in the log.
    pub name: &'static str,
    /// Where it writes.
    pub log: Arc<InterceptLog>,
    /// Refuse calls with `x-deny` metadata (PERMISSION_DENIED).
    pub denies: bool,
    /// Insert a `Tag` extension, an `x-intercepted` response header and an
    /// `x-intercepted-trailer` trailer.
    pub tags: bool,
}

/// A typed value an interceptor hands to the handler.
#[derive(Debug, Clone)]
pub struct Tag(pub String);

impl aqueduct::interceptor::Interceptor for Recorder {
    async fn on_call(&self, call: &mut aqueduct::interceptor::CallInfo<'_>) -> Result<(), Status> {
        let method = call
            .method()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        self.log.push(format!("{}:call:{method}", self.name));
        if self.denies && call.metadata().contains_key("x-deny") {
            return Err(Status::permission_denied("denied by interceptor"));
        }
        if self.tags {
            call.extensions_mut()
                .insert(Tag(format!("tagged by {}", self.name)));
            call.response_headers_mut()
                .insert("x-intercepted", "yes")
                .unwrap();
            call.response_trailers_mut()
                .insert("x-intercepted-trailer", "yes")
                .unwrap();
        }
        Ok(())
    }

    fn on_end(&self, end: &aqueduct::interceptor::CallEnd<'_>) {
        self.log.push(format!("{}:end:{:?}", self.name, end.code()));
    }
}

/// `test.v1.Scoped`: two methods to scope interceptors to.
#[derive(Debug)]
pub struct Scoped(pub Arc<InterceptLog>);

/// Answers with the `Tag` an interceptor attached, or `untagged`.
pub const SCOPED_ONE: &str = "/test.v1.Scoped/One";
/// Counts that it ran and answers `two`.
pub const SCOPED_TWO: &str = "/test.v1.Scoped/Two";

struct One;
impl UnaryMethod<Scoped> for One {
    type Request = String;
    type Response = String;
    async fn call(_svc: &Scoped, request: Request<String>) -> Result<Response<String>, Status> {
        let tag = request
            .extensions()
            .get::<Tag>()
            .map_or_else(|| "untagged".to_owned(), |t| t.0.clone());
        Ok(Response::new(tag))
    }
}

struct Two;
impl UnaryMethod<Scoped> for Two {
    type Request = String;
    type Response = String;
    async fn call(svc: &Scoped, _request: Request<String>) -> Result<Response<String>, Status> {
        svc.0.two_ran.fetch_add(1, SeqCst);
        Ok(Response::new("two".to_owned()))
    }
}

/// [`Scoped`] as a mountable service.
#[derive(Debug)]
pub struct ScopedServer(pub Arc<Scoped>);

impl Service for ScopedServer {
    const NAME: &'static str = "test.v1.Scoped";
    fn routes(&self) -> Vec<Route> {
        vec![
            service::unary::<Scoped, One>(SCOPED_ONE, self.0.clone()),
            service::unary::<Scoped, Two>(SCOPED_TWO, self.0.clone()),
        ]
    }
}

/// Counts the messages of a call both ways; on the call's end (when the hook is
/// dropped) writes `name: received R, sent S` to the log.
#[derive(Debug)]
struct Counter {
    name: &'static str,
    log: Arc<InterceptLog>,
    received: usize,
    sent: usize,
}

impl aqueduct::interceptor::MessageHook for Counter {
    fn on_receive(
        &mut self,
        _message: &mut dyn aqueduct::interceptor::AnyMessage,
    ) -> Result<(), Status> {
        self.received += 1;
        Ok(())
    }

    fn on_send(
        &mut self,
        _message: &mut dyn aqueduct::interceptor::AnyMessage,
    ) -> Result<(), Status> {
        self.sent += 1;
        Ok(())
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        let entry = format!(
            "{}: received {}, sent {}",
            self.name, self.received, self.sent
        );
        self.log.push(entry);
    }
}

/// A stream interceptor, for the server and for a client: wraps every call's
/// messages in a [`Counter`].
#[derive(Debug)]
pub struct CountMessages {
    /// How the counts appear in the log.
    pub name: &'static str,
    /// Where they go.
    pub log: Arc<InterceptLog>,
}

impl CountMessages {
    fn counter(&self) -> Counter {
        Counter {
            name: self.name,
            log: self.log.clone(),
            received: 0,
            sent: 0,
        }
    }
}

impl aqueduct::interceptor::Interceptor for CountMessages {
    async fn on_call(&self, call: &mut aqueduct::interceptor::CallInfo<'_>) -> Result<(), Status> {
        call.wrap_messages(self.counter());
        Ok(())
    }
}

impl aqueduct::interceptor::ClientInterceptor for CountMessages {
    async fn on_call(
        &self,
        call: &mut aqueduct::interceptor::ClientCallInfo<'_>,
    ) -> Result<(), Status> {
        call.wrap_messages(self.counter());
        Ok(())
    }
}

/// A message hook on `String` messages: refuses a request that reads `refuse`,
/// and upper-cases every response.
#[derive(Debug)]
pub struct Shout;

impl aqueduct::interceptor::MessageHook for Shout {
    fn on_receive(
        &mut self,
        message: &mut dyn aqueduct::interceptor::AnyMessage,
    ) -> Result<(), Status> {
        match message.downcast_ref::<String>() {
            Some(text) if text == "refuse" => Err(Status::invalid_argument("refused by a hook")),
            _ => Ok(()),
        }
    }

    fn on_send(
        &mut self,
        message: &mut dyn aqueduct::interceptor::AnyMessage,
    ) -> Result<(), Status> {
        if let Some(text) = message.downcast_mut::<String>() {
            text.make_ascii_uppercase();
        }
        Ok(())
    }
}

impl aqueduct::interceptor::Interceptor for Shout {
    async fn on_call(&self, call: &mut aqueduct::interceptor::CallInfo<'_>) -> Result<(), Status> {
        call.wrap_messages(Shout);
        Ok(())
    }
}

/// A client interceptor that logs `name:call:Method` and `name:end:Code`,
/// refuses calls with `x-deny` metadata when `denies` is set, and otherwise sets
/// `x-grpc-test-echo-initial` (which the interop server echoes) to its name if
/// it is not set yet.
#[derive(Debug)]
pub struct ClientRecorder {
    /// How it appears in the log.
    pub name: &'static str,
    /// Where it writes.
    pub log: Arc<InterceptLog>,
    /// Refuse calls with `x-deny` metadata (PERMISSION_DENIED).
    pub denies: bool,
}

impl aqueduct::interceptor::ClientInterceptor for ClientRecorder {
    async fn on_call(
        &self,
        call: &mut aqueduct::interceptor::ClientCallInfo<'_>,
    ) -> Result<(), Status> {
        let method = call.method().rsplit('/').next().unwrap_or_default();
        self.log.push(format!("{}:call:{method}", self.name));
        if self.denies && call.metadata().contains_key("x-deny") {
            return Err(Status::permission_denied("denied by a client interceptor"));
        }
        if !call.metadata().contains_key("x-grpc-test-echo-initial") {
            call.metadata_mut()
                .insert("x-grpc-test-echo-initial", self.name)
                .unwrap();
        }
        Ok(())
    }

    fn on_end(&self, end: &aqueduct::interceptor::CallEnd<'_>) {
        self.log.push(format!("{}:end:{:?}", self.name, end.code()));
    }
}

/// Spans and events captured by [`capture_spans`]'s subscriber: each span's
/// name and fields, each event's fields and the span it happened in.
#[derive(Debug, Default)]
pub struct Captured {
    /// Signalled on every event.
    pub changed: Notify,
    next_id: std::sync::atomic::AtomicU64,
    spans: std::sync::Mutex<std::collections::HashMap<u64, CapturedSpan>>,
    events: std::sync::Mutex<Vec<CapturedEvent>>,
}

/// One span [`Captured`].
#[derive(Debug, Clone, Default)]
pub struct CapturedSpan {
    /// The span's name.
    pub name: String,
    /// Its fields, as recorded so far (values `Debug`-formatted).
    pub fields: std::collections::BTreeMap<String, String>,
}

/// One event [`Captured`].
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    /// The span it happened in, if any.
    pub span: Option<CapturedSpan>,
    /// Its fields (`message` included).
    pub fields: std::collections::BTreeMap<String, String>,
}

std::thread_local! {
    static ENTERED: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

struct Fields<'a>(&'a mut std::collections::BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Captured {
    /// The spans named `name` whose field `key` is `value`.
    pub fn spans(&self, name: &str, key: &str, value: &str) -> Vec<CapturedSpan> {
        let spans = self.spans.lock().unwrap();
        spans
            .values()
            .filter(|s| s.name == name && s.fields.get(key).map(String::as_str) == Some(value))
            .cloned()
            .collect()
    }

    /// The events inside a span whose field `key` is `value`.
    pub fn events_in(&self, key: &str, value: &str) -> Vec<CapturedEvent> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| {
                e.span
                    .as_ref()
                    .and_then(|s| s.fields.get(key))
                    .map(String::as_str)
                    == Some(value)
            })
            .cloned()
            .collect()
    }
}

struct CaptureSubscriber(&'static Captured);

impl tracing::Subscriber for CaptureSubscriber {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        // Ours only: h2's debug events would slow every test in the binary.
        metadata.target().starts_with("aqueduct") && *metadata.level() <= tracing::Level::INFO
    }

    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let id = self.0.next_id.fetch_add(1, SeqCst) + 1;
        let mut span = CapturedSpan {
            name: attrs.metadata().name().to_owned(),
            fields: std::collections::BTreeMap::new(),
        };
        attrs.record(&mut Fields(&mut span.fields));
        self.0.spans.lock().unwrap().insert(id, span);
        tracing::span::Id::from_u64(id)
    }

    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        if let Some(s) = self.0.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut s.fields));
        }
    }

    fn record_follows_from(&self, _span: &tracing::span::Id, _follows: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = std::collections::BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let parent = event
            .parent()
            .map(tracing::span::Id::into_u64)
            .or_else(|| ENTERED.with(|e| e.borrow().last().copied()));
        let span = parent.and_then(|id| self.0.spans.lock().unwrap().get(&id).cloned());
        self.0
            .events
            .lock()
            .unwrap()
            .push(CapturedEvent { span, fields });
        self.0.changed.notify_waiters();
    }

    fn enter(&self, span: &tracing::span::Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &tracing::span::Id) {
        ENTERED.with(|e| {
            let mut e = e.borrow_mut();
            if let Some(at) = e.iter().rposition(|id| *id == span.into_u64()) {
                e.remove(at);
            }
        });
    }
}

/// Installs (once per test binary) a global `tracing` subscriber that captures
/// every span and event, and returns what it has captured. Tests running at
/// the same time share it: filter by something unique to the test.
pub fn capture_spans() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<&'static Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured: &'static Captured = Box::leak(Box::default());
        tracing::subscriber::set_global_default(CaptureSubscriber(captured))
            .expect("no other global subscriber in the conformance suite");
        captured
    })
}
