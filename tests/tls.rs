//! TLS with real peers and real bytes on loopback TCP: what a TLS server does
//! with bad input at the handshake (`bad_input`), what a handler and the
//! identity policy learn of a verified client (`identity`), certificates and
//! client roots rotated under a running server (`rotation`), and a TLS server
//! behind a hand-off listener (`handoff`).
//!
//! Every server under test has a 2 s handshake timeout; every wait is bounded
//! by a generous outer timeout ([`within`]), so a hang fails the test instead
//! of stalling it, and nothing sleeps to synchronise or asserts on timing.
//! Certificates are made when the test runs (`interop::certs`, rcgen); no
//! private key is committed.

#![allow(clippy::unwrap_used)]

#[path = "tls/bad_input.rs"]
mod bad_input;
#[path = "tls/handoff.rs"]
mod handoff;
#[path = "tls/identity.rs"]
mod identity;
#[path = "tls/rotation.rs"]
mod rotation;

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use aqueduct::service::{self, Route, UnaryMethod};
use aqueduct::tls::{ClientTls, ServerTls, TlsInfo};
use aqueduct::{Channel, Code, Request, Response, Server, ServerBuilder, Service, Status};
use interop::certs::{Issued, TestPki};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The handshake timeout of every server under test.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// The most any one wait may take before the test fails: far beyond what a
/// loaded 2-core machine needs, and beyond the handshake timeout.
const PATIENCE: Duration = Duration::from_secs(30);

/// `what`, which must finish within [`PATIENCE`].
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: not done within {PATIENCE:?}"),
    }
}

// --- The service under test ------------------------------------------------

/// `test.v1.Who`: tells the caller what the server knows of its connection.
struct Who;

/// Answers `key=value` lines: `protocol`, `cipher`, `alpn`, `sni`, `certs`
/// (the client chain's length), `spiffe` and `cn`; or `plaintext`.
const ME: &str = "/test.v1.Who/Me";
/// Answers `posted`: the method the identity policy guards.
const LEDGER: &str = "/test.v1.Who/Ledger";

struct Me;
impl UnaryMethod<Who> for Me {
    type Request = String;
    type Response = String;
    async fn call(_svc: &Who, request: Request<String>) -> Result<Response<String>, Status> {
        Ok(Response::new(describe(request.peer_tls())))
    }
}

struct Ledger;
impl UnaryMethod<Who> for Ledger {
    type Request = String;
    type Response = String;
    async fn call(_svc: &Who, _request: Request<String>) -> Result<Response<String>, Status> {
        Ok(Response::new("posted".to_owned()))
    }
}

struct WhoServer(Arc<Who>);

impl Service for WhoServer {
    const NAME: &'static str = "test.v1.Who";
    fn routes(&self) -> Vec<Route> {
        vec![
            service::unary::<Who, Me>(ME, self.0.clone()),
            service::unary::<Who, Ledger>(LEDGER, self.0.clone()),
        ]
    }
}

fn describe(tls: Option<&TlsInfo>) -> String {
    let Some(tls) = tls else {
        return "plaintext".to_owned();
    };
    let none = || "none".to_owned();
    let identity = tls.peer_identity();
    [
        ("protocol", tls.protocol().to_owned()),
        ("cipher", tls.cipher().to_owned()),
        (
            "alpn",
            tls.alpn()
                .map_or_else(none, |p| String::from_utf8_lossy(p).into_owned()),
        ),
        ("sni", tls.server_name().map_or_else(none, str::to_owned)),
        ("certs", tls.peer_certificates().len().to_string()),
        (
            "spiffe",
            identity
                .and_then(|i| i.spiffe_id())
                .map_or_else(none, str::to_owned),
        ),
        (
            "cn",
            identity
                .and_then(|i| i.common_name())
                .map_or_else(none, str::to_owned),
        ),
    ]
    .iter()
    .map(|(key, value)| format!("{key}={value}\n"))
    .collect()
}

/// [`ME`] on `channel`, its answer read back into a map.
async fn who(channel: &Channel) -> Result<BTreeMap<String, String>, Status> {
    let reply = within(
        "a call to Who/Me",
        channel.unary::<String, String>(ME, Request::new(String::new())),
    )
    .await?
    .into_inner();
    Ok(reply
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// [`who`], expected to fail with `code`; returns the status.
async fn who_fails(channel: &Channel, code: Code) -> Status {
    let status = who(channel).await.expect_err("the call should fail");
    println!("refused as expected: {status}");
    assert_eq!(status.code(), code, "{status}");
    status
}

// --- Servers and clients ---------------------------------------------------

/// A test CA and the server certificate it issued for `localhost` and
/// `127.0.0.1`.
struct Pki {
    ca: TestPki,
    server: Issued,
}

impl Pki {
    fn new(name: &str) -> Self {
        let ca = TestPki::new(name);
        let server = ca.server(&["localhost", "127.0.0.1"]);
        Self { ca, server }
    }

    /// Settings presenting the server certificate, no client auth.
    fn server_tls(&self) -> ServerTls {
        ServerTls::builder(self.server.identity()).build().unwrap()
    }

    /// A channel's settings trusting this CA.
    fn client_tls(&self) -> ClientTls {
        ClientTls::new().ca_certificates(self.ca.roots())
    }
}

/// A TLS server running the [`Who`] service on loopback TCP; stopped on drop.
struct Running {
    addr: SocketAddr,
    task: JoinHandle<io::Result<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `tls` with a [`HANDSHAKE_TIMEOUT`] handshake timeout.
async fn serve(tls: ServerTls) -> Running {
    serve_with(tls, |b| b).await
}

/// [`serve`], with the builder changed by `configure`.
async fn serve_with(
    tls: ServerTls,
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> Running {
    count_task_panics();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let builder = Server::builder()
        .add_service(WhoServer(Arc::new(Who)))
        .tls(tls)
        .handshake_timeout(HANDSHAKE_TIMEOUT);
    let task = tokio::spawn(configure(builder).serve(listener));
    Running { addr, task }
}

impl Running {
    /// A channel to the server over `tls`, by address.
    fn channel(&self, tls: ClientTls) -> Channel {
        Channel::builder(&format!("https://{}", self.addr))
            .unwrap()
            .tls(tls)
            .build()
    }

    /// A new channel with `tls` is served (and no connection task of any
    /// server in this process has panicked).
    async fn assert_serves(&self, tls: ClientTls) -> BTreeMap<String, String> {
        assert!(!self.task.is_finished(), "the server stopped");
        let seen = who(&self.channel(tls))
            .await
            .unwrap_or_else(|status| panic!("a correct client was not served: {status}"));
        assert_no_task_panics();
        seen
    }
}

/// A raw rustls client config: trusting the CA certificates `trust` (PEM),
/// offering `versions` and `alpn`, presenting `identity` if given.
fn rustls_client(
    trust: &[&str],
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
    identity: Option<&Issued>,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in trust {
        roots
            .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
            .unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        Some(issued) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// TLS 1.3 and 1.2, as a client built by `ClientTls` offers.
const BOTH_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A channel whose connector dials `addr` and runs the raw rustls client
/// `config` (server name `localhost`): for clients a [`ClientTls`] cannot
/// make.
fn raw_channel(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Channel {
    raw_channel_over(addr, config, |tcp| tcp)
}

/// [`raw_channel`], over the TCP stream as `wrap` makes it.
fn raw_channel_over<S>(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    wrap: impl Fn(TcpStream) -> S + Send + Sync + 'static,
) -> Channel
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let wrap = Arc::new(wrap);
    Channel::builder(&format!("http://{addr}"))
        .unwrap()
        .connector(move |_: &str| {
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let wrap = wrap.clone();
            async move {
                let tcp = TcpStream::connect(addr).await?;
                tcp.set_nodelay(true)?;
                let name = ServerName::try_from("localhost").unwrap();
                connector.connect(name, wrap(tcp)).await
            }
        })
        .build()
}

/// The leaf certificate the server at `addr` presents to a new connection
/// trusting the CA certificates `trust` (PEM), or why the handshake failed.
async fn presented_leaf(addr: SocketAddr, trust: &[&str]) -> io::Result<CertificateDer<'static>> {
    let config = rustls_client(trust, BOTH_VERSIONS, &[b"h2"], None);
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let stream = within(
        "a TLS handshake",
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await?;
    let chain = stream.get_ref().1.peer_certificates().unwrap();
    Ok(chain[0].clone().into_owned())
}

/// The leaf certificate of `issued`, DER.
fn leaf(issued: &Issued) -> CertificateDer<'static> {
    issued.identity().certificates()[0].clone()
}

/// Reads from `stream` until the server closes it: `Ok` with what it sent
/// before a clean close (EOF), `Err` if it reset the connection.
async fn read_until_closed(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut received = Vec::new();
    within(
        "the server closing the connection",
        stream.read_to_end(&mut received),
    )
    .await?;
    Ok(received)
}

/// Writes one byte per `poll_write`, and before each write returns `Pending`
/// once (waking itself), so the peer gets the chance to read every byte on
/// its own. Counts the writes.
struct OneByteWrites<S> {
    inner: S,
    yielded: bool,
    writes: Arc<AtomicUsize>,
}

impl<S: AsyncRead + Unpin> AsyncRead for OneByteWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for OneByteWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let written = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..1]))?;
        self.yielded = false;
        self.writes.fetch_add(1, Ordering::Relaxed);
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

// --- Panics in spawned tasks -----------------------------------------------

/// Panics on tokio's worker threads: in a server's connection tasks (or any
/// other spawned task), which tokio would otherwise swallow. A test body's
/// own failed assertion runs on the test's thread and is not counted.
static TASK_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_task_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some("tokio-runtime-worker") {
                TASK_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

fn assert_no_task_panics() {
    assert_eq!(
        TASK_PANICS.load(Ordering::SeqCst),
        0,
        "a spawned task panicked (see the output above)"
    );
}
