//! The call context: what a handler's task knows about the call it serves.
//!
//! The server runs every handler inside its call's context (a task-local), so
//! code in the handler can ask for the deadline with [`current`], and calls the
//! handler makes through any [`Channel`](crate::Channel) inherit it: their own
//! deadline is the earlier of their timeout and the inbound call's. A call made
//! with [`CallOptions::detached`](crate::CallOptions::detached) does not inherit.
//!
//! Cancellation follows ownership. When the inbound call is cancelled or its
//! deadline passes, the server drops the handler's future, and with it every
//! outgoing call the handler is awaiting: those are reset, so the servers
//! downstream stop too. Work the handler moves to another task with
//! [`spawn`] keeps the context and is aborted when the inbound call ends; work
//! moved with a plain `tokio::spawn` has no context and runs on.
//!
//! ```no_run
//! # async fn handler() {
//! // Inside a handler: how long is left?
//! if let Some(ctx) = aqueduct::context::current() {
//!     println!("{:?} left", ctx.remaining());
//! }
//! # }
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

use crate::interceptor::Attached;

tokio::task_local! {
    static CALL: CallContext;
}

/// What a handler's task knows about the call it serves, as the task-local holds
/// it; [`current`] hands out a snapshot.
#[derive(Debug)]
pub(crate) struct CallContext {
    deadline: Option<Instant>,
    /// Tasks started with [`spawn`], aborted when the call ends. Created on first
    /// use: most calls never spawn.
    spawned: OnceLock<Arc<Spawned>>,
    /// Whether this is the call's own context (not a copy in a spawned task):
    /// only that one ends the spawned tasks when it goes away.
    root: bool,
    /// What interceptors attached to the call (metadata outgoing calls carry),
    /// if anything.
    attached: Option<Arc<Attached>>,
}

#[derive(Debug, Default)]
struct Spawned(Mutex<Vec<AbortHandle>>);

impl Spawned {
    fn push(&self, handle: AbortHandle) {
        let mut tasks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded by what is still running: finished tasks are dropped as the
        // list grows.
        if tasks.len() >= 32 {
            tasks.retain(|t| !t.is_finished());
        }
        tasks.push(handle);
    }

    fn abort_all(&self) {
        let tasks = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            task.abort();
        }
    }
}

impl CallContext {
    /// The context of a call the server is about to run.
    pub(crate) fn root(deadline: Option<Instant>, attached: Option<Arc<Attached>>) -> Self {
        Self {
            deadline,
            spawned: OnceLock::new(),
            root: true,
            attached,
        }
    }

    fn child(&self) -> (Self, Arc<Spawned>) {
        let spawned = self.spawned.get_or_init(Arc::default).clone();
        let child = Self {
            deadline: self.deadline,
            spawned: OnceLock::from(spawned.clone()),
            root: false,
            attached: self.attached.clone(),
        };
        (child, spawned)
    }
}

impl Drop for CallContext {
    fn drop(&mut self) {
        if self.root {
            if let Some(spawned) = self.spawned.get() {
                spawned.abort_all();
            }
        }
    }
}

/// The context of the call this task serves: `None` outside a handler (and in
/// tasks started with a plain `tokio::spawn`).
#[must_use]
pub fn current() -> Option<CurrentCall> {
    CALL.try_with(|c| CurrentCall {
        deadline: c.deadline,
    })
    .ok()
}

/// A snapshot of the current call's context, from [`current`].
#[derive(Debug, Clone, Copy)]
pub struct CurrentCall {
    deadline: Option<Instant>,
}

impl CurrentCall {
    /// When the call must be done; `None` when the client set no deadline.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the deadline; `None` when there is none.
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// The deadline outgoing calls from this task inherit.
pub(crate) fn inherited_deadline() -> Option<Instant> {
    CALL.try_with(|c| c.deadline).ok().flatten()
}

/// Writes the metadata the current call propagates into `headers`, for keys
/// they do not have.
pub(crate) fn write_propagated(headers: &mut http::HeaderMap) {
    let _ = CALL.try_with(|c| {
        if let Some(attached) = &c.attached {
            attached.propagated.write_missing_into(headers);
        }
    });
}

/// Runs `fut` on a new task as part of the current call: it keeps the call's
/// context (outgoing calls inherit the deadline), and it is aborted when the
/// inbound call ends, however it ends. Outside a handler it is a plain
/// `tokio::spawn`.
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match CALL.try_with(CallContext::child) {
        Ok((child, spawned)) => {
            let handle = tokio::spawn(CALL.scope(child, fut));
            spawned.push(handle.abort_handle());
            handle
        }
        Err(_) => tokio::spawn(fut),
    }
}

/// Runs `fut` inside a call's context: what the server does around a handler.
/// (The server's call guard enters the call's span, if it has one, around each
/// poll: doing it here would store the handler's future twice.)
pub(crate) fn scope<F: Future>(ctx: CallContext, fut: F) -> impl Future<Output = F::Output> {
    CALL.scope(ctx, fut)
}
