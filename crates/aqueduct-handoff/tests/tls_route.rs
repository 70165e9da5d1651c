//! The front routes TLS by server name without terminating it: aqueduct
//! channels with TLS (`ChannelBuilder::tls`) reach two aqueduct servers with
//! TLS (`ServerBuilder::tls`) by SNI, each serving on a `HandoffListener`
//! and terminating TLS itself with its own certificate (made here with
//! rcgen); a TLS 1.2-only rustls client and a plaintext client share the
//! port. What the front cannot route gets a fatal alert (read back as bytes,
//! and as the alert rustls reports); random bytes after a handshake byte are
//! closed; a ClientHello dribbled a byte a write still routes; a client that
//! stops halfway is closed at the peek timeout.

#![allow(clippy::unwrap_used)]

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aqueduct::health::{self, HealthCheckRequest, HealthCheckResponse, HealthReporter};
use aqueduct::tls::{CaRoots, ClientTls, ServerTls};
use aqueduct::{Channel, Code, Request, Server};
use aqueduct_handoff::HandoffListener;
use aqueduct_handoff::route::{self, FrontConfig, Routes};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{AlertDescription, ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Every wait in these tests ends within this, on a slow machine too; none
/// is a timing assertion.
const LIMIT: Duration = Duration::from_secs(30);

/// A backend's TLS identity: a self-signed certificate for `names`, made now.
struct Identity {
    server: ServerTls,
    cert_pem: String,
    cert: CertificateDer<'static>,
}

fn identity(names: &[&str]) -> Identity {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let made = rcgen::generate_simple_self_signed(names).unwrap();
    let cert_pem = made.cert.pem();
    let key_pem = made.signing_key.serialize_pem();
    let identity = aqueduct::tls::Identity::from_pem(&cert_pem, &key_pem).unwrap();
    Identity {
        server: ServerTls::builder(identity).build().unwrap(),
        cert_pem,
        cert: made.cert.der().clone(),
    }
}

/// An aqueduct client's TLS, trusting `identities`, checking (and sending as
/// SNI) `server_name` if given, else the URI's host.
fn client_tls(identities: &[&Identity], server_name: Option<&str>) -> ClientTls {
    let pem: String = identities.iter().map(|i| i.cert_pem.as_str()).collect();
    let tls = ClientTls::new().ca_certificates(CaRoots::from_pem(pem).unwrap());
    match server_name {
        Some(name) => tls.server_name(name),
        None => tls,
    }
}

/// A rustls client config that trusts `identities`, speaks `versions` and
/// offers `alpn`: for what aqueduct's client does not do (TLS 1.2 only, no
/// h2, reading the alert).
fn rustls_client(
    identities: &[&Identity],
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for identity in identities {
        roots.add(identity.cert.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

const ANY_VERSION: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

fn socket_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "aqueduct-tls-route-{name}-{}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// An aqueduct server with TLS as `identity`, taking hand-offs at `socket`,
/// whose health service reports `name` as SERVING (so a client can tell
/// which backend it reached). The hand-off replays the ClientHello: the
/// server's TLS handshake runs as if it had accepted the connection.
fn spawn_tls_backend(socket: &Path, identity: &Identity, name: &str) {
    let listener = HandoffListener::bind(socket).unwrap();
    let reporter = HealthReporter::new();
    reporter.set_serving(name);
    tokio::spawn(
        Server::builder()
            .tls(identity.server.clone())
            .add_health(reporter)
            .serve(listener),
    );
}

/// A plaintext backend whose health service reports `name` as SERVING.
fn spawn_plain_backend(socket: &Path, name: &str) {
    let reporter = HealthReporter::new();
    reporter.set_serving(name);
    let listener = HandoffListener::bind(socket).unwrap();
    tokio::spawn(Server::builder().add_health(reporter).serve(listener));
}

/// Starts the front; returns its address.
async fn front(routes: Routes, config: FrontConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(route::serve(
        listener,
        routes,
        config,
        std::future::pending(),
    ));
    addr
}

/// A writer that passes its first `left` bytes on one per write, each
/// flushed by `TCP_NODELAY`: a ClientHello that arrives a byte at a time.
struct Dribble {
    inner: TcpStream,
    left: usize,
}

impl AsyncRead for Dribble {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Dribble {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.left == 0 {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let one = buf.get(..1).unwrap_or_default();
        let n = std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, one))?;
        this.left = this.left.saturating_sub(n);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An aqueduct channel with `tls` to the front at `front`.
fn tls_channel(front: SocketAddr, tls: ClientTls) -> Channel {
    Channel::builder(&format!("https://{front}"))
        .unwrap()
        .connect_timeout(LIMIT)
        .tls(tls)
        .build()
}

/// The same, its first `dribbled` bytes written one per write.
fn dribbling_channel(front: SocketAddr, tls: ClientTls, dribbled: usize) -> Channel {
    Channel::builder(&format!("https://{front}"))
        .unwrap()
        .connect_timeout(LIMIT)
        .connector(move |_authority: &str| async move {
            let tcp = TcpStream::connect(front).await?;
            tcp.set_nodelay(true)?;
            Ok(Dribble {
                inner: tcp,
                left: dribbled,
            })
        })
        .tls(tls)
        .build()
}

/// A channel whose connections are TLS 1.2 from a rustls client of the
/// test's own, through a connector, naming `server`.
fn tls12_channel(front: SocketAddr, server: &str, config: Arc<ClientConfig>) -> Channel {
    let connector = TlsConnector::from(config);
    let name = ServerName::try_from(server.to_owned()).unwrap();
    Channel::builder(&format!("http://{front}"))
        .unwrap()
        .connect_timeout(LIMIT)
        .connector(move |_authority: &str| {
            let (connector, name) = (connector.clone(), name.clone());
            async move {
                connector
                    .connect(name, TcpStream::connect(front).await?)
                    .await
            }
        })
        .build()
}

/// The health status `channel`'s backend reports for `service`.
async fn check(channel: &Channel, service: &str) -> Result<i32, aqueduct::Status> {
    let request = Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    let call = channel.unary::<_, HealthCheckResponse>(health::CHECK, request);
    tokio::time::timeout(LIMIT, call)
        .await
        .expect("the call ran past the limit")
        .map(|r| r.into_inner().status)
}

const SERVING: i32 = 1;

/// The alert rustls reports for a TLS connection to `front` as `server`.
async fn alert_seen(
    front: SocketAddr,
    server: &str,
    config: Arc<ClientConfig>,
) -> AlertDescription {
    let tcp = TcpStream::connect(front).await.unwrap();
    let name = ServerName::try_from(server.to_owned()).unwrap();
    let connect = TlsConnector::from(config).connect(name, tcp);
    let err = match tokio::time::timeout(LIMIT, connect).await.unwrap() {
        Ok(_) => panic!("{server}: the handshake succeeded"),
        Err(e) => e,
    };
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(alert)) => *alert,
        _ => panic!("{server}: not an alert: {err:?}"),
    }
}

/// The ClientHello a rustls client sends for `server`.
fn client_hello(server: &str, config: Arc<ClientConfig>) -> Vec<u8> {
    let name = ServerName::try_from(server.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// Writes `bytes` to the front, then reads until it closes.
async fn answer_to(front: SocketAddr, bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut tcp = TcpStream::connect(front).await?;
    tcp.write_all(bytes).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(LIMIT, tcp.read_to_end(&mut answer))
        .await
        .expect("the front never closed")?;
    Ok(answer)
}

/// Two TLS backends and a plaintext one behind one front: each TLS client
/// reaches the backend its server name names (exact, wildcard, none), which
/// terminates TLS with its own certificate; a plaintext client shares the
/// port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_reach_the_backend_their_server_name_names() {
    let (a_socket, b_socket, plain_socket) =
        (socket_path("a"), socket_path("b"), socket_path("plain"));
    // A's certificate also names 127.0.0.1: connections without a name go there.
    let a = identity(&["a.test", "127.0.0.1"]);
    let b = identity(&["x.b.test"]);
    spawn_tls_backend(&a_socket, &a, "backend-a");
    spawn_tls_backend(&b_socket, &b, "backend-b");
    spawn_plain_backend(&plain_socket, "backend-plain");
    let routes = Routes::new()
        .server_name("A.test", &a_socket)
        .server_name("*.b.test", &b_socket)
        .without_server_name(&a_socket)
        .service("grpc.health.v1.Health", &plain_socket);
    let addr = front(routes, FrontConfig::default()).await;

    // Both channels trust both certificates: each reaches the right backend
    // because the front routed it there, not because the other would fail.
    let to_a = tls_channel(addr, client_tls(&[&a, &b], Some("a.test")));
    let to_b = tls_channel(addr, client_tls(&[&a, &b], Some("x.b.test")));
    for _ in 0..3 {
        assert_eq!(check(&to_a, "backend-a").await.unwrap(), SERVING);
        assert_eq!(check(&to_b, "backend-b").await.unwrap(), SERVING);
    }
    assert_eq!(
        check(&to_a, "backend-b").await.unwrap_err().code(),
        Code::NotFound,
        "a.test reached A only"
    );
    assert_eq!(
        check(&to_b, "backend-a").await.unwrap_err().code(),
        Code::NotFound,
        "x.b.test reached B only"
    );
    // An IP address is never sent as SNI: the route for no name.
    let by_ip = tls_channel(addr, client_tls(&[&a], None));
    assert_eq!(check(&by_ip, "backend-a").await.unwrap(), SERVING);
    // TLS 1.2 to B.
    let tls12 = tls12_channel(addr, "x.b.test", rustls_client(&[&b], TLS12, &[b"h2"]));
    assert_eq!(check(&tls12, "backend-b").await.unwrap(), SERVING);

    let plain = Channel::from_uri(&format!("http://{addr}")).unwrap();
    assert_eq!(check(&plain, "backend-plain").await.unwrap(), SERVING);
    for socket in [a_socket, b_socket, plain_socket] {
        let _ = std::fs::remove_file(socket);
    }
}

#[tokio::test]
async fn a_client_hello_dribbled_a_byte_a_write_still_routes() {
    let socket = socket_path("dribble");
    let a = identity(&["a.test"]);
    spawn_tls_backend(&socket, &a, "backend-a");
    let addr = front(
        Routes::new().server_name("a.test", &socket),
        FrontConfig::default(),
    )
    .await;
    // The ClientHello a client like ours sends, for its length.
    let hello = client_hello("a.test", rustls_client(&[], ANY_VERSION, &[b"h2"]));
    let channel = dribbling_channel(addr, client_tls(&[&a], Some("a.test")), hello.len());
    assert_eq!(check(&channel, "backend-a").await.unwrap(), SERVING);
    let _ = std::fs::remove_file(socket);
}

/// What the front cannot route gets a fatal alert, then the close: read as
/// bytes, as the alert a rustls client reports, and as our channel's error.
#[tokio::test]
async fn what_cannot_be_routed_gets_the_alert_that_says_why() {
    let a = identity(&["a.test"]);
    let a_socket = socket_path("alert-a");
    spawn_tls_backend(&a_socket, &a, "backend-a");
    let routes = Routes::new()
        .server_name("a.test", &a_socket)
        .server_name("down.test", socket_path("alert-down"));
    let addr = front(routes, FrontConfig::default()).await;
    let config = rustls_client(&[&a], ANY_VERSION, &[b"h2"]);

    let hello = client_hello("unknown.test", config.clone());
    let answer = answer_to(addr, &hello).await.unwrap();
    assert_eq!(answer, [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112]);

    let seen = |name: &'static str, config| alert_seen(addr, name, config);
    assert_eq!(
        seen("unknown.test", config.clone()).await,
        AlertDescription::UnrecognisedName
    );
    assert_eq!(
        seen("127.0.0.1", config.clone()).await,
        AlertDescription::MissingExtension
    );
    assert_eq!(
        seen("down.test", config.clone()).await,
        AlertDescription::InternalError
    );
    let http1 = rustls_client(&[&a], ANY_VERSION, &[b"http/1.1"]);
    assert_eq!(
        seen("a.test", http1).await,
        AlertDescription::NoApplicationProtocol
    );

    // Our channel says which alert it got.
    let unknown = tls_channel(addr, client_tls(&[&a], Some("unknown.test")));
    let status = check(&unknown, "backend-a").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("UnrecognisedName"), "{status}");
    // The front is still there for a client it can route.
    let channel = tls_channel(addr, client_tls(&[&a], Some("a.test")));
    assert_eq!(check(&channel, "backend-a").await.unwrap(), SERVING);
    let _ = std::fs::remove_file(a_socket);
}

#[tokio::test]
async fn random_bytes_after_a_handshake_byte_are_closed() {
    let addr = front(
        Routes::new().server_name("a.test", socket_path("unused")),
        FrontConfig::default(),
    )
    .await;
    let decode_error = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 50];
    // Not TLS past its first byte; a record of something else than a
    // ClientHello; a record longer than TLS allows.
    let mut junk = vec![0x16];
    junk.extend(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    assert_eq!(answer_to(addr, &junk).await.unwrap(), decode_error);
    let server_hello = [
        0x16, 0x03, 0x03, 0x00, 0x06, 0x02, 0x00, 0x00, 0x02, 0xab, 0xcd,
    ];
    assert_eq!(answer_to(addr, &server_hello).await.unwrap(), decode_error);
    let oversized = [0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00];
    assert_eq!(answer_to(addr, &oversized).await.unwrap(), decode_error);
}

/// A client that sends half its ClientHello and waits is closed at the peek
/// timeout (a short one here); the test waits for the close, not the clock.
#[tokio::test]
async fn a_client_that_stops_halfway_is_closed() {
    let config = FrontConfig {
        peek_timeout: Duration::from_millis(200),
    };
    let addr = front(
        Routes::new().server_name("a.test", socket_path("unused")),
        config,
    )
    .await;
    let hello = client_hello("a.test", rustls_client(&[], ANY_VERSION, &[b"h2"]));
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&hello[..hello.len() / 2]).await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(LIMIT, tcp.read_to_end(&mut rest))
        .await
        .expect("the front kept a stalled client past the limit");
    assert_eq!(read.unwrap(), 0, "closed with nothing sent: {rest:?}");
}
