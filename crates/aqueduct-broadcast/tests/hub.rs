//! The hub's promises: nothing lost and per-publisher order with fast
//! subscribers; each lag policy under a slow one; shutdown ends every
//! subscription with a status. (Subscribers that come and go: memory.rs.)

#![allow(clippy::unwrap_used)]

use aqueduct::Code;
use aqueduct_broadcast::{Delivery, Hub, LagPolicy, SubscribeOptions, Subscription};

fn options(capacity: usize, policy: LagPolicy) -> SubscribeOptions {
    SubscribeOptions { capacity, policy }
}

async fn messages<M>(sub: &mut Subscription<&'static str, M>, n: usize) -> Vec<Delivery<M>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(sub.recv().await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_subscribers_get_everything_in_publisher_order() {
    const N: u32 = 2000;
    let hub: Hub<&'static str, (u8, u32)> = Hub::new();
    let mut subs = Vec::new();
    for _ in 0..3 {
        subs.push(
            hub.subscribe("room", options(2 * N as usize, LagPolicy::Disconnect))
                .await
                .unwrap(),
        );
    }
    // Two publishers at once.
    let publishers: Vec<_> = [1u8, 2]
        .into_iter()
        .map(|publisher| {
            let hub = hub.clone();
            tokio::spawn(async move {
                for i in 0..N {
                    hub.publish("room", (publisher, i)).await.unwrap();
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    for mut sub in subs {
        let mut next = [0u32; 3];
        for _ in 0..2 * N {
            let Delivery::Message((publisher, i)) = sub.recv().await.unwrap() else {
                panic!("a fast subscriber missed messages");
            };
            assert_eq!(
                i, next[publisher as usize],
                "publisher {publisher} out of order"
            );
            next[publisher as usize] += 1;
        }
        assert_eq!(next, [0, N, N]);
    }
    let stats = hub.stats().await.unwrap();
    assert_eq!(stats.published, 2 * u64::from(N));
    assert_eq!(stats.delivered, 6 * u64::from(N));
    assert_eq!(
        stats.dropped_oldest + stats.coalesced + stats.disconnected,
        0
    );
}

#[tokio::test]
async fn drop_oldest_tells_the_subscriber_what_it_missed() {
    let hub: Hub<&'static str, u32> = Hub::new();
    let mut slow = hub
        .subscribe("t", options(4, LagPolicy::DropOldest))
        .await
        .unwrap();
    for i in 0..10 {
        hub.publish("t", i).await.unwrap();
    }
    let stats = hub.stats().await.unwrap(); // every publish handled
    assert_eq!(stats.dropped_oldest, 6);
    let got = messages(&mut slow, 5).await;
    let want = [
        Delivery::Missed(6),
        Delivery::Message(6),
        Delivery::Message(7),
        Delivery::Message(8),
        Delivery::Message(9),
    ];
    assert_eq!(got, want);
}

#[tokio::test]
async fn keep_latest_coalesces_into_the_newest() {
    let hub: Hub<&'static str, u32> = Hub::new();
    let mut latest = hub
        .subscribe("t", options(1, LagPolicy::KeepLatest))
        .await
        .unwrap();
    let mut three = hub
        .subscribe("t", options(3, LagPolicy::KeepLatest))
        .await
        .unwrap();
    for i in 1..=10 {
        hub.publish("t", i).await.unwrap();
    }
    let stats = hub.stats().await.unwrap();
    assert_eq!(stats.coalesced, 9 + 7);
    assert_eq!(messages(&mut latest, 1).await, [Delivery::Message(10)]);
    assert_eq!(
        messages(&mut three, 3).await,
        [
            Delivery::Message(1),
            Delivery::Message(2),
            Delivery::Message(10)
        ]
    );
}

#[tokio::test]
async fn disconnect_ends_a_slow_subscriber_with_resource_exhausted() {
    let hub: Hub<&'static str, u32> = Hub::new();
    let mut slow = hub
        .subscribe("t", options(2, LagPolicy::Disconnect))
        .await
        .unwrap();
    let mut fast = hub
        .subscribe("t", options(16, LagPolicy::Disconnect))
        .await
        .unwrap();
    for i in 0..3 {
        hub.publish("t", i).await.unwrap();
    }
    let stats = hub.stats().await.unwrap();
    assert_eq!((stats.disconnected, stats.subscribers), (1, 1));
    let status = slow.recv().await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    assert_eq!(messages(&mut fast, 3).await.len(), 3);
}

#[tokio::test]
async fn publish_all_reaches_every_key() {
    let hub: Hub<&'static str, u32> = Hub::new();
    let mut a = hub
        .subscribe("a", SubscribeOptions::default())
        .await
        .unwrap();
    let mut b = hub
        .subscribe("b", SubscribeOptions::default())
        .await
        .unwrap();
    hub.publish("a", 1).await.unwrap();
    hub.publish_all(2).await.unwrap();
    assert_eq!(
        messages(&mut a, 2).await,
        [Delivery::Message(1), Delivery::Message(2)]
    );
    assert_eq!(messages(&mut b, 1).await, [Delivery::Message(2)]);
}

#[tokio::test]
async fn shutdown_ends_every_subscription_with_its_status() {
    let hub: Hub<&'static str, u32> = Hub::new();
    let mut subs = Vec::new();
    for key in ["a", "a", "b"] {
        subs.push(
            hub.subscribe(key, SubscribeOptions::default())
                .await
                .unwrap(),
        );
    }
    hub.publish("a", 1).await.unwrap();
    hub.shutdown(aqueduct::Status::unavailable("server restarting"))
        .await;
    // What was queued is still delivered, then the status.
    for sub in &mut subs[..2] {
        assert_eq!(sub.recv().await.unwrap(), Delivery::Message(1));
    }
    for sub in &mut subs {
        let status = sub.recv().await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "server restarting");
    }
    assert_eq!(
        hub.publish("a", 2).await.unwrap_err().code(),
        Code::Unavailable
    );
    assert!(
        hub.subscribe("a", SubscribeOptions::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn dropping_every_hub_handle_ends_the_subscriptions() {
    let hub: Hub<&'static str, u32> = Hub::new();
    let mut sub = hub
        .subscribe("room", SubscribeOptions::default())
        .await
        .unwrap();
    hub.publish("room", 1).await.unwrap();
    drop(hub);
    assert_eq!(sub.recv().await.unwrap(), Delivery::Message(1));
    let status = sub.recv().await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn batched_publishes_keep_each_keys_order_around_publish_all() {
    // One thread: the publisher queues all 300 commands before the owner
    // runs, so the owner takes them in batches mixing keys and publish_all.
    let hub: Hub<&'static str, u32> = Hub::new();
    let mut a = hub
        .subscribe("a", options(400, LagPolicy::Disconnect))
        .await
        .unwrap();
    let mut b = hub
        .subscribe("b", options(400, LagPolicy::Disconnect))
        .await
        .unwrap();
    let (mut want_a, mut want_b) = (Vec::new(), Vec::new());
    for i in 0..300u32 {
        match i % 5 {
            0 | 1 => {
                hub.publish("a", i).await.unwrap();
                want_a.push(Delivery::Message(i));
            }
            2 | 3 => {
                hub.publish("b", i).await.unwrap();
                want_b.push(Delivery::Message(i));
            }
            _ => {
                hub.publish_all(i).await.unwrap();
                want_a.push(Delivery::Message(i));
                want_b.push(Delivery::Message(i));
            }
        }
    }
    assert_eq!(messages(&mut a, want_a.len()).await, want_a);
    assert_eq!(messages(&mut b, want_b.len()).await, want_b);
    let stats = hub.stats().await.unwrap();
    assert_eq!((stats.published, stats.delivered), (300, 360), "{stats:?}");
}

#[tokio::test]
async fn delivered_counts_subscriptions_that_left() {
    // Each subscription counts its own deliveries; the count of one that
    // was dropped, or cut off, stays in the total.
    let hub: Hub<&'static str, u32> = Hub::new();
    let mut stays = hub
        .subscribe("t", options(8, LagPolicy::Disconnect))
        .await
        .unwrap();
    let mut leaves = hub
        .subscribe("t", options(8, LagPolicy::Disconnect))
        .await
        .unwrap();
    let mut cut = hub
        .subscribe("t", options(2, LagPolicy::Disconnect))
        .await
        .unwrap();
    for i in 0..2 {
        hub.publish("t", i).await.unwrap();
    }
    assert_eq!(messages(&mut leaves, 2).await.len(), 2);
    assert_eq!(messages(&mut cut, 1).await.len(), 1);
    drop(leaves);
    // `cut` holds one message; the second of these overflows it.
    for i in 2..4 {
        hub.publish("t", i).await.unwrap();
    }
    assert_eq!(messages(&mut stays, 4).await.len(), 4);
    let stats = hub.stats().await.unwrap();
    assert_eq!(
        (stats.delivered, stats.subscribers, stats.disconnected),
        (2 + 1 + 4, 1, 1),
        "{stats:?}"
    );
    assert_eq!(
        cut.recv().await.unwrap_err().code(),
        Code::ResourceExhausted
    );
    assert_eq!(hub.stats().await.unwrap().delivered, 7);
}
