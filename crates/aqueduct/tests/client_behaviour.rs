//! The client against servers that misbehave or are not gRPC at all: a bare h2
//! server answers each request in a scripted way, and the test checks the status the
//! client reports.

#![allow(clippy::unwrap_used)]

use aqueduct::{Channel, Code, Request};
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use tokio::net::TcpListener;

/// How the bare server answers.
#[derive(Clone, Copy)]
enum Script {
    /// A plain HTTP status with no gRPC headers.
    Http(u16),
    /// 200 with a non-gRPC content-type.
    HtmlPage,
    /// 200 gRPC headers and data, then end of stream with no trailers.
    NoTrailers,
    /// Trailers with a grpc-status that is not a number.
    BadStatus,
    /// A message whose declared length exceeds the client's limit.
    Oversized,
    /// An unknown grpc-encoding on the response.
    UnknownEncoding,
    /// A `-bin` response header that is not base64, then an OK status.
    BadBinaryHeader,
    /// An OK status with a `-bin` trailer that is not base64.
    BadBinaryTrailer,
}

async fn bare_server(script: Script) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut conn = h2::server::handshake(tcp).await.unwrap();
                // Keep unfinished streams open: dropping them would reset them.
                let mut open = Vec::new();
                while let Some(Ok((_req, mut respond))) = conn.accept().await {
                    open.extend(answer(script, &mut respond));
                }
            });
        }
    });
    format!("http://{addr}")
}

fn answer(
    script: Script,
    respond: &mut h2::server::SendResponse<Bytes>,
) -> Option<h2::SendStream<Bytes>> {
    let grpc = || {
        Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
    };
    match script {
        Script::Http(code) => {
            let resp = Response::builder().status(code).body(()).unwrap();
            respond.send_response(resp, true).unwrap();
            None
        }
        Script::HtmlPage => {
            let resp = Response::builder()
                .status(200)
                .header("content-type", "text/html")
                .body(())
                .unwrap();
            let mut s = respond.send_response(resp, false).unwrap();
            s.send_data(Bytes::from_static(b"<html></html>"), true)
                .unwrap();
            None
        }
        Script::NoTrailers => {
            let mut s = respond
                .send_response(grpc().body(()).unwrap(), false)
                .unwrap();
            s.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)
                .unwrap();
            None
        }
        Script::BadStatus => {
            let mut s = respond
                .send_response(grpc().body(()).unwrap(), false)
                .unwrap();
            let mut t = HeaderMap::new();
            t.insert("grpc-status", "ok".parse().unwrap());
            s.send_trailers(t).unwrap();
            None
        }
        Script::Oversized => {
            let mut s = respond
                .send_response(grpc().body(()).unwrap(), false)
                .unwrap();
            s.send_data(Bytes::from_static(&[0, 0x10, 0, 0, 0]), false)
                .unwrap();
            Some(s)
        }
        Script::BadBinaryHeader => {
            let resp = grpc().header("x-token-bin", "not*base64").body(()).unwrap();
            let mut s = respond.send_response(resp, false).unwrap();
            let mut t = HeaderMap::new();
            t.insert("grpc-status", "0".parse().unwrap());
            s.send_trailers(t).unwrap();
            None
        }
        Script::BadBinaryTrailer => {
            let mut s = respond
                .send_response(grpc().body(()).unwrap(), false)
                .unwrap();
            s.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), false)
                .unwrap();
            let mut t = HeaderMap::new();
            t.insert("grpc-status", "0".parse().unwrap());
            t.insert("x-token-bin", "not*base64".parse().unwrap());
            s.send_trailers(t).unwrap();
            None
        }
        Script::UnknownEncoding => {
            let resp = grpc().header("grpc-encoding", "snappy").body(()).unwrap();
            let mut s = respond.send_response(resp, false).unwrap();
            s.send_data(Bytes::from_static(&[1, 0, 0, 0, 1, 0]), false)
                .unwrap();
            Some(s)
        }
    }
}

async fn outcome(script: Script) -> aqueduct::Status {
    let channel = Channel::from_uri(&bare_server(script).await).unwrap();
    channel
        .unary::<String, String>("/test.v1.Probe/Echo", Request::new("x".to_owned()))
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_statuses_map_as_grpc_says() {
    for (http, code) in [
        (400, Code::Internal),
        (401, Code::Unauthenticated),
        (403, Code::PermissionDenied),
        (404, Code::Unimplemented),
        (429, Code::Unavailable),
        (502, Code::Unavailable),
        (503, Code::Unavailable),
        (504, Code::Unavailable),
        (500, Code::Unknown),
    ] {
        let status = outcome(Script::Http(http)).await;
        assert_eq!(status.code(), code, "HTTP {http}: {status}");
        assert!(
            status
                .message()
                .contains(&StatusCode::from_u16(http).unwrap().as_u16().to_string())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_grpc_responses_are_clear_statuses() {
    assert_eq!(outcome(Script::HtmlPage).await.code(), Code::Unknown);
    let s = outcome(Script::NoTrailers).await;
    assert_eq!(s.code(), Code::Internal, "{s}");
    let s = outcome(Script::BadStatus).await;
    assert_eq!(s.code(), Code::Internal, "{s}");
    let s = outcome(Script::Oversized).await;
    assert_eq!(s.code(), Code::ResourceExhausted, "{s}");
    let s = outcome(Script::UnknownEncoding).await;
    assert_eq!(s.code(), Code::Internal, "{s}");
    // Issue 16 (12): `-bin` metadata that is not base64 is INTERNAL, naming
    // the key, in response headers and in trailers alike.
    for script in [Script::BadBinaryHeader, Script::BadBinaryTrailer] {
        let s = outcome(script).await;
        assert_eq!(s.code(), Code::Internal, "{s}");
        assert!(s.message().contains("x-token-bin"), "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_there_is_unavailable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let channel = Channel::from_uri(&format!("http://{addr}")).unwrap();
    let status = channel
        .unary::<String, String>("/test.v1.Probe/Echo", Request::new("x".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    // A peer that is not HTTP/2 at all: also UNAVAILABLE, not UNKNOWN.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let channel = Channel::from_uri(&format!("http://{addr}")).unwrap();
    let status = channel
        .unary::<String, String>("/test.v1.Probe/Echo", Request::new("x".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
}

/// The status of an echo call that must fail.
async fn failed_echo(channel: &Channel) -> aqueduct::Status {
    channel
        .unary::<String, String>("/test.v1.Probe/Echo", Request::new("x".to_owned()))
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_listeners_that_are_not_there_are_unavailable() {
    // A name nobody listens on: like a refused TCP connection.
    let status = failed_echo(&Channel::from_uri("mem://client-behaviour-nobody").unwrap()).await;
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(
        status.message().contains("mem://client-behaviour-nobody"),
        "{status}"
    );
    // A listener that was there and closed, dialed by name and by connector.
    let listener = aqueduct::MemoryListener::bind("client-behaviour-closed").unwrap();
    let by_connector = Channel::memory(listener.connector());
    drop(listener);
    let by_name = Channel::from_uri("mem://client-behaviour-closed").unwrap();
    for channel in [by_name, by_connector] {
        let status = failed_echo(&channel).await;
        assert_eq!(status.code(), Code::Unavailable, "{status}");
        assert!(
            status.message().contains("client-behaviour-closed"),
            "{status}"
        );
    }
    // A malformed name is refused when the channel is made.
    assert!(Channel::from_uri("mem://has space").is_err());
}
