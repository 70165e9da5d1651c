//! Bad input at the TLS handshake: each ends in a clean close or a TLS alert
//! (input that stalls, by the handshake timeout), no connection task panics,
//! and the server goes on serving correct clients.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aqueduct::tls::{Identity, ServerTls};
use aqueduct::{Channel, Code};
use aqueduct_test_support::Frames;
use interop::certs::TempDir;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::{
    BOTH_VERSIONS, OneByteWrites, Pki, raw_channel, raw_channel_over, read_until_closed,
    rustls_client, serve, serve_with, who, who_fails, within,
};

/// The HTTP/2 client connection preface (RFC 9113 §3.4), then an empty
/// SETTINGS frame: what a plaintext HTTP/2 client sends first.
fn h2_preface() -> Frames {
    Frames::new().preface().settings(&[])
}

/// The first byte of a TLS alert record.
const ALERT: u8 = 0x15;
/// The first byte of a TLS handshake record.
const HANDSHAKE: u8 = 0x16;

/// How the server ended a connection it would not serve: a clean close
/// (not a reset), after at most a TLS alert.
fn assert_refused(outcome: &io::Result<Vec<u8>>) {
    let bytes = outcome.as_ref().expect("a clean close, not a reset");
    println!("closed after {} bytes: {bytes:02x?}", bytes.len());
    assert!(
        bytes.is_empty() || bytes[0] == ALERT,
        "the server answered with something other than a TLS alert: {bytes:02x?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_http2_on_the_tls_port_is_closed() {
    let pki = Pki::new("plaintext CA");
    let server = serve(pki.server_tls()).await;

    // Our own channel, speaking plaintext HTTP/2 to the TLS port.
    let plain = Channel::builder(&format!("http://{}", server.addr))
        .unwrap()
        .build();
    who_fails(&plain, Code::Unavailable).await;

    // The same bytes, raw.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(h2_preface().as_bytes()).await.unwrap();
    assert_refused(&read_until_closed(&mut tcp).await);

    server.assert_serves(pki.client_tls()).await;
}

/// Deterministic noise (xorshift64), `len` bytes of it.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_instead_of_a_client_hello_are_closed() {
    let pki = Pki::new("noise CA");
    let server = serve(pki.server_tls()).await;
    for seed in 1..=8 {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(&noise(seed, 256)).await.unwrap();
        assert_refused(&read_until_closed(&mut tcp).await);
    }
    server.assert_serves(pki.client_tls()).await;
}

/// The ClientHello a rustls client trusting `pki` sends first, captured
/// with `write_tls`.
fn client_hello(pki: &Pki) -> Vec<u8> {
    let config = rustls_client(&[pki.ca.ca_pem()], BOTH_VERSIONS, &[b"h2"], None);
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(config, name).unwrap();
    let mut hello = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut hello).unwrap();
    }
    assert_eq!(hello[0], HANDSHAKE, "a handshake record");
    hello
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_hello_dribbled_one_byte_per_write_still_handshakes() {
    let pki = Pki::new("dribble CA");
    let server = serve(pki.server_tls()).await;
    let hello_len = client_hello(&pki).len();

    let writes = Arc::new(AtomicUsize::new(0));
    let counted = writes.clone();
    let channel = raw_channel_over(
        server.addr,
        rustls_client(&[pki.ca.ca_pem()], BOTH_VERSIONS, &[b"h2"], None),
        move |tcp| OneByteWrites {
            inner: tcp,
            yielded: false,
            writes: counted.clone(),
        },
    );
    // Every byte of the connection, the ClientHello first, went in a write
    // of its own; the handshake completed and the call was served.
    let seen = who(&channel).await.unwrap();
    assert_eq!(seen["protocol"], "TLSv1.3");
    assert_eq!(seen["alpn"], "h2");
    let writes = writes.load(Ordering::Relaxed);
    assert!(writes > hello_len, "{writes} one-byte writes");
    server.assert_serves(pki.client_tls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_stops_halfway_is_closed_by_the_handshake_timeout() {
    let pki = Pki::new("halfway CA");
    let server = serve(pki.server_tls()).await;
    let hello = client_hello(&pki);
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(&hello[..hello.len() / 2]).await.unwrap();
    // The server read all we sent and waited for the rest until its
    // handshake timeout: a clean close, with nothing sent.
    let received = read_until_closed(&mut tcp)
        .await
        .expect("a clean close (EOF), not a reset");
    assert!(received.is_empty(), "{received:02x?}");
    server.assert_serves(pki.client_tls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_closed_by_the_handshake_timeout_and_holds_up_no_one() {
    let pki = Pki::new("silent CA");
    let server = serve(pki.server_tls()).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // While it says nothing, another client is served...
    server.assert_serves(pki.client_tls()).await;
    // ...and the handshake timeout closes it.
    let received = read_until_closed(&mut silent)
        .await
        .expect("a clean close (EOF), not a reset");
    assert!(received.is_empty(), "{received:02x?}");

    // With a handshake timeout far beyond the test's patience, a silent
    // client is never closed in time: that another client is served
    // anyway shows the handshake runs on the connection's own task, not in
    // the accept loop.
    let patient = serve_with(pki.server_tls(), |b| {
        b.handshake_timeout(Duration::from_secs(3600))
    })
    .await;
    let _silent = TcpStream::connect(patient.addr).await.unwrap();
    let _also_silent = TcpStream::connect(patient.addr).await.unwrap();
    patient.assert_serves(pki.client_tls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_another_ca_is_refused_and_the_client_is_told() {
    let pki = Pki::new("clients CA");
    let stranger = Pki::new("stranger CA");
    let tls = ServerTls::builder(pki.server.identity())
        .client_auth(aqueduct::tls::ClientAuth::Required(pki.ca.roots()))
        .build()
        .unwrap();
    let server = serve(tls).await;

    let foreign = stranger.ca.client("spiffe://example.org/ns/billing/sa/api");
    let channel = server.channel(pki.client_tls().identity(foreign.identity()));
    let status = who_fails(&channel, Code::Unavailable).await;
    assert!(
        status.message().contains("alert UnknownCA")
            && status
                .message()
                .contains("does not trust our certificate's issuer"),
        "{status}"
    );

    // No certificate at all, to a server that requires one.
    let anonymous = server.channel(pki.client_tls());
    let status = who_fails(&anonymous, Code::Unavailable).await;
    assert!(
        status
            .message()
            .contains("alert CertificateRequired (the server requires a client certificate"),
        "{status}"
    );

    let ours = pki.ca.client("spiffe://example.org/ns/billing/sa/api");
    server
        .assert_serves(pki.client_tls().identity(ours.identity()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_server_certificate_is_named_to_the_client() {
    let pki = Pki::new("expiry CA");
    let expired = pki.ca.expired_server(&["localhost", "127.0.0.1"]);
    let server = serve(ServerTls::builder(expired.identity()).build().unwrap()).await;
    let status = who_fails(&server.channel(pki.client_tls()), Code::Unavailable).await;
    assert!(status.message().contains("expired"), "{status}");
    // The server goes on: a new connection gets as far as the same check.
    let status = who_fails(&server.channel(pki.client_tls()), Code::Unavailable).await;
    assert!(status.message().contains("expired"), "{status}");
    assert!(!server.task.is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_for_another_name_is_named_to_the_client() {
    let pki = Pki::new("names CA");
    let billing = pki.ca.server(&["billing.internal"]);
    let server = serve(ServerTls::builder(billing.identity()).build().unwrap()).await;
    let status = who_fails(&server.channel(pki.client_tls()), Code::Unavailable).await;
    assert!(status.message().contains("not valid for name"), "{status}");
    assert!(status.message().contains("127.0.0.1"), "{status}");
    server
        .assert_serves(pki.client_tls().server_name("billing.internal"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_an_unknown_ca_is_named_to_the_client() {
    let pki = Pki::new("trusted CA");
    let stranger = Pki::new("unknown CA");
    let server = serve(stranger.server_tls()).await;
    let status = who_fails(&server.channel(pki.client_tls()), Code::Unavailable).await;
    assert!(status.message().contains("unknown issuer"), "{status}");
    server.assert_serves(stranger.client_tls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_alpn_h2_is_refused_unless_the_server_accepts_no_alpn() {
    let pki = Pki::new("alpn CA");
    let no_alpn = rustls_client(&[pki.ca.ca_pem()], BOTH_VERSIONS, &[], None);
    let http1 = rustls_client(&[pki.ca.ca_pem()], BOTH_VERSIONS, &[b"http/1.1"], None);

    let strict = serve(pki.server_tls()).await;
    who_fails(
        &raw_channel(strict.addr, no_alpn.clone()),
        Code::Unavailable,
    )
    .await;
    let status = who_fails(&raw_channel(strict.addr, http1.clone()), Code::Unavailable).await;
    assert!(
        status.message().contains("NoApplicationProtocol"),
        "{status}"
    );
    strict.assert_serves(pki.client_tls()).await;

    let lenient = ServerTls::builder(pki.server.identity())
        .accept_no_alpn()
        .build()
        .unwrap();
    let lenient = serve(lenient).await;
    let seen = who(&raw_channel(lenient.addr, no_alpn)).await.unwrap();
    assert_eq!(seen["alpn"], "none");
    assert_eq!(seen["protocol"], "TLSv1.3");
    // ALPN without h2 is refused either way.
    let status = who_fails(&raw_channel(lenient.addr, http1), Code::Unavailable).await;
    assert!(
        status.message().contains("NoApplicationProtocol"),
        "{status}"
    );
    lenient.assert_serves(pki.client_tls()).await;
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused_when_loaded() {
    let pki = Pki::new("keys CA");
    let other = pki.ca.server(&["localhost"]);
    let err = Identity::from_pem(&pki.server.cert_pem, &other.key_pem).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the private key does not match the certificate chain"
    );

    let dir = TempDir::new();
    let (cert, _) = pki.server.write(dir.path(), "server");
    let (_, key) = other.write(dir.path(), "other");
    let err = Identity::from_pem_files(&cert, &key).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the private key {} does not match the certificate {}",
            key.display(),
            cert.display()
        )
    );

    // Neither can half an identity be loaded.
    let err = Identity::from_pem(&pki.server.cert_pem, "not a key").unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
    let err = Identity::from_pem("not a certificate", &pki.server.key_pem).unwrap_err();
    assert!(err.to_string().contains("CERTIFICATE"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_bad_handshakes_leave_the_server_serving() {
    // Four kinds in turn, eight at a time: noise, plaintext HTTP/2, a client
    // that refuses the server's certificate, a client offering no ALPN.
    let pki = Pki::new("many CA");
    let stranger = Pki::new("stranger CA");
    let server = serve(pki.server_tls()).await;
    let addr = server.addr;
    let refusing = rustls_client(&[stranger.ca.ca_pem()], BOTH_VERSIONS, &[b"h2"], None);
    let no_alpn = rustls_client(&[pki.ca.ca_pem()], BOTH_VERSIONS, &[], None);
    let mut running = JoinSet::new();
    for n in 0..200_u64 {
        if running.len() >= 8 {
            running.join_next().await.unwrap().unwrap();
        }
        let (refusing, no_alpn) = (refusing.clone(), no_alpn.clone());
        running.spawn(async move {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            match n % 4 {
                0 => {
                    tcp.write_all(&noise(n + 1, 256)).await.unwrap();
                    assert_refused(&read_until_closed(&mut tcp).await);
                }
                1 => {
                    tcp.write_all(h2_preface().as_bytes()).await.unwrap();
                    assert_refused(&read_until_closed(&mut tcp).await);
                }
                2 => {
                    let connector = tokio_rustls::TlsConnector::from(refusing);
                    let refused = within("a refused handshake", connector.connect(name, tcp)).await;
                    assert!(refused.is_err());
                }
                _ => {
                    let connector = tokio_rustls::TlsConnector::from(no_alpn);
                    let mut tls = within("a handshake", connector.connect(name, tcp))
                        .await
                        .unwrap();
                    // Refused after the handshake, with a close_notify.
                    let mut rest = Vec::new();
                    within("the server closing", tls.read_to_end(&mut rest))
                        .await
                        .unwrap();
                    assert!(rest.is_empty());
                }
            }
        });
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
    server.assert_serves(pki.client_tls()).await;
}

/// What reading a refused TLS client's stream ended with: the alert rustls
/// received, if that is what it was.
fn alert_of(e: &io::Error) -> Option<rustls::AlertDescription> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_client_certificate_reaches_a_client_that_writes_at_once_as_an_alert() {
    let pki = Pki::new("linger CA");
    let stranger = Pki::new("linger stranger CA");
    let tls = ServerTls::builder(pki.server.identity())
        .client_auth(aqueduct::tls::ClientAuth::Required(pki.ca.roots()))
        .build()
        .unwrap();
    let server = serve(tls).await;
    let foreign = stranger.ca.client("spiffe://example.org/ns/billing/sa/api");
    let config = rustls_client(&[pki.ca.ca_pem()], BOTH_VERSIONS, &[b"h2"], Some(&foreign));
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    // TLS 1.3: the client is done with the handshake once it has sent its
    // certificate, before the server has checked it...
    let mut tls = within(
        "the handshake",
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .unwrap();
    // ...so, like an HTTP/2 client, it writes at once: its preface, its
    // first requests. The server refuses the certificate meanwhile.
    let wrote = within("writing", tls.write_all(&[0; 1024 * 1024])).await;
    let mut rest = Vec::new();
    let read = within("reading", tls.read_to_end(&mut rest)).await;
    println!("write: {wrote:?}; read: {read:?}");
    // Whatever came first, the client learns why: the alert was not lost
    // to a reset.
    wrote.expect("the writes are read (and dropped) by the server, not reset");
    let e = read.unwrap_err();
    assert_eq!(
        alert_of(&e),
        Some(rustls::AlertDescription::UnknownCA),
        "{e}"
    );
    server
        .assert_serves(
            pki.client_tls()
                .identity(pki.ca.client("spiffe://example.org/a").identity()),
        )
        .await;
}
