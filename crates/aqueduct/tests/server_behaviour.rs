//! Server behaviour as a raw HTTP/2 peer sees it: each test drives the server with
//! the `h2` crate as a client (or, for what h2 will not send, with frames built and
//! read by `aqueduct_test_support`), asserts the status or frame that comes back,
//! and then checks that the server still serves an ordinary call.

// Test helpers panic on setup failure: that is how a test reports it.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use aqueduct::{Request, ServerBuilder};
use aqueduct_test_support::frames::{END_HEADERS, END_STREAM};
use aqueduct_test_support::probe::{ProbeServer, ProbeState};
use aqueduct_test_support::{FrameReader, Frames, grpc, wait_for};
use bytes::Bytes;
use h2::client::SendRequest;
use http::{HeaderMap, StatusCode};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

struct Harness {
    addr: SocketAddr,
    state: Arc<ProbeState>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

async fn start(configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> Harness {
    let state = Arc::new(ProbeState::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let builder =
        configure(aqueduct::Server::builder().add_service(ProbeServer::new(state.clone())));
    let server = tokio::spawn(builder.serve(listener).with_graceful_shutdown(async {
        let _ = stopped.await;
    }));
    Harness {
        addr,
        state,
        stop: Some(stop),
        server,
    }
}

impl Harness {
    async fn client(&self) -> SendRequest<Bytes> {
        client_with(self.addr, h2::client::Builder::new()).await
    }

    /// Asserts that an ordinary call on a fresh connection still works.
    async fn assert_still_serving(&self) {
        let mut client = self.client().await;
        let reply = call(
            &mut client,
            grpc_request("/test.v1.Probe/Echo"),
            grpc::message(&"still here".to_owned()),
        )
        .await;
        assert_eq!(reply.grpc_status.as_deref(), Some("0"), "{reply:?}");
        assert_eq!(String::decode(reply.message_body()).unwrap(), "still here");
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.server.await.unwrap().unwrap();
    }
}

async fn client_with(addr: SocketAddr, builder: h2::client::Builder) -> SendRequest<Bytes> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, conn) = builder.handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

fn grpc_request(path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

#[derive(Debug)]
struct Reply {
    http: StatusCode,
    headers: HeaderMap,
    data: Vec<u8>,
    grpc_status: Option<String>,
    grpc_message: Option<String>,
}

impl Reply {
    fn message_body(&self) -> &[u8] {
        &self.data[5..]
    }
}

fn grpc_field(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// Sends one request with `body` and END_STREAM, and reads the whole response.
async fn call(client: &mut SendRequest<Bytes>, request: http::Request<()>, body: Bytes) -> Reply {
    let mut ready = client.clone().ready().await.unwrap();
    let (response, mut stream) = ready.send_request(request, false).unwrap();
    // The server may answer (and reset the request side) before it reads the body,
    // as it does for unknown paths; the response is what the test checks.
    let _ = stream.send_data(body, true);
    read_reply(response).await
}

async fn read_reply(response: h2::client::ResponseFuture) -> Reply {
    let response = response.await.unwrap();
    let (parts, mut body) = response.into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.unwrap().unwrap_or_default();
    let source = if trailers.contains_key("grpc-status") {
        &trailers
    } else {
        &parts.headers
    };
    Reply {
        http: parts.status,
        grpc_status: grpc_field(source, "grpc-status"),
        grpc_message: grpc_field(source, "grpc-message"),
        headers: parts.headers,
        data,
    }
}

fn run<T, F: Future<Output = T>>(f: F) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn exact_routing_refuses_non_canonical_paths_before_user_code() {
    run(async {
        let h = start(|b| b).await;
        let mut client = h.client().await;
        for path in [
            "//test.v1.Probe/Echo",
            "/test.v1.Probe//Echo",
            "/test.v1.Probe/Echo?x=1",
            "/test.v1.Probe/%45cho",
            "/test.v1.Probe/Echo/",
            "/test.v1.Probe/echo",
            "/test.v1.Nope/Echo",
            "/test.v1.Probe/Nope",
            "/",
        ] {
            let reply = call(
                &mut client,
                grpc_request(path),
                grpc::message(&"x".to_owned()),
            )
            .await;
            assert_eq!(reply.http, StatusCode::OK, "{path}");
            assert_eq!(
                reply.grpc_status.as_deref(),
                Some("12"),
                "{path}: {reply:?}"
            );
            assert_eq!(reply.headers["content-type"], "application/grpc", "{path}");
        }
        assert_eq!(
            h.state.echo_calls.load(SeqCst),
            0,
            "a handler ran for a non-canonical path"
        );
        h.assert_still_serving().await;
        assert_eq!(h.state.echo_calls.load(SeqCst), 1);
        h.shutdown().await;
    });
}

/// Issue 16, item 12: a `-bin` value that is not base64 fails the call
/// `INTERNAL`, naming the key, before the handler runs (as grpc-go does);
/// padded, unpadded and comma-joined values reach the handler decoded.
#[test]
fn invalid_base64_in_binary_metadata_is_internal_before_the_handler() {
    run(async {
        let h = start(|b| b).await;
        let mut client = h.client().await;
        let with = |values: &[&'static str]| {
            let mut request = grpc_request("/test.v1.Probe/BinEcho");
            for &value in values {
                request
                    .headers_mut()
                    .append("x-data-bin", http::HeaderValue::from_static(value));
            }
            request
        };
        for bad in [
            &["A"][..],
            &["AQI=="],
            &["AQ=I"],
            &["not base64!"],
            &["ab-_"],
            &["AQI", "AQI,A"],
        ] {
            let reply = call(&mut client, with(bad), grpc::message(&String::new())).await;
            assert_eq!(reply.http, StatusCode::OK, "{bad:?}");
            assert_eq!(
                reply.grpc_status.as_deref(),
                Some("13"),
                "{bad:?}: {reply:?}"
            );
            let message = reply.grpc_message.unwrap_or_default();
            assert!(message.contains("x-data-bin"), "{bad:?}: {message}");
            assert!(reply.data.is_empty(), "{bad:?}: a message was sent");
        }
        assert_eq!(h.state.echo_calls.load(SeqCst), 0, "a handler ran");

        for (good, decoded) in [
            (&["AQI"][..], "[[1, 2]]"),
            (&["AQI="], "[[1, 2]]"),
            (&["AQID", "BA=="], "[[1, 2, 3], [4]]"),
            (&["AQI, AQID"], "[[1, 2], [1, 2, 3]]"),
            (&[""], "[[]]"),
        ] {
            let reply = call(&mut client, with(good), grpc::message(&String::new())).await;
            assert_eq!(
                reply.grpc_status.as_deref(),
                Some("0"),
                "{good:?}: {reply:?}"
            );
            assert_eq!(
                String::decode(reply.message_body()).unwrap(),
                decoded,
                "{good:?}"
            );
        }
        // A bad value under a key the protocol owns is not user metadata: it
        // is never decoded, so it does not fail the call.
        let mut request = with(&["AQI"]);
        request
            .headers_mut()
            .insert("grpc-trace-bin", http::HeaderValue::from_static("!"));
        let reply = call(&mut client, request, grpc::message(&String::new())).await;
        assert_eq!(reply.grpc_status.as_deref(), Some("0"), "{reply:?}");
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn wrong_content_type_is_415_and_missing_te_is_tolerated() {
    run(async {
        let h = start(|b| b).await;
        let mut client = h.client().await;
        for ct in [
            "application/json",
            "text/plain",
            "application/grpc+json",
            "application/grpcx",
        ] {
            let mut req = grpc_request("/test.v1.Probe/Echo");
            req.headers_mut()
                .insert("content-type", ct.parse().unwrap());
            let reply = call(&mut client, req, grpc::message(&"x".to_owned())).await;
            assert_eq!(reply.http, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        }
        let mut req = grpc_request("/test.v1.Probe/Echo");
        req.headers_mut().remove("te");
        let reply = call(&mut client, req, grpc::message(&"no te".to_owned())).await;
        assert_eq!(reply.grpc_status.as_deref(), Some("0"), "{reply:?}");
        let mut req = grpc_request("/test.v1.Probe/Echo");
        req.headers_mut()
            .insert("content-type", "application/grpc+proto".parse().unwrap());
        let reply = call(&mut client, req, grpc::message(&"proto".to_owned())).await;
        assert_eq!(reply.grpc_status.as_deref(), Some("0"), "{reply:?}");
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn receive_limit_is_4_mib_and_resource_exhausted() {
    run(async {
        let h = start(|b| b).await;
        let mut client = h.client().await;
        // Declared length one past 4 MiB; the body never needs to arrive.
        let prefix = grpc::prefix(false, 4 * 1024 * 1024 + 1);
        let reply = call(
            &mut client,
            grpc_request("/test.v1.Probe/Echo"),
            Bytes::copy_from_slice(&prefix),
        )
        .await;
        assert_eq!(reply.grpc_status.as_deref(), Some("8"), "{reply:?}");
        // Exactly 4 MiB of message is fine.
        let big = "a".repeat(4 * 1024 * 1024 - 5);
        let body = grpc::message(&big);
        assert_eq!(body.len() - 5, 4 * 1024 * 1024);
        let reply = call(&mut client, grpc_request("/test.v1.Probe/Echo"), body).await;
        assert_eq!(
            reply.grpc_status.as_deref(),
            Some("0"),
            "{:?}",
            reply.grpc_message
        );
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn send_limit_is_configurable_and_resource_exhausted() {
    run(async {
        let h = start(|b| b.max_send_message_size(100)).await;
        let mut client = h.client().await;
        let reply = call(
            &mut client,
            grpc_request("/test.v1.Probe/Echo"),
            grpc::message(&"y".repeat(200)),
        )
        .await;
        assert_eq!(reply.grpc_status.as_deref(), Some("8"), "{reply:?}");
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn deadline_drops_the_handler_and_sends_deadline_exceeded() {
    run(async {
        let h = start(|b| b).await;
        let mut client = h.client().await;
        let mut req = grpc_request("/test.v1.Probe/Hang");
        req.headers_mut()
            .insert("grpc-timeout", "50m".parse().unwrap());
        let reply = call(&mut client, req, grpc::message(&"x".to_owned())).await;
        assert_eq!(reply.grpc_status.as_deref(), Some("4"), "{reply:?}");
        wait_for(&h.state.dropped_notify, || {
            h.state.dropped.load(SeqCst) == 1
        })
        .await;
        assert_eq!(h.state.running.load(SeqCst), 0);
        // A malformed timeout is refused before the handler runs.
        let mut req = grpc_request("/test.v1.Probe/Hang");
        req.headers_mut()
            .insert("grpc-timeout", "123456789S".parse().unwrap());
        let reply = call(&mut client, req, grpc::message(&"x".to_owned())).await;
        assert_eq!(reply.grpc_status.as_deref(), Some("13"), "{reply:?}");
        assert_eq!(h.state.started.load(SeqCst), 1);
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn rst_stream_drops_the_handler_at_once() {
    run(async {
        let h = start(|b| b).await;
        let client = h.client().await;
        let mut ready = client.ready().await.unwrap();
        let (_response, mut stream) = ready
            .send_request(grpc_request("/test.v1.Probe/Hang"), false)
            .unwrap();
        stream
            .send_data(grpc::message(&"x".to_owned()), true)
            .unwrap();
        wait_for(&h.state.started_notify, || {
            h.state.started.load(SeqCst) == 1
        })
        .await;
        stream.send_reset(h2::Reason::CANCEL);
        wait_for(&h.state.dropped_notify, || {
            h.state.dropped.load(SeqCst) == 1
        })
        .await;
        assert_eq!(h.state.running.load(SeqCst), 0);
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn rapid_reset_cannot_run_up_handlers() {
    run(async {
        const CAP: usize = 4;
        let h = start(|b| b.max_concurrent_streams(CAP as u32)).await;
        let client = h.client().await;
        // Open and immediately reset streams, far more than the cap, without waiting
        // for their handlers to end.
        let mut refused = None;
        for _ in 0..500 {
            // h2 may end the connection with GOAWAY(ENHANCE_YOUR_CALM) for too many
            // resets: that is a defence too, and ends the attack.
            let mut ready = match client.clone().ready().await {
                Ok(r) => r,
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            };
            let Ok((_response, mut stream)) =
                ready.send_request(grpc_request("/test.v1.Probe/Hang"), false)
            else {
                break;
            };
            let _ = stream.send_data(grpc::message(&"x".to_owned()), true);
            stream.send_reset(h2::Reason::CANCEL);
        }
        let state = &h.state;
        wait_for(&state.dropped_notify, || state.running.load(SeqCst) == 0).await;
        assert!(
            state.max_running.load(SeqCst) <= CAP,
            "{} handlers ran at once with a cap of {CAP}",
            state.max_running.load(SeqCst)
        );
        assert_eq!(state.started.load(SeqCst), state.dropped.load(SeqCst));
        // h2 may also have ended the connection (GOAWAY ENHANCE_YOUR_CALM, or the
        // socket closing under our writes): another defence, not a failure.
        if let Some(e) = refused {
            eprintln!("connection ended during the reset flood: {e}");
        }
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn advertised_settings_and_header_list_limit() {
    run(async {
        let h = start(|b| b.max_concurrent_streams(7).max_header_list_size(4096)).await;
        let tcp = TcpStream::connect(h.addr).await.unwrap();
        let (client, mut conn) = h2::client::handshake(tcp).await.unwrap();
        // Drive the connection until the server's SETTINGS have been applied.
        let mut ready = tokio::select! {
            r = client.ready() => r.unwrap(),
            _ = &mut conn => panic!("connection closed"),
        };
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = grpc_request("/test.v1.Probe/Echo");
        req.headers_mut()
            .insert("x-big", "v".repeat(8192).parse().unwrap());
        let (response, mut stream) = ready.send_request(req, false).unwrap();
        let _ = stream.send_data(grpc::message(&"x".to_owned()), true);
        // Over the advertised header list size: refused at the HTTP/2 layer.
        match response.await {
            Err(_) => {}
            Ok(r) => assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        }
        assert_eq!(h.state.echo_calls.load(SeqCst), 0);
        drop(driver);
        let mut client = h.client().await;
        // The h2 client honours the server's MAX_CONCURRENT_STREAMS; read it back.
        let reply = call(
            &mut client,
            grpc_request("/test.v1.Probe/Echo"),
            grpc::message(&"x".to_owned()),
        )
        .await;
        assert_eq!(reply.grpc_status.as_deref(), Some("0"));
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn max_concurrent_streams_is_advertised() {
    run(async {
        let h = start(|b| b.max_concurrent_streams(7)).await;
        let tcp = TcpStream::connect(h.addr).await.unwrap();
        let (mut client, mut conn) = h2::client::handshake(tcp).await.unwrap();
        let seen = Arc::new((AtomicUsize::new(0), Notify::new()));
        let seen_in_driver = seen.clone();
        tokio::spawn(std::future::poll_fn(move |cx| {
            let polled = std::pin::Pin::new(&mut conn).poll(cx);
            seen_in_driver
                .0
                .store(conn.max_concurrent_send_streams(), SeqCst);
            seen_in_driver.1.notify_waiters();
            polled.map(|_| ())
        }));
        // A completed call means the server's SETTINGS arrived; the driver records
        // the limit h2 applied once it has processed them.
        let reply = call(
            &mut client,
            grpc_request("/test.v1.Probe/Echo"),
            grpc::message(&"x".to_owned()),
        )
        .await;
        assert_eq!(reply.grpc_status.as_deref(), Some("0"));
        wait_for(&seen.1, || seen.0.load(SeqCst) == 7).await;
        h.shutdown().await;
    });
}

#[test]
fn handshake_timeout_closes_silent_connections() {
    run(async {
        let h = start(|b| b.handshake_timeout(Duration::from_millis(100))).await;
        let mut silent = TcpStream::connect(h.addr).await.unwrap();
        let mut buf = [0u8; 1024];
        // The server may write its SETTINGS first; then it must close.
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match silent.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "a connection that never sent the preface stayed open"
        );
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn slow_reader_stalls_the_sender_instead_of_buffering() {
    run(async {
        let h = start(|b| b).await;
        let mut builder = h2::client::Builder::new();
        builder
            .initial_window_size(65_535)
            .initial_connection_window_size(65_535);
        let client = client_with(h.addr, builder).await;
        let mut ready = client.ready().await.unwrap();
        let (response, mut stream) = ready
            .send_request(grpc_request("/test.v1.Probe/Flood"), false)
            .unwrap();
        stream
            .send_data(grpc::message(&"x".to_owned()), true)
            .unwrap();
        let response = response.await.unwrap();
        let mut body = response.into_body();
        // Without reading, the handler can get at most the window plus h2's bounded
        // send buffer ahead: a few 64 KiB messages, never all 100.
        let ran_ahead = tokio::time::timeout(Duration::from_millis(500), async {
            while h.state.sent.load(SeqCst) < 20 {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(
            ran_ahead.is_err(),
            "the handler sent {} messages to a client that read none",
            h.state.sent.load(SeqCst)
        );
        // Reading releases it; every byte arrives.
        let mut total = 0;
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            total += chunk.len();
        }
        // Each message: 5-byte prefix, tag, 3-byte length, 64 KiB.
        assert_eq!(total, 100 * (5 + 1 + 3 + 64 * 1024));
        assert_eq!(h.state.sent.load(SeqCst), 100);
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn handler_panic_is_internal_and_server_survives() {
    run(async {
        let h = start(|b| b).await;
        let mut client = h.client().await;
        let reply = call(
            &mut client,
            grpc_request("/test.v1.Probe/Panic"),
            grpc::message(&"x".to_owned()),
        )
        .await;
        assert_eq!(reply.grpc_status.as_deref(), Some("13"), "{reply:?}");
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn graceful_shutdown_lets_calls_in_flight_finish() {
    run(async {
        let mut h = start(|b| b).await;
        let client = h.client().await;
        let mut ready = client.ready().await.unwrap();
        let (response, mut stream) = ready
            .send_request(grpc_request("/test.v1.Probe/Slow"), false)
            .unwrap();
        stream
            .send_data(grpc::message(&"in flight".to_owned()), true)
            .unwrap();
        wait_for(&h.state.started_notify, || {
            h.state.started.load(SeqCst) == 1
        })
        .await;
        let _ = h.stop.take().unwrap().send(());
        // New connections are refused once the listener is dropped; the call in
        // flight finishes when released.
        h.state.release.notify_waiters();
        let reply = read_reply(response).await;
        assert_eq!(reply.grpc_status.as_deref(), Some("0"), "{reply:?}");
        assert_eq!(String::decode(reply.message_body()).unwrap(), "in flight");
        tokio::time::timeout(Duration::from_secs(10), &mut h.server)
            .await
            .expect("server did not stop after its calls finished")
            .unwrap()
            .unwrap();
        assert!(
            TcpStream::connect(h.addr).await.is_err(),
            "listener still open after shutdown"
        );
    });
}

#[test]
fn graceful_shutdown_cancels_calls_after_the_drain_deadline() {
    run(async {
        let mut h = start(|b| b.drain_timeout(Duration::from_millis(100))).await;
        let client = h.client().await;
        let mut ready = client.ready().await.unwrap();
        let (response, mut stream) = ready
            .send_request(grpc_request("/test.v1.Probe/Hang"), false)
            .unwrap();
        stream
            .send_data(grpc::message(&"x".to_owned()), true)
            .unwrap();
        wait_for(&h.state.started_notify, || {
            h.state.started.load(SeqCst) == 1
        })
        .await;
        let _ = h.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut h.server)
            .await
            .expect("server did not stop at the drain deadline")
            .unwrap()
            .unwrap();
        // Closing the connection stops the handler: h2 wakes its reset watch.
        wait_for(&h.state.dropped_notify, || {
            h.state.dropped.load(SeqCst) == 1
        })
        .await;
        // The client sees its call fail rather than hang.
        let outcome = tokio::time::timeout(Duration::from_secs(10), async {
            match response.await {
                Err(_) => None,
                Ok(r) => {
                    let mut body = r.into_body();
                    while let Some(Ok(_)) = body.data().await {}
                    Some(body.trailers().await)
                }
            }
        })
        .await
        .expect("client call hung after shutdown");
        if let Some(Ok(Some(trailers))) = outcome {
            panic!("call completed normally after being cancelled: {trailers:?}");
        }
    });
}

/// A listener that accepts one connection and, as it hands it to the server,
/// starts the server's graceful shutdown.
struct StopOnAccept {
    inner: TcpListener,
    accepted: Option<oneshot::Sender<()>>,
}

impl aqueduct::Listener for StopOnAccept {
    type Io = TcpStream;

    async fn accept(&mut self) -> std::io::Result<(TcpStream, Option<SocketAddr>)> {
        let Some(accepted) = self.accepted.take() else {
            return std::future::pending().await;
        };
        let (stream, peer) = self.inner.accept().await?;
        let _ = accepted.send(());
        Ok((stream, Some(peer)))
    }
}

/// Regression test for issue 16, item 11: a connection accepted just as
/// graceful shutdown started, still in its HTTP/2 handshake, was closed with
/// no GOAWAY (whenever the drain won the race with the handshake), failing the
/// request its client had already sent with UNAVAILABLE. Restarts under
/// clients that connect per call lost calls that way. It is served now: the
/// handshake completes, the server says GOAWAY and answers the request.
#[test]
fn regression_16_a_connection_in_its_handshake_when_draining_starts_is_served() {
    run(async {
        // The race was won either way about half the time: try it often.
        for round in 0..16 {
            let state = Arc::new(ProbeState::default());
            let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
            // The whole request is in the socket before the server accepts.
            let mut client = TcpStream::connect(tcp.local_addr().unwrap()).await.unwrap();
            let message = grpc::message(&format!("round {round}"));
            let out = Frames::new()
                .preface()
                .settings(&[])
                .headers(1, grpc::request("/test.v1.Probe/Echo"), END_HEADERS)
                .data(1, &message, END_STREAM);
            client.write_all(out.as_bytes()).await.unwrap();

            let (accepted, stop) = oneshot::channel();
            let listener = StopOnAccept {
                inner: tcp,
                accepted: Some(accepted),
            };
            let server = aqueduct::Server::builder()
                .add_service(ProbeServer::new(state.clone()))
                .serve(listener)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                });
            let server = tokio::spawn(server);
            // Reads to the close, answering PINGs (so the graceful shutdown
            // can send its final GOAWAY and close), for at most 10 s.
            let seen = FrameReader::new(client)
                .patience(Duration::from_secs(10))
                .read_to_close()
                .await;
            assert!(
                seen.closed(),
                "the connection was not closed within 10 s: {seen:?}"
            );
            assert!(
                seen.goaway().is_some(),
                "round {round}: closed without a GOAWAY: {seen:?}"
            );
            assert!(
                seen.ended(1),
                "round {round}: the request was not answered: {seen:?}"
            );
            assert_eq!(seen.data(1), message, "round {round}");
            assert_eq!(state.echo_calls.load(SeqCst), 1, "round {round}");
            tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("the server did not stop")
                .unwrap()
                .unwrap();
        }
    });
}

#[test]
fn decompressed_size_over_the_limit_is_resource_exhausted() {
    run(async {
        let h = start(|b| b).await;
        let mut client = h.client().await;
        // 5 MiB of message that gzip packs into a few KiB: the limit applies to what
        // it expands to.
        let big = "z".repeat(5 * 1024 * 1024);
        let mut plain = Vec::new();
        big.encode(&mut plain).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &plain).unwrap();
        let packed = gz.finish().unwrap();
        assert!(packed.len() < 64 * 1024);
        let body = grpc::length_prefixed(true, &packed);
        let mut req = grpc_request("/test.v1.Probe/Echo");
        req.headers_mut()
            .insert("grpc-encoding", "gzip".parse().unwrap());
        let reply = call(&mut client, req, body).await;
        assert_eq!(reply.grpc_status.as_deref(), Some("8"), "{reply:?}");
        assert_eq!(h.state.echo_calls.load(SeqCst), 0);
        // An encoding the server does not know is UNIMPLEMENTED, naming what it accepts.
        let mut req = grpc_request("/test.v1.Probe/Echo");
        req.headers_mut()
            .insert("grpc-encoding", "br".parse().unwrap());
        let reply = call(&mut client, req, grpc::message(&"x".to_owned())).await;
        assert_eq!(reply.grpc_status.as_deref(), Some("12"), "{reply:?}");
        assert!(
            reply.headers.contains_key("grpc-accept-encoding"),
            "{reply:?}"
        );
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

/// MadeYouReset: the client makes the *server* reset streams (here with a
/// zero-increment WINDOW_UPDATE, a stream error). Each reset must stop its handler,
/// and the running-handler cap must hold throughout.
#[test]
fn server_generated_resets_stop_handlers_made_you_reset() {
    run(async {
        const CAP: usize = 4;
        let h = start(|b| b.max_concurrent_streams(CAP as u32)).await;
        let tcp = TcpStream::connect(h.addr).await.unwrap();
        let (mut rd, mut wr) = tcp.into_split();
        // Drain whatever the server sends so it never blocks on a full socket.
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        });
        let start = Frames::new().preface().settings(&[]);
        wr.write_all(start.as_bytes()).await.unwrap();
        let body = grpc::message(&"x".to_owned());
        // First one stream, watched closely: started, then reset by the server.
        let open = |id: u32| {
            Frames::new()
                .headers(id, grpc::request("/test.v1.Probe/Hang"), END_HEADERS)
                .data(id, &body, END_STREAM)
        };
        let poison = |id: u32| Frames::new().window_update(id, 0);
        wr.write_all(open(1).as_bytes()).await.unwrap();
        wait_for(&h.state.started_notify, || {
            h.state.started.load(SeqCst) == 1
        })
        .await;
        wr.write_all(poison(1).as_bytes()).await.unwrap();
        wait_for(&h.state.dropped_notify, || {
            h.state.dropped.load(SeqCst) == 1
        })
        .await;
        // Then many, as fast as the socket takes them.
        for i in 1..200u32 {
            let id = 2 * i + 1;
            let out = open(id).then(poison(id));
            if wr.write_all(out.as_bytes()).await.is_err() {
                break; // the server may close the connection: also a defence
            }
        }
        let state = &h.state;
        wait_for(&state.dropped_notify, || state.running.load(SeqCst) == 0).await;
        assert!(
            state.max_running.load(SeqCst) <= CAP,
            "{} handlers ran with a cap of {CAP}",
            state.max_running.load(SeqCst)
        );
        assert_eq!(state.started.load(SeqCst), state.dropped.load(SeqCst));
        drop(wr);
        reader.abort();
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

#[test]
fn dropping_a_client_call_cancels_it_on_the_server() {
    run(async {
        let h = start(|b| b).await;
        let channel = aqueduct::Channel::from_uri(&format!("http://{}", h.addr)).unwrap();
        let call =
            channel.unary::<String, String>("/test.v1.Probe/Hang", Request::new("x".to_owned()));
        let state = h.state.clone();
        tokio::select! {
            _ = call => panic!("Hang answered"),
            () = wait_for(&state.started_notify, || state.started.load(SeqCst) == 1) => {}
        }
        // The call future is dropped here: RST_STREAM(CANCEL) reaches the server.
        wait_for(&h.state.dropped_notify, || {
            h.state.dropped.load(SeqCst) == 1
        })
        .await;
        // A client-side timeout does the same.
        let req = Request::new("x".to_owned()).with_timeout(Duration::from_millis(20));
        let err = channel
            .unary::<String, String>("/test.v1.Probe/Hang", req)
            .await
            .unwrap_err();
        assert_eq!(err.code(), aqueduct::Code::DeadlineExceeded);
        wait_for(&h.state.dropped_notify, || {
            h.state.dropped.load(SeqCst) == 2
        })
        .await;
        h.shutdown().await;
    });
}

#[test]
fn one_channel_many_tasks_a_thousand_concurrent_calls() {
    run(async {
        let h = start(|b| b).await;
        let channel = aqueduct::Channel::from_uri(&format!("http://{}", h.addr)).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..1000 {
            let channel = channel.clone();
            tasks.spawn(async move {
                let reply = channel
                    .unary::<String, String>(
                        "/test.v1.Probe/Echo",
                        Request::new(format!("call {i}")),
                    )
                    .await
                    .unwrap();
                assert_eq!(reply.into_inner(), format!("call {i}"));
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        assert_eq!(h.state.echo_calls.load(SeqCst), 1000);
        h.shutdown().await;
    });
}

#[test]
fn thread_per_core_serves_and_shuts_down() {
    let state = Arc::new(ProbeState::default());
    let served = state.clone();
    let addr = run(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(
            aqueduct::Server::builder()
                .add_service(ProbeServer::new(served))
                .thread_per_core(2)
                .serve(listener)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                }),
        );
        // Many connections, accepted by whichever thread wins each.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            tasks.spawn(async move {
                let channel = aqueduct::Channel::from_uri(&format!("http://{addr}")).unwrap();
                let reply = channel
                    .unary::<String, String>(
                        "/test.v1.Probe/Echo",
                        Request::new(format!("call {i}")),
                    )
                    .await
                    .unwrap();
                assert_eq!(reply.into_inner(), format!("call {i}"));
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        addr
    });
    assert_eq!(state.echo_calls.load(SeqCst), 50);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listeners still open after shutdown"
    );
}

/// A listener of one thread of a thread-per-core server that fails to accept
/// (a fatal error, not a transient one), while the other thread's serves.
enum OneFails {
    Serves(TcpListener),
    Fails,
}

impl aqueduct::Listener for OneFails {
    type Io = TcpStream;

    async fn accept(&mut self) -> std::io::Result<(TcpStream, Option<SocketAddr>)> {
        match self {
            OneFails::Serves(listener) => aqueduct::Listener::accept(listener).await,
            OneFails::Fails => Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "this thread's listener is broken",
            )),
        }
    }

    fn per_thread(
        self,
        threads: usize,
    ) -> std::io::Result<Vec<aqueduct::transport::PerThread<Self>>> {
        let OneFails::Serves(listener) = self else {
            panic!("the test hands a serving listener");
        };
        let socket = listener.into_std()?;
        let mut parts: Vec<aqueduct::transport::PerThread<Self>> =
            vec![Box::new(|| Ok(OneFails::Fails))];
        for _ in 1..threads {
            let socket = socket.try_clone()?;
            parts.push(Box::new(move || {
                Ok(OneFails::Serves(TcpListener::from_std(socket)?))
            }));
        }
        Ok(parts)
    }
}

#[test]
fn a_failed_thread_per_core_thread_fails_the_server() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        // No shutdown signal: only the failed thread can end the server.
        let err = aqueduct::Server::builder()
            .thread_per_core(2)
            .serve(OneFails::Serves(listener))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    });
}

#[test]
fn thread_per_core_needs_a_socket_listener() {
    run(async {
        let listener = aqueduct::MemoryListener::anonymous();
        let err = aqueduct::Server::builder()
            .thread_per_core(2)
            .serve(listener)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported, "{err}");
    });
}

/// h2 closes a connection when too many small DATA frames sit unread in its
/// buffers (its budget: about 4,200 tiny frames with our 2 MiB connection window).
/// A client streaming tiny messages steadily to a handler that is not reading yet
/// must not lose its connection: the call guard drains them into the call's own
/// buffer as they arrive. Here 50,000 messages go in batches of 1,000, each batch
/// followed by a PING round trip so the server has processed it.
///
/// A single burst larger than h2's budget still ends the connection
/// (ENHANCE_YOUR_CALM): h2 reads the whole burst before any call task can run.
#[test]
fn tiny_messages_to_a_slow_client_streaming_handler() {
    run(async {
        let h = start(|b| b).await;
        let tcp = TcpStream::connect(h.addr).await.unwrap();
        let (client, mut conn) = h2::client::handshake(tcp).await.unwrap();
        let mut ping = conn.ping_pong().unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut ready = client.ready().await.unwrap();
        let (response, mut stream) = ready
            .send_request(grpc_request("/test.v1.Probe/SlowCount"), false)
            .unwrap();
        wait_for(&h.state.started_notify, || {
            h.state.started.load(SeqCst) == 1
        })
        .await;
        const BATCHES: u32 = 50;
        const PER_BATCH: u32 = 1000;
        let one = grpc::message(&"x".to_owned());
        for _ in 0..BATCHES {
            for _ in 0..PER_BATCH {
                // One DATA frame per message, as a simple client sends them.
                stream.reserve_capacity(one.len());
                std::future::poll_fn(|cx| match stream.capacity() {
                    0 => stream.poll_capacity(cx).map(|_| ()),
                    _ => std::task::Poll::Ready(()),
                })
                .await;
                stream.send_data(one.clone(), false).unwrap();
            }
            ping.ping(h2::Ping::opaque()).await.unwrap();
        }
        stream.send_data(Bytes::new(), true).unwrap();
        h.state.release.notify_waiters();
        let reply = read_reply(response).await;
        assert_eq!(reply.grpc_status.as_deref(), Some("0"), "{reply:?}");
        assert_eq!(
            u32::decode(reply.message_body()).unwrap(),
            BATCHES * PER_BATCH
        );
        h.assert_still_serving().await;
        h.shutdown().await;
    });
}

/// Our client's `feed` lets many small messages share DATA frames: a burst of
/// 50,000 tiny messages to a handler that is not reading arrives in a few dozen
/// frames, far from h2's budget for small frames, and every message arrives.
#[test]
fn fed_messages_share_data_frames() {
    run(async {
        let h = start(|b| b).await;
        let channel = aqueduct::Channel::from_uri(&format!("http://{}", h.addr)).unwrap();
        let mut call = channel
            .client_streaming::<String, u32>(
                "/test.v1.Probe/SlowCount",
                aqueduct::CallOptions::new(),
            )
            .await
            .unwrap();
        wait_for(&h.state.started_notify, || {
            h.state.started.load(SeqCst) == 1
        })
        .await;
        const N: u32 = 50_000;
        for _ in 0..N {
            call.feed("x".to_owned()).await.unwrap();
        }
        call.flush().await.unwrap();
        h.state.release.notify_waiters();
        let reply = call.finish().await.unwrap();
        assert_eq!(reply.into_inner(), N);
        h.shutdown().await;
    });
}
