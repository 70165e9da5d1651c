//! A TLS server behind a hand-off listener: a front accepts the TCP
//! connection and hands it over, before the ClientHello or partway into it,
//! and the server runs the handshake on what it was given.

use std::sync::Arc;

use aqueduct::Server;
use aqueduct_handoff::{HandoffListener, HandoffSender};
use interop::certs::TempDir;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::{HANDSHAKE_TIMEOUT, Pki, Who, WhoServer, count_task_panics, who, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_behind_a_handoff_listener_serves() {
    count_task_panics();
    let pki = Pki::new("hand-off CA");
    let dir = TempDir::new();
    let socket = dir.path().join("handoff.sock");
    let listener = HandoffListener::bind(&socket).unwrap();
    let server = tokio::spawn(
        Server::builder()
            .add_service(WhoServer(Arc::new(Who)))
            .tls(pki.server_tls())
            .handshake_timeout(HANDSHAKE_TIMEOUT)
            .serve(listener),
    );

    // The front: the first connection goes over as accepted, with no bytes
    // read; the second once the front has read the ClientHello's record
    // header, handed over with it.
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = front.local_addr().unwrap();
    let mut sender = HandoffSender::connect(&socket).await.unwrap();
    let front = tokio::spawn(async move {
        for peek in [0, 5] {
            let (mut tcp, peer) = front.accept().await.unwrap();
            let mut peeked = vec![0; peek];
            tcp.read_exact(&mut peeked).await.unwrap();
            let local = tcp.local_addr().unwrap();
            sender
                .send_connection(&tcp, &peeked, local, peer)
                .await
                .unwrap();
        }
    });

    let uri = format!("https://{addr}");
    for _ in 0..2 {
        let channel = aqueduct::Channel::builder(&uri)
            .unwrap()
            .tls(pki.client_tls())
            .build();
        let seen = who(&channel).await.unwrap();
        assert_eq!(seen["protocol"], "TLSv1.3");
        assert_eq!(seen["alpn"], "h2");
        // A second call on the same handed-over connection.
        who(&channel).await.unwrap();
    }
    within("the front", front).await.unwrap();
    assert!(!server.is_finished());
    server.abort();
    super::assert_no_task_panics();
}
