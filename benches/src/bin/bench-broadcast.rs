//! The broadcast hub against the hand-rolled version teams write first (a
//! `Mutex<HashMap<id, mpsc::Sender>>`), in one process, in the same run:
//!
//! 1. fan-out: one publish to 10,000 subscribers, time until every one has it;
//! 2. throughput: messages/s published to 100 subscribers, until every
//!    subscriber has every message (queues large enough that nothing drops).
//!
//! The two alternate round by round; medians. `--rounds N` (default 7).
//! With `--nats URL` (a running nats-server), also the throughput across two
//! hubs joined through NATS (publisher on one, subscribers on the other), as
//! two server replicas would be, against the in-process hub.
//! Heap allocations are counted over the throughput runs' timed part.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aqueduct_broadcast::{Delivery, Hub, LagPolicy, SubscribeOptions};
use tokio::sync::{Notify, mpsc};

#[global_allocator]
static ALLOC: aqueduct_benches::CountingAlloc = aqueduct_benches::CountingAlloc;

/// How long until every subscriber had every message, and the heap
/// allocations made meanwhile.
struct Run {
    elapsed: Duration,
    allocations: u64,
}

const FANOUT_SUBSCRIBERS: usize = 10_000;
const THROUGHPUT_SUBSCRIBERS: usize = 100;
const THROUGHPUT_MESSAGES: usize = 20_000;

/// Counts deliveries and wakes the waiter when all are in.
struct Done {
    count: AtomicUsize,
    target: usize,
    notify: Notify,
}

impl Done {
    fn new(target: usize) -> Arc<Self> {
        Arc::new(Self {
            count: AtomicUsize::new(0),
            target,
            notify: Notify::new(),
        })
    }

    fn add(&self, n: usize) {
        if self.count.fetch_add(n, Ordering::AcqRel) + n >= self.target {
            self.notify.notify_one();
        }
    }

    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.count.load(Ordering::Acquire) >= self.target {
                return;
            }
            notified.await;
        }
    }
}

/// The hand-rolled hub.
#[derive(Clone, Default)]
struct Handrolled {
    subscribers: Arc<Mutex<HashMap<u64, mpsc::Sender<u64>>>>,
}

impl Handrolled {
    fn subscribe(&self, id: u64, capacity: usize) -> mpsc::Receiver<u64> {
        let (tx, rx) = mpsc::channel(capacity);
        self.subscribers.lock().unwrap().insert(id, tx);
        rx
    }

    fn publish(&self, message: u64) {
        for tx in self.subscribers.lock().unwrap().values() {
            let _ = tx.try_send(message);
        }
    }
}

/// Subscribes `n` readers that each expect `per` messages; returns the tracker
/// and the time to publish `messages` (until all delivered).
async fn run_hub(n: usize, messages: usize) -> Run {
    let hub: Hub<u8, u64> = Hub::new();
    run_hubs(&hub, &hub, n, messages).await
}

/// Two hubs joined through the NATS server at `url`, each on its own
/// connection; subscribers on one, the publisher on the other.
async fn run_nats(url: &str, n: usize, messages: usize) -> Run {
    let replica = || async {
        let client = match aqueduct_broadcast::async_nats::connect(url).await {
            Ok(client) => client,
            Err(error) => {
                eprintln!("bench-broadcast: cannot reach NATS at {url}: {error}");
                std::process::exit(1);
            }
        };
        Hub::<u8, u64>::with_nats(client, "bench.broadcast")
            .await
            .expect("NATS subscription")
    };
    let (publisher, subscribers) = (replica().await, replica().await);
    run_hubs(&publisher, &subscribers, n, messages).await
}

/// `n` subscribers on `subscribers`, `messages` published on `publisher`.
async fn run_hubs(
    publisher: &Hub<u8, u64>,
    subscribers: &Hub<u8, u64>,
    n: usize,
    messages: usize,
) -> Run {
    let hub = subscribers;
    let done = Done::new(n * messages);
    let ready = Done::new(n);
    for _ in 0..n {
        let mut sub = hub
            .subscribe(
                0,
                SubscribeOptions {
                    capacity: messages.max(1),
                    policy: LagPolicy::Disconnect,
                },
            )
            .await
            .unwrap();
        let (done, ready) = (done.clone(), ready.clone());
        tokio::spawn(async move {
            ready.add(1);
            let mut got = 0;
            while got < messages {
                match sub.recv().await {
                    Ok(Delivery::Message(_)) => got += 1,
                    Ok(Delivery::Missed(_)) => panic!("the hub dropped messages"),
                    Err(status) => panic!("subscription ended: {status}"),
                }
            }
            done.add(got);
        });
    }
    ready.wait().await;
    let allocations = aqueduct_benches::allocations();
    let start = Instant::now();
    for i in 0..messages {
        publisher.publish(0, i as u64).await.unwrap();
    }
    done.wait().await;
    Run {
        elapsed: start.elapsed(),
        allocations: aqueduct_benches::allocations() - allocations,
    }
}

async fn run_handrolled(n: usize, messages: usize) -> Run {
    let hub = Handrolled::default();
    let done = Done::new(n * messages);
    let ready = Done::new(n);
    for id in 0..n {
        let mut rx = hub.subscribe(id as u64, messages.max(1));
        let (done, ready) = (done.clone(), ready.clone());
        tokio::spawn(async move {
            ready.add(1);
            let mut got = 0;
            while got < messages {
                if rx.recv().await.is_none() {
                    panic!("channel closed");
                }
                got += 1;
            }
            done.add(got);
        });
    }
    ready.wait().await;
    let allocations = aqueduct_benches::allocations();
    let start = Instant::now();
    for i in 0..messages {
        hub.publish(i as u64);
        // Let subscribers run as a hub's owner task would.
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    done.wait().await;
    Run {
        elapsed: start.elapsed(),
        allocations: aqueduct_benches::allocations() - allocations,
    }
}

fn main() {
    let rounds = aqueduct_benches::rounds(7);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let args: Vec<String> = std::env::args().collect();
    let nats = aqueduct_benches::flag(&args, "nats");
    let mut results: HashMap<&str, Vec<Duration>> = HashMap::new();
    let mut allocations: HashMap<&str, Vec<u64>> = HashMap::new();
    for _ in 0..rounds {
        runtime.block_on(async {
            if let Some(url) = &nats {
                let run = run_nats(url, THROUGHPUT_SUBSCRIBERS, THROUGHPUT_MESSAGES).await;
                results.entry("tp nats").or_default().push(run.elapsed);
            }
            for (name, run) in [
                ("fan hub", run_hub(FANOUT_SUBSCRIBERS, 1).await),
                ("fan hand", run_handrolled(FANOUT_SUBSCRIBERS, 1).await),
                (
                    "tp hub",
                    run_hub(THROUGHPUT_SUBSCRIBERS, THROUGHPUT_MESSAGES).await,
                ),
                (
                    "tp hand",
                    run_handrolled(THROUGHPUT_SUBSCRIBERS, THROUGHPUT_MESSAGES).await,
                ),
            ] {
                results.entry(name).or_default().push(run.elapsed);
                allocations.entry(name).or_default().push(run.allocations);
            }
        });
    }
    let mut get = |k: &str| aqueduct_benches::median(results.remove(k).unwrap_or_default());
    let (fan_hub, fan_hand) = (get("fan hub"), get("fan hand"));
    let (tp_hub, tp_hand) = (get("tp hub"), get("tp hand"));
    let rate = |d: Duration| THROUGHPUT_MESSAGES as f64 / d.as_secs_f64();
    println!(
        "broadcast hub vs Mutex<HashMap<_, mpsc::Sender>> ({rounds} rounds, medians, 2 worker threads)"
    );
    println!("| scenario | hub | hand-rolled | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| one publish to {FANOUT_SUBSCRIBERS} subscribers, until all have it (ms) | {:.2} | {:.2} | {:.2} |",
        fan_hub.as_secs_f64() * 1e3,
        fan_hand.as_secs_f64() * 1e3,
        fan_hub.as_secs_f64() / fan_hand.as_secs_f64()
    );
    println!(
        "| messages/s to {THROUGHPUT_SUBSCRIBERS} subscribers, all delivered | {:.0} | {:.0} | {:.2} |",
        rate(tp_hub),
        rate(tp_hand),
        rate(tp_hub) / rate(tp_hand)
    );
    if nats.is_some() {
        let tp_nats = get("tp nats");
        println!(
            "| messages/s to {THROUGHPUT_SUBSCRIBERS} subscribers on another replica, through NATS (vs the in-process hub) | {:.0} | {:.0} (hub) | {:.2} |",
            rate(tp_nats),
            rate(tp_hub),
            rate(tp_nats) / rate(tp_hub)
        );
    }
    let mut per_message = |k: &str| {
        let counts = allocations.remove(k).unwrap_or_default();
        aqueduct_benches::median(counts) as f64 / THROUGHPUT_MESSAGES as f64
    };
    let (alloc_hub, alloc_hand) = (per_message("tp hub"), per_message("tp hand"));
    println!(
        "| heap allocations per message to {THROUGHPUT_SUBSCRIBERS} subscribers | {alloc_hub:.2} | {alloc_hand:.2} | {:.2} |",
        alloc_hub / alloc_hand
    );
}
