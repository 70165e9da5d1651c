//! The ceiling: a bare h2 server with no gRPC layer. It reads each request body and
//! answers with one fixed DATA frame (a valid gRPC `SayHelloResponse`, so gRPC clients
//! accept it) and `grpc-status: 0` trailers. With a rustls config, over TLS
//! (tokio-rustls, the handshake on the connection's task).

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use prost::Message as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// Serves until the listener fails; over TLS with `tls`.
pub async fn serve(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) {
    let reply = {
        let msg = helloworld::pb::SayHelloResponse {
            message: "Hello, x!".into(),
        }
        .encode_to_vec();
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        framed.extend_from_slice(&msg);
        Bytes::from(framed)
    };
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    while let Ok((tcp, _)) = listener.accept().await {
        let _ = tcp.set_nodelay(true);
        let reply = reply.clone();
        let acceptor = acceptor.clone();
        // Two tasks, not one with two branches: a plaintext connection's task
        // must not be sized for rustls's state (RSS per idle connection).
        match acceptor {
            None => tokio::spawn(serve_connection(tcp, reply)),
            Some(acceptor) => tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_connection(tls, reply).await;
                }
            }),
        };
    }
}

async fn serve_connection<IO>(io: IO, reply: Bytes)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = conn.accept().await {
        let reply = reply.clone();
        tokio::spawn(async move {
            let mut body = request.into_body();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            let response = http::Response::builder()
                .header("content-type", "application/grpc")
                .body(())
                .unwrap_or_default();
            let Ok(mut send) = respond.send_response(response, false) else {
                return;
            };
            let _ = send.send_data(reply, false);
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let _ = send.send_trailers(trailers);
        });
    }
}
