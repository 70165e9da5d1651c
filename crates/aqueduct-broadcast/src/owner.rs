//! The owner task: the only holder of the subscriber map.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aqueduct::Status;
use tokio::sync::{mpsc, oneshot};

use crate::{Counters, Slot, Stats};

/// What the hub's handles ask of the owner.
#[derive(Debug)]
pub(crate) enum Command<K, M> {
    Subscribe {
        key: K,
        slot: Arc<Slot<M>>,
        reply: oneshot::Sender<u64>,
    },
    /// To one key, or (`None`) to all.
    Publish {
        key: Option<K>,
        message: M,
    },
    Stats {
        reply: oneshot::Sender<Stats>,
    },
    Shutdown {
        status: Status,
    },
}

type Subscribers<M> = HashMap<u64, Arc<Slot<M>>>;

/// Commands the owner takes off its queue at once. Consecutive publishes in
/// one batch reach each subscriber under one lock and one wake-up.
const BATCH: usize = 256;

pub(crate) async fn run<K, M>(
    mut commands: mpsc::Receiver<Command<K, M>>,
    mut unsubscribes: mpsc::UnboundedReceiver<(K, u64)>,
    counters: Arc<Counters>,
) where
    K: Hash + Eq + Clone,
    M: Clone,
{
    let mut owner = Owner {
        map: HashMap::new(),
        subscribers: 0,
        next_id: 0,
        delivered_before: 0,
        counters,
        run: Vec::new(),
        later: Vec::new(),
        messages: Vec::new(),
    };
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            biased;
            Some((key, id)) = unsubscribes.recv() => {
                owner.remove(&key, id);
                continue;
            }
            received = commands.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    // Every handle to the hub is gone: no one can publish again.
                    owner.end_all(&crate::stopped());
                    return;
                }
            }
        }
        // A subscription dropped before any of these commands was sent has
        // its unsubscribe queued by now: it is gone before they are handled.
        while let Ok((key, id)) = unsubscribes.try_recv() {
            owner.remove(&key, id);
        }
        let mut pending = batch.drain(..).peekable();
        while let Some(command) = pending.next() {
            match command {
                Command::Publish {
                    key: Some(key),
                    message,
                } => {
                    owner.run.push((key, message));
                    while let Some(Command::Publish {
                        key: Some(key),
                        message,
                    }) =
                        pending.next_if(|c| matches!(c, Command::Publish { key: Some(_), .. }))
                    {
                        owner.run.push((key, message));
                    }
                    owner.publish_run();
                }
                Command::Publish { key: None, message } => owner.publish_all(&message),
                Command::Subscribe { key, slot, reply } => owner.subscribe(key, slot, reply),
                Command::Stats { reply } => {
                    let _ = reply.send(owner.stats());
                }
                Command::Shutdown { status } => {
                    owner.end_all(&status);
                    drop(pending);
                    // Later commands (and dropped subscriptions) find the hub stopped.
                    commands.close();
                    unsubscribes.close();
                    while commands.recv().await.is_some() {}
                    return;
                }
            }
        }
    }
}

/// The owner task's state: the only holder of the subscriber map.
struct Owner<K, M> {
    map: HashMap<K, Subscribers<M>>,
    subscribers: u64,
    next_id: u64,
    /// What subscriptions no longer in the map delivered (each subscription
    /// counts its own deliveries: `Stats::delivered` is this plus theirs).
    delivered_before: u64,
    counters: Arc<Counters>,
    // Reused for every run of publishes, so that publishing allocates
    // nothing once they have grown: the run, what waits for a later key,
    // and one key's messages.
    run: Vec<(K, M)>,
    later: Vec<(K, M)>,
    messages: Vec<M>,
}

impl<K: Hash + Eq + Clone, M: Clone> Owner<K, M> {
    fn subscribe(&mut self, key: K, slot: Arc<Slot<M>>, reply: oneshot::Sender<u64>) {
        self.next_id += 1;
        // A subscriber that gave up waiting for its id is never added.
        if reply.send(self.next_id).is_ok() {
            self.map.entry(key).or_default().insert(self.next_id, slot);
            self.subscribers += 1;
        }
    }

    /// Publishes `self.run` in order per key: each subscriber gets its
    /// key's messages in one push. Leaves the buffers empty.
    fn publish_run(&mut self) {
        self.counters
            .published
            .fetch_add(self.run.len() as u64, Ordering::Relaxed);
        let mut cut_off = Vec::new();
        while let Some((key, _)) = self.run.first() {
            // The first key's messages, in order; the others wait their turn.
            let key = key.clone();
            for (other, message) in self.run.drain(..) {
                if other == key {
                    self.messages.push(message);
                } else {
                    self.later.push((other, message));
                }
            }
            std::mem::swap(&mut self.run, &mut self.later);
            if let Some(subs) = self.map.get(&key) {
                deliver(&self.counters, &key, subs, &self.messages, &mut cut_off);
            }
            self.messages.clear();
        }
        self.cut_off(cut_off);
    }

    fn publish_all(&mut self, message: &M) {
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        let mut cut_off = Vec::new();
        for (key, subs) in &self.map {
            let messages = std::slice::from_ref(message);
            deliver(&self.counters, key, subs, messages, &mut cut_off);
        }
        self.cut_off(cut_off);
    }

    /// Disconnected subscribers leave the map now; their subscriptions see
    /// the status on their next `recv`.
    fn cut_off(&mut self, cut_off: Vec<(K, u64)>) {
        for (key, id) in cut_off {
            self.remove(&key, id);
        }
    }

    fn stats(&self) -> Stats {
        let counters = &self.counters;
        Stats {
            subscribers: self.subscribers,
            keys: self.map.len() as u64,
            published: counters.published.load(Ordering::Relaxed),
            delivered: self.delivered_before
                + self
                    .map
                    .values()
                    .flat_map(HashMap::values)
                    .map(|slot| slot.delivered())
                    .sum::<u64>(),
            dropped_oldest: counters.dropped_oldest.load(Ordering::Relaxed),
            coalesced: counters.coalesced.load(Ordering::Relaxed),
            disconnected: counters.disconnected.load(Ordering::Relaxed),
            rejected: counters.rejected.load(Ordering::Relaxed),
        }
    }

    /// Ends every subscription with `status`.
    fn end_all(&mut self, status: &Status) {
        for slot in self.map.values().flat_map(HashMap::values) {
            slot.end(status.clone());
        }
        self.map.clear();
    }

    /// Takes subscription `id` of `key` out of the map, and the key once it
    /// has no subscription left.
    fn remove(&mut self, key: &K, id: u64) {
        if let Some(subs) = self.map.get_mut(key) {
            if let Some(slot) = subs.remove(&id) {
                // Final: a subscription is removed once dropped (no more
                // `recv`) or cut off (its queue emptied).
                self.delivered_before += slot.delivered();
                self.subscribers -= 1;
            }
            if subs.is_empty() {
                self.map.remove(key);
            }
        }
        if self.map.is_empty() && self.map.capacity() > 64 {
            // Subscribers that came and went leave no memory behind.
            self.map.shrink_to_fit();
        }
    }
}

/// Pushes `messages` to each of `subs`, counting what the lag policies did.
fn deliver<K: Clone, M: Clone>(
    counters: &Counters,
    key: &K,
    subs: &Subscribers<M>,
    messages: &[M],
    cut_off: &mut Vec<(K, u64)>,
) {
    for (id, slot) in subs {
        let pushed = slot.push(messages);
        if pushed.dropped_oldest > 0 {
            counters
                .dropped_oldest
                .fetch_add(pushed.dropped_oldest, Ordering::Relaxed);
        }
        if pushed.coalesced > 0 {
            counters
                .coalesced
                .fetch_add(pushed.coalesced, Ordering::Relaxed);
        }
        if pushed.disconnected {
            counters.disconnected.fetch_add(1, Ordering::Relaxed);
            cut_off.push((key.clone(), *id));
        }
    }
}
