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
//!
//! Counted over the throughput runs' timed part, because wall time on a shared
//! machine says little on its own: heap allocations, subscriber task polls
//! (wake-ups), publisher polls (waits), CPU time of all threads and of the
//! driving thread (`/proc/self/task/*/schedstat`), and context switches
//! (`/proc/self/task/*/status`). CPU time against wall time shows how much
//! of the run was parallel.
//!
//! `--only fan-hub,tp-hand,...` runs just those scenarios (`fan-hub`,
//! `fan-hand`, `tp-hub`, `tp-hand`, `tp-nats`), for profilers. The publisher
//! runs on the thread that drives the benchmark (`block_on`'s, outside the
//! runtime's two workers); `--publisher task` spawns it on a worker instead,
//! as a handler publishing would be.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aqueduct_broadcast::{Delivery, Hub, LagPolicy, SubscribeOptions};
use tokio::sync::{Notify, mpsc};

#[global_allocator]
static ALLOC: aqueduct_benches::CountingAlloc = aqueduct_benches::CountingAlloc;

/// How long until every subscriber had every message, and what it took
/// meanwhile: heap allocations, subscriber task polls (each poll after the
/// first is a wake-up), publisher polls (each after the first: the publisher
/// waited or yielded), and the process's context switches (a worker thread
/// parking and being woken again).
struct Run {
    elapsed: Duration,
    allocations: u64,
    subscriber_polls: u64,
    publisher_polls: u64,
    context_switches: u64,
    /// CPU time of every thread of the process, and of the thread that
    /// drives the benchmark (where the publisher runs by default).
    cpu: Duration,
    cpu_driver: Duration,
}

/// Subscriber task polls, summed when each subscriber task ends.
static SUBSCRIBER_POLLS: AtomicU64 = AtomicU64::new(0);

/// Spawns a subscriber that receives until it has all its messages (the
/// count `receiving` returns), its polls counted before `done` hears of it.
fn subscriber(done: Arc<Done>, receiving: impl Future<Output = usize> + Send + 'static) {
    tokio::spawn(async move {
        let got = Counted::new(receiving, &SUBSCRIBER_POLLS).await;
        done.add(got);
    });
}

/// Polls `inner`, counting its polls in a local and adding them to `total`
/// once it is done (no shared counter touched per poll).
struct Counted<F> {
    inner: Pin<Box<F>>,
    polls: u64,
    total: &'static AtomicU64,
}

impl<F: Future> Counted<F> {
    fn new(inner: F, total: &'static AtomicU64) -> Self {
        Self {
            inner: Box::pin(inner),
            polls: 0,
            total,
        }
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls += 1;
        let out = self.inner.as_mut().poll(cx);
        if out.is_ready() {
            self.total.fetch_add(self.polls, Ordering::Relaxed);
        }
        out
    }
}

/// Voluntary and involuntary context switches of every thread of this
/// process so far (`/proc/self/task/*/status`).
fn context_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// Time on a CPU, in nanoseconds, from a `schedstat` file (its first field).
fn schedstat_ns(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time of every thread of this process so far, in nanoseconds.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .map(|t| schedstat_ns(&t.path().join("schedstat")))
        .sum()
}

/// CPU time of the calling thread so far, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    schedstat_ns(std::path::Path::new("/proc/thread-self/schedstat"))
}

/// What a run counts before its timed part, to subtract afterwards. Taken
/// and finished on the driving thread.
struct Before {
    start: Instant,
    allocations: u64,
    subscriber_polls: u64,
    context_switches: u64,
    cpu: u64,
    cpu_driver: u64,
}

impl Before {
    fn now() -> Self {
        Self {
            context_switches: context_switches(),
            cpu: cpu_ns(),
            cpu_driver: thread_cpu_ns(),
            allocations: aqueduct_benches::allocations(),
            subscriber_polls: SUBSCRIBER_POLLS.load(Ordering::Relaxed),
            start: Instant::now(),
        }
    }

    fn run(self, publisher_polls: u64) -> Run {
        let elapsed = self.start.elapsed();
        Run {
            elapsed,
            allocations: aqueduct_benches::allocations() - self.allocations,
            subscriber_polls: SUBSCRIBER_POLLS.load(Ordering::Relaxed) - self.subscriber_polls,
            publisher_polls,
            context_switches: context_switches() - self.context_switches,
            cpu: Duration::from_nanos(cpu_ns().saturating_sub(self.cpu)),
            cpu_driver: Duration::from_nanos(thread_cpu_ns().saturating_sub(self.cpu_driver)),
        }
    }
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
        subscriber(done, async move {
            ready.add(1);
            let mut got = 0;
            while got < messages {
                match sub.recv().await {
                    Ok(Delivery::Message(_)) => got += 1,
                    Ok(Delivery::Missed(_)) => panic!("the hub dropped messages"),
                    Err(status) => panic!("subscription ended: {status}"),
                }
            }
            got
        });
    }
    ready.wait().await;
    let before = Before::now();
    let publisher = publisher.clone();
    let publisher_polls = publish(async move {
        for i in 0..messages {
            publisher.publish(0, i as u64).await.unwrap();
        }
    })
    .await;
    done.wait().await;
    before.run(publisher_polls)
}

async fn run_handrolled(n: usize, messages: usize) -> Run {
    let hub = Handrolled::default();
    let done = Done::new(n * messages);
    let ready = Done::new(n);
    for id in 0..n {
        let mut rx = hub.subscribe(id as u64, messages.max(1));
        let (done, ready) = (done.clone(), ready.clone());
        subscriber(done, async move {
            ready.add(1);
            let mut got = 0;
            while got < messages {
                if rx.recv().await.is_none() {
                    panic!("channel closed");
                }
                got += 1;
            }
            got
        });
    }
    ready.wait().await;
    let before = Before::now();
    let publisher_polls = publish(async move {
        for i in 0..messages {
            hub.publish(i as u64);
            // Let subscribers run as a hub's owner task would.
            if i % 64 == 63 {
                tokio::task::yield_now().await;
            }
        }
    })
    .await;
    done.wait().await;
    before.run(publisher_polls)
}

/// Where the publishing loop runs: on the thread that drives the benchmark
/// (`block_on`'s, outside the runtime's workers: the default), or with
/// `--publisher task` as a task on a worker, as a handler publishing would.
/// Returns the publisher's polls.
async fn publish(publishing: impl Future<Output = ()> + Send + 'static) -> u64 {
    static PUBLISHER_POLLS: AtomicU64 = AtomicU64::new(0);
    let before = PUBLISHER_POLLS.load(Ordering::Relaxed);
    let counted = Counted::new(publishing, &PUBLISHER_POLLS);
    if PUBLISHER_AS_TASK.load(Ordering::Relaxed) {
        tokio::spawn(counted).await.unwrap();
    } else {
        counted.await;
    }
    PUBLISHER_POLLS.load(Ordering::Relaxed) - before
}

static PUBLISHER_AS_TASK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Every scenario, by the name `--only` takes.
const SCENARIOS: [&str; 5] = ["tp-nats", "fan-hub", "fan-hand", "tp-hub", "tp-hand"];

fn main() {
    let rounds = aqueduct_benches::rounds(7);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let args: Vec<String> = std::env::args().collect();
    let nats = aqueduct_benches::flag(&args, "nats");
    // `--only tp-hub,tp-hand`: just those scenarios (for profilers).
    let only = aqueduct_benches::flag(&args, "only");
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|o| o == name))
            && (name != "tp-nats" || nats.is_some())
    };
    let publisher = aqueduct_benches::flag(&args, "publisher");
    PUBLISHER_AS_TASK.store(publisher.as_deref() == Some("task"), Ordering::Relaxed);
    let mut runs: HashMap<&str, Vec<Run>> = HashMap::new();
    for _ in 0..rounds {
        runtime.block_on(async {
            for name in SCENARIOS.into_iter().filter(|n| wanted(n)) {
                let (n, messages) = match name {
                    "fan-hub" | "fan-hand" => (FANOUT_SUBSCRIBERS, 1),
                    _ => (THROUGHPUT_SUBSCRIBERS, THROUGHPUT_MESSAGES),
                };
                let run = match name {
                    "tp-nats" => run_nats(nats.as_deref().unwrap_or_default(), n, messages).await,
                    "fan-hub" | "tp-hub" => run_hub(n, messages).await,
                    _ => run_handrolled(n, messages).await,
                };
                runs.entry(name).or_default().push(run);
            }
        });
    }
    let median = |name: &str, f: fn(&Run) -> f64| -> Option<f64> {
        let mut values: Vec<f64> = runs.get(name)?.iter().map(f).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    let seconds = |r: &Run| r.elapsed.as_secs_f64();
    let per_message = THROUGHPUT_MESSAGES as f64;
    // With `--only`, one side may be missing: it prints as "-".
    let row = |what: &str, a: &str, b: &str, f: fn(&Run) -> f64, scale: f64, digits: usize| {
        let (x, y) = (median(a, f), median(b, f));
        let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.digits$}", v * scale));
        let ratio = match (x, y) {
            (Some(x), Some(y)) => format!("{:.2}", x / y),
            _ => "-".to_owned(),
        };
        if x.is_some() || y.is_some() {
            println!("| {what} | {} | {} | {ratio} |", show(x), show(y));
        }
    };
    let where_ = if PUBLISHER_AS_TASK.load(Ordering::Relaxed) {
        "publisher a task on a worker"
    } else {
        "publisher on the block_on thread"
    };
    println!(
        "broadcast hub vs Mutex<HashMap<_, mpsc::Sender>> ({rounds} rounds, medians, 2 worker threads, {where_})"
    );
    println!("| scenario | hub | hand-rolled | ratio |");
    println!("|---|---:|---:|---:|");
    row(
        &format!("one publish to {FANOUT_SUBSCRIBERS} subscribers, until all have it (ms)"),
        "fan-hub",
        "fan-hand",
        seconds,
        1e3,
        2,
    );
    row(
        &format!("messages/s to {THROUGHPUT_SUBSCRIBERS} subscribers, all delivered"),
        "tp-hub",
        "tp-hand",
        |r| THROUGHPUT_MESSAGES as f64 / r.elapsed.as_secs_f64(),
        1.0,
        0,
    );
    if let (Some(nats), Some(hub)) = (median("tp-nats", seconds), median("tp-hub", seconds)) {
        let (nats, hub) = (per_message / nats, per_message / hub);
        println!(
            "| messages/s to {THROUGHPUT_SUBSCRIBERS} subscribers on another replica, through NATS (vs the in-process hub) | {nats:.0} | {hub:.0} (hub) | {:.2} |",
            nats / hub
        );
    }
    let scale = 1.0 / per_message;
    row(
        &format!("heap allocations per message to {THROUGHPUT_SUBSCRIBERS} subscribers"),
        "tp-hub",
        "tp-hand",
        |r| r.allocations as f64,
        scale,
        2,
    );
    row(
        &format!(
            "subscriber task polls (wake-ups) per message to {THROUGHPUT_SUBSCRIBERS} subscribers"
        ),
        "tp-hub",
        "tp-hand",
        |r| r.subscriber_polls as f64,
        scale,
        2,
    );
    row(
        "publisher polls per 1,000 messages (waits and yields)",
        "tp-hub",
        "tp-hand",
        |r| r.publisher_polls as f64,
        1000.0 * scale,
        1,
    );
    row(
        "CPU time, all threads (ms)",
        "tp-hub",
        "tp-hand",
        |r| r.cpu.as_secs_f64(),
        1e3,
        1,
    );
    row(
        "CPU time of the driving thread (ms)",
        "tp-hub",
        "tp-hand",
        |r| r.cpu_driver.as_secs_f64(),
        1e3,
        1,
    );
    row(
        "context switches per 1,000 messages, all threads",
        "tp-hub",
        "tp-hand",
        |r| r.context_switches as f64,
        1000.0 * scale,
        1,
    );
}
