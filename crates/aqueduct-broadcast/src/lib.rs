//! A broadcast hub for server streaming: "send this event to every subscriber
//! of X", without the map of channels behind a mutex that deadlocks or grows
//! without bound when subscribers leave or read slowly.
//!
//! One owner task holds the subscriber map; subscribing, publishing and
//! unsubscribing are messages to it, and no lock is ever held across an
//! `.await`. Each subscriber has its own bounded queue and a declared
//! [`LagPolicy`] for when it falls behind. A subscription ends cleanly when its
//! [`Subscription`] is dropped (the client cancelled, the deadline passed: the
//! handler holding it is dropped) or the hub shuts down, and its map entry is
//! gone right after.
//!
//! ```no_run
//! # async fn demo() -> Result<(), aqueduct::Status> {
//! use aqueduct_broadcast::{Hub, LagPolicy, SubscribeOptions};
//!
//! let hub: Hub<String, String> = Hub::new();
//! let mut room = hub.subscribe("lobby".to_owned(), SubscribeOptions::default()).await?;
//! hub.publish("lobby".to_owned(), "hello".to_owned()).await?;
//! let first = room.recv().await?;
//! # drop(first);
//! # Ok(())
//! # }
//! ```
//!
//! In a server-streaming handler, [`Subscription::stream_to`] is the whole body:
//! it forwards every message to the client until the client goes away or the
//! hub shuts down (then the client gets the hub's status).
//!
//! With the `nats` feature, `Hub::with_nats` joins hubs on several server
//! replicas through a NATS server: a publish on any replica reaches the
//! subscribers of all, each publisher's messages in order. The rest of the API
//! is the same. `docs/broadcast.md` in the repository is the guide.

#[cfg(feature = "nats")]
mod nats;
mod owner;

#[cfg(feature = "nats")]
pub use async_nats;
#[cfg(feature = "nats")]
pub use nats::SubjectKey;

use std::hash::Hash;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use aqueduct::{ServerSink, Status};
use tokio::sync::{Notify, mpsc, oneshot};

use owner::Command;

/// Commands waiting for the owner task; publishers wait when it is full.
const COMMAND_QUEUE: usize = 1024;

/// What a subscriber's queue does when it is full and another message comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagPolicy {
    /// Drop the oldest queued message; the subscriber is told how many it
    /// missed ([`Delivery::Missed`]) before its next message.
    DropOldest,
    /// Replace the newest queued message with the new one: a slow subscriber
    /// sees the latest state, not every step (for state snapshots).
    KeepLatest,
    /// End the subscription with `RESOURCE_EXHAUSTED`.
    Disconnect,
}

/// How to subscribe.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeOptions {
    /// Messages the subscriber's queue holds. Default 64.
    pub capacity: usize,
    /// What happens when the queue is full. Default [`LagPolicy::DropOldest`].
    pub policy: LagPolicy,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self {
            capacity: 64,
            policy: LagPolicy::DropOldest,
        }
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery<M> {
    /// A published message.
    Message(M),
    /// This many messages were dropped for this subscriber since the last
    /// delivery ([`LagPolicy::DropOldest`]).
    Missed(u64),
}

/// Counts since the hub started (`subscribers` and `keys`: now).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Open subscriptions.
    pub subscribers: u64,
    /// Keys with at least one subscription.
    pub keys: u64,
    /// Messages fanned out: `publish` and `publish_all` calls (joined through
    /// NATS: the messages that reached this replica, from every replica).
    pub published: u64,
    /// Messages handed to subscribers (`recv` returned them).
    pub delivered: u64,
    /// Messages dropped by [`LagPolicy::DropOldest`].
    pub dropped_oldest: u64,
    /// Messages replaced by [`LagPolicy::KeepLatest`].
    pub coalesced: u64,
    /// Subscriptions ended by [`LagPolicy::Disconnect`].
    pub disconnected: u64,
    /// Messages from NATS that did not decode and were dropped.
    pub rejected: u64,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    dropped_oldest: AtomicU64,
    coalesced: AtomicU64,
    disconnected: AtomicU64,
    rejected: AtomicU64,
}

/// A broadcast hub: subscribers by key `K`, messages `M` (cloned once per
/// subscriber: use `Arc` or `Bytes` for large ones). Cheap to clone; clones
/// share the hub. The owner task stops when the last clone is dropped or
/// [`shutdown`](Self::shutdown) is called.
#[derive(Debug)]
pub struct Hub<K, M> {
    commands: mpsc::Sender<Command<K, M>>,
    /// Unsubscribes have their own channel, never full, so a dropped
    /// subscription is never lost; it holds at most one message per open
    /// subscription, which bounds it.
    unsubscribes: mpsc::UnboundedSender<(K, u64)>,
    counters: Arc<Counters>,
    /// Where publishes go when the hub is joined to others through NATS.
    #[cfg(feature = "nats")]
    remote: Option<Arc<nats::Remote<K, M>>>,
}

impl<K, M> Clone for Hub<K, M> {
    fn clone(&self) -> Self {
        Self {
            commands: self.commands.clone(),
            unsubscribes: self.unsubscribes.clone(),
            counters: self.counters.clone(),
            #[cfg(feature = "nats")]
            remote: self.remote.clone(),
        }
    }
}

impl<K, M> Default for Hub<K, M>
where
    K: Hash + Eq + Clone + Send + 'static,
    M: Clone + Send + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn stopped() -> Status {
    Status::unavailable("the broadcast hub has stopped")
}

impl<K, M> Hub<K, M>
where
    K: Hash + Eq + Clone + Send + 'static,
    M: Clone + Send + 'static,
{
    /// A hub in this process alone, with its owner task spawned on the
    /// current tokio runtime. (`Hub::with_nats`, with the `nats` feature,
    /// joins hubs on several replicas.)
    #[must_use]
    pub fn new() -> Self {
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let (unsubscribes, unsubscribed) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        tokio::spawn(owner::run(receiver, unsubscribed, counters.clone()));
        Self {
            commands,
            unsubscribes,
            counters,
            #[cfg(feature = "nats")]
            remote: None,
        }
    }

    /// Subscribes to `key`. One client may subscribe several times (each
    /// connection its own subscription).
    pub async fn subscribe(
        &self,
        key: K,
        options: SubscribeOptions,
    ) -> Result<Subscription<K, M>, Status> {
        let slot = Arc::new(Slot::new(options));
        let (reply, id) = oneshot::channel();
        self.commands
            .send(Command::Subscribe {
                key: key.clone(),
                slot: slot.clone(),
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        let id = id.await.map_err(|_| stopped())?;
        Ok(Subscription {
            key: Some(key),
            id,
            slot,
            unsubscribes: self.unsubscribes.clone(),
        })
    }

    /// Sends `message` to every subscriber of `key`. Waits only while the
    /// owner's queue is full, never for subscribers. (Joined through NATS:
    /// waits only while the NATS client's queue is full, and reaches every
    /// replica's subscribers.)
    pub async fn publish(&self, key: K, message: M) -> Result<(), Status> {
        #[cfg(feature = "nats")]
        if let Some(remote) = &self.remote {
            return remote.publish(Some(&key), &message).await;
        }
        self.commands
            .send(Command::Publish {
                key: Some(key),
                message,
            })
            .await
            .map_err(|_| stopped())
    }

    /// Sends `message` to every subscriber of every key.
    pub async fn publish_all(&self, message: M) -> Result<(), Status> {
        #[cfg(feature = "nats")]
        if let Some(remote) = &self.remote {
            return remote.publish(None, &message).await;
        }
        self.commands
            .send(Command::Publish { key: None, message })
            .await
            .map_err(|_| stopped())
    }

    /// The counts, once the owner has handled every command sent before this
    /// call (so a test can see a subscription's end).
    pub async fn stats(&self) -> Result<Stats, Status> {
        let (reply, stats) = oneshot::channel();
        self.commands
            .send(Command::Stats { reply })
            .await
            .map_err(|_| stopped())?;
        stats.await.map_err(|_| stopped())
    }

    /// Ends every subscription with `status` (what their clients get), and
    /// stops the hub: later calls fail with `UNAVAILABLE`.
    pub async fn shutdown(&self, status: Status) {
        let _ = self.commands.send(Command::Shutdown { status }).await;
    }
}

/// One subscriber's mailbox, shared by the owner (which pushes) and the
/// subscription (which pops). Locked only for a push or a pop, never across
/// an `.await`.
#[derive(Debug)]
struct Slot<M> {
    queue: Mutex<Queue<M>>,
    ready: Notify,
    options: SubscribeOptions,
}

#[derive(Debug)]
struct Queue<M> {
    messages: std::collections::VecDeque<M>,
    missed: u64,
    /// Messages `recv` returned. Counted here, under the lock `recv` holds
    /// anyway, rather than in a counter all subscribers share: one shared
    /// cache line written per delivery from every core is what made the hub
    /// slower than a map of channels on a quiet multi-core machine. The
    /// owner sums the counts for [`Stats::delivered`].
    delivered: u64,
    /// Set when the subscription is over: the status its client gets.
    ended: Option<Status>,
}

/// What pushing a batch did, for the counters.
#[derive(Debug, Default)]
struct Pushed {
    dropped_oldest: u64,
    coalesced: u64,
    /// The subscriber was cut off ([`LagPolicy::Disconnect`]).
    disconnected: bool,
}

impl<M: Clone> Slot<M> {
    fn new(options: SubscribeOptions) -> Self {
        Self {
            queue: Mutex::new(Queue {
                messages: std::collections::VecDeque::new(),
                missed: 0,
                delivered: 0,
                ended: None,
            }),
            ready: Notify::new(),
            options: SubscribeOptions {
                capacity: options.capacity.max(1),
                ..options
            },
        }
    }

    /// Queues `messages` in order, under one lock, and wakes the subscriber
    /// once if they made its queue non-empty (it only ever waits on an empty
    /// queue).
    fn push(&self, messages: &[M]) -> Pushed {
        let mut pushed = Pushed::default();
        let was_empty = {
            let mut queue = self.lock();
            if queue.ended.is_some() {
                return pushed;
            }
            let was_empty = queue.messages.is_empty() && queue.missed == 0;
            // What fits goes in at once; the rest meets a full queue, one by
            // one, under the lag policy.
            let room = self.options.capacity.saturating_sub(queue.messages.len());
            let (fits, over) = messages.split_at(room.min(messages.len()));
            queue.messages.extend(fits.iter().cloned());
            for message in over {
                match self.options.policy {
                    LagPolicy::DropOldest => {
                        queue.messages.pop_front();
                        queue.missed += 1;
                        queue.messages.push_back(message.clone());
                        pushed.dropped_oldest += 1;
                    }
                    LagPolicy::KeepLatest => {
                        if let Some(newest) = queue.messages.back_mut() {
                            newest.clone_from(message);
                        }
                        pushed.coalesced += 1;
                    }
                    LagPolicy::Disconnect => {
                        queue.messages.clear();
                        queue.ended = Some(Status::resource_exhausted(format!(
                            "subscriber fell {} messages behind",
                            self.options.capacity
                        )));
                        pushed.disconnected = true;
                        break;
                    }
                }
            }
            // The subscriber must hear of a cut-off even mid-queue.
            was_empty || pushed.disconnected
        };
        if was_empty {
            self.ready.notify_one();
        }
        pushed
    }
}

impl<M> Slot<M> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<M>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn end(&self, status: Status) {
        self.lock().ended.get_or_insert(status);
        self.ready.notify_one();
    }

    /// Messages this subscription's `recv` returned so far.
    fn delivered(&self) -> u64 {
        self.lock().delivered
    }
}

/// A subscription to one key. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription<K, M> {
    key: Option<K>,
    id: u64,
    slot: Arc<Slot<M>>,
    unsubscribes: mpsc::UnboundedSender<(K, u64)>,
}

impl<K, M> Subscription<K, M> {
    /// The next delivery; `Err` when the subscription has ended (the hub shut
    /// down, or [`LagPolicy::Disconnect`] cut it off), with the status for its
    /// client.
    pub async fn recv(&mut self) -> Result<Delivery<M>, Status> {
        loop {
            {
                let mut queue = self.slot.lock();
                if queue.missed > 0 {
                    return Ok(Delivery::Missed(std::mem::take(&mut queue.missed)));
                }
                if let Some(message) = queue.messages.pop_front() {
                    queue.delivered += 1;
                    return Ok(Delivery::Message(message));
                }
                if let Some(status) = &queue.ended {
                    return Err(status.clone());
                }
            }
            // Only an empty queue waits. A push (or the end) between the
            // check above and this wait is not lost: `notify_one` leaves a
            // permit when no one waits yet, and the wait takes it at once.
            // (Waiting on a fresh `Notified` only when the queue is empty,
            // instead of making one per `recv`, saves a fifth of the hub's
            // instructions per delivery.)
            self.slot.ready.notified().await;
        }
    }

    /// Forwards every message to a server-streaming handler's client until the
    /// client goes away (`Ok`) or the subscription ends (`Err` with its status,
    /// which the handler returns to the client). Missed counts are skipped
    /// (they are in [`Stats::dropped_oldest`]).
    pub async fn stream_to(mut self, responses: &mut ServerSink<M>) -> Result<(), Status>
    where
        M: prost::Message + Send + 'static,
    {
        loop {
            match self.recv().await? {
                Delivery::Message(message) => {
                    if responses.send(message).await.is_err() {
                        return Ok(());
                    }
                }
                Delivery::Missed(_) => {}
            }
        }
    }
}

impl<K, M> Drop for Subscription<K, M> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Fails only once the hub has stopped, when there is nothing to undo.
            let _ = self.unsubscribes.send((key, self.id));
        }
    }
}
