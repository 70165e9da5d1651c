//! Hubs joined through a real `nats-server`: each hub has its own NATS
//! connection, as each server replica would. (The same across two server
//! processes: examples/chat's tests.)

#![allow(clippy::unwrap_used)]

#[path = "common/nats_server.rs"]
mod nats_server;

use aqueduct::Code;
use aqueduct_broadcast::{Delivery, Hub, LagPolicy, SubscribeOptions, async_nats};
use nats_server::NatsServer;

const PREFIX: &str = "test.rooms";

async fn replica(server: &NatsServer) -> (Hub<String, String>, async_nats::Client) {
    let client = async_nats::connect(&server.url).await.unwrap();
    let hub = Hub::with_nats(client.clone(), PREFIX).await.unwrap();
    (hub, client)
}

fn lossless(capacity: usize) -> SubscribeOptions {
    // A lost message would cut the subscriber off, not pass unseen.
    SubscribeOptions {
        capacity,
        policy: LagPolicy::Disconnect,
    }
}

async fn next_message(sub: &mut aqueduct_broadcast::Subscription<String, String>) -> String {
    match sub.recv().await.unwrap() {
        Delivery::Message(message) => message,
        Delivery::Missed(n) => panic!("missed {n}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_replica_reaches_subscribers_on_every_replica_in_order() {
    const N: usize = 1000;
    let server = NatsServer::start();
    let (one, _) = replica(&server).await;
    let (two, _) = replica(&server).await;
    let mut on_one = one
        .subscribe("lobby".into(), lossless(2 * N))
        .await
        .unwrap();
    let mut on_two = two
        .subscribe("lobby".into(), lossless(2 * N))
        .await
        .unwrap();
    let mut elsewhere = one.subscribe("attic".into(), lossless(4)).await.unwrap();

    // One publisher on each replica, at once.
    let publishers: Vec<_> = [("one", one.clone()), ("two", two.clone())]
        .into_iter()
        .map(|(name, hub)| {
            tokio::spawn(async move {
                for i in 0..N {
                    hub.publish("lobby".into(), format!("{name} {i}"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.unwrap();
    }
    two.publish("attic".into(), "dusty".into()).await.unwrap();

    for sub in [&mut on_one, &mut on_two] {
        let mut next = [0usize; 2];
        for _ in 0..2 * N {
            let message = next_message(sub).await;
            let (name, i) = message.split_once(' ').unwrap();
            let publisher = usize::from(name == "two");
            assert_eq!(i.parse::<usize>().unwrap(), next[publisher], "{message}");
            next[publisher] += 1;
        }
    }
    // Other keys saw only their own.
    assert_eq!(next_message(&mut elsewhere).await, "dusty");
    let stats = one.stats().await.unwrap();
    assert_eq!(stats.published, 2 * N as u64 + 1, "{stats:?}");
}

#[tokio::test]
async fn publish_all_and_every_kind_of_key_cross_replicas() {
    let server = NatsServer::start();
    let (one, _) = replica(&server).await;
    let (two, _) = replica(&server).await;
    let keys = ["", "with space", "dots.and*stars>", "caf\u{e9}"];
    let mut subs = Vec::new();
    for key in keys {
        subs.push(one.subscribe(key.into(), lossless(4)).await.unwrap());
    }
    for key in keys {
        two.publish(key.into(), format!("to {key}")).await.unwrap();
    }
    two.publish_all("everyone".into()).await.unwrap();
    for (key, sub) in keys.iter().zip(&mut subs) {
        assert_eq!(next_message(sub).await, format!("to {key}"));
        assert_eq!(next_message(sub).await, "everyone");
    }
}

#[tokio::test]
async fn what_does_not_decode_is_dropped_and_the_hub_goes_on() {
    let server = NatsServer::start();
    let (one, client) = replica(&server).await;
    let mut sub = one.subscribe("lobby".into(), lossless(4)).await.unwrap();
    // Not a protobuf string (a field with wire type 7); a subject no hub
    // writes; a key token no hub writes.
    client
        .publish(format!("{PREFIX}.k.lobby"), vec![0x0f, 0xff].into())
        .await
        .unwrap();
    client
        .publish(format!("{PREFIX}.nope"), "x".into())
        .await
        .unwrap();
    client
        .publish(format!("{PREFIX}.k.%zz"), "x".into())
        .await
        .unwrap();
    one.publish("lobby".into(), "still here".into())
        .await
        .unwrap();
    assert_eq!(next_message(&mut sub).await, "still here");
    let stats = one.stats().await.unwrap();
    assert_eq!((stats.rejected, stats.published), (3, 1), "{stats:?}");
}

#[tokio::test]
async fn bad_prefixes_and_oversized_messages_get_a_status() {
    let server = NatsServer::start();
    let client = async_nats::connect(&server.url).await.unwrap();
    let status = Hub::<String, String>::with_nats(client.clone(), "chat.*")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let hub = Hub::<String, String>::with_nats(client, PREFIX)
        .await
        .unwrap();
    // nats-server's default max_payload is 1 MiB.
    let status = hub
        .publish("lobby".into(), "x".repeat(2 << 20))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn shutdown_and_dropping_the_hub_end_subscriptions() {
    let server = NatsServer::start();
    let (one, _) = replica(&server).await;
    let mut sub = one.subscribe("lobby".into(), lossless(4)).await.unwrap();
    one.shutdown(aqueduct::Status::unavailable("going away"))
        .await;
    let status = sub.recv().await.unwrap_err();
    assert_eq!(status.message(), "going away");

    let (two, _) = replica(&server).await;
    let mut sub = two.subscribe("lobby".into(), lossless(4)).await.unwrap();
    drop(two);
    assert_eq!(sub.recv().await.unwrap_err().code(), Code::Unavailable);
}
