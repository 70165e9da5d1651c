//! `Subscription::stream_to` as the whole body of a server-streaming handler,
//! over the in-memory pipe: the client gets what is published; when it
//! cancels, its subscription leaves the hub; when the hub shuts down, a
//! watching client gets the hub's status.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use aqueduct::health::{HealthCheckRequest, HealthCheckResponse};
use aqueduct::service::{self, Route, ServerStreamingMethod};
use aqueduct::{Channel, Code, MemoryListener, Request, Server, ServerSink, Service, Status};
use aqueduct_broadcast::{Hub, SubscribeOptions};

const WATCH: &str = "/test.v1.Events/Watch";

/// Streams every event published under the request's `service` string.
struct Events(Hub<String, HealthCheckResponse>);

struct EventsServer(Arc<Events>);

impl Service for EventsServer {
    const NAME: &'static str = "test.v1.Events";

    fn routes(&self) -> Vec<Route> {
        vec![service::server_streaming::<Events, Watch>(
            WATCH,
            self.0.clone(),
        )]
    }
}

struct Watch;

impl ServerStreamingMethod<Events> for Watch {
    type Request = HealthCheckRequest;
    type Response = HealthCheckResponse;

    async fn call(
        svc: &Events,
        request: Request<HealthCheckRequest>,
        responses: &mut ServerSink<HealthCheckResponse>,
    ) -> Result<(), Status> {
        let topic = request.into_inner().service;
        svc.0
            .subscribe(topic, SubscribeOptions::default())
            .await?
            .stream_to(responses)
            .await
    }
}

/// Waits, at most 10 s, until the hub's subscriber count is `n`.
async fn subscribers_reach(hub: &Hub<String, HealthCheckResponse>, n: u64) {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while hub.stats().await.unwrap().subscribers != n {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the hub never had {n} subscribers"));
}

async fn watch(
    channel: Channel,
    topic: &'static str,
) -> Result<aqueduct::Streaming<HealthCheckResponse>, Status> {
    let request = Request::new(HealthCheckRequest {
        service: topic.into(),
    });
    channel.server_streaming(WATCH, request).await
}

#[tokio::test]
async fn a_subscription_streams_to_the_client_and_ends_with_it() {
    let hub: Hub<String, HealthCheckResponse> = Hub::new();
    let listener = MemoryListener::anonymous();
    let channel = Channel::memory(listener.connector());
    tokio::spawn(
        Server::builder()
            .add_service(EventsServer(Arc::new(Events(hub.clone()))))
            .serve(listener),
    );

    // The response headers come with the first message: start the call,
    // see the subscription in the hub, then publish.
    let call = tokio::spawn(watch(channel.clone(), "news"));
    subscribers_reach(&hub, 1).await;
    for status in [1, 2] {
        hub.publish("news".into(), HealthCheckResponse { status })
            .await
            .unwrap();
    }
    let mut stream = call.await.unwrap().unwrap();
    assert_eq!(stream.message().await.unwrap().unwrap().status, 1);
    assert_eq!(stream.message().await.unwrap().unwrap().status, 2);

    // The client cancels: the handler is dropped, and with it the subscription.
    drop(stream);
    subscribers_reach(&hub, 0).await;
    assert_eq!(hub.stats().await.unwrap().keys, 0);

    // Shutdown reaches a watching client as a status.
    let call = tokio::spawn(watch(channel.clone(), "news"));
    subscribers_reach(&hub, 1).await;
    hub.shutdown(Status::unavailable("hub restarting")).await;
    let ended = async {
        match call.await.unwrap() {
            Ok(mut stream) => stream.message().await.unwrap_err(),
            Err(status) => status,
        }
    };
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), ended)
        .await
        .expect("no status after shutdown");
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert_eq!(status.message(), "hub restarting");
}
