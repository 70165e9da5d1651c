//! Subscribers that come and go leave nothing behind: not in the map, and not
//! in memory. Its own test binary, with one test, so that the allocator's
//! counts are this test's alone.

#![allow(clippy::unwrap_used)]

use std::alloc::System;

use aqueduct_broadcast::{Hub, SubscribeOptions};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed since `region` began.
fn live_bytes(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize + change.bytes_reallocated
}

/// `n` subscribe/cancel cycles over 100 keys, with a publish now and then.
async fn cycles(hub: &Hub<u32, u32>, n: u32) {
    for i in 0..n {
        let sub = hub
            .subscribe(i % 100, SubscribeOptions::default())
            .await
            .unwrap();
        if i % 7 == 0 {
            hub.publish(i % 100, i).await.unwrap();
        }
        drop(sub);
    }
}

#[test]
fn subscriptions_that_come_and_go_leave_the_map_empty_and_memory_flat() {
    // One thread: the owner task runs only when this one waits, so what is
    // allocated is exactly what the hub keeps.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let hub: Hub<u32, u32> = Hub::new();
        let keeper = hub
            .subscribe(u32::MAX, SubscribeOptions::default())
            .await
            .unwrap();
        // Warm up: channel blocks, the map's first allocations.
        cycles(&hub, 1_000).await;
        let stats = hub.stats().await.unwrap();
        assert_eq!((stats.subscribers, stats.keys), (1, 1), "{stats:?}");

        let region = Region::new(ALLOCATOR);
        cycles(&hub, 10_000).await;
        let stats = hub.stats().await.unwrap();
        let grown = live_bytes(&region);
        assert_eq!((stats.subscribers, stats.keys), (1, 1), "{stats:?}");
        // A leak of one small allocation per cycle would be 10,000 x 16+
        // bytes; the channels may keep a block or two more than before.
        assert!(
            grown <= 4096,
            "10,000 subscribe/cancel cycles left {grown} more bytes live"
        );
        println!("live bytes after 10,000 cycles: {grown:+}");

        drop(keeper);
        let stats = hub.stats().await.unwrap();
        assert_eq!((stats.subscribers, stats.keys), (0, 0), "{stats:?}");
    });
}
