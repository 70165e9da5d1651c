//! The generated client over each transport, and the channel's connection handling.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aqueduct::{Channel, Code, Server};
use helloworld::MyGreeter;
use helloworld::pb::SayHelloRequest;
use helloworld::pb::greeter_service_client::GreeterServiceClient;
use helloworld::pb::greeter_service_server::GreeterServiceServer;

fn socket_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("aqueduct-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_call_kinds_over_a_unix_socket() {
    let path = socket_path("unix.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(
        Server::builder()
            .add_service(GreeterServiceServer::new(MyGreeter))
            .serve(listener),
    );
    let channel = Channel::from_uri(&format!("unix:{}", path.display())).unwrap();
    let lines = helloworld::run_client(channel).await.unwrap();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].contains("Hello, Ada!"), "{lines:?}");
    assert!(lines[3].contains("Hello, Dennis!"), "{lines:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_call_kinds_over_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        Server::builder()
            .add_service(GreeterServiceServer::new(MyGreeter))
            .serve(listener),
    );
    let lines = helloworld::run_client(Channel::from_uri(&format!("http://{addr}")).unwrap())
        .await
        .unwrap();
    assert!(
        lines[2].contains("Alan and Barbara and Edsger"),
        "{lines:?}"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable_then_reconnects_after_backoff() {
    let path = socket_path("late.sock");
    let channel = Channel::builder(&format!("unix:{}", path.display()))
        .unwrap()
        .backoff(Duration::from_millis(20), Duration::from_millis(20))
        .build();
    let client = GreeterServiceClient::new(channel.clone());
    let err = client
        .say_hello(SayHelloRequest { name: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    // During the backoff, calls fail fast with the same code.
    let err = client
        .say_hello(SayHelloRequest { name: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");

    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(
        Server::builder()
            .add_service(GreeterServiceServer::new(MyGreeter))
            .serve(listener),
    );
    // Retry until the backoff has passed and the channel dials again.
    let reply = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match client
                .say_hello(SayHelloRequest {
                    name: "late".into(),
                })
                .await
            {
                Ok(r) => return r.into_inner().message,
                Err(e) => {
                    assert_eq!(e.code(), Code::Unavailable, "{e}");
                    tokio::task::yield_now().await;
                }
            }
        }
    })
    .await
    .expect("channel never reconnected");
    assert_eq!(reply, "Hello, late!");

    // The server goes away: the next call fails UNAVAILABLE (not UNKNOWN) ...
    server.abort();
    let _ = server.await;
    let _ = std::fs::remove_file(&path);
    let err = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match client.say_hello(SayHelloRequest { name: "x".into() }).await {
                Ok(_) => tokio::task::yield_now().await,
                Err(e) => return e,
            }
        }
    })
    .await
    .expect("calls kept succeeding after the server stopped");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_and_limits_reach_the_client_as_status() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        Server::builder()
            .add_service(GreeterServiceServer::new(MyGreeter))
            .serve(listener),
    );
    let client = GreeterServiceClient::new(Channel::from_uri(&format!("http://{addr}")).unwrap());
    let err = client
        .say_hello(SayHelloRequest {
            name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "name must not be empty");
    let big = SayHelloRequest {
        name: "x".repeat(5 * 1024 * 1024),
    };
    let err = client.say_hello(big).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    // The connection survives both.
    let ok = client
        .say_hello(SayHelloRequest {
            name: "again".into(),
        })
        .await
        .unwrap();
    assert_eq!(ok.into_inner().message, "Hello, again!");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interceptors_example_refuses_serves_counts_and_logs() {
    let mut lines = helloworld::intercepted::run().await.unwrap();
    // The time left is measured: check the policy's message around it.
    let deadline = lines.remove(3);
    assert!(
        deadline.starts_with("with an hour's deadline: InvalidArgument: deadline too far: 3")
            && deadline.ends_with("s away, this method accepts at most 60.0s"),
        "{deadline}"
    );
    assert_eq!(
        lines,
        [
            "without a token: Unauthenticated: missing bearer token",
            "  error info: TOKEN_MISSING in helloworld.example",
            "with a token: Hello, Ada!",
            "chat: Hello, Ada!",
            "chat: Hello, Grace!",
            "chat: Hello, Edsger!",
            "[access log] /helloworld.v1.GreeterService/Chat -> Ok",
            "[access log] /helloworld.v1.GreeterService/SayHello -> InvalidArgument",
            "[access log] /helloworld.v1.GreeterService/SayHello -> Ok",
            "[access log] /helloworld.v1.GreeterService/SayHello -> Unauthenticated",
            "[messages] /helloworld.v1.GreeterService/Chat: received 3, sent 3",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mtls_example_admits_billing_and_denies_web() {
    let lines = helloworld::mtls::run().await.unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("spiffe://example.org/ns/billing/sa/api: Hello, billing!"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("ns/web/sa/frontend: denied:") && lines[1].contains("may not call"),
        "{lines:?}"
    );
}
