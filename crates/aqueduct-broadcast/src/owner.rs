//! The owner task: the only holder of the subscriber map.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aqueduct::Status;
use tokio::sync::{mpsc, oneshot};

use crate::{Counters, Pushed, Slot, Stats};

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

pub(crate) async fn run<K, M>(
    mut commands: mpsc::Receiver<Command<K, M>>,
    mut unsubscribes: mpsc::UnboundedReceiver<(K, u64)>,
    counters: Arc<Counters>,
) where
    K: Hash + Eq + Clone,
    M: Clone,
{
    let mut map: HashMap<K, Subscribers<M>> = HashMap::new();
    let mut subscribers = 0u64;
    let mut next_id = 0u64;
    loop {
        // Unsubscribes first: a subscription dropped before a command was sent
        // is gone when the command is handled.
        let command = tokio::select! {
            biased;
            Some((key, id)) = unsubscribes.recv() => {
                remove(&mut map, &mut subscribers, &key, id);
                continue;
            }
            command = commands.recv() => match command {
                Some(command) => command,
                // Every handle to the hub is gone: no one can publish again.
                None => {
                    end_all(&map, &crate::stopped());
                    return;
                }
            },
        };
        match command {
            Command::Subscribe { key, slot, reply } => {
                next_id += 1;
                if reply.send(next_id).is_ok() {
                    map.entry(key).or_default().insert(next_id, slot);
                    subscribers += 1;
                }
            }
            Command::Publish { key, message } => {
                counters.published.fetch_add(1, Ordering::Relaxed);
                let mut cut_off = Vec::new();
                let mut deliver = |key: &K, subs: &Subscribers<M>| {
                    for (id, slot) in subs {
                        match slot.push(message.clone()) {
                            Pushed::Queued => {}
                            Pushed::DroppedOldest => {
                                counters.dropped_oldest.fetch_add(1, Ordering::Relaxed);
                            }
                            Pushed::Coalesced => {
                                counters.coalesced.fetch_add(1, Ordering::Relaxed);
                            }
                            Pushed::Disconnected => {
                                counters.disconnected.fetch_add(1, Ordering::Relaxed);
                                cut_off.push((key.clone(), *id));
                            }
                        }
                    }
                };
                match &key {
                    Some(key) => {
                        if let Some(subs) = map.get(key) {
                            deliver(key, subs);
                        }
                    }
                    None => {
                        for (key, subs) in &map {
                            deliver(key, subs);
                        }
                    }
                }
                // Disconnected subscribers leave the map now; their
                // subscriptions see the status on their next `recv`.
                for (key, id) in cut_off {
                    remove(&mut map, &mut subscribers, &key, id);
                }
            }
            Command::Stats { reply } => {
                let _ = reply.send(Stats {
                    subscribers,
                    keys: map.len() as u64,
                    published: counters.published.load(Ordering::Relaxed),
                    delivered: counters.delivered.load(Ordering::Relaxed),
                    dropped_oldest: counters.dropped_oldest.load(Ordering::Relaxed),
                    coalesced: counters.coalesced.load(Ordering::Relaxed),
                    disconnected: counters.disconnected.load(Ordering::Relaxed),
                });
            }
            Command::Shutdown { status } => {
                end_all(&map, &status);
                map.clear();
                // Later commands (and dropped subscriptions) find the hub stopped.
                commands.close();
                unsubscribes.close();
                while commands.recv().await.is_some() {}
                return;
            }
        }
    }
}

/// Ends every subscription with `status`.
fn end_all<K, M>(map: &HashMap<K, Subscribers<M>>, status: &Status) {
    for slot in map.values().flat_map(HashMap::values) {
        slot.end(status.clone());
    }
}

/// Takes subscription `id` of `key` out of the map, and the key once it has
/// no subscription left.
fn remove<K: Hash + Eq, M>(
    map: &mut HashMap<K, Subscribers<M>>,
    subscribers: &mut u64,
    key: &K,
    id: u64,
) {
    if let Some(subs) = map.get_mut(key) {
        if subs.remove(&id).is_some() {
            *subscribers -= 1;
        }
        if subs.is_empty() {
            map.remove(key);
        }
    }
    if map.is_empty() && map.capacity() > 64 {
        // Subscribers that came and went leave no memory behind.
        map.shrink_to_fit();
    }
}
