//! The peeker reads what a real HTTP/2 client sends: Aqueduct's own client
//! (h2, Huffman-coded headers) dialing a socket that only records.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aqueduct_handoff::peek::{PREFACE, peek_first_request};
use tokio::io::AsyncReadExt as _;

#[tokio::test]
async fn the_first_request_of_an_h2_client_is_found() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let channel = aqueduct::Channel::from_uri(&format!("http://{addr}")).unwrap();
    // The call never gets an answer: it is dropped once the peek is done.
    let call = tokio::spawn(async move {
        let request = aqueduct::Request::new(String::from("hi"));
        let _ = channel
            .unary::<String, String>("/notes.v1.Notes/GetNote", request)
            .await;
    });
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(first) = peek_first_request(&buf).unwrap() {
                return first;
            }
            let mut chunk = [0; 4096];
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the client closed before its first request");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .unwrap();
    assert!(buf.starts_with(PREFACE));
    assert_eq!(first.path, "/notes.v1.Notes/GetNote");
    assert_eq!(first.service(), Some("notes.v1.Notes"));
    assert_eq!(first.authority.as_deref(), Some(addr.to_string().as_str()));
    call.abort();
}
