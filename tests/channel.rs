//! Channel settings a client reaches for first (issue 16, items 3 and 4): a
//! default timeout for every call, connecting eagerly or lazily, a connector of
//! the user's own, and connection errors that name what failed.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aqueduct::{CallOptions, Channel, Code, Request};
use aqueduct_conformance::{Carrier, DEADLINE, HANG};
use tokio::net::{TcpListener, TcpStream};

/// The server's view of the call's deadline: milliseconds left, or `None`.
async fn remaining_ms(channel: &Channel, timeout: Option<Duration>) -> Option<u64> {
    let mut request = Request::new(String::new());
    if let Some(t) = timeout {
        request = request.with_timeout(t);
    }
    let reply = channel
        .unary::<String, String>(DEADLINE, request)
        .await
        .unwrap()
        .into_inner();
    reply.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_timeout_is_every_calls_deadline_unless_its_own_is_sooner() {
    let plain = Carrier::Tcp.serve(|b| b).await;
    assert_eq!(remaining_ms(&plain.channel, None).await, None);

    let served = Carrier::Tcp
        .serve_with_channel(|b| b, |c| c.timeout(Duration::from_secs(30)))
        .await;
    let left = remaining_ms(&served.channel, None).await.unwrap();
    assert!(left > 0 && left <= 30_000, "{left} ms");
    // A shorter per-call timeout wins; a longer one does not lengthen it.
    let left = remaining_ms(&served.channel, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(left <= 5_000, "{left} ms");
    let left = remaining_ms(&served.channel, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert!(left <= 30_000, "{left} ms");

    // A call that never ends is stopped by the channel's timeout, streaming too.
    let short = Carrier::Tcp
        .serve_with_channel(|b| b, |c| c.timeout(Duration::from_millis(100)))
        .await;
    let status = short
        .channel
        .unary::<String, String>(HANG, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    // EARLY_BIDI waits for a first message that never comes.
    let bidi = short
        .channel
        .bidi_streaming::<String, String>(aqueduct_conformance::EARLY_BIDI, CallOptions::default())
        .await
        .unwrap();
    let mut responses = bidi.responses;
    let status = responses.message().await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
}

/// An address nothing listens on.
async fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_eager_and_build_is_lazy() {
    let dead = dead_address().await;
    // Eager: the error comes from connect, naming the address.
    let status = Channel::builder(&dead)
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(
        status
            .message()
            .contains(dead.trim_start_matches("http://")),
        "{status}"
    );
    // Lazy: building succeeds; the first call reports the failure.
    let lazy = Channel::builder(&dead).unwrap().build();
    let status = lazy
        .unary::<String, String>(DEADLINE, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");

    let served = Carrier::Tcp.serve(|b| b).await;
    let channel = served.target.builder().connect().await.unwrap();
    assert_eq!(remaining_ms(&channel, None).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_connector_carries_the_channel() {
    let served = Carrier::Tcp.serve(|b| b).await;
    let aqueduct_conformance::Target::Uri(uri) = &served.target else {
        unreachable!("TCP has a URI")
    };
    let addr = uri.trim_start_matches("http://").to_owned();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    // The URI names a host that does not resolve: only the connector can reach
    // the server.
    let channel = Channel::builder("http://orders.invalid:7")
        .unwrap()
        .connector(move |authority: &str| {
            log.lock().unwrap().push(authority.to_owned());
            TcpStream::connect(addr.clone())
        })
        .build();
    assert_eq!(remaining_ms(&channel, None).await, None);
    assert_eq!(remaining_ms(&channel, None).await, None);
    assert_eq!(
        *seen.lock().unwrap(),
        ["orders.invalid:7"],
        "one dial, two calls"
    );

    // A connector's error is the call's UNAVAILABLE, in its own words.
    let refusing = Channel::builder("http://orders.invalid:7")
        .unwrap()
        .connector(|_: &str| async {
            Err::<TcpStream, _>(std::io::Error::other("the proxy said no"))
        })
        .build();
    let status = refusing
        .unary::<String, String>(DEADLINE, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("the proxy said no"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_name_the_socket_and_the_backoff() {
    let path =
        std::env::temp_dir().join(format!("aqueduct-channel-{}-none.sock", std::process::id()));
    let channel = Channel::builder(&format!("unix:{}", path.display()))
        .unwrap()
        .backoff(Duration::from_secs(60), Duration::from_secs(60))
        .build();
    let call = || channel.unary::<String, String>(DEADLINE, Request::new(String::new()));
    let status = call().await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(
        status.message().contains(&path.display().to_string()),
        "{status}"
    );
    assert!(!status.message().contains("localhost"), "{status}");
    // The next call, within the backoff, fails at once and says why.
    let status = call().await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(
        status.message().contains(&path.display().to_string()),
        "{status}"
    );
    assert!(status.message().contains("backing off"), "{status}");
    assert!(
        status.message().contains("next connection attempt is in"),
        "{status}"
    );

    // The two-slash typo is refused up front, showing the accepted forms.
    let err = Channel::from_uri("unix://tmp/app.sock")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unix:///path/to.sock") && err.contains("unix:/path/to.sock"),
        "{err}"
    );
}

/// A TLS server on a loopback port: `(uri authority, server task)`.
async fn tls_server(
    client_auth: aqueduct::tls::ClientAuth,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let (_, server_cert) = aqueduct_conformance::test_pki();
    let tls = aqueduct::tls::ServerTls::builder(server_cert.identity())
        .client_auth(client_auth)
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(interop::server::builder().tls(tls).serve(listener));
    (addr, server)
}

async fn empty_call(channel: &Channel) -> Result<(), aqueduct::Status> {
    channel
        .unary::<interop::pb::Empty, interop::pb::Empty>(
            "/grpc.testing.TestService/EmptyCall",
            Request::new(interop::pb::Empty {}),
        )
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_wants_a_client_certificate_says_so_to_a_client_without_one() {
    let (pki, _) = aqueduct_conformance::test_pki();
    let (addr, server) = tls_server(aqueduct::tls::ClientAuth::Required(pki.roots())).await;
    let channel = Channel::builder(&format!("https://{addr}"))
        .unwrap()
        .tls(aqueduct_conformance::client_tls())
        .build();
    let status = empty_call(&channel).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(
        status.message().contains("requires a client certificate"),
        "{status}"
    );
    // With one, the same server serves.
    let client = pki.client("spiffe://example.org/ns/tests/sa/channel");
    let channel = Channel::builder(&format!("https://{addr}"))
        .unwrap()
        .tls(aqueduct_conformance::client_tls().identity(client.identity()))
        .build();
    empty_call(&channel).await.unwrap();
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_channel_to_a_tls_port_suggests_https() {
    let (addr, server) = tls_server(aqueduct::tls::ClientAuth::Off).await;
    let channel = Channel::from_uri(&format!("http://{addr}")).unwrap();
    let status = empty_call(&channel).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("https://"), "{status}");
    // The server is unharmed: a TLS channel is served.
    let channel = Channel::builder(&format!("https://{addr}"))
        .unwrap()
        .tls(aqueduct_conformance::client_tls())
        .build();
    empty_call(&channel).await.unwrap();
    server.abort();
}
