//! Handler pools: threads of their own for handlers that may block.
//!
//! By default a call's handler is a task on the runtime that serves its
//! connection (the fast path: no cross-thread hand-off). A handler that blocks
//! its thread (a synchronous database driver, a CPU-heavy step) then stalls
//! every connection that thread serves; on a thread-per-core server, every
//! connection on that core. A [`HandlerPool`] gives chosen services or methods
//! threads of their own: their calls run there, and the connection's thread
//! only moves their bytes.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::BoxFuture;

/// Threads for handlers that may block, with a bound on the calls they take.
/// Cheap to clone: clones share the threads. Place a service on it with
/// [`ServiceScope::on_pool`](crate::ServiceScope::on_pool), or one method with
/// [`ServiceScope::method_on_pool`](crate::ServiceScope::method_on_pool).
///
/// A call to a method on a pool that already holds its
/// [`max_calls`](HandlerPoolBuilder::max_calls) (running or waiting for a
/// thread) fails at once with `RESOURCE_EXHAUSTED`, before its handler runs.
/// The threads stop when the last clone is dropped (calls still running on
/// them are dropped then too).
///
/// ```
/// # fn demo<S: aqueduct::Service>(reports: S) -> std::io::Result<()> {
/// use aqueduct::HandlerPool;
///
/// let blocking = HandlerPool::builder().threads(4).max_calls(256).build()?;
/// let server = aqueduct::Server::builder()
///     .add_service_with(reports, |scope| scope.method_on_pool("Render", &blocking));
/// # drop(server); Ok(()) }
/// ```
#[derive(Clone)]
pub struct HandlerPool(Arc<Inner>);

struct Inner {
    /// The threads, as a runtime of their own; `None` once dropping.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    /// Calls taken and not yet finished.
    calls: AtomicUsize,
    max_calls: usize,
    threads: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Without waiting, so the last clone may go on any thread, async or
        // not (a runtime dropped inside another panics).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Settings for a [`HandlerPool`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HandlerPoolBuilder {
    threads: usize,
    max_calls: Option<usize>,
    name: String,
}

impl HandlerPool {
    /// A builder: 4 threads, at most 64 calls per thread, threads named
    /// `aqueduct-handler`.
    pub fn builder() -> HandlerPoolBuilder {
        HandlerPoolBuilder {
            threads: 4,
            max_calls: None,
            name: "aqueduct-handler".to_owned(),
        }
    }

    /// Takes a slot for one call, if the pool has one free.
    pub(crate) fn try_take(&self) -> Option<PoolSlot> {
        self.0
            .calls
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.0.max_calls).then_some(n + 1)
            })
            .ok()?;
        Some(PoolSlot(self.clone()))
    }

    /// The most calls the pool takes at once.
    #[must_use]
    pub fn max_calls(&self) -> usize {
        self.0.max_calls
    }
}

impl fmt::Debug for HandlerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerPool")
            .field("threads", &self.0.threads)
            .field("max_calls", &self.0.max_calls)
            .field("calls", &self.0.calls.load(Ordering::Relaxed))
            .finish()
    }
}

impl HandlerPoolBuilder {
    /// Threads in the pool (at least 1). Default 4.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Most calls the pool holds at once, running or waiting for a thread (at
    /// least 1); a call beyond it fails with `RESOURCE_EXHAUSTED`. Default 64
    /// per thread.
    pub fn max_calls(mut self, max: usize) -> Self {
        self.max_calls = Some(max.max(1));
        self
    }

    /// The threads' name, for debuggers and `top -H`. Default
    /// `aqueduct-handler`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the threads.
    pub fn build(self) -> io::Result<HandlerPool> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.threads)
            .thread_name(self.name)
            .enable_all()
            .build()?;
        Ok(HandlerPool(Arc::new(Inner {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            calls: AtomicUsize::new(0),
            max_calls: self.max_calls.unwrap_or(64 * self.threads),
            threads: self.threads,
        })))
    }
}

/// One call's place on a pool; given back when the call ends.
pub(crate) struct PoolSlot(HandlerPool);

impl PoolSlot {
    /// Runs the call on the pool's threads.
    pub(crate) fn spawn(self, call: BoxFuture) {
        let handle = self.0.0.handle.clone();
        handle.spawn(async move {
            let _slot = self;
            call.await;
        });
    }
}

impl Drop for PoolSlot {
    fn drop(&mut self) {
        self.0.0.calls.fetch_sub(1, Ordering::AcqRel);
    }
}
