//! The gRPC server: [`Server::builder`], add services, [`ServerBuilder::serve`].
//!
//! ```text
//!  Incoming ──accept──► connection task (carrier) ──accept call──► call task
//!   (Listener of bytes,   │  never runs user code                 │ route, run handler,
//!    DirectListener)      │  counts running handlers              │ drop it on reset or
//!                         └─ GOAWAY on shutdown                   └ deadline, send status
//! ```
//!
//! Every limit is bounded and configurable: concurrent handlers per connection
//! (advertised as `MAX_CONCURRENT_STREAMS`), header list size, handshake timeout,
//! message sizes, flow-control windows, and the drain deadline of graceful shutdown.

pub(crate) mod call;
mod conn;
mod incoming;
mod pool;
pub(crate) mod router;
mod signal;
mod sink;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

pub(crate) use call::ServerCall;
pub use incoming::Incoming;
pub(crate) use pool::PoolSlot;
pub use pool::{HandlerPool, HandlerPoolBuilder};
pub(crate) use router::{BoxFuture, Handler};
pub use signal::shutdown_signal;
pub use sink::ServerSink;

use crate::interceptor::{DynInterceptor, Interceptor};
use crate::service::Route;
use router::{Router, Scoped};

/// A service that can be mounted on a [`Server`]; generated servers implement it,
/// and so does a service written by hand (see [`crate::service`]).
pub trait Service: Send + Sync + 'static {
    /// The fully qualified service name, as in `helloworld.v1.GreeterService`.
    const NAME: &'static str;

    /// The encoded `google.protobuf.FileDescriptorSet` describing the service,
    /// every transitive import included, as `aqueduct-build` emitted it; empty
    /// for a service written by hand. Server reflection answers from it.
    const FILE_DESCRIPTOR_SET: &'static [u8] = &[];

    /// The service's methods, one [`Route`](crate::service::Route) each, made
    /// by the route constructors of [`crate::service`].
    fn routes(&self) -> Vec<Route>;
}

/// Server settings; see the [`ServerBuilder`] methods for each one.
#[derive(Debug, Clone)]
pub(crate) struct ServerConfig {
    pub(crate) max_concurrent_streams: u32,
    pub(crate) max_header_list_size: u32,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_recv_message_size: usize,
    pub(crate) max_send_message_size: usize,
    pub(crate) initial_stream_window_size: u32,
    pub(crate) initial_connection_window_size: u32,
    pub(crate) max_send_buffer_size: usize,
    pub(crate) drain_timeout: Duration,
    /// Threads of a thread-per-core server; `None`: the caller's runtime.
    pub(crate) threads: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_concurrent_streams: 100,
            max_header_list_size: 16 * 1024,
            handshake_timeout: Duration::from_secs(10),
            max_recv_message_size: aqueduct_wire::DEFAULT_MAX_RECV_MESSAGE_SIZE,
            max_send_message_size: u32::MAX as usize,
            initial_stream_window_size: 1024 * 1024,
            initial_connection_window_size: 2 * 1024 * 1024,
            max_send_buffer_size: 256 * 1024,
            drain_timeout: Duration::from_secs(30),
            threads: None,
        }
    }
}

/// The entry point: `Server::builder()`.
#[derive(Debug)]
#[non_exhaustive]
pub struct Server;

impl Server {
    /// A builder with default settings and no services.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
    /// aqueduct::Server::builder()
    ///     // .add_service(GreeterServiceServer::new(MyGreeter))
    ///     .serve(listener)
    ///     .await
    /// # }
    /// ```
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: ServerConfig::default(),
            router: Router::default(),
            interceptors: Vec::new(),
            #[cfg(feature = "tower")]
            layers: crate::tower::Stack::default(),
            on_shutdown: Vec::new(),
            reflection: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// Interceptors for one service, declared in
/// [`ServerBuilder::add_service_with`].
#[derive(Default)]
#[must_use]
pub struct ServiceScope(Scoped);

impl ServiceScope {
    /// Runs `interceptor` for every method of the service.
    pub fn intercept(mut self, interceptor: impl Interceptor) -> Self {
        self.0.service.push(Arc::new(interceptor));
        self
    }

    /// Runs `interceptor` for one method, named as in the `.proto` (`SayHello`).
    pub fn intercept_method(mut self, method: &str, interceptor: impl Interceptor) -> Self {
        self.0
            .methods
            .push((method.to_owned(), Arc::new(interceptor)));
        self
    }

    /// Wraps every method of the service in a `tower` layer (feature `tower`):
    /// see [`crate::tower`].
    #[cfg(feature = "tower")]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: crate::tower::CallLayer,
    {
        self.0.layers.push(layer);
        self
    }

    /// Runs every method of the service on `pool`'s threads instead of the
    /// connection's runtime: for handlers that may block their thread. See
    /// [`HandlerPool`].
    pub fn on_pool(mut self, pool: &HandlerPool) -> Self {
        self.0.pool = Some(pool.clone());
        self
    }

    /// Runs one method, named as in the `.proto` (`Render`), on `pool`'s
    /// threads; it takes precedence over [`on_pool`](Self::on_pool).
    pub fn method_on_pool(mut self, method: &str, pool: &HandlerPool) -> Self {
        self.0.method_pools.push((method.to_owned(), pool.clone()));
        self
    }
}

impl std::fmt::Debug for ServiceScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceScope")
            .field("service_interceptors", &self.0.service.len())
            .field("method_interceptors", &self.0.methods.len())
            .finish()
    }
}

/// Configures a server and its services, then serves a listener.
#[must_use]
pub struct ServerBuilder {
    config: ServerConfig,
    router: Router,
    /// Server-wide interceptors, outermost first.
    interceptors: Vec<Arc<dyn DynInterceptor>>,
    /// Server-wide `tower` middleware, outermost first.
    #[cfg(feature = "tower")]
    layers: crate::tower::Stack,
    /// Run when graceful shutdown starts.
    on_shutdown: Vec<Arc<dyn Fn() + Send + Sync>>,
    /// Mount reflection when serving starts, describing every service mounted.
    reflection: bool,
    /// TLS for every connection served.
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ServerTls>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("services", &self.router.service_names().collect::<Vec<_>>())
            .finish()
    }
}

impl ServerBuilder {
    /// Mounts a service. Panics if a service of the same name is already mounted.
    pub fn add_service<S: Service>(mut self, service: S) -> Self {
        self.router.add(
            S::NAME,
            S::FILE_DESCRIPTOR_SET,
            service.routes(),
            Scoped::default(),
        );
        self
    }

    /// Mounts a service with interceptors scoped to it or to its methods:
    ///
    /// ```
    /// # use aqueduct::interceptor::Interceptor;
    /// # struct Audit; impl Interceptor for Audit {}
    /// # struct RateLimit; impl Interceptor for RateLimit {}
    /// # fn demo<S: aqueduct::Service>(greeter: S) {
    /// let server = aqueduct::Server::builder().add_service_with(greeter, |scope| {
    ///     scope
    ///         .intercept(Audit) // every method of this service
    ///         .intercept_method("SayHello", RateLimit) // this method only
    /// });
    /// # }
    /// ```
    ///
    /// Panics if a service of the same name is already mounted, or if a method
    /// named in the scope is not one of the service's.
    pub fn add_service_with<S: Service>(
        mut self,
        service: S,
        scope: impl FnOnce(ServiceScope) -> ServiceScope,
    ) -> Self {
        let scope = scope(ServiceScope::default());
        self.router
            .add(S::NAME, S::FILE_DESCRIPTOR_SET, service.routes(), scope.0);
        self
    }

    /// Mounts the standard health service (`grpc.health.v1.Health`), reporting
    /// what `health` is told, and marks every status `NOT_SERVING` when the
    /// server's graceful shutdown starts. See [`crate::health`].
    pub fn add_health(mut self, health: crate::health::HealthReporter) -> Self {
        self = self.add_service(health.service());
        self.on_shutdown.push(Arc::new(move || health.shutdown()));
        self
    }

    /// Turns on server reflection, `grpc.reflection.v1` and `v1alpha`, so
    /// `grpcurl`, `buf curl` and the like can list the services and describe
    /// their messages. It describes every service mounted on the server, added
    /// before or after this line, from the descriptors `aqueduct-build` put in
    /// each generated service: nothing to register. It also serves
    /// `google/rpc/status.proto` and `google/rpc/error_details.proto`, so
    /// tools decode the [error details](crate::details) a status carries.
    /// See [`crate::reflection`].
    pub fn add_reflection(mut self) -> Self {
        self.reflection = true;
        self
    }

    /// Mounts both reflection services, indexing every service mounted by
    /// now, the reflection services themselves and the `google.rpc` error
    /// details (which any handler may attach to a status).
    fn mount_reflection(mut self) -> Self {
        use crate::reflection::{Index, Reflection, V1, V1Alpha};
        let described = self.router.described().chain([
            (V1::NAME, V1::FILE_DESCRIPTOR_SET),
            (V1Alpha::NAME, V1Alpha::FILE_DESCRIPTOR_SET),
        ]);
        let index = Index::build(described, &[crate::details::FILE_DESCRIPTOR_SET]);
        let reflection = Reflection::new(index);
        let on_shutdown = reflection.clone();
        self.on_shutdown
            .push(Arc::new(move || on_shutdown.shutdown()));
        self.add_service(V1(reflection.clone()))
            .add_service(V1Alpha(reflection))
    }

    /// Adds a server-wide interceptor: it runs for every call, outside the
    /// service- and method-scoped ones (see [`interceptor`](crate::interceptor)).
    pub fn intercept(mut self, interceptor: impl Interceptor) -> Self {
        self.interceptors.push(Arc::new(interceptor));
        self
    }

    /// Wraps every method of every service in a `tower` layer (feature
    /// `tower`), outside the service-scoped layers: see [`crate::tower`].
    #[cfg(feature = "tower")]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: crate::tower::CallLayer,
    {
        self.layers.push(layer);
        self
    }

    /// What every connection of the server shares: the router, with the
    /// server-wide interceptors in every chain, and the settings.
    fn into_shared(mut self) -> Arc<conn::Shared> {
        if std::mem::take(&mut self.reflection) {
            self = self.mount_reflection();
        }
        #[cfg(feature = "tower")]
        let wrap = std::mem::take(&mut self.layers).into_wrap();
        #[cfg(not(feature = "tower"))]
        let wrap = None;
        self.router.finish(&self.interceptors, wrap.as_ref());
        Arc::new(conn::Shared {
            router: Arc::new(self.router),
            config: self.config,
            on_shutdown: self.on_shutdown,
            #[cfg(feature = "tls")]
            tls: self.tls,
        })
    }

    /// Serves every connection over TLS (feature `tls`): the handshake runs
    /// on the connection's own task, under the
    /// [handshake timeout](Self::handshake_timeout) together with the HTTP/2
    /// preface, so a slow client never holds up accepting others. Keep a
    /// clone of `tls` to rotate its certificates while the server runs. Not
    /// used for a [`DirectListener`](crate::DirectListener), whose calls never
    /// leave the process. See [`crate::tls`] and `docs/tls.md`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use aqueduct::tls::{Identity, ServerTls};
    ///
    /// let tls = ServerTls::builder(Identity::from_pem_files("server.pem", "server.key")?).build()?;
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:50051").await?;
    /// aqueduct::Server::builder()
    ///     // .add_service(...)
    ///     .tls(tls)
    ///     .serve(listener)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Most handlers that may run at once on one connection, advertised to clients
    /// as `SETTINGS_MAX_CONCURRENT_STREAMS`. Default 100.
    ///
    /// The cap counts running handlers, not open streams: a stream the client has
    /// reset still counts until its handler has been dropped, so resetting streams
    /// cannot run up work (HTTP/2 Rapid Reset). Streams over the cap are refused
    /// with `REFUSED_STREAM`, which clients may retry.
    pub fn max_concurrent_streams(mut self, max: u32) -> Self {
        self.config.max_concurrent_streams = max.max(1);
        self
    }

    /// Largest header list a client may send, in bytes (HPACK-decoded size). Default
    /// 16 KiB.
    pub fn max_header_list_size(mut self, max: u32) -> Self {
        self.config.max_header_list_size = max;
        self
    }

    /// How long a new connection has to complete its handshakes (TLS, when
    /// the server has it, and the HTTP/2 preface) before it is closed.
    /// Default 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Largest message the server accepts, after decompression. Default 4 MiB.
    /// Larger messages fail the call with `RESOURCE_EXHAUSTED`.
    pub fn max_recv_message_size(mut self, max: usize) -> Self {
        self.config.max_recv_message_size = max;
        self
    }

    /// Largest message the server sends. Default 4 GiB - 1. A handler that returns
    /// a larger message fails the call with `RESOURCE_EXHAUSTED`.
    pub fn max_send_message_size(mut self, max: usize) -> Self {
        self.config.max_send_message_size = max;
        self
    }

    /// HTTP/2 flow-control window per stream, in bytes. Default 1 MiB.
    pub fn initial_stream_window_size(mut self, size: u32) -> Self {
        self.config.initial_stream_window_size = size;
        self
    }

    /// HTTP/2 flow-control window per connection, in bytes. Default 2 MiB.
    pub fn initial_connection_window_size(mut self, size: u32) -> Self {
        self.config.initial_connection_window_size = size;
        self
    }

    /// How long graceful shutdown lets calls in flight finish before it cancels the
    /// rest. Default 30 s.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config.drain_timeout = timeout;
        self
    }

    /// Serves with one single-threaded runtime per thread, `threads` of them,
    /// each accepting from the same listening socket: the thread-per-core
    /// model. A call then runs on the thread that accepted its connection, and
    /// no task is ever woken on another core, where a cross-core wake-up costs
    /// tens of microseconds on some machines. (On a single core it measured
    /// 0.99-1.16x the work-stealing runtime: see `docs/benchmarks.md`.)
    ///
    /// Needs a TCP or Unix listener (serving fails with `Unsupported`
    /// otherwise); the caller's runtime then only waits for the shutdown
    /// signal. Default: serve on the caller's runtime.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
    /// aqueduct::Server::builder()
    ///     // .add_service(GreeterServiceServer::new(MyGreeter))
    ///     .thread_per_core(threads)
    ///     .serve(listener)
    ///     .with_graceful_shutdown(aqueduct::shutdown_signal())
    ///     .await
    /// # }
    /// ```
    pub fn thread_per_core(mut self, threads: usize) -> Self {
        self.config.threads = Some(threads.max(1));
        self
    }

    /// Serves `incoming`: any byte [`Listener`](crate::Listener) (tokio's
    /// `TcpListener` and `UnixListener`, a [`MemoryListener`](crate::MemoryListener),
    /// yours), or a [`DirectListener`](crate::DirectListener) for direct
    /// in-process calls. Await the returned [`Serve`]; without
    /// [`with_graceful_shutdown`](Serve::with_graceful_shutdown) it runs until
    /// an accept error that cannot be recovered from (a direct listener: until
    /// the `Serve` is dropped).
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
    /// aqueduct::Server::builder()
    ///     // .add_service(GreeterServiceServer::new(MyGreeter))
    ///     .serve(listener)
    ///     .with_graceful_shutdown(aqueduct::shutdown_signal())
    ///     .await
    /// # }
    /// ```
    pub fn serve<I: Incoming>(self, incoming: I) -> Serve<I> {
        Serve {
            init: Some(Box::new((self, incoming))),
            signal: None,
            running: None,
        }
    }
}

/// A server serving: await it. Returned by [`ServerBuilder::serve`].
#[must_use = "a server does nothing unless awaited (or spawned)"]
pub struct Serve<I> {
    /// The builder and what it serves, until first polled. Boxed, so `Serve`
    /// is `Unpin` whatever `I` is.
    init: Option<Box<(ServerBuilder, I)>>,
    signal: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    running: Option<Pin<Box<dyn Future<Output = io::Result<()>> + Send>>>,
}

impl<I: Incoming> Serve<I> {
    /// Serves until `signal` completes, then shuts down gracefully:
    ///
    /// 1. stop accepting connections; send every connection a GOAWAY (the
    ///    two-phase GOAWAY, with a PING in between; a direct connection
    ///    refuses new calls with `UNAVAILABLE`);
    /// 2. let calls in flight finish, for up to the
    ///    [drain timeout](ServerBuilder::drain_timeout);
    /// 3. cancel whatever is still running and close the connections.
    ///
    /// The server then returns, once every connection is closed, so the
    /// process can exit. [`shutdown_signal`] is the usual `signal`: SIGINT or
    /// SIGTERM.
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.signal = Some(Box::pin(signal));
        self
    }
}

impl<I: Incoming> Future for Serve<I> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.running.is_none() {
            let Some(init) = this.init.take() else {
                return Poll::Ready(Err(io::Error::other("server polled after it returned")));
            };
            let (builder, incoming) = *init;
            let signal = this.signal.take();
            this.running = Some(Box::pin(run(builder, incoming, signal)));
        }
        let Some(running) = this.running.as_mut() else {
            return Poll::Pending;
        };
        let result = std::task::ready!(running.as_mut().poll(cx));
        this.running = None;
        Poll::Ready(result)
    }
}

impl<I> std::fmt::Debug for Serve<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("started", &self.running.is_some())
            .field("graceful_shutdown", &self.signal.is_some())
            .finish_non_exhaustive()
    }
}

/// Serves `incoming` on the caller's runtime, or spread over threads.
async fn run<I: Incoming>(
    builder: ServerBuilder,
    incoming: I,
    signal: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
) -> io::Result<()> {
    let threads = builder.config.threads;
    let shared = builder.into_shared();
    let signal = async move {
        match signal {
            Some(signal) => signal.await,
            None => std::future::pending().await,
        }
    };
    match threads {
        None => serve_shared(shared, incoming, signal).await,
        Some(threads) => serve_threads(shared, incoming, threads, signal).await,
    }
}

/// The thread-per-core server: one current-thread runtime per thread, each
/// with its own handle on the listening socket, all stopped by `signal`.
async fn serve_threads<I: Incoming>(
    shared: Arc<conn::Shared>,
    incoming: I,
    threads: usize,
    signal: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let parts = incoming.per_thread(threads)?;
    let (stop, stopped) = watch::channel(false);
    let (done_tx, mut done) = tokio::sync::mpsc::channel(parts.len());
    let count = parts.len();
    for (i, part) in parts.into_iter().enumerate() {
        let shared = shared.clone();
        let mut stopped = stopped.clone();
        let done_tx = done_tx.clone();
        std::thread::Builder::new()
            .name(format!("aqueduct-core-{i}"))
            .spawn(move || {
                // A panic is a failed thread too: reported, so the others stop.
                let run = std::panic::AssertUnwindSafe(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .and_then(|runtime| {
                            runtime.block_on(async move {
                                let incoming = part()?;
                                let signal = async move {
                                    let _ = stopped.wait_for(|stop| *stop).await;
                                };
                                serve_shared(shared, incoming, signal).await
                            })
                        })
                });
                let result = std::panic::catch_unwind(run)
                    .unwrap_or_else(|_| Err(io::Error::other("a server thread panicked")));
                let _ = done_tx.try_send(result);
            })?;
    }
    drop(done_tx);
    let mut signal = std::pin::pin!(signal);
    let mut result = Ok(());
    let mut left = count;
    // A thread that ends before the signal (it failed) stops the others: the
    // server as a whole failed.
    tokio::select! {
        () = &mut signal => {}
        first = done.recv() => match first {
            Some(first) => {
                left -= 1;
                result = first;
            }
            // Every thread gone without a word: cannot happen, as each sends
            // its result; say so rather than wait for a signal.
            None => {
                left = 0;
                result = Err(io::Error::other("the server threads ended without a result"));
            }
        },
    }
    let _ = stop.send(true);
    while left > 0 {
        match done.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                if result.is_ok() {
                    result = Err(e);
                }
            }
            None => {
                if result.is_ok() {
                    result = Err(io::Error::other("a server thread panicked"));
                }
                break;
            }
        }
        left -= 1;
    }
    result
}

/// The accept loop, the same for every kind of listener.
async fn serve_shared<I: Incoming, F: Future<Output = ()> + Send>(
    shared: Arc<conn::Shared>,
    mut listener: I,
    signal: F,
) -> io::Result<()> {
    let (phase_tx, phase_rx) = watch::channel(conn::Phase::Serving);
    let mut connections = JoinSet::new();
    let mut signal = std::pin::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.next() => match accepted {
                Ok(Some(accepted)) => {
                    connections.spawn(accepted.serve(shared.clone(), phase_rx.clone()));
                }
                // The listener says no more can come (none of ours does).
                Ok(None) => break,
                Err(e) if is_transient_accept_error(&e) => {
                    tracing::warn!(error = %e, "accept failed; retrying shortly");
                    // Out of file descriptors and the like: back off instead of
                    // spinning, and keep serving the connections we have.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "accept failed; stopping the server");
                    drop(listener);
                    shutdown(&phase_tx, &mut connections, &shared).await;
                    return Err(e);
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut signal => break,
        }
    }
    drop(listener);
    shutdown(&phase_tx, &mut connections, &shared).await;
    Ok(())
}

async fn shutdown(
    phase: &watch::Sender<conn::Phase>,
    connections: &mut JoinSet<()>,
    shared: &conn::Shared,
) {
    for hook in &shared.on_shutdown {
        hook();
    }
    let drain = shared.config.drain_timeout;
    let _ = phase.send(conn::Phase::Draining);
    let drained = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            remaining = connections.len(),
            "drain deadline passed; cancelling remaining calls"
        );
        let _ = phase.send(conn::Phase::Stopped);
        while connections.join_next().await.is_some() {}
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::OutOfMemory
    ) || matches!(e.raw_os_error(), Some(23 | 24)) // ENFILE, EMFILE
}

/// The handlers running on one connection.
#[derive(Debug, Default)]
pub(crate) struct Running {
    count: AtomicUsize,
    /// Signalled when a handler ends, so a connection at the cap resumes
    /// accepting. `notify_one` keeps a permit if nobody waits yet: no lost wakeup.
    ended: tokio::sync::Notify,
}

impl Running {
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub(crate) async fn ended(&self) {
        self.ended.notified().await;
    }
}

/// Counts one running handler; the count drops when the call's task ends (or its
/// future is dropped).
#[derive(Debug)]
pub(crate) struct RunningGuard(Arc<Running>);

impl RunningGuard {
    /// Takes a slot if fewer than `max` handlers run.
    pub(crate) fn try_new(running: &Arc<Running>, max: usize) -> Option<Self> {
        running
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(Self(running.clone()))
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
        self.0.ended.notify_one();
    }
}
