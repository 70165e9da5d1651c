//! The peek-and-route front in one process: a call reaches the backend that
//! serves its service; an unknown service, or a backend that is not running,
//! gets UNAVAILABLE with a message, read by a real HTTP/2 gRPC client.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use aqueduct::health::{self, HealthCheckRequest, HealthCheckResponse, HealthReporter};
use aqueduct::{Channel, Code, Request, Server};
use aqueduct_handoff::HandoffListener;
use aqueduct_handoff::route::{self, FrontConfig, Routes};

fn socket_path(name: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("aqueduct-route-{name}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Starts the front with `routes`; returns a channel to it.
async fn front(routes: Routes) -> Channel {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(route::serve(
        listener,
        routes,
        FrontConfig::default(),
        std::future::pending(),
    ));
    Channel::from_uri(&format!("http://{addr}")).unwrap()
}

async fn check(channel: &Channel) -> Result<i32, aqueduct::Status> {
    let request = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    channel
        .unary::<_, HealthCheckResponse>(health::CHECK, request)
        .await
        .map(|r| r.into_inner().status)
}

#[tokio::test]
async fn a_call_reaches_the_backend_of_its_service() {
    let backend = socket_path("health");
    let listener = HandoffListener::bind(&backend).unwrap();
    tokio::spawn(
        Server::builder()
            .add_health(HealthReporter::new())
            .serve(listener),
    );
    let channel = front(Routes::new().service("grpc.health.v1.Health", &backend)).await;
    for _ in 0..3 {
        assert_eq!(check(&channel).await.unwrap(), 1, "SERVING");
    }
    // A second connection goes the same way.
    let second = front(Routes::new().service("grpc.health.v1.Health", &backend)).await;
    assert_eq!(check(&second).await.unwrap(), 1);
    let _ = std::fs::remove_file(&backend);
}

#[tokio::test]
async fn an_unknown_service_is_unavailable() {
    let channel = front(Routes::new().service("other.v1.Other", socket_path("unused"))).await;
    let status = check(&channel).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(
        status
            .message()
            .contains("no backend serves grpc.health.v1.Health"),
        "{status}"
    );
}

#[tokio::test]
async fn a_backend_that_is_not_running_is_unavailable() {
    let channel = front(Routes::new().service("grpc.health.v1.Health", socket_path("gone"))).await;
    let status = check(&channel).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("unavailable"), "{status}");
}
